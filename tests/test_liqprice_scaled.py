"""The service's liquidation price reads the volatility MM scale the engine margins with.

Expected price: a hand computation. A long of 0.1 BTC at 60,000 with a 1,000 USDT wallet has
equity ``1,000 + 0.1 × (P − 60,000)`` and, in Binance's first BTCUSDT tier (MMR 0.4 %, no
deduction), a scaled MM of ``s × 0.004 × 0.1 × P``; they meet at
``P = 5,000 / (0.1 − 0.0004 × s)``, rounded up to the 0.1 tick (a long's liquidation price is
rounded against the holder).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from solvent import load_venue
from solvent.engine import AdvanceTime, Deposit, Engine, EngineConfig, Fill, PriceUpdate
from solvent.risk.volatility import VolatilityMMRule, VolScalingPolicy
from solvent.service.liqprice import liquidation_prices
from solvent.units import round_up

D = Decimal
RULE = VolatilityMMRule(VolScalingPolicy(D("0.004"), D("0.01"), D("0.004"), D("0.04"), D("0.25")),
                        update_interval_ms=1_000, window=2, lookback_ms=10_000)


def test_the_liquidation_price_of_a_scaled_position_is_where_the_scaled_mm_meets_equity() -> None:
    engine = Engine(EngineConfig(load_venue("binance-usdm"), volatility_mm=RULE))
    for cmd in (AdvanceTime(0), PriceUpdate("BTCUSDT", "b", D(58800)), AdvanceTime(1_000),
                PriceUpdate("BTCUSDT", "b", D(60000)), AdvanceTime(2_000), Deposit("alice", "USDT", D(1000)),
                Deposit("bob", "USDT", D(10) ** 9), Fill("t1", "BTCUSDT", D(60000), D("0.1"), "alice", "bob")):
        assert engine.apply(cmd).accepted
    volatility = engine.state.markets["BTCUSDT"].volatility
    assert volatility is not None
    s = volatility.scale
    assert s > 2  # σ = ln(60,000 / 58,800) ≈ 0.0202 against a 0.01 base: about 2.02×
    exact = Fraction(5000) / (Fraction(1, 10) - Fraction(4, 10_000) * Fraction(s))
    expected = round_up(D(exact.numerator) / D(exact.denominator), D("0.1"))
    unscaled = round_up(D(5000) / (D("0.1") - D("0.0004")), D("0.1"))
    assert expected > unscaled + 200  # the scale moves the price by hundreds of dollars
    prices = liquidation_prices(engine.state.accounts["alice"], engine.margin("alice"), engine.margin_view())
    assert prices[("BTCUSDT", "both")].price == expected
