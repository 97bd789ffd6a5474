"""An engine books PnL, fees and funding in one settlement asset: a contract settled in another is refused.

Binance USDⓈ-M lists BTCUSDC, settled in USDC. In an engine margined in USDT its 1,000-USDC
gain would have been credited as 1,000 USDT. Journals written before the check replay as
they were written (``one_settle_asset`` off).
"""

from __future__ import annotations

from decimal import Decimal

from solvent import load_venue
from solvent.engine import AdvanceTime, Deposit, Engine, EngineConfig, Fill, PriceUpdate
from solvent.engine.denials import DenyCode
from solvent.journal.codec import LEGACY_CONFIG, decode_config, encode_config, with_legacy_defaults

D = Decimal


def engine(settle: str, **config: object) -> Engine:
    eng = Engine(EngineConfig(load_venue("binance-usdm"), settle_asset=settle, **config))  # type: ignore[arg-type]
    assert eng.apply(AdvanceTime(0)).accepted
    for aid in ("a", "b"):
        assert eng.apply(Deposit(aid, settle, D(100_000))).accepted
    return eng


def test_a_usdc_contract_in_a_usdt_engine_is_refused_naming_both_assets() -> None:
    eng = engine("USDT")
    result = eng.apply(PriceUpdate("BTCUSDC", "feed", D(60000)))
    assert not result.accepted and result.denial is not None
    assert result.denial.code is DenyCode.UNSUPPORTED_INSTRUMENT
    assert "settles in USDC; this engine margins in USDT" in str(result.denial)


def test_the_same_contract_trades_in_a_usdc_engine() -> None:
    eng = engine("USDC")
    for cmd in (PriceUpdate("BTCUSDC", "feed", D(60000)), Fill("t1", "BTCUSDC", D(60000), D(1), "a", "b"),
                PriceUpdate("BTCUSDC", "feed", D(61000))):
        assert eng.apply(cmd).accepted, cmd
    assert eng.margin("a").equity == D(101_000)          # 100,000 + 1 × (61,000 − 60,000), in USDC
    assert eng.apply(PriceUpdate("BTCUSDT", "feed", D(60000))).denial is not None  # and USDT is the foreign one


def test_journals_written_before_the_check_replay_without_it() -> None:
    assert LEGACY_CONFIG["one_settle_asset"] is False
    encoded = encode_config(EngineConfig(load_venue("binance-usdm")))
    legacy = with_legacy_defaults({k: v for k, v in encoded.items() if k != "one_settle_asset"})
    assert decode_config(legacy).one_settle_asset is False
    old = engine("USDT", one_settle_asset=False)
    assert old.apply(PriceUpdate("BTCUSDC", "feed", D(60000))).accepted
