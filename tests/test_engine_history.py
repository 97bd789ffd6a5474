"""Bounded history (issue 10, "unbounded growth"): trade ids and index samples used to be
kept forever, so memory, snapshots and the state hash grew with every fill and price.

``EngineConfig.history`` (``HistoryBounds``) now forgets what no decision can need. The
decisive check: the same commands through an engine that forgets and one that keeps
everything (``history=None``) give exactly the same events, an expiry settlement included.
"""

from __future__ import annotations

import dataclasses
import random
from decimal import Decimal

import pytest
from test_journal_common import config, stream

from solvent.engine import AdvanceTime, Deposit, Engine, Fill, HistoryBounds, PriceUpdate
from solvent.engine.commands import Command
from solvent.engine.state_digest import state_hash
from solvent.journal import NdjsonBackend, recover
from solvent.journal.snapshot import decode_state, encode_state

FUTURE = "BTCUSDT_260925"
EXPIRY = 1_790_323_200_000  # the bundled binance-usdm profile's expiry for BTCUSDT_260925
WINDOW = 30 * 60 * 1000  # EngineConfig.settlement_window_ms


def _expiry_stream(seed: int) -> list[Command]:
    """Three hours around an expiry: prices every few seconds to minutes, fills, time steps."""
    rng = random.Random(seed)
    now, price, trade = EXPIRY - 3 * 3600 * 1000, Decimal(60_000), 0
    cmds: list[Command] = [AdvanceTime(now), Deposit("a", "USDT", Decimal(10**6)), Deposit("b", "USDT", Decimal(10**6)),
                           PriceUpdate(FUTURE, "ix", price)]
    while now < EXPIRY + 3600 * 1000:
        now += rng.choice([1_000, 7_000, 37_000, 120_000, 600_000])
        cmds.append(AdvanceTime(now))
        price = (price * (1 + Decimal(rng.randint(-30, 30)) / 10_000)).quantize(Decimal("0.1"))
        cmds.append(PriceUpdate(FUTURE, "ix", price))
        if rng.random() < 0.3:
            trade += 1
            buyer, seller = ("a", "b") if rng.random() < 0.5 else ("b", "a")
            cmds.append(Fill(f"t{trade}", FUTURE, price, Decimal("0.01"), buyer, seller))
    return cmds


def _twins(trade_ids: int) -> tuple[Engine, Engine]:
    bounded = dataclasses.replace(config(), history=HistoryBounds(trade_ids=trade_ids))
    return Engine(bounded), Engine(dataclasses.replace(config(), history=None))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_forgetting_changes_no_decision_an_expiry_settlement_included(seed: int) -> None:
    forgets, keeps = _twins(trade_ids=8)
    most_samples = 0
    for cmd in _expiry_stream(seed):
        assert forgets.apply(cmd) == keeps.apply(cmd), cmd
        if FUTURE not in forgets.state.markets:
            continue
        samples = forgets.state.markets[FUTURE].index_samples
        most_samples = max(most_samples, len(samples))
        # what is kept: the samples of the last 30 minutes and the one before them
        assert all(t > forgets.state.now_ms - WINDOW for t, _ in samples[1:])
        assert len(forgets.state.trade_ids) < 8 + 8 // 4
    assert forgets.state.markets[FUTURE].settled and keeps.state.markets[FUTURE].settled
    kept_all = len(keeps.state.markets[FUTURE].index_samples)
    assert kept_all > 40 and most_samples < kept_all  # some were forgotten, and no decision changed
    assert forgets.state_hash() == state_hash(forgets.state)


def test_the_general_stream_gives_the_same_events_with_and_without_forgetting() -> None:
    forgets, keeps = _twins(trade_ids=16)
    for cmd in stream(2_500, seed=7):  # liquidations, ADL, funding: liquidation fills add liq-N ids
        assert forgets.apply(cmd) == keeps.apply(cmd), cmd
    assert len(forgets.state.trade_ids) < 20 < len(keeps.state.trade_ids)
    assert forgets.state.trade_count == keeps.state.trade_count == len(keeps.state.trade_ids)


def test_a_duplicate_inside_the_window_is_refused_and_one_far_older_is_forgotten() -> None:
    engine = Engine(dataclasses.replace(config(), history=HistoryBounds(trade_ids=4)))
    for cmd in (Deposit("a", "USDT", Decimal(10**6)), Deposit("b", "USDT", Decimal(10**6)),
                PriceUpdate("BTCUSDT", "ix", Decimal(60_000))):
        assert engine.apply(cmd).accepted

    def fill(tid: str) -> bool:
        return engine.apply(Fill(tid, "BTCUSDT", Decimal(60_000), Decimal("0.001"), "a", "b")).accepted

    assert all(fill(f"t{i}") for i in range(1, 5))  # t1..t4: ordinals 1..4, four held (< 4 + 1)
    assert not fill("t1")  # within the window: a duplicate
    assert fill("t5")  # five held = 4 + 4 // 4: forget ordinals <= 5 - 4, i.e. t1
    assert list(engine.state.trade_ids) == ["t2", "t3", "t4", "t5"]
    assert not fill("t2")  # still remembered
    assert fill("t1")  # forgotten: taken as a new trade (the window is the contract)


def test_a_snapshot_keeps_what_was_forgotten_so_the_restored_engine_forgets_the_same() -> None:
    forgets, _ = _twins(trade_ids=8)
    cmds = _expiry_stream(4)
    half = len(cmds) // 2
    forgets.apply_all(cmds[:half])
    market = forgets.state.markets[FUTURE]
    assert market.samples_dropped > 0 and market.samples_base != "00" * 32
    restored = Engine(forgets.config, state=decode_state(encode_state(forgets.state)))
    assert restored.state == forgets.state and restored.state_hash() == forgets.state_hash()
    for cmd in cmds[half:]:
        assert restored.apply(cmd) == forgets.apply(cmd)
    assert restored.state == forgets.state and restored.state_hash() == forgets.state_hash()


def test_a_journal_written_before_history_bounds_keeps_everything_on_replay() -> None:
    """Its genesis record has no ``history``: replay must not forget, or its snapshots'
    recorded state hashes (which held every sample and id) would no longer match."""
    engine = recover(NdjsonBackend("tests/data/example_journal.ndjson")).engine
    assert engine.config.history is None
    assert config().history == HistoryBounds(trade_ids=1_000_000)  # what a new journal records
