"""``solvent options price`` and ``solvent options margin``: JSON that names what the issue
asks for, the bundled demo, and bad input refused in one line (exit 2)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from solvent.cli import main

ISSUE_EXAMPLE = {"now": "2026-12-27T08:00:00Z", "wallet": {"BTC": "10"}, "index": {"BTC": "100000"},
                 "positions": [{"instrument": "BTC-27MAR27-130000-C", "qty": "-1", "mark": "0.01", "vol": "0.6"}]}


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_price_prints_tv06_in_usd_and_coin(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["options", "price", "--forward", "100000", "--strike", "110000", "--vol", "0.6",
                         "--expiry-days", "30", "--type", "call", "--inverse", "--json"], capsys)
    body = json.loads(out)
    assert code == 0
    assert round(float(body["price"]), 6) == 3270.260505 and round(float(body["price_coin"]), 8) == 0.03270261
    assert round(float(body["delta"]), 8) == 0.31986569 and round(float(body["delta_coin"]), 8) == 0.28716308
    code, out, _ = _run(["options", "price", "--forward", "100000", "--strike", "110000", "--premium", "3270.260505",
                         "--expiry-days", "30", "--type", "call", "--json"], capsys)
    assert code == 0 and float(json.loads(out)["vol"]) == pytest.approx(0.6, abs=1e-8)
    code, out, _ = _run(["options", "price", "--forward", "100000", "--strike", "110000", "--vol", "0.6",
                         "--expiry-days", "30", "--type", "put"], capsys)
    assert code == 0 and "theta (per day)" in out


def test_margin_of_the_issues_example_names_mm_and_im(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A short 130,000 call at index 100,000, mark 0.01 BTC: standard IM max(0.15 − 0.30, 0.10)
    + 0.01 = 0.11 BTC and MM 0.075 + 0.01 = 0.085 BTC; equity 10 − 0.01 = 9.99 BTC."""
    path = tmp_path / "portfolio.json"
    path.write_text(json.dumps(ISSUE_EXAMPLE))
    code, out, _ = _run(["options", "margin", "--venue", "deribit-standard", "--file", str(path), "--json"], capsys)
    body = json.loads(out)
    assert code == 0
    assert (body["initial_margin"], body["maintenance_margin"], body["equity"]) == ("0.11", "0.085", "9.99")
    png = tmp_path / "matrix.png"
    code, out, _ = _run(["options", "margin", "--venue", "deribit-pm", "--file", str(path), "--json", "--png",
                         str(png)], capsys)
    body = json.loads(out)
    assert code == 0 and png.read_bytes().startswith(b"\x89PNG")
    assert len(body["scenarios"]) == 9 * 3 + 8
    assert body["contingencies"]["net_short_options"] == "0.01"
    worst = min(Decimal(s["pnl"]) for s in body["scenarios"])
    assert Decimal(body["worst_scenario"]["pnl"]) == worst
    # MM = the worst loss + the contingency, rounded up to the satoshi (the P&L shown rounded down)
    assert Decimal(body["maintenance_margin"]) == -worst + Decimal("0.01")


def test_the_demo_runs_on_every_bundled_rule_set(capsys: pytest.CaptureFixture[str]) -> None:
    for rules in ("deribit-standard", "deribit-pm", "span-16"):
        for demo in ("calm", "crash"):
            code, out, err = _run(["options", "margin", "--venue", rules, "--demo", demo], capsys)
            assert code == 0, err
            assert "maintenance margin" in out


@pytest.mark.parametrize(("extra", "message"), [
    (["--venue", "okx-pm", "--demo", "calm"], "unknown option rules"),
    (["--venue", "deribit-pm"], "--file PORTFOLIO or --demo"),
    (["--venue", "deribit-pm", "--file", "/nonexistent/p.json"], "cannot read portfolio"),
    (["--venue", "deribit-standard", "--demo", "calm", "--png", "/tmp/x.png"], "no risk matrix"),
])
def test_margin_refuses_bad_arguments_in_one_line(extra: list[str], message: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["options", "margin", *extra], capsys)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and message in err


