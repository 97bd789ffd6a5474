"""``Engine.check(cmd)`` answers exactly what ``Engine.apply(cmd)`` would (STYLE 5: the check is
the commit without the commit), on random books of several venues.

Each step draws a command against the engine as it stands — mostly orders, with every way an
order can be refused reachable: unknown account or symbol, an inverse instrument, a quantity
or price that is zero, negative, not a number, off the lot or tick grid, below one lot, with
more than 18 fraction digits or out of range, a duplicate or empty order id, the wrong
position side for the account's mode, reduce-only orders that would grow a position,
leverage above the tier, the position and open-interest caps, too little margin, and the
risk-reducing exception for an account under its margin; and between them the commands that
build such states: deposits, withdrawals, fills in one-way and hedge mode, leverage and
margin-mode changes, price moves (jumps halt a market), cancels. Then:

* ``check`` leaves ``state_hash()`` exactly as it was;
* ``apply`` on a deep copy of the engine gives the same ``accepted`` flag and the same denial
  (code and every detail, rendered);
* an accepted ``check`` returns exactly the events ``apply`` begins with (``apply`` may add
  level changes and liquidations after them, which the check does not run).

The engine then applies the command too (and must answer as the copy did, to the Decimal
exponent), so the sequence explores states that only ``apply`` reaches. The expected answer is
``apply``'s: the committed path is the specification of the check. A fixed book under its
initial margin walks the risk-reducing exception, which random books meet only now and then.

A last test pins the bounds' "at most 18 digits after the point" rule against a
re-implementation written here from the rule's words (digits of the number, trailing zeros
dropped), for prices and quantities of every shape.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from solvent import load_venue
from solvent.engine import (
    AddIsolatedMargin,
    AdvanceTime,
    CancelOrder,
    Command,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    PlaceOrder,
    PriceUpdate,
    SetLeverage,
    SetMarginMode,
    Withdraw,
)
from solvent.engine.config import LiquidationPolicy
from solvent.engine.denials import DenyCode
from solvent.engine.state_digest import StateDigest
from solvent.model import MarginMode, PositionSide, Side

with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import libcst  # noqa: F401

D = Decimal
ACCOUNTS = ("a", "b", "h")  # "h" trades in hedge mode (position sides long/short)
STRANGERS = ("ghost",)


@dataclass(frozen=True)
class Setup:
    venue: str
    prices: dict[str, Decimal]  # tradable linear symbols and their opening marks
    extra_symbols: tuple[str, ...] = ()  # known to the venue but refused (inverse)
    max_position_notional: Decimal | None = None
    open_interest_cap: Decimal | None = None
    liquidation: bool = False


SETUPS = [
    Setup("binance-usdm", {"BTCUSDT": D(60000), "ETHUSDT": D(3000)}, open_interest_cap=D(5)),
    Setup("bybit-linear", {"BTCUSDT": D(60000)}, max_position_notional=D(150000), liquidation=True),
    Setup("hyperliquid", {"BTC": D(60000), "ETH": D(3000)}, liquidation=True),
    Setup("dydx-v4", {"BTC-USD": D(60000), "ETH-USD": D(3000)}, open_interest_cap=D(3)),
    Setup("drift", {"BTC-PERP": D(60000), "SOL-PERP": D(150)}, max_position_notional=D(90000)),
    Setup("bitmex", {"ETHUSDT": D(3000)}, extra_symbols=("XBTUSD",)),
]


def _config(setup: Setup) -> EngineConfig:
    profile = load_venue(setup.venue)
    caps = {sym: setup.open_interest_cap for sym in setup.prices} if setup.open_interest_cap else {}
    settle = profile.instruments[next(iter(setup.prices))].settle  # USDT, or USDC on Hyperliquid, dYdX, Drift
    return EngineConfig(profile, settle_asset=settle, max_position_notional=setup.max_position_notional,
                        max_open_interest=caps, liquidation=LiquidationPolicy() if setup.liquidation else None)


CONFIGS = {s.venue: _config(s) for s in SETUPS}


def _on_grid(x: Decimal, step: Decimal) -> Decimal:
    return max(step, (x / step).to_integral_value(ROUND_HALF_EVEN) * step)


class Book:
    """The engine under test and what the command strategies need to know about it."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.config = CONFIGS[setup.venue]
        self.engine = Engine(self.config)
        self.ids = 0
        self.engine.apply(AdvanceTime(1_700_000_000_000))
        for sym, px in setup.prices.items():
            assert self.engine.apply(PriceUpdate(sym, "feed", px)).accepted
        for aid in ACCOUNTS:
            assert self.engine.apply(Deposit(aid, self.config.settle_asset, D(4000))).accepted

    def fresh(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}{self.ids}"

    def inst_steps(self, symbol: str) -> tuple[Decimal, Decimal]:
        inst = self.config.profile.instrument(symbol)
        return inst.lot, inst.tick_size or D("0.01")

    def mark(self, symbol: str) -> Decimal:
        market = self.engine.state.markets.get(symbol)
        return market.mark if market is not None and market.mark is not None else self.setup.prices[symbol]

    def price_near(self, symbol: str, bps: int) -> Decimal:
        _, tick = self.inst_steps(symbol)
        return _on_grid(self.mark(symbol) * (1 + D(bps) / 10000), tick)


