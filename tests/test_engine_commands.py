"""Engine commands one by one: the happy path and every denial code each command can reach.

Every refused command is checked against design rule 4: ``state_hash()`` is the same before
and after, and ``check(cmd)`` gives the same denial as ``apply(cmd)`` without changing the
hash. Expected numbers are computed by hand in the comments (binance-usdm BTCUSDT: tier 1
is notional < 300,000 at MMR 0.4 % and up to 150x; tier 2 from 300,000 allows 100x).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from solvent import load_venue
from solvent.engine import (
    AddIsolatedMargin,
    AdvanceTime,
    CancelOrder,
    Command,
    DenyCode,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    PlaceOrder,
    PremiumSample,
    PriceUpdate,
    RemoveIsolatedMargin,
    SetLeverage,
    SetMarginMode,
    Withdraw,
)
from solvent.engine.events import (
    Accepted,
    BalanceChanged,
    MarkPriceChanged,
    OrderCancelled,
    OrderPlaced,
    PositionChanged,
    Rejected,
    Settled,
    TimeAdvanced,
)
from solvent.model import MarginMode, PositionSide, Side

D = Decimal
USDM = load_venue("binance-usdm")
BTC = "BTCUSDT"
ETH = "ETHUSDT"
FUT = "BTCUSDT_261225"
EXPIRY_MS = 1798185600000
T0 = 1_000
LONG, SHORT = Side.LONG, Side.SHORT


# --------------------------------------------------------------------------- helpers


def new_engine(**config: Any) -> Engine:
    return Engine(EngineConfig(USDM, **config))


def accept(engine: Engine, cmd: Command) -> tuple[Any, ...]:
    """Apply ``cmd``, which must be accepted; ``check`` first must agree and change nothing."""
    before = engine.state_hash()
    checked = engine.check(cmd)
    assert engine.state_hash() == before, f"check changed the state: {cmd}"
    assert checked.accepted, f"check refused {cmd}: {checked.denial}"
    result = engine.apply(cmd)
    assert result.accepted, f"refused {cmd}: {result.denial}"
    return result.events


def same_value(actual: str, expected: object) -> bool:
    if isinstance(expected, (Decimal, int)) and not isinstance(expected, bool):
        return Decimal(actual) == Decimal(expected)
    return actual == str(expected)


def refuse(engine: Engine, cmd: Command, code: DenyCode, context: dict[str, object] | None = None) -> None:
    """``cmd`` is refused with ``code`` (and exactly ``context``), by check and by apply, and
    the state hash does not move (design rule 4)."""
    before = engine.state_hash()
    checked = engine.check(cmd)
    assert engine.state_hash() == before, "check changed the state"
    result = engine.apply(cmd)
    assert engine.state_hash() == before, "a refused command changed the state"
    assert not checked.accepted and not result.accepted
    assert result.denial is not None and result.denial == checked.denial
    assert result.denial.code is code, str(result.denial)
    assert result.events == (Rejected(type(cmd).__name__, result.denial),)
    if context is not None:
        got = dict(result.denial.context)
        assert set(got) == set(context), str(result.denial)
        for key, value in context.items():
            assert same_value(got[key], value), f"{key}: {got[key]} != {value} ({result.denial})"


def build(*cmds: Command, **config: Any) -> Engine:
    engine = new_engine(**config)
    for cmd in cmds:
        accept(engine, cmd)
    return engine


BASE: tuple[Command, ...] = (
    AdvanceTime(T0),
    Deposit("alice", "USDT", D(10000)),
    Deposit("bob", "USDT", D(1_000_000)),
    PriceUpdate(BTC, "binance", D(60000)),
)
LONG_1 = Fill("t1", BTC, D(60000), D(1), "alice", "bob")
ORDER_O1 = PlaceOrder("alice", "o1", BTC, LONG, D("0.1"), D(59000))


def base(**config: Any) -> Engine:
    return build(*BASE, **config)


def with_long() -> Engine:
    """alice long 1 BTC at 60,000 (bob short), mark 60,000, no fees."""
    return build(*BASE, LONG_1)


def with_order() -> Engine:
    """alice has a resting buy o1: 0.1 BTC at 59,000."""
    return build(*BASE, ORDER_O1)


def isolated_long() -> Engine:
    """alice long 1 BTC at 60,000 in isolated mode, leverage 20: 60,000 / 20 = 3,000 moved
    from her balance (10,000 → 7,000) into the position's isolated margin."""
    return build(*BASE, SetMarginMode("alice", BTC, MarginMode.ISOLATED), LONG_1)


def halted() -> Engine:
    """The only BTC quote is 60,001 ms old (> 60 s staleness): no index, market halted."""
    return build(*BASE, AdvanceTime(T0 + 60_001))


def expired() -> Engine:
    """BTCUSDT_261225 has expired and settled (one index sample before expiry)."""
    return build(
        AdvanceTime(EXPIRY_MS - 600_000),
        Deposit("alice", "USDT", D(10000)),
        Deposit("bob", "USDT", D(10000)),
        PriceUpdate(FUT, "binance", D(50000)),
        AdvanceTime(EXPIRY_MS),
    )


BAD_NUMBERS = [D(0), D(-1), D("NaN"), D("sNaN"), D("Infinity"), D("-Infinity")]


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[], Engine]
    cmd: Command
    code: DenyCode
    context: dict[str, object] | None = None


def bad_number_cases(
    label: str, setup: Callable[[], Engine], make: Callable[[Decimal], Command], code: DenyCode, key: str
) -> list[Case]:
    return [Case(f"{label} of {v} is refused", setup, make(v), code, {key: str(v)}) for v in BAD_NUMBERS]


# --------------------------------------------------------------------------- the denial table

