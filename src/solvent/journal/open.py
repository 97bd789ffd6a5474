"""Open a journal by name: ``postgresql://…``/``postgres://…`` or a libpq conninfo
(``host=… dbname=…``) for PostgreSQL, ``*.ndjson``/``*.jsonl`` for NDJSON, else a SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from solvent.errors import InvalidInput
from solvent.journal.backend import JournalBackend
from solvent.journal.ndjson import NdjsonBackend
from solvent.journal.sqlite_backend import SqliteBackend

__all__ = ["JournalKind", "journal_kind", "open_journal"]


_POSTGRES_SCHEMES = ("postgresql://", "postgres://")

JournalKind = Literal["postgresql", "ndjson", "sqlite"]


def journal_kind(target: str) -> JournalKind:
    """Which backend ``target`` names: the one home for reading a journal's name.

    ``postgresql://…``, ``postgres://…`` or a libpq conninfo (``host=… dbname=…``) is
    PostgreSQL; ``*.ndjson``/``*.jsonl`` is an NDJSON export; any other URL scheme is
    refused (``mysql://x`` is not a file name); everything else is a SQLite file.
    """
    if target.startswith(_POSTGRES_SCHEMES) or "dbname=" in target:
        return "postgresql"
    if "://" in target:
        raise InvalidInput(f"unknown journal scheme {target.partition('://')[0]}://: "
                           "use postgresql://… or a file path")
    return "ndjson" if Path(target).suffix in (".ndjson", ".jsonl") else "sqlite"


def open_journal(
    target: str, *, schema: str = "solvent_journal", create: bool = False, read_only: bool = False,
    exclusive: bool = False,
) -> JournalBackend:
    """The backend for ``target``; an existing journal is required unless ``create``.

    ``read_only`` (for ``verify``, ``replay``, ``explain``, ``export``) writes nothing: no
    tables, no schema, no WAL switch; a target that is not a journal is refused.
    ``exclusive`` (a writer: the service) locks the journal against a second writer.
    """
    kind = journal_kind(target)
    if kind == "postgresql":
        from solvent.journal.postgres_backend import PostgresBackend

        return PostgresBackend(target, schema, read_only=read_only, exclusive=exclusive)
    path = Path(target)
    if path.is_dir():
        raise InvalidInput(f"journal {target} is a directory; give a file")
    if (read_only or not create) and not path.is_file():
        raise InvalidInput(f"no journal at {target}")
    if kind == "ndjson":
        return NdjsonBackend(path)
    return SqliteBackend(path, read_only=read_only, exclusive=exclusive)
