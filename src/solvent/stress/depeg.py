"""A stablecoin depeg of collateral (realism.md S7): some traders post an asset other than the
settlement asset, and at one minute its price falls on the venue.

* **Who holds it**: a share ``holders`` of the traders, spread evenly over the book (trader
  ``i`` when ``⌊(i + 1)·holders⌋ > ⌊i·holders⌋``: exactly ``⌊n·holders⌋`` of ``n``, the same
  ones for a given book). A holder posts the asset instead of the settlement asset, as much
  as makes its collateral value at price 1 after the ``haircut`` the drawn deposit
  (``deposit / (1 − haircut)``, rounded up to the money quantum): the book is the same book
  until the depeg, whatever the haircut.
* **The depeg**: from minute ``minute`` on, the asset's index is ``price`` (realism.md's
  example: USDe at 0.65 on one venue on 2025-10-10, [R14][R16]); before it, 1. The venue
  values the collateral at ``index × (1 − haircut)`` and liquidates as it does any account:
  only holders can fall below their maintenance margin through it (acceptance A17).

It runs on the exact engine, which holds several collateral assets; the fast cascade has one.
A coin-margined venue is refused: its money is the coin, and a stablecoin there would need an
index in the coin that moves with the instrument, which this scenario does not model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from solvent.errors import InvalidInput

__all__ = ["Depeg", "DepegOutcome", "parse_depeg"]

_ONE = Decimal(1)
_QUANTUM = Decimal("0.00000001")
"""The engine's money quantum: the asset's price is a whole number of it."""
MAX_HAIRCUT = Decimal("0.9")
"""A collateral ratio of at least 10 %: beyond it a holder's deposit grows past what an account may hold."""
_ASSET = re.compile(r"[A-Z][A-Z0-9]{0,19}")
_SPEC = re.compile(r"([^:]*):([0-9]+(?:\.[0-9]+)?):([0-9]+)")


@dataclass(frozen=True, slots=True)
class Depeg:
    asset: str
    price: Decimal
    minute: int
    holders: Decimal = Decimal("0.2")
    haircut: Decimal = Decimal("0.05")
    """Judgement: venues publish a collateral ratio per asset (Binance's USDT/USDC 99.99 %);
    a synthetic dollar gets less. It changes the amounts posted, not the depeg's effect."""

    def check(self, settle: str, minutes: int) -> None:
        """Refuse a depeg no run can make, naming the field (``InvalidInput``); the book's own
        checks are ``check_book``."""
        if not _ASSET.fullmatch(self.asset):
            raise InvalidInput(f"depeg: the asset must be an upper-case ticker of at most 20 letters and digits "
                               f"(USDE), got {self.asset[:40]!r}")
        if self.asset == settle:
            raise InvalidInput(f"depeg: {self.asset} is the settlement asset, which the venue counts at 1; depeg "
                               "another collateral asset")
        if not Decimal(0) < self.price < _ONE:
            raise InvalidInput(f"depeg: the price after it must lie strictly between 0 and 1, got {self.price}")
        if self.price % _QUANTUM:
            raise InvalidInput(f"depeg: the price must be a whole number of {_QUANTUM} (the money quantum), got "
                               f"{self.price}")
        if not 1 <= self.minute <= minutes:
            raise InvalidInput(f"depeg: the minute must lie in [1, {minutes}] (the path's minutes), got {self.minute}")
        if not Decimal(0) < self.holders <= _ONE:
            raise InvalidInput(f"depeg: the holders' share must lie in (0, 1], got {self.holders}")
        if not Decimal(0) <= self.haircut <= MAX_HAIRCUT:
            raise InvalidInput(f"depeg: the haircut must lie in [0, {MAX_HAIRCUT}], got {self.haircut}")

    def check_book(self, traders: int, instruments: object, inverse: bool) -> None:
        """Refuse a depeg this book cannot take: on a coin-margined venue, an asset named like
        an instrument, or a share that gives no holder."""
        if inverse:
            raise InvalidInput("depeg: the venue is coin-margined (its money is the coin); a stablecoin depeg there "
                               "is not modelled: run it on a linear venue")
        if isinstance(instruments, dict | set | frozenset) and self.asset in instruments:
            raise InvalidInput(f"depeg: {self.asset} is an instrument of the venue, not a collateral asset")
        if int(traders * self.holders) == 0:
            raise InvalidInput(f"depeg: a share of {self.holders} of {traders:,} traders is no holder at all")

    def holds(self, trader: int) -> bool:
        """Whether trader ``trader`` (its index in the book) posts the asset."""
        return int((trader + 1) * self.holders) > int(trader * self.holders)

    def index(self, step: int) -> Decimal:
        """The asset's index at minute ``step`` (0: the book's build)."""
        return self.price if step >= self.minute else _ONE


@dataclass(frozen=True, slots=True)
class DepegOutcome:
    """What a depeg did, counted by the exact engine: traders holding the asset; holders and
    others forced out of a position (by the book, the backstop or ADL as the bankrupt side);
    holders left below their maintenance margin at the end (a procedure that could not close
    them, dYdX's fillable price for one)."""

    holders: int
    holders_liquidated: int
    others_liquidated: int
    holders_below_maintenance_end: int


def parse_depeg(text: str, holders: Decimal, haircut: Decimal) -> Depeg:
    """``ASSET:PRICE:MINUTE`` (``USDE:0.65:30``; the price a plain decimal), as ``solvent
    simulate --depeg`` takes it."""
    match = _SPEC.fullmatch(text)
    if match is None:
        raise InvalidInput(f"--depeg takes ASSET:PRICE:MINUTE with a plain decimal price and a whole minute "
                           f"(USDE:0.65:30), got {text[:60]!r}")
    asset, price, minute = match.groups()
    return Depeg(asset, Decimal(price), int(minute), holders, haircut)
