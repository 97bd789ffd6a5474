"""Liquidation, bankruptcy and margin figures against public worked examples.

Every expected number comes from tests/vectors/public.json (a copy of shared/vectors, each
vector naming its source: Binance, Bybit, BitMEX and Hyperliquid documentation examples,
and peer-engine tests), read by vector id.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from support import D, inverse, linear, vector

from solvent.calc import assess_account
from solvent.model import Instrument, MarginMode, Position, PositionSide, Side
from solvent.portfolio import override_rules
from solvent.risk.rules import MarginRules
from solvent.risk.venues import load_venue


def _close(actual: Decimal | None, expected: str, tolerance: str | None) -> None:
    assert actual is not None
    if tolerance is None:
        assert actual == D(expected)
    else:
        assert abs(actual - D(expected)) <= D(tolerance), (actual, expected)


def _isolated(inst: Instrument, side: str, qty: str, entry: str, margin: Decimal, mark: str | None = None) -> Position:
    return Position(
        inst, Side(side), D(qty), D(entry), mark_price=D(mark) if mark else None,
        margin_mode=MarginMode.ISOLATED, isolated_margin=margin,
    )


def _one_bracket(mmr: str, amount: str = "0") -> MarginRules:
    return override_rules(mmr, amount, "vector")


@pytest.mark.parametrize("vid", ["BN-1", "BN-2", "BN-5", "BN-6"])
def test_binance_isolated_liquidation_price_matches_the_published_example(vid: str) -> None:
    v = vector(vid)
    i = v["inputs"]
    pos = _isolated(linear(), i["side"], i["qty"], i["entry"], D(i["wallet"]))
    report = assess_account(D(0), [pos], [_one_bracket(i["mmr"], i["maint_amount"])], load_venue("binance-usdm"))
    _close(report.positions[0].liquidation.price, v["expected"]["liquidation_price"], v.get("tolerance"))


def test_binance_cross_liquidation_price_holds_the_other_position_at_its_mark() -> None:
    v = vector("BN-3")
    i = v["inputs"]
    positions = []
    rules = []
    for p in i["positions"]:
        inst = linear(p["symbol"])
        positions.append(Position(inst, Side(p["side"]), D(p["qty"]), D(p["entry"]), mark_price=D(p["mark"])))
        rules.append(_one_bracket(p["mmr"], p["maint_amount"]))
    report = assess_account(D(i["wallet"]), positions, rules, load_venue("binance-usdm"))
    eth = next(r for r in report.positions if r.position.instrument.symbol == i["solve_for"])
    _close(eth.liquidation.price, v["expected"]["liquidation_price"], v.get("tolerance"))


@pytest.mark.parametrize("vid", ["BY-1", "BY-2"])
def test_bybit_isolated_liquidation_measures_mm_on_entry_value(vid: str) -> None:
    v = vector(vid)
    i = v["inputs"]
    entry_notional = D(i["qty"]) * D(i["entry"])
    pos = Position(
        linear(), Side(i["side"]), D(i["qty"]), D(i["entry"]), margin_mode=MarginMode.ISOLATED,
        isolated_margin=entry_notional / D(i["leverage"]), leverage=D(i["leverage"]),
    )
    report = assess_account(D(0), [pos], [_one_bracket(i["mmr"], i["maint_amount"])], load_venue("bybit-linear"))
    row = report.positions[0]
    assert row.liquidation.price == D(v["expected"]["liquidation_price"])
    if "initial_margin" in v["expected"]:
        assert row.initial_margin == D(v["expected"]["initial_margin"])
        assert row.maintenance_margin == D(v["expected"]["maintenance_margin"])


def test_bybit_bankruptcy_price_is_entry_less_one_over_leverage() -> None:
    v = vector("BY-3")
    i = v["inputs"]
    pos = Position(
        linear(), Side.LONG, D(i["qty"]), D(i["entry"]), margin_mode=MarginMode.ISOLATED,
        isolated_margin=D(i["qty"]) * D(i["entry"]) / D(i["leverage"]),
    )
    report = assess_account(D(0), [pos], [_one_bracket("0.005")], load_venue("bybit-linear"))
    assert report.positions[0].bankruptcy.price == D(v["expected"]["bankruptcy_price"])


def test_bybit_inverse_prices_round_to_half_a_dollar_against_the_holder() -> None:
    v = vector("BY-11")
    i = v["inputs"]
    inst = inverse("BTCUSD", contract_size=i["contract_size_usd"], tick="0.5")
    entry_value_btc = D(i["contracts"]) * D(i["contract_size_usd"]) / D(i["entry"])
    pos = Position(
        inst, Side.LONG, D(i["contracts"]), D(i["entry"]), margin_mode=MarginMode.ISOLATED,
        isolated_margin=entry_value_btc / D(i["leverage"]),
    )
    report = assess_account(D(0), [pos], [_one_bracket(i["mmr"])], load_venue("bybit-inverse"))
    row = report.positions[0]
    assert row.bankruptcy.price == D(v["expected"]["bankruptcy_price"])
    assert row.liquidation.price == D(v["expected"]["liquidation_price"])


def test_bitmex_cross_liquidation_uses_entry_value_maintenance() -> None:
    v = vector("BX-1")
    i = v["inputs"]
    pos = Position(linear("ETHUSDT"), Side.LONG, D(i["qty"]), D(i["entry"]), leverage=D(i["leverage"]))
    report = assess_account(D(i["wallet"]), [pos], [_one_bracket(i["mmr"])], load_venue("bitmex"))
    row = report.positions[0]
    assert row.liquidation.price == D(v["expected"]["liquidation_price"])
    assert row.bankruptcy.price == D(v["expected"]["bankruptcy_price"])


@pytest.mark.parametrize("vid", ["HL-1", "HL-2"])
def test_hyperliquid_isolated_liquidation_with_the_bundled_btc_tiers(vid: str) -> None:
    v = vector(vid)
    i = v["inputs"]
    profile = load_venue("hyperliquid")
    # max leverage 40 ⇒ maintenance rate 1/80 in the bundled BTC table's first tier
    rules = profile.rules_for("BTC")
    assert rules.max_leverage(D(1), D(i["entry"])) == D(i["max_leverage"])
    pos = _isolated(linear("BTC"), i["side"], i["qty"], i["entry"], D(i["isolated_margin"]), i["mark"])
    report = assess_account(D(0), [pos], [rules], profile)
    _close(report.positions[0].liquidation.price, v["expected"]["liquidation_price"], v.get("tolerance"))


def test_binance_coinm_maintenance_margin_is_in_coin() -> None:
    v = vector("BN-13")
    i = v["inputs"]
    profile = load_venue("binance-coinm")
    inst = profile.instrument("BTCUSD_PERP")
    assert inst.contract_size == D(i["contract_size_usd"])
    pos = Position(inst, Side.LONG, D(i["contracts"]), D(i["mark"]), mark_price=D(i["mark"]))
    assert pos.notional() == D(v["expected"]["notional_coin"])
    report = assess_account(D(1), [pos], [_one_bracket(i["mmr"], i["maint_amount"])], profile)
    assert report.positions[0].maintenance_margin == D(v["expected"]["maintenance_margin_coin"])


def test_hedge_mode_long_and_short_share_one_cross_liquidation_price() -> None:
    # Hand computation. Cross wallet 1,000; hedge mode on a linear instrument with a flat 1 %
    # maintenance rate: LONG 2 @ 100 and SHORT 1 @ 100. Net long 1, so at price P:
    #   equity = 1000 + 2(P − 100) − 1(P − 100) = 900 + P
    #   MM     = 0.01 × (2P + 1P)              = 0.03 P
    # Lower bound: 900 + P = 0.03 P  ⇒  P = −900 / 0.97 < 0: no lower root.
    # Upper bound: none either (f = 900 + 0.97 P > 0 for every P > 0): not liquidatable.
    inst = linear()
    long_ = Position(inst, Side.LONG, D(2), D(100), position_side=PositionSide.LONG)
    short = Position(inst, Side.SHORT, D(1), D(100), position_side=PositionSide.SHORT)
    rules = [_one_bracket("0.01"), _one_bracket("0.01")]
    report = assess_account(D(1000), [long_, short], rules, load_venue("binance-usdm"))
    assert [r.liquidation.price for r in report.positions] == [None, None]
    assert {r.liquidation.reason for r in report.positions} == {"NOT_LIQUIDATABLE"}
    # With a 10 wallet: equity = 10 + P − 100 = P − 90 and MM = 0.03 P ⇒ P = 90 / 0.97.
    report = assess_account(D(10), [long_, short], rules, load_venue("binance-usdm"))
    expected = D(90) / D("0.97")
    for row in report.positions:
        assert row.liquidation.price is not None
        assert abs(row.liquidation.price - expected) < D("1e-30")


def test_nearly_flat_hedge_has_an_upper_and_a_lower_liquidation_price() -> None:
    # Hand computation. Wallet 5; LONG 10 @ 100 and SHORT 9 @ 100, flat 5 % maintenance rate:
    #   equity = 5 + 10(P − 100) − 9(P − 100) = P − 95
    #   MM     = 0.05 × 19 P = 0.95 P
    #   f(P)   = 0.05 P − 95 ⇒ safe only above P = 1900: the mark (100) is far below it, so the
    # account is under water at the mark and the only root is a lower bound at 1,900.
    inst = linear()
    long_ = Position(inst, Side.LONG, D(10), D(100), position_side=PositionSide.LONG)
    short = Position(inst, Side.SHORT, D(9), D(100), position_side=PositionSide.SHORT)
    rules = [_one_bracket("0.05"), _one_bracket("0.05")]
    report = assess_account(D(5), [long_, short], rules, load_venue("binance-usdm"))
    assert report.positions[0].liquidation.lower == D(1900)
    assert report.level == "liquidation" or report.level == "bankrupt"
    # Rates that differ by side make f concave with two roots. Wallet 30, LONG 10 @ 100 at 1 %
    # and SHORT 9 @ 100 at a tiered-looking 20 % (given as one bracket):
    #   f(P) = 30 + (P − 100) − 0.01·10P − 0.20·9P = −70 + P − 0.1P − 1.8P = −70 − 0.9P < 0
    # always: below the requirement at any price.
    rules = [_one_bracket("0.01"), _one_bracket("0.2")]
    report = assess_account(D(30), [long_, short], rules, load_venue("binance-usdm"))
    assert report.positions[0].liquidation.price is None
    assert report.positions[0].liquidation.reason == "BELOW_REQUIREMENT_AT_ANY_PRICE"


def test_a_fully_collateralised_long_is_not_liquidatable() -> None:
    # 1× long, 1 unit at 100 with 100 margin and 0.5 % MM: equity = P ≥ 0.005 P for every P > 0.
    pos = _isolated(linear(), "long", "1", "100", D(100))
    report = assess_account(D(0), [pos], [_one_bracket("0.005")], load_venue("binance-usdm"))
    row = report.positions[0]
    assert row.liquidation.price is None
    assert row.liquidation.reason == "NOT_LIQUIDATABLE"
    assert row.distance_to_liquidation_pct is None
