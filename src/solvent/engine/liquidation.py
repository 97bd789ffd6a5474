"""The liquidation procedure: cancel, reduce, charge the fee, cover the deficit, deleverage.

For an account at the liquidation (or bankrupt) level, in a market where liquidations are
not paused, each *scope* — the cross account, and each isolated position on its own — is
handled in turn:

1. Cancel the account's open orders (its IM drops; MM does not) and re-check.
2. **Backstop**: when a backstop account is configured and the scope's equity is below
   ``backstop_threshold × MM`` (or the book cannot absorb the order), the backstop takes
   over the scope's positions at the mark together with what is left of its equity. With no
   backstop to take it, a position the book cannot absorb is deleveraged at its bankruptcy
   price if the scope's equity is negative (step 5's ADL); a solvent scope waits.
3. **Partial liquidation**: otherwise close the smallest lot-rounded part of the riskiest
   position (largest MM) that brings equity to the target ``MM × (1 + target_buffer)``
   (``+ exit_buffer × notional`` where configured), at the
   liquidity model's price against the book account (a chunk at most, per cooldown, where
   the policy says so); repeat with the next position if one is not enough.
4. **Fee**: ``rate × closed notional`` rounded up, capped by the equity left, paid to the
   insurance fund.
5. **Deficit**: the bankruptcy price of a closed quantity gives it its share (by notional)
   of the scope's negative equity. If the execution price is beyond it, the insurance fund
   pays the shortfall. If the fund holds less than that shortfall, the quantity is instead
   closed against opposite positions of other accounts at the bankruptcy price
   (**auto-deleveraging**, ranked by the policy's score, rounded to the tick against the
   bankrupt account), and only what ADL cannot cover is executed on the book with the fund
   paying what it has; a remaining shortfall is written off as **socialised loss**. A fill
   never locks more isolated margin than the cross balance holds, so a scope's deficit
   stays its own.
6. **Collateral**: once the cross positions are closed (or when an account without
   positions is bankrupt: its debt exceeds its collateral value), a settlement-asset debt
   is repaid by selling non-settlement collateral to the book account at the index, less
   ``collateral_conversion_penalty`` paid to the insurance fund (``CollateralConverted``).
   What the collateral cannot repay goes through step 5's fund and socialised loss.

Everything is deterministic: positions, candidates and accounts are taken in sorted order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, Decimal

from solvent.engine.close_size import lots_to_close
from solvent.engine.commands import LIQUIDATION_TRADE_PREFIX, Fill
from solvent.engine.config import AdlRanking, LiquidationPolicy
from solvent.engine.context import Ctx, Outcome
from solvent.engine.contract_value import gain
from solvent.engine.contract_value import notional as notional_of
from solvent.engine.events import (
    BACKSTOP_STEP,
    BOOK_STEP,
    AutoDeleveraged,
    BackstopLossLimit,
    BalanceChanged,
    CollateralConverted,
    InsuranceFundChanged,
    LiquidationStep,
    LossSocialised,
    OrderCancelled,
)
from solvent.engine.fund_watch import cover_limit_now, record, start_adl
from solvent.engine.ledger import released_cost
from solvent.engine.margin import AccountMargin, MarginView, evaluate, is_hedge, position_mm
from solvent.engine.state import AccountState, PositionState
from solvent.engine.trades import apply_fill
from solvent.engine.venue_rules import (
    CloseTerms,
    DriftStep,
    Figures,
    bankruptcy_exact,
    close_terms,
    drift_fee,
    drift_step,
    dydx_fillable,
    effective_policy,
    fills_within,
    position_loss,
    rule_of,
    socialise,
)
from solvent.model import MarginMode, PositionSide, Side
from solvent.risk.adl import allocate_adl, allocate_pro_rata, binance_adl_score, bitmex_adl_score
from solvent.risk.collateral import conversion_quantity
from solvent.risk.levels import MarginLevel
from solvent.risk.liquidation_rules import LiquidationRuleKind
from solvent.units import ONE, ZERO, round_down, round_up

__all__ = ["FirstClose", "VaultLoss", "adl_scores_for", "backstop_loss_due", "backstop_loss_limit", "exit_guard",
           "first_close", "hidden_bad_debt", "liquidate_account", "scope_order", "target_equity"]

MAX_STEPS = 64
"""Safety bound on reduction steps per scope in one call (each step closes at least a lot)."""


@dataclass(frozen=True, slots=True)
class _Scope:
    """The cross account (``key is None``) or one isolated position."""

    key: tuple[str, PositionSide] | None

    def positions(self, acc: AccountState) -> list[PositionState]:
        if self.key is not None:
            pos = acc.positions.get(self.key)
            return [pos] if pos is not None and pos.qty else []
        return [p for _, p in sorted(acc.positions.items(), key=lambda kv: (kv[0][0], kv[0][1].value))
                if p.qty and p.margin_mode is MarginMode.CROSS]

    def figures(self, m: AccountMargin) -> tuple[Decimal, Decimal, Decimal]:
        """``(equity, MM, notional)`` of the scope."""
        if self.key is None:
            return m.equity, m.maintenance_margin, m.notional
        for iso in m.isolated:
            if (iso.symbol, iso.position_side) == self.key:
                return iso.equity, iso.maintenance_margin, iso.notional
        return ZERO, ZERO, ZERO


def _policy(ctx: Ctx) -> LiquidationPolicy:
    """The engine policy with the venue rule's parameters in place (``venue_rules``)."""
    policy = effective_policy(ctx.config)
    assert policy is not None
    return policy


def _fee_rate(ctx: Ctx) -> Decimal:
    rate = _policy(ctx).fee_rate
    return ctx.config.profile.liquidation_fee_rate if rate is None else rate


def _under(ctx: Ctx, equity: Decimal, mm: Decimal) -> bool:
    return ctx.config.profile.is_liquidatable(equity, mm)


def target_equity(policy: LiquidationPolicy, mm: Decimal, notional: Decimal) -> Decimal:
    """Equity an account must reach to leave liquidation: ``MM × (1 + b) + b_n × notional``."""
    return mm * (ONE + policy.target_buffer) + policy.exit_buffer * notional