CASES: list[Case] = [
    # Deposit
    Case("a deposit to an empty account id is refused", base, Deposit("", "USDT", D(1)),
         DenyCode.UNKNOWN_ACCOUNT, {"account": ""}),
    Case("a deposit of an asset that is not collateral is refused", base, Deposit("alice", "BTC", D(1)),
         DenyCode.UNKNOWN_ASSET, {"asset": "BTC"}),
    *bad_number_cases("a deposit", base, lambda v: Deposit("alice", "USDT", v), DenyCode.INVALID_AMOUNT, "amount"),
    Case("a deposit given as a float is refused", base, Deposit("alice", "USDT", 1.5),  # type: ignore[arg-type]
         DenyCode.INVALID_AMOUNT, {"amount": "1.5", "type": "float", "allowed": "a finite Decimal > 0"}),
    # found by a new-user pass: an int price of 60000 said only "INVALID_PRICE: price=60000"
    Case("an order's price given as an int names its type", base,
         PlaceOrder("alice", "o-int", "BTCUSDT", Side.LONG, D("0.01"), 60000),  # type: ignore[arg-type]
         DenyCode.INVALID_PRICE, {"price": "60000", "type": "int", "allowed": "a finite Decimal > 0"}),
    Case("a price update given as an int names its type", base,
         PriceUpdate(BTC, "binance", 60000),  # type: ignore[arg-type]
         DenyCode.INVALID_PRICE, {"price": "60000", "type": "int", "allowed": "a finite Decimal > 0"}),
    Case("a fill's fee given as an int names its type", base,
         Fill("t-int", BTC, D(60000), D(1), "alice", "bob", buyer_fee=1),  # type: ignore[arg-type]
         DenyCode.INVALID_AMOUNT, {"fee": "1", "type": "int", "allowed": "a finite Decimal >= 0"}),
    # Withdraw
    Case("a withdrawal from an unknown account is refused", base, Withdraw("zed", "USDT", D(1)),
         DenyCode.UNKNOWN_ACCOUNT, {"account": "zed"}),
    Case("a withdrawal of an unknown asset is refused", base, Withdraw("alice", "DOGE", D(1)),
         DenyCode.UNKNOWN_ASSET, {"asset": "DOGE"}),
    *bad_number_cases("a withdrawal", base, lambda v: Withdraw("alice", "USDT", v), DenyCode.INVALID_AMOUNT,
                      "amount"),
    # balance 10,000: one cent more is more than the balance
    Case("withdrawing 10,000.01 from a balance of 10,000 is refused", base, Withdraw("alice", "USDT", D("10000.01")),
         DenyCode.INSUFFICIENT_BALANCE, {"asset": "USDT", "requested": D("10000.01"), "balance": D(10000)}),
    # long 1 BTC at mark 60,000, leverage 20: IM = 60,000 / 20 = 3,000; equity 10,000
    # → free margin = 10,000 − 3,000 = 7,000
    Case("withdrawing 7,000.01 with 7,000 free margin is refused", with_long, Withdraw("alice", "USDT", D("7000.01")),
         DenyCode.WITHDRAWAL_EXCEEDS_FREE_MARGIN,
         {"asset": "USDT", "requested": D("7000.01"), "free_margin": D(7000)}),
    # PlaceOrder: lookups and validation
    Case("an order from an unknown account is refused", base, PlaceOrder("zed", "o", BTC, LONG, D(1), D(60000)),
         DenyCode.UNKNOWN_ACCOUNT, {"account": "zed"}),
    Case("an order for an unknown symbol is refused", base, PlaceOrder("alice", "o", "NOPEUSDT", LONG, D(1), D(1)),
         DenyCode.UNKNOWN_SYMBOL, {"symbol": "NOPEUSDT"}),
    *bad_number_cases("an order quantity", base, lambda v: PlaceOrder("alice", "o", BTC, LONG, v, D(60000)),
                      DenyCode.INVALID_QUANTITY, "qty"),
    *bad_number_cases("an order price", base, lambda v: PlaceOrder("alice", "o", BTC, LONG, D("0.1"), v),
                      DenyCode.INVALID_PRICE, "price"),
    Case("an order of 0.0005 BTC (lot 0.001) is refused", base,
         PlaceOrder("alice", "o", BTC, LONG, D("0.0005"), D(60000)),
         DenyCode.INVALID_QUANTITY, {"qty": D("0.0005"), "lot_size": D("0.001")}),
    Case("an order at 60,000.05 (tick 0.1) is refused", base,
         PlaceOrder("alice", "o", BTC, LONG, D("0.1"), D("60000.05")),
         DenyCode.INVALID_PRICE, {"price": D("60000.05"), "tick_size": D("0.1")}),
    Case("an order reusing a resting order's id is refused", with_order,
         PlaceOrder("alice", "o1", BTC, LONG, D("0.1"), D(59000)), DenyCode.DUPLICATE_ORDER_ID, {"order_id": "o1"}),
    Case("an order with an empty id is refused", base, PlaceOrder("alice", "", BTC, LONG, D("0.1"), D(59000)),
         DenyCode.DUPLICATE_ORDER_ID, {"order_id": ""}),
    Case("a hedge-mode order from a one-way account is refused", with_order,
         PlaceOrder("alice", "o2", BTC, LONG, D("0.1"), D(59000), position_side=PositionSide.LONG),
         DenyCode.POSITION_SIDE_MISMATCH, {"position_side": "long", "account_mode": "one_way"}),
    Case("a hedge-mode sell closing a long slot that holds nothing is refused", base,
         PlaceOrder("alice", "o", BTC, SHORT, D("0.1"), D(60000), position_side=PositionSide.LONG),
         DenyCode.NO_POSITION, {"symbol": BTC, "position_side": "long"}),
    Case("an order on a symbol without a mark price is refused", base,
         PlaceOrder("alice", "o", ETH, LONG, D("0.1"), D(4000)), DenyCode.NO_MARK_PRICE, {"symbol": ETH}),
    Case("an order on a market whose only source is stale is refused", halted,
         PlaceOrder("alice", "o", BTC, LONG, D("0.1"), D(60000)), DenyCode.MARKET_HALTED, {"symbol": BTC}),
    Case("a reduce-only order on a flat account is refused", base,
         PlaceOrder("alice", "o", BTC, SHORT, D("0.1"), D(60000), reduce_only=True),
         DenyCode.REDUCE_ONLY_WOULD_INCREASE, {"symbol": BTC, "qty": D("0.1")}),
    Case("a reduce-only buy on a long is refused", with_long,
         PlaceOrder("alice", "o", BTC, LONG, D("0.1"), D(60000), reduce_only=True),
         DenyCode.REDUCE_ONLY_WOULD_INCREASE, {"symbol": BTC, "qty": D("0.1")}),
    Case("a reduce-only sell of 1.5 against a 1 BTC long (a flip) is refused", with_long,
         PlaceOrder("alice", "o", BTC, SHORT, D("1.5"), D(60000), reduce_only=True),
         DenyCode.REDUCE_ONLY_WOULD_INCREASE, {"symbol": BTC, "qty": D("1.5")}),
    # 150x is allowed only below 300,000: 5 BTC x 60,000 = 300,000 is in tier 2 (max 100x)
    Case("a 5 BTC order at 150x (notional 300,000) is refused", lambda: build(*BASE, SetLeverage("alice", BTC, D(150))),
         PlaceOrder("alice", "o", BTC, LONG, D(5), D(60000)),
         DenyCode.LEVERAGE_EXCEEDS_TIER, {"leverage": D(150), "max_leverage": D(100), "notional": D(300000)}),
    # the worst-case notional uses max(mark, price): 5 x max(60,000, 59,000) = 300,000
    Case("a 5 BTC bid below the mark at 150x is judged at the mark and refused",
         lambda: build(*BASE, SetLeverage("alice", BTC, D(150))),
         PlaceOrder("alice", "o", BTC, LONG, D(5), D(59000)),
         DenyCode.LEVERAGE_EXCEEDS_TIER, {"leverage": D(150), "max_leverage": D(100), "notional": D(300000)}),
    # worst case counts the resting order too: (0.1 + 4.9) x 60,000 = 300,000
    Case("a resting order plus a new one crossing 300,000 at 150x is refused",
         lambda: build(*BASE, SetLeverage("alice", BTC, D(150)), ORDER_O1),
         PlaceOrder("alice", "o2", BTC, LONG, D("4.9"), D(60000)),
         DenyCode.LEVERAGE_EXCEEDS_TIER, {"leverage": D(150), "max_leverage": D(100), "notional": D(300000)}),
    # carl: 1,000 USDT, leverage 20, buys 0.32 at 60,100 with the mark at 60,000:
    #   0.32 x 60,000 / 20          = 960
    #   immediate loss 0.32 x 100   =  32
    #   fee reserve 0.32 x 60,100 x 0.0005 = 9.616
    #   required = 1,001.616 > available 1,000
    Case("buying 0.32 BTC at 60,100 with 1,000 USDT is refused for initial margin",
         lambda: build(*BASE, Deposit("carl", "USDT", D(1000))),
         PlaceOrder("carl", "o", BTC, LONG, D("0.32"), D("60100")),
         DenyCode.INSUFFICIENT_INITIAL_MARGIN, {"required": D("1001.616"), "available": D(1000)}),
    # a sell below the mark loses (mark − price) immediately: 0.32 x 60,000 / 20 = 960,
    # loss 0.32 x 100 = 32, fee 0.32 x 59,900 x 0.0005 = 9.584 → 1,001.584
    Case("selling 0.32 BTC at 59,900 with 1,000 USDT is refused for initial margin",
         lambda: build(*BASE, Deposit("carl", "USDT", D(1000))),
         PlaceOrder("carl", "o", BTC, SHORT, D("0.32"), D("59900")),
         DenyCode.INSUFFICIENT_INITIAL_MARGIN, {"required": D("1001.584"), "available": D(1000)}),
    Case("a 2 BTC order (120,000) over a 100,000 position limit is refused",
         lambda: base(max_position_notional=D(100000)), PlaceOrder("alice", "o", BTC, LONG, D(2), D(60000)),
         DenyCode.POSITION_LIMIT, {"notional": D(120000), "limit": D(100000)}),
    Case("a 2 BTC order over a 1 BTC open-interest cap is refused",
         lambda: base(max_open_interest={BTC: D(1)}), PlaceOrder("alice", "o", BTC, LONG, D(2), D(60000)),
         DenyCode.OPEN_INTEREST_LIMIT, {"open_interest": D(0), "qty": D(2), "limit": D(1)}),
    Case("an order on a settled future is refused", expired,
         PlaceOrder("alice", "o", FUT, LONG, D(1), D(50000)), DenyCode.INSTRUMENT_EXPIRED, {"symbol": FUT}),
    # CancelOrder
    Case("cancelling for an unknown account is refused", with_order, CancelOrder("zed", "o1"),
         DenyCode.UNKNOWN_ACCOUNT, {"account": "zed"}),
    Case("cancelling an order that does not exist is refused", with_order, CancelOrder("alice", "nope"),
         DenyCode.UNKNOWN_ORDER, {"order_id": "nope"}),
    Case("cancelling another account's order is refused", with_order, CancelOrder("bob", "o1"),
         DenyCode.UNKNOWN_ORDER, {"order_id": "o1"}),
    # Fill
    Case("a fill on an unknown symbol is refused", base, Fill("t", "NOPEUSDT", D(1), D(1), "alice", "bob"),
         DenyCode.UNKNOWN_SYMBOL, {"symbol": "NOPEUSDT"}),
    *bad_number_cases("a fill quantity", base, lambda v: Fill("t", BTC, D(60000), v, "alice", "bob"),
                      DenyCode.INVALID_QUANTITY, "qty"),
    *bad_number_cases("a fill price", base, lambda v: Fill("t", BTC, v, D(1), "alice", "bob"),
                      DenyCode.INVALID_PRICE, "price"),
    Case("a fill with a negative fee is refused", base,
         Fill("t", BTC, D(60000), D(1), "alice", "bob", buyer_fee=D(-1)), DenyCode.INVALID_AMOUNT, {"fee": "-1"}),
    Case("a fill with a NaN fee is refused", base,
         Fill("t", BTC, D(60000), D(1), "alice", "bob", seller_fee=D("NaN")), DenyCode.INVALID_AMOUNT, {"fee": "NaN"}),
    Case("a fill reusing a trade id is refused", with_long, Fill("t1", BTC, D(60000), D(1), "alice", "bob"),
         DenyCode.DUPLICATE_TRADE_ID, {"trade_id": "t1"}),
    Case("a fill with an empty trade id is refused", base, Fill("", BTC, D(60000), D(1), "alice", "bob"),
         DenyCode.DUPLICATE_TRADE_ID, {"trade_id": ""}),
    Case("a fill where buyer and seller are the same account is refused", base,
         Fill("t", BTC, D(60000), D(1), "alice", "alice"), DenyCode.SELF_TRADE, {"account": "alice"}),
    Case("a fill with an unknown buyer is refused", base, Fill("t", BTC, D(60000), D(1), "zed", "bob"),
         DenyCode.UNKNOWN_ACCOUNT, {"account": "zed"}),
    Case("a fill with an unknown seller is refused", base, Fill("t", BTC, D(60000), D(1), "alice", "zed"),
         DenyCode.UNKNOWN_ACCOUNT, {"account": "zed"}),
    Case("a fill on a symbol without a mark price is refused", base, Fill("t", ETH, D(4000), D(1), "alice", "bob"),
         DenyCode.NO_MARK_PRICE, {"symbol": ETH}),
    Case("a fill naming an order that does not exist is refused", with_order,
         Fill("t", BTC, D(59000), D("0.1"), "alice", "bob", buy_order_id="nope"),
         DenyCode.UNKNOWN_ORDER, {"account": "alice", "order_id": "nope"}),
    Case("a fill using a buy order as the sell side is refused", with_order,
         Fill("t", BTC, D(59000), D("0.1"), "bob", "alice", sell_order_id="o1"),
         DenyCode.UNKNOWN_ORDER, {"account": "alice", "order_id": "o1"}),
    Case("a fill of 0.2 against a 0.1 order is refused", with_order,
         Fill("t", BTC, D(59000), D("0.2"), "alice", "bob", buy_order_id="o1"),
         DenyCode.ORDER_QTY_EXCEEDED, {"order_id": "o1", "qty": D("0.2"), "remaining": D("0.1")}),
    Case("a hedge-slot fill for a one-way account is refused", with_long,
         Fill("t", BTC, D(60000), D(1), "alice", "bob", buyer_position_side=PositionSide.LONG),
         DenyCode.POSITION_SIDE_MISMATCH, {"position_side": "long", "account_mode": "one_way"}),
    Case("a fill on a settled future is refused", expired, Fill("t", FUT, D(50000), D(1), "alice", "bob"),
         DenyCode.INSTRUMENT_EXPIRED, {"symbol": FUT}),
    # PriceUpdate
    Case("a price for an unknown symbol is refused", base, PriceUpdate("NOPEUSDT", "binance", D(1)),
         DenyCode.UNKNOWN_SYMBOL, {"symbol": "NOPEUSDT"}),
    *bad_number_cases("a price update", base, lambda v: PriceUpdate(BTC, "binance", v), DenyCode.INVALID_PRICE,
                      "price"),
    # |90,001 / 60,000 − 1| = 0.50001... > 0.5; |29,999 / 60,000 − 1| = 0.50001... > 0.5
    Case("a price 50.002 % above the mark is refused", base, PriceUpdate(BTC, "binance", D(90001)),
         DenyCode.INVALID_PRICE, {"price": D(90001), "mark": D(60000), "band": D("0.5")}),
    Case("a price 50.002 % below the mark is refused", base, PriceUpdate(BTC, "binance", D(29999)),
         DenyCode.INVALID_PRICE, {"price": D(29999), "mark": D(60000), "band": D("0.5")}),
    Case("a price for a settled future is refused", expired, PriceUpdate(FUT, "binance", D(50000)),
         DenyCode.INSTRUMENT_EXPIRED, {"symbol": FUT}),
    # PremiumSample
    Case("a premium sample for an unknown symbol is refused", base, PremiumSample("NOPEUSDT", D(1), D(2)),
         DenyCode.UNKNOWN_SYMBOL, {"symbol": "NOPEUSDT"}),
    Case("a premium sample with the bid above the ask is refused", base, PremiumSample(BTC, D(60010), D(60000)),
         DenyCode.INVALID_PRICE, {"impact_bid": D(60010), "impact_ask": D(60000)}),
    Case("a premium sample with a NaN bid is refused", base, PremiumSample(BTC, D("NaN"), D(60000)),
         DenyCode.INVALID_PRICE, {"price": "NaN"}),
    Case("a premium sample before any index is refused", base, PremiumSample(ETH, D(4000), D(4001)),
         DenyCode.NO_MARK_PRICE, {"symbol": ETH}),
    # AdvanceTime
    Case("time going backwards is refused", base, AdvanceTime(999),
         DenyCode.TIME_WENT_BACKWARDS, {"now_ms": "999", "current_ms": T0}),
    # (a new-user pass: these said TIME_WENT_BACKWARDS, hiding that the type was the problem)
    Case("a float time is refused", base, AdvanceTime(2000.0),  # type: ignore[arg-type]
         DenyCode.INVALID_FIELD, {"field": "now_ms", "got": "2000.0 (float)", "allowed": "an integer"}),
    Case("a boolean time is refused", base, AdvanceTime(True),
         DenyCode.INVALID_FIELD, {"field": "now_ms", "got": "True (bool)", "allowed": "an integer"}),
    # SetLeverage
    Case("leverage for an unknown account is refused", base, SetLeverage("zed", BTC, D(10)),
         DenyCode.UNKNOWN_ACCOUNT, {"account": "zed"}),
    Case("leverage for an unknown symbol is refused", base, SetLeverage("alice", "NOPEUSDT", D(10)),
         DenyCode.UNKNOWN_SYMBOL, {"symbol": "NOPEUSDT"}),
    *[Case(f"leverage {v} is refused", base, SetLeverage("alice", BTC, v), DenyCode.INVALID_LEVERAGE,
           {"leverage": str(v)}) for v in [D(0), D("0.5"), D(-1), D("NaN"), D("Infinity")]],
    Case("leverage 151 on BTCUSDT (tier 1 allows 150) is refused", base, SetLeverage("alice", BTC, D(151)),
         DenyCode.LEVERAGE_EXCEEDS_TIER, {"leverage": D(151), "max_leverage": D(150), "notional": D(0)}),
    # 1 BTC held at mark 60,000: at leverage 1 the IM would be 60,000 > equity 10,000
    Case("lowering leverage to 1 on a 60,000 position with 10,000 equity is refused", with_long,
         SetLeverage("alice", BTC, D(1)),
         DenyCode.INSUFFICIENT_INITIAL_MARGIN, {"required": D(60000), "available": D(10000)}),
    Case("leverage on a settled future is refused", expired, SetLeverage("alice", FUT, D(5)),
         DenyCode.INSTRUMENT_EXPIRED, {"symbol": FUT}),
    # SetMarginMode
    Case("a margin-mode change for an unknown account is refused", base,
         SetMarginMode("zed", BTC, MarginMode.ISOLATED), DenyCode.UNKNOWN_ACCOUNT, {"account": "zed"}),
    Case("a margin-mode change for an unknown symbol is refused", base,
         SetMarginMode("alice", "NOPEUSDT", MarginMode.ISOLATED), DenyCode.UNKNOWN_SYMBOL, {"symbol": "NOPEUSDT"}),
    Case("a margin-mode change with an open position is refused", with_long,
         SetMarginMode("alice", BTC, MarginMode.ISOLATED), DenyCode.MODE_CHANGE_WITH_OPEN_POSITION, {"symbol": BTC}),
    Case("a margin-mode change with a resting order is refused", with_order,
         SetMarginMode("alice", BTC, MarginMode.ISOLATED), DenyCode.MODE_CHANGE_WITH_OPEN_POSITION, {"symbol": BTC}),
    # AddIsolatedMargin
    Case("adding isolated margin for an unknown account is refused", isolated_long,
         AddIsolatedMargin("zed", BTC, D(1)), DenyCode.UNKNOWN_ACCOUNT, {"account": "zed"}),
    Case("adding isolated margin without an isolated position is refused", with_long,
         AddIsolatedMargin("alice", BTC, D(1)), DenyCode.NO_POSITION,
         {"symbol": BTC, "margin_mode": "isolated", "position_side": "both"}),
    *bad_number_cases("adding isolated margin", isolated_long, lambda v: AddIsolatedMargin("alice", BTC, v),
                      DenyCode.INVALID_AMOUNT, "amount"),
    # balance 7,000 after 3,000 went into the isolated position; nothing else uses cross margin
    Case("adding 7,000.01 of isolated margin with 7,000 available is refused", isolated_long,
         AddIsolatedMargin("alice", BTC, D("7000.01")), DenyCode.INSUFFICIENT_BALANCE,
         {"asset": "USDT", "requested": D("7000.01"), "available": D(7000)}),
    # RemoveIsolatedMargin
    Case("removing isolated margin without an isolated position is refused", with_long,
         RemoveIsolatedMargin("alice", BTC, D(1)), DenyCode.NO_POSITION,
         {"symbol": BTC, "margin_mode": "isolated", "position_side": "both"}),
    *bad_number_cases("removing isolated margin", isolated_long, lambda v: RemoveIsolatedMargin("alice", BTC, v),
                      DenyCode.INVALID_AMOUNT, "amount"),
    # isolated margin 3,000 = exactly the IM 1 x 60,000 / 20: nothing may leave
    Case("removing 1 USDT from an isolated position at exactly its IM is refused", isolated_long,
         RemoveIsolatedMargin("alice", BTC, D(1)), DenyCode.INSUFFICIENT_INITIAL_MARGIN,
         {"required": D(3000), "available": D(3000), "requested": D(1)}),
    # an enum field given a value that is none of its members (found by a new-user pass: INTERNAL_ERROR)
    Case("an order to go 'up' is refused", base, PlaceOrder("alice", "o", BTC, "up", D(1), D(60000)),  # type: ignore[arg-type]
         DenyCode.INVALID_FIELD, {"field": "side", "got": "'up'", "allowed": "long, short"}),
    Case("an order for a 'sideways' slot is refused", base,
         PlaceOrder("alice", "o", BTC, LONG, D(1), D(60000), position_side="sideways"),  # type: ignore[arg-type]
         DenyCode.INVALID_FIELD, {"field": "position_side", "got": "'sideways'", "allowed": "both, long, short"}),
    Case("a fill into a buyer slot 'up' is refused", base,
         Fill("t9", BTC, D(60000), D(1), "alice", "bob", buyer_position_side="up"),  # type: ignore[arg-type]
         DenyCode.INVALID_FIELD, {"field": "buyer_position_side", "got": "'up'", "allowed": "both, long, short"}),
    Case("a margin mode 'weird' is refused", base, SetMarginMode("alice", BTC, "weird"),  # type: ignore[arg-type]
         DenyCode.INVALID_FIELD, {"field": "mode", "got": "'weird'", "allowed": "cross, isolated"}),
    # ids, flags and counts of the wrong type (found by a new-user pass: accepted, then the journal
    # could not be reopened, or every later state hash raised)
    Case("a fill with trade id 7 (an int) is refused", base, Fill(7, BTC, D(60000), D(1), "alice", "bob"),  # type: ignore[arg-type]
         DenyCode.INVALID_FIELD, {"field": "trade_id", "got": "7 (int)", "allowed": "a string"}),
    Case("an order with order id 5 (an int) is refused", base,
         PlaceOrder("alice", 5, BTC, LONG, D(1), D(60000)),  # type: ignore[arg-type]
         DenyCode.INVALID_FIELD, {"field": "order_id", "got": "5 (int)", "allowed": "a string"}),
    Case("an order with reduce_only None is refused", base,
         PlaceOrder("alice", "o", BTC, LONG, D(1), D(60000), reduce_only=None),  # type: ignore[arg-type]
         DenyCode.INVALID_FIELD, {"field": "reduce_only", "got": "None (NoneType)", "allowed": "true or false"}),
    Case("a price from source None is refused", base, PriceUpdate(BTC, None, D(60000)),  # type: ignore[arg-type]
         DenyCode.INVALID_FIELD, {"field": "source", "got": "None (NoneType)", "allowed": "a string"}),
    Case("a fill naming buy order 3 (an int) is refused", base,
         Fill("t9", BTC, D(60000), D(1), "alice", "bob", buy_order_id=3),  # type: ignore[arg-type]
         DenyCode.INVALID_FIELD, {"field": "buy_order_id", "got": "3 (int)", "allowed": "a string or null"}),
    Case("isolated margin for a slot 'up' is refused", isolated_long,
         AddIsolatedMargin("alice", BTC, D(1), "up"),  # type: ignore[arg-type]
         DenyCode.INVALID_FIELD, {"field": "position_side", "got": "'up'", "allowed": "both, long, short"}),
    Case("isolated margin out of a slot 'up' is refused", isolated_long,
         RemoveIsolatedMargin("alice", BTC, D(1), "up"),  # type: ignore[arg-type]
         DenyCode.INVALID_FIELD, {"field": "position_side", "got": "'up'", "allowed": "both, long, short"}),
]


