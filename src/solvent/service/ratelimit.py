"""Per-key rate limiting: a token bucket per API key (``rate`` per second, ``burst`` deep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["RateLimiter"]


@dataclass(slots=True)
class RateLimiter:
    rate_per_s: float = 50.0
    burst: float = 100.0
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key_id: str) -> float | None:
        """Spend one token; ``None`` if allowed, else the seconds until the next token."""
        now = self.clock()
        tokens, last = self._buckets.get(key_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate_per_s)
        if tokens >= 1:
            self._buckets[key_id] = (tokens - 1, now)
            return None
        self._buckets[key_id] = (tokens, now)
        return (1 - tokens) / self.rate_per_s if self.rate_per_s > 0 else 60.0
