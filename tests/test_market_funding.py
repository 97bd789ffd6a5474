"""Premium index, funding rates (Binance, dYdX) and exact funding payments."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvent.errors import InvalidInput
from solvent.market import (
    average_premium,
    clamp_rate,
    dydx_funding_rate,
    funding_payments,
    funding_rate,
    premium_index,
)

D = Decimal
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.mark.parametrize(
    ("bid", "ask", "index", "expected"),
    [
        # (max(0, 30030 − 30000) − max(0, 30000 − 30040)) / 30000 = 30 / 30000
        pytest.param("30030", "30040", "30000", "0.001", id="bids above the index: +0.001"),
        # (0 − (30000 − 29970)) / 30000 = −30 / 30000
        pytest.param("29960", "29970", "30000", "-0.001", id="asks below the index: −0.001"),
        pytest.param("29990", "30010", "30000", "0", id="the index inside the spread: zero"),
    ],
)
def test_premium_index(bid: str, ask: str, index: str, expected: str) -> None:
    assert premium_index(D(bid), D(ask), D(index)) == D(expected)


def test_premium_index_rejects_a_crossed_impact_book() -> None:
    with pytest.raises(InvalidInput):
        premium_index(D(30010), D(30000), D(30000))


def test_average_premium_weights_later_minutes_more() -> None:
    # (1·0.0003 + 2·0.0006 + 3·0.0009) / (1 + 2 + 3) = 0.0042 / 6
    samples = [D("0.0003"), D("0.0006"), D("0.0009")]
    assert average_premium(samples) == D("0.0007")


@pytest.mark.parametrize(
    ("premium", "cap", "floor", "expected"),
    [
        # I − P = 0.0001 − 0.0003 = −0.0002, inside ±0.0005: F = 0.0003 − 0.0002
        pytest.param("0.0003", None, None, "0.0001", id="a small premium pays the interest rate"),
        # I − P = −0.0009 → clamped to −0.0005: F = 0.001 − 0.0005
        pytest.param("0.001", None, None, "0.0005", id="a high premium is reduced by 0.05%"),
        # I − P = 0.0011 → clamped to +0.0005: F = −0.001 + 0.0005
        pytest.param("-0.001", None, None, "-0.0005", id="a discount is lifted by 0.05%"),
        # F = 0.01 − 0.0005 = 0.0095 → cap 0.003
        pytest.param("0.01", "0.003", "-0.003", "0.003", id="a huge premium is capped"),
        # F = −0.01 + 0.0005 = −0.0095 → floor −0.003
        pytest.param("-0.01", "0.003", "-0.003", "-0.003", id="a huge discount is floored"),
    ],
)
def test_binance_funding_rate(
    premium: str, cap: str | None, floor: str | None, expected: str
) -> None:
    cap_d = None if cap is None else D(cap)
    floor_d = None if floor is None else D(floor)
    assert funding_rate(D(premium), cap=cap_d, floor=floor_d) == D(expected)


def test_clamp_rate_rejects_a_floor_above_the_cap() -> None:
    with pytest.raises(InvalidInput):
        clamp_rate(D(0), D("0.01"), D("-0.01"))


# Copied from /work/shared/vectors/public.json, D-FUND-1:
# inputs funding_clamp_factor_ppm 6000000, imf_ppm 150000, mf_ppm 800000
# expected max_abs_funding_clamp_ppm 180000
# source: dydxprotocol/v4-chain protocol/x/perpetuals/types/liquidity_tier_test.go
# TestLiquidityTierGetMaxAbsFundingClampPpm (clamp = factor*(IMF-MMF), MMF=IMF*MF)
D_FUND_1_MAX_ABS = D(180_000) / D(1_000_000)


@pytest.mark.parametrize(
    ("premium", "expected"),
    [
        pytest.param("0.25", "0.18", id="D-FUND-1 a 25% premium is clamped to the 18% tier bound"),
        pytest.param("-0.3", "-0.18", id="D-FUND-1 a 30% discount is clamped to −18%"),
        pytest.param("0.0125", "0.0125", id="D-FUND-1 a rate inside the bound is unchanged"),
    ],
)
def test_dydx_funding_rate(premium: str, expected: str) -> None:
    assert dydx_funding_rate(D(premium), D_FUND_1_MAX_ABS) == D(expected)


def test_funding_payments_round_charges_up_credits_down_and_report_the_residue() -> None:
    # exact changes at mark 30000.5, rate 0.0001 (per unit: 3.00005):
    #   b +2   → −6.0001   → charged 6.01
    #   a −1.5 → +4.500075 → credited 4.50
    #   c −0.5 → +1.500025 → credited 1.50
    # residue = 6.01 − (4.50 + 1.50) = 0.01
    positions = [("b", D(2)), ("a", D("-1.5")), ("c", D("-0.5"))]
    result = funding_payments(positions, D("30000.5"), D("0.0001"), D("0.01"))
    assert [(p.account_id, p.amount_quote) for p in result.payments] == [
        ("a", D("4.50")),
        ("b", D("-6.01")),
        ("c", D("1.50")),
    ]
    assert result.residue == D("0.01")


def test_shorts_pay_longs_when_the_rate_is_negative() -> None:
    # 1 × 20000 × 0.0002 = 4 exactly: no rounding, no residue
    result = funding_payments([("long", D(1)), ("short", D(-1))], D(20000), D("-0.0002"), D(1))
    assert [(p.account_id, p.amount_quote) for p in result.payments] == [
        ("long", D(4)),
        ("short", D(-4)),
    ]
    assert result.residue == 0


def test_hedge_mode_legs_of_one_account_are_netted_before_rounding() -> None:
    positions = [("a", D(3)), ("b", D(-1)), ("a", D(-2))]
    result = funding_payments(positions, D(100), D("0.01"), D("0.01"))
    assert [(p.account_id, p.qty_base, p.amount_quote) for p in result.payments] == [
        ("a", D(1), D(-1)),
        ("b", D(-1), D(1)),
    ]


def test_an_unbalanced_book_is_rejected() -> None:
    with pytest.raises(InvalidInput):
        funding_payments([("a", D(1)), ("b", D("-0.9"))], D(100), D("0.0001"), D("0.01"))


quanta = st.sampled_from([D("0.01"), D("0.0001"), D("0.00000001"), D(1)])
qty = st.integers(min_value=-(10**6), max_value=10**6).map(lambda k: D(k) / 1000)


@given(
    open_qty=st.lists(st.tuples(st.sampled_from("abcdefghij"), qty), min_size=1, max_size=20),
    closer=st.sampled_from("abcdefghijk"),
    mark=st.integers(min_value=1, max_value=10**9).map(lambda k: D(k) / 100),
    rate=st.integers(min_value=-(10**6), max_value=10**6).map(lambda k: D(k) / 10**8),
    quantum=quanta,
)
def test_funding_payments_plus_residue_sum_to_exactly_zero(
    open_qty: list[tuple[str, Decimal]], closer: str, mark: Decimal, rate: Decimal, quantum: Decimal
) -> None:
    positions = [*open_qty, (closer, -sum((q for _, q in open_qty), D(0)))]
    result = funding_payments(positions, mark, rate, quantum)
    assert sum((p.amount_quote for p in result.payments), D(0)) + result.residue == 0
    assert 0 <= result.residue < quantum * len(result.payments)
    ids = [p.account_id for p in result.payments]
    assert ids == sorted(set(ids))
    for p in result.payments:
        exact = -p.qty_base * mark * rate
        assert exact - quantum < p.amount_quote <= exact  # charged up, credited down
        assert p.amount_quote % quantum == 0


FUNDING_CSV = SHARED / "data" / "funding" / "BTCUSDT-um-funding-8h-2025-05-25_2025-06-24.csv"


@pytest.mark.skipif(not FUNDING_CSV.exists(), reason=f"real funding data not found: {FUNDING_CSV}")
def test_real_btcusdt_rates_lie_inside_binances_cap_and_floor() -> None:
    # Binance caps the funding rate at ±0.75 × the tier-1 maintenance margin rate; BTCUSDT
    # tier 1 has MMR 0.4 %, so the bound is ±0.003. Applying that cap/floor to the 89 real
    # 8-hour rates (2025-05-25 → 2025-06-24) must change none of them.
    with FUNDING_CSV.open(newline="") as handle:
        rates = [D(row["funding_rate"]) for row in csv.DictReader(handle)]
    assert len(rates) == 89
    cap, floor = D("0.75") * D("0.004"), -D("0.75") * D("0.004")
    assert [clamp_rate(r, floor, cap) for r in rates] == rates
    # The clamp's flat zone: every premium in [I − 0.05%, I + 0.05%] pays exactly
    # I = 0.0001, and in the real series that exact value is the most frequent one.
    assert rates.count(D("0.0001")) == max(rates.count(r) for r in rates)
    assert funding_rate(D("-0.0004")) == funding_rate(D("0.0006")) == D("0.0001")
