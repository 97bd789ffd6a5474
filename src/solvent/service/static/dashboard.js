// solvent dashboard: plain JS + SVG. Amounts arrive as exact decimal strings; Number() is used
// for drawing only, never for a decision.
"use strict";
const $ = (id) => document.getElementById(id);
const FEED_MAX = 200;
let apiKey = null, lastSeq = 0, socket = null, refreshTimer = null, symbol = null, retryMs = 500, selected = null;

function readKey() {
  const m = location.hash.match(/key=([^&]+)/);
  if (m) { sessionStorage.setItem("solvent-key", decodeURIComponent(m[1])); history.replaceState(null, "", "/"); }
  return sessionStorage.getItem("solvent-key");
}

async function api(path) {
  const r = await fetch(path, { headers: { "X-API-Key": apiKey } });
  if (r.status === 401 || r.status === 403) { askKey(); throw new Error("unauthorised"); }
  if (!r.ok) throw new Error(path + " " + r.status);
  return r.json();
}

function askKey() { $("keyform").hidden = false; }

const fmt = (s, digits = 2) => s === null || s === undefined ? "–"
  : Number(s).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const pct = (s) => s === null || s === undefined ? "–" : (Number(s) * 100).toFixed(2) + " %";
// venue time (the events' time_ms), shown in UTC: "2025-10-10 19:45:09" or, short, "19:45:09"
const utc = (ms, short) => new Date(ms).toISOString().slice(short ? 11 : 0, 19).replace("T", " ");
// the badge shows the API's status (the engine's level, or "liquidated"): no rule of its own here
const badge = (status) => `<span class="level level-${status}">${status}</span>`;

function renderHealth(rows) {
  const body = $("health").tBodies[0];
  body.innerHTML = "";
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.dataset.account = r.account_id;
    tr.dataset.level = r.level;
    tr.dataset.status = r.status;
    tr.tabIndex = 0;
    if (r.account_id === selected) tr.classList.add("selected");
    const ratio = r.worst_margin_ratio ?? r.margin_ratio;
    const noRatio = ratio === null && Number(r.total_maintenance_margin) > 0;
    tr.innerHTML = `<td>${r.account_id}</td><td>${badge(r.status)}</td>
      <td>${fmt(r.equity)}</td><td>${fmt(r.total_maintenance_margin)}</td>
      <td>${noRatio ? "equity ≤ 0" : pct(ratio)}</td>
      <td>${r.distance_to_liquidation_pct === null ? "–" : fmt(r.distance_to_liquidation_pct) + " %"}</td>
      <td class="adl">${r.adl_rank ? "●".repeat(r.adl_rank) : ""}</td>`;
    body.appendChild(tr);
  }
}

function svgEl(tag, attrs, text) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

// Charts are drawn in CSS pixels at the SVG's own width (so text keeps its size on a phone).
const widthOf = (svg) => Math.max(280, Math.round(svg.getBoundingClientRect().width) || 460);

