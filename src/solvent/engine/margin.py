"""Margin of one account in engine state: equity, MM, IM including open orders, levels.

Cross margin (all amounts in the settlement asset; ``value`` and ``notional`` are
``engine/contract_value.py``'s: ``qty × cs × price`` linear, ``qty × cs / price`` coin for
inverse instruments):

* collateral = Σ positive balances × index × (1 − haircut) + Σ negative balances × index
  (a debt gets no haircut benefit; the settlement asset has price 1 and no haircut; each
  asset's value rounded down to the money quantum: ``risk/collateral.py``)
* equity = collateral + Σ cross positions' ``value(qty × cs, mark) − cost``
* MM = Σ cross positions' MM (venue rules, at the mark or on entry value)
* IM = Σ per cross symbol ``notional(worst_qty × cs, mark) / leverage`` + order margin, where
  ``worst_qty`` assumes every open order fills: one-way ``max(|q + buys|, |q − sells|)``,
  hedge mode ``(long + opening buys) + (|short| + opening sells)``; order margin adds each
  order's immediate loss against the mark (a buy above the mark, a sell below it) and a
  taker-fee reserve on its notional. Orders on isolated symbols draw on cross equity too.

An isolated position has equity = its isolated margin + its PnL and its own MM.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from solvent.engine.config import EngineConfig
from solvent.engine.contract_value import notional, value
from solvent.engine.state import AccountState, OrderState, PositionState
from solvent.model import MarginMode, PositionSide, Side
from solvent.risk.collateral import value_wallet
from solvent.risk.levels import EXACT_CONTEXT
from solvent.risk.rules import MMBasis
from solvent.risk.tiers import TierTable
from solvent.units import ONE, ZERO

__all__ = [
    "NO_ORDERS",
    "AccountMargin",
    "Exposure",
    "IsolatedMargin",
    "MarginView",
    "OrderExposure",
    "OrderSums",
    "SymbolMargin",
    "combine",
    "evaluate",
    "exposure_from",
    "is_hedge",
    "order_exposure",
    "order_extra",
    "order_sums",
    "position_im",
    "position_mm",
    "position_tier",
    "symbol_exposure",
    "symbol_margin",
    "symbols_of",
]


class IsolatedMargin(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    position_side: PositionSide
    equity: Decimal
    maintenance_margin: Decimal
    initial_margin: Decimal
    notional: Decimal


class AccountMargin(msgspec.Struct, frozen=True, gc=False):
    collateral: Decimal
    equity: Decimal
    maintenance_margin: Decimal
    initial_margin: Decimal
    order_margin: Decimal
    isolated: tuple[IsolatedMargin, ...]
    notional: Decimal = ZERO
    """Σ |notional| of the cross positions at the mark."""

    @property
    def available(self) -> Decimal:
        """Equity not tied up by initial margin (may be negative)."""
        return self.equity - self.initial_margin

    @property
    def margin_ratio(self) -> Decimal | None:
        if self.equity <= 0:
            return None
        return self.maintenance_margin / self.equity


@dataclass(frozen=True, slots=True)
class MarginView:
    """What margin needs from the engine: prices, leverage and rules, read-only."""

    config: EngineConfig
    marks: Mapping[str, Decimal]
    asset_prices: Mapping[str, Decimal]
    scales: Mapping[str, Decimal] = field(default_factory=dict)
    """The volatility MM scale per symbol (``engine/maintenance_scale.py``); absent: 1."""

    def mark(self, symbol: str) -> Decimal:
        return self.marks[symbol]

    def leverage(self, acc: AccountState, symbol: str) -> Decimal:
        chosen = acc.leverage.get(symbol)
        return chosen if chosen is not None else self.config.leverage_default(symbol)

    def margin_mode(self, acc: AccountState, symbol: str) -> MarginMode:
        return acc.margin_mode.get(symbol, MarginMode.CROSS)


def _mm_table_and_basis(pos: PositionState, view: MarginView) -> tuple[TierTable, Decimal]:
    """The position's MM schedule and the notional it is read at: entry value or value at the mark."""
    profile = view.config.profile
    size = abs(pos.qty)
    table = profile.rules_for(pos.symbol).maintenance_table(size)
    if profile.mm_basis is MMBasis.ENTRY:
        return table, abs(pos.cost)
    return table, notional(size * pos.contract_size, view.mark(pos.symbol), profile.instrument(pos.symbol).is_inverse)


def position_mm(pos: PositionState, view: MarginView) -> Decimal:
    """Exact MM of one position under the venue's rules: the table's MM, times the symbol's
    volatility scale when the engine runs a volatility-scaled rule (exact: no rounding)."""
    if pos.qty == 0:
        return ZERO
    table, basis = _mm_table_and_basis(pos, view)
    mm = table.maintenance_margin(basis)
    scale = view.scales.get(pos.symbol)
    return mm if scale is None else mm * scale


