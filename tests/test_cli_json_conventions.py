"""Every ``--json`` output follows docs/json-conventions.md (issue 9, item 20).

Each command the README lists is run with ``--json``; a walker checks the whole document:
snake_case names, ``account_id`` (never ``account``), exact amounts as plain decimal
strings, counts as integers, booleans as booleans, ``tier`` as the documented object, a
``<field>_reason`` beside a ``null`` that needs one, and floats only for measurements.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from solvent.cli import cli, main

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
DATA_MAPS = {"margin_calls": 2, "marks": 1, "balances": 1, "wallet": 1, "prices": 1, "observations_used": 1}
"""Objects keyed by data (account ids, symbols, assets, levels), not by field names: how many
levels of keys are data (the demo's ``margin_calls`` is keyed by account, then by level; a settlement's
``observations_used`` by source)."""
INPUT_FILES = {"command", "portfolio_after"}
"""Fields holding a document in an input's format, not an output's: a journal record's command
(the journal's format), the portfolio a settlement or a liquidation plan leaves (a portfolio
file, to margin or settle again)."""
MEASUREMENTS = {"wall_s", "value", "baseline_value", "ratio"}
"""The only fields that may be JSON floats (timings and benchmark figures)."""
COUNTS = {"records", "instruments", "minutes", "level_changes", "margin_calls", "accounts", "steps",
          "liquidations", "events", "seq", "head_seq", "snapshots_checked", "snapshot_seq", "index",
          "backstop_events", "adl_events", "cascade_rounds", "max_rounds_in_a_step", "command_seq", "tier",
          "truncated_steps", "max_rounds"}
"""Fields that, when they hold a number, hold a count or sequence number: a JSON integer."""
BOOLEANS = {"ok", "accepted", "margin_call", "conservation_holds", "matches_recorded", "events_match_replay",
            "already_liquidatable", "liquidation_beyond_entry", "truncated"}
EXACT = re.compile(r"(price|margin|equity|notional|pnl|qty|_pct|_rate|_ratio|amount|wallet|collateral|"
                   r"balance|_fund|_fund_start|_fund_min|_fund_end|socialised|_mark)$")
"""Fields holding exact amounts: a plain decimal string or null."""
TIER_FIELDS = {"index", "floor_notional", "cap_notional", "maint_margin_rate", "maint_amount", "max_leverage"}
PLAIN_DECIMAL = re.compile(r"^-?\d+(\.\d*[1-9])?$")


@click.command()
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def _entry(argv: tuple[str, ...]) -> None:
    raise SystemExit(main(list(argv)))


def run_json(*argv: str) -> Any:
    result = CliRunner().invoke(_entry, ["--", *argv, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def walk(node: Any, path: str = "$") -> Iterator[tuple[str, str, Any, dict[str, Any]]]:
    """Every (path, key, value, parent object) of field names in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value, node
            if key in DATA_MAPS and isinstance(value, dict):
                yield from _below_data_keys(value, DATA_MAPS[key], f"{path}.{key}")
            elif key not in INPUT_FILES:
                yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from walk(item, f"{path}[{i}]")


def _below_data_keys(node: dict[str, Any], depth: int, path: str) -> Iterator[tuple[str, str, Any, dict[str, Any]]]:
    for inner in node.values():
        if depth > 1 and isinstance(inner, dict):
            yield from _below_data_keys(inner, depth - 1, f"{path}[*]")
        else:
            yield from walk(inner, f"{path}[*]")


def problems(doc: Any) -> list[str]:
    found = []
    for path, key, value, parent in walk(doc):
        where = f"{path}.{key}"
        if not SNAKE.match(key):
            found.append(f"{where}: not snake_case")
        if key == "account":
            found.append(f"{where}: an account is named account_id")
        if isinstance(value, float) and key not in MEASUREMENTS:
            found.append(f"{where}: float {value!r}")
        if key in COUNTS and isinstance(value, str):
            found.append(f"{where}: count as a string {value!r}")
        if key in BOOLEANS and not isinstance(value, bool):
            found.append(f"{where}: {value!r} is not a boolean")
        if isinstance(value, str) and value.lower() in ("true", "false"):
            found.append(f"{where}: boolean as a string {value!r}")
        if key == "tier" and not (isinstance(value, dict) and set(value) == TIER_FIELDS
                                  and isinstance(value["index"], int)):
            found.append(f"{where}: tier {value!r} is not the tier object")
        exact = EXACT.search(key) and key not in BOOLEANS and not key.endswith("_reason")
        if exact and value is not None and not (isinstance(value, str) and PLAIN_DECIMAL.match(value)):
            found.append(f"{where}: {value!r} is not a plain decimal string")
        if key == "liquidation_price" and value is None and not isinstance(parent.get("liquidation_price_reason"), str):
            found.append(f"{where}: null without liquidation_price_reason")
    return found


