"""Exceptions, grouped by what the caller must do.

::

    SolventError                  base of everything solvent raises on purpose
    ├── InvalidInput              the request is wrong: reject it, change nothing
    │   ├── UnknownVenue          no bundled or supplied profile has that name
    │   ├── UnknownSymbol         the venue profile has no such instrument
    │   ├── InvalidTierTable      a tier table breaks a validation rule
    │   └── LeverageTooHigh       leverage above what the position's tier allows
    ├── StaleMarketData           a price is missing or too old: retry or hold
    └── InvariantViolation        a bug: halt; never caught in business code

Every message is one line, fit to show a user as is.
"""

from __future__ import annotations

from collections.abc import Collection
from difflib import get_close_matches


class SolventError(Exception):
    """Base class of every error solvent raises deliberately."""


class InvalidInput(SolventError, ValueError):
    """Bad input: the operation is refused and no state changes."""


class UnknownVenue(InvalidInput):
    """No venue profile with that name."""


class UnknownSymbol(InvalidInput):
    """The venue profile has no instrument with that symbol."""

    @classmethod
    def on_venue(cls, venue: str, symbol: str, known: Collection[str]) -> UnknownSymbol:
        """``venue`` has no ``symbol``: the message names the closest of its ``known`` symbols
        (``BTCUSD`` on binance-usdm: did you mean BTCUSDT, BTCUSDC?). It is built when shown,
        never when the engine refuses an order for it."""
        return _NotOnVenue(venue, symbol, known)


class _NotOnVenue(UnknownSymbol):
    def __init__(self, venue: str, symbol: str, known: Collection[str]) -> None:
        super().__init__(venue, symbol)
        self.venue, self.symbol, self._known = venue, symbol, known

    def __reduce__(self) -> tuple[type[_NotOnVenue], tuple[str, str, tuple[str, ...]]]:
        # the three arguments __init__ takes (args holds two): copied or pickled (a Ray or process
        # worker's refusal) it was refused with "missing 1 required positional argument: 'known'"
        return type(self), (self.venue, self.symbol, tuple(self._known))

    def __str__(self) -> str:
        text = f"venue {self.venue} has no symbol {self.symbol!r}"
        known = {s.upper(): s for s in self._known}
        close = get_close_matches(self.symbol.upper(), list(known), n=3, cutoff=0.6)
        return text + (f"; did you mean {', '.join(known[c] for c in close)}?" if close else "")


class InvalidTierTable(InvalidInput):
    """A tier table breaks a validation rule (order, rates, continuity)."""


class LeverageTooHigh(InvalidInput):
    """The requested leverage exceeds what the tier holding the position allows."""


class StaleMarketData(SolventError):
    """A required price is missing or stale; the caller should retry or hold."""


class InvariantViolation(SolventError, AssertionError):
    """An internal invariant broke. This is a bug: stop, do not carry on."""