def test_enum_fields_given_as_their_values_are_taken_as_the_enums() -> None:
    """A Python caller may write ``"long"`` for ``Side.LONG``: the order rests as the same order
    (the state hash is that of the enum-built engine), and a fill's ``"long"`` slot the same."""
    typed, plain = with_long(), with_long()
    accept(typed, PlaceOrder("alice", "o", BTC, LONG, D("0.1"), D(59000)))
    accept(plain, PlaceOrder("alice", "o", BTC, "long", D("0.1"), D(59000), position_side="both"))  # type: ignore[arg-type]
    assert typed.state_hash() == plain.state_hash()
    accept(typed, SetMarginMode("bob", ETH, MarginMode.ISOLATED))
    accept(plain, SetMarginMode("bob", ETH, "isolated"))  # type: ignore[arg-type]
    assert typed.state_hash() == plain.state_hash()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refused_commands_change_nothing(case: Case) -> None:
    refuse(case.setup(), case.cmd, case.code, case.context)


def test_the_denial_table_covers_every_code_but_the_inverse_and_margin_ones() -> None:
    covered = {c.code for c in CASES}
    # covered by their own tests below
    covered |= {DenyCode.UNSUPPORTED_INSTRUMENT, DenyCode.RISK_INCREASING_WHILE_UNDER_MARGIN}
    covered |= {DenyCode.PRICE_OUT_OF_RANGE, DenyCode.QTY_OUT_OF_RANGE,  # test_engine_bounds.py
                DenyCode.AMOUNT_OUT_OF_RANGE,
                DenyCode.TIME_OUT_OF_RANGE, DenyCode.INTERNAL_ERROR, DenyCode.RESERVED_TRADE_ID}
    covered |= {DenyCode.PARAMS_INCOMPATIBLE}  # test_params_change.py
    assert covered == set(DenyCode)