function renderLadder(l) {
  const svg = $("ladder"), W = widthOf(svg);
  svg.innerHTML = "";
  const rows = l.buckets.slice().reverse().map((b) => ({ ...b, mark: false }));  // highest price on top
  if (l.mark_price !== null && rows.length) {
    // the mark gets a row of its own, between the buckets above it and its own bucket or those below
    const m = Number(l.mark_price), at = rows.filter((b) => Number(b.price_from) > m).length;
    rows.splice(at, 0, { mark: true });
  }
  const h = rows.length > 12 ? 290 / rows.length : 22, mid = 105 + (W - 200) / 2, bar = (W - 200) / 2 - 4;
  const height = Math.max(40, 10 + rows.length * h);
  svg.setAttribute("viewBox", `0 0 ${W} ${height}`);
  svg.setAttribute("height", height);
  if (!l.buckets.length) { svg.appendChild(svgEl("text", { x: 10, y: 20, fill: "#7d8896" }, "no liquidation prices in range")); }
  const max = Math.max(1, ...l.buckets.map((b) => Math.max(Number(b.long_notional), Number(b.short_notional))));
  svg.appendChild(svgEl("line", { x1: mid, x2: mid, y1: 0, y2: height, stroke: "#2a323c" }));
  rows.forEach((b, i) => {
    const y = 5 + i * h, ty = y + h * 0.7;
    if (b.mark) {
      const g = svgEl("g", { id: "mark-line" });
      g.appendChild(svgEl("line", { x1: 100, x2: W, y1: y + h / 2, y2: y + h / 2, stroke: "#58a6ff", "stroke-width": 1.5,
        "stroke-dasharray": "5 3" }));
      g.appendChild(svgEl("text", { x: 5, y: ty, fill: "#58a6ff", "font-size": 11, "font-weight": 600 }, `mark ${fmt(l.mark_price)}`));
      svg.appendChild(g);
      return;
    }
    const lw = (Number(b.long_notional) / max) * bar, sw = (Number(b.short_notional) / max) * bar;
    svg.appendChild(svgEl("text", { x: 5, y: ty, fill: "#7d8896", "font-size": 11 }, `${fmt(b.price_from, 0)}–${fmt(b.price_to, 0)}`));
    if (lw) svg.appendChild(svgEl("rect", { x: mid - lw, y: y + 1, width: lw, height: h - 2, fill: "#3fb950" }));
    if (sw) svg.appendChild(svgEl("rect", { x: mid, y: y + 1, width: sw, height: h - 2, fill: "#f85149" }));
    svg.appendChild(svgEl("text", { x: W - 5, y: ty, fill: "#d8dee6", "font-size": 11, "text-anchor": "end" },
      `${b.positions} pos · ${fmt(Number(b.long_notional) + Number(b.short_notional), 0)}`));
  });
  const n = l.beyond ? l.beyond.positions : 0;
  const beyond = n ? ` · ${n} position${n === 1 ? "" : "s"} beyond ±${l.beyond.range_pct} %` : "";
  $("ladder-note").textContent = l.mark_price === null ? "no mark yet"
    : `mark ${fmt(l.mark_price)} (dashed) · bucket ${fmt(l.bucket_width)} · longs left (green), shorts right (red)${beyond}`;
}

function renderFund(f, nowMs) {
  $("fund-balance").textContent = `${fmt(f.balance)} ${f.asset}`;
  const svg = $("fund"), W = widthOf(svg), H = 170;
  svg.innerHTML = "";
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("height", H);
  // the fund's changes (seq > 0) at their venue time; the genesis entry (seq 0) is no event.
  // A change before the venue clock was first set (time_ms 0) is drawn at the first set time.
  let pts = f.history.filter((p) => p.seq > 0);
  if (!pts.length) pts = f.history.slice(-1);
  const t0 = Math.min(...pts.map((p) => p.time_ms).filter((t) => t > 0), nowMs > 0 ? nowMs : Infinity);
  if (!pts.length || !Number.isFinite(t0)) return;
  const xs = pts.map((p) => Math.max(p.time_ms, t0)), ys = pts.map((p) => Number(p.balance));
  const t1 = Math.max(nowMs, ...xs), tspan = t1 - t0 || 1;
  const lo = Math.min(...ys), hi = Math.max(...ys), span = hi - lo || 1, left = 70, right = W - 12;
  const X = (t) => left + ((right - left) * (t - t0)) / tspan, Y = (v) => (hi === lo ? 70 : 130 - ((v - lo) / span) * 115);
  let d = `M${X(xs[0])},${Y(ys[0])}`;  // a step line: the balance holds until its next change
  for (let i = 1; i < xs.length; i++) d += ` H${X(xs[i])} V${Y(ys[i])}`;
  d += ` H${X(t1)}`;
  svg.appendChild(svgEl("path", { d, fill: "none", stroke: "#58a6ff", "stroke-width": 2 }));
  svg.appendChild(svgEl("line", { x1: left, x2: right, y1: 138, y2: 138, stroke: "#2a323c" }));
  const label = (v) => svgEl("text", { x: left - 6, y: Y(v) + 4, fill: "#7d8896", "font-size": 11, "text-anchor": "end" }, fmt(v, 0));
  svg.appendChild(label(hi));
  if (hi !== lo) svg.appendChild(label(lo));
  const axis = svgEl("g", { id: "fund-axis", fill: "#7d8896", "font-size": 11 });
  axis.appendChild(svgEl("text", { x: left, y: 152 }, utc(t0)));
  axis.appendChild(svgEl("text", { x: right, y: 152, "text-anchor": "end" }, t1 - t0 >= 86_400_000 ? utc(t1) : utc(t1, true)));
  axis.appendChild(svgEl("text", { x: (left + right) / 2, y: 166, "text-anchor": "middle" }, "venue time (UTC)"));
  svg.appendChild(axis);
}

