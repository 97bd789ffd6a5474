"""Mark price (vector BN-MP-1), basis averages, the jump guard and price validation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvent.errors import InvalidInput, StaleMarketData
from solvent.market import (
    BasisMovingAverage,
    JumpGuard,
    JumpGuardConfig,
    JumpStatus,
    basis,
    ema_update,
    jump_guard_step,
    mark_index_plus_basis,
    mark_price,
    validate_price,
)

D = Decimal
HOUR_MS = 3_600_000

MARK_CASES = [
    pytest.param(
        # Copied from /work/shared/vectors/public.json, BN-MP-1.
        # source: Binance 'Mark Price in USDⓈ-Margined Futures': mark = median(Price1 =
        # index*(1+rate*time_until_funding/interval), Price2 = index + MA(basis), last price);
        # computed
        ("30000", "0.0001", 4, 8, "12", "30005"),
        ("30001.5", "30012", "30005"),
        id="BN-MP-1 the last price 30005 is the median of 30001.5, 30012 and 30005",
    ),
    pytest.param(
        # price1 = 30000 × (1 + 0.0003 × 8/8) = 30009; price2 = 30000 − 5 = 29995;
        # median(30009, 29995, 31000) = 30009
        ("30000", "0.0003", 8, 8, "-5", "31000"),
        ("30009", "29995", "30009"),
        id="a last price 1000 above the index is ignored and the funding-basis price wins",
    ),
    pytest.param(
        # price1 = 30000 × (1 + 0.0001 × 0/8) = 30000; price2 = 30000 + 3 = 30003;
        # median(30000, 30003, 29000) = 30000
        ("30000", "0.0001", 0, 8, "3", "29000"),
        ("30000", "30003", "30000"),
        id="at the funding time price1 equals the index",
    ),
]


@pytest.mark.parametrize(("inputs", "expected"), MARK_CASES)
def test_mark_price(inputs: tuple[str, str, int, int, str, str], expected: tuple[str, ...]) -> None:
    index, rate, until_h, interval_h, basis_ma, last = inputs
    result = mark_price(
        D(index), D(rate), until_h * HOUR_MS, interval_h * HOUR_MS, D(basis_ma), D(last)
    )
    assert (result.price1, result.price2, result.mark) == tuple(D(x) for x in expected)


@pytest.mark.parametrize(
    ("until_ms", "interval_ms"),
    [
        pytest.param(9 * HOUR_MS, 8 * HOUR_MS, id="time until funding longer than the interval"),
        pytest.param(-1, 8 * HOUR_MS, id="negative time until funding"),
        pytest.param(0, 0, id="zero funding interval"),
    ],
)
def test_mark_price_rejects_impossible_times(until_ms: int, interval_ms: int) -> None:
    with pytest.raises(InvalidInput):
        mark_price(D(30000), D("0.0001"), until_ms, interval_ms, D(0), D(30000))


def test_the_basis_moving_average_keeps_only_the_last_window_samples() -> None:
    ma = BasisMovingAverage(window=3)
    for sample in ["10", "20", "30", "-6"]:
        ma = ma.add(D(sample))
    # the window holds 20, 30, −6: (20 + 30 − 6) / 3 = 44 / 3
    assert ma.samples == (D(20), D(30), D(-6))
    assert ma.average() == D(44) / D(3)


def test_the_basis_moving_average_is_stale_before_its_first_sample() -> None:
    with pytest.raises(StaleMarketData):
        BasisMovingAverage(window=300).average()


@pytest.mark.parametrize("window", [0, -1, True])
def test_the_basis_moving_average_rejects_a_bad_window(window: int) -> None:
    with pytest.raises(InvalidInput):
        BasisMovingAverage(window=window)


def test_basis_is_mid_minus_index_and_the_alternative_mark_adds_it_back() -> None:
    mid = (D("30011") + D("30014")) / 2  # 30012.5
    assert basis(mid, D(30000)) == D("12.5")
    assert mark_index_plus_basis(D(30000), D("12.5")) == D("30012.5")


@pytest.mark.parametrize(
    ("previous", "sample", "alpha", "expected"),
    [
        pytest.param(None, "7", "0.1", "7", id="the first sample starts the EMA"),
        pytest.param("10", "20", "0.5", "15", id="alpha 0.5 averages 10 and 20 to 15"),
        pytest.param("10", "20", "1", "20", id="alpha 1 follows the sample"),
    ],
)
def test_ema_update(previous: str | None, sample: str, alpha: str, expected: str) -> None:
    prev = None if previous is None else D(previous)
    assert ema_update(prev, D(sample), D(alpha)) == D(expected)


@pytest.mark.parametrize("alpha", ["0", "1.5", "-0.1"])
def test_ema_update_rejects_alpha_outside_zero_to_one(alpha: str) -> None:
    with pytest.raises(InvalidInput):
        ema_update(D(1), D(2), D(alpha))


GUARD = JumpGuardConfig(max_jump=D("0.05"), confirmations=2, tolerance=D("0.01"))

# (price, now_ms, status, reference price, liquidations allowed)
WALKS = [
    pytest.param(
        [
            ("30000", 0, JumpStatus.ACCEPTED, "30000", True),
            ("33000", 1, JumpStatus.HELD, "30000", False),  # +10% > 5%
            ("33100", 2, JumpStatus.HELD, "30000", False),  # within 1% of 33000: 1 of 2
            ("32900", 3, JumpStatus.CONFIRMED, "32900", True),  # 2 of 2
            ("33000", 4, JumpStatus.ACCEPTED, "33000", True),
        ],
        id="a 10% jump confirmed by two updates near the new level becomes the price",
    ),
    pytest.param(
        [
            ("30000", 0, JumpStatus.ACCEPTED, "30000", True),
            ("24000", 1, JumpStatus.HELD, "30000", False),  # −20%
            ("30100", 2, JumpStatus.ACCEPTED, "30100", True),  # back within 5% of 30000
            ("30200", 3, JumpStatus.ACCEPTED, "30200", True),
        ],
        id="a one-tick wick that reverts is never used and never liquidates",
    ),
    pytest.param(
        [
            ("30000", 0, JumpStatus.ACCEPTED, "30000", True),
            ("33000", 1, JumpStatus.HELD, "30000", False),
            ("36000", 2, JumpStatus.HELD, "30000", False),  # 9% from 33000: new level
            ("36100", 3, JumpStatus.HELD, "30000", False),  # 1 of 2 at 36000
            ("35900", 4, JumpStatus.CONFIRMED, "35900", True),
        ],
        id="a second jump restarts the confirmation count at the new level",
    ),
    pytest.param(
        [
            ("100", 0, JumpStatus.ACCEPTED, "100", True),
            ("104", 1, JumpStatus.ACCEPTED, "104", True),  # 4% ≤ 5%
            ("109", 2, JumpStatus.ACCEPTED, "109", True),  # 4.8% from 104: the reference moves
        ],
        id="moves under 5% are accepted and move the reference",
    ),
]


@pytest.mark.parametrize("steps", WALKS)
def test_jump_guard_walk(steps: list[tuple[str, int, JumpStatus, str, bool]]) -> None:
    state = JumpGuard()
    for price, now_ms, status, reference, allowed in steps:
        state, decision = state.step(D(price), now_ms, GUARD)
        assert decision.price == D(price)
        assert (decision.status, decision.reference_price) == (status, D(reference))
        assert decision.liquidations_allowed is allowed


def test_the_jump_guard_rejects_updates_from_the_past() -> None:
    state, _ = jump_guard_step(JumpGuard(), D(100), 1_000, GUARD)
    with pytest.raises(InvalidInput):
        jump_guard_step(state, D(100), 999, GUARD)


def test_a_held_decision_reports_when_the_hold_began() -> None:
    state, _ = jump_guard_step(JumpGuard(), D(100), 0, GUARD)
    state, decision = jump_guard_step(state, D(200), 5_000, GUARD)
    state, decision = jump_guard_step(state, D(200), 6_000, GUARD)
    assert (decision.held_since_ms, decision.confirmations_seen) == (5_000, 1)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"max_jump": D(0), "confirmations": 1, "tolerance": D(0)}, id="zero jump"),
        pytest.param({"max_jump": D(1), "confirmations": 0, "tolerance": D(0)}, id="zero conf"),
        pytest.param({"max_jump": D(1), "confirmations": 1, "tolerance": D(-1)}, id="neg tol"),
    ],
)
def test_a_bad_jump_guard_config_is_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        JumpGuardConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("30000.5", "30000.5", id="a decimal string is accepted"),
        pytest.param(30000, "30000", id="an integer is accepted"),
        pytest.param(D("33000"), "33000", id="exactly 10% above the reference is inside the band"),
    ],
)
def test_validate_price_accepts(raw: object, expected: str) -> None:
    assert validate_price(raw, reference=D(30000), band=D("0.10")) == D(expected)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(30000.0, id="a float"),
        pytest.param(D("NaN"), id="NaN"),
        pytest.param("Infinity", id="infinity"),
        pytest.param(D(0), id="zero"),
        pytest.param("-1", id="negative"),
        pytest.param("33001", id="just over 10% above the reference"),
        pytest.param("26999", id="just over 10% below the reference"),
        pytest.param(None, id="None"),
    ],
)
def test_validate_price_rejects(raw: object) -> None:
    with pytest.raises(InvalidInput):
        validate_price(raw, reference=D(30000), band=D("0.10"))


bad_prices = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(max_value=0, allow_nan=False, allow_infinity=False),
    st.sampled_from([D("NaN"), D("sNaN"), D("Infinity"), D("-Infinity"), "nan", "inf", "-0"]),
)


@given(bad_prices)
def test_a_bad_price_always_raises_invalid_input(raw: object) -> None:
    with pytest.raises(InvalidInput):
        validate_price(raw)