def test_an_inverse_instrument_is_refused_by_an_engine_margining_in_another_asset() -> None:
    engine = Engine(EngineConfig(load_venue("binance-coinm"), settle_asset="USDT"))  # BTCUSD_PERP settles in BTC
    accept(engine, Deposit("alice", "USDT", D(1000)))
    refuse(engine, PriceUpdate("BTCUSD_PERP", "binance", D(60000)), DenyCode.UNSUPPORTED_INSTRUMENT)
    refuse(engine, PlaceOrder("alice", "o", "BTCUSD_PERP", LONG, D(1), D(60000)), DenyCode.UNSUPPORTED_INSTRUMENT)
    coin = Engine(EngineConfig(load_venue("binance-coinm"), settle_asset="BTC"))
    accept(coin, Deposit("alice", "BTC", D(1)))
    accept(coin, PriceUpdate("BTCUSD_PERP", "binance", D(60000)))
    refuse(coin, PriceUpdate("ETHUSD_PERP", "binance", D(3000)), DenyCode.UNSUPPORTED_INSTRUMENT)  # settles in ETH


def test_left_out_the_settlement_asset_is_the_one_most_of_the_venues_instruments_settle_in() -> None:
    # counted from the bundled profiles: Binance USDⓈ-M 862 of 907 in USDT; Hyperliquid, dYdX
    # and Drift all in USDC; BitMEX one USDT and one XBT contract (a tie: USDT); Binance
    # COIN-M one BTC and one ETH contract (a tie: the first by name)
    expected = {"binance-usdm": "USDT", "bybit-linear": "USDT", "hyperliquid": "USDC", "dydx-v4": "USDC",
                "drift": "USDC", "bitmex": "USDT", "binance-coinm": "BTC", "bybit-inverse": "BTC"}
    for venue, asset in expected.items():
        assert EngineConfig(load_venue(venue)).settle_asset == asset, venue
    engine = Engine(EngineConfig(load_venue("hyperliquid")))
    accept(engine, Deposit("alice", "USDC", D(1000)))
    accept(engine, PriceUpdate("BTC", "feed", D(60000)))


