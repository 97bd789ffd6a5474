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

from solvent.errors import InvalidInput
from solvent.journal.backend import JournalBackend, JournalError, NotAJournal, StoredRecord, StoredSnapshot
from solvent.journal.chain import ZERO_HASH, chain_hash
from solvent.journal.codec import CodecError, decode_record

__all__ = ["NdjsonBackend", "export_ndjson", "format_line", "import_ndjson", "parse_line", "read_export"]

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

    def records_at(self, seqs: Sequence[int]) -> Iterator[StoredRecord]:
        try:
            lines = _lines(self.path)
        except OSError as exc:
            raise JournalError(f"{self.path}: cannot read: {exc}") from None
        return iter([parse_line(seq, lines[seq]) for seq in seqs if 0 <= seq < len(lines)])

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


def import_ndjson(path: str | Path, target: JournalBackend, batch: int = 5_000,
                  records: Sequence[StoredRecord] | None = None) -> int:
    """Copy the records of an NDJSON file into an empty ``target`` (bytes unchanged).

    Before anything is written, every line must have the shape and every link of the hash
    chain must hold (``read_export``). ``records``: the file's records as ``read_export`` gave
    them (a caller that checks the export before it opens its target). ``verify`` on the
    result re-derives the events as well.
    """
    if next(iter(target.records(0)), None) is not None:
        raise InvalidInput("the import target already holds records: import into a new journal")
    if records is None:
        records = read_export(path)
    for chunk in _chunks(records, batch):
        target.append(chunk)
    return len(records)


def read_export(path: str | Path) -> list[StoredRecord]:
    """The records of an NDJSON export, checked: every line has the shape and every link of
    the hash chain holds (``H_n = SHA-256(H_{n-1} ‖ record_n)`` from the zero hash, record 0 a
    genesis record). A damaged or edited export is refused naming its first bad line
    (``NotAJournal``)."""
    records = list(NdjsonBackend(path).records(0)) if Path(path).exists() else []
    if not records:
        raise NotAJournal(f"{path} is not a journal export: it holds no records (no genesis record)")
    previous = ZERO_HASH
    for r in records:
        problem = r.damage or _link_problem(r, previous)
        if problem:
            raise NotAJournal(f"{path} is not an intact journal export: line {r.seq + 1}: {problem}")
        previous = r.hash
    return records


def _link_problem(record: StoredRecord, previous: str) -> str | None:
    """Why ``record`` is not the next link after ``previous``, or ``None``."""
    if chain_hash(previous, record.payload) != record.hash:
        return "hash mismatch (the record or its hash was altered, or a line is missing before it)"
    if record.seq == 0:
        try:
            genesis = decode_record(record.payload).kind == "genesis"
        except CodecError as exc:
            return str(exc)
        if not genesis:
            return "record 0 is not a genesis record"
    return None


def _chunks(items: Sequence[StoredRecord], size: int) -> Iterable[Sequence[StoredRecord]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