@pytest.mark.parametrize(("body", "message"), [
    ("{", "portfolio"),
    (json.dumps({**ISSUE_EXAMPLE, "now": "yesterday"}), "ISO 8601"),
    (json.dumps({**ISSUE_EXAMPLE, "positions": [{"instrument": "BTC-27MAR27-130000-C", "qty": "-1e999",
                                                 "mark": "0.01", "vol": "0.6"}]}), "qty"),
    (json.dumps({**ISSUE_EXAMPLE, "wallet": {"USDT": "5"}}), "wallet"),
    (json.dumps({**ISSUE_EXAMPLE, "extra": 1}), "extra"),
])
def test_a_bad_portfolio_file_is_refused_in_one_line(tmp_path: Path, body: str, message: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.json"
    path.write_text(body)
    code, _, err = _run(["options", "margin", "--venue", "deribit-pm", "--file", str(path)], capsys)
    assert code == 2 and err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize(("extra", "message"), [
    (["--vol", "0.6", "--premium", "1"], "one of them"),
    (["--vol", "nan"], "finite"),
    (["--vol", "-0.1"], "volatility"),
    (["--premium", "200000"], "no-arbitrage"),
])
def test_price_refuses_bad_arguments_in_one_line(extra: list[str], message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["options", "price", "--forward", "100000", "--strike", "110000", "--expiry-days", "30",
                         "--type", "call", *extra], capsys)
    assert code == 2 and err.count("\n") == 1 and message in err, err


SHORT_CALL_BOOK = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "50000"}, "wallet": {"BTC": "0.2"},
                   "positions": [{"instrument": "BTC-26MAR27-55000-C", "qty": "-1", "mark": "0.01", "vol": "0.6"}]}


def test_check_refuses_a_second_short_call_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Deribit standard margin of a short 55,000 call at index 50,000, mark 0.01 BTC: IM max(0.15 −
    5,000 / 50,000, 0.10) + 0.01 = 0.11 an option (TV-29). Selling a second at 0.01 leaves equity
    0.2 + 0.01 − 2 × 0.01 = 0.19 against IM 0.22: refused."""
    book = tmp_path / "book.json"
    book.write_text(json.dumps(SHORT_CALL_BOOK))
    args = ["options", "check", "--venue", "deribit-standard", "--file", str(book), "--instrument",
            "BTC-26MAR27-55000-C", "--price", "0.01"]
    code, out, _ = _run([*args, "--qty", "-1", "--json"], capsys)
    body = json.loads(out)
    assert code == 1 and (body["accepted"], body["reason"]) == (False, "INSUFFICIENT_MARGIN")
    assert (body["initial_margin_before"], body["initial_margin_after"], body["equity_after"]) == ("0.11", "0.22",
                                                                                                   "0.19")
    # buying it back at 0.01: nothing held, equity 0.2 − 0.01 = 0.19, no margin: accepted
    code, out, _ = _run([*args, "--qty", "1"], capsys)
    assert code == 0 and "accepted" in out and "0.19" in out


@pytest.mark.parametrize(("extra", "fragment"), [
    (["--qty", "abc", "--price", "0.01"], "--qty"),
    (["--qty", "0", "--price", "0.01"], "qty must not be 0"),
    (["--qty", "1", "--price", "-0.01"], "order price must be > 0"),
    (["--qty", "1", "--price", "0.01", "--vol", "0.5"], "vol and forward are for a new option"),
])
def test_check_refuses_a_bad_order_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 extra: list[str], fragment: str) -> None:
    book = tmp_path / "book.json"
    book.write_text(json.dumps(SHORT_CALL_BOOK))
    code, out, err = _run(["options", "check", "--venue", "deribit-standard", "--file", str(book), "--instrument",
                           "BTC-26MAR27-55000-C", *extra], capsys)
    assert code == 2 and out == "" and fragment in err and err.count("\n") == 1


def test_liquidate_plans_steps_and_says_whether_equity_covers_mm(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The short strangle of docs/options.md under deribit-standard, equity 0.085 BTC against MM
    0.085 (call) + 0.08 (put): step 0.5 closes the call (relief 0.085 an option, the put's 0.08)
    until MM is 0.08 + 0.085 × 0.5⁵ = 0.08265625. With the call untradable, closing the put
    leaves MM above equity after any number of steps: 0.085 + 0.08 × 0.5ⁿ > 0.085."""
    under = tmp_path / "under.json"
    under.write_text(json.dumps({
        "now": "2026-12-05T00:00:00Z", "index": {"BTC": "50000"}, "wallet": {"BTC": "0.1"},
        "positions": [{"instrument": "BTC-26MAR27-55000-C", "qty": "-1", "mark": "0.01", "vol": "0.6"},
                      {"instrument": "BTC-26MAR27-45000-P", "qty": "-1", "mark": "0.005", "vol": "0.6"}]}))
    args = ["options", "liquidate", "--venue", "deribit-standard", "--file", str(under), "--step", "0.5"]
    code, out, _ = _run([*args, "--json"], capsys)
    body = json.loads(out)
    assert code == 0 and len(body["steps"]) == 5 and body["maintenance_margin_after"] == "0.08265625"
    assert body["covered"] is True
    code, out, _ = _run([*args, "--untradable", "BTC-26MAR27-55000-C", "--max-steps", "3"], capsys)
    assert code == 0 and "still below" in out and "0.095" in out  # 0.085 + 0.08 × 0.5³ = 0.095
    code, _, err = _run([*args, "--step", "1.5"], capsys)
    assert code == 2 and "step is a fraction in (0, 1]" in err


