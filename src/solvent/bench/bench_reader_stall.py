"""Reader stall (issue 10, item 5; issue 12's third target): operator deposit latency while
``READERS`` account keys read history.

Before the event log was indexed, an account key asking for its few margin calls made the
service scan the whole history; on a 300k-command journal four such requests a second took
operator deposit latency from 8.7 ms to 3.5 s. This benchmark checks that a reader at an
account key's **full** rate limit no longer stalls the venue.

A child process (its own interpreter: the load generator does not share its GIL) builds the
venue with ``build_service`` on the in-memory journal, submits ``COMMANDS`` commands to it —
deposits, fills between ``ACCOUNTS`` accounts, mark prices — plus three deposits of a quiet
account, then serves it with uvicorn on a free 127.0.0.1 port (default ``RateLimiter``). The
load generator sends operator deposits one at a time, ``DEPOSIT_RATE_PER_S`` a second, and
times each:

* baseline: with nothing else running;
* loaded: while ``READERS`` keys of the quiet account each fire history, event, fund and
  state reads (``READS``, default page size) at the key's full rate, each on schedule whether
  or not the previous one has been answered.

Idle and loaded blocks of ``BLOCK`` deposits alternate, so that whatever else the machine is
doing weighs on both alike.

Rows ``service.reader_stall.{p50,p99}``: the loaded deposit latency, ratio to the same
percentile of the baseline (target: p99 ratio ≤ 3). The detail gives the reader's requests,
answers and latency, and the size of the history. Issue 12's target: the p99 of a write while
10 clients read is at most 3 times the p99 of the write alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from solvent.bench import BenchResult, benchmark, result
from solvent.bench.bench_service import Phase, _free_port

__all__ = ["ACCOUNTS", "COMMANDS", "DEPOSIT_RATE_PER_S", "READERS", "READS", "read_forever", "reader_stall"]

COMMANDS = 300_000
QUICK_COMMANDS = 30_000
ACCOUNTS = 300
QUIET = "quiet"
"""The reader's account: three deposits among all the history."""
READERS = 10
"""Readers, each with its own key of the quiet account, each at the key's full rate."""
DEPOSIT_RATE_PER_S = 20.0
BLOCK = 50
"""Deposits per idle or loaded block; the blocks alternate."""
BLOCK_CAP = 4.0
READS = ("/v1/accounts/{a}/margin-calls", "/v1/accounts/{a}/liquidations", "/v1/events",
         "/v1/events?from_seq={mid}", "/v1/insurance-fund", "/v1/state")
"""What the reader asks for, in turn (``{a}`` its account, ``{mid}`` half the event head)."""
SETUP_TIMEOUT_S = 1_800.0
STOP_TIMEOUT_S = 15.0


