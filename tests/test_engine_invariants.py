"""Hypothesis state machine over random engine commands, with the design invariants after
every step:

* conservation (rule 3): for every asset, money held == deposits − withdrawals, exactly;
* the insurance fund never goes below zero;
* bad input changes nothing (rule 4): a refused command leaves ``state_hash()`` as it was,
  and ``check(cmd)`` agrees with ``apply(cmd)`` and never moves the hash;
* a ``MarginLevelChanged`` event always changes the level (``previous != level``) and the
  account's stored level is the last one announced;
* determinism (rule 2): replaying the recorded commands into a fresh engine gives the same
  events (compared by ``repr``, so even Decimal exponents must match) and the same hash.

Symbols: BTCUSDT (tick 0.1, lot 0.001), ETHUSDT (tick 0.01, lot 0.001) and the dated
future BTCUSDT_261225, which expires 2 hours after the machine starts — time advances of
up to 8 hours make it settle, and the expiry is also a funding boundary.
"""

from __future__ import annotations

import contextlib
import warnings
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from support import stateful_examples

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
    PremiumSample,
    PriceUpdate,
    RemoveIsolatedMargin,
    SetLeverage,
    SetMarginMode,
    Withdraw,
)
from solvent.engine.events import MarginLevelChanged
from solvent.model import MarginMode, PositionSide, Side

# hypothesis imports libcst to explain a failure; its DeprecationWarning would turn into an
# INTERNALERROR under filterwarnings=error and hide the falsifying example.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import libcst  # noqa: F401

D = Decimal
USDM = load_venue("binance-usdm")
CONFIG = EngineConfig(USDM)
EXPIRY_MS = 1798185600000
START_MS = EXPIRY_MS - 2 * 3600 * 1000
ACCOUNTS = ["a", "b", "c", "d"]
TICKS = {"BTCUSDT": D("0.1"), "ETHUSDT": D("0.01"), "BTCUSDT_261225": D("0.1")}
START_PRICES = {"BTCUSDT": D(60000), "ETHUSDT": D(3000), "BTCUSDT_261225": D(60500)}
SYMBOLS = sorted(TICKS)
SLOTS = [PositionSide.BOTH, PositionSide.BOTH, PositionSide.BOTH, PositionSide.LONG, PositionSide.SHORT]
"""Mostly one-way; hedge-mode orders and fills too (an account cannot mix the two)."""
LOT = D("0.001")
AMOUNTS = [D(1), D(250), D("1000.5"), D(5000), D(20000), D(0), D(-3), D("NaN"), D("Infinity")]
STEPS_MS = [1_000, 30_000, 60_000, 61_000, 600_000, 3_600_000, 8 * 3600 * 1000]
LEVERAGES = [D(1), D(5), D(20), D(50), D(125), D(150), D(200), D(0)]