_BEING_LIQUIDATED = frozenset({MarginLevel.LIQUIDATION, MarginLevel.BANKRUPT})


def exit_guard(policy: LiquidationPolicy | None, previous: MarginLevel, level: MarginLevel, equity: Decimal,
               mm: Decimal, notional: Decimal) -> MarginLevel:
    """The level a scope is judged at when liquidation is on: one being liquidated (``previous``
    liquidation or bankrupt) whose level rules say it is out stays in liquidation until its
    equity reaches ``target_equity`` (``mm > 0``); otherwise, and without a policy, ``level``."""
    if (policy is None or previous not in _BEING_LIQUIDATED or level in _BEING_LIQUIDATED or mm <= 0
            or equity >= target_equity(policy, mm, notional)):
        return level
    return MarginLevel.LIQUIDATION


def _done(ctx: Ctx, equity: Decimal, mm: Decimal, notional: Decimal) -> bool:
    return mm <= 0 or equity >= target_equity(_policy(ctx), mm, notional)


def scope_order(acc: AccountState) -> list[tuple[str, PositionSide] | None]:
    """The scopes a liquidation takes, in order: the cross account (``None``), then each open
    isolated position by symbol and side."""
    return [None] + [k for k, p in sorted(acc.positions.items(), key=lambda kv: (kv[0][0], kv[0][1].value))
                     if p.qty and p.margin_mode is MarginMode.ISOLATED]


def liquidate_account(ctx: Ctx, account_id: str) -> Outcome:
    """Run the procedure for one account (commit path). Returns events and touched accounts."""
    policy = _policy(ctx)
    acc = ctx.state.accounts[account_id]
    out = Outcome(touched={account_id})
    if account_id in (policy.book_account, policy.backstop_account):
        return out
    symbols = {p.symbol for p in acc.positions.values() if p.qty}
    if any(not ctx.state.markets[s].liquidations_allowed for s in symbols):
        return out
    if not symbols:
        return _liquidate_wallet(ctx, acc, out)
    now = ctx.state.now_ms
    if acc.last_liquidation_ms is not None and now - acc.last_liquidation_ms < policy.cooldown_ms:
        return out
    scopes = [_Scope(key) for key in scope_order(acc)]
    margin = _margin(ctx, acc)
    if not any(_under(ctx, *scope.figures(margin)[:2]) for scope in scopes):
        return out  # in the hysteresis zone: the level stays, nothing is touched
    for oid in sorted(acc.orders):
        ctx.unrest_order(acc, oid)
        out.events.append(OrderCancelled(account_id, oid, "liquidation"))
    acted = False
    for scope in scopes:
        acted |= _liquidate_scope(ctx, acc, scope, out)
    if acted:
        acc.last_liquidation_ms = now
    return out


def _margin(ctx: Ctx, acc: AccountState) -> AccountMargin:
    ctx.cache.drop_account(acc.account_id)
    return evaluate(acc, ctx.view())


def _liquidate_scope(ctx: Ctx, acc: AccountState, scope: _Scope, out: Outcome) -> bool:
    policy = _policy(ctx)
    equity, mm, notional = scope.figures(_margin(ctx, acc))
    if not _under(ctx, equity, mm):
        return False  # never liquidate a scope above its maintenance margin (it may still sit
        # at the liquidation level until it reaches the target: that is hysteresis, not action)
    if policy.backstop_account is not None and equity < policy.backstop_threshold * mm and _vault_open(ctx):
        _backstop(ctx, acc, scope, out)
        return True
    shares = market_shares(ctx, acc, scope)  # fixed for the run: closing one leg of a market does not re-weigh it
    for _ in range(MAX_STEPS):
        equity, mm, notional = scope.figures(_margin(ctx, acc))
        positions = scope.positions(acc)
        if not positions or _done(ctx, equity, mm, notional):
            break
        target = _riskiest(positions, ctx.view())
        if not _reduce(ctx, acc, scope, target, (equity, mm, notional), out, shares):
            break
        if policy.chunk_fraction is not None:
            break  # one chunk per cooldown
    if scope.key is None and not scope.positions(acc):
        _convert_collateral(ctx, acc, out)
        _cover_deficit(ctx, acc, -_margin(ctx, acc).equity, out)
    return True


def _liquidate_wallet(ctx: Ctx, acc: AccountState, out: Outcome) -> Outcome:
    """No positions, debt above the collateral value (bankrupt): sell collateral, then the
    deficit goes through the waterfall (fund, then socialised loss: nothing is left to ADL)."""
    if not ctx.config.profile.is_bankrupt(_margin(ctx, acc).equity, ZERO):
        return out
    for oid in sorted(acc.orders):
        ctx.unrest_order(acc, oid)
        out.events.append(OrderCancelled(acc.account_id, oid, "liquidation"))
    _convert_collateral(ctx, acc, out)
    _cover_deficit(ctx, acc, -_margin(ctx, acc).equity, out)
    return out


def _convert_collateral(ctx: Ctx, acc: AccountState, out: Outcome) -> None:
    """Repay a settlement-asset debt by selling collateral to the book account at the index.

    Assets go lowest haircut first (then by id). For each, the smallest quantity (money
    quantum) whose proceeds ``qty × index`` (rounded down) less the penalty (rounded up, to the
    insurance fund) repay the debt, at most the balance. The book account receives the asset
    and pays the proceeds, so every asset's total is unchanged (conservation)."""
    policy = _policy(ctx)
    config = ctx.config
    settle, quantum, rate = config.settle_asset, config.money_quantum, policy.collateral_conversion_penalty
    prices = ctx.view().asset_prices
    held = [a for a, b in acc.balances.items() if a != settle and b > 0 and a in config.collateral]
    for asset in sorted(held, key=lambda a: (config.collateral[a].haircut, a)):
        debt = -acc.balances.get(settle, ZERO)
        price = prices.get(asset)
        market = ctx.state.markets.get(asset)
        if debt <= 0:
            return
        if price is None or (market is not None and not market.liquidations_allowed):
            continue
        balance = acc.balances[asset]
        qty = conversion_quantity(debt, balance, price, rate, quantum)
        proceeds, penalty = _conversion_money(qty, price, rate, quantum)
        while proceeds - penalty < debt and qty < balance:  # rounding left a quantum short
            qty = min(balance, qty + quantum)
            proceeds, penalty = _conversion_money(qty, price, rate, quantum)
        if qty <= 0:
            continue
        book = ctx.state.accounts.setdefault(policy.book_account, AccountState(policy.book_account))
        acc.balances[asset] = balance - qty
        book.balances[asset] = book.balances.get(asset, ZERO) + qty
        book.balances[settle] = book.balances.get(settle, ZERO) - proceeds
        acc.balances[settle] = acc.balances.get(settle, ZERO) + proceeds - penalty
        out.touched.add(policy.book_account)
        out.events.append(CollateralConverted(acc.account_id, policy.book_account, asset, qty, price, proceeds,
                                              penalty))
        if penalty > 0:
            ctx.state.insurance_fund += penalty
            out.events.append(InsuranceFundChanged(penalty, ctx.state.insurance_fund,
                                                   f"collateral conversion {acc.account_id}"))


