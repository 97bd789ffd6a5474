"""The cost of unwinding a position the venue took over (a backstop vault's or the insurance
fund's inventory), by the square-root law of market impact.

A metaorder of notional ``Q`` in a market whose daily volatility is ``σ_d`` and whose daily
traded notional is ``V`` has moved the price, by the time it is done, by::

    I(Q) = Y × σ_d × sqrt(Q ÷ V)

with ``Y`` of order one (the square-root law: Tóth et al., "Anomalous price impact and the
critical nature of liquidity in financial markets", Phys. Rev. X 1, 2011; Bouchaud, Bonart,
Donier, Gould, *Trades, Quotes and Prices*, 2018, ch. 12). solvent charges that whole move on
the whole position: ``cost = I(Q) × Q``, the price the position has been pushed to by the time
it is gone. A trader who works the order evenly pays about two thirds of it on average (the
literature's 2/3); a backstop unwinds in stress, not at leisure, so the estimate takes the
conservative side. The law does not depend on how long the unwind takes (within about a day),
so neither does the cost.

Worked example (``../shared/realism.md`` RC-11, the 2025-03-12 Hyperliquid ETH whale): Q = $307M,
σ_d = 3.5 %, V = $3.5B, Y = 1: Q ÷ V = 0.087714, its square root 0.296166, I = 1.0366 %, cost
about $3.18M. Hyperliquid's vault lost about $4M on it (1.3 %).

Arithmetic is ``Decimal`` (``sqrt`` is correctly rounded); the cost is rounded up to the money
quantum, once, so a loss is never understated.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from solvent.errors import InvalidInput
from solvent.units import ONE, ZERO, round_up

__all__ = ["UnwindMarket", "unwind_cost", "unwind_impact"]


@dataclass(frozen=True, slots=True)
class UnwindMarket:
    """The market a position is unwound into."""

    daily_volatility: Decimal
    """σ_d: the standard deviation of the daily return (0.035 is 3.5 %)."""
    daily_volume: Decimal
    """V: notional traded in a day, in the quote (or settlement) unit of the position's notional."""
    y: Decimal = ONE
    """Y: the square-root law's prefactor, of order one."""

    def check(self) -> None:
        """Refuse a market no unwind follows, naming the field (``InvalidInput``)."""
        for name, value in (("daily_volatility", self.daily_volatility), ("daily_volume", self.daily_volume),
                            ("y", self.y)):
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise InvalidInput(f"unwind market: {name} must be a finite number > 0, got {value}")


def unwind_impact(notional: Decimal, market: UnwindMarket) -> Decimal:
    """``I(Q)``: the relative price move by the time ``notional`` (``Q``, its size, sign ignored)
    has been unwound into ``market`` (module docstring)."""
    market.check()
    if not isinstance(notional, Decimal) or not notional.is_finite():
        raise InvalidInput(f"unwind: notional must be finite, got {notional}")
    size = abs(notional)
    if size == 0:
        return ZERO
    return market.y * market.daily_volatility * (size / market.daily_volume).sqrt()


def unwind_cost(notional: Decimal, market: UnwindMarket, quantum: Decimal) -> Decimal:
    """``I(Q) × Q``: what unwinding ``notional`` into ``market`` costs, rounded up to ``quantum``
    (the settlement asset's money step)."""
    if not isinstance(quantum, Decimal) or not quantum.is_finite() or quantum <= 0:
        raise InvalidInput(f"unwind: quantum must be a finite number > 0, got {quantum}")
    return round_up(unwind_impact(notional, market) * abs(notional), quantum)
