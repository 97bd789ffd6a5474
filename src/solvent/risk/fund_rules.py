"""Insurance-fund rules: when a venue's fund stops paying a market's deficits and ADL takes over.

Every venue's fund pays a liquidation's shortfall while it holds enough; beyond that the
engine deleverages (``engine/liquidation.py``). A profile may add a **fund rule** that makes
ADL start earlier, to keep the fund from being drained by one market. The one rule bundled
so far is **Bybit's contract PnL drawdown ADL** (Bybit API, "Get ADL Alert", source in the
profile):

* each market's fund PnL is what the fund gained (liquidation fees, what was left above a
  bankruptcy price) less what it paid for that market's deficits;
* ``pnl_ratio = (PnL now − PnL's maximum over the window) / the fund's maximum balance over the
  window`` (Bybit: 8 hours);
* while the fund's balance is above ``balance_threshold`` (Bybit's ``adlTriggerThreshold``),
  the fund pays a market's deficit only down to ``pnl_ratio = trigger_ratio`` (Bybit's
  ``insurancePnlRatio``, −0.3): the rest is auto-deleveraged, and the market stays in ADL
  (the fund pays none of its deficits) until ``pnl_ratio > stop_ratio`` (``adlStopRatio``,
  −0.25);
* at or below ``balance_threshold`` the rule does not apply: the fund pays what it holds,
  then ADL, as on every venue.

Bybit's worked example: a pool of 1,000,000 USDT whose market A loses 350,000 pays
300,000 (``pnl_ratio`` −0.30) and 50,000 is deleveraged.

A maximum over the window is of a value *as it stood* during the window: a value counts
until the moment it changed (``RunningMax``), so a balance that has not moved for a day is
its own maximum. The state is immutable and replaced whole on each change, so a rollback's
copy restores it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from solvent.errors import InvalidInput
from solvent.risk.profile_format import FundRuleSpec
from solvent.risk.volatility import push_peak
from solvent.units import ZERO, non_negative, to_decimal

__all__ = ["FundRule", "FundWatch", "MarketFundPnl", "RunningMax", "cover_limit", "parse_fund_rule", "standing"]


@dataclass(frozen=True, slots=True)
class FundRule:
    """Bybit's contract PnL drawdown ADL (module docstring)."""

    window_ms: int
    trigger_ratio: Decimal
    stop_ratio: Decimal
    balance_threshold: Decimal
    source: str = ""


@dataclass(frozen=True, slots=True)
class RunningMax:
    """A value and its maximum over a trailing window, as a step function of time.

    ``ended`` holds ``(ended_ms, value)`` for past values, each counted until the moment it
    was replaced, kept as ``risk.volatility.push_peak`` keeps peaks (strictly decreasing,
    only those a later one does not reach); ``value`` is the value now.
    """

    value: Decimal = ZERO
    ended: tuple[tuple[int, Decimal], ...] = ()

    def moved(self, at_ms: int, value: Decimal, window_ms: int) -> RunningMax:
        """The value is ``value`` from ``at_ms`` on."""
        if value == self.value:
            return self
        return RunningMax(value, push_peak(self.ended, at_ms, self.value, window_ms))

    def maximum(self, now_ms: int, window_ms: int) -> Decimal:
        """The largest value that stood at any moment of ``(now_ms − window_ms, now_ms]``."""
        start = now_ms - window_ms
        past = next((v for t, v in self.ended if t > start), None)
        return self.value if past is None or past < self.value else past


@dataclass(frozen=True, slots=True)
class MarketFundPnl:
    """One market's fund PnL, and whether its drawdown ADL is in force."""

    symbol: str
    pnl: RunningMax = RunningMax()
    adl: bool = False


@dataclass(frozen=True, slots=True)
class FundWatch:
    """What a fund rule reads: the fund's balance and each market's fund PnL, over the window."""

    balance: RunningMax = RunningMax()
    markets: tuple[MarketFundPnl, ...] = ()

    def market(self, symbol: str) -> MarketFundPnl:
        return next((m for m in self.markets if m.symbol == symbol), MarketFundPnl(symbol))

    def with_market(self, market: MarketFundPnl) -> FundWatch:
        others = [m for m in self.markets if m.symbol != market.symbol]
        return replace(self, markets=tuple(sorted([*others, market], key=lambda m: m.symbol)))


def standing(rule: FundRule, watch: FundWatch, symbol: str, now_ms: int, owed: Decimal = ZERO
             ) -> tuple[Decimal, Decimal]:
    """``(drawdown, max_balance)`` of ``symbol`` now: its fund PnL (``owed`` counted as paid)
    less the PnL's maximum over the window (≤ 0), and the fund's maximum balance over the
    window; their ratio is the venue's ``pnl_ratio``."""
    market = watch.market(symbol)
    drawdown = market.pnl.value - owed - market.pnl.maximum(now_ms, rule.window_ms)
    return drawdown, watch.balance.maximum(now_ms, rule.window_ms)


def cover_limit(rule: FundRule, watch: FundWatch, symbol: str, balance: Decimal, now_ms: int,
                owed: Decimal = ZERO) -> tuple[Decimal | None, bool]:
    """How much more of ``symbol``'s deficits the fund may pay now, ``owed`` (decided, not
    yet paid) counted as paid, and whether the market's drawdown ADL is still in force:
    ``(None, False)`` when the rule does not apply (the balance is at or below the
    threshold); ``(0, True)`` while ADL is in force; otherwise what brings ``pnl_ratio`` down
    to the trigger ratio (never below zero)."""
    drawdown, top = standing(rule, watch, symbol, now_ms, owed)
    if balance <= rule.balance_threshold or top <= 0:
        return None, False
    market = watch.market(symbol)
    if market.adl and drawdown <= rule.stop_ratio * top:  # pnl_ratio ≤ stop: ADL goes on
        return ZERO, True
    return max(drawdown - rule.trigger_ratio * top, ZERO), False


_FIELDS = frozenset(FundRuleSpec.__struct_fields__)
"""The rule's fields: ``risk/profile_format.py`` is their one home."""


def parse_fund_rule(raw: Any, where: str) -> FundRule | None:
    """A profile's ``liquidation.fund_rule`` object (``None`` when absent)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} must be an object")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise InvalidInput(f"{where} takes no {', '.join(unknown)}")
    if raw.get("kind") != "pnl_drawdown":
        raise InvalidInput(f"{where}.kind must be pnl_drawdown")
    window = raw.get("window_ms")
    if isinstance(window, bool) or not isinstance(window, int) or window <= 0:
        raise InvalidInput(f"{where}.window_ms must be a whole number of milliseconds > 0")
    trigger = to_decimal(raw.get("trigger_ratio"), f"{where}.trigger_ratio")
    stop = to_decimal(raw.get("stop_ratio"), f"{where}.stop_ratio")
    if not -1 <= trigger < 0:
        raise InvalidInput(f"{where}.trigger_ratio must be in [-1, 0), got {trigger}")
    if not trigger < stop <= 0:
        raise InvalidInput(f"{where}.stop_ratio must be above trigger_ratio and at most 0, got {stop}")
    threshold = non_negative(raw.get("balance_threshold"), f"{where}.balance_threshold")
    return FundRule(window, trigger, stop, threshold, str(raw.get("source", "")))