def _conversion_money(qty: Decimal, price: Decimal, rate: Decimal, quantum: Decimal) -> tuple[Decimal, Decimal]:
    """``(proceeds, penalty)`` of selling ``qty`` at ``price``: down, and up (capped), to ``quantum``."""
    proceeds = round_down(qty * price, quantum)
    return proceeds, min(round_up(proceeds * rate, quantum), proceeds)


def market_shares(ctx: Ctx, acc: AccountState, scope: _Scope) -> dict[str, Decimal]:
    """Per market (symbol) of the scope, its net loss at the marks over the sum of its
    positions' losses (``Figures.market_share``; 0 for a market in profit or flat), taken when a
    liquidation run starts, with every leg still open: a hedged market in profit stays one after
    its profitable leg is closed."""
    instruments = ctx.config.profile.instruments
    net: dict[str, Decimal] = {}
    legs: dict[str, Decimal] = {}
    for p in scope.positions(acc):
        pnl = p.pnl(ctx.mark(p.symbol), instruments[p.symbol].is_inverse)
        net[p.symbol] = net.get(p.symbol, ZERO) + pnl
        legs[p.symbol] = legs.get(p.symbol, ZERO) + max(-pnl, ZERO)
    return {symbol: max(-net[symbol], ZERO) / legs[symbol] if legs[symbol] > 0 else ZERO for symbol in net}


def _weighted_losses(ctx: Ctx, acc: AccountState, scope: _Scope, shares: dict[str, Decimal]) -> Decimal:
    """The losses a deficit is shared by: each open position's loss at the mark times its
    market's share (``market_shares``; a market opened since the run began counts whole)."""
    instruments = ctx.config.profile.instruments
    return sum((shares.get(p.symbol, ONE) * position_loss(p, abs(p.qty), ctx.mark(p.symbol),
                                                         instruments[p.symbol].is_inverse)
                for p in scope.positions(acc)), ZERO)


def _lot(ctx: Ctx, pos: PositionState) -> Decimal:
    return ctx.config.profile.instrument(pos.symbol).lot


def _reduce(ctx: Ctx, acc: AccountState, scope: _Scope, pos: PositionState,
            figures: tuple[Decimal, Decimal, Decimal], out: Outcome, shares: dict[str, Decimal]) -> bool:
    """Close part of ``pos``; False when nothing could be closed (no liquidity, no backstop)."""
    policy, rule = _policy(ctx), rule_of(ctx.config)
    equity, mm, notional = figures
    lot = _lot(ctx, pos)
    size = abs(pos.qty)
    lots = int((size / lot).to_integral_value(rounding=ROUND_CEILING))  # the last one may be short
    limit = lots
    mark = ctx.mark(pos.symbol)
    inverse = ctx.config.profile.instrument(pos.symbol).is_inverse
    if policy.chunk_fraction is not None and notional_of(pos.qty * pos.contract_size, mark, inverse) >= (
            policy.chunk_min_notional):
        limit = max(1, int((lots * policy.chunk_fraction).to_integral_value(rounding=ROUND_CEILING)))
    close_side = Side.SHORT if pos.qty > 0 else Side.LONG
    revised = policy.revision >= 2
    tick = ctx.config.price_step(pos.symbol) if revised else ctx.config.profile.instrument(pos.symbol).tick_size
    view = ctx.view()
    whole = _whole(ctx, acc, scope, pos, figures, shares, view)
    table_mm = whole.pos_mm
    if rule.kind is LiquidationRuleKind.DRIFT:
        return _drift_reduce(ctx, acc, pos, whole, out)
    fillable = dydx_fillable(ctx, rule, pos, mark, whole) if rule.kind is LiquidationRuleKind.DYDX_V4 else None
    sign = ONE if pos.qty > 0 else -ONE
    walked = ctx.taken if ctx.taken is not None and policy.revision >= 8 else None
    taken = ZERO if walked is None else walked.get((pos.symbol, close_side), ZERO)

    def after(qty: Decimal) -> Figures:
        return _after(ctx, pos, qty, whole, view)

    memo: dict[int, tuple[Decimal, Decimal | None, Decimal | None]] = {}

    def outcome(k: int) -> tuple[Decimal, Decimal | None, Decimal | None]:
        """(qty, price, slack over the target) of closing ``k`` lots; no price: ``None``s."""
        known = memo.get(k)
        if known is not None:
            return known
        qty = min(lot * k, size)
        price = _execution_price(policy, pos, close_side, qty, mark, tick, inverse, taken)
        if price is None or not fills_within(price, fillable, pos.qty > 0):
            memo[k] = (qty, None, None)
            return memo[k]
        f = after(qty)
        terms = close_terms(ctx, rule, pos, qty, price, mark, f, _fee_rate(ctx))
        eq_exec = equity + gain(sign * qty * pos.contract_size, price, mark, inverse)
        mm_after = mm - table_mm + f.rest_mm
        notional_after = notional - notional_of(qty * pos.contract_size, mark, inverse)
        left = eq_exec - terms.fee + terms.fund_pays
        # a step that leaves less than one money quantum cannot pass short of the full close
        # (the rest still has MM): no slack, so the search is not led up that slope
        slack = None if left < ctx.config.money_quantum and k < limit else (
            left - target_equity(policy, mm_after, notional_after))
        memo[k] = (qty, price, slack)
        return memo[k]

    def may_pass_inside() -> bool:
        """Whether closing fewer than ``limit`` lots can pass at all: closing at the mark
        with no fee is the best case, where only the rest's MM is left (a dYdX fill below
        the bankruptcy quote is paid by the fund, so there the search always runs)."""
        if rule.kind is LiquidationRuleKind.DYDX_V4:
            return True
        qty = lot * (limit - 1)
        mm_after = mm - table_mm + after(qty).rest_mm
        return equity >= target_equity(policy, mm_after, notional - notional_of(qty * pos.contract_size, mark, inverse))

    k = lots_to_close(limit, lambda k: outcome(k)[2], full_close=rule.full_close, search_inside=policy.revision >= 3,
                      may_pass_inside=may_pass_inside)
    qty, price, _ = outcome(k)
    if price is None:
        if policy.backstop_account is not None and _vault_open(ctx):
            _backstop(ctx, acc, scope, out)
            return True
        if equity < 0 and policy.adl and (
                fillable is not None or policy.backstop_account is not None or policy.revision >= 7):
            # the book takes nothing (no depth, or dYdX at its fillable price) and no backstop can
            # (none, or a capped one that is spent): a bankrupt account is closed by ADL at its
            # bankruptcy price, the waterfall's last step (revision 7 on: before, without a
            # backstop it waited); a solvent one waits for liquidity
            return _deleverage_bankrupt(ctx, acc, pos, size, mark, after(size), out)
        return False
    traded = _execute(ctx, acc, pos, qty, price, mark, after(qty), out)
    if walked is not None and traded > 0:  # the next order of the command walks on from what the book took
        walked[(pos.symbol, close_side)] = taken + _shown_qty(pos, traded, mark, inverse)
    return True


