"""The service's event log: every engine event with a sequence number, and its subscribers.

Sequence numbers start at 1 and never repeat. A subscriber registers a bounded queue and
reads the backlog in the same step (no ``await`` in between), so nothing published between
the two can be missed: a reconnecting client asks for ``from_seq`` and gets every event with
``seq ≥ from_seq`` exactly once, then the live ones. A subscriber that falls more than its
queue behind is dropped (``lagged``) and resumes from the last sequence number it saw.

Events are kept for ``retention`` entries (the oldest are forgotten past that); asking for
an older ``from_seq`` is refused with ``RESUME_TOO_OLD``.

Every read costs O(log n + page), never O(history): each event is also filed, in sequence
order, under the account(s) it names, its type, each (account, type) pair, and — for a
venue-wide public event — ``public`` and (``public``, type). ``since`` finds its start in
each relevant index by bisection and merges them, stopping at ``limit``.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
from collections import deque
from collections.abc import Hashable, Iterable, Iterator
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

    @property
    def is_public(self) -> bool:
        return not self.accounts and self.body.get("type") in PUBLIC_TYPES

    def visible_to(self, account_id: str | None) -> bool:
        """``account_id=None``: the whole venue (operators)."""
        return account_id is None or account_id in self.accounts or self.is_public


def accounts_of(body: dict[str, Any]) -> frozenset[str]:
    return frozenset(str(body[k]) for k in ("account_id", "counterparty", "buyer_id", "seller_id") if k in body)


class _Filed:
    """Events of one index key in sequence order; the oldest leave from the front."""

    __slots__ = ("events", "seqs", "start")

    def __init__(self) -> None:
        self.events: list[LoggedEvent] = []
        self.seqs: list[int] = []
        self.start = 0

    def append(self, event: LoggedEvent) -> None:
        self.events.append(event)
        self.seqs.append(event.seq)

    def drop_first(self) -> None:
        self.start += 1
        if self.start > 1024 and self.start * 2 > len(self.seqs):  # compact: amortised O(1)
            del self.events[:self.start]
            del self.seqs[:self.start]
            self.start = 0

    def __len__(self) -> int:
        return len(self.seqs) - self.start

    def from_seq(self, seq: int) -> Iterator[LoggedEvent]:
        events = self.events
        for i in range(bisect.bisect_left(self.seqs, seq, self.start), len(events)):
            yield events[i]


def _keys(event: LoggedEvent) -> list[Hashable]:
    kind = event.body.get("type")
    keys: list[Hashable] = [("type", kind)]
    for account in event.accounts:
        keys += [("account", account), ("account-type", account, kind)]
    if event.is_public:
        keys += [("public",), ("public-type", kind)]
    return keys


@dataclass(slots=True)
class EventLog:
    retention: int = 1_000_000
    queue_size: int = 10_000
    _events: deque[LoggedEvent] = field(default_factory=deque)
    _next_seq: int = 1
    _subscribers: list[Subscription] = field(default_factory=list)
    _index: dict[Hashable, _Filed] = field(default_factory=dict)
    examined: int = 0
    """Events looked at by ``since`` so far (a work count for tests: O(log n + page) per call)."""

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
            for key in _keys(event):
                filed = self._index.get(key)
                if filed is None:
                    filed = self._index[key] = _Filed()
                filed.append(event)
            out.append(event)
            for sub in self._subscribers:
                if sub.lagged or not event.visible_to(sub.account_id):
                    continue
                try:
                    sub.queue.put_nowait(event)
                except asyncio.QueueFull:
                    sub.lagged = True
        while len(self._events) > self.retention:
            self._forget(self._events.popleft())
        return out

    def _forget(self, event: LoggedEvent) -> None:
        for key in _keys(event):
            filed = self._index[key]
            filed.drop_first()
            if not filed:
                del self._index[key]

    def _sources(self, account_id: str | None, types: frozenset[str] | None) -> list[Hashable] | None:
        """The index keys whose union is the answer; ``None``: every event (operator, all types)."""
        if account_id is None:
            return None if types is None else [("type", t) for t in sorted(types)]
        if types is None:
            return [("account", account_id), ("public",)]
        return [("account-type", account_id, t) for t in sorted(types)] + [("public-type", t) for t in sorted(types)]

    def since(self, from_seq: int, account_id: str | None = None, types: frozenset[str] | None = None,
              limit: int | None = None) -> list[LoggedEvent]:
        """Kept events with ``seq ≥ from_seq`` visible to ``account_id`` (and of ``types``), in
        sequence order, at most ``limit`` of them."""
        keys = self._sources(account_id, types)
        if keys is None:
            start = max(from_seq - self.first_seq, 0)
            stop = len(self._events) if limit is None else min(len(self._events), start + limit)
            out = [self._events[i] for i in range(start, stop)] if start < stop else []
            self.examined += len(out)
            return out
        streams = [self._counted(self._index[k].from_seq(from_seq)) for k in keys if k in self._index]
        merged: Iterable[LoggedEvent] = streams[0] if len(streams) == 1 else heapq.merge(*streams,
                                                                                        key=lambda e: e.seq)
        out = []
        for event in merged:
            if out and out[-1].seq == event.seq:  # an event filed under two of the keys
                continue
            out.append(event)
            if limit is not None and len(out) >= limit:
                break
        return out

    def _counted(self, events: Iterator[LoggedEvent]) -> Iterator[LoggedEvent]:
        for event in events:
            self.examined += 1
            yield event

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


@dataclass(slots=True)
class Subscription:
    account_id: str | None
    queue: asyncio.Queue[LoggedEvent]
    lagged: bool = False
