"""The one home for "sane bounds": every number a command carries is checked here before
any handler runs, so an absurd value is a typed refusal, never an exception mid-commit.

* amounts (deposits, withdrawals, insurance, isolated margin, fees): ``|x| <= MAX_AMOUNT``;
* prices (orders, fills, price updates, premium samples): at least one tick of the
  instrument (``MIN_PRICE`` without a tick) and at most ``MAX_PRICE``;
* quantities (orders, fills): at least one lot (``Instrument.lot``: ``DEFAULT_LOT`` without a lot; below it the
  answer is ``INVALID_QUANTITY``, as for an order off the lot grid), at most ``MAX_QTY``,
  and the notional ``price × qty × contract size`` (inverse: the face value ``qty × contract
  size``) at most ``MAX_AMOUNT``;
* time: ``0 <= now_ms <= MAX_TIME_MS`` (a signed 64-bit millisecond count).

Every one of these numbers has at most ``MAX_FRACTION_DIGITS`` (18) digits after the
point, so sums over a venue stay exact at the engine's 40-digit working precision. The
numbers themselves live in ``solvent/limits.py``, shared with the calculators. Values that
are not finite or not positive are left to the handlers, which answer with the older
``INVALID_*`` codes. Symbols the venue does not know are left to the handlers too
(``UNKNOWN_SYMBOL``).
"""

from __future__ import annotations

import dataclasses
import decimal
from decimal import Decimal

from solvent.engine import commands as c
from solvent.engine.config import EngineConfig
from solvent.engine.context import Deny
from solvent.engine.denials import DenyCode
from solvent.errors import UnknownSymbol
from solvent.limits import MAX_AMOUNT, MAX_FRACTION_DIGITS, MAX_PRICE, MAX_QTY, MAX_TIME_MS, MIN_PRICE, min_price
from solvent.model import Instrument
from solvent.units import ONE

__all__ = [
    "MAX_AMOUNT", "MAX_FRACTION_DIGITS", "MAX_PRICE", "MAX_QTY", "MAX_TIME_MS", "MIN_PRICE", "check_bounds",
    "check_fields", "price_bounds", "qty_bounds",
]



def _finite(value: object) -> Decimal | None:
    return value if isinstance(value, Decimal) and value.is_finite() else None


_FRACTION_QUANTUM = Decimal(1).scaleb(-MAX_FRACTION_DIGITS)
_FITS_CONTEXT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[])
"""Quantizes ``|x| <= MAX_AMOUNT`` to ``_FRACTION_QUANTUM`` without raising or rounding digits away
(at most 31 digits), whatever the caller's context."""
_FRACTION_OK: dict[Decimal, bool] = {}
"""``_fraction_ok`` by value, for the prices and sizes that come back again and again (bounded)."""
_FRACTION_OK_SIZE = 4096


def _fraction_ok(x: Decimal) -> bool:
    """At most ``MAX_FRACTION_DIGITS`` digits after the point, trailing zeros aside: ``x`` (of size
    at most ``MAX_AMOUNT``) is a multiple of ``10^-18``, so quantizing to it changes nothing. A
    property of the value (``1.50`` and ``1.5`` agree), so equal decimals share one cache entry."""
    ok = _FRACTION_OK.get(x)
    if ok is None:
        ok = _FITS_CONTEXT.quantize(x, _FRACTION_QUANTUM) == x
        if len(_FRACTION_OK) >= _FRACTION_OK_SIZE:
            _FRACTION_OK.clear()
        _FRACTION_OK[x] = ok
    return ok


def _fits(x: Decimal, high: Decimal) -> bool:
    return not abs(x) > high and _fraction_ok(x)


def _amount(value: object, name: str) -> None:
    x = _finite(value)
    if x is not None and not _fits(x, MAX_AMOUNT):
        context: dict[str, Decimal | int] = {name: x, "max": MAX_AMOUNT, "max_fraction_digits": MAX_FRACTION_DIGITS}
        raise Deny(DenyCode.AMOUNT_OUT_OF_RANGE, **context)


def _instrument(config: EngineConfig, symbol: object) -> Instrument | None:
    if not isinstance(symbol, str):
        return None
    try:
        return config.profile.instrument(symbol)
    except UnknownSymbol:
        return None


def _price(inst: Instrument, value: object, name: str) -> None:
    x = _finite(value)
    if x is None or x <= 0:
        return
    low = min_price(inst.tick_size)
    if x < low or not _fits(x, MAX_PRICE):
        raise Deny(DenyCode.PRICE_OUT_OF_RANGE, **{name: x, "min": low, "max": MAX_PRICE})


def _price_and_qty(config: EngineConfig, cmd: c.PlaceOrder | c.Fill) -> None:
    """The price, then the quantity of an order or a fill (the pre-trade check's hot path)."""
    inst = _instrument(config, cmd.symbol)
    if inst is None:
        return
    _price(inst, cmd.price, "price")
    qty_bounds(inst, cmd.price, cmd.qty)


def price_bounds(config: EngineConfig, cmd: c.PlaceOrder) -> None:
    """The checks of ``check_bounds`` on an order that do not depend on its quantity."""
    inst = _instrument(config, cmd.symbol)
    if inst is not None:
        _price(inst, cmd.price, "price")


