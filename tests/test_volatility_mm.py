"""Volatility-scaled MM as a rule the engine runs (issue 11, item 5).

Expected numbers are hand computations written out beside each case. The logarithms are the
published values ln 1.1 = 0.0953101798043248600439521…, ln 0.9 = −0.1053605156578263012275009…
and ln 1.05 = 0.0487901641694320030653744… (any table of natural logarithms); square roots
are taken with ``Decimal.sqrt``, and the engine's σ is re-derived here with a loop of our own.
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from solvent.engine import AdvanceTime, Deposit, Engine, EngineConfig, Fill, PlaceOrder, PriceUpdate, SetLeverage
from solvent.engine.events import MaintenanceScaleChanged, MarginCall, MarginLevelChanged
from solvent.engine.maintenance_scale import update_instants
from solvent.engine.state import VolatilityState
from solvent.errors import InvalidInput
from solvent.journal import SqliteBackend, recover, verify
from solvent.journal.codec import decode_config, encode_config
from solvent.journal.durable_engine import DurableEngine
from solvent.journal.snapshot import decode_state, encode_state
from solvent.model import Side
from solvent.risk.venues import bundled_venues, load_venue, parse_profile
from solvent.risk.volatility import (
    VolatilityMMRule,
    VolScalingPolicy,
    ewma_volatility,
    maintenance_scale,
    parse_volatility_rule,
    push_peak,
)

LN_1_1 = Decimal("0.0953101798043248600439521")
LN_0_9 = Decimal("-0.1053605156578263012275009")
LN_1_05 = Decimal("0.0487901641694320030653744")
CLOSE = Decimal("1e-20")

# base 0.5 % at σ 2 %, never below the tables (floor = base), at most 5× (cap 2.5 %), EMIR weight 0.25
HAND_RULE = VolatilityMMRule(
    VolScalingPolicy(Decimal("0.005"), Decimal("0.02"), Decimal("0.005"), Decimal("0.025"), Decimal("0.25")),
    update_interval_ms=1_000, window=4, lookback_ms=10_000,
)

# The engine scenario's rule: base 0.4 % at σ 1 % per minute, floor 0.4 %, cap 4 %, weight 0.25
ENGINE_RULE = VolatilityMMRule(
    VolScalingPolicy(Decimal("0.004"), Decimal("0.01"), Decimal("0.004"), Decimal("0.04"), Decimal("0.25")),
    update_interval_ms=60_000, window=4, lookback_ms=600_000,
)


def _up6(x: Decimal) -> Decimal:
    """Round up to 1e-6 (the rate and the scale are requirements)."""
    return -((-x).quantize(Decimal("1e-6"), rounding="ROUND_FLOOR"))


# ---------------------------------------------------------------- the scale, by hand


def test_the_scale_follows_the_ewma_between_floor_and_cap() -> None:
    # marks 100, 110, 99, 108.9: r = a, b, a with a = ln 1.1, b = ln 0.9;
    # σ² = 0.94(0.94a² + 0.06b²) + 0.06a² = 0.9436a² + 0.0564b² ≈ 0.0091978, σ ≈ 0.0959054
    sigma = (Decimal("0.9436") * LN_1_1 ** 2 + Decimal("0.0564") * LN_0_9 ** 2).sqrt()
    got = ewma_volatility(["100", "110", "99", "108.9"], "0.94")
    assert abs(got - sigma) < CLOSE
    # rate = 0.005 × σ / 0.02 = σ / 4 ≈ 0.02397635, under the 2.5 % cap, rounded up to 0.023977;
    # scale = 0.023977 / 0.005 = 4.7954
    rate = _up6(sigma / 4)
    assert rate == Decimal("0.023977")
    assert maintenance_scale(HAND_RULE, sigma, sigma) == rate / Decimal("0.005") == Decimal("4.7954")


def test_the_cap_the_floor_and_the_apc_floor() -> None:
    # σ 0.2: 0.005 × 10 = 0.05, capped at 0.025: scale 5
    assert maintenance_scale(HAND_RULE, "0.2", "0.2") == Decimal(5)
    # σ 0.004 with no stress: 0.001, floored at 0.005: scale 1
    assert maintenance_scale(HAND_RULE, "0.004", "0.004") == Decimal(1)
    # σ 0.004 after a stressed σ of 0.1: APC = 0.25 × min(0.005 × 5, 0.025) = 0.00625: scale 1.25
    assert maintenance_scale(HAND_RULE, "0.004", "0.1") == Decimal("1.25")
    # stressed σ 0.03: APC = 0.25 × 0.0075 = 0.001875 < floor 0.005: scale 1
    assert maintenance_scale(HAND_RULE, "0.004", "0.03") == Decimal(1)
    # the rule's own long-history stressed σ (EMIR 10-year lookback) binds when the engine saw less
    seeded = VolatilityMMRule(HAND_RULE.policy, 1_000, 4, 10_000, stressed_vol=Decimal("0.1"))
    assert maintenance_scale(seeded, "0.004", "0.03") == Decimal("1.25")


def test_the_running_maximum_over_the_lookback() -> None:
    one, two, three = Decimal("0.01"), Decimal("0.02"), Decimal("0.03")
    peaks = push_peak((), 1_000, two, 3_000)
    peaks = push_peak(peaks, 2_000, one, 3_000)
    assert peaks == ((1_000, two), (2_000, one))  # 0.02 is still the maximum
    peaks = push_peak(peaks, 3_000, one, 3_000)
    assert peaks == ((1_000, two), (3_000, one))  # an equal σ replaces the older one
    peaks = push_peak(peaks, 4_000, one, 3_000)
    assert peaks == ((4_000, one),)  # 1,000 is at now − lookback: gone; the max is now 0.01
    assert push_peak(peaks, 5_000, three, 3_000) == ((5_000, three),)


def test_the_update_schedule() -> None:
    rule = HAND_RULE  # every 1,000 ms, window 4
    assert update_instants(rule, 0, 999) == []
    assert update_instants(rule, 999, 1_000) == [1_000]
    assert update_instants(rule, 1_000, 1_999) == []
    assert update_instants(rule, 500, 3_500) == [1_000, 2_000, 3_000]
    # a long advance: the first `window` instants, then the last one (all later samples equal)
    assert update_instants(rule, 0, 10_000) == [1_000, 2_000, 3_000, 4_000, 10_000]


# ---------------------------------------------------------------- profile and config


def _profile_json(extra: dict[str, Any]) -> dict[str, Any]:
    raw = json.loads((Path(__file__).resolve().parents[1] / "src" / "solvent" / "profiles" / "bitmex.json")
                     .read_text("utf-8"))
    return {**raw, **extra}


RULE_JSON = {
    "source": "RiskMetrics λ 0.94; EMIR RTS 153/2013 art. 28(1)(b) weight 0.25", "lambda": "0.94",
    "update_interval_ms": 86_400_000, "window": 75, "lookback_ms": 315_360_000_000,
    "base_mmr": "0.004", "reference_vol": "0.03", "floor_mmr": "0.004", "cap_mmr": "0.02",
    "stress_weight": "0.25", "stressed_vol": "0.131",
}


def test_a_profile_selects_the_rule_and_no_bundled_profile_does() -> None:
    assert all(load_venue(v).volatility_mm is None for v in bundled_venues())
    profile = parse_profile(_profile_json({"volatility_mm": RULE_JSON}))
    rule = profile.volatility_mm
    assert rule is not None and rule.window == 75 and rule.stressed_vol == Decimal("0.131")
    assert rule.policy.cap_mmr == Decimal("0.02") and rule.lam == Decimal("0.94")
    assert EngineConfig(profile).volatility_rule == rule
    assert EngineConfig(profile, volatility_mm=False).volatility_rule is None
    assert EngineConfig(load_venue("bitmex"), volatility_mm=rule).volatility_rule == rule


@pytest.mark.parametrize(("change", "why"), [
    ({"window": 1}, "window"), ({"window": "75"}, "window"), ({"lambda": "1"}, "lam"),
    ({"cap_mmr": "0.001"}, "floor_mmr <= cap_mmr"), ({"surprise": 1}, "unknown"), ({"source": ""}, "source"),
    ({"update_interval_ms": 0}, "update_interval_ms"), ({"stressed_vol": "-1"}, "stressed_vol"),
])
def test_a_bad_rule_is_refused_with_the_reason(change: dict[str, Any], why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        parse_volatility_rule({**RULE_JSON, **change}, "p")


def test_the_config_round_trips_and_an_old_genesis_runs_without_the_rule() -> None:
    cfg = EngineConfig(load_venue("binance-usdm"), volatility_mm=ENGINE_RULE)
    raw = json.loads(json.dumps(encode_config(cfg)))
    assert decode_config(raw) == cfg
    old = {k: v for k, v in raw.items() if k not in ("volatility_mm",)}
    assert decode_config(old).volatility_mm is False and decode_config(old).volatility_rule is None
    default = json.loads(json.dumps(encode_config(EngineConfig(load_venue("binance-usdm")))))
    assert default["volatility_mm"] is True and decode_config(default).volatility_mm is True


# ---------------------------------------------------------------- in the engine


def _own_sigma(marks: list[Decimal], lam: Decimal = Decimal("0.94")) -> Decimal:
    """RiskMetrics EWMA written out again (seeded with the first squared return)."""
    returns = [(b / a).ln() for a, b in itertools.pairwise(marks)]
    var = returns[0] ** 2
    for r in returns[1:]:
        var = lam * var + (1 - lam) * r * r
    return var.sqrt()


def _scale(sigma: Decimal, stressed: Decimal) -> Decimal:
    """ENGINE_RULE by hand: clamp(0.004 σ / 0.01, 0.004, 0.04), APC 0.25 ×, up to 1e-6, / 0.004."""
    def rate_at(s: Decimal) -> Decimal:
        return min(max(Decimal("0.4") * s, Decimal("0.004")), Decimal("0.04"))
    return _up6(_up6(max(rate_at(sigma), Decimal("0.25") * rate_at(stressed))) / Decimal("0.004"))


MINUTE = 60_000
PRICES = [60_000, 60_000, 60_000, 60_000, 63_000, 60_000, 60_000]
"""The mark at update instants 1–7 (one a minute): calm, a 5 % spike at 5, back at 6 and 7."""


def _setup(volatility_mm: VolatilityMMRule | bool) -> tuple[Engine, list[Any]]:
    engine = Engine(EngineConfig(load_venue("binance-usdm"), volatility_mm=volatility_mm))
    cmds: list[Any] = [AdvanceTime(0), PriceUpdate("BTCUSDT", "ix", Decimal(60_000)),
                       Deposit("maker", "USDT", Decimal(10) ** 9), Deposit("alice", "USDT", Decimal(1_300)),
                       Fill("t1", "BTCUSDT", Decimal(60_000), Decimal(1), "alice", "maker")]
    for cmd in cmds:
        assert engine.apply(cmd).accepted
    return engine, cmds


def _minute(k: int, price: int) -> list[Any]:
    """Refresh the price just before instant ``k`` (a source is stale after 60 s), then cross it."""
    return [AdvanceTime(k * MINUTE - 500), PriceUpdate("BTCUSDT", "ix", Decimal(price)), AdvanceTime(k * MINUTE)]


def test_a_volatility_spike_raises_mm_and_brings_a_margin_call_at_the_next_update() -> None:
    engine, _ = _setup(ENGINE_RULE)
    plain, _ = _setup(False)
    seen: list[Decimal] = []
    for k, price in enumerate(PRICES, start=1):
        for cmd in _minute(k, price)[:-1]:
            assert engine.apply(cmd).accepted and plain.apply(cmd).accepted
        result = engine.apply(AdvanceTime(k * MINUTE))
        plain.apply(AdvanceTime(k * MINUTE))
        seen.append(Decimal(price))
        changes = [e for e in result.events if isinstance(e, MaintenanceScaleChanged)]
        vol = engine.state.markets["BTCUSDT"].volatility
        assert vol is not None
        if k < 5:  # calm (σ = 0 from the 4th sample: floor, scale 1) or the window not yet full
            assert changes == [] and vol.scale == 1
        else:
            sigma = _own_sigma(seen[-4:])
            assert abs(vol.volatility - sigma) < CLOSE
            [change] = changes
            assert change.scale == vol.scale == _scale(sigma, max(sigma, change.stressed_volatility))
        # position MM = the tables' MM (the unscaled twin) × the scale, exactly
        assert engine.margin("alice").maintenance_margin == plain.margin("alice").maintenance_margin * vol.scale
        assert engine.margin("alice").maintenance_margin == engine.margin_from_scratch("alice").maintenance_margin
        if k == 6:
            # window 60,000 60,000 63,000 60,000: r = 0, a, −a (a = ln 1.05):
            # σ² = 0.94 × 0.06a² + 0.06a² = 0.1164a², σ = 0.34117…a = 0.016646 → rate 0.0066585 → 0.006659
            assert vol.scale == Decimal("1.66475")
            assert engine.state.accounts["alice"].level == "healthy"  # MM 399.54 on equity 1,300
        if k == 7:
            # window 60,000 63,000 60,000 60,000: r = a, −a, 0: σ² = 0.94(0.94a² + 0.06a²) = 0.94a²,
            # σ = 0.969536…a = 0.0473038 → rate 0.4σ = 0.01892152… → 0.018922 → scale 4.7305;
            # MM = 240 × 4.7305 = 1,135.32 on equity 1,300: ratio 0.8733 ≥ 0.8, a margin call
            assert abs(vol.volatility - Decimal("0.94").sqrt() * LN_1_05) < CLOSE
            assert vol.scale == Decimal("4.7305")
            assert engine.margin("alice").maintenance_margin == Decimal("1135.32")
            moved = [e for e in result.events if isinstance(e, MarginLevelChanged)]
            assert [(e.account_id, e.previous, e.level) for e in moved] == [("alice", "healthy", "margin_call")]
            assert any(isinstance(e, MarginCall) for e in result.events)
            assert plain.state.accounts["alice"].level == "healthy"  # nothing moved but the scale
    assert all(held == owed for held, owed in engine.conservation().values())
    # the price-tick screen still follows alice on its fast path (her row carries the scale)
    screen = engine._screen
    assert screen is not None and screen.ready and not screen.exact[screen.index["alice"]]


def _after_the_spike(config_changes: dict[str, Any] | None = None) -> Engine:
    """The scenario above to instant 7 (scale 4.7305), with bob funded and set to 75× at the
    start, while the scale was 1 (Binance's first BTCUSDT tier allows 125×)."""
    engine = Engine(EngineConfig(load_venue("binance-usdm"), volatility_mm=ENGINE_RULE, **(config_changes or {})))
    setup: list[Any] = [AdvanceTime(0), PriceUpdate("BTCUSDT", "ix", Decimal(60_000)),
                        Deposit("maker", "USDT", Decimal(10) ** 9), Deposit("bob", "USDT", Decimal(5_000)),
                        SetLeverage("bob", "BTCUSDT", Decimal(75))]
    for cmd in setup:
        assert engine.apply(cmd).accepted
    for k, price in enumerate(PRICES, start=1):
        for cmd in _minute(k, price):
            assert engine.apply(cmd).accepted
    assert engine.state.markets["BTCUSDT"].volatility.scale == Decimal("4.7305")  # type: ignore[union-attr]
    return engine


def test_an_order_whose_initial_margin_would_not_cover_the_scaled_mm_is_refused() -> None:
    """1 BTC at 60,000: table MM 0.4 % = 240, scaled 240 × 4.7305 = 1,135.32. At 75× the IM is
    60,000 / 75 = 800 < 1,135.32: the position would open below its maintenance margin, so the
    order is refused. The largest leverage whose IM covers it is 60,000 / 1,135.32 =
    52.848…, shown rounded down as 52.84. At 50× the IM is 1,200 ≥ 1,135.32: accepted."""
    engine = _after_the_spike()
    order = PlaceOrder("bob", "o1", "BTCUSDT", Side.LONG, Decimal(1), Decimal(60_000))
    refused = engine.check(order)
    assert not refused.accepted and refused.denial is not None
    assert refused.denial.code == "LEVERAGE_EXCEEDS_TIER"
    assert dict(refused.denial.context)["max_leverage"] == "52.84"
    assert dict(refused.denial.context)["mm_scale"] == "4.7305"
    assert engine.apply(SetLeverage("bob", "BTCUSDT", Decimal(50))).accepted
    assert engine.check(order).accepted


def test_raising_leverage_on_a_held_position_past_the_scaled_mm_is_refused() -> None:
    """bob holds 1 BTC at 50×; 53× gives IM 60,000 / 53 = 1,132.08 < 1,135.32: refused; 52× gives
    1,153.85: accepted."""
    engine = _after_the_spike()
    assert engine.apply(SetLeverage("bob", "BTCUSDT", Decimal(50))).accepted
    assert engine.apply(Fill("t2", "BTCUSDT", Decimal(60_000), Decimal(1), "bob", "maker")).accepted
    refused = engine.apply(SetLeverage("bob", "BTCUSDT", Decimal(53)))
    assert not refused.accepted and refused.denial is not None and refused.denial.code == "LEVERAGE_EXCEEDS_TIER"
    assert engine.apply(SetLeverage("bob", "BTCUSDT", Decimal(52))).accepted


def test_raising_leverage_with_resting_orders_checks_them_as_filled() -> None:
    """No position, a resting buy of 10 BTC at 60,000: 600,000 of notional once filled. The
    bundled Binance BTCUSDT brackets allow at most 100× at that notional, so 125× is refused
    (it was accepted: only the position held, none, was checked) and 100× is accepted."""
    engine = Engine(EngineConfig(load_venue("binance-usdm")))
    setup: list[Any] = [AdvanceTime(0), PriceUpdate("BTCUSDT", "ix", Decimal(60_000)),
                        Deposit("b", "USDT", Decimal(40_000)), SetLeverage("b", "BTCUSDT", Decimal(20)),
                        PlaceOrder("b", "o", "BTCUSDT", Side.LONG, Decimal(10), Decimal(60_000))]
    for cmd in setup:
        assert engine.apply(cmd).accepted
    assert engine.config.profile.rules_for("BTCUSDT").max_leverage(Decimal(10), Decimal(600_000)) == 100
    refused = engine.apply(SetLeverage("b", "BTCUSDT", Decimal(125)))
    assert not refused.accepted and refused.denial is not None
    assert dict(refused.denial.context) == {"leverage": "125", "max_leverage": "100", "notional": "600000"}
    assert engine.apply(SetLeverage("b", "BTCUSDT", Decimal(100))).accepted
    old = Engine(EngineConfig(load_venue("binance-usdm"), strict_leverage=False))
    for cmd in setup:
        assert old.apply(cmd).accepted
    assert old.apply(SetLeverage("b", "BTCUSDT", Decimal(125))).accepted  # what old journals did


def test_journals_from_before_the_check_replay_as_they_ran() -> None:
    """A genesis record without ``strict_leverage`` reads as ``False``: only the tier is
    checked, so the 75× order the old engine accepted is accepted on replay."""
    config = decode_config({k: v for k, v in encode_config(EngineConfig(
        load_venue("binance-usdm"), volatility_mm=ENGINE_RULE)).items() if k != "strict_leverage"})
    assert config.strict_leverage is False
    engine = _after_the_spike({"strict_leverage": False})
    assert engine.check(PlaceOrder("bob", "o1", "BTCUSDT", Side.LONG, Decimal(1), Decimal(60_000))).accepted


def test_one_long_advance_leaves_the_state_of_instant_by_instant_updates() -> None:
    jump, _ = _setup(ENGINE_RULE)
    steps, _ = _setup(ENGINE_RULE)
    for k, price in enumerate([60_000, 61_000, 59_500], start=1):
        for cmd in _minute(k, price):
            jump.apply(cmd)
            steps.apply(cmd)
    assert jump.apply(AdvanceTime(40 * MINUTE)).accepted
    for k in range(4, 41):
        assert steps.apply(AdvanceTime(k * MINUTE)).accepted
    assert jump.state.markets["BTCUSDT"].volatility == steps.state.markets["BTCUSDT"].volatility
    assert jump.state_hash() == steps.state_hash()


def test_replay_and_a_snapshot_reproduce_the_scaled_state(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    durable = DurableEngine(SqliteBackend(path), EngineConfig(load_venue("binance-usdm"), volatility_mm=ENGINE_RULE),
                            snapshot_every=7)
    _, cmds = _setup(False)
    for k, price in enumerate(PRICES, start=1):
        cmds += _minute(k, price)
    events = [durable.apply(cmd) for cmd in cmds]
    assert any(isinstance(e, MaintenanceScaleChanged) for r in events for e in r.events)
    live = durable.state_hash()
    durable.close()
    backend = SqliteBackend(path)
    report = verify(backend)  # config from the genesis record: the rule comes with it
    assert report.ok, report.mismatches
    assert report.state_hash == live and report.snapshots_checked > 0
    recovered = recover(backend).engine
    assert recovered.state_hash() == live
    assert recovered.state.markets["BTCUSDT"].volatility is not None
    assert recovered.state.accounts["alice"].level == "margin_call"
    backend.close()


def test_a_snapshot_keeps_the_scale_and_one_without_it_is_unchanged() -> None:
    engine, _ = _setup(ENGINE_RULE)
    blob = encode_state(engine.state)
    assert b"volatility" not in blob  # no update yet: the bytes of a snapshot written before the rule
    assert decode_state(blob).markets["BTCUSDT"].volatility is None
    for k, price in enumerate(PRICES, start=1):
        engine.apply_all(_minute(k, price))
    blob = encode_state(engine.state)
    restored = Engine(engine.config, state=decode_state(blob))
    assert restored.state.markets["BTCUSDT"].volatility == engine.state.markets["BTCUSDT"].volatility
    assert restored.state_hash() == engine.state_hash()
    assert restored.margin("alice") == engine.margin("alice")


def test_an_engine_without_the_rule_keeps_no_volatility_state() -> None:
    engine, _ = _setup(True)  # the profile's rule: binance-usdm has none
    for k, price in enumerate(PRICES, start=1):
        events = [e for r in engine.apply_all(_minute(k, price)) for e in r.events]
        assert not any(isinstance(e, MaintenanceScaleChanged) for e in events)
    assert engine.state.markets["BTCUSDT"].volatility is None


def test_a_scale_set_on_a_market_applies_to_isolated_positions_too() -> None:
    """Isolated MM goes through the same ``position_mm``."""
    from solvent.engine.commands import SetMarginMode
    from solvent.model import MarginMode

    engine = Engine(EngineConfig(load_venue("binance-usdm"), volatility_mm=ENGINE_RULE))
    engine.apply_all([AdvanceTime(0), PriceUpdate("BTCUSDT", "ix", Decimal(60_000)),
                      Deposit("maker", "USDT", Decimal(10) ** 9), Deposit("bob", "USDT", Decimal(5_000)),
                      SetMarginMode("bob", "BTCUSDT", MarginMode.ISOLATED)])
    assert engine.apply(Fill("t1", "BTCUSDT", Decimal(60_000), Decimal(1), "bob", "maker")).accepted
    before = engine.margin("bob").isolated[0].maintenance_margin
    engine.state.markets["BTCUSDT"].volatility = VolatilityState(scale=Decimal("2.5"))
    engine._rebuild()  # derived indexes from the state, as after a restore
    assert engine.margin("bob").isolated[0].maintenance_margin == before * Decimal("2.5")
