"""What the stress plots draw, computed apart from the drawing (``stress/plot.py``), so that it
can be checked against hand computations without matplotlib.

* ``ccdf``: the Monte Carlo loss exceedance curve, P(L ≥ x) at each distinct loss x
  (``../shared/realism.md`` §4.5, plot 6);
* ``cover_matrix``: deficits by scenario and group for the groups whose default costs most in
  some scenario (plot 11, the Cover-1 / Cover-2 heat map);
* ``minute_bars``: per-minute liquidated notional by side and the minutes with ADL (plot 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from solvent.stress.adequacy import ShockOutcome
from solvent.stress.result import StepRecord

__all__ = ["ccdf", "cover_matrix", "minute_bars"]


def ccdf(values: Sequence[Decimal]) -> list[tuple[Decimal, Decimal]]:
    """``(x, P(L ≥ x))`` for each distinct value x of ``values``, ascending: the share of the
    paths whose loss is at least x (the first point's share is 1)."""
    ordered = sorted(values)
    n = len(ordered)
    out: list[tuple[Decimal, Decimal]] = []
    for i, x in enumerate(ordered):
        if i == 0 or x != ordered[i - 1]:
            out.append((x, Decimal(n - i) / Decimal(n)))
    return out


def cover_matrix(outcomes: Sequence[ShockOutcome], k: int) -> tuple[list[Decimal], list[int], list[list[Decimal]]]:
    """(scenario moves, groups, deficits[scenario][group]): the groups are the union of each
    scenario's ``k`` costliest (``ShockOutcome.top``), ordered by their worst deficit over the
    scenarios (then by group number); a group with no deficit in a scenario counts 0 there."""
    worst: dict[int, Decimal] = {}
    for o in outcomes:
        for g in o.top(k)[1]:
            worst[g] = max(worst.get(g, Decimal(0)), o.groups[g])
    groups = sorted(worst, key=lambda g: (-worst[g], g))
    return ([o.move for o in outcomes], groups,
            [[o.groups.get(g, Decimal(0)) for g in groups] for o in outcomes])


def minute_bars(steps: Sequence[StepRecord]) -> tuple[list[int], list[Decimal], list[Decimal], list[int]]:
    """(minutes, long notional liquidated, short notional liquidated, minutes with ADL): per
    minute, in quote, the longs sold and the shorts bought by liquidations."""
    return ([s.step for s in steps], [s.sold_quote for s in steps], [s.bought_quote for s in steps],
            [s.step for s in steps if s.adl_events])
