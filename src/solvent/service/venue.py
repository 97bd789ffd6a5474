"""The running venue: one engine behind its journal, its event log, one writer at a time.

Every command goes through ``Venue.submit``. Commands wait in one queue (``queue_depth``
counts them); a single writer takes everything waiting (up to ``max_batch``), applies it to
the ``DurableEngine`` in arrival order, makes the batch durable with **one** journal commit
(group commit), and only then publishes the events and answers the callers. So nothing is
acknowledged — no HTTP answer, no stream event — before its journal record is durable.

The commit (write and fsync) runs in a worker thread (``_write``): the event loop keeps taking
requests meanwhile, and they join the next batch. Reads of the engine (``margin``, views,
what-if checks) wait for the commit in flight (``readable``, awaited before every such request),
so they never see a command that is applied but not yet durable.

At start the ``DurableEngine`` recovers the engine from the journal; ``Venue.open`` also
rebuilds the event log (sequence numbers, ``command_seq`` = journal seq, times) and the
insurance-fund history from the journal's records, so a restarted service answers the same.

Idempotent writes: a command submitted with a ``RequestKey`` (the client's
``Idempotency-Key`` and its caller) is journaled with it. A later submit with the same key
and the same command gets the first answer again (``Submitted``, events included) and
changes nothing; with a different command it is refused ``IDEMPOTENCY_KEY_REUSED``. A retry
that arrives while the first is still queued waits for it. The ``idempotency_keys`` most
recent keys are remembered (the oldest forgotten first), and the journal rebuilds the same
set at start, so keys hold across restarts. A refused command is not journaled and its key
is not remembered: a retry is judged again, against the state as it then is.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import dataclasses
import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from solvent.engine import Command, CommandResult, Engine, EngineConfig, event_to_json
from solvent.engine.config import default_config
from solvent.engine.contract_value import notional
from solvent.engine.events import (
    Accepted,
    AutoDeleveraged,
    IndexDropped,
    InsuranceFundChanged,
    LiquidationsPaused,
    LiquidationStep,
    LossSocialised,
    MarkPriceChanged,
    MarkPriceHeld,
    Rejected,
)
from solvent.errors import InvalidInput
from solvent.journal import DurableEngine, JournalError, StoredRecord
from solvent.journal.chain import ZERO_HASH, chain_hash
from solvent.journal.codec import (
    REQUEST_VERSION,
    STREAM_SCOPE,
    CodecError,
    RequestKey,
    decode_request,
    log_position,
    recorded_request_body,
    request_body,
)
from solvent.journal.durable_engine import HeadNotRecorded
from solvent.journal.tlog import leaf_hash
from solvent.service.errors import ApiError, IdempotencyKeyReused, VenueUnavailable
from solvent.service.event_archive import JournalArchive, published_bodies
from solvent.service.eventlog import EventLog, LoggedEvent
from solvent.service.fanout import Fanout
from solvent.service.liqprice import LiquidationPrice, liquidation_prices
from solvent.service.metrics import Metrics
from solvent.service.risk_metrics import RiskCollector

__all__ = ["IDEMPOTENCY_KEYS", "Sequencer", "Submitted", "Venue", "default_config", "default_engine", "venue_config"]

log = logging.getLogger("solvent.service")

ADL_RANKS_MAX_AGE_S = 1.0
"""How stale the ADL queue lights served to accounts may be while commands keep coming."""
MIN_SEQ_WAIT_S = 5.0
"""How long a read naming a journal record (``at_least``) waits for this server's journal to hold it."""
EVENTS_IN_MEMORY = 100_000
"""Events whose bodies a venue with a journal archive keeps in memory (older ones are read back)."""


def venue_config(venue: str, settle: str | None = None) -> EngineConfig:
    """The embedded default on ``venue`` (liquidation on), margined in ``settle`` (default:
    the asset most of its instruments settle in); an asset none of its instruments settles in
    is refused, naming the ones that are."""
    config = default_config(venue)
    if settle is None:
        return config
    assets = sorted({i.settle for i in config.profile.instruments.values()})
    if settle not in assets:
        raise InvalidInput(f"--settle {settle}: no {venue} instrument settles in it (one of {', '.join(assets)})")
    return dataclasses.replace(config, settle_asset=settle)


