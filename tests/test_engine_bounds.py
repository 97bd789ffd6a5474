"""Issue 10 item 1: one request must not stop the venue.

Bounds (engine/bounds.py) refuse absurd numbers before any handler runs; a command that
still fails inside the engine is refused as ``INTERNAL_ERROR`` and rolled back, and the
engine keeps serving.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from solvent import load_venue
from solvent.engine import (
    AdvanceTime,
    Command,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    PlaceOrder,
    PremiumSample,
    PriceUpdate,
    Withdraw,
    core,
)
from solvent.engine.denials import DenyCode
from solvent.errors import InvariantViolation
from solvent.model import Side

D = Decimal


def engine() -> Engine:
    return Engine(EngineConfig(load_venue("binance-usdm")))


def refused(e: Engine, cmd: object, code: DenyCode) -> None:
    before = e.state_hash()
    assert e.check(cmd).denial is not None  # type: ignore[arg-type]
    result = e.apply(cmd)  # type: ignore[arg-type]
    assert result.denial is not None and result.denial.code is code, result.denial
    assert e.state_hash() == before


def test_repro_first_price_below_half_a_tick_is_refused_and_the_venue_keeps_working() -> None:
    # ETHUSDT tick 0.01: 0.001 rounds to 0.00 on the tick, which used to raise mid-commit
    # (the quote was already stored) and break every later command.
    e = engine()
    refused(e, PriceUpdate("ETHUSDT", "binance", D("0.001")), DenyCode.PRICE_OUT_OF_RANGE)
    assert e.apply(PriceUpdate("ETHUSDT", "binance", D(3000))).accepted
    assert e.state.markets["ETHUSDT"].mark == D(3000)


def test_repro_absurd_fill_then_partial_close_is_refused_and_the_venue_keeps_working() -> None:
    # A fill at 1e24 used to be booked; half closing it released a cost ≥ 10^33 and raised.
    e = engine()
    for cmd in (Deposit("a", "USDT", D(10**6)), Deposit("b", "USDT", D(10**6)),
                PriceUpdate("BTCUSDT", "binance", D(60000))):
        assert e.apply(cmd).accepted
    refused(e, Fill("t1", "BTCUSDT", D("1e24"), D(1000), "a", "b"), DenyCode.PRICE_OUT_OF_RANGE)
    # 1 BTC at 60,000 is fine, and closing half of it too
    assert e.apply(Fill("t2", "BTCUSDT", D(60000), D(1), "a", "b")).accepted
    assert e.apply(Fill("t3", "BTCUSDT", D(60000), D("0.5"), "b", "a")).accepted
    for asset, (held, net) in e.conservation().items():
        assert held == net, asset


@pytest.mark.parametrize("price", ["0.001", "0.009", "1000000000.1", "1e30"])
def test_order_prices_outside_one_tick_to_max_are_refused(price: str) -> None:
    e = engine()
    assert e.apply(Deposit("a", "USDT", D(1000))).accepted
    refused(e, PlaceOrder("a", "o1", "ETHUSDT", Side.LONG, D("0.001"), D(price)), DenyCode.PRICE_OUT_OF_RANGE)


def test_premium_sample_prices_are_bounded_too() -> None:
    refused(engine(), PremiumSample("BTCUSDT", D("1e-30"), D(60000)), DenyCode.PRICE_OUT_OF_RANGE)


def test_quantity_over_max_or_notional_over_max_amount_is_refused() -> None:
    e = engine()
    # 2 × 10^9 > MAX_QTY = 10^9
    refused(e, Fill("t", "ETHUSDT", D(3000), D(2 * 10**9), "a", "b"), DenyCode.QTY_OUT_OF_RANGE)
    # 3,000 × 10^9 = 3 × 10^12 > MAX_AMOUNT = 10^12 (contract size 1)
    refused(e, Fill("t", "ETHUSDT", D(3000), D(10**9), "a", "b"), DenyCode.QTY_OUT_OF_RANGE)


def test_an_inverse_contract_is_bounded_by_its_face_value() -> None:
    """BTCUSD_PERP (100 USD contracts): 90,000 contracts are 9,000,000 USD, far below
    MAX_AMOUNT = 10^12; price × qty × cs = 116,975 × 9,000,000 ≈ 1.05 × 10^12 was read as a
    notional and the fill refused. (A face value above 10^12 would take 10^10 contracts, beyond
    MAX_QTY = 10^9, which refuses them first.)"""
    coin = Engine(EngineConfig(load_venue("binance-coinm"), settle_asset="BTC"))
    for cmd in [AdvanceTime(0), PriceUpdate("BTCUSD_PERP", "s", D(116975)), Deposit("a", "BTC", D(100)),
                Deposit("b", "BTC", D(100))]:
        assert coin.apply(cmd).accepted
    assert coin.apply(Fill("t1", "BTCUSD_PERP", D(116975), D(90_000), "a", "b")).accepted
    refused(coin, Fill("t2", "BTCUSD_PERP", D(116975), D(10**10 + 1), "a", "b"), DenyCode.QTY_OUT_OF_RANGE)


@pytest.mark.parametrize("amount", ["1000000000000.01", "1e30", "-1e30"])
def test_amounts_beyond_the_fixed_point_range_are_refused(amount: str) -> None:
    e = engine()
    refused(e, Deposit("a", "USDT", D(amount)), DenyCode.AMOUNT_OUT_OF_RANGE)
    refused(e, Withdraw("a", "USDT", D(amount)), DenyCode.AMOUNT_OUT_OF_RANGE)
    refused(e, Fill("t", "ETHUSDT", D(3000), D(1), "a", "b", buyer_fee=D(amount)), DenyCode.AMOUNT_OUT_OF_RANGE)


def test_max_amount_itself_is_accepted() -> None:
    assert engine().apply(Deposit("a", "USDT", D(10**12))).accepted


def test_time_beyond_a_signed_64_bit_millisecond_is_refused() -> None:
    refused(engine(), AdvanceTime(2**63), DenyCode.TIME_OUT_OF_RANGE)


def test_a_failure_inside_a_handler_is_refused_rolled_back_and_the_engine_keeps_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    e = engine()
    assert e.apply(Deposit("a", "USDT", D(100))).accepted
    before = e.state_hash()
    real = core.HANDLERS[Deposit]

    def half_applied(ctx: object, cmd: object, commit: bool) -> object:
        real(ctx, cmd, commit)  # type: ignore[arg-type]  # the balance moves, then a bug
        raise InvariantViolation("bug after the balance moved")

    monkeypatch.setitem(core.HANDLERS, Deposit, half_applied)
    result = e.apply(Deposit("a", "USDT", D(50)))
    assert not result.accepted and result.denial is not None
    assert result.denial.code is DenyCode.INTERNAL_ERROR
    assert dict(result.denial.context)["error"] == "InvariantViolation"
    assert e.state_hash() == before
    assert e.state.accounts["a"].balances["USDT"] == D(100)
    refused(e, Deposit("new", "USDT", D(1)), DenyCode.INTERNAL_ERROR)  # a new account is rolled back too
    assert "new" not in e.state.accounts
    monkeypatch.setitem(core.HANDLERS, Deposit, real)
    assert e.apply(Deposit("a", "USDT", D(50))).accepted
    assert e.state.accounts["a"].balances["USDT"] == D(150)


def test_a_failure_after_a_price_moved_restores_the_market_and_the_positions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    e = engine()
    for cmd in (Deposit("a", "USDT", D(10**5)), Deposit("b", "USDT", D(10**5)),
                PriceUpdate("BTCUSDT", "binance", D(60000)), Fill("t1", "BTCUSDT", D(60000), D(1), "a", "b")):
        assert e.apply(cmd).accepted
    before = e.state_hash()
    samples = len(e.state.markets["BTCUSDT"].index_samples)
    real = core.HANDLERS[PriceUpdate]

    def broken(ctx: object, cmd: object, commit: bool) -> object:
        real(ctx, cmd, commit)  # type: ignore[arg-type]  # quote, index sample and mark move
        raise ArithmeticError("late failure")

    monkeypatch.setitem(core.HANDLERS, PriceUpdate, broken)
    result = e.apply(PriceUpdate("BTCUSDT", "binance", D(61000)))
    assert result.denial is not None and result.denial.code is DenyCode.INTERNAL_ERROR
    assert e.state_hash() == before
    assert e.state.markets["BTCUSDT"].mark == D(60000)
    assert len(e.state.markets["BTCUSDT"].index_samples) == samples
    monkeypatch.setitem(core.HANDLERS, PriceUpdate, real)
    assert e.apply(PriceUpdate("BTCUSDT", "binance", D(61000))).accepted
    # a long 1 BTC from 60,000 gains 1,000 at 61,000
    assert e.state.markets["BTCUSDT"].mark == D(61000)


def test_a_failure_after_a_liquidation_traded_in_another_market_restores_that_market(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An ETH move liquidates a cross account holding BTC and ETH: its BTC position is closed on
    the book, which sets BTC's last price, a market outside the command's own (ETH). A failure
    after that must put BTC's market back too (the savepoint keeps a copy of a market before a
    trade first writes it), so the state hash is the one before the command."""
    from solvent.engine import LiquidationPolicy

    e = Engine(EngineConfig(load_venue("binance-usdm"), liquidation=LiquidationPolicy()))
    for cmd in (AdvanceTime(1000), Deposit("book", "USDT", D(10) ** 9), Deposit("a", "USDT", D(2000)),
                Deposit("b", "USDT", D(10) ** 7), PriceUpdate("BTCUSDT", "s", D(60000)),
                PriceUpdate("ETHUSDT", "s", D(3000)), Fill("t1", "BTCUSDT", D(60000), D("0.5"), "a", "b"),
                Fill("t2", "ETHUSDT", D(3000), D(10), "a", "b")):
        assert e.apply(cmd).accepted, cmd
    before, btc_last = e.state_hash(), e.state.markets["BTCUSDT"].last_price
    liquidate, relevel = core.Engine._liquidate, core.Engine._relevel
    traded = {"btc": False}

    def watched(self: core.Engine, aid: str) -> object:
        out = liquidate(self, aid)
        traded["btc"] |= self.state.markets["BTCUSDT"].last_price != btc_last
        return out

    def failing(self: core.Engine, acc: object, m: object) -> object:
        if traded["btc"]:
            raise RuntimeError("late failure")
        return relevel(self, acc, m)  # type: ignore[arg-type]

    monkeypatch.setattr(core.Engine, "_liquidate", watched)
    monkeypatch.setattr(core.Engine, "_relevel", failing)
    result = e.apply(PriceUpdate("ETHUSDT", "s", D(2810)))
    assert traded["btc"], "the liquidation closed no BTC: the test did not reach its case"
    assert result.denial is not None and result.denial.code is DenyCode.INTERNAL_ERROR
    assert e.state.markets["BTCUSDT"].last_price == btc_last
    assert e.state_hash() == before


