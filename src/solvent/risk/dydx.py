"""dYdX v4 margin: liquidity-tier fractions, open-interest IMF scaling, liquidation predicate.

A dYdX v4 liquidity tier holds an initial-margin fraction ``imf_ppm`` and a maintenance
fraction ``mmf_ppm`` that is a fraction *of the initial fraction* (parts per million)::

    notional_quote = |position_base| × oracle_price_quote_per_base
    IM_quote       = notional_quote × adjusted_imf_ppm / 1e6
    MM_quote       = notional_quote × (imf_ppm / 1e6) × (mmf_ppm / 1e6)

Open-interest scaling of the initial fraction ("OIMF"), with open interest valued at the
oracle price (``oi_notional_quote = open_interest_base × oracle_price``). Two versions of
the chain's code are implemented; a profile names the one it follows (``imf_scaling``):

``liquidity_tier_rat_ceil`` (the current chain, the default; ``liquidity_tier.go``,
``GetInitialMarginQuoteQuantums``): an exact fraction, then a ceiling::

    scaling       = (oi_notional − lower_cap) / (upper_cap − lower_cap)     (exact)
    effective_imf = min(imf_ppm/1e6 + scaling × (1e6 − imf_ppm)/1e6, 1)      (exact)
    IM_quote      = ceil(notional_quote × effective_imf)   to quote quantums (1e-6 USDC)

with ``effective_imf = imf`` when ``upper_cap = 0`` (disabled) or ``oi_notional <=
lower_cap``, and ``IM = notional`` when ``oi_notional >= upper_cap``.

``lib_floor_ppm`` (the older ``lib.go`` and its ``lib_test.go``): the fraction is first
floored to integer ppm::

    adjusted_imf_ppm = imf_ppm + floor((1e6 − imf_ppm) × scaling)
    IM_quote         = notional_quote × adjusted_imf_ppm / 1e6

The maintenance margin always uses the *unscaled* ``imf_ppm``.

Worked example (vector D-MR-9): oracle 36,750, position 0.012 → notional 441; OI
408.163265 × 36,750 = 14,999,999.98875, caps 10M / 20M, imf 20 %, so scaling
0.499999998875. Older: ``200000 + floor(800000 × 0.499999998875) = 599,999 ppm``,
``IM = 441 × 0.599999 = 264.599559``. Current: ``IMF = 0.2 + 0.8 × 0.499999998875
= 0.5999999991``, ``IM = ceil(264.5999996031) = 264.600000``. ``MM = 441 × 0.2 × 0.5 = 44.1``.

Rounding: ``adjusted_imf_ppm`` and ``max_abs_funding_clamp_ppm`` are integer ppm rounded
down, as dYdX does. The margins are exact at working precision unless ``quote_quantum`` is
given, in which case both are rounded *up* to it (dYdX rounds requirements up to quote
quantums, 1e-6 USDC).

Source: dydxprotocol/v4-chain ``protocol/x/perpetuals/types/liquidity_tier.go``
(``GetInitialMarginQuoteQuantums``; the current version), ``protocol/x/perpetuals/lib/lib.go``
(``GetMarginRequirementsInQuoteQuantums``; the older ppm floor) and
``protocol/lib/margin/risk.go`` (``IsLiquidatable``).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from math import ceil, floor
from typing import Final, NamedTuple

from solvent.errors import InvalidInput
from solvent.units import NumberLike, exact, non_negative, positive, round_up, to_decimal

__all__ = [
    "ONE_MILLION_PPM",
    "DydxMarginRequirements",
    "ImfScaling",
    "dydx_margin_requirements",
    "initial_margin_fraction",
    "initial_margin_ppm_adjusted",
    "is_liquidatable",
    "max_abs_funding_clamp_ppm",
]

ONE_MILLION_PPM: Final = 1_000_000
"""One, in parts per million."""

_PPM: Final = Decimal(ONE_MILLION_PPM)


class ImfScaling(StrEnum):
    """Which version of dYdX's open-interest IMF scaling a profile follows."""

    LIQUIDITY_TIER_RAT_CEIL = "liquidity_tier_rat_ceil"
    """Current chain: exact fraction, IM rounded up (``liquidity_tier.go``)."""
    LIB_FLOOR_PPM = "lib_floor_ppm"
    """Older chain: IMF floored to integer ppm (``lib.go``, ``lib_test.go``)."""


