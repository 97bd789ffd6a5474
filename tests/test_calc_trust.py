"""Issue 9 items 3, 4 and 6: calculator answers that contradicted the docs or the venue.

Every expected number is a hand computation written out beside the assertion.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import D, linear

from solvent.calc import assess_account
from solvent.calc.price_solver import Leg, NoPriceReason, _exact_value
from solvent.cli import main
from solvent.errors import InvalidInput
from solvent.model import MarginMode, Position, PositionSide, Side
from solvent.portfolio import override_rules, parse_portfolio
from solvent.risk.venues import load_venue


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def _refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("error:"), err
    return err


# ----------------------------------------------------------------- item 4: exact on-tick prices
def test_coinm_liquidation_price_exactly_on_a_tick_is_not_pushed_one_tick_further(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Hand computation. BTCUSD_PERP: 100 USD contracts, bracket 1 MMR 0.4 %, tick 0.1.
    # Long 1 contract at 10,100, leverage 1: isolated margin m = 100 / 10,100 = 1/101 BTC.
    # At price P (BTC): equity = 1/101 + 100·(1/10,100 − 1/P) = 2/101 − 100/P
    #                   MM     = 0.004 · 100/P = 0.4/P
    # equity = MM  ⇔  2/101 = 100.4/P  ⇔  P = 100.4 · 101 / 2 = 5,070.2 exactly (on the tick).
    # Bankruptcy (MM left out): 2/101 = 100/P ⇔ P = 5,050 exactly.
    out = _json(capsys, "liq-price", "--venue", "binance-coinm", "--symbol", "BTCUSD_PERP",
                "--side", "long", "--qty", "1", "--entry", "10100", "--leverage", "1")
    assert out["liquidation_price"] == "5070.2"
    assert out["bankruptcy_price"] == "5050"


def test_coinm_price_just_off_a_tick_still_rounds_against_the_holder(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Hand computation. Same contract, isolated margin 0.01 BTC (not 1/101):
    # equity = 0.01 + 100/10,100 − 100/P and MM = 0.4/P, so
    # P = 100.4 / (0.01 + 1/101) = 100.4 · 101 / 2.01 = 10,140.4 / 2.01 = 5,044.9751…
    # A long's price rounds up: 5,045.0.
    out = _json(capsys, "liq-price", "--venue", "binance-coinm", "--symbol", "BTCUSD_PERP",
                "--side", "long", "--qty", "1", "--entry", "10100", "--wallet", "0.01")
    assert out["liquidation_price"] == "5045"


# -------------------------------------------------- item 3: signed distance, already liquidatable
def _isolated_btc(margin: str, mark: str) -> Position:
    inst = load_venue("binance-usdm").instrument("BTCUSDT")
    return Position(inst, Side.LONG, D(1), D(60000), mark_price=D(mark),
                    margin_mode=MarginMode.ISOLATED, isolated_margin=D(margin))


def test_distance_is_negative_for_a_long_already_past_its_liquidation_price() -> None:
    # Hand computation. BTCUSDT bracket 1: MMR 0.4 %, amount 0, tick 0.1. Isolated long 1 @
    # 60,000 with 3,000 margin: 3,000 + (P − 60,000) = 0.004 P ⇔ P = 57,000 / 0.996
    # = 57,228.915… → rounded up to 57,229.0. Mark 50,000 is below it:
    # distance = (50,000 − 57,229) / 50,000 × 100 = −14.458 %.
    # Isolated equity 3,000 − 10,000 = −7,000 ≤ 0: bankrupt, liquidatable now.
    profile = load_venue("binance-usdm")
    pos = _isolated_btc("3000", "50000")
    report = assess_account(D(0), [pos], [profile.rules_for("BTCUSDT")], profile)
    row = report.positions[0]
    assert row.liquidation.price == D("57229")
    assert row.distance_to_liquidation_pct == D("-14.458")
    assert row.already_liquidatable is True
    assert row.level == "bankrupt"
    assert report.level == "bankrupt"


def test_distance_is_positive_on_the_safe_side_for_a_short() -> None:
    # Hand computation. Flat 1 % bracket, isolated short 1 @ 100 with margin 10:
    # 10 − (P − 100) = 0.01 P ⇔ P = 110 / 1.01 = 108.9108… Mark 100:
    # distance = (108.9108… − 100) / 100 × 100 = 8.9108… % (positive: safe).
    pos = Position(linear(), Side.SHORT, D(1), D(100), margin_mode=MarginMode.ISOLATED, isolated_margin=D(10))
    report = assess_account(D(0), [pos], [override_rules("0.01", "0", "t")], load_venue("binance-usdm"))
    row = report.positions[0]
    expected = (D(110) / D("1.01") - 100) / 100 * 100
    assert row.distance_to_liquidation_pct is not None
    assert abs(row.distance_to_liquidation_pct - expected) < D("1e-30")
    assert row.already_liquidatable is False and row.liquidation_beyond_entry is False


def test_wallet_zero_is_flagged_when_the_price_is_on_the_wrong_side_of_entry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Hand computation. Isolated long 1 BTCUSDT @ 60,000 with 0 margin, mark 70,000:
    # 0 + (P − 60,000) = 0.004 P ⇔ P = 60,000 / 0.996 = 60,240.96… → 60,241.0, above the
    # entry. At the mark, equity 10,000 > MM 280, so it is not liquidatable *now*, but the
    # liquidation price is on the wrong side of entry: flagged.
    args = ["liq-price", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long",
            "--qty", "1", "--entry", "60000", "--wallet", "0", "--mark", "70000"]
    out = _json(capsys, *args)
    assert out["liquidation_price"] == "60241"
    assert out["liquidation_beyond_entry"] is True
    assert out["already_liquidatable"] is False
    assert main(args) == 0
    assert "wrong side of entry" in capsys.readouterr().out


# ------------------------------------------ item 6: isolated level, hedge direction, bad inputs
def test_account_holding_only_an_isolated_position_below_its_mm_is_not_healthy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # Hand computation. Isolated long 1 BTCUSDT @ 60,000, margin 200, mark 60,000:
    # isolated equity 200, MM = 60,000 × 0.4 % = 240 ⇒ 200 ≤ 240: liquidation.
    # Liquidation price: 200 + (P − 60,000) = 0.004 P ⇔ P = 59,800 / 0.996 = 60,040.16…
    # → 60,040.2, above the mark 60,000. The cross account alone (wallet 0, no positions)
    # is healthy; the account as a whole is not.
    f = tmp_path / "a.json"
    f.write_text(json.dumps({"wallet": "0", "positions": [
        {"symbol": "BTCUSDT", "side": "long", "qty": "1", "entry": "60000", "mark": "60000",
         "margin_mode": "isolated", "isolated_margin": "200"}]}))
    out = _json(capsys, "account", "--venue", "binance-usdm", "--file", str(f))
    assert out["level"] == "liquidation"
    assert out["cross_level"] == "healthy"
    pos = out["positions"][0]
    assert pos["level"] == "liquidation"
    assert pos["already_liquidatable"] is True
    assert pos["liquidation_price"] == "60040.2"
    assert pos["distance_to_liquidation_pct"].startswith("-")


def test_hedge_price_is_in_the_direction_of_the_net_position_or_none() -> None:
    # Hand computation. Cross wallet 1,000; LONG 10 @ 100 at a 1 % rate and SHORT 9 @ 100 at
    # 20 % (one bracket each). Net long 1. At price P:
    #   f(P) = 1,000 + 10(P − 100) − 9(P − 100) − 0.01·10P − 0.20·9P = 900 − 0.9 P
    # so the only root is an upper one, P = 1,000 (f falls as P rises). The net position is
    # long: there is no price in its direction, and the counter-direction bound stays in
    # ``upper``.
    inst = linear()
    long_ = Position(inst, Side.LONG, D(10), D(100), position_side=PositionSide.LONG)
    short = Position(inst, Side.SHORT, D(9), D(100), position_side=PositionSide.SHORT)
    rules = [override_rules("0.01", "0", "l"), override_rules("0.2", "0", "s")]
    report = assess_account(D(1000), [long_, short], rules, load_venue("binance-usdm"))
    for row in report.positions:
        assert row.liquidation.price is None
        assert row.liquidation.reason is NoPriceReason.NONE_IN_NET_DIRECTION
        assert row.liquidation.lower is None
        assert row.liquidation.upper == D(1000)
        assert row.distance_to_liquidation_pct is None


def _account(*positions: dict[str, str], mode: str = "hedge") -> dict[str, Any]:
    return {"wallet": "1000", "position_mode": mode, "positions": list(positions)}


def test_hedge_legs_with_two_marks_are_refused() -> None:
    raw = _account(
        {"symbol": "BTCUSDT", "side": "long", "position_side": "long", "qty": "1", "entry": "60000", "mark": "60000"},
        {"symbol": "BTCUSDT", "side": "short", "position_side": "short", "qty": "1", "entry": "60000", "mark": "61000"},
    )
    with pytest.raises(InvalidInput, match="one mark"):
        parse_portfolio(raw, load_venue("binance-usdm"))


def test_hedge_legs_in_two_margin_modes_are_refused() -> None:
    raw = _account(
        {"symbol": "BTCUSDT", "side": "long", "position_side": "long", "qty": "1", "entry": "60000"},
        {"symbol": "BTCUSDT", "side": "short", "position_side": "short", "qty": "1", "entry": "60000",
         "margin_mode": "isolated", "isolated_margin": "1000"},
    )
    with pytest.raises(InvalidInput, match="margin mode"):
        parse_portfolio(raw, load_venue("binance-usdm"))


def test_maint_amount_that_makes_mm_negative_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    # Hand computation. 60,000 notional × 1 % − 1,000 = −400: a negative requirement.
    err = _refused(capsys, "liq-price", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long",
                   "--qty", "1", "--entry", "60000", "--leverage", "10", "--mmr", "0.01", "--maint-amount", "1000")
    assert "maintenance margin negative" in err
    # 60,000 × 1 % − 600 = 0 is allowed (MM 0, not negative).
    out = _json(capsys, "liq-price", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long",
                "--qty", "1", "--entry", "60000", "--leverage", "10", "--mmr", "0.01", "--maint-amount", "600")
    assert out["maintenance_margin"] == "0"


# ------------------------------------------- item 4: the rounded price meets the exact definition
@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([Side.LONG, Side.SHORT]),
    st.integers(1, 400),
    st.integers(10_000, 2_000_000),
    st.integers(1, 100),
)
def test_rounded_inverse_price_is_the_first_tick_inside_the_liquidation_zone(
    side: Side, contracts: int, entry_tenths: int, margin_pct: int
) -> None:
    # Definition (the rounding policy, "against the holder"): a long's liquidation price L is
    # the smallest tick at or above the exact root, i.e. f(L) >= 0 > f(L - tick) where f is
    # equity − MM as an exact rational; a short's U is the largest tick at or below it.
    profile = load_venue("binance-coinm")
    inst = profile.instrument("BTCUSD_PERP")
    entry = D(entry_tenths) / 10
    margin = inst.notional(D(contracts), entry) * margin_pct / 100
    pos = Position(inst, side, D(contracts), entry, margin_mode=MarginMode.ISOLATED, isolated_margin=margin)
    rules = profile.rules_for("BTCUSD_PERP")
    liq = assess_account(D(0), [pos], [rules], profile).positions[0].liquidation
    if liq.price is None:
        return
    tick = inst.tick_size
    assert tick is not None and liq.price % tick == 0
    legs = [Leg(side.sign, pos.qty, entry, inst.contract_size, True, mm_table=rules.maintenance_table(pos.qty))]
    assert _exact_value(margin, legs, liq.price) >= 0
    beyond = liq.price - tick if side is Side.LONG else liq.price + tick
    if beyond > 0:
        assert _exact_value(margin, legs, beyond) < 0


def test_one_way_and_hedge_legs_mixed_without_position_mode_are_refused() -> None:
    # Without "position_mode" the positions decide the mode (docs/account-file.md); a one-way
    # position next to hedge-mode legs is neither mode, and on one symbol it put two longs
    # in one account (BTCUSDT "both" and BTCUSDT "long"), each margined as if the other did not exist.
    for second in ({"symbol": "BTCUSDT", "side": "long", "position_side": "long", "qty": "1", "entry": "60000"},
                   {"symbol": "ETHUSDT", "side": "long", "position_side": "long", "qty": "1", "entry": "3000"}):
        raw = {"wallet": "10000", "positions": [
            {"symbol": "BTCUSDT", "side": "long", "qty": "1", "entry": "60000"}, second]}
        with pytest.raises(InvalidInput, match="one mode"):
            parse_portfolio(raw, load_venue("binance-usdm"))


def test_liq_price_tiers_file_decides_the_leverage_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # --tiers replaces the venue's table, so the leverage a position may take is the file's:
    # one bracket of mmr 0.1 % up to 1,000,000 at 500×. 200× on 60,000 is allowed there (the
    # venue's BTCUSDT table stops at 150×, which used to refuse it before the file was read).
    # Hand computation: margin 300, long 1 at 60,000: 300 + (P − 60,000) = 0.001·P gives
    # P = 59,700 / 0.999 = 59,759.75…, up to the 0.1 tick: 59,759.8.
    tiers = tmp_path / "tiers.json"
    tiers.write_text('[{"notional_floor": "0", "notional_cap": "1000000", "maint_margin_ratio": "0.001", '
                     '"initial_leverage": "500", "cum": "0"}]')
    argv = ["liq-price", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long", "--qty", "1",
            "--entry", "60000", "--tiers", str(tiers)]
    out = _json(capsys, *argv, "--leverage", "200")
    assert out["initial_margin"] == "300" and out["liquidation_price"] == "59759.8"
    # and the file's table also refuses what it does not allow, naming the file
    tiers.write_text('[{"notional_floor": "0", "notional_cap": "1000000", "maint_margin_ratio": "0.01", '
                     '"initial_leverage": "20", "cum": "0"}]')
    assert "tiers.json" in _refused(capsys, *argv, "--leverage", "50")


def test_a_cross_account_without_a_wallet_is_refused_not_read_as_bankrupt() -> None:
    # A cross position draws on the cross wallet; a file that leaves "wallet" out was read as a
    # wallet of 0 and reported "bankrupt" with exit 0 (the adapters already refuse positions with
    # no balance of their settlement asset for this reason). An explicit 0 is still taken, and an
    # account of isolated positions only needs no wallet.
    venue = load_venue("binance-usdm")
    pos = {"symbol": "BTCUSDT", "side": "long", "qty": "1", "entry": "60000"}
    with pytest.raises(InvalidInput, match="'wallet' is missing"):
        parse_portfolio({"positions": [pos]}, venue)
    assert parse_portfolio({"wallet": "0", "positions": [pos]}, venue).assess().level.value == "bankrupt"
    isolated = {**pos, "margin_mode": "isolated", "isolated_margin": "6000"}
    assert parse_portfolio({"positions": [isolated]}, venue).assess().level.value == "healthy"