def test_sub_lot_quantities_and_sub_1e_18_fees_are_refused() -> None:
    # found by the fuzz test: a 1.8e-30 BTC fill with a 2.8e-29 fee made the conservation
    # sums round (40 significant digits cannot hold 2,000,500 and 1e-29 at once).
    e = engine()
    refused(e, Fill("t", "BTCUSDT", D(60000), D("1.8e-30"), "a", "b"), DenyCode.INVALID_QUANTITY)
    refused(e, Fill("t", "BTCUSDT", D(60000), D("0.0005"), "a", "b"), DenyCode.INVALID_QUANTITY)  # lot 0.001
    refused(e, Fill("t", "BTCUSDT", D(60000), D("0.001"), "a", "b", buyer_fee=D("2.8e-29")),
            DenyCode.AMOUNT_OUT_OF_RANGE)
    refused(e, Deposit("a", "USDT", D("1.0000000000000000001")), DenyCode.AMOUNT_OUT_OF_RANGE)  # 19 digits
    # 18 digits are within the bounds, but not a whole number of the 1E-8 money quantum
    refused(e, Deposit("a", "USDT", D("1.000000000000000001")), DenyCode.INVALID_AMOUNT)
    legacy = Engine(dataclasses.replace(e.config, amounts_on_quantum=False))  # journals written before: taken
    assert legacy.apply(Deposit("a", "USDT", D("1.000000000000000001"))).accepted


