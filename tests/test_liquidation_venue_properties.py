"""The liquidation state machine (``test_liquidation_invariants``) with hidden-bad-debt checks
(``test_collateral_properties.AdlMachine``), run on every bundled venue with its own rule.

After every command: conservation is exact, the fund never goes negative, no negative equity
is hidden behind a better level, no healthy account is liquidated, liquidation only removes
risk; at the end the replay gives the same state hash. The "ADL only when the fund could not
pay at the book price" check is the generic one and is skipped for dYdX v4, which also
deleverages a negative-collateral account the book cannot take at the fillable price.
Venues with inverse instruments run the machine a second time on them, in an engine margined
in their settlement coin, with deposits and fills scaled to the same USD sizes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import test_liquidation_invariants as base
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule
from support import stateful_examples
from test_collateral_properties import check_no_hidden_bad_debt

from solvent import load_venue
from solvent.engine import (
    AdvanceTime,
    BookDepth,
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
from solvent.model import InstrumentKind, MarginMode, Side
from solvent.risk.liquidation_rules import LiquidationRuleKind
from solvent.risk.venues import bundled_venues

D = Decimal
START = {"BTC": D(60000), "ETH": D(3000), "SOL": D(150), "XBT": D(60000)}
TICK = {"BTC": D(1), "ETH": D("0.1"), "SOL": D("0.01"), "XBT": D(1)}


def _symbols(venue: str, inverse: bool = False) -> list[str]:
    profile = load_venue(venue)
    if inverse:  # those settled in the first inverse perpetual's coin (one engine per coin)
        coin = [s for s, i in sorted(profile.instruments.items()) if i.kind is InstrumentKind.INVERSE_PERPETUAL]
        return [s for s in coin if profile.instruments[s].settle == profile.instruments[coin[0]].settle][:2]
    linear = [s for s, i in sorted(profile.instruments.items()) if i.kind is InstrumentKind.LINEAR_PERPETUAL]
    named = [s for s in ("BTCUSDT", "ETHUSDT") if s in linear]
    preferred = [s for s in linear if profile.instruments[s].base in START]
    return (named or preferred or linear)[:2]


def _base(venue: str, symbol: str) -> str:
    inst = load_venue(venue).instruments[symbol]
    for asset in START:
        if inst.base == asset or symbol.startswith(asset):
            return asset
    return "ETH"


def machine_for(venue: str, inverse: bool = False) -> type[base.LiquidationMachine]:
    profile = load_venue(venue)
    symbols = _symbols(venue, inverse)
    settle = profile.instruments[symbols[0]].settle or "USDT"
    start = {s: START[_base(venue, s)] for s in symbols}
    # amounts in the settlement asset: USD for linear, coin (USD / start price) for inverse
    unit = (1 / start[symbols[0]]) if inverse else D(1)

    def money(usd: Decimal) -> Decimal:
        return (usd * unit).quantize(D("0.00000001"))

    def contracts(symbol: str, n: int) -> Decimal:
        """``n`` × 60 USD of the instrument (a lot at least)."""
        inst = profile.instruments[symbol]
        lot = lots[symbol]
        if not inverse:
            return n * lot * max(1, int(D(60000) / start[symbol] / 20))
        return max(lot, (n * 60 / inst.contract_size) // lot * lot)

    ticks = {s: profile.instruments[s].tick_size or TICK[_base(venue, s)] for s in symbols}
    lots = {s: profile.instruments[s].lot_size or D("0.001") for s in symbols}
    liquidity = [
        SquareRootImpact(),
        SquareRootImpact({s: start[s] * 40 for s in symbols}, k=D("0.3"), max_depth_fraction=D("0.5")),
        BookDepth({s: [(start[s] * D("0.98"), D(1)), (start[s] * D("0.9"), D(5)), (start[s] * D("0.75"), D(100))]
                   for s in symbols},
                  {s: [(start[s] * D("1.02"), D(1)), (start[s] * D("1.1"), D(5)), (start[s] * D("1.3"), D(100))]
                   for s in symbols}),
    ]

    class VenueMachine(base.LiquidationMachine):
        @initialize(backstop=st.booleans(), fund=st.sampled_from([D(0), D(500), D(50_000)]),
                    liquidity=st.sampled_from(liquidity), fee=st.sampled_from([None, D("0.0001")]))
        def start(self, backstop: bool, fund: Decimal, liquidity: Any, fee: Decimal | None) -> None:  # type: ignore[override]
            policy = LiquidationPolicy(liquidity=liquidity, backstop_account="bs" if backstop else None, fee_rate=fee)
            self.config = EngineConfig(profile, settle_asset=settle, liquidation=policy)
            self.engine = Engine(self.config)
            self.run(AdvanceTime(1_000))
            self.run(Deposit("book", settle, base.BIG))
            if backstop:
                self.run(Deposit("bs", settle, base.BIG))
            if fund:
                self.run(FundInsurance(money(fund)))
            for acc in base.ACCOUNTS:
                self.run(Deposit(acc, settle, money(D(1500))))
            for symbol in symbols:
                self.run(PriceUpdate(symbol, "s", start[symbol]))

        def mark(self, symbol: str) -> Decimal:
            mark = self.engine.state.markets[symbol].mark
            return mark if mark is not None else start[symbol]

        def check_adl(self, before: Engine, result: Any) -> None:
            if profile.liquidation.kind is not LiquidationRuleKind.DYDX_V4:
                super().check_adl(before, result)

        def _deficit(self, symbol: str, sign: Decimal, qty: Decimal, bankruptcy: Decimal) -> Decimal:
            policy = self.config.liquidation
            assert policy is not None
            side = Side.SHORT if sign > 0 else Side.LONG
            mark, cs = self.mark(symbol), profile.instruments[symbol].contract_size
            if not inverse:
                price = policy.liquidity.execution_price(symbol, side, qty, mark, ticks[symbol])
                assert price is not None
                return sign * qty * (bankruptcy - price) + D("1e-20")
            # inverse: the model sees the base equivalent at the mark; the loss of a fill at the
            # book price against one at the bankruptcy price is size × (1/price − 1/bankruptcy)
            price = policy.liquidity.execution_price(symbol, side, qty * cs / mark, mark, ticks[symbol])
            assert price is not None
            return sign * qty * cs * (1 / price - 1 / bankruptcy) + D("1e-20")

        @rule(acc=st.sampled_from(base.ACCOUNTS), amount=st.sampled_from([D(100), D(1000), D(5000)]))
        def deposit(self, acc: str, amount: Decimal) -> None:
            self.run(Deposit(acc, settle, money(amount)))

        @rule(buyer=st.sampled_from(base.ACCOUNTS), seller=st.sampled_from(base.ACCOUNTS),
              symbol=st.sampled_from(symbols), n=st.integers(1, 6000), bps=st.integers(-30, 30))
        def fill(self, buyer: str, seller: str, symbol: str, n: int, bps: int) -> None:
            self.next_id += 1
            price = base.on_tick(self.mark(symbol) * (1 + D(bps) / 10000), ticks[symbol])
            self.run(Fill(f"t{self.next_id}", symbol, price, contracts(symbol, n), buyer, seller))

        @rule(acc=st.sampled_from(base.ACCOUNTS), symbol=st.sampled_from(symbols),
              leverage=st.sampled_from([D(10), D(50)]))
        def isolate(self, acc: str, symbol: str, leverage: Decimal) -> None:
            self.run(SetLeverage(acc, symbol, leverage))
            self.run(SetMarginMode(acc, symbol, MarginMode.ISOLATED))

        @rule(symbol=st.sampled_from(symbols), bps=st.integers(-900, 900))
        def move(self, symbol: str, bps: int) -> None:
            self.run(PriceUpdate(symbol, "s", base.on_tick(self.mark(symbol) * (1 + D(bps) / 10000), ticks[symbol])))

        @rule(symbol=st.sampled_from(symbols), pct=st.sampled_from([-25, -15, 15]), repeats=st.integers(1, 3))
        def crash(self, symbol: str, pct: int, repeats: int) -> None:
            price = base.on_tick(self.mark(symbol) * (1 + D(pct) / 100), ticks[symbol])
            for _ in range(repeats):
                self.run(PriceUpdate(symbol, "s", price))

        @rule(step=st.sampled_from([1_000, 30_000, 700_000]), refresh=st.booleans())
        def advance(self, step: int, refresh: bool) -> None:
            self.run(AdvanceTime(self.engine.state.now_ms + step))
            if refresh:
                for symbol in symbols:
                    self.run(PriceUpdate(symbol, "s", self.mark(symbol)))

        @invariant()
        @precondition(lambda self: hasattr(self, "engine"))
        def no_hidden_bad_debt(self) -> None:
            check_no_hidden_bad_debt(self.engine)

    VenueMachine.__name__ = f"VenueMachine_{venue}{'_inverse' if inverse else ''}"
    # six venues: a third of the generic machine's examples each (CI: 333 per venue, 2,000 in all)
    # (inverse runs: a sixth, 166 per venue in CI)
    VenueMachine.TestCase.settings = settings(base.LiquidationMachine.TestCase.settings,
                                              max_examples=max(stateful_examples(60) // (6 if inverse else 3), 20))
    return VenueMachine


@pytest.mark.parametrize("venue", bundled_venues())
def test_liquidation_invariants_hold_under_each_venue_rule(venue: str) -> None:
    if not _symbols(venue):
        pytest.skip(f"{venue}: inverse instruments only (the inverse test below runs them)")
    machine_for(venue).TestCase().runTest()


@pytest.mark.parametrize("venue", [v for v in bundled_venues() if _symbols(v, inverse=True)])
def test_liquidation_invariants_hold_on_inverse_instruments(venue: str) -> None:
    machine_for(venue, inverse=True).TestCase().runTest()
