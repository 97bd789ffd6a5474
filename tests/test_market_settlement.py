"""TWAP and delivery settlement price (vector DB-7), hand cases and a TWAP bound property."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvent.errors import InvalidInput, StaleMarketData
from solvent.market import SETTLEMENT_WINDOW_MS, settlement_price, twap

D = Decimal
EXPIRY_MS = 1_750_000_000_000


def test_db7_a_60_second_spike_moves_the_30_minute_settlement_by_60() -> None:
    # Copied from /work/shared/vectors/public.json, DB-7:
    # inputs window_seconds 1800, samples_per_second 1, base_price 30000,
    #        spike_price 31800, spike_seconds 60; expected settlement_price 30060
    # source: Deribit delivery = 30-minute TWAP of the index; computed
    start_ms = EXPIRY_MS - 1800 * 1000
    samples = [
        (start_ms + second * 1000, D(31800) if 900 <= second < 960 else D(30000))
        for second in range(1800)
    ]
    assert SETTLEMENT_WINDOW_MS == 1800 * 1000
    assert settlement_price(samples, EXPIRY_MS) == D(30060)


TWAP_CASES = [
    pytest.param(
        [(0, "100"), (3_000, "200")],
        (0, 4_000),
        # 100 for 3 s, 200 for 1 s: (300 + 200) / 4
        "125",
        id="each price holds until the next sample and the last holds to the window end",
    ),
    pytest.param(
        [(-5_000, "100"), (2_000, "200")],
        (0, 4_000),
        # 100 is in force at the window start: (100·2 + 200·2) / 4
        "150",
        id="a sample before the window start contributes the value in force at the start",
    ),
    pytest.param(
        [(1_000, "100"), (2_000, "400")],
        (0, 4_000),
        # only [1 s, 4 s) is covered: (100·1 + 400·2) / 3
        "300",
        id="with no price at the window start the average runs over the covered part",
    ),
    pytest.param(
        [(0, "100"), (1_000, "999"), (1_000, "200"), (9_000, "7")],
        (0, 2_000),
        # 999 lasts 0 ms (superseded at the same time); samples after the end are ignored
        "150",
        id="a sample superseded at the same millisecond and samples after the end weigh nothing",
    ),
]


@pytest.mark.parametrize(("samples", "window", "expected"), TWAP_CASES)
def test_twap(samples: list[tuple[int, str]], window: tuple[int, int], expected: str) -> None:
    assert twap([(t, D(p)) for t, p in samples], *window) == D(expected)


@pytest.mark.parametrize(
    ("price", "tick", "expected"),
    [
        pytest.param("100.005", "0.01", "100.00", id="a half tick rounds to the even 100.00"),
        pytest.param("100.015", "0.01", "100.02", id="a half tick rounds to the even 100.02"),
        pytest.param("100.0051", "0.01", "100.01", id="above half a tick rounds up"),
        pytest.param("30060.4", "0.5", "30060.5", id="a 0.5 tick rounds to the nearest half"),
    ],
)
def test_settlement_rounds_half_even_only_when_a_tick_is_given(
    price: str, tick: str, expected: str
) -> None:
    samples = [(EXPIRY_MS - 60_000, D(price))]
    assert settlement_price(samples, EXPIRY_MS, 60_000) == D(price)
    assert settlement_price(samples, EXPIRY_MS, 60_000, tick=D(tick)) == D(expected)


def test_an_empty_window_is_rejected() -> None:
    with pytest.raises(InvalidInput):
        twap([(0, D(1))], 5_000, 5_000)


@pytest.mark.parametrize(
    "samples",
    [
        pytest.param([], id="no samples at all"),
        pytest.param([(10_000, D(1))], id="only a sample after the window end"),
    ],
)
def test_a_window_without_any_price_is_stale(samples: list[tuple[int, Decimal]]) -> None:
    with pytest.raises(StaleMarketData):
        twap(samples, 0, 5_000)


@pytest.mark.parametrize(
    "samples",
    [
        pytest.param([(2_000, D(1)), (1_000, D(2))], id="samples out of time order"),
        pytest.param([(0, D(0))], id="a zero price"),
        pytest.param([(0, 1.5)], id="a float price"),
        pytest.param([(0.5, D(1))], id="a float timestamp"),
    ],
)
def test_bad_samples_are_rejected(samples: list[tuple[int, Decimal]]) -> None:
    with pytest.raises(InvalidInput):
        twap(samples, 0, 5_000)


@given(
    steps=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10_000),
            st.integers(min_value=1, max_value=10**8).map(lambda k: D(k) / 100),
        ),
        min_size=1,
        max_size=30,
    ),
    start_ms=st.integers(min_value=-2_000, max_value=50_000),
    length_ms=st.integers(min_value=1, max_value=100_000),
)
def test_twap_lies_within_the_prices_in_force_during_the_window(
    steps: list[tuple[int, Decimal]], start_ms: int, length_ms: int
) -> None:
    samples, clock = [], 0
    for gap_ms, price in steps:
        clock += gap_ms
        samples.append((clock, price))
    end_ms = start_ms + length_ms
    in_force = [
        price
        for i, (ts, price) in enumerate(samples)
        if ts < end_ms and (i + 1 == len(samples) or samples[i + 1][0] > start_ms)
    ]
    if not in_force:
        with pytest.raises(StaleMarketData):
            twap(samples, start_ms, end_ms)
        return
    assert min(in_force) <= twap(samples, start_ms, end_ms) <= max(in_force)
