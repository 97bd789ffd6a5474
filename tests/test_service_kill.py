"""The service under SIGKILL (issue "Service at venue throughput", item 6).

The real ``solvent serve`` process runs on a SQLite or PostgreSQL journal under a bounded
concurrent load of deposits, orders, fills and prices (every request with its own
``Idempotency-Key``), with a stream client following the venue. It is killed with SIGKILL at
a random moment, ten times per backend, and restarted on the same journal. After every
restart:

* every acknowledged command is in the journal exactly once: sent again with its key, each
  answers the ``command_seq`` it was acknowledged with, and the journal does not grow;
* a command sent but never answered is there at most once: sent again with its key, it
  either answers its first ``command_seq`` (it was durable) or is applied now;
* no event the stream delivered was lost (the restarted log's head is at or past it), and
  the stream resumes from the last seq seen + 1 with exactly that seq;
* finally, stopped cleanly, ``solvent verify`` replays the whole journal from genesis to the
  state hash the service last reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from test_journal_common import BACKENDS, BackendFactory, backend_factory

from solvent.service import KeyStore, Role

httpx = pytest.importorskip("httpx", reason="the kill test drives the server over HTTP (pip install '.[service]')")
websockets = pytest.importorskip("websockets", reason="the kill test follows the stream (pip install '.[service]')")

KILLS = 10
CLIENTS = 6
ACCOUNTS = [f"k{i}" for i in range(8)]


@pytest.fixture(params=BACKENDS)
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendFactory]:
    yield from backend_factory(request.param, tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    journal: BackendFactory
    key: str
    cwd: Path
    """Where serve runs (its head file for PostgreSQL goes under ``solvent-data/`` there)."""
    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "SOLVENT_OPERATOR_KEY": self.key}
        env.pop("SOLVENT_KEYS_FILE", None)
        code = "import sys; from solvent.cli import entry_point; sys.argv[0] = 'solvent'; entry_point()"
        argv = [sys.executable, "-c", code, "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--journal", self.journal.target, "--schema", self.journal.schema, "--rate", "1000000"]
        log = self.cwd / "serve.log"
        with log.open("ab") as err:
            self.proc = subprocess.Popen(argv, env=env, cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise AssertionError("serve did not become ready")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        assert self.proc.wait(30) == 0


@dataclass
class Sent:
    key: str
    path: str
    body: dict[str, Any]
    command_seq: int | None = None
    """Set once the server acknowledged it (200)."""


class Load:
    """Concurrent clients sending keyed commands until cancelled; a stream client alongside."""

    def __init__(self, server: Server, cycle: int, rng: random.Random, prices: dict[str, int]) -> None:
        self.server, self.cycle, self.rng, self.prices = server, cycle, rng, prices
        self.sent: list[Sent] = []
        self.last_seen = 0
        self.count = 0

    def _next(self) -> Sent:
        self.count += 1
        n, rng = self.count, self.rng
        key = f"c{self.cycle}-{n}"
        roll = rng.random()
        account = rng.choice(ACCOUNTS)
        if roll < 0.3:
            return Sent(key, f"/v1/accounts/{account}/deposits", {"amount": str(rng.randint(1, 500))})
        if roll < 0.55:
            self.prices["BTCUSDT"] += rng.randint(-300, 300)
            return Sent(key, "/v1/prices", {"symbol": "BTCUSDT", "price": str(self.prices["BTCUSDT"])})
        if roll < 0.8:
            buyer, seller = rng.sample(ACCOUNTS, 2)
            return Sent(key, "/v1/fills", {"trade_id": key, "symbol": "BTCUSDT", "price": str(self.prices["BTCUSDT"]),
                                           "qty": "0.001", "buyer_id": buyer, "seller_id": seller})
        return Sent(key, f"/v1/accounts/{account}/orders",
                    {"order_id": key, "symbol": "BTCUSDT", "side": rng.choice(["long", "short"]), "qty": "0.001",
                     "price": str(self.prices["BTCUSDT"])})

    async def client(self, http: Any) -> None:
        while True:
            sent = self._next()
            self.sent.append(sent)
            r = await http.post(sent.path, json=sent.body, headers={"Idempotency-Key": sent.key})
            if r.status_code == 200:
                sent.command_seq = r.json()["command_seq"]

    async def follow(self, from_seq: int) -> None:
        url = f"ws://127.0.0.1:{self.server.port}/v1/stream?from_seq={from_seq}"
        async with websockets.connect(url, additional_headers={"X-API-Key": self.server.key}) as ws:
            async for raw in ws:
                msg = json.loads(raw)
                if msg["type"] == "event":
                    assert msg["seq"] == self.last_seen + 1, (msg["seq"], self.last_seen)  # gapless, in order
                    self.last_seen = msg["seq"]

    async def run_until_killed(self, seconds: float) -> None:
        headers = {"X-API-Key": self.server.key}
        async with httpx.AsyncClient(base_url=self.server.url, headers=headers, timeout=10) as http:
            tasks = [asyncio.create_task(self.client(http)) for _ in range(CLIENTS)]
            tasks.append(asyncio.create_task(self.follow(self.last_seen + 1)))
            await asyncio.sleep(seconds)
            self.server.kill()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError, OSError,
                                         websockets.ConnectionClosed):
                    await task


def _state(server: Server) -> dict[str, Any]:
    r = httpx.get(f"{server.url}/v1/state", headers={"X-API-Key": server.key}, timeout=10)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _first_event_from(server: Server, from_seq: int) -> tuple[int, int | None]:
    """The restarted log's head, and the seq of the first event the stream sends from ``from_seq``."""
    async def read() -> tuple[int, int | None]:
        url = f"ws://127.0.0.1:{server.port}/v1/stream?from_seq={from_seq}"
        async with websockets.connect(url, additional_headers={"X-API-Key": server.key}) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if hello["head_seq"] < from_seq:
                return hello["head_seq"], None
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            return hello["head_seq"], first["seq"]
    return asyncio.run(read())


