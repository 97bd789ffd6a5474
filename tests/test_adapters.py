"""Exchange and ccxt payloads → solvent tier tables and account files (``solvent.adapters``).

Every payload is written in the venue's documented shape (field names and value styles
copied from the pages cited in each adapter's docstring): Binance brackets carry JSON
numbers, Binance and Bybit positions carry decimal strings, ccxt output carries JSON
floats. Each JSON text is read with ``loads_payload``, so numbers stay exact.
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import solvent.adapters as adapters
from solvent.adapters import (
    account_from_binance,
    account_from_bybit,
    account_from_ccxt,
    loads_payload,
    tiers_from_binance,
    tiers_from_bybit,
    tiers_from_ccxt,
)
from solvent.cli import main
from solvent.errors import InvalidInput, InvalidTierTable, UnknownSymbol
from solvent.portfolio import parse_portfolio
from solvent.risk.venues import load_venue

# Binance BTCUSDT brackets 1-4 (the bundled binance-usdm table), as /fapi/v1/leverageBracket sends them
BINANCE_BRACKETS = """[{"symbol": "BTCUSDT", "brackets": [
  {"bracket": 1, "initialLeverage": 150, "notionalCap": 300000, "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0.0},
  {"bracket": 2, "initialLeverage": 100, "notionalCap": 800000, "notionalFloor": 300000, "maintMarginRatio": 0.005, "cum": 300.0},
  {"bracket": 3, "initialLeverage": 75, "notionalCap": 3000000, "notionalFloor": 800000, "maintMarginRatio": 0.0065, "cum": 1500.0},
  {"bracket": 4, "initialLeverage": 50, "notionalCap": 12000000, "notionalFloor": 3000000, "maintMarginRatio": 0.01, "cum": 12000.0}
 ]},
 {"symbol": "ETHUSDT", "notionalCoef": 1.50, "brackets": [
  {"bracket": 1, "initialLeverage": 75, "notionalCap": 10000, "notionalFloor": 0, "maintMarginRatio": 0.0065, "cum": 0.0}]}]"""  # noqa: E501

# Binance COIN-M /dapi/v2/leverageBracket: quantity bands, with the documented "qtylFloor" spelling
BINANCE_COINM_BRACKETS = """[{"symbol": "BTCUSD_PERP", "brackets": [
  {"bracket": 1, "initialLeverage": 125, "qtyCap": 5, "qtylFloor": 0, "maintMarginRatio": 0.004, "cum": 0.0},
  {"bracket": 2, "initialLeverage": 100, "qtyCap": 10, "qtylFloor": 5, "maintMarginRatio": 0.005, "cum": 0.005}]}]"""

# ccxt fetch_leverage_tiers() saved as JSON: floats everywhere, no maintenance amount
CCXT_TIERS = """{"BTC/USDT:USDT": [
  {"tier": 1.0, "currency": "USDT", "minNotional": 0.0, "maxNotional": 300000.0, "maintenanceMarginRate": 0.004, "maxLeverage": 150.0, "info": {}},
  {"tier": 2.0, "currency": "USDT", "minNotional": 300000.0, "maxNotional": 800000.0, "maintenanceMarginRate": 0.005, "maxLeverage": 100.0, "info": {}},
  {"tier": 3.0, "currency": "USDT", "minNotional": 800000.0, "maxNotional": 3000000.0, "maintenanceMarginRate": 0.0065, "maxLeverage": 75.0, "info": {}}]}"""  # noqa: E501

# Bybit /v5/market/risk-limit, linear BTCUSDT (the bundled bybit-linear table); caps only
BYBIT_RISK_LIMIT = """{"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": [
  {"id": 1, "symbol": "BTCUSDT", "riskLimitValue": "2000000", "maintenanceMargin": "0.005", "initialMargin": "0.01", "isLowestRisk": 1, "maxLeverage": "100.00", "mmDeduction": ""},
  {"id": 2, "symbol": "BTCUSDT", "riskLimitValue": "2600000", "maintenanceMargin": "0.0056", "initialMargin": "0.0111", "isLowestRisk": 0, "maxLeverage": "90.00", "mmDeduction": "1200"},
  {"id": 3, "symbol": "BTCUSDT", "riskLimitValue": "3200000", "maintenanceMargin": "0.0063", "initialMargin": "0.0125", "isLowestRisk": 0, "maxLeverage": "80.00", "mmDeduction": "3020"}
 ]}, "retExtInfo": {}, "time": 1672054488010}"""  # noqa: E501


def test_public_api_is_the_adapters_list() -> None:
    assert set(adapters.__all__) == {
        "account_from_binance", "account_from_bybit", "account_from_ccxt", "ccxt_symbol", "loads_payload",
        "tiers_from_binance", "tiers_from_bybit", "tiers_from_ccxt"}


def test_json_numbers_are_read_exactly_never_through_float() -> None:
    assert loads_payload('{"x": 0.1, "n": 3}') == {"x": D("0.1"), "n": 3}
    assert str(loads_payload("[0.30000000000000004]")[0]) == "0.30000000000000004"
    with pytest.raises(InvalidInput, match="NaN"):
        loads_payload('{"x": NaN}')


# --- tier tables -----------------------------------------------------------------------------

def test_binance_brackets_give_the_bracket_formula() -> None:
    table = tiers_from_binance(loads_payload(BINANCE_BRACKETS), "BTCUSDT")
    # 1,000,000 is in bracket 3: 1,000,000 × 0.65 % − 1,500 = 5,000
    assert table.maintenance_margin(D(1_000_000)) == D(5000)
    # 100,000 in bracket 1: 100,000 × 0.4 % = 400
    assert table.maintenance_margin(D(100_000)) == D(400)
    assert table.tiers[2].maint_margin_rate == D("0.0065") and table.max_notional == D(12_000_000)


def test_binance_single_symbol_response_is_one_object() -> None:
    one = loads_payload(BINANCE_BRACKETS)[1]  # what the endpoint sends when a symbol is given
    table = tiers_from_binance(one, "ETHUSDT")
    assert table.maintenance_margin(D(10_000)) == D(65)  # 10,000 × 0.65 %


def test_binance_cum_that_breaks_continuity_is_refused() -> None:
    text = BINANCE_BRACKETS.replace('"cum": 300.0', '"cum": 301.0')
    with pytest.raises(InvalidTierTable, match=r"tier 2 maintenance amount 301\.0 breaks MM continuity"):
        tiers_from_binance(loads_payload(text), "BTCUSDT")


def test_binance_coinm_quantity_brackets() -> None:
    table = tiers_from_binance(loads_payload(BINANCE_COINM_BRACKETS), "BTCUSD_PERP")
    # 8 BTC of notional: 8 × 0.5 % − 0.005 = 0.035
    assert table.maintenance_margin(D(8)) == D("0.035")


def test_binance_unknown_symbol_and_missing_field() -> None:
    with pytest.raises(InvalidTierTable, match="no symbol 'SOLUSDT'"):
        tiers_from_binance(loads_payload(BINANCE_BRACKETS), "SOLUSDT")
    text = BINANCE_BRACKETS.replace('"maintMarginRatio": 0.005, ', "")
    with pytest.raises(InvalidInput, match=r"binance leverageBracket\[0\]\.brackets\[1\]\.maintMarginRatio: missing"):
        tiers_from_binance(loads_payload(text), "BTCUSDT")


def test_ccxt_tiers_recompute_the_maintenance_amount() -> None:
    table = tiers_from_ccxt(loads_payload(CCXT_TIERS), "BTC/USDT:USDT")
    # amounts from the recursion: 300,000 × (0.005 − 0.004) = 300; 800,000 × 0.0015 + 300 = 1,500
    assert [t.maint_amount for t in table.tiers] == [D(0), D(300), D(1500)]
    assert table.maintenance_margin(D(1_000_000)) == D(5000)  # as Binance's own bracket 3
    one_symbol = loads_payload(CCXT_TIERS)["BTC/USDT:USDT"]  # fetch_market_leverage_tiers
    assert tiers_from_ccxt(one_symbol, "BTC/USDT:USDT") == table


def test_ccxt_tiers_refuse_floats_handed_in_from_python() -> None:
    tiers = [{"tier": 1, "minNotional": 0, "maxNotional": 300000, "maintenanceMarginRate": 0.004, "maxLeverage": 150}]
    with pytest.raises(InvalidInput, match=r"ccxt leverage tiers\[0\]\.maintenanceMarginRate must be .* not float"):
        tiers_from_ccxt(tiers, "BTC/USDT:USDT")


def test_bybit_caps_become_floors_and_amounts_are_recomputed() -> None:
    table = tiers_from_bybit(loads_payload(BYBIT_RISK_LIMIT), "BTCUSDT")
    assert [t.floor_notional for t in table.tiers] == [D(0), D(2_000_000), D(2_600_000)]
    # tier 1's mmDeduction is "" so all are recomputed: 2,000,000 × 0.0006 = 1,200 (as Bybit's)
    assert table.tiers[1].maint_amount == D(1200)
    # 2,300,000 in tier 2: 2,300,000 × 0.56 % − 1,200 = 11,680
    assert table.maintenance_margin(D(2_300_000)) == D(11680)


def test_bybit_given_deductions_are_checked() -> None:
    text = BYBIT_RISK_LIMIT.replace('"mmDeduction": ""', '"mmDeduction": "0"')
    assert tiers_from_bybit(loads_payload(text), "BTCUSDT").tiers[2].maint_amount == D(3020)
    with pytest.raises(InvalidTierTable, match="breaks MM continuity"):
        tiers_from_bybit(loads_payload(text.replace('"3020"', '"3000"')), "BTCUSDT")


def test_bybit_error_response_is_refused() -> None:
    with pytest.raises(InvalidInput, match="retCode 10001: params error"):
        tiers_from_bybit({"retCode": 10001, "retMsg": "params error", "result": {}}, "BTCUSDT")


# --- accounts ----------------------------------------------------------------------------------

BINANCE_POSITION_RISK = """[
 {"symbol": "BTCUSDT", "positionAmt": "0.500", "entryPrice": "60000.0", "breakEvenPrice": "60030.0",
  "markPrice": "58000.00000000", "unRealizedProfit": "-1000.00000000", "liquidationPrice": "41000",
  "leverage": "10", "maxNotionalValue": "80000000", "marginType": "cross", "isolatedMargin": "0.00000000",
  "isAutoAddMargin": "false", "positionSide": "BOTH", "notional": "29000", "isolatedWallet": "0", "updateTime": 1655217461579},
 {"symbol": "ETHUSDT", "positionAmt": "-2.000", "entryPrice": "4000.00", "breakEvenPrice": "4002.0",
  "markPrice": "4100.00000000", "unRealizedProfit": "-200.00000000", "liquidationPrice": "4350",
  "leverage": "10", "maxNotionalValue": "20000000", "marginType": "isolated", "isolatedMargin": "600.00000000",
  "isAutoAddMargin": "false", "positionSide": "BOTH", "notional": "-8200", "isolatedWallet": "800", "updateTime": 1655217461579},
 {"symbol": "SOLUSDT", "positionAmt": "0.0", "entryPrice": "0.0", "breakEvenPrice": "0.0", "markPrice": "150.1",
  "unRealizedProfit": "0.00000000", "liquidationPrice": "0", "leverage": "20", "maxNotionalValue": "25000",
  "marginType": "cross", "isolatedMargin": "0.00000000", "isAutoAddMargin": "false", "positionSide": "BOTH",
  "notional": "0", "isolatedWallet": "0", "updateTime": 0}]"""  # noqa: E501

BINANCE_ACCOUNT = """{"totalWalletBalance": "10800.00000000", "totalUnrealizedProfit": "-1200.00000000",
 "assets": [{"asset": "USDT", "walletBalance": "10800.00000000", "unrealizedProfit": "-1200.00000000",
             "marginBalance": "9600.00000000", "maintMargin": "0", "initialMargin": "0",
             "availableBalance": "7000", "maxWithdrawAmount": "7000", "updateTime": 1625474304765}]}"""


def test_binance_account_assessed_by_parse_portfolio() -> None:
    raw = account_from_binance(loads_payload(BINANCE_POSITION_RISK), loads_payload(BINANCE_ACCOUNT))
    assert raw["wallet"] == "10000"  # walletBalance 10,800 less the ETH isolated wallet of 800
    assert [p["symbol"] for p in raw["positions"]] == ["BTCUSDT", "ETHUSDT"]  # SOLUSDT (size 0) skipped
    assert raw["positions"][1] | {} == {"symbol": "ETHUSDT", "side": "short", "qty": "2", "entry": "4000",
                                       "mark": "4100", "position_side": "both", "margin_mode": "isolated",
                                       "leverage": "10", "isolated_margin": "800"}
    report = parse_portfolio(raw, load_venue("binance-usdm")).assess()
    # cross equity: 10,000 + 0.5 × (58,000 − 60,000) = 9,000; the isolated short draws on its own 800
    assert report.positions[0].unrealised_pnl == D(-1000)
    # cross MM: 29,000 × 0.4 % = 116
    assert report.positions[0].maintenance_margin == D(116)
    assert report.positions[1].unrealised_pnl == D(-200)  # −2 × (4,100 − 4,000)


def test_binance_hedge_mode_and_cross_wallet_field() -> None:
    rows = loads_payload(BINANCE_POSITION_RISK)[:1]
    rows[0]["positionSide"] = "LONG"
    account = {"assets": [{"asset": "USDT", "walletBalance": "12000", "crossWalletBalance": "11500"}]}
    raw = account_from_binance(rows, account)
    assert raw["position_mode"] == "hedge" and raw["positions"][0]["position_side"] == "long"
    assert raw["wallet"] == "11500"


@pytest.mark.parametrize(("change", "message"), [
    ({"entryPrice": 60000.5}, r"binance positionRisk\[0\]\.entryPrice must be a decimal string or integer, not float"),
    ({"markPrice": None}, r"binance positionRisk\[0\]\.markPrice: missing field"),
    ({"positionAmt": True}, r"binance positionRisk\[0\]\.positionAmt must be .* not bool"),
    ({"entryPrice": "NaN"}, r"binance positionRisk\[0\]\.entryPrice must be finite"),
    ({"positionSide": "BUY"}, r"binance positionRisk\[0\]\.positionSide: expected BOTH, LONG or SHORT"),
], ids=["a Python float price", "a missing mark", "a boolean size", "a NaN string", "an unknown position side"])
def test_binance_bad_fields_name_their_path(change: dict[str, Any], message: str) -> None:
    rows = loads_payload(BINANCE_POSITION_RISK)
    rows[0].update(change)
    with pytest.raises(InvalidInput, match=message):
        account_from_binance(rows, loads_payload(BINANCE_ACCOUNT))


@pytest.mark.parametrize(("change", "message"), [
    ({"leverage": "7.5"}, r"binance positionRisk\[1\]\.leverage: 7\.5 is not a multiple of 1"),
    ({"isolatedWallet": "-5"}, r"binance positionRisk\[1\]"),
])
def test_a_refusal_names_the_payloads_row_when_a_zero_row_comes_first(change: dict[str, Any], message: str) -> None:
    """Found by a new-user pass: with the zero-size SOLUSDT row first (skipped), the ETHUSDT row's
    refusal named ``positions[0]``, its place among the positions kept, not the payload's row."""
    rows = loads_payload(BINANCE_POSITION_RISK)
    rows = [rows[2], rows[1]]  # SOLUSDT (size 0), then ETHUSDT (isolated)
    rows[1].update(change)
    with pytest.raises(InvalidInput, match=message):
        account_from_binance(rows, loads_payload(BINANCE_ACCOUNT))


