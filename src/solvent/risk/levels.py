"""Margin levels: the one place where an account's level is decided.

Every caller (engine, calculator, columnar book, stress, service, explain) takes its level
from here. The venue's liquidation trigger itself is ``VenueProfile.is_bankrupt`` /
``is_liquidatable`` (``risk/venues.py``); this module never restates it for one account.

``ratio = MM / equity``, compared exactly as ``MM ≥ r × equity`` (equity > 0 there, so no
division and no rounding). Checked in this order:

========================  =====================================================
level                     when
========================  =====================================================
bankrupt                  ``venue.is_bankrupt``: equity < 0 (even with MM = 0), or equity = 0 and MM > 0
liquidation               ``venue.is_liquidatable``: equity ≤ MM (``equity_at_or_below_mm``) or
                          equity < MM (``equity_below_mm``), with MM > 0
healthy                   MM ≤ 0 (no requirement) and equity ≥ 0
margin_call               MM ≥ margin_call × equity
warning                   MM ≥ warning × equity
healthy                   otherwise
========================  =====================================================

``next_level`` adds hysteresis for callers that know the previous level: an account at
``margin_call`` (or worse) stays there while ``MM ≥ (margin_call − h) × equity``, and likewise
for ``warning``. ``level_without_history`` is the same tree for callers with no previous
level (the calculator, the columnar book). On a strict venue an account with equity = MM > 0
is not liquidatable: its ratio is 1, so it is at ``margin_call``.

Worked example (binance-usdm, equity ≤ MM): equity 100, MM 80 → ratio 0.8 → margin call;
equity 100, MM 100 → liquidation (on dydx-v4, equity < MM: margin call); equity 0, MM 0 →
healthy; equity −1, MM 0 → bankrupt.

``liquidatable_mask`` is the element-wise form of ``is_liquidatable`` for exact integer
columns (numpy), for vector callers that cannot call Python per account; a test checks it
against the profile's method on every bundled venue.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Protocol

from solvent.risk.venues import LiquidationTrigger

if TYPE_CHECKING:  # numpy is an extra ('stress', 'fast'): only the vector form below needs it
    import numpy as np
    from numpy.typing import NDArray

    IntArray = NDArray[np.int64] | NDArray[np.object_]

__all__ = [
    "EXACT_CONTEXT",
    "LEVEL_ORDER",
    "MarginLevel",
    "RatioThresholds",
    "TriggerRule",
    "is_strict",
    "level_without_history",
    "liquidatable_mask",
    "margin_ratio",
    "next_level",
    "rank",
    "worst",
]


class MarginLevel(StrEnum):
    HEALTHY = "healthy"
    WARNING = "warning"
    MARGIN_CALL = "margin_call"
    LIQUIDATION = "liquidation"
    BANKRUPT = "bankrupt"

    @property
    def is_liquidatable(self) -> bool:
        """``liquidation`` or ``bankrupt``: the venue may liquidate now."""
        return self in (MarginLevel.LIQUIDATION, MarginLevel.BANKRUPT)


LEVEL_ORDER: Final[tuple[MarginLevel, ...]] = tuple(MarginLevel)
"""Levels from safest to worst; a level's index is its code in the columnar book (0..4)."""

_RANK: Final = {level: i for i, level in enumerate(LEVEL_ORDER)}

EXACT_CONTEXT: Final = decimal.Context(
    prec=2000,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[
        decimal.Inexact,
        decimal.InvalidOperation,
        decimal.DivisionByZero,
        decimal.Overflow,
        decimal.FloatOperation,
    ],
)
"""Exact arithmetic or an exception: a rounded result raises ``decimal.Inexact``."""


class TriggerRule(Protocol):
    """A venue's liquidation trigger (``VenueProfile`` is the implementation)."""

    @property
    def liquidation_trigger(self) -> LiquidationTrigger: ...

    def is_bankrupt(self, equity: Decimal, maintenance_margin: Decimal) -> bool: ...

    def is_liquidatable(self, equity: Decimal, maintenance_margin: Decimal) -> bool: ...


class RatioThresholds(Protocol):
    """Margin-ratio levels with hysteresis (``engine.config.LevelThresholds``)."""

    @property
    def warning(self) -> Decimal: ...

    @property
    def margin_call(self) -> Decimal: ...

    @property
    def hysteresis(self) -> Decimal: ...


def rank(level: MarginLevel) -> int:
    """Position of ``level`` in ``LEVEL_ORDER`` (0 healthy … 4 bankrupt)."""
    return _RANK[level]


