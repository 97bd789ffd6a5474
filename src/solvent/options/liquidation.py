"""Which positions to reduce when an options portfolio is below maintenance: the reduction that
most lowers the maintenance margin per unit of notional, step by step.

``plan_liquidation`` works on the portfolio file's form (``options.portfolio``):

1. While equity is below MM: for every position that can be traded (not in ``untradable``:
   a liquidation order in it would not execute), close ``step`` of it (a fraction, at its
   mark: nothing is gained or lost on the close itself) and margin the portfolio after it
   (``pretrade.after_order``).
2. Take the close whose MM relief per unit of notional closed (the coins closed × the index,
   in USD) is largest; the first of equals, in the file's order.
3. When no close lowers MM and the rules hedge with the perpetual (``OptionRules.
   hedge_with_perpetual``: Deribit's portfolio margin), trade ``step`` of the portfolio's delta
   the other way in the coin's perpetual (``delta_hedge``), if that lowers MM: Deribit's
   algorithm since 2023-08-01, which reduces the instrument contributing most and, when such
   orders do not trade, "attempts to reduce the risk by delta hedging via the Perpetual (if
   this would also reduce the maintenance margin)", opening or adding to a perpetual position.
4. Stop when equity covers MM, when nothing lowers MM (the rest is the fund's and ADL's), or
   after ``max_steps``.

It plans; it does not charge a liquidation fee or move money (the engine does not hold options
yet).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from solvent.errors import InvalidInput
from solvent.options.black76 import coin_delta, coin_value, greeks
from solvent.options.margin import margin
from solvent.options.portfolio import OptionPortfolio, priced_at_marks, read_portfolio
from solvent.options.pretrade import OptionOrder, after_order
from solvent.options.rules import OptionRules
from solvent.units import exact, to_decimal

__all__ = ["HEDGE_STEP", "ReductionStep", "delta_hedge", "plan_liquidation", "portfolio_delta"]


HEDGE_STEP = Decimal("0.0001")
"""A perpetual hedge is a multiple of this many coins (rounded toward zero)."""


@dataclass(frozen=True, slots=True)
class ReductionStep:
    instrument: str
    qty: Decimal
    """The trade: opposite in sign to the position it reduces, or the perpetual hedge's."""
    maintenance_margin_before: Decimal
    maintenance_margin_after: Decimal
    relief_per_notional: Decimal
    """MM relief per USD of notional traded."""
    kind: Literal["close", "hedge"] = "close"


def portfolio_delta(portfolio: OptionPortfolio) -> Decimal:
    """The portfolio's delta in coins of its underlying: each option's Black-76 delta (its coin
    delta ``Δ − V_coin`` when inverse) times its quantity, plus each future's coins."""
    portfolio, _ = priced_at_marks(portfolio)  # each option at the volatility of its mark
    index = float(portfolio.index)
    total = 0.0
    for o in portfolio.options:
        g = greeks(o.instrument.kind, float(o.forward), float(o.instrument.strike), o.vol, o.years)
        delta = coin_delta(g.delta, coin_value(g.price, index)) if o.instrument.inverse else g.delta
        total += float(o.qty) * delta
    if not math.isfinite(total):
        raise InvalidInput("the portfolio's delta is not a finite number")
    return Decimal(repr(total)) + sum((f.qty for f in portfolio.futures), Decimal(0))


def delta_hedge(raw: dict[str, Any], portfolio: OptionPortfolio, step: Decimal) -> OptionOrder | None:
    """``step`` of the portfolio's delta the other way in its coin's perpetual (``BTC-PERPETUAL``,
    or ``BTC_USDC-PERPETUAL`` when settled in USDC), at the perpetual's mark if it is held, else at
    the index; ``None`` when that rounds to nothing."""
    name = f"{portfolio.base}-PERPETUAL" if portfolio.inverse else f"{portfolio.base}_{portfolio.settle}-PERPETUAL"
    qty = (-portfolio_delta(portfolio) * step).quantize(HEDGE_STEP, rounding=ROUND_DOWN)
    if qty == 0:
        return None
    held = next((p for p in raw["positions"] if p.get("instrument") == name), None)
    price = portfolio.index if held is None else to_decimal(held["mark"], "mark")
    return OptionOrder(name, qty, price)


@exact
def plan_liquidation(raw: dict[str, Any], rules: OptionRules, step: Decimal = Decimal("0.25"),
                     max_steps: int = 40, untradable: Iterable[str] = ()) -> tuple[list[ReductionStep], dict[str, Any]]:
    """The reductions (module docstring) and the portfolio after them."""
    step = to_decimal(step, "liquidation step")
    if not 0 < step <= 1 or type(max_steps) is not int or max_steps < 1:
        raise InvalidInput("a liquidation step is a fraction in (0, 1], with at least one step")
    if isinstance(untradable, str) or not isinstance(untradable, Iterable):
        raise InvalidInput(f"untradable is a collection of instrument names, got {untradable!r}")
    frozen = set(untradable)
    if not all(isinstance(name, str) for name in frozen):
        raise InvalidInput("untradable names instruments: strings only")
    current = raw
    plan: list[ReductionStep] = []
    for _ in range(max_steps):
        portfolio = read_portfolio(current)
        before = margin(portfolio, rules)
        if before.equity >= before.maintenance_margin:
            break
        best: tuple[Decimal, ReductionStep, dict[str, Any]] | None = None
        for position in current["positions"]:
            qty = to_decimal(position["qty"], "qty")
            if qty == 0 or position["instrument"] in frozen:
                continue
            order = OptionOrder(position["instrument"], -qty * step, to_decimal(position["mark"], "mark"))
            tried = _tried(current, order, rules, before.maintenance_margin, portfolio, "close")
            if tried is not None and (best is None or tried[0] > best[0]):
                best = tried
        if best is None and rules.hedge_with_perpetual:
            hedge = delta_hedge(current, portfolio, step)
            if hedge is not None and hedge.instrument not in frozen:
                best = _tried(current, hedge, rules, before.maintenance_margin, portfolio, "hedge")
        if best is None:
            break  # nothing lowers MM: the deficit is the fund's and ADL's
        plan.append(best[1])
        current = best[2]
    return plan, current if plan else dict(raw)


def _tried(current: dict[str, Any], order: OptionOrder, rules: OptionRules, mm_before: Decimal, read: OptionPortfolio,
           kind: Literal["close", "hedge"]) -> tuple[Decimal, ReductionStep, dict[str, Any]] | None:
    """``order`` on ``current``: (MM relief per USD traded, its step, the portfolio after it), or
    ``None`` when it does not lower MM."""
    after = after_order(current, order, read)
    mm = margin(read_portfolio(after), rules).maintenance_margin
    relief = (mm_before - mm) / (abs(order.qty) * read.index)
    if relief <= 0:
        return None
    return relief, ReductionStep(order.instrument, order.qty, mm_before, mm, relief, kind), after

