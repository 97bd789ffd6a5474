"""Bad input to every command: exit 2 with one ``error:`` line, never a traceback (issue 9, items 7, 11, 12).

Each case runs through click's ``CliRunner`` against ``solvent.cli.main`` (the real entry
point with its error → exit-code mapping). The inputs are the ones a new user produced:
binary, UTF-16 and PNG files where JSON is expected, a stack-bomb of nested arrays,
duplicate keys, numbers of absurd exponent, ``--seed -1``, directories and missing
folders where a file is expected, and account leverages of ``0`` and ``""``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from solvent.cli import main
from solvent.errors import InvalidInput
from solvent.units import MAX_ADJUSTED_EXPONENT, WORKING_PRECISION, to_decimal

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
GOOD_POSITION = {"symbol": "BTCUSDT", "side": "long", "qty": "1", "entry": "60000", "leverage": "10"}
GOOD_BRACKET = {"notional_floor": "0", "notional_cap": "1000000", "maint_margin_ratio": "0.005",
                "max_leverage": "50", "cum": "0"}


@click.command()
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def _entry(argv: tuple[str, ...]) -> None:
    """Hands the arguments to ``solvent.cli.main`` so CliRunner sees its exit code and streams."""
    raise SystemExit(main(list(argv)))


def refuse(argv: list[str]) -> str:
    """Run ``solvent ARGV``; it must exit 2 with exactly one ``error:`` line on stderr."""
    result = CliRunner().invoke(_entry, ["--", *argv], catch_exceptions=False)
    err, out = result.stderr, result.stdout
    assert result.exit_code == 2, (result.exit_code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error:"), err
    assert "Traceback" not in out + err
    return lines[0]


def _write(tmp: Path, name: str, content: bytes | str) -> str:
    path = tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


def _account(tmp: Path, **position: object) -> str:
    doc = {"wallet": "1000", "positions": [{**GOOD_POSITION, **position}]}
    return _write(tmp, "account.json", json.dumps(doc))


# Files that are not JSON text, or JSON a lenient parser would misread.
BAD_FILES: dict[str, Callable[[Path], str]] = {
    "binary": lambda t: _write(t, "f.bin", bytes(range(256))),
    "utf16": lambda t: _write(t, "f.json", '{"wallet": "1000", "positions": []}'.encode("utf-16")),
    "utf16le-no-bom": lambda t: _write(t, "f.json", '{"wallet": "1000"}'.encode("utf-16-le")),
    "png": lambda t: _write(t, "f.png", PNG),
    "deeply-nested": lambda t: _write(t, "f.json", "[" * 100_000 + "]" * 100_000),
    "directory": lambda t: str(t),
    "missing": lambda t: str(t / "no-such-file.json"),
}

LIQ = ["liq-price", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long", "--qty", "1",
       "--entry", "60000", "--leverage", "10"]


def _liq(**options: str) -> list[str]:
    argv = list(LIQ)
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    return argv


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
@pytest.mark.parametrize("command", ["account", "liq-price --tiers", "simulate --scenario path:"])
def test_bad_files_are_refused_by_every_command_that_reads_one(tmp_path: Path, kind: str, command: str) -> None:
    path = BAD_FILES[kind](tmp_path)
    if command == "account":
        refuse(["account", "--venue", "binance-usdm", "--file", path])
    elif command == "liq-price --tiers":
        refuse([*LIQ, "--tiers", path])
    else:
        refuse(["simulate", "--accounts", "5", "--steps", "2", "--json", "--out", str(tmp_path),
                "--scenario", f"path:{path}"])


def test_duplicate_side_in_an_account_file_is_refused_not_turned_into_a_short(tmp_path: Path) -> None:
    path = _write(tmp_path, "dup.json", '{"wallet": "1000", "positions": [{"symbol": "BTCUSDT", "side": "long",'
                  ' "side": "short", "qty": "1", "entry": "60000", "leverage": "10"}]}')
    assert "duplicate key 'side'" in refuse(["account", "--venue", "binance-usdm", "--file", path])


def test_duplicate_wallet_at_the_top_of_an_account_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "dup.json", '{"wallet": "1", "wallet": "999", "positions": []}')
    assert "duplicate key 'wallet'" in refuse(["account", "--venue", "binance-usdm", "--file", path])


def test_duplicate_key_in_a_tier_file_is_refused(tmp_path: Path) -> None:
    bracket = json.dumps(GOOD_BRACKET)[:-1] + ', "maint_margin_ratio": "0.5"}'
    path = _write(tmp_path, "tiers.json", f"[{bracket}]")
    assert "duplicate key 'maint_margin_ratio'" in refuse([*LIQ, "--tiers", path])


def test_duplicate_key_in_a_venue_profile_file_is_refused(tmp_path: Path) -> None:
    from solvent.risk.venues import load_venue_file

    path = _write(tmp_path, "venue.json", '{"name": "x", "name": "y"}')
    with pytest.raises(InvalidInput, match="duplicate key 'name'"):
        load_venue_file(path)


def test_bundled_venue_profiles_and_sample_data_pass_the_strict_reader() -> None:
    from solvent.cli.demo import load_sample_accounts
    from solvent.risk.venues import bundled_venues, load_venue

    assert {load_venue(name).name for name in bundled_venues()} == set(bundled_venues())
    assert load_sample_accounts()


@pytest.mark.parametrize("leverage", [0, "", "0", "-1", 0.5, True])
def test_account_leverage_that_is_not_a_positive_number_is_refused(tmp_path: Path, leverage: object) -> None:
    # Before the fix, 0 and "" were falsy and silently treated as "no leverage given".
    refuse(["account", "--venue", "binance-usdm", "--file", _account(tmp_path, leverage=leverage)])


@pytest.mark.parametrize("field", ["qty", "entry", "mark", "leverage", "isolated_margin"])
@pytest.mark.parametrize("number", ["1E+100000", "1e-999999", "1e41", "1e-41", 10**50])
def test_account_numbers_of_absurd_size_are_refused(tmp_path: Path, field: str, number: object) -> None:
    line = refuse(["account", "--venue", "binance-usdm", "--file",
                   _account(tmp_path, margin_mode="isolated", **{field: number})])
    assert "out of range" in line


@pytest.mark.parametrize("option", ["qty", "entry", "mark", "leverage", "wallet", "mmr", "maint_amount"])
@pytest.mark.parametrize("number", ["1e999999", "1e-999999", "-1e999999", "1E+100000"])
def test_liq_price_numbers_of_absurd_size_are_refused(option: str, number: str) -> None:
    argv = _liq(**{option: number})
    if option == "wallet":
        argv = [a for a in argv if a not in ("--leverage", "10")]
    if option == "maint_amount":
        argv += ["--mmr", "0.01"]
    refuse(argv)


@pytest.mark.parametrize("argv", [
    ["simulate", "--seed", "-1", "--accounts", "5", "--steps", "2"],
    ["simulate", "--drop", "1e-999999", "--accounts", "5", "--steps", "2"],
    ["simulate", "--drop", "NaN", "--accounts", "5", "--steps", "2"],
    ["simulate", "--accounts", "0"],
    ["simulate", "--scenario", "bogus", "--accounts", "5", "--steps", "2"],
    ["bench", "no-such-benchmark"],
    ["liq-price", "--venue", "no-such-venue", "--symbol", "X", "--side", "long", "--qty", "1", "--entry", "1",
     "--leverage", "1"],
])
def test_bad_options_are_refused(tmp_path: Path, argv: list[str]) -> None:
    refuse([*argv, "--out", str(tmp_path)] if argv[0] == "simulate" else argv)


def test_simulate_plot_into_an_unwritable_place_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    # --out names a folder below a plain file: it cannot be created.
    refuse(["simulate", "--accounts", "5", "--steps", "2", "--json", "--out", str(blocker / "sub")])


# --------------------------------------------------------------------------- journals (item 7, 12)

def test_demo_refuses_to_replace_an_existing_file_without_force(tmp_path: Path) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("my notes")
    assert "--force" in refuse(["demo", "--journal", str(precious), "--json"])
    assert precious.read_text() == "my notes"


def test_demo_with_force_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "old.sqlite"
    target.write_text("old")
    result = CliRunner().invoke(_entry, ["--", "demo", "--journal", str(target), "--force", "--json"])
    assert result.exit_code == 0, result.stderr
    assert target.read_bytes().startswith(b"SQLite format 3\x00")


def test_rerunning_the_readme_demo_replaces_its_own_journal_but_never_another_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # the README's main command, run twice: the second run must work too
        result = CliRunner().invoke(_entry, ["--", "demo", "--json"])
        assert result.exit_code == 0, result.stderr
    assert (tmp_path / "solvent-demo.sqlite").read_bytes().startswith(b"SQLite format 3\x00")
    (tmp_path / "solvent-demo.sqlite").unlink()
    (tmp_path / "solvent-demo.sqlite").write_text("not the demo's")
    assert "--force" in refuse(["demo", "--json"])
    assert (tmp_path / "solvent-demo.sqlite").read_text() == "not the demo's"
    # found by a new-user pass: any SQLite file under the demo's name was replaced, a database of
    # one's own included; and a journal with the demo's tables but another genesis is not the demo's
    import sqlite3

    (tmp_path / "solvent-demo.sqlite").unlink()
    with sqlite3.connect(tmp_path / "solvent-demo.sqlite") as db:
        db.execute("CREATE TABLE mydata (x)")
        db.execute("INSERT INTO mydata VALUES (42)")
    db.close()
    assert "not a journal an earlier demo wrote" in refuse(["demo", "--json"])
    with sqlite3.connect(tmp_path / "solvent-demo.sqlite") as db:
        assert db.execute("SELECT x FROM mydata").fetchall() == [(42,)]
        db.execute("DROP TABLE mydata")
        db.execute("CREATE TABLE records (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, payload BLOB NOT NULL)")
        db.execute("CREATE TABLE snapshots (seq INTEGER PRIMARY KEY)")
        db.execute("INSERT INTO records VALUES (0, 'h', ?)", (b'{"config": {}, "kind": "genesis"}',))
    db.close()
    assert "not a journal an earlier demo wrote" in refuse(["demo", "--json"])
    assert CliRunner().invoke(_entry, ["--", "demo", "--json", "--force"]).exit_code == 0
    # the demo's own, though the specs were updated since (only the profile's digest differs)
    with sqlite3.connect(tmp_path / "solvent-demo.sqlite") as db:
        genesis = json.loads(db.execute("SELECT payload FROM records WHERE seq = 0").fetchone()[0])
        genesis["config"]["profile"]["sha256"] = "0" * 64
        db.execute("UPDATE records SET payload = ? WHERE seq = 0", (json.dumps(genesis).encode(),))
    db.close()
    assert CliRunner().invoke(_entry, ["--", "demo", "--json"]).exit_code == 0
    # an earlier solvent's demo, which predates configuration fields added since (found while
    # adding ``leverage_grid``: the README's demo refused to replace the journal of the version
    # before), is the demo's; one whose recorded settings differ is not
    for field, value, own in (("leverage_grid", None, True), ("isolated_leverage_cut", None, True),
                              ("taker_fee_rate", "0.1", False)):
        with sqlite3.connect(tmp_path / "solvent-demo.sqlite") as db:
            genesis = json.loads(db.execute("SELECT payload FROM records WHERE seq = 0").fetchone()[0])
            if value is None:
                del genesis["config"][field]
            else:
                genesis["config"][field] = value
            db.execute("UPDATE records SET payload = ? WHERE seq = 0", (json.dumps(genesis).encode(),))
        db.close()
        if own:
            assert CliRunner().invoke(_entry, ["--", "demo", "--json"]).exit_code == 0, field
        else:
            assert "not a journal an earlier demo wrote" in refuse(["demo", "--json"])


@pytest.mark.parametrize("where", ["directory", "missing-folder"])
def test_demo_journal_that_cannot_be_a_new_file_is_refused(tmp_path: Path, where: str) -> None:
    target = tmp_path if where == "directory" else tmp_path / "no-folder" / "j.sqlite"
    refuse(["demo", "--journal", str(target), "--json"])
    assert not (tmp_path / "no-folder").exists()


@pytest.fixture(scope="module")
def demo_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    journal = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    assert main(["demo", "--journal", str(journal), "--json"]) == 0
    return journal




@pytest.mark.parametrize("command", ["replay", "verify", "explain"])
@pytest.mark.parametrize("kind", [
    "directory", "missing",
    # A file that is not SQLite at all is bad input (2), not a damaged journal (1).
    "png",
    "binary",
])
def test_journal_commands_refuse_what_is_not_a_journal(tmp_path: Path, command: str, kind: str) -> None:
    path = BAD_FILES[kind](tmp_path)
    refuse([command, path, *(["--event", "1"] if command == "explain" else [])])


def test_export_into_a_missing_folder_is_refused(tmp_path: Path, demo_journal: Path) -> None:
    refuse(["export", str(demo_journal), str(tmp_path / "no-folder" / "out.ndjson")])


@pytest.mark.parametrize("kind", [
    "binary",
    "utf16",
    "png",
    "directory",
])
def test_import_of_what_is_not_an_export_is_refused(tmp_path: Path, kind: str) -> None:
    source = BAD_FILES[kind](tmp_path)
    refuse(["import", source, str(tmp_path / "new.sqlite")])



def test_a_failed_import_leaves_no_new_journal_behind(tmp_path: Path) -> None:
    source = tmp_path / "garbage.ndjson"
    source.write_text("garbage\n")
    target = tmp_path / "new.sqlite"
    refuse(["import", str(source), str(target)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.ndjson"]


def test_a_refused_import_changes_no_existing_target(tmp_path: Path, demo_journal: Path) -> None:
    """Found by a new-user pass: the target was opened (its journal tables made) before the export
    was checked, so a refused import left tables in an empty file, in one's own database, and an
    empty schema in PostgreSQL; and a good export was imported into an unrelated database."""
    import sqlite3

    from test_journal_common import pg_dsn, require_postgres

    source = tmp_path / "garbage.ndjson"
    source.write_text("garbage\n")
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    refuse(["import", str(source), str(empty)])
    assert empty.read_bytes() == b""
    app = tmp_path / "app.db"
    with sqlite3.connect(app) as db:
        db.execute("CREATE TABLE mydata (x)")
    db.close()
    before = app.read_bytes()
    refuse(["import", str(source), str(app)])
    good = tmp_path / "good.ndjson"
    assert main(["export", str(demo_journal), str(good)]) == 0
    assert "holding mydata, not a journal" in refuse(["import", str(good), str(app)])
    assert app.read_bytes() == before
    # a journal already holding records is bad input too (exit 2, as the rest), not a failure
    journal = tmp_path / "full.sqlite"
    assert main(["import", str(good), str(journal)]) == 0
    assert "already holds records" in refuse(["import", str(good), str(journal)])
    require_postgres()
    import psycopg

    schema = f"refused_import_{os.getpid()}"
    refuse(["import", str(source), pg_dsn(), "--schema", schema])
    assert "schema name 'x; drop' must match" in refuse(["import", str(good), pg_dsn(), "--schema", "x; drop"])
    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)).fetchall()
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    assert found == []


# --------------------------------------------------------------------------- units.to_decimal bound

@pytest.mark.parametrize(("text", "value"), [("1_000", "1000"), ("1_000_000.5", "1000000.5"), ("-12_345", "-12345"),
                                           ("999_999e2", "99999900")])
def test_to_decimal_takes_an_underscore_between_groups_of_three_digits(text: str, value: str) -> None:
    assert to_decimal(text, "fund") == Decimal(value)


@pytest.mark.parametrize("text", ["0_05", "1_0", "0_050", "1__000", "_1000", "1000_", "1_00", "1_000.000_1",
                                  "1000_000"])
def test_to_decimal_refuses_an_underscore_anywhere_else(text: str) -> None:
    """Found by a new-user pass: ``--fund 0_05`` (a mistyped 0.05) was read as 5, a fund of 500 %
    of the open interest: every underscore was dropped, wherever it stood."""
    with pytest.raises(InvalidInput, match=r"is not a number: .* \(an underscore separates groups of three digits"):
        to_decimal(text, "fund")


@pytest.mark.parametrize("text", ["1e41", "-1e41", "1e-41", "1e999999", "1E-999999", "1" * 42])
def test_to_decimal_refuses_numbers_outside_the_documented_range(text: str) -> None:
    with pytest.raises(InvalidInput, match="out of range"):
        to_decimal(text, "qty")


@pytest.mark.parametrize("text", ["9.9e40", "1e40", "1e-40", "-1e-40", "0", "0E-999999", "0.000"])
def test_to_decimal_accepts_the_edges_of_the_range_and_any_zero(text: str) -> None:
    assert to_decimal(text) == Decimal(text)


def test_to_decimal_refuses_digits_it_would_round_away() -> None:
    # 41 significant digits: the working precision (40) would silently round the last one.
    assert WORKING_PRECISION == 40
    with pytest.raises(InvalidInput, match="41 significant digits"):
        to_decimal("1." + "0" * 39 + "1")
    # Trailing zeros carry no information and are not counted.
    assert to_decimal("1." + "0" * 60) == 1
    # A Hyperliquid-style 40-digit price is kept exactly.
    assert str(to_decimal("57721.51898734177215189873417721518987342")) == "57721.51898734177215189873417721518987342"


def test_to_decimal_bound_is_the_documented_one() -> None:
    assert MAX_ADJUSTED_EXPONENT == 40
    assert to_decimal(10**40) == Decimal(10) ** 40
    with pytest.raises(InvalidInput):
        to_decimal(10**41)


@pytest.mark.parametrize("event", ["-1", "99999999", str(10**30)])
def test_explain_of_a_record_that_does_not_exist_is_refused(demo_journal: Path, event: str) -> None:
    refuse(["explain", str(demo_journal), "--event", event])


def test_a_hedge_mode_position_without_position_side_is_named_in_the_message(tmp_path: Path) -> None:
    account = tmp_path / "hedge.json"
    account.write_text('{"position_mode": "hedge", "wallet": "1000", "positions": ['
                       '{"symbol": "BTCUSDT", "side": "long", "qty": "0.1", "entry": "60000"}]}')
    message = refuse(["account", "--venue", "binance-usdm", "--file", str(account)])
    assert "positions[0] (BTCUSDT long)" in message and "position_side is required in hedge mode" in message


# ------------------------------------------------- numbers outside the range the engine accepts


@pytest.mark.parametrize(("options", "says"), [
    # BTCUSDT's tick is 0.1 (binance-usdm): no entry or mark below one tick exists
    ({"entry": "1e-40"}, "position.entry 1E-40 is below one tick of BTCUSDT (0.1)"),
    ({"mark": "1e-40"}, "position.mark 1E-40 is below one tick of BTCUSDT (0.1)"),
    ({"entry": "0.05"}, "below one tick"),
    # the engine's bounds (solvent/limits.py): price ≤ 10^9, qty ≤ 10^9, amounts ≤ 10^12
    ({"entry": "1e40"}, "position.entry 1E+40 is beyond the largest size solvent accepts (1,000,000,000)"),
    ({"mark": "1000000000.1"}, "position.mark"),
    ({"qty": "1e30"}, "position.qty 1E+30 is beyond the largest size solvent accepts"),
    # 10^9 × 10^9 = 10^18 of notional > 10^12
    ({"qty": "1000000000", "entry": "1000000000"}, "qty × contract size × price"),
    # a leverage below 1: off Binance's grid of whole numbers; on a venue without one (dYdX), the
    # amount it would lock up (notional / leverage) is past the largest amount
    ({"leverage": "1e-30"}, "position.leverage: 1E-30 is not a multiple of 1, the leverage step of binance-usdm"),
    ({"leverage": "1e-30", "venue": "dydx-v4", "symbol": "BTC-USD", "entry": "100000"}, "entry notional / leverage"),
])
def test_liq_price_refuses_prices_and_sizes_the_engine_would_refuse(options: dict[str, str], says: str) -> None:
    assert says in refuse(_liq(**options))


@pytest.mark.parametrize("mode", ["isolated", "cross"])
def test_liq_price_refuses_a_wallet_above_the_largest_amount(mode: str) -> None:
    argv = [a for a in LIQ if a not in ("--leverage", "10")] + ["--wallet", "1e40", "--mode", mode]
    assert "beyond the largest size solvent accepts (1,000,000,000,000)" in refuse(argv)


@pytest.mark.parametrize(("options", "says"), [
    # Drift BTC-PERP: initial ratio 0.1, so at most 1 / 0.1 = 10x (the quotient was printed 1E+1)
    ({"venue": "drift", "symbol": "BTC-PERP", "leverage": "20"}, "leverage 20 exceeds the maximum 10"),
    # dYdX v4 BTC-USD: initial fraction 20,000 ppm = 0.02, so at most 1 / 0.02 = 50x (was 5E+1)
    ({"venue": "dydx-v4", "symbol": "BTC-USD", "leverage": "51"}, "leverage 51 exceeds the maximum 50"),
])
def test_a_leverage_above_the_maximum_names_it_in_plain_digits(options: dict[str, str], says: str) -> None:
    err = refuse(_liq(**options))
    assert says in err and "E+" not in err


@pytest.mark.parametrize("symbol", ["BTCUSDT", "BTCUSD_PERP"])
def test_liq_price_at_the_smallest_and_largest_accepted_price_answers(symbol: str) -> None:
    venue = "binance-usdm" if symbol == "BTCUSDT" else "binance-coinm"
    for entry in ("0.1", "1000000000"):
        wallet = "1000000" if symbol == "BTCUSDT" else "1"
        result = CliRunner().invoke(_entry, ["--", "liq-price", "--venue", venue, "--symbol", symbol, "--side", "long",
                                             "--qty", "1", "--entry", entry, "--wallet", wallet, "--mode", "cross",
                                             "--json"])
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["entry_price"] == entry


@pytest.mark.parametrize(("extra", "says"), [
    ({"maint_amount": "10"}, "'maint_amount' needs 'mmr'"),
    ({"isolated_margin": "100"}, "'isolated_margin' is for an isolated position"),
])
def test_account_file_fields_that_would_be_ignored_are_refused(tmp_path: Path, extra: dict[str, str],
                                                                says: str) -> None:
    doc = {"wallet": "10000", "positions": [{**GOOD_POSITION, **extra}]}
    path = _write(tmp_path, "a.json", json.dumps(doc))
    assert says in refuse(["account", "--venue", "binance-usdm", "--file", path])


@pytest.mark.parametrize("qty", ["١", "６", "1.5\u0660"])
def test_digits_of_other_scripts_are_not_numbers(qty: str) -> None:
    # Decimal("١") is 1 and Decimal("６") is 6: a number here is ASCII digits only
    assert "is not a number" in refuse(_liq(qty=qty))


def test_a_command_that_exits_with_a_code_returns_that_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """``cluster replay`` raises ``click.exceptions.Exit(1)`` when a replica's hash differs, and
    ``cluster check`` when its answer is an error: Click (8.2+, run with ``standalone_mode=False``)
    returns that code instead of raising it, and ``main`` returned 0 whatever it was."""
    from solvent.cli import cli

    @click.command("exits-three")
    def exits_three() -> None:
        raise click.exceptions.Exit(3)

    monkeypatch.setitem(cli.commands, "exits-three", exits_three)  # type: ignore[attr-defined]
    assert main(["exits-three"]) == 3


def test_an_unreachable_postgresql_is_said_on_one_line() -> None:
    """libpq puts its hint on a line of its own ("Is the server running…"): found by a new-user pass."""
    pytest.importorskip("psycopg")
    result = CliRunner().invoke(_entry, ["--", "verify", "postgresql://postgres@127.0.0.1:1/test"],
                                catch_exceptions=False)
    assert result.exit_code == 1 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, \
        result.stderr


def test_serve_refuses_a_database_of_ones_own_before_opening_it(tmp_path: Path) -> None:
    """Found by a new-user pass: ``serve --journal app.db`` on an application's database was
    refused, but only after opening it had added the journal's tables and a lock file."""
    import sqlite3

    from solvent.service.builder import open_durable

    app = tmp_path / "app.db"
    with sqlite3.connect(app) as db:
        db.execute("CREATE TABLE mydata (x)")
    db.close()
    before = app.read_bytes()
    with pytest.raises(InvalidInput, match="holding mydata, not a journal"):
        open_durable(str(app), None)
    assert app.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