def _commands(n: int, seed: int = 7) -> list[Any]:
    """``n`` commands after the opening: 70 % fills, 1 % prices (a ±1-tick walk), 29 % deposits;
    the quiet account deposits at the start, the middle and the end."""
    from solvent.engine import Deposit, Fill, PriceUpdate

    rng = random.Random(seed)
    accounts = [f"acct{i:03d}" for i in range(ACCOUNTS)]
    price = {"BTCUSDT": 60_000, "ETHUSDT": 3_000}
    tick = {"BTCUSDT": 10, "ETHUSDT": 1}
    qty = {"BTCUSDT": Decimal("0.001"), "ETHUSDT": Decimal("0.01")}
    out: list[Any] = [Deposit(a, "USDT", Decimal(10_000_000)) for a in accounts]
    out += [PriceUpdate(s, "bench", Decimal(p)) for s, p in price.items()]
    rest = n - len(out)
    for i in range(rest):
        symbol = "BTCUSDT" if i % 2 else "ETHUSDT"
        if i in (0, rest // 2, rest - 1):
            out.append(Deposit(QUIET, "USDT", Decimal(1_000)))
        elif (r := rng.random()) < 0.70:
            buyer, seller = rng.sample(accounts, 2)
            out.append(Fill(f"f{i}", symbol, Decimal(price[symbol]), qty[symbol], buyer, seller))
        elif r < 0.71:
            price[symbol] += rng.choice((-1, 1)) * tick[symbol]
            out.append(PriceUpdate(symbol, "bench", Decimal(price[symbol])))
        else:
            out.append(Deposit(rng.choice(accounts), "USDT", Decimal(100)))
    return out


def serve(port: int, n: int) -> None:
    """The child: build and fill the venue, print one JSON line (keys, sizes), serve until SIGINT."""
    import uvicorn

    from solvent.service import KeyStore, Role, build_service, create_app

    keys = KeyStore()
    operator, readers = keys.issue(Role.OPERATOR), [keys.issue(Role.ACCOUNT, QUIET) for _ in range(READERS)]
    svc = build_service(keys, journal=":memory:")
    started = time.perf_counter()
    cmds = _commands(n)
    refused = 0
    for i in range(0, len(cmds), 1_024):
        refused += sum(not s.result.accepted for s in svc.venue.submit_many_now(cmds[i:i + 1_024]))
    info = {"operator": operator, "readers": readers, "commands": len(cmds), "refused": refused,
            "events": svc.venue.events.head_seq, "rate_per_s": svc.limiter.rate_per_s,
            "setup_s": time.perf_counter() - started}
    print(json.dumps(info), flush=True)
    uvicorn.Server(uvicorn.Config(create_app(svc), host="127.0.0.1", port=port, log_level="warning")).run()


def _start(port: int, n: int) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    code = f"from solvent.bench.bench_reader_stall import serve; serve({port}, {n})"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the child prints it once the history is in (minutes at full size)
    if not line:
        raise RuntimeError(f"the server exited with {proc.wait()} before it was ready")
    return proc, dict(json.loads(line))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _deposits(client: Any, key: str, count: int, into: Phase) -> None:
    """``count`` operator deposits, one at a time, started ``DEPOSIT_RATE_PER_S`` a second;
    a block that takes ``BLOCK_CAP`` times its schedule stops early (a stalled venue)."""
    started = time.perf_counter()
    deadline = started + BLOCK_CAP * count / DEPOSIT_RATE_PER_S
    for i in range(count):
        due = started + i / DEPOSIT_RATE_PER_S
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        if time.perf_counter() > deadline:
            break
        sent = time.perf_counter()
        try:
            status = (await client.post("/v1/accounts/ops/deposits", json={"amount": "1"},
                                        headers={"X-API-Key": key})).status_code
        except Exception:
            status = 0
        if status == 200:
            into.latencies_s.append(time.perf_counter() - sent)
        else:
            into.errors += 1
    into.wall_s += time.perf_counter() - started


@dataclass(slots=True)
class Reader:
    """Reads on a fixed schedule at ``rate_per_s``, each in its own task (slow answers do not
    slow it down), cycling through ``READS``."""

    client: Any
    key: str
    rate_per_s: float
    mid: int
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        paths = [p.format(a=QUIET, mid=self.mid) for p in READS]
        tasks: set[asyncio.Task[None]] = set()
        started, i = time.perf_counter(), 0
        while not stop.is_set():
            task = asyncio.create_task(self._one(paths[i % len(paths)]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
            await asyncio.sleep(max(0.0, started + i / self.rate_per_s - time.perf_counter()))
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _one(self, path: str) -> None:
        sent = time.perf_counter()
        try:
            status = (await self.client.get(path, headers={"X-API-Key": self.key})).status_code
        except Exception:
            status = 0
        self.latencies_s.append(time.perf_counter() - sent)
        self.statuses[status] = self.statuses.get(status, 0) + 1


def read_forever(base: str, keys: list[str], rate_per_s: float, mid: int) -> None:
    """The readers' child process: every key in ``keys`` reads at ``rate_per_s`` until SIGTERM,
    then one JSON line: the statuses and the latencies (s) of every read."""
    import httpx

    async def main() -> list[Reader]:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with httpx.AsyncClient(base_url=base, timeout=60.0,
                                     limits=httpx.Limits(max_connections=64)) as client:
            readers = [Reader(client, key, rate_per_s, mid) for key in keys]
            print("reading", flush=True)
            await asyncio.gather(*(reader.run(stop) for reader in readers))
        return readers

    readers = asyncio.run(main())
    statuses: dict[int, int] = {}
    for reader in readers:
        for status, n in reader.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    print(json.dumps({"statuses": statuses, "latencies_s": [t for r in readers for t in r.latencies_s]}), flush=True)


async def _readers(base: str, info: dict[str, Any], mid: int) -> asyncio.subprocess.Process:
    """``READERS`` readers in a child process of their own: 500 reads a second would take most of
    a core of this process's event loop, which times the deposits, and so delay the deposits'
    own timing. Returns once they are reading."""
    args = json.dumps([base, info["readers"], float(info["rate_per_s"]), mid])
    code = ("import json; from solvent.bench.bench_reader_stall import read_forever; "
            f"read_forever(*json.loads({args!r}))")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), STOP_TIMEOUT_S)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    if line.strip() != b"reading":
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"the readers did not start ({line[:200]!r})")
    return proc


