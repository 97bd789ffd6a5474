"""Pre-trade check of an order on an options portfolio: the portfolio after the order.

``check_order`` fills the order in a copy of the portfolio (decoded JSON, the file's form):

* an option bought (``qty > 0``) or sold at ``price`` (its settlement asset per option) pays
  or receives ``qty × price`` in the wallet;
* an option already held changes its quantity and stays at its mark, the premium going
  through the wallet; a new one is held at the order's price as its mark (a short priced under
  its intrinsic value at that value, a long priced above its cap at the cap:
  ``portfolio._held_conservatively``);
* a future traded at ``price`` (USD) adds to its position at the volume-weighted entry, or
  reduces it and realises the closed part's P&L into the wallet; a new one is marked at its
  market's price: the forward of its expiry that an option of the portfolio gives, else the
  index (a perpetual's).

Where the instrument has a mark (held, or a new future), the order counts at the worse of its
price and the mark for the trader (``_no_better_than_mark``): a buy at ``max(price, mark)``, a
sell at ``min(price, mark)``. A gap between an order's price and the market is a loss when it
goes against the trader and nothing when it goes for it, as the engine counts an order's
immediate loss: found by a new-user pass, where 100 BTC of perpetual bought at 1,000 against a
mark of 100,000 counted a 99 BTC gain, 10 calls sold at 0.9 against a mark of 0.02 counted
8.8 BTC, and a new perpetual sold at 1 USDC was margined on a notional of 100 USDC.

The order is accepted when the equity after it covers the initial margin after it, or when it
lowers the initial margin without lowering the equity (an order that reduces risk at a fair
price is not refused for its margin; one that pays away equity to do it must still fit); and an
option bought (beyond a short it closes) must be paid for: the equity after the order, less
its IM and less the value of the options it opens (as held after it, at most the order's price:
their value is no collateral for their own purchase), must not be negative: the equity before
pays the price (found by a new-user pass: a bought option held at its order price left the
equity unchanged, so any premium passed; the fee is already out of the wallet). A held option
bought above its mark has the gap out of the equity already; less the order's price as well, it
was counted twice (found by review).
Nothing is changed: the answer says what the order would do.

**A venue's order margin** (``StandardRules.order_margin_floor`` set: OKX). An option order
is checked as the venue checks it: the margin it freezes must fit in what is available now
(equity − IM of the portfolio before it). Per coin of underlying, with ``PIMR`` the position
IMR of one short unit (``margin.short_option_im``) and ``fee`` the order's fee:

* buy to open: price + fee;
* sell to open: max(PIMR − price + fee, floor), PIMR at the position tier after the order;
* buy to close a short: max(price − PIMR + fee, 0), PIMR at the tier now;
* sell to close a long: max(fee − price, 0);

an order that crosses a position counts its closing part, then its opening part; the floor is
in coin (× index on a linear option). An order that freezes nothing (most closes) is
accepted. Futures orders keep the portfolio check.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from solvent.errors import InvalidInput
from solvent.limits import MAX_PRICE, within
from solvent.options.margin import margin, margin_tier, short_option_im
from solvent.options.portfolio import (
    OptionPortfolio,
    future_expiry,
    future_pnl,
    is_future,
    read_portfolio,
    underlying_of,
)
from solvent.options.rules import OptionRules
from solvent.units import ONE, ZERO, exact, plain, positive, round_up, to_decimal

__all__ = ["OptionOrder", "PreTrade", "after_order", "check_order", "order_margin"]


@dataclass(frozen=True, slots=True)
class OptionOrder:
    instrument: str
    qty: Decimal
    """Positive: buy; negative: sell."""
    price: Decimal
    vol: Decimal | None = None
    """A new option's volatility (refused for a future or an option the portfolio holds)."""
    fee: Decimal = Decimal(0)
    """The order's fee per coin of underlying, in the settlement asset (paid from the wallet)."""
    forward: Decimal | None = None
    """A new option's expiry forward; left out, the one the portfolio gives for that expiry, else
    the index (``options.portfolio``). Refused for a future or an option the portfolio holds."""


@dataclass(frozen=True, slots=True)
class PreTrade:
    accepted: bool
    reason: str | None
    """``INSUFFICIENT_MARGIN`` when refused."""
    initial_margin_before: Decimal
    initial_margin_after: Decimal
    maintenance_margin_after: Decimal
    equity_after: Decimal
    order_margin: Decimal | None = None
    """The margin the order freezes under a venue's order margin (module docstring), else ``None``."""
    available: Decimal | None = None
    """What it must fit in: equity − IM before the order (with an order margin), else ``None``."""


def _read_order(order: OptionOrder) -> OptionOrder:
    """``order`` with its numbers read as ``Decimal`` (a caller's strings and integers taken), or
    ``InvalidInput``: the one reading every function here works from."""
    qty = to_decimal(order.qty, "order qty")
    fee = to_decimal(order.fee, "order fee")
    if qty == 0:
        raise InvalidInput("an order's qty must not be 0")
    if fee < 0:
        raise InvalidInput(f"an order's fee must be >= 0, got {fee}")
    return replace(order, qty=qty, price=positive(order.price, "order price"), fee=fee)


