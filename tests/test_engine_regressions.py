"""Regressions found in review: each test is the smallest example of a bug that was fixed.

Expected numbers are worked out by hand
in the comments (binance-usdm BTCUSDT: MM rate 0.4 % below 300,000 notional, default
leverage 20, taker fee reserve 0.05 %).
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

import pytest

from solvent import load_venue
from solvent.engine import (
    AdvanceTime,
    CancelOrder,
    Command,
    CommandResult,
    DenyCode,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    LiquidationPolicy,
    PlaceOrder,
    PriceUpdate,
    SetLeverage,
    SetMarginMode,
)
from solvent.engine.events import AutoDeleveraged
from solvent.journal.snapshot import decode_state, encode_state
from solvent.model import PositionSide, Side
from solvent.risk.venues import parse_profile

D = Decimal
USDM = load_venue("binance-usdm")
BTC, ETH, FUT = "BTCUSDT", "ETHUSDT", "BTCUSDT_261225"
EXPIRY_MS = 1798185600000
BNB = "BNBUSDT"
TOY = parse_profile({
    "schema_version": 1, "name": "toy", "source": "test fixture", "effective_from": "2026-01-01",
    "margin_model": "tiered", "mm_basis": "mark", "trigger_price": "mark",
    "liquidation_trigger": "equity_at_or_below_mm", "liquidation_fee_rate": "0.0125",
    "tier_tables": {"T": [{"notional_floor": "0", "notional_cap": "100000000", "maint_margin_ratio": "0.05",
                           "initial_leverage": "10", "cum": "0"}]},
    "defaults": {"kind": "linear_perpetual", "contract_size": "1"},
    "instruments": {BNB: {"base": "BNB", "quote": "USDT", "settle": "USDT", "tick_size": "0.01",
                          "lot_size": "1", "tiers": "T"}},
})


def ok(engine: Engine, cmd: Command) -> CommandResult:
    result = engine.apply(cmd)
    assert result.accepted, (cmd, result.denial)
    return result


def restored(engine: Engine) -> Engine:
    """What journal recovery builds from a snapshot of ``engine`` (``journal/replay.py``)."""
    return Engine(engine.config, state=decode_state(encode_state(engine.state)))


# ------------------------------------------------------------------------------------------
# 1. core.py Engine._remargin / __post_init__: the derived ``_holders`` index is not a
#    function of the state. Live, an account stays a "holder" of every symbol it ever had an
#    order or position on; after a snapshot restore only current holders are rebuilt. A price
#    update on such a symbol re-levels (and may liquidate) the stale holder in the live engine
#    only, so replay from a snapshot diverges from the journal (rule 2 / rule 5).


@pytest.mark.parametrize("screened", [True, False])
def test_snapshot_restored_engine_behaves_like_the_live_engine(screened: bool,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # Unscreened: the engine as it runs without numpy (``core.new_screen`` gives None), deciding
    # every holder of a ticking symbol exactly: the stale holder was re-run there until the
    # index dropped accounts that hold nothing on the symbol (``Engine._holding``).
    if not screened:
        monkeypatch.setattr("solvent.engine.core.new_screen", lambda config: None)
    # alice: 12,900 USDT, long 4 BTC from 60,000; once placed and cancelled an ETH order
    # (so the live engine keeps her in _holders[ETH]). Chunked liquidation, 30 s cooldown.
    policy = LiquidationPolicy(chunk_fraction=D("0.1"), cooldown_ms=30_000)
    live = Engine(EngineConfig(USDM, liquidation=policy))
    ok(live, AdvanceTime(1_000))
    for acc, amount in [("book", D(10) ** 9), ("bob", D(100_000)), ("alice", D(12_900))]:
        ok(live, Deposit(acc, "USDT", amount))
    ok(live, PriceUpdate(BTC, "s", D(60_000)))
    ok(live, PriceUpdate(ETH, "s", D(3_000)))
    ok(live, PlaceOrder("alice", "o1", ETH, Side.LONG, D("0.01"), D(2_900)))
    ok(live, CancelOrder("alice", "o1"))
    ok(live, Fill("t1", BTC, D(60_000), D(4), "alice", "bob"))
    # mark 57,000: equity 12,900 − 12,000 = 900 ≤ MM 0.004 × 228,000 = 912 → one chunk
    # (0.4 BTC) is liquidated, the cooldown stops the rest; alice stays at "liquidation".
    ok(live, PriceUpdate(BTC, "s", D(57_000)))
    assert live.state.accounts["alice"].level == "liquidation"
    ok(live, AdvanceTime(32_000))  # cooldown over, BTC quote still fresh
    copy = restored(live)
    assert copy.state_hash() == live.state_hash()
    # An ETH tick has nothing to do with alice (no ETH position, no ETH order). Both engines
    # must answer the same: today the live engine liquidates another 0.36 BTC of alice
    # (LiquidationStep) and the restored one does nothing.
    cmd = PriceUpdate(ETH, "s", D(3_001))
    a, b = live.apply(cmd), copy.apply(cmd)
    assert a.events == b.events
    assert live.state_hash() == copy.state_hash()


# ------------------------------------------------------------------------------------------
# 2. market_feed.py _close_all: orders cancelled at expiry do not add their account to
#    ``touched``, so only drop_symbol runs and the cached ``_Entry.hedge`` survives. An account
#    whose only hedge-mode orders were on the expired future stays "hedge" in the cache, and
#    a one-way (BOTH) order is then margined by the hedge formula, which ignores BOTH orders.


def test_order_after_expiry_cancelled_hedge_orders_is_margined() -> None:
    engine = Engine(EngineConfig(USDM))
    ok(engine, AdvanceTime(EXPIRY_MS - 60_000))
    ok(engine, Deposit("carol", "USDT", D(100)))
    ok(engine, PriceUpdate(FUT, "s", D(60_000)))
    ok(engine, PlaceOrder("carol", "f1", FUT, Side.LONG, D("0.01"), D(59_000), position_side=PositionSide.LONG))
    ok(engine, AdvanceTime(EXPIRY_MS + 1))  # settles FUT, cancels f1: carol has nothing left
    assert not engine.state.accounts["carol"].orders
    ok(engine, PriceUpdate(BTC, "s", D(60_000)))
    # buy 1 BTC at 60,000 with 100 USDT: IM = 60,000 / 20 + 0.0005 × 60,000 = 3,030 > 100,
    # so the order must be refused (a fresh engine refuses it). Today it is accepted.
    result = engine.apply(PlaceOrder("carol", "b1", BTC, Side.LONG, D(1), D(60_000)))
    assert not result.accepted
    assert result.denial is not None and result.denial.code is DenyCode.INSUFFICIENT_INITIAL_MARGIN


# ------------------------------------------------------------------------------------------
# 3. liquidation.py _trade/_deleverage: ADL fills the counterparty with the default slot
#    ``BOTH``; against a hedge-mode account fill() raises Deny(POSITION_SIDE_MISMATCH), which
#    escapes Engine.apply as an exception after the price, the mark and part of the
#    liquidation have already been committed.


def test_adl_against_a_hedge_mode_account() -> None:
    engine = Engine(EngineConfig(TOY, liquidation=LiquidationPolicy()))
    ok(engine, AdvanceTime(1_000))
    for acc, amount in [("book", D(10) ** 9), ("alice", D(50)), ("bob", D(1_000))]:
        ok(engine, Deposit(acc, "USDT", amount))
    ok(engine, PriceUpdate(BNB, "s", D(100)))
    # alice (one-way) long 10 BNB at 100 against bob's hedge-mode SHORT slot
    ok(engine, Fill("t1", BNB, D(100), D(10), "alice", "bob", seller_position_side=PositionSide.SHORT))
    # mark 94: alice's equity 50 + 10 × (94 − 100) = −10 < 0 (bankrupt); bankruptcy price
    # 94 + 10/10 = 95; the fund is empty, so ADL must close her long against bob's short
    # slot at 95 — and apply must return a result, not raise.
    result = engine.apply(PriceUpdate(BNB, "s", D(94)))
    assert result.accepted
    assert any(isinstance(e, AutoDeleveraged) and e.counterparty == "bob" for e in result.events)
    assert ("BNBUSDT", PositionSide.BOTH) not in engine.state.accounts["alice"].positions
    for held, net in engine.conservation().values():
        assert held == net


# ------------------------------------------------------------------------------------------
# 4. market_feed.py _settle_expired/_close_all: the settlement price is the raw TWAP (no tick,
#    40 significant digits) and the settlement amounts are not rounded to the money quantum;
#    adding them to balances at 40-digit working precision rounds the two sides differently,
#    so money is created (or destroyed). Engine.conservation() sums at the same precision and
#    hides it.


def _exact_sum(values: list[Any]) -> Decimal:
    with decimal.localcontext() as ctx:
        ctx.prec = 200
        return sum(values, D(0))


def test_settlement_moves_money_exactly() -> None:
    engine = Engine(EngineConfig(USDM))
    ok(engine, AdvanceTime(EXPIRY_MS - 30_000))
    ok(engine, Deposit("alice", "USDT", D(10) ** 12))
    ok(engine, Deposit("bob", "USDT", D(10_000)))
    ok(engine, PriceUpdate(FUT, "s", D(60_000)))
    ok(engine, Fill("t1", FUT, D(60_000), D(1), "alice", "bob"))
    ok(engine, AdvanceTime(EXPIRY_MS - 20_000))
    ok(engine, PriceUpdate(FUT, "s", D("60000.1")))
    ok(engine, AdvanceTime(EXPIRY_MS + 1))
    # TWAP over the window: 60,000 for 10 s, 60,000.1 for 20 s → 60,000.0666…; alice (long 1)
    # gains exactly what bob (short 1) loses. Today alice gets +0.066666666666666666666666667
    # and bob loses only 0.06666666666666666666666666666666667: 3.3e-28 USDT appear. Rounding the
    # price to the tick (60,000.1) would give +0.1 / −0.1.
    alice = engine.state.accounts["alice"].balances["USDT"]
    bob = engine.state.accounts["bob"].balances["USDT"]
    assert _exact_sum([alice, bob]) == D(10) ** 12 + D(10_000)
    quantum = engine.config.money_quantum
    assert alice % quantum == 0 and bob % quantum == 0


# ------------------------------------------------------------------------------------------
# wallet.py set_leverage: lowering the leverage of a symbol held in isolated margin checked the
# cross account only, so an isolated position could be put at 1× on the margin of 20×.


def test_an_isolated_positions_leverage_is_not_cut_below_what_its_margin_covers() -> None:
    # zoe: 215 USDT, ETHUSDT isolated, 1 ETH bought at 4,300 at the default 20×: the fill locks
    # 4,300 / 20 = 215 in the position, the wallet keeps 0. At 1× its initial margin is 4,300, at
    # 10× 430, both above the 215 it holds (PnL 0 at the mark 4,300): refused, naming both. At
    # 215 / 4,300 = 5 % exactly, 20× is what it has; 25× asks less (172): accepted.
    engine = Engine(EngineConfig(USDM))
    for acc, amount in [("zoe", D(215)), ("desk", D(100_000))]:
        ok(engine, Deposit(acc, "USDT", amount))
    ok(engine, PriceUpdate(ETH, "s", D(4_300)))
    ok(engine, SetMarginMode("zoe", ETH, "isolated"))
    ok(engine, Fill("t1", ETH, D(4_300), D(1), "zoe", "desk"))
    (pos,) = engine.state.accounts["zoe"].positions.values()
    assert pos.isolated_margin == D(215) and engine.state.accounts["zoe"].balances["USDT"] == 0
    for lev, required in ((D(1), "4300"), (D(10), "430")):
        refused = engine.apply(SetLeverage("zoe", ETH, lev))
        assert refused.denial is not None and refused.denial.code is DenyCode.INSUFFICIENT_INITIAL_MARGIN
        assert dict(refused.denial.context) == {"required": required, "available": "215", "symbol": ETH,
                                                "position_side": "both"}
    ok(engine, SetLeverage("zoe", ETH, D(25)))
    ok(engine, SetLeverage("zoe", ETH, D(20)))  # back to what the margin covers exactly
    # at 3x the IM is 4,300 / 3 = 1,433.333…: shown as a requirement is, rounded up to the money
    # quantum (10^-8), not in 40 digits; the decision was made on the exact value
    refused = engine.apply(SetLeverage("zoe", ETH, D(3)))
    assert refused.denial is not None and refused.denial.context[0] == ("required", "1433.33333334")


def test_a_refusal_for_want_of_margin_shows_what_is_required_up_and_what_is_available_down() -> None:
    # amy, cross, 1 ETH bought at 4,300 at 20x with 1,000 USDT; the mark falls to 4,299.98:
    # equity 1,000 − 0.02 = 999.98. Cut to 3x: IM 4,299.98 / 3 = 1,433.32666…, shown as a
    # requirement is, rounded up to the money quantum: 1,433.32666667.
    engine = Engine(EngineConfig(USDM))
    for acc, amount in [("amy", D(1_000)), ("bo", D(100)), ("desk", D(100_000))]:
        ok(engine, Deposit(acc, "USDT", amount))
    ok(engine, PriceUpdate(ETH, "s", D(4_300)))
    ok(engine, Fill("t1", ETH, D(4_300), D(1), "amy", "desk"))
    ok(engine, PriceUpdate(ETH, "s", D("4299.98")))
    refused = engine.apply(SetLeverage("amy", ETH, D(3)))
    assert refused.denial is not None and refused.denial.code is DenyCode.INSUFFICIENT_INITIAL_MARGIN
    assert dict(refused.denial.context) == {"required": "1433.32666667", "available": "999.98"}
    # bo, 100 USDT at 3x, asks for 1 ETH at 4,300: the IM at the mark 4,299.98 / 3 = 1,433.32666…,
    # plus the order's fee reserve 4,300 × 0.0005 = 2.15 and its loss against the mark 0.02:
    # 1,435.49666…, shown up
    ok(engine, SetLeverage("bo", ETH, D(3)))
    checked = engine.check(PlaceOrder("bo", "o1", ETH, Side.LONG, D(1), D(4_300)))
    assert checked.denial is not None and checked.denial.code is DenyCode.INSUFFICIENT_INITIAL_MARGIN
    assert dict(checked.denial.context) == {"required": "1435.49666667", "available": "100"}


def test_a_journal_written_before_the_isolated_leverage_rule_replays_its_cut() -> None:
    # A genesis record without ``isolated_leverage_cut`` was written by an engine that checked
    # the cross account only: replayed, the same 1x cut is accepted as it was then (zoe's cross
    # wallet holds 0, and nothing of the account is cross, so the cross check passes), and the
    # position carries the leverage it was given.
    from solvent.journal.codec import decode_config, encode_config, with_legacy_defaults

    encoded = encode_config(EngineConfig(USDM))
    assert encoded["isolated_leverage_cut"] is True
    old = decode_config(with_legacy_defaults({k: v for k, v in encoded.items() if k != "isolated_leverage_cut"}))
    assert old.isolated_leverage_cut is False
    engine = Engine(old)
    for acc, amount in [("zoe", D(215)), ("desk", D(100_000))]:
        ok(engine, Deposit(acc, "USDT", amount))
    ok(engine, PriceUpdate(ETH, "s", D(4_300)))
    ok(engine, SetMarginMode("zoe", ETH, "isolated"))
    ok(engine, Fill("t1", ETH, D(4_300), D(1), "zoe", "desk"))
    ok(engine, SetLeverage("zoe", ETH, D(1)))
    assert engine.state.accounts["zoe"].leverage[ETH] == D(1)
