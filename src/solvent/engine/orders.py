"""Placing and cancelling orders: the pre-trade solvency check.

An order is accepted only if, with it resting, the account's initial margin — every open
order counted at its worst case (``engine/margin.py``), plus immediate losses and a fee
reserve — is covered by equity; if the symbol's worst-case notional stays inside the tier
the account's leverage allows; and if position and open-interest limits hold.

A risk-reducing order (reduce-only, or one that shrinks the position without flipping it)
is accepted even for an account under its margin, provided that once filled at its price
its MM does not rise and its margin ratio does not worsen. ``Engine.check`` runs exactly
this code without committing.
"""

from __future__ import annotations

import copy
from decimal import Decimal

from solvent.engine.commands import CancelOrder, PlaceOrder
from solvent.engine.context import Ctx, Deny, Outcome, ShortOfMargin, enum_field, positive_amount
from solvent.engine.contract_value import larger_per_unit
from solvent.engine.denials import DenyCode
from solvent.engine.events import OrderCancelled, OrderPlaced
from solvent.engine.ledger import apply_trade
from solvent.engine.leverage import check_leverage, leverage_clear_below
from solvent.engine.margin import AccountMargin, evaluate, is_hedge, order_exposure, order_extra, order_margin_of
from solvent.engine.state import AccountState, OrderState, PositionState
from solvent.model import Instrument, MarginMode, PositionSide, Side
from solvent.units import ZERO

__all__ = [
    "OrderScene", "OrderSizing", "cancel_order", "check_position_side", "check_quantity", "order_scene", "order_sizing",
    "place_order",
]


def check_position_side(acc: AccountState, slot: PositionSide, hedge_now: bool | None = None) -> None:
    """One-way accounts use slot ``both``; hedge-mode accounts ``long``/``short``; never both."""
    if not acc.positions and not acc.orders:
        return
    if hedge_now is None:
        hedge_now = is_hedge(acc)
    if hedge_now != (slot is not PositionSide.BOTH):
        raise Deny(DenyCode.POSITION_SIDE_MISMATCH, position_side=slot.value,
                   account_mode="hedge" if hedge_now else "one_way")


def check_on_grid(inst: Instrument, qty: Decimal, price: Decimal) -> None:
    """Quantity on the instrument's lot and price on its tick (where the profile gives them):
    the one check for orders and fills."""
    _on_lot(inst, qty)
    _on_tick(inst, price)


def _on_lot(inst: Instrument, qty: Decimal) -> None:
    lot = inst.lot_size
    if lot and qty % lot != 0:
        raise Deny(DenyCode.INVALID_QUANTITY, qty=qty, lot_size=lot)


def _on_tick(inst: Instrument, price: Decimal) -> None:
    tick = inst.tick_size
    if tick and price % tick != 0:
        raise Deny(DenyCode.INVALID_PRICE, price=price, tick_size=tick)


def _valid_price(price: Decimal) -> None:
    if not (isinstance(price, Decimal) and price.is_finite() and price > 0):
        positive_amount(price, DenyCode.INVALID_PRICE, "price")


def _validate(ctx: Ctx, acc: AccountState, cmd: PlaceOrder, inst: Instrument) -> None:
    qty, price = cmd.qty, cmd.price
    if not (isinstance(qty, Decimal) and qty.is_finite() and qty > 0):
        positive_amount(qty, DenyCode.INVALID_QUANTITY, "qty")
    if not (isinstance(price, Decimal) and price.is_finite() and price > 0):
        _valid_price(price)
    _on_lot(inst, qty)  # ``check_on_grid``, call by call
    _on_tick(inst, price)
    _validate_ids_and_side(ctx, acc, cmd)


