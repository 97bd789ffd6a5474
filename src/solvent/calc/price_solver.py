"""Exact solver for the price at which equity meets maintenance margin (or zero).

Hold every other position at its mark and let one instrument's price ``P`` move. With
``t = P`` for a linear instrument and ``t = 1/P`` for an inverse one, each position on that
instrument contributes terms that are *linear in t* within one tier:

==========  ==================================  ===========================
leg         unrealised PnL                      notional (the tier's input)
==========  ==================================  ===========================
linear      ``s·q·cs·(t − entry)``                ``q·cs·t`` (quote)
inverse     ``s·q·cs·(1/entry − t)``              ``q·cs·t`` (coin)
==========  ==================================  ===========================

so ``f(t) = base + Σ pnl(t) − Σ MM(t)`` is piecewise linear, with breakpoints where a
position's notional crosses a tier floor. On each piece ``f(t) = a + b·t`` and the root is
``−a/b``; a root is kept only if it lies on its own piece, which is what makes the answer
"the tier that holds at the liquidation price, not at entry". Because maintenance rates
never fall as notional grows, ``f`` is concave in ``t``: the safe prices form one interval,
bounded by at most one *lower* liquidation price (reached as the price falls) and one
*upper* one (reached as it rises). A one-way long has only a lower bound, a short only an
upper one; a nearly flat hedge-mode pair can have both.

``base`` is the margin the legs draw on (isolated margin, or the cross wallet plus the
other positions' PnL minus their MM). With MM left out, the same solver gives the
bankruptcy price (equity = 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from solvent.risk.price_rules import PriceRule
from solvent.risk.tiers import TierTable
from solvent.units import ONE, ZERO, exact, require_decimals

__all__ = ["Leg", "NoPriceReason", "PriceSolution", "solve_price"]


class NoPriceReason(StrEnum):
    """Why no price is returned (the answer is ``null`` with this reason, never 0)."""

    NOT_LIQUIDATABLE = "NOT_LIQUIDATABLE"
    """Equity stays above the requirement at every positive price."""
    BELOW_REQUIREMENT_AT_ANY_PRICE = "BELOW_REQUIREMENT_AT_ANY_PRICE"
    """Equity is at or below the requirement whatever the price: liquidatable now."""
    NONE_IN_NET_DIRECTION = "NONE_IN_NET_DIRECTION"
    """A hedge pair has a bound only against its net position (see ``lower``/``upper``)."""


@dataclass(frozen=True, slots=True)
class Leg:
    """A position on the instrument whose price is solved for.

    ``mm_table`` gives MM as a function of the leg's notional at the solved price (venues that
    measure MM at the mark); ``fixed_mm`` is a constant MM (venues that measure it on entry
    value). Give one or neither (neither: bankruptcy, no MM).
    """

    sign: int
    qty: Decimal
    entry_price: Decimal
    contract_size: Decimal
    inverse: bool
    mm_table: TierTable | None = None
    fixed_mm: Decimal = ZERO
    mm_scale: Decimal = ONE
    """A factor on ``mm_table``'s MM (a volatility-scaled rule: ``risk/volatility.py``)."""

    @property
    def size(self) -> Decimal:
        return self.qty * self.contract_size


@dataclass(frozen=True, slots=True)
class PriceSolution:
    """Solved price(s).

    ``price`` is the bound in the direction of the net position: the lower bound for a net
    long, the upper one for a net short, the nearer one to the mark for a flat pair. When
    the net direction has no bound, ``price`` is ``None`` with reason
    ``NONE_IN_NET_DIRECTION`` and the other bound is still given in ``lower``/``upper``.
    """

    price: Decimal | None
    lower: Decimal | None = None
    upper: Decimal | None = None
    reason: NoPriceReason | None = None
    rule: PriceRule | None = None
    """The price grid the bounds were rounded to (``None``: exact, not rounded)."""


@exact
def solve_price(
    base: Decimal,
    legs: Sequence[Leg],
    *,
    reference_price: Decimal,
    tick: Decimal | None = None,
    rule: PriceRule | None = None,
) -> PriceSolution:
    """Find where ``base + Σ pnl − Σ MM`` crosses zero as the legs' price moves.

    ``reference_price`` (the mark) decides, for a flat hedge pair, which bound is reported.
    Prices are rounded to ``rule`` (or to ``tick`` when no rule is given; exact when neither)
    against the holder: lower bound up, upper bound down. A root that lies exactly on the
    grid is kept: the neighbouring grid price is checked against the exact condition in
    rational arithmetic (see ``_to_grid``), so the 40-digit quotient (``1/t`` for an
    inverse instrument) cannot push it one tick further.
    """
    require_decimals("solve_price", base=base, reference_price=reference_price, tick=tick)
    for leg in legs:
        require_decimals(
            "leg", qty=leg.qty, entry_price=leg.entry_price, contract_size=leg.contract_size,
            fixed_mm=leg.fixed_mm, mm_scale=leg.mm_scale,
        )
    if rule is None and tick is not None:
        rule = PriceRule.for_tick(tick)
    inverse = legs[0].inverse if legs else False
    lower: Decimal | None = None
    upper: Decimal | None = None
    for root_t, slope in _roots(base, legs):
        price = ONE / root_t if inverse else root_t
        rises_with_price = (slope < 0) if inverse else (slope > 0)
        if rises_with_price:
            lower = price if lower is None else max(lower, price)
        else:
            upper = price if upper is None else min(upper, price)
    if lower is None and upper is None:
        t_ref = ONE / reference_price if inverse else reference_price
        safe = _value(base, legs, t_ref) > 0
        reason = NoPriceReason.NOT_LIQUIDATABLE if safe else NoPriceReason.BELOW_REQUIREMENT_AT_ANY_PRICE
        return PriceSolution(None, reason=reason, rule=rule)
    if rule is not None:
        lower = _to_grid(base, legs, lower, rule, is_lower=True) if lower is not None else None
        upper = _to_grid(base, legs, upper, rule, is_lower=False) if upper is not None else None
    chosen = _pick(legs, lower, upper, reference_price)
    why = NoPriceReason.NONE_IN_NET_DIRECTION if chosen is None else None
    return PriceSolution(chosen, lower, upper, why, rule)