const POSITION_COLUMNS = ["symbol", "side", "qty", "mode", "entry", "mark", "notional", "MM", "IM", "tier · MMR",
  "liq. price", "to liquidation"];

function renderAccount(v) {
  const box = $("account");
  box.hidden = false;
  box.dataset.account = v.account_id;
  $("account-title").innerHTML = `${v.account_id} ${badge(v.status)}`;
  const scope = (name, s) => `${name}: equity ${fmt(s.equity)} · MM ${fmt(s.maintenance_margin)} · IM ${fmt(s.initial_margin)}`
    + (s.margin_ratio === null ? "" : ` · ratio ${pct(s.margin_ratio)}`);
  $("account-summary").innerHTML = [scope("cross", v) + ` · available ${fmt(v.available)}`,
    ...v.isolated.map((i) => scope(`isolated ${i.symbol}${i.position_side === "both" ? "" : " " + i.position_side}`, i))]
    .join("<br>");
  const body = $("positions").tBodies[0];
  body.innerHTML = v.positions.length ? "" : `<tr><td colspan="12">no open positions</td></tr>`;
  for (const p of v.positions) {
    const tr = document.createElement("tr");
    tr.dataset.symbol = p.symbol;
    const cells = [p.symbol, p.side + (p.position_side === "both" ? "" : ` (${p.position_side})`), p.qty, p.margin_mode,
      fmt(p.entry_price), fmt(p.mark_price), fmt(p.notional), fmt(p.maintenance_margin), fmt(p.initial_margin),
      p.tier ? `${p.tier.index} · ${pct(p.tier.maint_margin_rate)}` : "–", fmt(p.liquidation_price),
      p.distance_to_liquidation_pct === null ? "–" : fmt(p.distance_to_liquidation_pct) + " %"];
    cells.forEach((text, i) => {
      const td = tr.insertCell();
      td.textContent = text;
      td.dataset.label = POSITION_COLUMNS[i];  // the column's name beside the value on a phone
      if (i === 1) td.className = p.side;
    });
    body.appendChild(tr);
  }
}

async function showAccount(id) {
  selected = id;
  for (const tr of $("health").tBodies[0].rows) tr.classList.toggle("selected", tr.dataset.account === id);
  try { renderAccount(await api(`/v1/accounts/${encodeURIComponent(id)}/margin`)); } catch (e) { console.warn(e); }
}

function renderState(s) {
  $("venue").textContent = s.venue;
  $("marks").textContent = Object.entries(s.marks).map(([k, v]) => `${k} ${fmt(v)}`).join(" · ");
  $("state-hash").textContent = s.state_hash.slice(0, 16);
  $("journal-head").textContent = s.journal_head.slice(0, 16);
  $("journal-length").textContent = s.journal_length;
  $("event-seq").textContent = s.event_seq;
  $("demo").textContent = s.demo && s.demo.steps ? ` · demo ${s.demo.step}/${s.demo.steps} ${s.demo.minute ?? ""}` : "";
  const sel = $("symbol"), symbols = Object.keys(s.marks);
  if (sel.options.length !== symbols.length) {
    sel.innerHTML = symbols.map((x) => `<option>${x}</option>`).join("");
    if (symbol && symbols.includes(symbol)) sel.value = symbol;
  }
  symbol = sel.value || null;
}

