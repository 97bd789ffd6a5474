"""Black-76: European options on a forward, their greeks and implied volatility (floats).

The pricing math is float (log, exp, the normal CDF); money is not. Every amount charged or
paid from these numbers is rounded once, conservatively, into ``Decimal`` by the caller
(``options.margin``; the rule is in ``docs/exact-money.md``).

Conventions (those of py_vollib / vollib, so a desk can compare):

* ``t`` in years of 365 days; ``r`` the continuously compounded rate used to discount (0: the
  price is undiscounted, as on crypto venues where the premium is paid at once);
* ``delta`` = ∂V/∂F, ``gamma`` = ∂²V/∂F²; ``vega`` per volatility point (∂V/∂σ × 0.01);
  ``theta`` per day (∂V/∂t over 365, negative as time passes); ``rho`` per rate point
  (∂V/∂r × 0.01 = −t × V × 0.01 with the forward held).

An inverse (coin-settled, Deribit-style) option pays the USD payoff divided by the index:
its value in coin is the USD value over the index (``coin_value``) and its delta in coin is
``Δ − V_coin`` (``coin_delta``), with the forward taken as the index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from solvent.errors import InvalidInput
from solvent.options._formulas import cdf, undiscounted

__all__ = ["Greeks", "OptionKind", "coin_delta", "coin_value", "greeks", "implied_vol", "price"]

OptionKind = Literal["call", "put"]

MAX_VOL = 20.0
"""The highest volatility priced: 2,000 % (a larger number is a percentage typed as a fraction)."""
MIN_PRICE, MAX_PRICE = 1e-8, 1e12
"""Forwards and strikes priced: inside these the formulas' floats cannot overflow."""
MAX_YEARS = 100.0
MAX_RATE = 1.0

def _density(x: float) -> float:
    """The standard normal density."""
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True, slots=True)
class Greeks:
    price: float
    delta: float
    gamma: float
    vega: float
    """Per volatility point (0.01)."""
    theta: float
    """Per day (1/365 of a year)."""
    rho: float
    """Per rate point (0.01)."""


def _check(kind: str, forward: float, strike: float, vol: float, t: float) -> None:
    if kind not in ("call", "put"):
        raise InvalidInput(f"option type must be call or put, got {kind!r}")
    for name, value in (("forward", forward), ("strike", strike)):
        if not math.isfinite(value) or value <= 0:
            raise InvalidInput(f"{name} must be a finite number > 0, got {value}")
    for name, value in (("volatility", vol), ("time to expiry", t)):
        if not math.isfinite(value) or value < 0:
            raise InvalidInput(f"{name} must be a finite number >= 0, got {value}")
    if vol > MAX_VOL:
        raise InvalidInput(f"volatility {vol} is above {MAX_VOL:g} (a fraction: 0.6 is 60 %)")
    if not MIN_PRICE <= forward <= MAX_PRICE or not MIN_PRICE <= strike <= MAX_PRICE:
        raise InvalidInput(f"forward and strike must be between {MIN_PRICE:g} and {MAX_PRICE:g}")
    if t > MAX_YEARS:
        raise InvalidInput(f"time to expiry must be at most {MAX_YEARS:g} years")


def _check_rate(r: float) -> None:
    """The discount rate's bounds (``price`` and ``implied_vol`` alike: ``e^{-rt}`` stays finite)."""
    if not math.isfinite(r) or abs(r) > MAX_RATE:
        raise InvalidInput(f"rate must be a finite number between -{MAX_RATE:g} and {MAX_RATE:g}, got {r}")


def _intrinsic(kind: OptionKind, forward: float, strike: float) -> float:
    return max(forward - strike, 0.0) if kind == "call" else max(strike - forward, 0.0)


def price(kind: OptionKind, forward: float, strike: float, vol: float, t: float, r: float = 0.0) -> float:
    """The Black-76 value of a European ``kind`` on ``forward``: ``e^{-rt} (F N(d1) − K N(d2))``
    for a call, ``e^{-rt} (K N(−d2) − F N(−d1))`` for a put; the discounted intrinsic value
    when ``vol`` or ``t`` is 0."""
    _check(kind, forward, strike, vol, t)
    _check_rate(r)
    return math.exp(-r * t) * undiscounted(kind == "call", forward, strike, vol, t)


