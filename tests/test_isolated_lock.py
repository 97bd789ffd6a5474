"""A fill into an isolated position locks its IM rounded up to the money quantum, as every
requirement is (``EngineConfig.isolated_lock_up``); journals written before keep their
rounding down on replay.

Hand computation: 0.001 BTC at 60,001 is a notional of 60.001; at 7× the IM is
60.001 / 7 = 8.571571428571…, which is 8.57157143 rounded up to 10⁻⁸ (8.57157142 down).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from solvent.engine import AdvanceTime, Command, Deposit, Engine, Fill, PriceUpdate, SetLeverage, SetMarginMode
from solvent.engine.config import default_config
from solvent.journal.codec import LEGACY_CONFIG, decode_config, encode_config, with_legacy_defaults
from solvent.model import MarginMode

D = Decimal
IM_UP, IM_DOWN = D("8.57157143"), D("8.57157142")


def _session() -> list[Command]:
    return [AdvanceTime(0), PriceUpdate("BTCUSDT", "t", D(60001)), Deposit("iso", "USDT", D(1000)),
            Deposit("m", "USDT", D(10) ** 6), SetMarginMode("iso", "BTCUSDT", MarginMode.ISOLATED),
            SetLeverage("iso", "BTCUSDT", D(7)), Fill("t1", "BTCUSDT", D(60001), D("0.001"), "iso", "m")]


def _locked(engine: Engine) -> tuple[Decimal, Decimal]:
    acc = engine.state.accounts["iso"]
    (position,) = acc.positions.values()
    return position.isolated_margin, acc.balances["USDT"]


def _run(lock_up: bool) -> Engine:
    engine = Engine(dataclasses.replace(default_config("binance-usdm"), isolated_lock_up=lock_up))
    for cmd in _session():
        assert engine.apply(cmd).accepted, cmd
    return engine


def test_the_lock_is_the_im_rounded_up() -> None:
    margin, cross = _locked(_run(True))
    assert margin == IM_UP and margin >= D("60.001") / 7
    assert cross == 1000 - IM_UP  # the fill's fee is 0 here: what the position holds left the wallet


def test_the_legacy_rounding_is_kept_where_asked() -> None:
    margin, cross = _locked(_run(False))
    assert margin == IM_DOWN and cross == 1000 - IM_DOWN


def test_a_genesis_record_without_the_field_decodes_to_the_old_rounding() -> None:
    """A genesis record written before ``isolated_lock_up`` existed has no such field: it is
    decoded with the rounding those journals' engines used, so they replay as written."""
    assert LEGACY_CONFIG["isolated_lock_up"] is False
    encoded = encode_config(default_config("binance-usdm"))
    assert encoded["isolated_lock_up"] is True
    legacy = {k: v for k, v in encoded.items() if k != "isolated_lock_up"}
    old = decode_config(with_legacy_defaults(legacy))
    assert old.isolated_lock_up is False
    engine = Engine(old)
    for cmd in _session():
        assert engine.apply(cmd).accepted
    assert _locked(engine)[0] == IM_DOWN
