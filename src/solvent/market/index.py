"""Index price: a robust composite of spot prices from several source venues.

Procedure (Binance USDⓈ-M "Price Index" protections)
----------------------------------------------------
1. Drop every quote that is **STALE** (``now_ms − ts_ms > staleness_ms``) or **INVALID**
   (price or weight not a positive finite decimal, timestamp in the future).
2. ``m`` = median of the fresh prices (even count: mean of the two middle values).
3. Drop every fresh source with ``|pᵢ − m| / m > max_deviation`` (**DEVIATION**).
4. The index is

   - at most one source deviates: the weighted mean of the survivors,
     ``index = Σ wᵢ·pᵢ / Σ wᵢ``;
   - more than one source deviates: the median ``m`` of all fresh prices.

Units: prices in quote per base (e.g. USDT per BTC); weights and ``max_deviation`` are
dimensionless; times in integer milliseconds supplied by the caller.

Worked example (vector BN-IX-1): prices 30000, 30010, 29990, 31800, equal weights,
``max_deviation = 0.05``. ``m = (30000 + 30010) / 2 = 30005``; 31800 is
1795 / 30005 ≈ 5.98 % away and is dropped; the index is (30000 + 30010 + 29990) / 3 = 30000.
Vector BN-IX-2 (30000, 30010, 33000, 27000): two sources deviate, so the index is
``m = 30005``.

Which rule the vectors pin down: both vectors are also reproduced by "median of the
survivors" and by "weighted mean of the survivors" alone, so they do not discriminate;
the rule above is the one Binance documents (single deviation → weight 0 in the weighted
average; multiple deviations → median of all sources) and the tests add hand-computed
cases that tell the candidates apart.

Conservative departures from the venue: if no fresh source survives the deviation check,
or fewer than ``min_sources`` survive, there is no index (``price is None``) and the
engine freezes the mark and pauses liquidations instead of trusting a disputed price.

Source: Binance support FAQ "Price Index" (USDⓈ-M futures), protections 1, 2 and 4.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from solvent.errors import InvalidInput, StaleMarketData
from solvent.market._stats import median, relative_deviation, weighted_mean
from solvent.units import exact, non_negative, positive


class DropReason(StrEnum):
    """Why a source quote did not take part in the index."""

    STALE = "STALE"
    DEVIATION = "DEVIATION"
    INVALID = "INVALID"


class IndexMethod(StrEnum):
    """How the index value was formed from the fresh quotes."""

    WEIGHTED_MEAN = "WEIGHTED_MEAN"
    MEDIAN_OF_ALL = "MEDIAN_OF_ALL"


class IndexFailure(StrEnum):
    """Why no index price could be formed."""

    NO_FRESH_SOURCES = "NO_FRESH_SOURCES"
    NO_CONSENSUS = "NO_CONSENSUS"
    TOO_FEW_SOURCES = "TOO_FEW_SOURCES"


@dataclass(frozen=True, slots=True)
class IndexConfig:
    """Index parameters: relative deviation limit, quote lifetime, quorum."""

    max_deviation: Decimal
    staleness_ms: int
    min_sources: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_deviation", non_negative(self.max_deviation, "max_deviation"))
        if isinstance(self.staleness_ms, bool) or not isinstance(self.staleness_ms, int):
            raise InvalidInput("staleness_ms must be an integer number of milliseconds")
        if self.staleness_ms < 0:
            raise InvalidInput(f"staleness_ms must be >= 0, got {self.staleness_ms}")
        if isinstance(self.min_sources, bool) or not isinstance(self.min_sources, int):
            raise InvalidInput("min_sources must be an integer")
        if self.min_sources < 1:
            raise InvalidInput(f"min_sources must be >= 1, got {self.min_sources}")


@dataclass(frozen=True, slots=True)
class SourceQuote:
    """One source venue's latest price (quote per base) and its timestamp in ms."""

    source: str
    price: Decimal
    ts_ms: int
    weight: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class DroppedSource:
    """A source left out of the index, with a reason code and a one-line detail."""

    source: str
    reason: DropReason
    detail: str


