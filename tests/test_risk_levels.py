"""The one home of the margin level (``solvent.risk.levels``): hand-computed thresholds on every
bundled venue, hysteresis, exact ratio comparisons, the vector trigger, and the callers' agreement."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.calc.account import margin_level
from solvent.engine.config import LevelThresholds
from solvent.risk import levels
from solvent.risk.levels import MarginLevel, level_without_history, liquidatable_mask, next_level
from solvent.risk.venues import bundled_venues, load_venue
from solvent.units import solvent_context

D = Decimal
H, W, C, L, B = (MarginLevel.HEALTHY, MarginLevel.WARNING, MarginLevel.MARGIN_CALL, MarginLevel.LIQUIDATION,
                 MarginLevel.BANKRUPT)
VENUES = bundled_venues()
STRICT = {"equity_below_mm": True, "equity_at_or_below_mm": False}
"""Trigger names as the profile files spell them, mapped here on their own."""


def _strict(venue: str) -> bool:
    return STRICT[load_venue(venue).liquidation_trigger.value]


def _plain(equity: Decimal, mm: Decimal, venue: str) -> MarginLevel:
    return level_without_history(equity, mm, load_venue(venue), warning=D("0.7"), margin_call=D("0.8"))


# (equity, MM, level on an "equity ≤ MM" venue, level on an "equity < MM" venue); ratios 0.7 / 0.8
THRESHOLDS = [
    pytest.param("100", "100", L, C, id="equity exactly MM is liquidation, or margin call (ratio 1) where strict"),
    pytest.param("100", "100.00000001", L, L, id="equity a hair below MM is liquidation everywhere"),
    pytest.param("100.00000001", "100", C, C, id="equity a hair above MM is a margin call"),
    pytest.param("0", "5", B, B, id="zero equity with a requirement is bankrupt"),
    pytest.param("0", "0", H, H, id="zero equity and no requirement is healthy"),
    pytest.param("-1", "0", B, B, id="negative equity without positions is bankrupt"),
    pytest.param("-1", "-0.5", B, B, id="negative equity with a negative MM is bankrupt"),
    pytest.param("0", "-0.5", H, H, id="zero equity with a negative MM is healthy"),
    pytest.param("10", "-0.5", H, H, id="a negative MM is no requirement"),
    pytest.param("100", "80", C, C, id="MM exactly 0.8 of equity is a margin call"),
    pytest.param("100", "79.99999999", W, W, id="MM just under 0.8 of equity is a warning"),
    pytest.param("100", "70", W, W, id="MM exactly 0.7 of equity is a warning"),
    pytest.param("100", "69.99999999", H, H, id="MM just under 0.7 of equity is healthy"),
]


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize(("equity", "mm", "at_or_below", "below"), THRESHOLDS)
def test_each_threshold_on_every_venue(venue: str, equity: str, mm: str, at_or_below: MarginLevel,
                                       below: MarginLevel) -> None:
    expected = below if _strict(venue) else at_or_below
    assert _plain(D(equity), D(mm), venue) is expected
    thresholds = LevelThresholds(D("0.7"), D("0.8"), D("0.05"))
    assert next_level(H, D(equity), D(mm), load_venue(venue), thresholds) is expected


@pytest.mark.parametrize("venue", VENUES)
def test_the_calculator_uses_the_venue_ratios_and_the_same_tree(venue: str) -> None:
    profile = load_venue(venue)
    for equity, mm in [(D(100), D(100)), (D(0), D(1)), (D(-1), D(0)), (D(100), D(80)), (D(100), D(70))]:
        assert margin_level(equity, mm, profile) is level_without_history(
            equity, mm, profile, warning=profile.warning_ratio, margin_call=profile.margin_call_ratio)


# previous level, ratio MM / equity (equity 100), level after; thresholds 0.7 / 0.8, hysteresis 0.05
HYSTERESIS = [
    pytest.param(H, "79.99", W, id="healthy to warning at 0.7999"),
    pytest.param(W, "75", W, id="warning does not enter margin call at 0.75"),
    pytest.param(C, "75", C, id="margin call is kept down to exactly 0.75"),
    pytest.param(C, "74.99999999", W, id="margin call is left just below 0.75"),
    pytest.param(W, "65", W, id="warning is kept down to exactly 0.65"),
    pytest.param(W, "64.99999999", H, id="warning is left just below 0.65"),
    pytest.param(C, "64", H, id="margin call falls to healthy below both bands"),
    pytest.param(H, "69.99999999", H, id="healthy does not enter warning below 0.7"),
    pytest.param(L, "75", C, id="from liquidation the margin-call band is kept (the exit guard is the engine's)"),
]


@pytest.mark.parametrize(("previous", "mm", "expected"), HYSTERESIS)
def test_hysteresis_keeps_a_level_down_to_threshold_minus_h(previous: MarginLevel, mm: str,
                                                             expected: MarginLevel) -> None:
    profile = load_venue("binance-usdm")
    thresholds = LevelThresholds(D("0.7"), D("0.8"), D("0.05"))
    assert next_level(previous, D(100), D(mm), profile, thresholds) is expected


def test_ratios_are_compared_exactly_not_through_a_rounded_quotient() -> None:
    # MM / equity = 8e40 / (1e41 + 1) = 0.8 − 8e-42 + …, which 40 digits round up to 0.8 (a
    # margin call), but MM = 8e40 < 0.8 × (1e41 + 1) = 8e40 + 0.8: only a warning.
    equity, mm = D("1" + "0" * 40 + "1"), D("8" + "0" * 40)
    assert solvent_context().divide(mm, equity) == D("0.8")  # the quotient a 40-digit context gives
    assert _plain(equity, mm, "binance-usdm") is W


def test_the_level_order_and_worst() -> None:
    assert levels.worst([W, B, C]) is B and levels.worst([]) is H
    assert [levels.rank(x) for x in levels.LEVEL_ORDER] == [0, 1, 2, 3, 4]


# ----------------------------------------------------------------------------- independent recomputation
def _independent(equity: Fraction, mm: Fraction, strict: bool, warning: Fraction, call: Fraction,
                 previous: int, h: Fraction) -> int:
    """The documented tree in fractions, written without solvent's code (codes 0 healthy … 4 bankrupt)."""
    if equity < 0 or (equity == 0 and mm > 0):
        return 4
    if mm > 0 and (equity < mm if strict else equity <= mm):
        return 3
    if mm <= 0:
        return 0
    ratio = mm / equity
    if ratio >= call or (previous >= 2 and ratio >= call - h):
        return 2
    if ratio >= warning or (previous >= 1 and ratio >= warning - h):
        return 1
    return 0