def on_tick(price: Decimal, tick: Decimal) -> Decimal:
    return max(tick, (price / tick).to_integral_value(ROUND_HALF_EVEN) * tick)


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(CONFIG)
        self.log: list[Command] = []
        self.events: list[str] = []
        self.next_id = 0
        self.run(AdvanceTime(START_MS))
        for acc in ACCOUNTS:
            self.run(Deposit(acc, "USDT", D(5000)))
        for symbol in SYMBOLS:
            self.run(PriceUpdate(symbol, "binance", START_PRICES[symbol]))

    # ------------------------------------------------------------------ plumbing

    def fresh_id(self, prefix: str) -> str:
        self.next_id += 1
        return f"{prefix}{self.next_id}"

    def run(self, cmd: Command) -> bool:
        engine = self.engine
        before = engine.state_hash()
        checked = engine.check(cmd)
        assert engine.state_hash() == before, f"check changed the state: {cmd}"
        result = engine.apply(cmd)
        assert checked.accepted == result.accepted, f"check/apply disagree on {cmd}"
        if not result.accepted:
            assert engine.state_hash() == before, f"refused {cmd} changed the state"
            assert checked.denial == result.denial
        last_level: dict[str, str] = {}
        for event in result.events:
            if isinstance(event, MarginLevelChanged):
                assert event.previous != event.level, event
                last_level[event.account_id] = event.level
        for account_id, level in last_level.items():
            assert engine.state.accounts[account_id].level == level
        self.log.append(cmd)
        self.events.append(repr(result.events))
        return result.accepted

    def mark(self, symbol: str) -> Decimal:
        market = self.engine.state.markets.get(symbol)
        if market is None or market.mark is None:
            return START_PRICES[symbol]
        return market.mark

    def near_mark(self, symbol: str, offset_bps: int) -> Decimal:
        return on_tick(self.mark(symbol) * (1 + D(offset_bps) / 10000), TICKS[symbol])

    # ------------------------------------------------------------------ rules

    @rule(acc=st.sampled_from([*ACCOUNTS, "e"]), amount=st.sampled_from(AMOUNTS))
    def deposit(self, acc: str, amount: Decimal) -> None:
        self.run(Deposit(acc, "USDT", amount))

    @rule(acc=st.sampled_from(ACCOUNTS), amount=st.sampled_from(AMOUNTS))
    def withdraw(self, acc: str, amount: Decimal) -> None:
        self.run(Withdraw(acc, "USDT", amount))

    @rule(acc=st.sampled_from(ACCOUNTS), symbol=st.sampled_from(SYMBOLS), side=st.sampled_from(list(Side)),
          lots=st.integers(1, 3000), offset=st.integers(-200, 200),
          reduce_only=st.sampled_from([False, False, False, True]), slot=st.sampled_from(SLOTS))
    def place(self, acc: str, symbol: str, side: Side, lots: int, offset: int, reduce_only: bool,
              slot: PositionSide = PositionSide.BOTH) -> None:
        self.run(PlaceOrder(acc, self.fresh_id("o"), symbol, side, lots * LOT, self.near_mark(symbol, offset),
                            reduce_only=reduce_only, position_side=slot))

    @rule(acc=st.sampled_from(ACCOUNTS), pick=st.integers(0, 5))
    def cancel(self, acc: str, pick: int) -> None:
        account = self.engine.state.accounts.get(acc)
        orders = sorted(account.orders) if account else []
        order_id = orders[pick] if pick < len(orders) else "missing"
        self.run(CancelOrder(acc, order_id))

    @rule(buyer=st.sampled_from(ACCOUNTS), seller=st.sampled_from(ACCOUNTS), symbol=st.sampled_from(SYMBOLS),
          lots=st.integers(1, 5000), offset=st.integers(-100, 100), fee_bps=st.sampled_from([0, 2, 5]),
          use_orders=st.booleans(), slots=st.tuples(st.sampled_from(SLOTS), st.sampled_from(SLOTS)))
    def fill(self, buyer: str, seller: str, symbol: str, lots: int, offset: int, fee_bps: int,
             use_orders: bool,
             slots: tuple[PositionSide, PositionSide] = (PositionSide.BOTH, PositionSide.BOTH)) -> None:
        price = self.near_mark(symbol, offset)
        qty = lots * LOT
        fee = (qty * price * fee_bps / 10000).quantize(D("0.00000001"))
        buy_order = sell_order = None
        if use_orders:
            buy_order = self._order_for(buyer, symbol, Side.LONG)
            sell_order = self._order_for(seller, symbol, Side.SHORT)
            qty = min([qty] + [self.engine.state.accounts[a].orders[o].qty
                               for a, o in ((buyer, buy_order), (seller, sell_order)) if o is not None])
        self.run(Fill(self.fresh_id("t"), symbol, price, qty, buyer, seller, fee, fee, buy_order, sell_order,
                      buyer_position_side=slots[0], seller_position_side=slots[1]))

    def _order_for(self, acc: str, symbol: str, side: Side) -> str | None:
        account = self.engine.state.accounts.get(acc)
        if account is None:
            return None
        ids = [o.order_id for o in account.orders.values() if o.symbol == symbol and o.side is side]
        return sorted(ids)[0] if ids else None

    @rule(symbol=st.sampled_from(SYMBOLS), bps=st.integers(-80, 80), source=st.sampled_from(["binance", "okx"]))
    def small_move(self, symbol: str, bps: int, source: str) -> None:
        self.run(PriceUpdate(symbol, source, self.near_mark(symbol, bps)))

    @rule(symbol=st.sampled_from(SYMBOLS), pct=st.sampled_from([-30, -15, -12, 12, 15, 30]),
          repeats=st.integers(1, 3))
    def jump(self, symbol: str, pct: int, repeats: int) -> None:
        price = on_tick(self.mark(symbol) * (1 + D(pct) / 100), TICKS[symbol])
        for _ in range(repeats):  # repeated prints confirm the jump
            self.run(PriceUpdate(symbol, "binance", price))

    @rule(symbol=st.sampled_from(SYMBOLS), bid_bps=st.integers(-20, 20), spread_bps=st.integers(0, 10))
    def premium(self, symbol: str, bid_bps: int, spread_bps: int) -> None:
        bid = self.near_mark(symbol, bid_bps)
        self.run(PremiumSample(symbol, bid, self.near_mark(symbol, bid_bps + spread_bps)))

    @rule(step=st.sampled_from(STEPS_MS), refresh=st.sampled_from([True, True, False]))
    def advance(self, step: int, refresh: bool) -> None:
        self.run(AdvanceTime(self.engine.state.now_ms + step))
        if refresh:
            for symbol in SYMBOLS:
                self.run(PriceUpdate(symbol, "binance", self.mark(symbol)))

    @rule(acc=st.sampled_from(ACCOUNTS), symbol=st.sampled_from(SYMBOLS), leverage=st.sampled_from(LEVERAGES))
    def leverage(self, acc: str, symbol: str, leverage: Decimal) -> None:
        self.run(SetLeverage(acc, symbol, leverage))

    @rule(acc=st.sampled_from(ACCOUNTS), symbol=st.sampled_from(SYMBOLS), mode=st.sampled_from(list(MarginMode)))
    def margin_mode(self, acc: str, symbol: str, mode: MarginMode) -> None:
        self.run(SetMarginMode(acc, symbol, mode))

    @rule(acc=st.sampled_from(ACCOUNTS), symbol=st.sampled_from(SYMBOLS), amount=st.sampled_from(AMOUNTS),
          add=st.booleans())
    def isolated_margin(self, acc: str, symbol: str, amount: Decimal, add: bool) -> None:
        self.run((AddIsolatedMargin if add else RemoveIsolatedMargin)(acc, symbol, amount))

    @precondition(lambda self: self.engine.state.now_ms < EXPIRY_MS and len(self.log) > 45)
    @rule()
    def run_to_expiry(self) -> None:
        """Feed the future's index through the settlement window, then pass the expiry."""
        for target in (EXPIRY_MS - 1_200_000, EXPIRY_MS - 300_000):
            if self.engine.state.now_ms < target:
                self.run(AdvanceTime(target))
                self.run(PriceUpdate("BTCUSDT_261225", "binance", self.mark("BTCUSDT_261225")))
        self.run(AdvanceTime(max(EXPIRY_MS, self.engine.state.now_ms)))

    # ------------------------------------------------------------------ invariants

    @invariant()
    def money_is_conserved_exactly(self) -> None:
        for asset, (held, net) in self.engine.conservation().items():
            assert held == net, f"{asset}: held {held} != deposits - withdrawals {net}"

    @invariant()
    def cached_margin_is_the_margin_from_scratch(self) -> None:
        # the margin cache drops only the parts a command touched (Outcome.narrow)
        for aid in sorted(self.engine.state.accounts):
            assert self.engine.margin(aid) == self.engine.margin_from_scratch(aid), aid

    @invariant()
    def insurance_fund_is_not_negative(self) -> None:
        assert self.engine.state.insurance_fund >= 0

    @invariant()
    def settled_future_has_no_positions_or_orders(self) -> None:
        market = self.engine.state.markets.get("BTCUSDT_261225")
        if market is None or not market.settled:
            return
        for acc in self.engine.state.accounts.values():
            assert all(sym != "BTCUSDT_261225" for sym, _ in acc.positions)
            assert all(o.symbol != "BTCUSDT_261225" for o in acc.orders.values())

    def teardown(self) -> None:
        replay = Engine(CONFIG)
        events = [repr(replay.apply(cmd).events) for cmd in self.log]
        assert events == self.events, "replay gave different events"
        assert replay.state_hash() == self.engine.state_hash(), "replay gave a different state hash"


EngineMachine.TestCase.settings = settings(
    max_examples=stateful_examples(100), stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestEngineInvariants = EngineMachine.TestCase


def test_settlement_and_funding_happen_in_a_scripted_walk() -> None:
    """The machine's rules can reach settlement and funding: one fixed walk through them."""
    machine: Any = EngineMachine()
    machine.fill("a", "b", "BTCUSDT", 500, 0, 5, False)
    machine.fill("c", "d", "BTCUSDT_261225", 700, 10, 0, False)
    machine.premium("BTCUSDT", 5, 2)
    machine.run_to_expiry()
    machine.advance(8 * 3600 * 1000, True)
    machine.money_is_conserved_exactly()
    machine.insurance_fund_is_not_negative()
    machine.settled_future_has_no_positions_or_orders()
    machine.teardown()
    assert machine.engine.state.markets["BTCUSDT_261225"].settled
    assert any("FundingSettled" in e for e in machine.events)
