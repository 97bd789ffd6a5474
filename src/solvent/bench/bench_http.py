"""The service under a compiled load generator, against a bare server floor (issue "Service at
venue throughput", item 7).

``solvent bench service`` drives the server from a Python client that caps near 800 requests a
second, so it measured the client; its floor is solvent's own ``/healthz``. Here:

* the load comes from ``hey`` (Go; ``apt-get install hey``), ``CONCURRENCY`` connections with
  keep-alive, each phase for a fixed time;
* the **floor** is a bare Litestar handler (a GET, and a POST of a small JSON body, answering
  ``{"ok": true}``) served by uvicorn with the same settings as ``solvent serve``, in its own
  process, measured in the same run: the least any handler costs on this stack, with nothing
  of solvent in it;
* solvent runs as ``solvent serve --demo`` (SQLite journal, fsync, group commit) in a child
  process. The phases are a read (``GET /v1/accounts/ACCOUNT/margin``), a what-if pre-trade
  check, and an operator price update made durable and fanned out to ``SUBSCRIBERS`` WebSocket
  clients held open by a child process that only counts their frames (``ws_followers``: a
  Python WebSocket library would be slower than the server it measures). Two hey processes,
  half the connections each, send two prices, so the mark moves on every update: p50 is their
  answers' weighted mean, p99 the worse.
* orders: hey sends one body again and again, and a repeated order id is refused, so limit
  orders are placed by ``wrk`` (C, ``apt-get install wrk``) with a Lua script giving every
  order a new id, on ``ORDER_ACCOUNTS`` funded accounts in turn; their floor is the same wrk
  script posting to the bare handler (a generator is compared with itself). Without wrk the
  order rows are left out, with a note.

Figures ``service.http.{floor_get,floor_post,floor_order,read,order,what_if,price}.{rate,p50,p99}``:
``rate`` is requests per second and its ratio is ours / the floor's (the target is ≥ 0.5);
``p50``/``p99`` are latencies in ms with ratio ours / the floor's. Reads compare to the floor's
GET, orders to wrk's floor POST, the rest to hey's floor POST. Without ``hey`` the benchmark
says so and reports nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from solvent.bench import BenchResult, benchmark, result
from solvent.bench.bench_service import ACCOUNT, START_TIMEOUT_S, _free_port, _start_server, _stop_server, _wait_ready

__all__ = ["http_benchmarks", "parse_hey"]

CONCURRENCY = 16
SUBSCRIBERS = 100

_FLOOR_APP = """
import sys
import uvicorn
from litestar import Litestar, get, post

@get("/floor")
async def read() -> dict[str, bool]:
    return {"ok": True}

@post("/floor", status_code=200)
async def write(data: dict[str, object]) -> dict[str, bool]:
    return {"ok": True}

from solvent.cli.serve_command import SERVER_SETTINGS

