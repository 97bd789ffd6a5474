"""``solvent venues update``: exchange payloads become a dated overlay that ``load_venue`` applies.

The payloads are written out here in each venue's documented shape (Binance
``GET /fapi/v1/exchangeInfo`` and ``GET /fapi/v1/leverageBracket``, Bybit v5
``/v5/market/instruments-info`` and ``/v5/market/risk-limit``, ccxt ``load_markets()`` and
``fetch_leverage_tiers()``), a couple of symbols each; the expected ticks, lots and tiers
are read off the payloads by hand.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import solvent
from solvent.cli import main
from solvent.engine.config import default_config
from solvent.errors import InvalidInput
from solvent.journal.backend import MemoryBackend
from solvent.journal.codec import CodecError
from solvent.journal.durable_engine import DurableEngine
from solvent.journal.replay import open_genesis
from solvent.risk.rules import TieredRules
from solvent.risk.tiers import TierTable
from solvent.risk.venues import load_venue

D = Decimal
AS_OF = "2026-11-30"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder of this test's own; today is fixed at 2026-12-04 (UTC)."""
    folder = tmp_path / "data"
    monkeypatch.setenv("SOLVENT_DATA_DIR", str(folder))
    monkeypatch.delenv("SOLVENT_NO_OVERLAYS", raising=False)
    monkeypatch.delenv("SOLVENT_STALE_DAYS", raising=False)
    monkeypatch.setattr("solvent.cli.spec_age.today_utc", lambda: date(2026, 12, 4))
    return folder


def _filters(tick: str, step: str, market_step: str | None = None) -> list[dict[str, Any]]:
    return [
        {"filterType": "PRICE_FILTER", "minPrice": "0.0100", "maxPrice": "4529764", "tickSize": tick},
        {"filterType": "LOT_SIZE", "stepSize": step, "maxQty": "1000", "minQty": step},
        {"filterType": "MARKET_LOT_SIZE", "stepSize": market_step or step, "maxQty": "120", "minQty": step},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "MIN_NOTIONAL", "notional": "5"},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500", "multiplierDecimal": "4"},
    ]


def _symbol(symbol: str, base: str, filters: list[dict[str, Any]], contract: str = "PERPETUAL") -> dict[str, Any]:
    return {"symbol": symbol, "pair": symbol, "contractType": contract, "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000", "baseAsset": base, "quoteAsset": "USDT", "marginAsset": "USDT",
            "pricePrecision": 2, "quantityPrecision": 3, "baseAssetPrecision": 8, "quotePrecision": 8,
            "underlyingType": "COIN", "triggerProtect": "0.0500", "liquidationFee": "0.012500",
            "marketTakeBound": "0.05", "filters": filters, "orderTypes": ["LIMIT", "MARKET"],
            "timeInForce": ["GTC", "IOC"]}


def exchange_info(*symbols: dict[str, Any]) -> dict[str, Any]:
    return {"timezone": "UTC", "serverTime": 1764460800000, "futuresType": "U_MARGINED",
            "rateLimits": [], "exchangeFilters": [], "symbols": list(symbols)}


BINANCE_INFO = exchange_info(
    _symbol("BTCUSDT", "BTC", _filters("0.10", "0.001")),
    _symbol("SOLUSDT", "SOL", _filters("0.0100", "1")),
    _symbol("NEWUSDT", "NEW", _filters("0.000100", "10")),
)


def _bracket(n: int, lev: int, floor: int, cap: int, mmr: str, cum: int) -> dict[str, Any]:
    # leverageBracket sends JSON numbers (written here as the float text Binance sends)
    return {"bracket": n, "initialLeverage": lev, "notionalCap": cap, "notionalFloor": floor,
            "maintMarginRatio": D(mmr), "cum": float(cum)}


BINANCE_BRACKETS = [
    {"symbol": "BTCUSDT", "notionalCoef": 1.0, "brackets": [
        _bracket(1, 125, 0, 50000, "0.004", 0), _bracket(2, 100, 50000, 600000, "0.005", 50),
        _bracket(3, 75, 600000, 3000000, "0.0065", 950), _bracket(4, 50, 3000000, 12000000, "0.01", 11450)]},
    {"symbol": "SOLUSDT", "notionalCoef": 1.0, "brackets": [
        _bracket(1, 75, 0, 10000, "0.01", 0), _bracket(2, 50, 10000, 100000, "0.015", 50),
        _bracket(3, 25, 100000, 500000, "0.02", 550)]},
    {"symbol": "NEWUSDT", "notionalCoef": 1.0, "brackets": [
        _bracket(1, 20, 0, 5000, "0.025", 0), _bracket(2, 10, 5000, 25000, "0.05", 125)]},
]


