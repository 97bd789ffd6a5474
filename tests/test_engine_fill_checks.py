"""A fill from the matching engine is checked as an order is: lot, tick, and a band round the mark.

Binance lists BTCUSDT with tick 0.1 and lot 0.001 (``binance-usdm``), COIN-M BTCUSD_PERP with
tick 0.1 and lot 1 contract of 100 USD. The band is the one a quote keeps: 50 % of the mark.
The hand numbers: at mark 25,000 the band is [12,500, 37,500]; a 1-contract (100 USD) inverse
fill at 0.5 would be worth 100 / 0.5 = 200 BTC against 100 / 25,000 = 0.004 BTC at the mark.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from solvent import load_venue
from solvent.engine import AdvanceTime, Deposit, Engine, EngineConfig, Fill, PriceUpdate
from solvent.engine.denials import DenyCode
from solvent.journal import DurableEngine, MemoryBackend
from solvent.journal.codec import LEGACY_CONFIG, decode_config, encode_config, with_legacy_defaults
from solvent.model import PositionSide

D = Decimal


def usdm(**config: object) -> Engine:
    engine = Engine(EngineConfig(load_venue("binance-usdm"), **config))  # type: ignore[arg-type]
    for cmd in (AdvanceTime(0), PriceUpdate("BTCUSDT", "binance", D(25000)),
                Deposit("alice", "USDT", D(100_000)), Deposit("bob", "USDT", D(100_000))):
        assert engine.apply(cmd).accepted
    return engine


def coinm() -> Engine:
    engine = Engine(EngineConfig(load_venue("binance-coinm"), settle_asset="BTC"))
    for cmd in (AdvanceTime(0), PriceUpdate("BTCUSD_PERP", "binance", D(25000)),
                Deposit("alice", "BTC", D(1)), Deposit("bob", "BTC", D(100))):
        assert engine.apply(cmd).accepted
    return engine


def denied(engine: Engine, cmd: Fill) -> DenyCode:
    before = engine.state_hash()
    result = engine.apply(cmd)
    assert not result.accepted and result.denial is not None
    assert engine.state_hash() == before  # bad input changes nothing
    return result.denial.code


def test_the_issues_inverse_fill_at_half_a_dollar_is_refused() -> None:
    engine = coinm()
    assert denied(engine, Fill("t1", "BTCUSD_PERP", D("0.5"), D(1), "alice", "bob")) is DenyCode.INVALID_PRICE
    assert engine.apply(Fill("t2", "BTCUSD_PERP", D(25000), D(1), "alice", "bob")).accepted
    # a contract is one lot: half a contract is no trade on Binance COIN-M
    assert denied(engine, Fill("t3", "BTCUSD_PERP", D(25000), D("0.5"), "alice", "bob")) is DenyCode.INVALID_QUANTITY


@pytest.mark.parametrize(("price", "accepted"), [
    (D(12500), True), (D("12499.9"), False),     # 25,000 × (1 − 0.5) is the lowest price in the band
    (D(37500), True), (D("37500.1"), False),     # 25,000 × (1 + 0.5) the highest
])
def test_the_band_is_half_the_mark_either_side_inclusive(price: Decimal, accepted: bool) -> None:
    engine = usdm()
    result = engine.apply(Fill("t1", "BTCUSDT", price, D("0.001"), "alice", "bob"))
    assert result.accepted is accepted


@pytest.mark.parametrize(("price", "qty", "code"), [
    (D("25000.05"), D("0.001"), DenyCode.INVALID_PRICE),      # off the 0.1 tick
    (D(25000), D("0.0015"), DenyCode.INVALID_QUANTITY),       # off the 0.001 lot
])
def test_a_fill_off_the_grid_is_refused(price: Decimal, qty: Decimal, code: DenyCode) -> None:
    assert denied(usdm(), Fill("t1", "BTCUSDT", price, qty, "alice", "bob")) is code


def test_without_fill_checks_fills_are_taken_as_given_as_before() -> None:
    engine = usdm(fill_checks=False)
    assert engine.apply(Fill("t1", "BTCUSDT", D("25000.05"), D("0.0015"), "alice", "bob")).accepted
    assert engine.apply(Fill("t2", "BTCUSDT", D(1), D("0.001"), "alice", "bob")).accepted


def test_journals_written_before_fill_checks_replay_without_them() -> None:
    assert LEGACY_CONFIG["fill_checks"] is False
    encoded = encode_config(EngineConfig(load_venue("binance-usdm")))
    assert encoded["fill_checks"] is True and decode_config(encoded).fill_checks is True
    legacy = {k: v for k, v in encoded.items() if k != "fill_checks"}
    assert decode_config(with_legacy_defaults(legacy)).fill_checks is False


def test_a_durable_engine_refuses_the_bad_fill_and_journals_nothing_for_it() -> None:
    durable = DurableEngine(MemoryBackend(), EngineConfig(load_venue("binance-usdm")))
    for cmd in (AdvanceTime(0), PriceUpdate("BTCUSDT", "binance", D(25000)),
                Deposit("alice", "USDT", D(1000)), Deposit("bob", "USDT", D(1000))):
        assert durable.apply_many([cmd])[0].accepted
    balance = durable.engine.margin("alice").equity
    [result] = durable.apply_many([Fill("t1", "BTCUSDT", D(1), D("0.001"), "bob", "alice")])
    assert not result.accepted
    assert durable.engine.margin("alice").equity == balance


@pytest.mark.parametrize("band", [D(0), D(-1), D("NaN")])
def test_a_price_band_that_would_refuse_every_price_is_refused_when_the_config_is_built(band: Decimal) -> None:
    with pytest.raises(ValueError, match="price_band"):
        EngineConfig(load_venue("binance-usdm"), price_band=band)


# A fill's fee is at most 1 % of the trade's notional (``EngineConfig.fee_cap``). Hand numbers:
# 0.001 BTC at 25,000 is 25 USDT, so the cap is 0.25 USDT; one 100-USD contract of COIN-M at
# 25,000 is 100 / 25,000 = 0.004 BTC, so the cap is 0.00004 BTC. The quantum is 10^-8.
@pytest.mark.parametrize(("fees", "accepted"), [
    ({"buyer_fee": D("0.25")}, True), ({"buyer_fee": D("0.25000001")}, False),
    ({"seller_fee": D("0.25"), "buyer_fee": D("0.25")}, True), ({"seller_fee": D("0.25000001")}, False),
    ({"buyer_fee": D(100_000_000)}, False),  # the new user's fee on a small trade
])
def test_a_fill_may_charge_at_most_one_percent_of_its_notional(fees: dict[str, Decimal], accepted: bool) -> None:
    engine = usdm()
    fill = Fill("t1", "BTCUSDT", D(25000), D("0.001"), "alice", "bob", **fees)  # type: ignore[arg-type]
    if accepted:
        assert engine.apply(fill).accepted
    else:
        assert denied(engine, fill) is DenyCode.INVALID_AMOUNT


def test_the_fee_cap_of_an_inverse_fill_is_in_the_coin() -> None:
    engine = coinm()
    assert denied(engine, Fill("t1", "BTCUSD_PERP", D(25000), D(1), "alice", "bob",
                               buyer_fee=D("0.00004001"))) is DenyCode.INVALID_AMOUNT
    assert engine.apply(Fill("t2", "BTCUSD_PERP", D(25000), D(1), "alice", "bob", buyer_fee=D("0.00004"))).accepted


def test_journals_written_before_the_fee_cap_replay_without_it() -> None:
    assert usdm(fee_cap=False).apply(Fill("t1", "BTCUSDT", D(25000), D("0.001"), "alice", "bob",
                                          buyer_fee=D(100))).accepted
    _off_for_old_journals("fee_cap")


def _off_for_old_journals(rule: str) -> None:
    """``rule`` is on in a configuration encoded today, and off in a genesis record without it."""
    assert LEGACY_CONFIG[rule] is False
    encoded = encode_config(EngineConfig(load_venue("binance-usdm")))
    assert encoded[rule] is True
    legacy = {k: v for k, v in encoded.items() if k != rule}
    assert getattr(decode_config(with_legacy_defaults(legacy)), rule) is False


def test_a_venue_whose_own_taker_fee_is_higher_may_charge_it() -> None:
    """A venue configured with a 5 % taker fee (the engine admits up to 10 %) charges 5 % of
    25 USDT = 1.25 on a 0.001 BTC fill at 25,000; above that is refused."""
    engine = usdm(taker_fee_rate=D("0.05"))
    assert engine.apply(Fill("t1", "BTCUSDT", D(25000), D("0.001"), "alice", "bob", buyer_fee=D("1.25"))).accepted
    assert denied(engine, Fill("t2", "BTCUSDT", D(25000), D("0.001"), "alice", "bob",
                               buyer_fee=D("1.25000001"))) is DenyCode.INVALID_AMOUNT


def test_the_cap_is_rounded_up_to_the_money_quantum() -> None:
    """COIN-M, 1 contract (100 USD) at 33,333.3 is 100 / 33,333.3 = 0.00300000300… BTC; at a 2 %
    taker fee the cap is 0.0000600000600…, so a fee the venue rounds up to the satoshi, 0.00006001,
    passes, and 0.00006002 does not."""
    engine = Engine(EngineConfig(load_venue("binance-coinm"), settle_asset="BTC", taker_fee_rate=D("0.02")))
    for cmd in (AdvanceTime(0), PriceUpdate("BTCUSD_PERP", "binance", D("33333.3")),
                Deposit("alice", "BTC", D(1)), Deposit("bob", "BTC", D(1))):
        assert engine.apply(cmd).accepted
    rounded_up = Fill("t1", "BTCUSD_PERP", D("33333.3"), D(1), "alice", "bob", buyer_fee=D("0.00006001"))
    assert engine.apply(rounded_up).accepted
    assert denied(engine, Fill("t2", "BTCUSD_PERP", D("33333.3"), D(1), "alice", "bob",
                               buyer_fee=D("0.00006002"))) is DenyCode.INVALID_AMOUNT


# A fill naming an order keeps to its terms (``EngineConfig.order_terms``; found by a new-user
# pass of the service): a buy limited at 24,000 is not filled at 25,000, a sell limited at 26,000
# is not filled at 25,000, and a reduce-only order left resting after its position was closed
# does not open a new one.
def _resting(engine: Engine, account: str, order_id: str, side: str, price: Decimal, reduce_only: bool = False
             ) -> None:
    from solvent.engine import PlaceOrder
    from solvent.model import Side
    assert engine.apply(PlaceOrder(account, order_id, "BTCUSDT", Side(side), D("0.001"), price,
                                   reduce_only)).accepted


def test_a_fill_is_no_worse_than_the_limit_price_of_the_order_it_names() -> None:
    engine = usdm()
    _resting(engine, "alice", "b1", "long", D(24000))
    _resting(engine, "bob", "s1", "short", D(26000))
    assert denied(engine, Fill("t1", "BTCUSDT", D(25000), D("0.001"), "alice", "bob",
                               buy_order_id="b1")) is DenyCode.INVALID_PRICE
    assert denied(engine, Fill("t2", "BTCUSDT", D(25000), D("0.001"), "alice", "bob",
                               sell_order_id="s1")) is DenyCode.INVALID_PRICE
    assert engine.apply(Fill("t3", "BTCUSDT", D(24000), D("0.001"), "alice", "bob", buy_order_id="b1")).accepted
    assert engine.apply(Fill("t4", "BTCUSDT", D(26000), D("0.001"), "alice", "bob", sell_order_id="s1")).accepted


def test_a_reduce_only_order_is_not_filled_into_a_new_position() -> None:
    engine = usdm()
    assert engine.apply(Fill("t1", "BTCUSDT", D(25000), D("0.001"), "alice", "bob")).accepted  # alice long
    _resting(engine, "alice", "ro", "short", D(25000), reduce_only=True)
    assert engine.apply(Fill("t2", "BTCUSDT", D(25000), D("0.001"), "bob", "alice")).accepted  # closed
    assert denied(engine, Fill("t3", "BTCUSDT", D(25000), D("0.001"), "bob", "alice",
                               sell_order_id="ro")) is DenyCode.REDUCE_ONLY_WOULD_INCREASE
    assert ("BTCUSDT", PositionSide.BOTH) not in engine.state.accounts["alice"].positions or \
        engine.state.accounts["alice"].positions[("BTCUSDT", PositionSide.BOTH)].qty == 0


def test_journals_written_before_order_terms_replay_without_them() -> None:
    engine = usdm(order_terms=False)
    _resting(engine, "alice", "b1", "long", D(24000))
    assert engine.apply(Fill("t1", "BTCUSDT", D(25000), D("0.001"), "alice", "bob", buy_order_id="b1")).accepted
    _off_for_old_journals("order_terms")


def test_a_hedge_mode_order_fills_only_the_leg_it_was_placed_on() -> None:
    """A reduce-only sell placed on the long leg, filled as a sell into the short leg, would open
    a short: the order's terms name its leg as well as its price and reduce-only flag."""
    from solvent.engine import PlaceOrder
    from solvent.model import Side
    engine = usdm()
    assert engine.apply(Fill("t1", "BTCUSDT", D(25000), D("0.001"), "alice", "bob",
                             buyer_position_side="long", seller_position_side="short")).accepted
    assert engine.apply(PlaceOrder("alice", "ro", "BTCUSDT", Side("short"), D("0.001"), D(25000), True,
                                   PositionSide.LONG)).accepted
    assert denied(engine, Fill("t2", "BTCUSDT", D(25000), D("0.001"), "bob", "alice", sell_order_id="ro",
                               buyer_position_side="short",
                               seller_position_side="short")) is DenyCode.POSITION_SIDE_MISMATCH
    assert engine.apply(Fill("t3", "BTCUSDT", D(25000), D("0.001"), "bob", "alice", sell_order_id="ro",
                             buyer_position_side="short", seller_position_side="long")).accepted
    assert not engine.state.accounts["alice"].positions  # closed, nothing opened
