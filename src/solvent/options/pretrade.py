"""Pre-trade check of an order on an options portfolio: the portfolio after the order.

``check_order`` fills the order in a copy of the portfolio (decoded JSON, the file's form):

* an option bought (``qty > 0``) or sold at ``price`` (its settlement asset per option) pays
  or receives ``qty × price`` in the wallet;
* an option already held changes its quantity and stays at its mark, the premium at the
  order's price going through the wallet; a new one is held at the order's price as its mark;
* a future traded at ``price`` (USD) adds to its position at the volume-weighted entry, or
  reduces it and realises the closed part's P&L into the wallet; a new one is held at the
  price.

The order is accepted when the equity after it covers the initial margin after it, or when it
lowers the initial margin without lowering the equity (an order that reduces risk at a fair
price is never refused for margin; one that pays away equity to do it must still fit). Nothing is
changed: the answer says what the order would do.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from solvent.errors import InvalidInput
from solvent.options.margin import margin
from solvent.options.portfolio import is_future, read_portfolio, underlying_of
from solvent.options.rules import OptionRules
from solvent.units import exact, positive, to_decimal

__all__ = ["OptionOrder", "PreTrade", "after_order", "check_order"]


@dataclass(frozen=True, slots=True)
class OptionOrder:
    instrument: str
    qty: Decimal
    """Positive: buy; negative: sell."""
    price: Decimal
    vol: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PreTrade:
    accepted: bool
    reason: str | None
    """``INSUFFICIENT_MARGIN`` when refused."""
    initial_margin_before: Decimal
    initial_margin_after: Decimal
    maintenance_margin_after: Decimal
    equity_after: Decimal


@exact
def after_order(raw: dict[str, Any], order: OptionOrder) -> dict[str, Any]:
    """A copy of the portfolio ``raw`` with ``order`` filled (module docstring); ``raw`` is not
    changed."""
    qty = to_decimal(order.qty, "order qty")
    price = positive(order.price, "order price")
    if qty == 0:
        raise InvalidInput("an order's qty must not be 0")
    before = read_portfolio(raw)
    base, settle = underlying_of(order.instrument)
    if (base, settle) != (before.base, before.settle):
        raise InvalidInput(f"{order.instrument} is not on {before.base} settled in {before.settle}")
    after_raw = copy.deepcopy(raw)
    positions: list[dict[str, Any]] = after_raw["positions"]
    held = next((p for p in positions if p.get("instrument") == order.instrument), None)
    wallet: dict[str, Any] = after_raw.setdefault("wallet", {})
    if held is not None and is_future(order.instrument):
        old_qty, entry = to_decimal(held["qty"], "qty"), to_decimal(held.get("entry", held["mark"]), "entry")
        if old_qty == 0 or (qty > 0) == (old_qty > 0):  # adding: qty × entry is the USD notional, summed
            held["entry"] = str((old_qty * entry + qty * price) / (old_qty + qty))
        else:  # reducing (or flipping): the closed part's P&L is realised into the wallet
            closed = old_qty if abs(qty) >= abs(old_qty) else -qty
            realised = closed * (1 - entry / price) if before.inverse else closed * (price - entry)
            wallet[settle] = str(to_decimal(wallet.get(settle, "0"), "wallet") + realised)
            if abs(qty) > abs(old_qty):
                held["entry"] = str(price)  # the flipped remainder is new at the order's price
        held["qty"] = str(old_qty + qty)
    elif held is not None:  # the option's premium at the order price; the position stays at its mark
        held["qty"] = str(to_decimal(held["qty"], "qty") + qty)
        wallet[settle] = str(to_decimal(wallet.get(settle, "0"), "wallet") - qty * price)
    elif is_future(order.instrument):
        positions.append({"instrument": order.instrument, "qty": str(qty), "mark": str(price), "entry": str(price)})
    else:
        row: dict[str, Any] = {"instrument": order.instrument, "qty": str(qty), "mark": str(price)}
        if order.vol is not None:
            row["vol"] = str(order.vol)
        positions.append(row)
        wallet[settle] = str(to_decimal(wallet.get(settle, "0"), "wallet") - qty * price)
    return after_raw


@exact
def check_order(raw: dict[str, Any], rules: OptionRules, order: OptionOrder) -> PreTrade:
    """The portfolio ``raw`` after ``order`` (module docstring)."""
    after = read_portfolio(after_order(raw, order))
    old, new = margin(read_portfolio(raw), rules), margin(after, rules)
    accepted = new.equity >= new.initial_margin or (new.initial_margin < old.initial_margin
                                                    and new.equity >= old.equity)
    return PreTrade(accepted, None if accepted else "INSUFFICIENT_MARGIN", old.initial_margin, new.initial_margin,
                    new.maintenance_margin, new.equity)
