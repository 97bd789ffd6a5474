"""dYdX v4 margin: public vectors from dydxprotocol/v4-chain plus hand computations.

Expected values come from /work/shared/vectors/public.json (ids and sources quoted below,
copied from that file) or from arithmetic written out next to each case.
"""

from __future__ import annotations

import decimal
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from solvent.errors import InvalidInput
from solvent.risk.dydx import (
    DydxMarginRequirements,
    ImfScaling,
    dydx_margin_requirements,
    initial_margin_ppm_adjusted,
    is_liquidatable,
    max_abs_funding_clamp_ppm,
)


def untyped(value: object) -> Any:
    """Hide a deliberately wrong argument (a float) from the type checker."""
    return value


SHARED = Path(__file__).resolve().parents[2] / "shared"
VECTORS_FILE = SHARED / "vectors" / "public.json"

LIB_TEST = "dydxprotocol/v4-chain protocol/x/perpetuals/lib/lib_test.go"

# (id, oracle_price, position_base, imf_ppm, mf_ppm, initial, maintenance, source)
MARGIN_VECTORS = [
    (
        "D-MR-1",
        "5555",
        "0.7",
        10000,
        500000,
        "38.885",
        "19.4425",
        LIB_TEST + " TestGetMarginRequirementsInQuoteQuantums_2",
    ),
    ("D-MR-2", "420000", "-0.005", 10000, 500000, "21", "10.5", LIB_TEST),
    ("D-MR-6", "36750", "0.012", 200000, 500000, "88.2", "44.1", LIB_TEST),
]


@pytest.mark.parametrize(
    ("vector_id", "price", "position", "imf", "mf", "initial", "maintenance", "source"),
    MARGIN_VECTORS,
    ids=[
        "D-MR-1: 0.7 long at 5,555 with 1% IMF needs 38.885 initial and 19.4425 maintenance",
        "D-MR-2: 0.005 short at 420,000 with 1% IMF needs 21 initial and 10.5 maintenance",
        "D-MR-6: 0.012 long at 36,750 with 20% IMF needs 88.2 initial and 44.1 maintenance",
    ],
)
def test_margin_requirements_match_dydx_vectors(
    vector_id: str,
    price: str,
    position: str,
    imf: int,
    mf: int,
    initial: str,
    maintenance: str,
    source: str,
) -> None:
    result = dydx_margin_requirements(price, position, imf, mf)
    assert result == DydxMarginRequirements(Decimal(initial), Decimal(maintenance)), vector_id


def test_open_interest_scaling_matches_vector_d_mr_9() -> None:
    """D-MR-9, source: protocol/x/perpetuals/lib/lib_test.go (OI notional 14,999,999.98875 USD).

    This is the older chain's ppm floor (``ImfScaling.LIB_FLOOR_PPM``); the current chain's
    answer for the same inputs is in ``test_current_chain_scaling_*`` below.

    OI notional = 408.163265 × 36,750 = 14,999,999.98875; scaling = 4,999,999.98875 / 1e7
    = 0.499999998875; adjusted IMF = 200000 + floor(800000 × 0.499999998875)
    = 200000 + floor(399999.9991) = 599,999 ppm; IM = 441 × 0.599999 = 264.599559;
    MM keeps the unscaled 20 %: 441 × 0.2 × 0.5 = 44.1.
    """
    oi_notional = Decimal("408.163265") * Decimal("36750")
    assert oi_notional == Decimal("14999999.98875")
    assert initial_margin_ppm_adjusted(200000, oi_notional, "10000000", "20000000") == 599999
    result = dydx_margin_requirements(
        "36750",
        "0.012",
        200000,
        500000,
        open_interest_base="408.163265",
        oi_lower_cap="10000000",
        oi_upper_cap="20000000",
        scaling=ImfScaling.LIB_FLOOR_PPM,
    )
    assert result.initial_margin_quote == Decimal("264.599559")
    assert result.maintenance_margin_quote == Decimal("44.1")


