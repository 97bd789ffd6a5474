"""Property tests (hypothesis, stateful) of the collateral waterfall and of ADL's leftovers.

They reuse the liquidation state machine of ``test_liquidation_invariants.py`` — its
conservation, "no healthy account is liquidated", "liquidation only takes risk away", ADL
and replay checks all still run — and add, after every step:

* **hidden bad debt is always recorded**: ``Engine.hidden_bad_debt()`` is empty: every
  customer account with negative equity (cross, or an isolated position's) sits at the
  ``bankrupt`` level, awaiting the waterfall; otherwise its deficit was covered;
* **no account with debt above its collateral value stays healthy** (nor at any level but
  bankrupt), checked directly from the per-asset valuation in ``risk/collateral.py``;
* conservation holds for every asset, BTC and ETH collateral included.

``CollateralMachine`` adds BTC and ETH collateral (5 % and 10 % haircuts, BTC with a size
band) whose index moves with, or apart from, the perpetuals; ``AdlMachine`` is the plain
machine with the new invariants (issue 10: ADL must never leave negative equity uncovered).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import test_liquidation_invariants as base
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from solvent.engine import (
    AdlRanking,
    AdvanceTime,
    Deposit,
    Engine,
    EngineConfig,
    FundInsurance,
    LiquidationPolicy,
    PriceUpdate,
)
from solvent.model import Asset
from solvent.risk.collateral import value_wallet

D = Decimal
COLLATERAL = {
    "BTC": Asset("BTC", haircut=D("0.05"), haircut_tiers=((D("0.04"), D("0.2")),)),
    "ETH": Asset("ETH", haircut=D("0.1")),
}
COLLATERAL_START = {"BTC": D(60000), "ETH": D(3000)}
FOLLOWS = {"BTC": base.BTC, "ETH": base.ETH}


def check_no_hidden_bad_debt(engine: Engine) -> None:
    assert engine.hidden_bad_debt() == {}
    policy = engine.config.liquidation
    venue = {policy.book_account, policy.backstop_account} if policy is not None else set()
    prices = {a: m.mark for a, m in engine.state.markets.items() if m.mark is not None}
    for aid, acc in sorted(engine.state.accounts.items()):
        if aid in venue:
            continue
        wallet = value_wallet(acc.balances, prices, engine.config.settle_asset, engine.config.collateral,
                              engine.config.money_quantum, unpriced_counts_zero=True)
        if not any(p.qty for p in acc.positions.values()) and -wallet.debt > wallet.total - wallet.debt:
            # debt above the collateral value, nothing else in the account
            assert acc.level == "bankrupt", (aid, acc.balances, acc.level)
        m = engine.margin_from_scratch(aid)
        if m.equity < 0 or any(i.equity < 0 for i in m.isolated):
            assert acc.level == "bankrupt", (aid, m.equity, acc.level)


class AdlMachine(base.LiquidationMachine):
    @invariant()
    @precondition(lambda self: hasattr(self, "engine"))
    def no_hidden_bad_debt(self) -> None:
        check_no_hidden_bad_debt(self.engine)


class CollateralMachine(base.LiquidationMachine):
    @initialize(backstop=st.booleans(), fund=st.sampled_from([D(0), D(500), D(50_000)]),
                liquidity=st.sampled_from(base.LIQUIDITY), chunked=st.booleans(),
                ranking=st.sampled_from(list(AdlRanking)), fee=st.sampled_from([None, D("0.0001")]),
                penalty=st.sampled_from([D(0), D("0.025"), D("0.2")]),
                usdt=st.lists(st.sampled_from([D(0), D(50), D(1500)]), min_size=4, max_size=4),
                btc=st.lists(st.sampled_from([D(0), D("0.01"), D("0.05")]), min_size=4, max_size=4),
                eth=st.lists(st.sampled_from([D(0), D("0.3")]), min_size=4, max_size=4))
    def start(self, backstop: bool, fund: Decimal, liquidity: Any, chunked: bool, ranking: AdlRanking,
              fee: Decimal | None, penalty: Decimal = Decimal(0), usdt: Any = (), btc: Any = (),
              eth: Any = ()) -> None:
        policy = LiquidationPolicy(liquidity=liquidity, backstop_account="bs" if backstop else None,
                                   chunk_fraction=D("0.2") if chunked else None,
                                   cooldown_ms=30_000 if chunked else 0, adl_ranking=ranking, fee_rate=fee,
                                   collateral_conversion_penalty=penalty)
        self.config = EngineConfig(base.USDM, collateral=COLLATERAL, liquidation=policy)
        self.engine = Engine(self.config)
        self.run(AdvanceTime(1_000))
        self.run(Deposit("book", "USDT", base.BIG))
        if backstop:
            self.run(Deposit("bs", "USDT", base.BIG))
        if fund:
            self.run(FundInsurance(fund))
        for asset, price in sorted(COLLATERAL_START.items()):
            self.run(PriceUpdate(asset, "s", price))
        for i, acc in enumerate(base.ACCOUNTS):
            for asset, amounts in (("USDT", usdt), ("BTC", btc), ("ETH", eth)):
                if amounts[i]:
                    self.run(Deposit(acc, asset, amounts[i]))
        for symbol in base.SYMBOLS:
            self.run(PriceUpdate(symbol, "s", base.START[symbol]))

    def collateral_price(self, asset: str) -> Decimal:
        mark = self.engine.state.markets[asset].mark
        return mark if mark is not None else COLLATERAL_START[asset]

    @rule(asset=st.sampled_from(sorted(COLLATERAL)), bps=st.integers(-2500, 900), repeats=st.integers(1, 3),
          with_perp=st.booleans())
    def collateral_move(self, asset: str, bps: int, repeats: int, with_perp: bool) -> None:
        price = (self.collateral_price(asset) * (1 + D(bps) / 10000)).quantize(D("0.01"))
        for _ in range(repeats):  # repeated prints confirm a held jump
            self.run(PriceUpdate(asset, "s", price))
        if with_perp:
            symbol = FOLLOWS[asset]
            perp = base.on_tick(self.mark(symbol) * (1 + D(bps) / 10000), base.TICKS[symbol])
            for _ in range(repeats):
                self.run(PriceUpdate(symbol, "s", perp))

    @rule(acc=st.sampled_from(base.ACCOUNTS), asset=st.sampled_from(sorted(COLLATERAL)),
          amount=st.sampled_from([D("0.01"), D("0.2")]))
    def deposit_collateral(self, acc: str, asset: str, amount: Decimal) -> None:
        self.run(Deposit(acc, asset, amount))

    @invariant()
    @precondition(lambda self: hasattr(self, "engine"))
    def no_hidden_bad_debt(self) -> None:
        check_no_hidden_bad_debt(self.engine)


AdlMachine.TestCase.settings = base.LiquidationMachine.TestCase.settings
CollateralMachine.TestCase.settings = base.LiquidationMachine.TestCase.settings
TestAdlLeavesNoHiddenBadDebt = AdlMachine.TestCase
TestCollateralWaterfall = CollateralMachine.TestCase