def write(folder: Path, name: str, payload: Any) -> str:
    path = folder / name
    path.write_text(json.dumps(payload, default=_num), encoding="utf-8")
    return str(path)


def _num(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)  # JSON numbers, as the exchange sends them
    raise TypeError(type(value).__name__)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def update(capsys: pytest.CaptureFixture[str], venue: str, *files: str, as_of: str = AS_OF) -> dict[str, Any]:
    argv = ["venues", "update", "--venue", venue, "--as-of", as_of, "--json"]
    for f in files:
        argv += ["--from", f]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    return dict(json.loads(out))


def overlays(data_dir: Path) -> list[Path]:
    return sorted(data_dir.rglob("*.json")) if data_dir.exists() else []


def table_of(venue: str, symbol: str) -> TierTable:
    rules = load_venue(venue).rules_for(symbol)
    assert isinstance(rules, TieredRules)
    return rules.table


# --------------------------------------------------------------------------- Binance


def test_binance_exchange_info_and_brackets_become_an_overlay_load_venue_applies(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundled_btc = table_of("binance-usdm", "BTCUSDT")
    assert load_venue("binance-usdm").instrument("SOLUSDT").tick_size is None  # the issue: no ticks bundled
    got = update(capsys, "binance-usdm", write(tmp_path, "exchangeInfo.json", BINANCE_INFO),
                 write(tmp_path, "leverageBracket.json", BINANCE_BRACKETS))
    assert (got["steps_updated"], got["tiers_updated"], got["added"], got["skipped"]) == (3, 3, ["NEWUSDT"], [])
    assert [s["format"] for s in got["sources"]] == ["binance-exchange-info", "binance-leverage-bracket"]
    written = overlays(data_dir)
    assert [Path(got["path"])] == written
    doc = json.loads(written[0].read_text("utf-8"))
    assert doc["effective_from"] == AS_OF and doc["sources"][0]["file"] == "exchangeInfo.json"
    assert len(doc["sources"][0]["sha256"]) == 64

    venue = load_venue("binance-usdm")
    sol = venue.instrument("SOLUSDT")
    assert (sol.tick_size, sol.lot_size) == (D("0.01"), D("1"))
    btc = venue.instrument("BTCUSDT")
    assert (btc.tick_size, btc.lot_size) == (D("0.1"), D("0.001"))
    new = venue.instrument("NEWUSDT")
    assert (new.base, new.quote, new.settle, new.kind.value) == ("NEW", "USDT", "USDT", "linear_perpetual")
    assert (new.tick_size, new.lot_size) == (D("0.0001"), D("10"))
    table = table_of("binance-usdm", "BTCUSDT")
    assert table != bundled_btc
    assert [(t.floor_notional, t.cap_notional, t.maint_margin_rate, t.max_leverage, t.maint_amount)
            for t in table.tiers] == [
        (0, 50000, D("0.004"), 125, 0), (50000, 600000, D("0.005"), 100, 50),
        (600000, 3000000, D("0.0065"), 75, 950), (3000000, 12000000, D("0.01"), 50, 11450)]
    assert table_of("binance-usdm", "NEWUSDT").tiers[1].maint_amount == 125
    assert venue.specs_date("BTCUSDT") == AS_OF
    assert venue.specs_date("ETHUSDT") == "2026-09-01"  # not in the payload: still the bundled snapshot
    assert venue.overlay is not None and venue.overlay.effective_from == AS_OF


def test_the_calculator_uses_the_overlay_and_says_its_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    update(capsys, "binance-usdm", write(tmp_path, "i.json", BINANCE_INFO), write(tmp_path, "b.json", BINANCE_BRACKETS))
    code, out, _ = run(capsys, "liq-price", "--venue", "binance-usdm", "--symbol", "SOLUSDT", "--side", "long",
                       "--qty", "100", "--entry", "150", "--leverage", "10", "--json")
    got = json.loads(out)
    assert code == 0 and got["tick_known"] is True and got["price_rounding"] == "tick 0.01"
    # 15,000 notional: bracket 2 of the payload, mmr 0.015, cum 50
    assert got["tier"]["maint_margin_rate"] == "0.015" and got["tier"]["maint_amount"] == "50"
    assert got["specs"]["effective_from"] == AS_OF and got["specs"]["stale"] is False
    assert got["specs"]["overlay"]["effective_from"] == AS_OF


def test_updates_are_cumulative_and_the_newest_overlay_wins(tmp_path: Path, data_dir: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    update(capsys, "binance-usdm", write(tmp_path, "i.json", BINANCE_INFO), as_of="2026-11-01")
    newer = exchange_info(_symbol("BTCUSDT", "BTC", _filters("0.50", "0.002")))
    update(capsys, "binance-usdm", write(tmp_path, "i2.json", newer), as_of="2026-12-01")
    assert len(overlays(data_dir)) == 2
    venue = load_venue("binance-usdm")
    assert venue.instrument("BTCUSDT").tick_size == D("0.5")
    assert venue.instrument("SOLUSDT").tick_size == D("0.01")  # carried over from the first overlay
    assert venue.specs_date("SOLUSDT") == "2026-09-01"  # ticks of 2026-11-01, tiers still the bundled ones
    assert venue.overlay is not None and [f for f, _ in venue.overlay.sources] == ["i.json", "i2.json"]


# --------------------------------------------------------------------------- Bybit

BYBIT_INSTRUMENTS = {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": [
    {"symbol": "BTCUSDT", "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": "BTC",
     "quoteCoin": "USDT", "launchTime": "1585526400000", "deliveryTime": "0", "deliveryFeeRate": "",
     "priceScale": "2", "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
     "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
     "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": "0.001", "qtyStep": "0.001",
                       "postOnlyMaxOrderQty": "1190.000", "maxMktOrderQty": "119.000", "minNotionalValue": "5"},
     "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": "USDT", "copyTrading": "both",
     "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375", "isPreListing": False, "preListingInfo": None},
    {"symbol": "ETHUSDT", "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": "ETH",
     "quoteCoin": "USDT", "launchTime": "1615766400000", "deliveryTime": "0", "deliveryFeeRate": "",
     "priceScale": "2", "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
     "priceFilter": {"minPrice": "0.01", "maxPrice": "199999.98", "tickSize": "0.01"},
     "lotSizeFilter": {"maxOrderQty": "7240.00", "minOrderQty": "0.01", "qtyStep": "0.01",
                       "postOnlyMaxOrderQty": "7240.00", "maxMktOrderQty": "724.00", "minNotionalValue": "5"},
     "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": "USDT", "copyTrading": "both",
     "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375", "isPreListing": False, "preListingInfo": None},
]}, "nextPageCursor": "", "retExtInfo": {}, "time": 1764460800000}