def test_binance_unknown_symbol_is_refused() -> None:
    rows = loads_payload(BINANCE_POSITION_RISK)
    rows[0]["symbol"] = "NOSUCHUSDT"
    with pytest.raises(UnknownSymbol, match="venue binance-usdm has no symbol 'NOSUCHUSDT'"):
        account_from_binance(rows, loads_payload(BINANCE_ACCOUNT))


# ccxt fetch_positions() / fetch_balance() saved as JSON (floats, as ccxt returns numbers)
CCXT_POSITIONS = """[
 {"info": {}, "id": null, "symbol": "BTC/USDT:USDT", "timestamp": 1700000000000, "datetime": "2023-11-14T22:13:20.000Z",
  "initialMargin": 305.0, "initialMarginPercentage": 0.05, "maintenanceMargin": 24.4, "maintenanceMarginPercentage": 0.004,
  "entryPrice": 60000.0, "notional": 6100.0, "leverage": 20.0, "unrealizedPnl": -100.0, "contracts": 0.1,
  "contractSize": 1.0, "marginRatio": 0.005, "liquidationPrice": 108000.0, "markPrice": 61000.0, "collateral": 4900.0,
  "marginMode": "cross", "side": "short", "hedged": false, "percentage": -32.8},
 {"info": {}, "symbol": "ETH/USDT:USDT", "contracts": 0.0, "contractSize": 1.0, "entryPrice": null, "markPrice": 4100.0,
  "side": null, "marginMode": "cross", "hedged": false}]"""  # noqa: E501

