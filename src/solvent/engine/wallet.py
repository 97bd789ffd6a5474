"""Handlers for deposits, withdrawals, leverage, margin mode and isolated margin."""

from __future__ import annotations

import copy
from decimal import Decimal

from solvent.engine.commands import (
    AddIsolatedMargin,
    Deposit,
    FundInsurance,
    RemoveIsolatedMargin,
    SetLeverage,
    SetMarginMode,
    Withdraw,
)
from solvent.engine.context import Ctx, Deny, Outcome, ShortOfMargin, enum_field, money_amount
from solvent.engine.contract_value import notional, per_unit
from solvent.engine.denials import DenyCode
from solvent.engine.events import BalanceChanged, InsuranceFundChanged
from solvent.engine.leverage import check_leverage
from solvent.engine.margin import evaluate, exposure_of, is_hedge
from solvent.engine.state import AccountState, PositionState
from solvent.model import MarginMode, PositionSide
from solvent.units import ONE, ZERO

__all__ = [
    "add_isolated", "deposit", "fund_insurance", "remove_isolated", "set_leverage", "set_margin_mode", "withdraw",
]


def deposit(ctx: Ctx, cmd: Deposit, commit: bool) -> Outcome:
    if not isinstance(cmd.account_id, str) or not cmd.account_id:
        raise Deny(DenyCode.UNKNOWN_ACCOUNT, account=str(cmd.account_id))
    ctx.known_asset(cmd.asset)
    amount = money_amount(ctx, cmd.amount)
    acc = ctx.state.accounts.get(cmd.account_id)
    new_balance = (acc.balances.get(cmd.asset, ZERO) if acc else ZERO) + amount
    out = Outcome([BalanceChanged(cmd.account_id, cmd.asset, amount, new_balance, "deposit")], {cmd.account_id},
                  narrow={cmd.account_id: frozenset()})
    if commit:
        if acc is None:
            acc = ctx.state.accounts.setdefault(cmd.account_id, AccountState(cmd.account_id))
        acc.balances[cmd.asset] = new_balance
        ctx.state.deposits[cmd.asset] = ctx.state.deposits.get(cmd.asset, ZERO) + amount
    return out


def fund_insurance(ctx: Ctx, cmd: FundInsurance, commit: bool) -> Outcome:
    amount = money_amount(ctx, cmd.amount)
    settle = ctx.config.settle_asset
    out = Outcome([InsuranceFundChanged(amount, ctx.state.insurance_fund + amount, "venue deposit")])
    if commit:
        ctx.state.insurance_fund += amount
        ctx.state.deposits[settle] = ctx.state.deposits.get(settle, ZERO) + amount
    return out


def withdraw(ctx: Ctx, cmd: Withdraw, commit: bool) -> Outcome:
    acc = ctx.account(cmd.account_id)
    ctx.known_asset(cmd.asset)
    balance = ctx.balance(acc, cmd.asset)
    amount = money_amount(ctx, cmd.amount, whole=balance)
    if amount > balance:
        raise Deny(DenyCode.INSUFFICIENT_BALANCE, asset=cmd.asset, requested=amount, balance=balance)
    trial = _with_balance(acc, cmd.asset, balance - amount)
    view = ctx.view()
    after = evaluate(trial, view)
    if after.available < 0:
        free = max(ctx.cache.margin(acc, view).available, ZERO)
        raise Deny(DenyCode.WITHDRAWAL_EXCEEDS_FREE_MARGIN, asset=cmd.asset, requested=amount, free_margin=free)
    out = Outcome([BalanceChanged(acc.account_id, cmd.asset, -amount, balance - amount, "withdrawal")],
                  {acc.account_id}, narrow={acc.account_id: frozenset()})
    if commit:
        acc.balances[cmd.asset] = balance - amount
        ctx.state.withdrawals[cmd.asset] = ctx.state.withdrawals.get(cmd.asset, ZERO) + amount
    return out


def _with_balance(acc: AccountState, asset: str, balance: object) -> AccountState:
    trial = copy.copy(acc)
    trial.balances = {**acc.balances, asset: balance}  # type: ignore[dict-item]
    return trial


def set_leverage(ctx: Ctx, cmd: SetLeverage, commit: bool) -> Outcome:
    acc = ctx.account(cmd.account_id)
    inst = ctx.instrument(cmd.symbol)
    lev = cmd.leverage
    if not isinstance(lev, type(ONE)) or not lev.is_finite() or lev < 1:
        raise Deny(DenyCode.INVALID_LEVERAGE, leverage=str(lev))
    held = sum((abs(p.qty) for p in acc.positions.values() if p.symbol == cmd.symbol), ZERO)
    market = ctx.state.markets.get(cmd.symbol)
    mark = market.mark if market is not None else None
    size = _worst_qty(ctx, acc, cmd.symbol, mark) if ctx.config.strict_leverage and mark is not None else held
    notional = per_unit(inst.contract_size, mark, inst.is_inverse) * size if mark is not None else ZERO
    check_leverage(ctx.view(), cmd.symbol, size, notional, lev)
    profile = ctx.config.profile
    if ctx.config.leverage_grid and not profile.on_leverage_grid(lev):  # the venue's grid: whole numbers on Binance
        raise Deny(DenyCode.INVALID_LEVERAGE, leverage=str(lev), leverage_step=str(profile.leverage_step))
    if held and lev < ctx.view().leverage(acc, cmd.symbol):
        trial = copy.copy(acc)
        trial.leverage = {**acc.leverage, cmd.symbol: lev}
        after = evaluate(trial, ctx.view())
        if after.available < 0:
            raise ShortOfMargin(DenyCode.INSUFFICIENT_INITIAL_MARGIN, ctx.config.money_quantum, after.initial_margin,
                                after.equity)
        if mark is not None and ctx.config.isolated_leverage_cut:
            # an isolated position carries its own margin: it must cover the new IM too
            for pos in sorted((p for p in acc.positions.values() if p.symbol == cmd.symbol and p.qty
                               and p.margin_mode is MarginMode.ISOLATED), key=lambda p: p.position_side.value):
                required, available = _isolated_cover(pos, mark, lev, inst.is_inverse)
                if available < required:
                    raise ShortOfMargin(DenyCode.INSUFFICIENT_INITIAL_MARGIN, ctx.config.money_quantum, required,
                                        available, symbol=cmd.symbol, position_side=pos.position_side.value)
    if commit:
        acc.leverage[cmd.symbol] = lev
    return Outcome(touched={acc.account_id})


