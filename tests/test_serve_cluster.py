"""``solvent serve --cluster`` (``cluster/serve.py``): service processes as followers of the venue's log.

The property under test is the one the single service has, carried over to several servers:
each answer is one engine's answer to that command, at its place in the log. The expected
answers come from one ``Engine`` fed the same commands directly (no log, no journal, no
service), and the expected state from it or from a plain replica of the same stream.

NATS with JetStream must answer (``test_cluster.py``'s ``venue`` fixture: skipped without it,
except in CI where that fails).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from test_cluster import NATS_URL, SRC, _commands, _config, _publish_all, venue

from solvent.cluster.log import stream_last, venue_log
from solvent.cluster.replica import Replica, follow
from solvent.cluster.serve import LogSequencer, catch_up
from solvent.engine import Deposit, Engine, Withdraw, event_to_json
from solvent.engine.events import Accepted, Rejected
from solvent.journal import MemoryBackend
from solvent.journal.codec import RequestKey
from solvent.service.errors import ApiError, IdempotencyKeyReused, VenueUnavailable
from solvent.service.venue import Venue

__all__ = ["venue"]  # the fixture, imported for the tests below
D = Decimal

Server = tuple[Venue, LogSequencer, "asyncio.Task[None]"]


async def _connect() -> Any:
    import nats

    return await nats.connect(NATS_URL)


async def _server(name: str, *, remember: int = 100_000, connect: Callable[[], Awaitable[Any]] = _connect,
                  backend: Any = None) -> Server:
    """What ``solvent serve --cluster`` runs, in process: caught up, then following the log
    (its journal in memory, or on ``backend``)."""
    replica = Replica(MemoryBackend() if backend is None else backend, venue_log(name))
    client = await _connect()
    try:
        await catch_up(replica, client)
    finally:
        await client.close()
    assert replica.engine is not None
    venue_ = Venue.open(replica.engine, follows_log=True)
    sequencer = LogSequencer(venue_, replica, remember=remember)
    venue_.sequencer = sequencer
    return venue_, sequencer, asyncio.create_task(sequencer.run(connect))


async def _stop(*servers: Server) -> None:
    for venue_, _, task in servers:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await venue_.close()


def _bodies(result: Any) -> list[dict[str, Any]]:
    return [event_to_json(e) for e in result.events if not isinstance(e, Accepted | Rejected)]


def test_each_answer_is_one_engine_s_answer_whichever_server_took_it(venue: str) -> None:
    cmds = _commands(12)
    single = Engine(_config())
    expected = [single.apply(cmd) for cmd in cmds]

    async def run() -> tuple[list[Any], list[str]]:
        await _publish_all(venue, [])  # the genesis only: `solvent cluster init`
        a, b = await _server(venue), await _server(venue)
        try:
            answers = [await (a if k % 2 else b)[0].submit(cmd) for k, cmd in enumerate(cmds)]
            last = max(s.journal_seq for s in answers)
            await a[0].at_least(last, wait_s=60)  # BEHIND, naming where each stands, if one never gets there
            await b[0].at_least(last, wait_s=60)
            return answers, [a[0].state_hash(), b[0].state_hash()]
        finally:
            await _stop(a, b)

    answers, hashes = asyncio.run(run())
    for cmd, got, want in zip(cmds, answers, expected, strict=True):
        assert got.result.accepted == want.accepted, cmd
        assert [e.body for e in got.events] == _bodies(want), cmd
        if not want.accepted:
            assert got.command_seq is None and got.result.denial == want.denial
    assert hashes == [single.state_hash()] * 2


def test_concurrent_writes_on_two_servers_end_in_the_state_of_the_log(venue: str) -> None:
    async def run() -> tuple[list[str], str, float]:
        await _publish_all(venue, [])
        a, b = await _server(venue), await _server(venue)
        try:
            deposits = [(a if k % 2 else b)[0].submit(Deposit(f"acct{k % 7}", "USDT", D(10 + k))) for k in range(60)]
            withdrawals = [(b if k % 2 else a)[0].submit(Withdraw(f"acct{k % 7}", "USDT", D(15))) for k in range(30)]
            done = await asyncio.gather(*deposits, *withdrawals)
            last = max(s.journal_seq for s in done)
            await a[0].at_least(last)
            await b[0].at_least(last)
            reference = Replica(MemoryBackend(), venue_log(venue))  # a plain replica of the same log
            client = await _connect()
            try:
                end = await stream_last(client.jetstream(), venue_log(venue))
                assert end is not None
                await follow(reference, client, stop_at=end)  # every message: the last ones may be refusals
            finally:
                await client.close()
            balance = a[0].engine.state.accounts["acct0"].balances["USDT"]
            return [a[0].state_hash(), b[0].state_hash()], reference.state_hash(), float(balance)
        finally:
            await _stop(a, b)

    hashes, reference, balance = asyncio.run(run())
    assert hashes == [reference, reference]
    # acct0 took deposits k = 0, 7, …, 56 (10 + k each: 9 × 10 + 252 = 342) and withdrawals of 15
    # for k = 0, 7, 14, 21, 28 while its balance allowed: whatever the log's order, each is
    # applied once, so the balance is 342 − 15 × (withdrawals taken), one of 342 − 15·w, w ≤ 5
    assert any(balance == 342 - 15 * w for w in range(6))


def test_a_retry_is_answered_once_on_any_server_and_a_reused_key_is_refused(venue: str) -> None:
    async def run() -> None:
        await _publish_all(venue, [Deposit("alice", "USDT", D(1_000))])
        a, b = await _server(venue, remember=3), await _server(venue)
        try:
            key = RequestKey("caller1", "k-1")
            first = await a[0].submit(Withdraw("alice", "USDT", D(10)), key)
            again = await b[0].submit(Withdraw("alice", "USDT", D(10)), key)  # the client retried elsewhere
            assert first.command_seq == again.command_seq == 2
            assert [e.body for e in again.events] == [e.body for e in first.events]
            with pytest.raises(IdempotencyKeyReused):
                await b[0].submit(Withdraw("alice", "USDT", D(11)), key)
            other = await b[0].submit(Withdraw("alice", "USDT", D(10)), RequestKey("caller2", "k-1"))  # another caller
            assert other.command_seq == 3
            for k in range(4):  # server a keeps the answers of its 3 newest messages only
                await a[0].submit(Deposit(f"x{k}", "USDT", D(1)))
            with pytest.raises(ApiError) as gone:
                await a[0].submit(Withdraw("alice", "USDT", D(10)), key)
            assert (gone.value.status, gone.value.code) == (409, "ANSWER_NOT_KEPT")
            with pytest.raises(IdempotencyKeyReused):  # another request under the key: told so, from the log's bytes
                await a[0].submit(Withdraw("alice", "USDT", D(12)), key)
            assert a[0].engine.state.accounts["alice"].balances["USDT"] == 980  # 1,000 − 10 − 10: each once
        finally:
            await _stop(a, b)

    asyncio.run(run())


def test_a_refused_request_frees_its_key_on_every_server_as_on_one_service(venue: str) -> None:
    async def run() -> None:
        await _publish_all(venue, [Deposit("alice", "USDT", D(100))])
        a, b = await _server(venue), await _server(venue)
        try:
            key = RequestKey("caller1", "w-1")
            refused = await a[0].submit(Withdraw("alice", "USDT", D(150)), key)  # alice holds 100
            assert refused.command_seq is None and not refused.result.accepted
            again = await b[0].submit(Withdraw("alice", "USDT", D(150)), key)  # judged again: refused again
            assert again.command_seq is None
            await a[0].submit(Deposit("alice", "USDT", D(100)))
            taken = await b[0].submit(Withdraw("alice", "USDT", D(150)), key)  # judged again: now it passes
            assert taken.command_seq == 3 and taken.result.accepted  # after the deposits, records 1 and 2
            retried = await a[0].submit(Withdraw("alice", "USDT", D(150)), key)  # and from then on it is answered
            assert retried.command_seq == 3
            with pytest.raises(IdempotencyKeyReused):
                await a[0].submit(Withdraw("alice", "USDT", D(1)), key)
            await a[0].at_least(3)
            assert a[0].engine.state.accounts["alice"].balances["USDT"] == 50  # 100 + 100 − 150, once
        finally:
            await _stop(a, b)

    asyncio.run(run())


def test_a_server_behind_the_log_looks_for_an_account_again_once_caught_up(venue: str) -> None:
    async def run() -> list[bool]:
        await _publish_all(venue, [])
        b = await _server(venue)
        try:
            known = []
            for k in range(5):  # published past the server (as another server would), then asked of it at once
                await _publish_all(venue, [Deposit(f"new{k}", "USDT", D(1))], genesis=False)
                known.append(await b[0].account_known(f"new{k}"))
            known.append(await b[0].account_known("never"))
            return known
        finally:
            await _stop(b)

    assert asyncio.run(run()) == [True] * 5 + [False]


def test_a_server_whose_log_is_lost_refuses_reads_and_writes(venue: str) -> None:
    async def unreachable() -> Any:
        raise OSError("connection refused")

    async def run() -> None:
        await _publish_all(venue, [Deposit("alice", "USDT", D(1_000))])
        server = await _server(venue, connect=unreachable)
        try:
            await asyncio.gather(server[2], return_exceptions=True)
            with pytest.raises(VenueUnavailable) as refused:
                await server[0].submit(Deposit("alice", "USDT", D(1)))
            assert refused.value.code == "LOG_LOST" and "connection refused" in refused.value.body()["detail"]
            with pytest.raises(VenueUnavailable):
                _ = server[0].engine
            from solvent.service.app import healthz

            health = await healthz.fn(SimpleNamespace(venue=server[0]))  # the service's venue is all it reads
            assert health.status_code == 503 and health.content == {"status": "log-lost"}
        finally:
            await _stop(server)

    asyncio.run(run())


def test_events_of_every_server_s_commands_reach_each_server_s_stream(venue: str) -> None:
    async def run() -> list[str]:
        await _publish_all(venue, [])
        a, b = await _server(venue), await _server(venue)
        try:
            done = await a[0].submit(Deposit("alice", "USDT", D(5)))
            assert done.command_seq is not None
            await b[0].at_least(done.command_seq)  # durable there, and its events published
            return [str(e.body["account_id"]) for e in b[0].events.since(1)]
        finally:
            await _stop(a, b)

    assert asyncio.run(run()) == ["alice"]


def test_a_read_naming_a_write_s_command_seq_sees_it_on_the_other_server(venue: str) -> None:
    async def run() -> None:
        await _publish_all(venue, [])
        a, b = await _server(venue), await _server(venue)
        try:
            for k in range(20):  # each write read back at once on the other server, naming its record
                done = await a[0].submit(Deposit(f"acct{k}", "USDT", D(1)))
                assert done.command_seq == k + 1
                await b[0].at_least(done.command_seq)
                assert f"acct{k}" in b[0].engine.state.accounts
            with pytest.raises(ApiError) as behind:
                await b[0].at_least(21, wait_s=0.2)  # no record 21 in the log
            assert (behind.value.status, behind.value.code) == (503, "BEHIND")
            assert behind.value.body()["journal_seq"] == 20
        finally:
            await _stop(a, b)

    asyncio.run(run())


# --- the command ---------------------------------------------------------------------------------


def _serve(name: str, journal: Path, port: int) -> subprocess.Popen[bytes]:
    """The server, its output in a file beside its journal (read when it fails to start)."""
    env = {**os.environ, "PYTHONPATH": SRC, "SOLVENT_OPERATOR_KEY": KEY}
    with open(journal.with_suffix(".log"), "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "solvent.cli", "serve", "--cluster", NATS_URL,
                                 "--cluster-venue", name, "--journal", str(journal), "--port", str(port)],
                                stdout=out, stderr=out, env=env)


KEY = "slv_0123456789ab_" + "0123456789abcdef" * 3


def _up(port: int, proc: subprocess.Popen[bytes], journal: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, journal.with_suffix(".log").read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not start")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_serve_processes_on_one_log_answer_alike_and_one_restarts_where_it_stopped(venue: str,
                                                                                       tmp_path: Path) -> None:
    asyncio.run(_publish_all(venue, []))
    ports = [_free_port(), _free_port()]
    procs = [_serve(venue, tmp_path / f"s{k}.sqlite", port) for k, port in enumerate(ports)]
    auth = {"X-API-Key": KEY}
    try:
        for k, (port, proc) in enumerate(zip(ports, procs, strict=True)):
            _up(port, proc, tmp_path / f"s{k}.sqlite")
        base = [f"http://127.0.0.1:{port}" for port in ports]
        r = httpx.post(f"{base[0]}/v1/accounts/alice/deposits", json={"amount": "100"}, headers=auth)
        assert r.status_code == 200 and r.json()["command_seq"] == 1
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait()
        r = httpx.post(f"{base[1]}/v1/accounts/alice/withdrawals", json={"amount": "30"}, headers=auth)
        assert r.status_code == 200
        r = httpx.post(f"{base[1]}/v1/accounts/alice/withdrawals", json={"amount": "500"}, headers=auth)
        assert r.status_code == 422 and r.json()["code"] == "INSUFFICIENT_BALANCE"  # 70 left
        procs[0] = _serve(venue, tmp_path / "s0.sqlite", ports[0])  # its journal holds message 2 only
        _up(ports[0], procs[0], tmp_path / "s0.sqlite")
        seq = {"Solvent-Min-Seq": str(r.json()["journal_seq"])}  # the refusal was judged at record 2
        margins = [httpx.get(f"{b}/v1/accounts/alice/margin", headers={**auth, **seq}).json()["equity"] for b in base]
        states = [httpx.get(f"{b}/v1/state", headers=auth).json() for b in base]
        assert margins == ["70", "70"]
        assert states[0]["state_hash"] == states[1]["state_hash"]
        assert states[0]["journal_head"] == states[1]["journal_head"]
        bad = httpx.get(f"{base[1]}/v1/accounts/alice/margin", headers={**auth, "Solvent-Min-Seq": "2.0"})
        assert bad.status_code == 400 and "Solvent-Min-Seq" in bad.json()["detail"]
        twice = httpx.get(f"{base[1]}/v1/accounts/alice/margin",  # two header lines, as curl sends them
                          headers=[("X-API-Key", KEY), ("Solvent-Min-Seq", "1"), ("Solvent-Min-Seq", "2")])
        assert twice.status_code == 400 and "more than once" in twice.json()["detail"], twice.text
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:  # never left running, whatever happened above
                    proc.kill()
                    proc.wait()


@pytest.mark.parametrize(("extra", "said"), [
    ([], "--cluster and --cluster-venue go together"),
    (["--cluster-venue", "v", "--demo"], "leave out --demo"),
    (["--cluster-venue", "v", "--venue", "okx"], "leave out --venue"),
    (["--cluster-venue", "v", "--init", "--verify-full"], "leave out --init, --verify-full"),
])
def test_cluster_options_that_do_not_fit_are_refused_in_one_line(extra: list[str], said: str) -> None:
    done = subprocess.run([sys.executable, "-m", "solvent.cli", "serve", "--cluster", NATS_URL, *extra],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert done.returncode == 2, done.stderr
    assert said in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_venue_with_no_log_is_refused_in_one_line(venue: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "solvent.cli", "serve", "--cluster", NATS_URL, "--cluster-venue",
                           venue, "--journal", str(tmp_path / "j.sqlite")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert done.returncode == 1, done.stderr
    assert f"solvent cluster init --venue {venue}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_venue_not_begun_leaves_no_journal_and_a_bad_url_names_the_option(venue: str, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    done = subprocess.run([sys.executable, "-m", "solvent.cli", "serve", "--cluster", NATS_URL, "--cluster-venue",
                           venue, "--journal", str(journal)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert done.returncode == 1 and "cluster init" in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing made: the log was looked for first
    bad = subprocess.run([sys.executable, "-m", "solvent.cli", "serve", "--cluster", "http://127.0.0.1:4222",
                          "--cluster-venue", venue, "--journal", str(journal)],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --cluster must be NATS server URLs"), bad.stderr


def _server_journal(name: str, path: Path) -> None:
    """A server's journal of ``name``'s log, caught up (what ``serve --cluster`` leaves)."""
    from solvent.journal.sqlite_backend import SqliteBackend

    async def run() -> None:
        backend = SqliteBackend(path)
        try:
            client = await _connect()
            try:
                await catch_up(Replica(backend, venue_log(name)), client)
            finally:
                await client.close()
        finally:
            backend.close()

    asyncio.run(run())


def test_a_server_s_journal_is_refused_by_a_plain_serve_and_by_another_venue(venue: str, tmp_path: Path) -> None:
    asyncio.run(_publish_all(venue, [Deposit("alice", "USDT", D(5))]))
    other = f"{venue}x"
    asyncio.run(_publish_all(other, [Deposit("bob", "USDT", D(5))]))
    try:
        journal = tmp_path / "s.sqlite"
        _server_journal(venue, journal)
        before = journal.read_bytes()
        env = {**os.environ, "PYTHONPATH": SRC, "SOLVENT_OPERATOR_KEY": KEY}
        plain = subprocess.run([sys.executable, "-m", "solvent.cli", "serve", "--journal", str(journal)],
                               capture_output=True, text=True, env=env, timeout=60)
        assert plain.returncode != 0 and f"a copy of the venue log {venue_log(venue).stream}" in plain.stderr
        assert journal.read_bytes() == before  # no book deposit forked it
        assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite", "s.sqlite.lock"]  # and no head file left
        elsewhere = subprocess.run([sys.executable, "-m", "solvent.cli", "serve", "--cluster", NATS_URL,
                                    "--cluster-venue", other, "--journal", str(journal)],
                                   capture_output=True, text=True, env=env, timeout=60)
        assert elsewhere.returncode == 1
        assert f"this journal follows stream {venue_log(venue).stream}, not {venue_log(other).stream}" in (
            elsewhere.stderr)
    finally:
        async def drop() -> None:
            import nats

            client = await nats.connect(NATS_URL)
            try:
                await client.jetstream().delete_stream(venue_log(other).stream)
            finally:
                await client.close()

        asyncio.run(drop())


def test_a_server_s_event_history_is_read_back_from_its_journal(venue: str, tmp_path: Path) -> None:
    from solvent.journal.sqlite_backend import SqliteBackend
    from solvent.service import KeyStore, build_service
    from solvent.service.event_archive import JournalArchive

    asyncio.run(_publish_all(venue, [Deposit("alice", "USDT", D(5)), Deposit("bob", "USDT", D(6))]))
    journal = tmp_path / "s.sqlite"
    _server_journal(venue, journal)
    replica = Replica(SqliteBackend(journal), venue_log(venue))
    assert replica.engine is not None
    svc = build_service(KeyStore(), journal=replica.engine, follows_log=True, journal_target=str(journal))
    try:
        archive = svc.venue.events.archive
        assert isinstance(archive, JournalArchive)  # older events come back from the journal, as on one service
        assert [e.body["account_id"] for e in svc.venue.events.since(1)] == ["alice", "bob"]
        assert svc.venue.journal_seq == 2  # no book deposit of its own
    finally:
        svc.venue.close_now()


def test_a_longer_duplicate_window_made_at_init_is_the_one_servers_hold_keys_for(venue: str) -> None:
    init = subprocess.run([sys.executable, "-m", "solvent.cli", "cluster", "init", "--nats", NATS_URL, "--venue",
                           venue, "--duplicate-window", "3600", "--json"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert init.returncode == 0, init.stderr

    async def run() -> tuple[float, str]:
        from solvent.cluster.serve import _unacknowledged

        server = await _server(venue)
        try:
            await server[0].submit(Deposit("alice", "USDT", D(1)))  # connected: the window is read
            key = RequestKey("c", "k")
            return server[1].window_s, _unacknowledged(TimeoutError("no answer"), key, server[1].window_s)
        finally:
            await _stop(server)

    window, told = asyncio.run(run())
    assert window == 3600 and "within 1 hour" in told
    again = subprocess.run([sys.executable, "-m", "solvent.cli", "cluster", "init", "--nats", NATS_URL, "--venue",
                            venue, "--duplicate-window", "90000"],
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert again.returncode == 2 and "--duplicate-window" in again.stderr  # above a day: refused when parsed
    short = subprocess.run([sys.executable, "-m", "solvent.cli", "cluster", "init", "--nats", NATS_URL, "--venue",
                            venue, "--duplicate-window", "30"],
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert short.returncode == 2 and "--duplicate-window" in short.stderr  # under twice the publish patience


async def _begin_with_a_one_second_window(name: str) -> None:
    """``name``'s stream with JetStream's duplicate window at one second, and its genesis (what
    ``cluster init`` does, below the minimum it allows, so a test can wait the window out)."""
    from solvent.cluster.log import encode_genesis, ensure_stream, publish

    client = await _connect()
    try:
        js = client.jetstream()
        await ensure_stream(js, venue_log(name), duplicate_window_s=1.0)
        await publish(js, venue_log(name), encode_genesis(_config()), "genesis")
    finally:
        await client.close()


def test_a_key_holds_past_the_log_s_window_and_across_a_restart_from_the_journal(venue: str, tmp_path: Path) -> None:
    """The stream remembers a message id for one second here; a server remembers the ids of the
    messages it journaled (in each record's request key) as long as it keeps their answers."""
    from solvent.journal.sqlite_backend import SqliteBackend

    async def begin() -> None:
        await _begin_with_a_one_second_window(venue)

    async def on_file(path: Path) -> Server:
        return await _server(venue, backend=SqliteBackend(path))

    key = RequestKey("caller1", "dep-1")

    refused_first = RequestKey("caller1", "wd-1")

    async def first() -> tuple[int | None, list[dict[str, Any]], int | None]:
        await begin()
        server = await on_file(tmp_path / "a.sqlite")
        try:
            done = await server[0].submit(Deposit("alice", "USDT", D(7)), key)
            await asyncio.sleep(1.5)  # past the stream's window: JetStream would store a retry again
            again = await server[0].submit(Deposit("alice", "USDT", D(7)), key)
            assert again.command_seq == done.command_seq
            refused = await server[0].submit(Withdraw("alice", "USDT", D(10)), refused_first)  # alice holds 7
            assert refused.command_seq is None
            await server[0].submit(Deposit("alice", "USDT", D(100)))
            taken = await server[0].submit(Withdraw("alice", "USDT", D(10)), refused_first)  # judged again
            assert taken.command_seq is not None
            return done.command_seq, [e.body for e in done.events], taken.command_seq
        finally:
            await _stop(server)

    async def restarted() -> None:
        server = await on_file(tmp_path / "a.sqlite")
        try:
            await asyncio.sleep(1.5)  # past the window again: only the journal knows the keys now
            again = await server[0].submit(Deposit("alice", "USDT", D(7)), key)
            assert (again.command_seq, [e.body for e in again.events]) == (seq, bodies)  # its first answer
            with pytest.raises(IdempotencyKeyReused):
                await server[0].submit(Deposit("alice", "USDT", D(8)), key)
            # refused, then taken under the id chained to the refusal: the chain is journaled with it
            # (found by review: the retry was published afresh and withdrew twice)
            assert (await server[0].submit(Withdraw("alice", "USDT", D(10)), refused_first)).command_seq == taken
            assert server[0].engine.state.accounts["alice"].balances["USDT"] == 97  # 7 + 100 − 10, each once
        finally:
            await _stop(server)

    seq, bodies, taken = asyncio.run(first())
    asyncio.run(restarted())


def test_a_server_behind_the_log_finds_a_key_another_server_applied_before_publishing_it(venue: str) -> None:
    """Found by review: a server that had not applied a keyed write yet published its retry again;
    past the stream's window (one second here) it was stored and applied twice."""

    async def late() -> Any:
        await asyncio.sleep(1.5)  # this server reaches the log after the window has passed
        return await _connect()

    async def run() -> tuple[int | None, int | None, str]:
        await _begin_with_a_one_second_window(venue)
        a, b = await _server(venue), await _server(venue, connect=late)
        try:
            key = RequestKey("caller1", "dep-1")
            first = await a[0].submit(Deposit("alice", "USDT", D(7)), key)
            again = await b[0].submit(Deposit("alice", "USDT", D(7)), key)
            return first.command_seq, again.command_seq, str(b[0].engine.state.accounts["alice"].balances["USDT"])
        finally:
            await _stop(a, b)

    first, again, balance = asyncio.run(run())
    assert first == again == 1 and balance == "7"
