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

from solvent_verify import VerifyError

__all__ = ["RULES", "check_first_step"]

RULES = ("generic", "bankruptcy_price", "backstop")
"""The venue rules whose book close solvent-cert-v1 shows: a fee at a rate, or (for
``bankruptcy_price``, a whole position) what is left above the bankruptcy price."""
_BETWEEN = ("MarginCall", "OrderCancelled")
_NAMES = ("account_id", "buyer_id", "seller_id", "counterparty")


def _dec(obj: dict[str, Any], name: str) -> Decimal:
    raw = obj.get(name)
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
    if not isinstance(at, int) or isinstance(at, bool) or not claim_index < at < len(events):
        raise VerifyError("the liquidation step is not an event after the claim")
    for e in events[claim_index + 1:at]:
        if not isinstance(e, dict):
            raise VerifyError("malformed record: an event is not an object")
        if e.get("type") in ("AutoDeleveraged", "LossSocialised", "InsuranceFundChanged", "LiquidationStep") and (
                e.get("type") != "LiquidationStep" or e.get("account_id") == account):
            raise VerifyError(f"event {at} is not the account's first step, or an ADL, a socialised loss or a "
                              "payment of the insurance fund comes before it")
        if e.get("type") not in _BETWEEN and any(e.get(name) == account for name in _NAMES):
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
                     scope_figures: tuple[Decimal, Decimal], positions: list[dict[str, Any]],
                     marks: dict[str, Decimal], quantum: Decimal, policy: dict[str, Any],
                     first_under: tuple[str, Any, Any] | None) -> str:
    """Check the certificate's ``liquidation`` part; a phrase for the summary line.
    ``first_under``: the first scope below its maintenance margin in the order a liquidation
    takes them (the cross account, then isolated positions by symbol and side)."""
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
    qty, price = _dec(step, "qty"), _dec(step, "price")
    held = abs(_dec(pos, "qty"))
    if pos["symbol"] != step.get("symbol") or not 0 < qty <= held or price <= 0:
        raise VerifyError("the step does not close part of the position named")
    equity, notional = scope_figures
    mark, inverse = marks[pos["symbol"]], pos["inverse"]
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
    if _dec(step, "fee") != fee:
        raise VerifyError(f"the signed step charges {step.get('fee')}, the rules {fee}")
    return (f"first step: {step['qty']} {pos['symbol']} at {step['price']}, bankruptcy price "
            f"{part['bankruptcy_price']}, fee {step['fee']}")