# --------------------------------------------------------------------------- happy paths


def test_a_deposit_credits_the_balance_and_the_deposit_total() -> None:
    engine = base()
    events = accept(engine, Deposit("alice", "USDT", D("0.01")))
    assert events == (Accepted("Deposit"), BalanceChanged("alice", "USDT", D("0.01"), D("10000.01"), "deposit"))
    assert engine.conservation() == {"USDT": (D("1010000.01"), D("1010000.01"))}


def test_withdrawing_exactly_the_free_margin_is_allowed() -> None:
    # free margin 10,000 − 1 x 60,000 / 20 = 7,000: withdrawing all of it leaves available = 0
    engine = with_long()
    events = accept(engine, Withdraw("alice", "USDT", D(7000)))
    assert BalanceChanged("alice", "USDT", D(-7000), D(3000), "withdrawal") in events
    m = engine.margin("alice")
    assert (m.equity, m.initial_margin, m.available) == (D(3000), D(3000), D(0))
    assert engine.conservation()["USDT"] == (D(1_003_000), D(1_003_000))


def test_a_resting_bid_reserves_its_margin_and_a_cancel_releases_it() -> None:
    engine = base()
    events = accept(engine, ORDER_O1)
    assert OrderPlaced("alice", "o1", BTC, "long", D("0.1"), D(59000)) in events
    # 0.1 x mark 60,000 / 20 = 300, no immediate loss (bid below the mark),
    # fee reserve 0.1 x 59,000 x 0.0005 = 2.95 → 302.95
    assert engine.margin("alice").order_margin == D("302.95")
    events = accept(engine, CancelOrder("alice", "o1"))
    assert OrderCancelled("alice", "o1", "cancelled") in events
    assert engine.margin("alice").order_margin == 0


