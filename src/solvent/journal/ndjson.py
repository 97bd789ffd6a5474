"""NDJSON journal files: export, import, and a simple append-only file backend.

Each line is ``{"h":"<H_n as 64 hex>","r":<canonical record bytes, verbatim>}`` followed by
``\\n``; line ``n + 1`` holds record ``seq = n``. The record bytes are copied, never
re-encoded, so an export hashes exactly like the journal it came from. Snapshots are not
exported (they are derived from the records).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from solvent.journal.backend import JournalBackend, JournalError, NotAJournal, StoredRecord, StoredSnapshot

__all__ = ["NdjsonBackend", "export_ndjson", "format_line", "import_ndjson", "parse_line"]

_HEAD = re.compile(rb'^\{"h":"([0-9a-f]{64})","r":')


def format_line(record: StoredRecord) -> bytes:
    return b'{"h":"' + record.hash.encode("ascii") + b'","r":' + record.payload + b"}\n"


def parse_line(seq: int, line: bytes) -> StoredRecord:
    """Split one line; a line that does not have the shape is returned with ``damage`` set."""
    if not line.endswith(b"\n"):
        return StoredRecord(seq, "", line, damage="truncated: the last line has no end of line")
    head = _HEAD.match(line)
    if head is None or not line.endswith(b"}\n"):
        return StoredRecord(seq, "", line, damage='malformed line (expected {"h":"<64 hex>","r":<record>})')
    return StoredRecord(seq, head.group(1).decode("ascii"), line[head.end():-2])


def _lines(path: Path) -> list[bytes]:
    """All lines, each with its end of line (read at once: no file handle outlives the call)."""
    return path.read_bytes().splitlines(keepends=True)


class NdjsonBackend:
    """Append-only NDJSON file; ``append`` writes, flushes and fsyncs. Keeps no snapshots."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.touch(exist_ok=True)

    def append(self, records: Sequence[StoredRecord], snapshot: StoredSnapshot | None = None) -> None:
        try:
            with self.path.open("ab") as fh:
                fh.write(b"".join(format_line(r) for r in records))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise JournalError(f"{self.path}: append failed: {exc}") from None

    def records(self, start: int = 0) -> Iterator[StoredRecord]:
        try:
            lines = _lines(self.path)
        except OSError as exc:
            raise JournalError(f"{self.path}: cannot read: {exc}") from None
        return iter([parse_line(seq, line) for seq, line in enumerate(lines) if seq >= start])

    def snapshots(self) -> Iterator[StoredSnapshot]:
        return iter(())

    def close(self) -> None:
        return None


def export_ndjson(source: JournalBackend, path: str | Path) -> int:
    """Write every record of ``source`` to ``path`` (replacing it); returns the count."""
    count = 0
    target = Path(path)
    with target.open("wb") as fh:
        for record in source.records(0):
            fh.write(format_line(record))
            count += 1
        fh.flush()
        os.fsync(fh.fileno())
    return count


def import_ndjson(path: str | Path, target: JournalBackend, batch: int = 5_000) -> int:
    """Copy the records of an NDJSON file into an empty ``target`` (bytes unchanged).

    Damaged lines are refused before anything is written (``JournalError`` names the line);
    run ``verify`` on the result to check the chain.
    """
    if next(iter(target.records(0)), None) is not None:
        raise JournalError("import target already holds records")
    records = list(NdjsonBackend(path).records(0)) if Path(path).exists() else []
    for r in records:
        if r.damage:
            raise NotAJournal(f"{path} is not a journal export: line {r.seq + 1}: {r.damage}")
    for chunk in _chunks(records, batch):
        target.append(chunk)
    return len(records)


def _chunks(items: Sequence[StoredRecord], size: int) -> Iterable[Sequence[StoredRecord]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