@exact
def after_order(raw: dict[str, Any], order: OptionOrder, read: OptionPortfolio | None = None) -> dict[str, Any]:
    """A copy of the portfolio ``raw`` with ``order`` filled (module docstring); ``raw`` is not
    changed. ``read``: ``raw`` as ``read_portfolio`` reads it, when the caller has it (a
    liquidation plan tries every position on the same portfolio)."""
    order = _read_order(order)
    qty, price, fee = order.qty, order.price, order.fee
    base, settle = underlying_of(order.instrument)
    before: OptionPortfolio | None = None  # nothing held: a first order
    if _holds_something(raw):
        before = read if read is not None else read_portfolio(raw)
        if (base, settle) != (before.base, before.settle):
            raise InvalidInput(f"{order.instrument} is not on {before.base} settled in {before.settle}")
    after_raw = copy.deepcopy(raw)
    positions: list[dict[str, Any]] = after_raw["positions"]
    held = next((p for p in positions if p.get("instrument") == order.instrument), None)
    if (order.vol is not None or order.forward is not None) and (held is not None or is_future(order.instrument)):
        what = "a future" if is_future(order.instrument) else f"{order.instrument}, which the portfolio holds,"
        raise InvalidInput(f"an order's vol and forward are for a new option; {what} takes them from the portfolio")
    wallet: dict[str, Any] = after_raw.setdefault("wallet", {})
    if not isinstance(wallet, dict):  # found by a new-user pass: a first order's portfolio is not read before
        raise InvalidInput(f"portfolio wallet: expected an object like {{\"{settle}\": \"1\"}}, "
                           f"got {type(wallet).__name__}")  # this (nothing held), and wallet.get was an AttributeError
    if fee:
        wallet[settle] = str(to_decimal(wallet.get(settle, "0"), "wallet") - abs(qty) * fee)
    if held is not None and is_future(order.instrument):
        # an entry left out or null is the mark, as the portfolio reads it (found by a new-user pass: null was refused)
        old_qty = to_decimal(held["qty"], "qty")
        entry = to_decimal(held["mark"] if held.get("entry") is None else held["entry"], "entry")
        fill = _no_better_than_mark(qty, price, to_decimal(held["mark"], "mark"))
        if old_qty == 0 or (qty > 0) == (old_qty > 0):  # adding: qty × entry is the USD notional, summed
            held["entry"] = str((old_qty * entry + qty * fill) / (old_qty + qty))
        else:  # reducing (or flipping): the closed part's P&L is realised into the wallet
            closed = old_qty if abs(qty) >= abs(old_qty) else -qty
            assert before is not None  # a position is held
            realised = future_pnl(closed, entry, fill, before.inverse)
            wallet[settle] = str(to_decimal(wallet.get(settle, "0"), "wallet") + realised)
            if abs(qty) > abs(old_qty):
                held["entry"] = str(fill)  # the flipped remainder is new at the order's fill
        held["qty"] = str(old_qty + qty)
    elif held is not None:  # the option's premium goes through the wallet; the position stays at its mark
        held["qty"] = str(to_decimal(held["qty"], "qty") + qty)
        premium = _no_better_than_mark(qty, price, to_decimal(held["mark"], "mark"))
        wallet[settle] = str(to_decimal(wallet.get(settle, "0"), "wallet") - qty * premium)
    elif is_future(order.instrument):
        mark = _future_mark(before, raw, order.instrument, base)
        positions.append({"instrument": order.instrument, "qty": str(qty), "mark": str(mark),
                          "entry": str(_no_better_than_mark(qty, price, mark))})
    else:
        row: dict[str, Any] = {"instrument": order.instrument, "qty": str(qty), "mark": str(price)}
        if order.vol is not None:
            row["vol"] = str(order.vol)
        if order.forward is not None:
            row["forward"] = str(order.forward)
        positions.append(row)
        wallet[settle] = str(to_decimal(wallet.get(settle, "0"), "wallet") - qty * price)
    return after_raw


def _no_better_than_mark(qty: Decimal, price: Decimal, mark: Decimal) -> Decimal:
    """The price an order of ``qty`` (> 0: a buy) counts at (module docstring): the worse of its
    ``price`` and the instrument's ``mark`` for the trader."""
    return max(price, mark) if qty > 0 else min(price, mark)


def _future_mark(before: OptionPortfolio | None, raw: dict[str, Any], name: str, base: str) -> Decimal:
    """A new future's mark: the forward of its expiry that an option of the portfolio ``before``
    the order gives, else the index of its coin (from ``raw`` when nothing is held: ``before`` is
    ``None``, as read once by ``after_order``)."""
    if before is not None:
        expires = future_expiry(name)
        return next((o.forward for o in before.options if o.instrument.expiry == expires), before.index)
    index = raw.get("index") if isinstance(raw, dict) else None
    value = index.get(base) if isinstance(index, dict) else None
    return within(positive(value, f"portfolio index.{base}"), MAX_PRICE, f"portfolio index.{base}")


