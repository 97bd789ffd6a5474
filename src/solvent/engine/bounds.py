"""The one home for "sane bounds": every number a command carries is checked here before
any handler runs, so an absurd value is a typed refusal, never an exception mid-commit.

* amounts (deposits, withdrawals, insurance, isolated margin, fees): ``|x| <= MAX_AMOUNT``;
* prices (orders, fills, price updates, premium samples): at least one tick of the
  instrument (``MIN_PRICE`` without a tick) and at most ``MAX_PRICE``;
* quantities (orders, fills): at least one lot (``Instrument.lot``: ``DEFAULT_LOT`` without a lot; below it the
  answer is ``INVALID_QUANTITY``, as for an order off the lot grid), at most ``MAX_QTY``,
  and ``price × qty × contract size`` at most ``MAX_AMOUNT``;
* time: ``0 <= now_ms <= MAX_TIME_MS`` (a signed 64-bit millisecond count).

Every one of these numbers has at most ``MAX_FRACTION_DIGITS`` (18) digits after the point,
so sums over a venue stay exact at the engine's 40-digit working precision. The magnitudes
leave room for 18-digit scaled integers: ``MAX_AMOUNT`` = 10^12 keeps six fraction digits
in 18. Values that are not finite or not positive are left to the handlers,
which answer with the older ``INVALID_*`` codes. Symbols the venue does not know are left to
the handlers too (``UNKNOWN_SYMBOL``).
"""

from __future__ import annotations

from decimal import Decimal

from solvent.engine import commands as c
from solvent.engine.config import EngineConfig
from solvent.engine.context import Deny
from solvent.engine.denials import DenyCode
from solvent.errors import UnknownSymbol
from solvent.model import Instrument

__all__ = [
    "MAX_AMOUNT", "MAX_FRACTION_DIGITS", "MAX_PRICE", "MAX_QTY", "MAX_TIME_MS", "MIN_PRICE", "check_bounds",
]

MAX_AMOUNT = Decimal(10) ** 12
MAX_PRICE = Decimal(10) ** 9
MIN_PRICE = Decimal(10) ** -8
MAX_QTY = Decimal(10) ** 9
MAX_FRACTION_DIGITS = 18
MAX_TIME_MS = 2**63 - 1


def _finite(value: object) -> Decimal | None:
    return value if isinstance(value, Decimal) and value.is_finite() else None


def _fraction_digits(x: Decimal) -> int:
    """Digits after the point once trailing zeros are dropped (``1.50`` → 1, ``1e-30`` → 30)."""
    _, digits, exponent = x.as_tuple()
    if not any(digits) or not isinstance(exponent, int):
        return 0
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing))


def _fits(x: Decimal, high: Decimal) -> bool:
    if abs(x) > high:
        return False
    exponent = x.as_tuple().exponent
    return (isinstance(exponent, int) and exponent >= -MAX_FRACTION_DIGITS) or (
        _fraction_digits(x) <= MAX_FRACTION_DIGITS)


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
    low = inst.tick_size or MIN_PRICE
    if x < low or not _fits(x, MAX_PRICE):
        raise Deny(DenyCode.PRICE_OUT_OF_RANGE, **{name: x, "min": low, "max": MAX_PRICE})


def _qty(inst: Instrument, qty: object, price: object) -> None:
    q, p = _finite(qty), _finite(price)
    if q is None or q <= 0:
        return
    low = inst.lot
    if q < low:  # below one lot: what an order off the lot grid answers too
        raise Deny(DenyCode.INVALID_QUANTITY, qty=q, lot_size=low)
    if not _fits(q, MAX_QTY):
        raise Deny(DenyCode.QTY_OUT_OF_RANGE, qty=q, max=MAX_QTY)
    if p is not None and p > 0 and p * q * inst.contract_size > MAX_AMOUNT:
        raise Deny(DenyCode.QTY_OUT_OF_RANGE, qty=q, price=p, max_notional=MAX_AMOUNT)


def check_bounds(config: EngineConfig, cmd: object) -> None:
    """Raise ``Deny`` if a number in ``cmd`` is outside the engine's sane range."""
    if isinstance(cmd, c.Deposit | c.Withdraw | c.FundInsurance | c.AddIsolatedMargin | c.RemoveIsolatedMargin):
        _amount(cmd.amount, "amount")
    elif isinstance(cmd, c.AdvanceTime):
        now = cmd.now_ms
        if isinstance(now, int) and not isinstance(now, bool) and not 0 <= now <= MAX_TIME_MS:
            raise Deny(DenyCode.TIME_OUT_OF_RANGE, now_ms=now, max=MAX_TIME_MS)
    elif isinstance(cmd, c.PlaceOrder | c.Fill):
        if isinstance(cmd, c.Fill):
            if isinstance(cmd.trade_id, str) and cmd.trade_id.startswith(c.LIQUIDATION_TRADE_PREFIX):
                raise Deny(DenyCode.RESERVED_TRADE_ID, trade_id=cmd.trade_id, reserved=c.LIQUIDATION_TRADE_PREFIX)
            _amount(cmd.buyer_fee, "buyer_fee")
            _amount(cmd.seller_fee, "seller_fee")
        inst = _instrument(config, cmd.symbol)
        if inst is not None:
            _price(inst, cmd.price, "price")
            _qty(inst, cmd.qty, cmd.price)
    elif isinstance(cmd, c.PriceUpdate):
        inst = _instrument(config, cmd.symbol)
        if inst is not None:
            _price(inst, cmd.price, "price")
    elif isinstance(cmd, c.PremiumSample):
        inst = _instrument(config, cmd.symbol)
        if inst is not None:
            _price(inst, cmd.impact_bid, "impact_bid")
            _price(inst, cmd.impact_ask, "impact_ask")
