"""The engine state machine (``test_engine_invariants``) on an inverse instrument: Binance
COIN-M ``BTCUSD_PERP`` (100 USD contracts) in an engine margined in BTC.

Every rule of the linear machine, with coin amounts and contract quantities: deposits and
withdrawals (bad amounts included), orders in one-way and hedge mode, fills with and without
orders and fees, leverage and margin-mode changes, isolated margin added and removed, price
moves and jumps, premium samples and funding. After every command: check and apply agree, a
refused command changes nothing, coin is conserved exactly, the cached margin equals the
margin from scratch, the fund is not negative; at the end the replay gives the same events
and state hash.
"""

from __future__ import annotations

from decimal import Decimal

import test_engine_invariants as base
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import rule
from support import stateful_examples

from solvent import load_venue
from solvent.engine import (
    AddIsolatedMargin,
    AdvanceTime,
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
from solvent.model import MarginMode, PositionSide, Side

D = Decimal
SYMBOL = "BTCUSD_PERP"
SYMBOLS = [SYMBOL]
TICK = D("0.1")
START = D(60000)
CONFIG = EngineConfig(load_venue("binance-coinm"), settle_asset="BTC")
AMOUNTS = [D("0.001"), D("0.01"), D("0.05000001"), D("0.1"), D("0.5"), D(0), D(-3), D("NaN"), D("Infinity")]
LEVERAGES = [D(1), D(5), D(20), D(50), D(125), D(150), D(0)]


class InverseMachine(base.EngineMachine):
    def __init__(self) -> None:
        super(base.EngineMachine, self).__init__()
        self.engine = Engine(CONFIG)
        self.log = []
        self.events = []
        self.next_id = 0
        self.run(AdvanceTime(base.START_MS))
        for acc in base.ACCOUNTS:
            self.run(Deposit(acc, "BTC", D("0.1")))
        self.run(PriceUpdate(SYMBOL, "binance", START))

    def mark(self, symbol: str) -> Decimal:
        market = self.engine.state.markets.get(symbol)
        return START if market is None or market.mark is None else market.mark

    def near_mark(self, symbol: str, offset_bps: int) -> Decimal:
        return base.on_tick(self.mark(symbol) * (1 + D(offset_bps) / 10000), TICK)

    @rule(acc=st.sampled_from([*base.ACCOUNTS, "e"]), amount=st.sampled_from(AMOUNTS))
    def deposit(self, acc: str, amount: Decimal) -> None:
        self.run(Deposit(acc, "BTC", amount))

    @rule(acc=st.sampled_from(base.ACCOUNTS), amount=st.sampled_from(AMOUNTS))
    def withdraw(self, acc: str, amount: Decimal) -> None:
        self.run(Withdraw(acc, "BTC", amount))

    @rule(acc=st.sampled_from(base.ACCOUNTS), side=st.sampled_from(list(Side)), contracts=st.integers(1, 3000),
          offset=st.integers(-200, 200), reduce_only=st.sampled_from([False, False, False, True]),
          slot=st.sampled_from(base.SLOTS))
    def place(self, acc: str, side: Side, contracts: int, offset: int, reduce_only: bool,  # type: ignore[override]
              slot: PositionSide = PositionSide.BOTH) -> None:
        self.run(PlaceOrder(acc, self.fresh_id("o"), SYMBOL, side, D(contracts), self.near_mark(SYMBOL, offset),
                            reduce_only=reduce_only, position_side=slot))

    @rule(buyer=st.sampled_from(base.ACCOUNTS), seller=st.sampled_from(base.ACCOUNTS), contracts=st.integers(1, 5000),
          offset=st.integers(-100, 100), fee_bps=st.sampled_from([0, 2, 5]), use_orders=st.booleans(),
          slots=st.tuples(st.sampled_from(base.SLOTS), st.sampled_from(base.SLOTS)))
    def fill(self, buyer: str, seller: str, contracts: int, offset: int, fee_bps: int,  # type: ignore[override]
             use_orders: bool,
             slots: tuple[PositionSide, PositionSide] = (PositionSide.BOTH, PositionSide.BOTH)) -> None:
        price = self.near_mark(SYMBOL, offset)
        qty = D(contracts)
        fee = (qty * 100 / price * fee_bps / 10000).quantize(D("0.00000001"))  # on the coin notional
        buy_order = sell_order = None
        if use_orders:
            buy_order = self._order_for(buyer, SYMBOL, Side.LONG)
            sell_order = self._order_for(seller, SYMBOL, Side.SHORT)
            qty = min([qty] + [self.engine.state.accounts[a].orders[o].qty
                               for a, o in ((buyer, buy_order), (seller, sell_order)) if o is not None])
        self.run(Fill(self.fresh_id("t"), SYMBOL, price, qty, buyer, seller, fee, fee, buy_order, sell_order,
                      buyer_position_side=slots[0], seller_position_side=slots[1]))

    @rule(bps=st.integers(-80, 80), source=st.sampled_from(["binance", "okx"]))
    def small_move(self, bps: int, source: str) -> None:  # type: ignore[override]
        self.run(PriceUpdate(SYMBOL, source, self.near_mark(SYMBOL, bps)))

    @rule(pct=st.sampled_from([-30, -15, -12, 12, 15, 30]), repeats=st.integers(1, 3))
    def jump(self, pct: int, repeats: int) -> None:  # type: ignore[override]
        price = base.on_tick(self.mark(SYMBOL) * (1 + D(pct) / 100), TICK)
        for _ in range(repeats):
            self.run(PriceUpdate(SYMBOL, "binance", price))

    @rule(bid_bps=st.integers(-20, 20), spread_bps=st.integers(0, 10))
    def premium(self, bid_bps: int, spread_bps: int) -> None:  # type: ignore[override]
        bid = self.near_mark(SYMBOL, bid_bps)
        self.run(PremiumSample(SYMBOL, bid, self.near_mark(SYMBOL, bid_bps + spread_bps)))

    @rule(step=st.sampled_from(base.STEPS_MS), refresh=st.sampled_from([True, True, False]))
    def advance(self, step: int, refresh: bool) -> None:
        self.run(AdvanceTime(self.engine.state.now_ms + step))
        if refresh:
            self.run(PriceUpdate(SYMBOL, "binance", self.mark(SYMBOL)))

    @rule(acc=st.sampled_from(base.ACCOUNTS), leverage=st.sampled_from(LEVERAGES))
    def leverage(self, acc: str, leverage: Decimal) -> None:  # type: ignore[override]
        self.run(SetLeverage(acc, SYMBOL, leverage))

    @rule(acc=st.sampled_from(base.ACCOUNTS), mode=st.sampled_from(list(MarginMode)))
    def margin_mode(self, acc: str, mode: MarginMode) -> None:  # type: ignore[override]
        self.run(SetMarginMode(acc, SYMBOL, mode))

    @rule(acc=st.sampled_from(base.ACCOUNTS), amount=st.sampled_from(AMOUNTS), add=st.booleans())
    def isolated_margin(self, acc: str, amount: Decimal, add: bool) -> None:  # type: ignore[override]
        self.run((AddIsolatedMargin if add else RemoveIsolatedMargin)(acc, SYMBOL, amount))

    def run_to_expiry(self) -> None:
        """No dated future here (not a rule in this machine)."""

    def teardown(self) -> None:
        replay = Engine(CONFIG)
        events = [repr(replay.apply(cmd).events) for cmd in self.log]
        assert events == self.events, "replay gave different events"
        assert replay.state_hash() == self.engine.state_hash(), "replay gave a different state hash"


InverseMachine.TestCase.settings = settings(base.EngineMachine.TestCase.settings,
                                            max_examples=stateful_examples(100) // 2)
TestInverseEngineInvariants = InverseMachine.TestCase