def default_engine(venue: str = "binance-usdm") -> Engine:
    return Engine(default_config(venue))


class Sequencer(Protocol):
    """Where a venue's commands are put in order when it is not the venue's only writer:
    ``solvent serve --cluster`` publishes each to the venue's log (``cluster/serve.py``) and
    answers once the venue has applied it from there (``Venue.apply_logged``)."""

    async def submit(self, cmd: Command, request: RequestKey | None) -> Submitted: ...

    async def caught_up(self) -> None:
        """Return once the venue has applied what its log held when called (or soon after, if
        the log cannot say)."""


@dataclass(frozen=True, slots=True)
class Submitted:
    command_seq: int | None
    """The command's journal seq; ``None`` when the engine refused it (refusals are not journaled)."""
    result: CommandResult
    events: tuple[LoggedEvent, ...]
    journal_seq: int
    """The journal's last seq right after this command: the state a refusal was judged against."""


@dataclass(slots=True)
class _Waiting:
    cmd: Command
    done: asyncio.Future[Submitted]
    since: float
    """``Venue.clock`` when the command was submitted (for ``solvent_journal_lag_seconds``)."""
    request: RequestKey | None = None


_Staged = tuple[Command, int | None, CommandResult, int, int, RequestKey | None]
"""A command applied in a batch: its journal seq (``None``: refused), result, the engine's
time, the journal's seq right after it, and its idempotency key."""


@dataclass(frozen=True, slots=True)
class _Answered:
    """What an idempotency key first submitted, and the answer it got."""

    command: dict[str, Any]
    """``request_body`` of the command (``journal/codec.py``): a retry must submit the same one."""
    submitted: Submitted


IDEMPOTENCY_KEYS = 100_000
"""How many idempotency keys a venue remembers by default, per caller (API key): the most
recent ones. Each costs about 1 KB for a command with one event (more with more events)."""

_ACCEPTED = CommandResult(True, ())
"""The result a remembered answer carries: accepted; its events are the logged ones."""


