"""The running venue: one engine, its command log and its event log, one writer at a time.

Every command goes through ``Venue.submit``: it waits its turn (``queue_depth`` counts the
waiting ones), is appended to the ``CommandLog`` (write-ahead), applied, and its events are
published with sequence numbers. Reads (``margin``, views) run on the same event loop
between commands, so they always see a state between two commands, never half of one.

Seam for the durable journal: pass a ``CommandLog`` that writes to ``solvent.journal``;
nothing else changes. Restoring from a journal at start-up is that journal's job (build the
``Engine`` from its replay, then hand it to ``Venue``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal

from solvent.engine import Command, CommandResult, Engine, EngineConfig, LiquidationPolicy, event_to_json
from solvent.engine.events import Accepted, InsuranceFundChanged, Rejected
from solvent.risk.venues import load_venue
from solvent.service.commandlog import CommandLog, InMemoryCommandLog
from solvent.service.eventlog import EventLog, LoggedEvent
from solvent.service.metrics import Metrics

__all__ = ["Submitted", "Venue", "default_engine"]


def default_engine(venue: str = "binance-usdm") -> Engine:
    """The embedded default: a bundled profile with liquidation on (book account ``book``)."""
    return Engine(EngineConfig(load_venue(venue), liquidation=LiquidationPolicy()))


@dataclass(frozen=True, slots=True)
class Submitted:
    command_seq: int
    result: CommandResult
    events: tuple[LoggedEvent, ...]


@dataclass(slots=True)
class Venue:
    engine: Engine
    log: CommandLog = field(default_factory=InMemoryCommandLog)
    events: EventLog = field(default_factory=EventLog)
    metrics: Metrics = field(default_factory=Metrics)
    insurance_history: list[tuple[int, int, Decimal]] = field(default_factory=list)
    """``(event seq, time ms, balance)`` after every change of the insurance fund, from the start."""
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _hash_cache: tuple[int, str] = (-1, "")

    def __post_init__(self) -> None:
        self.insurance_history.append((0, self.engine.state.now_ms, self.engine.state.insurance_fund))

    async def submit(self, cmd: Command) -> Submitted:
        """Append, apply and publish one command (in arrival order)."""
        self.metrics.queue_depth += 1
        try:
            async with self._lock:
                return self.submit_now(cmd)
        finally:
            self.metrics.queue_depth -= 1

    def submit_now(self, cmd: Command) -> Submitted:
        """The same without waiting: only for start-up, before the server accepts requests."""
        command_seq = self.log.append(cmd)
        result = self.engine.apply(cmd)
        self.metrics.count_command(type(cmd).__name__, result.accepted)
        bodies = [event_to_json(e) for e in result.events if not isinstance(e, Accepted | Rejected)]
        logged = self.events.publish(command_seq, self.engine.state.now_ms, bodies)
        self.metrics.count_events([str(e.body["type"]) for e in logged])
        for e, ev in zip(logged, [x for x in result.events if not isinstance(x, Accepted | Rejected)], strict=True):
            if isinstance(ev, InsuranceFundChanged):
                self.insurance_history.append((e.seq, e.time_ms, ev.balance))
        return Submitted(command_seq, result, tuple(logged))

    def state_hash(self) -> str:
        """The engine's state hash, cached per command."""
        n = len(self.log)
        if self._hash_cache[0] != n:
            self._hash_cache = (n, self.engine.state_hash())
        return self._hash_cache[1]
