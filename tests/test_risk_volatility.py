"""EWMA volatility and the volatility-scaled maintenance rate with its APC floor.

Expected values are hand computations written out beside each case. The log constants are
the published values ln 1.1 = 0.0953101798043248600439521… and
ln 0.9 = −0.1053605156578263012275009… (any table of natural logarithms).
"""

from __future__ import annotations

import csv
import decimal
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvent.errors import InvalidInput
from solvent.risk.volatility import (
    VolScalingPolicy,
    ewma_volatility,
    scaled_maintenance_rate,
    stressed_volatility,
)


def untyped(value: object) -> Any:
    """Hide a deliberately wrong argument (a float) from the type checker."""
    return value


SHARED = Path(__file__).resolve().parents[2] / "shared"
CRASH_FILE = SHARED / "data" / "prices" / "crash" / "BTCUSDT-um-1m-2020-03-12.csv"
CALM_FILE = SHARED / "data" / "prices" / "1m" / "BTCUSDT-um-1m-2025-05-25_2025-06-24.csv"

LN_1_1 = Decimal("0.0953101798043248600439521")
LN_0_9 = Decimal("-0.1053605156578263012275009")
TOLERANCE = Decimal("1e-20")

# Worked example of docs/risk-models.md and the module docstring.
POLICY = VolScalingPolicy(
    base_mmr=Decimal("0.005"),
    reference_vol=Decimal("0.02"),
    floor_mmr=Decimal("0.004"),
    cap_mmr=Decimal("0.05"),
    stress_weight=Decimal("0.25"),
)


# ---------------------------------------------------------------- EWMA volatility


@pytest.mark.parametrize(
    ("prices", "lam", "expected_variance"),
    [
        # r = ln 1.1, ln 0.9, ln 1.1; σ²₁ = a²; σ²₂ = 0.94a² + 0.06b²;
        # σ²₃ = 0.94σ²₂ + 0.06a² = (0.8836 + 0.06)a² + 0.0564b² = 0.9436a² + 0.0564b²
        # ≈ 0.9436 × 0.00908403 + 0.0564 × 0.01110084 ≈ 0.0091978, σ ≈ 0.095905
        (
            ["100", "110", "99", "108.9"],
            "0.94",
            Decimal("0.9436") * LN_1_1**2 + Decimal("0.0564") * LN_0_9**2,
        ),
        # λ = 0.5: σ²₂ = 0.5a² + 0.5b²; σ²₃ = 0.25a² + 0.25b² + 0.5a² = 0.75a² + 0.25b²
        (
            ["100", "110", "99", "108.9"],
            "0.5",
            Decimal("0.75") * LN_1_1**2 + Decimal("0.25") * LN_0_9**2,
        ),
        # a single return: σ² = r² = (ln 1.1)²
        (["100", "110"], "0.94", LN_1_1**2),
        # flat prices: every return is 0
        (["7", "7", "7", "7"], "0.94", Decimal(0)),
    ],
    ids=[
        "four prices up 10%, down 10%, up 10% give the hand-computed RiskMetrics sigma",
        "the same series with lambda 0.5 weights the old variance by a half",
        "two prices give the absolute log return",
        "flat prices have zero volatility",
    ],
)
def test_ewma_volatility_by_hand(prices: list[str], lam: str, expected_variance: Decimal) -> None:
    sigma = ewma_volatility(prices, Decimal(lam))
    assert abs(sigma - expected_variance.sqrt()) < TOLERANCE


def test_the_default_decay_is_riskmetrics_0_94() -> None:
    prices = ["100", "110", "99", "108.9"]
    assert ewma_volatility(prices) == ewma_volatility(prices, Decimal("0.94"))


@pytest.mark.parametrize(
    ("prices", "window", "expected"),
    [
        # windows of 3 prices: [100,100,110] → r = 0, a → σ² = 0.06a²;
        # [100,110,110] → r = a, 0 → σ² = 0.94a² (the largest); [110,110,110] → 0
        (["100", "100", "110", "110", "110"], 3, Decimal("0.94").sqrt() * LN_1_1),
        # windows of 2 prices: the largest absolute single return, |ln 0.9|
        (["100", "110", "99", "99"], 2, -LN_0_9),
        # one window covering everything is the plain EWMA (0.9436a² + 0.0564b²)
        (
            ["100", "110", "99", "108.9"],
            4,
            (Decimal("0.9436") * LN_1_1**2 + Decimal("0.0564") * LN_0_9**2).sqrt(),
        ),
    ],
    ids=[
        "the stressed vol is the worst 3-price window, the one that starts with the jump",
        "with 2-price windows the stressed vol is the largest absolute log return",
        "a window as long as the history equals the plain EWMA",
    ],
)
def test_stressed_volatility_is_the_worst_window(
    prices: list[str], window: int, expected: Decimal
) -> None:
    assert abs(stressed_volatility(prices, window) - expected) < TOLERANCE