def _just_before_the_first_liquidation() -> tuple[Engine, Command]:
    """An engine fed the journal test stream up to the command that first liquidates, and that command."""
    from test_journal_common import config, stream

    cmds = stream(3_000, seed=7)
    probe = Engine(config())
    first = next(i for i, cmd in enumerate(cmds)
                 if any(type(ev).__name__ == "LiquidationStep" for ev in probe.apply(cmd).events))
    engine_ = Engine(config())
    engine_.apply_all(cmds[:first])
    return engine_, cmds[first]


def test_a_failure_after_a_liquidation_takes_its_trade_id_back_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """A liquidation fill adds a ``liq-N`` trade id; rolled back, it must go with it, or the
    next liquidation's fill would be refused as a duplicate."""
    from solvent.engine.state_digest import state_hash

    e, trigger = _just_before_the_first_liquidation()
    before, ids = e.state_hash(), dict(e.state.trade_ids)
    real = core.liquidate_account

    def liquidate_then_fail(*args: object, **kwargs: object) -> object:
        real(*args, **kwargs)  # type: ignore[arg-type]
        raise ArithmeticError("late failure")

    monkeypatch.setattr(core, "liquidate_account", liquidate_then_fail)
    result = e.apply(trigger)
    assert result.denial is not None and result.denial.code is DenyCode.INTERNAL_ERROR
    assert e.state.trade_ids == ids and e.state_hash() == before == state_hash(e.state)
    monkeypatch.setattr(core, "liquidate_account", real)
    events = e.apply(trigger).events
    assert any(type(ev).__name__ == "LiquidationStep" for ev in events)
    assert e.state_hash() == state_hash(e.state)


