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
from solvent.units import ONE, ZERO, exact, round_up

__all__ = ["UnwindMarket", "unwind_cost", "unwind_impact"]

_LARGEST = Decimal(10) ** 15
"""The largest notional or daily volume an unwind takes (a quadrillion: no market is near it)."""


def _number(value: object, name: str, low: Decimal, high: Decimal) -> Decimal:
    """``value`` as a ``Decimal`` in ``(low, high]`` (``InvalidInput`` names ``name``)."""
    if not isinstance(value, Decimal):
        raise InvalidInput(f"unwind: {name} must be a Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite() or not low < value <= high:
        raise InvalidInput(f"unwind: {name} must lie in ({low}, {high}], got {value}")
    return value


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
        _number(self.daily_volatility, "daily_volatility", ZERO, ONE)  # at most 100 % a day
        _number(self.daily_volume, "daily_volume", ZERO, _LARGEST)
        _number(self.y, "y", ZERO, Decimal(10))


@exact
def unwind_impact(notional: Decimal, market: UnwindMarket) -> Decimal:
    """``I(Q)``: the relative price move by the time ``notional`` (``Q``, its size, sign ignored)
    has been unwound into ``market`` (module docstring)."""
    if not isinstance(market, UnwindMarket):
        raise InvalidInput(f"unwind: market must be an UnwindMarket, got {type(market).__name__}")
    market.check()
    if not isinstance(notional, Decimal) or not notional.is_finite() or abs(notional) > _LARGEST:
        raise InvalidInput(f"unwind: notional must be a Decimal of at most {_LARGEST:,} in size, got {notional!r}")
    size = abs(notional)
    if size == 0:
        return ZERO
    return market.y * market.daily_volatility * (size / market.daily_volume).sqrt()


@exact
def unwind_cost(notional: Decimal, market: UnwindMarket, quantum: Decimal) -> Decimal:
    """``I(Q) × Q``: what unwinding ``notional`` into ``market`` costs, rounded up to ``quantum``
    (the settlement asset's money step)."""
    _number(quantum, "quantum", ZERO, ONE)
    return round_up(unwind_impact(notional, market) * abs(notional), quantum)
