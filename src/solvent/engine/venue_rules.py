"""The venue rules of liquidation, as the engine applies them (``risk/liquidation_rules.py``).

``engine/liquidation.py`` runs one procedure; this module supplies what differs per venue
rule, each a small function of the figures the procedure already has:

* ``effective_policy``: the engine policy with the rule's ADL ranking, backstop, chunking
  and cooldown (Hyperliquid), and ADL off (Drift socialises instead);
* ``close_terms``: the fee to the insurance fund and the fund's payment to the account for
  closing a quantity at a price — generic ``rate × notional``; the surplus above the
  bankruptcy price on a takeover (Binance, Bybit, BitMEX); the dYdX v4 insurance-fund delta
  against the dYdX bankruptcy quote;
* ``dydx_fillable``: the dYdX v4 fillable price a liquidation order may not fill beyond;
* ``drift_step``: the quantity, price and insurance-fund fee of one Drift liquidator takeover;
* ``socialise``: a Drift deficit charged to every open position of the market.

Rounding: fees to the fund round up (generic, Drift) or are a surplus rounded *down* (so the
account keeps at least its share); the fund's payments round up to the money quantum, so the
account is never left below zero by rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from solvent.engine.config import AdlRanking, EngineConfig, LiquidationPolicy
from solvent.engine.context import Ctx, Outcome
from solvent.engine.contract_value import gain, notional
from solvent.engine.events import BalanceChanged, InsuranceFundChanged
from solvent.engine.state import AccountState, PositionState
from solvent.risk.liquidation_math import (
    drift_base_to_cover_shortage,
    drift_liquidator_fee,
    drift_socialized_loss_per_base,
    dydx_bankruptcy_quote,
    dydx_fillable_price,
    dydx_insurance_fund_delta,
)
from solvent.risk.liquidation_rules import GENERIC_RULE, LiquidationRule, LiquidationRuleKind
from solvent.units import ONE, ZERO, round_down, round_price, round_up

__all__ = ["CloseTerms", "DriftStep", "Figures", "carried_equity", "close_terms", "drift_fee", "drift_step",
           "dydx_fillable", "effective_policy", "position_loss", "rule_of", "socialise"]

Kind = LiquidationRuleKind


def rule_of(config: EngineConfig) -> LiquidationRule:
    """The rule the engine runs: the profile's, unless the policy asks for the generic one."""
    policy = config.liquidation
    if policy is None or not policy.venue_rules:
        return GENERIC_RULE
    return config.profile.liquidation


