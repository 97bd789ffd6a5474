"""Applying a trade to a position, exactly.

A position keeps its signed quantity ``q`` and signed cost ``C`` (the sum of its fills'
values, ``engine/contract_value.py``: ``qty × cs × price`` linear, ``−qty × cs / price``
inverse, written ``V(t, P)`` below). A trade of signed size ``t`` at price ``P`` (``t > 0``
buys):

* increasing (``q = 0`` or same sign): ``q' = q + t``, ``C' = C + V(t, P)``; no cash moves;
* reducing by ``k = min(|t|, |q|)``: the cost released is ``c = C × k / |q|`` rounded to the
  money quantum (toward zero), ``C' = C − c``, and the realised PnL ``−V(t_k, P) − c``
  (``t_k`` the reducing part of ``t``) is paid to the balance; the rest of ``t`` then
  opens a position the other way.

For each side ``balance − C`` changes by exactly ``−V(t, P)``, and the two sides of a trade
cancel (``V`` of an inverse fill is rounded half to even, the same magnitude for both), so
rounding never creates or destroys money: the engine's conservation check is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from solvent.engine.contract_value import traded
from solvent.units import ZERO

__all__ = ["TradeEffect", "apply_trade", "released_cost"]


@dataclass(frozen=True, slots=True)
class TradeEffect:
    qty: Decimal
    cost: Decimal
    realised_pnl: Decimal
    closed_qty: Decimal


def released_cost(qty: Decimal, cost: Decimal, closing: Decimal, quantum: Decimal) -> Decimal:
    """The cost released by closing ``closing`` (``0 < closing ≤ |qty|``) of a position: its
    share ``C × closing / |q|`` rounded toward zero to the money quantum, or all of it."""
    return cost if closing == abs(qty) else (cost * closing / abs(qty)).quantize(quantum, rounding=ROUND_DOWN)


def apply_trade(
    qty: Decimal, cost: Decimal, trade_qty: Decimal, price: Decimal, contract_size: Decimal, quantum: Decimal,
    *, inverse: bool,
) -> TradeEffect:
    """New ``(qty, cost)`` and the realised PnL after a signed trade (see module docstring)."""
    if qty == 0 or (qty > 0) == (trade_qty > 0):
        return TradeEffect(qty + trade_qty, cost + traded(trade_qty * contract_size, price, inverse, quantum),
                           ZERO, ZERO)
    closing = min(abs(trade_qty), abs(qty))
    released = released_cost(qty, cost, closing, quantum)
    signed_close = closing if trade_qty > 0 else -closing
    close_value = traded(signed_close * contract_size, price, inverse, quantum)
    realised = -close_value - released
    rest = trade_qty - signed_close
    new_qty = qty + signed_close
    new_cost = cost - released
    if rest != 0:
        # inverse: the opening part's value is the whole trade's less the closing part's, so
        # ``balance − C`` moves by exactly ``−V(t, P)`` however the trade splits (rounding
        # the two parts separately would not add up to the counterparty's one value)
        opened = traded(trade_qty * contract_size, price, True, quantum) - close_value if inverse else (
            rest * contract_size * price)
        new_qty, new_cost = rest, opened
    return TradeEffect(new_qty, new_cost, realised, closing)