def _to_grid(base: Decimal, legs: Sequence[Leg], price: Decimal, rule: PriceRule, *, is_lower: bool) -> Decimal:
    """Round a bound to the grid against the holder, deciding exactly whether it is on it.

    The lower bound rounds up and the upper one down. The rounded value is one step too far
    when the exact root is itself the neighbouring grid price ``c`` (the computed root
    missed it by a last-digit error): ``c`` is the answer exactly when ``f(c) >= 0``
    evaluated in rational arithmetic, i.e. ``c`` is not strictly inside the liquidation
    zone, so the bound is at or beyond ``c``. Conversely a rounded value with ``f < 0`` is
    inside the zone (the computed root erred the other way) and moves one step out.
    """
    rounded = rule.round(price, is_long=is_lower)
    step = rule.step(price)
    if _exact_value(base, legs, rounded) < 0:
        # The computed root fell on the holder's side of a grid price that is in fact past
        # the exact root: one more step against the holder.
        return rounded + step if is_lower else rounded - step
    neighbour = rounded - step if is_lower else rounded + step
    if neighbour > 0 and _exact_value(base, legs, neighbour) >= 0:
        return neighbour
    return rounded


def _exact_value(base: Decimal, legs: Sequence[Leg], price: Decimal) -> Fraction:
    """``f`` at ``price`` in exact rational arithmetic (no 40-digit quotient anywhere)."""
    p = Fraction(price)
    total = Fraction(base)
    for leg in legs:
        size = Fraction(leg.size)
        if leg.inverse:
            total += leg.sign * size * (1 / Fraction(leg.entry_price) - 1 / p)
            notional = size / p
        else:
            total += leg.sign * size * (p - Fraction(leg.entry_price))
            notional = size * p
        total -= Fraction(leg.fixed_mm)
        if leg.mm_table is not None:
            tier = leg.mm_table.tier_for(leg.size / price if leg.inverse else leg.size * price)
            table_mm = Fraction(tier.maint_margin_rate) * notional - Fraction(tier.maint_amount)
            total -= Fraction(leg.mm_scale) * table_mm
    return total


def _pick(
    legs: Sequence[Leg], lower: Decimal | None, upper: Decimal | None, reference: Decimal
) -> Decimal | None:
    """The bound in the direction of the net position (``None`` when it has none)."""
    net = sum((leg.sign * leg.size for leg in legs), ZERO)
    if net > 0:
        return lower
    if net < 0:
        return upper
    if lower is None or upper is None:
        return lower if upper is None else upper
    return lower if reference - lower <= upper - reference else upper


def _breakpoints(legs: Sequence[Leg]) -> list[Decimal]:
    points = {ZERO}
    for leg in legs:
        if leg.mm_table is not None:
            points.update(t.floor_notional / leg.size for t in leg.mm_table.tiers[1:])
    return sorted(points)


def _piece(base: Decimal, legs: Sequence[Leg], t_left: Decimal) -> tuple[Decimal, Decimal]:
    """Coefficients ``(a, b)`` of ``f(t) = a + b·t`` on the piece starting at ``t_left``."""
    a, b = base, ZERO
    for leg in legs:
        signed = leg.sign * leg.size
        if leg.inverse:
            a, b = a + signed / leg.entry_price, b - signed
        else:
            a, b = a - signed * leg.entry_price, b + signed
        a -= leg.fixed_mm
        if leg.mm_table is not None:
            tier = leg.mm_table.tier_for(leg.size * t_left)
            scale = leg.mm_scale
            a, b = a + scale * tier.maint_amount, b - scale * tier.maint_margin_rate * leg.size
    return a, b


def _value(base: Decimal, legs: Sequence[Leg], t: Decimal) -> Decimal:
    a, b = _piece(base, legs, t)
    return a + b * t


def _roots(base: Decimal, legs: Sequence[Leg]) -> list[tuple[Decimal, Decimal]]:
    """Roots ``(t, slope)`` with ``t > 0``, at most one per piece."""
    points = _breakpoints(legs)
    found: list[tuple[Decimal, Decimal]] = []
    for i, left in enumerate(points):
        right = points[i + 1] if i + 1 < len(points) else None
        # Choose tiers at a point strictly inside the piece: ``left`` itself is a rounded
        # quotient (floor / size) that can land a hair below the floor it stands for.
        probe = left * 2 if right is None else (left + right) / 2
        a, b = _piece(base, legs, probe)
        if b == 0:
            continue
        root = -a / b
        if root > 0 and root >= left and (right is None or root < right):
            found.append((root, b))
    return found
