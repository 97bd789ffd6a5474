"""Black-76 prices, greeks and implied volatility against the public vectors of
``shared/vectors/options.md`` (TV-01..TV-06, values copied from there) and against vollib, an
independent implementation (py_vollib's successor)."""

from __future__ import annotations

import math
import warnings

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from solvent.errors import InvalidInput
from solvent.options import coin_delta, coin_value, greeks, implied_vol, price

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from vollib.black import black as vollib_black
    from vollib.black.greeks import analytical as vollib_greeks
    from vollib.black.implied_volatility import implied_volatility as vollib_iv


def test_tv01_black_scholes_through_the_forward() -> None:
    """Hull Ex. 15.6: S 42, K 40, r 10 %, σ 20 %, T 0.5: call 4.759422, put 0.8085994. A stock
    option is Black-76 on the forward S e^{rT}, discounted."""
    forward = 42 * math.exp(0.10 * 0.5)
    assert price("call", forward, 40, 0.2, 0.5, 0.10) == pytest.approx(4.759422393, abs=1e-9)
    assert price("put", forward, 40, 0.2, 0.5, 0.10) == pytest.approx(0.808599373, abs=1e-9)


def test_tv02_price_of_hulls_example_17() -> None:
    forward = 49 * math.exp(0.05 * 0.3846)
    assert price("call", forward, 50, 0.2, 0.3846, 0.05) == pytest.approx(2.4004610870, abs=1e-9)


def test_tv03_black_discounted_and_undiscounted() -> None:
    assert price("call", 100, 100, 0.2, 0.5, 0.02) == pytest.approx(5.5811067246048118, abs=1e-12)
    assert price("call", 100, 100, 0.2, 0.5) == pytest.approx(5.637197779701664, abs=1e-12)


def test_tv04_black_greeks() -> None:
    call = greeks("call", 49, 50, 0.2, 0.3846, 0.05)
    put = greeks("put", 49, 50, 0.2, 0.3846, 0.05)
    assert call.delta == pytest.approx(0.45107017482201828, abs=1e-12)
    assert call.gamma == pytest.approx(0.0640646705882, abs=1e-12)
    assert call.vega == pytest.approx(0.118317785624, abs=1e-12)
    assert call.theta == pytest.approx(-0.00816236877462, abs=1e-12)
    assert put.theta == pytest.approx(-0.00802799155312, abs=1e-12)
    assert call.rho == pytest.approx(-0.0074705380059582258, abs=1e-12)
    assert put.rho == pytest.approx(-0.011243286001308292, abs=1e-12)


def test_tv05_black76_put_at_the_money_equals_the_call() -> None:
    put = price("put", 20, 20, 0.25, 4 / 12, 0.09)
    assert put == pytest.approx(1.116641, abs=1e-6)
    assert put == pytest.approx(price("call", 20, 20, 0.25, 4 / 12, 0.09), abs=1e-12)


def test_tv06_an_inverse_call_in_usd_and_in_coin() -> None:
    g = greeks("call", 100_000, 110_000, 0.6, 30 / 365)
    assert g.price == pytest.approx(3270.260505, abs=1e-6)
    value = coin_value(g.price, 100_000)
    assert round(value, 8) == 0.03270261
    assert round(g.delta, 8) == 0.31986569
    assert round(coin_delta(g.delta, value), 8) == 0.28716308


def test_tv07_inverse_payoff_in_coin() -> None:
    """Deribit's inverse call K 100,000 settled at 125,000: 25,000 USD = 0.2 BTC; premium 0.05
    BTC leaves 0.15 BTC profit. At expiry (t = 0) the value is the intrinsic value."""
    payout = coin_value(price("call", 125_000, 100_000, 0.6, 0.0), 125_000)
    assert payout == pytest.approx(0.2, abs=1e-15)
    assert payout - 0.05 == pytest.approx(0.15, abs=1e-15)


finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["call", "put"]), forward=st.floats(10, 1e6), moneyness=st.floats(0.5, 2.0),
       vol=st.floats(0.05, 3.0), days=st.floats(1, 730), rate=st.floats(0, 0.1))
def test_prices_and_greeks_agree_with_vollib(kind: str, forward: float, moneyness: float, vol: float, days: float,
                                             rate: float) -> None:
    strike, t, flag = forward * moneyness, days / 365, kind[0]
    g = greeks(kind, forward, strike, vol, t, rate)  # type: ignore[arg-type]
    scale = max(forward, strike)
    assert g.price == pytest.approx(vollib_black(flag, forward, strike, t, rate, vol), abs=1e-9 * scale)
    assert g.delta == pytest.approx(vollib_greeks.delta(flag, forward, strike, t, rate, vol), abs=1e-9)
    assert g.gamma == pytest.approx(vollib_greeks.gamma(flag, forward, strike, t, rate, vol), rel=1e-7, abs=1e-15)
    assert g.vega == pytest.approx(vollib_greeks.vega(flag, forward, strike, t, rate, vol), abs=1e-9 * scale)
    assert g.theta == pytest.approx(vollib_greeks.theta(flag, forward, strike, t, rate, vol), abs=1e-9 * scale)
    assert g.rho == pytest.approx(vollib_greeks.rho(flag, forward, strike, t, rate, vol), abs=1e-9 * scale)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["call", "put"]), moneyness=st.floats(0.7, 1.4), vol=st.floats(0.1, 2.0),
       days=st.floats(3, 400))
