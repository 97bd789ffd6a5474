"""A lost journal is never silently replaced by a new venue (issue 10, item 2).

A 0-byte journal file, a dropped ``records`` table, a PostgreSQL ``TRUNCATE`` or a journal
restored to an older state (what a deleted ``-wal`` file after a kill amounts to) each used
to start an empty venue with no error. Now a new venue starts only on a new path or with
``--init``, and the last committed head, kept in a sidecar file, refuses a journal that is
behind it, naming the missing records.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from test_journal_common import pg_dsn, require_postgres

from solvent.engine import Deposit
from solvent.journal import JournalError, JournalLocked
from solvent.service import KeyStore
from solvent.service.builder import build_service, default_head_file


def _deposits(journal: str, n: int, schema: str = "solvent_journal", amount: int = 100) -> int:
    svc = build_service(KeyStore(), journal=journal, schema=schema)
    for i in range(n):
        assert svc.venue.submit_now(Deposit(f"acc{i}", "USDT", Decimal(amount))).result.accepted
    seq = svc.venue.journal_seq
    svc.venue.close_now()
    return seq


def test_a_zero_byte_journal_is_refused_and_init_starts_a_venue_in_it(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    journal.touch()
    with pytest.raises(JournalError, match=r"holds no records.*--init"):
        build_service(KeyStore(), journal=str(journal))
    svc = build_service(KeyStore(), journal=str(journal), init=True)
    assert svc.venue.journal_seq >= 0
    svc.venue.close_now()


def test_a_new_path_starts_a_new_venue_without_init(tmp_path: Path) -> None:
    assert _deposits(str(tmp_path / "new" / "journal.sqlite"), 2) >= 2


def test_a_deleted_journal_with_its_head_file_left_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    seq = _deposits(str(journal), 2)
    journal.unlink()
    with pytest.raises(JournalError, match=f"records 0–{seq} are missing"):
        build_service(KeyStore(), journal=str(journal))


def test_a_dropped_records_table_is_refused_naming_the_missing_records(tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.sqlite")
    seq = _deposits(journal, 3)
    with sqlite3.connect(journal) as db:
        db.execute("DROP TABLE records")
    with pytest.raises(JournalError, match=f"records 0–{seq} are missing"):
        build_service(KeyStore(), journal=journal)
    with pytest.raises(Exception, match="--init on a journal that has committed records"):
        build_service(KeyStore(), journal=journal, init=True)


def test_a_journal_restored_to_an_older_state_is_refused(tmp_path: Path) -> None:
    # What a -wal file deleted after a kill leaves: a valid chain that ends too early.
    journal = tmp_path / "journal.sqlite"
    older = _deposits(str(journal), 2)
    shutil.copy(journal, tmp_path / "old.sqlite")
    newer = _deposits(str(journal), 3)  # the restarted venue journals three more deposits
    assert newer > older
    shutil.copy(tmp_path / "old.sqlite", journal)
    with pytest.raises(JournalError, match=f"records {older + 1}–{newer} are missing"):
        build_service(KeyStore(), journal=str(journal))


def test_a_journal_rewritten_with_a_different_history_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    _deposits(str(journal), 2)
    head = default_head_file(str(journal), "solvent_journal")
    saved = head.read_bytes()
    journal.unlink()
    head.unlink()
    _deposits(str(journal), 4, amount=200)  # a different venue on the same path ...
    head.write_bytes(saved)     # ... while the head file remembers the first one
    with pytest.raises(JournalError, match="not the one committed"):
        build_service(KeyStore(), journal=str(journal))


def test_a_truncated_postgresql_journal_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    dsn = _postgres()
    monkeypatch.chdir(tmp_path)  # the head file of a PostgreSQL journal lives under ./solvent-data/
    schema = f"lost_{uuid.uuid4().hex[:10]}"
    target = "postgresql://postgres@127.0.0.1:5432/test"
    try:
        seq = _deposits(target, 2, schema)
        with psycopg.connect(dsn) as conn:
            conn.execute(f"TRUNCATE {schema}.records")
        with pytest.raises(JournalError, match=f"records 0–{seq} are missing"):
            build_service(KeyStore(), journal=target, schema=schema)
    finally:
        with psycopg.connect(dsn) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


# ---------------------------------------------------------------- one writer per journal (issue 10)


def test_a_second_server_on_the_same_sqlite_journal_is_refused(tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.sqlite")
    first = build_service(KeyStore(), journal=journal)
    try:
        with pytest.raises(JournalLocked, match="another process has this journal open"):
            build_service(KeyStore(), journal=journal)
    finally:
        first.venue.close_now()
    second = build_service(KeyStore(), journal=journal)  # the lock went with the first server
    second.venue.close_now()


def test_a_second_server_on_the_same_postgresql_journal_is_refused(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    dsn = _postgres()
    monkeypatch.chdir(tmp_path)
    schema = f"lock_{uuid.uuid4().hex[:10]}"
    target = "postgresql://postgres@127.0.0.1:5432/test"
    try:
        first = build_service(KeyStore(), journal=target, schema=schema)
        try:
            with pytest.raises(JournalLocked, match="another process has it open"):
                build_service(KeyStore(), journal=target, schema=schema)
        finally:
            first.venue.close_now()
        build_service(KeyStore(), journal=target, schema=schema).venue.close_now()
    finally:
        with psycopg.connect(dsn) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _postgres() -> str:
    """The test PostgreSQL's DSN (skip, or fail in CI, when it is not reachable)."""
    require_postgres()
    return pg_dsn()


# ---------------------------------------------------------------- snapshots at start (issue 10)


