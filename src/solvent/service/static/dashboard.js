// solvent dashboard: plain JS + SVG. Amounts arrive as exact decimal strings; Number() is used
// for drawing only, never for a decision.
"use strict";
const $ = (id) => document.getElementById(id);
let apiKey = null, lastSeq = 0, socket = null, refreshTimer = null, symbol = null, retryMs = 500;

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

function renderHealth(rows) {
  const body = $("health").tBodies[0];
  body.innerHTML = "";
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.dataset.account = r.account_id;
    tr.dataset.level = r.level;
    const ratio = r.worst_margin_ratio ?? r.margin_ratio;
    const noRatio = ratio === null && Number(r.total_maintenance_margin) > 0;
    tr.innerHTML = `<td>${r.account_id}</td><td><span class="level level-${r.level}">${r.level}</span></td>
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

function renderLadder(l) {
  const svg = $("ladder");
  svg.innerHTML = "";
  const rows = l.buckets.slice().reverse();  // highest price on top
  if (!rows.length) { svg.appendChild(svgEl("text", { x: 10, y: 20, fill: "#7d8896" }, "no liquidation prices in range")); }
  const max = Math.max(1, ...rows.map((b) => Math.max(Number(b.long_notional), Number(b.short_notional))));
  const h = Math.min(24, 290 / Math.max(rows.length, 1)), mid = 230;
  rows.forEach((b, i) => {
    const y = 5 + i * h;
    const lw = (Number(b.long_notional) / max) * 120, sw = (Number(b.short_notional) / max) * 120;
    svg.appendChild(svgEl("text", { x: 5, y: y + h * 0.7, fill: "#7d8896", "font-size": 10 },
      `${fmt(b.price_from, 0)}–${fmt(b.price_to, 0)}`));
    if (lw) svg.appendChild(svgEl("rect", { x: mid - lw, y: y + 1, width: lw, height: h - 2, fill: "#3fb950" }));
    if (sw) svg.appendChild(svgEl("rect", { x: mid, y: y + 1, width: sw, height: h - 2, fill: "#f85149" }));
    svg.appendChild(svgEl("text", { x: 360, y: y + h * 0.7, fill: "#d8dee6", "font-size": 10 },
      `${b.positions} pos · ${fmt(Number(b.long_notional) + Number(b.short_notional), 0)}`));
  });
  svg.appendChild(svgEl("line", { x1: mid, x2: mid, y1: 0, y2: 300, stroke: "#2a323c" }));
  const beyond = l.beyond && l.beyond.positions ? ` · ${l.beyond.positions} positions beyond ±${l.beyond.range_pct} %` : "";
  $("ladder-note").textContent = l.mark_price === null ? "no mark yet"
    : `mark ${fmt(l.mark_price)} · bucket ${fmt(l.bucket_width)} · longs left (green), shorts right (red)${beyond}`;
}

function renderFund(f) {
  $("fund-balance").textContent = `${fmt(f.balance)} ${f.asset}`;
  const svg = $("fund");
  svg.innerHTML = "";
  const pts = f.history.map((p) => Number(p.balance));
  if (!pts.length) return;
  const lo = Math.min(...pts), hi = Math.max(...pts), span = hi - lo || 1;
  const xy = pts.map((v, i) => [10 + (440 * i) / Math.max(pts.length - 1, 1), 150 - ((v - lo) / span) * 130]);
  svg.appendChild(svgEl("polyline", { points: xy.map((p) => p.join(",")).join(" "), fill: "none", stroke: "#58a6ff", "stroke-width": 2 }));
  svg.appendChild(svgEl("text", { x: 12, y: 14, fill: "#7d8896", "font-size": 10 }, fmt(hi)));
  svg.appendChild(svgEl("text", { x: 12, y: 156, fill: "#7d8896", "font-size": 10 }, fmt(lo)));
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
    const [state, accounts, fund] = await Promise.all([api("/v1/state"), api("/v1/accounts"), api("/v1/insurance-fund")]);
    renderState(state);
    renderHealth(accounts.accounts);
    renderFund(fund);
    if (symbol) renderLadder(await api(`/v1/ladder/${encodeURIComponent(symbol)}`));
    document.body.dataset.refreshedSeq = state.event_seq;
  } catch (e) { console.warn(e); }
}

function scheduleRefresh() { if (!refreshTimer) refreshTimer = setTimeout(refresh, 250); }

function addFeed(msg) {
  const e = msg.event, li = document.createElement("li");
  li.className = e.type;
  const who = e.account_id ? ` ${e.account_id}` : e.symbol ? ` ${e.symbol}` : "";
  const detail = e.type === "MarginLevelChanged" ? ` ${e.previous} → ${e.level}`
    : e.type === "MarkPriceChanged" ? ` ${fmt(e.mark_price)}`
    : e.type === "LiquidationStep" ? ` ${e.qty} @ ${fmt(e.price)} fee ${fmt(e.fee)}`
    : e.type === "InsuranceFundChanged" ? ` ${fmt(e.delta)} → ${fmt(e.balance)}`
    : e.type === "MarginCall" ? ` ratio ${pct(e.margin_ratio)}` : "";
  li.innerHTML = `<span class="t">#${msg.seq}</span> ${e.type}${who}${detail}`;
  const feed = $("feed");
  feed.insertBefore(li, feed.firstChild);
  while (feed.children.length > 200) feed.removeChild(feed.lastChild);
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const from = lastSeq ? `?from_seq=${lastSeq + 1}` : "";
  socket = new WebSocket(`${proto}://${location.host}/v1/stream${from}`);
  socket.onopen = () => socket.send(JSON.stringify({ type: "auth", key: apiKey }));
  socket.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === "hello") { $("conn").textContent = "live"; $("conn").className = "pill on"; retryMs = 500;
      if (!lastSeq) lastSeq = msg.head_seq; return; }
    if (msg.type === "error") { if (msg.code === "UNAUTHORIZED") askKey(); return; }
    if (msg.type === "event") { lastSeq = msg.seq; addFeed(msg); scheduleRefresh(); }
  };
  socket.onclose = (ev) => {
    $("conn").textContent = "reconnecting"; $("conn").className = "pill off";
    if (ev.code !== 4401 && ev.code !== 4403) setTimeout(connect, retryMs = Math.min(retryMs * 2, 10000));
  };
}

function start() {
  apiKey = readKey();
  if (!apiKey) { askKey(); return; }
  $("keyform").hidden = true;
  refresh();
  connect();
}

$("keyform").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem("solvent-key", $("keyinput").value.trim());
  if (socket) socket.close();
  start();
});
$("symbol").addEventListener("change", () => { symbol = $("symbol").value; refresh(); });
start();