@dataclass(frozen=True, slots=True)
class IndexResult:
    """The index price (``None`` when there is none) and the audit trail behind it."""

    price: Decimal | None
    used: tuple[str, ...]
    dropped: tuple[DroppedSource, ...]
    method: IndexMethod | None = None
    failure: IndexFailure | None = None
    fresh_median: Decimal | None = None

    def require_price(self) -> Decimal:
        """The price, or ``StaleMarketData`` when no index could be formed."""
        if self.price is None:
            raise StaleMarketData(f"no index price: {self.failure}")
        return self.price


@dataclass(frozen=True, slots=True)
class _Fresh:
    source: str
    price: Decimal
    weight: Decimal


def _screen(quote: SourceQuote, now_ms: int, config: IndexConfig) -> _Fresh | DroppedSource:
    """Parse one quote; a bad or old quote becomes a ``DroppedSource``."""
    try:
        price = positive(quote.price, "price")
        weight = positive(quote.weight, "weight")
    except InvalidInput as exc:
        return DroppedSource(quote.source, DropReason.INVALID, str(exc))
    ts_ms: object = quote.ts_ms
    if isinstance(ts_ms, bool) or not isinstance(ts_ms, int):
        return DroppedSource(quote.source, DropReason.INVALID, "ts_ms must be an integer")
    if ts_ms > now_ms:
        detail = f"timestamp {ts_ms} is after now {now_ms}"
        return DroppedSource(quote.source, DropReason.INVALID, detail)
    if now_ms - ts_ms > config.staleness_ms:
        detail = f"age {now_ms - ts_ms} ms > {config.staleness_ms} ms"
        return DroppedSource(quote.source, DropReason.STALE, detail)
    return _Fresh(quote.source, price, weight)


@exact
def compute_index(quotes: Iterable[SourceQuote], now_ms: int, config: IndexConfig) -> IndexResult:
    """Index price at ``now_ms`` from ``quotes`` (procedure in the module docstring).

    >>> cfg = IndexConfig(max_deviation=Decimal("0.05"), staleness_ms=10_000)
    >>> qs = [SourceQuote(s, Decimal(p), 0) for s, p in
    ...       [("a", "30000"), ("b", "30010"), ("c", "29990"), ("d", "31800")]]
    >>> compute_index(qs, 0, cfg).price
    Decimal('30000')
    """
    fresh: list[_Fresh] = []
    dropped: list[DroppedSource] = []
    seen: set[str] = set()
    for quote in quotes:
        if quote.source in seen:
            raise InvalidInput(f"duplicate index source {quote.source!r}")
        seen.add(quote.source)
        screened = _screen(quote, now_ms, config)
        if isinstance(screened, _Fresh):
            fresh.append(screened)
        else:
            dropped.append(screened)
    if not fresh:
        return IndexResult(None, (), tuple(dropped), failure=IndexFailure.NO_FRESH_SOURCES)
    return _combine(fresh, dropped, config)


def _combine(fresh: list[_Fresh], dropped: list[DroppedSource], config: IndexConfig) -> IndexResult:
    """Steps 2–4: deviation filter around the fresh median, then the combination rule."""
    centre = median([q.price for q in fresh])
    survivors: list[_Fresh] = []
    deviating = 0
    for quote in fresh:
        deviation = relative_deviation(quote.price, centre)
        if deviation > config.max_deviation:
            deviating += 1
            detail = f"|p - median| / median = {deviation:.6f} > {config.max_deviation}"
            dropped.append(DroppedSource(quote.source, DropReason.DEVIATION, detail))
        else:
            survivors.append(quote)
    used = tuple(q.source for q in survivors)
    if not survivors:
        failure = IndexFailure.NO_CONSENSUS
        return IndexResult(None, used, tuple(dropped), failure=failure, fresh_median=centre)
    if len(survivors) < config.min_sources:
        failure = IndexFailure.TOO_FEW_SOURCES
        return IndexResult(None, used, tuple(dropped), failure=failure, fresh_median=centre)
    if deviating > 1:
        return IndexResult(centre, used, tuple(dropped), IndexMethod.MEDIAN_OF_ALL, None, centre)
    price = weighted_mean([q.price for q in survivors], [q.weight for q in survivors])
    return IndexResult(price, used, tuple(dropped), IndexMethod.WEIGHTED_MEAN, None, centre)