def _riskiest(positions: list[PositionState], view: MarginView) -> PositionState:
    """The position a scope's next step reduces: the largest MM (the later symbol of equals)."""
    return max(positions, key=lambda p: (position_mm(p, view), p.symbol))


def _whole(ctx: Ctx, acc: AccountState, scope: _Scope, pos: PositionState, figures: tuple[Decimal, Decimal, Decimal],
           shares: dict[str, Decimal], view: MarginView) -> Figures:
    """The figures a close of ``pos`` is judged on: the scope's ``(equity, MM, notional)``, the
    position's MM, and the losses a deficit is shared by (``market_shares`` of the run)."""
    equity, mm, notional = figures
    losses, share = _weighted_losses(ctx, acc, scope, shares), shares.get(pos.symbol, ONE)
    return Figures(equity, mm, notional, position_mm(pos, view), ZERO, losses, share, _policy(ctx).revision >= 4)


def _after(ctx: Ctx, pos: PositionState, qty: Decimal, whole: Figures, view: MarginView) -> Figures:
    """``whole`` with the MM of what closing ``qty`` of ``pos`` leaves (``rest_mm``)."""
    sign = ONE if pos.qty > 0 else -ONE
    rest_cost = pos.cost - released_cost(pos.qty, pos.cost, qty, ctx.config.money_quantum) \
        if _policy(ctx).revision >= 2 else pos.cost
    rest = PositionState(pos.symbol, pos.position_side, pos.qty - sign * qty, rest_cost, pos.contract_size)
    return replace(whole, rest_mm=position_mm(rest, view) if rest.qty else ZERO)


@dataclass(frozen=True, slots=True)
class FirstClose:
    """What a liquidation's first step in a scope is judged on (``first_close``)."""

    position: PositionState
    figures: Figures
    terms: CloseTerms
    bankruptcy_exact: Decimal
    rule: LiquidationRuleKind
    fee_rate: Decimal
    drift: DriftStep | None = None
    """Under Drift's rule, the takeover the step must be (its quantity and price are Drift's)."""
    fillable: Decimal | None = None
    """Under dYdX's rule, the fillable price the step may not fill beyond (``dydx_fillable``)."""


def first_close(ctx: Ctx, acc: AccountState, key: tuple[str, PositionSide] | None, qty: Decimal,
                price: Decimal) -> FirstClose:
    """The first step of liquidating the scope ``key`` (``None``: the cross account) of ``acc``
    as ``_liquidate_scope`` judges it, for a close of ``qty`` at ``price``: the position it
    reduces, its figures, and the close terms (fee, bankruptcy price); under Drift's rule, the
    takeover itself (``drift``: quantity, price and fee, with what they are computed from).
    ``ctx.config`` holds the liquidation policy. What a certificate shows of a liquidation
    (``proofs/certificate.py``)."""
    scope = _Scope(key)
    view = ctx.view()
    pos = _riskiest(scope.positions(acc), view)
    whole = _whole(ctx, acc, scope, pos, scope.figures(_margin(ctx, acc)), market_shares(ctx, acc, scope), view)
    f = _after(ctx, pos, qty, whole, view)
    mark = ctx.mark(pos.symbol)
    inverse = ctx.config.profile.instrument(pos.symbol).is_inverse
    rule = rule_of(ctx.config)
    if rule.kind is LiquidationRuleKind.DRIFT:
        drift = _drift_step(ctx, acc, pos, whole)
        fee = ZERO if drift is None else drift_fee(ctx, pos, drift, whole.equity, mark)[1]
        return FirstClose(pos, whole, CloseTerms(fee, ZERO, None, ZERO), bankruptcy_exact(pos, qty, mark, f, inverse),
                          rule.kind, _fee_rate(ctx), drift)
    terms = close_terms(ctx, rule, pos, qty, price, mark, f, _fee_rate(ctx))
    fillable = dydx_fillable(ctx, rule, pos, mark, whole) if rule.kind is LiquidationRuleKind.DYDX_V4 else None
    return FirstClose(pos, f, terms, bankruptcy_exact(pos, qty, mark, f, inverse), rule.kind, _fee_rate(ctx),
                      fillable=fillable)