uvicorn.run(Litestar([read, write]), host="127.0.0.1", port=int(sys.argv[1]), **SERVER_SETTINGS)
"""


@dataclass(frozen=True, slots=True)
class HeyRun:
    rate: float
    p50_ms: float
    p99_ms: float
    ok: int
    other: int
    """Responses with another status than 200, and errors."""


def parse_hey(text: str) -> HeyRun:
    """Requests/sec, the 50 % and 99 % latencies and the status counts from hey's summary."""
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    p50 = re.search(r"50% in ([0-9.]+) secs", text)
    p99 = re.search(r"99% in ([0-9.]+) secs", text)
    if rate is None or p50 is None or p99 is None:
        raise ValueError(f"not a hey summary: {text[:300]!r}")
    status_part, _, error_part = text.partition("Error distribution:")
    status_part = status_part.partition("Status code distribution:")[2]
    statuses = {int(code): int(n) for code, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", status_part)}
    errors = sum(int(n) for n in re.findall(r"\[(\d+)\]", error_part))
    return HeyRun(float(rate.group(1)), float(p50.group(1)) * 1e3, float(p99.group(1)) * 1e3,
                  statuses.get(200, 0), sum(n for c, n in statuses.items() if c != 200) + errors)


def parse_wrk(text: str) -> HeyRun:
    """Requests/sec, the 50 % and 99 % latencies (``--latency``) and the outcomes from wrk's
    summary: ``ok`` the responses counted, less those not 2xx/3xx; ``other`` those and the
    socket errors."""
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    p50, p99 = (re.search(rf"^\s*{q}%\s+([0-9.]+)(us|ms|s)\s*$", text, re.MULTILINE) for q in (50, 99))
    if rate is None or total is None or p50 is None or p99 is None:
        raise ValueError(f"not a wrk --latency summary: {text[:300]!r}")
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    not_ok = int(bad.group(1)) if bad else 0
    socket = sum(int(n) for n in errors.groups()) if errors else 0
    return HeyRun(float(rate.group(1)), float(p50.group(1)) * scale[p50.group(2)],
                  float(p99.group(1)) * scale[p99.group(2)], int(total.group(1)) - not_ok, not_ok + socket)


ORDER_ACCOUNTS = 200
"""The order phase places its orders on this many accounts in turn (a few dozen each)."""

_ORDER_SCRIPT = """
local counter, id, threads = 0, 0, 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  id = wrk.thread:get("id")
end
request = function()
  counter = counter + 1
  local path = string.format(PATH, counter % ACCOUNTS)
  local body = string.format('{"order_id":"w%d-%d","symbol":"BTCUSDT","side":"long","qty":"0.001",'
                             .. '"price":"100000"}', id, counter)
  return wrk.format("POST", path, HEADERS, body)
end
"""
"""wrk's request generator for the order phase: every order a new id (thread and counter), the
accounts in turn; ``PATH``, ``ACCOUNTS`` and ``HEADERS`` are set before it."""


def order_script(path: str, accounts: int, headers: dict[str, str]) -> str:
    """The Lua script placing distinct orders on ``path`` (a ``%d`` for the account number)."""
    table = ", ".join(f'["{name}"] = "{value}"' for name, value in {"Content-Type": "application/json",
                                                                   **headers}.items())
    return f'PATH = "{path}"\nACCOUNTS = {accounts}\nHEADERS = {{{table}}}\n{_ORDER_SCRIPT}'


async def _wrk(url: str, seconds: float, script: str, connections: int = CONCURRENCY) -> HeyRun:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        proc = await asyncio.create_subprocess_exec(
            "wrk", "-t2", f"-c{connections}", f"-d{seconds:.0f}s", "--latency", "-s", handle.name, url,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await proc.communicate()
    finally:
        Path(handle.name).unlink()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed: {err.decode()[-500:]}")
    return parse_wrk(out.decode())


async def _hey(url: str, seconds: float, headers: dict[str, str], body: str | None = None,
               connections: int = CONCURRENCY) -> HeyRun:
    argv = ["hey", "-z", f"{seconds}s", "-c", str(connections)]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    if body is not None:
        argv += ["-m", "POST", "-T", "application/json", "-d", body]
    proc = await asyncio.create_subprocess_exec(*argv, url, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"hey failed: {err.decode()[-500:]}")
    return parse_hey(out.decode())


def _merged(a: HeyRun, b: HeyRun) -> HeyRun:
    """Two concurrent runs as one: rates and counts add; p50 weighted by answers, p99 the worse."""
    total = (a.ok + b.ok) or 1
    return HeyRun(a.rate + b.rate, (a.p50_ms * a.ok + b.p50_ms * b.ok) / total, max(a.p99_ms, b.p99_ms),
                  a.ok + b.ok, a.other + b.other)


async def _floor(seconds: float) -> tuple[HeyRun, HeyRun, HeyRun | None]:
    import httpx

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", _FLOOR_APP, str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(300):
                try:
                    if (await client.get("/floor")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
        url = f"http://127.0.0.1:{port}/floor"
        get_ = await _hey(url, seconds, {})
        post_ = await _hey(url, seconds, {}, '{"symbol":"BTCUSDT","price":"116000"}')
        orders = await _wrk(url, seconds, order_script("/floor", 1, {})) if shutil.which("wrk") else None
        return get_, post_, orders
    finally:
        _stop_server(proc)


async def _solvent(seconds: float, key: str, journal: Path) -> tuple[HeyRun, HeyRun, HeyRun | None, HeyRun, str]:
    import httpx

    port = _free_port()
    proc = _start_server(port, journal, key)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}) as client:
            await _wait_ready(client, proc)
            for i in range(ORDER_ACCOUNTS):  # the order phase's accounts, funded for every order it places
                r = await client.post(f"/v1/accounts/orders-{i}/deposits", json={"amount": "1000000"})
                r.raise_for_status()
        auth = {"X-API-Key": key}
        read = await _hey(f"{base}/v1/accounts/{ACCOUNT}/margin", seconds, auth)
        what_if = await _hey(f"{base}/v1/accounts/{ACCOUNT}/what-if", seconds, auth,
                             '{"order_id":"probe","symbol":"BTCUSDT","side":"long","qty":"0.01","price":"116000"}')
        orders = (await _wrk(base, seconds, order_script("/v1/accounts/orders-%d/orders", ORDER_ACCOUNTS, auth))
                  if shutil.which("wrk") else None)
        followers = await _follow(f"ws://127.0.0.1:{port}/v1/stream", key, SUBSCRIBERS)
        try:
            # two generators at two prices, half the connections each: the mark moves on every update
            halves = await asyncio.gather(*(
                _hey(f"{base}/v1/prices", seconds, auth, f'{{"symbol":"BTCUSDT","price":"{p}"}}', CONCURRENCY // 2)
                for p in ("116000", "116100")))
            price = _merged(*halves)
            await asyncio.sleep(1.0)  # let the followers drain
        finally:
            frames = await _stop_following(followers)
        got = f"{SUBSCRIBERS} stream clients got {min(frames)}–{max(frames)} events"
        return read, what_if, orders, price, got
    finally:
        _stop_server(proc)


async def _follow(url: str, key: str, n: int) -> asyncio.subprocess.Process:
    """``n`` stream clients in a child process (``ws_followers``), once they all got their hello."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "solvent.bench.ws_followers", url, key, str(n),
                                                stdout=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT_S)
    except BaseException:
        await _killed(proc)
        raise
    if line.strip() != b"ready":
        await _killed(proc)
        raise RuntimeError(f"the stream clients did not start ({line[:200]!r})")
    return proc


async def _killed(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
    await proc.wait()


async def _stop_following(proc: asyncio.subprocess.Process) -> list[int]:
    """Stop the followers; the events each one received."""
    proc.terminate()
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), START_TIMEOUT_S)
    finally:
        await _killed(proc)
    lines = out.decode().strip().splitlines()
    if not lines:
        raise RuntimeError(f"the stream clients exited ({proc.returncode}) without their counts")
    return [int(n) for n in json.loads(lines[-1])["frames"]]


@benchmark("http", needs=("service",))
def http_benchmarks(quick: bool) -> list[BenchResult]:
    from solvent.service.keys import KeyStore, Role

    if shutil.which("hey") is None:
        print("note: skipped http: the load generator hey is not installed (apt-get install hey)", file=sys.stderr)
        return []
    seconds = 3.0 if quick else 10.0
    key = KeyStore().issue(Role.OPERATOR)
    with tempfile.TemporaryDirectory(prefix="solvent-bench-http-") as tmp:
        floor_get, floor_post, floor_orders = asyncio.run(_floor(seconds))
        read, what_if, orders, price, stream = asyncio.run(_solvent(seconds, key, Path(tmp) / "journal.sqlite"))
    if orders is None or floor_orders is None:
        print("note: skipped the order phase: the load generator wrk is not installed (apt-get install wrk)",
              file=sys.stderr)
    common = f"{CONCURRENCY} connections, {seconds:.0f} s per phase"
    out: list[BenchResult] = []
    phases: list[tuple[str, HeyRun, HeyRun, str, str]] = [
        ("floor_get", floor_get, floor_get, "floor GET", "bare Litestar GET on uvicorn"),
        ("floor_post", floor_post, floor_post, "floor POST", "bare Litestar POST of a small JSON body"),
        ("read", read, floor_get, "floor GET", f"GET /v1/accounts/{ACCOUNT}/margin"),
        ("what_if", what_if, floor_post, "floor POST", f"what-if pre-trade check on {ACCOUNT}"),
        ("price", price, floor_post, "floor POST", f"price update, journaled (SQLite, fsync) and fanned out; {stream}"),
    ]
    if orders is not None and floor_orders is not None:
        phases[2:2] = [
            ("floor_order", floor_orders, floor_orders, "floor POST by wrk",
             "bare Litestar POST of the order bodies, sent by wrk"),
            ("order", orders, floor_orders, "floor POST by wrk",
             f"limit orders placed (pre-trade checked, journaled: SQLite, fsync) on {ORDER_ACCOUNTS} accounts in "
             "turn, every one a new order id, sent by wrk"),
        ]
    for name, run, floor, label, what in phases:
        tool = "wrk" if "wrk" in label else "hey"
        detail = f"{what}; {run.ok} answered 2xx, {run.other} other; {tool}, {common}"
        out += [
            result(f"service.http.{name}.rate", run.rate, "req/s", f"{label} req/s", floor.rate, detail),
            result(f"service.http.{name}.p50", run.p50_ms, "ms", f"{label} p50", floor.p50_ms),
            result(f"service.http.{name}.p99", run.p99_ms, "ms", f"{label} p99", floor.p99_ms),
        ]
    return out
