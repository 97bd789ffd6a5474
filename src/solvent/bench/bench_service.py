"""Service load test on loopback: HTTP latency and throughput with 100 stream subscribers.

``solvent serve`` runs in a child process (its own interpreter: the load generator does not
share its GIL) on a free 127.0.0.1 port, with the demo book and a SQLite journal in a
temporary folder (``synchronous=FULL``: every acknowledged command is fsynced). The load
generator (httpx + websockets, one asyncio loop) subscribes ``CLIENTS`` WebSocket clients
to the whole venue's stream, then drives, ``CONCURRENCY`` requests in flight at a time:

* ``service.healthz``: ``GET /healthz`` — the baseline round trip (no key, no engine);
* ``service.what_if``: ``POST /v1/accounts/{id}/what-if`` — pre-trade check, read-only;
* ``service.price``: ``POST /v1/prices`` (operator) — applied, journaled (group commit),
  published to every subscriber, then answered.

Each phase is bounded by a request count and a time limit; the server is stopped with
SIGINT (graceful shutdown closes the journal), which is then verified. Rows: p50 and p99
latency (ratio to the same percentile of ``/healthz``) and requests/s (ratio to ``/healthz``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from solvent.bench import BenchResult, benchmark, result

__all__ = ["CLIENTS", "CONCURRENCY", "service_benchmarks"]

CLIENTS = 100
CONCURRENCY = 16
ACCOUNT = "alice-cross-5x"
SOURCE = "binance-um-1m-close"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


@dataclass(slots=True)
class Phase:
    name: str
    latencies_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    errors: int = 0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    @property
    def rate(self) -> float:
        return len(self.latencies_s) / self.wall_s if self.wall_s else 0.0


@dataclass(slots=True)
class Subscribers:
    received: list[int]
    last_seq: list[int]
    tasks: list[asyncio.Task[None]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(port: int, journal: Path, key: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SOLVENT_OPERATOR_KEY": key}
    env.pop("SOLVENT_KEYS_FILE", None)
    code = "import sys; from solvent.cli import entry_point; sys.argv[0] = 'solvent'; entry_point()"
    cmd = [sys.executable, "-c", code, "serve", "--host", "127.0.0.1", "--port", str(port), "--demo",
           "--demo-step", "3600", "--journal", str(journal), "--rate", "1000000"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop_server(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return -9
    return proc.returncode


async def _wait_ready(client: Any, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before it was ready")
        with contextlib.suppress(Exception):
            if (await client.get("/healthz")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become ready")


async def _subscribe(url: str, key: str, n: int) -> Subscribers:
    import websockets

    subs = Subscribers([0] * n, [0] * n, [])
    ready = [asyncio.Event() for _ in range(n)]

    async def follow(i: int) -> None:
        async with websockets.connect(url, additional_headers={"X-API-Key": key}, max_queue=None) as ws:
            async for raw in ws:
                msg = json.loads(raw)
                if msg["type"] == "hello":
                    ready[i].set()
                elif msg["type"] == "event":
                    subs.received[i] += 1
                    subs.last_seq[i] = int(msg["seq"])

    subs.tasks = [asyncio.create_task(follow(i)) for i in range(n)]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), START_TIMEOUT_S)
    return subs


async def _drive(name: str, count: int, limit_s: float, call: Callable[[int], Awaitable[int]]) -> Phase:
    """``count`` calls, ``CONCURRENCY`` at a time, stopping early after ``limit_s``."""
    phase = Phase(name)
    next_i = 0
    deadline = time.monotonic() + limit_s

    async def worker() -> None:
        nonlocal next_i
        while next_i < count and time.monotonic() < deadline:
            i = next_i
            next_i += 1
            started = time.perf_counter()
            try:
                status = await call(i)
            except Exception:
                status = 0
            if status == 200:
                phase.latencies_s.append(time.perf_counter() - started)
            else:
                phase.errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    phase.wall_s = time.perf_counter() - started
    return phase


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def _load(base: str, key: str, proc: subprocess.Popen[bytes], count: int, limit_s: float
                ) -> tuple[list[Phase], dict[str, Any]]:
    import httpx

    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, limits=limits, timeout=30.0) as client:
        await _wait_ready(client, proc)
        subs = await _subscribe(base.replace("http://", "ws://") + "/v1/stream", key, CLIENTS)
        info: dict[str, Any] = {}
        try:
            state0 = (await client.get("/v1/state")).json()
            mark = float(state0["marks"]["BTCUSDT"])

            async def healthz(_: int) -> int:
                return (await client.get("/healthz")).status_code

            async def what_if(i: int) -> int:
                body = {"order_id": f"w-{i}", "symbol": "BTCUSDT", "side": "long" if i % 2 else "short",
                        "qty": "0.01", "price": str(round(mark))}
                return (await client.post(f"/v1/accounts/{ACCOUNT}/what-if", json=body)).status_code

            async def price(i: int) -> int:  # small moves around the mark: no liquidation cascade
                body = {"symbol": "BTCUSDT", "price": str(round(mark) + (i % 5 - 2) * 10), "source": SOURCE}
                return (await client.post("/v1/prices", json=body)).status_code

            await _drive("warm-up", 50, limit_s, healthz)
            phases = [await _drive("healthz", count, limit_s, healthz),
                      await _drive("what_if", count, limit_s, what_if),
                      await _drive("price", count, limit_s, price)]
            state = (await client.get("/v1/state")).json()
            head = int(state["event_seq"])
            drain_started = time.perf_counter()
            while min(subs.last_seq) < head and time.perf_counter() - drain_started < limit_s:
                await asyncio.sleep(0.02)
            metrics = (await client.get("/metrics")).text
            info.update(
                head=head, journal_length=int(state["journal_length"]), journal_head=state["journal_head"],
                caught_up=sum(s >= head for s in subs.last_seq),
                events_min=min(subs.received), events_max=max(subs.received),
                commits=_metric(metrics, "solvent_journal_commits_total"),
                committed=_metric(metrics, "solvent_journal_commands_committed_total"),
                drain_ms=(time.perf_counter() - drain_started) * 1000,
            )
        finally:
            for task in subs.tasks:
                task.cancel()
            await asyncio.gather(*subs.tasks, return_exceptions=True)
    return phases, info


@benchmark("service", needs=("service",))
def service_benchmarks(quick: bool) -> list[BenchResult]:
    from solvent.journal import open_journal, verify
    from solvent.service.keys import KeyStore, Role

    count, limit_s = (400, 15.0) if quick else (4_000, 60.0)
    key = KeyStore().issue(Role.OPERATOR)
    with tempfile.TemporaryDirectory(prefix="solvent-bench-service-") as tmp:
        journal = Path(tmp) / "journal.sqlite"
        port = _free_port()
        proc = _start_server(port, journal, key)
        try:
            phases, info = asyncio.run(_load(f"http://127.0.0.1:{port}", key, proc, count, limit_s))
        finally:
            exit_code = _stop_server(proc)
        backend = open_journal(str(journal))
        try:
            report = verify(backend)
        finally:
            backend.close()
    base, checks, prices = phases
    batch = info["committed"] / info["commits"] if info["commits"] else float("nan")
    stream = (f"{CLIENTS} WebSocket clients each got {info['events_min']}–{info['events_max']} events, "
              f"{info['caught_up']}/{CLIENTS} caught up with event seq {info['head']}")
    journal_note = (f"journal {'verified' if report.ok and report.head_hash == info['journal_head'] else 'BAD'}: "
                    f"{report.records} records after shutdown (exit {exit_code}); "
                    f"{info['commits']:.0f} group commits carried {info['committed']:.0f} commands "
                    f"(mean batch {batch:.2f})")
    common = f"loopback, {CONCURRENCY} requests in flight, {CLIENTS} stream clients"
    out: list[BenchResult] = []
    for phase, what in ((base, "GET /healthz"), (checks, f"what-if pre-trade check on {ACCOUNT}"),
                        (prices, "operator price update, journaled (SQLite, fsync) + fanned out")):
        n = f"{len(phase.latencies_s)} ok, {phase.errors} errors in {phase.wall_s:.2f} s"
        median_ms = statistics.median(phase.latencies_s) * 1000 if phase.latencies_s else float("nan")
        extra = {"healthz": common, "what_if": common, "price": f"{common}; {stream}; {journal_note}"}[phase.name]
        out += [
            result(f"service.{phase.name}.p50", phase.pct(0.50), "ms", "GET /healthz p50", base.pct(0.50),
                   f"{what}; {n}; {extra}"),
            result(f"service.{phase.name}.p99", phase.pct(0.99), "ms", "GET /healthz p99", base.pct(0.99),
                   f"{what}; p99 of {len(phase.latencies_s)}"),
            result(f"service.{phase.name}.rate", phase.rate, "req/s", "GET /healthz req/s", base.rate,
                   f"{what}; median latency {median_ms:.2f} ms"),
        ]
    return out
