"""Prices, premium samples and time: index and mark, guards, funding and expiry settlement.

* A ``PriceUpdate`` stores one source's quote; the index is recomputed from the fresh
  quotes (``solvent.market.compute_index``: stale and deviating sources dropped).
* The candidate mark is the index plus the average basis of the premium samples since the
  last funding (index alone when there are none). The jump guard holds a candidate that
  jumps more than ``jump_guard.max_jump`` until further updates confirm it: while held the
  mark used for margin stays at the last accepted price and liquidations on that symbol
  pause (``MarkPriceHeld``, ``LiquidationsPaused``).
* With no fresh source left the mark freezes and liquidations pause; they resume with the
  next fresh index.
* ``AdvanceTime`` re-checks staleness, settles dated futures that expired (TWAP of the index
  over the final window), pays funding when an interval ends, and runs the volatility MM
  updates it crosses (``engine/maintenance_scale.py``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from solvent.engine.commands import AdvanceTime, PremiumSample, PriceUpdate
from solvent.engine.context import Ctx, Deny, Outcome, refuse_number, within_band
from solvent.engine.contract_value import settled
from solvent.engine.denials import DenyCode
from solvent.engine.events import (
    BalanceChanged,
    Event,
    FundingPaid,
    FundingSettled,
    IndexDropped,
    InsuranceFundChanged,
    LiquidationsPaused,
    LiquidationsResumed,
    MarkPriceChanged,
    MarkPriceHeld,
    OrderCancelled,
    Settled,
    TimeAdvanced,
)
from solvent.engine.maintenance_scale import update_scales
from solvent.engine.state import MarketState
from solvent.errors import InvalidInput, StaleMarketData
from solvent.market import (
    JumpStatus,
    SourceQuote,
    average_premium,
    compute_index,
    funding_payments,
    funding_rate,
    jump_guard_step,
    mark_price,
    premium_index,
    settlement_price,
)
from solvent.units import ONE, ZERO

__all__ = ["advance_time", "premium_sample", "price_update"]

def _valid_price(value: object) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        refuse_number(DenyCode.INVALID_PRICE, "price", value, "a finite Decimal > 0")
    return value


def _known(ctx: Ctx, symbol: str) -> None:
    if symbol in ctx.config.collateral:
        return
    ctx.instrument(symbol)


def price_update(ctx: Ctx, cmd: PriceUpdate, commit: bool) -> Outcome:
    _known(ctx, cmd.symbol)
    price = _valid_price(cmd.price)
    market = ctx.state.markets.get(cmd.symbol)
    if market is not None and market.mark is not None:
        within_band(price, market.mark, ctx.config.price_band)
    if not commit:
        return Outcome()
    market = ctx.market(cmd.symbol)
    market.quotes[cmd.source] = (price, ctx.state.now_ms)
    return _refresh(ctx, market)


def _quotes(market: MarketState) -> list[SourceQuote]:
    return [SourceQuote(src, p, ts) for src, (p, ts) in sorted(market.quotes.items())]


def _refresh(ctx: Ctx, market: MarketState) -> Outcome:
    """Recompute index and mark for one market (commit path only)."""
    out = Outcome(symbols={market.symbol})
    result = compute_index(_quotes(market), ctx.state.now_ms, ctx.config.index)
    out.events.extend(IndexDropped(market.symbol, d.source, d.reason.value) for d in result.dropped)
    if result.price is None:
        if not market.halted:
            market.halted = True
            market.liquidations_allowed = False
            out.events.append(LiquidationsPaused(market.symbol, f"no index: {result.failure}"))
        return out
    index = result.price
    market.index_samples.append((ctx.state.now_ms, index))
    candidate = _candidate_mark(ctx, market, index)
    market.guard, decision = jump_guard_step(market.guard, candidate, ctx.state.now_ms, ctx.config.jump_guard)
    was_paused = not market.liquidations_allowed
    market.halted = False
    if decision.status is JumpStatus.HELD:
        market.liquidations_allowed = False
        out.events.append(MarkPriceHeld(market.symbol, candidate, decision.reference_price))
        if not was_paused:
            out.events.append(LiquidationsPaused(market.symbol, "price jump held for confirmation"))
        return out
    market.liquidations_allowed = True
    if was_paused:
        out.events.append(LiquidationsResumed(market.symbol))
    if market.mark != decision.price:
        market.mark = decision.price
        out.events.append(MarkPriceChanged(market.symbol, decision.price, result.used))
    return out


def _candidate_mark(ctx: Ctx, market: MarketState, index: Decimal) -> Decimal:
    """The mark before the jump guard, rounded half-even to the tick (or the money quantum)."""
    step = ctx.config.price_step(market.symbol)
    return _rule_mark(ctx, market, index).quantize(step, rounding=ROUND_HALF_EVEN)


def _rule_mark(ctx: Ctx, market: MarketState, index: Decimal) -> Decimal:
    basis = _basis(market, index)
    if ctx.config.mark_rule != "median_of_three":
        return index + basis
    interval = ctx.config.funding_interval_ms
    next_ms = ctx.state.next_funding_ms or (ctx.state.now_ms // interval + 1) * interval
    until = max(next_ms - ctx.state.now_ms, 0)
    last = market.last_price if market.last_price is not None else index + basis
    return mark_price(index, market.last_funding_rate, until, interval, basis, last).mark


def _basis(market: MarketState, index: Decimal) -> Decimal:
    """Average basis implied by the premium samples since the last funding (0 if none)."""
    if not market.premiums:
        return ZERO
    return sum(market.premiums, ZERO) / len(market.premiums) * index


def premium_sample(ctx: Ctx, cmd: PremiumSample, commit: bool) -> Outcome:
    ctx.instrument(cmd.symbol)
    bid, ask = _valid_price(cmd.impact_bid), _valid_price(cmd.impact_ask)
    if bid > ask:
        raise Deny(DenyCode.INVALID_PRICE, impact_bid=bid, impact_ask=ask)
    market = ctx.state.markets.get(cmd.symbol)
    if market is None or not market.index_samples:
        raise Deny(DenyCode.NO_MARK_PRICE, symbol=cmd.symbol)
    premium = premium_index(bid, ask, market.index_samples[-1][1])
    if commit:
        market.premiums.append(premium)
    return Outcome()


def advance_time(ctx: Ctx, cmd: AdvanceTime, commit: bool) -> Outcome:
    now = cmd.now_ms
    if isinstance(now, bool) or not isinstance(now, int) or now < ctx.state.now_ms:
        raise Deny(DenyCode.TIME_WENT_BACKWARDS, now_ms=str(now), current_ms=ctx.state.now_ms)
    out = Outcome([TimeAdvanced(now)])
    if not commit:
        return out
    before = ctx.state.now_ms
    ctx.state.now_ms = now
    for market in [ctx.state.markets[s] for s in sorted(ctx.state.markets)]:
        if market.quotes:
            _merge(out, _refresh_staleness(ctx, market))
    _merge(out, _settle_expired(ctx))
    _merge(out, _pay_funding(ctx))
    _merge(out, update_scales(ctx, before))
    return out


def _merge(into: Outcome, other: Outcome) -> None:
    into.events.extend(other.events)
    for aid in other.touched:  # narrowed only if every outcome touching it narrowed it
        if aid in other.narrow and (aid not in into.touched or aid in into.narrow):
            into.narrow[aid] = into.narrow.get(aid, frozenset()) | other.narrow[aid]
        else:
            into.narrow.pop(aid, None)
    into.touched |= other.touched
    into.symbols |= other.symbols
    into.rerated |= other.rerated


def _refresh_staleness(ctx: Ctx, market: MarketState) -> Outcome:
    fresh = compute_index(_quotes(market), ctx.state.now_ms, ctx.config.index)
    if fresh.price is None and not market.halted:
        return _refresh(ctx, market)
    return Outcome()


def _settle_expired(ctx: Ctx) -> Outcome:
    out = Outcome()
    for symbol, inst in sorted(ctx.config.profile.instruments.items()):
        market = ctx.state.markets.get(symbol)
        if inst.expiry_ms is None or inst.expiry_ms > ctx.state.now_ms or market is None or market.settled:
            continue
        try:
            price = settlement_price(market.index_samples, inst.expiry_ms, ctx.config.settlement_window_ms,
                                     tick=ctx.config.price_step(symbol))
        except (StaleMarketData, InvalidInput):
            continue  # no index in the window yet: settle when one arrives
        _merge(out, _close_all(ctx, symbol, price, inst.contract_size, inst.is_inverse))
        market.settled = True
    return out


def _close_all(ctx: Ctx, symbol: str, price: Decimal, contract_size: Decimal, inverse: bool) -> Outcome:
    out = Outcome(symbols={symbol})
    settle = ctx.config.settle_asset
    closed = 0
    paid_out = ZERO  # Σ of the settled values (inverse: each rounded down, so ≤ 0 on a balanced book)
    for aid in sorted(ctx.state.accounts):
        acc = ctx.state.accounts[aid]
        for oid in sorted(o.order_id for o in acc.orders.values() if o.symbol == symbol):
            ctx.unrest_order(acc, oid)
            out.events.append(OrderCancelled(aid, oid, "expired"))
            out.touched.add(aid)
        for key in sorted(k for k in acc.positions if k[0] == symbol):
            pos = acc.positions.pop(key)
            value = settled(pos.qty * contract_size, price, inverse, ctx.config.money_quantum)
            paid_out += value
            amount = value - pos.cost + pos.isolated_margin
            acc.balances[settle] = acc.balances.get(settle, ZERO) + amount
            out.events.append(BalanceChanged(aid, settle, amount, acc.balances[settle], f"settlement {symbol}"))
            out.touched.add(aid)
            closed += 1
    if inverse and paid_out:  # the rounding residue (linear values are exact and sum to zero)
        ctx.state.insurance_fund -= paid_out
        out.events.append(InsuranceFundChanged(-paid_out, ctx.state.insurance_fund, f"settlement rounding {symbol}"))
    ctx.state.open_interest.pop(symbol, None)
    out.events.append(Settled(symbol, price, closed))
    return out


def _pay_funding(ctx: Ctx) -> Outcome:
    out = Outcome()
    interval = ctx.config.funding_interval_ms
    if ctx.state.next_funding_ms is None:
        ctx.state.next_funding_ms = (ctx.state.now_ms // interval + 1) * interval
    if ctx.state.now_ms >= ctx.state.next_funding_ms:
        # One settlement for the boundaries crossed: premium samples are cleared by it, and an
        # interval without samples pays nothing, so later boundaries in the same jump are moot.
        for symbol in sorted(ctx.state.markets):
            _merge(out, _fund_symbol(ctx, symbol))
        ctx.state.next_funding_ms = (ctx.state.now_ms // interval + 1) * interval
    return out


def _fund_symbol(ctx: Ctx, symbol: str) -> Outcome:
    market = ctx.state.markets[symbol]
    inst = ctx.config.profile.instruments.get(symbol)
    if inst is not None and inst.expiry_ms is not None and ctx.config.dated_basis_reset:
        market.premiums.clear()  # a dated future pays no funding; its basis restarts (``dated_basis_reset``)
        return Outcome()
    if inst is None or inst.expiry_ms is not None or market.mark is None or not market.premiums:
        return Outcome()
    cfg = ctx.config
    rate = funding_rate(average_premium(market.premiums), cfg.funding_interest_rate, cfg.funding_clamp,
                        cfg.funding_cap, -cfg.funding_cap)
    market.premiums.clear()
    market.last_funding_rate = rate
    holdings: dict[str, Decimal] = {}
    for aid in sorted(ctx.state.accounts):
        for pos in ctx.state.accounts[aid].positions.values():
            if pos.symbol == symbol and pos.qty:
                holdings[aid] = holdings.get(aid, ZERO) + pos.qty * inst.contract_size
    if not holdings:
        return Outcome()
    # a payment is ``−size × rate`` times the notional per unit of size: the mark (linear), or
    # ``1 / mark`` coin per USD (inverse: the position's coin value × rate)
    per_size = ONE / market.mark if inst.is_inverse else market.mark
    settlement = funding_payments(sorted(holdings.items()), per_size, rate, cfg.money_quantum)
    out = Outcome(symbols={symbol})
    events: list[Event] = []
    for pay in settlement.payments:
        acc = ctx.state.accounts[pay.account_id]
        acc.balances[cfg.settle_asset] = acc.balances.get(cfg.settle_asset, ZERO) + pay.amount_quote
        events.append(FundingPaid(pay.account_id, symbol, pay.amount_quote, rate))
        out.touched.add(pay.account_id)
    ctx.state.insurance_fund += settlement.residue
    events.append(FundingSettled(symbol, rate, market.mark, settlement.residue))
    out.events.extend(events)
    return out
