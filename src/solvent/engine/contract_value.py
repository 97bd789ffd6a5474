"""What contracts are worth in the settlement asset: the engine's one home of the linear /
inverse split.

A position of signed quantity ``q`` (base units for linear instruments, contracts for
inverse ones) and contract size ``cs`` has signed size ``s = q × cs``. Its **value** at a
price ``P`` is::

    linear   value(s, P) =  s × P      (quote: the settlement asset)
    inverse  value(s, P) = −s / P      (coin: ``cs`` USD per contract, settled in the coin)

and the engine keeps each position's ``cost`` as the sum of the values of the fills that
built it, so for both kinds

* unrealised PnL at the mark is ``value(s, mark) − cost`` (inverse: ``s × (1/entry − 1/mark)``,
  the coin-margined PnL every inverse venue publishes),
* closing at ``P`` instead of marking at ``M`` changes equity by ``value(s, P) − value(s, M)``,
* the notional (what tiers, leverage, fees and funding read) is ``|value(s, P)|``: quote for
  linear, coin for inverse,
* the entry price is the cost solved back for the price: ``cost / s`` (linear),
  ``−s / cost`` (inverse).

Exactness: a linear value is a product of decimals, exact. An inverse value is a division;
where money moves on it (a fill's cost and realised PnL, an expiry settlement) it is rounded
once to the money quantum, half to even (``traded``): the rounding is symmetric, so the two
sides of a trade move exactly opposite amounts and conservation stays exact. Valuations that
move no money (PnL at the mark, notional, MM) keep the working precision.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from solvent.units import ZERO

__all__ = ["entry_price", "gain", "larger_per_unit", "notional", "per_unit", "settled", "traded", "value"]


def value(size: Decimal, price: Decimal, inverse: bool) -> Decimal:
    """Signed value of signed ``size`` (``qty × cs``) at ``price`` (module docstring)."""
    return -size / price if inverse else size * price


def traded(size: Decimal, price: Decimal, inverse: bool, quantum: Decimal) -> Decimal:
    """``value`` where money moves on it: exact for linear, rounded half to even to ``quantum``
    for inverse (the same magnitude for both sides of a trade)."""
    if not inverse:
        return size * price
    return (-size / price).quantize(quantum, rounding=ROUND_HALF_EVEN)


def settled(size: Decimal, price: Decimal, inverse: bool, quantum: Decimal) -> Decimal:
    """``value`` paid out at an expiry settlement: exact for linear; inverse rounded toward
    −∞ to ``quantum`` (against every holder, so the amounts never sum above zero: the residue
    is the insurance fund's, as with funding)."""
    if not inverse:
        return size * price
    return (-size / price).quantize(quantum, rounding=ROUND_FLOOR)


def notional(size: Decimal, price: Decimal, inverse: bool) -> Decimal:
    """``|value(size, price)|``: quote (linear) or coin (inverse)."""
    return abs(size) / price if inverse else abs(size) * price


def per_unit(contract_size: Decimal, price: Decimal, inverse: bool) -> Decimal:
    """The notional of one unit of quantity at ``price``: ``cs × P`` or ``cs / P``."""
    return contract_size / price if inverse else contract_size * price


def larger_per_unit(contract_size: Decimal, a: Decimal, b: Decimal, inverse: bool) -> Decimal:
    """The larger of ``per_unit`` at prices ``a`` and ``b`` (the higher price for linear, the
    lower for inverse): what a limit on notional reads for an order away from the mark."""
    if inverse:  # ``min`` and ``max`` as the builtins pick (the first of equals), without their cost
        return contract_size / (b if b < a else a)
    return contract_size * (b if b > a else a)


def gain(size: Decimal, price: Decimal, mark: Decimal, inverse: bool) -> Decimal:
    """What closing signed ``size`` at ``price`` realises beyond its PnL at ``mark``."""
    if inverse:
        return size / mark - size / price
    return size * (price - mark)


def entry_price(size: Decimal, cost: Decimal, inverse: bool) -> Decimal:
    """The average entry price of a position of signed ``size`` and ``cost`` (0 when flat)."""
    if not size or not cost:
        return ZERO
    return -size / cost if inverse else cost / size
