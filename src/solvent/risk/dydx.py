"""dYdX v4 margin: liquidity-tier fractions, open-interest IMF scaling, liquidation predicate.

A dYdX v4 liquidity tier holds an initial-margin fraction ``imf_ppm`` and a maintenance
fraction ``mmf_ppm`` that is a fraction *of the initial fraction* (parts per million)::

    notional_quote = |position_base| × oracle_price_quote_per_base
    IM_quote       = notional_quote × adjusted_imf_ppm / 1e6
    MM_quote       = notional_quote × (imf_ppm / 1e6) × (mmf_ppm / 1e6)

Open-interest scaling of the initial fraction ("OIMF"), with open interest valued at the
oracle price (``oi_notional_quote = open_interest_base × oracle_price``)::

    adjusted_imf_ppm = imf_ppm                                   if upper_cap = 0 (disabled)
                                                                 or oi_notional <= lower_cap
                     = 1_000_000                                 if oi_notional >= upper_cap
                     = imf_ppm + floor((1e6 − imf_ppm) × (oi_notional − lower_cap)
                                                         / (upper_cap − lower_cap))

The maintenance margin always uses the *unscaled* ``imf_ppm``.

Worked example (vector D-MR-9): oracle 36,750, position 0.012 → notional 441; OI
408.163265 × 36,750 = 14,999,999.98875, caps 10M / 20M, imf 20 %:
``200000 + floor(800000 × 0.499999998875) = 599,999 ppm``, so
``IM = 441 × 0.599999 = 264.599559`` and ``MM = 441 × 0.2 × 0.5 = 44.1``.

Rounding: ``adjusted_imf_ppm`` and ``max_abs_funding_clamp_ppm`` are integer ppm rounded
down, as dYdX does. The margins are exact at working precision unless ``quote_quantum`` is
given, in which case both are rounded *up* to it (dYdX rounds requirements up to quote
quantums, 1e-6 USDC).

Source: dydxprotocol/v4-chain ``protocol/x/perpetuals/lib/lib.go``
(``GetMarginRequirementsInQuoteQuantums``), ``protocol/x/perpetuals/types/liquidity_tier.go``
and ``protocol/lib/margin/risk.go`` (``IsLiquidatable``).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import Final, NamedTuple

from solvent.errors import InvalidInput
from solvent.units import NumberLike, non_negative, positive, round_up, to_decimal

__all__ = [
    "ONE_MILLION_PPM",
    "DydxMarginRequirements",
    "dydx_margin_requirements",
    "initial_margin_ppm_adjusted",
    "is_liquidatable",
    "max_abs_funding_clamp_ppm",
]

ONE_MILLION_PPM: Final = 1_000_000
"""One, in parts per million."""

_PPM: Final = Decimal(ONE_MILLION_PPM)


class DydxMarginRequirements(NamedTuple):
    """Initial and maintenance margin of one position, in quote units (e.g. USDC)."""

    initial_margin_quote: Decimal
    maintenance_margin_quote: Decimal


def _ppm(raw: object, field: str, *, at_most_one: bool = True) -> int:
    """Parse an integer ppm value; floats, bools and negatives raise ``InvalidInput``."""
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidInput(f"{field} must be an integer number of ppm, not {type(raw).__name__}")
    if raw < 0:
        raise InvalidInput(f"{field} must be >= 0, got {raw}")
    if at_most_one and raw > ONE_MILLION_PPM:
        raise InvalidInput(f"{field} must be <= {ONE_MILLION_PPM}, got {raw}")
    return raw


def initial_margin_ppm_adjusted(
    imf_ppm: int,
    open_interest_notional: NumberLike,
    oi_lower_cap: NumberLike,
    oi_upper_cap: NumberLike,
) -> int:
    """Initial-margin fraction after open-interest scaling, in integer ppm (rounded down).

    ``imf + floor((1e6 − imf) × (oi − lower) / (upper − lower))`` strictly between the
    caps; ``imf`` at or below ``lower`` or when ``upper == 0`` (scaling disabled);
    ``1_000_000`` at or above ``upper``. OI and caps are quote notionals (e.g. USDC).
    The interpolation is exact (rational arithmetic) before the floor.

    Example (vector D-MR-9): ``imf 200000, oi 14999999.98875, caps 1e7/2e7 → 599999``.
    """
    imf = _ppm(imf_ppm, "imf_ppm")
    oi = non_negative(open_interest_notional, "open_interest_notional")
    lower = non_negative(oi_lower_cap, "oi_lower_cap")
    upper = non_negative(oi_upper_cap, "oi_upper_cap")
    if lower > upper:
        raise InvalidInput(f"oi_lower_cap {lower} must be <= oi_upper_cap {upper}")
    if upper == 0 or oi <= lower:
        return imf
    if oi >= upper:
        return ONE_MILLION_PPM
    scaling = (Fraction(oi) - Fraction(lower)) / (Fraction(upper) - Fraction(lower))
    return imf + floor(scaling * (ONE_MILLION_PPM - imf))


def dydx_margin_requirements(
    oracle_price: NumberLike,
    position_base: NumberLike,
    imf_ppm: int,
    mmf_ppm: int,
    open_interest_base: NumberLike = 0,
    oi_lower_cap: NumberLike = 0,
    oi_upper_cap: NumberLike = 0,
    *,
    quote_quantum: NumberLike | None = None,
) -> DydxMarginRequirements:
    """Initial and maintenance margin of a dYdX v4 perpetual position (quote units).

    ``IM = |pos| × price × adjusted_imf_ppm / 1e6`` (see ``initial_margin_ppm_adjusted``,
    OI notional = ``open_interest_base × price``); ``MM = |pos| × price × imf_ppm/1e6 ×
    mmf_ppm/1e6`` with the unscaled IMF. The default caps (0, 0) disable OI scaling.
    With ``quote_quantum`` both requirements are rounded up to it; otherwise exact.

    Example (vector D-MR-1): price 5555, position 0.7, imf 10000, mmf 500000 →
    notional 3888.5, ``IM = 38.885``, ``MM = 19.4425``.
    """
    price = positive(oracle_price, "oracle_price")
    notional_quote = abs(to_decimal(position_base, "position_base")) * price
    imf = _ppm(imf_ppm, "imf_ppm")
    mmf = _ppm(mmf_ppm, "mmf_ppm")
    oi_notional_quote = non_negative(open_interest_base, "open_interest_base") * price
    adjusted = initial_margin_ppm_adjusted(imf, oi_notional_quote, oi_lower_cap, oi_upper_cap)
    initial = notional_quote * adjusted / _PPM
    maintenance = notional_quote * imf / _PPM * mmf / _PPM
    if quote_quantum is not None:
        quantum = positive(quote_quantum, "quote_quantum")
        initial, maintenance = round_up(initial, quantum), round_up(maintenance, quantum)
    return DydxMarginRequirements(initial, maintenance)


def is_liquidatable(net_collateral: NumberLike, maintenance_margin: NumberLike) -> bool:
    """dYdX ``IsLiquidatable``: true iff ``MM > 0`` and ``net_collateral < MM``.

    An account with no maintenance requirement is never liquidatable, even with negative
    collateral; equality (``NC == MM``) is not liquidatable. Both in quote units.

    Example (vector D-RISK-1): ``(75, 100) → True``, ``(100, 100) → False``,
    ``(-100, 0) → False``.
    """
    collateral = to_decimal(net_collateral, "net_collateral")
    requirement = non_negative(maintenance_margin, "maintenance_margin")
    return requirement > 0 and collateral < requirement


def max_abs_funding_clamp_ppm(funding_clamp_factor_ppm: int, imf_ppm: int, mmf_ppm: int) -> int:
    """Largest allowed |funding rate| (or premium vote) in ppm, as dYdX clamps it.

    ``mm_ppm = floor(imf_ppm × mmf_ppm / 1e6)`` and
    ``clamp_ppm = floor(clamp_factor_ppm × (imf_ppm − mm_ppm) / 1e6)`` (integer ppm,
    rounded down as dYdX's ``BigIntMulPpm`` does).

    Example (vector D-FUND-1): factor 6,000,000 (6×), imf 150000, mmf 800000 →
    ``mm = 120000``, ``6 × 30000 = 180000``.
    """
    factor = _ppm(funding_clamp_factor_ppm, "funding_clamp_factor_ppm", at_most_one=False)
    imf = _ppm(imf_ppm, "imf_ppm")
    mmf = _ppm(mmf_ppm, "mmf_ppm")
    maintenance_ppm = imf * mmf // ONE_MILLION_PPM
    return factor * (imf - maintenance_ppm) // ONE_MILLION_PPM
