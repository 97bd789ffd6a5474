"""The service's event history read back from the journal (``EventLog.archive``).

Every event the service publishes comes from one journaled command, and the command's record
holds its events as published (``published_bodies``), so an event no longer held in memory is
read back from its record. The archive reads through its own connection (a read-only one on a
SQLite file or PostgreSQL; the same object for an in-memory journal), so a read never runs
inside the writer's transaction and sees committed records only.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from solvent.journal import JournalBackend, JournalError, StoredRecord

__all__ = ["HIDDEN_EVENTS", "JournalArchive", "published_bodies"]

HIDDEN_EVENTS = frozenset({"Accepted", "Rejected"})
"""Engine events the service answers with but does not publish (the command's own verdict)."""


def published_bodies(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of a journal record the service publishes, in order."""
    return [e for e in record.get("events", ()) if e.get("type") not in HIDDEN_EVENTS]


CACHED_COMMANDS = 8_192
"""Commands whose published bodies an archive keeps decoded (the most recently read)."""


class JournalArchive:
    """``EventArchive`` over a journal backend.

    ``reopen``: how to open the backend again (a read-only connection of the archive's own,
    closed with it); then a read that fails (a dropped database connection, a restarted
    server) is tried once more on a new connection before it is refused. Without it the
    backend is shared (an in-memory journal) and never closed here. Reads come from worker
    threads (``EventLog.read``), one at a time; the bodies of the ``CACHED_COMMANDS`` most
    recently read commands are kept decoded, so readers paging the same history share them.
    """

    def __init__(self, backend: JournalBackend, reopen: Callable[[], JournalBackend] | None = None) -> None:
        self.backend, self.reopen = backend, reopen
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()

    def bodies(self, commands: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        with self._lock:
            out: dict[int, list[dict[str, Any]]] = {}
            wanted = []
            for seq in commands:
                cached = self._cache.get(seq)
                if cached is None:
                    wanted.append(seq)
                else:
                    self._cache.move_to_end(seq)
                    out[seq] = cached
            if wanted:
                for seq, bodies in self._read(wanted).items():
                    out[seq] = self._cache[seq] = bodies
                while len(self._cache) > CACHED_COMMANDS:
                    self._cache.popitem(last=False)
            return out

    def payload(self, seq: int) -> bytes | None:
        """The stored bytes of record ``seq`` (``None`` if there is none): what a proof of the
        record's inclusion carries."""
        with self._lock:
            stored = self._stored([seq])
        return stored[0].payload if stored and stored[0].seq == seq else None

    def _stored(self, seqs: list[int]) -> list[StoredRecord]:
        try:
            return list(self.backend.records_at(seqs))
        except JournalError:
            if self.reopen is None:
                raise
            with contextlib.suppress(Exception):
                self.backend.close()
            self.backend = self.reopen()  # once: a second failure is the caller's
            return list(self.backend.records_at(seqs))

    def _read(self, commands: list[int]) -> dict[int, list[dict[str, Any]]]:
        stored = self._stored(commands)
        out = {r.seq: published_bodies(json.loads(r.payload)) for r in stored}
        missing = [seq for seq in commands if seq not in out]
        if missing:
            raise JournalError(f"journal records {missing[:5]} hold published events but cannot be read back")
        return out

    def close(self) -> None:
        if self.reopen is not None:
            with self._lock:
                self.backend.close()