def _shown_qty(pos: PositionState, qty: Decimal, mark: Decimal, inverse: bool) -> Decimal:
    """What the liquidity model is shown of closing ``qty`` of ``pos``: the quantity, or for an
    inverse order its base-coin equivalent at the mark (``qty × cs / mark``), so depth and
    notional read in base and quote units as for a linear instrument."""
    return qty * pos.contract_size / mark if inverse else qty


def _execution_price(policy: LiquidationPolicy, pos: PositionState, side: Side, qty: Decimal, mark: Decimal,
                     tick: Decimal | None, inverse: bool, taken: Decimal = ZERO) -> Decimal | None:
    """The liquidity model's price for closing ``qty`` of ``pos`` (shown as ``_shown_qty``)
    after ``taken`` of the same side by the command's earlier orders (revision 8 on; a model
    is asked with ``taken`` only when there is some, so one written before it still prices a
    command's first order)."""
    shown = _shown_qty(pos, qty, mark, inverse)
    if taken:
        return policy.liquidity.execution_price(pos.symbol, side, shown, mark, tick, taken)
    return policy.liquidity.execution_price(pos.symbol, side, shown, mark, tick)


def _deleverage_bankrupt(ctx: Ctx, acc: AccountState, pos: PositionState, qty: Decimal, mark: Decimal,
                         f: Figures, out: Outcome) -> bool:
    """dYdX v4: a negative-collateral position the book cannot take at the fillable price is
    deleveraged against offsetting positions at its bankruptcy price."""
    terms = close_terms(ctx, rule_of(ctx.config), pos, qty, mark, mark, f, ZERO)
    if terms.bankruptcy is None:
        return False
    return _deleverage(ctx, acc, pos, qty, terms.bankruptcy, out) < qty


def _drift_step(ctx: Ctx, acc: AccountState, pos: PositionState, f: Figures) -> DriftStep | None:
    """The Drift takeover of ``pos`` on figures ``f``: the base that covers the shortage to the
    target equity (``venue_rules.drift_step``)."""
    target = target_equity(_policy(ctx), f.mm, f.notional)
    return drift_step(ctx, rule_of(ctx.config), acc, pos, ctx.mark(pos.symbol), f, target, _lot(ctx, pos))


def _drift_reduce(ctx: Ctx, acc: AccountState, pos: PositionState, f: Figures, out: Outcome) -> bool:
    """Drift: a liquidator (the book account) takes over the base covering the shortage at the
    oracle less its fee; the insurance fund takes its cut, capped by the equity left."""
    policy = _policy(ctx)
    mark = ctx.mark(pos.symbol)
    step = _drift_step(ctx, acc, pos, f)
    if step is None:
        return False
    isolated_close = pos.margin_mode is MarginMode.ISOLATED and step.qty == abs(pos.qty)
    eq_exec, fee = drift_fee(ctx, pos, step, f.equity, mark)
    _trade(ctx, acc, pos, policy.book_account, step.qty, step.price)
    out.touched.add(policy.book_account)
    out.events.append(LiquidationStep(acc.account_id, pos.symbol, BOOK_STEP, step.qty, step.price, fee))
    if fee > 0:
        _charge_fee(ctx, acc, fee, out, pos.symbol)
    if isolated_close:
        _cover_deficit(ctx, acc, fee - eq_exec, out, pos.symbol)
    return True


def _trade(ctx: Ctx, acc: AccountState, pos: PositionState, counterparty: str, qty: Decimal,
           price: Decimal) -> None:
    ctx.state.liquidation_seq += 1
    tid = f"{LIQUIDATION_TRADE_PREFIX}{ctx.state.liquidation_seq}"
    if counterparty not in ctx.state.accounts:  # the book or backstop account, on first use
        ctx.state.accounts[counterparty] = AccountState(counterparty)
    mine = pos.position_side
    # a hedge-mode counterparty trades from the slot holding the opposite side
    other = ctx.state.accounts[counterparty]
    theirs = (PositionSide.SHORT if pos.qty > 0 else PositionSide.LONG) if is_hedge(other) else PositionSide.BOTH
    if pos.qty > 0:  # the account sells
        cmd = Fill(tid, pos.symbol, price, qty, counterparty, acc.account_id, seller_position_side=mine,
                   buyer_position_side=theirs)
    else:
        cmd = Fill(tid, pos.symbol, price, qty, acc.account_id, counterparty, buyer_position_side=mine,
                   seller_position_side=theirs)
    result = apply_fill(ctx, cmd, commit=True, external=False)
    ctx.cache.drop_account(counterparty)
    del result


def _execute(ctx: Ctx, acc: AccountState, pos: PositionState, qty: Decimal, price: Decimal,
             mark: Decimal, f: Figures, out: Outcome) -> Decimal:
    """Close ``qty`` of ``pos`` at ``price`` on the book, or by ADL when the fund cannot pay;
    the quantity the book took (0 when ADL closed it all)."""
    policy, rule = _policy(ctx), rule_of(ctx.config)
    sign = ONE if pos.qty > 0 else -ONE
    isolated_close = pos.margin_mode is MarginMode.ISOLATED and qty == abs(pos.qty)
    inverse = ctx.config.profile.instrument(pos.symbol).is_inverse
    equity = f.equity
    terms = close_terms(ctx, rule, pos, qty, price, mark, f, _fee_rate(ctx))
    bankruptcy = terms.bankruptcy
    adl_qty = _adl_quantity(ctx, pos, qty, terms.shortfall, out) if policy.adl and bankruptcy is not None else ZERO
    if adl_qty > 0:
        assert bankruptcy is not None
        # this quantity's share of the deficit at the book price is more than the fund holds
        # (or, under the profile's fund rule, may pay): deleverage it at its bankruptcy price
        left = _deleverage(ctx, acc, pos, adl_qty, bankruptcy, out)
        done = adl_qty - left
        if done == qty:
            return ZERO
        equity += gain(sign * done * pos.contract_size, bankruptcy, mark, inverse)
        # the part ADL closed took its (market-weighted) loss with it (``pos`` is the position
        # before): the rest keeps its bankruptcy price
        losses = f.losses - f.market_share * position_loss(pos, done, mark, inverse)
        qty -= done
        terms = CloseTerms(ZERO, ZERO, None, ZERO) if rule.kind is LiquidationRuleKind.DYDX_V4 else close_terms(
            ctx, rule, pos, qty, price, mark, replace(f, equity=equity, losses=losses), _fee_rate(ctx))
    # without ADL (off, or no sane price) the book takes it; the fund then the socialised
    # loss cover the shortfall
    eq_exec = equity + gain(sign * qty * pos.contract_size, price, mark, inverse)
    _trade(ctx, acc, pos, policy.book_account, qty, price)
    out.touched.add(policy.book_account)
    out.events.append(LiquidationStep(acc.account_id, pos.symbol, BOOK_STEP, qty, price, terms.fee))
    if terms.fee > 0:
        _charge_fee(ctx, acc, terms.fee, out, pos.symbol)
    paid = _fund_pays(ctx, acc, terms.fund_pays, out, pos.symbol)
    if pos.margin_mode is MarginMode.CROSS and terms.shortfall > 0:  # paid when the cross scope is closed
        out.fund_owed[pos.symbol] = out.fund_owed.get(pos.symbol, ZERO) + terms.shortfall
    if isolated_close:
        deficit = terms.fee - paid - eq_exec
        # inverse: the PnL at the mark is a 40-digit quotient; what moves is rounded up to
        # the money quantum (the account is never left below zero by rounding)
        _cover_deficit(ctx, acc, round_up(deficit, ctx.config.money_quantum) if inverse else deficit, out,
                       pos.symbol)
    return qty


