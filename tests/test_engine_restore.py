"""An engine rebuilt from a copy of another's state behaves exactly like it."""

from __future__ import annotations

import copy
from decimal import Decimal

from solvent.engine import AdvanceTime, Deposit, Engine, EngineConfig, Fill, PlaceOrder, PriceUpdate
from solvent.model import Side
from solvent.risk.venues import load_venue


def test_a_restored_engine_re_margins_existing_holders_on_the_next_price() -> None:
    cfg = EngineConfig(load_venue("binance-usdm"))
    original = Engine(cfg)
    for cmd in [AdvanceTime(1000), Deposit("a", "USDT", Decimal(700)), Deposit("b", "USDT", Decimal(10**6)),
                Deposit("c", "USDT", Decimal(5000)), PriceUpdate("BTCUSDT", "x", Decimal(60000)),
                Fill("t", "BTCUSDT", Decimal(60000), Decimal(1), "a", "b"),
                PlaceOrder("c", "o", "BTCUSDT", Side.LONG, Decimal("0.5"), Decimal(60000))]:
        assert original.apply(cmd).accepted
    restored = Engine(cfg, state=copy.deepcopy(original.state))
    assert restored.state_hash() == original.state_hash()
    # a: equity 700 − 500 = 200 < MM 59,500 × 0.4 % = 238 → liquidation level on both engines
    move = PriceUpdate("BTCUSDT", "x", Decimal(59500))
    assert repr(original.apply(move).events) == repr(restored.apply(move).events)
    assert restored.state_hash() == original.state_hash()
    assert restored.state.accounts["a"].level == "liquidation"


def test_a_huge_time_step_settles_funding_once_and_returns() -> None:
    # Stepping 2^53 ms crosses ~3·10^8 funding boundaries; only the first can have premium
    # samples (they are cleared by the settlement), so one settlement is due and the next
    # boundary is the first one after the new time.
    engine = Engine(EngineConfig(load_venue("binance-usdm")))
    assert engine.apply(AdvanceTime(1000)).accepted
    assert engine.apply(AdvanceTime(2**53)).accepted
    interval = 8 * 3600 * 1000
    assert engine.state.next_funding_ms == (2**53 // interval + 1) * interval


def test_liquidation_creates_the_book_account_on_first_use() -> None:
    from solvent.engine import LiquidationPolicy
    from solvent.engine.events import LiquidationStep

    cfg = EngineConfig(load_venue("binance-usdm"), liquidation=LiquidationPolicy(book_account="external"))
    engine = Engine(cfg)
    for cmd in [AdvanceTime(0), Deposit("a", "USDT", Decimal(700)), Deposit("b", "USDT", Decimal(10**6)),
                PriceUpdate("BTCUSDT", "x", Decimal(60000)),
                Fill("t", "BTCUSDT", Decimal(60000), Decimal(1), "a", "b")]:
        assert engine.apply(cmd).accepted
    # a: equity 700 − 500 = 200 ≤ MM 238 at 59,500 → liquidated against "external", created now
    result = engine.apply(PriceUpdate("BTCUSDT", "x", Decimal(59500)))
    assert result.accepted
    assert any(isinstance(e, LiquidationStep) for e in result.events)
    assert "external" in engine.state.accounts
    held, owed = engine.conservation()["USDT"]
    assert held == owed