CCXT_BALANCE = """{"info": {}, "USDT": {"free": 4595.0, "used": 305.0, "total": 5000.0},
 "free": {"USDT": 4595.0}, "used": {"USDT": 305.0}, "total": {"USDT": 5000.0}}"""


def test_ccxt_account_maps_unified_symbols_to_the_profile() -> None:
    raw = account_from_ccxt(loads_payload(CCXT_POSITIONS), loads_payload(CCXT_BALANCE), load_venue("binance-usdm"))
    assert raw["wallet"] == "5000"
    assert raw["positions"] == [{"symbol": "BTCUSDT", "side": "short", "qty": "0.1", "entry": "60000",
                                 "mark": "61000", "position_side": "both", "margin_mode": "cross",
                                 "leverage": "20"}]  # the zero-size ETH row is skipped
    report = parse_portfolio(raw, load_venue("binance-usdm")).assess()
    assert report.equity == D(4900)  # 5,000 + 0.1 × (60,000 − 61,000)
    assert report.maintenance_margin == D("24.4")  # 6,100 × 0.4 %


def test_ccxt_inverse_contracts_keep_their_count() -> None:
    positions = [{"symbol": "BTC/USD:BTC", "side": "long", "contracts": 10, "contractSize": 100,
                  "entryPrice": "50000", "markPrice": "52000", "marginMode": "isolated",
                  "collateral": "0.0215384615", "unrealizedPnl": "0.0015384615"}]
    raw = account_from_ccxt(positions, {"total": {"BTC": "0.1"}}, load_venue("binance-coinm"))
    position = raw["positions"][0]
    # 10 contracts of 100 USD; the isolated margin is collateral − unrealised PnL = 0.02 BTC
    assert (position["symbol"], position["qty"], position["isolated_margin"]) == ("BTCUSD_PERP", "10", "0.02")
    assert raw["wallet"] == "0.08"  # 0.1 total less the isolated 0.02


