"""Rate limiting: token buckets (``rate`` per second, ``burst`` deep), one per key.

The service keeps two: one per API key for authenticated requests, and one per client address
that only failed authentications spend (``FAILED_AUTH_*``; see ``context.authenticate``).

>>> now = [0.0]
>>> bucket = RateLimiter(rate_per_s=1.0, burst=2.0, clock=lambda: now[0])
>>> bucket.take("a"), bucket.take("a"), bucket.take("a")
(None, None, 1.0)
>>> now[0] = 0.25
>>> bucket.wait("a"), bucket.wait("b")
(0.75, None)
"""

from __future__ import annotations

import functools
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["FAILED_AUTH_BURST", "FAILED_AUTH_RATE_PER_S", "RateLimiter", "address_bucket"]

FAILED_AUTH_RATE_PER_S = 1.0
"""Failed authentications a client address may make per second, once its burst is spent."""
FAILED_AUTH_BURST = 20.0
"""Failed authentications a client address may make in a row before it is answered 429."""


@dataclass(slots=True)
class RateLimiter:
    rate_per_s: float = 50.0
    burst: float = 100.0
    clock: Callable[[], float] = time.monotonic
    max_buckets: int = 100_000
    """Buckets kept at most; past it the least recently used one is forgotten (it starts full again)."""
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: str) -> float | None:
        """Spend one token; ``None`` if allowed, else the seconds until the next token."""
        now = self.clock()
        tokens = self._tokens(key, now)
        if tokens >= 1:
            self._store(key, tokens - 1, now)
            return None
        self._store(key, tokens, now)
        return self._wait(tokens)

    def wait(self, key: str) -> float | None:
        """Like ``take`` without spending: ``None`` if ``key`` has a token now, else the seconds until it has."""
        tokens = self._tokens(key, self.clock())
        return None if tokens >= 1 else self._wait(tokens)

    def _tokens(self, key: str, now: float) -> float:
        tokens, last = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - last) * self.rate_per_s)

    def _wait(self, tokens: float) -> float:
        return (1 - tokens) / self.rate_per_s if self.rate_per_s > 0 else 60.0

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets.pop(key, None)  # re-inserted last: the dict's order is least recently used first
        if len(self._buckets) >= self.max_buckets:
            del self._buckets[next(iter(self._buckets))]
        self._buckets[key] = (tokens, now)


@functools.lru_cache(maxsize=65_536)
def address_bucket(host: str | None) -> str:
    """The failed-authentication bucket a client address draws on.

    An IPv4 address is its own; an IPv6 address shares its /64 (one subscriber's usual
    allocation, so hopping between its addresses buys nothing; an IPv4-mapped one is the IPv4
    address); anything else (a test client's name) as given; no address at all is ``unknown``.

    >>> address_bucket("203.0.113.7"), address_bucket("2001:db8:1:2:aaaa::1"), address_bucket("::ffff:203.0.113.7")
    ('203.0.113.7', '2001:db8:1:2::/64', '203.0.113.7')
    """
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
