"""The liquidation's first step in a certificate (``liquidation``, ``docs/verify.md``): the
position it closes, the equity that position carries, its bankruptcy price and the fee the
signed step charged, redone here from the certificate's numbers and the signed record.

Called inside the certificate's decimal context (its stated precision, half-even), once the
judged scope's equity and notional are computed (``certificate._arithmetic``).
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

from solvent_verify import VerifyError, canonical_number
from solvent_verify.prior import NAMES_ACCOUNT

__all__ = ["MOVERS", "RULES", "check_first_step", "names_account"]

RULES = ("generic", "bankruptcy_price", "backstop", "drift", "dydx_v4")
"""The venue rules whose book close solvent-cert-v1 shows: a fee at a rate, or (for
``bankruptcy_price``, a whole position) what is left above the bankruptcy price, or (``drift``)
Drift's takeover of the base that covers the margin shortage, or (``dydx_v4``) dYdX's
insurance-fund delta against its bankruptcy quote, within its fillable price."""
Clock = tuple[int, int | None]
"""``(now_ms, last_liquidation_ms)`` as the signed prior state binds them."""
_BETWEEN = ("MarginCall", "OrderCancelled")
"""What may come between a claim and the account's step without moving its equity."""
MOVERS = ("AutoDeleveraged", "LossSocialised", "InsuranceFundChanged")
"""Events that may move an account without naming it in an account field (an ADL, a socialised
loss, the fund covering a deficit, named in its ``reason`` only)."""


def names_account(event: dict[str, Any], account: str) -> bool:
    """Whether ``event`` changes ``account`` by name (its margin call and orders cancelled aside)."""
    return event.get("type") not in _BETWEEN and any(event.get(name) == account for name in NAMES_ACCOUNT)


def _dec(obj: dict[str, Any], name: str, recorded: bool = False) -> Decimal:
    """The number ``obj[name]``: spelt as the certificate's signer writes it (``canonical_number``:
    another spelling of it is refused), or, ``recorded``, as the signed record's event holds it."""
    raw = obj.get(name)
    if not recorded and not (isinstance(raw, str) and canonical_number(raw)):
        raise VerifyError(f"malformed certificate: liquidation {name} {raw!r} is not a number in the signer's "
                          "spelling (plain notation, no exponent, no trailing zeros)")
    try:
        value = Decimal(raw) if isinstance(raw, str) else None
    except decimal.InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise VerifyError(f"malformed certificate: liquidation {name}")
    return value


def _to(value: Decimal, quantum: Decimal, rounding: str) -> Decimal:
    return (value / quantum).to_integral_value(rounding=rounding) * quantum


def _step(events: list[Any], claim_index: int, at: Any, account: str) -> dict[str, Any]:
    """The signed step: the account's first liquidation step after the claim, a close on the
    book, with nothing between that moves its equity."""
    if not isinstance(at, int) or isinstance(at, bool) or not claim_index <= at < len(events):
        raise VerifyError("the liquidation step is not an event after the claim (or the claim itself)")
    for e in events[claim_index + 1:at]:
        if not isinstance(e, dict):
            raise VerifyError("malformed record: an event is not an object")
        if e.get("type") in MOVERS or (e.get("type") == "LiquidationStep" and e.get("account_id") == account):
            raise VerifyError(f"event {at} is not the account's first step, or an ADL, a socialised loss or a "
                              "payment of the insurance fund comes before it")
        if names_account(e, account):
            raise VerifyError(f"an event between the claim and step {at} changes {account}")
    step = events[at]
    if not isinstance(step, dict) or step.get("type") != "LiquidationStep" or step.get("account_id") != account \
            or step.get("kind") != "book":
        raise VerifyError(f"event {at} is not a liquidation step of {account} on the book")
    return step


