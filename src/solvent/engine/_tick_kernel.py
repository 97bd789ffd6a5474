"""The price-tick screen's kernel: float aggregates moved by one mark change, a level decided
with a rigorous error bound, and a flag for every account that must be confirmed exactly.

One row per (account, symbol) position. A tick moves the symbol's mark from ``p0`` to ``p1``;
for each row the kernel

* adds ``q × (p1 − p0)`` to the account's float equity (``q`` = signed qty × contract size),
* replaces the row's MM by ``|q| × p1 × rate − amount`` (the row's tier, fixed while the
  notional stays in ``[lo, hi)``) in the account's float MM,
* grows the account's error bound ``err`` by the rounding of those operations, and
* decides the slot's level from the float equity and MM, the way ``risk/levels.py``
  does, but only where every comparison is certain: each test ``x`` (equity, MM, equity − MM,
  MM − r × equity) is trusted only when ``|x|`` exceeds its own bound.

A slot is an account's cross part or one of its isolated positions (``tick_screen``): its
``level`` is the account's (the hysteresis reads it), its ``judged`` the level the part was
judged at when it was written. A row is flagged (the caller then decides the account exactly
in Decimal) when any test is uncertain, the decision differs from ``judged``, the notional
left the row's tier, the account is one the screen cannot follow (``exact``), or its level is
liquidation or bankrupt (leaving those is the liquidation engine's decision).
A flag is never wrong to raise; a level change is never missed.

``tick_numpy`` and the numba kernel (``pip install solvent[fast]``) perform the same IEEE
operations in the same order, so they flag the same rows (a test compares them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from solvent.engine._jit import njit, numba_or_none

__all__ = [
    "BANKRUPT",
    "EPS",
    "HEALTHY",
    "LIQUIDATION",
    "MARGIN_CALL",
    "NUMBA_TICK",
    "UNCERTAIN",
    "WARNING",
    "Params",
    "tick",
    "tick_numpy",
    "warm",
]

HEALTHY, WARNING, MARGIN_CALL, LIQUIDATION, BANKRUPT = 0, 1, 2, 3, 4
UNCERTAIN = -1

EPS = 2.0 ** -52
"""Twice the unit roundoff of a double: every conversion and operation errs by at most EPS/2
relative; bounds below use several EPS per operation (they only need to be safe, not tight)."""

SLACK = 8.0 * EPS
"""Error charged per operation on the magnitudes involved (generous: 16 unit roundoffs)."""

Params = NDArray[np.float64]
"""``[strict, warning, warning − h, margin_call, margin_call − h, threshold error]``: ``strict``
is 1.0 for a venue that liquidates at equity < MM (else equity ≤ MM), kept for the record:
the screen never needs it, as equity = MM is always left to the exact decision; the ratios
as floats; the last entry bounds how far a float ratio may be from its Decimal value."""


def _ratio_level_py(prev: int, equity: float, mm: float, err: float, r_enter: float, r_stay: float, rank: int,
                    rel: float) -> int:
    """``rank`` if MM / equity ≥ ``r_enter`` (or ≥ ``r_stay`` when the level held is at least
    ``rank``: the hysteresis), HEALTHY if not, UNCERTAIN if a test is within its bound."""
    t_enter = mm - r_enter * equity
    if not abs(t_enter) > err * (1.0 + r_enter) + (SLACK + rel) * (abs(mm) + r_enter * abs(equity)):
        return UNCERTAIN
    if t_enter >= 0.0:
        return rank
    if prev < rank:
        return HEALTHY
    t_stay = mm - r_stay * equity
    if not abs(t_stay) > err * (1.0 + r_stay) + (SLACK + rel) * (abs(mm) + r_stay * abs(equity)):
        return UNCERTAIN
    return rank if t_stay >= 0.0 else HEALTHY


def _decide_py(prev: int, equity: float, mm: float, err: float, params: Any) -> int:
    """The level from float equity and MM within ``err`` of the exact ones, or UNCERTAIN."""
    if not abs(equity) > err:
        return UNCERTAIN
    if equity < 0.0:
        return BANKRUPT
    gap = equity - mm
    if not abs(gap) > 2.0 * err + SLACK * (abs(equity) + abs(mm)):
        return UNCERTAIN  # equality decides strict vs not: only the exact path may say
    if gap < 0.0:
        return LIQUIDATION
    if not abs(mm) > err:
        return UNCERTAIN
    if mm < 0.0:
        return HEALTHY
    rel = params[5]
    level = _ratio_level(prev, equity, mm, err, params[3], params[4], MARGIN_CALL, rel)
    if level != HEALTHY:
        return level
    return _ratio_level(prev, equity, mm, err, params[1], params[2], WARNING, rel)


_NUMBA = numba_or_none()
_ratio_level: Callable[..., int] = (_ratio_level_py if _NUMBA is None
                                    else njit(_NUMBA, inline="always")(_ratio_level_py))
_decide: Callable[..., int] = _decide_py if _NUMBA is None else njit(_NUMBA, inline="always")(_decide_py)
"""``_decide_py``, compiled when numba is installed (the loop below calls it)."""


def _tick_loop(aidx: Any, q: Any, rate: Any, amount: Any, lo: Any, hi: Any, mm_last: Any, dirty: Any,
               p0: float, p1: float, eq: Any, mm: Any, err: Any, level: Any, judged: Any, exact: Any,
               params: Any, flags: Any) -> int:
    """Apply one tick to ``n`` rows (in place) and write the flagged rows' indexes to ``flags``."""
    count = 0
    dp = p1 - p0
    for i in range(aidx.shape[0]):
        a = aidx[i]
        qi = q[i]
        aq = abs(qi)
        n1 = aq * p1
        m1 = n1 * rate[i] - amount[i]
        old = mm_last[i]
        mm_last[i] = m1
        e = eq[a] + qi * dp
        m = mm[a] + (m1 - old)
        eq[a] = e
        mm[a] = m
        r = err[a] + SLACK * (aq * (abs(p0) + abs(p1)) + n1 * rate[i] + abs(amount[i]) + abs(old) + abs(e) + abs(m))
        err[a] = r
        out = n1 * (1.0 + SLACK) >= hi[i] or n1 * (1.0 - SLACK) < lo[i]
        if out:
            dirty[i] = True
        prev = level[a]
        if out or exact[a] or prev >= LIQUIDATION or _decide(prev, e, m, r, params) != judged[a]:
            flags[count] = i
            count += 1
    return count


