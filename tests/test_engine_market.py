"""Index and mark through the engine: source deviation (vector BN-IX-1), staleness pauses
and resumes liquidations, and the jump guard holds a 20 % move until it is confirmed."""

from __future__ import annotations

from decimal import Decimal

from support import vector

from solvent import load_venue
from solvent.engine import (
    AdvanceTime,
    Command,
    DenyCode,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    PlaceOrder,
    PremiumSample,
    PriceUpdate,
)
from solvent.engine.events import (
    Event,
    IndexDropped,
    LiquidationsPaused,
    LiquidationsResumed,
    MarkPriceChanged,
    MarkPriceHeld,
)
from solvent.model import Side

D = Decimal
USDM = load_venue("binance-usdm")
BTC = "BTCUSDT"
T0 = 1_000


def apply(engine: Engine, cmd: Command) -> tuple[Event, ...]:
    result = engine.apply(cmd)
    assert result.accepted, f"{cmd}: {result.denial}"
    return result.events


def of(kind: type, events: tuple[Event, ...]) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


def test_bn_ix_1_four_sources_drop_the_outlier_and_mark_30000() -> None:
    v = vector("BN-IX-1")
    prices = [D(p) for p in v["inputs"]["sources"]]
    engine = Engine(EngineConfig(USDM))  # index max deviation 5 %, as in the vector
    assert EngineConfig(USDM).index.max_deviation == D(v["inputs"]["max_deviation"])
    apply(engine, AdvanceTime(T0))
    events: tuple[Event, ...] = ()
    for source, price in zip("abcd", prices, strict=True):
        events = apply(engine, PriceUpdate(BTC, source, price))
    # last update: median (30,000 + 30,010) / 2 = 30,005; 31,800 is 5.98 % away → dropped;
    # index = (30,000 + 30,010 + 29,990) / 3 = 30,000, which the mark already was
    dropped = of(IndexDropped, events)
    assert [(e.source, e.reason) for e in dropped] == [("d", "DEVIATION")]  # type: ignore[attr-defined]
    assert [str(p) for p in prices if p == D(v["expected"]["dropped"][0])] == ["31800"]
    assert engine.state.markets[BTC].mark == D(v["expected"]["index"])


def test_stale_sources_pause_liquidations_and_halt_orders_until_a_fresh_price() -> None:
    engine = Engine(EngineConfig(USDM))
    for cmd in [AdvanceTime(T0), Deposit("alice", "USDT", D(10000)), PriceUpdate(BTC, "a", D(30000)),
                PriceUpdate(BTC, "b", D(30010))]:
        apply(engine, cmd)
    order = PlaceOrder("alice", "o", BTC, Side.LONG, D("0.1"), D(30000))
    assert engine.check(order).accepted
    # exactly 60 s old is still fresh (stale means older than 60,000 ms)
    assert of(LiquidationsPaused, apply(engine, AdvanceTime(T0 + 60_000))) == []
    events = apply(engine, AdvanceTime(T0 + 60_001))
    assert of(LiquidationsPaused, events) == [LiquidationsPaused(BTC, "no index: NO_FRESH_SOURCES")]
    assert {e.source for e in of(IndexDropped, events)} == {"a", "b"}  # type: ignore[attr-defined]
    before = engine.state_hash()
    result = engine.apply(order)
    assert result.denial is not None and result.denial.code is DenyCode.MARKET_HALTED
    assert engine.state_hash() == before
    assert engine.state.markets[BTC].mark == D(30005)  # frozen at the last index
    # staying stale does not repeat the pause
    assert of(LiquidationsPaused, apply(engine, AdvanceTime(T0 + 120_000))) == []
    events = apply(engine, PriceUpdate(BTC, "a", D(30100)))
    assert of(LiquidationsResumed, events) == [LiquidationsResumed(BTC)]
    assert MarkPriceChanged(BTC, D(30100), ("a",)) in events
    apply(engine, order)


