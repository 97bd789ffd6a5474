"""Drift size premium: vectors DR-MR-* from drift-labs/protocol-v2 and hand computations."""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvent.errors import InvalidInput
from solvent.risk.size_premium import MarginType, size_premium_margin_ratio


def untyped(value: object) -> Any:
    """Hide a deliberately wrong argument (a float) from the type checker."""
    return value


DRIFT_TESTS = "drift-labs/protocol-v2 programs/drift/src/state/perp_market/tests.rs"


# Vectors copied from /work/shared/vectors/public.json; each comment gives its id and source.
@pytest.mark.parametrize(
    ("initial", "maintenance", "imf", "size", "kind", "expected"),
    [
        ("0.10", "0.05", "0", "1", "Initial", "0.10"),  # DR-MR-1, DRIFT_TESTS get_margin_ratio
        ("0.10", "0.05", "0", "1", "Fill", "0.075"),  # DR-MR-2, DRIFT_TESTS get_margin_ratio
        ("0.10", "0.05", "0", "1", "Maintenance", "0.05"),  # DR-MR-3, same source
        # DR-MR-6, DRIFT_TESTS new_hlm_imf_size: max(0.10, 0.8 × 0.10 + 0.00005 × sqrt(1e6))
        # = max(0.10, 0.08 + 0.05) = 0.13
        ("0.10", "0.05", "0.00005", "1000000", "Initial", "0.13"),
    ],
    ids=[
        "DR-MR-1: with no IMF factor the initial ratio is the initial ratio, 0.10",
        "DR-MR-2: with no IMF factor the fill ratio is the mean of initial and maintenance, 0.075",
        "DR-MR-3: with no IMF factor the maintenance ratio is the maintenance ratio, 0.05",
        "DR-MR-6: a 1,000,000 position with IMF factor 0.00005 needs 0.13 initial",
    ],
)
def test_margin_ratio_matches_drift_vectors(
    initial: str, maintenance: str, imf: str, size: str, kind: str, expected: str
) -> None:
    assert size_premium_margin_ratio(initial, maintenance, imf, size, kind) == Decimal(expected)


@pytest.mark.parametrize(
    ("kind", "size", "expected"),
    [
        # base 0.01: 0.8 × 0.01 + 0.001 × sqrt(5) = 0.008 + 0.0022360679774997897
        # = 0.0102360679774997897…, rounded up to 1e-9 → 0.010236068
        (MarginType.INITIAL, "5", "0.010236068"),
        # a short of the same size carries the same premium
        (MarginType.INITIAL, "-5", "0.010236068"),
        # base 0.01: 0.008 + 0.001 × sqrt(3) = 0.0097320508… < 0.01, so the base wins
        (MarginType.INITIAL, "3", "0.01"),
        # base 0.005: 0.004 + 0.001 × sqrt(4) = 0.006 exactly
        (MarginType.MAINTENANCE, "4", "0.006"),
        # base 0.0075: 0.006 + 0.001 × sqrt(9) = 0.009 exactly
        (MarginType.FILL, "9", "0.009"),
    ],
    ids=[
        "a size premium above the base is rounded up to the next 1e-9",
        "a short position pays the same size premium as a long",
        "a premium below the base ratio leaves the base ratio",
        "the maintenance ratio gets the premium on the maintenance base",
        "the fill ratio gets the premium on the mean of initial and maintenance",
    ],
)
def test_size_premium_by_hand(kind: MarginType, size: str, expected: str) -> None:
    assert size_premium_margin_ratio("0.01", "0.005", "0.001", size, kind) == Decimal(expected)


@pytest.mark.parametrize(
    "call",
    [
        lambda: size_premium_margin_ratio(untyped(0.10), "0.05", "0", "1", MarginType.INITIAL),
        lambda: size_premium_margin_ratio("0.10", untyped(0.05), "0", "1", MarginType.INITIAL),
        lambda: size_premium_margin_ratio("0.10", "0.05", untyped(0.0), "1", MarginType.INITIAL),
        lambda: size_premium_margin_ratio("0.10", "0.05", "0", untyped(1.0), MarginType.INITIAL),
    ],
    ids=[
        "a float initial ratio is refused",
        "a float maintenance ratio is refused",
        "a float IMF factor is refused",
        "a float size is refused",
    ],
)
def test_floats_are_refused(call: Any) -> None:
    with pytest.raises((InvalidInput, decimal.FloatOperation)):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: size_premium_margin_ratio("0.05", "0.10", "0", "1", MarginType.INITIAL),
        lambda: size_premium_margin_ratio("0.10", "0", "0", "1", MarginType.INITIAL),
        lambda: size_premium_margin_ratio("0.10", "0.05", "-0.1", "1", MarginType.INITIAL),
        lambda: size_premium_margin_ratio("0.10", "0.05", "0", "1", "liquidation"),
    ],
    ids=[
        "a maintenance ratio above the initial ratio is refused",
        "a zero maintenance ratio is refused",
        "a negative IMF factor is refused",
        "an unknown margin type is refused",
    ],
)
def test_bad_input_is_refused(call: Any) -> None:
    with pytest.raises(InvalidInput):
        call()


def test_margin_type_names_are_accepted_in_any_case() -> None:
    assert MarginType("fill") is MarginType.FILL
    assert size_premium_margin_ratio("0.10", "0.05", "0", "1", "FILL") == Decimal("0.075")


_ratios = st.decimals(min_value="0.001", max_value="0.5", places=4)
_imf_factors = st.decimals(min_value="0", max_value="0.001", places=8)
_sizes = st.decimals(min_value="0", max_value="10000000000", places=6)


@given(
    first=_ratios,
    second=_ratios,
    imf=_imf_factors,
    size_a=_sizes,
    size_b=_sizes,
    kind=st.sampled_from(list(MarginType)),
)
def test_ratio_never_below_base_and_never_decreasing_in_size(
    first: Decimal,
    second: Decimal,
    imf: Decimal,
    size_a: Decimal,
    size_b: Decimal,
    kind: MarginType,
) -> None:
    initial, maintenance = max(first, second), min(first, second)
    small, large = sorted((size_a, size_b))
    base = {
        MarginType.INITIAL: initial,
        MarginType.FILL: (initial + maintenance) / 2,
        MarginType.MAINTENANCE: maintenance,
    }[kind]
    at_small = size_premium_margin_ratio(initial, maintenance, imf, small, kind)
    at_large = size_premium_margin_ratio(initial, maintenance, imf, large, kind)
    assert at_small >= base
    assert at_large >= at_small
