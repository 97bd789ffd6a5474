"""The square-root law unwind cost (``stress/unwind.py``): hand-computed values, the law's
scalings, and bad input refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvent.errors import InvalidInput
from solvent.stress.unwind import UnwindMarket, unwind_cost, unwind_impact

D = Decimal


def test_the_hyperliquid_whale_worked_example() -> None:
    """Q = $307M, σ_d = 3.5 %, V = $3.5B, Y = 1: Q ÷ V = 307 ÷ 3500 = 0.0877142857…, whose
    square root is 0.2961659766…; I = 0.035 × 0.2961659766 = 0.0103658092; cost = I × Q =
    3,182,303.4…, rounded up to the dollar 3,182,304."""
    market = UnwindMarket(D("0.035"), D(3_500_000_000))
    impact = unwind_impact(D(307_000_000), market)
    assert abs(impact - D("0.0103658")) < D("0.0000001")
    assert unwind_cost(D(307_000_000), market, D(1)) == D(3_182_304)
    assert unwind_cost(D(-307_000_000), market, D(1)) == D(3_182_304)  # a short costs the same to buy back


def test_a_position_the_size_of_a_days_volume_moves_the_price_by_one_daily_sigma() -> None:
    """Q = V: sqrt(1) = 1, so I = Y × σ_d exactly (Y = 0.5, σ_d = 4 %: 2 %; cost 2 % of 10^6)."""
    market = UnwindMarket(D("0.04"), D(1_000_000), y=D("0.5"))
    assert unwind_impact(D(1_000_000), market) == D("0.02")
    assert unwind_cost(D(1_000_000), market, D("0.01")) == D(20_000)


def test_nothing_to_unwind_costs_nothing() -> None:
    assert unwind_cost(D(0), UnwindMarket(D("0.03"), D(10**9)), D("0.01")) == 0


def test_the_cost_is_rounded_up_to_the_quantum() -> None:
    """Q = 1, V = 100, σ = 1 %: I = 0.01 × 0.1 = 0.001, cost 0.001 → 0.01 at a cent."""
    assert unwind_cost(D(1), UnwindMarket(D("0.01"), D(100)), D("0.01")) == D("0.01")


sizes = st.decimals(min_value=1, max_value=10**12, places=2)


@given(sizes, sizes, st.integers(min_value=2, max_value=1000))
def test_four_times_the_position_doubles_the_impact_and_scaling_volume_alike_changes_nothing(
        q: Decimal, v: Decimal, k: int) -> None:
    """The square root: I(4Q) = 2·I(Q); I(kQ) with volume kV = I(Q) (only Q ÷ V counts)."""
    market = UnwindMarket(D("0.03"), v)
    base = unwind_impact(q, market)
    assert abs(unwind_impact(4 * q, market) - 2 * base) <= base * D("1e-25")
    assert abs(unwind_impact(k * q, UnwindMarket(D("0.03"), k * v)) - base) <= base * D("1e-25")


@given(sizes, sizes, sizes)
def test_more_volume_never_costs_more(q: Decimal, v: Decimal, more: Decimal) -> None:
    assert unwind_cost(q, UnwindMarket(D("0.03"), v + more), D(1)) <= unwind_cost(q, UnwindMarket(D("0.03"), v), D(1))


@pytest.mark.parametrize(("market", "notional", "quantum", "words"), [
    (UnwindMarket(D(0), D(1)), D(1), D(1), "daily_volatility must lie in"),
    (UnwindMarket(D("0.03"), D(-5)), D(1), D(1), "daily_volume must lie in"),
    (UnwindMarket(D("0.03"), D("Infinity")), D(1), D(1), "daily_volume"),
    (UnwindMarket(D("0.03"), D(1), y=D("NaN")), D(1), D(1), "y must lie in"),
    (UnwindMarket(D("0.03"), D(1)), D("Infinity"), D(1), "notional must be a Decimal"),
    (UnwindMarket(D("0.03"), D(1)), D(1), D(0), "quantum must lie in"),
    (UnwindMarket(0.03, D(1)), D(1), D(1), "daily_volatility must be a Decimal"),  # type: ignore[arg-type]
    (UnwindMarket(D("0.03"), D(1)), 5, D(1), "notional must be"),  # type: ignore[arg-type]
    (UnwindMarket(D(50), D(1)), D(1), D(1), "daily_volatility must lie in"),
    (UnwindMarket(D("0.03"), D(1)), D("1e400"), D(1), "notional must be"),
    (None, D(1), D(1), "market must be an UnwindMarket"),
])
def test_bad_input_is_refused_naming_the_field(market: UnwindMarket, notional: Decimal, quantum: Decimal,
                                               words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        unwind_cost(notional, market, quantum)


def test_the_callers_decimal_context_changes_nothing() -> None:
    import decimal

    market = UnwindMarket(D("0.035"), D(3_500_000_000))
    with decimal.localcontext(prec=3):
        assert unwind_cost(D(307_000_000), market, D(1)) == D(3_182_304)
