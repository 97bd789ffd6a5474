"""The service's Prometheus metrics, on ``prometheus_client`` (floats: statistics only, never money).

Each venue has its own registry (tests and embedders run several in one process). Counted as
the service works:

* ``solvent_http_request_duration_seconds`` histogram by method, route template and status
* ``solvent_engine_queue_depth`` commands waiting for the engine
* ``solvent_engine_commands_total`` by command and outcome
* ``solvent_events_total`` by event type; ``solvent_events_per_second`` over the last 10 s
* ``solvent_journal_commits_total``, ``solvent_journal_commands_committed_total`` (group commits
  and the commands they carried: their ratio is the mean batch size)
* ``solvent_journal_commit_duration_seconds`` histogram: one group commit (write and sync)
* ``solvent_journal_lag_seconds`` histogram: a command's wait from submission until durable
* ``solvent_liquidated_notional_total`` by symbol and kind (book, backstop), in the settlement
  asset; ``solvent_socialised_loss_total`` by asset
* ``solvent_adl_events_total`` by symbol: positions auto-deleveraged
* ``solvent_oracle_guard_trips_total`` by symbol and guard (``mark_held``: a jump held back;
  ``index_dropped``: a source left out of the index; ``liquidations_paused``)

Risk gauges read from the engine at scrape time are in ``service/risk_metrics.py``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from solvent.engine.events import STEP_KINDS

__all__ = ["BUCKETS_S", "CONTENT_TYPE", "GUARDS", "Metrics"]

BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
RATE_WINDOW_S = 10.0
CONTENT_TYPE = CONTENT_TYPE_LATEST
GUARDS = ("mark_held", "index_dropped", "liquidations_paused")
"""The oracle guards whose trips ``solvent_oracle_guard_trips_total`` counts."""


class Metrics:
    """Counters and histograms of one venue, in its own registry."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        self.label_names: dict[str, tuple[str, ...]] = {}
        """Sample name → its label names, for every labelled metric (also before its first sample)."""
        self.queue_depth = 0
        """Commands waiting for the engine (``Venue.submit`` keeps it)."""
        self._recent: deque[tuple[float, int]] = deque()
        self._symbols: set[str] = set()
        self._latency = self._histogram("solvent_http_request_duration_seconds", "HTTP request latency.",
                                        ("method", "route", "status"))
        self._commands = self._counter("solvent_engine_commands", "Commands applied, by outcome.",
                                       ("command", "outcome"))
        self._commits = self._counter("solvent_journal_commits", "Journal group commits.")
        self._replays = self._counter("solvent_idempotent_replays",
                                      "Requests answered again from their Idempotency-Key (nothing applied).")
        self._committed = self._counter("solvent_journal_commands_committed", "Commands made durable by those commits.")
        self._commit_s = self._histogram("solvent_journal_commit_duration_seconds",
                                         "One journal group commit: write and sync.")
        self._lag_s = self._histogram("solvent_journal_lag_seconds",
                                      "A command's wait from submission until it is durable.")
        self._events = self._counter("solvent_events", "Engine events published, by type.", ("type",))
        self._liquidated = self._counter("solvent_liquidated_notional",
                                         "Notional closed by liquidation, in the settlement asset.", ("symbol", "kind"))
        self._socialised = self._counter("solvent_socialised_loss",
                                         "Deficits neither the fund nor ADL covered, socialised.", ("asset",))
        self._adl = self._counter("solvent_adl_events", "Positions auto-deleveraged.", ("symbol",))
        self._guards = self._counter("solvent_oracle_guard_trips", "Oracle guard trips, by guard.",
                                     ("symbol", "guard"))
        depth = Gauge("solvent_engine_queue_depth", "Commands waiting for the engine.", registry=self.registry)
        depth.set_function(lambda: self.queue_depth)
        rate = Gauge("solvent_events_per_second", "Events published per second over the last 10 s.",
                     registry=self.registry)
        rate.set_function(self.events_per_second)

    def _counter(self, name: str, about: str, labels: tuple[str, ...] = ()) -> Counter:
        self.label_names[name + "_total"] = labels
        return Counter(name, about, labels, registry=self.registry)

    def _histogram(self, name: str, about: str, labels: tuple[str, ...] = ()) -> Histogram:
        for suffix in ("_bucket", "_sum", "_count"):
            self.label_names[name + suffix] = labels
        return Histogram(name, about, labels, buckets=BUCKETS_S, registry=self.registry)

    def know_symbol(self, symbol: str) -> None:
        """Start ``symbol``'s labelled counters at 0 (a counter that first appears at 5 reads as
        no increase to ``rate()``, and a panel of it shows no data until then)."""
        if symbol in self._symbols:
            return
        self._symbols.add(symbol)
        for kind in STEP_KINDS:
            self._liquidated.labels(symbol, kind)
        self._adl.labels(symbol)
        for guard in GUARDS:
            self._guards.labels(symbol, guard)

    def know_asset(self, asset: str) -> None:
        """Start ``asset``'s socialised-loss counter at 0 (as ``know_symbol``)."""
        self._socialised.labels(asset)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self._latency.labels(method, route, str(status)).observe(seconds)

    def count_command(self, command: str, accepted: bool) -> None:
        self._commands.labels(command, "accepted" if accepted else "rejected").inc()

    def count_idempotent_replay(self) -> None:
        self._replays.inc()

    def count_commit(self, commands: int, seconds: float) -> None:
        self._commits.inc()
        self._committed.inc(commands)
        self._commit_s.observe(seconds)

    def observe_lag(self, seconds: float) -> None:
        self._lag_s.observe(seconds)

    def count_events(self, types: list[str]) -> None:
        for t in types:
            self._events.labels(t).inc()
        if types:
            self._recent.append((self.clock(), len(types)))

    def observe_liquidation(self, symbol: str, kind: str, notional: float) -> None:
        """A liquidation step of ``notional`` (settlement asset) on ``symbol``, by ``kind``."""
        self._liquidated.labels(symbol, kind).inc(notional)

    def observe_socialised(self, asset: str, amount: float) -> None:
        self._socialised.labels(asset).inc(amount)

    def observe_adl(self, symbol: str) -> None:
        self._adl.labels(symbol).inc()

    def observe_guard(self, symbol: str, guard: str) -> None:
        if guard not in GUARDS:
            raise ValueError(f"unknown oracle guard {guard!r}")
        self._guards.labels(symbol, guard).inc()

    def events_per_second(self) -> float:
        now = self.clock()
        while self._recent and self._recent[0][0] < now - RATE_WINDOW_S:
            self._recent.popleft()
        return sum(n for _, n in self._recent) / RATE_WINDOW_S

    def render(self) -> bytes:
        """Every metric of the registry (risk gauges included), in the Prometheus text format."""
        return generate_latest(self.registry)
