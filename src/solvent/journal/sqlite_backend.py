"""SQLite journal (the embedded default): one file, WAL mode, ``synchronous=FULL``.

One ``append`` is one transaction, so a batch of records costs one WAL fsync (group commit).
Tables: ``records(seq INTEGER PRIMARY KEY, hash TEXT, payload BLOB)`` and
``snapshots(seq INTEGER PRIMARY KEY, chain_hash, state_hash, digest TEXT, blob BLOB)``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from solvent.errors import InvalidInput
from solvent.journal.backend import (
    KEEP_SNAPSHOTS,
    JournalError,
    JournalLocked,
    NotAJournal,
    StoredRecord,
    StoredSnapshot,
    stored_snapshot,
)

__all__ = ["JOURNAL_TABLES", "SqliteBackend", "foreign_tables", "is_sqlite"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, payload BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, chain_hash TEXT NOT NULL, "
    "state_hash TEXT NOT NULL, digest TEXT NOT NULL, blob BLOB NOT NULL)",
)

def is_sqlite(path: Path) -> bool:
    """Whether ``path`` is a SQLite database file (e.g. the demo's journal from an earlier run)."""
    try:
        with path.open("rb") as handle:
            return path.is_file() and handle.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


JOURNAL_TABLES = ("records", "snapshots")
"""The tables a SQLite journal holds (``_SCHEMA``)."""


def foreign_tables(path: Path) -> list[str]:
    """The tables of an existing SQLite file that are not a journal's: a database of one's own,
    which ``import`` and ``serve`` refuse before they open it (opening makes the journal's
    tables). ``InvalidInput`` when SQLite cannot read the file as a database."""
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    except sqlite3.Error as exc:
        raise InvalidInput(f"{path}: not a SQLite database SQLite can read ({exc})") from None
    return [name for (name,) in rows if name not in JOURNAL_TABLES]


_IN_CHUNK = 500
"""Seqs per ``IN (...)`` query (SQLite allows 32,766 parameters; fewer keeps each query short)."""


class SqliteBackend:
    """``read_only`` opens an existing journal without writing a byte to it (``mode=ro``): no
    WAL switch, no tables created; a file without the journal's tables is refused.

    A read-only connection to a WAL journal makes SQLite create the ``-wal`` and ``-shm``
    files beside it, and it cannot remove them. So when the ``-wal`` is empty at ``close``, one
    ordinary connection reads the schema and closes: SQLite deletes both files when the last
    connection to the journal closes (every connection holds a shared lock on it while open),
    and an empty log checkpoints nothing, so the journal's own bytes stay as they were. While
    a writer or another reader has the journal open, that connection is not the last and the
    files stay; the last reader to close removes them. A journal file the user cannot write
    keeps them (SQLite opens it read-only). In a directory the user cannot write, where SQLite
    cannot make the ``-shm`` at all, a journal with no ``-wal`` (closed cleanly, so no writer
    is at work) is opened ``immutable``."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL", read_only: bool = False,
                 exclusive: bool = False) -> None:
        """``exclusive``: hold an exclusive lock (``JOURNAL.lock``, ``flock``) until ``close``, so a
        second writer (a second server on the same journal) is refused instead of serving stale
        state."""
        self.path = Path(path)
        self._lock: int | None = None
        if exclusive:
            self._lock = _take_lock(self.path.with_name(self.path.name + ".lock"))
        self._tidy_wal = False
        try:
            if read_only:
                self._tidy_wal = True
                self._db = self._open_read_only()
                tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if not {"records", "snapshots"} <= tables:
                    self._db.close()
                    raise NotAJournal(f"{self.path} is not a solvent journal (no records/snapshots tables)")
                return
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise JournalError(f"{self.path}: could not switch to WAL mode (got {mode})")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            for stmt in _SCHEMA:
                self._db.execute(stmt)
        except sqlite3.DatabaseError as exc:
            raise NotAJournal(f"{self.path} is not a solvent journal: {exc}") from None
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot open SQLite journal: {exc}") from None

    def append(self, records: Sequence[StoredRecord], snapshot: StoredSnapshot | None = None) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT INTO records (seq, hash, payload) VALUES (?, ?, ?)",
                                     [(r.seq, r.hash, r.payload) for r in records])
                if snapshot is not None:
                    self._db.execute(
                        "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?)",
                        (snapshot.seq, snapshot.chain_hash, snapshot.state_hash, snapshot.digest, snapshot.blob))
                    self._db.execute("DELETE FROM snapshots WHERE seq NOT IN "
                                     "(SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?)", (KEEP_SNAPSHOTS,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: append failed: {exc}") from None

    def records(self, start: int = 0) -> Iterator[StoredRecord]:
        try:
            cur = self._db.execute("SELECT seq, hash, payload FROM records WHERE seq >= ? ORDER BY seq", (start,))
            for seq, digest, payload in cur:
                yield StoredRecord(int(seq), str(digest), bytes(payload))
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot read records: {exc}") from None

    def records_at(self, seqs: Sequence[int]) -> Iterator[StoredRecord]:
        try:
            for i in range(0, len(seqs), _IN_CHUNK):
                chunk = list(seqs[i:i + _IN_CHUNK])
                rows = self._db.execute(f"SELECT seq, hash, payload FROM records WHERE seq IN "
                                        f"({','.join('?' * len(chunk))}) ORDER BY seq", chunk).fetchall()
                for seq, digest, payload in rows:
                    yield StoredRecord(int(seq), str(digest), bytes(payload))
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot read records: {exc}") from None

    def snapshots(self) -> Iterator[StoredSnapshot]:
        try:
            rows = self._db.execute("SELECT seq FROM snapshots ORDER BY seq DESC").fetchall()
            for (seq,) in rows:
                row = self._db.execute("SELECT seq, chain_hash, state_hash, digest, blob FROM snapshots "
                                       "WHERE seq = ?", (seq,)).fetchone()
                yield stored_snapshot(row)
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot read snapshots: {exc}") from None

    def _open_read_only(self) -> sqlite3.Connection:
        uri = self.path.resolve().as_uri()
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:
            db.close()
            wal, _ = self._wal_files()
            if wal.exists() or os.access(self.path.parent, os.W_OK):
                raise
        # a directory the user cannot write (no -shm can be made) and no -wal: nothing is being
        # written, so the file is read as it stands (class docstring)
        self._tidy_wal = False
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None,
                               check_same_thread=False)

    def _wal_files(self) -> tuple[Path, Path]:
        return self.path.with_name(self.path.name + "-wal"), self.path.with_name(self.path.name + "-shm")

    def close(self) -> None:
        self._db.close()
        if self._tidy_wal:
            self._tidy_wal = False
            self._remove_empty_wal()
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the flock
            self._lock = None


    def _remove_empty_wal(self) -> None:
        """The ``-wal``/``-shm`` a read-only open left, when empty (class docstring); best effort."""
        wal, _ = self._wal_files()
        try:
            if not wal.exists() or wal.stat().st_size != 0:
                return
            db = sqlite3.connect(str(self.path), timeout=0)
            try:
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                db.close()
        except (OSError, sqlite3.Error):
            pass  # a read-only directory, or a writer holding the journal: the files stay


def _take_lock(path: Path) -> int:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise JournalLocked(f"{path}: another process has this journal open for writing "
                            "(a second server on the same journal is refused)") from None
    return descriptor