# --------------------------------------------------------------------------- the walker itself

def test_the_walker_catches_each_kind_of_violation() -> None:
    bad = {"account": "a", "Equity": "1", "records": "3", "ok": "true", "equity": 1.5, "tier": 2,
           "qty": "1E+3", "liquidation_price": None, "positions": [{"maintenance_margin": 10.0}]}
    found = "\n".join(problems(bad))
    for expected in ("account_id", "snake_case", "count as a string", "not a boolean", "float 1.5",
                     "not the tier object", "'1E+3' is not a plain decimal", "null without", "$.positions[0]"):
        assert expected in found, (expected, found)
    assert problems({"account_id": "a", "equity": "1.5", "records": 3, "ok": True, "wall_s": 0.1,
                     "liquidation_price": None, "liquidation_price_reason": "NOT_LIQUIDATABLE"}) == []


# --------------------------------------------------------------------------- every command

def _account_file(tmp_path: Path) -> str:
    path = tmp_path / "account.json"
    path.write_text(json.dumps({"wallet": "20000", "position_mode": "hedge", "positions": [
        {"symbol": "BTCUSDT", "side": "long", "position_side": "long", "qty": "1", "entry": "60000",
         "leverage": "10"},
        {"symbol": "BTCUSDT", "side": "short", "position_side": "short", "qty": "1", "entry": "60000",
         "leverage": "10"},
        {"symbol": "ETHUSDT", "side": "short", "position_side": "short", "qty": "2", "entry": "4000",
         "leverage": "20", "margin_mode": "isolated"}]}))
    return str(path)


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    assert main(["demo", "--journal", str(path), "--json"]) == 0
    return path


LIQ = ["liq-price", "--symbol", "BTCUSDT", "--side", "long", "--qty", "1", "--entry", "60000"]


@pytest.mark.parametrize("argv", [
    [*LIQ, "--venue", "binance-usdm", "--leverage", "10"],
    [*LIQ, "--venue", "binance-usdm", "--wallet", "1000000", "--mode", "cross"],  # no liquidation price
    ["liq-price", "--venue", "dydx-v4", "--symbol", "BTC-USD", "--side", "short", "--qty", "2", "--entry", "60000",
     "--leverage", "5"],
    ["liq-price", "--venue", "binance-coinm", "--symbol", "BTCUSD_PERP", "--side", "long", "--qty", "10",
     "--entry", "60000", "--leverage", "5"],
    ["venues"],
    ["venues", "show", "dydx-v4", "--symbol", "SOL-USD"],
    ["venues", "show", "drift", "--symbol", "SOL-PERP"],
    ["demo", "--journal", ""],
    ["simulate", "--accounts", "20", "--steps", "3"],
    ["adequacy", "--accounts", "300"],
    ["realism", "--accounts", "300", "--only", "RC-16"],
    ["bench", "remargin", "--quick"],
], ids=lambda argv: " ".join(argv[:2]))
def test_command_json_follows_the_conventions(tmp_path: Path, argv: list[str]) -> None:
    if argv[0] in ("simulate", "adequacy"):
        argv = [*argv, "--out", str(tmp_path)]
    assert problems(run_json(*argv)) == []


def test_account_json_follows_the_conventions(tmp_path: Path) -> None:
    doc = run_json("account", "--venue", "binance-usdm", "--file", _account_file(tmp_path))
    assert problems(doc) == []
    assert len(doc["positions"]) == 3


@pytest.mark.parametrize("command", [["replay"], ["verify"]])
def test_journal_json_follows_the_conventions(journal: Path, command: list[str]) -> None:
    assert problems(run_json(*command, str(journal))) == []


