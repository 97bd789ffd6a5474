"""Open a journal by name: ``postgresql://…``/``postgres://…`` or a libpq conninfo
(``host=… dbname=…``) for PostgreSQL, ``*.ndjson``/``*.jsonl`` for NDJSON, else a SQLite file."""

from __future__ import annotations

from pathlib import Path

from solvent.errors import InvalidInput
from solvent.journal.backend import JournalBackend
from solvent.journal.ndjson import NdjsonBackend
from solvent.journal.sqlite_backend import SqliteBackend

__all__ = ["open_journal"]


def open_journal(target: str, *, schema: str = "solvent_journal", create: bool = False) -> JournalBackend:
    """The backend for ``target``; an existing file is required unless ``create``."""
    if target.startswith(("postgresql://", "postgres://")) or "dbname=" in target:
        from solvent.journal.postgres_backend import PostgresBackend

        return PostgresBackend(target, schema)
    path = Path(target)
    if not create and not path.is_file():
        raise InvalidInput(f"no journal at {target}")
    if path.suffix in (".ndjson", ".jsonl"):
        return NdjsonBackend(path)
    return SqliteBackend(path)
