"""An engine built from Python refuses a configuration it cannot run on, as a parameter change
and the service already did (``params.setting_problem``): before, ``Engine(EngineConfig(...,
taker_fee_rate=5))`` built a venue charging 500 % fees. A journal replays whatever its
configuration was admitted under: replaying recomputes, it does not admit."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from pathlib import Path

import pytest

from solvent.engine import AdvanceTime, Deposit, Engine, EngineConfig, Fill, PriceUpdate
from solvent.engine import core as engine_core
from solvent.engine.config import LevelThresholds, LiquidationPolicy
from solvent.engine.liquidity import BookDepth
from solvent.errors import InvalidInput
from solvent.journal import DurableEngine, MemoryBackend, SqliteBackend, durable_engine
from solvent.journal.replay import recover, verify
from solvent.risk.venues import load_venue

D = Decimal


def _config(**settings: object) -> EngineConfig:
    return EngineConfig(load_venue("binance-usdm", overlays=False), **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(("settings", "named", "got"), [
    ({"taker_fee_rate": D(5)}, "taker_fee_rate", "5"),           # 500 %: the bound is 0 to 0.1
    ({"taker_fee_rate": D("0.1000001")}, "taker_fee_rate", "0.1000001"),  # just past it
    # found by a new-user pass: an int in range was refused as if out of range; the type is the problem
    ({"taker_fee_rate": 0}, "taker_fee_rate", "0 (int)"),
    ({"default_leverage": D("0.5")}, "default_leverage", "0.5"),    # 1 to 1000
    ({"funding_interval_ms": 59_999}, "funding_interval_ms", "59999 (int)"),  # a minute to a week
    ({"funding_interval_ms": True}, "funding_interval_ms", "True (bool)"),    # a bool is no count of ms
    ({"money_quantum": D(0)}, "money_quantum", "0"),  # found by a new-user pass: every deposit then failed
    ({"money_quantum": D(-1)}, "money_quantum", "-1"),
    # a policy's settings are named one by one (found by a new-user pass: "liquidation" named none)
    ({"liquidation": LiquidationPolicy(backstop_threshold=D(7))}, "liquidation.backstop_threshold", "7"),  # 0 to 1
    ({"liquidation": LiquidationPolicy(chunk_fraction=D(7))}, "liquidation.chunk_fraction", "7"),  # 0.01 to 1
    ({"liquidation": LiquidationPolicy(cooldown_ms=-1)}, "liquidation.cooldown_ms", "-1 (int)"),  # 0 to a day
    # types a new-user pass found admitted, each then stopping the venue at its first liquidation or
    # raising out of apply: no liquidity model, no book account, "no" for a flag, an unknown ranking
    ({"liquidation": LiquidationPolicy(liquidity="x")}, "liquidation.liquidity", "'x' (str)"),  # type: ignore[arg-type]
    ({"liquidation": LiquidationPolicy(book_account=None)}, "liquidation.book_account", "None"),  # type: ignore[arg-type]
    ({"liquidation": LiquidationPolicy(adl="no")}, "liquidation.adl", "'no' (str)"),  # type: ignore[arg-type]
    ({"liquidation": LiquidationPolicy(adl_ranking="x")}, "liquidation.adl_ranking", "'x' (str)"),  # type: ignore[arg-type]
    ({"history": 5}, "history", "5 (int)"),
    ({"thresholds": None}, "thresholds", "None"),
    # the levels are named one by one when one is not a number, and shown as numbers when out of order
    ({"thresholds": LevelThresholds(warning="x")}, "thresholds.warning", "'x' (str)"),  # type: ignore[arg-type]
    ({"thresholds": LevelThresholds(hysteresis=D("NaN"))}, "thresholds.hysteresis", "NaN"),
    ({"thresholds": LevelThresholds(warning=D(7))}, "thresholds", "hysteresis=0.05, warning=7, margin_call=0.8"),
    ({"max_open_interest": [1]}, "max_open_interest", "[1]"),
    ({"volatility_mm": "yes"}, "volatility_mm", "'yes' (str)"),
    ({"isolated_lock_up": "no"}, "isolated_lock_up", "'no' (str)"),
])
def test_an_engine_refuses_a_setting_it_cannot_run_on(settings: dict[str, object], named: str, got: str) -> None:
    with pytest.raises(InvalidInput, match=rf"EngineConfig\.{named}: outside what the engine runs on "
                                           rf"\(allowed: [^;]+; got {re.escape(got)}\)$"):
        Engine(_config(**settings))


@pytest.mark.parametrize("settings", [
    {"taker_fee_rate": D("0.1")}, {"taker_fee_rate": D(0)}, {"default_leverage": D(1)},
    {"funding_interval_ms": 60_000}, {"liquidation": LiquidationPolicy(backstop_threshold=D(1), chunk_fraction=D(1))},
])
def test_the_bounds_themselves_are_accepted(settings: dict[str, object]) -> None:
    assert Engine(_config(**settings)).config.taker_fee_rate == _config(**settings).taker_fee_rate


def test_a_journal_admitted_under_looser_bounds_still_recovers_and_verifies(monkeypatch: pytest.MonkeyPatch) -> None:
    """A journal written when the engine accepted a 20 % taker fee (simulated: the check is off
    while it is written) replays today with the fee it recorded: 0.1 BTC at 50,000 is 5,000 of
    notional, so the buyer pays 1,000 USDT of fee, 2,000 − 1,000 = 1,000 left."""
    backend = MemoryBackend()
    loose = dataclasses.replace(_config(), taker_fee_rate=D("0.2"))
    with monkeypatch.context() as patch:
        patch.setattr(engine_core, "refuse_settings", lambda config: None)
        patch.setattr(durable_engine, "refuse_settings", lambda config: None)
        durable = DurableEngine(backend, loose)
        for cmd in [AdvanceTime(0), PriceUpdate("BTCUSDT", "s", D(50_000)), Deposit("alice", "USDT", D(2000)),
                    Deposit("bob", "USDT", D(500_000)),
                    Fill("t1", "BTCUSDT", D(50_000), D("0.1"), "alice", "bob", buyer_fee=D(1000))]:
            assert durable.apply(cmd).accepted, cmd
        written = durable.engine.state_hash()
        durable.close()
    with pytest.raises(InvalidInput, match="taker_fee_rate"):
        Engine(loose)  # today's engine refuses to start a venue on it
    report = verify(backend)
    assert report.ok, report
    recovered = recover(backend)
    assert recovered.engine.state_hash() == written
    assert recovered.engine.state.accounts["alice"].balances["USDT"] == D(1000)


def test_a_new_journal_is_not_started_on_a_setting_the_engine_refuses() -> None:
    backend = MemoryBackend()
    with pytest.raises(InvalidInput, match="taker_fee_rate"):
        DurableEngine(backend, dataclasses.replace(_config(), taker_fee_rate=D("0.2")))
    assert next(iter(backend.records(0)), None) is None  # nothing written


def _loose_journal(path: Path) -> None:
    """A journal written when a 20 % taker fee was within bounds (the check off while it is written)."""
    loose = dataclasses.replace(_config(), taker_fee_rate=D("0.2"))
    saved = durable_engine.refuse_settings
    durable_engine.refuse_settings = lambda config: None
    try:
        durable = DurableEngine(SqliteBackend(path), loose)
        for cmd in [AdvanceTime(0), PriceUpdate("BTCUSDT", "s", D(50_000)), Deposit("alice", "USDT", D(2000))]:
            assert durable.apply(cmd).accepted, cmd
        durable.close()
    finally:
        durable_engine.refuse_settings = saved


def test_the_service_opens_a_journal_admitted_under_looser_bounds(tmp_path: Path) -> None:
    """``solvent serve`` on such a journal (found by review: the venue rebuilt its genesis state
    with the check on, after recovery had passed)."""
    from solvent.service.builder import open_durable
    from solvent.service.venue import Venue

    _loose_journal(tmp_path / "j.sqlite")
    durable = open_durable(tmp_path / "j.sqlite")
    venue = Venue.open(durable)
    assert venue.engine.config.taker_fee_rate == D("0.2")


def test_a_cluster_replica_takes_a_recorded_genesis_under_looser_bounds() -> None:
    """A replica starts its journal from the venue's genesis on the log: recorded, so replayed,
    not admitted again (a new replica joining an older venue, or ``cluster replay`` of an old journal)."""
    from solvent.cluster.log import encode_genesis, venue_log
    from solvent.cluster.replica import Replica

    replica = Replica(MemoryBackend(), venue_log("v"))
    assert replica.apply(1, encode_genesis(dataclasses.replace(_config(), taker_fee_rate=D("0.2")))) is None
    assert replica.engine is not None and replica.engine.engine.config.taker_fee_rate == D("0.2")


@pytest.mark.parametrize(("settings", "message"), [
    ({"profile": None}, "EngineConfig.profile must be a VenueProfile (load_venue(name)), got None"),
    ({"profile": "binance-usdm"}, "EngineConfig.profile must be a VenueProfile (load_venue(name)), got 'binance-usdm'"),
    ({"settle_asset": 5}, "EngineConfig.settle_asset must be a string, got 5"),
])
def test_a_configuration_that_cannot_be_built_is_refused_in_one_line(settings: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        EngineConfig(**{"profile": load_venue("binance-usdm"), **settings})  # type: ignore[arg-type]


@pytest.mark.parametrize("settings", [
    {"collateral": {"WBTC": 5}},                                     # a collateral asset that is a number
    {"liquidation": LiquidationPolicy(liquidity=BookDepth({"BTCUSDT": [1]}))},  # type: ignore[dict-item]  # a level
])
def test_a_new_journal_refuses_a_configuration_it_could_not_reopen(settings: dict[str, object]) -> None:
    """Found by review: these were written to the genesis record as they were, and the journal
    then could not be reopened ("expected an object for Asset"): the genesis record is decoded
    back before it is written. (A flag of the wrong type, ``isolated_lock_up="no"``, is now a
    settings refusal, test above.)"""
    with pytest.raises(InvalidInput, match="the journal could not record this configuration"):
        DurableEngine(MemoryBackend(), dataclasses.replace(_config(), **settings))  # type: ignore[arg-type]


def test_a_ranking_given_as_its_value_and_a_backstop_on_the_book_account_are_taken() -> None:
    """``adl_ranking="bitmex"`` is the member (found by review: refused with "allowed: … bitmex");
    a backstop on the book account ran before and still does (review: refusing it stopped such a
    venue's parameter changes for good)."""
    from solvent.engine.config import AdlRanking

    assert LiquidationPolicy(adl_ranking="bitmex").adl_ranking is AdlRanking.BITMEX  # type: ignore[arg-type]
    Engine(_config(liquidation=LiquidationPolicy(backstop_account="book")))


def test_a_params_change_with_a_replayed_flag_of_the_wrong_type_is_refused() -> None:
    """Found by review: ``ChangeParams(..., replayed="no")`` skipped the admission checks (a truthy
    string) and set a 500 % taker fee."""
    from solvent.engine import ChangeParams

    engine = Engine(_config())
    bad = dataclasses.replace(_config(), taker_fee_rate=D(5))
    result = engine.apply(ChangeParams(bad, replayed="no"))  # type: ignore[arg-type]
    assert not result.accepted and result.denial is not None and result.denial.code.value == "INVALID_FIELD"
    assert engine.config.taker_fee_rate == D("0.0005")


def test_a_venue_refused_at_its_start_leaves_no_journal_behind(tmp_path: Path) -> None:
    """Found by a new-user pass: ``solvent serve`` on a new path with a configuration the engine
    refuses answered the refusal but left an empty SQLite file, which the next start then took
    for an existing journal with no records ("refusing to start a new venue in it")."""
    from solvent.service.builder import open_durable

    target = tmp_path / "new" / "venue.sqlite"
    with pytest.raises(InvalidInput, match=r"EngineConfig\.taker_fee_rate"):
        open_durable(target, dataclasses.replace(_config(), taker_fee_rate=D(5)))
    assert not target.exists() and not target.parent.exists()  # nor the folder it would have been made in
    # a configuration the journal could not read back is refused before anything is made, too
    with pytest.raises(InvalidInput, match="the journal could not record this configuration"):
        open_durable(target, dataclasses.replace(_config(), collateral={"WBTC": 5}))  # type: ignore[dict-item]
    assert not target.parent.exists()
    assert open_durable(target, _config()).engine.config.taker_fee_rate == _config().taker_fee_rate


def test_a_command_with_an_id_of_the_wrong_type_is_refused_and_the_journal_reopens(tmp_path: Path) -> None:
    """Found by a new-user pass: ``PlaceOrder("alice", 5, ...)`` was accepted and journaled, then
    the journal could not be reopened ("expected a string, got int; recovery stopped")."""
    from solvent.engine import PlaceOrder
    from solvent.model import Side

    path = tmp_path / "j.sqlite"
    durable = DurableEngine(SqliteBackend(path), _config())
    for cmd in (AdvanceTime(1_000), Deposit("alice", "USDT", D(10_000)), PriceUpdate("BTCUSDT", "s", D(60000))):
        assert durable.apply(cmd).accepted
    refused = durable.apply(PlaceOrder("alice", 5, "BTCUSDT", Side.LONG, D("0.01"), D(60000)))  # type: ignore[arg-type]
    assert not refused.accepted and refused.denial is not None and refused.denial.code.value == "INVALID_FIELD"
    head = durable.engine.state_hash()
    durable.close()
    assert DurableEngine(SqliteBackend(path)).engine.state_hash() == head
