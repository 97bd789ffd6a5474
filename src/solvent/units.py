"""Exact numbers: parsing, the decimal context and the rounding policy.

Every amount in solvent — balances, prices, quantities, rates, margins, fees — is a
``decimal.Decimal``. Binary floats never enter a decision: every public entry point runs in
solvent's own decimal context (``exact``: ``WORKING_PRECISION`` digits, the
``FloatOperation`` trap on), so inside solvent ``Decimal(0.1)`` and ``Decimal("1") < 0.5``
raise ``decimal.FloatOperation`` instead of silently mixing a float into the ledger.
Importing solvent changes no context of the caller's: the caller's precision, rounding and
traps are left alone and cannot change solvent's answers.

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
a price where the venue has no tick (above)    same directions, to         ``round_significant``
                                               significant figures
payouts to the account holder, max order size  down                        ``round_down``
=============================================  ==========================  =================

"Conservative for the venue" means: a requirement or a fee is never under-stated by
rounding, and nothing paid out or allowed is ever over-stated. Intermediate results keep
the full working precision (``WORKING_PRECISION`` significant digits); rounding to a
venue's quantum happens once, at the end, through the helpers below.
"""

from __future__ import annotations

import decimal
import functools
import re
import threading
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
_FORMAT_CONTEXT: Final = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
_getcontext: Final = decimal.getcontext
_setcontext: Final = decimal.setcontext


class _Entered(threading.local):
    """Per thread: its own copy of solvent's context, made once and installed by each outermost
    ``exact`` call. Reusing it is safe: solvent's code never changes a context's settings in
    place (``localcontext`` makes its own), and a trap fires on the signal an operation raises,
    whatever flags earlier operations left set."""

    def __init__(self) -> None:
        self.context = _CONTEXT.copy()


_ENTERED: Final = _Entered()

P = ParamSpec("P")
R = TypeVar("R")


