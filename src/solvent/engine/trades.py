"""Fills: a trade between two accounts of the engine, applied exactly to both sides.

A fill is not refused for margin (the venue's matcher already matched orders the engine
accepted); it is refused for being malformed: unknown accounts or symbol, a self-trade,
a duplicate trade id, quantities beyond the referenced orders, bad numbers.

For an isolated symbol, an opening fill moves ``added notional / leverage`` from the
settlement balance into the position's isolated margin; a reducing fill returns the same
fraction of the isolated margin (rounded down) with the realised PnL.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from solvent.engine.commands import Fill
from solvent.engine.context import Ctx, Deny, Outcome, enum_field, positive_amount, refuse_number, within_band
from solvent.engine.contract_value import entry_price, gain, notional
from solvent.engine.denials import DenyCode
from solvent.engine.events import BalanceChanged, Event, OrderCancelled, PositionChanged
from solvent.engine.ledger import apply_trade
from solvent.engine.orders import check_on_grid, check_position_side
from solvent.engine.state import AccountState, OrderState, PositionState
from solvent.limits import MAX_FILL_FEE_RATE
from solvent.model import Instrument, MarginMode, PositionSide
from solvent.units import ZERO, plain, round_up

__all__ = ["apply_fill", "fill"]


@dataclass(frozen=True, slots=True)
class _Leg:
    acc: AccountState
    signed_qty: Decimal
    fee: Decimal
    order_id: str | None
    slot: PositionSide


def _check_order(acc: AccountState, order_id: str | None, symbol: str, qty: Decimal, buying: bool,
                 price: Decimal, slot: PositionSide, terms: bool) -> None:
    """``terms``: the fill keeps to the order's limit price, its position side (``slot``, the leg
    the fill names) and reduce-only flag (``EngineConfig.order_terms``)."""
    if order_id is None:
        return
    order = acc.orders.get(order_id)
    if order is None or order.symbol != symbol or (order.side.sign > 0) != buying:
        raise Deny(DenyCode.UNKNOWN_ORDER, account=acc.account_id, order_id=order_id)
    if qty > order.qty:
        raise Deny(DenyCode.ORDER_QTY_EXCEEDED, order_id=order_id, qty=qty, remaining=order.qty)
    if not terms:
        return
    if slot is not order.position_side:  # a hedge-mode order fills the leg it was placed on, and no other
        raise Deny(DenyCode.POSITION_SIDE_MISMATCH, account=acc.account_id, order_id=order_id,
                   position_side=slot.value, order_position_side=order.position_side.value)
    if (price > order.price) if buying else (price < order.price):
        raise Deny(DenyCode.INVALID_PRICE, account=acc.account_id, order_id=order_id, price=price,
                   limit=order.price, reason="worse than the order's limit price")
    if order.reduce_only:
        pos = acc.positions.get((symbol, order.position_side))
        held = pos.qty if pos else ZERO
        if held == 0 or (held > 0) == buying or qty > abs(held):
            raise Deny(DenyCode.REDUCE_ONLY_WOULD_INCREASE, account=acc.account_id, order_id=order_id,
                       symbol=symbol, qty=qty, held=held)


def _check_slot(ctx: Ctx, acc: AccountState, leg_slot: PositionSide, symbol: str, signed: Decimal,
                external: bool) -> None:
    # an external fill is checked before its command changed anything, when the margin cache's
    # hedge flag is current (a command that could change it re-margins the account whole); the
    # engine's own liquidation and ADL trades come later in a command, so they look again
    check_position_side(acc, leg_slot, ctx.cache.hedge(acc, ctx.view()) if external else None)
    if leg_slot is PositionSide.BOTH:
        return
    pos = acc.positions.get((symbol, leg_slot))
    held = pos.qty if pos else ZERO
    after = held + signed
    if (leg_slot is PositionSide.LONG and after < 0) or (leg_slot is PositionSide.SHORT and after > 0):
        raise Deny(DenyCode.POSITION_SIDE_MISMATCH, symbol=symbol, position_side=leg_slot.value, held=held)


def _validate(ctx: Ctx, cmd: Fill, external: bool) -> tuple[Instrument, _Leg, _Leg]:
    inst = ctx.instrument(cmd.symbol)
    positive_amount(cmd.qty, DenyCode.INVALID_QUANTITY, "qty")
    positive_amount(cmd.price, DenyCode.INVALID_PRICE, "price")
    quantum = ctx.config.money_quantum if external and ctx.config.amounts_on_quantum else None
    for fee in (cmd.buyer_fee, cmd.seller_fee):
        if not isinstance(fee, Decimal) or not fee.is_finite() or fee < 0:
            refuse_number(DenyCode.INVALID_AMOUNT, "fee", fee, "a finite Decimal >= 0")
        if quantum is not None and fee % quantum:  # as every amount moved (``context.money_amount``)
            raise Deny(DenyCode.INVALID_AMOUNT, fee=fee, quantum=quantum,
                       reason="not a whole number of the money quantum")
    if not cmd.trade_id or cmd.trade_id in ctx.state.trade_ids:
        raise Deny(DenyCode.DUPLICATE_TRADE_ID, trade_id=cmd.trade_id)
    if cmd.buyer_id == cmd.seller_id:
        raise Deny(DenyCode.SELF_TRADE, account=cmd.buyer_id)
    buyer, seller = ctx.account(cmd.buyer_id), ctx.account(cmd.seller_id)
    mark = ctx.mark(cmd.symbol)
    if external and ctx.config.fill_checks:
        check_on_grid(inst, cmd.qty, cmd.price)
        within_band(cmd.price, mark, ctx.config.price_band)
    if external and ctx.config.fee_cap:
        _fees_within_cap(cmd, inst, max(MAX_FILL_FEE_RATE, ctx.config.taker_fee_rate), ctx.config.money_quantum)
    buyer_slot = enum_field(PositionSide, cmd.buyer_position_side, "buyer_position_side")
    seller_slot = enum_field(PositionSide, cmd.seller_position_side, "seller_position_side")
    terms = external and ctx.config.order_terms
    _check_order(buyer, cmd.buy_order_id, cmd.symbol, cmd.qty, True, cmd.price, buyer_slot, terms)
    _check_order(seller, cmd.sell_order_id, cmd.symbol, cmd.qty, False, cmd.price, seller_slot, terms)
    _check_slot(ctx, buyer, buyer_slot, cmd.symbol, cmd.qty, external)
    _check_slot(ctx, seller, seller_slot, cmd.symbol, -cmd.qty, external)
    return (inst, _Leg(buyer, cmd.qty, cmd.buyer_fee, cmd.buy_order_id, buyer_slot),
            _Leg(seller, -cmd.qty, cmd.seller_fee, cmd.sell_order_id, seller_slot))


def _fees_within_cap(cmd: Fill, inst: Instrument, rate: Decimal, quantum: Decimal) -> None:
    """Each side's fee at most ``rate`` of the trade's notional (``fee_cap``: ``MAX_FILL_FEE_RATE``,
    or the venue's own taker fee rate where that is higher), rounded up to the money quantum: a
    fee the venue rounded up to it passes (found by review: 2 % of an inverse contract's 0.00300000300…
    BTC was refused at 0.00006001)."""
    cap = round_up(notional(cmd.qty * inst.contract_size, cmd.price, inst.is_inverse) * rate, quantum)
    for side, fee in (("buyer_fee", cmd.buyer_fee), ("seller_fee", cmd.seller_fee)):
        if fee > cap:
            raise Deny(DenyCode.INVALID_AMOUNT, field=side, fee=fee, max=cap,
                       reason=f"above {plain(rate * 100)} % of the trade's notional")


def _one_way(leg: _Leg) -> bool:
    """A one-way leg, filling no hedge-mode order."""
    order = leg.acc.orders.get(leg.order_id) if leg.order_id else None
    return leg.slot is PositionSide.BOTH and (order is None or order.position_side is PositionSide.BOTH)


def fill(ctx: Ctx, cmd: Fill, commit: bool) -> Outcome:
    """A ``Fill`` command from the matching engine (checked on the grid and the band)."""
    return apply_fill(ctx, cmd, commit, external=True)


def apply_fill(ctx: Ctx, cmd: Fill, commit: bool, *, external: bool) -> Outcome:
    """Apply one trade; ``external=False`` for the engine's own liquidation and ADL trades,
    which are priced by the liquidation rules (a bankruptcy price can lie off the tick)."""
    inst, *legs = _validate(ctx, cmd, external)
    out = Outcome(touched={cmd.buyer_id, cmd.seller_id})
    if all(_one_way(leg) for leg in legs):  # the hedge flag cannot change: only this symbol's part
        only = frozenset((cmd.symbol,))
        out.narrow = {cmd.buyer_id: only, cmd.seller_id: only}
    oi_delta = ZERO
    for leg in legs:
        events, long_delta = _apply_leg(ctx, inst, cmd, leg, commit)
        out.events.extend(events)
        oi_delta += long_delta
    if commit:
        ctx.market(cmd.symbol).last_price = cmd.price
        ctx.state.trade_count += 1
        ctx.state.trade_ids[cmd.trade_id] = ctx.state.trade_count
        ctx.state.fee_income += cmd.buyer_fee + cmd.seller_fee
        ctx.state.open_interest[cmd.symbol] = ctx.state.open_interest.get(cmd.symbol, ZERO) + oi_delta / 2
    return out


def _open_loss(ctx: Ctx, inst: Instrument, cmd: Fill, signed_opened: Decimal) -> Decimal:
    """What the opened part loses at once against the mark: bought above it or sold below it
    (``EngineConfig.isolated_open_loss``); zero without a mark or for a fill on the good side."""
    market = ctx.state.markets.get(cmd.symbol)
    if market is None or market.mark is None:
        return ZERO
    return max(gain(signed_opened * inst.contract_size, cmd.price, market.mark, inst.is_inverse), ZERO)


def _apply_leg(ctx: Ctx, inst: Instrument, cmd: Fill, leg: _Leg, commit: bool) -> tuple[list[Event], Decimal]:
    acc, settle = leg.acc, ctx.config.settle_asset
    key = (cmd.symbol, leg.slot)
    pos = acc.positions.get(key)
    qty, cost = (pos.qty, pos.cost) if pos else (ZERO, ZERO)
    mode = pos.margin_mode if pos and pos.qty else acc.margin_mode.get(cmd.symbol, MarginMode.CROSS)
    inverse = inst.is_inverse
    effect = apply_trade(qty, cost, leg.signed_qty, cmd.price, inst.contract_size, ctx.config.money_quantum,
                         inverse=inverse)
    margin = pos.isolated_margin if pos else ZERO
    to_balance = effect.realised_pnl - leg.fee
    if mode is MarginMode.ISOLATED:
        released = margin if effect.qty == 0 or (effect.closed_qty and (qty > 0) != (effect.qty > 0)) else (
            (margin * effect.closed_qty / abs(qty)).quantize(ctx.config.money_quantum, rounding=ROUND_DOWN)
            if effect.closed_qty else ZERO)
        opened = max(abs(effect.qty) - (abs(qty) - effect.closed_qty), ZERO)
        lev = ctx.view().leverage(acc, cmd.symbol)
        im = notional(opened * inst.contract_size, cmd.price, inverse) / lev
        if ctx.config.isolated_open_loss and opened:
            im += _open_loss(ctx, inst, cmd, opened if leg.signed_qty > 0 else -opened)
        locked = (round_up(im, ctx.config.money_quantum) if ctx.config.isolated_lock_up
                  else im.quantize(ctx.config.money_quantum, rounding=ROUND_DOWN))
        # never lock more than the cross balance holds: a fill is not refused, but it cannot
        # borrow isolated margin from nowhere
        free = acc.balances.get(settle, ZERO) + to_balance + released
        locked = max(min(locked, free), ZERO)
        margin = margin - released + locked
        to_balance += released - locked
    balance = acc.balances.get(settle, ZERO) + to_balance
    long_delta = max(effect.qty, ZERO) - max(qty, ZERO) + max(-effect.qty, ZERO) - max(-qty, ZERO)
    events: list[Event] = [PositionChanged(acc.account_id, cmd.symbol, leg.slot.value, effect.qty,
                                           entry_price(effect.qty * inst.contract_size, effect.cost, inverse),
                                           effect.realised_pnl)]
    if to_balance:
        events.append(BalanceChanged(acc.account_id, settle, to_balance, balance, f"trade {cmd.trade_id}"))
    order = acc.orders.get(leg.order_id) if leg.order_id else None
    if order is not None and order.qty == abs(leg.signed_qty):
        events.append(OrderCancelled(acc.account_id, order.order_id, "filled"))
    if commit:
        acc.balances[settle] = balance
        acc.positions[key] = PositionState(cmd.symbol, leg.slot, effect.qty, effect.cost, inst.contract_size,
                                           mode, margin)
        if effect.qty == 0:
            del acc.positions[key]
            acc.balances[settle] += margin
        else:
            ctx.holders.setdefault(cmd.symbol, set()).add(acc.account_id)
        if order is not None:  # orders are never changed in place (the rollback shares them)
            left = order.qty - abs(leg.signed_qty)
            if left == 0:
                ctx.unrest_order(acc, order.order_id)
            else:
                ctx.rest_order(acc, OrderState(order.order_id, order.symbol, order.side, left, order.price,
                                               order.reduce_only, order.position_side))
    return events, long_delta