def worst(levels: Iterable[MarginLevel]) -> MarginLevel:
    """The most severe of ``levels`` (``healthy`` for none)."""
    return max(levels, key=rank, default=MarginLevel.HEALTHY)


def margin_ratio(maint_margin: Decimal, equity: Decimal) -> Decimal | None:
    """``MM / equity`` for display (in the caller's context); ``None`` when equity ≤ 0.

    Decisions never use this rounded quotient: they compare ``MM ≥ r × equity`` exactly.
    """
    if equity <= 0:
        return None
    return maint_margin / equity


def is_strict(venue: TriggerRule) -> bool:
    """True when equity equal to MM is not yet liquidatable (``equity_below_mm``)."""
    return venue.liquidation_trigger is LiquidationTrigger.BELOW


_MULTIPLY: Final = EXACT_CONTEXT.multiply
_SUBTRACT: Final = EXACT_CONTEXT.subtract
_CALL_RANK: Final = _RANK[MarginLevel.MARGIN_CALL]
_WARN_RANK: Final = _RANK[MarginLevel.WARNING]


def _at_least(maint_margin: Decimal, ratio: Decimal, equity: Decimal) -> bool:
    """``MM ≥ ratio × equity``, exactly (the product is never rounded)."""
    return maint_margin >= _MULTIPLY(ratio, equity)


def _trigger(equity: Decimal, maint_margin: Decimal, venue: TriggerRule) -> MarginLevel | None:
    """Bankrupt, liquidation, or ``None`` (every bankrupt account is liquidatable, so the
    common, solvent case costs one call of the venue's trigger)."""
    if venue.is_liquidatable(equity, maint_margin):
        return MarginLevel.BANKRUPT if venue.is_bankrupt(equity, maint_margin) else MarginLevel.LIQUIDATION
    return None


def level_without_history(
    equity: Decimal, maint_margin: Decimal, venue: TriggerRule, *, warning: Decimal, margin_call: Decimal
) -> MarginLevel:
    """The level of an account (or isolated position) judged on its own (module table)."""
    hit = _trigger(equity, maint_margin, venue)
    if hit is not None:
        return hit
    if maint_margin <= 0:
        return MarginLevel.HEALTHY
    if _at_least(maint_margin, margin_call, equity):
        return MarginLevel.MARGIN_CALL
    if _at_least(maint_margin, warning, equity):
        return MarginLevel.WARNING
    return MarginLevel.HEALTHY


def next_level(
    previous: MarginLevel,
    equity: Decimal,
    maint_margin: Decimal,
    profile: TriggerRule,
    thresholds: RatioThresholds,
) -> MarginLevel:
    """The level after an update, given the level before it: the module table with hysteresis.

    An account at ``margin_call`` or worse stays there while ``MM ≥ (margin_call − h) × equity``;
    one at ``warning`` or worse stays at least there while ``MM ≥ (warning − h) × equity``.
    """
    hit = _trigger(equity, maint_margin, profile)
    if hit is not None:
        return hit
    if maint_margin <= 0:
        return MarginLevel.HEALTHY
    was = _RANK[previous]
    call = thresholds.margin_call
    if _at_least(maint_margin, call, equity) or (
        was >= _CALL_RANK and _at_least(maint_margin, _SUBTRACT(call, thresholds.hysteresis), equity)
    ):
        return MarginLevel.MARGIN_CALL
    warn = thresholds.warning
    if _at_least(maint_margin, warn, equity) or (
        was >= _WARN_RANK and _at_least(maint_margin, _SUBTRACT(warn, thresholds.hysteresis), equity)
    ):
        return MarginLevel.WARNING
    return MarginLevel.HEALTHY


def liquidatable_mask(equity: IntArray, maint_margin: IntArray, venue: TriggerRule) -> NDArray[np.bool_]:
    """``venue.is_liquidatable`` element-wise on exact integer columns in the same unit.

    bankrupt (equity < 0, or equity = 0 with MM > 0), or MM > 0 and equity ≤ MM (< MM on a
    strict venue). Integers only: a float column would not be an exact decision.
    """
    import numpy as np

    for column in (equity, maint_margin):
        if column.dtype != np.int64 and column.dtype != object:
            raise TypeError(f"liquidatable_mask needs exact integer columns, not {column.dtype}")
    bankrupt = (equity < 0) | ((equity == 0) & (maint_margin > 0))
    below = (equity < maint_margin) if is_strict(venue) else (equity <= maint_margin)
    out: NDArray[np.bool_] = np.asarray(bankrupt | ((maint_margin > 0) & below), dtype=np.bool_)
    return out
