"""Mark price: the fair price that unrealised PnL and liquidations are judged at.

Binance USDⓈ-M rule
-------------------
::

    price1 = index × (1 + last_funding_rate × time_until_funding / funding_interval)
    price2 = index + MA(basis),        basis = mid (or last) − index
    mark   = median(price1, price2, last_price)

Units: prices in quote per base; the funding rate is per funding interval
(dimensionless); both times in integer milliseconds (only their ratio matters).

Worked example (vector BN-MP-1): index 30000, last funding rate 0.0001, 4 h until
funding of an 8 h interval, basis moving average 12, last price 30005:
price1 = 30000 × (1 + 0.0001 × 4/8) = 30001.5; price2 = 30000 + 12 = 30012;
mark = median(30001.5, 30012, 30005) = 30005.

Source: Binance support FAQ "Mark Price in USDⓈ-Margined Futures" (the basis moving
average is a 5-minute average of one-second samples of (bid1 + ask1)/2 − index).

Alternative rule: ``mark = index + smoothed basis`` (``mark_index_plus_basis``), the
smoothing being a fixed-window mean (``BasisMovingAverage``) or an exponential moving
average (``ema_update``). Hyperliquid's first mark component is of this form: oracle
price + a 150-second EMA of (book mid − oracle price) (Hyperliquid docs, "Robust price
indices").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from solvent.errors import InvalidInput, StaleMarketData
from solvent.market._stats import median
from solvent.units import ONE, exact, positive, to_decimal


@dataclass(frozen=True, slots=True)
class MarkPrice:
    """The three Binance mark-price candidates and the chosen mark (their median)."""

    price1: Decimal
    price2: Decimal
    last_price: Decimal
    mark: Decimal


def _interval_ms(raw: object, field: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidInput(f"{field} must be an integer number of milliseconds")
    return raw


@exact
def mark_price(
    index: Decimal,
    last_funding_rate: Decimal,
    time_until_funding_ms: int,
    funding_interval_ms: int,
    basis_moving_average: Decimal,
    last_price: Decimal,
) -> MarkPrice:
    """Binance mark price ``median(price1, price2, last_price)`` (module docstring).

    >>> mark_price(Decimal(30000), Decimal("0.0001"), 4 * 3_600_000, 8 * 3_600_000,
    ...            Decimal(12), Decimal(30005)).mark
    Decimal('30005')
    """
    index = positive(index, "index")
    last_price = positive(last_price, "last_price")
    rate = to_decimal(last_funding_rate, "last_funding_rate")
    basis_ma = to_decimal(basis_moving_average, "basis_moving_average")
    until_ms = _interval_ms(time_until_funding_ms, "time_until_funding_ms")
    interval_ms = _interval_ms(funding_interval_ms, "funding_interval_ms")
    if interval_ms <= 0:
        raise InvalidInput(f"funding_interval_ms must be > 0, got {interval_ms}")
    if not 0 <= until_ms <= interval_ms:
        raise InvalidInput(f"time_until_funding_ms must be in [0, {interval_ms}], got {until_ms}")
    price1 = index * (ONE + rate * Decimal(until_ms) / Decimal(interval_ms))
    price2 = index + basis_ma
    return MarkPrice(price1, price2, last_price, median([price1, price2, last_price]))


@exact
def basis(reference_price: Decimal, index: Decimal) -> Decimal:
    """Basis sample ``reference_price − index`` (quote per base); the reference is the
    order-book mid ``(bid1 + ask1) / 2`` or the last trade price.

    >>> basis(Decimal("30012.5"), Decimal(30000))
    Decimal('12.5')
    """
    return positive(reference_price, "reference_price") - positive(index, "index")


@exact
def mark_index_plus_basis(index: Decimal, basis_average: Decimal) -> Decimal:
    """Alternative mark ``index + smoothed basis`` (quote per base).

    >>> mark_index_plus_basis(Decimal(30000), Decimal(12))
    Decimal('30012')
    """
    mark = positive(index, "index") + to_decimal(basis_average, "basis_average")
    if mark <= 0:
        raise InvalidInput(f"index + basis must be > 0, got {mark}")
    return mark


@exact
def ema_update(previous: Decimal | None, sample: Decimal, alpha: Decimal) -> Decimal:
    """One exponential-moving-average step ``ema = α·sample + (1 − α)·previous``.

    ``alpha`` is in (0, 1]; the first sample (``previous is None``) starts the average.

    >>> ema_update(Decimal(10), Decimal(20), Decimal("0.25"))
    Decimal('12.50')
    """
    alpha = positive(alpha, "alpha")
    if alpha > ONE:
        raise InvalidInput(f"alpha must be in (0, 1], got {alpha}")
    sample = to_decimal(sample, "sample")
    if previous is None:
        return sample
    return alpha * sample + (ONE - alpha) * to_decimal(previous, "previous")


@dataclass(frozen=True, slots=True)
class BasisMovingAverage:
    """Exact mean of the last ``window`` basis samples (an immutable value).

    ``add`` returns a new value; the oldest sample falls out once the window is full.

    >>> ma = BasisMovingAverage(window=2).add(Decimal(10)).add(Decimal(14)).add(Decimal(20))
    >>> ma.samples, ma.average()
    ((Decimal('14'), Decimal('20')), Decimal('17'))
    """

    window: int
    samples: tuple[Decimal, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 1:
            raise InvalidInput(f"window must be an integer >= 1, got {self.window!r}")
        if len(self.samples) > self.window:
            raise InvalidInput(f"{len(self.samples)} samples exceed the window of {self.window}")

    @exact
    def add(self, basis_sample: Decimal) -> BasisMovingAverage:
        """A copy with ``basis_sample`` appended and the window trimmed from the front."""
        sample = to_decimal(basis_sample, "basis_sample")
        kept = (*self.samples, sample)[-self.window :]
        return BasisMovingAverage(self.window, kept)

    @exact
    def average(self) -> Decimal:
        """``Σ samples / count``; ``StaleMarketData`` before the first sample."""
        if not self.samples:
            raise StaleMarketData("basis moving average has no samples yet")
        return sum(self.samples, Decimal(0)) / len(self.samples)