def _limit(n: int, symbol: str, cap: str, mmr: str, im: str, lev: str, deduction: str) -> dict[str, Any]:
    return {"id": n, "symbol": symbol, "riskLimitValue": cap, "maintenanceMargin": mmr, "initialMargin": im,
            "isLowestRisk": 1 if n in (1, 4) else 0, "maxLeverage": lev, "mmDeduction": deduction}


BYBIT_RISK = {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": [
    _limit(1, "BTCUSDT", "2000000", "0.005", "0.01", "100.00", ""),
    _limit(2, "BTCUSDT", "2600000", "0.0056", "0.0111", "90.00", "1200"),
    _limit(3, "BTCUSDT", "3200000", "0.0062", "0.0125", "80.00", "2760"),
    _limit(4, "ETHUSDT", "1000000", "0.005", "0.01", "100.00", ""),
    _limit(5, "ETHUSDT", "1400000", "0.0058", "0.0125", "80.00", ""),
]}, "retExtInfo": {}, "time": 1764460800000}


def test_bybit_instruments_info_and_risk_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    got = update(capsys, "bybit-linear", write(tmp_path, "instruments-info.json", BYBIT_INSTRUMENTS),
                 write(tmp_path, "risk-limit.json", BYBIT_RISK))
    assert [s["format"] for s in got["sources"]] == ["bybit-instruments-info", "bybit-risk-limit"]
    assert got["added"] == ["ETHUSDT"]
    venue = load_venue("bybit-linear")
    eth = venue.instrument("ETHUSDT")
    assert (eth.tick_size, eth.lot_size, eth.settle) == (D("0.01"), D("0.01"), "USDT")
    btc = table_of("bybit-linear", "BTCUSDT")
    assert [(t.cap_notional, t.maint_margin_rate, t.max_leverage, t.maint_amount) for t in btc.tiers] == [
        (2000000, D("0.005"), 100, 0), (2600000, D("0.0056"), 90, 1200), (3200000, D("0.0062"), 80, 2760)]
    # ETHUSDT's deductions are empty: recomputed, 1,000,000 × (0.0058 − 0.005) = 800
    assert table_of("bybit-linear", "ETHUSDT").tiers[1].maint_amount == 800
    assert venue.specs_date() == AS_OF  # every instrument of the profile now has dated specs


