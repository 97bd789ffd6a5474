"""The price-tick screen (``engine/tick_screen.py``): it may flag too many accounts, never too few.

The reference here re-levels every account from scratch after each tick, the way the engine
did before the screen existed: ``evaluate`` (margin from nothing) and ``next_level`` (the one
home of the level decision) for the cross account and each isolated position, the worst
wins. Books are put exactly on each threshold at the tick's price (equity = MM, MM / equity =
each ratio of the level table, equity = 0), for every bundled venue the engine trades, linear
and inverse (inverse books land within 1e-8 above each threshold: coin PnL is a quotient).
"""

from __future__ import annotations

import copy
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvent.engine import (
    AddIsolatedMargin,
    AdvanceTime,
    CancelOrder,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    PlaceOrder,
    PriceUpdate,
    SetLeverage,
    Withdraw,
)
from solvent.engine import _tick_kernel as kernel
from solvent.engine.commands import SetMarginMode
from solvent.engine.config import LevelThresholds, LiquidationPolicy
from solvent.engine.events import MaintenanceScaleChanged, MarginLevelChanged
from solvent.model import Asset, Instrument, MarginMode, PositionSide, Side
from solvent.risk.levels import LEVEL_ORDER, MarginLevel, next_level
from solvent.risk.venues import VenueProfile, bundled_venues, load_venue
from solvent.risk.volatility import VolatilityMMRule, VolScalingPolicy
from solvent.units import round_up

THRESHOLDS = LevelThresholds(warning=Decimal("0.5"), margin_call=Decimal("0.8"), hysteresis=Decimal("0.3"))
"""Ratios whose reciprocals are exact decimals (2, 1.25, 5, 2), so equity can be put exactly at
MM / ratio; margin_call − h equals warning, a coincidence the screen must survive too."""

RATIOS = (Decimal("0.5"), Decimal("0.8"), Decimal("0.2"))


def _linear_venues() -> list[str]:
    return [v for v in bundled_venues() if any(not i.is_inverse for i in load_venue(v).instruments.values())]


def _inverse_venues() -> list[str]:
    return [v for v in bundled_venues() if any(i.is_inverse for i in load_venue(v).instruments.values())]


def _instrument(profile: VenueProfile, inverse: bool = False) -> Instrument:
    kind = [i for i in profile.instruments.values() if i.is_inverse == inverse and i.expiry_ms is None]
    btc = [i for i in kind if i.base in ("BTC", "XBT")]
    return (btc or kind)[0]


def _reference(engine: Engine, before: dict[str, str]) -> dict[str, str]:
    """Every account's level after the tick, recomputed from scratch (no screen, no cache)."""
    cfg = engine.config
    out = {}
    for aid in sorted(engine.state.accounts):
        m = engine.margin_from_scratch(aid)
        prev = MarginLevel(before[aid])
        parts = [(m.equity, m.maintenance_margin)] + [(i.equity, i.maintenance_margin) for i in m.isolated]
        levels = [next_level(prev, eq, mm, cfg.profile, cfg.thresholds) for eq, mm in parts]
        out[aid] = max(levels, key=LEVEL_ORDER.index).value
    return out


TARGETS = ("liq", "zero", "r0", "r1", "r2", "free")


@st.composite
def books(draw: st.DrawFn) -> tuple[str, list[tuple[str, int, bool, str]], list[int]]:
    venue = draw(st.sampled_from(_linear_venues() + [f"{v}:inverse" for v in _inverse_venues()]))
    accounts = draw(st.lists(st.tuples(st.sampled_from(TARGETS), st.integers(1, 400), st.booleans(),
                                       st.sampled_from(MODES)), min_size=1, max_size=12))
    moves = draw(st.lists(st.integers(-300, 300), min_size=1, max_size=4))  # in 1/10,000 of the price
    return venue, accounts, moves


MODES = ("cross", "isolated", "hedge", "hedge-isolated")
"""How a book's account holds its position: one-way cross or isolated, or in hedge mode a long
and a short (``units`` and a third of it) in the cross account or each in its own isolated part."""

Book = tuple[str, list[tuple[str, int, bool, str]], list[int]]

SCALED = VolatilityMMRule(
    VolScalingPolicy(Decimal("0.004"), Decimal("0.01"), Decimal("0.004"), Decimal("0.04"), Decimal("0.25")),
    update_interval_ms=1_000, window=2, lookback_ms=10_000,
)
"""A volatility-scaled MM rule (``risk/volatility.py``): with marks 58,800 then 60,000 at the
first two update instants, σ = ln(60,000 / 58,800) ≈ 0.0202 and every MM is ≈ 2.02× the table's."""


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books())
def test_a_tick_changes_exactly_the_levels_a_full_relevel_would(book: Book) -> None:
    _check_book(book, scaled=False)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books())
def test_on_a_volatility_scaled_venue_too(book: Book) -> None:
    """The rows carry the scale (``scale × rate``, ``scale × amount``); a later scale change
    re-margins every holder exactly."""
    _check_book(book, scaled=True)