async def _stop_readers(proc: asyncio.subprocess.Process, into: dict[str, Any]) -> None:
    proc.terminate()
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), SETUP_TIMEOUT_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    lines = out.decode().strip().splitlines()
    if not lines:
        raise RuntimeError(f"the readers exited ({proc.returncode}) without their counts")
    got = json.loads(lines[-1])
    for status, n in got["statuses"].items():
        into["statuses"][int(status)] = into["statuses"].get(int(status), 0) + int(n)
    into["latencies_s"] += got["latencies_s"]


async def _measure(base: str, info: dict[str, Any], count: int) -> tuple[Phase, Phase, dict[str, Any]]:
    """Idle and loaded blocks of ``BLOCK`` deposits, alternating (the machine's other load
    then weighs on both alike), ``count`` deposits each in all."""
    import httpx

    op = str(info["operator"])
    idle, loaded = Phase("idle"), Phase("loaded")
    reads: dict[str, Any] = {"statuses": {}, "latencies_s": []}
    async with httpx.AsyncClient(base_url=base, timeout=60.0, limits=httpx.Limits(max_connections=64)) as client:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/healthz")).status_code == 200:
                    break
            await asyncio.sleep(0.1)
        mid = int((await client.get("/v1/state", headers={"X-API-Key": op})).json()["event_seq"]) // 2
        await _deposits(client, op, 20, Phase("warm-up"))
        for _ in range(max(1, count // BLOCK)):
            await _deposits(client, op, BLOCK, idle)
            reading = await _readers(base, info, mid)
            await asyncio.sleep(1.0)  # the readers' keys are at their full rate before the first timed deposit
            try:
                await _deposits(client, op, BLOCK, loaded)
            finally:
                await _stop_readers(reading, reads)
            await asyncio.sleep(0.5)  # their last answers are in before the next idle block
    return idle, loaded, reads


@benchmark("reader_stall", needs=("service",))
def reader_stall(quick: bool) -> list[BenchResult]:
    n, count = (QUICK_COMMANDS, 150) if quick else (COMMANDS, 400)
    port = _free_port()
    proc, info = _start(port, n)
    try:
        idle, loaded, got = asyncio.run(_measure(f"http://127.0.0.1:{port}", info, count))
    finally:
        _stop(proc)
    statuses: dict[int, int] = got["statuses"]
    reads = sorted(got["latencies_s"])
    read_p99 = reads[min(len(reads) - 1, int(0.99 * len(reads)))] * 1000 if reads else float("nan")
    detail = (f"{info['commands']:,} commands ({info['refused']} refused), {info['events']:,} events, "
              f"set up in {info['setup_s']:.0f} s; {len(info['readers'])} readers (own process) at "
              f"{info['rate_per_s']:g}/s each: "
              f"{sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}, "
              f"p99 {read_p99:.1f} ms; deposits {len(loaded.latencies_s)} loaded, {len(idle.latencies_s)} idle, "
              f"{loaded.errors + idle.errors} failed")
    baseline = "operator deposit, same percentile, no readers (same server, same run)"
    return [result(f"service.reader_stall.{q}", loaded.pct(p), "ms", baseline, idle.pct(p), detail)
            for q, p in (("p50", 0.50), ("p99", 0.99))]
