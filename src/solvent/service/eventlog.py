"""The service's event log: every engine event with a sequence number, and its subscribers.

Sequence numbers start at 1 and never repeat. Publishing costs O(1) per event whatever the
number of subscribers: the event is appended and filed, and the subscribers waiting for news
are woken once (``wait_after``). Each subscriber keeps only a cursor and reads its own events
from the log with ``since`` (its account's index and the public one), so its work is its own
events and nothing is queued per connection. A reconnecting client asks for ``from_seq`` and
gets every event with ``seq ≥ from_seq`` exactly once, then the live ones. The stream drops a
subscriber whose cursor falls more than ``queue_size`` events behind the head (``LAGGING``);
it resumes from the last sequence number it saw. An event's stream message is encoded once
(``LoggedEvent.message``), however many subscribers send it.

Event bodies are kept in memory for the newest ``retention`` events. With an ``archive`` (the
service's journal: every event is in its command's record), an older event is read back from
the journal when asked for, so a ``from_seq`` resume or a history page reaches back to the
first event; memory then holds per event only its place in the indexes and its command's seq
and time (8-byte array entries). Without one (a bare log in a test), older events are gone and
asking for them is refused with ``RESUME_TOO_OLD``.

Every read costs O(log n + page), never O(history). The kept events are one list in sequence
order (the oldest leave from the front by an offset, compacted now and then: amortised O(1)),
so the event with ``seq`` s sits at a computable position. Each event's seq is also filed, in
order, under the account(s) it names, its type, each (account, type) pair and — for a
venue-wide public event — ``public`` and (``public``, type). ``since`` finds its start in each
relevant index by bisection, merges the indexes (``heapq.merge``) and stops at ``limit``; the
operator's unfiltered read is a slice, since seqs are contiguous. Retention drops a forgotten
event from every index it was filed under (always the front: it is the oldest).
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, MutableSequence, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import msgspec

from solvent.service.ws_frames import text_frame

__all__ = ["MAX_SEQ", "PUBLIC_TYPES", "EventArchive", "EventLog", "LoggedEvent", "Subscription"]

MAX_SEQ = 2**53
"""The largest event seq a client may name (``from_seq`` of the history pages and of the stream):
the largest integer JSON readers keep exact."""

PUBLIC_TYPES = frozenset({
    "MarkPriceChanged", "MarkPriceHeld", "IndexDropped", "LiquidationsPaused", "LiquidationsResumed",
    "FundingSettled", "Settled", "TimeAdvanced", "InsuranceFundChanged", "MaintenanceScaleChanged", "FundDrawdownAdl",
    "BackstopLossLimit", "ParamsChanged",
})
"""Venue-wide events that every subscriber sees; other events go only to the accounts they name."""

NAMED_REASONS = ("deficit ", "liquidation fee ", "collateral conversion ", "socialised loss rounding ",
                 "socialised loss ")
"""The reasons the engine writes with the account they concern after them (``engine/liquidation.py``,
``engine/venue_rules.py``): the insurance fund's public events and the socialised-loss charges
of other accounts. Only the whole venue (an operator) reads them so; every other reader gets
the reason without the account (``LoggedEvent.seen_by``: a trader saw who was liquidated and
their deficit; found by a new-user pass). The longer of two prefixes comes first."""

_ENCODER = msgspec.json.Encoder()


def _unnamed(body: dict[str, Any]) -> dict[str, Any] | None:
    """``body`` with a ``NAMED_REASONS`` reason cut to its prefix, or ``None`` if it has none."""
    reason = body.get("reason")
    if isinstance(reason, str):
        for prefix in NAMED_REASONS:
            if reason.startswith(prefix):
                return {**body, "reason": prefix.rstrip()}
    return None

_COMPACT_AFTER = 1024
"""A front offset past this many dropped entries (and past half the list) is compacted away."""


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    seq: int
    command_seq: int
    time_ms: int
    accounts: frozenset[str]
    body: dict[str, Any]
    _message: bytes | None = field(default=None, compare=False, repr=False)
    """``message()``, once it has been asked for."""
    _json: msgspec.Raw | None = field(default=None, compare=False, repr=False)
    """``raw_json()``, once it has been asked for."""
    _frame: bytes | None = field(default=None, compare=False, repr=False)
    """``frame()``, once it has been asked for."""
    _unnamed: LoggedEvent | None = field(default=None, compare=False, repr=False)
    """``seen_by`` a reader other than the whole venue, once it has been asked for."""

    def seen_by(self, scope: str | None) -> LoggedEvent:
        """The event as a subscriber of ``scope`` reads it: as it is for the whole venue
        (``None``), else without the account a ``NAMED_REASONS`` reason names (built once, kept,
        so its frame too is built once for every such reader)."""
        if scope is None:
            return self
        twin = self._unnamed
        if twin is None:
            body = _unnamed(self.body)
            twin = self if body is None else LoggedEvent(self.seq, self.command_seq, self.time_ms, self.accounts, body)
            object.__setattr__(self, "_unnamed", twin)  # a cache: the event's fields never change
        return twin

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "command_seq": self.command_seq, "time_ms": self.time_ms, **self.body}

    def raw_json(self) -> msgspec.Raw:
        """``to_json()`` encoded, once, as a ``msgspec.Raw`` that an encoder writes as it is: a
        history page of many readers is then encoded once per event, not once per read."""
        encoded = self._json
        if encoded is None:
            encoded = msgspec.Raw(_ENCODER.encode(self.to_json()))
            object.__setattr__(self, "_json", encoded)  # a cache: the event's fields never change
        return encoded

    def message(self) -> bytes:
        """The stream's message for this event as JSON bytes, encoded on first use and kept:
        ``{"type": "event", "seq", "command_seq", "time_ms", "event": body}``."""
        encoded = self._message
        if encoded is None:
            encoded = _ENCODER.encode({"type": "event", "seq": self.seq, "command_seq": self.command_seq,
                                       "time_ms": self.time_ms, "event": self.body})
            object.__setattr__(self, "_message", encoded)  # a cache: the event's fields never change
        return encoded

    def frame(self) -> bytes:
        """``message()`` as a whole WebSocket text frame (``ws_frames.text_frame``), built on
        first use and kept: the same bytes for every subscriber."""
        framed = self._frame
        if framed is None:
            framed = text_frame(self.message())
            object.__setattr__(self, "_frame", framed)
        return framed

    @property
    def is_public(self) -> bool:
        return not self.accounts and self.body.get("type") in PUBLIC_TYPES

    def visible_to(self, account_id: str | None) -> bool:
        """``account_id=None``: the whole venue (operators)."""
        return account_id is None or account_id in self.accounts or self.is_public


def _in_seq_order(a: list[LoggedEvent], b: list[LoggedEvent]) -> list[LoggedEvent]:
    """Two lists of events, each in seq order, as one."""
    return list(heapq.merge(a, b, key=lambda e: e.seq)) if a else b


def accounts_of(body: dict[str, Any]) -> frozenset[str]:
    return frozenset(str(body[k]) for k in ("account_id", "counterparty", "buyer_id", "seller_id") if k in body)


class EventArchive(Protocol):
    """Where events no longer held in memory are read back from (the journal)."""

    def bodies(self, commands: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """The published event bodies of each of ``commands`` (command seqs, ascending and
        distinct), in order: the same bodies ``publish`` was given for it."""
        ...

    def payload(self, seq: int) -> bytes | None:
        """The stored bytes of journal record ``seq`` (``None`` if there is none)."""
        ...


class _Seqs:
    """The ascending sequence numbers filed under one index key; the oldest leave from the front."""

    __slots__ = ("seqs", "start")

    def __init__(self) -> None:
        self.seqs: MutableSequence[int] = array("q")
        self.start = 0
        """Entries before ``start`` are forgotten (kept until a compaction)."""

    def drop_first(self) -> None:
        self.start += 1
        if self.start > _COMPACT_AFTER and self.start * 2 > len(self.seqs):
            del self.seqs[:self.start]  # O(what is left) once per as many drops: amortised O(1)
            self.start = 0

    def __len__(self) -> int:
        return len(self.seqs) - self.start


_K = TypeVar("_K")


def _file(index: dict[_K, _Seqs], key: _K, seq: int) -> None:
    filed = index.get(key)
    if filed is None:
        filed = index[key] = _Seqs()
    filed.seqs.append(seq)


def _unfile(index: dict[_K, _Seqs], key: _K) -> None:
    filed = index[key]
    filed.drop_first()
    if not filed:
        del index[key]


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


@dataclass(slots=True)
class EventLog:
    retention: int = 1_000_000
    queue_size: int = 10_000
    """How many events a stream subscriber may fall behind the head before it is dropped."""
    _dropped: dict[str | None, int] = field(default_factory=dict)
    """The last seq retention dropped that each scope saw: ``None`` for public events, an
    account id for its own (``lost_after``)."""
    _waiters: dict[str | None, set[asyncio.Future[None]]] = field(default_factory=dict)
    """Per subscriber scope (an account, ``PUBLIC_ONLY``, ``None`` for the whole venue): the
    futures its ``wait_after`` calls wait on, each its caller's own, resolved by the next
    ``publish`` of an event that scope sees."""
    _kept: list[LoggedEvent] = field(default_factory=list)
    """In seq order, contiguous; ``_kept[:_kept_start]`` are forgotten (until compacted)."""
    _kept_start: int = 0
    _next_seq: int = 1
    _subscribers: list[Subscription] = field(default_factory=list)
    _by_account: dict[str, _Seqs] = field(default_factory=dict)
    _by_type: dict[Any, _Seqs] = field(default_factory=dict)
    _by_account_type: dict[tuple[str, Any], _Seqs] = field(default_factory=dict)
    _public: _Seqs = field(default_factory=_Seqs)
    _public_by_type: dict[Any, _Seqs] = field(default_factory=dict)
    examined: int = 0
    """Index entries and events looked at by ``since`` so far: a work count for tests, which
    check that a read costs O(log n + page) (bisection steps aside)."""
    archive: EventArchive | None = None
    """Where events past ``retention`` are read back from (module docstring); ``None``: they are lost."""
    archive_reads: int = 0
    """Calls to the archive so far (for tests: each page of old events is one read)."""
    _command_of: MutableSequence[int] = field(default_factory=lambda: array("q"))
    """Per event (at ``seq - 1``): its command's seq, never decreasing (``_locate``)."""
    _time_of: MutableSequence[int] = field(default_factory=lambda: array("q"))
    """Per event (at ``seq - 1``): its ``time_ms``."""
    _orphans: dict[int, LoggedEvent] = field(default_factory=dict)
    """Events past ``retention`` of no journaled command (``command_seq`` 0), kept in memory."""
    recall: int = 50_000
    """How many events read back from the archive are kept (the most recently read)."""
    _recalled: OrderedDict[int, LoggedEvent] = field(default_factory=OrderedDict)
    listener: Callable[[list[LoggedEvent]], None] | None = None
    """Called with every published batch (the stream's fan-out: ``service/fanout.py``)."""

    @property
    def head_seq(self) -> int:
        """The last sequence number given (0 before any event)."""
        return self._next_seq - 1

    @property
    def first_seq(self) -> int:
        """The oldest sequence number still served (with an archive: 1, the first event)."""
        if self.archive is not None:
            return 1
        return self._memory_first

    @property
    def _memory_first(self) -> int:
        """The oldest sequence number whose event is held in memory."""
        return self._kept[self._kept_start].seq if self._kept_start < len(self._kept) else self._next_seq

    def publish(self, command_seq: int, time_ms: int, bodies: Iterable[dict[str, Any]]) -> list[LoggedEvent]:
        out = []
        located = max(command_seq, self._command_of[-1] if self._command_of else 0)  # 0: not journaled
        for body in bodies:
            event = LoggedEvent(self._next_seq, command_seq, time_ms, accounts_of(body), body)
            self._next_seq += 1
            self._kept.append(event)
            self._command_of.append(located)
            self._time_of.append(time_ms)
            self._file(event)
            out.append(event)
        while len(self._kept) - self._kept_start > self.retention:
            self._forget_oldest()
        if out and self._waiters:
            self._wake(out)
        if out and self.listener is not None:
            self.listener(out)
        return out

    def _wake(self, published: list[LoggedEvent]) -> None:
        """Resolve the waiters of every scope that sees one of ``published``: all of them for a
        public event, else the whole-venue one and the accounts named."""
        waiters = self._waiters
        if any(e.is_public for e in published):
            woken = list(waiters)
        else:
            woken = [None, *{a for e in published for a in e.accounts}]
        for scope in woken:
            for waiter in waiters.pop(scope, ()):
                if not waiter.done():
                    waiter.set_result(None)

    async def wait_after(self, seq: int, timeout: float, account_id: str | None = None) -> None:
        """Return once the log may hold an event after ``seq`` that ``account_id``'s scope sees
        (``None``: any event), or after ``timeout`` seconds: at once if anything was published
        after ``seq`` (the caller looks), else when an event that scope sees is.

        Each call waits on a future of its own, resolved by ``publish`` or by a timer: a
        subscriber costs one resolved future per wake-up (``asyncio.wait_for`` on a shared,
        shielded future cost about four times as much, and was a sixth of the server's time
        fanning price updates out to 100 subscribers)."""
        if self.head_seq > seq:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        waiting = self._waiters.get(account_id)
        if waiting is None:
            waiting = self._waiters[account_id] = set()
        waiting.add(waiter)
        timer = loop.call_later(timeout, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            if not waiter.done():  # cancelled: this caller is going away
                waiter.cancel()
            still = self._waiters.get(account_id)
            if still is not None:  # woken by the timer or cancelled: not popped by a publish
                still.discard(waiter)
                if not still:
                    del self._waiters[account_id]

    def _file(self, event: LoggedEvent) -> None:
        seq, kind = event.seq, event.body.get("type")
        _file(self._by_type, kind, seq)
        for account in event.accounts:
            _file(self._by_account, account, seq)
            _file(self._by_account_type, (account, kind), seq)
        if event.is_public:
            self._public.seqs.append(seq)
            _file(self._public_by_type, kind, seq)

    def _forget_oldest(self) -> None:
        """Drop the oldest kept event from memory. Without an archive it is gone: it leaves the
        front of each of its indexes too, and the scopes that saw it are marked (``lost_after``)."""
        event = self._kept[self._kept_start]
        self._kept_start += 1
        if self._kept_start > _COMPACT_AFTER and self._kept_start * 2 > len(self._kept):
            del self._kept[:self._kept_start]
            self._kept_start = 0
        if self.archive is not None:
            if not event.command_seq:
                self._orphans[event.seq] = event
            return
        kind = event.body.get("type")
        _unfile(self._by_type, kind)
        for account in event.accounts:
            _unfile(self._by_account, account)
            _unfile(self._by_account_type, (account, kind))
            self._dropped[account] = event.seq
        if event.is_public:
            self._public.drop_first()
            _unfile(self._public_by_type, kind)
            self._dropped[None] = event.seq

    def visible_after(self, seq: int, account_id: str | None) -> int:
        """How many kept events after ``seq`` ``account_id``'s scope sees (``None``: all of them)."""
        if account_id is None:
            return max(self.head_seq - max(seq, self.first_seq - 1), 0)
        return sum(len(f.seqs) - bisect.bisect_right(f.seqs, seq, f.start)
                   for f in (self._by_account.get(account_id), self._public) if f)

    def lost_after(self, seq: int, account_id: str | None) -> bool:
        """Whether retention dropped an event after ``seq`` that ``account_id``'s scope sees
        (``None``: any event): a reader at ``seq`` can then not go on gaplessly."""
        if account_id is None:
            return seq + 1 < self.first_seq
        return max(self._dropped.get(None, 0), self._dropped.get(account_id, 0)) > seq

    def _sources(self, account_id: str | None, types: frozenset[str]) -> list[_Seqs]:
        """The indexes whose union is the answer (for the operator without types: none, a slice)."""
        kinds = sorted(types)
        if account_id is None:
            found = [self._by_type.get(t) for t in kinds]
        else:
            found = [self._by_account_type.get((account_id, t)) for t in kinds]
            found += [self._public_by_type.get(t) for t in kinds]
        return [s for s in found if s]

    def since(self, from_seq: int, account_id: str | None = None, types: frozenset[str] | None = None,
              limit: int | None = None) -> list[LoggedEvent]:
        """Kept events with ``seq ≥ from_seq`` visible to ``account_id`` (and of ``types``), in
        sequence order, at most ``limit`` of them (``None``: all)."""
        if limit is not None and limit <= 0:
            return []
        if types is not None:
            sources = self._sources(account_id, types)
        elif account_id is None:
            return self._slice(from_seq, limit)
        else:
            sources = [s for s in (self._by_account.get(account_id), self._public) if s]
        return self._events(self._merged(sources, from_seq, limit))

    async def read(self, from_seq: int, account_id: str | None = None, types: frozenset[str] | None = None,
                   limit: int | None = None) -> list[LoggedEvent]:
        """``since``, with the events older than memory read from the archive in a worker
        thread, so that a long page of them never holds up the event loop. The page is chosen
        when called (a caller that read ``head_seq`` just before gets no event after it)."""
        if self.archive is None or (limit is not None and limit <= 0) or from_seq >= self._memory_first:
            return self.since(from_seq, account_id, types, limit)
        if types is not None:
            seqs = self._merged(self._sources(account_id, types), from_seq, limit)
        elif account_id is None:
            start = max(from_seq, 1)
            seqs = range(start, self._next_seq if limit is None else min(self._next_seq, start + limit))
            self.examined += len(seqs)
        else:
            seqs = self._merged([s for s in (self._by_account.get(account_id), self._public) if s], from_seq, limit)
        first = self._memory_first
        old = [s for s in seqs if s < first]  # a prefix, since seqs ascend
        if not old:
            return self._events(seqs)
        recalled, missing = self._recall(old)
        if missing:  # read back in a worker thread; only this (event loop) thread changes the log
            loaded = await asyncio.to_thread(self._load, missing)
            self._keep_recalled(loaded)
            recalled = _in_seq_order(recalled, loaded)
        return recalled + self._events(seqs[len(old):])  # memory may have moved on meanwhile: _events sees to it

    def _events(self, seqs: Sequence[int]) -> list[LoggedEvent]:
        """The events of ``seqs`` (ascending): from memory, older ones from the archive."""
        first = self._memory_first
        old = [s for s in seqs if s < first]  # a prefix, since seqs ascend
        kept, base = self._kept, self._kept[0].seq if self._kept else 0
        recent = [kept[s - base] for s in seqs[len(old):]]  # the list holds every seq from ``base`` on
        return self._archived(old) + recent if old else recent

    def _archived(self, seqs: list[int]) -> list[LoggedEvent]:
        """Events no longer in memory: the recently read ones recalled, the rest read back from
        the archive in one read."""
        recalled, missing = self._recall(seqs)
        if not missing:
            return recalled
        loaded = self._load(missing)
        self._keep_recalled(loaded)
        return _in_seq_order(recalled, loaded)

    def _recall(self, seqs: list[int]) -> tuple[list[LoggedEvent], list[int]]:
        """The events of ``seqs`` read back lately (or kept as orphans), and the seqs that are not."""
        out, missing, recalled = [], [], self._recalled
        for seq in seqs:
            event = recalled.get(seq) or self._orphans.get(seq)
            if event is None:
                missing.append(seq)
            else:
                out.append(event)
        for event in out:
            if event.seq in recalled:
                recalled.move_to_end(event.seq)
        return out, missing

    def _load(self, seqs: list[int]) -> list[LoggedEvent]:
        """Read ``seqs`` back from the archive (no orphan among them). It only reads what never
        changes once written, so ``read`` runs it in a worker thread."""
        assert self.archive is not None  # without one, the indexes forget what memory does
        bodies = self.archive.bodies(sorted({self._command_of[s - 1] for s in seqs}))
        self.archive_reads += 1
        out = []
        for seq in seqs:
            command = self._command_of[seq - 1]
            first = bisect.bisect_left(self._command_of, command) + 1  # the command's first event
            body = bodies[command][seq - first]
            out.append(LoggedEvent(seq, command, self._time_of[seq - 1], accounts_of(body), body))
        return out

    def _keep_recalled(self, events: list[LoggedEvent]) -> None:
        """Keep events read back, the ``recall`` most recently read (readers paging the same
        history, a page at a time, then share them as if they were in memory)."""
        recalled = self._recalled
        for event in events:
            recalled[event.seq] = event
        while len(recalled) > self.recall:
            recalled.popitem(last=False)

    def _slice(self, from_seq: int, limit: int | None) -> list[LoggedEvent]:
        """The operator's unfiltered page: seqs are contiguous, so positions are arithmetic."""
        memory_first = self._memory_first
        if from_seq < memory_first and self.archive is not None:
            stop = self._next_seq if limit is None else min(self._next_seq, max(from_seq, 1) + limit)
            self.examined += max(stop - max(from_seq, 1), 0)
            return self._events(range(max(from_seq, 1), stop))
        start = self._kept_start + max(from_seq - memory_first, 0)
        stop = len(self._kept) if limit is None else min(len(self._kept), start + limit)
        out = self._kept[start:stop]
        self.examined += len(out)
        return out

    def _merged(self, sources: list[_Seqs], from_seq: int, limit: int | None) -> Sequence[int]:
        """The first ``limit`` seqs ≥ ``from_seq`` of the union of ``sources`` (each sorted)."""
        if len(sources) == 1:
            filed = sources[0]
            i = bisect.bisect_left(filed.seqs, from_seq, filed.start)
            out = filed.seqs[i:] if limit is None else filed.seqs[i:i + limit]
            self.examined += len(out)
            return out
        merged: list[int] = []
        for seq in heapq.merge(*(self._walk(s, from_seq) for s in sources)):
            if merged and merged[-1] == seq:  # filed under two of the sources (not with today's keys)
                continue
            merged.append(seq)
            if limit is not None and len(merged) >= limit:
                break
        return merged

    def _walk(self, filed: _Seqs, from_seq: int) -> Iterator[int]:
        seqs = filed.seqs
        for i in range(bisect.bisect_left(seqs, from_seq, filed.start), len(seqs)):  # by index: no O(i) skip
            self.examined += 1
            yield seqs[i]

    def subscribe(self, account_id: str | None) -> tuple[Subscription, int]:
        """Register a subscriber (counted by ``subscriber_count``); returns it and ``head_seq``
        at that moment. It reads its backlog and then the live events with ``since``, page by
        page, so a subscriber from seq 0 costs its pages as it reads them, not the whole
        history at once."""
        sub = Subscription(account_id)
        self._subscribers.append(sub)
        return sub, self.head_seq

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)


@dataclass(slots=True, eq=False)
class Subscription:
    account_id: str | None
