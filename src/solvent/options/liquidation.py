"""Which positions to reduce when an options portfolio is below maintenance: the reduction that
most lowers the maintenance margin per unit of notional, step by step.

``plan_liquidation`` works on the portfolio file's form (``options.portfolio``):

1. While equity is below MM: for every position, close ``step`` of it (a fraction, at its mark:
   nothing is gained or lost on the close itself) and margin the portfolio after it
   (``pretrade.after_order``).
2. Take the close whose MM relief per unit of notional closed (the coins closed × the index,
   in USD) is largest; the first of equals, in the file's order.
3. Stop when equity covers MM, when no close lowers MM (the rest is the fund's and ADL's), or
   after ``max_steps``.

It plans; it does not charge a liquidation fee or move money (the engine does not hold options
yet). Hedging with a perpetual instead of closing is not planned.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from solvent.errors import InvalidInput
from solvent.options.margin import margin
from solvent.options.portfolio import read_portfolio
from solvent.options.pretrade import OptionOrder, after_order
from solvent.options.rules import OptionRules
from solvent.units import exact, to_decimal

__all__ = ["ReductionStep", "plan_liquidation"]


@dataclass(frozen=True, slots=True)
class ReductionStep:
    instrument: str
    qty: Decimal
    """The trade that reduces the position (opposite in sign to it)."""
    maintenance_margin_before: Decimal
    maintenance_margin_after: Decimal
    relief_per_notional: Decimal
    """MM relief per USD of notional closed."""


@exact
def plan_liquidation(raw: dict[str, Any], rules: OptionRules, step: Decimal = Decimal("0.25"),
                     max_steps: int = 40) -> tuple[list[ReductionStep], dict[str, Any]]:
    """The reductions (module docstring) and the portfolio after them."""
    if not 0 < step <= 1 or max_steps < 1:
        raise InvalidInput("a liquidation step is a fraction in (0, 1], with at least one step")
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
            if qty == 0:
                continue
            trade = -qty * step
            after = after_order(current, OptionOrder(position["instrument"], trade,
                                                     to_decimal(position["mark"], "mark")))
            mm = margin(read_portfolio(after), rules).maintenance_margin
            relief = (before.maintenance_margin - mm) / (abs(trade) * portfolio.index)
            if relief > 0 and (best is None or relief > best[0]):
                best = (relief, ReductionStep(position["instrument"], trade, before.maintenance_margin, mm, relief),
                        after)
        if best is None:
            break  # no close lowers MM: the deficit is the fund's and ADL's
        plan.append(best[1])
        current = best[2]
    return plan, current if plan else dict(raw)