def _near(base: st.SearchStrategy[int]) -> st.SearchStrategy[Decimal]:
    """Decimals on or a few units of 1e-8 around small integers (so thresholds are hit exactly)."""
    return st.builds(lambda b, d: D(b) + D(d).scaleb(-8), base, st.integers(-2, 2) | st.just(0))


@settings(max_examples=400, deadline=None)
@given(venue=st.sampled_from(VENUES), equity=_near(st.integers(-3, 120)),
       shape=st.sampled_from(["free", "equal", "call", "warn"]), mm_free=_near(st.integers(-2, 120)),
       previous=st.sampled_from(list(MarginLevel)))
def test_every_venue_matches_an_independent_recomputation(venue: str, equity: Decimal, shape: str,
                                                           mm_free: Decimal, previous: MarginLevel) -> None:
    mm = {"free": mm_free, "equal": equity, "call": equity * D("0.8"), "warn": equity * D("0.7")}[shape]
    profile = load_venue(venue)
    thresholds = LevelThresholds(D("0.7"), D("0.8"), D("0.05"))
    got = next_level(previous, equity, mm, profile, thresholds)
    want = _independent(Fraction(equity), Fraction(mm), _strict(venue), Fraction(7, 10), Fraction(8, 10),
                        list(MarginLevel).index(previous), Fraction(5, 100))
    assert list(MarginLevel).index(got) == want
    assert list(MarginLevel).index(_plain(equity, mm, venue)) == _independent(
        Fraction(equity), Fraction(mm), _strict(venue), Fraction(7, 10), Fraction(8, 10), 0, Fraction(0))


# ----------------------------------------------------------------------------- the vector trigger
@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("dtype", [np.int64, object])
def test_the_vector_trigger_is_the_profiles_trigger_element_wise(venue: str, dtype: type) -> None:
    profile = load_venue(venue)
    values = [-(2**70), -3, -1, 0, 1, 2, 3, 7, 2**70] if dtype is object else [-3, -1, 0, 1, 2, 3, 7]
    pairs = [(e, m) for e in values for m in values]
    equity = np.array([e for e, _ in pairs], dtype=dtype)
    mm = np.array([m for _, m in pairs], dtype=dtype)
    got = liquidatable_mask(equity, mm, profile).tolist()
    assert got == [profile.is_liquidatable(D(e), D(m)) for e, m in pairs]
    # and, independently: on a strict venue equity = MM = 3 is not liquidatable
    assert got[pairs.index((3, 3))] is (not _strict(venue))


def test_the_vector_trigger_refuses_float_columns() -> None:
    with pytest.raises(TypeError):
        liquidatable_mask(np.zeros(2), np.zeros(2), load_venue("binance-usdm"))  # type: ignore[arg-type]