def _isolated_cover(pos: PositionState, mark: Decimal, leverage: Decimal, inverse: bool) -> tuple[Decimal, Decimal]:
    """An isolated position's initial margin at ``mark`` and ``leverage``, and what it holds
    against it: its isolated margin with its PnL at the mark (the rule of a removal and of a
    leverage cut alike)."""
    return notional(pos.qty * pos.contract_size, mark, inverse) / leverage, pos.isolated_margin + pos.pnl(mark, inverse)


def _worst_qty(ctx: Ctx, acc: AccountState, symbol: str, mark: Decimal) -> Decimal:
    """The symbol's quantity with every resting order filled in the worse direction
    (``Exposure.worst_and_held``): what the new leverage would carry."""
    inst = ctx.config.profile.instrument(symbol)
    exposure = exposure_of([p for p in acc.positions.values() if p.symbol == symbol],
                           [o for o in acc.orders.values() if o.symbol == symbol], is_hedge(acc), mark,
                           inst.contract_size, ctx.config.taker_fee_rate, inst.is_inverse)
    return exposure.worst_and_held(is_hedge(acc))[0]


def set_margin_mode(ctx: Ctx, cmd: SetMarginMode, commit: bool) -> Outcome:
    acc = ctx.account(cmd.account_id)
    ctx.instrument(cmd.symbol)
    mode = enum_field(MarginMode, cmd.mode, "mode")
    busy = any(p.symbol == cmd.symbol and p.qty for p in acc.positions.values()) or any(
        o.symbol == cmd.symbol for o in acc.orders.values()
    )
    if busy:
        raise Deny(DenyCode.MODE_CHANGE_WITH_OPEN_POSITION, symbol=cmd.symbol)
    if commit:
        acc.margin_mode[cmd.symbol] = mode
    return Outcome(touched={acc.account_id})


def _isolated_position(ctx: Ctx, acc: AccountState, symbol: str, side: object) -> PositionState:
    ctx.instrument(symbol)
    for (sym, slot), pos in acc.positions.items():
        if sym == symbol and slot == side and pos.qty and pos.margin_mode is MarginMode.ISOLATED:
            return pos
    # the side looked for: a hedge-mode account that names none looked for a one-way ("both") position
    raise Deny(DenyCode.NO_POSITION, symbol=symbol, margin_mode="isolated", position_side=str(side))


def add_isolated(ctx: Ctx, cmd: AddIsolatedMargin, commit: bool) -> Outcome:
    acc = ctx.account(cmd.account_id)
    pos = _isolated_position(ctx, acc, cmd.symbol, enum_field(PositionSide, cmd.position_side, "position_side"))
    amount = money_amount(ctx, cmd.amount)
    settle = ctx.config.settle_asset
    balance = ctx.balance(acc, settle)
    trial = _with_balance(acc, settle, balance - amount)
    if evaluate(trial, ctx.view()).available < 0:
        raise Deny(DenyCode.INSUFFICIENT_BALANCE, asset=settle, requested=amount,
                   available=max(evaluate(acc, ctx.view()).available, ZERO))
    out = Outcome([BalanceChanged(acc.account_id, settle, -amount, balance - amount, "isolated_margin_added")],
                  {acc.account_id})
    if commit:
        acc.balances[settle] = balance - amount
        pos.isolated_margin += amount
    return out


def remove_isolated(ctx: Ctx, cmd: RemoveIsolatedMargin, commit: bool) -> Outcome:
    acc = ctx.account(cmd.account_id)
    pos = _isolated_position(ctx, acc, cmd.symbol, enum_field(PositionSide, cmd.position_side, "position_side"))
    amount = money_amount(ctx, cmd.amount)
    mark = ctx.mark(cmd.symbol)
    lev = ctx.view().leverage(acc, cmd.symbol)
    inverse = ctx.config.profile.instrument(cmd.symbol).is_inverse
    required, held = _isolated_cover(pos, mark, lev, inverse)
    left = held - amount
    if amount > pos.isolated_margin or left < required:
        raise ShortOfMargin(DenyCode.INSUFFICIENT_INITIAL_MARGIN, ctx.config.money_quantum, required, left + amount,
                            requested=amount)
    settle = ctx.config.settle_asset
    balance = ctx.balance(acc, settle)
    out = Outcome([BalanceChanged(acc.account_id, settle, amount, balance + amount, "isolated_margin_removed")],
                  {acc.account_id})
    if commit:
        acc.balances[settle] = balance + amount
        pos.isolated_margin -= amount
    return out