def test_buying_0_31_btc_with_1000_usdt_is_just_allowed() -> None:
    # 0.31 x 60,000 / 20 = 930; loss 0.31 x 100 = 31; fee 0.31 x 60,100 x 0.0005 = 9.3155
    # → 970.3155 ≤ 1,000
    engine = build(*BASE, Deposit("carl", "USDT", D(1000)))
    accept(engine, PlaceOrder("carl", "o", BTC, LONG, D("0.31"), D("60100")))
    assert engine.margin("carl").initial_margin == D("970.3155")


def test_max_order_qty_is_the_largest_lot_the_check_accepts() -> None:
    # at the mark 60,000, leverage 20: per BTC 60,000 / 20 + 60,000 x 0.0005 = 3,030;
    # 1,000 / 3,030 = 0.33003... → 0.33 (0.33 x 3,030 = 999.9; 0.331 x 3,030 = 1,002.93)
    engine = build(*BASE, Deposit("carl", "USDT", D(1000)))
    assert engine.max_order_qty("carl", BTC, LONG, D(60000)) == D("0.33")


def test_150x_is_allowed_just_below_300000_notional() -> None:
    # 4.999 x 60,000 = 299,940 < 300,000: tier 1, 150x allowed;
    # IM 299,940 / 150 = 1,999.6 + fee 149.97 = 2,149.57 ≤ 10,000
    engine = build(*BASE, SetLeverage("alice", BTC, D(150)))
    accept(engine, PlaceOrder("alice", "o", BTC, LONG, D("4.999"), D(60000)))
    assert engine.margin("alice").initial_margin == D("2149.57")