def _adl_quantity(ctx: Ctx, pos: PositionState, qty: Decimal, shortfall: Decimal, out: Outcome) -> Decimal:
    """How much of ``qty`` to deleverage rather than close on the book: all of it when its
    shortfall is more than the fund holds (every venue); under the profile's fund rule
    (``engine/fund_watch.py``) the lots whose shortfall the fund may not pay, the fund
    keeping the largest whole number of lots whose shortfall it may pay (Bybit: what keeps
    the market's PnL ratio at the trigger ratio, or all it holds if that is less). What this
    account's earlier cross closes left to the fund (``Outcome.fund_owed``, paid once its cross
    scope is closed) counts against the market's limit and the fund already."""
    fund = ctx.state.insurance_fund
    limit = cover_limit_now(ctx, pos.symbol, out.events, out.fund_owed.get(pos.symbol, ZERO)) \
        if shortfall > 0 else None
    if limit is None:
        return qty if shortfall > fund else ZERO
    room = limit
    held = max(fund - sum(out.fund_owed.values(), ZERO), ZERO)
    cap = min(room, held)
    if shortfall <= cap:
        return ZERO
    if room <= held:  # the rule stops the fund here, not its size
        start_adl(ctx, pos.symbol, out.events)
    return qty - round_down(qty * cap / shortfall, _lot(ctx, pos))


def _fund_pays(ctx: Ctx, acc: AccountState, amount: Decimal, out: Outcome, symbol: str) -> Decimal:
    """The fund pays ``amount`` (dYdX: a fill below the bankruptcy quote), as far as it can."""
    paid = min(amount, ctx.state.insurance_fund)
    if paid > 0:
        settle = ctx.config.settle_asset
        ctx.state.insurance_fund -= paid
        acc.balances[settle] = acc.balances.get(settle, ZERO) + paid
        out.events.append(InsuranceFundChanged(-paid, ctx.state.insurance_fund, f"deficit {acc.account_id}"))
        record(ctx, symbol, -paid)
    return max(paid, ZERO)


def _charge_fee(ctx: Ctx, acc: AccountState, fee: Decimal, out: Outcome, symbol: str) -> None:
    settle = ctx.config.settle_asset
    acc.balances[settle] = acc.balances.get(settle, ZERO) - fee
    ctx.state.insurance_fund += fee
    out.events.append(InsuranceFundChanged(fee, ctx.state.insurance_fund, f"liquidation fee {acc.account_id}"))
    record(ctx, symbol, fee)


def adl_scores_for(ctx: Ctx, symbol: str, side: Side, exclude: set[str],
                   policy: LiquidationPolicy) -> list[tuple[str, Decimal, Decimal]]:
    """``(account, qty, score)`` of every account holding ``side`` on ``symbol`` (ADL queue)."""
    view = ctx.view()
    mark = ctx.mark(symbol)
    ranking = policy.adl_ranking
    rows: list[tuple[str, Decimal, Decimal]] = []
    for aid in sorted(ctx.state.accounts):
        if aid in exclude:
            continue
        acc = ctx.state.accounts[aid]
        held = sum((p.qty for p in acc.positions.values() if p.symbol == symbol), ZERO)
        if held == 0 or (held > 0) != (side is Side.LONG):
            continue
        rows.append((aid, abs(held), _score(acc, symbol, held, mark, view, ranking)))
    return rows


def _score(acc: AccountState, symbol: str, held: Decimal, mark: Decimal, view: MarginView,
           ranking: AdlRanking) -> Decimal:
    m = evaluate(acc, view)
    inst = view.config.profile.instrument(symbol)
    inverse = inst.is_inverse
    pnl = sum((p.pnl(mark, inverse) for p in acc.positions.values() if p.symbol == symbol), ZERO)
    if ranking is AdlRanking.BITMEX:
        # in settlement-asset value terms; an inverse long's coin value falls as the price
        # rises, so it ranks as a short of value (and an inverse short as a long)
        value = notional_of(held * inst.contract_size, mark, inverse) if inverse else abs(held) * mark
        entry = abs(sum((p.cost for p in acc.positions.values() if p.symbol == symbol), ZERO))
        equity = max(m.equity, Decimal("1e-8"))
        long_value = (held > 0) != inverse
        bankrupt = value - equity if long_value else value + equity
        if entry <= 0 or bankrupt <= 0 or (long_value and bankrupt >= value):
            return ZERO
        return bitmex_adl_score("long" if long_value else "short", entry, value, bankrupt).rank
    ratio = m.margin_ratio if m.margin_ratio is not None else ZERO
    wallet = max(acc.balances.get(view.config.settle_asset, ZERO), ZERO)
    return binance_adl_score(max(pnl, ZERO), wallet, ratio).score