# --------------------------------------------------------------------------- ccxt

CCXT_MARKETS = {
    "BTC/USDT:USDT": {"id": "BTCUSDT", "lowercaseId": "btcusdt", "symbol": "BTC/USDT:USDT", "base": "BTC",
                      "quote": "USDT", "settle": "USDT", "baseId": "BTC", "quoteId": "USDT", "settleId": "USDT",
                      "type": "swap", "spot": False, "margin": False, "swap": True, "future": False,
                      "option": False, "active": True, "contract": True, "linear": True, "inverse": False,
                      "subType": "linear", "taker": 0.0005, "maker": 0.0002, "contractSize": 1.0,
                      "expiry": None, "precision": {"amount": 0.001, "price": 0.1},
                      "limits": {"amount": {"min": 0.001, "max": 1000.0}, "price": {"min": 556.8, "max": 4529764.0}}},
    "DOGE/USDT:USDT": {"id": "DOGEUSDT", "lowercaseId": "dogeusdt", "symbol": "DOGE/USDT:USDT", "base": "DOGE",
                       "quote": "USDT", "settle": "USDT", "type": "swap", "spot": False, "swap": True,
                       "future": False, "option": False, "active": True, "contract": True, "linear": True,
                       "inverse": False, "contractSize": 1.0, "precision": {"amount": 1.0, "price": 1e-05},
                       "limits": {"amount": {"min": 1.0, "max": 50000000.0}}},
}


def _tier(n: int, symbol: str, lo: float, hi: float, mmr: float, lev: float) -> dict[str, Any]:
    return {"tier": float(n), "symbol": symbol, "currency": "USDT", "minNotional": lo, "maxNotional": hi,
            "maintenanceMarginRate": mmr, "maxLeverage": lev, "info": {"bracket": str(n)}}


CCXT_TIERS = {
    "BTC/USDT:USDT": [_tier(1, "BTC/USDT:USDT", 0.0, 50000.0, 0.004, 125.0),
                      _tier(2, "BTC/USDT:USDT", 50000.0, 600000.0, 0.005, 100.0)],
    "DOGE/USDT:USDT": [_tier(1, "DOGE/USDT:USDT", 0.0, 10000.0, 0.005, 75.0),
                       _tier(2, "DOGE/USDT:USDT", 10000.0, 50000.0, 0.0065, 50.0)],
}


def test_ccxt_markets_and_leverage_tiers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    got = update(capsys, "binance-usdm", write(tmp_path, "markets.json", CCXT_MARKETS),
                 write(tmp_path, "tiers.json", CCXT_TIERS))
    assert [s["format"] for s in got["sources"]] == ["ccxt-markets", "ccxt-leverage-tiers"]
    assert (got["steps_updated"], got["tiers_updated"], got["added"]) == (2, 2, [])
    venue = load_venue("binance-usdm")
    doge = venue.instrument("DOGEUSDT")
    assert (doge.tick_size, doge.lot_size) == (D("0.00001"), D("1"))
    # the unified tier has no maintenance amount: 10,000 × (0.0065 − 0.005) = 15
    assert [(t.cap_notional, t.maint_amount) for t in table_of("binance-usdm", "DOGEUSDT").tiers] == [
        (10000, 0), (50000, 15)]


# --------------------------------------------------------------------------- bad payloads write nothing


def _info_with(**changes: Any) -> str:
    filters = _filters("0.10", "0.001")
    for kind, value in changes.items():
        filters = [f if f["filterType"] != kind else {**f, **value} for f in filters]
    return json.dumps(exchange_info(_symbol("BTCUSDT", "BTC", filters)))


