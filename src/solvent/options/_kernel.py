"""The loops that value a scenario grid for a whole book (``options.scenario_book``): numba
when it is installed (``pip install solvent[fast]``), else the same loops as Python over the
same numpy arrays. They call the formulas of ``options._formulas``, the ones the scalar path
(``black76``, ``margin``) runs, compiled by numba alongside them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from solvent.engine._jit import njit, numba_or_none
from solvent.options._formulas import shocked_vol, undiscounted

__all__ = ["COMPILED", "KIND_CALL", "KIND_FUTURE", "KIND_PUT", "account_loop", "reprice_loop"]

KIND_CALL, KIND_PUT, KIND_FUTURE = 0, 1, 2


def _reprice_loop_py(kind: NDArray[np.int8], inverse: NDArray[np.bool_], forward: NDArray[np.float64],
                     strike: NDArray[np.float64], vol: NDArray[np.float64], years: NDArray[np.float64],
                     index: NDArray[np.float64], moves: NDArray[np.float64], legs: NDArray[np.int8],
                     look_ahead: float, shock: NDArray[np.float64], absolute: bool,
                     out: NDArray[np.float64]) -> None:
    """``out[i, s]``: one unit of instrument ``i``'s P&L in scenario ``s`` (unweighted), in its
    settlement asset. ``shock``: up, down, min_up, power_short, power_long, reference days."""
    for i in range(kind.shape[0]):
        k = kind[i]
        if k == KIND_FUTURE:
            for s in range(moves.shape[0]):
                m = moves[s]
                out[i, s] = 1.0 - 1.0 / (1.0 + m) if inverse[i] else forward[i] * m
            continue
        is_call = k == KIND_CALL
        now = undiscounted(is_call, forward[i], strike[i], vol[i], years[i])
        if inverse[i]:
            now = now / index[i]
        later = max(years[i] - look_ahead, 0.0)
        days = years[i] * 365.0
        for s in range(moves.shape[0]):
            m = moves[s]
            sigma = shocked_vol(vol[i], days, legs[s], absolute, shock[0], shock[1], shock[2], shock[3], shock[4],
                                shock[5])
            value = undiscounted(is_call, forward[i] * (1.0 + m), strike[i], sigma, later)
            if inverse[i]:
                value = value / (index[i] * (1.0 + m))
            out[i, s] = value - now


def _account_loop_py(indptr: NDArray[np.int64], instrument: NDArray[np.int64], qty: NDArray[np.float64],
                     unit: NDArray[np.float64], weights: NDArray[np.float64], out: NDArray[np.float64],
                     worst: NDArray[np.float64], worst_at: NDArray[np.int64]) -> None:
    """``out[a, s]``: account ``a``'s P&L in scenario ``s``, its positions' ``qty × unit`` added
    in the order they are held, then weighted; ``worst[a]`` the lowest, ``worst_at[a]`` where
    (the first of equals)."""
    scenarios = unit.shape[1]
    for a in range(indptr.shape[0] - 1):
        low, at = math.inf, 0
        for s in range(scenarios):
            total = 0.0
            for j in range(indptr[a], indptr[a + 1]):
                total += qty[j] * unit[instrument[j], s]
            total = total * weights[s]
            out[a, s] = total
            if total < low:
                low, at = total, s
        worst[a] = low
        worst_at[a] = at


_NUMBA = numba_or_none()
if _NUMBA is not None:  # the loops below see the compiled formulas (globals are read at compile time)
    undiscounted = njit(_NUMBA, inline="always")(undiscounted)
    shocked_vol = njit(_NUMBA, inline="always")(shocked_vol)
reprice_loop: Callable[..., None] = _reprice_loop_py if _NUMBA is None else njit(_NUMBA)(_reprice_loop_py)
account_loop: Callable[..., None] = _account_loop_py if _NUMBA is None else njit(_NUMBA)(_account_loop_py)
COMPILED = _NUMBA is not None
"""Whether the loops run compiled (numba) or as Python."""
