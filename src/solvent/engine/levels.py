"""Margin levels with hysteresis: an event only when the level changes.

``ratio = MM / equity``. Going up, a level is entered at its threshold; coming down, it is
left only below ``threshold − hysteresis``, so an account hovering at 80 % does not flap
between warning and margin call on every tick.

========================  =====================================================
level                     entered when
========================  =====================================================
bankrupt                  equity < 0 (debt above collateral, even with MM = 0), or equity = 0 and MM > 0
liquidation               the venue's trigger: equity ≤ MM (or < MM)
margin_call               ratio ≥ margin_call, or was ≥ margin_call and ratio ≥ margin_call − h
warning                   ratio ≥ warning, or was ≥ warning and ratio ≥ warning − h
healthy                   otherwise (or MM = 0 and equity ≥ 0)
========================  =====================================================
"""

from __future__ import annotations

from decimal import Decimal

from solvent.calc.account import MarginLevel
from solvent.engine.config import LevelThresholds
from solvent.risk.venues import VenueProfile

__all__ = ["LEVEL_ORDER", "next_level", "worst"]

LEVEL_ORDER: tuple[MarginLevel, ...] = tuple(MarginLevel)
"""Levels from safest to worst."""


def _rank(level: MarginLevel) -> int:
    return LEVEL_ORDER.index(level)


def next_level(
    previous: MarginLevel,
    equity: Decimal,
    maint_margin: Decimal,
    profile: VenueProfile,
    thresholds: LevelThresholds,
) -> MarginLevel:
    """The level after an update, given the level before it (see the module table).

    Bankrupt and liquidatable come from the venue profile (``is_bankrupt``,
    ``is_liquidatable``: the one home); only the ratio levels and their hysteresis are here.
    """
    if profile.is_bankrupt(equity, maint_margin):
        return MarginLevel.BANKRUPT
    if profile.is_liquidatable(equity, maint_margin):
        return MarginLevel.LIQUIDATION
    if maint_margin <= 0:
        return MarginLevel.HEALTHY
    ratio = maint_margin / equity
    was = _rank(previous)
    if ratio >= thresholds.margin_call or (
        was >= _rank(MarginLevel.MARGIN_CALL) and ratio >= thresholds.margin_call - thresholds.hysteresis
    ):
        return MarginLevel.MARGIN_CALL
    if ratio >= thresholds.warning or (
        was >= _rank(MarginLevel.WARNING) and ratio >= thresholds.warning - thresholds.hysteresis
    ):
        return MarginLevel.WARNING
    return MarginLevel.HEALTHY


def worst(levels: list[MarginLevel]) -> MarginLevel:
    return max(levels, key=_rank, default=MarginLevel.HEALTHY)