def test_a_matcher_fill_may_not_take_a_liquidation_trade_id() -> None:
    """Found by review: a fill named ``liq-1`` made the next liquidation's own fill a
    duplicate, the price that triggered it was refused half-applied, and the journal no
    longer replayed. ``liq-`` ids are now the engine's alone."""
    e = engine()
    for cmd in (Deposit("alice", "USDT", D(700)), Deposit("bob", "USDT", D(100_000)),
                PriceUpdate("BTCUSDT", "binance", D(60_000))):
        assert e.apply(cmd).accepted
    result = e.apply(Fill("liq-1", "BTCUSDT", D(60_000), D(1), "alice", "bob"))
    assert result.denial is not None and result.denial.code is DenyCode.RESERVED_TRADE_ID
    assert e.apply(Fill("t-liq-1", "BTCUSDT", D(60_000), D(1), "alice", "bob")).accepted  # only the prefix


def test_a_refusal_raised_by_a_triggered_liquidation_rolls_the_command_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``Deny`` after the handler has changed the state (here from the liquidation a price
    triggers) is a failure: refused as INTERNAL_ERROR and rolled back, never half-applied."""
    from solvent.engine.context import Deny
    from solvent.engine.state_digest import state_hash

    e, trigger = _just_before_the_first_liquidation()
    before = e.state_hash()

    def refuse(*_: object, **__: object) -> object:
        raise Deny(DenyCode.DUPLICATE_TRADE_ID, trade_id="liq-1")

    monkeypatch.setattr(core, "liquidate_account", refuse)
    result = e.apply(trigger)
    assert result.denial is not None and result.denial.code is DenyCode.INTERNAL_ERROR
    assert e.state_hash() == before == state_hash(e.state)


def test_a_market_the_command_made_and_wrote_again_is_gone_after_a_rollback() -> None:
    """``Savepoint.keep`` copies only markets that existed before the command: one the command
    made (and a liquidation then traded in) is removed, not brought back, by the restore."""
    from solvent.engine.rollback import Savepoint
    from solvent.engine.state import EngineState, MarketState

    state = EngineState()
    state.markets["ETH"] = MarketState("ETH")
    savepoint = Savepoint(state, ["ETH"])
    savepoint.keep("BTC")
    state.markets["BTC"] = MarketState("BTC", mark=D(60000))
    savepoint.keep("BTC")  # a second write in the same command
    state.markets["BTC"].last_price = D(60010)
    savepoint.restore()
    assert set(state.markets) == {"ETH"}