def test_ccxt_unknown_symbol_is_refused() -> None:
    positions = loads_payload(CCXT_POSITIONS)
    positions[0]["symbol"] = "BTC/EUR:EUR"
    with pytest.raises(UnknownSymbol, match=r"ccxt positions\[0\]\.symbol: venue binance-usdm has no perpetual"):
        account_from_ccxt(positions, loads_payload(CCXT_BALANCE), load_venue("binance-usdm"))
    positions[0]["symbol"] = "BTC/USDT:USDT-251226"
    with pytest.raises(UnknownSymbol, match="dated future"):
        account_from_ccxt(positions, loads_payload(CCXT_BALANCE), load_venue("binance-usdm"))


# Bybit /v5/position/list and /v5/account/wallet-balance (UTA), numbers as strings
BYBIT_POSITIONS = """{"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "nextPageCursor": "", "list": [
 {"positionIdx": 0, "riskId": 1, "riskLimitValue": "2000000", "symbol": "BTCUSDT", "side": "Buy", "size": "0.100",
  "avgPrice": "60000", "positionValue": "6000", "tradeMode": 0, "autoAddMargin": 0, "positionStatus": "Normal",
  "leverage": "10", "markPrice": "59000.00", "liqPrice": "", "bustPrice": "", "positionIM": "600", "positionMM": "30",
  "unrealisedPnl": "-100", "cumRealisedPnl": "0", "createdTime": "1676538056258", "updatedTime": "1697673600012"},
 {"positionIdx": 0, "riskId": 1, "symbol": "BTCUSDT", "side": "", "size": "0", "avgPrice": "0", "tradeMode": 0,
  "leverage": "10", "markPrice": "59000.00", "positionIM": "0"}]}, "retExtInfo": {}, "time": 1697684980172}"""