CURRENT_IMF_SCALING: Final = ImfScaling.LIQUIDITY_TIER_RAT_CEIL


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


@exact
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


@exact
def initial_margin_fraction(
    imf_ppm: int,
    open_interest_notional: NumberLike,
    oi_lower_cap: NumberLike,
    oi_upper_cap: NumberLike,
    scaling: ImfScaling = CURRENT_IMF_SCALING,
) -> Fraction:
    """Effective initial-margin fraction (0..1) after open-interest scaling, exactly.

    Current chain: ``min(imf + (oi − lower)/(upper − lower) × (1 − imf), 1)`` as an exact
    fraction; older chain: ``initial_margin_ppm_adjusted(...) / 1e6``. Both give ``imf``
    at or below ``lower`` (or with ``upper == 0``) and 1 at or above ``upper``.

    Example: ``imf 200000, oi 15, caps 10/20 → 3/5`` in both versions.
    """
    if scaling is ImfScaling.LIB_FLOOR_PPM:
        ppm = initial_margin_ppm_adjusted(imf_ppm, open_interest_notional, oi_lower_cap, oi_upper_cap)
        return Fraction(ppm, ONE_MILLION_PPM)
    imf = _ppm(imf_ppm, "imf_ppm")
    oi = non_negative(open_interest_notional, "open_interest_notional")
    lower = non_negative(oi_lower_cap, "oi_lower_cap")
    upper = non_negative(oi_upper_cap, "oi_upper_cap")
    if lower > upper:
        raise InvalidInput(f"oi_lower_cap {lower} must be <= oi_upper_cap {upper}")
    if upper == 0 or oi <= lower:
        return Fraction(imf, ONE_MILLION_PPM)
    if oi >= upper:
        return Fraction(1)
    factor = (Fraction(oi) - Fraction(lower)) / (Fraction(upper) - Fraction(lower))
    return min(Fraction(imf, ONE_MILLION_PPM) + factor * Fraction(ONE_MILLION_PPM - imf, ONE_MILLION_PPM), Fraction(1))


def _fraction_to_decimal(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


@exact
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
    scaling: ImfScaling = CURRENT_IMF_SCALING,
) -> DydxMarginRequirements:
    """Initial and maintenance margin of a dYdX v4 perpetual position (quote units).

    ``IM = |pos| × price × adjusted_imf_ppm / 1e6`` (see ``initial_margin_ppm_adjusted``,
    OI notional = ``open_interest_base × price``); ``MM = |pos| × price × imf_ppm/1e6 ×
    mmf_ppm/1e6`` with the unscaled IMF. The default caps (0, 0) disable OI scaling.
    With ``quote_quantum`` both requirements are rounded up to it (the current chain's
    ceiling is taken on the exact fraction); otherwise exact at working precision.
    ``scaling`` picks the version of the open-interest scaling (see the module docstring).

    Example (vector D-MR-1): price 5555, position 0.7, imf 10000, mmf 500000 →
    notional 3888.5, ``IM = 38.885``, ``MM = 19.4425``.
    """
    price = positive(oracle_price, "oracle_price")
    notional_quote = abs(to_decimal(position_base, "position_base")) * price
    imf = _ppm(imf_ppm, "imf_ppm")
    mmf = _ppm(mmf_ppm, "mmf_ppm")
    oi_notional_quote = non_negative(open_interest_base, "open_interest_base") * price
    fraction = initial_margin_fraction(imf, oi_notional_quote, oi_lower_cap, oi_upper_cap, scaling)
    exact_initial = Fraction(notional_quote) * fraction
    initial = _fraction_to_decimal(exact_initial)
    maintenance = notional_quote * imf / _PPM * mmf / _PPM
    if quote_quantum is not None:
        quantum = positive(quote_quantum, "quote_quantum")
        steps = ceil(exact_initial / Fraction(quantum))
        initial = steps * quantum if steps else Decimal(0)
        maintenance = round_up(maintenance, quantum)
    return DydxMarginRequirements(initial, maintenance)


@exact
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
