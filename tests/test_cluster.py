"""The cluster (``solvent/cluster``): replicas following one command log on NATS JetStream.

The property under test is the issue's: the cluster's result equals one process's. Every
replica's state hash after the log is compared with the hash of one ``Engine`` fed the same
commands directly (no log, no journal), on a stream with liquidations, ADL, refusals and a
mixed book; after a replica is SIGKILLed mid-stream and restarted; and a check asked at a
stream position answers from a state that includes it.

NATS with JetStream must answer at ``SOLVENT_NATS_URL`` (default ``nats://127.0.0.1:4222``);
without it these tests skip with the reason, except in CI (``SOLVENT_REQUIRE_SERVICES=1``)
where that is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from solvent.cluster.log import (
    ClusterError,
    decode_message,
    encode_command_message,
    encode_genesis,
    ensure_stream,
    publish,
    venue_log,
)
from solvent.cluster.replica import Replica, follow, serve_checks
from solvent.engine import (
    AdvanceTime,
    ChangeParams,
    Command,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    FundInsurance,
    PlaceOrder,
    PriceUpdate,
    Withdraw,
)
from solvent.engine.liquidation import LiquidationPolicy
from solvent.engine.liquidity import BookDepth
from solvent.errors import InvalidInput
from solvent.journal.sqlite_backend import SqliteBackend
from solvent.model import Side
from solvent.risk.venues import load_venue

NATS_URL = os.environ.get("SOLVENT_NATS_URL", "nats://127.0.0.1:4222")
D = Decimal
BTC, ETH = "BTCUSDT", "ETHUSDT"
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _config() -> EngineConfig:
    book = BookDepth(bids={BTC: [(D(56500), D(10))]}, asks={ETH: [(D(3010), D(100))]})
    return EngineConfig(load_venue("binance-usdm"), liquidation=LiquidationPolicy(liquidity=book))


def _commands(accounts: int = 40) -> list[Command]:
    """A liquidation with ADL (alice, as in test_adl_cross_market), refused commands (a
    withdrawal beyond the balance, an unknown account's order), then a mixed book of
    ``accounts`` traders with fills, resting orders and price moves both ways."""
    cmds: list[Command] = [
        AdvanceTime(1_000), Deposit("book", "USDT", D(10) ** 9), Deposit("bob", "USDT", D(100_000)),
        Deposit("carol", "USDT", D(10_000)), Deposit("alice", "USDT", D(12_900)),
        PriceUpdate(BTC, "s", D(60000)), PriceUpdate(ETH, "s", D(3000)),
        Fill("t1", BTC, D(60000), D(4), "alice", "bob"), Fill("t2", ETH, D(3000), D(10), "carol", "alice"),
        Withdraw("carol", "USDT", D(10) ** 7),  # refused: more than carol holds
        PlaceOrder("nobody", "x", BTC, Side.LONG, D(1), D(60000)),  # refused: unknown account
        AdvanceTime(2_000), PriceUpdate(BTC, "s", D(56000)),  # alice liquidated, bob deleveraged
        FundInsurance(D(50_000)),
    ]
    for a in range(accounts):
        aid = f"t{a:03d}"
        cmds.append(Deposit(aid, "USDT", D(2_000 + 37 * a)))
        side = Side.LONG if a % 2 else Side.SHORT
        buyer, seller = (aid, "bob") if side is Side.LONG else ("bob", aid)
        cmds.append(Fill(f"f{a}", BTC, D(56000), D("0.01") * (1 + a % 7), buyer, seller))
        cmds.append(PlaceOrder(aid, f"o{a}", BTC, side, D("0.001") * (1 + a % 5), D(56000 + (a % 9 - 4) * 10)))
    for k, price in enumerate((55_000, 57_500, 52_000, 58_000, 49_000)):
        cmds += [AdvanceTime(3_000 + k * 1_000), PriceUpdate(BTC, "s", D(price))]
    return cmds


def _single_engine_hash(cmds: list[Command]) -> tuple[str, int]:
    """The state hash of one engine fed ``cmds`` directly, and how many it accepted."""
    engine = Engine(_config())
    accepted = sum(engine.apply(cmd).accepted for cmd in cmds)
    return engine.state_hash(), accepted


def _require_nats() -> None:
    try:
        import nats

        async def ping() -> None:
            client = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False)
            try:
                await client.jetstream().account_info()
            finally:
                await client.close()

        asyncio.run(ping())
    except Exception as exc:
        reason = f"NATS with JetStream not reachable at {NATS_URL}: {type(exc).__name__}: {exc}"
        if os.environ.get("SOLVENT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason} (SOLVENT_REQUIRE_SERVICES=1: NATS is required)")
        pytest.skip(reason)


@pytest.fixture
def venue() -> Iterator[str]:
    """A fresh venue name; its stream is deleted afterwards."""
    _require_nats()
    name = f"t{uuid.uuid4().hex[:12]}"
    yield name

    async def drop() -> None:
        import nats

        client = await nats.connect(NATS_URL)
        try:
            await client.jetstream().delete_stream(venue_log(name).stream)
        except Exception:
            pass
        finally:
            await client.close()

    asyncio.run(drop())


async def _publish_all(name: str, cmds: list[Command], genesis: bool = True) -> int:
    import nats

    log = venue_log(name)
    client = await nats.connect(NATS_URL)
    try:
        js = client.jetstream()
        await ensure_stream(js, log)
        last = 0
        if genesis:
            last = await publish(js, log, encode_genesis(_config()), "genesis")
        for k, cmd in enumerate(cmds):
            last = await publish(js, log, encode_command_message(cmd), f"{name}:{k}:{uuid.uuid4().hex}")
        return last
    finally:
        await client.close()


def _replica_process(name: str, journal: Path, stop_at: int | None) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "solvent.cli", "cluster", "replica", "--nats", NATS_URL, "--venue", name,
            "--journal", str(journal), "--json"]
    if stop_at is not None:
        args += ["--stop-at", str(stop_at)]
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


# --- the log's messages (no server needed) -----------------------------------------------------


def test_messages_round_trip_and_bad_bytes_are_refused() -> None:
    cmd = Fill("t1", BTC, D("60000.5"), D("0.010"), "a", "b")
    assert decode_message(encode_command_message(cmd)).command == cmd
    assert decode_message(encode_genesis(_config())).config == _config()
    for bad in (b"", b"[]", b'{"kind":"command"}', b'{"input":{"type":"Nope"},"kind":"command"}',
                b'{"kind": "genesis", "config": {}}', b'{"config":{},"kind":"genesis","x":1}'):
        with pytest.raises(ClusterError):
            decode_message(bad)
    with pytest.raises(InvalidInput, match="parameter change"):
        encode_command_message(ChangeParams(_config()))


@pytest.mark.parametrize("name", ["", "a b", "x" * 65, "a.b", "a*"])
def test_venue_names_that_would_break_a_subject_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="venue name"):
        venue_log(name)


def test_a_gap_in_the_stream_is_refused(tmp_path: Path) -> None:
    replica = Replica(SqliteBackend(tmp_path / "r.sqlite"), venue_log("gap"))
    replica.apply(1, encode_genesis(_config()))
    with pytest.raises(ClusterError, match="message 3 arrived after 1"):
        replica.apply(3, encode_command_message(Deposit("a", "USDT", D(1))))
    with pytest.raises(ClusterError, match="second genesis"):
        replica.apply(2, encode_genesis(_config()))


def test_a_restarted_replica_resumes_after_its_last_journaled_message(tmp_path: Path) -> None:
    """Messages applied but not committed when the process dies are lost with it; the new
    replica starts after the newest command its journal holds and reaches the single engine."""
    cmds = _commands(accounts=30)
    expected, _ = _single_engine_hash(cmds)
    engine = Engine(_config())
    accepted_at = [seq for seq, cmd in enumerate(cmds, start=2) if engine.apply(cmd).accepted]
    messages = [encode_genesis(_config())] + [encode_command_message(cmd) for cmd in cmds]
    log, path = venue_log("restart"), tmp_path / "r.sqlite"
    first = Replica(SqliteBackend(path), log, snapshot_every=7)
    for seq in range(1, 12):  # message 11 is carol's refused withdrawal, 12 the refused order
        first.apply(seq, messages[seq - 1])
    first.commit()
    for seq in range(12, 40):
        first.apply(seq, messages[seq - 1])  # never committed: the crash takes them
    first.backend.close()
    again = Replica(SqliteBackend(path), log, snapshot_every=7)
    assert again.position == max(s for s in accepted_at if s <= 11) == 10
    for seq in range(again.position + 1, len(messages) + 1):
        again.apply(seq, messages[seq - 1])
    again.commit()
    assert again.state_hash() == expected


# --- against a NATS server ---------------------------------------------------------------------


def test_replicas_reach_the_single_engine_state(venue: str, tmp_path: Path) -> None:
    cmds = _commands()
    expected, accepted = _single_engine_hash(cmds)
    last = asyncio.run(_publish_all(venue, cmds))
    assert last == len(cmds) + 1
    results = [_finish(p) for p in [_replica_process(venue, tmp_path / f"r{k}.sqlite", last) for k in range(2)]]
    for r in results:
        assert r["position"] == last
        assert r["state_hash"] == expected
        assert r["journal_seq"] >= accepted  # every accepted command journaled (plus checkpoint records)


def test_a_retried_publish_is_stored_once(venue: str) -> None:
    async def run() -> tuple[int, int, int]:
        import nats

        log = venue_log(venue)
        client = await nats.connect(NATS_URL)
        try:
            js = client.jetstream()
            await ensure_stream(js, log)
            payload = encode_command_message(Deposit("a", "USDT", D(5)))
            first = await publish(js, log, payload, "client-7:req-1")
            again = await publish(js, log, payload, "client-7:req-1")
            info = await js.stream_info(log.stream)
            return first, again, int(info.state.messages)
        finally:
            await client.close()

    first, again, stored = asyncio.run(run())
    assert (first, again, stored) == (1, 1, 1)


def test_a_replica_killed_mid_stream_resumes_exactly(venue: str, tmp_path: Path) -> None:
    """SIGKILL while it applies; restarted, it applies each remaining command once."""
    cmds = _commands(accounts=1_500)
    expected, accepted = _single_engine_hash(cmds)
    asyncio.run(_publish_all(venue, cmds))
    journal = tmp_path / "r.sqlite"
    proc = _replica_process(venue, journal, None)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until it has journaled part of the stream
        time.sleep(0.01)
        if journal.exists() and _journaled(journal) > 10:
            break
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert 0 < _commands_journaled(journal) < accepted  # killed mid-stream
    result = _finish(_replica_process(venue, journal, len(cmds) + 1))
    assert result["state_hash"] == expected
    assert _commands_journaled(journal) == accepted


def _journaled(path: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM records").fetchone()[0])
    except sqlite3.Error:
        return 0


def _commands_journaled(path: Path) -> int:
    """Command records in the replica's journal, each with its own stream sequence (no repeats)."""
    import sqlite3

    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = [json.loads(p) for (p,) in db.execute("SELECT payload FROM records ORDER BY seq")]
    keys = [r["request"]["key"] for r in rows if r.get("kind") == "command"]
    assert len(keys) == len(set(keys)), "a stream message was journaled twice"
    assert [int(k) for k in keys] == sorted(int(k) for k in keys)
    return len(keys)


def test_a_check_reads_at_or_after_the_position_it_names(venue: str, tmp_path: Path) -> None:
    """A deposit's stream sequence, named in a check, is in the state the check reads."""

    async def run() -> tuple[int, dict[str, Any], dict[str, Any], str]:
        import nats

        log = venue_log(venue)
        client = await nats.connect(NATS_URL)
        replica = Replica(SqliteBackend(tmp_path / "r.sqlite"), log)
        try:
            js = client.jetstream()
            await ensure_stream(js, log)
            await publish(js, log, encode_genesis(_config()), "g")
            for k, cmd in enumerate(_commands(accounts=0)):
                await publish(js, log, encode_command_message(cmd), f"c{k}")
            await serve_checks(replica, client)
            task = asyncio.create_task(follow(replica, client))
            order = {"account_id": "dave", "order_id": "d1", "position_side": "both", "price": "49000",
                     "qty": "0.1", "reduce_only": False, "side": "long", "symbol": BTC, "type": "PlaceOrder"}

            async def ask(min_seq: int) -> dict[str, Any]:
                body = json.dumps({"input": order, "min_seq": min_seq}, sort_keys=True, separators=(",", ":"))
                reply = await client.request(log.check_subject, body.encode(), timeout=10)
                answer: dict[str, Any] = json.loads(reply.data)
                return answer

            seq = await publish(js, log, encode_command_message(Deposit("dave", "USDT", D(1_000))), "dave")
            after = await ask(seq)
            bad = await ask(10**9)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            before = await _check_before(replica, order)
            return seq, after, bad, before
        finally:
            await client.close()

    seq, after, bad, before = asyncio.run(run())
    assert after["accepted"] is True and after["seq"] >= seq
    assert "behind" in bad["error"]
    assert before == "UNKNOWN_ACCOUNT"


async def _check_before(replica: Replica, order: dict[str, Any]) -> str:
    """The same order against a fresh engine at the stream before dave's deposit: refused."""
    engine = Engine(_config())
    for cmd in _commands(accounts=0):
        engine.apply(cmd)
    from solvent.journal.codec import decode_command

    result = engine.check(decode_command(order))
    assert result.denial is not None
    return str(result.denial.code.value)


def test_cluster_run_restarts_a_killed_replica_and_stops_them_all(venue: str, tmp_path: Path) -> None:
    import queue
    import threading

    cmds = _commands(accounts=60)
    _, accepted = _single_engine_hash(cmds)
    env = {**os.environ, "PYTHONPATH": SRC}
    sup = subprocess.Popen([sys.executable, "-m", "solvent.cli", "cluster", "run", "--nats", NATS_URL, "--venue",
                            venue, "--replicas", "2", "--dir", str(tmp_path)],
                           stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    assert sup.stderr is not None
    reader = threading.Thread(target=lambda: [lines.put(line) for line in sup.stderr or ()], daemon=True)
    reader.start()

    def pid_line() -> int:
        return int(lines.get(timeout=30).split("pid ")[1].split(",")[0])

    try:
        pids = [pid_line(), pid_line()]
        asyncio.run(_publish_all(venue, cmds))
        journals = [tmp_path / "replica-1.sqlite", tmp_path / "replica-2.sqlite"]
        _wait_for(lambda: all(j.exists() and _journaled(j) > 5 for j in journals))
        os.kill(pids[0], signal.SIGKILL)
        assert "replica 1 stopped (exit -9); restarting" in lines.get(timeout=30)
        restarted = pid_line()
        assert restarted not in pids
        _wait_for(lambda: all(_commands_journaled(j) == accepted for j in journals))
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(timeout=20) == 0
        for pid in (pids[1], restarted):  # both replicas stopped with it
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        if sup.poll() is None:
            sup.kill()
            sup.wait()
        reader.join(timeout=10)  # at the pipe's end once the supervisor and its replicas are gone
        sup.stderr.close()


def _wait_for(ready: Any, seconds: float = 60) -> None:
    import sqlite3

    deadline = time.monotonic() + seconds
    while True:
        try:
            if ready():
                return
        except sqlite3.Error:  # a journal being written: look again
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