@pytest.mark.parametrize("argv", [
    ["simulate", "--steps", "0_60"],  # click's int() read this as 60
    ["simulate", "--accounts", "1_000"],
    ["simulate", "--seed", "+7"],
    ["simulate", "--seed", "\u0663"],  # an Arabic-Indic three
    ["simulate", "--seed", " 7"],
    ["adequacy", "--paths", "010"],
    ["serve", "--port", "8_000"],
    ["serve", "--port", "-0"],
])
def test_integer_options_take_ascii_digits_only(argv: list[str]) -> None:
    line = refuse(argv)
    assert "is not a whole number written in the digits 0-9" in line, line


@pytest.mark.parametrize("days", ["\u00b2", "\u0663", "1_0", "+5", "07"])
def test_the_stale_spec_days_variable_takes_ascii_digits_only(days: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``isdigit()`` passed a superscript two (then ``int()`` crashed) and an Arabic-Indic three."""
    from solvent.cli.spec_age import STALE_DAYS_ENV, stale_after_days

    monkeypatch.setenv(STALE_DAYS_ENV, days)
    with pytest.raises(InvalidInput, match="whole number of days in digits 0-9"):
        stale_after_days()
    monkeypatch.setenv(STALE_DAYS_ENV, "30")
    assert stale_after_days() == 30


def test_two_positions_in_one_slot_say_which_slot_and_why(tmp_path: Path) -> None:
    """It said ``BTCUSDT: two positions in the same slot both`` (found by a new-user pass)."""
    doc = {"wallet": "1000", "positions": [GOOD_POSITION, GOOD_POSITION]}
    line = refuse(["account", "--venue", "binance-usdm", "--file", _write(tmp_path, "a.json", json.dumps(doc))])
    assert "BTCUSDT: two positions in the same slot ('both'): one-way mode holds one position a symbol" in line


@pytest.mark.parametrize("command", [
    ["options", "margin", "--venue", "deribit-standard", "--file", "{f}"],
    ["account", "--venue", "binance-usdm", "--file", "{f}"],
    ["simulate", "--inputs", "{f}"],
    ["adequacy", "--inputs", "{f}"],
])
def test_an_input_file_that_never_ends_is_refused(command: list[str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a new-user pass: ``--file /dev/zero`` was read for ever. An input file is read up
    to ``files.MAX_INPUT_BYTES`` and refused past it (the limit lowered here so that a file of
    2,001 bytes is past it, and the device is read only that far)."""
    from solvent.cli import files

    monkeypatch.setattr(files, "MAX_INPUT_BYTES", 2_000)
    big = tmp_path / "big.json"
    big.write_text("[" + "0," * 1_000 + "0]")
    for path in (str(big), "/dev/zero"):
        if not Path(path).exists():
            continue
        assert main([a.format(f=path) for a in command]) == 2
        err = capsys.readouterr().err
        assert err == f"error: {err.split(': ', 1)[1]}" and "is larger than 0 MiB" in err, err


def test_a_float_beyond_any_size_is_not_offered_back_as_a_string(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a new-user pass: ``"qty": 1e400`` was refused with "write exact numbers as
    strings, e.g. "1e400"", and that string was refused in turn. An ordinary float still gets
    its plain string (``0.5`` → ``"0.5"``)."""
    from solvent.jsonstrict import loads_strict

    with pytest.raises(InvalidInput, match=r'is a float, and beyond any size solvent takes') as caught:
        loads_strict(b'{"qty": 1e400}', "portfolio")
    assert "e.g." not in str(caught.value)
    with pytest.raises(InvalidInput, match=r'0\.5 is a float; write exact numbers as strings, e\.g\. "0\.5"'):
        loads_strict(b'{"qty": 0.5}', "portfolio")


@pytest.mark.parametrize("command", [["adequacy", "--book", "/dev/zero", "--start-price", "100000", "--out", "{t}"],
                                     ["simulate", "--book", "/dev/zero", "--start-price", "100000", "--out", "{t}"]])
def test_a_book_that_never_ends_is_refused(command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Found by review: ``--book /dev/zero`` was read for ever (and hashed, a second read). A CSV
    table is read up to ``input_files.MAX_TABLE_BYTES`` (lowered here: the device is read only
    that far)."""
    from solvent import csv_table
    from solvent.stress import run_inputs

    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero on this system")
    monkeypatch.setattr(csv_table, "MAX_TABLE_BYTES", 2_000)
    monkeypatch.setattr(run_inputs, "MAX_TABLE_BYTES", 2_000)
    assert main([a.format(t=tmp_path / "out") for a in command]) == 2
    assert "/dev/zero is larger than 0 MiB" in capsys.readouterr().err
