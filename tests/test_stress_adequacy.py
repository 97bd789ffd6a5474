"""Capital adequacy (issue 15, item 4; acceptance A12, A13): Cover-1, Cover-2, the fund a
scenario needs, reverse stress, and ``solvent adequacy``.

The fund a run needs is checked against the engine's own fund accounting: the same shock run
with the fund set just above and just below it (an independent path through the cascade's
fund and socialised-loss code), and a hand-worked sequence of liquidations.
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from solvent.cli import main
from solvent.stress import BookParams, generate_book, run_cascade
from solvent.stress.adequacy import REVERSE_STEP, adequacy, fund_needed, run_shock, shock_path
from solvent.stress.book import SyntheticBook
from solvent.stress.result import CascadeResult, Liquidation


def _liq(account: int, deficit: str, fee: str) -> Liquidation:
    return Liquidation(1, 0, account, 1, Decimal(1), Decimal(100), Decimal(fee), Decimal(deficit), Decimal(0),
                       Decimal(100))


def test_fund_needed_by_hand() -> None:
    """Deficits 5, then a fee of 3, then a deficit of 4: the running excess is 5, 2, 6, so a fund
    of 6 pays everything and a fund of 5.99 runs out at the third."""
    result = CascadeResult("fast", 3, Decimal(0), (), (_liq(0, "5", "0"), _liq(1, "0", "3"), _liq(2, "4", "0")), 0,
                           money_quantum=Decimal("1E-8"))
    assert fund_needed(result) == Decimal(6)
    assert fund_needed(CascadeResult("fast", 1, Decimal(0), (), (_liq(0, "0", "2"),), 0,
                                     money_quantum=Decimal("1E-8"))) == 0


@pytest.fixture(scope="module")
def book() -> SyntheticBook:
    return generate_book(BookParams(accounts=2_000, seed=4))


def _with_fund(book: SyntheticBook, fund: Decimal) -> SyntheticBook:
    return replace(book, insurance_units=int(fund.scaleb(8)))


def test_the_fund_needed_is_what_the_engine_runs_out_at(book: SyntheticBook) -> None:
    """A 15 % fall: with the fund at exactly what the run needs, nothing is socialised; one cent
    less and the fund is exhausted and a loss is socialised."""
    need = run_shock(book, Decimal("-0.15")).fund_needed
    assert need > 0
    path = shock_path(book.start_price, Decimal("-0.15"), book.tick)
    enough = run_cascade(_with_fund(book, need), path, "fast").summary()
    short = run_cascade(_with_fund(book, need - Decimal("0.01")), path, "fast").summary()
    assert enough["bad_debt_socialised"] == "0" and Decimal(enough["insurance_fund_min"]) == 0
    assert Decimal(short["bad_debt_socialised"]) > 0


def test_cover_two_is_at_least_cover_one_and_groups_add_their_accounts(book: SyntheticBook) -> None:
    """A12. Two whale groups of three accounts: Cover-2 ≥ Cover-1 ≥ 0, and a whale group's loss
    in a scenario is the sum of its three accounts' deficits in that run."""
    report = adequacy(book)
    assert report.cover2[0] >= report.cover1[0] >= 0 and report.cover1[0] > 0
    groups = book.groups()
    assert list(groups[:6]) == [0, 0, 0, 3, 3, 3] and list(groups[6:9]) == [6, 7, 8]
    for outcome in report.outcomes:
        result = run_cascade(book, shock_path(book.start_price, outcome.move, book.tick), "fast")
        for whale in (0, 3):
            by_hand = sum((liq.deficit_quote for liq in result.liquidations if liq.account in range(whale, whale + 3)),
                          Decimal(0))
            assert outcome.groups.get(whale, Decimal(0)) == by_hand


def test_reverse_stress_is_the_first_move_that_exhausts_the_fund_and_grows_with_it(book: SyntheticBook) -> None:
    """A13. δ* needs more than the fund and the move one grid step smaller does not; δ* never
    shrinks as the fund grows (both directions)."""
    report = adequacy(book)
    assert report.reverse_down is not None and report.reverse_up is not None
    for move in (report.reverse_down, report.reverse_up):
        assert run_shock(book, move).fund_needed > report.fund
        smaller = move - (REVERSE_STEP if move > 0 else -REVERSE_STEP)
        if smaller != 0:
            assert run_shock(book, smaller).fund_needed <= report.fund
    downs = [abs(d) if d is not None else Decimal(1) for _, d, _ in report.fund_table]
    ups = [u if u is not None else Decimal(1) for _, _, u in report.fund_table]
    assert downs == sorted(downs) and ups == sorted(ups)
    assert [f for f, _, _ in report.fund_table] == sorted(f for f, _, _ in report.fund_table)


