"""Inverse (coin-margined) instruments in the engine.

Expected values are hand computations written out below (exact fractions, then the
engine's stated rounding: a fill's coin value rounded half to even to 10^-8), the Binance
COIN-M FAQ's maintenance example (vector BN-13) and Bybit's published inverse liquidation
and bankruptcy price formulas; the property test compares the engine with the calculator
(``solvent.calc``), which is checked against an independent oracle elsewhere.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from solvent import load_venue
from solvent.calc.account import assess_account
from solvent.engine import (
    AdvanceTime,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    LiquidationPolicy,
    PlaceOrder,
    PremiumSample,
    PriceUpdate,
    SetLeverage,
    SetMarginMode,
)
from solvent.engine.events import InsuranceFundChanged, LiquidationStep, MarginLevelChanged
from solvent.engine.liquidity import SquareRootImpact
from solvent.model import MarginMode, Position, PositionSide, Side
from solvent.service.liqprice import liquidation_prices

D = Decimal
Q8 = Decimal("0.00000001")
BTCUSD_PERP = "BTCUSD_PERP"


def ok(engine: Engine, *cmds: object) -> list[object]:
    events: list[object] = []
    for cmd in cmds:
        result = engine.apply(cmd)  # type: ignore[arg-type]
        assert result.accepted, (cmd, result)
        events.extend(result.events)
    return events


def close_to(value: Decimal, exact: Fraction, tol: str = "1e-30") -> bool:
    return abs(Fraction(value) - exact) <= Fraction(Decimal(tol))


def coinm(liquidation: LiquidationPolicy | None = None) -> Engine:
    """Binance COIN-M, margined in BTC: alice 1 BTC, the maker bob 100 BTC, mark 25,000."""
    engine = Engine(EngineConfig(load_venue("binance-coinm"), settle_asset="BTC", liquidation=liquidation))
    ok(engine, AdvanceTime(0), PriceUpdate(BTCUSD_PERP, "binance", D(25000)), Deposit("alice", "BTC", D(1)),
       Deposit("bob", "BTC", D(100)))
    return engine


def test_maintenance_margin_of_100_contracts_is_the_binance_coinm_faq_example() -> None:
    # BN-13: 100 contracts × 100 USD at 25,000: notional 10,000 / 25,000 = 0.4 BTC, MMR 0.4 %
    engine = coinm()
    ok(engine, Fill("t1", BTCUSD_PERP, D(25000), D(100), "alice", "bob"))
    m = engine.margin("alice")
    assert m.notional == D("0.4")
    assert m.maintenance_margin == D("0.0016")
    assert m.equity == D(1)  # the fill's cost is exactly −0.4 BTC: no PnL at the fill price
    assert engine.margin("bob").maintenance_margin == D("0.0016")


def test_pnl_and_mm_follow_one_over_the_mark() -> None:
    engine = coinm()
    ok(engine, Fill("t1", BTCUSD_PERP, D(25000), D(100), "alice", "bob"),
       PriceUpdate(BTCUSD_PERP, "binance", D(24000)))
    # long 10,000 USD: PnL = 10,000 × (1/25,000 − 1/24,000) = −1/60 BTC
    pnl = 10_000 * (Fraction(1, 25_000) - Fraction(1, 24_000))
    assert pnl == Fraction(-1, 60)
    alice, bob = engine.margin("alice"), engine.margin("bob")
    assert close_to(alice.equity, 1 + pnl) and close_to(bob.equity, 100 - pnl)
    # MM = 0.4 % of the coin notional 10,000 / 24,000 = 1/600 BTC
    assert close_to(alice.maintenance_margin, Fraction(4, 1000) * Fraction(10_000, 24_000))
    assert close_to(alice.maintenance_margin, Fraction(1, 600))


def test_closing_realises_the_coin_pnl_rounded_once_and_conserves_coin() -> None:
    engine = coinm()
    ok(engine, Fill("t1", BTCUSD_PERP, D(25000), D(100), "alice", "bob"),
       PriceUpdate(BTCUSD_PERP, "binance", D(24000)),
       Fill("t2", BTCUSD_PERP, D(24000), D(100), "bob", "alice"))
    # the close's coin value 10,000 / 24,000 = 0.41666…67 rounds (half even, 10^-8) to 0.41666667;
    # the open's was exactly 0.4: alice realises 0.4 − 0.41666667, bob the opposite
    close_value = (D(10_000) / D(24_000)).quantize(Q8, rounding=ROUND_HALF_EVEN)
    assert close_value == D("0.41666667")
    assert engine.state.accounts["alice"].balances["BTC"] == D(1) + D("0.4") - close_value == D("0.98333333")
    assert engine.state.accounts["bob"].balances["BTC"] == D(100) - D("0.4") + close_value
    assert not engine.state.accounts["alice"].positions
    for held, net in engine.conservation().values():
        assert held == net


def test_funding_on_an_inverse_perpetual_is_paid_on_the_coin_value() -> None:
    engine = coinm()
    ok(engine, Fill("t1", BTCUSD_PERP, D(25000), D(100), "alice", "bob"),
       PremiumSample(BTCUSD_PERP, D(24990), D(25010)),  # index inside the impact spread: premium 0
       AdvanceTime(8 * 3600 * 1000))
    # rate = premium 0 + clamp(interest 0.01 % − 0, ±0.05 %) = 0.0001; the long pays
    # 10,000 USD / 25,000 × 0.0001 = 0.00004 BTC to the short
    assert engine.state.accounts["alice"].balances["BTC"] == D(1) - D("0.00004")
    assert engine.state.accounts["bob"].balances["BTC"] == D(100) + D("0.00004")


def test_a_mark_move_emits_the_level_change_of_an_inverse_account() -> None:
    engine = Engine(EngineConfig(load_venue("binance-coinm"), settle_asset="BTC"))
    ok(engine, AdvanceTime(0), PriceUpdate(BTCUSD_PERP, "binance", D(25000)), Deposit("alice", "BTC", D("0.037")),
       Deposit("bob", "BTC", D(100)), Fill("t1", BTCUSD_PERP, D(25000), D(100), "alice", "bob"))
    assert engine.state.accounts["alice"].level == "healthy"
    events = ok(engine, PriceUpdate(BTCUSD_PERP, "binance", D(23000)))
    # equity 0.037 + 10,000 × (1/25,000 − 1/23,000) = 0.0022174…; MM 0.004 × 10,000/23,000 = 0.0017391…
    equity = Fraction(37, 1000) + 10_000 * (Fraction(1, 25_000) - Fraction(1, 23_000))
    mm = Fraction(4, 1000) * Fraction(10_000, 23_000)
    assert Fraction(7, 10) <= mm / equity < Fraction(8, 10)  # warning (0.7), not yet a margin call (0.8)
    changed = [e for e in events if isinstance(e, MarginLevelChanged) and e.account_id == "alice"]
    assert [(e.previous, e.level) for e in changed] == [("healthy", "warning")]
    assert close_to(changed[0].equity, equity) and close_to(changed[0].maintenance_margin, mm)


def bybit_isolated_long() -> Engine:
    """Bybit inverse BTCUSD (1 USD contracts, MM 0.5 % of entry value, tick 0.5): alice long
    5,000 contracts at 7,890, isolated at 50x; the book takes liquidations at the mark."""
    policy = LiquidationPolicy(liquidity=SquareRootImpact(k=D(0)))
    engine = Engine(EngineConfig(load_venue("bybit-inverse"), settle_asset="BTC", liquidation=policy))
    ok(engine, AdvanceTime(0), PriceUpdate("BTCUSD", "bybit", D(7890)), Deposit("alice", "BTC", D(1)),
       Deposit("bob", "BTC", D(10)), SetMarginMode("alice", "BTCUSD", MarginMode.ISOLATED),
       SetLeverage("alice", "BTCUSD", D(50)), Fill("t1", "BTCUSD", D(7890), D(5000), "alice", "bob"))
    return engine


def test_an_isolated_inverse_position_locks_value_over_leverage_and_prices_like_bybit() -> None:
    engine = bybit_isolated_long()
    pos = engine.state.accounts["alice"].positions[("BTCUSD", PositionSide.BOTH)]
    # cost: 5,000 / 7,890 = 0.6337135614… → −0.63371356 BTC; locked: the IM 0.6337135614… / 50 =
    # 0.0126742712… rounded up, as every requirement (EngineConfig.isolated_lock_up)
    assert pos.cost == D("-0.63371356")
    assert pos.isolated_margin == D("0.01267428")
    assert engine.state.accounts["alice"].balances["BTC"] == D(1) - D("0.01267428")
    # Bybit's inverse formulas (help centre "Liquidation Price (Inverse Contract)"), long:
    # bankruptcy = entry × lev / (lev + 1), liquidation = entry × lev / (lev + 1 − MMR × lev),
    # rounded up to the 0.5 tick for a long
    bankruptcy = Fraction(7890 * 50, 51)
    liquidation = Fraction(7890 * 50) / (51 - Fraction(5, 1000) * 50)
    assert 7735 < bankruptcy < Fraction(77355, 10) and 7773 < liquidation < Fraction(77735, 10)
    prices = liquidation_prices(engine.state.accounts["alice"], engine.margin("alice"), engine.margin_view())
    assert prices[("BTCUSD", "both")].price == D("7773.5")


def test_an_inverse_position_is_taken_over_and_its_margin_left_goes_to_the_fund() -> None:
    engine = bybit_isolated_long()
    events = ok(engine, PriceUpdate("BTCUSD", "bybit", D(7773)))  # below 7,773.5: liquidated
    # isolated equity at 7,773 = 0.01267428 + (0.63371356 − 5,000 / 7,773) = 0.0031355564…
    # below MM = 0.5 % × 0.63371356 = 0.0031685678: closed in full at the mark (k = 0) and,
    # taken over at the bankruptcy price, the margin left (rounded down) goes to the fund
    equity = Fraction(D("0.01267428")) + Fraction(D("0.63371356")) - Fraction(5000, 7773)
    assert equity < Fraction(D("0.0031685678"))
    surplus = Decimal(equity.numerator) / Decimal(equity.denominator)
    surplus = surplus.quantize(Q8, rounding=ROUND_DOWN)
    assert surplus == D("0.00313555")
    steps = [e for e in events if isinstance(e, LiquidationStep)]
    assert [(s.account_id, s.qty, s.price, s.fee) for s in steps] == [("alice", D(5000), D(7773), surplus)]
    assert [e.delta for e in events if isinstance(e, InsuranceFundChanged)] == [surplus]
    assert engine.state.insurance_fund == surplus
    # the close realises 0.63371356 − 0.64325228 (5,000 / 7,773 rounded half even) and the
    # isolated margin comes back: 1 − 0.01267428 − 0.00953872 + 0.01267428 − 0.00313555
    assert (D(5000) / D(7773)).quantize(Q8, rounding=ROUND_HALF_EVEN) == D("0.64325228")
    assert engine.state.accounts["alice"].balances["BTC"] == D("0.98732573")
    assert not engine.state.accounts["alice"].positions
    for held, net in engine.conservation().values():
        assert held == net


@settings(max_examples=150, deadline=None)
@given(venue=st.sampled_from([("binance-coinm", BTCUSD_PERP, D("0.1")), ("bybit-inverse", "BTCUSD", D("0.5"))]),
       contracts=st.integers(1, 3000), entry_ticks=st.integers(200_000, 800_000), move=st.integers(-700, 700),
       long=st.booleans(), wallet=st.decimals(D("0.01"), D(50), places=8))
def test_engine_margin_equals_the_calculator_on_inverse_positions(
        venue: tuple[str, str, Decimal], contracts: int, entry_ticks: int, move: int, long: bool,
        wallet: Decimal) -> None:
    name, symbol, tick = venue
    profile = load_venue(name)
    entry = entry_ticks * D("0.1") // tick * tick
    mark = (entry * (1 + D(move) / 10_000) / tick).to_integral_value() * tick  # within ±7 %
    engine = Engine(EngineConfig(profile, settle_asset="BTC"))
    buyer, seller = ("alice", "bob") if long else ("bob", "alice")
    ok(engine, AdvanceTime(0), PriceUpdate(symbol, "x", entry), Deposit("alice", "BTC", wallet),
       Deposit("bob", "BTC", D(10_000)), Fill("t1", symbol, entry, D(contracts), buyer, seller),
       PriceUpdate(symbol, "x", mark))
    assert engine.state.markets[symbol].mark == mark
    position = Position(profile.instrument(symbol), Side.LONG if long else Side.SHORT, D(contracts), entry, mark)
    report = assess_account(wallet, [position], [profile.rules_for(symbol)], profile)
    m = engine.margin("alice")
    # the engine keeps the fill's coin value rounded to 10^-8 (half even): PnL within half of it,
    # and MM on entry value (Bybit) within 0.5 % of that
    assert abs(m.equity - report.equity) <= Q8 / 2
    assert abs(m.maintenance_margin - report.maintenance_margin) <= Q8 / 2
    assert m.notional == report.positions[0].notional


@settings(max_examples=60, deadline=None)
@given(wallet=st.decimals(D("0.001"), D(5), places=8), price_ticks=st.integers(-300, 300), long=st.booleans(),
       held=st.integers(0, 400))
def test_the_largest_inverse_order_is_accepted_and_one_lot_more_is_refused(
        wallet: Decimal, price_ticks: int, long: bool, held: int) -> None:
    engine = coinm()
    ok(engine, Deposit("carol", "BTC", wallet))
    if held:
        ok(engine, Fill("t0", BTCUSD_PERP, D(25000), D(held), "carol", "bob"))
    side = Side.LONG if long else Side.SHORT
    price = D(25000) + D(price_ticks) * D(10)
    qty = engine.max_order_qty("carol", BTCUSD_PERP, side, price)
    lot = engine.config.profile.instrument(BTCUSD_PERP).lot
    if qty > 0:
        assert engine.check(PlaceOrder("carol", "o1", BTCUSD_PERP, side, qty, price)).accepted
    assert not engine.check(PlaceOrder("carol", "o1", BTCUSD_PERP, side, qty + lot, price)).accepted


def test_a_trade_that_closes_and_reopens_moves_one_rounded_value_on_each_side() -> None:
    # bob is short 42 contracts; buying 56 at 60,090 closes 42 and opens 14 long; carol opens 56
    # short. Rounding the 42 and the 14 separately (0.00069895 + 0.00023298 = 0.00093193) would
    # not match carol's one value of 56 (5.6 / 6,009 = 0.000931935…: 0.00093194): bob's opening
    # cost is the whole trade's value less the closing part's, so coin is conserved exactly.
    engine = Engine(EngineConfig(load_venue("bybit-inverse"), settle_asset="BTC"))
    ok(engine, AdvanceTime(0), PriceUpdate("BTCUSD", "x", D(60000)), Deposit("alice", "BTC", D(1)),
       Deposit("bob", "BTC", D(1)), Deposit("carol", "BTC", D(1)),
       Fill("t1", "BTCUSD", D(60000), D(42), "alice", "bob"),
       Fill("t2", "BTCUSD", D("60090"), D(56), "bob", "carol"))
    whole = (D(56) / D(60090)).quantize(Q8, rounding=ROUND_HALF_EVEN)
    closing = (D(42) / D(60090)).quantize(Q8, rounding=ROUND_HALF_EVEN)
    assert (whole, closing) == (D("0.00093194"), D("0.00069895"))
    bob = engine.state.accounts["bob"].positions[("BTCUSD", PositionSide.BOTH)]
    assert (bob.qty, bob.cost) == (D(14), -(whole - closing))
    assert engine.state.accounts["carol"].positions[("BTCUSD", PositionSide.BOTH)].cost == whole
    for held, net in engine.conservation().values():
        assert held == net


def test_a_linear_instrument_settled_in_usdt_is_refused_by_a_coin_engine() -> None:
    # BitMEX ETHUSDT settles in USDT: in an engine margined in XBT its USDT PnL would be counted
    # as XBT (found by review: +100 USDT credited as 100 XBT)
    engine = Engine(EngineConfig(load_venue("bitmex"), settle_asset="XBT"))
    ok(engine, AdvanceTime(0), Deposit("a", "XBT", D(1)))
    before = engine.state_hash()
    for cmd in (PriceUpdate("ETHUSDT", "x", D(2000)), Fill("t1", "ETHUSDT", D(2000), D(10), "a", "b")):
        result = engine.apply(cmd)
        assert not result.accepted and result.denial is not None
        assert result.denial.code.value == "UNSUPPORTED_INSTRUMENT"
    assert engine.state_hash() == before
    ok(engine, PriceUpdate("XBTUSD", "x", D(25000)))  # its own inverse instrument trades