BAD = {
    "missing PRICE_FILTER": (json.dumps(exchange_info(_symbol("BTCUSDT", "BTC", _filters("0.1", "0.001")[1:]))),
                             "no PRICE_FILTER tickSize"),
    "missing filters": (json.dumps(exchange_info(_symbol("BTCUSDT", "BTC", []))), "no PRICE_FILTER tickSize"),
    "negative tick": (_info_with(PRICE_FILTER={"tickSize": "-0.10"}), "tickSize"),
    "zero lot": (_info_with(LOT_SIZE={"stepSize": "0"}, MARKET_LOT_SIZE={"stepSize": "0"}), "no LOT_SIZE stepSize"),
    "non-decimal tick": (_info_with(PRICE_FILTER={"tickSize": "0.1.0"}), "tickSize"),
    "duplicate key": (_info_with().replace('"tickSize": "0.10"', '"tickSize": "0.10", "tickSize": "0.01"'),
                      "duplicate key 'tickSize'"),
    "symbol twice": (json.dumps(exchange_info(_symbol("BTCUSDT", "BTC", _filters("0.1", "0.001")),
                                              _symbol("BTCUSDT", "BTC", _filters("0.2", "0.001")))),
                     "appears twice"),
    "tiers not continuous (cum)": (json.dumps([{"symbol": "BTCUSDT", "brackets": [
        {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0, "maintMarginRatio": 0.004,
         "cum": 0.0},
        {"bracket": 2, "initialLeverage": 100, "notionalCap": 600000, "notionalFloor": 50000,
         "maintMarginRatio": 0.005, "cum": 60.0}]}]), "breaks MM continuity"),
    "tiers with a gap": (json.dumps([{"symbol": "BTCUSDT", "brackets": [
        {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0, "maintMarginRatio": 0.004,
         "cum": 0.0},
        {"bracket": 2, "initialLeverage": 100, "notionalCap": 600000, "notionalFloor": 60000,
         "maintMarginRatio": 0.005, "cum": 60.0}]}]), "must equal the previous cap"),
    "bybit error response": (json.dumps({"retCode": 10001, "retMsg": "params error", "result": {"list": []}}),
                             "cannot tell"),
    "not a payload": (json.dumps({"hello": "world"}), "pass --format"),
    "not JSON": ("{not json", "payload"),
    "another venue's contract": (json.dumps({"retCode": 0, "result": {"category": "inverse", "list": [
        {**BYBIT_INSTRUMENTS["result"]["list"][0], "contractType": "InversePerpetual", "settleCoin": "BTC"}]}}),
        "a payload of another venue?"),
    "ticks for a significant-figures venue": (
        # a Binance payload is refused as another exchange's before its ticks are looked at
        json.dumps(exchange_info(_symbol("BTC", "BTC", _filters("1", "0.00001")))),
        "a binance-exchange-info payload is not hyperliquid's"),
    "tiers for a venue without tier tables": (json.dumps(BINANCE_BRACKETS, default=_num),
                                              "a binance-leverage-bracket payload is not dydx-v4's"),
    "nothing on the venue": (json.dumps(exchange_info(_symbol("ZZZUSDT", "ZZZ", _filters("0.1", "1")))),
                             "no symbol of the payload is on"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_a_bad_payload_writes_nothing_and_says_why_in_one_line(case: str, tmp_path: Path, data_dir: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    text, words = BAD[case]
    venue = {"another venue's contract": "bybit-linear", "ticks for a significant-figures venue": "hyperliquid",
             "tiers for a venue without tier tables": "dydx-v4"}.get(case, "binance-usdm")
    path = tmp_path / "payload.json"
    path.write_text(text, encoding="utf-8")
    before = load_venue(venue)
    code, out, err = run(capsys, "venues", "update", "--venue", venue, "--from", str(path), "--as-of", AS_OF)
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err, err
    assert overlays(data_dir) == []
    assert load_venue(venue) == before


def test_a_bad_date_or_format_is_refused(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    info = write(tmp_path, "i.json", BINANCE_INFO)
    for argv, words in ((["--as-of", "2026-02-30"], "not a calendar date"), (["--as-of", "30.11.2026"], "YYYY-MM-DD"),
                        (["--format", "binance-leverage-bracket"], "i.json: binance leverageBracket")):
        code, _, err = run(capsys, "venues", "update", "--venue", "binance-usdm", "--from", info, *argv)
        assert code == 2 and words in err and err.count("\n") == 1, err
    assert overlays(data_dir) == []


def test_a_future_date_another_exchanges_payload_and_a_tick_beyond_any_price_are_refused(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    info = write(tmp_path, "i.json", BINANCE_INFO)
    huge = json.loads(json.dumps(BINANCE_INFO))
    for symbol in huge["symbols"]:
        for f in symbol["filters"]:
            if f["filterType"] == "PRICE_FILTER":
                f["tickSize"] = "100000000000"  # 1e11: above the largest price solvent accepts (1e9)
    cases = ((["--venue", "binance-usdm", "--from", info, "--as-of", "2099-01-01"], "is in the future"),
             (["--venue", "bybit-linear", "--from", info, "--as-of", AS_OF], "binance-exchange-info payload is not "
                                                                             "bybit-linear's"),
             (["--venue", "binance-usdm", "--from", write(tmp_path, "h.json", huge), "--as-of", AS_OF],
              "is not below the largest price solvent accepts"))
    fine = json.loads(json.dumps(BINANCE_INFO))
    for symbol in fine["symbols"]:
        for f in symbol["filters"]:
            if f["filterType"] == "PRICE_FILTER":
                f["tickSize"] = "1E-30"  # 30 digits after the point: more than the 18 solvent keeps exact
    cases += ((["--venue", "binance-usdm", "--from", write(tmp_path, "f.json", fine), "--as-of", AS_OF],
               "has 30 digits after the point; solvent keeps at most 18"),)
    for argv, words in cases:
        code, _, err = run(capsys, "venues", "update", *argv)
        assert code == 2 and words in err and err.count("\n") == 1, err
    assert overlays(data_dir) == []
    # an update dated before the newest overlay is refused: it would put older specs in force
    update(capsys, "binance-usdm", info, as_of="2026-11-20")
    code, _, err = run(capsys, "venues", "update", "--venue", "binance-usdm", "--from", info, "--as-of", "2026-11-10")
    assert code == 2 and "is before the newest overlay's date 2026-11-20" in err
    assert len(overlays(data_dir)) == 1


def test_live_without_ccxt_names_the_extra(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                           data_dir: Path) -> None:
    monkeypatch.setitem(__import__("sys").modules, "ccxt", None)
    code, _, err = run(capsys, "venues", "update", "--venue", "binance-usdm", "--live")
    assert code == 1
    assert err.strip() == ("error: solvent venues update --live needs the 'ccxt' extra: pip install "
                           "'solvent[ccxt]' (ccxt is not installed)")
    assert overlays(data_dir) == []


# --------------------------------------------------------------------------- staleness, opting out


def test_stale_specs_are_flagged_beyond_the_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    update(capsys, "binance-usdm", write(tmp_path, "i.json", BINANCE_INFO), write(tmp_path, "b.json", BINANCE_BRACKETS),
           as_of="2026-05-01")
    liq = ["liq-price", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long", "--qty", "1",
           "--entry", "60000", "--leverage", "10"]
    code, out, err = run(capsys, *liq)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == ("specs: binance-usdm effective 2026-05-01 (217 days old; overlay of 2026-05-01 on "
                        "bundled 2026-09-01)")
    assert lines[1].startswith("warning: binance-usdm specs date from 2026-05-01, more than 180 days ago")
    got = json.loads(run(capsys, *liq, "--json")[1])
    assert (got["specs"]["age_days"], got["specs"]["stale"]) == (217, True)
    monkeypatch.setenv("SOLVENT_STALE_DAYS", "365")
    code, out, _ = run(capsys, *liq)
    assert code == 0 and "warning" not in out and out.startswith("specs: binance-usdm effective 2026-05-01")
    rows = {r["name"]: r for r in json.loads(run(capsys, "venues", "--json")[1])}
    assert rows["binance-usdm"]["specs"]["stale"] is False and rows["binance-coinm"]["specs"]["stale"] is True


def test_the_venue_listing_and_show_say_the_dates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "venues")
    assert code == 0 and "warning: specs older than 180 days: binance-coinm" in out
    update(capsys, "binance-usdm", write(tmp_path, "i.json", BINANCE_INFO), write(tmp_path, "b.json", BINANCE_BRACKETS))
    got = json.loads(run(capsys, "venues", "show", "binance-usdm", "--symbol", "SOLUSDT", "--json")[1])
    assert got["specs"]["effective_from"] == AS_OF and got["overlay"]["sources"][1]["file"] == "b.json"
    assert got["instrument"]["tick_size"] == "0.01" and got["instrument"]["tiers"][2]["maint_amount"] == "550"
    whole = json.loads(run(capsys, "venues", "show", "binance-usdm", "--json")[1])
    assert whole["specs"]["effective_from"] == "2026-09-01"  # most symbols still have the bundled brackets


def test_no_overlays_env_and_parameter_load_the_bundled_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = load_venue("binance-usdm")
    update(capsys, "binance-usdm", write(tmp_path, "i.json", BINANCE_INFO))
    assert load_venue("binance-usdm") != bundled
    assert load_venue("binance-usdm", overlays=False) == bundled
    monkeypatch.setenv("SOLVENT_NO_OVERLAYS", "1")
    assert load_venue("binance-usdm") == bundled
    assert load_venue("binance-usdm", overlays=True) != bundled


# --------------------------------------------------------------------------- journals replay on their own specs


def test_a_journal_replays_on_the_specs_it_was_written_with(tmp_path: Path, data_dir: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    plain_journal = MemoryBackend()
    DurableEngine(plain_journal, default_config("binance-usdm")).close()
    update(capsys, "binance-usdm", write(tmp_path, "i.json", BINANCE_INFO), write(tmp_path, "b.json", BINANCE_BRACKETS))
    overlaid = default_config("binance-usdm")
    assert overlaid.profile.overlay is not None
    # a journal begun before the update replays on the bundled profile, not on the overlay
    config, _ = open_genesis(plain_journal, None)
    assert config.profile == load_venue("binance-usdm", overlays=False)
    with pytest.raises(CodecError, match="venue specs differ"):
        open_genesis(plain_journal, overlaid)
    # a journal begun on the overlay names it in its genesis record, and replays on it
    journal = MemoryBackend()
    DurableEngine(journal, overlaid).close()
    genesis = json.loads(next(iter(journal.records(0))).payload)
    assert genesis["config"]["profile"] == {"name": "binance-usdm", "bundled": False, "overlay": {
        "effective_from": AS_OF, "sha256": overlaid.profile.overlay.sha256}}
    newer = exchange_info(_symbol("BTCUSDT", "BTC", _filters("0.50", "0.002")))
    update(capsys, "binance-usdm", write(tmp_path, "i2.json", newer), as_of="2026-12-01")
    config, _ = open_genesis(journal, None)
    assert config.profile == overlaid.profile and config.profile.instrument("BTCUSDT").tick_size == D("0.1")
    # without that overlay file the journal is refused, never replayed on other specs
    for path in overlays(data_dir):
        if overlaid.profile.overlay.sha256[:16] in path.name:
            path.unlink()
    with pytest.raises(CodecError, match="copy the file whose name ends in"):
        open_genesis(journal, None)


def test_an_overlay_edited_by_hand_is_refused_not_used(tmp_path: Path, data_dir: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """An overlay is named by its sha256: bytes that no longer hash to the name were changed
    after ``venues update`` wrote them, and every answer on that venue is refused."""
    update(capsys, "binance-usdm", write(tmp_path, "i.json", BINANCE_INFO))
    (path,) = overlays(data_dir)
    doc = json.loads(path.read_text("utf-8"))
    symbol = next(iter(doc["instruments"]))
    doc["instruments"][symbol]["tick_size"] = "0.5"
    path.write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")
    with pytest.raises(InvalidInput, match="was changed after it was written"):
        load_venue("binance-usdm")
    code, _, err = run(capsys, "liq-price", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long",
                       "--qty", "1", "--entry", "60000", "--leverage", "10")
    assert code == 2 and "was changed after it was written" in err


def test_a_renamed_or_stray_overlay_file_is_refused(tmp_path: Path, data_dir: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The newest overlay is chosen by the sequence in its name: a file renamed to jump the
    queue, or a .json the folder should not hold, is refused, not silently used or skipped."""
    update(capsys, "binance-usdm", write(tmp_path, "i.json", BINANCE_INFO), as_of="2026-11-01")
    (path,) = overlays(data_dir)
    jumped = path.with_name("000009" + path.name[6:])
    path.rename(jumped)
    with pytest.raises(InvalidInput, match="does not match its sequence 1 and date 2026-11-01"):
        load_venue("binance-usdm")
    jumped.rename(path)
    assert load_venue("binance-usdm").overlay is not None
    (path.parent / "notes.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"holds notes\.json, which is not named as an overlay"):
        load_venue("binance-usdm")


def test_the_demo_runs_on_the_bundled_specs_whatever_overlay_is_newest(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Found by a new-user pass: an overlay that gave BTCUSDT one tier of 10× (a legitimate
    update of one's own) stopped ``solvent demo`` and ``solvent serve --demo`` (their sample
    accounts open at 20×, "demo opening refused"). The demo is the bundled sample book on the
    bundled specs it is sized for; the service without ``--demo`` takes the overlay."""
    import sqlite3

    from solvent.service.builder import build_service
    from solvent.service.keys import KeyStore
    from solvent.service.venue import venue_config

    one_tier = [{"symbol": "BTCUSDT", "brackets": [_bracket(1, 10, 0, 1_000_000_000, "0.05", 0)]}]
    update(capsys, "binance-usdm", write(tmp_path, "one-tier.json", one_tier))
    assert venue_config("binance-usdm").profile.rules_for("BTCUSDT").max_leverage(D(1), D(1)) == 10  # in force
    journal = tmp_path / "demo.sqlite"
    code, _, err = run(capsys, "demo", "--journal", str(journal))
    assert code == 0, err
    with sqlite3.connect(journal) as db:
        genesis = json.loads(db.execute("SELECT payload FROM records WHERE seq = 0").fetchone()[0])
    assert "overlay" not in genesis["config"]["profile"]  # the bundled file, by its digest
    svc = build_service(KeyStore(), demo=True)
    assert svc.demo["steps"] > 0 and svc.venue.engine.config.profile.overlay is None


@pytest.mark.parametrize(("venue", "symbol", "margin", "lines"), [
    ("dydx-v4", "SOL-USD",
     {"model": "dydx", "imf_ppm": 50000, "mmf_ppm": 600000, "initial_margin_fraction": "0.05",
      "maintenance_fraction_of_initial": "0.6", "maint_margin_rate": "0.03", "oi_lower_cap": "40000000",
      "oi_upper_cap": "100000000", "imf_scaling": "liquidity_tier_rat_ceil", "max_leverage": "20"},
     ["initial margin │ 0.05 of notional (imf_ppm 50000); max 20x",
      "maintenance margin │ 0.03 of notional: 0.6 of the initial fraction (mmf_ppm 600000)",
      "open interest caps │ 40000000–100000000 (the initial fraction scales up between them"]),
    ("dydx-v4", "BTC-USD",
     {"model": "dydx", "imf_ppm": 20000, "mmf_ppm": 600000, "initial_margin_fraction": "0.02",
      "maintenance_fraction_of_initial": "0.6", "maint_margin_rate": "0.012", "oi_lower_cap": "0",
      "oi_upper_cap": "0", "imf_scaling": "liquidity_tier_rat_ceil", "max_leverage": "50"},
     ["initial margin │ 0.02 of notional (imf_ppm 20000); max 50x", "open interest caps │ 0–0 (no open-interest"]),
    ("drift", "SOL-PERP",
     {"model": "drift", "initial_ratio": "0.1", "maintenance_ratio": "0.05", "imf_factor": "0", "max_leverage": "10"},
     ["initial margin │ 0.1 of notional; max 10x", "maintenance margin │ 0.05 of notional",
      "size premium │ imf_factor 0: no size premium"]),
])
def test_show_gives_the_margin_parameters_of_a_model_without_tiers(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, venue: str, symbol: str,
        margin: dict[str, Any], lines: list[str]) -> None:
    """Found by review: a dydx or drift instrument showed its tick and lot but no margin figure at
    all (only tiered instruments have tiers); the figures are the rules' the engine runs on."""
    rules = load_venue(venue).rules_for(symbol)
    got = json.loads(run(capsys, "venues", "show", venue, "--symbol", symbol, "--json")[1])
    assert got["instrument"]["tiers"] is None and got["instrument"]["margin_parameters"] == margin
    table = rules.maintenance_table(D(0)).tiers[0]
    rate = margin.get("maint_margin_rate", margin.get("maintenance_ratio"))
    assert (D(rate), D(margin["max_leverage"])) == (table.maint_margin_rate, table.max_leverage)
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, "venues", "show", venue, "--symbol", symbol)
    flat = [" ".join(line.replace("│", " │ ").split()) for line in out.splitlines()]
    assert code == 0
    for line in lines:
        assert any(line in row for row in flat), (line, out)
    tiered = json.loads(run(capsys, "venues", "show", "binance-usdm", "--symbol", "BTCUSDT", "--json")[1])
    assert tiered["instrument"]["margin_parameters"] is None and tiered["instrument"]["tiers"]


def test_show_gives_the_caveats_a_profile_states(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by a new-user pass: drift's ratios are protocol test values ("APPROXIMATED", its
    profile's notes say), and `venues show` gave them with no word of it."""
    raw = json.loads((Path(solvent.__file__).parent / "profiles" / "drift.json").read_text("utf-8"))
    assert raw["notes"].startswith("APPROXIMATED")
    got = json.loads(run(capsys, "venues", "show", "drift", "--json")[1])
    assert got["notes"] == raw["notes"]
    monkeypatch.setenv("COLUMNS", "400")
    out = run(capsys, "venues", "show", "drift", "--symbol", "BTC-PERP")[1]
    assert "notes" in out and "APPROXIMATED" in out
    plain_profile = json.loads(run(capsys, "venues", "show", "binance-usdm", "--json")[1])
    assert plain_profile["notes"] == (json.loads((Path(solvent.__file__).parent / "profiles" / "binance-usdm.json")
                                                 .read_text("utf-8")).get("notes") or None)