def exact(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` in solvent's decimal context, whatever context the caller has.

    Every public entry point that computes money wears this decorator, so a caller's own
    ``decimal`` settings (precision, rounding, traps) never change solvent's answers, and
    solvent's settings (the float trap) never leak into the caller's code: solvent changes
    no context but the one it enters and leaves.

    The outermost call installs its thread's copy of solvent's context (``setcontext``, the
    caller's own context object put back on the way out, whatever happens); a call made inside
    another finds that context current and switches nothing. That is what
    ``decimal.localcontext`` did here before, at about a sixth of its cost per engine call.
    """

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        context = _ENTERED.context
        outer = _getcontext()
        if outer is context:  # inside another ``exact`` call on this thread: nothing to switch
            return fn(*args, **kwargs)
        _setcontext(context)
        try:
            return fn(*args, **kwargs)
        finally:
            _setcontext(outer)

    return run


def install_context() -> None:
    """Apply solvent's decimal settings to this thread and to threads started later.

    Only for solvent's own processes (the ``solvent`` command and ``solvent serve``);
    importing the library never calls it.
    """
    _configure(decimal.getcontext())
    _configure(decimal.DefaultContext)

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)

NumberLike = Decimal | int | str
"""What the public API accepts for a number: never ``float``."""


PLAIN_NUMBER_PATTERN: Final = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
"""A decimal number in ASCII digits, as ``to_decimal`` reads it (the file schemas publish it)."""
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER_PATTERN)
"""A decimal number in ASCII digits, as ``to_decimal`` accepts it (grouping underscores removed first)."""
_GROUPED = re.compile(r"[+-]?[1-9][0-9]{0,2}(?:_[0-9]{3})+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?")
"""A number whose digits before the point are grouped in threes by underscores (``1_000_000``):
the only place ``to_decimal`` takes an underscore."""
_NOT_FINITE = frozenset({"nan", "snan", "inf", "infinity"})
"""Spelled-out non-finite values: parsed, then refused as not finite (the clearer message)."""


def to_decimal(raw: object, field: str = "value") -> Decimal:
    """Parse an exact number; floats, NaN, infinities and garbage raise ``InvalidInput``.

    >>> to_decimal("1.50")
    Decimal('1.50')

    Numbers outside ``MAX_ADJUSTED_EXPONENT`` or with more than ``WORKING_PRECISION``
    significant digits are refused, not overflowed or rounded:

    >>> to_decimal("1e41", "qty")
    Traceback (most recent call last):
    ...
    solvent.errors.InvalidInput: qty 1e41 is out of range: accepted numbers lie between 1e-40 and 1e41 in size
    """
    if isinstance(raw, (bool, float)):
        raise InvalidInput(f"{field} must be a decimal string or integer, not {type(raw).__name__}")
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        if "_" in text:
            if not _GROUPED.fullmatch(text):  # "0_05" would read as 5: a mistyped 0.05, not a grouping
                raise InvalidInput(f"{field} is not a number: {raw!r} (an underscore separates groups of three "
                                   "digits before the point: 1_000_000.5)")
            text = text.replace("_", "")
        if not _PLAIN_NUMBER.fullmatch(text) and text.lower().lstrip("+-") not in _NOT_FINITE:
            # ASCII digits only: Decimal would also read "١" or "６" as digits
            raise InvalidInput(f"{field} is not a number: {raw!r}")
        try:
            value = Decimal(text)
        except decimal.InvalidOperation:
            raise InvalidInput(f"{field} is not a number: {raw!r}") from None
    else:
        raise InvalidInput(f"{field} must be a decimal string or integer, not {type(raw).__name__}")
    if not value.is_finite():
        raise InvalidInput(f"{field} must be finite, got {raw!r}")
    _check_range(value, field, raw)
    return value


MAX_ADJUSTED_EXPONENT: Final = 40
"""Accepted numbers lie in 1e-40 <= |x| < 1e41 (or are zero): ``to_decimal`` refuses the rest.

No real price, quantity, rate or balance comes near (the unbounded tier cap is 1e30);
``1e999999`` or ``1e-999999`` would only overflow, underflow or be silently rounded away.
Likewise a number with more than ``WORKING_PRECISION`` significant digits (trailing zeros
aside) is refused rather than rounded without a word.
"""


def _check_range(value: Decimal, field: str, raw: object) -> None:
    digits = value.as_tuple().digits
    if not any(digits):
        return
    if not -MAX_ADJUSTED_EXPONENT <= value.adjusted() <= MAX_ADJUSTED_EXPONENT:
        shown = raw if isinstance(raw, (str, int)) and len(str(raw)) <= 40 else f"of exponent {value.adjusted()}"
        raise InvalidInput(f"{field} {shown} is out of range: accepted numbers lie between "
                           f"1e-{MAX_ADJUSTED_EXPONENT} and 1e{MAX_ADJUSTED_EXPONENT + 1} in size")
    significant = len(digits)
    while digits[significant - 1] == 0:
        significant -= 1
    if significant > WORKING_PRECISION:
        raise InvalidInput(f"{field} has {significant} significant digits; at most {WORKING_PRECISION} are kept, "
                           "so it would be rounded")


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


def significant_quantum(value: Decimal, figures: int, max_decimals: int | None = None) -> Decimal:
    """The step that keeps ``figures`` significant figures of ``value``.

    Never finer than ``10**-max_decimals`` when that is given, and never coarser than 1
    (a whole number is always a valid price), as Hyperliquid's price rule has it.

    >>> significant_quantum(Decimal("57721.52"), 5)
    Decimal('1')
    >>> significant_quantum(Decimal("0.012345678"), 5, max_decimals=4)
    Decimal('0.0001')
    """
    if figures < 1 or value <= 0:
        raise InvalidInput(f"significant figures need a value > 0 and figures >= 1, got {value}, {figures}")
    exponent = value.adjusted() - figures + 1
    if max_decimals is not None:
        exponent = max(exponent, -max_decimals)
    return Decimal(1).scaleb(min(exponent, 0))


def round_significant(
    price: Decimal, figures: int, *, is_long: bool, max_decimals: int | None = None
) -> Decimal:
    """Round a price to ``figures`` significant figures (see ``significant_quantum``), against
    the holder as ``round_price`` does: a long's up, a short's down."""
    return round_price(price, significant_quantum(price, figures, max_decimals), is_long=is_long)


def _to_multiple(value: Decimal, quantum: Decimal, rounding: str) -> Decimal:
    if quantum <= 0:
        raise InvalidInput(f"rounding quantum must be > 0, got {quantum}")
    steps = (value / quantum).to_integral_value(rounding=rounding)
    return steps * quantum if steps else ZERO


def plain(value: Decimal) -> str:
    """Render a decimal without exponent notation, trailing zeros removed."""
    text = format(value.normalize(_FORMAT_CONTEXT), "f")  # strips zeros, never rounds, whatever the caller's context
    return "0" if text in ("-0", "") else text
