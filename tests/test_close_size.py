"""A partial liquidation closes the smallest step that passes, even where the slack is not monotone.

``lots_to_close`` is checked against the obvious answer, a scan of every ``k`` (the smallest
``k`` whose slack is ≥ 0, else ``limit``), on slack shapes written out by hand and drawn by
hypothesis in the shape the module docstring derives: concave while the execution leaves
equity, then no slack (``None``) until the full close. Then the engine: the
Binance COIN-M short of 6,000 contracts that revision 2 closed whole.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from solvent import load_venue
from solvent.engine import AdvanceTime, Deposit, Engine, EngineConfig, Fill, LiquidationPolicy, PriceUpdate
from solvent.engine.close_size import lots_to_close
from solvent.engine.config import LIQUIDATION_REVISION
from solvent.engine.events import LiquidationStep
from solvent.journal.codec import LEGACY_POLICY
from solvent.risk.levels import MarginLevel

D = Decimal
Slack = Callable[[int], Decimal | None]


def scan(limit: int, slack: Slack) -> int:
    """The answer by definition: the smallest passing k in [1, limit], else limit."""
    return next((k for k in range(1, limit + 1) if (v := slack(k)) is not None and v >= 0), limit)


def answer(limit: int, slack: Slack, *, search_inside: bool = True) -> int:
    return lots_to_close(limit, slack, full_close=False, search_inside=search_inside, may_pass_inside=lambda: True)


def hump_then_cap(limit: int, start: int, rise: int, fall: int, cap_at: int) -> Slack:
    """Concave: ``start + rise·k − fall·k²`` until ``cap_at``; then nothing is left (``None``)
    until the full close, whose slack is 0."""
    def slack(k: int) -> Decimal | None:
        if k >= limit:
            return D(0)
        if k < cap_at:
            return D(start + rise * k - fall * k * k)
        return None
    return slack


def test_a_hump_that_passes_early_is_found_where_bisection_closes_everything() -> None:
    # 6,000 lots; slack −500 + 10k − k²/1000: passes from k = 51 (k = 50: −500 + 500 − 2.5 < 0;
    # k = 51: −500 + 510 − 2.601 = 7.399)
    # to k = 9,947 — but nothing is left from k = 1,000 on (no slack) until the full close
    def slack(k: int) -> Decimal | None:
        if k >= 6000:
            return D(0)
        if k < 1000:
            return D(-500) + 10 * k - D(k * k) / 1000
        return None
    assert slack(51) == D("7.399") and slack(50) == D("-2.5")
    assert answer(6000, slack, search_inside=False) == 6000          # revision 2: the first probe, 3,000, fails
    assert answer(6000, slack) == 51 == scan(6000, slack)


def test_a_narrow_window_in_the_middle_is_found() -> None:
    # passes only for k in [3000, 3002]: −(k − 3001)² + 1
    def slack(k: int) -> Decimal | None:
        return D(0) if k == 5000 else D(1 - (k - 3001) ** 2)
    assert answer(5000, slack) == 3000 == scan(5000, slack)


def test_nothing_passes_inside_closes_everything() -> None:
    slack = hump_then_cap(6000, -500, 1, 1, 1000)   # peaks at −500
    assert answer(6000, slack) == 6000


def test_no_price_past_the_books_depth_is_minus_infinity() -> None:
    def slack(k: int) -> Decimal | None:
        return None if k > 40 else D(k - 30)
    assert answer(100, slack) == 30 == scan(100, slack)


def test_a_monotone_slack_answers_as_bisection_did() -> None:
    def slack(k: int) -> Decimal | None:
        return D(k - 777)
    assert answer(1000, slack) == answer(1000, slack, search_inside=False) == 777


def test_full_close_and_a_policy_where_nothing_inside_can_pass_spend_nothing_extra() -> None:
    asked: list[int] = []

    def slack(k: int) -> Decimal | None:
        asked.append(k)
        return D(1) if k in (3, 100) else D(-1)
    assert lots_to_close(100, slack, full_close=True, search_inside=True, may_pass_inside=lambda: True) == 100
    assert asked == []
    assert lots_to_close(100, slack, full_close=False, search_inside=True, may_pass_inside=lambda: False) == 100
    assert len(asked) <= 7  # the plain bisection only


@settings(max_examples=400, deadline=None)
@given(limit=st.integers(2, 20_000), start=st.integers(-10**6, 10), rise=st.integers(0, 2000),
       fall=st.integers(1, 50), cap_share=st.floats(0.01, 1.0))
def test_any_concave_then_capped_slack_gets_the_scans_answer(limit: int, start: int, rise: int, fall: int,
                                                               cap_share: float) -> None:
    slack = hump_then_cap(limit, start, rise, fall, max(1, int(limit * cap_share)))
    assert answer(limit, slack) == scan(limit, slack)


def test_flat_runs_of_equal_slack_do_not_hide_a_passing_step() -> None:
    # the review's case: limit 255, a rounded concave hump whose passing run starts at 33
    # with equal values around it ([-1, -1, 0, 0, 0]); a slope bisection stopped on the flat
    def slack(k: int) -> Decimal | None:
        if k >= 255:
            return D(0)
        if k >= 120:
            return None
        return D(-((k - 36) ** 2) // 8 + 1)    # floor division: runs of equal values
    # k = 32: −(16 // 8) + 1 = −1; k = 33: −ceil(9/8) + 1 = −1; k = 34: −ceil(4/8) + 1 = 0
    assert [slack(k) for k in (31, 32, 33, 34, 35)] == [D(-3), D(-1), D(-1), D(0), D(0)]
    assert answer(255, slack) == scan(255, slack) == 34


@settings(max_examples=400, deadline=None)
@given(limit=st.integers(2, 20_000), start=st.integers(-10**6, 10), rise=st.integers(0, 2000),
       fall=st.integers(1, 50), cap_share=st.floats(0.01, 1.0), step=st.sampled_from([1, 2, 5, 50, 1000]))
def test_any_rounded_concave_slack_gets_the_scans_answer(limit: int, start: int, rise: int, fall: int,
                                                         cap_share: float, step: int) -> None:
    # rounding to ``step`` (as prices to a tick and fees to a quantum) makes flat runs
    exact = hump_then_cap(limit, start, rise, fall, max(1, int(limit * cap_share)))

    def slack(k: int) -> Decimal | None:
        value = exact(k)
        return None if value is None else D(int(value) // step * step)
    assert answer(limit, slack) == scan(limit, slack)


# ---------------------------------------------------------------- the engine


def coinm_short(revision: int) -> tuple[Engine, list[LiquidationStep]]:
    """Binance COIN-M BTCUSD_PERP: a short of 6,000 contracts (600,000 USD) at 28,350 on
    0.5 BTC; the mark rises 0.2 % a tick until the first liquidation step."""
    policy = LiquidationPolicy(revision=revision)
    engine = Engine(EngineConfig(load_venue("binance-coinm"), settle_asset="BTC", liquidation=policy))
    for cmd in (AdvanceTime(0), PriceUpdate("BTCUSD_PERP", "binance", D(28350)), Deposit("a", "BTC", D("0.5")),
                Deposit("book", "BTC", D(10000)), Fill("t1", "BTCUSD_PERP", D(28350), D(6000), "book", "a")):
        assert engine.apply(cmd).accepted
    mark = D(28350)
    for _ in range(100):
        mark = (mark * D("1.002")).quantize(D("0.1"))
        result = engine.apply(PriceUpdate("BTCUSD_PERP", "binance", mark))
        steps = [e for e in result.events if isinstance(e, LiquidationStep)]
        if steps:
            return engine, steps
    raise AssertionError("never liquidated")


def test_the_coinm_short_is_reduced_not_closed_where_a_small_step_does() -> None:
    assert LIQUIDATION_REVISION == 8
    _, closed = coinm_short(2)
    assert [s.qty for s in closed] == [D(6000)]        # revision 2: everything, at the first step
    engine, reduced = coinm_short(3)
    assert len(reduced) == 1 and D(0) < reduced[0].qty < D(600)
    assert engine.state.accounts["a"].positions     # the rest stays open
    assert engine.state.accounts["a"].level is not MarginLevel.LIQUIDATION


def test_journals_keep_the_revision_they_were_written_with() -> None:
    assert LEGACY_POLICY["revision"] == 1
    assert LiquidationPolicy(revision=2).revision == 2