@pytest.mark.parametrize(
    ("imf", "oi", "lower", "upper", "expected"),
    [
        (200000, "5", "10", "20", 200000),  # below the lower cap: unchanged
        (200000, "10", "10", "20", 200000),  # at the lower cap: unchanged
        (200000, "15", "10", "20", 600000),  # halfway: 200000 + 800000 / 2
        (200000, "20", "10", "20", 1_000_000),  # at the upper cap: 100 %
        (200000, "36750000", "10000000", "20000000", 1_000_000),  # lib_test "scaled to 100%"
        (200000, "999", "0", "0", 200000),  # upper cap 0 disables scaling
        (50000, "11", "10", "13", 366666),  # 50000 + floor(950000 / 3) = 50000 + 316666
    ],
    ids=[
        "open interest below the lower cap leaves the IMF unchanged",
        "open interest exactly at the lower cap leaves the IMF unchanged",
        "open interest halfway between the caps adds half of the distance to 100%",
        "open interest at the upper cap requires 100% initial margin",
        "36.75M of open interest above a 20M upper cap requires 100% initial margin",
        "an upper cap of zero disables open-interest scaling",
        "a fractional ppm result is rounded down to an integer",
    ],
)
def test_adjusted_imf_scales_linearly_between_the_caps(
    imf: int, oi: str, lower: str, upper: str, expected: int
) -> None:
    assert initial_margin_ppm_adjusted(imf, oi, lower, upper) == expected


def test_open_interest_above_the_upper_cap_makes_initial_margin_equal_the_notional() -> None:
    # lib_test.go "OIMF: IM 20%, scaled to 100%": 1000 base × 36,750 = 36.75M ≥ 20M cap,
    # so IM = notional = 0.012 × 36,750 = 441; MM = 441 × 0.2 × 0.5 = 44.1.
    result = dydx_margin_requirements(
        "36750", "0.012", 200000, 500000, "1000", "10000000", "20000000"
    )
    assert result == (Decimal("441"), Decimal("44.1"))


def test_quote_quantum_rounds_both_requirements_up() -> None:
    # notional = 0.0000015 × 1 = 0.0000015; IM = × 0.5 = 0.00000075 → 0.000001;
    # MM = 0.0000015 × 0.5 × 0.5 = 0.000000375 → 0.000001 (rounded up, never down).
    result = dydx_margin_requirements("1", "0.0000015", 500000, 500000, quote_quantum="0.000001")
    assert result == (Decimal("0.000001"), Decimal("0.000001"))


# D-RISK-1, source: dydxprotocol/v4-chain protocol/lib/margin/risk_test.go
# TestRisk_IsLiquidatable (liquidatable iff MM > 0 and NC < MM)
@pytest.mark.parametrize(
    ("net_collateral", "maintenance_margin", "expected"),
    [
        (100, 0, False),
        (0, 100, True),
        (0, 0, False),
        (-100, 100, True),
        (-100, 0, False),
        (75, 100, True),
        (100, 100, False),
        (125, 100, False),
    ],
    ids=[
        "D-RISK-1: collateral with no requirement is not liquidatable",
        "D-RISK-1: zero collateral under a 100 requirement is liquidatable",
        "D-RISK-1: zero collateral and zero requirement is not liquidatable",
        "D-RISK-1: negative collateral under a requirement is liquidatable",
        "D-RISK-1: negative collateral with no requirement is not liquidatable",
        "D-RISK-1: 75 of collateral under a 100 requirement is liquidatable",
        "D-RISK-1: collateral exactly equal to the requirement is not liquidatable",
        "D-RISK-1: collateral above the requirement is not liquidatable",
    ],
)
def test_is_liquidatable_matches_dydx_risk_vector(
    net_collateral: int, maintenance_margin: int, expected: bool
) -> None:
    assert is_liquidatable(net_collateral, maintenance_margin) is expected


