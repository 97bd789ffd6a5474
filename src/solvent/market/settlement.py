"""Time-weighted average price (TWAP) and the delivery settlement price of a future.

Equation
--------
Samples ``(tᵢ, pᵢ)`` form a step function: ``pᵢ`` is in force from ``tᵢ`` until the next
sample's time (the last sample holds to the window end). Over the window ``[start, end)``::

    TWAP = Σ pᵢ · |[tᵢ, tᵢ₊₁) ∩ [start, end)| / |covered part of [start, end)|

A sample taken before ``start`` contributes the value in force at ``start``. If the first
sample falls after ``start`` and nothing earlier is known, the average runs over the covered
part ``[t₁, end)`` only; a window no price covers raises ``StaleMarketData``.

Units: prices in quote per base; times in integer milliseconds.

Settlement: ``settlement_price = TWAP over [expiry − window, expiry)``, by default the last
30 minutes (Deribit: "the delivery price is the 30-minute time-weighted average of the
index before expiry"). The exact TWAP is returned unless a ``tick`` is given; then it is
rounded to a multiple of the tick with ROUND_HALF_EVEN (neither side of a delivery is a
"payout" that rounding should favour, so solvent uses the unbiased mode).

Worked example (vector DB-7): 1800 one-second samples of 30000 with a 60-second spike to
31800 → (1740 × 30000 + 60 × 31800) / 1800 = 30060.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal

from solvent.errors import InvalidInput, StaleMarketData
from solvent.units import ZERO, exact, positive

SETTLEMENT_WINDOW_MS = 30 * 60 * 1000
"""Deribit's delivery window: 30 minutes."""


def _check_ms(raw: object, field: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidInput(f"{field} must be an integer number of milliseconds")
    return raw


def _in_force_segments(
    samples: Sequence[tuple[int, Decimal]], start_ms: int, end_ms: int
) -> list[tuple[int, Decimal]]:
    """``(duration_ms, price)`` for each stretch of ``[start, end)`` a sample covers."""
    segments: list[tuple[int, Decimal]] = []
    previous_ms: int | None = None
    for index, (raw_ts, raw_price) in enumerate(samples):
        ts_ms = _check_ms(raw_ts, "sample timestamp")
        price = positive(raw_price, "sample price")
        if previous_ms is not None and ts_ms < previous_ms:
            raise InvalidInput(f"samples must be in time order: {ts_ms} after {previous_ms}")
        previous_ms = ts_ms
        next_ms = samples[index + 1][0] if index + 1 < len(samples) else end_ms
        begin, finish = max(ts_ms, start_ms), min(_check_ms(next_ms, "sample timestamp"), end_ms)
        if finish > begin:
            segments.append((finish - begin, price))
    return segments


@exact
def twap(
    samples: Sequence[tuple[int, Decimal]], window_start_ms: int, window_end_ms: int
) -> Decimal:
    """Exact time-weighted average of the step function ``samples`` over the window.

    >>> twap([(0, Decimal(100)), (3_000, Decimal(200))], 0, 4_000)
    Decimal('125')
    """
    start_ms = _check_ms(window_start_ms, "window_start_ms")
    end_ms = _check_ms(window_end_ms, "window_end_ms")
    if end_ms <= start_ms:
        raise InvalidInput(f"empty TWAP window [{start_ms}, {end_ms})")
    segments = _in_force_segments(samples, start_ms, end_ms)
    covered_ms = sum(duration for duration, _ in segments)
    if covered_ms == 0:
        raise StaleMarketData(f"no price in force during [{start_ms}, {end_ms})")
    weighted = sum((Decimal(duration) * price for duration, price in segments), ZERO)
    return weighted / Decimal(covered_ms)


@exact
def settlement_price(
    samples: Sequence[tuple[int, Decimal]],
    expiry_ms: int,
    window_ms: int = SETTLEMENT_WINDOW_MS,
    tick: Decimal | None = None,
) -> Decimal:
    """TWAP over ``[expiry_ms − window_ms, expiry_ms)``, rounded half-even to ``tick`` if given.

    >>> settlement_price([(0, Decimal("100.004"))], 1_000, 1_000, tick=Decimal("0.01"))
    Decimal('100.00')
    """
    expiry_ms = _check_ms(expiry_ms, "expiry_ms")
    window_ms = _check_ms(window_ms, "window_ms")
    if window_ms <= 0:
        raise InvalidInput(f"window_ms must be > 0, got {window_ms}")
    price = twap(samples, expiry_ms - window_ms, expiry_ms)
    if tick is None:
        return price
    tick = positive(tick, "tick")
    return (price / tick).to_integral_value(rounding=ROUND_HALF_EVEN) * tick