def test_a_20_percent_jump_is_held_until_confirmed_and_margin_keeps_the_old_mark() -> None:
    engine = Engine(EngineConfig(USDM))  # guard: max jump 10 %, 2 confirmations within 2 %
    for cmd in [AdvanceTime(T0), Deposit("alice", "USDT", D(10000)), Deposit("bob", "USDT", D(10000)),
                PriceUpdate(BTC, "binance", D(30000)), Fill("t", BTC, D(30000), D(1), "alice", "bob")]:
        apply(engine, cmd)
    events = apply(engine, PriceUpdate(BTC, "binance", D(36000)))  # +20 %
    assert MarkPriceHeld(BTC, D(36000), D(30000)) in events
    assert of(LiquidationsPaused, events) == [LiquidationsPaused(BTC, "price jump held for confirmation")]
    assert of(MarkPriceChanged, events) == []
    assert engine.margin("alice").equity == D(10000)  # still judged at 30,000
    # 36,100 is within 2 % of the held 36,000: confirmation 1 of 2, still held, no second pause
    events = apply(engine, PriceUpdate(BTC, "binance", D(36100)))
    assert of(MarkPriceHeld, events) == [MarkPriceHeld(BTC, D(36100), D(30000))]
    assert of(LiquidationsPaused, events) == []
    assert engine.state.markets[BTC].mark == D(30000)
    # 36,050: confirmation 2 of 2 → accepted; the mark moves and liquidations resume
    events = apply(engine, PriceUpdate(BTC, "binance", D(36050)))
    assert of(LiquidationsResumed, events) == [LiquidationsResumed(BTC)]
    assert MarkPriceChanged(BTC, D(36050), ("binance",)) in events
    # alice long 1 from 30,000: equity 10,000 + 6,050
    assert engine.margin("alice").equity == D(16050)


def test_a_held_jump_that_reverts_is_never_used() -> None:
    engine = Engine(EngineConfig(USDM))
    for cmd in [AdvanceTime(T0), PriceUpdate(BTC, "binance", D(30000)), PriceUpdate(BTC, "binance", D(24000))]:
        apply(engine, cmd)
    assert engine.state.markets[BTC].mark == D(30000)
    events = apply(engine, PriceUpdate(BTC, "binance", D(30100)))  # back within 10 % of 30,000
    assert of(LiquidationsResumed, events) == [LiquidationsResumed(BTC)]
    assert engine.state.markets[BTC].mark == D(30100)


def test_binance_mark_rule_is_the_median_of_three_prices_vector_bn_mp_1() -> None:
    # Vector BN-MP-1 (Binance mark price): index 30000, last funding rate 0.0001, 4 h of an
    # 8 h interval left, basis moving average 12, last price 30005:
    #   price1 = 30000 × (1 + 0.0001 × 4/8) = 30001.5;  price2 = 30000 + 12 = 30012
    #   mark = median(30001.5, 30012, 30005) = 30005
    v = vector("BN-MP-1")
    hour = 3_600_000
    cfg = EngineConfig(load_venue("binance-usdm"), mark_rule="median_of_three")
    engine = Engine(cfg)
    index = Decimal(v["inputs"]["index"])
    steps = [
        AdvanceTime(1),
        Deposit("a", "USDT", Decimal(100_000)), Deposit("b", "USDT", Decimal(100_000)),
        PriceUpdate("BTCUSDT", "s", index),
        PremiumSample("BTCUSDT", index, index),  # premium 0 ⇒ funding rate 0 + clamp(0.0001) = 0.0001
        AdvanceTime(8 * hour),                    # funding settles at 8 h with rate 0.0001
        AdvanceTime(12 * hour),                   # 4 h before the next funding
        PriceUpdate("BTCUSDT", "s", index),
        # impact bid 30012 ⇒ premium 12 / 30000 = 0.0004 ⇒ basis 0.0004 × 30000 = 12
        PremiumSample("BTCUSDT", Decimal(30012), Decimal(30020)),
        Fill("t", "BTCUSDT", Decimal(v["inputs"]["last_price"]), Decimal(1), "a", "b"),
        PriceUpdate("BTCUSDT", "s", index),
    ]
    for cmd in steps:
        assert engine.apply(cmd).accepted, cmd
    assert engine.state.markets["BTCUSDT"].last_funding_rate == Decimal(v["inputs"]["last_funding_rate"])
    assert engine.state.markets["BTCUSDT"].mark == Decimal(v["expected"]["mark_price"])
