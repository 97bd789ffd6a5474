"""Per-position liquidation prices from engine state, exactly (``solvent.calc`` solver).

For a cross position on symbol ``S`` the solver moves ``S``'s mark and holds every other
price: ``base = equity − Σ_S pnl − (MM − Σ_S MM)``, the account's equity and MM without
``S``'s cross positions, and the legs are those positions (both sides in hedge mode), each
with its own tier table. An isolated position is judged on its own margin:
``base = isolated margin``. The answer is where equity meets MM (the engine liquidates at
``equity ≤ MM``), rounded against the holder to the venue's price rule (``price_grid``: the
tick, or where the instrument has none the venue's own rule, such as Hyperliquid's five
significant figures; the calculators round the same way), with every other price unchanged;
``None`` with a reason when no price qualifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from solvent.calc import Leg, NoPriceReason, solve_price
from solvent.engine import AccountMargin
from solvent.engine.config import EngineConfig
from solvent.engine.contract_value import notional
from solvent.engine.margin import MarginView
from solvent.engine.state import AccountState, PositionState
from solvent.model import MarginMode
from solvent.risk.price_rules import PriceRule
from solvent.risk.rules import MMBasis
from solvent.units import ONE, ZERO

__all__ = ["LiquidationPrice", "liquidation_prices", "price_grid"]


@dataclass(frozen=True, slots=True)
class LiquidationPrice:
    price: Decimal | None
    reason: NoPriceReason | None


def _leg(pos: PositionState, view: MarginView) -> Leg:
    profile = view.config.profile
    size = abs(pos.qty)
    table = profile.rules_for(pos.symbol).maintenance_table(size)
    at_mark = profile.mm_basis is MMBasis.MARK
    inverse = profile.instrument(pos.symbol).is_inverse
    scale = view.scales.get(pos.symbol) or ONE  # the volatility MM scale, as ``position_mm`` applies it
    return Leg(
        sign=1 if pos.qty > 0 else -1,
        qty=size,
        entry_price=pos.entry_price(inverse),
        contract_size=pos.contract_size,
        inverse=inverse,
        mm_table=table if at_mark else None,
        fixed_mm=ZERO if at_mark else table.maintenance_margin(abs(pos.cost)) * scale,
        mm_scale=scale,
    )


def _mm(leg: Leg, mark: Decimal) -> Decimal:
    if leg.mm_table is None:
        return leg.fixed_mm
    return leg.mm_table.maintenance_margin(notional(leg.size, mark, leg.inverse)) * leg.mm_scale


def price_grid(config: EngineConfig, symbol: str) -> tuple[PriceRule | None, Decimal | None]:
    """The grid a shown liquidation price is rounded to: the venue's price rule for the
    instrument (``VenueProfile.price_rule``, what ``solvent account`` uses), else the engine's
    price step (``EngineConfig.price_step``) for an instrument the venue has no rule for."""
    rule = config.profile.price_rule(config.profile.instrument(symbol))
    return (rule, None) if rule is not None else (None, config.price_step(symbol))


def liquidation_prices(
    acc: AccountState, margin: AccountMargin, view: MarginView
) -> dict[tuple[str, str], LiquidationPrice]:
    """``(symbol, position_side) → LiquidationPrice`` for every open position with a mark
    (``view``: ``Engine.margin_view()``, whose volatility MM scales the legs carry)."""
    config, marks = view.config, view.marks
    out: dict[tuple[str, str], LiquidationPrice] = {}
    by_symbol: dict[str, list[PositionState]] = {}
    for (symbol, _), pos in sorted(acc.positions.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
        if pos.qty and symbol in marks:
            by_symbol.setdefault(symbol, []).append(pos)
    for symbol, positions in by_symbol.items():
        mark = marks[symbol]
        rule, tick = price_grid(config, symbol)
        isolated = acc.margin_mode.get(symbol, MarginMode.CROSS) is MarginMode.ISOLATED
        if isolated:
            for pos in positions:
                sol = solve_price(pos.isolated_margin, [_leg(pos, view)], reference_price=mark, tick=tick,
                                  rule=rule)
                out[(symbol, pos.position_side.value)] = LiquidationPrice(sol.price, sol.reason)
            continue
        legs = [_leg(p, view) for p in positions]
        inverse = config.profile.instrument(symbol).is_inverse
        own_pnl = sum((p.pnl(mark, inverse) for p in positions), ZERO)
        own_mm = sum((_mm(leg, mark) for leg in legs), ZERO)
        base = margin.equity - own_pnl - (margin.maintenance_margin - own_mm)
        sol = solve_price(base, legs, reference_price=mark, tick=tick, rule=rule)
        for pos in positions:
            out[(symbol, pos.position_side.value)] = LiquidationPrice(sol.price, sol.reason)
    return out