def test_implied_vol_recovers_the_vol_and_agrees_with_vollib(kind: str, moneyness: float, vol: float,
                                                             days: float) -> None:
    forward, t = 100_000.0, days / 365
    strike = forward * moneyness
    value = price(kind, forward, strike, vol, t)  # type: ignore[arg-type]
    intrinsic = max(forward - strike, 0.0) if kind == "call" else max(strike - forward, 0.0)
    if value - intrinsic < 1e-6 * forward:
        return  # too little time value for the price to tell volatilities apart
    solved = implied_vol(kind, value, forward, strike, t)  # type: ignore[arg-type]
    assert solved == pytest.approx(vol, rel=1e-6)
    assert solved == pytest.approx(vollib_iv(value, forward, strike, 0.0, t, kind[0]), rel=1e-6)


def test_the_price_at_zero_vol_or_time_is_the_intrinsic_value_and_delta_is_a_step() -> None:
    assert price("call", 110, 100, 0.0, 1.0) == 10
    assert price("put", 110, 100, 0.5, 0.0) == 0
    assert greeks("call", 110, 100, 0.0, 1.0).delta == 1.0
    assert greeks("put", 110, 100, 0.0, 1.0).delta == 0.0
    assert greeks("put", 90, 100, 0.0, 1.0).delta == -1.0
    assert greeks("call", 100, 100, 0.0, 1.0).delta == 0.5


@pytest.mark.parametrize(("args", "message"), [
    (("call", -1.0, 100.0, 0.2, 1.0), "forward"),
    (("call", 100.0, 0.0, 0.2, 1.0), "strike"),
    (("call", 100.0, 100.0, -0.2, 1.0), "volatility"),
    (("call", 100.0, 100.0, 0.2, math.nan), "time to expiry"),
    (("straddle", 100.0, 100.0, 0.2, 1.0), "call or put"),
])
def test_bad_inputs_are_refused_with_their_name(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        price(*args)  # type: ignore[arg-type]


def test_implied_vol_refuses_a_price_outside_the_no_arbitrage_range() -> None:
    with pytest.raises(InvalidInput, match="no-arbitrage"):
        implied_vol("call", 5.0, 110, 100, 0.5)  # below the intrinsic 10
    with pytest.raises(InvalidInput, match="no-arbitrage"):
        implied_vol("call", 110.0, 110, 100, 0.5)  # the forward itself
    with pytest.raises(InvalidInput, match="time to expiry"):
        implied_vol("call", 5.0, 100, 100, 0.0)


@pytest.mark.parametrize("rate", [-1e6, 1e6, math.inf, math.nan])
def test_implied_vol_refuses_a_rate_out_of_bounds_as_price_does(rate: float) -> None:
    # e^{-rt} at r = −10⁶ and t = 1 overflows: the bound is checked before anything is computed
    with pytest.raises(InvalidInput, match="rate must be"):
        implied_vol("put", 0.5, 1.0, 1.0, 1.0, rate)
    with pytest.raises(InvalidInput, match="rate must be"):
        price("put", 1.0, 1.0, 0.5, 1.0, rate)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["call", "put"]), moneyness=st.floats(0.2, 5.0), vol=st.floats(0.001, 3.0),
       days=st.floats(0.01, 3650.0))
@example(kind="call", moneyness=1.1, vol=0.04, days=30.0)
def test_a_price_is_never_below_the_intrinsic_value(kind: str, moneyness: float, vol: float, days: float) -> None:
    """Found by a new-user pass: far out of the money, F N(d1) − K N(d2) cancels to a few ulps of
    the forward and came out negative (−5.6e-13 for a 110,000 call on 100,000 at σ 4 %)."""
    forward = 100_000.0
    strike = forward * moneyness
    value = price(kind, forward, strike, vol, days / 365)  # type: ignore[arg-type]
    assert value >= (max(forward - strike, 0.0) if kind == "call" else max(strike - forward, 0.0))


def test_a_premium_within_the_formulas_float_noise_implies_no_volatility() -> None:
    """A premium of 1e-20 on a 110,000 call (forward 100,000) was answered with σ 4.0 %, whose
    price is float noise, not the premium; it is refused."""
    assert price("call", 100_000.0, 110_000.0, 0.04, 30 / 365) >= 0.0
    with pytest.raises(InvalidInput, match="float resolution"):
        implied_vol("call", 1e-20, 100_000.0, 110_000.0, 30 / 365)
