"""Where a liquidation order is executed: pluggable liquidity models.

A model prices a liquidation order of ``qty`` on ``symbol`` (``side`` is the order's side:
selling closes a long). It answers the average execution price, or ``None`` when the book
cannot absorb the order — then the engine hands the position to the backstop.

* ``SquareRootImpact``: the classic square-root market-impact law,
  ``price = mark × (1 ∓ k × sqrt(notional / depth))`` (∓: a sell executes below the mark),
  with ``depth`` the notional the book can take per symbol; orders above
  ``max_depth_fraction × depth`` are refused. ``depth`` can be thinned under stress with
  ``with_depth_scale``.
* ``BookDepth``: walk a supplied book (price levels with quantities) and take the
  volume-weighted average; ``None`` when the levels run out.

Orders of one command walk the book (``LiquidationPolicy.revision`` 8 on): ``taken`` is the
base quantity earlier liquidation orders of the same command have already taken from that
side of the symbol's book, and an order is priced from where they left it. Under the
square-root law the order's average impact is then
``k × ((V + v)·sqrt((V + v) / depth) − V·sqrt(V / depth)) / v`` (``V`` taken, ``v`` the
order, both notional at the mark), so orders sold one after another cost exactly what one
order of their sum would (realism.md §4.3: ``book.walk(orders)``, depth depleted); priced
alone, as before, a cascade's one big round cost less the more accounts it was split over.
``max_depth_fraction`` still bounds each order on its own (the most one order may take). A
model of one's own must take ``taken`` too under revision 8 (an engine is refused one that does
not, ``params.setting_problem``; revision 7 calls it with five arguments, as before); only what
the book executes is taken (a part closed by ADL is not).

Prices are rounded to the tick against the liquidated account (a sell down, a buy up).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Protocol

from solvent.model import Side
from solvent.units import ONE, ZERO, round_down, round_up

__all__ = ["BookDepth", "LiquidityModel", "SquareRootImpact"]


class LiquidityModel(Protocol):
    def execution_price(
        self, symbol: str, side: Side, qty: Decimal, mark: Decimal, tick: Decimal | None, taken: Decimal = ZERO
    ) -> Decimal | None:
        """Average price for a liquidation order, or ``None`` if the book cannot take it;
        ``taken``: what earlier orders of the same command took from that side (module docstring)."""
        ...


def _adverse(price: Decimal, side: Side, tick: Decimal | None) -> Decimal:
    if tick is None:
        return price
    return round_down(price, tick) if side is Side.SHORT else round_up(price, tick)


def _positive(price: Decimal) -> Decimal | None:
    """A price rounded down to nothing (a sale below one tick) is no price: the book cannot
    take the order (an inverse close at 0 would be worth ``1 / 0`` coins)."""
    return price if price > 0 else None


@dataclass(frozen=True, slots=True)
class SquareRootImpact:
    """``price = mark × (1 ∓ k·sqrt(notional / depth))``.

    Worked example: k = 0.5, depth 4,000,000, selling 1,000,000 of notional at mark 100:
    ``sqrt(0.25) = 0.5`` so the price is ``100 × (1 − 0.25) = 75``. Another 1,000,000 after it
    (``taken`` 10,000 at 100): ``(2,000,000 × sqrt(0.5) − 1,000,000 × 0.5) / 1,000,000 =
    0.91421356…``, half of it 0.45710678…, so about 54.29; the two average 64.64, the price of
    one order of 2,000,000 (``100 × (1 − 0.5 × sqrt(0.5))``).
    """

    depth_notional: Mapping[str, Decimal] = field(default_factory=dict)
    k: Decimal = Decimal("0.1")
    max_depth_fraction: Decimal = ONE
    default_depth: Decimal = Decimal(200_000_000)

    def with_depth_scale(self, scale: Decimal) -> SquareRootImpact:
        """The same model with every depth multiplied by ``scale`` (thinning under stress)."""
        return replace(
            self,
            depth_notional={s: d * scale for s, d in self.depth_notional.items()},
            default_depth=self.default_depth * scale,
        )

    def execution_price(
        self, symbol: str, side: Side, qty: Decimal, mark: Decimal, tick: Decimal | None, taken: Decimal = ZERO
    ) -> Decimal | None:
        depth = self.depth_notional.get(symbol, self.default_depth)
        notional, before = qty * mark, taken * mark
        if depth <= 0 or notional > depth * self.max_depth_fraction:  # an order the book cannot take at once
            return None
        if before == 0:
            impact = self.k * (notional / depth).sqrt()
        else:  # the slice from ``before`` to ``before + notional`` of one walk (module docstring)
            after = before + notional
            impact = self.k * (after * (after / depth).sqrt() - before * (before / depth).sqrt()) / notional
        price = mark * (ONE - impact) if side is Side.SHORT else mark * (ONE + impact)
        if price <= 0:
            return None
        return _positive(_adverse(price, side, tick))


@dataclass(frozen=True, slots=True)
class BookDepth:
    """A supplied book: ``bids`` and ``asks`` as ``(price, qty)`` levels, best first."""

    bids: Mapping[str, Sequence[tuple[Decimal, Decimal]]] = field(default_factory=dict)
    asks: Mapping[str, Sequence[tuple[Decimal, Decimal]]] = field(default_factory=dict)

    def execution_price(
        self, symbol: str, side: Side, qty: Decimal, mark: Decimal, tick: Decimal | None, taken: Decimal = ZERO
    ) -> Decimal | None:
        levels = self.bids.get(symbol, ()) if side is Side.SHORT else self.asks.get(symbol, ())
        left, cost, skip = qty, ZERO, taken
        for price, level in levels:
            gone = min(skip, level)  # what earlier orders of the command took from this level
            skip -= gone
            available = level - gone
            take = min(left, available)
            cost += take * price
            left -= take
            if left == 0:
                return _positive(_adverse(cost / qty, side, tick))
        return None
