"""The option formulas every path runs, one home: Black-76's undiscounted value, the normal
CDF, and the scenario grid's volatility shock. Plain Python on floats, so the scalar path
(``black76``, ``margin``) needs nothing installed; ``_kernel`` compiles the same functions with
numba for a whole book.
"""

from __future__ import annotations

import math

__all__ = ["cdf", "shocked_vol", "undiscounted"]

SQRT2 = math.sqrt(2.0)


def cdf(x: float) -> float:
    """The standard normal CDF (``statistics.NormalDist().cdf``'s formula, operation for operation)."""
    return 0.5 * (1.0 + math.erf(x / SQRT2))


def undiscounted(is_call: bool, forward: float, strike: float, vol: float, t: float) -> float:
    """Black-76 without the discount factor, never below the intrinsic value (the intrinsic value
    when ``vol × √t`` is 0). The CDF is written out (``cdf``'s operations): numba compiles this
    function on its own."""
    root = vol * math.sqrt(t)
    if root == 0.0:
        return max(forward - strike, 0.0) if is_call else max(strike - forward, 0.0)
    d1 = (math.log(forward / strike) + 0.5 * root * root) / root
    d2 = d1 - root
    if is_call:
        value = forward * (0.5 * (1.0 + math.erf(d1 / SQRT2))) - strike * (0.5 * (1.0 + math.erf(d2 / SQRT2)))
        intrinsic = max(forward - strike, 0.0)
    else:
        value = strike * (0.5 * (1.0 + math.erf(-d2 / SQRT2))) - forward * (0.5 * (1.0 + math.erf(-d1 / SQRT2)))
        intrinsic = max(strike - forward, 0.0)
    # the difference of two products cancels to a few ulps of the forward, and can fall below
    # the intrinsic value (a negative price far out of the money): never below it
    return intrinsic if value < intrinsic else value  # (a NaN stays NaN: it is refused, not priced)


def shocked_vol(vol: float, days: float, leg: int, absolute: bool, up: float, down: float, min_up: float,
                power_short: float, power_long: float, reference: float) -> float:
    """``vol`` in volatility leg ``leg`` (0 up, 1 same, 2 down) for an option ``days`` from expiry
    (``options.margin.shocked_vol`` documents the rule)."""
    if leg == 1:
        return vol
    if absolute:
        return vol + up if leg == 0 else max(vol - down, 0.0)
    power = power_short if days < reference else power_long
    factor: float = (reference / days) ** power
    if leg == 0:
        return max(vol * (1.0 + up * factor), min_up)
    return max(vol * (1.0 - down * factor), 0.0)