def _slot(aid: str, side: Side) -> PositionSide:
    if aid != "h":
        return PositionSide.BOTH
    return PositionSide.LONG if side is Side.LONG else PositionSide.SHORT


@st.composite
def _order(draw: st.DrawFn, book: Book) -> PlaceOrder:
    symbols = [*book.setup.prices, *book.setup.extra_symbols, "NOPE"]
    symbol = draw(st.sampled_from(symbols))
    known = symbol in book.setup.prices
    sym_for_numbers = symbol if known else next(iter(book.setup.prices))
    lot, tick = book.inst_steps(sym_for_numbers)
    aid = draw(st.sampled_from([*ACCOUNTS, *STRANGERS]))
    side = draw(st.sampled_from(list(Side)))
    # mostly sensible sizes (1 lot .. a few BTC of notional) and prices near the mark
    notional_target = draw(st.sampled_from([D(50), D(500), D(5000), D(20000), D(60000), D(200000), D(10) ** 7]))
    lots = max(1, int(notional_target / book.mark(sym_for_numbers) / lot))
    qty = lot * draw(st.sampled_from([1, lots, lots, lots, lots * 3 + 1]))
    price = book.price_near(sym_for_numbers, draw(st.integers(-300, 300)))
    odd = draw(st.integers(0, 19))
    if odd == 1:
        qty = draw(st.sampled_from([D(0), -qty, D("NaN"), D("Infinity"), D(10) ** 10, lot / 2, lot * D("1.5"),
                                    qty + D("1e-19"), qty + D("0E-30")]))
    elif odd == 2:
        price = draw(st.sampled_from([D(0), -price, D("NaN"), D(10) ** 10, D("1e-9"), price + tick / 3,
                                      price + D("1e-19"), price + D("0E-25")]))
    order_id = book.fresh("o")
    account = book.engine.state.accounts.get(aid)
    if odd == 3 and account is not None and account.orders:
        order_id = sorted(account.orders)[0]
    elif odd == 4:
        order_id = ""
    slot = _slot(aid, side) if aid in ACCOUNTS else PositionSide.BOTH
    if odd == 5:
        slot = draw(st.sampled_from(list(PositionSide)))
    elif odd == 6 and aid == "h":
        # closing the opposite slot in hedge mode (a long order on the short slot, ...)
        slot = PositionSide.SHORT if side is Side.LONG else PositionSide.LONG
    reduce_only = draw(st.sampled_from([False, False, False, True]))
    if odd in (7, 8, 9, 10) and account is not None:
        # against a position it holds: closing it, flipping it, or a part of it at a price 2-3 % off,
        # so reducing, flipping and the risk-reducing exception under margin all happen
        held = [p for p in account.positions.values() if p.symbol == sym_for_numbers and p.qty]
        if held:
            pos = held[0]
            side = Side.SHORT if pos.qty > 0 else Side.LONG
            slot = pos.position_side
            size = abs(pos.qty)
            qty = size if odd == 7 else size + lot if odd == 8 else _on_grid(size / (odd - 7), lot)
            if odd == 10:
                price = book.price_near(sym_for_numbers, draw(st.sampled_from([-300, -200, 200, 300])))
    return PlaceOrder(aid, order_id, symbol, side, qty, price, reduce_only=reduce_only, position_side=slot)


@st.composite
def _fill(draw: st.DrawFn, book: Book) -> Fill:
    symbol = draw(st.sampled_from(list(book.setup.prices)))
    lot, _ = book.inst_steps(symbol)
    buyer, seller = draw(st.permutations(list(ACCOUNTS)))[:2]
    notional = draw(st.sampled_from([D(300), D(3000), D(15000), D(40000)]))
    qty = lot * max(1, int(notional / book.mark(symbol) / lot))
    price = book.price_near(symbol, draw(st.integers(-50, 50)))
    return Fill(book.fresh("t"), symbol, price, qty, buyer, seller, D(0), D(0),
                buyer_position_side=_slot(buyer, Side.LONG), seller_position_side=_slot(seller, Side.SHORT))


