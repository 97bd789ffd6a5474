"""Exact order statistics and averages shared by the market modules (private).

Everything here is plain ``Decimal`` arithmetic at solvent's working precision; nothing
rounds to a venue quantum (callers do that once, at the end).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from solvent.errors import InvalidInput


def median(values: Sequence[Decimal]) -> Decimal:
    """Middle value of ``values``; for an even count, the mean of the two middle values.

    >>> median([Decimal(3), Decimal(1), Decimal(2), Decimal(10)])
    Decimal('2.5')
    """
    if not values:
        raise InvalidInput("median of no values")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def weighted_mean(values: Sequence[Decimal], weights: Sequence[Decimal]) -> Decimal:
    """``Σ wᵢ·vᵢ / Σ wᵢ`` with strictly positive weights.

    >>> weighted_mean([Decimal(10), Decimal(20)], [Decimal(1), Decimal(3)])
    Decimal('17.5')
    """
    if not values or len(values) != len(weights):
        raise InvalidInput("weighted mean needs as many weights as values, at least one")
    if any(weight <= 0 for weight in weights):
        raise InvalidInput("weights must be > 0")
    total_weight = sum(weights, Decimal(0))
    return sum((v * w for v, w in zip(values, weights, strict=True)), Decimal(0)) / total_weight


def relative_deviation(price: Decimal, reference: Decimal) -> Decimal:
    """``|price − reference| / reference`` (dimensionless); ``reference`` must be > 0."""
    if reference <= 0:
        raise InvalidInput(f"reference price must be > 0, got {reference}")
    return abs(price - reference) / reference