BYBIT_WALLET = """{"retCode": 0, "retMsg": "OK", "result": {"list": [{"accountType": "UNIFIED", "totalEquity": "900",
 "coin": [{"coin": "USDT", "equity": "900", "walletBalance": "1000", "unrealisedPnl": "-100", "locked": "0"}]}]},
 "retExtInfo": {}, "time": 1690872862481}"""


def test_bybit_account_assessed() -> None:
    raw = account_from_bybit(loads_payload(BYBIT_POSITIONS), loads_payload(BYBIT_WALLET))
    assert raw["wallet"] == "1000" and len(raw["positions"]) == 1  # the empty row (side "") is skipped
    report = parse_portfolio(raw, load_venue("bybit-linear")).assess()
    assert report.equity == D(900)  # 1,000 + 0.1 × (59,000 − 60,000)
    # bybit-linear measures MM on the entry value (mm_basis "entry"): 6,000 × 0.5 % = 30
    assert report.maintenance_margin == D(30)


def test_bybit_isolated_and_hedge_rows() -> None:
    payload = loads_payload(BYBIT_POSITIONS)
    payload["result"]["list"][0].update({"tradeMode": 1, "positionIdx": 1})
    raw = account_from_bybit(payload, loads_payload(BYBIT_WALLET))
    assert raw["position_mode"] == "hedge" and raw["positions"][0]["isolated_margin"] == "600"
    assert raw["wallet"] == "400"  # the wallet balance holds the isolated margin: 1,000 − 600


