"""Account-level margin: equity, MM, IM, margin ratio, level and per-position liquidation.

Definitions (cross margin; all amounts in the settlement asset):

* equity (margin balance) = cross wallet (collateral value) + Σ unrealised PnL of cross positions
* MM = Σ MM of cross positions; IM = Σ IM of cross positions
* margin ratio = MM / equity (``None`` when equity ≤ 0: the account is bankrupt)

An isolated position is judged on its own: equity = isolated margin + its PnL.

Levels come from ``solvent.risk.levels`` (the one home) with the venue profile's trigger and
its warning and margin-call ratios, without hysteresis: ``bankrupt`` (equity < 0, or 0 with
MM > 0), ``liquidation`` (the venue's trigger: equity ≤ MM, or < MM), ``margin_call`` (ratio ≥
margin-call level), ``warning`` (ratio ≥ warning level), else ``healthy``.

Each position carries the level of the margin it draws on (its own isolated margin, or the
cross account) and ``already_liquidatable`` (that level is ``liquidation`` or ``bankrupt``
at the mark). The account's ``level`` is the worst over the cross account and every
isolated position; ``cross_level`` is the cross account's alone (``equity``, ``MM`` and
``IM`` are the cross account's: an isolated position's are in its own report).

Reported requirements are rounded up, and equity and PnL down, to ``MONEY_QUANTUM``;
decisions (levels) are taken on the exact values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from solvent.calc.price_solver import Leg, NoPriceReason, PriceSolution, solve_price
from solvent.errors import InvalidInput
from solvent.model import MarginMode, Position
from solvent.risk.levels import MarginLevel, level_without_history
from solvent.risk.levels import margin_ratio as _margin_ratio
from solvent.risk.levels import worst as _worst
from solvent.risk.rules import MarginRules, MMBasis
from solvent.risk.venues import VenueProfile
from solvent.units import ZERO, exact, require_decimals

__all__ = [
    "MONEY_QUANTUM",
    "PCT_QUANTUM",
    "AccountReport",
    "MarginLevel",
    "PositionReport",
    "assess_account",
    "distance_to_liquidation_pct",
    "initial_margin",
    "maintenance_margin",
    "margin_level",
    "margin_ratio",
    "shown_pct",
    "worst_level",
]

MONEY_QUANTUM = Decimal("0.00000001")
"""Quantum of reported amounts (1e-8 of the settlement asset)."""


@dataclass(frozen=True, slots=True)
class PositionReport:
    position: Position
    notional: Decimal
    unrealised_pnl: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    tier: int
    liquidation: PriceSolution
    bankruptcy: PriceSolution
    distance_to_liquidation_pct: Decimal | None
    isolated_equity: Decimal | None
    level: MarginLevel = MarginLevel.HEALTHY
    """Level of the margin this position draws on: its isolated margin, or the cross account."""
    already_liquidatable: bool = False
    """True when that level is ``liquidation`` or ``bankrupt`` at the mark."""
    liquidation_beyond_entry: bool = False
    """True when the liquidation price is at or past the entry price (a long's at or above
    entry, a short's at or below): the margin does not even cover MM at entry."""


@dataclass(frozen=True, slots=True)
class AccountReport:
    equity: Decimal
    maintenance_margin: Decimal
    initial_margin: Decimal
    margin_ratio: Decimal | None
    level: MarginLevel
    """Worst level over the cross account and every isolated position."""
    positions: tuple[PositionReport, ...]
    cross_level: MarginLevel = MarginLevel.HEALTHY
    """Level of the cross account alone (from ``equity`` and ``maintenance_margin``)."""


@exact
def maintenance_margin(position: Position, rules: MarginRules, basis: MMBasis) -> Decimal:
    """Exact MM of one position: at the mark, or on entry value (``basis``)."""
    table = rules.maintenance_table(position.qty)
    notional = position.entry_notional() if basis is MMBasis.ENTRY else position.notional()
    return table.maintenance_margin(notional)


@exact
def initial_margin(position: Position, rules: MarginRules) -> Decimal:
    """Exact IM: notional at the mark over the position's leverage (or the tier maximum)."""
    return rules.initial_margin(position.qty, position.notional(), position.leverage)


@exact
def margin_ratio(maint_margin: Decimal, equity: Decimal) -> Decimal | None:
    """``MM / equity``; ``None`` when equity ≤ 0 (no meaningful ratio: bankrupt)."""
    return _margin_ratio(maint_margin, equity)


@exact
def margin_level(equity: Decimal, maint_margin: Decimal, profile: VenueProfile) -> MarginLevel:
    """Classify an account (or isolated position) by the venue's thresholds (``risk.levels``)."""
    return level_without_history(
        equity, maint_margin, profile, warning=profile.warning_ratio, margin_call=profile.margin_call_ratio
    )


def worst_level(levels: Sequence[MarginLevel]) -> MarginLevel:
    """The most severe of ``levels`` (``healthy`` for none)."""
    return _worst(levels)


@exact
def assess_account(
    wallet: Decimal,
    positions: Sequence[Position],
    rules: Sequence[MarginRules],
    profile: VenueProfile,
) -> AccountReport:
    """Full margin picture of an account whose cross wallet holds ``wallet``."""
    require_decimals("assess_account", wallet=wallet)
    if len(rules) != len(positions):
        raise InvalidInput("one set of margin rules is needed per position")
    _check_one_settlement(positions)
    basis = profile.mm_basis
    mms = [maintenance_margin(p, r, basis) for p, r in zip(positions, rules, strict=True)]
    cross = [i for i, p in enumerate(positions) if p.margin_mode is MarginMode.CROSS]
    equity = wallet + sum((positions[i].pnl() for i in cross), ZERO)
    mm_total = sum((mms[i] for i in cross), ZERO)
    im_total = sum((initial_margin(positions[i], rules[i]) for i in cross), ZERO)
    cross_level = margin_level(equity, mm_total, profile)
    reports = tuple(
        _position_report(i, wallet, positions, rules, mms, profile, cross_level)
        for i in range(len(positions))
    )
    return AccountReport(
        equity=equity,
        maintenance_margin=mm_total,
        initial_margin=im_total,
        margin_ratio=margin_ratio(mm_total, equity),
        level=worst_level([cross_level, *(r.level for r in reports)]),
        positions=reports,
        cross_level=cross_level,
    )


def _check_one_settlement(positions: Sequence[Position]) -> None:
    settles = {p.instrument.settle for p in positions if p.margin_mode is MarginMode.CROSS}
    if len(settles) > 1:
        raise InvalidInput(f"cross positions settle in different assets: {', '.join(sorted(settles))}")


def _leg(position: Position, rules: MarginRules, basis: MMBasis, with_mm: bool) -> Leg:
    inst = position.instrument
    table = rules.maintenance_table(position.qty)
    at_mark = with_mm and basis is MMBasis.MARK
    fixed = table.maintenance_margin(position.entry_notional()) if with_mm and not at_mark else ZERO
    return Leg(
        sign=position.side.sign,
        qty=position.qty,
        entry_price=position.entry_price,
        contract_size=inst.contract_size,
        inverse=inst.is_inverse,
        mm_table=table if at_mark else None,
        fixed_mm=fixed,
    )


def _solve(
    index: int,
    wallet: Decimal,
    positions: Sequence[Position],
    rules: Sequence[MarginRules],
    mms: Sequence[Decimal],
    profile: VenueProfile,
    with_mm: bool,
) -> PriceSolution:
    target = positions[index]
    if target.margin_mode is MarginMode.ISOLATED:
        members = [index]
        base = target.isolated_margin
    else:
        symbol = target.instrument.symbol
        members = [
            i for i, p in enumerate(positions)
            if p.margin_mode is MarginMode.CROSS and p.instrument.symbol == symbol
        ]
        others = [
            i for i, p in enumerate(positions)
            if p.margin_mode is MarginMode.CROSS and i not in members
        ]
        base = wallet + sum((positions[i].pnl() - (mms[i] if with_mm else ZERO) for i in others), ZERO)
    legs = [_leg(positions[i], rules[i], profile.mm_basis, with_mm) for i in members]
    rule = profile.price_rule(target.instrument)
    return solve_price(base, legs, reference_price=target.price_now, rule=rule)


def _position_report(
    index: int,
    wallet: Decimal,
    positions: Sequence[Position],
    rules: Sequence[MarginRules],
    mms: Sequence[Decimal],
    profile: VenueProfile,
    cross_level: MarginLevel,
) -> PositionReport:
    pos = positions[index]
    liq = _solve(index, wallet, positions, rules, mms, profile, with_mm=True)
    bk = _solve(index, wallet, positions, rules, mms, profile, with_mm=False)
    basis_notional = pos.entry_notional() if profile.mm_basis is MMBasis.ENTRY else pos.notional()
    isolated = pos.isolated_margin + pos.pnl() if pos.margin_mode is MarginMode.ISOLATED else None
    level = cross_level if isolated is None else margin_level(isolated, mms[index], profile)
    is_lower = liq.lower is not None and liq.price == liq.lower
    return PositionReport(
        position=pos,
        notional=pos.notional(),
        unrealised_pnl=pos.pnl(),
        initial_margin=initial_margin(pos, rules[index]),
        maintenance_margin=mms[index],
        tier=rules[index].maintenance_table(pos.qty).tier_index(basis_notional) + 1,
        liquidation=liq,
        bankruptcy=bk,
        distance_to_liquidation_pct=distance_to_liquidation_pct(pos.price_now, liq.price, is_lower=is_lower),
        isolated_equity=isolated,
        level=level,
        already_liquidatable=level.is_liquidatable,
        liquidation_beyond_entry=_beyond_entry(pos, liq, is_lower=is_lower),
    )


def _beyond_entry(position: Position, liq: PriceSolution, *, is_lower: bool) -> bool:
    if liq.price is None:
        return liq.reason is NoPriceReason.BELOW_REQUIREMENT_AT_ANY_PRICE
    entry = position.entry_price
    return liq.price >= entry if is_lower else liq.price <= entry


PCT_QUANTUM = Decimal("0.0001")
"""A percentage is shown to four decimals (CLI and service): statistics, not money."""


def shown_pct(pct: Decimal | None) -> Decimal | None:
    """``pct`` rounded half-even to ``PCT_QUANTUM`` for display (``None`` stays ``None``)."""
    return None if pct is None else pct.quantize(PCT_QUANTUM)


@exact
def distance_to_liquidation_pct(
    mark: Decimal, liquidation_price: Decimal | None, *, is_lower: bool
) -> Decimal | None:
    """Signed room to the liquidation price, in percent of the mark (``None``: no price).

    ``(mark − price) / mark × 100`` for a lower bound (a long is liquidated as the price
    falls), ``(price − mark) / mark × 100`` for an upper one. Negative means the mark is
    already past the liquidation price.
    """
    if liquidation_price is None:
        return None
    gap = mark - liquidation_price if is_lower else liquidation_price - mark
    return gap / mark * 100