def test_sigkill_under_load_loses_no_acknowledged_command_and_applies_none_twice(journal: BackendFactory,
                                                                                  tmp_path: Path) -> None:
    rng = random.Random(2026)
    server = Server(journal, KeyStore().issue(Role.OPERATOR), tmp_path)
    server.start()
    opening = [("/v1/prices", {"symbol": "BTCUSDT", "price": "60000"})]
    opening += [(f"/v1/accounts/{a}/deposits", {"amount": "100000"}) for a in ACCOUNTS]
    for path, body in opening:
        assert httpx.post(f"{server.url}{path}", json=body, headers={"X-API-Key": server.key}).status_code == 200
    prices = {"BTCUSDT": 60_000}
    last_seen = 0
    acknowledged = 0
    for cycle in range(KILLS):
        load = Load(server, cycle, rng, prices)
        load.last_seen = last_seen
        asyncio.run(load.run_until_killed(rng.uniform(0.3, 1.2)))
        server.start()  # recovery on the same journal
        before = _state(server)
        acked = [s for s in load.sent if s.command_seq is not None]
        acknowledged += len(acked)
        with httpx.Client(base_url=server.url, headers={"X-API-Key": server.key}, timeout=10) as http:
            for s in acked:  # durable, exactly once: the retry answers the first seq
                r = http.post(s.path, json=s.body, headers={"Idempotency-Key": s.key})
                assert r.status_code == 200 and r.json()["command_seq"] == s.command_seq, (s, r.text)
            assert _state(server)["journal_length"] == before["journal_length"]  # nothing applied again
            for s in load.sent:  # in flight at the kill: there at most once (answered again, or applied now)
                if s.command_seq is None:
                    r = http.post(s.path, json=s.body, headers={"Idempotency-Key": s.key})
                    if r.status_code == 200:
                        again = http.post(s.path, json=s.body, headers={"Idempotency-Key": s.key})
                        assert again.json()["command_seq"] == r.json()["command_seq"]
        head, first = _first_event_from(server, load.last_seen + 1)
        assert head >= load.last_seen, "the stream delivered an event the journal lost"
        assert first is None or first == load.last_seen + 1
        last_seen = _state(server)["event_seq"]
    assert acknowledged > 10 * KILLS, "the load was too light to test anything"
    final = _state(server)
    server.stop()
    env = {k: v for k, v in os.environ.items() if k != "SOLVENT_KEYS_FILE"}
    code = "import sys; from solvent.cli import entry_point; sys.argv[0] = 'solvent'; entry_point()"
    argv = [sys.executable, "-c", code, "verify", journal.target, "--json"]
    if journal.kind == "postgres":
        argv += ["--schema", journal.schema]
    done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["head_seq"] == final["journal_length"]
    assert report["state_hash"] == final["state_hash"]


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_server_writes_every_log_line_before_it_exits(tmp_path: Path, stop_with: signal.Signals) -> None:
    # Review finding: uvicorn re-raises the stopping signal after shutdown, and SIGTERM's default
    # action killed the process before the log writer thread wrote what was queued: the
    # journal's "journal closed" line and the last requests' access lines were lost.
    factory = next(backend_factory("sqlite", tmp_path))
    server = Server(factory, KeyStore().issue(Role.OPERATOR), tmp_path)
    server.start()
    assert server.proc is not None
    for i in range(200):
        r = httpx.post(f"{server.url}/v1/accounts/a/deposits", json={"amount": "1"},
                       headers={"X-API-Key": server.key, "Idempotency-Key": f"d{i}"}, timeout=10)
        assert r.status_code == 200
    server.proc.send_signal(stop_with)
    code = server.proc.wait(30)
    assert code in (0, 128 + stop_with)  # SIGINT ends cleanly; SIGTERM keeps its conventional status
    lines = [json.loads(line) for line in (tmp_path / "serve.log").read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["msg"] == "request" and line["route"].endswith("/deposits")]
    assert len(requests) == 200
    closed = [line for line in lines if line["msg"] == "journal closed"]
    assert len(closed) == 1 and closed[0]["journal_seq"] >= 200