def test_a_fill_moves_positions_fees_and_realised_pnl_exactly() -> None:
    engine = base()
    # fees 0.05 % of 60,000 = 30 each side, to fee income
    events = accept(engine, Fill("t1", BTC, D(60000), D(1), "alice", "bob", D(30), D(30)))
    assert PositionChanged("alice", BTC, "both", D(1), D(60000), D(0)) in events
    assert PositionChanged("bob", BTC, "both", D(-1), D(60000), D(0)) in events
    assert BalanceChanged("alice", "USDT", D(-30), D(9970), "trade t1") in events
    # alice sells 0.4 back at 61,000: realised 0.4 x (61,000 − 60,000) = 400
    events = accept(engine, Fill("t2", BTC, D(61000), D("0.4"), "bob", "alice"))
    assert PositionChanged("alice", BTC, "both", D("0.6"), D(60000), D(400)) in events
    assert BalanceChanged("alice", "USDT", D(400), D(10370), "trade t2") in events
    assert BalanceChanged("bob", "USDT", D(-400), D(999570), "trade t2") in events
    assert engine.state.fee_income == D(60)
    assert engine.state.open_interest[BTC] == D("0.6")
    held, net = engine.conservation()["USDT"]
    assert held == net == D(1_010_000)


def test_a_fill_against_a_resting_order_consumes_it() -> None:
    engine = with_order()
    accept(engine, Fill("t", BTC, D(59000), D("0.04"), "alice", "bob", buy_order_id="o1"))
    assert engine.state.accounts["alice"].orders["o1"].qty == D("0.06")
    events = accept(engine, Fill("t2", BTC, D(59000), D("0.06"), "alice", "bob", buy_order_id="o1"))
    assert OrderCancelled("alice", "o1", "filled") in events
    assert "o1" not in engine.state.accounts["alice"].orders


def test_price_premium_time_and_leverage_commands_are_accepted() -> None:
    engine = base()
    events = accept(engine, PriceUpdate(BTC, "binance", D(60500)))
    assert MarkPriceChanged(BTC, D(60500), ("binance",)) in events
    assert accept(engine, PremiumSample(BTC, D(60510), D(60520))) == (Accepted("PremiumSample"),)
    assert TimeAdvanced(T0 + 5) in accept(engine, AdvanceTime(T0 + 5))
    accept(engine, AdvanceTime(T0 + 5))  # standing still is not going backwards
    accept(engine, SetLeverage("alice", BTC, D(150)))
    assert engine.state.accounts["alice"].leverage[BTC] == D(150)
    accept(engine, SetMarginMode("alice", ETH, MarginMode.ISOLATED))


def test_isolated_margin_can_be_added_and_the_excess_removed() -> None:
    engine = isolated_long()
    pos = engine.state.accounts["alice"].positions[(BTC, PositionSide.BOTH)]
    assert (pos.isolated_margin, engine.state.accounts["alice"].balances["USDT"]) == (D(3000), D(7000))
    accept(engine, AddIsolatedMargin("alice", BTC, D(500)))
    assert pos.isolated_margin == D(3500)
    # 3,500 − 600 = 2,900 < IM 3,000
    refuse(engine, RemoveIsolatedMargin("alice", BTC, D(600)), DenyCode.INSUFFICIENT_INITIAL_MARGIN,
           {"required": D(3000), "available": D(3500), "requested": D(600)})
    accept(engine, RemoveIsolatedMargin("alice", BTC, D(500)))
    assert (pos.isolated_margin, engine.state.accounts["alice"].balances["USDT"]) == (D(3000), D(7000))
    assert engine.conservation()["USDT"] == (D(1_010_000), D(1_010_000))


