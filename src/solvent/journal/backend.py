"""The storage port: what a journal backend must do, and an in-memory one for tests.

A backend stores records ``(seq, hash, payload)`` and snapshots. ``append`` must return only
once the records (and the snapshot, if any) are durable, all or nothing: that call is the
group commit. Backends never interpret payloads; checking them is ``replay``'s job.
Storing a snapshot drops all but the ``KEEP_SNAPSHOTS`` newest in the same transaction, so
snapshot storage stays a few copies of the current state instead of growing with history.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from solvent.errors import InvalidInput, SolventError

__all__ = [
    "KEEP_SNAPSHOTS",
    "JournalBackend", "JournalError", "JournalLocked", "MemoryBackend", "NotAJournal", "StoredRecord", "StoredSnapshot",
    "stored_snapshot",
]


KEEP_SNAPSHOTS = 3
"""Snapshots kept: the newest, and two older ones to fall back on if it is damaged."""


class JournalError(SolventError):
    """The journal cannot be read or written, or is damaged (the message names the record)."""


class JournalLocked(JournalError):
    """Another process holds the journal for writing."""


class NotAJournal(JournalError, InvalidInput):
    """What was named as a journal is not one (not a database, no journal tables, no schema)."""


@dataclass(frozen=True, slots=True)
class StoredRecord:
    seq: int
    hash: str
    payload: bytes
    damage: str = ""
    """Set by a backend that could not even split the stored bytes into hash and payload."""


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """Engine state after record ``seq``: ``chain_hash`` = H_seq, ``state_hash`` = the engine's,
    ``digest`` = SHA-256 of ``blob``."""

    seq: int
    chain_hash: str
    state_hash: str
    digest: str
    blob: bytes


class JournalBackend(Protocol):
    def append(self, records: Sequence[StoredRecord], snapshot: StoredSnapshot | None = None) -> None:
        """Store the records (consecutive seqs) and the snapshot durably, atomically."""
        ...

    def records(self, start: int = 0) -> Iterator[StoredRecord]:
        """Stored records with ``seq >= start`` in order."""
        ...

    def records_at(self, seqs: Sequence[int]) -> Iterator[StoredRecord]:
        """The stored records of ``seqs`` (ascending, distinct) in order; a seq with no record
        is left out."""
        ...

    def snapshots(self) -> Iterator[StoredSnapshot]:
        """Stored snapshots, newest first."""
        ...

    def close(self) -> None: ...


class MemoryBackend:
    """Everything in lists: for tests and for measuring the engine without I/O."""

    def __init__(self) -> None:
        self.stored: list[StoredRecord] = []
        self.stored_snapshots: list[StoredSnapshot] = []
        self.commits = 0

    def append(self, records: Sequence[StoredRecord], snapshot: StoredSnapshot | None = None) -> None:
        self.stored.extend(records)
        if snapshot is not None:
            self.stored_snapshots.append(snapshot)
            self.stored_snapshots = sorted(self.stored_snapshots, key=lambda s: s.seq)[-KEEP_SNAPSHOTS:]
        self.commits += 1

    def records(self, start: int = 0) -> Iterator[StoredRecord]:
        return iter([r for r in self.stored if r.seq >= start])

    def records_at(self, seqs: Sequence[int]) -> Iterator[StoredRecord]:
        stored = self.stored  # appended in seq order
        for seq in seqs:
            i = bisect.bisect_left(stored, seq, key=lambda r: r.seq)
            if i < len(stored) and stored[i].seq == seq:
                yield stored[i]

    def snapshots(self) -> Iterator[StoredSnapshot]:
        return iter(sorted(self.stored_snapshots, key=lambda s: -s.seq))

    def close(self) -> None:
        return None


def stored_snapshot(row: Sequence[object]) -> StoredSnapshot:
    """A snapshot row ``(seq, chain_hash, state_hash, digest, blob)`` as stored by a backend.

    A damaged column (NULL, a number where text belongs) does not stop recovery with a
    ``TypeError``: the snapshot comes back with a digest that names the damage, so recovery
    skips it (its digest cannot match) and reports which row and why.
    """
    seq = row[0]
    if not isinstance(seq, int):
        raise JournalError(f"snapshot row with a damaged seq column ({seq!r})")
    texts, blob = row[1:4], row[4]
    if all(isinstance(t, str) for t in texts) and isinstance(blob, (bytes, bytearray, memoryview)):
        return StoredSnapshot(seq, str(row[1]), str(row[2]), str(row[3]), bytes(blob))
    kinds = ", ".join(type(v).__name__ for v in row[1:])
    return StoredSnapshot(seq, "", "", f"damaged row {seq} (column types: {kinds})", b"")
