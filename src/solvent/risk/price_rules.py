"""How a venue's prices are rounded: a fixed tick, or significant figures.

A solved liquidation or bankruptcy price is rounded once, against the holder (a long's
bound up, a short's down; ``solvent.units``), by the instrument's ``PriceRule``:

* ``tick``: a multiple of the instrument's tick size (most venues);
* ``significant_figures``: the venue's own rule where it has no tick. Hyperliquid perps:
  at most 5 significant figures and at most ``6 − szDecimals`` decimals, whole numbers
  always allowed;
* ``tick_unknown``: the venue has a tick but the profile does not know it. The price is
  rounded to ``DEFAULT_SIGNIFICANT_FIGURES`` significant figures, and reports say that the
  tick is unknown (``tick_known`` is false).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from solvent.errors import InvalidInput
from solvent.units import round_price, round_significant, significant_quantum

__all__ = ["DEFAULT_SIGNIFICANT_FIGURES", "PriceRule", "PriceRuleKind"]

DEFAULT_SIGNIFICANT_FIGURES: Final = 8
"""Significant figures kept where a venue has a tick that the profile does not know."""


class PriceRuleKind(StrEnum):
    TICK = "tick"
    SIGNIFICANT_FIGURES = "significant_figures"
    TICK_UNKNOWN = "tick_unknown"


@dataclass(frozen=True, slots=True)
class PriceRule:
    """One instrument's price grid (see the module docstring)."""

    kind: PriceRuleKind
    tick: Decimal | None = None
    figures: int = DEFAULT_SIGNIFICANT_FIGURES
    max_decimals: int | None = None

    def __post_init__(self) -> None:
        if self.kind is PriceRuleKind.TICK and (self.tick is None or self.tick <= 0):
            raise InvalidInput("a tick price rule needs a tick > 0")
        if self.figures < 1 or (self.max_decimals is not None and self.max_decimals < 0):
            raise InvalidInput("a price rule needs figures >= 1 and max_decimals >= 0")

    @classmethod
    def for_tick(cls, tick: Decimal) -> PriceRule:
        return cls(PriceRuleKind.TICK, tick=tick)

    @property
    def tick_known(self) -> bool:
        """False when the price is rounded to a fallback precision, not the venue's grid."""
        return self.kind is not PriceRuleKind.TICK_UNKNOWN

    def step(self, price: Decimal) -> Decimal:
        """The grid's step at ``price`` (the tick, or the significant-figures quantum)."""
        if self.tick is not None:
            return self.tick
        return significant_quantum(price, self.figures, self.max_decimals)

    def round(self, price: Decimal, *, is_long: bool) -> Decimal:
        """``price`` on the grid, against the holder (a long's up, a short's down)."""
        if self.tick is not None:
            return round_price(price, self.tick, is_long=is_long)
        return round_significant(price, self.figures, is_long=is_long, max_decimals=self.max_decimals)

    def describe(self) -> str:
        """One line for reports: which rounding was applied."""
        if self.kind is PriceRuleKind.TICK:
            return f"tick {self.tick}"
        decimals = "" if self.max_decimals is None else f", at most {self.max_decimals} decimals"
        if self.kind is PriceRuleKind.SIGNIFICANT_FIGURES:
            return f"{self.figures} significant figures{decimals}"
        return f"tick unknown: rounded to {self.figures} significant figures"