def tick_numpy(aidx: NDArray[np.int64], q: NDArray[np.float64], rate: NDArray[np.float64],
               amount: NDArray[np.float64], lo: NDArray[np.float64], hi: NDArray[np.float64],
               mm_last: NDArray[np.float64], dirty: NDArray[np.bool_], p0: float, p1: float,
               eq: NDArray[np.float64], mm: NDArray[np.float64], err: NDArray[np.float64],
               level: NDArray[np.int8], judged: NDArray[np.int8], exact: NDArray[np.bool_], params: Params,
               flags: NDArray[np.int64]) -> int:
    """``_tick_loop`` in numpy array operations: the same IEEE operations in the same order
    (each slot has at most one row in a row set, so the gathers and scatters are exact)."""
    dp = p1 - p0
    aq = np.abs(q)
    n1 = aq * p1
    m1 = n1 * rate - amount
    old = mm_last.copy()
    mm_last[:] = m1
    e = eq[aidx] + q * dp
    m = mm[aidx] + (m1 - old)
    eq[aidx] = e
    mm[aidx] = m
    r = err[aidx] + SLACK * (aq * (abs(p0) + abs(p1)) + n1 * rate + np.abs(amount) + np.abs(old) + np.abs(e)
                             + np.abs(m))
    err[aidx] = r
    out = (n1 * (1.0 + SLACK) >= hi) | (n1 * (1.0 - SLACK) < lo)
    dirty |= out
    prev = level[aidx].astype(np.int64)
    decided = _decide_numpy(prev, e, m, r, params)
    flagged = out | exact[aidx] | (prev >= LIQUIDATION) | (decided != judged[aidx])
    rows = np.flatnonzero(flagged)
    flags[:rows.size] = rows
    return int(rows.size)


def _decide_numpy(prev: NDArray[np.int64], equity: NDArray[np.float64], mm: NDArray[np.float64],
                  err: NDArray[np.float64], params: Params) -> NDArray[np.int64]:
    """``_decide`` over arrays (the first decisive test wins, as there)."""
    out = np.full(prev.shape, HEALTHY, dtype=np.int64)
    done = np.zeros(prev.shape, dtype=np.bool_)

    def settle(mask: NDArray[np.bool_], value: int) -> None:
        take = mask & ~done
        out[take] = value
        done[take] = True

    settle(~(np.abs(equity) > err), UNCERTAIN)
    settle(equity < 0.0, BANKRUPT)
    gap = equity - mm
    settle(~(np.abs(gap) > 2.0 * err + SLACK * (np.abs(equity) + np.abs(mm))), UNCERTAIN)
    settle(gap < 0.0, LIQUIDATION)
    settle(~(np.abs(mm) > err), UNCERTAIN)
    settle(mm < 0.0, HEALTHY)
    rel = params[5]
    for r_enter, r_stay, rank in ((params[3], params[4], MARGIN_CALL), (params[1], params[2], WARNING)):
        bound_enter = err * (1.0 + r_enter) + (SLACK + rel) * (np.abs(mm) + r_enter * np.abs(equity))
        t_enter = mm - r_enter * equity
        settle(~(np.abs(t_enter) > bound_enter), UNCERTAIN)
        settle(t_enter >= 0.0, rank)
        staying = prev >= rank
        bound_stay = err * (1.0 + r_stay) + (SLACK + rel) * (np.abs(mm) + r_stay * np.abs(equity))
        t_stay = mm - r_stay * equity
        settle(staying & ~(np.abs(t_stay) > bound_stay), UNCERTAIN)
        settle(staying & (t_stay >= 0.0), rank)
    return out


NUMBA_TICK: Callable[..., int] | None = None if _NUMBA is None else njit(_NUMBA)(_tick_loop)
"""The compiled kernel, or ``None`` without numba."""

_warm = False


def warm() -> None:
    """Compile (or load from numba's cache) the kernel once per process, before the first tick
    needs it, so no tick pays for compilation."""
    global _warm
    if _warm or NUMBA_TICK is None:
        return
    _warm = True
    one_f = np.zeros(1, np.float64)
    NUMBA_TICK(np.zeros(1, np.int64), one_f, one_f.copy(), one_f.copy(), one_f.copy(), one_f.copy(), one_f.copy(),
               np.zeros(1, np.bool_), 1.0, 1.0, one_f.copy(), one_f.copy(), one_f.copy(), np.zeros(1, np.int8),
               np.zeros(1, np.int8), np.zeros(1, np.bool_), np.zeros(6, np.float64), np.zeros(1, np.int64))


def tick(*args: Any) -> int:
    """``NUMBA_TICK`` when numba is installed, else ``tick_numpy`` (same flags either way)."""
    if NUMBA_TICK is not None:
        return NUMBA_TICK(*args)
    return tick_numpy(*args)