def test_bybit_missing_field_names_its_path() -> None:
    payload = loads_payload(BYBIT_POSITIONS)
    del payload["result"]["list"][0]["avgPrice"]
    with pytest.raises(InvalidInput, match=r"bybit position/list\.result\.list\[0\]\.avgPrice: missing field"):
        account_from_bybit(payload, loads_payload(BYBIT_WALLET))


# --- CLI ----------------------------------------------------------------------------------------

def test_open_positions_without_a_balance_of_their_asset_are_refused() -> None:
    # a wallet of 0 would have shown these accounts bankrupt
    with pytest.raises(InvalidInput, match="no USDT balance, the asset the positions settle in"):
        account_from_binance(loads_payload(BINANCE_POSITION_RISK), {"assets": [{"asset": "BNB", "walletBalance": "3"}]})
    empty = {"retCode": 0, "retMsg": "OK", "result": {"list": []}}
    with pytest.raises(InvalidInput, match="no USDT balance"):
        account_from_bybit(loads_payload(BYBIT_POSITIONS), empty)
    with pytest.raises(InvalidInput, match="no USDT balance"):
        account_from_ccxt(loads_payload(CCXT_POSITIONS), {"info": {}, "total": {"USDT": None}},
                          load_venue("binance-usdm"))


def test_a_size_with_a_sign_against_its_side_is_refused() -> None:
    payload = loads_payload(BYBIT_POSITIONS)
    payload["result"]["list"][0]["size"] = "-0.1"          # Bybit sizes are unsigned, the side says which way
    with pytest.raises(InvalidInput, match=r"size: expected a size >= 0"):
        account_from_bybit(payload, loads_payload(BYBIT_WALLET))
    positions = loads_payload(CCXT_POSITIONS)
    positions[0]["contracts"] = D("-0.1")
    with pytest.raises(InvalidInput, match=r"contracts: expected a count >= 0"):
        account_from_ccxt(positions, loads_payload(CCXT_BALANCE), load_venue("binance-usdm"))


def test_an_asset_listed_twice_is_refused() -> None:
    account = {"assets": [{"asset": "USDT", "walletBalance": "10800"}, {"asset": "USDT", "walletBalance": "1"}]}
    with pytest.raises(InvalidInput, match=r"assets\[1\]: asset USDT listed twice"):
        account_from_binance(loads_payload(BINANCE_POSITION_RISK), account)


def test_ccxt_reads_the_wallet_from_binances_own_fields_when_info_carries_them() -> None:
    # ccxt's ``total`` for Binance USDⓈ-M futures may be the margin balance (wallet + unrealised
    # PnL); the account response in ``info`` says the wallet itself: crossWalletBalance 5,000
    balance = {"info": {"assets": [{"asset": "USDT", "walletBalance": "5000", "crossWalletBalance": "5000",
                                    "marginBalance": "4900"}]},
               "total": {"USDT": 4900.0}}
    raw = account_from_ccxt(loads_payload(CCXT_POSITIONS), balance, load_venue("binance-usdm"))
    assert raw["wallet"] == "5000"
    report = parse_portfolio(raw, load_venue("binance-usdm")).assess()
    assert report.equity == D(4900)  # 5,000 + 0.1 × (60,000 − 61,000): the PnL counted once


