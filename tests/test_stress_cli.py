"""``solvent simulate``: runs, writes a PNG, prints JSON; bad input exits 2 with one line."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from solvent.cli import main


def test_simulate_writes_a_png_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", "--accounts", "300", "--engine", "fast", "--seed", "3", "--out", str(tmp_path), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["engine"] == "fast" and out["accounts"] == 300 and out["steps"] == 60
    assert int(out["liquidations"]) > 0
    png = Path(out["plot"])
    assert png.parent == tmp_path and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_prints_a_table_with_the_exact_engine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--accounts", "40", "--steps", "10", "--engine", "exact", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "insurance fund min" in text and "cascade (exact, 40 accounts, 10 steps)" in text
    assert list(tmp_path.glob("*.png"))


@pytest.mark.parametrize("args", [
    ["--drop", "1.5"], ["--drop", "abc"], ["--accounts", "0"], ["--steps", "0"], ["--scenario", "nope"],
    ["--scenario", "path:/does/not/exist.csv"], ["--engine", "slow"], ["--accounts", "many"],
])
def test_bad_input_exits_2_with_one_line(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_a_bad_price_in_a_path_file_names_the_file_and_the_price(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    prices = tmp_path / "path.csv"
    prices.write_text("100000\nabc\n")  # found by a new-user pass: "price is not a number: 'abc'", no file
    assert main(["simulate", "--accounts", "50", "--scenario", f"path:{prices}", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: price path {prices} line 2: price 2 is not a number: 'abc'\n"
    # an empty close cell under a header, after a comment: the editor's line (4), not the price's rank (2)
    prices.write_text("# minute closes\nopen_time,close\n1,100000\n2,\n3,99000\n")
    assert main(["simulate", "--accounts", "50", "--scenario", f"path:{prices}", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: price path {prices} line 4: price 2 is not a number: ''\n"


@pytest.mark.parametrize(("rows", "says"), [
    # a newest-first export (many exchange APIs answer so): the crash would replay backwards
    (["180000,100000", "120000,100500", "60000,101000"],
     "line 4: open_time_ms 120000 is before line 3's (180000): a path runs forward in time"),
    (["60000,100000", "120000,100500", "120000,100500", "180000,101000"],
     "line 5: open_time_ms 120000 repeats line 4's: a path holds each time once"),
    # 3 minutes lost between 120000 and 300000: they would be folded into one step
    (["60000,100000", "120000,100500", "300000,99000"],
     "line 5: open_time_ms 300000: 2 row(s) missing before it (line 4 is 120000); every row is one step"),
    (["60000,100000", "120000,100500", "150000,99000"], "line 5: open_time_ms 150000: a step of 30000, not 60000"),
    (["60000,100000", "1.2e5,100500"], "line 4: open_time_ms '1.2e5' is neither a whole number nor an ISO 8601 time"),
])
def test_a_path_file_whose_times_do_not_run_forward_in_equal_steps_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list[str], says: str) -> None:
    """Found by a new-user pass: the time column was ignored, so a reversed, repeated or gapped
    file replayed without a word (every row is one step of the run)."""
    prices = tmp_path / "path.csv"
    prices.write_text("# minutes\nopen_time_ms,close\n" + "\n".join(rows) + "\n")
    assert main(["simulate", "--accounts", "50", "--scenario", f"path:{prices}", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: price path {prices} {says}") and err.count("\n") == 1, err


def test_a_path_file_with_iso_times_is_checked_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by review: a pandas export (``timestamp,close`` with ``2020-03-12 10:00:00``) was
    refused as "not a whole number"; ISO 8601 times are read (UTC without an offset)."""
    prices = tmp_path / "iso.csv"
    prices.write_text("timestamp,close\n2020-03-12 10:00:00,7358.7\n2020-03-12 10:01:00,7350\n"
                      "2020-03-12T10:02:00Z,7340\n")
    assert main(["simulate", "--accounts", "50", "--scenario", f"path:{prices}", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    prices.write_text("timestamp,close\n2020-03-12 10:00:00,7358.7\n2020-03-12 10:01:00,7350\n"
                      "2020-03-12 10:04:00,7340\n")
    assert main(["simulate", "--accounts", "50", "--scenario", f"path:{prices}", "--out", str(tmp_path)]) == 2
    assert "line 4: timestamp 1584007440000: 2 row(s) missing before it" in capsys.readouterr().err


def test_a_path_file_drives_the_simulation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prices = tmp_path / "path.csv"
    prices.write_text("# falling\nclose\n" + "\n".join(str(116975.9 - 900 * i) for i in range(6)) + "\n")
    assert main(["simulate", "--accounts", "200", "--steps", "5", "--scenario", f"path:{prices}",
                 "--out", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 5


def test_a_path_file_is_replayed_from_its_own_first_price(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """2020-03-12 opened near 7,900: the book is built there, not at the default 116,975.9 (a
    94 % jump at the first step). On Binance's 0.1 tick 7,911.27 rounds down to 7,911.2."""
    prices = tmp_path / "march.csv"
    prices.write_text("close\n7911.27\n7860\n7500\n6900\n")
    assert main(["simulate", "--accounts", "200", "--steps", "3", "--scenario", f"path:{prices}", "--engine", "fast",
                 "--seed", "4", "--out", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["start_price"] == "7911.2" and Decimal(out["lowest_mark"]) <= Decimal(6900)
    # a fall of 12.8 % in three minutes, not a 94 % gap: the book is not wiped out at once
    assert int(out["liquidations"]) < 200
    assert (out["scenario"], out["drop"], out["steps"], out["seed"]) == (f"path:{prices}", None, 3, 4)


def test_drop_is_refused_with_a_path_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prices = tmp_path / "path.csv"
    prices.write_text("close\n100\n90\n")
    assert main(["simulate", "--steps", "1", "--scenario", f"path:{prices}", "--drop", "0.3",
                 "--out", str(tmp_path)]) == 2
    assert "a replay's prices are its path" in capsys.readouterr().err
    assert list(tmp_path.glob("*.png")) == []


def test_the_json_says_how_to_run_it_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--accounts", "50", "--steps", "5", "--drop", "0.1", "--seed", "9", "--engine", "fast",
                 "--out", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("scenario", "drop", "steps", "seed", "start_price", "settle_asset", "quote_asset")} == {
        "scenario": "crash", "drop": "0.1", "steps": 5, "seed": 9, "start_price": "116975.9", "settle_asset": "USDT",
        "quote_asset": "USDT"}


def test_a_path_file_is_replayed_whole_unless_steps_cuts_it(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """200 one-minute steps falling 50 % in all: without --steps every price is replayed (it
    was cut to 60 steps, about −15 %, without a word)."""
    prices = tmp_path / "long.csv"
    prices.write_text("\n".join(str(Decimal("100000") - 250 * i) for i in range(201)) + "\n")
    for extra, steps, last in (([], 200, Decimal(50_000)), (["--steps", "20"], 20, Decimal(95_000))):
        assert main(["simulate", "--accounts", "50", "--scenario", f"path:{prices}", "--engine", "fast",
                     *extra, "--out", str(tmp_path), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["steps"] == steps and Decimal(out["lowest_mark"]) <= last


def test_start_price_sets_where_the_book_opens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ETHUSD_PERP has no bundled path: without --start-price it opens at the BTC path's price,
    and says so; with it, the book opens there (and the coin amounts are in ETH)."""
    args = ["simulate", "--venue", "binance-coinm", "--symbol", "ETHUSD_PERP", "--accounts", "40", "--steps", "5",
            "--engine", "fast", "--out", str(tmp_path), "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "note: ETHUSD_PERP starts at 116975.9" in captured.err
    assert main([*args, "--start-price", "4380.57"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert captured.err == "" and (out["start_price"], out["settle_asset"]) == ("4380.57", "ETH")


@pytest.mark.parametrize(("args", "words"), [
    (["--start-price", "0"], "--start-price must lie in (0, 100,000,000]"),
    (["--start-price", "abc"], "--start-price"),
    (["--symbol", "NOPE"], "`solvent venues show binance-usdm` lists them"),
])
def test_bad_start_or_symbol_is_refused(args: list[str], words: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_a_path_file_refuses_start_price_and_a_header_without_close(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "p.csv", tmp_path / "bad.csv"
    good.write_text("100\n90\n")
    bad.write_text("date,price\n1,100\n2,90\n")
    assert main(["simulate", "--scenario", f"path:{good}", "--start-price", "5", "--out", str(tmp_path)]) == 2
    assert "a replay starts at its first price" in capsys.readouterr().err
    assert main(["simulate", "--scenario", f"path:{bad}", "--out", str(tmp_path)]) == 2
    assert "'date,price' is neither a price nor a CSV header with a 'close' column" in capsys.readouterr().err


@pytest.mark.parametrize(("venue", "symbol"), [("bybit-linear", "BTCUSDT"), ("hyperliquid", "BTC"),
                                               ("drift", "BTC-PERP"), ("bitmex", "ETHUSDT")])
def test_simulate_runs_on_a_venue(venue: str, symbol: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--venue", venue, "--accounts", "200", "--steps", "20", "--engine", "fast",
                 "--out", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["venue"], out["symbol"], out["engine"]) == (venue, symbol, "fast")
    assert Path(out["plot"]).name == f"cascade-crash-{venue}-{symbol}-200-7.png"


@pytest.mark.parametrize(("venue", "symbol", "coin"), [("binance-coinm", "BTCUSD_PERP", "BTC"),
                                                       ("bybit-inverse", "BTCUSD", "BTC"),
                                                       ("binance-coinm", "ETHUSD_PERP", "ETH")])
def test_an_inverse_venue_runs_in_its_coin_on_both_engines_alike(
        venue: str, symbol: str, coin: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outs = []
    for engine in ("fast", "exact"):
        args = ["--symbol", symbol] if symbol == "ETHUSD_PERP" else []
        assert main(["simulate", "--venue", venue, *args, "--accounts", "150", "--steps", "30", "--engine", engine,
                     "--out", str(tmp_path), "--json"]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    fast, exact = outs
    assert (fast["symbol"], fast["settle_asset"]) == (symbol, coin)
    assert int(fast["liquidations"]) > 0 and fast["digest"] == exact["digest"]
    # the fund starts at 0.2 % of the open interest, in the coin: well under one coin for
    # 150 accounts of a few thousand USD each (in USDT it would be hundreds)
    assert Decimal(0) < Decimal(fast["insurance_fund_start"]) < 1


@pytest.mark.parametrize("extra", [[], ["--fund", "0"]])  # a fund of 0 stopped the exact engine (new-user pass)
def test_fast_and_exact_print_the_same_digest(extra: list[str], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    digests = []
    for engine in ("fast", "exact"):
        assert main(["simulate", "--venue", "dydx-v4", "--accounts", "150", "--steps", "30", "--engine", engine,
                     "--out", str(tmp_path), "--json", *extra]) == 0
        digests.append(json.loads(capsys.readouterr().out)["digest"])
    assert digests[0] == digests[1]


@pytest.mark.parametrize("drop", ["0.9", "0.99"])
def test_a_crash_past_the_feeds_50_percent_band_runs_on_both_engines_alike(
        drop: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a 90 % fall moves more than 50 % within a step once the cascade's impact is fed back:
    # the exact engine refused that price (INVALID_PRICE band=0.5) and stopped mid-run
    digests = []
    for engine in ("fast", "exact"):
        assert main(["simulate", "--accounts", "300", "--drop", drop, "--engine", engine,
                     "--out", str(tmp_path), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        # the book starts at BookParams().start_price, 116,975.9: the run reached the bottom
        assert Decimal(out["lowest_mark"]) <= Decimal("116975.9") * (1 - Decimal(drop))
        digests.append(out["digest"])
    assert digests[0] == digests[1]


@pytest.mark.parametrize(("args", "words"), [
    (["--venue", "nope"], "unknown venue"),
    (["--venue", "drift", "--symbol", "BTCUSDT"], "not an instrument of drift"),
    (["--accounts", "1000000", "--engine", "exact"], "at most 50,000 accounts"),
    (["--accounts", "60000", "--engine", "exact"], "use --engine fast"),
    (["--accounts", "5000001"], "[1, 5000000]"),
])
def test_refused_before_any_work(args: list[str], words: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err
    assert not list(tmp_path.iterdir())


def test_a_relative_path_file_is_recorded_so_inputs_run_from_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a new user: ``path:FILE`` was recorded as typed, so ``--inputs`` from another
    directory could not read ``FILE`` (``--book`` files were recorded absolute)."""
    (tmp_path / "runs").mkdir()
    (tmp_path / "p.csv").write_text("close\n60000\n59500\n59000\n")
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", "--scenario", "path:p.csv", "--accounts", "50", "--engine", "fast", "--out", "runs",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["inputs"]["scenario"] == f"path:{tmp_path / 'p.csv'}"
    (tmp_path / "runs" / "run.json").write_text(json.dumps(out))
    monkeypatch.chdir(tmp_path / "runs")
    assert main(["simulate", "--inputs", "run.json", "--out", ".", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["digest"] == out["digest"]


def test_a_halt_to_the_last_minute_says_the_venue_never_resumed(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a new user: ``--halt 1:120`` on a 120-minute crash reported no liquidation and an
    untouched fund, silently: the venue never met the market again. The run stands (it is a
    scenario), with a note; a halt that ends before the last minute has none."""
    assert main(["simulate", "--accounts", "100", "--steps", "30", "--halt", "1:30", "--engine", "fast",
                 "--out", str(tmp_path)]) == 0
    assert "the halt lasts to the run's last minute (30)" in capsys.readouterr().err
    assert main(["simulate", "--accounts", "100", "--steps", "30", "--halt", "1:29", "--engine", "fast",
                 "--out", str(tmp_path)]) == 0
    assert "last minute" not in capsys.readouterr().err


def test_the_highest_start_price_builds_a_book_both_engines_run(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a new-user pass: at --start-price 10^9 (the engine's highest price) the book's
    entries, drawn up to ~1.6 % above the start, were prices the exact engine refuses, so the fast
    engine reported a run the exact one could not build. The highest start is now 10^8."""
    digests = []
    for engine in ("exact", "fast"):
        assert main(["simulate", "--accounts", "60", "--steps", "3", "--start-price", "100000000", "--engine", engine,
                     "--json", "--out", str(tmp_path)]) == 0
        digests.append(json.loads(capsys.readouterr().out)["digest"])
    assert digests[0] == digests[1]
    assert main(["simulate", "--accounts", "60", "--steps", "3", "--start-price", "100000001",
                 "--out", str(tmp_path)]) == 2
    assert "--start-price must lie in (0, 100,000,000]" in capsys.readouterr().err


@pytest.mark.parametrize(("command", "start", "says"), [
    # BTCUSDT's tick is 0.1 (binance-usdm): 0.1 is one step, 1 is ten (each 10 % of the price)
    ("simulate", "0.1", "start price 0.1 is 1 price step of BTCUSDT (0.1), each 100.00% of it"),
    ("adequacy", "1", "start price 1 is 10 price steps of BTCUSDT (0.1), each 10.00% of it"),
    ("simulate", "99.9", "start price 99.9 is 999 price steps of BTCUSDT (0.1), each 0.10% of it"),
])
def test_a_start_price_of_too_few_price_steps_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         command: str, start: str, says: str) -> None:
    """Found by a new-user pass: at 0.1 every price of a −20 % crash rounded to 0.1 (no move, no
    liquidation, "the fund survives every move"); at 1 the reverse stress named a −0.5 % move
    the 0.1 grid cannot make. A start price must hold 1,000 steps (each at most 0.1 %)."""
    args = ["--paths", "0"] if command == "adequacy" else ["--steps", "10"]
    assert main([command, "--accounts", "100", "--start-price", start, "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {says}: a run's moves would be rounded to whole steps; give at least 100 "
                          "(1,000 steps, each at most 0.1 %)") and err.count("\n") == 1, err
    assert main(["simulate", "--accounts", "100", "--start-price", "100", "--steps", "10", "--out", str(tmp_path)]) == 0


def test_a_book_files_start_price_holds_the_same_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by review: the rule above covered drawn books only; a book file valued at 5 (50 steps
    of 2 %) ran and reported moves of -6.5 % rounded to whole steps."""
    book = tmp_path / "small.csv"
    book.write_text("account_id,side,qty,entry,deposit\na1,long,1,5,5\na2,short,1,5,5\n")
    for command in (["adequacy", "--paths", "0"], ["simulate", "--steps", "5"]):
        assert main([*command, "--book", str(book), "--start-price", "5", "--out", str(tmp_path / "o")]) == 2
        assert capsys.readouterr().err.startswith("error: start price 5 is 50 price steps of BTCUSDT (0.1), each "
                                                  "2.00% of it")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system (it fails every write)")
def test_an_output_that_fails_after_the_run_still_reports_the_run_and_exits_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a new-user pass: a series that could not be written (a full disk) threw the run's
    results away (exit 2, nothing on stdout), after minutes of work at a large book. The report is
    printed, and the exit is 1: the run ran and an output failed (2 is for bad input)."""
    code = main(["simulate", "--accounts", "100", "--steps", "5", "--engine", "fast", "--series", "/dev/full",
                 "--json", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1
    run = json.loads(captured.out)
    assert run["accounts"] == 100 and run["series"] is None and len(run["digest"]) == 64
    assert captured.err == ("error: cannot write the series to /dev/full: No space left on device (the run's results "
                            "are above)\n")


def test_adequacy_refuses_an_output_file_it_cannot_write_before_it_runs(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a new-user pass: a directory where the report's JSON goes failed only after the run,
    with the markdown already written."""
    (tmp_path / "adequacy-binance-usdm-BTCUSDT.json").mkdir()
    assert main(["adequacy", "--accounts", "100", "--paths", "0", "--out", str(tmp_path)]) == 2
    assert "adequacy-binance-usdm-BTCUSDT.json is a directory" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adequacy-binance-usdm-BTCUSDT.json"]


@pytest.mark.parametrize("engine", ["fast", "exact"])
def test_liquidations_the_book_cannot_take_are_counted_and_warned_of(engine: str, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a new-user pass: a path to 0.1, one price step, leaves every long bankrupt (the
    mark is 99.9999 % down) and their closes unpriceable (a sale there rounds to a price of 0),
    and the run said 0 liquidations and 0 bad debt with no word. At 0.2 the book takes them: the
    same longs are liquidated there, and none is left."""
    def run(last: str) -> tuple[dict[str, object], str]:
        path = tmp_path / "path.csv"
        path.write_text(f"close\n100000\n99900\n{last}\n")
        assert main(["simulate", "--accounts", "300", "--engine", engine, "--scenario", f"path:{path}", "--json"]) == 0
        captured = capsys.readouterr()
        return json.loads(captured.out), captured.err

    stuck, warned = run("0.1")
    taken, quiet = run("0.2")
    assert stuck["liquidations"] == 0 and taken["accounts_left_at_trigger"] == 0 and "warning" not in quiet
    left = stuck["accounts_left_at_trigger"]
    assert isinstance(left, int) and left > 0 and left == taken["liquidations"]
    assert f"warning: {left} account(s) end at their liquidation trigger" in warned