@pytest.mark.parametrize(
    "call",
    [
        lambda: ewma_volatility(["100"]),
        lambda: ewma_volatility([]),
        lambda: ewma_volatility(["100", "0", "100"]),
        lambda: ewma_volatility(["100", "-1"]),
        lambda: ewma_volatility(["100", "101"], Decimal(0)),
        lambda: ewma_volatility(["100", "101"], Decimal(1)),
        lambda: ewma_volatility(["100", "101"], Decimal("1.5")),
        lambda: ewma_volatility("100"),
        lambda: stressed_volatility(["100", "101", "102"], 1),
        lambda: stressed_volatility(["100", "101", "102"], 4),
        lambda: stressed_volatility(["100", "101", "102"], True),
    ],
    ids=[
        "a single price is refused",
        "no prices are refused",
        "a zero price is refused",
        "a negative price is refused",
        "lambda 0 is refused",
        "lambda 1 is refused",
        "lambda above 1 is refused",
        "a bare string instead of a price list is refused",
        "a window of one price is refused",
        "a window longer than the history is refused",
        "a boolean window is refused",
    ],
)
def test_bad_volatility_input_is_refused(call: Any) -> None:
    with pytest.raises(InvalidInput):
        call()


# ---------------------------------------------------------------- maintenance rate


@pytest.mark.parametrize(
    ("current", "stressed", "expected"),
    [
        # 0.005 × 0.01/0.02 = 0.0025 → floor 0.004; APC 0.25 × 0.005 × 0.12/0.02 = 0.0075
        ("0.01", "0.12", "0.0075"),
        # 0.0025 → floor 0.004; APC 0.25 × 0.004 (floor) = 0.001 → the floor wins
        ("0.01", "0", "0.004"),
        # 0.005 × 0.5/0.02 = 0.125 → cap 0.05
        ("0.5", "0.5", "0.05"),
        # 0.005 × 0.03/0.02 = 0.0075; APC 0.25 × 0.0075 = 0.001875 → 0.0075
        ("0.03", "0.03", "0.0075"),
        # stressed vol far above the cap: APC = 0.25 × cap 0.05 = 0.0125 > 0.0075
        ("0.03", "10", "0.0125"),
        # 0.005 × 0.05/0.02 = 0.0125 → itself
        ("0.05", "0.05", "0.0125"),
    ],
    ids=[
        "in a calm month the stressed-period floor binds",
        "with no stressed history the rate floor binds",
        "a very high volatility is capped at 5%",
        "in between floor and cap the rate is proportional to volatility",
        "the stressed floor uses the capped stressed rate",
        "at 2.5 times the reference volatility the rate is 2.5 times the base",
    ],
)
def test_scaled_maintenance_rate_by_hand(current: str, stressed: str, expected: str) -> None:
    assert scaled_maintenance_rate(POLICY, current, stressed) == Decimal(expected)


def test_the_rate_is_rounded_up_to_a_millionth() -> None:
    # 0.005 × 0.01 / 0.03 = 0.0016666… → rounded up to 0.001667, never down to 0.001666
    policy = VolScalingPolicy(
        base_mmr=Decimal("0.005"),
        reference_vol=Decimal("0.03"),
        floor_mmr=Decimal(0),
        cap_mmr=Decimal("0.1"),
        stress_weight=Decimal(0),
    )
    assert scaled_maintenance_rate(policy, "0.01", "0.01") == Decimal("0.001667")