def _validate_ids_and_side(ctx: Ctx, acc: AccountState, cmd: PlaceOrder) -> None:
    """The order id is new; the slot fits the account's mode; a closing slot holds a position."""
    if not cmd.order_id or cmd.order_id in acc.orders:
        raise Deny(DenyCode.DUPLICATE_ORDER_ID, order_id=cmd.order_id)
    slot, side = cmd.position_side, cmd.side
    if type(slot) is not PositionSide or type(side) is not Side:  # a caller's values: "long"
        slot, side = enum_field(PositionSide, slot, "position_side"), enum_field(Side, side, "side")
    if acc.positions or acc.orders:
        hedge = ctx.cache.hedge(acc, ctx.view())
        if hedge != (slot is not PositionSide.BOTH):  # the account trades in the other mode
            check_position_side(acc, slot, hedge)
    if ((slot is PositionSide.LONG and side is Side.SHORT) or (
        slot is PositionSide.SHORT and side is Side.LONG
    )) and not _slot_qty(acc, cmd.symbol, slot):
        raise Deny(DenyCode.NO_POSITION, symbol=cmd.symbol, position_side=slot.value)


def _slot_qty(acc: AccountState, symbol: str, slot: PositionSide) -> Decimal:
    pos = acc.positions.get((symbol, slot))
    return pos.qty if pos is not None else ZERO


def _as_filled(ctx: Ctx, acc: AccountState, cmd: OrderState, inst: Instrument) -> AccountState:
    """A copy of the account as if the order filled in full at its price (no fee)."""
    trial = copy.copy(acc)
    trial.positions = dict(acc.positions)
    trial.balances = dict(acc.balances)
    key = (cmd.symbol, cmd.position_side)
    pos = acc.positions.get(key)
    qty, cost = (pos.qty, pos.cost) if pos else (ZERO, ZERO)
    signed = cmd.qty if cmd.side is Side.LONG else -cmd.qty
    effect = apply_trade(qty, cost, signed, cmd.price, inst.contract_size, ctx.config.money_quantum,
                         inverse=inst.is_inverse)
    mode = acc.margin_mode.get(cmd.symbol, MarginMode.CROSS)
    margin = pos.isolated_margin if pos else ZERO
    trial.positions[key] = PositionState(cmd.symbol, cmd.position_side, effect.qty, effect.cost,
                                         inst.contract_size, mode, margin)
    settle = ctx.config.settle_asset
    trial.balances[settle] = trial.balances.get(settle, ZERO) + effect.realised_pnl
    return trial


def _risk_reduction_ok(before: AccountMargin, after: AccountMargin) -> bool:
    if after.maintenance_margin > before.maintenance_margin:
        return False
    r0, r1 = before.margin_ratio, after.margin_ratio
    if r1 is None:
        return r0 is None and after.equity >= before.equity
    return r0 is None or r1 <= r0


OrderScene = tuple[AccountState, Instrument, Decimal, Side, PositionSide]
"""What checking an order reads that its quantity does not change (``order_scene``): the
account, the instrument, the mark, the side and the slot (a plain tuple: built per check)."""


def order_scene(ctx: Ctx, cmd: PlaceOrder) -> OrderScene:
    """Every check of ``place_order`` that does not depend on the quantity (account, instrument,
    the price and its tick, the order id, the slot, mark and halt), for sizing an order: an
    order of quantity ``q`` is accepted exactly when this passes, ``check_quantity`` passes
    for ``q`` and ``OrderSizing.judge`` passes for it (``engine/max_qty.py`` probes many ``q``)."""
    acc = ctx.account(cmd.account_id)
    inst = ctx.instrument(cmd.symbol)
    _valid_price(cmd.price)
    _on_tick(inst, cmd.price)
    _validate_ids_and_side(ctx, acc, cmd)
    mark, side, slot = _market_side_slot(ctx, cmd)
    return acc, inst, mark, side, slot


def _market_side_slot(ctx: Ctx, cmd: PlaceOrder) -> tuple[Decimal, Side, PositionSide]:
    """The mark and halt checks, then the order's side and slot as enums."""
    symbol = cmd.symbol
    mark = ctx.mark(symbol)
    if ctx.state.markets[symbol].halted:
        raise Deny(DenyCode.MARKET_HALTED, symbol=symbol)
    side = cmd.side if type(cmd.side) is Side else enum_field(Side, cmd.side, "side")
    slot = (cmd.position_side if type(cmd.position_side) is PositionSide
            else enum_field(PositionSide, cmd.position_side, "position_side"))
    return mark, side, slot


