"""Optional fused numba kernels of the columnar screen (``pip install solvent[fast]``).

The same equations, bound and decision tree as ``_columnar_numpy``, fused into one loop per
account so each column is read once. Neither screen takes the venue's trigger (≤ or <): it
matters only at equity = MM exactly, which lies within the bound, so such an account is always
confirmed exactly through ``risk.levels``. ``KERNELS`` is ``None`` when numba is not installed;
the book then uses the numpy kernels. Either way every ambiguous account is decided
exactly by the caller, so the backend never changes a level.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
from numpy.typing import NDArray

from solvent.engine._columnar_numpy import AMBIGUOUS, BOUND_SLACK, ERR_UNIT, TINY, Screen
from solvent.engine._jit import njit

__all__ = ["KERNELS", "NumbaKernels"]


def _account_level(a: int, ptr: Any, inst: Any, qty_f: Any, entry_f: Any, tier: Any, coll_f: Any,
                   mark_f: Any, toff: Any, floor_f: Any, cap_f: Any, rate_f: Any, amount_f: Any,
                   warning: float, margin_call: float, factor: float) -> int:
    start, stop = ptr[a], ptr[a + 1]
    equity = coll_f[a]
    mm = 0.0
    size = abs(coll_f[a])
    for p in range(start, stop):
        m = inst[p]
        mark = mark_f[m]
        q = qty_f[p]
        e = entry_f[p]
        aq = abs(q)
        notional = aq * mark
        row = toff[m] + tier[p]
        if notional < floor_f[row] or notional >= cap_f[row]:  # left the cached tier
            base = toff[m]
            last = toff[m + 1] - 1
            while row > base and notional < floor_f[row]:
                row -= 1
            while row < last and notional >= cap_f[row]:
                row += 1
            tier[p] = row - base
        amount = amount_f[row]
        equity += q * (mark - e)
        mm += notional * rate_f[row] - amount
        size += 5.0 * notional + aq * abs(e) + abs(amount)
    if stop == start:  # no positions: MM is exactly 0, equity the collateral (its float has its sign)
        return 4 if equity < 0.0 else 0
    bound = ((stop - start) + BOUND_SLACK) * (ERR_UNIT * factor) * size + TINY
    if equity < -bound:
        return 4
    if not equity > bound:
        return AMBIGUOUS
    if mm < -bound:
        return 0
    if not mm > bound:
        return AMBIGUOUS
    gap = equity - mm
    if gap < -bound:
        return 3
    if not gap > bound:
        return AMBIGUOUS
    gap = mm - margin_call * equity
    if not abs(gap) > bound:
        return AMBIGUOUS
    if gap > 0.0:
        return 2
    gap = mm - warning * equity
    if not abs(gap) > bound:
        return AMBIGUOUS
    return 1 if gap > 0.0 else 0


def _screen_all(ptr: Any, inst: Any, qty_f: Any, entry_f: Any, tier: Any, coll_f: Any, mark_f: Any,
                toff: Any, floor_f: Any, cap_f: Any, rate_f: Any, amount_f: Any, warning: float,
                margin_call: float, factor: float, out: Any, amb: Any) -> int:
    n_amb = 0
    for a in range(coll_f.shape[0]):
        lv = _LEVEL(a, ptr, inst, qty_f, entry_f, tier, coll_f, mark_f, toff, floor_f, cap_f,
                    rate_f, amount_f, warning, margin_call, factor)
        out[a] = lv
        if lv == AMBIGUOUS:
            amb[n_amb] = a
            n_amb += 1
    return n_amb


def _screen_accounts(accounts: Any, ptr: Any, inst: Any, qty_f: Any, entry_f: Any, tier: Any, coll_f: Any,
                     mark_f: Any, toff: Any, floor_f: Any, cap_f: Any, rate_f: Any, amount_f: Any,
                     warning: float, margin_call: float, factor: float, out: Any) -> None:
    for k in range(accounts.shape[0]):
        out[k] = _LEVEL(accounts[k], ptr, inst, qty_f, entry_f, tier, coll_f, mark_f, toff, floor_f,
                        cap_f, rate_f, amount_f, warning, margin_call, factor)


_LEVEL: Any = None


class NumbaKernels:
    """Compiled kernels (compiled lazily on first call, cached on disk)."""

    def __init__(self, numba: Any) -> None:
        global _LEVEL
        jit = njit(numba, nogil=True, boundscheck=False)
        _LEVEL = njit(numba, nogil=True, inline="always")(_account_level)
        self._all = jit(_screen_all)
        self._some = jit(_screen_accounts)

    def screen_all(self, sc: Screen, amb: NDArray[np.int64]) -> tuple[NDArray[np.int8], int]:
        """All accounts' screened levels into a new array; ambiguous indices into ``amb``."""
        out = np.empty(sc.collateral_f.shape[0], dtype=np.int8)
        t = sc.tiers
        n_amb = self._all(sc.ptr, sc.instrument, sc.qty_f, sc.entry_f, sc.tier, sc.collateral_f, sc.mark_f,
                          t.offset, t.floor_f, t.cap_f, t.rate_f, t.amount_f, sc.warning_f, sc.margin_call_f,
                          sc.ratio_factor, out, amb)
        return out, int(n_amb)

    def screen_accounts(self, sc: Screen, accounts: NDArray[np.int64]) -> NDArray[np.int8]:
        """Screened levels of ``accounts``."""
        out = np.empty(accounts.shape[0], dtype=np.int8)
        t = sc.tiers
        self._some(accounts, sc.ptr, sc.instrument, sc.qty_f, sc.entry_f, sc.tier, sc.collateral_f, sc.mark_f,
                   t.offset, t.floor_f, t.cap_f, t.rate_f, t.amount_f, sc.warning_f, sc.margin_call_f,
                   sc.ratio_factor, out)
        return out


def _load() -> NumbaKernels | None:
    try:
        numba = importlib.import_module("numba")
    except ImportError:
        return None
    return NumbaKernels(numba)


KERNELS: NumbaKernels | None = _load()