def _carried(positions: list[dict[str, Any]], k: int, in_scope: list[int], qty: Decimal, marks: dict[str, Decimal],
             equity: Decimal, notional: Decimal, by_loss: bool) -> Decimal:
    """The part of the scope's equity closing ``qty`` of position ``k`` carries: by notional,
    or (revision 4 on, a deficit) by loss, each market's share being its net loss over its
    positions' losses."""
    pos = positions[k]
    mark, held = marks[pos["symbol"]], abs(_dec(pos, "qty"))
    closed = qty * _dec(pos, "contract_size")
    closed = closed / mark if pos["inverse"] else closed * mark
    if equity >= 0 or not by_loss:
        return equity * (closed / notional if notional > closed else Decimal(1))
    net: dict[str, Decimal] = {}
    legs: dict[str, Decimal] = {}
    for i in in_scope:
        upnl, symbol = _dec(positions[i], "upnl"), positions[i]["symbol"]
        net[symbol] = net.get(symbol, Decimal(0)) + upnl
        legs[symbol] = legs.get(symbol, Decimal(0)) + max(-upnl, Decimal(0))
    share = {s: max(-net[s], Decimal(0)) / legs[s] if legs[s] > 0 else Decimal(0) for s in net}
    ordered = sorted(in_scope, key=lambda i: (positions[i]["symbol"], positions[i]["position_side"]))
    losses = sum((share[positions[i]["symbol"]] * max(-_dec(positions[i], "upnl"), Decimal(0)) for i in ordered),
                 Decimal(0))
    if losses <= 0:
        return Decimal(0)
    loss = max(-_dec(pos, "upnl"), Decimal(0))
    own = loss if qty >= held else loss * qty / held
    return -min(-equity, losses) * share[pos["symbol"]] * own / losses


def check_first_step(part: Any, events: list[Any], claim_index: int, account: str, scope: tuple[str, Any, Any],
                     scope_figures: tuple[Decimal, Decimal, Decimal], positions: list[dict[str, Any]],
                     marks: dict[str, Decimal], quantum: Decimal, policy: dict[str, Any],
                     first_under: tuple[str, Any, Any] | None, clock: Clock | None = None) -> str:
    """Check the certificate's ``liquidation`` part; a phrase for the summary line.
    ``scope_figures``: the judged scope's equity, MM and notional. ``first_under``: the first
    scope below its maintenance margin in the order a liquidation takes them (the cross account,
    then isolated positions by symbol and side). ``clock``: the time and the account's previous
    liquidation step as the signed prior state holds them (Drift's fee escalation reads them)."""
    if not isinstance(part, dict):
        raise VerifyError("malformed certificate: liquidation")
    rule, revision = part.get("rule"), part.get("revision")
    if rule not in RULES:
        raise VerifyError(f"liquidation rule {rule!r}: solvent-cert-v1 shows the steps of {', '.join(RULES)}")
    if revision != policy.get("revision", 1) or not isinstance(revision, int):
        raise VerifyError(f"the liquidation arithmetic's revision {revision!r} is not the journal's")
    if policy.get("venue_rules", True) is False and rule != "generic":
        raise VerifyError("the journal runs the generic liquidation procedure, not a venue's")
    rate = _dec(part, "fee_rate")
    if policy.get("fee_rate") is not None and rate != Decimal(str(policy["fee_rate"])):
        raise VerifyError("the liquidation fee rate is not the journal's")
    step = _step(events, claim_index, part.get("step"), account)
    k = part.get("position")
    kind, symbol, side = scope
    in_scope = [i for i, p in enumerate(positions) if (p.get("margin_mode") == "cross" if kind == "cross" else (
        p.get("margin_mode") == "isolated" and (p.get("symbol"), p.get("position_side")) == (symbol, side)))]
    if not isinstance(k, int) or isinstance(k, bool) or k not in in_scope:
        raise VerifyError("the closed position is not one of the judged scope's")
    if scope != first_under:
        raise VerifyError("another scope is liquidated first (the cross account, then isolated positions by symbol "
                          "and side): the step is not the judged scope's")
    ordered = sorted(in_scope, key=lambda i: (positions[i]["symbol"], positions[i]["position_side"]))
    if k != max(ordered, key=lambda i: (_dec(positions[i], "mm"), positions[i]["symbol"])):
        raise VerifyError("the closed position is not the scope's largest MM (the one a liquidation reduces first)")
    pos = positions[k]
    qty, price = _dec(step, "qty", True), _dec(step, "price", True)
    held = abs(_dec(pos, "qty"))
    if pos["symbol"] != step.get("symbol") or not 0 < qty <= held or price <= 0:
        raise VerifyError("the step does not close part of the position named")
    equity, mm, notional = scope_figures
    mark, inverse = marks[pos["symbol"]], pos["inverse"]
    if rule == "drift":
        return _check_drift(part, step, pos, (equity, mm, notional), mark, quantum, policy, clock)
    if rule == "dydx_v4":
        return _check_dydx(part, step, pos, (equity, mm), mark, quantum)
    size = qty * _dec(pos, "contract_size") * (1 if _dec(pos, "qty") > 0 else -1)
    carried = _carried(positions, k, in_scope, qty, marks, equity, notional, revision >= 4)
    if inverse:
        denominator = size / mark + carried
        bankruptcy = size / denominator if denominator else Decimal(0)
        bankruptcy = max(bankruptcy, Decimal(0))
        at_fill = equity + (size / mark - size / price)
    else:
        bankruptcy = mark - carried / size
        at_fill = equity + size * (price - mark)
    cap = _to(max(at_fill, Decimal(0)), quantum, decimal.ROUND_FLOOR)
    if rule == "bankruptcy_price" and qty == held:  # taken over whole: what is left above the bankruptcy price
        left = (size / mark - size / price) + carried if inverse else size * (price - bankruptcy)
        fee = min(_to(max(left, Decimal(0)), quantum, decimal.ROUND_FLOOR), cap)
    else:
        closed = abs(size) / price if inverse else abs(size) * price
        fee = min(_to(closed * rate, quantum, decimal.ROUND_CEILING), cap)
    computed = {"carried_equity": carried, "bankruptcy_price": bankruptcy, "equity_at_fill": at_fill, "fee": fee}
    for name, value in computed.items():
        if _dec(part, name) != value:
            raise VerifyError(f"liquidation {name} {part.get(name)} stated, {value} computed")
    if _dec(step, "fee", True) != fee:
        raise VerifyError(f"the signed step charges {step.get('fee')}, the rules {fee}")
    return (f"first step: {step['qty']} {pos['symbol']} at {step['price']}, bankruptcy price "
            f"{part['bankruptcy_price']}, fee {step['fee']}")


