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
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from solvent.errors import InvalidInput

__all__ = ["Depeg", "parse_depeg"]

_ONE = Decimal(1)


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
        """Refuse a depeg no run can make, naming the field (``InvalidInput``)."""
        if not self.asset or not self.asset.isascii() or not self.asset.isalnum() or not self.asset.isupper():
            raise InvalidInput(f"depeg: the asset must be an upper-case ticker (USDE), got {self.asset!r}")
        if self.asset == settle:
            raise InvalidInput(f"depeg: {self.asset} is the settlement asset, which the venue counts at 1; depeg "
                               "another collateral asset")
        if not Decimal(0) < self.price < _ONE:
            raise InvalidInput(f"depeg: the price after it must lie strictly between 0 and 1, got {self.price}")
        if not 1 <= self.minute <= minutes:
            raise InvalidInput(f"depeg: the minute must lie in [1, {minutes}] (the path's minutes), got {self.minute}")
        if not Decimal(0) < self.holders <= _ONE:
            raise InvalidInput(f"depeg: the holders' share must lie in (0, 1], got {self.holders}")
        if not Decimal(0) <= self.haircut < _ONE:
            raise InvalidInput(f"depeg: the haircut must lie in [0, 1), got {self.haircut}")

    def holds(self, trader: int) -> bool:
        """Whether trader ``trader`` (its index in the book) posts the asset."""
        return int((trader + 1) * self.holders) > int(trader * self.holders)

    def index(self, step: int) -> Decimal:
        """The asset's index at minute ``step`` (0: the book's build)."""
        return self.price if step >= self.minute else _ONE


def parse_depeg(text: str, holders: Decimal, haircut: Decimal) -> Depeg:
    """``ASSET:PRICE:MINUTE`` (``USDE:0.65:30``), as ``solvent simulate --depeg`` takes it."""
    parts = text.split(":")
    if len(parts) != 3:
        raise InvalidInput(f"--depeg takes ASSET:PRICE:MINUTE (USDE:0.65:30), got {text!r}")
    asset, price, minute = parts
    try:
        value = Decimal(price)
    except ArithmeticError:
        raise InvalidInput(f"--depeg: {price!r} is not a price") from None
    if not value.is_finite() or not minute.isascii() or not minute.isdigit():
        raise InvalidInput(f"--depeg: give a finite price and a whole minute, got {text!r}")
    return Depeg(asset, value, int(minute), holders, haircut)
