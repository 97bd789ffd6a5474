"""The service's event history read back from the journal (``EventLog.archive``).

Every event the service publishes comes from one journaled command, and the command's record
holds its events as published (``published_bodies``), so an event no longer held in memory is
read back from its record. The archive reads through its own connection (a read-only one on a
SQLite file or PostgreSQL; the same object for an in-memory journal), so a read never runs
inside the writer's transaction and sees committed records only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from solvent.journal import JournalBackend, JournalError

__all__ = ["HIDDEN_EVENTS", "JournalArchive", "published_bodies"]

HIDDEN_EVENTS = frozenset({"Accepted", "Rejected"})
"""Engine events the service answers with but does not publish (the command's own verdict)."""


def published_bodies(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of a journal record the service publishes, in order."""
    return [e for e in record.get("events", ()) if e.get("type") not in HIDDEN_EVENTS]


class JournalArchive:
    """``EventArchive`` over a journal backend; ``owned``: close the backend with the archive."""

    def __init__(self, backend: JournalBackend, *, owned: bool) -> None:
        self.backend, self.owned = backend, owned

    def bodies(self, commands: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        out = {stored.seq: published_bodies(json.loads(stored.payload))
               for stored in self.backend.records_at(commands)}
        missing = [seq for seq in commands if seq not in out]
        if missing:
            raise JournalError(f"journal records {missing[:5]} hold published events but cannot be read back")
        return out

    def close(self) -> None:
        if self.owned:
            self.backend.close()
