"""Prometheus text-format metrics, kept in memory (floats: statistics only, never money).

* ``solvent_http_request_duration_seconds`` histogram by method, route template and status
* ``solvent_engine_queue_depth`` commands waiting for the engine
* ``solvent_engine_commands_total`` by command and outcome
* ``solvent_events_total`` by event type; ``solvent_events_per_second`` over the last 10 s
* ``solvent_journal_commits_total``, ``solvent_journal_commands_committed_total`` (group commits
  and the commands they carried: their ratio is the mean batch size)
* ``solvent_liquidated_notional_total`` by symbol and kind (book, backstop), in the settlement
  asset; ``solvent_socialised_loss_total`` by asset
* risk gauges read at scrape time, and ``solvent_stream_subscribers``,
  ``solvent_event_log_head_seq``: ``service/risk_metrics.py``
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["BUCKETS_S", "Metrics"]

BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
RATE_WINDOW_S = 10.0


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in pairs) + "}" if pairs else ""


@dataclass(slots=True)
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS_S))
    total: int = 0
    sum_s: float = 0.0

    def observe(self, seconds: float) -> None:
        self.total += 1
        self.sum_s += seconds
        for i, bound in enumerate(BUCKETS_S):
            if seconds <= bound:
                self.counts[i] += 1


@dataclass(slots=True)
class Metrics:
    clock: Callable[[], float] = time.monotonic
    queue_depth: int = 0
    _latency: dict[tuple[tuple[str, str], ...], _Histogram] = field(default_factory=dict)
    _commands: dict[tuple[str, str], int] = field(default_factory=dict)
    _events: dict[str, int] = field(default_factory=dict)
    _recent: deque[tuple[float, int]] = field(default_factory=deque)
    commits: int = 0
    committed: int = 0
    _liquidated: dict[tuple[str, str], float] = field(default_factory=dict)
    _socialised: dict[str, float] = field(default_factory=dict)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (("method", method), ("route", route), ("status", str(status)))
        self._latency.setdefault(key, _Histogram()).observe(seconds)

    def count_command(self, command: str, accepted: bool) -> None:
        key = (command, "accepted" if accepted else "rejected")
        self._commands[key] = self._commands.get(key, 0) + 1

    def count_commit(self, commands: int) -> None:
        self.commits += 1
        self.committed += commands

    def count_events(self, types: list[str]) -> None:
        for t in types:
            self._events[t] = self._events.get(t, 0) + 1
        if types:
            self._recent.append((self.clock(), len(types)))

    def observe_liquidation(self, symbol: str, kind: str, notional: float) -> None:
        """A liquidation step of ``notional`` (settlement asset) on ``symbol``, by ``kind``."""
        key = (symbol, kind)
        self._liquidated[key] = self._liquidated.get(key, 0.0) + notional

    def observe_socialised(self, asset: str, amount: float) -> None:
        self._socialised[asset] = self._socialised.get(asset, 0.0) + amount

    def events_per_second(self) -> float:
        now = self.clock()
        while self._recent and self._recent[0][0] < now - RATE_WINDOW_S:
            self._recent.popleft()
        return sum(n for _, n in self._recent) / RATE_WINDOW_S

    def render(self) -> str:
        lines = [
            "# HELP solvent_http_request_duration_seconds HTTP request latency.",
            "# TYPE solvent_http_request_duration_seconds histogram",
        ]
        for key, h in sorted(self._latency.items()):
            for bound, count in zip(BUCKETS_S, h.counts, strict=True):
                labels = _labels((*key, ("le", repr(bound))))
                lines.append(f"solvent_http_request_duration_seconds_bucket{labels} {count}")
            lines.append(f"solvent_http_request_duration_seconds_bucket{_labels((*key, ('le', '+Inf')))} {h.total}")
            lines.append(f"solvent_http_request_duration_seconds_sum{_labels(key)} {h.sum_s!r}")
            lines.append(f"solvent_http_request_duration_seconds_count{_labels(key)} {h.total}")
        lines += ["# HELP solvent_engine_queue_depth Commands waiting for the engine.",
                  "# TYPE solvent_engine_queue_depth gauge", f"solvent_engine_queue_depth {self.queue_depth}",
                  "# HELP solvent_engine_commands_total Commands applied, by outcome.",
                  "# TYPE solvent_engine_commands_total counter"]
        for (cmd, outcome), n in sorted(self._commands.items()):
            lines.append(f"solvent_engine_commands_total{_labels((('command', cmd), ('outcome', outcome)))} {n}")
        lines += ["# HELP solvent_journal_commits_total Journal group commits.",
                  "# TYPE solvent_journal_commits_total counter", f"solvent_journal_commits_total {self.commits}",
                  "# HELP solvent_journal_commands_committed_total Commands made durable by those commits.",
                  "# TYPE solvent_journal_commands_committed_total counter",
                  f"solvent_journal_commands_committed_total {self.committed}"]
        lines += ["# HELP solvent_events_total Engine events published, by type.",
                  "# TYPE solvent_events_total counter"]
        for t, n in sorted(self._events.items()):
            lines.append(f"solvent_events_total{_labels((('type', t),))} {n}")
        lines += ["# HELP solvent_events_per_second Events published per second over the last 10 s.",
                  "# TYPE solvent_events_per_second gauge", f"solvent_events_per_second {self.events_per_second()!r}"]
        lines += ["# HELP solvent_liquidated_notional_total Notional closed by liquidation (settlement asset).",
                  "# TYPE solvent_liquidated_notional_total counter"]
        for (symbol, kind), value in sorted(self._liquidated.items()):
            lines.append(f"solvent_liquidated_notional_total{_labels((('symbol', symbol), ('kind', kind)))} {value!r}")
        lines += ["# HELP solvent_socialised_loss_total Deficits neither the fund nor ADL covered, socialised.",
                  "# TYPE solvent_socialised_loss_total counter"]
        for asset, value in sorted(self._socialised.items()):
            lines.append(f"solvent_socialised_loss_total{_labels((('asset', asset),))} {value!r}")
        return "\n".join(lines) + "\n"