@st.composite
def _command(draw: st.DrawFn, book: Book) -> Command:
    kind = draw(st.sampled_from(["order"] * 10 + ["fill"] * 3 + ["move", "move", "jump", "deposit", "withdraw",
                                                                 "leverage", "mode", "isolated", "cancel", "time"]))
    symbols = list(book.setup.prices)
    aid = draw(st.sampled_from(ACCOUNTS))
    if kind == "order":
        return draw(_order(book))
    if kind == "fill":
        return draw(_fill(book))
    if kind == "move":
        symbol = draw(st.sampled_from(symbols))
        return PriceUpdate(symbol, "feed", book.price_near(symbol, draw(st.integers(-900, 900))))
    if kind == "jump":  # one print 12-30 % away: the guard holds the mark and halts the market
        symbol = draw(st.sampled_from(symbols))
        return PriceUpdate(symbol, "feed", book.price_near(symbol, draw(st.sampled_from([-3000, -1200, 1200, 3000]))))
    if kind == "deposit":
        return Deposit(aid, book.config.settle_asset, draw(st.sampled_from([D(100), D(2000), D(20000)])))
    if kind == "withdraw":
        return Withdraw(aid, book.config.settle_asset, draw(st.sampled_from([D(100), D(1500), D(5000)])))
    if kind == "leverage":
        return SetLeverage(aid, draw(st.sampled_from(symbols)), draw(st.sampled_from([D(2), D(10), D(50), D(125)])))
    if kind == "mode":
        return SetMarginMode(aid, draw(st.sampled_from(symbols)), draw(st.sampled_from(list(MarginMode))))
    if kind == "isolated":
        return AddIsolatedMargin(aid, draw(st.sampled_from(symbols)), D(200), _slot(aid, Side.LONG))
    if kind == "cancel":
        account = book.engine.state.accounts.get(aid)
        orders = sorted(account.orders) if account is not None else []
        return CancelOrder(aid, orders[draw(st.integers(0, len(orders) - 1))] if orders else "missing")
    return AdvanceTime(book.engine.state.now_ms + draw(st.sampled_from([1_000, 60_000, 3_600_000])))


def _twin(engine: Engine) -> Engine:
    """A deep copy: the configuration (immutable; binance-usdm's profile has ~900 instruments) is
    shared, and the copy starts a state hash of its own from nothing (it is never asked for one)."""
    return copy.deepcopy(engine, {id(engine.config): engine.config, id(engine._digest): StateDigest()})


@pytest.mark.parametrize("setup", SETUPS, ids=[s.venue for s in SETUPS])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_check_answers_exactly_what_apply_would(setup: Setup, data: st.DataObject) -> None:
    book = Book(setup)
    for _ in range(data.draw(st.integers(10, 30), label="steps")):
        cmd = data.draw(_command(book), label="command")
        engine = book.engine
        before = engine.state_hash()
        checked = engine.check(cmd)
        assert engine.state_hash() == before, f"check changed the state: {cmd}"
        twin = _twin(engine)
        applied = twin.apply(cmd)
        assert checked.accepted == applied.accepted, (cmd, checked, applied)
        assert checked.denial == applied.denial, (cmd, checked.denial, applied.denial)
        if applied.accepted:
            assert applied.events[: len(checked.events)] == checked.events, (cmd, checked.events, applied.events)
        else:
            assert checked == applied
            if checked.denial is not None:
                event(f"{type(cmd).__name__} refused: {checked.denial.code.value}")
        assert repr(engine.apply(cmd)) == repr(applied)  # the copy was faithful: the engine goes on from here


def test_reducing_orders_of_an_account_under_its_margin_get_the_answer_apply_gives() -> None:
    # Long 0.3 BTC at 60,000 on 1,000 of margin (binance-usdm, leverage 20: IM 900). At a mark of
    # 57,000 the equity is 1,000 − 900 = 100 and the position IM 0.3 × 57,000 / 20 = 855, so the
    # account is under its initial margin (MM 0.004 × 17,100 = 68.4: not liquidatable). A sell
    # reducing the long passes only if, filled at its price, MM does not rise and the margin ratio
    # does not worsen: at 58,000 it gains against the mark, at 54,000 it loses 3,000 per BTC.
    engine = Engine(CONFIGS["binance-usdm"])
    for cmd in (PriceUpdate("BTCUSDT", "feed", D(60000)), Deposit("a", "USDT", D(1000)),
                Deposit("b", "USDT", D(10) ** 6), Fill("t1", "BTCUSDT", D(60000), D("0.3"), "a", "b"),
                PriceUpdate("BTCUSDT", "feed", D(57000))):
        assert engine.apply(cmd).accepted
    assert engine.margin("a").available < 0
    codes = set()
    for qty in (D("0.1"), D("0.2"), D("0.3"), D("0.4")):
        for price in (D(54000), D(56000), D(57000), D(58000), D(62000)):
            for reduce_only in (False, True):
                sell = PlaceOrder("a", "o", "BTCUSDT", Side.SHORT, qty, price, reduce_only=reduce_only)
                checked = engine.check(sell)
                applied = _twin(engine).apply(sell)
                assert checked.accepted == applied.accepted and checked.denial == applied.denial, sell
                if applied.accepted:
                    assert applied.events[: len(checked.events)] == checked.events
                codes.add(checked.denial.code if checked.denial is not None else None)
    assert codes == {None, DenyCode.RISK_INCREASING_WHILE_UNDER_MARGIN, DenyCode.INSUFFICIENT_INITIAL_MARGIN,
                     DenyCode.REDUCE_ONLY_WOULD_INCREASE}