def check_quantity(inst: Instrument, qty: Decimal) -> None:
    """The quantity's own checks in ``place_order``: finite, positive, on the lot grid."""
    if not (isinstance(qty, Decimal) and qty.is_finite() and qty > 0):
        positive_amount(qty, DenyCode.INVALID_QUANTITY, "qty")
    _on_lot(inst, qty)


class OrderSizing:
    """The checks of an order that depend on its quantity (``judge``), with everything they read
    that the quantity does not change read once: the account's margin now and the symbol's
    cached part of it, the position the order could reduce, the leverage, the limits.

    ``place_order`` judges one quantity; what-if sizing (``engine/max_qty.py``) judges several
    and reads the same figures for its closed form, so a probe is the check, not a copy of it.
    Built and used within one read of the state (nothing may change in between).
    """

    __slots__ = ("acc", "before", "clear_below", "ctx", "fee_rate", "hedge", "held", "inst", "leverage", "mark",
                 "oi_cap", "order_id", "part", "per_worst", "position_cap", "price", "reduce_only", "side", "slot",
                 "symbol", "view")

    def __init__(self, ctx: Ctx, acc: AccountState, inst: Instrument, mark: Decimal, side: Side,
                 slot: PositionSide, order_id: str, symbol: str, price: Decimal, reduce_only: bool) -> None:
        self.ctx, self.acc, self.inst, self.mark, self.side, self.slot = ctx, acc, inst, mark, side, slot
        self.order_id, self.symbol, self.price, self.reduce_only = order_id, symbol, price, reduce_only
        view = self.view = ctx.view()
        pos = acc.positions.get((symbol, slot))
        self.held = pos.qty if pos is not None else ZERO
        self.before, self.part, self.hedge = ctx.cache.order_base(acc, view, symbol, slot)
        self.leverage = view.leverage(acc, symbol)
        self.clear_below = leverage_clear_below(view, symbol, self.leverage)
        config = ctx.config
        self.fee_rate = config.taker_fee_rate
        self.per_worst = larger_per_unit(inst.contract_size, mark, price, inst.is_inverse)
        self.position_cap = config.max_position_notional
        self.oi_cap = config.max_open_interest.get(symbol) if config.max_open_interest else None

    def order(self, qty: Decimal) -> OrderState:
        """The order of ``qty`` as it would rest."""
        return OrderState(self.order_id, self.symbol, self.side, qty, self.price, self.reduce_only, self.slot)

    def judge(self, qty: Decimal) -> OrderState:
        """The order of ``qty`` as it would rest, or ``Deny`` (``refusal``)."""
        order = self.order(qty)
        refused = self.refusal(order)
        if refused is not None:
            raise refused
        return order

    def refusal(self, order: OrderState) -> Deny | None:
        """Reduce-only, then (for an order that does not reduce) leverage tier and limits, then
        margin: the first that fails, as the ``Deny`` the check raises (returned, not raised:
        a what-if probe needs only whether there is one), or ``None``."""
        qty = order.qty
        held = self.held  # the order reduces: it goes against the position and is no larger (no flip)
        reducing = bool(held) and (held > 0) != (self.side is Side.LONG) and qty <= abs(held)
        if self.reduce_only and not reducing:
            return Deny(DenyCode.REDUCE_ONLY_WOULD_INCREASE, symbol=self.symbol, qty=qty)
        before, part, inst = self.before, self.part, self.inst
        if part is None:  # the order's slot puts the account in the other mode: margin it whole
            after = evaluate(self.acc, self.view, [order])
            exposure = order_exposure(self.acc, self.symbol, self.view, self.hedge, (order,))
            initial, equity = after.initial_margin, after.equity
        else:  # positions do not change: only the symbol's order margin does
            cs, inverse, hedge, mark = inst.contract_size, inst.is_inverse, self.hedge, self.mark
            extra = order_extra(order, mark, cs, self.fee_rate, inverse)
            exposure = order_margin_of(part.exposure.plus(order, hedge, extra), hedge, mark, cs, self.leverage, inverse)
            initial, equity = before.initial_margin + (exposure.order_margin - part.order_margin), before.equity
        if not reducing:
            refused = self._limits(qty, exposure.worst_qty)
            if refused is not None:
                return refused
        if equity - initial < 0 and not (reducing and _risk_reduction_ok(
                before, evaluate(_as_filled(self.ctx, self.acc, order, inst), self.view))):
            code = DenyCode.RISK_INCREASING_WHILE_UNDER_MARGIN if before.available < 0 and reducing else (
                DenyCode.INSUFFICIENT_INITIAL_MARGIN)
            return ShortOfMargin(code, self.ctx.config.money_quantum, initial, equity)
        return None

    def _limits(self, qty: Decimal, worst: Decimal) -> Deny | None:
        notional = worst * self.per_worst
        if not ZERO <= notional < self.clear_below:  # below it the leverage check passes (``leverage_clear_below``)
            try:
                check_leverage(self.view, self.symbol, worst, notional, self.leverage)
            except Deny as refused:
                return refused
        cap = self.position_cap
        if cap is not None and notional > cap:
            return Deny(DenyCode.POSITION_LIMIT, notional=notional, limit=cap)
        oi_cap = self.oi_cap
        if oi_cap is not None:
            open_interest = self.ctx.state.open_interest.get(self.symbol, ZERO)
            if open_interest + qty > oi_cap:
                return Deny(DenyCode.OPEN_INTEREST_LIMIT, open_interest=open_interest, qty=qty, limit=oi_cap)
        return None