async function refresh() {
  refreshTimer = null;
  try {
    const [state, accounts, fund] = await Promise.all([api("/v1/state"), api("/v1/accounts"), api("/v1/insurance-fund?last=1000")]);
    renderState(state);
    renderHealth(accounts.accounts);
    renderFund(fund, state.now_ms);
    if (selected) await showAccount(selected);
    if (symbol) renderLadder(await api(`/v1/ladder/${encodeURIComponent(symbol)}`));
    document.body.dataset.refreshedSeq = state.event_seq;
  } catch (e) { console.warn(e); }
}

function scheduleRefresh() { if (!refreshTimer) refreshTimer = setTimeout(refresh, 250); }

function addFeed(msg) {
  const e = msg.event, li = document.createElement("li");
  li.className = e.type;
  li.dataset.seq = msg.seq;
  const who = e.account_id ? ` ${e.account_id}` : e.symbol ? ` ${e.symbol}` : "";
  const detail = e.type === "MarginLevelChanged" ? ` ${e.previous} → ${e.level}`
    : e.type === "MarkPriceChanged" ? ` ${fmt(e.mark_price)}`
    : e.type === "LiquidationStep" ? ` ${e.qty} @ ${fmt(e.price)} fee ${fmt(e.fee)}`
    : e.type === "InsuranceFundChanged" ? ` ${fmt(e.delta)} → ${fmt(e.balance)}`
    : e.type === "MarginCall" ? ` ratio ${pct(e.margin_ratio)}` : "";
  li.innerHTML = `<span class="t">#${msg.seq} ${msg.time_ms ? utc(msg.time_ms, true) : ""}</span> ${e.type}${who}${detail}`;
  const feed = $("feed");
  feed.insertBefore(li, feed.firstChild);
  while (feed.children.length > FEED_MAX) feed.removeChild(feed.lastChild);
}

async function loadHistory() {
  // the newest events from the log, then the stream from the seq after them: none twice, none lost
  const head = (await api("/v1/state")).event_seq;
  const page = await api(`/v1/events?from_seq=${Math.max(0, head - FEED_MAX + 1)}&limit=${FEED_MAX}`);
  for (const { seq, time_ms, ...event } of page.events) {
    if (seq > lastSeq) { addFeed({ seq, time_ms, event }); lastSeq = seq; }
  }
  lastSeq = Math.max(lastSeq, page.events.length ? lastSeq : page.head_seq);
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const from = lastSeq ? `?from_seq=${lastSeq + 1}` : "";  // resume after the last event shown
  socket = new WebSocket(`${proto}://${location.host}/v1/stream${from}`);
  socket.onopen = () => socket.send(JSON.stringify({ type: "auth", key: apiKey }));
  socket.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === "hello") { $("conn").textContent = "live"; $("conn").className = "pill on"; retryMs = 500;
      if (!lastSeq) lastSeq = msg.head_seq; return; }
    if (msg.type === "error") { if (msg.code === "UNAUTHORIZED") askKey(); return; }
    if (msg.type === "event" && msg.seq > lastSeq) { lastSeq = msg.seq; addFeed(msg); scheduleRefresh(); }
  };
  socket.onclose = (ev) => {
    const refused = ev.code === 4401 || ev.code === 4403;
    $("conn").textContent = refused ? "key refused" : "reconnecting"; $("conn").className = "pill off";
    if (!refused) setTimeout(connect, retryMs = Math.min(retryMs * 2, 10000));
  };
}

async function start() {
  apiKey = readKey();
  if (!apiKey) { askKey(); return; }
  $("keyform").hidden = true;
  refresh();
  try { await loadHistory(); } catch (e) { console.warn(e); }
  connect();
}

$("keyform").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem("solvent-key", $("keyinput").value.trim());
  if (socket) socket.close();
  start();
});
function onRow(e) {
  const tr = e.target.closest("tr[data-account]");
  if (tr && (e.type === "click" || e.key === "Enter")) showAccount(tr.dataset.account);
}
$("health").tBodies[0].addEventListener("click", onRow);
$("health").tBodies[0].addEventListener("keydown", onRow);
$("account-close").addEventListener("click", () => { selected = null; $("account").hidden = true; refresh(); });
addEventListener("resize", scheduleRefresh);  // the charts are drawn at their width
$("symbol").addEventListener("change", () => { symbol = $("symbol").value; refresh(); });
start();
