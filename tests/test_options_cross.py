"""Cross-currency option margin: each coin's group margined alone, converted to the margin
asset, the wallet at its collateral value with haircuts. Expected values by hand."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from solvent.cli import main
from solvent.errors import InvalidInput
from solvent.options import load_option_rules, margin, read_portfolio
from solvent.options.cross import cross_margin, read_cross_portfolio

CROSS = {
    "now": "2026-12-05T08:00:00Z", "margin_asset": "USDC",
    "index": {"BTC": "100000", "ETH": "4000"},
    "wallet": {"USDC": "-20000", "BTC": "1", "ETH": "10"},
    "positions": [
        {"instrument": "BTC-26MAR27-110000-C", "qty": "-2", "mark": "0.01", "vol": "0.6"},
        {"instrument": "ETH_USDC-26MAR27-3500-P", "qty": "-3", "mark": "20", "vol": "0.7"},
    ],
}


def test_standard_margin_across_two_coins_by_hand() -> None:
    """BTC (inverse) short call, 10,000 out of the money at 100,000: IM (max(0.15 − 0.10, 0.10)
    + 0.01) × 2 = 0.22 BTC = 22,000 USDC; MM (0.075 + 0.01) × 2 = 0.17 BTC = 17,000 USDC.
    ETH (linear) short put 500 out of the money at 4,000: IM (max(600 − 500, 400) + 20) × 3 =
    1,260 USDC; MM (max(300, 1.5) + 20) × 3 = 960 USDC. Equity: −20,000 USDC + 1 BTC × 100,000
    × 0.95 + 10 ETH × 4,000 × 0.95 − 0.02 BTC (2,000 USDC) − 60 USDC = 110,940 USDC."""
    report = cross_margin(read_cross_portfolio(CROSS), load_option_rules("deribit-standard"))
    assert (report.maintenance_margin, report.initial_margin) == (Decimal(17_960), Decimal(23_260))
    assert report.equity == Decimal(110_940)
    assert [g.report.settle for g in report.groups] == ["BTC", "USDC"]


def test_portfolio_margin_across_coins_is_the_sum_of_each_coins_alone() -> None:
    report = cross_margin(read_cross_portfolio(CROSS), load_option_rules("deribit-pm"))
    alone = Decimal(0)
    for position, price in ((CROSS["positions"][0], Decimal(100_000)), (CROSS["positions"][1], Decimal(1))):
        single = read_portfolio({"now": CROSS["now"], "index": CROSS["index"], "positions": [position]})
        alone += margin(single, load_option_rules("deribit-pm")).maintenance_margin * price  # exact: no rounding
    assert report.maintenance_margin == alone


@pytest.mark.parametrize(("change", "message"), [
    ({"wallet": {"DOGE": "5"}, "index": {"BTC": "100000", "ETH": "4000", "DOGE": "0.2"}}, "no haircut"),
    ({"index": {"BTC": "100000"}}, "ETH"),
    ({"positions": []}, "no positions"),
    ({"haircuts": {"BTC": "1.5"}}, "haircut"),
    # found by a new-user pass: the one-currency reader's ranges held nowhere here
    ({"wallet": {"USDC": "1e39"}}, r"wallet.USDC 1E\+39 is beyond the largest size"),
    ({"index": {"BTC": "100000", "ETH": "1e39"}}, r"index.ETH 1E\+39 is beyond the largest size"),
    ({"wallet": {"ETH": "1e12"}}, r"wallet.ETH × its index 4.000E\+15 is beyond"),
    ({"index": {"BTC": "100000", "ETH": "4000", "USDC": "0.5"}}, "the margin asset is the unit"),
])
def test_a_bad_cross_portfolio_is_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        cross_margin(read_cross_portfolio({**CROSS, **change}), load_option_rules("deribit-standard"))


def test_a_one_currency_file_that_mixes_coins_points_at_margin_asset() -> None:
    body = {k: v for k, v in CROSS.items() if k not in ("margin_asset", "wallet")}
    with pytest.raises(InvalidInput, match="give margin_asset"):
        read_portfolio(body)


def test_the_cli_margins_a_cross_portfolio(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cross.json"
    path.write_text(json.dumps(CROSS))
    assert main(["options", "margin", "--venue", "deribit-standard", "--file", str(path), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert (body["maintenance_margin"], body["initial_margin"], body["equity"]) == ("17960", "23260", "110940")
    assert [g["maintenance_margin_in_margin_asset"] for g in body["groups"]] == ["17000", "960"]
    assert main(["options", "margin", "--venue", "deribit-pm", "--file", str(path)]) == 0
    assert "cross-currency option margin in USDC" in capsys.readouterr().out
    png = str(tmp_path / "x.png")
    assert main(["options", "margin", "--venue", "deribit-pm", "--file", str(path), "--png", png]) == 2