def effective_policy(config: EngineConfig) -> LiquidationPolicy | None:
    """``config.liquidation`` with the venue rule's parameters in place (module docstring)."""
    policy = config.liquidation
    rule = rule_of(config)
    if policy is None or rule.kind is Kind.GENERIC:
        return policy
    changes: dict[str, object] = {}
    if rule.adl_ranking is not None:
        changes["adl_ranking"] = AdlRanking(rule.adl_ranking)
    if rule.kind is Kind.BACKSTOP:
        changes.update(backstop_account=policy.backstop_account or rule.backstop_account,
                       backstop_threshold=rule.backstop_threshold, chunk_fraction=rule.chunk_fraction,
                       chunk_min_notional=rule.chunk_min_notional, cooldown_ms=rule.cooldown_ms,
                       backstop_loss_limit=policy.backstop_loss_limit if policy.backstop_loss_limit is not None
                       else rule.backstop_loss_limit)
    if rule.kind is Kind.DRIFT:
        changes["adl"] = False
    return replace(policy, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class CloseTerms:
    """What closing a quantity at a price costs or brings beyond the trade itself.

    ``fee``: paid by the account to the insurance fund (≥ 0). ``fund_pays``: paid by the
    fund to the account now (dYdX, ≥ 0). ``bankruptcy``: the price at which ADL closes the
    quantity (rounded to the tick against the account), ``None`` when there is none.
    ``shortfall``: what the fund would owe for a fill at the book price (ADL beyond the fund).
    """

    fee: Decimal
    fund_pays: Decimal
    bankruptcy: Decimal | None
    shortfall: Decimal


@dataclass(frozen=True, slots=True)
class Figures:
    """The scope and position figures a close is judged on."""

    equity: Decimal
    mm: Decimal
    notional: Decimal
    pos_mm: Decimal
    rest_mm: Decimal
    losses: Decimal = ZERO
    """What a deficit is shared by (revision 4): the scope's positions' losses at the marks, each
    times its market's share (``market_share``), which sums to each market's net loss."""
    market_share: Decimal = ZERO
    """Of the position's market's loss, the part per unit of the position's own loss: the
    market's net loss over the sum of its positions' losses when the liquidation run began
    (``liquidation.market_shares``; 1 for one position a market, less in hedge mode when the
    other side gains, 0 for a market in profit)."""
    by_loss: bool = False
    """Share a deficit by loss (revision 4) rather than by notional (revisions 1–3)."""


def position_loss(pos: PositionState, qty: Decimal, mark: Decimal, inverse: bool) -> Decimal:
    """The unrealised loss at ``mark`` (0 for a position in profit) that ``qty`` of ``pos`` carries."""
    held = abs(pos.qty)
    if held == 0:
        return ZERO
    loss = max(-pos.pnl(mark, inverse), ZERO)
    return loss if qty >= held else loss * qty / held


def _step(ctx: Ctx, symbol: str) -> Decimal:
    return ctx.config.price_step(symbol)


def _to_tick(ctx: Ctx, exact: Decimal, symbol: str, is_long: bool) -> Decimal | None:
    """A bankruptcy price rounded against the bankrupt account (a long sells lower)."""
    step = _step(ctx, symbol)
    price = round_down(exact, step) if is_long else round_up(exact, step)
    return price if price > 0 else None


def carried_equity(pos: PositionState, qty: Decimal, mark: Decimal, f: Figures, inverse: bool) -> Decimal:
    """The part of the scope's equity that closing ``qty`` of ``pos`` carries (the one home of
    how a scope's equity is shared among its positions).

    Equity left (≥ 0) is shared by notional. A deficit (revision 4) is shared by loss: each
    market carries it in proportion to its net loss at the mark (its positions' PnL summed: in
    hedge mode a long and a short of one symbol offset), never more than that loss, and within a
    market each losing position in proportion to its own loss. A market in profit or flat
    carries none of it and its positions close at the mark. An ADL counterparty therefore gives
    up at most what the bankrupt account lost in that market, never a loss made in another;
    what no market's loss covers is left to the waterfall (fund, then socialised loss) when the
    scope is closed. Revisions 1–3 shared a deficit by notional too."""
    sign = ONE if pos.qty > 0 else -ONE
    if f.equity >= 0 or not f.by_loss:
        closed = notional(sign * qty * pos.contract_size, mark, inverse)
        return f.equity * (closed / f.notional if f.notional > closed else ONE)
    if f.losses <= 0:
        return ZERO
    return -min(-f.equity, f.losses) * f.market_share * position_loss(pos, qty, mark, inverse) / f.losses


def bankruptcy_exact(pos: PositionState, qty: Decimal, mark: Decimal, f: Figures, inverse: bool) -> Decimal:
    """The generic bankruptcy price: the price ``P`` at which closing ``qty`` uses up the equity
    it carries (``carried_equity``: ``E``), ``E + gain(s, P, mark) = 0`` with ``s`` the signed
    size closed: ``mark − E / s`` (linear), ``s / (s / mark + E)`` (inverse; 0 when no positive
    price solves it: an inverse short whose equity exceeds its greatest possible loss, or a long
    already past any price)."""
    sign = ONE if pos.qty > 0 else -ONE
    size = sign * qty * pos.contract_size
    carried = carried_equity(pos, qty, mark, f, inverse)
    if not inverse:
        return mark - carried / size
    denominator = size / mark + carried
    price = size / denominator if denominator else ZERO
    return price if price > 0 else ZERO


def close_terms(ctx: Ctx, rule: LiquidationRule, pos: PositionState, qty: Decimal, price: Decimal,
                mark: Decimal, f: Figures, fee_rate: Decimal) -> CloseTerms:
    """Fee, fund payment and ADL price of closing ``qty`` of ``pos`` at ``price`` (module docstring)."""
    quantum = ctx.config.money_quantum
    sign = ONE if pos.qty > 0 else -ONE
    base = qty * pos.contract_size
    inverse = ctx.config.profile.instrument(pos.symbol).is_inverse
    eq_exec = f.equity + gain(sign * base, price, mark, inverse)
    cap = round_down(max(eq_exec, ZERO), quantum)
    if rule.kind is Kind.DYDX_V4 and f.mm > 0:
        closed_mm = max(f.pos_mm - f.rest_mm, ZERO)
        quote = dydx_bankruptcy_quote(sign * base, -sign * base, mark, f.equity, f.mm, closed_mm,
                                      quote_quantum=quantum)
        delta = dydx_insurance_fund_delta(-sign * base, price, quote, rule.max_liquidation_fee_ppm,
                                          quote_quantum=quantum)
        bankruptcy = _to_tick(ctx, quote / base if sign > 0 else -quote / base, pos.symbol, sign > 0)
        if delta >= 0:
            return CloseTerms(min(delta, cap), ZERO, bankruptcy, ZERO)
        return CloseTerms(ZERO, -delta, bankruptcy, -delta)
    exact = bankruptcy_exact(pos, qty, mark, f, inverse)
    bankruptcy = _to_tick(ctx, exact, pos.symbol, sign > 0)
    # what a fill at ``price`` loses against one at the bankruptcy price
    shortfall = gain(sign * base, bankruptcy, price, inverse) if bankruptcy is not None else ZERO
    if rule.kind is Kind.BANKRUPTCY_PRICE and qty == abs(pos.qty):
        # taken over at the bankruptcy price: what is left above it goes to the fund
        # (inverse: the equity share left after the fill, which holds without a bankruptcy price)
        left = gain(sign * base, price, mark, True) + carried_equity(pos, qty, mark, f, True) \
            if inverse else sign * base * (price - exact)
        surplus = round_down(max(left, ZERO), quantum)
        return CloseTerms(min(surplus, cap), ZERO, bankruptcy, shortfall)
    fee = min(round_up(notional(base, price, inverse) * fee_rate, quantum), cap)
    return CloseTerms(fee, ZERO, bankruptcy, shortfall)


def dydx_fillable(ctx: Ctx, rule: LiquidationRule, pos: PositionState, mark: Decimal, f: Figures) -> Decimal | None:
    """The dYdX v4 fillable price of ``pos`` (``None`` without MM: no spread to take)."""
    if f.mm <= 0:
        return None
    tick = ctx.config.profile.instrument(pos.symbol).tick_size
    return dydx_fillable_price(pos.qty * pos.contract_size, mark, f.equity, f.mm, f.pos_mm,
                               rule.bankruptcy_adjustment_ppm, rule.spread_to_maint_margin_ratio_ppm, tick=tick)


def fills_within(price: Decimal, fillable: Decimal | None, is_long: bool) -> bool:
    """A long's liquidation sells at the fillable price or higher; a short buys at it or lower."""
    return fillable is None or (price >= fillable if is_long else price <= fillable)


@dataclass(frozen=True, slots=True)
class DriftStep:
    """One Drift takeover (``drift_step``) with the numbers it is computed from, in the
    precisions Drift's integer arithmetic reads them (what a certificate shows)."""

    qty: Decimal
    price: Decimal
    if_fee: Decimal
    """The insurance fund's cut before the cap at the equity the fill leaves (``drift_fee``)."""
    liquidator_fee: Decimal
    """The escalated liquidator fee (``drift_liquidator_fee``)."""
    shortage: Decimal
    """``target − equity``, at least 0, up to 1e-6."""
    margin_ratio: Decimal
    """The position's MM over its notional at the mark, up to 1e-4."""
    base: Decimal | None
    """The base covering the shortage (1e-9), ``None`` when Drift takes the whole position."""


def drift_step(ctx: Ctx, rule: LiquidationRule, acc: AccountState, pos: PositionState, mark: Decimal,
               f: Figures, target: Decimal, lot: Decimal) -> DriftStep | None:
    """One Drift takeover: the base covering the shortage to ``target``, at the oracle less the
    (escalated) liquidator fee, and the insurance fund's cut (``None``: nothing to do)."""
    fees = rule.drift_fees.get(pos.symbol)
    size = abs(pos.qty)
    if fees is None or size == 0:
        return None
    elapsed = ctx.state.now_ms - acc.last_liquidation_ms if acc.last_liquidation_ms is not None else 0
    liq_fee = drift_liquidator_fee(fees.liquidator_fee, rule.max_liquidator_fee, max(elapsed, 0),
                                   rule.fee_grace_ms, rule.fee_increase_per_ms)
    base_notional = size * pos.contract_size * mark
    shortage = round_up(max(target - f.equity, ZERO), Decimal("0.000001"))
    ratio = round_up(f.pos_mm / base_notional, Decimal("0.0001")) if base_notional > 0 else ONE
    oracle = round_up(mark, Decimal("0.000001"))
    try:
        base = drift_base_to_cover_shortage(shortage, ratio, round_up(liq_fee, Decimal("0.000001")),
                                            fees.if_liquidation_fee, oracle)
    except ValueError:  # InvalidInput: the if fee leaves nothing freed per base
        base = None
    qty = size if base is None else min(size, max(lot, round_up(base / pos.contract_size, lot)))
    is_long = pos.qty > 0
    price = round_price(mark * (ONE - liq_fee if is_long else ONE + liq_fee), _step(ctx, pos.symbol),
                        is_long=not is_long)  # against the liquidated account
    if price <= 0:
        return None
    if_fee = round_up(qty * pos.contract_size * mark * fees.if_liquidation_fee, ctx.config.money_quantum)
    return DriftStep(qty, price, if_fee, liq_fee, shortage, ratio, base)


def drift_fee(ctx: Ctx, pos: PositionState, step: DriftStep, equity: Decimal, mark: Decimal) -> tuple[Decimal, Decimal]:
    """``(equity at the fill, fee)`` of a Drift step on a scope of ``equity``: the insurance
    fund's cut, capped at the equity the fill leaves (rounded down to the money quantum)."""
    sign = ONE if pos.qty > 0 else -ONE
    eq_exec = equity + gain(sign * step.qty * pos.contract_size, step.price, mark, False)  # Drift: linear
    return eq_exec, min(step.if_fee, round_down(max(eq_exec, ZERO), ctx.config.money_quantum))


def socialise(ctx: Ctx, acc: AccountState, symbol: str | None, loss: Decimal, out: Outcome) -> bool:
    """Charge ``loss`` to every open position on ``symbol`` (Drift); False when there is none.

    Each position pays ``⌈per_base × |qty|⌉`` (``drift_socialized_loss_per_base``, money
    quantum up); the account gets ``loss``, and the rounding excess goes to the insurance fund.
    """
    if symbol is None or loss <= 0:
        return False
    settle, quantum = ctx.config.settle_asset, ctx.config.money_quantum
    held = [(aid, p) for aid in sorted(ctx.holders.get(symbol, ()))
            if aid != acc.account_id and aid in ctx.state.accounts
            for _, p in sorted(ctx.state.accounts[aid].positions.items(), key=lambda kv: (kv[0][0], kv[0][1].value))
            if p.symbol == symbol and p.qty]
    nine = Decimal("0.000000001")
    longs = sum((round_down(p.qty, nine) for _, p in held if p.qty > 0), ZERO)
    shorts = sum((round_down(-p.qty, nine) for _, p in held if p.qty < 0), ZERO)
    if longs + shorts == 0:
        return False
    per_base = drift_socialized_loss_per_base(round_up(loss, Decimal("0.000001")), longs, shorts)
    charged = ZERO
    for aid, p in held:
        charge = round_up(per_base * abs(p.qty), quantum)
        other = ctx.state.accounts[aid]
        other.balances[settle] = other.balances.get(settle, ZERO) - charge
        charged += charge
        out.touched.add(aid)
        out.events.append(BalanceChanged(aid, settle, -charge, other.balances[settle],
                                         f"socialised loss {acc.account_id}"))
    acc.balances[settle] = acc.balances.get(settle, ZERO) + loss
    out.events.append(BalanceChanged(acc.account_id, settle, loss, acc.balances[settle], "socialised loss covered"))
    if charged > loss:
        ctx.state.insurance_fund += charged - loss
        out.events.append(InsuranceFundChanged(charged - loss, ctx.state.insurance_fund,
                                               f"socialised loss rounding {acc.account_id}"))
    return True