def _deleverage(ctx: Ctx, acc: AccountState, pos: PositionState, qty: Decimal, bankruptcy: Decimal,
                out: Outcome) -> Decimal:
    """Close what ADL can of ``qty`` at ``bankruptcy``; return the quantity left for the book."""
    policy = _policy(ctx)
    opposite = Side.SHORT if pos.qty > 0 else Side.LONG
    exclude = {acc.account_id, policy.book_account, policy.backstop_account or ""}
    candidates = adl_scores_for(ctx, pos.symbol, opposite, exclude, policy)
    if policy.adl_ranking is AdlRanking.PRO_RATA:
        held = sum((c[1] for c in candidates), ZERO)
        lot = _lot(ctx, pos)
        take = min(qty, held)
        take -= take % lot
        fills = [(s.account_id, s.qty) for s in allocate_pro_rata(take, [(a, q) for a, q, _ in candidates], lot)] \
            if take > 0 and all(q % lot == 0 for _, q, _ in candidates) else []
    else:
        fills = [(f.account_id, f.qty) for f in allocate_adl(qty, bankruptcy, candidates)]
    closed = ZERO
    for counterparty, amount in fills:
        _trade(ctx, acc, pos, counterparty, amount, bankruptcy)
        out.touched.add(counterparty)
        out.events.append(AutoDeleveraged(acc.account_id, counterparty, pos.symbol, amount, bankruptcy))
        closed += amount
    return qty - closed


def _backstop(ctx: Ctx, acc: AccountState, scope: _Scope, out: Outcome) -> None:
    """The backstop takes the scope's positions at the mark and what is left of its equity."""
    policy = _policy(ctx)
    assert policy.backstop_account is not None
    equity = scope.figures(_margin(ctx, acc))[0]
    instruments = ctx.config.profile.instruments
    if any(instruments[p.symbol].is_inverse for p in scope.positions(acc)):
        # the isolated equity holds a 40-digit coin PnL: what moves is rounded down to the
        # money quantum (the backstop takes no more than there is; a deficit is covered in full)
        equity = round_down(equity, ctx.config.money_quantum)
    for pos in scope.positions(acc):
        mark = ctx.mark(pos.symbol)
        qty = abs(pos.qty)
        _trade(ctx, acc, pos, policy.backstop_account, qty, mark)
        out.events.append(LiquidationStep(acc.account_id, pos.symbol, BACKSTOP_STEP, qty, mark, ZERO))
    out.touched.add(policy.backstop_account)
    settle = ctx.config.settle_asset
    if scope.key is None:
        _convert_collateral(ctx, acc, out)
        equity = _margin(ctx, acc).equity
        if policy.revision >= BACKSTOP_COLLATERAL_REVISION and equity > 0:
            _hand_over_wallet(ctx, acc, policy.backstop_account, out)
            return  # the account holds nothing more: no equity to take, no deficit
    take = min(equity, acc.balances.get(settle, ZERO))
    if take > 0:
        acc.balances[settle] -= take
        backstop = ctx.state.accounts.setdefault(policy.backstop_account, AccountState(policy.backstop_account))
        backstop.balances[settle] = backstop.balances.get(settle, ZERO) + take
        out.events.append(BalanceChanged(acc.account_id, settle, -take, acc.balances[settle], "backstop takeover"))
    _cover_deficit(ctx, acc, -equity, out)


@dataclass(frozen=True, slots=True)
class VaultLoss:
    """What the backstop's loss limit reads (``backstop_loss_due``)."""

    loss: Decimal
    capital: Decimal
    losing: tuple[tuple[str, PositionSide], ...]
    """The vault's positions in loss at the marks, by symbol and side: what ADL closes."""


def backstop_loss_due(ctx: Ctx, vault: AccountState, margin: AccountMargin) -> VaultLoss | None:
    """Whether the backstop's loss limit calls for ADL now (``LiquidationPolicy.backstop_loss_limit``:
    Hyperliquid's capped liquidator vault, which since 2025-03-26 deleverages rather than draw
    on the rest of the pool). Reads only (``margin`` is the vault's, from the engine's cache).

    The vault's *capital* is what it has to lose: its wallet's value (``AccountMargin.collateral``:
    deposits, and the collateral it took over with positions) and the margin it put into
    isolated positions; its *loss* is that capital less its equity, isolated positions
    included. The limit calls for ADL once the loss is at least ``limit × capital`` (any loss
    at all when it holds no capital), ADL is on, the vault holds a position in loss, and none
    of the vault's markets has liquidations paused (a held price is not one to trade at)."""
    policy = _policy(ctx)
    limit = policy.backstop_loss_limit
    if limit is None or not policy.adl:
        return None
    loss, capital = _vault_loss(ctx, vault, margin)
    if loss <= 0 or loss < limit * max(capital, ZERO):
        return None
    instruments = ctx.config.profile.instruments
    held = [(k, p) for k, p in sorted(vault.positions.items(), key=lambda kv: (kv[0][0], kv[0][1].value)) if p.qty]
    losing = tuple(k for k, p in held if p.pnl(ctx.mark(p.symbol), instruments[p.symbol].is_inverse) < 0)
    if not losing or any(not ctx.state.markets[p.symbol].liquidations_allowed for _, p in held):
        return None
    return VaultLoss(loss, capital, losing)


def _vault_loss(ctx: Ctx, vault: AccountState, margin: AccountMargin) -> tuple[Decimal, Decimal]:
    """``(loss, capital)`` of the backstop (``backstop_loss_due``)."""
    capital, equity = margin.collateral, margin.equity
    for iso in margin.isolated:  # usually none: read the isolated positions only
        capital += vault.positions[(iso.symbol, iso.position_side)].isolated_margin
        equity += iso.equity
    return capital - equity, capital


def _vault_open(ctx: Ctx) -> bool:
    """Whether the backstop takes positions over: always without a loss limit; with one, not
    while it is at or past it (a loss of at least ``limit × capital``, any loss with no
    capital) or its capital is below zero. A capped vault that is spent is no backstop: the
    account goes to the book, or to ADL at its bankruptcy price when the book cannot take it."""
    policy = _policy(ctx)
    limit, vault_id = policy.backstop_loss_limit, policy.backstop_account
    if limit is None or vault_id is None or vault_id not in ctx.state.accounts:
        return True
    vault = ctx.state.accounts[vault_id]
    loss, capital = _vault_loss(ctx, vault, _margin(ctx, vault))
    return capital >= 0 and (loss <= 0 or loss < limit * capital)