def test_check_names_the_file_of_a_portfolio_it_cannot_read(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.json"
    book.write_text(json.dumps({**SHORT_CALL_BOOK, "now": "soon"}))
    code, _, err = _run(["options", "check", "--venue", "deribit-standard", "--file", str(book), "--instrument",
                         "BTC-PERPETUAL", "--qty", "1", "--price", "50000"], capsys)
    assert code == 2 and f"portfolio {book} now: 'soon' is not an ISO 8601 time" in err


def test_check_takes_okx_tiers_for_a_first_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by review: with --margin-tiers, a portfolio holding nothing yet was refused ("no
    positions"). The tiers are the order's family's: a short 55,000 call at index 50,000, mark
    0.01, factor 1.5: IM max(0.15 − 5,000 / 50,000, 0.10) × 1.5 + 0.01 = 0.16."""
    book, tiers = tmp_path / "book.json", tmp_path / "tiers.json"
    book.write_text(json.dumps({**SHORT_CALL_BOOK, "positions": []}))
    tiers.write_text(json.dumps({"code": "0", "msg": "", "data": [
        {"instFamily": "BTC-USD", "instType": "OPTION", "tier": "1", "minSz": "0", "maxSz": "100",
         "optMgnFactor": "1.5", "imr": "", "mmr": "", "maxLever": ""}]}))
    code, out, err = _run(["options", "check", "--venue", "okx-options", "--file", str(book), "--instrument",
                           "BTC-26MAR27-55000-C", "--qty", "-1", "--price", "0.01", "--margin-tiers", str(tiers),
                           "--json"], capsys)
    assert code == 0, err
    assert (json.loads(out)["accepted"], json.loads(out)["initial_margin_after"]) == (True, "0.16")


def test_liquidate_takes_okx_tiers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A short 55,000 call at index 50,000, mark 0.01, with 0.0505 BTC: equity 0.0405. At OKX's
    tier-1 factor of 1, MM = 0.03 + 0.01 = 0.04: covered, no step. With the tiers, 100 contracts
    of 0.01 BTC are in tier 2 (factor 1.05): MM 0.0315 + 0.01 = 0.0415 > 0.0405, and closing half
    (50 contracts, tier 1) leaves MM 0.5 × 0.04 = 0.02 (the plan ignored --margin-tiers before)."""
    book, tiers = tmp_path / "book.json", tmp_path / "tiers.json"
    book.write_text(json.dumps({**SHORT_CALL_BOOK, "wallet": {"BTC": "0.0505"}}))
    tiers.write_text(json.dumps({"code": "0", "data": [
        {"instFamily": "BTC-USD", "tier": "1", "minSz": "0", "maxSz": "99", "optMgnFactor": "1"},
        {"instFamily": "BTC-USD", "tier": "2", "minSz": "100", "maxSz": "5000", "optMgnFactor": "1.05"}]}))
    args = ["options", "liquidate", "--venue", "okx-options", "--file", str(book), "--step", "0.5", "--json"]
    code, out, err = _run(args, capsys)
    assert code == 0, err
    assert json.loads(out)["steps"] == []
    code, out, err = _run([*args, "--margin-tiers", str(tiers)], capsys)
    assert code == 0, err
    assert [(s["qty"], s["maintenance_margin_before"], s["maintenance_margin_after"])
            for s in json.loads(out)["steps"]] == [("0.5", "0.0415", "0.02")]