def _int(obj: dict[str, Any], name: str, nullable: bool = False) -> int | None:
    raw = obj.get(name)
    if raw is None and nullable:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        raise VerifyError(f"malformed certificate: liquidation {name}")
    return raw


def _units(value: Decimal, decimals: int) -> int | None:
    """``value`` as a count of ``10**-decimals``; ``None`` when it is finer than that."""
    scaled = value.scaleb(decimals)
    return int(scaled) if scaled == scaled.to_integral_value() else None


def _drift_base(shortage: Decimal, ratio: Decimal, fee: Decimal, if_fee: Decimal, oracle: Decimal) -> Decimal | None:
    """Drift's ``calculate_base_asset_amount_to_cover_margin_shortage`` in its integer precisions
    (price, quote and fees 1e-6, margin ratio 1e-4, base 1e-9; each division truncates), the
    quote asset at 1: ``shortage / (⌊P × (ratio − fee)⌋ − ⌊P × if_fee⌋)``. ``None``: the whole
    position (ratio ≤ fee, or a denominator Drift refuses)."""
    units = [_units(shortage, 6), _units(ratio, 4), _units(fee, 6), _units(if_fee, 6), _units(oracle, 6)]
    if any(u is None for u in units):
        return None
    short, ratio_u, fee_u, if_u, price = (u for u in units if u is not None)
    ratio_u *= 100  # margin precision 1e4 to fee precision 1e6
    if ratio_u <= fee_u:
        return None
    denominator = price * 10**6 // 10**6 * (ratio_u - fee_u) // 10**6 - price * if_u // 10**6
    if denominator <= 0:
        return None
    return Decimal(short * 10**9 // denominator).scaleb(-9)


def _check_drift(part: dict[str, Any], step: dict[str, Any], pos: dict[str, Any],
                 figures: tuple[Decimal, Decimal, Decimal], mark: Decimal, quantum: Decimal, policy: dict[str, Any],
                 clock: Clock | None) -> str:
    """Drift's takeover redone (``docs/verify.md``): the escalated liquidator fee, the target
    equity, the shortage, the position's margin ratio, the base that covers the shortage, the
    quantity on the lot, the price at the mark less the fee on the price grid, and the insurance
    fund's cut, capped at the equity the fill leaves."""
    equity, mm, notional = figures
    if pos["inverse"]:
        raise VerifyError("a Drift takeover is of a linear position")
    now, last = _int(part, "now_ms"), _int(part, "last_liquidation_ms", nullable=True)
    assert now is not None
    if clock is not None and (now, last) != clock:
        raise VerifyError("the Drift step's time or the account's previous liquidation step is not the signed "
                          "prior state's")
    base_fee, top, per_ms = _fraction(part, "liquidator_fee"), _fraction(part, "max_liquidator_fee"), _fraction(
        part, "fee_increase_per_ms")
    grace = _int(part, "fee_grace_ms")
    assert grace is not None
    elapsed = max(now - last, 0) if last is not None else 0
    fee_rate = base_fee if elapsed < grace else max(base_fee, min(base_fee + elapsed * per_ms, top))
    try:
        target = mm * (1 + Decimal(str(policy["target_buffer"]))) + Decimal(str(policy["exit_buffer"])) * notional
    except (KeyError, decimal.InvalidOperation):
        raise VerifyError("the journal's liquidation policy states no target and exit buffers") from None
    micro = Decimal("0.000001")
    shortage = _to(max(target - equity, Decimal(0)), micro, decimal.ROUND_CEILING)
    held, contract = abs(_dec(pos, "qty")), _dec(pos, "contract_size")
    base_notional = held * contract * mark
    ratio = _to(_dec(pos, "mm") / base_notional, Decimal("0.0001"), decimal.ROUND_CEILING) if base_notional > 0 \
        else Decimal(1)
    if_rate = _fraction(part, "if_liquidation_fee")
    base = _drift_base(shortage, ratio, _to(fee_rate, micro, decimal.ROUND_CEILING), if_rate,
                       _to(mark, micro, decimal.ROUND_CEILING))
    lot, grid = _positive(part, "lot"), _positive(part, "price_step")
    qty = held if base is None else min(held, max(lot, _to(base / contract, lot, decimal.ROUND_CEILING)))
    long = _dec(pos, "qty") > 0
    price = _to(mark * (1 - fee_rate), grid, decimal.ROUND_FLOOR) if long else _to(
        mark * (1 + fee_rate), grid, decimal.ROUND_CEILING)  # against the account
    cut = _to(qty * contract * mark * if_rate, quantum, decimal.ROUND_CEILING)
    at_fill = equity + (qty if long else -qty) * contract * (price - mark)
    fee = min(cut, _to(max(at_fill, Decimal(0)), quantum, decimal.ROUND_FLOOR))
    for name, value in {"escalated_fee": fee_rate, "target_equity": target, "shortage": shortage,
                        "margin_ratio": ratio}.items():
        if _dec(part, name) != value:
            raise VerifyError(f"liquidation {name} {part.get(name)} stated, {value} computed")
    stated_base = part.get("base")
    if (base is None) != (stated_base is None) or (base is not None and _dec(part, "base") != base):
        raise VerifyError(f"liquidation base {stated_base} stated, {base} computed")
    for name, value in {"equity_at_fill": at_fill, "fee": fee}.items():
        if _dec(part, name) != value:
            raise VerifyError(f"liquidation {name} {part.get(name)} stated, {value} computed")
    if (_dec(step, "qty", True), _dec(step, "price", True), _dec(step, "fee", True)) != (qty, price, fee):
        raise VerifyError(f"the signed step takes {step.get('qty')} at {step.get('price')} for {step.get('fee')}; "
                          f"Drift's rule {qty} at {price} for {fee}")
    timed = "" if clock is not None else " (time as stated: no signed prior state)"
    return (f"first step: Drift takeover of {step['qty']} {pos['symbol']} at {step['price']} (liquidator fee "
            f"{part['escalated_fee']}{timed}), insurance fund {step['fee']}")


def _ppm(part: dict[str, Any], name: str, most: int = 10**12) -> Decimal:
    """A parameter in parts per million: an integer from 0 to ``most`` (the fee cap: at most
    1,000,000, the whole fill)."""
    raw = part.get(name)
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= most:
        raise VerifyError(f"malformed certificate: liquidation {name} (parts per million, 0 to {most:,})")
    return Decimal(raw) / 1_000_000


def _positive(part: dict[str, Any], name: str) -> Decimal:
    value = _dec(part, name)
    if value <= 0:
        raise VerifyError(f"malformed certificate: liquidation {name} must be above 0")
    return value


def _fraction(part: dict[str, Any], name: str) -> Decimal:
    value = _dec(part, name)
    if not 0 <= value <= 1:
        raise VerifyError(f"malformed certificate: liquidation {name} must be a fraction from 0 to 1")
    return value


def _rest_mm(pos: dict[str, Any], rest: Decimal, mark: Decimal) -> Decimal:
    """The MM of what a close leaves of ``pos`` (``rest`` of its quantity), by the position's own
    table at the rest's notional at the mark, times its volatility scale."""
    if rest == 0:
        return Decimal(0)
    basis = rest * _dec(pos, "contract_size") * mark
    tiers = pos["tiers"]
    tier = max(i for i, t in enumerate(tiers) if _dec(t, "floor") <= basis)
    mm = basis * _dec(tiers[tier], "mmr") - _dec(tiers[tier], "amount")
    return mm * _dec(pos, "scale") if pos.get("scale") is not None else mm


def _check_dydx(part: dict[str, Any], step: dict[str, Any], pos: dict[str, Any], figures: tuple[Decimal, Decimal],
                mark: Decimal, quantum: Decimal) -> str:
    """dYdX v4's close redone (``docs/verify.md``): the fillable price the step may not fill
    beyond, the bankruptcy quote of the quantity closed, and the insurance-fund delta at the
    step's price (a fee to the fund, capped at the equity the fill leaves, or the fund's
    payment)."""
    equity, mm = figures
    if pos["inverse"] or mm <= 0:
        raise VerifyError("a dYdX close is of a linear position with a maintenance margin")
    adjustment, spread = _ppm(part, "bankruptcy_adjustment_ppm"), _ppm(part, "spread_to_maint_margin_ratio_ppm")
    fee_cap = _ppm(part, "max_liquidation_fee_ppm", 1_000_000)
    long, contract, held = _dec(pos, "qty") > 0, _dec(pos, "contract_size"), abs(_dec(pos, "qty"))
    whole, pos_mm = _dec(pos, "qty") * contract, _dec(pos, "mm")
    rating = min(Decimal(1), max(Decimal(0), adjustment * (1 - equity / mm)))
    fillable = (whole * mark - rating * spread * pos_mm) / whole
    if fillable < 0:
        raise VerifyError("the fillable price is negative")
    grid = _positive(part, "price_step")
    if part.get("tick") is not None:
        fillable = _to(fillable, _positive(part, "tick"), decimal.ROUND_CEILING if long else decimal.ROUND_FLOOR)
    qty, price = _dec(step, "qty", True), _dec(step, "price", True)
    if (price < fillable) if long else (price > fillable):
        raise VerifyError(f"the step fills at {step['price']}, beyond the fillable price {fillable}")
    sign = 1 if long else -1
    base = qty * contract
    rest_mm = _rest_mm(pos, held - qty, mark)
    quote = _to(sign * base * mark - equity * max(pos_mm - rest_mm, Decimal(0)) / mm, quantum, decimal.ROUND_CEILING)
    exact = quote / base if long else -quote / base
    bankruptcy: Decimal | None = _to(exact, grid, decimal.ROUND_FLOOR if long else decimal.ROUND_CEILING)
    if bankruptcy is not None and bankruptcy <= 0:
        bankruptcy = None
    fill_quote = sign * base * price
    surplus = fill_quote - quote
    delta = surplus if surplus <= 0 else min(_to(abs(fill_quote) * fee_cap, quantum, decimal.ROUND_CEILING), surplus)
    at_fill = equity + sign * base * (price - mark)
    fee = min(delta, _to(max(at_fill, Decimal(0)), quantum, decimal.ROUND_FLOOR)) if delta >= 0 else Decimal(0)
    fund_pays = -delta if delta < 0 else Decimal(0)
    stated_price = part.get("bankruptcy_price")
    if (bankruptcy is None) != (stated_price is None) or (bankruptcy is not None and _dec(
            part, "bankruptcy_price") != bankruptcy):
        raise VerifyError(f"liquidation bankruptcy_price {stated_price} stated, {bankruptcy} computed")
    for name, value in {"fillable_price": fillable, "rest_mm": rest_mm, "equity_at_fill": at_fill, "fee": fee,
                        "fund_pays": fund_pays}.items():
        if _dec(part, name) != value:
            raise VerifyError(f"liquidation {name} {part.get(name)} stated, {value} computed")
    if _dec(step, "fee", True) != fee:
        raise VerifyError(f"the signed step charges {step.get('fee')}, the rules {fee}")
    paid = f"fund pays {fund_pays}" if fund_pays else f"fee {step['fee']}"
    return (f"first step: {step['qty']} {pos['symbol']} at {step['price']} within the fillable price {fillable}, "
            f"bankruptcy price {stated_price}, {paid}")