def greeks(kind: OptionKind, forward: float, strike: float, vol: float, t: float, r: float = 0.0) -> Greeks:
    """Price and greeks (module docstring for units). At ``vol × √t = 0`` the option is its
    intrinsic value: delta is 1, −1 or 0 (0.5 and −0.5 exactly at the money), the rest 0."""
    value = price(kind, forward, strike, vol, t, r)
    discount = math.exp(-r * t)
    root = vol * math.sqrt(t)
    rho = -t * value * 0.01
    if root == 0:
        side = 1.0 if kind == "call" else -1.0
        moneyness = (forward > strike) - (forward < strike)
        delta = discount * side * (1.0 if moneyness == side else 0.5 if moneyness == 0 else 0.0)
        # the discounted intrinsic value still earns the rate as expiry nears (found by a new-user
        # pass: theta was 0 whatever the rate); the same r·V as the general case's second term
        return Greeks(value, delta, 0.0, 0.0, r * value / 365.0, rho)
    d1 = (math.log(forward / strike) + 0.5 * root * root) / root
    d2 = d1 - root
    density = _density(d1)
    gamma = discount * density / (forward * root)
    vega = discount * forward * density * math.sqrt(t) * 0.01
    decay = -discount * forward * density * vol / (2 * math.sqrt(t))
    if kind == "call":
        delta = discount * cdf(d1)
        theta = decay + r * discount * (forward * cdf(d1) - strike * cdf(d2))
    else:
        delta = -discount * cdf(-d1)
        theta = decay + r * discount * (strike * cdf(-d2) - forward * cdf(-d1))
    out = Greeks(value, delta, gamma, vega, theta / 365.0, rho)
    if not all(map(math.isfinite, (value, delta, gamma, vega, out.theta, rho))):  # gamma overflows (new-user pass)
        raise InvalidInput(f"the greeks overflow at vol × √t = {root:g}: give a larger volatility or time to expiry")
    return out


IV_LOW, IV_HIGH = 1e-6, 20.0
"""The volatilities ``implied_vol`` searches between (0.0001 % to 2,000 %)."""


RESOLUTION = 1e-10
"""Below this fraction of the larger of forward and strike, a price above the intrinsic value
is float noise of Black-76 (a difference of two products), not a volatility's."""


def implied_vol(kind: OptionKind, value: float, forward: float, strike: float, t: float, r: float = 0.0,
                tolerance: float = 1e-12) -> float:
    """The volatility at which ``price`` equals ``value``: Newton steps kept inside a bracket
    that bisection narrows (the price is increasing in σ), to ``tolerance`` in price.

    Refuses a value outside the no-arbitrage range (below the discounted intrinsic value or
    at or above the discounted forward or strike) and one no volatility in
    ``[IV_LOW, IV_HIGH]`` reaches."""
    _check(kind, forward, strike, 0.0, t)
    _check_rate(r)
    if not math.isfinite(value) or t <= 0:
        raise InvalidInput("implied volatility needs a finite price and a time to expiry > 0")
    discount = math.exp(-r * t)
    floor = discount * _intrinsic(kind, forward, strike)
    cap = discount * (forward if kind == "call" else strike)
    if not floor < value < cap:
        raise InvalidInput(f"price {value} is outside the no-arbitrage range ({floor}, {cap}) of this {kind}")
    if value - floor <= RESOLUTION * max(forward, strike):
        raise InvalidInput(f"price {value} is within the formula's float resolution of the intrinsic value {floor}: "
                           "no volatility can be implied from it")
    low, high = IV_LOW, IV_HIGH
    if price(kind, forward, strike, high, t, r) < value or price(kind, forward, strike, low, t, r) > value:
        raise InvalidInput(f"no volatility between {IV_LOW} and {IV_HIGH} prices this {kind} at {value}")
    vol = 0.5
    for _ in range(200):
        g = greeks(kind, forward, strike, vol, t, r)
        error = g.price - value
        if abs(error) <= tolerance:
            return vol
        if error > 0:
            high = vol
        else:
            low = vol
        slope = g.vega * 100.0  # ∂V/∂σ
        step = vol - error / slope if slope > 0 else math.nan
        vol = step if low < step < high else 0.5 * (low + high)
        if high - low < 1e-15:
            return vol
    return vol


def coin_value(usd_value: float, index: float) -> float:
    """An inverse option's value in coin: its USD value over the index."""
    if not math.isfinite(index) or index <= 0:
        raise InvalidInput(f"index must be a finite number > 0, got {index}")
    return usd_value / index


def coin_delta(usd_delta: float, value_coin: float) -> float:
    """An inverse option's delta in coin, ``Δ_USD − V_coin`` (the premium itself is in coin and
    moves with the index)."""
    return usd_delta - value_coin
