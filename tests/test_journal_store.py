"""The journal against both backends: round trip, snapshots, group commit, damage detection,
NDJSON export/import."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_journal_common import BACKENDS, BackendFactory, backend_factory, config, stream

from solvent.engine import Engine
from solvent.journal import (
    DurableEngine,
    JournalError,
    MemoryBackend,
    NdjsonBackend,
    SqliteBackend,
    export_ndjson,
    import_ndjson,
    recover,
    verify,
)

CMDS = stream(1_500, seed=3)


@pytest.fixture(params=BACKENDS)
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendFactory]:
    yield from backend_factory(request.param, tmp_path)


def written(journal: BackendFactory, snapshot_every: int = 400) -> str:
    engine = DurableEngine(journal.open(), config(), snapshot_every=snapshot_every)
    for i in range(0, len(CMDS), 100):
        engine.apply_many(CMDS[i:i + 100])
    digest = engine.state_hash()
    engine.close()
    return digest


def clean_hash(upto: int | None = None) -> tuple[str, int]:
    """State hash of a clean replay through the ``upto``-th accepted command, and the count."""
    engine, count = Engine(config()), 0
    for cmd in CMDS:
        if upto is not None and count == upto:
            break
        count += engine.apply(cmd).accepted
    return engine.state_hash(), count


def test_a_reopened_journal_recovers_the_same_state_from_its_newest_snapshot(journal: BackendFactory) -> None:
    digest = written(journal)
    assert digest == clean_hash()[0]
    reopened = DurableEngine(journal.open())
    assert reopened.state_hash() == digest
    assert reopened.recovery.snapshot_seq is not None and reopened.recovery.snapshot_seq >= 1_200
    assert reopened.recovery.replayed < 400
    report = verify(reopened.backend)
    assert report.ok and report.snapshots_checked >= 3 and report.state_hash == digest
    reopened.close()


def test_only_the_three_newest_snapshots_are_kept(journal: BackendFactory) -> None:
    """Snapshots are full copies of the state: kept all, their storage grew with the square
    of history. 1,500 commands in batches of 100 with snapshot_every=100 take a snapshot at
    (nearly) every batch; only the newest three stay, each at a checkpoint record."""
    digest = written(journal, snapshot_every=100)
    backend = journal.open()
    try:
        kept = [s.seq for s in backend.snapshots()]
        assert len(kept) == 3 and kept == sorted(kept, reverse=True)
        last = list(backend.records(0))[-1].seq
        assert kept[0] == last  # the last batch ended in a checkpoint
        checkpoints = [r.seq for r in backend.records(1) if b'"kind":"checkpoint"' in r.payload]
        assert len(checkpoints) >= 12 and checkpoints[-3:] == sorted(kept)
        report = verify(backend)
        assert report.ok and report.snapshots_checked == 3 and report.state_hash == digest
    finally:
        backend.close()


def test_a_damaged_snapshot_is_skipped_for_an_older_one(journal: BackendFactory) -> None:
    digest = written(journal)
    backend = journal.open()
    newest = next(iter(backend.snapshots()))
    journal.tamper("snapshots", newest.seq, "blob", newest.blob.replace(b'"USDT"', b'"USDC"', 1))
    recovered = recover(backend)
    assert recovered.problem is None and recovered.engine.state_hash() == digest
    assert recovered.snapshot_seq is not None and recovered.snapshot_seq < newest.seq
    assert recovered.skipped_snapshots == [f"snapshot at {newest.seq}: digest mismatch"]
    backend.close()


def test_a_flipped_byte_is_named_and_recovery_stops_before_it(journal: BackendFactory) -> None:
    written(journal, snapshot_every=10**9)
    backend = journal.open()
    bad = next(iter(backend.records(250)))
    flipped = bad.payload.replace(b'"seq":250', b'"seq":251')  # a byte that still parses
    journal.tamper("records", 250, "payload", flipped)
    report = verify(backend)
    assert report.chain_problem is not None and report.chain_problem.seq == 250
    assert "hash mismatch" in str(report.chain_problem)
    assert f"stored {bad.hash}," in str(report.chain_problem)  # whole: two hashes cut short could look equal
    recovered = recover(backend)
    assert recovered.last_seq == 249 and recovered.problem is not None and recovered.problem.seq == 250
    assert recovered.engine.state_hash() == clean_hash(249)[0]
    assert "journal damaged at record 250" in recovered.message()
    with pytest.raises(JournalError, match="record 250"):
        DurableEngine(backend)
    backend.close()


def test_a_truncated_last_record_is_named(journal: BackendFactory) -> None:
    written(journal, snapshot_every=10**9)
    backend = journal.open()
    last = list(backend.records(0))[-1]
    journal.tamper("records", last.seq, "payload", last.payload[: len(last.payload) // 2])
    recovered = recover(backend)
    assert recovered.problem is not None and recovered.problem.seq == last.seq
    assert recovered.last_seq == last.seq - 1
    backend.close()


def test_export_and_import_round_trip_byte_for_byte(journal: BackendFactory, tmp_path: Path) -> None:
    written(journal)
    source = journal.open()
    out = tmp_path / "journal.ndjson"
    count = export_ndjson(source, out)
    copy = SqliteBackend(tmp_path / "copy.db")
    assert import_ndjson(out, copy) == count
    assert list(copy.records(0)) == list(source.records(0))
    assert verify(copy).head_hash == verify(source).head_hash == verify(NdjsonBackend(out)).head_hash
    export_ndjson(copy, tmp_path / "again.ndjson")
    assert (tmp_path / "again.ndjson").read_bytes() == out.read_bytes()
    source.close()
    copy.close()


def test_ndjson_damage_is_named(tmp_path: Path) -> None:
    engine = DurableEngine(NdjsonBackend(tmp_path / "j.ndjson"), config())
    engine.apply_many(CMDS[:200])
    engine.close()
    raw = (tmp_path / "j.ndjson").read_bytes()
    (tmp_path / "cut.ndjson").write_bytes(raw[:-7])
    cut = verify(NdjsonBackend(tmp_path / "cut.ndjson"))
    last = raw.count(b"\n") - 1
    assert cut.chain_problem is not None and cut.chain_problem.seq == last
    assert "truncated" in str(cut.chain_problem)
    lines = raw.split(b"\n")
    lines[40] = lines[40].replace(b'"type":"', b'"type":"X', 1)
    (tmp_path / "flip.ndjson").write_bytes(b"\n".join(lines))
    flip = recover(NdjsonBackend(tmp_path / "flip.ndjson"))
    assert flip.problem is not None and flip.problem.seq == 40 and flip.last_seq == 39


def test_a_raw_byte_flip_in_the_sqlite_file_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    engine = DurableEngine(SqliteBackend(path), config())
    engine.apply_many(CMDS[:300])
    engine.close()  # checkpoints the WAL into the main file
    raw = bytearray(path.read_bytes())
    at = raw.index(b'"trade_id":"t40"')
    raw[at + 13] ^= 0x01  # t40 -> u40 in the stored bytes, without SQLite knowing
    path.write_bytes(bytes(raw))
    report = verify(SqliteBackend(path))
    assert report.chain_problem is not None and "hash mismatch" in report.chain_problem.message


def test_many_commands_share_one_commit_and_are_durable_only_after_it() -> None:
    backend = MemoryBackend()
    engine = DurableEngine(backend, config())
    tickets = [engine.submit(cmd) for cmd in CMDS[:100]]
    assert not any(t.durable for t in tickets) and backend.commits == 1  # the genesis record
    engine.flush()
    assert all(t.durable for t in tickets) and backend.commits == 2
    assert len(backend.stored) == 1 + sum(t.seq is not None for t in tickets)


def test_a_failed_commit_stops_the_engine_until_it_is_reopened() -> None:
    class Failing(MemoryBackend):
        fail = False

        def append(self, records, snapshot=None):  # type: ignore[no-untyped-def]
            if self.fail:
                raise JournalError("disk full")
            super().append(records, snapshot)

    backend = Failing()
    engine = DurableEngine(backend, config())
    engine.apply_many(CMDS[:50])
    backend.fail = True
    ticket = engine.submit(CMDS[50])
    with pytest.raises(JournalError, match="disk full"):
        engine.flush()
    assert not ticket.durable
    with pytest.raises(JournalError, match="reopen"):
        engine.submit(CMDS[51])
    backend.fail = False
    clean = Engine(config())
    clean.apply_all(CMDS[:50])
    assert DurableEngine(backend).state_hash() == clean.state_hash()