# ---------------------------------------------------------------- the 18-fraction-digit rule

def _fraction_digits_by_hand(x: Decimal) -> int:
    """Digits after the point of ``x`` written out in full, trailing zeros dropped (``1.50`` → 1)."""
    _, digits, exponent = x.as_tuple()
    assert isinstance(exponent, int)
    text = "".join(str(d) for d in digits).rstrip("0")
    dropped = len(digits) - len(text)
    return max(0, -(exponent + dropped)) if text else 0


_DIGITS = st.builds(lambda coefficient, exponent: Decimal(coefficient).scaleb(exponent),
                    st.integers(1, 10**22), st.integers(-40, 6))


@settings(max_examples=300, deadline=None)
@given(price=_DIGITS, qty=_DIGITS)
def test_prices_and_quantities_with_more_than_18_fraction_digits_are_refused_by_the_bounds(
    price: Decimal, qty: Decimal
) -> None:
    engine = Engine(CONFIGS["drift"])  # no tick, no lot: only the bounds judge the digits
    engine.apply(PriceUpdate("BTC-PERP", "feed", D(60000)))
    engine.apply(Deposit("a", "USDT", D(10) ** 9))
    result = engine.check(PlaceOrder("a", "o1", "BTC-PERP", Side.LONG, qty, price))
    code = result.denial.code if result.denial is not None else None
    lot = CONFIGS["drift"].profile.instrument("BTC-PERP").lot
    price_ok = D("1e-8") <= price <= D(10) ** 9 and _fraction_digits_by_hand(price) <= 18
    if not price_ok:
        assert code is DenyCode.PRICE_OUT_OF_RANGE
        return
    assert code is not DenyCode.PRICE_OUT_OF_RANGE
    if qty < lot:
        assert code is DenyCode.INVALID_QUANTITY
    elif qty > D(10) ** 9 or _fraction_digits_by_hand(qty) > 18 or qty * price > D(10) ** 12:
        assert code is DenyCode.QTY_OUT_OF_RANGE
    else:
        assert code not in (DenyCode.QTY_OUT_OF_RANGE, DenyCode.PRICE_OUT_OF_RANGE, DenyCode.INVALID_QUANTITY)


# ---------------------------------------------------------------- the decimal context of a check

def test_a_check_runs_in_solvents_context_and_gives_the_callers_own_context_object_back() -> None:
    # A 5-digit, round-down caller with no traps. The order needs IM 0.3 × 60,000 / 20 = 900 plus a
    # fee reserve of 0.3 × 60,000 × 0.0005 = 9: 909 > 900 deposited. Under the caller's context the
    # float trap would be off. Solvent's context decides; the caller's context object comes back untouched.
    import decimal
    import threading

    engine = Engine(CONFIGS["binance-usdm"])
    for cmd in (PriceUpdate("BTCUSDT", "feed", D(60000)), Deposit("a", "USDT", D(900))):
        engine.apply(cmd)
    order = PlaceOrder("a", "o", "BTCUSDT", Side.LONG, D("0.3"), D(60000))
    expected = engine.check(order)
    assert expected.denial is not None and expected.denial.code is DenyCode.INSUFFICIENT_INITIAL_MARGIN
    assert dict(expected.denial.context) == {"required": "909", "available": "900"}
    hostile = decimal.Context(prec=5, rounding=decimal.ROUND_DOWN, traps=[])
    with decimal.localcontext(hostile) as mine:
        assert engine.check(order) == expected
        assert decimal.getcontext() is mine and mine.prec == 5 and not any(mine.flags.values())
        with pytest.raises(TypeError):
            engine.check("not a command")  # type: ignore[arg-type]
        assert decimal.getcontext() is mine
        floated = engine.check(PlaceOrder("a", "o", "BTCUSDT", Side.LONG, 0.3, D(60000)))  # type: ignore[arg-type]
        assert floated.denial is not None  # a float is not a Decimal quantity, whatever the caller traps
        assert floated.denial.code is DenyCode.INVALID_QUANTITY
    answers: list[object] = []
    threads = [threading.Thread(target=lambda: answers.append(engine.check(order))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [expected] * 4