def test_solvent_adequacy_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adequacy", "--accounts", "1500", "--seed", "2", "--out", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    saved = json.loads(Path(doc["json_file"]).read_text())
    assert saved["digest"] == doc["digest"] and len(doc["scenarios"]) == 12
    page = Path(doc["markdown_file"]).read_text()
    assert "Cover-2" in page and doc["digest"] in page
    assert Decimal(doc["cover2"]["loss"]) >= Decimal(doc["cover1"]["loss"])
    assert doc["inputs"]["book"]["accounts"] == 1500 and doc["inputs"]["book"]["model"] == "calibrated"
    again = tmp_path / "again"
    assert main(["adequacy", "--accounts", "1500", "--seed", "2", "--out", str(again), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["digest"] == doc["digest"]  # deterministic


@pytest.mark.parametrize(("args", "words"), [
    (["--fund", "-0.1"], "--fund is a fraction"),
    (["--accounts", "0"], "--accounts must lie in"),
    (["--venue", "okx"], "unknown venue"),
    (["--symbol", "NOPE"], "is not an instrument"),
    (["--paths", "0", "--bands", "3"], "--bands are further seeds of the Monte Carlo paths"),  # ignored before
    # a new-user pass: one message named all three options, whichever was wrong
    (["--paths", "100001"], "--paths must lie in [0, 100,000], got 100,001"),
    (["--horizon", "0"], "--horizon must lie in [1, 1,440], got 0"),
    (["--paths", "5", "--bands", "21"], "--bands must lie in [0, 20], got 21"),
])
def test_bad_input_writes_nothing(args: list[str], words: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["adequacy", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and err.count("\n") == 1
    assert not out.exists()


def test_the_console_table_says_what_a_figure_is_not(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by a new-user pass: one Monte Carlo path printed a 99.9 % fund need as a plain number
    (the markdown and the JSON say "resolved: no"), and a book with no loss printed
    ``0 (none, move None)`` and ``coverage None``. (A wide terminal: below about 115 columns
    the table turns to one figure per block, which wraps these notes.)"""
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["adequacy", "--accounts", "100", "--paths", "1", "--out", str(tmp_path / "a")]) == 0
    text = capsys.readouterr().out
    assert "(not resolved: fewer than 10 paths beyond it; more --paths)" in text
    assert main(["adequacy", "--accounts", "1", "--paths", "0", "--out", str(tmp_path / "b")]) == 0
    text = capsys.readouterr().out
    assert "0 USDT (no move makes a loss)" in text and "— (no loss to cover)" in text and "None" not in text


def _report(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[dict[str, object], Path]:
    out = tmp_path / "first"
    assert main(["adequacy", *args, "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    return doc, Path(str(doc["json_file"]))


def test_a_report_runs_again_from_its_json_and_its_digest_is_checked(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 15, item 6: the JSON echoes every input, so that the JSON alone reproduces the
    digest. The report echoed the book but not the Monte Carlo options, whose paths the digest
    covers, and ``adequacy`` had no ``--inputs``. Every option that decides the report is set
    away from its default, so an input read back wrongly (or not at all) changes the digest."""
    doc, saved = _report(tmp_path, capsys, "--accounts", "300", "--seed", "3", "--fund", "0.03", "--paths", "12",
                         "--horizon", "20", "--mc-seed", "4", "--bands", "1", "--book-model", "spot")
    inputs = doc["inputs"]
    assert isinstance(inputs, dict)
    assert inputs["monte_carlo"] == {"paths": 12, "horizon_minutes": 20, "seed": 4, "seed_bands": 1}
    assert inputs["book"]["seed"] == 3 and inputs["book"]["insurance_fraction"] == "0.03"
    assert main(["adequacy", "--inputs", str(saved), "--out", str(tmp_path / "again"), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["digest"] == doc["digest"] and f"digest matches {saved}" in err
    # found by a new-user pass: a figure edited (or one added), the digest left as it was, was "digest matches"
    for key, value in (("coverage_ratio", "99"), ("verified_by", "the committee")):
        edited = json.loads(saved.read_text())
        edited[key] = value
        changed = tmp_path / f"figure-{key}.json"
        changed.write_text(json.dumps(edited))
        assert main(["adequacy", "--inputs", str(changed), "--out", str(tmp_path / key)]) == 1, key
        assert f"records the digest this run gives, but not its figures: {key!r} differs" in capsys.readouterr().err
    for path, value in ((("monte_carlo", "seed"), 5), (("monte_carlo", "horizon_minutes"), 21),
                        (("book", "seed"), 4), (("book", "model"), "calibrated")):
        edited = json.loads(saved.read_text())
        edited["inputs"][path[0]][path[1]] = value
        changed = tmp_path / f"edited-{path[1]}.json"
        changed.write_text(json.dumps(edited))
        assert main(["adequacy", "--inputs", str(changed), "--out", str(tmp_path / path[1]), "--json"]) == 1, path
        err = capsys.readouterr().err
        assert f"differs from the one {changed} records ({doc['digest']})" in err, (path, err)


@pytest.mark.parametrize(("edit", "words"), [
    ({"accounts_option": True}, "--inputs runs what the file says; --accounts cannot change it"),
    ({"format": None}, "written before a report recorded its Monte Carlo options"),
    ({"format": "solvent-stress-inputs-v3"}, "not a capital adequacy report's (format 'solvent-stress-inputs-v3'"),
    ({"monte_carlo": {"paths": 12, "horizon_minutes": 0, "seed": 4, "seed_bands": 0}},
     "--horizon must lie in [1, 1,440], got 0"),
    ({"monte_carlo": {"paths": "12", "horizon_minutes": 20, "seed": 4, "seed_bands": 0}},
     "inputs.monte_carlo.paths: '12' is not a whole number"),
    ({"hold_minutes": 9}, "inputs.hold_minutes: 9; this solvent holds each shock 5 minutes"),
    ({"book_file": "x.csv"}, "a book read from a file names book_file, its book_sha256 and model 'file'"),
])
def test_inputs_that_cannot_be_run_are_refused(edit: dict[str, object], words: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _, saved = _report(tmp_path, capsys, "--accounts", "50", "--paths", "0")
    doc = json.loads(saved.read_text())
    extra: list[str] = []
    for key, value in edit.items():
        if key == "accounts_option":
            extra = ["--accounts", "60"]
        elif value is None:
            del doc["inputs"][key]
        else:
            doc["inputs"][key] = value
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    out = tmp_path / "out"
    assert main(["adequacy", "--inputs", str(bad), *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert words in err and err.startswith("error: ") and err.count("\n") == 1, err
    assert not out.exists()


def test_a_report_on_a_book_file_runs_again_only_on_the_same_bytes(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.csv"
    book.write_text("account_id,side,qty,entry,deposit\na,long,0.5,61000,3200\nb,short,0.5,60000,3000\n"
                    "c,long,2,59000,9000\n")
    doc, saved = _report(tmp_path, capsys, "--book", str(book), "--start-price", "60000", "--paths", "0")
    inputs = doc["inputs"]
    assert isinstance(inputs, dict) and inputs["book_file"] == str(book) and inputs["book"]["model"] == "file"
    assert main(["adequacy", "--inputs", str(saved), "--out", str(tmp_path / "again")]) == 0
    capsys.readouterr()
    book.write_text(book.read_text().replace("c,long,2,", "c,long,3,"))
    assert main(["adequacy", "--inputs", str(saved), "--out", str(tmp_path / "edited")]) == 2
    assert "is not the book the report read" in capsys.readouterr().err
    assert not (tmp_path / "edited").exists()


def test_a_report_is_never_written_over_the_inputs_it_reads(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    _, saved = _report(tmp_path, capsys, "--accounts", "50", "--paths", "0")
    before = saved.read_bytes()
    assert main(["adequacy", "--inputs", str(saved), "--out", str(saved.parent)]) == 2
    assert "which this command reads" in capsys.readouterr().err
    assert saved.read_bytes() == before


def test_inputs_hold_the_accounts_to_the_limit_the_option_keeps(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """``--accounts`` is held to [1, 1,000,000] (docs/adequacy.md); an inputs file asking for
    5,000,000 (the book parameters' own limit) ran past it (found by review)."""
    _, saved = _report(tmp_path, capsys, "--accounts", "50", "--paths", "0")
    doc = json.loads(saved.read_text())
    doc["inputs"]["book"]["accounts"] = 1_000_001
    bad = tmp_path / "big.json"
    bad.write_text(json.dumps(doc))
    assert main(["adequacy", "--inputs", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "inputs.book.accounts must lie in [1, 1000000], got 1000001" in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_a_book_named_relative_to_where_the_report_ran_is_found_from_elsewhere(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """``--book book.csv`` was recorded as "book.csv": run again from another folder, the
    report's own inputs could not find its book (found by review). The path is absolute."""
    (tmp_path / "desk").mkdir()
    (tmp_path / "desk" / "book.csv").write_text("account_id,side,qty,entry,deposit\na,long,0.5,61000,3200\n"
                                                "b,short,0.5,60000,3000\n")
    monkeypatch.chdir(tmp_path / "desk")
    assert main(["adequacy", "--book", "book.csv", "--start-price", "60000", "--paths", "0", "--out", "r",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["inputs"]["book_file"] == str(tmp_path / "desk" / "book.csv")
    monkeypatch.chdir(tmp_path)
    assert main(["adequacy", "--inputs", "desk/r/adequacy-binance-usdm-BTCUSDT.json", "--out", "again"]) == 0
    assert "digest matches" in capsys.readouterr().err


def test_a_report_runs_again_on_the_profile_it_ran_on(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by review: the inputs named no venue profile, so ``solvent venues update`` (a new
    tick for BTCUSDT) between the two runs changed the digest (exit 1) with nothing to say why.
    They name it as a journal's genesis does; the overlay's own file is needed to run again."""
    monkeypatch.setenv("SOLVENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SOLVENT_NO_OVERLAYS", raising=False)
    doc, saved = _report(tmp_path, capsys, "--accounts", "200", "--paths", "0")
    assert doc["inputs"]["profile"]["bundled"] is True
    payload = tmp_path / "exchangeInfo.json"
    payload.write_text(json.dumps({"symbols": [{
        "symbol": "BTCUSDT", "contractType": "PERPETUAL", "baseAsset": "BTC", "quoteAsset": "USDT",
        "marginAsset": "USDT", "status": "TRADING",
        "filters": [{"filterType": "PRICE_FILTER", "minPrice": "261.10", "maxPrice": "809484", "tickSize": "5.0"},
                    {"filterType": "LOT_SIZE", "minQty": "0.01", "maxQty": "1000", "stepSize": "0.01"}]}]}))
    assert main(["venues", "update", "--venue", "binance-usdm", "--from", str(payload), "--format",
                 "binance-exchange-info", "--as-of", "2026-12-01"]) == 0
    capsys.readouterr()
    assert main(["adequacy", "--inputs", str(saved), "--out", str(tmp_path / "again")]) == 0
    assert f"digest matches {saved}" in capsys.readouterr().err
    assert main(["adequacy", "--accounts", "200", "--paths", "0", "--out", str(tmp_path / "ticked"), "--json"]) == 0
    ticked = json.loads(capsys.readouterr().out)
    assert ticked["digest"] != doc["digest"] and ticked["inputs"]["profile"]["bundled"] is False
    for overlay in (tmp_path / "data" / "overlays" / "binance-usdm").iterdir():
        overlay.unlink()
    assert main(["adequacy", "--inputs", ticked["json_file"], "--out", str(tmp_path / "gone")]) == 2
    assert "inputs.profile: the report ran on binance-usdm with the overlay of 2026-12-01" in capsys.readouterr().err


def test_a_run_and_a_report_given_to_the_other_command_are_named(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a new-user pass: ``adequacy --inputs`` on a ``simulate --json`` output was refused
    over its ``wall_s`` float, and ``simulate --inputs`` on a report over a field; each now says
    which command the file is for. A float where the report's inputs hold a whole number is still
    refused."""
    _, saved = _report(tmp_path, capsys, "--accounts", "50", "--paths", "0")
    assert main(["simulate", "--accounts", "200", "--steps", "10", "--json", "--out", str(tmp_path / "run")]) == 0
    run = tmp_path / "run.json"
    run.write_text(capsys.readouterr().out)
    assert main(["adequacy", "--inputs", str(run), "--out", str(tmp_path / "a")]) == 2
    assert "not a capital adequacy report's (format 'solvent-stress-inputs-v3'" in capsys.readouterr().err
    assert main(["simulate", "--inputs", str(saved), "--out", str(tmp_path / "s")]) == 2
    assert "a capital adequacy report's (format 'solvent-adequacy-inputs/1'), not a stress run's" in \
        capsys.readouterr().err
    doc = json.loads(saved.read_text())
    doc["inputs"]["monte_carlo"]["paths"] = 12.0
    floated = tmp_path / "floated.json"
    floated.write_text(json.dumps(doc))
    assert main(["adequacy", "--inputs", str(floated), "--out", str(tmp_path / "f")]) == 2
    assert "inputs.monte_carlo.paths: 12.0 is not a whole number" in capsys.readouterr().err