def _check_book(book: Book, scaled: bool) -> None:
    venue, accounts, moves = book
    venue, _, kind = venue.partition(":")
    profile = load_venue(venue)
    inst = _instrument(profile, inverse=kind == "inverse")
    cfg = EngineConfig(profile, settle_asset=inst.settle, thresholds=THRESHOLDS,
                       volatility_mm=SCALED if scaled else False,
                       amounts_on_quantum=False)  # deposits off the 1E-8 grid put books exactly on a threshold
    engine = Engine(cfg)
    p0 = Decimal(60000)
    sym = inst.symbol
    engine.apply(AdvanceTime(0))
    if scaled:
        engine.apply_all([PriceUpdate(sym, "t", Decimal(58800)), AdvanceTime(1_000), PriceUpdate(sym, "t", p0),
                          AdvanceTime(2_000)])
        vol = engine.state.markets[sym].volatility
        assert vol is not None and vol.scale > 2
    engine.apply(PriceUpdate(sym, "t", p0))
    engine.apply(Deposit("maker", inst.settle, Decimal(10) ** 12))
    lot = inst.lot
    for k, (_, units, short, mode) in enumerate(accounts):
        aid = f"a{k:02d}"
        engine.apply(Deposit(aid, inst.settle, Decimal(1)))
        if mode.endswith("isolated"):
            engine.apply(SetMarginMode(aid, sym, MarginMode.ISOLATED))
        qty = lot * units * 100
        if mode.startswith("hedge"):  # the long leg, then the short one (a third of it, at least a lot)
            legs = [(qty, aid, "maker", PositionSide.LONG), (lot * max(units // 3, 1) * 100, "maker", aid,
                                                             PositionSide.SHORT)]
            for n, (size, buyer, seller, side) in enumerate(legs):
                fill = Fill(f"f{k}-{n}", sym, p0, size, buyer, seller, buyer_position_side=side if buyer == aid
                            else PositionSide.BOTH, seller_position_side=side if seller == aid else PositionSide.BOTH)
                assert engine.apply(fill).accepted
            continue
        buyer, seller = ("maker", aid) if short else (aid, "maker")
        assert engine.apply(Fill(f"f{k}", sym, p0, qty, buyer, seller)).accepted
    # Put each account on its threshold at the first tick's price (found on a copy of the engine)
    p1 = p0 * (1 + Decimal(moves[0]) / 10_000)
    probe = copy.deepcopy(engine)
    assert probe.apply(PriceUpdate(sym, "t", p1)).accepted
    for k, (target, *_rest) in enumerate(accounts):
        aid = f"a{k:02d}"
        m = probe.margin_from_scratch(aid)
        if target == "free":
            continue
        # the cross account, or the first isolated part (the hedge-mode long), is put on its threshold
        part = m.isolated[0] if m.isolated else None
        eq, mm = (m.equity, m.maintenance_margin) if part is None else (part.equity, part.maintenance_margin)
        goal = {"liq": mm, "zero": Decimal(0)}.get(target)
        if goal is None:
            goal = mm / RATIOS[int(target[1])]
        delta = goal - eq
        if inst.is_inverse and delta > 0:  # coin PnL is a 40-digit quotient: land within 1e-8 above it
            delta = round_up(delta, Decimal("1e-8"))
        elif not (delta > 0 and delta == delta.quantize(Decimal("1e-18"))):
            continue
        assert engine.apply(Deposit(aid, inst.settle, delta)).accepted
        if part is not None:  # the deposit moved into the isolated part
            assert engine.apply(AddIsolatedMargin(aid, sym, delta, part.position_side)).accepted
    for move in moves:
        price = p0 * (1 + Decimal(move) / 10_000)
        before = {aid: acc.level for aid, acc in engine.state.accounts.items()}
        result = engine.apply(PriceUpdate(sym, "t", price))
        assert result.accepted, result.denial
        expected = _reference(engine, before)
        assert {aid: acc.level for aid, acc in engine.state.accounts.items()} == expected
        changed = [e.account_id for e in result.events if isinstance(e, MarginLevelChanged)]
        assert changed == sorted(aid for aid in expected if expected[aid] != before[aid])
    if scaled:  # the next update: the last move's return is the new σ, so the scale changes
        before = {aid: acc.level for aid, acc in engine.state.accounts.items()}
        result = engine.apply(AdvanceTime(3_000))
        assert result.accepted, result.denial
        expected = _reference(engine, before)
        assert {aid: acc.level for aid, acc in engine.state.accounts.items()} == expected
        changed = [e.account_id for e in result.events if isinstance(e, MarginLevelChanged)]
        assert changed == sorted(aid for aid in expected if expected[aid] != before[aid])


BTC = Asset("WBTC", haircut=Decimal("0.05"), haircut_tiers=((Decimal("0.05"), Decimal("0.2")),))
"""BTC collateral for the collateral-tick test, as wrapped BTC (``WBTC``: Hyperliquid's BTC
instrument is called ``BTC``): 5 % haircut on the first 0.05, 20 % beyond (marginal bands by
quantity, ``Asset.haircut_tiers``)."""


@st.composite
def collateral_books(draw: st.DrawFn) -> tuple[str, list[tuple[str, int, bool, int]], list[int]]:
    venue = draw(st.sampled_from([v for v in _linear_venues() if v != "bitmex"]))
    accounts = draw(st.lists(st.tuples(st.sampled_from(TARGETS), st.integers(1, 400), st.booleans(),
                                       st.integers(0, 500)), min_size=1, max_size=12))
    moves = draw(st.lists(st.integers(-300, 300), min_size=1, max_size=4))  # in 1/10,000 of the price
    return venue, accounts, moves


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(collateral_books())
def test_a_collateral_index_tick_changes_exactly_the_levels_a_full_relevel_would(
        book: tuple[str, list[tuple[str, int, bool, int]], list[int]]) -> None:
    """A collateral asset's index moves every holder's equity by its value (``units × price``,
    rounded down to the money quantum): the screen moves its collateral rows in the same pass
    as a mark tick. Books are put exactly on each threshold at the first move's price, with
    BTC balances from none to 1 % of the position's size, across the haircut bands."""
    venue, accounts, moves = book
    profile = load_venue(venue)
    inst = _instrument(profile)
    cfg = EngineConfig(profile, settle_asset=inst.settle, thresholds=THRESHOLDS, amounts_on_quantum=False,
                       collateral={"WBTC": BTC})
    engine = Engine(cfg)
    p0, btc0, sym = Decimal(60000), Decimal("60000.37"), inst.symbol  # BTC off round numbers: values round
    engine.apply_all([AdvanceTime(0), PriceUpdate(sym, "t", p0), PriceUpdate("WBTC", "t", btc0),
                      Deposit("maker", inst.settle, Decimal(10) ** 12)])
    for k, (_, units, short, btc) in enumerate(accounts):
        aid = f"a{k:02d}"
        assert engine.apply(Deposit(aid, inst.settle, Decimal(5))).accepted
        qty = inst.lot * units * 100
        # up to 1 % of the position's size in BTC: small enough that a deposit can bring the
        # account up to any threshold, large enough that a 3 % move of BTC crosses it
        btc_qty = (qty * btc / 50_000).quantize(Decimal("1e-8"))
        if btc_qty > 0:
            assert engine.apply(Deposit(aid, "WBTC", btc_qty)).accepted
        buyer, seller = ("maker", aid) if short else (aid, "maker")
        assert engine.apply(Fill(f"f{k}", sym, p0, qty, buyer, seller)).accepted
    b1 = btc0 * (1 + Decimal(moves[0]) / 10_000)
    probe = copy.deepcopy(engine)
    assert probe.apply(PriceUpdate("WBTC", "t", b1)).accepted
    for k, (target, *_rest) in enumerate(accounts):
        aid = f"a{k:02d}"
        m = probe.margin_from_scratch(aid)
        eq, mm = m.equity, m.maintenance_margin
        if target == "free":
            continue
        goal = {"liq": mm, "zero": Decimal(0)}.get(target)
        if goal is None:
            goal = mm / RATIOS[int(target[1])]
        delta = goal - eq
        if delta > 0 and delta == delta.quantize(Decimal("1e-18")):
            assert engine.apply(Deposit(aid, inst.settle, delta)).accepted
    for move in moves:
        price = btc0 * (1 + Decimal(move) / 10_000)
        before = {aid: acc.level for aid, acc in engine.state.accounts.items()}
        result = engine.apply(PriceUpdate("WBTC", "t", price))
        assert result.accepted, result.denial
        expected = _reference(engine, before)
        assert {aid: acc.level for aid, acc in engine.state.accounts.items()} == expected
        changed = [e.account_id for e in result.events if isinstance(e, MarginLevelChanged)]
        assert changed == sorted(aid for aid in expected if expected[aid] != before[aid])


def test_a_collateral_tick_decides_exactly_an_account_its_value_rounding_would_hide() -> None:
    """Hand numbers (binance-usdm, WBTC at a 5 % haircut, money quantum 1e-8): 0.00123457 WBTC
    counts for u = 0.00123457 × 0.95 = 0.0011728415. At 61,234.57, u × p = 71.818444930655
    rounds down to 71.81844493 (r0 = 6.55e-10 dropped); at 60,111.13, u × p = 70.500827875895
    rounds down to 70.50082787 (r1 = 5.895e-9). The float move u × (p1 − p0) therefore
    overstates the exact change of value by r1 − r0 = 5.24e-9: an account put exactly at MM /
    equity = 0.8 (margin call) at 60,111.13 looks, in floats, a hair healthier than the
    threshold, at the warning level it held. The screen's bound (one quantum per tick and
    asset, twice over) makes that uncertain, so the account is decided exactly and enters
    margin call."""
    profile = load_venue("binance-usdm")
    cfg = EngineConfig(profile, thresholds=THRESHOLDS, amounts_on_quantum=False, collateral={"WBTC": BTC})
    engine = Engine(cfg)
    p0, p1 = Decimal("61234.57"), Decimal("60111.13")
    u = BTC.haircut_value(Decimal("0.00123457"))
    assert u == Decimal("0.0011728415")
    value = {p: (u * p).quantize(Decimal("1e-8"), rounding="ROUND_FLOOR") for p in (p0, p1)}
    assert value == {p0: Decimal("71.81844493"), p1: Decimal("70.50082787")}
    assert (u * p0 - value[p0]) - (u * p1 - value[p1]) < 0  # r0 − r1: the float move overstates
    # 1 BTC long at 60,000: MM = 0.4 % × 60,000 = 240 (Binance's first BTCUSDT tier), so the
    # margin-call threshold MM / equity = 0.8 is an equity of 300: USDT = 300 − value at p1
    engine.apply_all([AdvanceTime(0), PriceUpdate("BTCUSDT", "t", Decimal(60000)), PriceUpdate("WBTC", "t", p0),
                      Deposit("maker", "USDT", Decimal(10) ** 9), Deposit("a", "WBTC", Decimal("0.00123457")),
                      Deposit("a", "USDT", 300 - value[p1]),
                      Fill("f", "BTCUSDT", Decimal(60000), Decimal(1), "a", "maker")])
    assert engine.margin("a").maintenance_margin == 240
    assert engine.state.accounts["a"].level == "warning"  # 240 / 301.3176... ≈ 0.797
    result = engine.apply(PriceUpdate("WBTC", "t", p1))
    assert engine.margin("a").equity == 300  # exactly on the threshold
    assert engine.state.accounts["a"].level == "margin_call"
    assert [e.account_id for e in result.events if isinstance(e, MarginLevelChanged)] == ["a"]


def test_every_linear_venue_is_covered() -> None:
    assert {"binance-usdm", "bybit-linear", "dydx-v4", "hyperliquid", "drift", "bitmex"} <= set(_linear_venues())
    assert {"binance-coinm", "bybit-inverse", "bitmex"} <= set(_inverse_venues())


def _arrays(rng: np.random.Generator, rows: int, accounts: int) -> list[object]:
    aidx = rng.permutation(accounts)[:rows].astype(np.int64)
    q = rng.choice([-1.0, 1.0], rows) * rng.uniform(0.001, 10, rows)
    rate = rng.choice([0.004, 0.005, 0.01], rows)
    amount = rng.choice([0.0, 50.0, 1300.0], rows)
    lo = np.where(rng.random(rows) < 0.5, -np.inf, 10_000.0)
    hi = np.where(rng.random(rows) < 0.5, np.inf, 500_000.0)
    mm_last = np.abs(q) * 60_000 * rate - amount
    dirty = np.zeros(rows, np.bool_)
    eq = rng.uniform(-1000, 30_000, accounts)
    # some accounts exactly on a threshold in float: equity == MM, MM == 0.8 × equity, equity == 0
    eq[:accounts // 4] = 0.0
    mm = np.abs(eq) * rng.choice([0.8, 1.0, 0.7, 0.2], accounts) + rng.choice([0.0, 1e-9], accounts)
    err = rng.choice([0.0, 1e-12, 1e-3], accounts)
    level = rng.integers(0, 5, accounts).astype(np.int8)
    # an isolated part's judgement may sit below its account's level (the hysteresis reads the latter)
    judged = np.where(rng.random(accounts) < 0.3, rng.integers(0, 5, accounts), level).astype(np.int8)
    exact = rng.random(accounts) < 0.05
    params = np.array([0.0, 0.7, 0.65, 0.8, 0.75, 4 * kernel.EPS])
    flags = np.zeros(rows, np.int64)
    return [aidx, q, rate, amount, lo, hi, mm_last, dirty, 60_000.0, 59_700.0, eq, mm, err, level, judged, exact,
            params, flags]


@pytest.mark.skipif(kernel.NUMBA_TICK is None, reason="numba is not installed (pip install solvent[fast])")
@pytest.mark.parametrize("seed", range(20))
def test_the_numba_and_numpy_kernels_flag_the_same_rows_and_write_the_same_numbers(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = _arrays(rng, 500, 700)
    b = copy.deepcopy(a)
    assert kernel.NUMBA_TICK is not None
    n_a = kernel.NUMBA_TICK(*a)
    n_b = kernel.tick_numpy(*b)  # type: ignore[arg-type]
    assert n_a == n_b
    for x, y in zip(a, b, strict=True):
        if isinstance(x, np.ndarray):
            assert isinstance(y, np.ndarray)
            if x is a[-1]:
                np.testing.assert_array_equal(x[:n_a], y[:n_b])
            else:
                np.testing.assert_array_equal(x, y)


def test_the_kernel_level_codes_are_the_ranks_of_the_one_level_order() -> None:
    codes = [kernel.HEALTHY, kernel.WARNING, kernel.MARGIN_CALL, kernel.LIQUIDATION, kernel.BANKRUPT]
    assert [LEVEL_ORDER[c] for c in codes] == list(MarginLevel)


def test_the_decision_is_certain_only_away_from_every_threshold() -> None:
    """Hand-placed floats: on a threshold the kernel says UNCERTAIN; clearly past it, the level."""
    params = np.array([0.0, 0.7, 0.65, 0.8, 0.75, 4 * kernel.EPS])
    decide = kernel._decide
    assert decide(0, 100.0, 80.0, 0.0, params) == kernel.UNCERTAIN  # MM = 0.8 × equity exactly
    assert decide(0, 100.0, 100.0, 0.0, params) == kernel.UNCERTAIN  # equity = MM: strictness decides
    assert decide(0, 0.0, 1.0, 0.0, params) == kernel.UNCERTAIN  # equity = 0
    assert decide(0, 100.0, 0.0, 0.0, params) == kernel.UNCERTAIN  # MM = 0
    assert decide(0, 100.0, 81.0, 0.0, params) == kernel.MARGIN_CALL
    assert decide(0, 100.0, 101.0, 0.0, params) == kernel.LIQUIDATION
    assert decide(0, -1.0, 0.0, 0.0, params) == kernel.BANKRUPT  # negative equity with no MM
    assert decide(0, 100.0, 10.0, 0.0, params) == kernel.HEALTHY
    assert decide(2, 100.0, 76.0, 0.0, params) == kernel.MARGIN_CALL  # hysteresis: stays above 0.75
    assert decide(0, 100.0, 76.0, 0.0, params) == kernel.WARNING
    assert decide(0, 100.0, 81.0, 2.0, params) == kernel.UNCERTAIN  # within the error bound


def test_a_tick_decides_exactly_only_the_accounts_near_a_threshold() -> None:
    """1,000 holders, 10 of them thin: a 0.5 % move evaluates about those, not the 990 others."""
    engine = Engine(EngineConfig(load_venue("binance-usdm")))
    qty, price = Decimal("0.01"), Decimal(60000)
    engine.apply(AdvanceTime(0))
    engine.apply(PriceUpdate("BTCUSDT", "t", price))
    engine.apply(Deposit("maker", "USDT", Decimal(10) ** 11))
    for a in range(1000):
        thin = a % 100 == 0
        engine.apply(Deposit(f"h{a:04d}", "USDT", qty * price * (Decimal("0.0095") if thin else Decimal("0.05"))))
        engine.apply(Fill(f"t{a}", "BTCUSDT", price, qty, f"h{a:04d}", "maker"))
    screen = engine._screen
    assert screen is not None and screen.ready
    flagged = screen.tick("BTCUSDT", Decimal(59_700))
    assert len(flagged) <= 12  # the 10 thin accounts (+ the maker at most)
    assert {f"h{a:04d}" for a in range(0, 1000, 100)} <= set(flagged)


def test_scaled_accounts_stay_on_the_fast_path() -> None:
    """The book above on a volatility-scaled venue. Two update instants before the fills set
    the scale to 2.02 (σ = ln(60,000 / 58,800)): the thin accounts (0.95 % of notional against
    an MM of 2.02 × 0.4 %) start at margin call. A third, calm instant (σ = 0) brings the scale
    back to 1 (floor 0.4 %; APC 0.25 × 0.808 % is below it): every holder is re-margined, the
    ten thin ones leave margin call, and none is left to be decided exactly on every tick."""
    engine = Engine(EngineConfig(load_venue("binance-usdm"), volatility_mm=SCALED))
    qty, price = Decimal("0.01"), Decimal(60000)
    engine.apply_all([AdvanceTime(0), PriceUpdate("BTCUSDT", "t", Decimal(58_800)), AdvanceTime(1_000),
                      PriceUpdate("BTCUSDT", "t", price), AdvanceTime(2_000)])
    engine.apply(Deposit("maker", "USDT", Decimal(10) ** 11))
    thin = {f"h{a:04d}" for a in range(0, 1000, 100)}
    for a in range(1000):
        aid = f"h{a:04d}"
        engine.apply(Deposit(aid, "USDT", qty * price * (Decimal("0.0095") if aid in thin else Decimal("0.05"))))
        engine.apply(Fill(f"t{a}", "BTCUSDT", price, qty, aid, "maker"))
    assert {aid for aid in thin if engine.state.accounts[aid].level == "margin_call"} == thin
    result = engine.apply(AdvanceTime(3_000))
    [change] = [e for e in result.events if isinstance(e, MaintenanceScaleChanged)]
    assert change.scale == 1
    moved = {e.account_id: e.level for e in result.events if isinstance(e, MarginLevelChanged)}
    assert moved == dict.fromkeys(thin, "healthy")
    screen = engine._screen
    assert screen is not None and screen.ready
    assert not any(screen.exact[screen.index[f"h{a:04d}"]] for a in range(1000))
    rows = screen.rows["BTCUSDT"]
    assert not rows.dirty[:rows.n].any()
    flagged = screen.tick("BTCUSDT", Decimal(59_700))
    assert len(flagged) <= 12  # the 10 thin accounts (+ the maker at most)
    assert thin <= set(flagged)


def test_isolated_and_hedge_mode_holders_stay_on_the_fast_path() -> None:
    """1,000 holders of 0.01 BTC long at 60,000 on binance-usdm (tier 1: MM 0.4 % of the
    notional; warning at MM / equity ≥ 0.7, margin call ≥ 0.8), leverage 20 (IM 5 %), in four
    layouts: one-way cross, one-way isolated, hedge mode with a 0.005 BTC short beside the long
    in the cross account, and the same with each leg isolated. Ten of each are thin. By hand:

    * one-way, thin: 5.7 USDT (the isolated fill locks min(IM 30, 5.7)); MM 2.4, ratio 0.42.
      At 59,700 the long loses 3: equity 2.7, MM 0.004 × 597 = 2.388, ratio 0.884: margin call.
      Fat: 30 locked or deposited, ratio 0.09, then 0.088.
    * hedge cross, thin: 5.7 USDT; MM 0.004 × 900 = 3.6, ratio 0.63. At 59,700 the legs lose
      3 and gain 1.5: equity 4.2, MM 0.004 × 895.5 = 3.582, ratio 0.853: margin call.
    * hedge isolated: the short is filled first and locks 15 (its IM); the long then locks what
      is left of 20.7 (thin: 5.7) or 45 (fat: 30), and is judged as the one-way isolated long.
      The short's part (15 + 1.5 against MM 1.194) stays healthy.

    Before this, the screen decided every isolated or hedge-mode holder exactly on every tick
    (750 of the 1,000 here); now the tick flags the 40 thin accounts, and the maker at most."""
    engine = Engine(EngineConfig(load_venue("binance-usdm")))
    qty, price, sym = Decimal("0.01"), Decimal(60000), "BTCUSDT"
    engine.apply_all([AdvanceTime(0), PriceUpdate(sym, "t", price), Deposit("maker", "USDT", Decimal(10) ** 11)])
    long_, short_, both = PositionSide.LONG, PositionSide.SHORT, PositionSide.BOTH
    thin: set[str] = set()
    for a in range(1000):
        aid, layout, lean = f"h{a:04d}", a % 4, a % 100 < 4
        if lean:
            thin.add(aid)
        margin = Decimal("5.7") if lean else Decimal(30)
        assert engine.apply(Deposit(aid, "USDT", margin + (15 if layout == 3 else 0))).accepted
        assert engine.apply(SetLeverage(aid, sym, Decimal(20))).accepted
        if layout in (1, 3):
            assert engine.apply(SetMarginMode(aid, sym, MarginMode.ISOLATED)).accepted
        if layout >= 2:  # hedge mode: the short first, then the long
            assert engine.apply(Fill(f"s{a}", sym, price, qty / 2, "maker", aid, seller_position_side=short_)).accepted
            assert engine.apply(Fill(f"t{a}", sym, price, qty, aid, "maker", buyer_position_side=long_)).accepted
        else:
            assert engine.apply(Fill(f"t{a}", sym, price, qty, aid, "maker", buyer_position_side=both)).accepted
    hedged = engine.state.accounts["h0003"].positions
    assert hedged[(sym, short_)].isolated_margin == 15 and hedged[(sym, long_)].isolated_margin == Decimal("5.7")
    assert {aid for aid, acc in engine.state.accounts.items() if acc.level != "healthy"} == set()
    screen = engine._screen
    assert screen is not None and screen.ready
    assert not any(screen.exact[screen.index[f"h{a:04d}"]] for a in range(1000))
    flagged = set(screen.tick(sym, Decimal(59_700)))
    assert thin <= flagged and len(flagged - thin) <= 1  # the maker at most
    screen.ready = False  # the move above went past the engine: let it rebuild the picture
    before = {aid: acc.level for aid, acc in engine.state.accounts.items()}
    result = engine.apply(PriceUpdate(sym, "t", Decimal(59_700)))
    assert {e.account_id: e.level for e in result.events if isinstance(e, MarginLevelChanged)} == \
        dict.fromkeys(sorted(thin), "margin_call")
    assert {aid: acc.level for aid, acc in engine.state.accounts.items()} == _reference(engine, before)
    assert len(set(screen.tick(sym, Decimal(59_710)))) <= len(thin) + 1  # and so it goes on


def test_an_isolated_part_of_an_account_with_an_unpriced_collateral_is_not_left_at_the_old_scale() -> None:
    """A review's find: an account holding a collateral asset with no price yet (the screen then
    decides it exactly) and an isolated short. A volatility re-rate marks the short's row dirty
    and re-margins the account; its row was rewritten only for accounts the screen follows, and
    only the cross slot was marked exact, so the part kept MM at scale 1 and the next tick missed
    its margin call. By hand: the scale after the update at 2,000 ms is s (``SCALED``: about
    2.02); a 1 BTC isolated short opened at 58,800 with margin M = 1,200 + 20 + s × 0.004 × 60,020
    ÷ 0.8 has, at 60,020, equity M − 1,220 and MM s × 0.004 × 60,020: MM / equity = 0.8 exactly,
    margin call. An engine with no screen (every holder decided exactly) is the reference."""
    cfg = EngineConfig(load_venue("binance-usdm"), volatility_mm=SCALED, amounts_on_quantum=False,
                       collateral={"WBTC": Asset("WBTC", haircut=Decimal("0.05"))})
    sym = "BTCUSDT"
    probe = Engine(cfg)
    probe.apply_all([AdvanceTime(0), PriceUpdate(sym, "t", Decimal(58800)), AdvanceTime(1000),
                     PriceUpdate(sym, "t", Decimal(60000)), AdvanceTime(2000)])
    vol = probe.state.markets[sym].volatility
    assert vol is not None and vol.scale > 2
    margin = Decimal(1220) + vol.scale * Decimal("0.004") * Decimal(60020) / Decimal("0.8")
    screened, exact = Engine(cfg), Engine(cfg)
    exact._screen = None
    cmds = [AdvanceTime(0), PriceUpdate(sym, "t", Decimal(58800)), AdvanceTime(1000),
            Deposit("maker", "USDT", Decimal(10) ** 9), Deposit("a", "WBTC", Decimal("0.01")),
            SetMarginMode("a", sym, MarginMode.ISOLATED), Deposit("a", "USDT", margin),
            Fill("f1", sym, Decimal(58800), Decimal(1), "maker", "a"), PriceUpdate(sym, "t", Decimal(60000)),
            AdvanceTime(2000), PriceUpdate(sym, "t", Decimal(60020))]
    for cmd in cmds:
        got, want = screened.apply(cmd), exact.apply(cmd)
        exact._screen = None
        assert got.events == want.events, cmd
    assert screened.state.accounts["a"].level == "margin_call"


OPS = st.lists(st.tuples(st.sampled_from(["fill", "order", "cancel", "deposit", "withdraw", "tick", "isolate",
                                          "hedge", "add"]),
                         st.integers(0, 5), st.integers(0, 1), st.integers(-40, 40)), min_size=5, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["binance-usdm", "dydx-v4", "hyperliquid", "drift"]), st.booleans(), OPS)
def test_a_mixed_stream_on_two_symbols_keeps_the_screen_true(venue: str, liquidating: bool,
                                                              ops: list[tuple[str, int, int, int]]) -> None:
    """Fills, orders, cancels, deposits and withdrawals on two symbols between ticks (each
    command rewrites only its own symbol's rows, ``TickScreen.refresh(only=…)``), with symbols
    switched to isolated margin, margin added to isolated positions, and hedge-mode legs: after
    every command each account's rows are its positions, each adding into its part (the
    account's slot, or its isolated position's), and after every tick the levels are those of
    a from-scratch re-level. An account isolated on one symbol and cross on the other has two
    parts that a tick of either symbol may move past the other."""
    profile = load_venue(venue)
    linear = [i for i in profile.instruments.values() if not i.is_inverse and i.expiry_ms is None]
    pair = sorted(linear, key=lambda i: i.symbol)[:2]
    settle = pair[0].settle
    engine = Engine(EngineConfig(profile, settle_asset=settle, thresholds=THRESHOLDS,
                                 liquidation=LiquidationPolicy() if liquidating else None))
    prices = {i.symbol: Decimal(100) for i in pair}
    engine.apply_all([AdvanceTime(0), *(PriceUpdate(s, "t", p) for s, p in prices.items()),
                      Deposit("maker", settle, Decimal(10) ** 12)])
    for k in range(6):
        engine.apply(Deposit(f"a{k}", settle, Decimal(40)))
    screen = engine._screen
    assert screen is not None
    for n, (op, k, which, size) in enumerate(ops):
        inst = pair[which]
        sym, aid = inst.symbol, f"a{k}"
        qty = Decimal(abs(size) + 1) / 2  # notional 50 to 2,050 against 40 deposited: every level is reached
        if op == "fill":
            buyer, seller = (aid, "maker") if size >= 0 else ("maker", aid)
            engine.apply(Fill(f"f{n}", sym, prices[sym], qty, buyer, seller))
        elif op == "order":
            engine.apply(PlaceOrder(aid, f"o{n}", sym, Side.LONG if size >= 0 else Side.SHORT, qty, prices[sym]))
        elif op == "cancel":
            for order_id in sorted(engine.state.accounts[aid].orders)[:1]:
                engine.apply(CancelOrder(aid, order_id))
        elif op == "deposit":
            engine.apply(Deposit(aid, settle, Decimal(abs(size) + 1)))
        elif op == "withdraw":
            engine.apply(Withdraw(aid, settle, Decimal(abs(size) + 1)))
        elif op == "isolate":  # refused while the account holds the symbol
            engine.apply(SetMarginMode(aid, sym, MarginMode.ISOLATED))
        elif op == "hedge":  # a hedge-mode leg (refused next to a one-way position)
            side = PositionSide.LONG if size >= 0 else PositionSide.SHORT
            buyer, seller = (aid, "maker") if size >= 0 else ("maker", aid)
            engine.apply(Fill(f"f{n}", sym, prices[sym], qty, buyer, seller,
                              buyer_position_side=side if buyer == aid else PositionSide.BOTH,
                              seller_position_side=side if seller == aid else PositionSide.BOTH))
        elif op == "add":
            for (symbol, side), pos in sorted(engine.state.accounts[aid].positions.items()):
                if pos.qty and pos.margin_mode is MarginMode.ISOLATED:
                    engine.apply(AddIsolatedMargin(aid, symbol, Decimal(abs(size) + 1), side))
                    break
        else:
            before = {a: acc.level for a, acc in engine.state.accounts.items()}
            prices[sym] = prices[sym] * (1 + Decimal(size) / 1000)
            assert engine.apply(PriceUpdate(sym, "t", prices[sym])).accepted
            if not liquidating:  # (liquidation moves levels on after the re-level the reference makes)
                assert {a: acc.level for a, acc in engine.state.accounts.items()} == _reference(engine, before)
        if not screen.ready:
            continue
        for a, acc in engine.state.accounts.items():
            held = [p for p in acc.positions.values() if p.qty]
            assert set(screen.symbols.get(a, ())) == {p.symbol for p in held}, (a, op)
            isolated = {(i.symbol, i.position_side) for i in engine.margin(a).isolated}
            for p in held:
                rows = (screen.hedged if p.position_side is PositionSide.SHORT else screen.rows)[p.symbol]
                row = rows.row_of[a]
                assert rows.qty[row] == p.qty
                part = screen.part_index[(a, p.symbol, p.position_side)] if (p.symbol, p.position_side) in isolated \
                    else screen.index[a]
                assert rows.aidx[row] == part, (a, p)
            for sets in (screen.rows, screen.hedged):  # no row of a position the account no longer holds
                for symbol, rows in sets.items():
                    for side in ((PositionSide.SHORT,) if sets is screen.hedged else
                                 (PositionSide.BOTH, PositionSide.LONG)):
                        if a in rows.row_of and any(p.symbol == symbol and p.position_side is side for p in held):
                            break
                    else:
                        assert a not in rows.row_of, (a, symbol)


def test_a_collateral_asset_cannot_share_its_name_with_an_instrument() -> None:
    """On Hyperliquid ``BTC`` is an instrument: a ``PriceUpdate("BTC", …)`` could not say whether
    it moves the instrument's mark or the collateral's index, so the config is refused."""
    with pytest.raises(ValueError, match="BTC is also an instrument of hyperliquid"):
        EngineConfig(load_venue("hyperliquid"), collateral={"BTC": Asset("BTC", haircut=Decimal("0.05"))})
    EngineConfig(load_venue("hyperliquid"), collateral={"WBTC": BTC})  # named apart: fine


def test_the_first_price_of_a_collateral_asset_re_margins_every_holder() -> None:
    """Before its first index price a collateral asset counts as nothing (and the screen has
    no rows for it): when the price comes, every holder is decided exactly. Hand numbers: 1 BTC
    long at 60,000 on binance-usdm has MM 240; with 100 USDT the account is below MM
    (liquidation level, liquidation off); 0.01 WBTC at 60,000 with a 5 % haircut adds 570, so
    its equity is 670 and MM / equity = 0.358…, below the warning ratio 0.5; but an account
    that was at warning or worse stays at warning while MM ≥ (0.5 − 0.3) × equity = 134
    (the hysteresis of ``THRESHOLDS``): warning."""
    cfg = EngineConfig(load_venue("binance-usdm"), thresholds=THRESHOLDS, collateral={"WBTC": BTC})
    engine = Engine(cfg)
    engine.apply_all([AdvanceTime(0), PriceUpdate("BTCUSDT", "t", Decimal(60000)),
                      Deposit("maker", "USDT", Decimal(10) ** 9), Deposit("a", "USDT", Decimal(100)),
                      Deposit("a", "WBTC", Decimal("0.01")),
                      Fill("f", "BTCUSDT", Decimal(60000), Decimal(1), "a", "maker"),
                      PriceUpdate("BTCUSDT", "t", Decimal(60000))])
    assert engine.margin("a").equity == 100 and engine.state.accounts["a"].level == "liquidation"
    result = engine.apply(PriceUpdate("WBTC", "t", Decimal(60000)))
    assert engine.margin("a").equity == 670
    assert engine.state.accounts["a"].level == "warning"
    assert [e.account_id for e in result.events if isinstance(e, MarginLevelChanged)] == ["a"]


def test_a_command_stopped_by_the_round_bound_leaves_no_stale_picture(monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-margining after a command runs at most ``MAX_LIQUIDATION_ROUNDS`` rounds; accounts the
    last round touched are left for later, and so is their part of the screen. Here the bound
    is 0, so the fill's accounts are not re-levelled at all: the account grows from 0.1 to 5 BTC
    long at 60,000 with 1,000 USDT (binance-usdm: MM 0.4 % × 300,000 = 1,200 > equity), while the
    screen still holds its 0.1 BTC and healthy equity. The next tick must not trust that picture:
    it rebuilds it, and the account is decided exactly (liquidation level, liquidation off)."""
    from solvent.engine import core

    engine = Engine(EngineConfig(load_venue("binance-usdm"), thresholds=THRESHOLDS))
    engine.apply_all([AdvanceTime(0), PriceUpdate("BTCUSDT", "t", Decimal(60000)),
                      Deposit("maker", "USDT", Decimal(10) ** 9), Deposit("a", "USDT", Decimal(1000)),
                      Fill("f1", "BTCUSDT", Decimal(60000), Decimal("0.1"), "a", "maker"),
                      PriceUpdate("BTCUSDT", "t", Decimal(60001))])
    assert engine.state.accounts["a"].level == "healthy"
    monkeypatch.setattr(core, "MAX_LIQUIDATION_ROUNDS", 0)
    assert engine.apply(Fill("f2", "BTCUSDT", Decimal(60000), Decimal("4.9"), "a", "maker")).accepted
    monkeypatch.setattr(core, "MAX_LIQUIDATION_ROUNDS", 32)
    assert engine.state.accounts["a"].level == "healthy"  # left for later by the bound
    before = {aid: acc.level for aid, acc in engine.state.accounts.items()}
    assert engine.apply(PriceUpdate("BTCUSDT", "t", Decimal(60002))).accepted
    assert engine.margin_from_scratch("a").maintenance_margin > engine.margin_from_scratch("a").equity
    assert {aid: acc.level for aid, acc in engine.state.accounts.items()} == _reference(engine, before)
    assert engine.state.accounts["a"].level == "liquidation"