def _journal_with_snapshots(path: Path) -> int:
    from solvent.journal import DurableEngine, SqliteBackend
    from solvent.service.venue import default_config

    durable = DurableEngine(SqliteBackend(path), default_config(), snapshot_every=3)
    for i in range(10):
        durable.apply(Deposit(f"acc{i}", "USDT", Decimal(100)))
    seq = durable.seq
    durable.close()
    return seq


def test_a_snapshot_past_the_end_of_the_journal_is_refused_not_skipped(tmp_path: Path) -> None:
    from solvent.journal import DurableEngine, SqliteBackend

    path = tmp_path / "journal.sqlite"
    seq = _journal_with_snapshots(path)
    # 10 deposits, one flush each, snapshot_every=3: after seq 3 a checkpoint record becomes
    # seq 4 (snapshot at 4); then deposits 5, 6 → checkpoint 7; 8, 9 → 10; 11, 12 → 13; 14.
    assert seq == 14
    with sqlite3.connect(path) as db:  # cut the tail: records 6–14 go, the snapshots at 7, 10, 13 stay
        db.execute("DELETE FROM records WHERE seq > 5")
    with pytest.raises(JournalError, match="records 6–13 are missing"):
        DurableEngine(SqliteBackend(path))


def test_a_damaged_snapshot_column_is_skipped_naming_the_row(tmp_path: Path) -> None:
    from solvent.journal import DurableEngine, SqliteBackend

    path = tmp_path / "journal.sqlite"
    _journal_with_snapshots(path)
    with sqlite3.connect(path) as db:
        newest = db.execute("SELECT max(seq) FROM snapshots").fetchone()[0]
        db.execute("UPDATE snapshots SET blob = 42 WHERE seq = ?", (newest,))
    durable = DurableEngine(SqliteBackend(path))
    try:
        assert durable.seq == 14  # 10 deposits and 4 checkpoint records (see above)
        assert any(f"damaged row {newest}" in reason for reason in durable.recovery.skipped_snapshots)
        assert durable.recovery.snapshot_seq is not None and durable.recovery.snapshot_seq < newest
    finally:
        durable.close()


def test_serve_verify_full_refuses_a_journal_edited_behind_its_newest_snapshot(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from solvent.cli import main

    path = tmp_path / "journal.sqlite"
    _journal_with_snapshots(path)  # snapshots at 7, 10, 13
    with sqlite3.connect(path) as db:
        payload = db.execute("SELECT payload FROM records WHERE seq = 3").fetchone()[0]
        db.execute("UPDATE records SET payload = ? WHERE seq = 3", (payload.replace(b'"100"', b'"999"', 1),))
    code = main(["serve", "--journal", str(path), "--verify-full", "--port", "1"])
    err = capsys.readouterr().err
    assert code != 0 and "full verification failed: record 3: hash mismatch" in err
    message = [line for line in err.strip().splitlines() if not line.startswith("{")]  # JSON log lines aside
    assert len(message) == 1 and "Traceback" not in err  # one clear line, no traceback


def test_a_committed_command_whose_head_write_fails_is_answered_as_done(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by review: the head file failing after the commit answered 503 "not durable" for a
    deposit that was durable, so a client retrying it deposited twice. The batch is answered;
    the venue then takes nothing more until a restart."""
    from solvent.journal.head_file import HeadFile

    journal = str(tmp_path / "journal.sqlite")
    svc = build_service(KeyStore(), journal=journal)
    assert svc.venue.submit_now(Deposit("alice", "USDT", Decimal(10))).result.accepted

    def broken(self: HeadFile, seq: int, digest: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(HeadFile, "write", broken)
    done = svc.venue.submit_now(Deposit("alice", "USDT", Decimal(5_000)))
    assert done.result.accepted and done.command_seq is not None  # answered: it is in the journal
    from solvent.service.errors import VenueUnavailable

    with pytest.raises(VenueUnavailable, match="JOURNAL_FAILED"):  # the next command is refused
        svc.venue.submit_now(Deposit("alice", "USDT", Decimal(1)))
    svc.venue.close_now()
    monkeypatch.undo()
    again = build_service(KeyStore(), journal=journal)
    assert again.venue.engine.state.accounts["alice"].balances["USDT"] == Decimal(5_010)
    again.venue.close_now()


def test_the_service_start_checks_every_link_even_behind_the_newest_snapshot(tmp_path: Path) -> None:
    """Found by review: an event edited behind the newest snapshot was served as history (the
    engine's recovery reads only the snapshot and the tail). The event history is rebuilt
    from every record, so each record's link is checked as it is read."""
    path = tmp_path / "journal.sqlite"
    _journal_with_snapshots(path)  # snapshots at 7, 10, 13
    with sqlite3.connect(path) as db:
        payload = db.execute("SELECT payload FROM records WHERE seq = 3").fetchone()[0]
        db.execute("UPDATE records SET payload = ? WHERE seq = 3", (payload.replace(b'"100"', b'"99999"'),))
    with pytest.raises(JournalError, match="record 3: hash mismatch"):
        build_service(KeyStore(), journal=str(path))


def test_an_existing_journal_without_its_head_file_starts_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    journal = tmp_path / "journal.sqlite"
    _deposits(str(journal), 2)
    default_head_file(str(journal), "solvent_journal").unlink()
    with caplog.at_level("WARNING", logger="solvent.service"):
        svc = build_service(KeyStore(), journal=str(journal))
    svc.venue.close_now()
    assert any("no head file beside an existing journal" in r.getMessage() for r in caplog.records)
