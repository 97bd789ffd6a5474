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


# -- the open loss (``EngineConfig.isolated_open_loss``) --------------------------------------


def _through_the_mark(price: Decimal, side_buy: bool, open_loss: bool = True) -> Engine:
    """Mark 60,000; ``iso`` (1,000 USDT, isolated, 125×) opens 0.01 BTC at ``price``."""
    engine = Engine(dataclasses.replace(default_config("binance-usdm"), isolated_open_loss=open_loss))
    buyer, seller = ("iso", "m") if side_buy else ("m", "iso")
    for cmd in [AdvanceTime(0), PriceUpdate("BTCUSDT", "t", D(60000)), Deposit("iso", "USDT", D(1000)),
                Deposit("m", "USDT", D(10) ** 6), SetMarginMode("iso", "BTCUSDT", MarginMode.ISOLATED),
                SetLeverage("iso", "BTCUSDT", D(125)), Fill("t1", "BTCUSDT", price, D("0.01"), buyer, seller)]:
        assert engine.apply(cmd).accepted, cmd
    return engine


def test_an_isolated_fill_through_the_mark_locks_its_open_loss_too() -> None:
    """Bought 0.01 BTC at 60,300 with the mark at 60,000, at 125×: IM 603 / 125 = 4.824, open
    loss 0.01 × 300 = 3, so 7.824 is locked and the equity at the mark is 7.824 − 3 = 4.824, the
    IM, above the MM 0.4 % × 600 = 2.4. With the IM alone (journals from before) the equity
    was 1.824, below the MM: the position opened at its liquidation level and the same fill
    liquidated it."""
    engine = _through_the_mark(D(60300), side_buy=True)
    assert _locked(engine) == (D("7.824"), D(1000) - D("7.824"))
    (iso,) = engine.margin("iso").isolated
    assert iso.equity == D("4.824") and iso.maintenance_margin == D("2.4")
    assert engine.state.accounts["iso"].level == "healthy"
    old = _through_the_mark(D(60300), side_buy=True, open_loss=False)
    assert old.state.accounts["iso"].positions == {}  # liquidated by the fill that opened it


def test_a_short_sold_below_the_mark_locks_its_open_loss_and_one_on_the_good_side_does_not() -> None:
    """Sold 0.01 at 59,700 (mark 60,000): IM 597 / 125 = 4.776, loss 3, locked 7.776. Sold at
    60,300, above the mark: a gain at once, so only the IM 603 / 125 = 4.824 is locked."""
    assert _locked(_through_the_mark(D(59700), side_buy=False))[0] == D("7.776")
    assert _locked(_through_the_mark(D(60300), side_buy=False))[0] == D("4.824")


def test_a_genesis_record_without_the_open_loss_field_replays_without_it() -> None:
    assert LEGACY_CONFIG["isolated_open_loss"] is False
    encoded = encode_config(default_config("binance-usdm"))
    old = decode_config(with_legacy_defaults({k: v for k, v in encoded.items() if k != "isolated_open_loss"}))
    assert old.isolated_open_loss is False
