"""The backstop's loss limit (Hyperliquid's capped liquidator vault, after JELLY on 2025-03-26):
a vault that has lost at least ``limit × capital`` on the positions it took over deleverages
them at the mark; a vault without a limit (sharing the whole pool's collateral) carries any loss.

Every expected value is worked out in the comments from the rule (``docs/liquidation.md``),
never taken from solvent's output.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent import load_venue
from solvent.engine import (
    AdvanceTime,
    BookDepth,
    ChangeParams,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    LiquidationPolicy,
    PriceUpdate,
    SetMarginMode,
)
from solvent.engine.events import AutoDeleveraged, BackstopLossLimit, LiquidationStep
from solvent.errors import InvalidInput
from solvent.journal.codec import decode_config, encode_config
from solvent.model import MarginMode
from solvent.risk.liquidation_rules import parse_liquidation_rule

D = Decimal
VAULT = "liquidator_vault"


def _engine(limit: Decimal | None, vault_capital: Decimal) -> Engine:
    """Hyperliquid BTC (MM rate 1/(2 × 40) = 1.25 %), an empty book (every liquidation goes to
    the vault), the vault holding ``vault_capital`` USDC. alice: 1,000 USDC, short 1 BTC at
    60,000 against bob (long 1, 10^6 USDC)."""
    config = EngineConfig(load_venue("hyperliquid"), settle_asset="USDC",
                          liquidation=LiquidationPolicy(liquidity=BookDepth({}), backstop_loss_limit=limit))
    engine = Engine(config)
    cmds = [AdvanceTime(1000), Deposit("book", "USDC", D(10) ** 9), Deposit("alice", "USDC", D(1000)),
            Deposit("bob", "USDC", D(10) ** 6), PriceUpdate("BTC", "s", D(60000)),
            Fill("t1", "BTC", D(60000), D(1), "bob", "alice")]
    if vault_capital:
        cmds.insert(1, Deposit(VAULT, "USDC", vault_capital))
    for cmd in cmds:
        assert engine.apply(cmd).accepted, cmd
    return engine


def _conserved(engine: Engine) -> None:
    for asset, (held, net) in engine.conservation().items():
        assert held == net, asset


def _takeover(engine: Engine) -> None:
    # mark 60,700: alice's equity 1,000 − 700 = 300 < 2/3 × MM (2/3 × 0.0125 × 60,700 = 505.83…):
    # the vault takes her short 1 BTC at 60,700 and her 300 USDC
    events = engine.apply(PriceUpdate("BTC", "s", D(60700))).events
    assert [(e.kind, e.qty, e.price) for e in events if isinstance(e, LiquidationStep)] == [
        ("backstop", D(1), D(60700))]


def test_a_capped_vault_deleverages_once_its_loss_reaches_the_limit() -> None:
    # vault capital 1,000 + 300 taken over = 1,300; limit 0.5 → 650
    engine = _engine(D("0.5"), D(1000))
    _takeover(engine)
    # 61,000: the vault's short has lost 300 < 650: it carries it
    events = engine.apply(PriceUpdate("BTC", "s", D(61000))).events
    assert not [e for e in events if isinstance(e, BackstopLossLimit | AutoDeleveraged)]
    # 61,400: lost 700 ≥ 650 → its short is deleveraged at the mark against bob's long
    events = engine.apply(PriceUpdate("BTC", "s", D(61400))).events
    assert [e for e in events if isinstance(e, BackstopLossLimit)] == [
        BackstopLossLimit(VAULT, D(700), D(1300), D("0.5"))]
    assert [e for e in events if isinstance(e, AutoDeleveraged)] == [
        AutoDeleveraged(VAULT, "bob", "BTC", D(1), D(61400))]
    vault = engine.state.accounts[VAULT]
    assert not any(p.qty for p in vault.positions.values())
    assert vault.balances["USDC"] == D(600)  # 1,300 − 700 realised
    # bob closed at 61,400: +1,400 on his long from 60,000
    assert engine.state.accounts["bob"].balances["USDC"] == D(10) ** 6 + 1400
    _conserved(engine)
    # the price goes on up: the vault holds nothing, nothing more happens
    events = engine.apply(PriceUpdate("BTC", "s", D(62000))).events
    assert not [e for e in events if isinstance(e, BackstopLossLimit | AutoDeleveraged)]


def test_the_limit_fires_at_exactly_limit_times_capital() -> None:
    # no capital of its own: capital = the 300 taken over; limit 0.5 → 150.
    # 60,849: lost 149 < 150, nothing; 60,850: lost 150 ≥ 150 → deleveraged at 60,850
    engine = _engine(D("0.5"), D(0))
    _takeover(engine)
    events = engine.apply(PriceUpdate("BTC", "s", D(60849))).events
    assert not [e for e in events if isinstance(e, BackstopLossLimit)]
    events = engine.apply(PriceUpdate("BTC", "s", D(60850))).events
    assert [e for e in events if isinstance(e, BackstopLossLimit)] == [
        BackstopLossLimit(VAULT, D(150), D(300), D("0.5"))]
    assert [(e.qty, e.price) for e in events if isinstance(e, AutoDeleveraged)] == [(D(1), D(60850))]
    _conserved(engine)


def test_a_vault_sharing_the_pools_collateral_carries_the_loss() -> None:
    # no limit: the same moves leave the vault short; at 62,500 its equity is 1,300 − (62,500 −
    # 60,700) = −500, a loss its depositors bear
    engine = _engine(None, D(1000))
    _takeover(engine)
    for price in (61000, 61400, 62000, 62500):
        events = engine.apply(PriceUpdate("BTC", "s", D(price))).events
        assert not [e for e in events if isinstance(e, BackstopLossLimit | AutoDeleveraged)]
    assert engine.margin_from_scratch(VAULT).equity == D(-500)
    _conserved(engine)


def test_a_profitable_vault_position_is_never_deleveraged() -> None:
    # the price falls after the takeover: the vault's short gains; no loss, nothing fires
    engine = _engine(D("0.01"), D(0))
    _takeover(engine)
    events = engine.apply(PriceUpdate("BTC", "s", D(60000))).events
    assert not [e for e in events if isinstance(e, BackstopLossLimit | AutoDeleveraged)]
    assert [p.qty for p in engine.state.accounts[VAULT].positions.values()] == [D(-1)]


def test_a_profile_states_the_limit_and_a_policy_may_set_its_own() -> None:
    raw = {"policy": "backstop", "backstop_loss_limit": "1/4", "source": "s"}
    assert parse_liquidation_rule(raw, "x").backstop_loss_limit == D("0.25")
    assert parse_liquidation_rule({"policy": "backstop"}, "x").backstop_loss_limit is None
    for bad in ("0", "1.5", "-0.1", "abc"):
        with pytest.raises(InvalidInput, match="backstop_loss_limit"):
            parse_liquidation_rule({**raw, "backstop_loss_limit": bad}, "x")
    with pytest.raises(InvalidInput, match="takes no backstop_loss_limit"):
        parse_liquidation_rule({"policy": "generic", "backstop_loss_limit": "0.5"}, "x")


def test_the_limit_is_journaled_and_an_older_journal_has_none() -> None:
    config = EngineConfig(load_venue("hyperliquid"), settle_asset="USDC",
                          liquidation=LiquidationPolicy(backstop_loss_limit=D("0.3")))
    encoded = encode_config(config)
    assert decode_config(encoded) == config
    assert encoded["liquidation"]["backstop_loss_limit"] == "0.3"
    del encoded["liquidation"]["backstop_loss_limit"]
    decoded = decode_config(encoded).liquidation
    assert decoded is not None and decoded.backstop_loss_limit is None


def test_a_limit_outside_zero_to_one_or_without_a_backstop_is_refused() -> None:
    """Built in Python: ``ValueError`` at once (an engine built with it would refuse every later
    command). Through a parameter change: a limit on a venue whose procedure has no backstop
    (binance-usdm takes over at the bankruptcy price) is refused, naming the setting."""
    engine = _engine(D("0.5"), D(0))
    assert engine.config.liquidation is not None
    for bad in (D(0), D("1.01"), D("NaN"), D("-0.5"), 0.5, "0.5"):
        with pytest.raises(ValueError, match="backstop_loss_limit"):
            dataclasses.replace(engine.config.liquidation, backstop_loss_limit=bad)  # type: ignore[arg-type]
    binance = Engine(EngineConfig(load_venue("binance-usdm"), liquidation=LiquidationPolicy()))
    assert binance.config.liquidation is not None
    new = dataclasses.replace(binance.config, liquidation=dataclasses.replace(binance.config.liquidation,
                                                                              backstop_loss_limit=D("0.5")))
    result = binance.apply(ChangeParams(new))
    assert not result.accepted
    assert "setting=liquidation.backstop_loss_limit allowed=none: the liquidation procedure has no backstop" in str(
        result.denial)
    assert binance.config.liquidation.backstop_loss_limit is None


@settings(max_examples=60, deadline=None)
@given(st.decimals(min_value="0.05", max_value="1", places=2),
       st.lists(st.integers(min_value=-300, max_value=300), min_size=1, max_size=12))
def test_after_every_price_the_vault_is_within_its_limit_or_has_nothing_left_to_deleverage(
        limit: Decimal, moves: list[int]) -> None:
    """Any path of prices (moves in basis points): money is conserved after every command, and
    once the command is done the vault has lost less than ``limit × capital``, or holds no
    position in loss that an opposite position could take."""
    engine = _engine(limit, D(0))
    _takeover(engine)
    price = D(60700)
    for bp in moves:
        price = (price * (1 + D(bp) / 10_000)).quantize(D(1))
        assert engine.apply(PriceUpdate("BTC", "s", price)).accepted
        _conserved(engine)
        m = engine.margin_from_scratch(VAULT)
        vault = engine.state.accounts[VAULT]
        losing = [p for p in vault.positions.values() if p.qty and p.pnl(price, False) < 0]
        others = [p for aid, acc in engine.state.accounts.items() if aid not in (VAULT, "book")
                  for p in acc.positions.values() if p.qty]
        takers = [p for p in others for v in losing if (p.qty > 0) != (v.qty > 0) and p.symbol == v.symbol]
        assert m.collateral - m.equity < limit * max(m.collateral, D(0)) or not takers


def test_a_paused_market_is_not_deleveraged_at_its_held_price() -> None:
    """The vault holds a losing BTC short and an ETH long (each taken over). A BTC jump to 75,000
    is held by the jump guard (liquidations paused there); an ETH fall then pushes the vault's
    loss past its limit. Nothing is deleveraged while BTC is paused: the held mark is not a price
    to trade at (a liquidation of a trader in a paused market waits likewise)."""
    config = EngineConfig(load_venue("hyperliquid"), settle_asset="USDC",
                          liquidation=LiquidationPolicy(liquidity=BookDepth({}), backstop_loss_limit=D("0.5")))
    engine = Engine(config)
    for cmd in [AdvanceTime(1000), Deposit(VAULT, "USDC", D(3000)), Deposit("book", "USDC", D(10) ** 9),
                Deposit("alice", "USDC", D(1000)), Deposit("carol", "USDC", D(1000)),
                Deposit("bob", "USDC", D(10) ** 6), PriceUpdate("BTC", "s", D(60000)), PriceUpdate("ETH", "s", D(3000)),
                Fill("t1", "BTC", D(60000), D(1), "bob", "alice"), Fill("t2", "ETH", D(3000), D(10), "carol", "bob"),
                PriceUpdate("BTC", "s", D(60700)), PriceUpdate("ETH", "s", D(2950)), PriceUpdate("BTC", "s", D(61500)),
                PriceUpdate("BTC", "s", D(75000))]:
        assert engine.apply(cmd).accepted, cmd
    assert engine.state.markets["BTC"].liquidations_allowed is False
    events = engine.apply(PriceUpdate("ETH", "s", D(2800))).events
    assert not [e for e in events if isinstance(e, AutoDeleveraged | BackstopLossLimit)]
    _conserved(engine)


def test_an_isolated_vault_position_counts_its_margin_and_its_loss() -> None:
    """The vault trades BTC isolated: its capital is its wallet and the isolated margin the
    takeover locks (100 of its own + the 300 taken over = 400, however it is split), its loss
    includes the isolated position's. The limit fires as for a cross vault: a limit of a half,
    at a loss of 200 (60,900 for a 1 BTC short taken at 60,700; 60,899 is 199)."""
    config = EngineConfig(load_venue("hyperliquid"), settle_asset="USDC",
                          liquidation=LiquidationPolicy(liquidity=BookDepth({}), backstop_loss_limit=D("0.5")))
    engine = Engine(config)
    for cmd in [AdvanceTime(1000), Deposit("book", "USDC", D(10) ** 9), Deposit("alice", "USDC", D(1000)),
                Deposit("bob", "USDC", D(10) ** 6), Deposit(VAULT, "USDC", D(100)), PriceUpdate("BTC", "s", D(60000)),
                SetMarginMode(VAULT, "BTC", MarginMode.ISOLATED), Fill("t1", "BTC", D(60000), D(1), "bob", "alice")]:
        assert engine.apply(cmd).accepted, cmd
    _takeover(engine)
    assert engine.margin_from_scratch(VAULT).isolated  # the short is isolated
    fired = [e for p in (60899, 60900) for e in engine.apply(PriceUpdate("BTC", "s", D(p))).events
             if isinstance(e, BackstopLossLimit)]
    assert [(e.loss, e.capital) for e in fired] == [(D(200), D(400))]
    _conserved(engine)


def test_with_adl_off_the_vault_carries_its_loss() -> None:
    config = EngineConfig(load_venue("hyperliquid"), settle_asset="USDC", liquidation=LiquidationPolicy(
        liquidity=BookDepth({}), backstop_loss_limit=D("0.5"), adl=False))
    engine = Engine(config)
    for cmd in [AdvanceTime(1000), Deposit("book", "USDC", D(10) ** 9), Deposit("alice", "USDC", D(1000)),
                Deposit("bob", "USDC", D(10) ** 6), PriceUpdate("BTC", "s", D(60000)),
                Fill("t1", "BTC", D(60000), D(1), "bob", "alice")]:
        assert engine.apply(cmd).accepted
    _takeover(engine)
    events = engine.apply(PriceUpdate("BTC", "s", D(62000))).events
    assert not [e for e in events if isinstance(e, AutoDeleveraged | BackstopLossLimit)]


def test_explain_names_the_limit_beside_the_vaults_adl(tmp_path: Path) -> None:
    from solvent.journal import SqliteBackend
    from solvent.journal.durable_engine import DurableEngine
    from solvent.journal.explain import explain, render_explanation

    template = _engine(D("0.5"), D(1000))
    durable = DurableEngine(SqliteBackend(tmp_path / "j.sqlite"), template.config)
    cmds = [AdvanceTime(1000), Deposit(VAULT, "USDC", D(1000)), Deposit("book", "USDC", D(10) ** 9),
            Deposit("alice", "USDC", D(1000)), Deposit("bob", "USDC", D(10) ** 6), PriceUpdate("BTC", "s", D(60000)),
            Fill("t1", "BTC", D(60000), D(1), "bob", "alice"), PriceUpdate("BTC", "s", D(60700)),
            PriceUpdate("BTC", "s", D(61400))]
    for cmd in cmds:
        assert durable.apply(cmd).accepted
    seq = durable.seq
    durable.close()
    answer = explain(SqliteBackend(tmp_path / "j.sqlite", read_only=True), seq)
    (limit,) = answer["liquidation"]["backstop_loss_limit"]
    assert (limit["loss"], limit["capital"], limit["limit"]) == ("700", "1300", "0.5")
    assert "backstop loss limit: liquidator_vault lost 700, at least 0.5 of its capital 1300" in \
        render_explanation(answer)


@pytest.mark.parametrize("limit", [None, D("0.5")])
def test_a_spent_vault_takes_nothing_over_and_the_account_goes_to_the_book(limit: Decimal | None) -> None:
    """alice (1,000) and carol (1,480) each short 1 BTC from 60,000 against bob; the book asks
    61,010. At 60,700 the vault (no capital of its own) takes alice over with her 300 (carol:
    equity 780 ≥ MM 758.75, healthy). A gap to 61,000: carol's equity 480 < 2/3 × 762.5 =
    508.33, a backstop case; but the vault has lost 300, past 0.5 × 300: spent, it takes nothing
    over, carol's short is bought back on the book at 61,010; then the vault's own short is
    deleveraged against bob at 61,000. Without a limit the vault takes carol too."""
    config = EngineConfig(load_venue("hyperliquid"), settle_asset="USDC", liquidation=LiquidationPolicy(
        liquidity=BookDepth(asks={"BTC": [(D(61010), D(10))]}), backstop_loss_limit=limit))
    engine = Engine(config)
    for cmd in [AdvanceTime(1000), Deposit("book", "USDC", D(10) ** 9), Deposit("alice", "USDC", D(1000)),
                Deposit("carol", "USDC", D(1480)), Deposit("bob", "USDC", D(10) ** 6),
                PriceUpdate("BTC", "s", D(60000)), Fill("t1", "BTC", D(60000), D(1), "bob", "alice"),
                Fill("t2", "BTC", D(60000), D(1), "bob", "carol")]:
        assert engine.apply(cmd).accepted, cmd
    _takeover(engine)
    events = engine.apply(PriceUpdate("BTC", "s", D(61000))).events
    steps = [(e.account_id, e.kind, e.price) for e in events if isinstance(e, LiquidationStep)]
    adl = [(e.account_id, e.counterparty, e.price) for e in events if isinstance(e, AutoDeleveraged)]
    if limit is None:
        assert steps == [("carol", "backstop", D(61000))] and adl == []
    else:
        assert steps == [("carol", "book", D(61010))]
        assert adl == [(VAULT, "bob", D(61000))]
    _conserved(engine)


def test_a_spent_vault_and_no_book_leave_a_bankrupt_account_to_adl_at_its_bankruptcy_price() -> None:
    """As above with no book and a gap to 62,000: carol's equity 1,480 − 2,000 = −520, a
    backstop case, but the vault (lost 1,300 ≥ 0.5 × 300) is spent and the book takes nothing:
    her short is deleveraged against bob at its bankruptcy price 60,000 + 1,480 = 61,480; then
    the vault's own short at the mark, 62,000."""
    engine = _engine(D("0.5"), D(0))
    for cmd in [Deposit("carol", "USDC", D(1480)), Fill("t2", "BTC", D(60000), D(1), "bob", "carol")]:
        assert engine.apply(cmd).accepted, cmd
    _takeover(engine)
    events = engine.apply(PriceUpdate("BTC", "s", D(62000))).events
    assert not [e for e in events if isinstance(e, LiquidationStep)]
    assert [(e.account_id, e.counterparty, e.price) for e in events if isinstance(e, AutoDeleveraged)] == [
        ("carol", "bob", D(61480)), (VAULT, "bob", D(62000))]
    _conserved(engine)


def test_a_journal_recording_a_limit_outside_zero_to_one_is_a_chain_problem_not_a_crash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A genesis written with a limit the policy now refuses (1.5: a hand-made or damaged
    journal) comes back from ``verify`` as a problem at record 0 naming the field."""
    from solvent.journal import DurableEngine, SqliteBackend, durable_engine, verify

    path = tmp_path / "j.db"
    with monkeypatch.context() as m:  # the policy's own check off, to write such a journal
        m.setattr(LiquidationPolicy, "__post_init__", lambda self: None)
        m.setattr(durable_engine, "refuse_settings", lambda config: None)  # nor may a new journal start on it
        config = EngineConfig(load_venue("hyperliquid"), settle_asset="USDC",
                              liquidation=LiquidationPolicy(backstop_loss_limit=D("1.5")))
        durable = DurableEngine(SqliteBackend(path), config)
        for cmd in (AdvanceTime(1000), Deposit("a", "USDC", D(100))):
            assert durable.apply(cmd).accepted
        durable.close()
    report = verify(SqliteBackend(path, read_only=True))
    assert report.chain_problem is not None and "backstop_loss_limit" in str(report.chain_problem)