def position_tier(pos: PositionState, view: MarginView) -> tuple[TierTable, int]:
    """The MM table of a (non-flat) position and the index, from 1, of the tier ``position_mm`` reads."""
    table, basis = _mm_table_and_basis(pos, view)
    return table, table.tier_index(basis) + 1


def position_im(pos: PositionState, view: MarginView, lev: Decimal) -> Decimal:
    """Exact IM a position holds: ``notional(|qty| × cs, mark) / leverage`` (a cross symbol's
    position IM is the sum over its slots; an isolated position's is its own)."""
    inverse = view.config.profile.instrument(pos.symbol).is_inverse
    return notional(abs(pos.qty) * pos.contract_size, view.mark(pos.symbol), inverse) / lev


def collateral_value(acc: AccountState, view: MarginView) -> Decimal:
    """The wallet's value in the settlement asset (``risk/collateral.py``, the one home); a
    collateral asset with no index price yet counts as nothing."""
    config = view.config
    return value_wallet(acc.balances, view.asset_prices, config.settle_asset, config.collateral,
                        config.money_quantum, unpriced_counts_zero=True).total


_ADD = EXACT_CONTEXT.add
_SUB = EXACT_CONTEXT.subtract
"""Order quantities and extras are summed exactly (``EXACT_CONTEXT``: a rounded sum raises), so a
sum kept up to date one order at a time (``OrderSums.plus``/``minus``, the margin cache) equals
the sum from scratch (``order_sums``) whatever the order of the additions."""


def _adds(order: OrderState, hedge: bool) -> tuple[Decimal, Decimal]:
    """``(buys, sells)`` an order adds to its symbol's exposure: only an order that can add
    exposure counts (not reduce-only; in hedge mode, only one opening its slot)."""
    if order.reduce_only:
        return ZERO, ZERO
    if hedge:
        if order.position_side is PositionSide.LONG and order.side is Side.LONG:
            return order.qty, ZERO
        if order.position_side is PositionSide.SHORT and order.side is Side.SHORT:
            return ZERO, order.qty
        return ZERO, ZERO
    return (order.qty, ZERO) if order.side is Side.LONG else (ZERO, order.qty)


class OrderSums(msgspec.Struct, frozen=True, gc=False):
    """One symbol's resting orders of an account, added up: ``count`` orders, the ``buys`` and
    ``sells`` that can add exposure (``_adds``) and their ``extras`` (``order_extra``, at the mark
    they were computed at). Exact sums, so ``plus``/``minus`` equal ``order_sums`` from scratch."""

    count: int
    buys: Decimal
    sells: Decimal
    extras: Decimal

    def plus(self, order: OrderState, hedge: bool, extra: Decimal) -> OrderSums:
        buys, sells = _adds(order, hedge)
        return OrderSums(self.count + 1, _ADD(self.buys, buys), _ADD(self.sells, sells), _ADD(self.extras, extra))

    def minus(self, order: OrderState, hedge: bool, extra: Decimal) -> OrderSums:
        buys, sells = _adds(order, hedge)
        return OrderSums(self.count - 1, _SUB(self.buys, buys), _SUB(self.sells, sells), _SUB(self.extras, extra))


NO_ORDERS = OrderSums(0, ZERO, ZERO, ZERO)


def order_sums(orders: Iterable[OrderState], hedge: bool, mark: Decimal, cs: Decimal, fee_rate: Decimal,
               inverse: bool) -> OrderSums:
    """``OrderSums`` of ``orders`` (one symbol's) from scratch."""
    count, buys, sells, extras = 0, ZERO, ZERO, ZERO
    for o in orders:
        b, s = _adds(o, hedge)
        count += 1
        buys, sells = _ADD(buys, b), _ADD(sells, s)
        extras = _ADD(extras, order_extra(o, mark, cs, fee_rate, inverse))
    return OrderSums(count, buys, sells, extras)


class Exposure(msgspec.Struct, frozen=True, gc=False):
    """What one symbol's positions and open orders add up to (quantities, not money).

    ``buys``/``sells`` count only orders that can add exposure: not reduce-only, and in hedge
    mode only those opening their slot. ``extras`` is the orders' immediate loss against the
    mark plus their taker-fee reserve (quote).
    """

    long_qty: Decimal
    short_qty: Decimal
    net_qty: Decimal
    buys: Decimal
    sells: Decimal
    extras: Decimal

    def worst_and_held(self, hedge: bool) -> tuple[Decimal, Decimal]:
        """``(worst_qty, held_qty)``: with every order filled in the worse direction, and now."""
        if hedge:
            return self.long_qty + self.buys + self.short_qty + self.sells, self.long_qty + self.short_qty
        up, down = abs(self.net_qty + self.buys), abs(self.net_qty - self.sells)
        return (down if down > up else up), abs(self.net_qty)  # ``max(up, down)``, without the builtin's cost

    def plus(self, order: OrderState, hedge: bool, extra: Decimal) -> Exposure:
        """The exposure with one more resting ``order`` (whose extras are ``extra``)."""
        buys, sells = _adds(order, hedge)  # one of them is zero: only the other is added
        return Exposure(self.long_qty, self.short_qty, self.net_qty, _ADD(self.buys, buys) if buys else self.buys,
                        _ADD(self.sells, sells) if sells else self.sells, _ADD(self.extras, extra))