def test_a_reducing_order_is_allowed_under_margin_while_an_increasing_one_is_not() -> None:
    # alice: 3,500 USDT, long 1 BTC at 60,000, leverage 20; the mark falls to 59,000:
    #   equity = 3,500 − 1,000 = 2,500; IM = 59,000 / 20 = 2,950 → available −450 (under margin)
    #   MM = 0.004 x 59,000 = 236; ratio 236 / 2,500 = 0.0944
    engine = build(AdvanceTime(T0), Deposit("alice", "USDT", D(3500)), Deposit("bob", "USDT", D(1_000_000)),
                   PriceUpdate(BTC, "binance", D(60000)), LONG_1, PriceUpdate(BTC, "binance", D(59000)))
    m = engine.margin("alice")
    assert (m.equity, m.initial_margin, m.maintenance_margin) == (D(2500), D(2950), D(236))
    # buying 0.001 more: IM 2,950 + 0.001 x 59,000 / 20 = 2.95 + fee 0.0295 → 2,952.9795
    refuse(engine, PlaceOrder("alice", "up", BTC, LONG, D("0.001"), D(59000)),
           DenyCode.INSUFFICIENT_INITIAL_MARGIN, {"required": D("2952.9795"), "available": D(2500)})
    # selling 0.5 at 53,000 reduces the position but realises 0.5 x 6,000 = 3,000 of loss:
    # equity after = −500, the ratio worsens → refused; IM with it = 2,950 + loss 3,000
    # + fee 0.5 x 53,000 x 0.0005 = 13.25 → 5,963.25
    refuse(engine, PlaceOrder("alice", "dump", BTC, SHORT, D("0.5"), D(53000)),
           DenyCode.RISK_INCREASING_WHILE_UNDER_MARGIN, {"required": D("5963.25"), "available": D(2500)})
    # selling 0.5 at the mark: MM 236 → 118, equity stays 2,500, ratio 0.0472 ≤ 0.0944 → allowed
    accept(engine, PlaceOrder("alice", "down", BTC, SHORT, D("0.5"), D(59000)))
    accept(engine, PlaceOrder("alice", "ro", BTC, SHORT, D("0.2"), D(59000), reduce_only=True))


def test_settlement_cancels_orders_on_the_future_and_closes_positions() -> None:
    engine = build(
        AdvanceTime(EXPIRY_MS - 600_000), Deposit("alice", "USDT", D(10000)), Deposit("bob", "USDT", D(10000)),
        PriceUpdate(FUT, "binance", D(50000)), Fill("t", FUT, D(50000), D(1), "alice", "bob"),
        PlaceOrder("alice", "f1", FUT, LONG, D(1), D(49000)),
    )
    events = accept(engine, AdvanceTime(EXPIRY_MS))
    # one index sample (50,000) is in force through the whole window → settles at 50,000
    assert OrderCancelled("alice", "f1", "expired") in events
    assert Settled(FUT, D(50000), 2) in events
    assert engine.state.accounts["alice"].positions == {}


def test_what_if_and_the_sizing_calculator_agree_where_the_profile_has_no_lot() -> None:
    """The default lot had four homes and two values (what-if stepped by 0.001, the
    calculator by 1e-8), so the two answers for 0GUSDT differed. ``Instrument.lot`` is now
    the one home: an unknown lot is the 1e-8 quantum, and the answers agree."""
    from solvent.calc.sizing import max_position_qty

    profile = load_venue("binance-usdm")
    inst = profile.instrument("0GUSDT")
    assert inst.lot_size is None and inst.lot == Decimal("0.00000001")
    engine = Engine(EngineConfig(profile))  # default leverage 20, taker fee 0.05 %
    price = Decimal("3.3663")
    assert engine.apply(Deposit("a", "USDT", Decimal(1_000))).accepted
    assert engine.apply(PriceUpdate("0GUSDT", "ix", price)).accepted
    # by hand: notional = 1000 / (1/20 + 0.0005) = 19,801.980198…; qty = notional / 3.3663
    # = 5,882.416955713…, down to the 1e-8 lot: 5882.41695571 (inside the tiers allowing 20x)
    expected = Decimal("5882.41695571")
    answer = engine.what_if(PlaceOrder("a", "o1", "0GUSDT", Side.LONG, inst.lot, price))
    assert answer.max_qty == expected
    assert max_position_qty(Decimal(1_000), price, Decimal(20), inst, profile.rules_for("0GUSDT"),
                            Decimal("0.0005")) == expected


def test_an_account_that_set_no_leverage_trades_at_20x_or_the_venues_lower_maximum() -> None:
    # Binance: 20× (its default); a 1 BTC buy at 60,000 needs 60,000 / 20 = 3,000 of IM
    binance = Engine(EngineConfig(load_venue("binance-usdm")))
    accept(binance, Deposit("a", "USDT", D(3100)))
    accept(binance, PriceUpdate("BTCUSDT", "feed", D(60000)))
    accept(binance, PlaceOrder("a", "o", "BTCUSDT", LONG, D(1), D(60000)))
    # Drift allows 10× on BTC-PERP (initial margin ratio 0.1): at 20× every order was refused
    # LEVERAGE_EXCEEDS_TIER; a 1 BTC buy at 60,000 needs 60,000 / 10 = 6,000 of IM
    drift = Engine(EngineConfig(load_venue("drift")))
    assert drift.config.leverage_default("BTC-PERP") == D(10)
    accept(drift, Deposit("a", "USDC", D(6100)))
    accept(drift, PriceUpdate("BTC-PERP", "feed", D(60000)))
    accept(drift, PlaceOrder("a", "o", "BTC-PERP", LONG, D(1), D(60000)))
    poorer = Engine(EngineConfig(load_venue("drift")))
    accept(poorer, Deposit("a", "USDC", D(5000)))
    accept(poorer, PriceUpdate("BTC-PERP", "feed", D(60000)))
    refuse(poorer, PlaceOrder("a", "o", "BTC-PERP", LONG, D(1), D(60000)), DenyCode.INSUFFICIENT_INITIAL_MARGIN)
    # a configured default still applies to every symbol
    assert EngineConfig(load_venue("drift"), default_leverage=D(5)).leverage_default("BTC-PERP") == D(5)