@dataclass(slots=True)
class Venue:
    journal: DurableEngine
    events: EventLog = field(default_factory=EventLog)
    fanout: Fanout = field(default_factory=Fanout)
    """Pushes live events to caught-up stream subscribers (``service/fanout.py``)."""
    metrics: Metrics = field(default_factory=Metrics)
    insurance_history: list[tuple[int, int, Decimal]] = field(default_factory=list)
    """``(event seq, time ms, balance)`` after every change of the insurance fund, from the start."""
    max_batch: int = 1_024
    _queue: deque[_Waiting] = field(default_factory=deque)
    _writer: asyncio.Task[Any] | None = None
    _hash_cache: tuple[int, str] = (-1, "")
    clock: Callable[[], float] = time.monotonic
    _adl_cache: dict[str, tuple[int, float, dict[str, int]]] = field(default_factory=dict)
    _liq_cache: dict[str, tuple[int, dict[tuple[str, str], LiquidationPrice]]] = field(default_factory=dict)
    _closed: bool = False
    failure: BaseException | None = None
    """The journal error that stopped the venue (it then refuses all commands: restart it)."""
    idempotency_keys: int = IDEMPOTENCY_KEYS
    """How many of the most recent idempotency keys are remembered (module docstring)."""
    _answered: dict[str, OrderedDict[str, _Answered]] = field(default_factory=dict)
    """Per caller (``RequestKey.scope``): its most recent keys, oldest first."""
    _pending: dict[RequestKey, tuple[dict[str, Any], asyncio.Future[Submitted]]] = field(default_factory=dict)
    _idle: asyncio.Event | None = None
    _grew: asyncio.Event | None = None
    """Set, and replaced, at each commit (``at_least`` waits on it)."""
    log_leaves: list[bytes] = field(default_factory=list)
    """RFC 9162 leaf hash of every durable journal record, in seq order (``journal/tlog.py``):
    what the service's checkpoints and proofs are computed from (``service/checkpoints.py``)."""
    sequencer: Sequencer | None = None
    """Set: commands are ordered by it (the venue's log), not by this venue's own queue."""
    follows_log: bool = False
    """The journal is a copy of a venue's log (``serve --cluster``); without it such a journal is
    refused at ``open``: served alone, its next command would fork it from the log."""
    logged: deque[tuple[int, str, Submitted]] = field(default_factory=deque)
    """With ``follows_log``: ``(stream sequence, message id, answer)`` of the newest journaled
    commands published under an id (``idempotency_keys`` of them), rebuilt from the journal, for
    the sequencer to answer retries of them after a restart (``cluster/serve.py``)."""
    stopped: str | None = None
    """Why the venue stopped, when ``failure`` is not the journal's (its log was lost)."""
    log_tip: tuple[int, str] = (0, ZERO_HASH)
    """(leaves, the chain hash of the last of them), replaced whole after the leaves grow: a
    reader takes it once and has a size whose leaves are all there, with its head."""
    """Cleared while a journal commit runs in the writer's thread (``readable``)."""
    """Keys whose command is queued and not yet answered (removed by the writer once it is)."""

    def __post_init__(self) -> None:
        self.events.listener = self.fanout.published
        self.metrics.registry.register(RiskCollector(self))
        engine = self.journal.engine
        self.metrics.know_asset(engine.config.settle_asset)
        for symbol, market in engine.state.markets.items():
            if market.mark is not None:
                self.metrics.know_symbol(symbol)

    @classmethod
    def open(cls, journal: DurableEngine, archive: JournalArchive | None = None, **kwargs: Any) -> Venue:
        """A venue on a recovered journal, its event log rebuilt from the journal's records.
        With ``archive`` (the same journal, read back) the log keeps only the newest events in
        memory and serves older ones from the journal (``EventLog``)."""
        venue = cls(journal, **kwargs)
        if archive is not None:
            venue.events.archive = archive
            venue.events.retention = min(venue.events.retention, EVENTS_IN_MEMORY)
        venue._rebuild()
        journal.check_tree(venue.log_leaves)
        journal.on_commit = venue._leaves_committed
        return venue

    def _leaves_committed(self, records: Sequence[StoredRecord]) -> None:
        """A batch is durable: its records become leaves of the checkpoint tree."""
        self.log_leaves.extend(leaf_hash(r.payload) for r in records)
        self.log_tip = (len(self.log_leaves), records[-1].hash)

    @property
    def engine(self) -> Engine:
        """The engine, for reads. After a journal failure its state may hold commands that
        never became durable, so every read is refused (503 ``JOURNAL_FAILED``) until a
        restart recovers the journaled state: reads never show what is not durable."""
        if self.failure is not None:
            if self.stopped is not None:
                raise VenueUnavailable("LOG_LOST", self.stopped)
            raise VenueUnavailable("JOURNAL_FAILED", f"the journal failed ({type(self.failure).__name__}); "
                                   "the in-memory state may hold commands that are not durable: restart the service")
        return self.journal.engine

    @property
    def head_hash(self) -> str:
        """The journal's head hash (H of its last record)."""
        return self.journal.head_hash

    @property
    def journal_seq(self) -> int:
        """Seq of the journal's last record (journaled commands and checkpoint records)."""
        return self.journal.seq

    def _rebuild(self) -> None:
        genesis = Engine(self.engine.config, checked=False).state  # the journal's genesis, as recorded
        now_ms = genesis.now_ms
        self.insurance_history.append((0, now_ms, genesis.insurance_fund))
        head = ZERO_HASH
        for stored in self.journal.backend.records(0):
            if stored.seq > self.journal.seq:
                break
            # Recovery checked the newest snapshot and the records after it; the history served
            # here comes from every record, so every link is checked too (a hash per record): a
            # record edited behind the snapshot stops the start instead of being served.
            head = chain_hash(head, stored.payload)
            self.log_leaves.append(leaf_hash(stored.payload))
            self.log_tip = (len(self.log_leaves), head)
            if head != stored.hash:
                raise JournalError(f"record {stored.seq}: hash mismatch while rebuilding the event history "
                                   "(a record behind the newest snapshot was altered): run `solvent verify`")
            if stored.seq == 0:
                continue
            record = json.loads(stored.payload)  # plain JSON: decode_record tripled the start-up time
            command = record.get("input") or {}
            if command.get("type") == "AdvanceTime":
                now_ms = int(command["now_ms"])
            bodies = published_bodies(record)
            logged = self.events.publish(stored.seq, now_ms, bodies)
            for e in logged:
                if e.body.get("type") == "InsuranceFundChanged":
                    self.insurance_history.append((e.seq, e.time_ms, Decimal(str(e.body["balance"]))))
            if record.get("v") == REQUEST_VERSION or "request" in record:  # submitted with an idempotency key
                try:
                    request = decode_request(record)
                except CodecError as exc:
                    raise JournalError(f"record {stored.seq}: {exc} (run `solvent verify`)") from None
                if not request.scope.startswith(STREAM_SCOPE):
                    self._remember(request, recorded_request_body(record),
                                   Submitted(stored.seq, _ACCEPTED, tuple(logged), stored.seq))
                elif not self.follows_log:  # a log position: this journal is a copy of a venue's log
                    stream = request.scope.removeprefix(STREAM_SCOPE)
                    raise InvalidInput(f"this journal is a copy of the venue log {stream} (record {stored.seq}): "
                                       "serve it with `solvent serve --cluster … --cluster-venue` (alone, its next "
                                       "command would fork it from the log)")
                else:
                    position, msg_id = log_position(request)
                    if msg_id is not None:
                        self.logged.append((position, msg_id, Submitted(stored.seq, _ACCEPTED, tuple(logged),
                                                                        stored.seq)))
                        if len(self.logged) > self.idempotency_keys:
                            self.logged.popleft()
        if head != self.journal.head_hash:
            raise JournalError(f"the journal's records end at a different head than recovery found "
                               f"({head[:16]}… vs {self.journal.head_hash[:16]}…)")
        for reason in self.journal.recovery.skipped_snapshots:
            log.warning("snapshot skipped at recovery", extra={"reason": reason})
        if self.journal.seq:
            log.info("recovered from the journal", extra={
                "journal_seq": self.journal.seq, "head_hash": self.head_hash, "events": self.events.head_seq,
                "snapshot_seq": self.journal.recovery.snapshot_seq})

    async def submit(self, cmd: Command, request: RequestKey | None = None) -> Submitted:
        """Apply, journal (durably) and publish one command, in arrival order; with a
        ``request`` key, at most once (module docstring). With a ``sequencer``, the command is
        ordered by it and applied when it comes back (``apply_logged``)."""
        self.check_open()
        if self.sequencer is not None:
            return await self.sequencer.submit(cmd, request)
        encoded = request_body(cmd) if request is not None else {}
        while request is not None:
            known = self.answered(request)
            if known is not None:
                return self._retried(request, known.command, encoded, known.submitted)
            waiting = self._pending.get(request)
            if waiting is None:
                break
            first = await asyncio.shield(waiting[1])
            if first.command_seq is not None or waiting[0] == encoded:
                return self._retried(request, waiting[0], encoded, first)
            # the first was refused, so the key is free: this other request is judged on its own
        done: asyncio.Future[Submitted] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(cmd, done, self.clock(), request))
        if request is not None:
            self._pending[request] = (encoded, done)
        self.metrics.queue_depth += 1
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        try:
            return await asyncio.shield(done)
        finally:
            self.metrics.queue_depth -= 1

    async def account_known(self, account_id: str) -> bool:
        """Whether the venue holds ``account_id``. With a ``sequencer``, an account this server
        has not seen yet is looked for again once it has applied what the log holds now: a
        server a little behind the others answers as they do, not 404 from its own lag."""
        if account_id in self.engine.state.accounts:
            return True
        if self.sequencer is None:
            return False
        await self.sequencer.caught_up()
        await self.readable()
        return account_id in self.engine.state.accounts

    def answered(self, request: RequestKey) -> _Answered | None:
        """What ``request`` first submitted and was answered, while its key is remembered."""
        mine = self._answered.get(request.scope)
        return None if mine is None else mine.get(request.key)

    def _retried(self, request: RequestKey, first: dict[str, Any], again: dict[str, Any],
                 answer: Submitted) -> Submitted:
        """The first answer for a retry of the same command; ``IdempotencyKeyReused`` for another."""
        if first != again:
            raise IdempotencyKeyReused(request.key, answer.command_seq)
        self.metrics.count_idempotent_replay()
        return answer

    def _remember(self, request: RequestKey, command: dict[str, Any], submitted: Submitted) -> None:
        """Keep the answer (its logged events and seqs, not the engine's event objects) under
        the caller's keys; each caller keeps its own ``idempotency_keys`` most recent, so no
        caller can push another's keys out."""
        slim = Submitted(submitted.command_seq, _ACCEPTED, submitted.events, submitted.journal_seq)
        mine = self._answered.setdefault(request.scope, OrderedDict())
        mine[request.key] = _Answered(command, slim)
        mine.move_to_end(request.key)
        while len(mine) > self.idempotency_keys:
            mine.popitem(last=False)

    def _settled(self, waiting: _Waiting) -> None:
        """The writer answered ``waiting``: its key is no longer pending (answered or refused).
        Done here, not by the caller, so a caller that gave up (cancelled) leaves the key
        pending until its command is decided, and a retry meanwhile waits for it."""
        request = waiting.request
        if request is not None and self._pending.get(request, (None, None))[1] is waiting.done:
            del self._pending[request]

    async def _write(self) -> None:
        """The writer: apply what is waiting, make it durable off the event loop, then answer.

        The journal commit (write and fsync) runs in a worker thread, so the loop keeps taking
        requests meanwhile (they join the next batch: batches grow with load) and keeps serving
        the stream. Reads of the engine wait for the commit in flight (``readable``): a read
        never sees a command that is applied but not yet durable."""
        while self._queue:
            await asyncio.sleep(0)  # let requests that are ready join this batch
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), self.max_batch))]
            cmds = [w.cmd for w in batch]
            try:
                staged = self._stage(cmds, [w.request for w in batch])
                outcomes = self._publish(staged, await self._made_durable(len(staged), len(cmds)))
            except BaseException as exc:
                for w in batch:
                    self._settled(w)
                    if not w.done.done():
                        w.done.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            durable = self.clock()
            for w, out in zip(batch, outcomes, strict=True):
                self.metrics.observe_lag(durable - w.since)
                self._settled(w)
                if not w.done.done():
                    w.done.set_result(out)

    def _committing(self) -> None:
        if self._idle is None:
            self._idle = asyncio.Event()
        self._idle.clear()

    def _committed(self) -> None:
        if self._idle is not None:
            self._idle.set()
        if self._grew is not None:
            self._grew.set()
            self._grew = None

    async def at_least(self, seq: int, wait_s: float | None = None) -> None:
        """Return once the journal holds record ``seq``, durable (``readable``): a read naming the
        ``command_seq`` a write was answered with sees that write, on this server or, with
        ``serve --cluster``, on any other (their journals are the same record for record).
        503 ``BEHIND`` if the journal has not reached it after ``wait_s`` (``MIN_SEQ_WAIT_S``)."""
        wait_s = MIN_SEQ_WAIT_S if wait_s is None else wait_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            await self.readable()  # no commit in flight: every record the journal counts is durable
            if self.journal_seq >= seq:
                return
            left = deadline - loop.time()
            if left <= 0:
                raise ApiError(503, "BEHIND", {"Retry-After": "1"}, journal_seq=self.journal_seq, min_seq=seq,
                               detail=f"this server's journal holds records up to {self.journal_seq}, not yet "
                                      f"{seq}, after {wait_s:g} s")
            if self._grew is None:
                self._grew = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._grew.wait(), left)

    async def readable(self) -> None:
        """Return once no journal commit is in flight: the engine then holds durable commands only
        (until the caller's next await). Checked again on waking: the writer may have staged the
        next batch before this coroutine ran."""
        idle = self._idle
        while idle is not None and not idle.is_set():
            await idle.wait()
            idle = self._idle

    async def apply_logged(self, cmds: list[Command], positions: list[RequestKey]) -> list[Submitted]:
        """Apply commands in the order the venue's log gave them (``Sequencer``), each journaled
        with its log position as its request key, make them durable in one commit, publish their
        events and answer them, as the writer does its batches. Runs as the venue's writer task,
        so ``settle`` and ``close`` wait for a batch in flight, even one whose caller was cancelled."""
        self.check_open()
        task = asyncio.create_task(self._apply_logged(cmds, positions))
        self._writer = task
        return await asyncio.shield(task)

    async def _apply_logged(self, cmds: list[Command], positions: list[RequestKey]) -> list[Submitted]:
        staged = self._stage(cmds, list(positions))
        commit_s = await self._made_durable(len(staged), len(cmds))
        # a log position is no caller's idempotency key: nothing to remember under it
        return self._publish([(cmd, seq, result, now, after, None) for cmd, seq, result, now, after, _ in staged],
                             commit_s)

    async def _made_durable(self, staged: int, batch: int) -> float:
        """The staged records made durable in a worker thread, reads waiting meanwhile
        (``readable``); the seconds it took."""
        started = self.clock()
        self._committing()
        try:
            await asyncio.to_thread(self._flush, staged, batch)
        finally:
            self._committed()
        return self.clock() - started

    def submit_now(self, cmd: Command) -> Submitted:
        """The same without waiting: only for start-up, before the server accepts requests."""
        return self._commit([cmd])[0]

    def submit_many_now(self, cmds: list[Command]) -> list[Submitted]:
        """Start-up batch: one journal commit for all of ``cmds``."""
        return self._commit(cmds)

    def _commit(self, cmds: list[Command], requests: list[RequestKey | None] | None = None) -> list[Submitted]:
        """Apply ``cmds``, make them durable in one journal commit, then publish their events
        (and remember the idempotency keys of the accepted ones): ``_write`` in one step, for
        start-up, before the server accepts requests."""
        staged = self._stage(cmds, requests or [None] * len(cmds))
        started = self.clock()
        self._flush(len(staged), len(cmds))
        return self._publish(staged, self.clock() - started)

    def _stage(self, cmds: list[Command], requests: list[RequestKey | None]) -> list[_Staged]:
        """Apply ``cmds`` to the engine and queue their records (not yet durable)."""
        self.check_open()
        staged: list[_Staged] = []
        try:
            for cmd, request in zip(cmds, requests, strict=True):
                ticket = self.journal.submit(cmd, request)
                staged.append((cmd, ticket.seq, ticket.result, self.engine.state.now_ms, self.journal.seq, request))
        except Exception as exc:  # an automatic flush inside submit failed
            self._journal_failed(exc, len(staged), len(cmds))
        return staged

    def _flush(self, staged: int, batch: int) -> None:
        """Make the staged records durable (one commit); run in a worker thread by ``_write``."""
        try:
            self.journal.flush()
        except Exception as exc:
            self._journal_failed(exc, staged, batch)

    def _journal_failed(self, exc: Exception, staged: int, batch: int) -> None:
        """The venue stops taking commands. Returns only when the whole batch is durable and
        only its head file failed (``HeadNotRecorded``): the batch is then answered."""
        self.failure = exc
        if isinstance(exc, HeadNotRecorded):
            log.error("journal head not recorded: the venue stops taking commands", exc_info=exc)
            if staged < batch:  # an automatic flush inside submit: not every command was taken
                raise VenueUnavailable("JOURNAL_FAILED", "the journal head could not be recorded; commands "
                                       f"through record {self.journal.seq} are durable, this one may not be") from exc
            return
        log.error("journal write failed: the venue stops taking commands", exc_info=exc)
        raise VenueUnavailable("JOURNAL_FAILED", f"the journal failed ({type(exc).__name__}); "
                               "this command is not durable") from exc

    def _publish(self, staged: list[_Staged], commit_s: float) -> list[Submitted]:
        """Publish the durable batch's events and build the answers."""
        self.metrics.count_commit(len(staged), commit_s)
        out = []
        for cmd, seq, result, now_ms, journal_seq, request in staged:
            self.metrics.count_command(type(cmd).__name__, result.accepted)
            shown = [e for e in result.events if not isinstance(e, Accepted | Rejected)]
            logged = self.events.publish(seq or 0, now_ms, [event_to_json(e) for e in shown])
            self.metrics.count_events([str(e.body["type"]) for e in logged])
            for e, ev in zip(logged, shown, strict=True):
                if isinstance(ev, MarkPriceChanged):
                    self.metrics.know_symbol(ev.symbol)
                elif isinstance(ev, InsuranceFundChanged):
                    self.insurance_history.append((e.seq, e.time_ms, ev.balance))
                elif isinstance(ev, LiquidationStep):
                    inst = self.journal.engine.config.profile.instrument(ev.symbol)
                    value = notional(ev.qty * inst.contract_size, ev.price, inst.is_inverse)
                    self.metrics.observe_liquidation(ev.symbol, ev.kind, float(value))
                elif isinstance(ev, LossSocialised):
                    self.metrics.observe_socialised(self.journal.engine.config.settle_asset, float(ev.amount))
                elif isinstance(ev, AutoDeleveraged):
                    self.metrics.observe_adl(ev.symbol)
                elif isinstance(ev, MarkPriceHeld):
                    self.metrics.observe_guard(ev.symbol, "mark_held")
                elif isinstance(ev, IndexDropped):
                    self.metrics.observe_guard(ev.symbol, "index_dropped")
                elif isinstance(ev, LiquidationsPaused):
                    self.metrics.observe_guard(ev.symbol, "liquidations_paused")
            submitted = Submitted(seq, result, tuple(logged), journal_seq)
            if request is not None and seq is not None:
                self._remember(request, request_body(cmd), submitted)
            out.append(submitted)
        return out

    def check_open(self) -> None:
        """``VenueUnavailable`` unless the venue takes commands."""
        if self.failure is not None:
            if self.stopped is not None:
                raise VenueUnavailable("LOG_LOST", self.stopped)
            raise VenueUnavailable("JOURNAL_FAILED", f"the journal failed ({type(self.failure).__name__}); "
                                   "no command is taken until the service is restarted")
        if self._closed:
            raise VenueUnavailable("VENUE_CLOSED", "the venue is shutting down")

    def insurance_page(self, from_seq: int, limit: int) -> list[tuple[int, int, Decimal]]:
        """At most ``limit`` entries of ``insurance_history`` with event seq ≥ ``from_seq``
        (the history is in seq order: found by bisection, never scanned)."""
        start = bisect.bisect_left(self.insurance_history, from_seq, key=lambda entry: entry[0])
        return self.insurance_history[start:start + limit]

    def adl_ranks(self, symbol: str) -> dict[str, int]:
        """``Engine.adl_ranks(symbol)``, recomputed at most once per ``ADL_RANKS_MAX_AGE_S`` while
        commands keep coming (exact when none came since): ranking every holder on each read
        would let one account key's reads cost O(holders) at its full rate."""
        seq, now = self.journal.seq, self.clock()
        cached = self._adl_cache.get(symbol)
        if cached is not None and (cached[0] == seq or now - cached[1] < ADL_RANKS_MAX_AGE_S):
            return cached[2]
        ranks = self.engine.adl_ranks(symbol)
        self._adl_cache[symbol] = (seq, now, ranks)
        return ranks

    def liquidation_prices(self, account_id: str) -> dict[tuple[str, str], LiquidationPrice]:
        """``liquidation_prices`` of ``account_id``, solved once per journal record: the engine
        changes only by journaled commands (a refusal changes nothing), so the answer at one
        journal seq is the answer until the next; every read between shares it."""
        engine, seq = self.engine, self.journal.seq
        cached = self._liq_cache.get(account_id)
        if cached is not None and cached[0] == seq:
            return cached[1]
        prices = liquidation_prices(engine.state.accounts[account_id], engine.margin(account_id), engine.margin_view())
        self._liq_cache[account_id] = (seq, prices)
        return prices

    def state_hash(self) -> str:
        """The engine's state hash, cached per journal record (refusals change nothing)."""
        n = self.journal.seq
        if self._hash_cache[0] != n:
            self._hash_cache = (n, self.engine.state_hash())
        return self._hash_cache[1]

    async def settle(self) -> None:
        """Wait until every queued command is applied and durable."""
        if self._writer is not None and not self._writer.done():
            await asyncio.gather(self._writer, return_exceptions=True)
        if not self._closed and self.failure is None:
            self.journal.flush()

    async def close(self) -> None:
        """Finish the queued commands, flush and close the journal (idempotent)."""
        if self._closed:
            return
        await self.settle()
        self.close_now()

    def close_now(self) -> None:
        if self._closed:
            return
        self._closed = True
        archive = self.events.archive
        try:
            if isinstance(archive, JournalArchive):
                archive.close()
        finally:
            if self.failure is None:
                self.journal.close()
            else:
                self.journal.backend.close()
        log.info("journal closed", extra={"journal_seq": self.journal.seq, "head_hash": self.head_hash})
