"""The published JSON Schemas are generated from the types the readers use, and they agree with
the readers: a file the schema accepts is read, a file of the wrong shape is refused by both.

The schema is checked with ``jsonschema`` (an independent validator), the reader with
``solvent.parse_portfolio``; the files are the documentation's and the demo's, and bad
variants written out below.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from solvent import load_venue, parse_portfolio
from solvent.cli import main
from solvent.errors import InvalidInput
from solvent.file_formats import SCHEMAS, json_schema

ROOT = Path(__file__).resolve().parent.parent
VENUE = load_venue("binance-usdm")


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_published_schema_is_the_generated_one(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``schemas/NAME.schema.json`` is what ``solvent schema NAME`` prints: never hand-kept
    (regenerate with ``solvent schema NAME > schemas/NAME.schema.json``)."""
    published = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text("utf-8"))
    assert main(["schema", name]) == 0
    assert json.loads(capsys.readouterr().out) == published == json_schema(name)


def _documented_account_files() -> list[dict[str, Any]]:
    """The account-file examples of docs/account-file.md, and the demo's sample accounts."""
    text = (ROOT / "docs" / "account-file.md").read_text("utf-8")
    files = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]
    sample = json.loads((ROOT / "src/solvent/data/sample_accounts.json").read_text("utf-8"))
    files += [{k: v for k, v in acc.items() if k != "name"} for acc in sample["accounts"]]
    return files


def test_documented_account_files_are_valid_under_the_schema_and_read() -> None:
    validator = _validator("account")
    files = _documented_account_files()
    assert len(files) >= 3
    for raw in files:
        assert not list(validator.iter_errors(raw)), raw
        parse_portfolio(raw, VENUE)


GOOD: dict[str, Any] = {
    "mode": "cross", "position_mode": "one_way",
    "wallet": {"USDT": "2000", "BTC": "0.1"}, "prices": {"BTC": "60000"},
    "haircuts": {"BTC": {"haircut": "0.05", "tiers": [["10", "0.1"]]}},
    "positions": [{"symbol": "BTCUSDT", "side": "long", "qty": "0.5", "entry": "60000", "mark": "58000",
                   "leverage": 10, "position_side": "both"}],
}


def _bad(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """``GOOD`` with the field at ``path`` set to ``value`` (``...`` deletes it)."""
    raw = copy.deepcopy(GOOD)
    target = raw
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return raw


@pytest.mark.parametrize(("raw", "says"), [
    (_bad(("colour",), "red"), "unknown field 'colour'"),
    (_bad(("positions", 0, "symbol"), ...), "positions[0]: missing field 'symbol'"),
    (_bad(("positions", 0, "sidee"), "long"), "positions[0]: unknown field 'sidee'"),
    (_bad(("positions", 0, "side"), "longg"), "positions[0].side must be one of long, short"),
    (_bad(("positions", 0, "qty"), 0.5), "positions[0].qty must be a decimal string or integer, not float"),
    (_bad(("positions", 0, "qty"), "½"), "positions[0].qty is not a number"),
    (_bad(("positions",), {"symbol": "BTCUSDT"}), "positions: Expected 'array'"),
    (_bad(("positions", 0), "BTCUSDT long"), "positions[0]: Expected 'object'"),
    (_bad(("mode",), "portfolio"), "mode must be one of cross, isolated"),
    (_bad(("position_mode",), "both"), "position_mode must be one of one_way, hedge"),
    (_bad(("haircuts", "BTC", "cap"), "1"), "haircuts.BTC: unknown field 'cap'"),
    (_bad(("haircuts", "BTC", "tiers"), [["10"]]), "haircuts.BTC tiers[0]"),
    (_bad(("prices",), ["60000"]), "prices: Expected 'object | null'"),
    (_bad(("settle",), 5), "settle: Expected 'str | null'"),
])
def test_a_file_of_the_wrong_shape_is_refused_by_the_schema_and_the_reader(raw: dict[str, Any], says: str) -> None:
    assert list(_validator("account").iter_errors(raw)), "the schema accepts it"
    with pytest.raises(InvalidInput) as refused:
        parse_portfolio(raw, VENUE)
    assert says in str(refused.value)


def test_the_good_file_is_valid_and_read() -> None:
    assert not list(_validator("account").iter_errors(GOOD))
    report = parse_portfolio(GOOD, VENUE).assess()
    # 0.1 BTC at 60,000 less the 5 % haircut is 5,700, plus 2,000 USDT: 7,700; the long loses
    # 0.5 × (58,000 − 60,000) = 1,000
    assert report.equity == 6700


def test_a_schema_name_that_does_not_exist_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "nonsense"]) == 2
    assert "nonsense" in capsys.readouterr().err


