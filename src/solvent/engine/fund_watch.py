"""The engine's side of a venue profile's fund rule (``risk/fund_rules.py``).

What the rule reads is kept in ``EngineState.fund_watch``: the fund's balance as it stood
after each command and before each liquidation close is decided (``observe``), and each
market's fund PnL (``record``: a liquidation fee or what was left above a bankruptcy price
in, a deficit paid out). Before a liquidation leaves a close's shortfall to the fund,
``cover_limit`` says how much of it the fund may pay; ``engine/liquidation.py``
deleverages the rest. The rule is in force from liquidation revision 5 on, where the
policy deleverages at all.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from solvent.engine.config import EngineConfig
from solvent.engine.context import Ctx
from solvent.engine.events import Event, FundDrawdownAdl
from solvent.engine.state import EngineState
from solvent.engine.venue_rules import effective_policy, rule_of
from solvent.risk.fund_rules import FundRule, FundWatch, RunningMax, cover_limit, standing
from solvent.units import ZERO, plain

__all__ = ["cover_limit_now", "fund_rule", "fund_rule_report", "observe", "record", "start_adl"]

FUND_RULE_REVISION = 5
"""The first liquidation revision that runs the profile's fund rule."""


def fund_rule(config: EngineConfig) -> FundRule | None:
    """The fund rule in force (``None``: none, or the policy predates fund rules or does not ADL)."""
    rule = rule_of(config).fund_rule
    if rule is None:
        return None
    policy = effective_policy(config)
    if policy is None or not policy.adl or policy.revision < FUND_RULE_REVISION:
        return None
    return rule


def observe(state: EngineState, rule: FundRule) -> FundWatch:
    """The fund's balance as it stands now joins the window."""
    watch = state.fund_watch
    if watch is None:
        watch = state.fund_watch = FundWatch(RunningMax(state.insurance_fund))
    moved = watch.balance.moved(state.now_ms, state.insurance_fund, rule.window_ms)
    if moved is not watch.balance:
        watch = state.fund_watch = replace(watch, balance=moved)
    return watch


def record(ctx: Ctx, symbol: str | None, delta: Decimal) -> None:
    """The fund gained ``delta`` (negative: paid it) in ``symbol``'s market."""
    rule = fund_rule(ctx.config)
    if rule is None or symbol is None or not delta:
        return
    state = ctx.state
    watch = observe(state, rule)
    market = watch.market(symbol)
    pnl = market.pnl.moved(state.now_ms, market.pnl.value + delta, rule.window_ms)
    state.fund_watch = watch.with_market(replace(market, pnl=pnl))


def cover_limit_now(ctx: Ctx, symbol: str, events: list[Event], owed: Decimal = ZERO) -> Decimal | None:
    """How much more of a shortfall in ``symbol`` the fund may pay now, ``owed`` (what earlier
    closes of this liquidation left to it there, not paid yet) counted as paid (``None``: all
    it holds). A market whose drawdown ADL has ended leaves it here (an event): the end is
    noticed when the market next needs the fund, not the moment the window lets it go."""
    rule = fund_rule(ctx.config)
    if rule is None:
        return None
    state = ctx.state
    watch = observe(state, rule)
    limit, in_force = cover_limit(rule, watch, symbol, state.insurance_fund, state.now_ms, owed)
    market = watch.market(symbol)
    if limit is not None and market.adl and not in_force:
        state.fund_watch = watch.with_market(replace(market, adl=False))
        events.append(_event(rule, state, symbol, started=False))
    return limit


def start_adl(ctx: Ctx, symbol: str, events: list[Event]) -> None:
    """``symbol``'s deficits go to ADL until its PnL ratio recovers above the stop ratio."""
    rule = fund_rule(ctx.config)
    state = ctx.state
    if rule is None or state.fund_watch is None:
        return
    market = state.fund_watch.market(symbol)
    if not market.adl:
        state.fund_watch = state.fund_watch.with_market(replace(market, adl=True))
        events.append(_event(rule, state, symbol, started=True))


def _event(rule: FundRule, state: EngineState, symbol: str, *, started: bool) -> FundDrawdownAdl:
    assert state.fund_watch is not None
    return FundDrawdownAdl(symbol, started, *standing(rule, state.fund_watch, symbol, state.now_ms))


def fund_rule_report(config: EngineConfig, state: EngineState) -> dict[str, Any] | None:
    """The fund rule in force and where each market stands against it now, as Bybit's ADL
    alert publishes it (``pnl_ratio`` rounded to 10⁻⁶ for reading; ``drawdown`` and
    ``max_balance`` exact; ``drawdown_adl``: whether the fund would refuse the market's next
    shortfall now, not the flag as last recorded): ``None`` without a rule."""
    rule = fund_rule(config)
    if rule is None:
        return None
    watch = state.fund_watch or FundWatch(RunningMax(state.insurance_fund))
    markets = []
    for market in watch.markets:
        drawdown, top = standing(rule, watch, market.symbol, state.now_ms)
        ratio = (drawdown / top).quantize(Decimal("0.000001")) if top > 0 else None
        in_force = cover_limit(rule, watch, market.symbol, state.insurance_fund, state.now_ms)[1]
        markets.append({"symbol": market.symbol, "pnl": plain(market.pnl.value), "drawdown": plain(drawdown),
                        "pnl_ratio": None if ratio is None else plain(ratio), "drawdown_adl": in_force})
    return {"kind": "pnl_drawdown", "window_ms": rule.window_ms, "trigger_ratio": plain(rule.trigger_ratio),
            "stop_ratio": plain(rule.stop_ratio), "balance_threshold": plain(rule.balance_threshold),
            "max_balance": plain(watch.balance.maximum(state.now_ms, rule.window_ms)), "markets": markets}
