"""Issue 9 item 5: each venue's price rule, an honest fallback, and ticks from exchangeInfo.

Expected numbers are hand computations written out beside each assertion.
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from solvent.cli import main
from solvent.errors import InvalidInput
from solvent.risk.exchange_info import load_exchange_info, parse_exchange_info
from solvent.risk.price_rules import PriceRuleKind
from solvent.risk.venues import load_venue, load_venue_file, with_exchange_info

D = Decimal
DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "exchange_info_sample.json"


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_hyperliquid_prices_have_five_significant_figures(capsys: pytest.CaptureFixture[str]) -> None:
    # Hand computation. Hyperliquid BTC, first tier 40x: MMR = 1/(2·40) = 1.25 %. Isolated long
    # 1 @ 60,000 with 3,000 margin: 3,000 + (P − 60,000) = 0.0125 P ⇔ P = 57,000 / 0.9875
    # = 57,721.5189873… (the 40-digit answer of the issue). 5 significant figures (at most
    # 6 − szDecimals 5 = 1 decimal, whole numbers always allowed): step 1, a long's price
    # rounds up → 57,722. Bankruptcy: 3,000 + P − 60,000 = 0 ⇔ P = 57,000 (already on the grid).
    out = _json(capsys, "liq-price", "--venue", "hyperliquid", "--symbol", "BTC", "--side", "long",
                "--qty", "1", "--entry", "60000", "--wallet", "3000")
    assert out["liquidation_price"] == "57722"
    assert out["bankruptcy_price"] == "57000"
    assert out["tick_known"] is True
    assert out["price_rounding"] == "5 significant figures, at most 1 decimals"


def test_hyperliquid_decimals_are_capped_by_size_decimals() -> None:
    # SOL has szDecimals 2, so at most 6 − 2 = 4 decimals. 0.123456: 5 significant figures
    # would keep 0.12346, but 4 decimals allow only 0.1235 (a long's price rounds up) and a
    # short's rounds down to 0.1234.
    profile = load_venue("hyperliquid")
    rule = profile.price_rule(profile.instrument("SOL"))
    assert rule is not None and rule.kind is PriceRuleKind.SIGNIFICANT_FIGURES
    assert rule.round(D("0.123456"), is_long=True) == D("0.1235")
    assert rule.round(D("0.123456"), is_long=False) == D("0.1234")
    # 123.456 at 5 significant figures: step 0.01 → 123.46 up, 123.45 down.
    assert rule.round(D("123.456"), is_long=True) == D("123.46")
    # 1,234,567.8: more than 5 integer digits; whole numbers are always allowed → 1,234,568.
    assert rule.round(D("1234567.8"), is_long=True) == D("1234568")


def test_unknown_tick_is_said_and_rounded_to_eight_significant_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Hand computation. Binance 0GUSDT has no tick in the bundled profile; bracket 1 has
    # MMR 1.5 % (checked below). Isolated long 1,000 @ 1.2345, leverage 10: margin 123.45;
    # 123.45 + 1,000(P − 1.2345) = 0.015·1,000 P ⇔ 985 P = 1,111.05 ⇔ P = 1.12796954…
    # 8 significant figures, a long's up: 1.1279696.
    profile = load_venue("binance-usdm")
    assert profile.rules_for("0GUSDT").maintenance_table(D(1)).tiers[0].maint_margin_rate == D("0.015")
    args = ["liq-price", "--venue", "binance-usdm", "--symbol", "0GUSDT", "--side", "long",
            "--qty", "1000", "--entry", "1.2345", "--leverage", "10"]
    out = _json(capsys, *args)
    assert out["liquidation_price"] == "1.1279696"
    assert out["tick_known"] is False
    assert out["price_rounding"] == "tick unknown: rounded to 8 significant figures"
    assert main(args) == 0
    assert "tick unknown" in capsys.readouterr().out


def test_exchange_info_file_gives_tick_and_lot() -> None:
    steps = load_exchange_info(SAMPLE)
    assert steps["BTCUSDT"].tick_size == D("0.10") and steps["BTCUSDT"].lot_size == D("0.001")
    assert steps["0GUSDT"].tick_size == D("0.0001") and steps["0GUSDT"].lot_size == D("1")
    profile = with_exchange_info(load_venue("binance-usdm"), steps)
    inst = profile.instrument("0GUSDT")
    assert (inst.tick_size, inst.lot_size) == (D("0.0001"), D("1"))
    assert "NOTINPROFILEUSDT" not in profile.instruments
    assert load_venue("binance-usdm").instrument("0GUSDT").tick_size is None  # the bundled one is untouched


def test_profile_takes_ticks_from_its_exchange_info_file(tmp_path: Path) -> None:
    # The same 0GUSDT position as above, now with the tick 0.0001 from the file:
    # P = 1.12796954… rounds up to the tick → 1.1280.
    raw = json.loads((Path(__file__).parents[1] / "src/solvent/profiles/binance-usdm.json").read_text("utf-8"))
    raw["exchange_info"] = "exchange_info_sample.json"
    (tmp_path / "p.json").write_text(json.dumps(raw), "utf-8")
    shutil.copy(SAMPLE, tmp_path / "exchange_info_sample.json")
    profile = load_venue_file(tmp_path / "p.json")
    inst = profile.instrument("0GUSDT")
    assert inst.tick_size == D("0.0001")
    from solvent.calc import assess_account
    from solvent.model import MarginMode, Position, Side

    pos = Position(inst, Side.LONG, D(1000), D("1.2345"), margin_mode=MarginMode.ISOLATED,
                   isolated_margin=D("123.45"))
    report = assess_account(D(0), [pos], [profile.rules_for("0GUSDT")], profile)
    assert report.positions[0].liquidation.price == D("1.1280")
    assert report.positions[0].liquidation.rule is not None
    assert report.positions[0].liquidation.rule.tick_known


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"symbols": [{"symbol": "X", "filters": [{"filterType": "PRICE_FILTER", "tickSize": 0.1}]}]}', "float"),
        ('{"symbols": [{"symbol": "X"}, {"symbol": "X"}]}', "twice"),
        ('{"symbols": [{"symbol": "X", "filters": [{"filterType": "LOT_SIZE", "stepSize": "-1"}]}]}', ">= 0"),
        ('{"symbols": {}}', "symbols"),
        ('{"symbols": [], "symbols": []}', "duplicate"),
    ],
)
def test_bad_exchange_info_is_refused(text: str, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        parse_exchange_info(text)


def test_profile_exchange_info_must_be_a_plain_file_name(tmp_path: Path) -> None:
    raw = json.loads((Path(__file__).parents[1] / "src/solvent/profiles/hyperliquid.json").read_text("utf-8"))
    raw["exchange_info"] = "../elsewhere.json"
    (tmp_path / "p.json").write_text(json.dumps(raw), "utf-8")
    with pytest.raises(InvalidInput, match="file name"):
        load_venue_file(tmp_path / "p.json")
