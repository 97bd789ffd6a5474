"""Narrow terminals never cut a number (issue 9, item 19).

At 80 columns ``liq-price`` used to print the liquidation price as ``57…``. Every number the
table would show must appear in full in the output at 80 and 60 columns (and at 200).
The expected values are worked out by hand in the comments, not taken from the code.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from solvent.cli import main


@click.command()
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def _entry(argv: tuple[str, ...]) -> None:
    raise SystemExit(main(list(argv)))


def run(columns: int, *argv: str) -> str:
    # TTY_COMPATIBLE makes rich treat the captured output as a terminal of COLUMNS columns,
    # as a user's terminal is; NO_COLOR keeps colour codes out of the captured text.
    env = {"COLUMNS": str(columns), "TTY_COMPATIBLE": "1", "NO_COLOR": "1"}
    result = CliRunner().invoke(_entry, ["--", *argv], env=env)
    assert result.exit_code == 0, result.stderr
    assert "…" not in result.stdout
    return result.stdout


# Bybit linear BY-1 (test_cli.py): long 1 BTC at 20,000, 50x, mmr 0.5 %: IM 400, MM 100,
# LP = 20000 − (400 − 100) / 1 = 19700, bankruptcy 20000 − 400 = 19600.
BY_1 = ["liq-price", "--venue", "bybit-linear", "--symbol", "BTCUSDT", "--side", "long", "--qty", "1",
        "--entry", "20000", "--leverage", "50", "--mmr", "0.005"]

# Hyperliquid isolated long 1 BTC at 60,000, 10x: margin 6,000; BTC max leverage 40 so MM
# rate = 1 / (2 × 40) = 0.0125 of the notional at the liquidation price p:
# 6000 + (p − 60000) = 0.0125 p  →  p = 54000 / 0.9875 = 54683.5443037974683544303797…
# (a long number: how many digits are printed is item 5's business; all of them must show).
HL = ["liq-price", "--venue", "hyperliquid", "--symbol", "BTC", "--side", "long", "--qty", "1.23456789",
      "--entry", "60000.123456789", "--leverage", "10"]


@pytest.mark.parametrize("columns", [200, 80, 60])
def test_liq_price_shows_full_numbers_at_any_width(columns: int) -> None:
    out = run(columns, *BY_1)
    for number in ("19700", "19600", "20000", "400", "100"):
        assert number in out, (number, out)


@pytest.mark.parametrize("columns", [80, 60])
def test_a_long_liquidation_price_is_never_elided(columns: int) -> None:
    as_json = CliRunner().invoke(_entry, ["--", *HL, "--json"])
    assert as_json.exit_code == 0, as_json.stderr
    got = json.loads(as_json.stdout)
    assert got["liquidation_price"].startswith("5468")  # the hand computation above (entry 0.12 higher)
    out = run(columns, *HL)
    for key in ("liquidation_price", "bankruptcy_price", "qty", "entry_price", "initial_margin",
                "maintenance_margin"):
        assert got[key] in out, (key, got[key], out)


@pytest.mark.parametrize("columns", [80, 60])
def test_demo_shows_every_number_of_its_json_in_the_table(columns: int) -> None:
    # Independent source: the demo's own --json (a different code path, no table), compared
    # with what the text view prints at a narrow width: every figure must appear in full.
    as_json = CliRunner().invoke(_entry, ["--", "demo", "--journal", "", "--json"])
    assert as_json.exit_code == 0, as_json.stderr
    got = json.loads(as_json.stdout)
    out = run(columns, "demo", "--journal", "")
    for row in got["accounts"]:
        assert row["account_id"] in out
        for key in ("equity", "maintenance_margin", "initial_margin", "margin_ratio", "liquidation_price",
                    "bankruptcy_price"):
            if row[key] is not None:
                assert row[key] in out, (key, row[key])
    for hits in got["margin_calls"].values():
        for hit in hits.values():
            assert f"{hit['minute_utc'][11:16]} @ {hit['price']}" in out
    assert got["engine"]["state_hash"] in out


@pytest.mark.parametrize("columns", [80, 60])
def test_account_table_keeps_its_numbers(columns: int, tmp_path: Path) -> None:
    # Cross: wallet 12,500; long 1 BTC from 121,000 marked 117,000: equity 12,500 − 4,000 = 8,500;
    # MM = 117,000 × 0.4 % = 468 (binance-usdm BTCUSDT bracket 1).
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"wallet": "12500", "positions": [
        {"symbol": "BTCUSDT", "side": "long", "qty": "1", "entry": "121000", "mark": "117000", "leverage": "10"}]}))
    out = run(columns, "account", "--venue", "binance-usdm", "--file", str(path))
    for number in ("8500", "468", "121000", "117000", "-4000"):
        assert number in out, (number, out)


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_table_wraps_words_but_never_numbers_and_stays_inside_the_width(
    columns: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from solvent.cli.render import table

    monkeypatch.setenv("COLUMNS", str(columns))
    numbers = ["123456789.123456789", "-0.000000012345", "98765432109876543210"]
    words = "a fairly long description that may wrap across several lines of the table"
    table("t", ["name", "first number", "second number", "third number", "detail"],
          [["row-1", *numbers, words], ["row-2", *reversed(numbers), words]])
    out = capsys.readouterr().out
    assert all(len(line) <= columns for line in out.splitlines()), out
    for number in numbers:
        assert number in out, (number, out)
    assert "…" not in out
