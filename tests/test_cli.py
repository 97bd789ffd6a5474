"""The ``solvent`` command, driven in-process through ``solvent.cli.main`` (and once for real).

Expected numbers come from the public vectors (/work/shared/vectors/public.json, ids cited)
or from hand arithmetic written out next to them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from solvent.cli import main

D = Decimal
BUNDLED = {"binance-coinm", "binance-usdm", "bitmex", "bybit-inverse", "bybit-linear", "drift",
           "dydx-v4", "hyperliquid"}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    return json.loads(out)


def run_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run a command that must be refused: exit 2, one ``error:`` line on stderr, no traceback."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error:"), err
    assert "Traceback" not in err + out
    return lines[0]


# --------------------------------------------------------------------------- liq-price vectors

BY_1 = ["liq-price", "--venue", "bybit-linear", "--symbol", "BTCUSDT", "--side", "long", "--qty", "1",
        "--entry", "20000", "--leverage", "50", "--mmr", "0.005"]


def test_liq_price_bybit_linear_vector_by_1(capsys: pytest.CaptureFixture[str]) -> None:
    # BY-1: Bybit 'Liquidation Price (USDT Contract)': IM 400, MM 100, LP = 20000 − (400 − 100)/1 = 19700.
    got = run_json(capsys, *BY_1)
    assert D(got["initial_margin"]) == D("400")
    assert D(got["maintenance_margin"]) == D("100")
    assert D(got["liquidation_price"]) == D("19700")
    assert got["venue"] == "bybit-linear"


def test_liq_price_bybit_inverse_vector_by_11(capsys: pytest.CaptureFixture[str]) -> None:
    # BY-11: Bybit ADL article, 5,000 × 1 USD contracts @ 7,890.08, 50×, MMR 0.5 %, 0.5 tick.
    got = run_json(capsys, "liq-price", "--venue", "bybit-inverse", "--symbol", "BTCUSD", "--side", "long",
                   "--qty", "5000", "--entry", "7890.08", "--leverage", "50", "--mmr", "0.005")
    assert D(got["bankruptcy_price"]) == D("7735.50")
    assert D(got["liquidation_price"]) == D("7773.50")


def test_liq_price_hyperliquid_isolated_vector_hl_1(capsys: pytest.CaptureFixture[str]) -> None:
    # HL-1: 1 BTC long @ 100,000, isolated margin 10,000, 40× tier (mmr 1/80 = 0.0125):
    # 10,000 + (P − 100,000) = 0.0125·P ⇒ P = 90,000 / 0.9875 = 91,139.24… Hyperliquid prices
    # have at most 5 significant figures, and a long's price rounds up: 91,140.
    got = run_json(capsys, "liq-price", "--venue", "hyperliquid", "--symbol", "BTC", "--side", "long",
                   "--qty", "1", "--entry", "100000", "--wallet", "10000")
    assert got["liquidation_price"] == "91140"
    assert D(got["bankruptcy_price"]) == D("90000")  # 10,000 + (P − 100,000) = 0


def test_liq_price_override_rate_whose_reciprocal_does_not_terminate(capsys: pytest.CaptureFixture[str]) -> None:
    # BY-1 with --mmr 0.006 (1/0.006 = 166.66…): IM 20,000 / 50 = 400, MM 20,000 × 0.006 = 120,
    # LP = 20,000 − (400 − 120) / 1 = 19,720 (MM on entry value, Bybit).
    argv = [*BY_1[:-1], "0.006"]
    got = run_json(capsys, *argv)
    assert D(got["maintenance_margin"]) == D("120")
    assert D(got["liquidation_price"]) == D("19720")


def test_liq_price_without_json_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(BY_1) == 0
    out, err = capsys.readouterr()
    assert "19700" in out
    assert err == ""


# --------------------------------------------------------------------------- account


def test_account_cross_two_positions_hand_computed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    account = {
        "mode": "cross",
        "wallet": "10000",
        "positions": [
            {"symbol": "BTCUSDT", "side": "long", "qty": "0.5", "entry": "60000", "mark": "58000"},
            {"symbol": "ETHUSDT", "side": "short", "qty": "10", "entry": "3000", "mark": "3100"},
        ],
    }
    path = tmp_path / "account.json"
    path.write_text(json.dumps(account), "utf-8")
    got = run_json(capsys, "account", "--venue", "binance-usdm", "--file", str(path))
    # Binance BTCUSDT and ETHUSDT bracket 1: notional < 300,000, mmr 0.4 %, cum 0, 150×.
    # BTC long:  notional 0.5 × 58,000 = 29,000; PnL 0.5 × (58,000 − 60,000) = −1,000; MM 29,000 × 0.004 = 116
    # ETH short: notional 10 × 3,100 = 31,000;  PnL −10 × (3,100 − 3,000) = −1,000;   MM 31,000 × 0.004 = 124
    # equity = 10,000 − 1,000 − 1,000 = 8,000; MM = 116 + 124 = 240; ratio = 240 / 8,000 = 0.03
    # IM at the tier maximum 150×: (29,000 + 31,000) / 150 = 400
    assert D(got["equity"]) == D("8000")
    assert D(got["maintenance_margin"]) == D("240")
    assert D(got["margin_ratio"]) == D("0.03")
    assert D(got["initial_margin"]) == D("400")
    assert got["level"] == "healthy"
    btc, eth = got["positions"]
    assert D(btc["unrealised_pnl"]) == D(eth["unrealised_pnl"]) == D("-1000")
    assert (D(btc["maintenance_margin"]), D(eth["maintenance_margin"])) == (D("116"), D("124"))
    # BTC liquidation, ETH held at its mark: base = 10,000 + (−1,000) − 124 = 8,876
    #   8,876 + 0.5(P − 60,000) = 0.004 × 0.5P ⇒ 0.498P = 21,124 ⇒ P = 42,417.6706… (tier 1: 21,209)
    #   a long rounds up to the 0.1 tick: 42,417.7
    assert D(btc["liquidation_price"]) == D("42417.7")
    # ETH liquidation, BTC held at its mark: base = 10,000 + (−1,000) − 116 = 8,884
    #   8,884 − 10(P − 3,000) = 0.004 × 10P ⇒ 10.04P = 38,884 ⇒ P = 3,872.9083… (tier 1: 38,729)
    #   a short rounds down to the 0.01 tick: 3,872.90
    assert D(eth["liquidation_price"]) == D("3872.90")


# --------------------------------------------------------------------------- demo, venues


def test_demo_runs_and_writes_a_journal_that_verifies(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    journal = tmp_path / "demo.sqlite"
    assert main(["demo", "--journal", str(journal)]) == 0
    out, err = capsys.readouterr()
    assert out
    assert "Traceback" not in err
    assert journal.is_file()
    assert main(["verify", str(journal)]) == 0


def test_demo_json_has_accounts_and_a_margin_call_table(capsys: pytest.CaptureFixture[str]) -> None:
    got = run_json(capsys, "demo", "--journal", "")
    names = [a["account_id"] for a in got["accounts"]]
    assert len(names) >= 1
    assert set(got["margin_calls"]) == set(names)
    levels = {"warning", "margin_call", "liquidation", "bankrupt"}
    for hits in got["margin_calls"].values():
        assert set(hits) <= levels
        for hit in hits.values():
            assert D(hit["price"]) > 0
            assert hit["minute_utc"].startswith("2025-10-10T")
    assert any(got["margin_calls"].values())  # the crash reaches at least one level somewhere


def test_the_demo_liquidates_every_account_that_reaches_the_liquidation_level(
        capsys: pytest.CaptureFixture[str]) -> None:
    got = run_json(capsys, "demo", "--journal", "")
    reached = {name: hits["liquidation"]["minute_utc"] for name, hits in got["margin_calls"].items()
               if "liquidation" in hits}
    assert reached  # the 2025-10-10 path takes several sample accounts there
    steps = got["liquidations"]
    for name, minute in reached.items():
        mine = [s for s in steps if s["account_id"] == name]
        assert mine and min(s["minute_utc"] for s in mine) >= minute, name
    # every sample position of bob (BTCUSDT and the held ETHUSDT) is closed: a stale ETHUSDT
    # index would have paused his liquidation
    assert {s["symbol"] for s in steps if s["account_id"] == "bob-cross-10x"} == {"BTCUSDT", "ETHUSDT"}
    engine = got["engine"]
    assert engine["liquidation_steps"] == len(steps) and engine["conservation_holds"] is True
    assert D(engine["insurance_fund_start"]) == D(100_000)
    fees = sum((D(s["fee_to_fund"]) for s in steps), D(0))
    assert D(engine["insurance_fund_end"]) <= D(100_000) + fees  # fees in, deficits out


def test_venues_json_lists_the_8_bundled_venues(capsys: pytest.CaptureFixture[str]) -> None:
    got = run_json(capsys, "venues")
    assert {v["name"] for v in got} == BUNDLED
    assert len(got) == 8


# --------------------------------------------------------------------------- bad input


def liq(*overrides: str, drop: tuple[str, ...] = ()) -> list[str]:
    """A valid Binance BTCUSDT command with some options replaced (``--opt=value``) or dropped."""
    opts = {"--venue": "binance-usdm", "--symbol": "BTCUSDT", "--side": "long", "--qty": "1",
            "--entry": "50000", "--leverage": "10"}
    for item in overrides:
        key, _, value = item.partition("=")
        opts[key] = value
    return ["liq-price", *[f"{k}={v}" for k, v in opts.items() if k not in drop]]


def _bracket(floor: str, cap: str, mmr: str, lev: str, cum: str) -> dict[str, str]:
    return {"notional_floor": floor, "notional_cap": cap, "maint_margin_ratio": mmr,
            "initial_leverage": lev, "cum": cum}


BAD_TIERS = {
    "not JSON": "{ this is not json",
    # tier 2 amount must be 300,000 × (0.005 − 0.004) + 0 = 300, not 999
    "broken cum": json.dumps([_bracket("0", "300000", "0.004", "150", "0"),
                              _bracket("300000", "800000", "0.005", "100", "999")]),
    "missing field": json.dumps([{"notional_floor": "0", "notional_cap": "300000", "initial_leverage": "150"}]),
    "empty list": "[]",
}


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(liq("--qty=-1"), id="negative qty"),
        pytest.param(liq("--qty=0"), id="zero qty"),
        pytest.param(liq("--venue=no-such-venue"), id="unknown venue"),
        pytest.param(liq("--symbol=NOSUCHUSDT"), id="unknown symbol"),
        pytest.param(liq("--leverage=200"), id="leverage 200 above the 150x first tier"),
        # 30 BTC × 50,000 = 1.5M notional is tier 3 (800k–3M, 75×): 100× is refused
        pytest.param(liq("--qty=30", "--leverage=100"), id="qty so large the tier allows less leverage"),
        # 100,000 BTC × 50,000 = 5e9, beyond the last cap 1.8e9
        pytest.param(liq("--qty=100000", "--leverage=1"), id="notional beyond the table"),
        pytest.param(liq("--entry=NaN"), id="entry NaN"),
        pytest.param(liq("--entry=Infinity"), id="entry Infinity"),
        pytest.param(liq("--entry=-Infinity"), id="entry -Infinity"),
        pytest.param(liq("--entry=abc"), id="entry abc"),
        pytest.param(liq("--entry=0"), id="entry zero"),
        pytest.param(liq("--wallet=1000"), id="both wallet and leverage"),
        pytest.param(liq(drop=("--leverage",)), id="neither wallet nor leverage"),
        pytest.param(liq("--side=sideways"), id="bad side"),
        pytest.param(liq(drop=("--symbol",)), id="missing required option"),
        pytest.param(liq("--mmr=0.005", "--tiers=x.json"), id="mmr and tiers together"),
        pytest.param(liq("--maint-amount=5"), id="maint amount without mmr"),
        pytest.param(liq("--mmr=1.5"), id="mmr above 1"),
        pytest.param(["account", "--venue", "binance-usdm", "--file", "/nonexistent/account.json"],
                     id="account file that does not exist"),
    ],
)
def test_bad_input_exits_2_with_one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    run_error(capsys, *argv)


@pytest.mark.parametrize("content", BAD_TIERS.values(), ids=list(BAD_TIERS))
def test_malformed_tier_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str) -> None:
    path = tmp_path / "tiers.json"
    path.write_text(content, "utf-8")
    run_error(capsys, *liq(f"--tiers={path}"))


def test_leverage_is_checked_against_the_tier_file_not_the_venue_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The file allows 10× at most; 50× on 50,000 notional must be refused (the venue's own
    # BTCUSDT table would allow it, but --tiers replaces that table).
    path = tmp_path / "tiers.json"
    path.write_text(json.dumps([_bracket("0", "1000000", "0.05", "10", "0")]), "utf-8")
    run_error(capsys, *liq(f"--tiers={path}", "--leverage=50"))


def test_broken_cum_message_names_the_recursion(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "tiers.json"
    path.write_text(BAD_TIERS["broken cum"], "utf-8")
    line = run_error(capsys, *liq(f"--tiers={path}"))
    assert "999" in line and "300" in line


BAD_ACCOUNTS = {
    "unknown top-level field": {"wallet": "1000", "positions": [], "leverage": "10"},
    "unknown position field": {"wallet": "1000", "positions": [
        {"symbol": "BTCUSDT", "side": "long", "qty": "1", "entry": "50000", "size": "1"}]},
    "float wallet": {"wallet": 1000.5, "positions": []},
    "unknown symbol": {"wallet": "1000", "positions": [
        {"symbol": "NOPE", "side": "long", "qty": "1", "entry": "50000"}]},
}


@pytest.mark.parametrize("account", BAD_ACCOUNTS.values(), ids=list(BAD_ACCOUNTS))
def test_bad_account_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path, account: Any) -> None:
    path = tmp_path / "account.json"
    path.write_text(json.dumps(account), "utf-8")
    run_error(capsys, "account", "--venue", "binance-usdm", "--file", str(path))


def test_account_file_that_is_not_json_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "account.json"
    path.write_text("wallet: 1000", "utf-8")
    run_error(capsys, "account", "--venue", "binance-usdm", "--file", str(path))


# --------------------------------------------------------------------------- a real process

SOLVENT = shutil.which("solvent")


@pytest.mark.skipif(SOLVENT is None, reason="the solvent console script is not on PATH")
def test_console_script_vector_by_1_and_a_refusal() -> None:
    assert SOLVENT is not None
    done = subprocess.run([SOLVENT, *BY_1, "--json"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert D(json.loads(done.stdout)["liquidation_price"]) == D("19700")  # BY-1

    bad = subprocess.run([SOLVENT, *liq("--entry=NaN")], capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("error:")
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr + bad.stdout


def test_liq_price_shows_the_isolated_margin_rounded_down_like_every_amount_held(
        capsys: pytest.CaptureFixture[str]) -> None:
    # 60,000 / 7 = 8,571.428571428…: shown to 10^-8, rounded down (what the position holds);
    # IM is what it owes, rounded up: 8,571.42857143
    got = run_json(capsys, "liq-price", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long",
                   "--qty", "1", "--entry", "60000", "--leverage", "7")
    assert got["isolated_margin"] == "8571.42857142"
    assert got["initial_margin"] == "8571.42857143"


def test_the_demos_margin_call_count_is_the_engines(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The summary counts the MarginCall events the journal recorded (it counted every level
    change in a minute that had a margin call)."""
    from solvent.journal import open_journal
    from solvent.journal.codec import decode_record

    journal = tmp_path / "demo.sqlite"
    got = run_json(capsys, "demo", "--journal", str(journal))
    backend = open_journal(str(journal), read_only=True)
    try:
        recorded = sum(1 for stored in backend.records(0) for event in decode_record(stored.payload).events
                       if event["type"] == "MarginCall")
    finally:
        backend.close()
    assert recorded > 0 and got["engine"]["margin_calls"] == recorded