def order_sizing(ctx: Ctx, acc: AccountState, inst: Instrument, mark: Decimal, side: Side, slot: PositionSide,
                 cmd: PlaceOrder) -> OrderSizing:
    """``OrderSizing`` of ``cmd`` (its quantity aside)."""
    return OrderSizing(ctx, acc, inst, mark, side, slot, cmd.order_id, cmd.symbol, cmd.price, cmd.reduce_only)


def place_order(ctx: Ctx, cmd: PlaceOrder, commit: bool) -> Outcome:
    """Refusals in this order: account, instrument, the order's own numbers and ids, mark and halt,
    reduce-only, then (only for an order that does not reduce) leverage tier and limits, then margin.
    The accepted path builds the order and its one event and nothing else."""
    acc = ctx.account(cmd.account_id)
    inst = ctx.instrument(cmd.symbol)
    _validate(ctx, acc, cmd, inst)
    mark, side, slot = _market_side_slot(ctx, cmd)
    sizing = order_sizing(ctx, acc, inst, mark, side, slot, cmd)
    if ctx.sizings is not None:
        ctx.sizings.append(sizing)
    order = sizing.judge(cmd.qty)
    aid, symbol = acc.account_id, cmd.symbol
    out = Outcome([OrderPlaced(aid, cmd.order_id, symbol, _SIDE_NAME[side], cmd.qty, cmd.price)], {aid})
    if order.position_side is PositionSide.BOTH:
        out.narrow[aid] = frozenset((symbol,))
    if commit:
        ctx.rest_order(acc, order)
        ctx.holders.setdefault(symbol, set()).add(aid)
    return out


_SIDE_NAME: dict[Side, str] = {s: s.value for s in Side}
"""``side.value`` without the enum property's cost per order."""


def cancel_order(ctx: Ctx, cmd: CancelOrder, commit: bool) -> Outcome:
    acc = ctx.account(cmd.account_id)
    if cmd.order_id not in acc.orders:
        raise Deny(DenyCode.UNKNOWN_ORDER, order_id=cmd.order_id)
    order = acc.orders[cmd.order_id]
    out = Outcome([OrderCancelled(acc.account_id, cmd.order_id, "cancelled")], {acc.account_id})
    if order.position_side is PositionSide.BOTH:
        out.narrow[acc.account_id] = frozenset((order.symbol,))
    if commit:
        ctx.unrest_order(acc, cmd.order_id)
    return out
