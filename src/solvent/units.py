"""Exact numbers: parsing, the decimal context and the rounding policy.

Every amount in solvent — balances, prices, quantities, rates, margins, fees — is a
``decimal.Decimal``. Binary floats never enter a decision: importing solvent turns on the
``FloatOperation`` trap, so ``Decimal(0.1)`` and ``Decimal("1") < 0.5`` raise
``decimal.FloatOperation`` instead of silently mixing a float into the ledger.

Rounding policy (the one place it is written down)
--------------------------------------------------

=============================================  ==========================  =================
quantity                                       rounds                      helper
=============================================  ==========================  =================
maintenance / initial margin requirement       up (toward the venue)       ``round_up``
liquidation and clearing fees                  up                          ``round_up``
liquidation price of a long                    up (liquidates no later)    ``round_price``
liquidation price of a short                   down                        ``round_price``
bankruptcy price of a long                     up                          ``round_price``
bankruptcy price of a short                    down                        ``round_price``
payouts to the account holder, max order size  down                        ``round_down``
=============================================  ==========================  =================

"Conservative for the venue" means: a requirement or a fee is never under-stated by
rounding, and nothing paid out or allowed is ever over-stated. Intermediate results keep
the full working precision (``WORKING_PRECISION`` significant digits); rounding to a
venue's quantum happens once, at the end, through the helpers below.
"""

from __future__ import annotations

import contextvars
import decimal
import functools
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Final, ParamSpec, TypeVar

from solvent.errors import InvalidInput

WORKING_PRECISION: Final = 40
"""Significant digits kept by intermediate arithmetic (well above any venue's quantum)."""


def _configure(ctx: decimal.Context) -> None:
    ctx.prec = WORKING_PRECISION
    ctx.rounding = decimal.ROUND_HALF_EVEN
    ctx.Emax, ctx.Emin = decimal.MAX_EMAX, decimal.MIN_EMIN
    ctx.clamp = 0
    ctx.traps[decimal.FloatOperation] = True
    ctx.traps[decimal.InvalidOperation] = True
    ctx.traps[decimal.DivisionByZero] = True
    ctx.traps[decimal.Overflow] = True


def solvent_context() -> decimal.Context:
    """A fresh copy of solvent's decimal context: ``WORKING_PRECISION`` digits, float trap on."""
    ctx = decimal.Context()
    _configure(ctx)
    return ctx


_CONTEXT: Final = solvent_context()
_INSIDE: Final = contextvars.ContextVar("solvent_decimal_context", default=False)

P = ParamSpec("P")
R = TypeVar("R")


def exact(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` in solvent's decimal context, whatever context the caller has.

    Every public entry point that computes money wears this decorator, so a caller's own
    ``decimal`` settings (precision, rounding, traps) never change solvent's answers, and
    solvent's settings (the float trap) never leak into the caller's code: solvent changes
    no context but the one it enters and leaves.
    """

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if _INSIDE.get():  # already in solvent's context: a nested entry point costs one lookup
            return fn(*args, **kwargs)
        token = _INSIDE.set(True)
        try:
            with decimal.localcontext(_CONTEXT):
                return fn(*args, **kwargs)
        finally:
            _INSIDE.reset(token)

    return run


def install_context() -> None:
    """Apply solvent's decimal settings to this thread and to threads started later.

    Only for solvent's own processes (the ``solvent`` command and ``solvent serve``);
    importing the library never calls it.
    """
    _configure(decimal.getcontext())
    _configure(decimal.DefaultContext)


install_context()

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)

NumberLike = Decimal | int | str
"""What the public API accepts for a number: never ``float``."""


def to_decimal(raw: object, field: str = "value") -> Decimal:
    """Parse an exact number; floats, NaN, infinities and garbage raise ``InvalidInput``.

    >>> to_decimal("1.50")
    Decimal('1.50')
    """
    if isinstance(raw, (bool, float)):
        raise InvalidInput(f"{field} must be a decimal string or integer, not {type(raw).__name__}")
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, str):
        text = raw.strip().replace("_", "")
        try:
            value = Decimal(text)
        except decimal.InvalidOperation:
            raise InvalidInput(f"{field} is not a number: {raw!r}") from None
    else:
        raise InvalidInput(f"{field} must be a decimal string or integer, not {type(raw).__name__}")
    if not value.is_finite():
        raise InvalidInput(f"{field} must be finite, got {raw!r}")
    return value


def require_decimals(owner: str, **values: object) -> None:
    """Raise ``InvalidInput`` unless every value is a finite ``Decimal`` (or ``None``).

    Value types call this on construction so a float can never slip into the ledger through
    a constructor (a float compared with ``0`` raises nothing on its own).
    """
    for name, value in values.items():
        if value is None:
            continue
        if not isinstance(value, Decimal):
            raise InvalidInput(f"{owner}: {name} must be a Decimal, not {type(value).__name__}")
        if not value.is_finite():
            raise InvalidInput(f"{owner}: {name} must be finite, got {value}")


def positive(raw: object, field: str) -> Decimal:
    """Parse a number that must be strictly greater than zero."""
    value = to_decimal(raw, field)
    if value <= 0:
        raise InvalidInput(f"{field} must be > 0, got {value}")
    return value


def non_negative(raw: object, field: str) -> Decimal:
    """Parse a number that must be zero or more."""
    value = to_decimal(raw, field)
    if value < 0:
        raise InvalidInput(f"{field} must be >= 0, got {value}")
    return value


def round_up(value: Decimal, quantum: Decimal) -> Decimal:
    """Round toward +infinity to a multiple of ``quantum`` (requirements and fees)."""
    return _to_multiple(value, quantum, ROUND_CEILING)


def round_down(value: Decimal, quantum: Decimal) -> Decimal:
    """Round toward -infinity to a multiple of ``quantum`` (payouts, allowed sizes)."""
    return _to_multiple(value, quantum, ROUND_FLOOR)


def round_price(price: Decimal, tick: Decimal, *, is_long: bool) -> Decimal:
    """Round a liquidation or bankruptcy price to the tick, against the holder.

    A long is liquidated when the price falls to the level, so rounding up triggers no later
    than the exact level; a short is liquidated when the price rises, so it rounds down.
    """
    return round_up(price, tick) if is_long else round_down(price, tick)


def _to_multiple(value: Decimal, quantum: Decimal, rounding: str) -> Decimal:
    if quantum <= 0:
        raise InvalidInput(f"rounding quantum must be > 0, got {quantum}")
    steps = (value / quantum).to_integral_value(rounding=rounding)
    return steps * quantum if steps else ZERO


def plain(value: Decimal) -> str:
    """Render a decimal without exponent notation, trailing zeros removed."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text
