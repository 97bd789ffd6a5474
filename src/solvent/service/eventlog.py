"""The service's event log: every engine event with a sequence number, and its subscribers.

Sequence numbers start at 1 and never repeat. A subscriber registers a bounded queue and
reads the backlog in the same step (no ``await`` in between), so nothing published between
the two can be missed: a reconnecting client asks for ``from_seq`` and gets every event with
``seq ≥ from_seq`` exactly once, then the live ones. A subscriber that falls more than its
queue behind is dropped (``lagged``) and resumes from the last sequence number it saw.

Events are kept for ``retention`` entries (the oldest are forgotten past that); asking for
an older ``from_seq`` is refused with ``RESUME_TOO_OLD``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PUBLIC_TYPES", "EventLog", "LoggedEvent", "Subscription"]

PUBLIC_TYPES = frozenset({
    "MarkPriceChanged", "MarkPriceHeld", "IndexDropped", "LiquidationsPaused", "LiquidationsResumed",
    "FundingSettled", "Settled", "TimeAdvanced", "InsuranceFundChanged",
})
"""Venue-wide events that every subscriber sees; other events go only to the accounts they name."""


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    seq: int
    command_seq: int
    time_ms: int
    accounts: frozenset[str]
    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "command_seq": self.command_seq, "time_ms": self.time_ms, **self.body}

    def visible_to(self, account_id: str | None) -> bool:
        """``account_id=None``: the whole venue (operators)."""
        if account_id is None:
            return True
        return account_id in self.accounts or (not self.accounts and self.body.get("type") in PUBLIC_TYPES)


def accounts_of(body: dict[str, Any]) -> frozenset[str]:
    return frozenset(str(body[k]) for k in ("account_id", "counterparty", "buyer_id", "seller_id") if k in body)


@dataclass(slots=True)
class Subscription:
    account_id: str | None
    queue: asyncio.Queue[LoggedEvent]
    lagged: bool = False


@dataclass(slots=True)
class EventLog:
    retention: int = 1_000_000
    queue_size: int = 10_000
    _events: deque[LoggedEvent] = field(default_factory=deque)
    _next_seq: int = 1
    _subscribers: list[Subscription] = field(default_factory=list)

    @property
    def head_seq(self) -> int:
        """The last sequence number given (0 before any event)."""
        return self._next_seq - 1

    @property
    def first_seq(self) -> int:
        """The oldest sequence number still kept."""
        return self._events[0].seq if self._events else self._next_seq

    def publish(self, command_seq: int, time_ms: int, bodies: Iterable[dict[str, Any]]) -> list[LoggedEvent]:
        out = []
        for body in bodies:
            event = LoggedEvent(self._next_seq, command_seq, time_ms, accounts_of(body), body)
            self._next_seq += 1
            self._events.append(event)
            out.append(event)
            for sub in self._subscribers:
                if sub.lagged or not event.visible_to(sub.account_id):
                    continue
                try:
                    sub.queue.put_nowait(event)
                except asyncio.QueueFull:
                    sub.lagged = True
        while len(self._events) > self.retention:
            self._events.popleft()
        return out

    def since(self, from_seq: int, account_id: str | None = None, types: frozenset[str] | None = None,
              limit: int | None = None) -> list[LoggedEvent]:
        """Kept events with ``seq ≥ from_seq`` visible to ``account_id`` (and of ``types``)."""
        start = max(from_seq - self.first_seq, 0)
        out: list[LoggedEvent] = []
        for event in itertools.islice(self._events, start, None):
            if event.visible_to(account_id) and (types is None or event.body.get("type") in types):
                out.append(event)
                if limit is not None and len(out) >= limit:
                    break
        return out

    def subscribe(self, account_id: str | None, from_seq: int) -> tuple[Subscription, list[LoggedEvent]]:
        """Register a subscriber and return the backlog from ``from_seq``, atomically."""
        sub = Subscription(account_id, asyncio.Queue(self.queue_size))
        backlog = self.since(from_seq, account_id)
        self._subscribers.append(sub)
        return sub, backlog

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