def test_explain_json_follows_the_conventions(journal: Path) -> None:
    doc = run_json("explain", str(journal), "--event", "75")
    assert problems(doc) == []


# --------------------------------------------------------------------------- specific values

def test_options_json_follows_the_conventions(tmp_path: Path) -> None:
    from test_options_cross import CROSS

    cross = tmp_path / "cross.json"
    cross.write_text(json.dumps(CROSS))
    assert problems(run_json("options", "margin", "--venue", "deribit-pm", "--file", str(cross))) == []
    assert problems(run_json("options", "margin", "--venue", "deribit-pm", "--demo", "crash")) == []
    assert problems(run_json("options", "margin", "--venue", "deribit-standard", "--demo", "calm")) == []
    assert problems(run_json("options", "price", "--forward", "100000", "--strike", "90000", "--vol", "0.5",
                             "--expiry-days", "7", "--type", "put", "--inverse")) == []
    assert problems(run_json("options", "settle", "--demo")) == []
    from test_options_expiry_settlement import FILE, PORTFOLIO

    settlement, portfolio = tmp_path / "s.json", tmp_path / "p.json"
    settlement.write_text(json.dumps(FILE))
    portfolio.write_text(json.dumps(PORTFOLIO))
    assert problems(run_json("options", "settle", "--file", str(settlement), "--portfolio", str(portfolio),
                             "--venue", "deribit-pm")) == []
    assert problems(run_json("options", "liquidate", "--venue", "deribit-pm", "--file", str(portfolio))) == []


def test_tier_is_the_documented_object_with_hand_checked_values() -> None:
    # binance-usdm BTCUSDT bracket 1 (Binance leverage-bracket API): notional 0–300,000,
    # maintMarginRatio 0.004, cum 0, initialLeverage 150. 60,000 notional sits in it.
    got = run_json(*LIQ, "--venue", "binance-usdm", "--leverage", "10")
    assert got["tier"] == {"index": 1, "floor_notional": "0", "cap_notional": "300000",
                           "maint_margin_rate": "0.004", "maint_amount": "0", "max_leverage": "150"}


def test_venues_counts_instruments_as_integers() -> None:
    got = {v["name"]: v for v in run_json("venues")}
    assert all(isinstance(v["instruments"], int) for v in got.values())


def test_demo_names_accounts_account_id() -> None:
    got = run_json("demo", "--journal", "")
    assert all("account_id" in row and "account" not in row for row in got["accounts"])
    assert all("account_id" in row and "account" not in row for row in got["level_changes"])
    assert isinstance(got["engine"]["level_changes"], int)
    assert isinstance(got["engine"]["conservation_holds"], bool)


def test_every_command_the_readme_lists_has_json() -> None:
    # README: "every command has --json". export and import are the journal helper's (issue 9 item 20);
    # schema prints a JSON Schema, JSON already; tlog writes a signed note or a proof (JSON) as its output.
    def has_json(cmd: click.Command) -> bool:
        if isinstance(cmd, click.Group) and not any("--json" in p.opts for p in cmd.params
                                                    if isinstance(p, click.Option)):
            return all(has_json(sub) for sub in cmd.commands.values())  # every subcommand takes it
        return any("--json" in p.opts for p in cmd.params if isinstance(p, click.Option))

    missing = sorted(name for name, cmd in cli.commands.items()
                     if name not in ("serve", "export", "import", "schema", "tlog") and not has_json(cmd))
    assert missing == []
    for name in ("demo", "venues", "simulate", "bench", "replay", "verify", "explain", "liq-price", "account"):
        assert name in cli.commands


def test_exact_amounts_are_plain_strings_even_when_large_or_small() -> None:
    # 1e-8 BTC at 1e6: notional 0.01 (no exponent notation in the output).
    got = run_json("liq-price", "--venue", "bybit-linear", "--symbol", "BTCUSDT", "--side", "long", "--qty",
                   "0.00000001", "--entry", "1000000", "--leverage", "10", "--mmr", "0.005")
    assert got["qty"] == "0.00000001"
    assert Decimal(got["notional"]) == Decimal("0.01")
    assert problems(got) == []
