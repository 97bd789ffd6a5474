"""PostgreSQL journal (production): psycopg 3, one schema per journal.

One ``append`` is one transaction; PostgreSQL's ``synchronous_commit`` (on by default) makes
``COMMIT`` return only once the WAL is flushed, and concurrent commits share flushes. The
schema holds ``records`` and ``snapshots`` tables laid out like the SQLite ones.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from typing import Any

from solvent.errors import InvalidInput
from solvent.extras import missing_extra
from solvent.journal.backend import (
    KEEP_SNAPSHOTS,
    JournalError,
    JournalLocked,
    NotAJournal,
    StoredRecord,
    StoredSnapshot,
    stored_snapshot,
)

__all__ = ["DEFAULT_DSN", "PostgresBackend", "default_dsn"]

DEFAULT_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def default_dsn() -> str:
    """``SOLVENT_PG_DSN`` if set, else the local test server."""
    return os.environ.get("SOLVENT_PG_DSN", DEFAULT_DSN)


def _one_line(exc: Exception) -> str:
    """A driver error on one line (libpq adds hints on lines of their own: "Is the server running…")."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


class PostgresBackend:
    def __init__(self, dsn: str | None = None, schema: str = "solvent_journal", *, connect_timeout: int = 5,
                 read_only: bool = False, exclusive: bool = False) -> None:
        """``read_only``: a read-only session on an existing journal; nothing is created.
        ``exclusive``: hold a session advisory lock on the schema's name until ``close`` (a second
        writer is refused)."""
        if not _NAME.match(schema):  # bad input, before anything is connected to
            raise InvalidInput(f"schema name {schema!r} must match {_NAME.pattern}")
        try:
            import psycopg
        except ImportError as exc:  # the 'postgres' extra
            raise missing_extra(exc, "postgres", "a PostgreSQL journal") from None
        self.schema = schema
        self._errors: type[Exception] = psycopg.Error
        try:
            self._conn: Any = psycopg.connect(dsn or default_dsn(), connect_timeout=connect_timeout)
            if read_only:
                self._conn.read_only = True
                found = self._conn.execute("SELECT to_regclass(%s), to_regclass(%s)",
                                           (f"{schema}.records", f"{schema}.snapshots")).fetchone()
                self._conn.commit()
                if found is None or None in found:
                    self._conn.close()
                    raise NotAJournal(f"PostgreSQL journal {schema}: no such journal (schema or tables missing)")
                return
            if exclusive:
                got = self._conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                                         (f"solvent_journal:{schema}",)).fetchone()
                self._conn.commit()
                if not got or not got[0]:
                    self._conn.close()
                    raise JournalLocked(f"PostgreSQL journal {schema}: another process has it open for writing "
                                        "(a second server on the same journal is refused)")
            with self._conn.transaction():
                self._conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                self._conn.execute(f"CREATE TABLE IF NOT EXISTS {schema}.records "
                                   "(seq BIGINT PRIMARY KEY, hash TEXT NOT NULL, payload BYTEA NOT NULL)")
                self._conn.execute(f"CREATE TABLE IF NOT EXISTS {schema}.snapshots (seq BIGINT PRIMARY KEY, "
                                   "chain_hash TEXT NOT NULL, state_hash TEXT NOT NULL, digest TEXT NOT NULL, "
                                   "blob BYTEA NOT NULL)")
            self._conn.commit()
        except psycopg.Error as exc:
            raise JournalError(f"PostgreSQL journal {schema}: {_one_line(exc)}") from None

    def append(self, records: Sequence[StoredRecord], snapshot: StoredSnapshot | None = None) -> None:
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                with cur.copy(f"COPY {self.schema}.records (seq, hash, payload) FROM STDIN") as copy:
                    for r in records:
                        copy.write_row((r.seq, r.hash, r.payload))
                if snapshot is not None:
                    cur.execute(f"INSERT INTO {self.schema}.snapshots VALUES (%s, %s, %s, %s, %s) "
                                "ON CONFLICT (seq) DO NOTHING",
                                (snapshot.seq, snapshot.chain_hash, snapshot.state_hash, snapshot.digest,
                                 snapshot.blob))
                    cur.execute(f"DELETE FROM {self.schema}.snapshots WHERE seq NOT IN "
                                f"(SELECT seq FROM {self.schema}.snapshots ORDER BY seq DESC LIMIT %s)",
                                (KEEP_SNAPSHOTS,))
            self._conn.commit()
        except self._errors as exc:
            raise JournalError(f"PostgreSQL journal {self.schema}: append failed: {_one_line(exc)}") from None

    def records(self, start: int = 0, batch: int = 10_000) -> Iterator[StoredRecord]:
        try:
            while True:
                rows = self._conn.execute(f"SELECT seq, hash, payload FROM {self.schema}.records WHERE seq >= %s "
                                          "ORDER BY seq LIMIT %s", (start, batch)).fetchall()
                self._conn.commit()
                for seq, digest, payload in rows:
                    yield StoredRecord(int(seq), str(digest), bytes(payload))
                if len(rows) < batch:
                    return
                start = int(rows[-1][0]) + 1
        except self._errors as exc:
            raise JournalError(f"PostgreSQL journal {self.schema}: cannot read records: {_one_line(exc)}") from None

    def records_at(self, seqs: Sequence[int]) -> Iterator[StoredRecord]:
        try:
            rows = self._conn.execute(f"SELECT seq, hash, payload FROM {self.schema}.records WHERE seq = ANY(%s) "
                                      "ORDER BY seq", (list(seqs),)).fetchall()
            self._conn.commit()
        except self._errors as exc:
            with contextlib.suppress(Exception):  # a failed read leaves the session usable, if it still is
                self._conn.rollback()
            raise JournalError(f"PostgreSQL journal {self.schema}: cannot read records: {_one_line(exc)}") from None
        for seq, digest, payload in rows:
            yield StoredRecord(int(seq), str(digest), bytes(payload))

    def snapshots(self) -> Iterator[StoredSnapshot]:
        try:
            seqs = [int(r[0]) for r in self._conn.execute(
                f"SELECT seq FROM {self.schema}.snapshots ORDER BY seq DESC").fetchall()]
            for seq in seqs:
                row = self._conn.execute(f"SELECT seq, chain_hash, state_hash, digest, blob FROM {self.schema}."
                                         "snapshots WHERE seq = %s", (seq,)).fetchone()
                self._conn.commit()
                yield stored_snapshot(row)
        except self._errors as exc:
            raise JournalError(f"PostgreSQL journal {self.schema}: cannot read snapshots: {_one_line(exc)}") from None

    def drop(self) -> None:
        """Remove the schema and everything in it (tests clean up with this)."""
        try:
            self._conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
            self._conn.commit()
        except self._errors as exc:
            raise JournalError(f"PostgreSQL journal {self.schema}: drop failed: {_one_line(exc)}") from None

    def close(self) -> None:
        self._conn.close()
