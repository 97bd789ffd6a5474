"""The event history reaches back past memory: events older than the log's in-memory window
are read back from the journal (issue 12, item 5: "keep the event history on disk, not a
1M-event list in memory, and serve from_seq resumes from it")."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_service_eventlog_index import ACCOUNTS, body_strategy, query_strategy, reference

from solvent.service.eventlog import EventLog


class DictArchive:
    """An archive holding what each command published, as the journal's records do."""

    def __init__(self) -> None:
        self.by_command: dict[int, list[dict[str, Any]]] = {}
        self.asked: list[list[int]] = []

    def bodies(self, commands: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        self.asked.append(list(commands))
        return {c: self.by_command[c] for c in commands}


@settings(max_examples=300, deadline=None)
@given(commands=st.lists(st.lists(body_strategy, max_size=12), max_size=8), retention=st.integers(1, 30),
       queries=st.lists(query_strategy, max_size=6))
def test_with_an_archive_every_event_is_served_as_published(
        commands: list[list[dict[str, Any]]], retention: int,
        queries: list[tuple[int, str | None, frozenset[str] | None, int | None]]) -> None:
    archive = DictArchive()
    log = EventLog(retention=retention, archive=archive)
    published: list[tuple[int, dict[str, Any]]] = []
    times: dict[int, tuple[int, int]] = {}
    for command_seq, bodies in enumerate(commands, start=1):  # one command per batch, as the venue publishes
        archive.by_command[command_seq] = bodies
        for e in log.publish(command_seq, 1_000 * command_seq, bodies):
            published.append((e.seq, e.body))
            times[e.seq] = (command_seq, 1_000 * command_seq)
        assert log.first_seq == 1 and not log.lost_after(0, None)
        assert not any(log.lost_after(0, a) for a in ACCOUNTS)
        for from_seq, account, types, limit in queries:
            before = len(archive.asked)
            got = log.since(from_seq, account, types, limit)
            assert len(archive.asked) - before <= 1  # one read per page, however many commands it spans
            before = len(archive.asked)
            assert asyncio.run(log.read(from_seq, account, types, limit)) == got  # the same, older ones in a thread
            assert len(archive.asked) - before <= 1
            # every event kept or not, as published, with its command and time
            assert [e.seq for e in got] == reference(published, 1, from_seq, account, types, limit)
            assert all(e.body == dict(published)[e.seq] for e in got)
            assert all((e.command_seq, e.time_ms) == times[e.seq] for e in got)


def test_a_page_larger_than_the_recall_comes_back_whole() -> None:
    # the events read back are kept up to ``recall``; a page of more than that must still be whole
    archive = DictArchive()
    log = EventLog(retention=5, archive=archive, recall=10)
    for c in range(1, 101):
        archive.by_command[c] = [{"type": "MarginCall", "account_id": "a"}]
        log.publish(c, c, archive.by_command[c])
    assert [e.seq for e in log.since(0, "a", None, 60)] == list(range(1, 61))
    assert [e.seq for e in asyncio.run(log.read(40, "a"))] == list(range(40, 101))
    assert [e.seq for e in log.since(0)] == list(range(1, 101))
    assert len(log._recalled) == 10


def test_a_page_reads_only_the_commands_it_shows() -> None:
    # "q" names one event in each of the commands 1, 500 and 1000; the others name "a".
    archive = DictArchive()
    log = EventLog(retention=10, archive=archive)
    for c in range(1, 1_001):
        archive.by_command[c] = [{"type": "MarginCall", "account_id": "q" if c in (1, 500, 1_000) else "a"},
                                 {"type": "BalanceChanged", "account_id": "a"}]
        log.publish(c, c, archive.by_command[c])
    got = log.since(0, "q")
    assert [(e.seq, e.command_seq) for e in got] == [(1, 1), (999, 500), (1_999, 1_000)]
    assert archive.asked == [[1, 500]]  # seq 1,999 is still in memory (the newest 10)


def test_a_read_that_fails_is_tried_once_more_on_a_new_connection() -> None:
    # Review finding: the archive's PostgreSQL connection, once dropped (a restarted database, an
    # idle timeout), failed every history page older than memory until the service restarted.
    from solvent.journal import JournalError, MemoryBackend
    from solvent.journal.backend import StoredRecord
    from solvent.service.event_archive import JournalArchive

    class Dropped(MemoryBackend):
        def records_at(self, seqs: Sequence[int]) -> Iterator[StoredRecord]:
            raise JournalError("server closed the connection unexpectedly")

    good = MemoryBackend()
    good.stored.append(StoredRecord(7, "h", json.dumps(
        {"events": [{"type": "Accepted"}, {"type": "MarginCall", "account_id": "a"}]}).encode()))
    opened: list[MemoryBackend] = []

    def reopen() -> MemoryBackend:
        opened.append(good)
        return good

    archive = JournalArchive(Dropped(), reopen)
    assert archive.bodies([7]) == {7: [{"type": "MarginCall", "account_id": "a"}]}  # Accepted is not published
    assert opened == [good] and archive.backend is good
    assert archive.bodies([7]) == {7: [{"type": "MarginCall", "account_id": "a"}]} and len(opened) == 1  # cached
    with pytest.raises(JournalError, match="cannot be read back"):
        archive.bodies([8])
    shared = JournalArchive(Dropped())  # no way to reopen (an in-memory journal): the error stands
    with pytest.raises(JournalError, match="closed the connection"):
        shared.bodies([7])


# --- the service, on a SQLite journal ------------------------------------------------------

pytest.importorskip("litestar", reason="the service tests need the service extra")

from litestar.testing import TestClient  # noqa: E402

from solvent.service import KeyStore, Role, build_service, create_app  # noqa: E402
from solvent.service import venue as venue_module  # noqa: E402


@pytest.fixture
def small_memory(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(venue_module, "EVENTS_IN_MEMORY", 20)
    yield


@pytest.fixture(params=["sqlite", "postgresql"])
def journal(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "journal.sqlite")
        return
    from test_journal_common import pg_dsn, require_postgres

    require_postgres()
    import psycopg

    monkeypatch.chdir(tmp_path)  # the head file of a PostgreSQL journal lives under ./solvent-data/
    schema = f"archive_{uuid.uuid4().hex[:10]}"
    monkeypatch.setattr(sys.modules[__name__], "SCHEMA", schema)
    try:
        yield "postgresql://postgres@127.0.0.1:5432/test"
    finally:
        with psycopg.connect(pg_dsn()) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


SCHEMA = "solvent_journal"


def _serve(target: str, keys: KeyStore) -> Any:
    return build_service(keys, journal=target, schema=SCHEMA, demo=False)


def test_history_and_resumes_reach_back_past_memory_and_across_a_restart(journal: str, small_memory: None) -> None:
    keys = KeyStore()
    op = {"X-API-Key": keys.issue(Role.OPERATOR)}
    acct1 = {"X-API-Key": keys.issue(Role.ACCOUNT, "acct1")}
    svc = _serve(journal, keys)
    with TestClient(create_app(svc)) as client:
        for i in range(40):  # each deposit publishes one BalanceChanged of its account
            r = client.post(f"/v1/accounts/acct{i % 3}/deposits", json={"amount": str(100 + i)}, headers=op)
            assert r.status_code == 200, r.text
        before = client.get("/v1/events?from_seq=1&limit=1000", headers=op).json()
    assert svc.venue.events.retention == 20 and svc.venue.events.head_seq > 40
    assert svc.venue.events.archive_reads >= 1  # the first events came back from the journal
    seqs = [e["seq"] for e in before["events"]]
    assert seqs == list(range(1, svc.venue.events.head_seq + 1))

    restarted = _serve(journal, keys)
    with TestClient(create_app(restarted)) as client:
        again = client.get("/v1/events?from_seq=1&limit=1000", headers=op).json()
        assert again["events"] == before["events"]  # byte for byte the same history, from the journal
        mine = client.get("/v1/events?from_seq=1&limit=1000", headers=acct1).json()["events"]
        # acct1's own deposits, i = 1, 4, ..., 37: 13 of them (an account key sees its own events)
        assert [(e["type"], e["account_id"]) for e in mine] == [("BalanceChanged", "acct1")] * 13
        assert [e for e in before["events"] if e.get("account_id") == "acct1"] == mine
        with client.websocket_connect("/v1/stream?from_seq=1", headers=op) as ws:
            hello = ws.receive_json()
            assert hello["type"] == "hello" and hello["from_seq"] == 1
            streamed = [ws.receive_json() for _ in seqs]
        assert [m["seq"] for m in streamed] == seqs
        assert [m["event"] for m in streamed] == [
            {k: v for k, v in e.items() if k not in ("seq", "command_seq", "time_ms")} for e in before["events"]]
    assert json.dumps(again) == json.dumps(before)