def qty_bounds(inst: Instrument, price: object, qty: object) -> None:
    """The quantity of an order or a fill at ``price``: at least one lot, at most ``MAX_QTY``,
    and a notional of at most ``MAX_AMOUNT``."""
    if not (isinstance(qty, Decimal) and qty.is_finite() and qty > 0):
        return
    lot = inst.lot
    if qty < lot:  # below one lot: what an order off the lot grid answers too
        raise Deny(DenyCode.INVALID_QUANTITY, qty=qty, lot_size=lot)
    if not _fits(qty, MAX_QTY):
        raise Deny(DenyCode.QTY_OUT_OF_RANGE, qty=qty, max=MAX_QTY)
    # the notional in quote: qty × cs × price, or on an inverse contract its face value qty × cs
    # (× price there is no amount at all: a $9M BTCUSD fill is not 10^12 of anything)
    if isinstance(price, Decimal) and price.is_finite() and price > 0 and (
            qty * inst.contract_size * (ONE if inst.is_inverse else price) > MAX_AMOUNT):
        raise Deny(DenyCode.QTY_OUT_OF_RANGE, qty=qty, price=price, max_notional=MAX_AMOUNT)


_TEXT, _MAYBE_TEXT, _FLAG, _COUNT = "a string", "a string or null", "true or false", "an integer"
_KIND_OF = {"str": _TEXT, "str | None": _MAYBE_TEXT, "bool": _FLAG, "int": _COUNT}
_FIELD_KINDS: dict[type, tuple[tuple[str, str], ...]] = {}
"""Per command type, its text, flag and count fields (read off its annotations once)."""


def _kinds(kind: type) -> tuple[tuple[str, str], ...]:
    known = _FIELD_KINDS.get(kind)
    if known is None:
        known = _FIELD_KINDS[kind] = tuple(
            (f.name, _KIND_OF[str(f.type)]) for f in dataclasses.fields(kind) if str(f.type) in _KIND_OF)
    return known


def _typed(value: object, kind: str) -> bool:
    if kind is _TEXT:
        return isinstance(value, str)
    if kind is _MAYBE_TEXT:
        return value is None or isinstance(value, str)
    if kind is _FLAG:
        return type(value) is bool
    return type(value) is int


def check_fields(cmd: object) -> None:
    """Raise ``Deny`` (``INVALID_FIELD``) if an id, a symbol, a flag or a count of ``cmd`` is not
    of its type: an order id of ``5`` or a ``reduce_only`` of ``None`` would be applied, then
    could not be journaled or hashed (found by a new-user pass). Numbers (``Decimal``) and enums
    are the handlers' to refuse (``INVALID_AMOUNT``…, ``context.enum_field``)."""
    for name, kind in _kinds(type(cmd)):
        value = getattr(cmd, name)
        if not _typed(value, kind):
            raise Deny(DenyCode.INVALID_FIELD, field=name, got=f"{value!r}"[:80] + f" ({type(value).__name__})",
                       allowed=kind)


def check_bounds(config: EngineConfig, cmd: object) -> None:
    """Raise ``Deny`` if a field of ``cmd`` is not of its type (``check_fields``) or a number in it
    is outside the engine's sane range."""
    if type(cmd) is c.PlaceOrder:  # the pre-trade check's hot path: straight to its one branch
        if (type(cmd.account_id) is not str or type(cmd.order_id) is not str or type(cmd.symbol) is not str
                or type(cmd.reduce_only) is not bool):
            check_fields(cmd)  # which one, and why (a ``str`` subclass passes)
        _price_and_qty(config, cmd)
        return
    check_fields(cmd)
    if isinstance(cmd, c.Deposit | c.Withdraw | c.FundInsurance | c.AddIsolatedMargin | c.RemoveIsolatedMargin):
        _amount(cmd.amount, "amount")
    elif isinstance(cmd, c.AdvanceTime):
        now = cmd.now_ms
        if not 0 <= now <= MAX_TIME_MS:  # an int (``check_fields``)
            raise Deny(DenyCode.TIME_OUT_OF_RANGE, now_ms=now, max=MAX_TIME_MS)
    elif isinstance(cmd, c.Fill):
        if cmd.trade_id.startswith(c.LIQUIDATION_TRADE_PREFIX):
            raise Deny(DenyCode.RESERVED_TRADE_ID, trade_id=cmd.trade_id, reserved=c.LIQUIDATION_TRADE_PREFIX)
        _amount(cmd.buyer_fee, "buyer_fee")
        _amount(cmd.seller_fee, "seller_fee")
        _price_and_qty(config, cmd)
    elif isinstance(cmd, c.PriceUpdate):
        inst = _instrument(config, cmd.symbol)
        if inst is not None:
            _price(inst, cmd.price, "price")
    elif isinstance(cmd, c.PremiumSample):
        inst = _instrument(config, cmd.symbol)
        if inst is not None:
            _price(inst, cmd.impact_bid, "impact_bid")
            _price(inst, cmd.impact_ask, "impact_ask")
