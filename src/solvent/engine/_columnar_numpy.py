"""Pure-numpy screening kernels of the columnar book (the fallback when numba is absent).

Per position ``p`` on instrument ``m`` (float64 screening copies, see ``_columnar_layout``)::

    notional_f = |qty_f| × mark_f[m]
    pnl_f      = qty_f × (mark_f[m] − entry_f)
    mm_f       = notional_f × rate_f[tier] − amount_f[tier]
    size_f     = 5 × notional_f + |qty_f| × |entry_f| + |amount_f[tier]|

and per account ``equity_f = collateral_f + Σ pnl_f``, ``mm_f = Σ mm_f``,
``bound = (count + 16) × 2^-48 × max(1, r_max) × (|collateral_f| + Σ size_f) + 1e-300``.
``bound`` exceeds the float error of every decision quantity (see ``columnar`` module
docstring); an account whose decision quantity lies within ``bound`` of zero is marked
ambiguous (level ``-1``) and decided exactly by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from solvent.engine._columnar_layout import TierArrays

__all__ = ["AMBIGUOUS", "BOUND_SLACK", "ERR_UNIT", "Screen", "screen_accounts", "screen_all"]

ERR_UNIT = 2.0**-48
"""16 units of float64 roundoff (u = 2^-52 / 2): the per-term error budget."""
BOUND_SLACK = 16
"""Added to an account's position count in the summation error bound."""
TINY = 1e-300
AMBIGUOUS = -1

F64 = NDArray[np.float64]


@dataclass(eq=False, slots=True)
class Screen:
    """Float64 screening state (mutable: marks and the tier cache change)."""

    ptr: NDArray[np.int64]
    count: NDArray[np.int64]
    count_f: F64
    instrument: NDArray[np.int32]
    qty_f: F64
    entry_f: F64
    tier: NDArray[np.int8]
    """Cached tier per position, local to its instrument's table."""
    collateral_f: F64
    mark_f: F64
    tiers: TierArrays
    nonempty_starts: NDArray[np.int64]
    nonempty: NDArray[np.bool_]
    warning_f: float
    margin_call_f: float
    ratio_factor: float
    """``max(1, warning, margin call)``: the largest multiplier of equity in a decision."""


def _fix_tiers(notional: F64, inst: NDArray[np.int32], idx: NDArray[np.int64] | None, sc: Screen) -> NDArray[np.int64]:
    """Global tier rows holding each notional; steps cached tiers until floor ≤ n < cap."""
    base = sc.tiers.offset[inst]
    top = sc.tiers.offset[inst + 1] - 1
    local = sc.tier if idx is None else sc.tier[idx]
    rows = base + local
    floor_f, cap_f = sc.tiers.floor_f, sc.tiers.cap_f
    bad = np.flatnonzero(((notional < floor_f[rows]) & (rows > base)) | ((notional >= cap_f[rows]) & (rows < top)))
    while bad.size:
        rb, nb = rows[bad], notional[bad]
        up = (nb >= cap_f[rb]) & (rb < top[bad])
        down = (nb < floor_f[rb]) & (rb > base[bad])
        step = up.astype(np.int64) - down.astype(np.int64)
        moving = step != 0
        bad = bad[moving]
        rows[bad] += step[moving]
    new_local = (rows - base).astype(np.int8)
    if idx is None:
        sc.tier[:] = new_local
    else:
        sc.tier[idx] = new_local
    return rows


def _position_terms(sc: Screen, idx: NDArray[np.int64] | None) -> tuple[F64, F64, F64]:
    """``(pnl_f, mm_f, size_f)`` of the positions ``idx`` (all when ``None``)."""
    if idx is None:
        inst, q, e = sc.instrument, sc.qty_f, sc.entry_f
    else:
        inst, q, e = sc.instrument[idx], sc.qty_f[idx], sc.entry_f[idx]
    mark = sc.mark_f[inst]
    aq = np.abs(q)
    notional = aq * mark
    rows = _fix_tiers(notional, inst, idx, sc)
    amount = sc.tiers.amount_f[rows]
    pnl = q * (mark - e)
    mm = notional * sc.tiers.rate_f[rows] - amount
    size = 5.0 * notional + aq * np.abs(e) + np.abs(amount)
    return pnl, mm, size


def _decide(equity: F64, mm: F64, size: F64, count_f: F64, sc: Screen) -> NDArray[np.int8]:
    """Levels where every consulted sign is certain, ``AMBIGUOUS`` elsewhere.

    The tree of ``risk.levels``: bankrupt (equity < 0), healthy (MM ≤ 0), liquidation
    (equity − MM < 0), then the ratios. Equity = 0 and equity = MM lie within the bound, so
    they are always confirmed exactly, where the venue's trigger (≤ or <) is applied.
    """
    bound = (count_f + BOUND_SLACK) * (ERR_UNIT * sc.ratio_factor) * size + TINY
    level = np.zeros(equity.shape, dtype=np.int8)
    level[equity < -bound] = 4
    amb = ~(equity < -bound) & ~(equity > bound)  # also catches NaN
    live = equity > bound
    amb |= live & ~(np.abs(mm) > bound)
    live &= mm > bound  # MM < 0 with equity > 0: healthy
    gap = equity - mm
    amb |= live & ~(np.abs(gap) > bound)
    level[live & (gap < -bound)] = 3
    live &= gap > bound
    for ratio, code in ((sc.margin_call_f, 2), (sc.warning_f, 1)):
        gap = mm - ratio * equity
        amb |= live & ~(np.abs(gap) > bound)
        level[live & (gap > bound)] = code
        live &= gap < -bound
    level[amb] = AMBIGUOUS
    # no positions: MM is exactly 0 and equity is the collateral, whose float copy has its sign
    empty = count_f == 0
    level[empty] = np.where(equity[empty] < 0.0, 4, 0)
    return level


def screen_all(sc: Screen) -> NDArray[np.int8]:
    """Screened level of every account (``AMBIGUOUS`` where not certain)."""
    pnl, mm_p, size_p = _position_terms(sc, None)
    equity = sc.collateral_f.copy()
    mm = np.zeros_like(equity)
    size = np.abs(sc.collateral_f)
    if pnl.size:
        starts = sc.nonempty_starts
        equity[sc.nonempty] += np.add.reduceat(pnl, starts)
        mm[sc.nonempty] = np.add.reduceat(mm_p, starts)
        size[sc.nonempty] += np.add.reduceat(size_p, starts)
    return _decide(equity, mm, size, sc.count_f, sc)


def screen_accounts(sc: Screen, accounts: NDArray[np.int64]) -> NDArray[np.int8]:
    """Screened levels of ``accounts`` (each holding ≥ 1 position), recomputed from scratch."""
    lens = sc.count[accounts]
    offsets = np.cumsum(lens) - lens
    idx = np.repeat(sc.ptr[accounts] - offsets, lens) + np.arange(int(lens.sum()), dtype=np.int64)
    pnl, mm_p, size_p = _position_terms(sc, idx)
    equity = sc.collateral_f[accounts] + np.add.reduceat(pnl, offsets)
    mm = np.add.reduceat(mm_p, offsets)
    size = np.abs(sc.collateral_f[accounts]) + np.add.reduceat(size_p, offsets)
    return _decide(equity, mm, size, sc.count_f[accounts], sc)
