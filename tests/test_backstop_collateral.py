"""A backstop takeover of a cross account whose equity is held in collateral other than the
settlement asset: the backstop takes that collateral with the positions (liquidation revision
6); before, the account kept it (found by a review of the stress depeg scenario)."""

from __future__ import annotations

from decimal import Decimal

from solvent.engine import Engine, EngineConfig
from solvent.engine.commands import AdvanceTime, Deposit, Fill, PriceUpdate
from solvent.engine.config import LiquidationPolicy
from solvent.engine.events import BalanceChanged, CollateralConverted, LiquidationStep
from solvent.model import Asset
from solvent.risk.venues import load_venue

D = Decimal


def _engine(revision: int | None = None) -> Engine:
    """hyperliquid (backstop below 2/3 of MM), USDE collateral with a 5 % haircut. alice posts
    10,000 USDE (worth 9,500) and buys 2 BTC at 100,000 from bob."""
    policy = LiquidationPolicy() if revision is None else LiquidationPolicy(revision=revision)
    engine = Engine(EngineConfig(load_venue("hyperliquid", overlays=False), settle_asset="USDC",
                                 collateral={"USDE": Asset("USDE", haircut=D("0.05"))}, liquidation=policy))
    for cmd in (AdvanceTime(1_000), Deposit("book", "USDC", D(10) ** 9), Deposit("bob", "USDC", D(10) ** 7),
                PriceUpdate("USDE", "s", D(1)), Deposit("alice", "USDE", D(10_000)),
                PriceUpdate("BTC", "s", D(100_000)), Fill("t1", "BTC", D(100_000), D(2), "alice", "bob")):
        assert engine.apply(cmd).accepted, cmd
    return engine


def test_the_backstop_takes_the_collateral_left_with_the_positions() -> None:
    """BTC's mark falls to 95,400: alice's equity is 9,500 − 2 × 4,600 = 300, below 2/3 of any
    MM of 1 % or more of 190,800, so the vault takes her 2 BTC at the mark. That realises −9,200
    USDC, a debt repaid by selling USDE at the index less the 2.5 % penalty: 9,200 / 0.975 =
    9,435.897435897… rounded up to 9,435.89743590 USDE (proceeds 9,435.8974359, penalty
    235.8974359 rounded up: 9,200 exactly). 564.10256410 USDE are left, worth 535.90 after the
    haircut: alice's equity, which goes to the vault with her positions. She ends with nothing."""
    engine = _engine()
    result = engine.apply(PriceUpdate("BTC", "s", D(95_400)))
    steps = [e for e in result.events if isinstance(e, LiquidationStep)]
    assert [(e.kind, e.qty, e.price) for e in steps] == [("backstop", D(2), D(95_400))]
    converted = [e for e in result.events if isinstance(e, CollateralConverted)]
    assert [(e.qty, e.proceeds, e.penalty) for e in converted] == [
        (D("9435.89743590"), D("9435.89743590"), D("235.89743590"))]
    assert [(e.asset, e.delta) for e in result.events if isinstance(e, BalanceChanged)
            and e.reason == "backstop takeover"] == [("USDE", D("-564.10256410"))]
    alice, vault = engine.state.accounts["alice"], engine.state.accounts["liquidator_vault"]
    assert alice.balances.get("USDE") == 0 and alice.balances.get("USDC", D(0)) == 0
    assert vault.balances["USDE"] == D("564.10256410")
    assert engine.margin("alice").equity == 0
    for asset, (held, net) in engine.conservation().items():
        assert held == net, asset


def test_with_the_collateral_market_paused_the_vault_takes_the_debt_with_it() -> None:
    """The same, with USDE's liquidations paused: the 9,200 USDC debt cannot be repaid from
    the USDE. alice's equity is still 10,000 × 0.95 − 9,200 = 300 > 0, so the vault takes her
    whole wallet: 10,000 USDE and the −9,200 USDC, worth the same 300 to it; she holds nothing
    (before, she kept both and an equity of 300 while the vault took her positions bare)."""
    engine = _engine()
    engine.state.markets["USDE"].liquidations_allowed = False
    result = engine.apply(PriceUpdate("BTC", "s", D(95_400)))
    assert not [e for e in result.events if isinstance(e, CollateralConverted)]
    assert sorted((e.asset, e.delta) for e in result.events if isinstance(e, BalanceChanged)
                  and e.reason == "backstop takeover") == [("USDC", D(9_200)), ("USDE", D(-10_000))]
    alice, vault = engine.state.accounts["alice"], engine.state.accounts["liquidator_vault"]
    assert all(b == 0 for b in alice.balances.values())
    assert (vault.balances["USDE"], vault.balances["USDC"]) == (D(10_000), D(-9_200))
    for asset, (held, net) in engine.conservation().items():
        assert held == net, asset


def test_before_revision_6_the_account_kept_it() -> None:
    engine = _engine(revision=5)
    engine.apply(PriceUpdate("BTC", "s", D(95_400)))
    assert engine.state.accounts["alice"].balances["USDE"] == D("564.10256410")
    assert "USDE" not in engine.state.accounts["liquidator_vault"].balances
