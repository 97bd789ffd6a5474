"""Hypothesis state machine with liquidation enabled, and the liquidation invariants after
every step:

* conservation (design rule 3) is exact for every asset, with the socialised-loss term, and
  the insurance fund never goes below zero;
* no healthy account is liquidated: every ``LiquidationStep`` / ``AutoDeleveraged`` names an
  account whose scope (cross, or the isolated position on that symbol) was liquidatable —
  equity ≤ MM under the venue's trigger, or equity ≤ 0 — *when the liquidation started*.
  That moment is reproduced by a shadow engine: a copy of the state before the command,
  with liquidation switched off, given the same command;
* liquidation only takes risk away: for every liquidated account and every ADL
  counterparty, each position only shrinks (same sign, smaller or gone) and the total MM
  (cross + isolated) is not larger than in the shadow;
* auto-deleveraging happens only when the insurance fund could not pay: for an ADL of ``q``
  at bankruptcy price ``p`` the book price ``P`` of ``q`` leaves a deficit ``±q (p − P)``
  larger than the fund at that moment (the last ``InsuranceFundChanged`` balance);
* replaying the recorded commands into a fresh engine gives the same state hash.

The book account has a huge deposit; a backstop, an insurance-fund seed, the liquidity
model, chunking and the ADL ranking are drawn once per run.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import warnings
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from support import stateful_examples

from solvent import load_venue
from solvent.engine import (
    AdlRanking,
    AdvanceTime,
    BookDepth,
    Command,
    CommandResult,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    FundInsurance,
    LiquidationPolicy,
    PriceUpdate,
    SetLeverage,
    SetMarginMode,
    SquareRootImpact,
)
from solvent.engine.events import (
    AutoDeleveraged,
    BalanceChanged,
    FundDrawdownAdl,
    InsuranceFundChanged,
    LiquidationStep,
    MarginLevelChanged,
)
from solvent.engine.margin import AccountMargin
from solvent.model import MarginMode, Side

with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import libcst  # noqa: F401

D = Decimal
USDM = load_venue("binance-usdm")
BTC, ETH = "BTCUSDT", "ETHUSDT"
TICKS = {BTC: D("0.1"), ETH: D("0.01")}
START = {BTC: D(60000), ETH: D(3000)}
SYMBOLS = sorted(TICKS)
ACCOUNTS = ["a", "b", "c", "d"]
LOT = D("0.001")
BIG = D(10) ** 10
LIQUIDITY = [
    SquareRootImpact(),
    SquareRootImpact({BTC: D(2_000_000), ETH: D(500_000)}, k=D("0.3"), max_depth_fraction=D("0.5")),
    BookDepth({BTC: [(D(59000), D(1)), (D(55000), D(5)), (D(45000), D(100))],
               ETH: [(D(2950), D(10)), (D(2700), D(500))]},
              {BTC: [(D(61000), D(1)), (D(66000), D(5)), (D(80000), D(100))],
               ETH: [(D(3050), D(10)), (D(3300), D(500))]}),
]


def on_tick(price: Decimal, tick: Decimal) -> Decimal:
    return max(tick, (price / tick).to_integral_value(ROUND_HALF_EVEN) * tick)


def scope_of(engine: Engine, m: AccountMargin, account_id: str, symbol: str) -> tuple[Decimal, Decimal]:
    """(equity, MM) of the scope a liquidation of ``symbol`` belongs to."""
    acc = engine.state.accounts[account_id]
    for (sym, side), pos in acc.positions.items():
        if sym == symbol and pos.qty and pos.margin_mode is MarginMode.ISOLATED:
            iso = next(i for i in m.isolated if (i.symbol, i.position_side) == (sym, side))
            return iso.equity, iso.maintenance_margin
    return m.equity, m.maintenance_margin


def total_mm(m: AccountMargin) -> Decimal:
    return m.maintenance_margin + sum((i.maintenance_margin for i in m.isolated), D(0))


class LiquidationMachine(RuleBasedStateMachine):
    engine: Engine

    def __init__(self) -> None:
        super().__init__()
        self.log: list[Command] = []
        self.next_id = 0

    @initialize(backstop=st.booleans(), fund=st.sampled_from([D(0), D(500), D(50_000)]),
                liquidity=st.sampled_from(LIQUIDITY), chunked=st.booleans(),
                ranking=st.sampled_from(list(AdlRanking)), fee=st.sampled_from([None, D("0.0001")]))
    def start(self, backstop: bool, fund: Decimal, liquidity: Any, chunked: bool, ranking: AdlRanking,
              fee: Decimal | None) -> None:
        policy = LiquidationPolicy(liquidity=liquidity, backstop_account="bs" if backstop else None,
                                   chunk_fraction=D("0.2") if chunked else None,
                                   cooldown_ms=30_000 if chunked else 0, adl_ranking=ranking, fee_rate=fee)
        self.config = EngineConfig(USDM, liquidation=policy)
        self.engine = Engine(self.config)
        self.run(AdvanceTime(1_000))
        self.run(Deposit("book", "USDT", BIG))
        if backstop:
            self.run(Deposit("bs", "USDT", BIG))
        if fund:
            self.run(FundInsurance(fund))
        for acc in ACCOUNTS:
            self.run(Deposit(acc, "USDT", D(1500)))
        for symbol in SYMBOLS:
            self.run(PriceUpdate(symbol, "s", START[symbol]))

    # ------------------------------------------------------------------ plumbing

    def shadow(self, cmd: Command) -> Engine:
        """The state right after ``cmd``'s handler, before any liquidation."""
        quiet = Engine(dataclasses.replace(self.config, liquidation=None), copy.deepcopy(self.engine.state))
        quiet.apply(cmd)
        return quiet

    def run(self, cmd: Command) -> CommandResult:
        before = self.shadow(cmd)
        result = self.engine.apply(cmd)
        self.log.append(cmd)
        if result.accepted:
            self.check_liquidations(before, result)
        return result

    def check_liquidations(self, before: Engine, result: CommandResult) -> None:
        engine, profile = self.engine, self.config.profile
        policy = self.config.liquidation
        assert policy is not None
        liquidated = {e.account_id for e in result.events if isinstance(e, LiquidationStep | AutoDeleveraged)}
        reduced = liquidated | {e.counterparty for e in result.events if isinstance(e, AutoDeleveraged)}
        announced: dict[str, tuple[Decimal, Decimal]] = {}  # last level change seen in this result
        socialised: dict[str, Decimal] = {}  # cross-wallet debits for another account's loss, so far
        for event in result.events:
            if isinstance(event, MarginLevelChanged):
                announced[event.account_id] = (event.equity, event.maintenance_margin)
            if isinstance(event, BalanceChanged) and event.reason.startswith("socialised loss ") and event.delta < 0:
                socialised[event.account_id] = socialised.get(event.account_id, D(0)) + event.delta
            if isinstance(event, LiquidationStep | AutoDeleveraged):
                margin = before.margin_from_scratch(event.account_id)
                equity, mm = scope_of(before, margin, event.account_id, event.symbol)
                if not any(sym == event.symbol and p.qty and p.margin_mode is MarginMode.ISOLATED
                           for (sym, _), p in before.state.accounts[event.account_id].positions.items()):
                    # the cross scope: a socialised loss earlier in this command (Drift) may have
                    # taken it below its MM without a level change to announce it
                    equity += socialised.get(event.account_id, D(0))
                liquidatable = mm > 0 and (equity <= 0 or profile.is_liquidatable(equity, mm))
                if not liquidatable and event.account_id in announced:  # became so later in this command
                    equity, mm = announced[event.account_id]
                    liquidatable = mm > 0 and (equity <= 0 or profile.is_liquidatable(equity, mm))
                assert liquidatable, (event, equity, mm)
        for aid in sorted(reduced):
            old, new = before.state.accounts[aid], engine.state.accounts[aid]
            for key, pos in new.positions.items():
                prev = old.positions.get(key)
                assert prev is not None and abs(pos.qty) <= abs(prev.qty) and pos.qty * prev.qty > 0, (aid, key)
            assert total_mm(engine.margin_from_scratch(aid)) <= total_mm(before.margin_from_scratch(aid)), aid
        self.check_adl(before, result)

    def check_adl(self, before: Engine, result: CommandResult) -> None:
        policy = self.config.liquidation
        assert policy is not None
        fund = before.state.insurance_fund
        events = list(result.events)
        # markets whose deficits the profile's fund rule sends to ADL before the fund is empty
        watch = before.state.fund_watch
        drawdown = {m.symbol for m in watch.markets if m.adl} if watch is not None else set()
        i = 0
        while i < len(events):
            event = events[i]
            if isinstance(event, InsuranceFundChanged):
                fund = event.balance
            if isinstance(event, FundDrawdownAdl):
                (drawdown.add if event.started else drawdown.discard)(event.symbol)
            if not isinstance(event, AutoDeleveraged):
                i += 1
                continue
            j, group = i, D(0)
            while j < len(events) and isinstance(events[j], AutoDeleveraged) and (
                    events[j].account_id, events[j].symbol) == (event.account_id, event.symbol):
                group += events[j].qty
                j += 1
            pos_sign = self._sign_before(before, event.account_id, event.symbol)
            nxt = events[j] if j < len(events) else None
            options = [group]
            if isinstance(nxt, LiquidationStep) and (nxt.account_id, nxt.symbol) == (event.account_id, event.symbol):
                options.append(group + nxt.qty)
            assert event.symbol in drawdown or any(
                self._deficit(event.symbol, pos_sign, q, event.price) > fund for q in options), (event, fund)
            i = j

    @staticmethod
    def _sign_before(before: Engine, account_id: str, symbol: str) -> Decimal:
        held = sum((p.qty for p in before.state.accounts[account_id].positions.values() if p.symbol == symbol), D(0))
        return D(1) if held > 0 else D(-1)

    def _deficit(self, symbol: str, sign: Decimal, qty: Decimal, bankruptcy: Decimal) -> Decimal:
        policy = self.config.liquidation
        assert policy is not None
        mark = self.engine.state.markets[symbol].mark
        assert mark is not None
        side = Side.SHORT if sign > 0 else Side.LONG
        price = policy.liquidity.execution_price(symbol, side, qty, mark, TICKS[symbol])
        assert price is not None
        return sign * qty * (bankruptcy - price) + D("1e-20")

    def mark(self, symbol: str) -> Decimal:
        mark = self.engine.state.markets[symbol].mark
        return mark if mark is not None else START[symbol]

    # ------------------------------------------------------------------ rules

    @rule(acc=st.sampled_from(ACCOUNTS), amount=st.sampled_from([D(100), D(1000), D(5000)]))
    def deposit(self, acc: str, amount: Decimal) -> None:
        self.run(Deposit(acc, "USDT", amount))

    @rule(buyer=st.sampled_from(ACCOUNTS), seller=st.sampled_from(ACCOUNTS), symbol=st.sampled_from(SYMBOLS),
          lots=st.integers(1, 6000), bps=st.integers(-30, 30))
    def fill(self, buyer: str, seller: str, symbol: str, lots: int, bps: int) -> None:
        self.next_id += 1
        price = on_tick(self.mark(symbol) * (1 + D(bps) / 10000), TICKS[symbol])
        qty = lots * LOT * (1 if symbol == BTC else 10)
        if qty <= 0:
            return
        self.run(Fill(f"t{self.next_id}", symbol, price, qty, buyer, seller))

    @rule(acc=st.sampled_from(ACCOUNTS), symbol=st.sampled_from(SYMBOLS), leverage=st.sampled_from([D(10), D(50)]))
    def isolate(self, acc: str, symbol: str, leverage: Decimal) -> None:
        self.run(SetLeverage(acc, symbol, leverage))
        self.run(SetMarginMode(acc, symbol, MarginMode.ISOLATED))

    @rule(symbol=st.sampled_from(SYMBOLS), bps=st.integers(-900, 900))
    def move(self, symbol: str, bps: int) -> None:
        self.run(PriceUpdate(symbol, "s", on_tick(self.mark(symbol) * (1 + D(bps) / 10000), TICKS[symbol])))

    @rule(symbol=st.sampled_from(SYMBOLS), pct=st.sampled_from([-25, -15, 15]), repeats=st.integers(1, 3))
    def crash(self, symbol: str, pct: int, repeats: int) -> None:
        price = on_tick(self.mark(symbol) * (1 + D(pct) / 100), TICKS[symbol])
        for _ in range(repeats):  # repeated prints confirm a held jump
            self.run(PriceUpdate(symbol, "s", price))

    @rule(step=st.sampled_from([1_000, 30_000, 61_000]), refresh=st.booleans())
    def advance(self, step: int, refresh: bool) -> None:
        self.run(AdvanceTime(self.engine.state.now_ms + step))
        if refresh:
            for symbol in SYMBOLS:
                self.run(PriceUpdate(symbol, "s", self.mark(symbol)))

    # ------------------------------------------------------------------ invariants

    @invariant()
    @precondition(lambda self: hasattr(self, "engine"))
    def conservation_is_exact(self) -> None:
        for asset, (held, net) in self.engine.conservation().items():
            assert held == net, (asset, held, net)
        assert self.engine.state.insurance_fund >= 0
        assert self.engine.state.socialised_loss >= 0

    def teardown(self) -> None:
        if not hasattr(self, "engine"):
            return
        replay = Engine(self.config)
        for cmd in self.log:
            replay.apply(cmd)
        assert replay.state_hash() == self.engine.state_hash()


LiquidationMachine.TestCase.settings = settings(
    max_examples=stateful_examples(60), stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLiquidationInvariants = LiquidationMachine.TestCase