# ------------------------------------------------------------------------------- venue profiles

PROFILES = ROOT / "src" / "solvent" / "profiles"


@pytest.mark.parametrize("path", sorted(PROFILES.glob("*.json")), ids=lambda p: p.stem)
def test_every_bundled_profile_is_valid_under_the_venue_schema(path: Path) -> None:
    raw = json.loads(path.read_text("utf-8"))
    assert not list(_validator("venue").iter_errors(raw))
    load_venue(path.stem, overlays=False)


def _profile(**changes: Any) -> dict[str, Any]:
    """The Hyperliquid profile (backstop policy, price rule, tier tables) with ``changes``
    applied at dotted paths (``...`` deletes)."""
    raw: dict[str, Any] = json.loads((PROFILES / "hyperliquid.json").read_text("utf-8"))
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = raw
        for key in parents:
            target = target[key]
        if value is ...:
            del target[last]
        else:
            target[last] = value
    return raw


@pytest.mark.parametrize(("raw", "says"), [
    (_profile(colour="red"), "unknown field 'colour'"),
    (_profile(source=...), "missing field 'source'"),
    (_profile(instruments__BTC__tick="1"), "instruments.BTC: unknown field 'tick'"),
    (_profile(instruments__BTC__kind="perp"), "instruments.BTC kind: not one of the allowed values: 'perp'"),
    (_profile(liquidation__policy="auction"), "liquidation"),
    (_profile(liquidation__policy="bankruptcy_price"), "liquidation: unknown field"),  # backstop fields left
    (_profile(liquidation__cooldown_ms="30s"), "liquidation.cooldown_ms"),
    (_profile(tier_tables__BTC=[{"notional_floor": "0", "maint_margin_ratio": "0.01", "initial_leverage": "50"}]),
     "missing field 'notional_cap'"),
    (_profile(price_rule__significant_figures="5"), "price_rule.significant_figures"),
    (_profile(levels__alarm="0.5"), "levels: unknown field 'alarm'"),
    (_profile(mm_basis="average"), "mm_basis: not one of the allowed values: 'average'"),
    # null where a field may only be left out (these were tracebacks before the shape check)
    (_profile(levels=None), "levels: Expected 'object', got 'null'"),
    (_profile(defaults=None), "defaults: Expected 'object', got 'null'"),
    (_profile(tier_tables=None), "tier_tables: Expected 'object', got 'null'"),
    (_profile(instruments__BTC__kind=None), "instruments.BTC kind: Expected"),
    (_profile(instruments__BTC__base=None), "instruments.BTC base: Expected 'str', got 'null'"),
    (_profile(schema_version=2), "schema_version: Expected 'int' <= 1"),
    (_profile(instruments={}), "instruments: Expected 'object' of length >= 1"),
    (_profile(liquidation__cooldown_ms=-1), "liquidation.cooldown_ms: Expected 'int' >= 0"),
    (_profile(liquidation__backstop_threshold="1/0/2"), "liquidation"),
])
def test_a_profile_of_the_wrong_shape_is_refused_by_the_schema_and_the_reader(raw: dict[str, Any], says: str) -> None:
    from solvent.risk.venues import parse_profile

    assert list(_validator("venue").iter_errors(raw)), "the schema accepts it"
    with pytest.raises(InvalidInput) as refused:
        parse_profile(raw)
    assert says in str(refused.value)