@pytest.mark.parametrize(
    "fields",
    [
        {"floor_mmr": Decimal("0.06")},
        {"cap_mmr": Decimal("1.5")},
        {"stress_weight": Decimal("1.1")},
        {"base_mmr": Decimal(0)},
        {"reference_vol": Decimal("-0.01")},
    ],
    ids=[
        "a floor above the cap is refused",
        "a cap above 100% is refused",
        "a stress weight above 1 is refused",
        "a zero base rate is refused",
        "a negative reference volatility is refused",
    ],
)
def test_bad_policy_is_refused(fields: dict[str, Decimal]) -> None:
    values = {
        "base_mmr": Decimal("0.005"),
        "reference_vol": Decimal("0.02"),
        "floor_mmr": Decimal("0.004"),
        "cap_mmr": Decimal("0.05"),
        "stress_weight": Decimal("0.25"),
    }
    values.update(fields)
    with pytest.raises(InvalidInput):
        VolScalingPolicy(**values)


@pytest.mark.parametrize(
    "call",
    [
        lambda: ewma_volatility(untyped([100.0, 110.0])),
        lambda: ewma_volatility(["100", "110"], untyped(0.94)),
        lambda: stressed_volatility(untyped([100.0, 110.0, 120.0]), 2),
        lambda: stressed_volatility(["100", "110", "120"], untyped(2.0)),
        lambda: scaled_maintenance_rate(POLICY, untyped(0.01), "0.12"),
        lambda: scaled_maintenance_rate(POLICY, "0.01", untyped(0.12)),
        lambda: POLICY.rate_at(untyped(0.01)),
        lambda: VolScalingPolicy(
            base_mmr=untyped(0.005),
            reference_vol=Decimal("0.02"),
            floor_mmr=Decimal("0.004"),
            cap_mmr=Decimal("0.05"),
        ),
    ],
    ids=[
        "float prices are refused",
        "a float lambda is refused",
        "float prices for the stressed vol are refused",
        "a float window is refused",
        "a float current volatility is refused",
        "a float stressed volatility is refused",
        "a float volatility for rate_at is refused",
        "a float policy field is refused",
    ],
)
def test_floats_are_refused(call: Any) -> None:
    with pytest.raises((InvalidInput, decimal.FloatOperation)):
        call()


_vols = st.decimals(min_value="0", max_value="2", places=6)


@given(
    stressed=_vols,
    calm_fraction=st.decimals(min_value="0", max_value="1", places=4),
    weight=st.decimals(min_value="0", max_value="1", places=2),
)
def test_a_calmer_month_never_cuts_margin_below_the_stressed_floor(
    stressed: Decimal, calm_fraction: Decimal, weight: Decimal
) -> None:
    policy = VolScalingPolicy(
        base_mmr=Decimal("0.005"),
        reference_vol=Decimal("0.02"),
        floor_mmr=Decimal("0.004"),
        cap_mmr=Decimal("0.05"),
        stress_weight=weight,
    )
    calm = stressed * calm_fraction
    rate = scaled_maintenance_rate(policy, calm, stressed)
    stressed_floor = weight * policy.rate_at(stressed)
    assert rate >= stressed_floor
    assert policy.floor_mmr <= rate <= policy.cap_mmr
    # more current volatility never lowers the rate
    assert scaled_maintenance_rate(policy, stressed, stressed) >= rate


# ---------------------------------------------------------------- real data


def _closes(path: Path, rows: int) -> list[str]:
    if not path.is_file():
        pytest.skip(f"price file {path} not found (shared/ is expected beside the clone)")
    with path.open(newline="", encoding="utf-8") as handle:
        return [row["close"] for _, row in zip(range(rows), csv.DictReader(handle), strict=False)]


def test_bitcoin_crash_of_12_march_2020_is_more_volatile_than_a_calm_month() -> None:
    # 1-minute BTCUSDT perpetual closes: 12–13 March 2020 (577 minutes of the crash, price
    # 6,050 → 3,910 → 5,086) against the first 577 minutes of 25 May 2025.
    crash = _closes(CRASH_FILE, 577)
    calm = _closes(CALM_FILE, 577)
    crash_vol = stressed_volatility(crash, 60)
    calm_vol = stressed_volatility(calm, 60)
    assert crash_vol > 2 * calm_vol
    assert ewma_volatility(crash) > ewma_volatility(calm)
    # the APC floor computed from the crash keeps the calm-month rate at least that high
    rate = scaled_maintenance_rate(POLICY, calm_vol, crash_vol)
    assert rate >= POLICY.stress_weight * POLICY.rate_at(crash_vol)