NO_EXPOSURE = Exposure(ZERO, ZERO, ZERO, ZERO, ZERO, ZERO)


def exposure_from(positions: Iterable[PositionState], sums: OrderSums) -> Exposure:
    """The symbol's exposure: its positions' quantities and its orders' ``sums``."""
    long_q = short_q = net = ZERO
    for p in positions:
        net += p.qty
        if p.qty > 0:
            long_q += p.qty
        else:
            short_q -= p.qty
    return Exposure(long_q, short_q, net, sums.buys, sums.sells, sums.extras)


def exposure_of(positions: Iterable[PositionState], orders: Iterable[OrderState], hedge: bool,
                mark: Decimal, cs: Decimal, fee_rate: Decimal, inverse: bool) -> Exposure:
    return exposure_from(positions, order_sums(orders, hedge, mark, cs, fee_rate, inverse))


def symbol_exposure(
    positions: Iterable[PositionState], orders: Iterable[OrderState], hedge: bool
) -> tuple[Decimal, Decimal]:
    """``(worst_qty, held_qty)`` for one symbol: worst case with all orders filled, and now."""
    return exposure_of(positions, orders, hedge, ONE, ONE, ZERO, False).worst_and_held(hedge)


def order_extra(order: OrderState, mark: Decimal, cs: Decimal, fee_rate: Decimal, inverse: bool) -> Decimal:
    """An order's immediate loss against the mark plus its taker-fee reserve (on its notional)."""
    size = order.qty * cs
    if inverse:
        signed = size if order.side is Side.LONG else -size
        loss = value(signed, order.price, True) - value(signed, mark, True)
        return (ZERO if loss < ZERO else loss) + notional(size, order.price, True) * fee_rate
    loss = (order.price - mark) if order.side is Side.LONG else (mark - order.price)
    return (ZERO if loss < ZERO else loss) * order.qty * cs + order.qty * cs * order.price * fee_rate


class SymbolMargin(msgspec.Struct, frozen=True, gc=False):
    """One account's margin contribution from one symbol (positions and orders on it)."""

    equity: Decimal
    maintenance_margin: Decimal
    initial_margin: Decimal
    order_margin: Decimal
    isolated: tuple[IsolatedMargin, ...]
    notional: Decimal = ZERO
    exposure: Exposure = NO_EXPOSURE
    position_im: Decimal = ZERO


def is_hedge(acc: AccountState) -> bool:
    return any(slot is not PositionSide.BOTH for _, slot in acc.positions) or any(
        o.position_side is not PositionSide.BOTH for o in acc.orders.values()
    )


class OrderExposure(msgspec.Struct, frozen=True, gc=False):
    """A symbol's worst-case quantity, the quantity held, and the margin its orders need."""

    worst_qty: Decimal
    held_qty: Decimal
    order_margin: Decimal


def order_margin_of(exposure: Exposure, hedge: bool, mark: Decimal, cs: Decimal, lev: Decimal,
                    inverse: bool) -> OrderExposure:
    """``notional(max(worst − held, 0) × cs, mark) / leverage + extras``."""
    worst, held = exposure.worst_and_held(hedge)
    if worst == held and not exposure.extras:
        return OrderExposure(worst, held, ZERO)
    opens = worst - held
    return OrderExposure(worst, held, notional((ZERO if opens < ZERO else opens) * cs, mark, inverse) / lev
                         + exposure.extras)


def order_exposure(
    acc: AccountState, symbol: str, view: MarginView, hedge: bool, extra_orders: Iterable[OrderState] = ()
) -> OrderExposure:
    """Worst case with every open order (and ``extra_orders``) filled; the orders' margin."""
    positions = [p for p in acc.positions.values() if p.symbol == symbol]
    orders = [o for o in acc.orders.values() if o.symbol == symbol]
    orders.extend(extra_orders)
    mark = view.mark(symbol)
    inst = view.config.profile.instrument(symbol)
    cs, inverse = inst.contract_size, inst.is_inverse
    exposure = exposure_of(positions, orders, hedge, mark, cs, view.config.taker_fee_rate, inverse)
    return order_margin_of(exposure, hedge, mark, cs, view.leverage(acc, symbol), inverse)


