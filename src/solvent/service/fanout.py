"""Live stream events pushed to every caught-up subscriber at once: O(events) work per batch,
plus one transport write per subscriber.

Each stream subscriber used to be a task that woke on every batch of events, read its page from
the log and wrote it: with 100 subscribers, those wake-ups and reads were the largest part of a
price update's time on the server. Here a subscriber whose pump has caught up with the log's
head (``stream._pump``) and writes raw frames (``ws_frames.RawStream``) *attaches*: from then on,
``Fanout.published`` (called by ``EventLog.publish``) collects new events, and once per loop
turn (``call_soon``: a whole writer batch at once) ``_flush`` builds the frames once, joins them
once per scope (the whole venue, or an account's own events and the public ones), and writes
each attached subscriber its bytes in one call. The pump only waits (and checks once a second
that its key still holds).

A subscriber is handed back to its pump (*detached*, at the last seq it was sent) when its
connection closes, or when its transport stops taking data (the client reads slower than the
venue publishes: ``pause_writing``). The pump then reads on from the log at its own pace, and is
closed 4008 ``LAGGING`` if it falls more than ``EventLog.queue_size`` events behind. Memory per
connection stays bounded by the transport's high-water mark plus one batch.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from solvent.service.eventlog import LoggedEvent
from solvent.service.ws_frames import RawStream

__all__ = ["Attached", "Fanout"]


@dataclass(slots=True, eq=False)
class Attached:
    """A caught-up subscriber the fan-out writes to. ``scanned``: every event up to it was
    looked at (sent if visible); ``sent``: the last seq written. ``handed_back`` resolves when
    the subscriber is detached: its pump then goes on from ``scanned``."""

    account_id: str | None
    raw: RawStream
    scanned: int
    sent: int
    handed_back: asyncio.Future[None]


@dataclass(slots=True)
class Fanout:
    _attached: list[Attached] = field(default_factory=list)
    _pending: list[LoggedEvent] = field(default_factory=list)
    _scheduled: bool = False
    flushes: int = 0
    """Batches written so far (for tests and the metrics)."""

    def attach(self, account_id: str | None, raw: RawStream, scanned: int, sent: int) -> Attached:
        """Take over a subscriber caught up through ``scanned`` (the log's head, with no await
        since it was read: nothing published in between is missed)."""
        sub = Attached(account_id, raw, scanned, sent, asyncio.get_running_loop().create_future())
        self._attached.append(sub)
        return sub

    def detach(self, sub: Attached) -> None:
        """Hand ``sub`` back to its pump (idempotent)."""
        if sub in self._attached:
            self._attached.remove(sub)
        if not sub.handed_back.done():
            sub.handed_back.set_result(None)

    @property
    def attached_count(self) -> int:
        return len(self._attached)

    def published(self, events: list[LoggedEvent]) -> None:
        """``EventLog.publish``'s listener: queue ``events`` for the next flush."""
        if not self._attached:
            return
        self._pending.extend(events)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        if not pending or not self._attached:
            return
        self.flushes += 1
        first, head = pending[0].seq, pending[-1].seq
        # per scope, the joined frames of the whole batch and its last seq: what every subscriber
        # of the scope that had looked at none of the batch is sent (one that attached after some
        # of it was published, its pump having sent those, is sent only the rest)
        shared: dict[str | None, tuple[bytes, int]] = {}
        for sub in list(self._attached):
            raw = sub.raw
            if not raw.open() or not raw.writable():
                self.detach(sub)  # closed, or a slow reader: its pump goes on from the log
                continue
            scope, whole = sub.account_id, sub.scanned < first
            blob = shared.get(scope) if whole else None
            if blob is None:
                mine = [e for e in pending if e.seq > sub.scanned and e.visible_to(scope)]
                blob = (b"".join(e.seen_by(scope).frame() for e in mine), mine[-1].seq if mine else 0)
                if whole:
                    shared[scope] = blob
            data, last = blob
            if data:
                raw.write_now(data)
                sub.sent = last
            sub.scanned = max(sub.scanned, head)  # a from_seq past the head keeps its place