def test_ccxt_reads_bybits_wallet_balance_when_info_carries_it() -> None:
    balance = {"info": loads_payload(BYBIT_WALLET), "total": {"USDT": "900"}}
    raw = account_from_ccxt(loads_payload(CCXT_POSITIONS), balance, load_venue("bybit-linear"))
    assert raw["wallet"] == "1000"


@click.command()
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def _entry(argv: tuple[str, ...]) -> None:
    raise SystemExit(main(list(argv)))


def _run(argv: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(_entry, ["--", *argv], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_cli_account_reads_binance_responses(tmp_path: Path) -> None:
    doc = f'{{"positions": {BINANCE_POSITION_RISK}, "balance": {BINANCE_ACCOUNT}}}'
    code, out, err = _run(["account", "--venue", "binance-usdm", "--file", _write(tmp_path, "a.json", doc),
                           "--format", "binance", "--json"])
    assert code == 0, err
    payload = json.loads(out)
    assert payload["wallet"] == "10000" and payload["positions"][0]["maintenance_margin"] == "116"


def test_cli_account_reads_ccxt_and_bybit_responses(tmp_path: Path) -> None:
    doc = f'{{"positions": {CCXT_POSITIONS}, "balance": {CCXT_BALANCE}}}'
    code, out, err = _run(["account", "--venue", "binance-usdm", "--file", _write(tmp_path, "c.json", doc),
                           "--format", "ccxt", "--json"])
    assert code == 0, err
    assert json.loads(out)["equity"] == "4900"
    doc = f'{{"positions": {BYBIT_POSITIONS}, "balance": {BYBIT_WALLET}}}'
    code, out, err = _run(["account", "--venue", "bybit-linear", "--file", _write(tmp_path, "b.json", doc),
                           "--format", "bybit", "--json"])
    assert code == 0, err
    assert json.loads(out)["equity"] == "900"


def test_cli_liq_price_with_exchange_tiers(tmp_path: Path) -> None:
    common = ["liq-price", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long", "--qty", "20",
              "--entry", "50000", "--leverage", "50", "--json"]
    for fmt, text in (("binance", BINANCE_BRACKETS), ("ccxt", CCXT_TIERS)):
        code, out, err = _run([*common, "--tiers", _write(tmp_path, f"{fmt}.json", text), "--tiers-format", fmt])
        assert code == 0, err
        # notional 1,000,000 is in bracket 3: maintenance amount 1,500
        assert json.loads(out)["tier"]["maint_amount"] == "1500"


@pytest.mark.parametrize(("argv_tail", "expected"), [
    (["--format", "ccxt"], "exactly 'positions' and 'balance'"),
    (["--format", "binance"], "exactly 'positions' and 'balance'"),
], ids=["a ccxt file without balance", "a binance file without balance"])
def test_cli_bad_exchange_file_exits_2(tmp_path: Path, argv_tail: list[str], expected: str) -> None:
    path = _write(tmp_path, "a.json", f'{{"positions": {CCXT_POSITIONS}}}')
    code, _, err = _run(["account", "--venue", "binance-usdm", "--file", path, *argv_tail])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0]


def test_cli_tiers_format_needs_tiers_and_bad_field_exits_2(tmp_path: Path) -> None:
    base = ["liq-price", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long", "--qty", "1",
            "--entry", "50000", "--leverage", "10"]
    code, _, err = _run([*base, "--tiers-format", "binance"])
    assert code == 2 and err.strip() == "error: --tiers-format needs --tiers"
    bad = BYBIT_RISK_LIMIT.replace('"maintenanceMargin": "0.0056"', '"maintenanceMargin": true')
    code, _, err = _run([*base, "--tiers", _write(tmp_path, "t.json", bad), "--tiers-format", "bybit"])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert "bybit risk-limit.result.list[1].maintenanceMargin must be a decimal string or integer, not bool" in lines[0]