def test_funding_clamp_matches_vector_d_fund_1() -> None:
    # D-FUND-1, source: dydxprotocol/v4-chain protocol/x/perpetuals/types/liquidity_tier_test.go
    # TestLiquidityTierGetMaxAbsFundingClampPpm: MMF = 150000 × 0.8 = 120000;
    # clamp = 6 × (150000 − 120000) = 180000.
    assert max_abs_funding_clamp_ppm(6_000_000, 150000, 800000) == 180000


@pytest.mark.parametrize(
    "call",
    [
        lambda: initial_margin_ppm_adjusted(200000, untyped(15.0), "10", "20"),
        lambda: initial_margin_ppm_adjusted(untyped(200000.0), "15", "10", "20"),
        lambda: dydx_margin_requirements(untyped(5555.0), "0.7", 10000, 500000),
        lambda: dydx_margin_requirements("5555", untyped(0.7), 10000, 500000),
        lambda: dydx_margin_requirements("5555", "0.7", 10000, 500000, untyped(1.0), "0", "0"),
        lambda: is_liquidatable(untyped(75.0), 100),
        lambda: is_liquidatable(75, untyped(100.0)),
        lambda: max_abs_funding_clamp_ppm(untyped(6e6), 150000, 800000),
    ],
    ids=[
        "a float open interest is refused",
        "a float IMF ppm is refused",
        "a float oracle price is refused",
        "a float position size is refused",
        "a float open interest in base units is refused",
        "a float net collateral is refused",
        "a float maintenance margin is refused",
        "a float clamp factor is refused",
    ],
)
def test_floats_are_refused(call: Any) -> None:
    with pytest.raises((InvalidInput, decimal.FloatOperation)):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: initial_margin_ppm_adjusted(1_000_001, "0", "0", "0"),
        lambda: initial_margin_ppm_adjusted(-1, "0", "0", "0"),
        lambda: initial_margin_ppm_adjusted(200000, "15", "20", "10"),
        lambda: initial_margin_ppm_adjusted(200000, "-1", "10", "20"),
        lambda: dydx_margin_requirements("0", "1", 10000, 500000),
        lambda: dydx_margin_requirements("1", "1", 10000, True),
        lambda: is_liquidatable(0, -1),
    ],
    ids=[
        "an IMF above 100% is refused",
        "a negative IMF is refused",
        "a lower cap above the upper cap is refused",
        "negative open interest is refused",
        "a zero oracle price is refused",
        "a boolean ppm is refused",
        "a negative maintenance margin is refused",
    ],
)
def test_bad_input_is_refused(call: Any) -> None:
    with pytest.raises(InvalidInput):
        call()


def _public_vectors() -> dict[str, dict[str, Any]]:
    if not VECTORS_FILE.is_file():
        pytest.skip(f"public vectors not found at {VECTORS_FILE} (shared/ not beside the clone)")
    data = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    return {vector["id"]: vector for vector in data["vectors"]}


def test_inline_tables_agree_with_the_shared_vector_file() -> None:
    vectors = _public_vectors()
    for vector_id, price, position, imf, mf, initial, maintenance, _ in MARGIN_VECTORS:
        vector = vectors[vector_id]
        assert vector["inputs"] == {
            "oracle_price": price,
            "position_base": position,
            "imf_ppm": imf,
            "mf_ppm": mf,
        }
        assert vector["expected"] == {
            "initial_margin": initial,
            "maintenance_margin": maintenance,
        }
    assert vectors["D-MR-9"]["expected"]["adjusted_imf_ppm"] == 599999
    assert vectors["D-FUND-1"]["expected"]["max_abs_funding_clamp_ppm"] == 180000
    risk = vectors["D-RISK-1"]
    for (net_collateral, maintenance_margin), expected in zip(
        risk["inputs"]["cases"], risk["expected"]["liquidatable"], strict=True
    ):
        assert is_liquidatable(net_collateral, maintenance_margin) is expected