def backstop_loss_limit(ctx: Ctx, due: VaultLoss) -> Outcome:
    """Deleverage the vault's positions in loss (``backstop_loss_due``), each at the mark against
    the opposite side's positions, ranked as for any ADL; what no counterparty can take stays
    with the vault. ``BackstopLossLimit`` comes first (its loss rounded up to the money quantum),
    and only when something was deleveraged: otherwise the outcome is empty."""
    policy = _policy(ctx)
    vault_id = policy.backstop_account
    assert vault_id is not None
    vault = ctx.state.accounts[vault_id]  # through the rollback recorder: ADL changes it
    out = Outcome()
    for key in due.losing:
        pos = vault.positions.get(key)
        if pos is not None and pos.qty:
            _deleverage(ctx, vault, pos, abs(pos.qty), ctx.mark(pos.symbol), out)
    if out.events:
        quantum = ctx.config.money_quantum
        assert policy.backstop_loss_limit is not None
        out.events.insert(0, BackstopLossLimit(vault_id, round_up(due.loss, quantum), due.capital,
                                               policy.backstop_loss_limit))
        out.touched.add(vault_id)
    return out


BACKSTOP_COLLATERAL_REVISION = 6
"""The first liquidation revision whose backstop takes a cross account's whole wallet."""


def _hand_over_wallet(ctx: Ctx, acc: AccountState, backstop_id: str, out: Outcome) -> None:
    """The backstop takes a taken-over cross account's whole wallet, every balance as it is
    (collateral in any asset, and a settlement debt collateral could not repay: a paused or
    unpriced collateral market), so the equity left goes with the positions and the account
    holds nothing."""
    backstop = ctx.state.accounts.setdefault(backstop_id, AccountState(backstop_id))
    for asset in sorted(a for a, b in acc.balances.items() if b != 0):
        qty = acc.balances[asset]
        acc.balances[asset] = ZERO
        backstop.balances[asset] = backstop.balances.get(asset, ZERO) + qty
        out.events.append(BalanceChanged(acc.account_id, asset, -qty, ZERO, "backstop takeover"))


def _cover_deficit(ctx: Ctx, acc: AccountState, deficit: Decimal, out: Outcome, symbol: str | None = None) -> None:
    """A shortfall left by a closed scope: the fund pays what it can, the rest is socialised:
    written off, or (Drift) charged to the open positions of ``symbol`` (by default the market
    where this liquidation closed the most notional)."""
    if deficit <= 0:
        return
    settle = ctx.config.settle_asset
    paid = min(deficit, ctx.state.insurance_fund)
    if paid > 0:
        ctx.state.insurance_fund -= paid
        acc.balances[settle] = acc.balances.get(settle, ZERO) + paid
        out.events.append(InsuranceFundChanged(-paid, ctx.state.insurance_fund, f"deficit {acc.account_id}"))
        _count_payment(ctx, acc, out, symbol, paid)
    rest = deficit - paid
    if rest > 0 and rule_of(ctx.config).socialise and socialise(ctx, acc, symbol or _loss_symbol(acc, out), rest,
                                                                 out):
        return
    if rest > 0:
        acc.balances[settle] = acc.balances.get(settle, ZERO) + rest
        ctx.state.socialised_loss += rest
        out.events.append(LossSocialised(acc.account_id, rest))


def _count_payment(ctx: Ctx, acc: AccountState, out: Outcome, symbol: str | None, paid: Decimal) -> None:
    """The fund's payment counted in the markets it paid for (a fund rule reads it): an
    isolated close's in its own; a cross scope's first in each market up to the shortfall its
    closes there left to the fund (``Outcome.fund_owed``, markets in name order), the rest
    (fees, rounding) in the market where this liquidation closed the most notional."""
    if symbol is None:
        left = paid
        for market in sorted(out.fund_owed):
            part = min(out.fund_owed[market], left)
            if part > 0:
                record(ctx, market, -part)
                left -= part
        out.fund_owed.clear()
        if left > 0:
            record(ctx, _loss_symbol(acc, out, deleveraged=True), -left)
        return
    record(ctx, symbol, -paid)


def _loss_symbol(acc: AccountState, out: Outcome, deleveraged: bool = False) -> str | None:
    """The symbol of the largest notional this liquidation closed for ``acc`` on the book (and,
    with ``deleveraged``, by ADL) (ties: by name)."""
    closed: dict[str, Decimal] = {}
    for ev in out.events:
        if (isinstance(ev, LiquidationStep) or (deleveraged and isinstance(ev, AutoDeleveraged))) and (
                ev.account_id == acc.account_id):
            closed[ev.symbol] = closed.get(ev.symbol, ZERO) + ev.qty * ev.price
    return max(sorted(closed), key=lambda s: closed[s]) if closed else None


def hidden_bad_debt(ctx: Ctx) -> dict[str, Decimal]:
    """Per account, negative equity that is neither covered nor recorded (must be empty).

    A deficit is *covered* when the waterfall raised the account back to equity ≥ 0 (the fund
    paid, ADL or socialised loss, all recorded), and *recorded* while the account sits at the
    ``bankrupt`` level, visible and awaiting resolution (liquidation off or paused). Any other
    negative equity — cross, or an isolated position's — is bad debt hidden behind a better
    level. The venue's own book and backstop accounts are not customer accounts: excluded.
    """
    policy = effective_policy(ctx.config)
    venue = {policy.book_account, policy.backstop_account} if policy is not None else set()
    view = ctx.view()
    hidden: dict[str, Decimal] = {}
    for aid in sorted(ctx.state.accounts):
        acc = ctx.state.accounts[aid]
        if aid in venue or acc.level == "bankrupt":
            continue
        m = evaluate(acc, view)
        owed = sum((-eq for eq in [m.equity, *(i.equity for i in m.isolated)] if eq < 0), ZERO)
        if owed > 0:
            hidden[aid] = owed
    return hidden