def symbol_margin(
    acc: AccountState, symbol: str, view: MarginView, hedge: bool, extra_orders: Iterable[OrderState] = (),
    sums: OrderSums | None = None,
) -> SymbolMargin:
    """Contribution of ``symbol`` to the account's equity, MM and IM (module docstring).
    ``sums``: the symbol's resting orders already added up at the current mark (the margin
    cache keeps them), instead of a pass over every order of the account."""
    positions = [p for p in acc.positions.values() if p.symbol == symbol]
    mark = view.mark(symbol)
    lev = view.leverage(acc, symbol)
    inst = view.config.profile.instrument(symbol)
    cs, inverse = inst.contract_size, inst.is_inverse
    if sums is None:
        orders = [o for o in acc.orders.values() if o.symbol == symbol]
        orders.extend(extra_orders)
        sums = order_sums(orders, hedge, mark, cs, view.config.taker_fee_rate, inverse)
    if not sums.count and acc.margin_mode.get(symbol, MarginMode.CROSS) is MarginMode.CROSS:
        return _positions_only(positions, view, mark, lev, cs, inverse, hedge)
    exposure = exposure_from(positions, sums)
    orders_part = order_margin_of(exposure, hedge, mark, cs, lev, inverse)
    if view.margin_mode(acc, symbol) is MarginMode.ISOLATED:
        isolated = tuple(_isolated(p, view, mark, lev, inverse) for p in positions if p.qty)
        om = orders_part.order_margin
        return SymbolMargin(ZERO, ZERO, om, om, isolated, ZERO, exposure, ZERO)
    pnl = mm = ZERO
    for pos in positions:
        pnl += pos.pnl(mark, inverse)
        mm += position_mm(pos, view)
    held_notional = notional(orders_part.held_qty * cs, mark, inverse)
    position_im = held_notional / lev
    om = orders_part.order_margin
    return SymbolMargin(pnl, mm, position_im + om, om, (), held_notional, exposure, position_im)


def _positions_only(positions: list[PositionState], view: MarginView, mark: Decimal, lev: Decimal, cs: Decimal,
                    inverse: bool, hedge: bool) -> SymbolMargin:
    """``symbol_margin`` of a cross symbol with no open order, operation for operation: its
    exposure has no orders (``exposure_of``), so the order margin is zero and the held
    quantity is ``worst_and_held``'s (``order_margin_of``)."""
    long_q = short_q = net = pnl = mm = ZERO
    for pos in positions:
        qty = pos.qty
        net += qty
        if qty > 0:
            long_q += qty
        else:
            short_q -= qty
        pnl += pos.pnl(mark, inverse)
        mm += position_mm(pos, view)
    exposure = Exposure(long_q, short_q, net, ZERO, ZERO, ZERO)
    held = long_q + short_q if hedge else abs(net)
    held_notional = notional(held * cs, mark, inverse)
    position_im = held_notional / lev
    return SymbolMargin(pnl, mm, position_im + ZERO, ZERO, (), held_notional, exposure, position_im)


def symbols_of(acc: AccountState) -> list[str]:
    """Every symbol the account holds a position or an order in, sorted."""
    return sorted({p.symbol for p in acc.positions.values()} | {o.symbol for o in acc.orders.values()})


def combine(collateral: Decimal, parts: Iterable[SymbolMargin]) -> AccountMargin:
    equity, mm, im, order_im, notional = collateral, ZERO, ZERO, ZERO, ZERO
    isolated: list[IsolatedMargin] = []
    for part in parts:
        notional += part.notional
        equity += part.equity
        mm += part.maintenance_margin
        im += part.initial_margin
        order_im += part.order_margin
        isolated.extend(part.isolated)
    return AccountMargin(collateral, equity, mm, im, order_im, tuple(isolated), notional)


def evaluate(acc: AccountState, view: MarginView, extra_orders: Iterable[OrderState] = ()) -> AccountMargin:
    """The account's margin, computed from scratch (the reference the cache must equal)."""
    extra = list(extra_orders)
    hedge = is_hedge(acc) or any(o.position_side is not PositionSide.BOTH for o in extra)
    symbols = sorted(set(symbols_of(acc)) | {o.symbol for o in extra})
    parts = [symbol_margin(acc, s, view, hedge, [o for o in extra if o.symbol == s]) for s in symbols]
    return combine(collateral_value(acc, view), parts)


def _isolated(pos: PositionState, view: MarginView, mark: Decimal, lev: Decimal, inverse: bool) -> IsolatedMargin:
    size = notional(pos.qty * pos.contract_size, mark, inverse)
    return IsolatedMargin(
        symbol=pos.symbol,
        position_side=pos.position_side,
        equity=pos.isolated_margin + pos.pnl(mark, inverse),
        maintenance_margin=position_mm(pos, view),
        initial_margin=position_im(pos, view, lev),
        notional=size,
    )