@exact
def check_order(raw: dict[str, Any], rules: OptionRules, order: OptionOrder) -> PreTrade:
    """The portfolio ``raw`` after ``order``, or the venue's order margin (module docstring)."""
    order = _read_order(order)
    after = read_portfolio(after_order(raw, order), "the portfolio after the order", marks_checked=False)
    try:
        new = margin(after, rules)
    except InvalidInput as err:
        opened = not is_future(order.instrument) and not any(
            p.get("instrument") == order.instrument for p in raw.get("positions", []) if isinstance(p, dict))
        if not opened or not str(err).startswith(f"{order.instrument}:"):  # another position's, or the rules'
            raise
        # found by a new-user pass: the message spoke of "its mark", where the user gave an order price
        raise InvalidInput(f"the order's price {plain(order.price)} is the new option's mark until the venue marks "
                           f"it, and cannot be one: {err}") from None
    if _holds_something(raw):
        before = read_portfolio(raw)
        old = margin(before, rules)
        old_im, old_equity = old.initial_margin, old.equity
    else:  # a first order: nothing held, no margin, the wallet as it was
        wallet = to_decimal(raw.get("wallet", {}).get(after.settle, "0"), f"portfolio wallet.{after.settle}")
        before = replace(after, wallet=wallet, options=(), futures=())
        old_im, old_equity = ZERO, before.equity(rules.quantum_of(after.settle))
    if rules.standard is not None and rules.standard.order_margin_floor is not None and not is_future(
            order.instrument):
        frozen = order_margin(before, after, rules, order)
        available = old_equity - old_im
        fits = frozen == 0 or frozen <= available
        return PreTrade(fits, None if fits else "INSUFFICIENT_MARGIN", old_im, new.initial_margin,
                        new.maintenance_margin, new.equity, frozen, available)
    accepted = new.equity >= new.initial_margin or (new.initial_margin < old_im and new.equity >= old_equity)
    if not is_future(order.instrument) and order.qty > 0:  # the options bought are paid for (docstring)
        _, opening = _split(before, order)
        held_at = next(o.mark for o in after.options if o.instrument.name == order.instrument)
        value = opening * min(held_at, order.price)  # what the equity after counts of them, beyond a loss
        accepted = accepted and (not opening or new.equity - new.initial_margin - value >= 0)
    return PreTrade(accepted, None if accepted else "INSUFFICIENT_MARGIN", old_im, new.initial_margin,
                    new.maintenance_margin, new.equity)


def _split(before: OptionPortfolio, order: OptionOrder) -> tuple[Decimal, Decimal]:
    """(closing, opening) units of an option ``order``: the part that reduces the position held
    the other way, then the rest."""
    held = next((o.qty for o in before.options if o.instrument.name == order.instrument), ZERO)
    closing = min(order.qty, max(-held, ZERO)) if order.qty > 0 else min(-order.qty, max(held, ZERO))
    return closing, abs(order.qty) - closing


def _holds_something(raw: dict[str, Any]) -> bool:
    """False only for a portfolio whose ``positions`` is an empty list (a first order goes into
    it); anything else is read, and refused there if it is no portfolio."""
    return not (isinstance(raw, dict) and raw.get("positions") == [])


@exact
def order_margin(before: OptionPortfolio, after: OptionPortfolio, rules: OptionRules, order: OptionOrder) -> Decimal:
    """The margin an option ``order`` freezes under the rules' order margin (module docstring),
    in the settlement asset, rounded up to its quantum; ``before``/``after``: the portfolio
    without and with the order filled."""
    s = rules.standard
    assert s is not None and s.order_margin_floor is not None
    closing, opening = _split(before, order)
    price, fee = order.price, order.fee
    if order.qty > 0:
        unit_close = max(price - _unit_im(before, order.instrument, rules) + fee, ZERO) if closing else ZERO
        unit_open = price + fee
    else:
        unit_close = max(fee - price, ZERO)
        floor = s.order_margin_floor * (ONE if after.inverse else after.index)
        unit_open = max(_unit_im(after, order.instrument, rules) - price + fee, floor) if opening else ZERO
    frozen = closing * unit_close + opening * unit_open
    return round_up(frozen, rules.quantum_of(after.settle))


def _unit_im(portfolio: OptionPortfolio, instrument: str, rules: OptionRules) -> Decimal:
    """The position IMR of one short unit of ``instrument`` in ``portfolio`` (at its tier)."""
    assert rules.standard is not None
    s = rules.standard.for_underlying(portfolio.base, rules.name)
    holding = next(o for o in portfolio.options if o.instrument.name == instrument)
    tier = margin_tier(portfolio, s)
    return short_option_im(holding, portfolio.index, s, ONE if tier is None else tier.factor)
