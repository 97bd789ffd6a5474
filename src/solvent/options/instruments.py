"""Option instruments named the Deribit way: ``BTC-27MAR27-130000-C``.

``<UNDERLYING>-<D><MON><YY>-<STRIKE>-<C|P>``: expiry at 08:00 UTC of that day, strike in the
quote currency (``d`` for a decimal point: ``XRP_USDC-30JUN23-0d625-C``). A bare coin
(``BTC``) is an inverse option, settled and margined in that coin; ``BTC_USDC`` a linear
one, settled in USDC. Time to expiry is in years of 365 days (``years_to_expiry``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from solvent.errors import InvalidInput
from solvent.options.black76 import OptionKind

__all__ = ["EXPIRY_HOUR_UTC", "OptionInstrument", "expiry_of", "parse_instrument", "years_to_expiry"]

EXPIRY_HOUR_UTC = 8
YEAR_SECONDS = 365 * 24 * 3600

_MONTHS = {m: i + 1 for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
                                               "NOV", "DEC"))}
_STRIKE = r"[1-9][0-9]{0,11}(?:d[0-9]{0,7}[1-9])?|0d[0-9]{0,7}[1-9]"
"""A strike written once only: no leading zero, no trailing zero after ``d``, at most 12 digits."""
_NAME = re.compile(rf"^([A-Z0-9]{{2,10}})(?:_([A-Z]{{3,5}}))?-([1-9][0-9]?)([A-Z]{{3}})([0-9]{{2}})"
                   rf"-({_STRIKE})-([CP])$")


@dataclass(frozen=True, slots=True)
class OptionInstrument:
    name: str
    base: str
    """The coin the option is on (``BTC``)."""
    settle: str
    """The asset it is settled and margined in: the coin itself when inverse, else ``USDC``..."""
    expiry: datetime
    strike: Decimal
    kind: OptionKind

    @property
    def inverse(self) -> bool:
        return self.settle == self.base


def parse_instrument(name: str) -> OptionInstrument:
    """The option ``name`` stands for; ``InvalidInput`` naming the expected form otherwise."""
    found = _NAME.match(name)
    if found is None:
        raise InvalidInput(f"{name!r} is not an option name like BTC-27MAR27-130000-C (or BTC_USDC-...)")
    base, settle, day, month, year, strike_text, letter = found.groups()
    expiry = expiry_of(name, f"{day}{month}{year}")
    strike = Decimal(strike_text.replace("d", "."))
    if strike <= 0:
        raise InvalidInput(f"{name!r}: the strike must be > 0")
    return OptionInstrument(name, base, settle or base, expiry, strike, "call" if letter == "C" else "put")


def expiry_of(name: str, code: str) -> datetime:
    """The expiry (08:00 UTC) of a date code like ``27MAR27``."""
    found = re.fullmatch(r"([1-9][0-9]?)([A-Z]{3})([0-9]{2})", code)
    if found is None or found.group(2) not in _MONTHS:
        raise InvalidInput(f"{name!r}: {code!r} is not a date like 27MAR27")
    day, month, year = found.groups()
    try:
        return datetime(2000 + int(year), _MONTHS[month], int(day), EXPIRY_HOUR_UTC, tzinfo=UTC)
    except ValueError:
        raise InvalidInput(f"{name!r}: {code} is not a date") from None


def years_to_expiry(expiry: datetime, now: datetime) -> float:
    """Years of 365 days from ``now`` to ``expiry``; 0 once expired."""
    if now.tzinfo is None:
        raise InvalidInput("the valuation time needs a time zone (for example 2026-12-27T08:00:00Z)")
    return max((expiry - now).total_seconds(), 0.0) / YEAR_SECONDS
