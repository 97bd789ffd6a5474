"""The record format: codec round trips, strictness, snapshots, and the documented example."""

from __future__ import annotations

import copy
import hashlib
import re
from decimal import Decimal
from pathlib import Path

import pytest
from test_journal_common import config, stream

from solvent.cli import main
from solvent.engine import (
    AddIsolatedMargin,
    AdvanceTime,
    CancelOrder,
    Command,
    Deposit,
    Engine,
    Fill,
    FundInsurance,
    PlaceOrder,
    PremiumSample,
    PriceUpdate,
    RemoveIsolatedMargin,
    SetLeverage,
    SetMarginMode,
    Withdraw,
)
from solvent.journal import (
    CodecError,
    NdjsonBackend,
    decode_command,
    decode_state,
    encode_command,
    encode_state,
    verify,
)
from solvent.journal.codec import COMMAND_TYPES, canonical_json, decode_config, encode_config, loads_strict
from solvent.journal.explain import explain
from solvent.model import MarginMode, PositionSide, Side

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "tests" / "data" / "example_journal.ndjson"
D = Decimal

EVERY_COMMAND: list[Command] = [
    Deposit("a", "USDT", D("1.50")), Withdraw("a", "USDT", D("1E+3")), FundInsurance(D("0.00000001")),
    PlaceOrder("a", "o", "BTCUSDT", Side.SHORT, D("0.010"), D(60000), True, PositionSide.SHORT),
    CancelOrder("a", "o"),
    Fill("t", "BTCUSDT", D("60000.5"), D(1), "a", "b", D("0.3"), D(0), "o1", None, PositionSide.LONG),
    PriceUpdate("BTCUSDT", "x", D("-0")), PremiumSample("BTCUSDT", D(1), D(2)), AdvanceTime(123),
    SetLeverage("a", "BTCUSDT", D(20)), SetMarginMode("a", "BTCUSDT", MarginMode.ISOLATED),
    AddIsolatedMargin("a", "BTCUSDT", D(5)), RemoveIsolatedMargin("a", "BTCUSDT", D(5), PositionSide.LONG),
]


def test_every_command_type_round_trips_exactly() -> None:
    assert {type(c).__name__ for c in EVERY_COMMAND} == set(COMMAND_TYPES)
    for cmd in EVERY_COMMAND:
        back = decode_command(loads_strict(canonical_json(encode_command(cmd))))
        assert back == cmd and repr(back) == repr(cmd)


@pytest.mark.parametrize("payload, complaint", [
    (b'{"type":"Deposit","account_id":"a","asset":"USDT","amount":1.5}', "float"),
    (b'{"type":"Deposit","account_id":"a","asset":"USDT","amount":"1.5e0"}', "canonical"),
    (b'{"type":"Deposit","account_id":"a","asset":"USDT","amount":"NaN"}', "canonical"),
    (b'{"type":"Deposit","account_id":"a","asset":"USDT","amount":15}', "string"),
    (b'{"type":"Deposit","account_id":"a","asset":"USDT"}', "missing"),
    (b'{"type":"Deposit","account_id":"a","asset":"USDT","amount":"1","memo":"x"}', "unknown"),
    (b'{"type":"Nope"}', "unknown command"),
])
def test_a_bad_command_is_refused_with_the_reason(payload: bytes, complaint: str) -> None:
    with pytest.raises(CodecError, match=complaint):
        decode_command(loads_strict(payload))


def test_the_configuration_round_trips() -> None:
    cfg = config()
    assert decode_config(loads_strict(canonical_json(encode_config(cfg)))) == cfg


def test_a_snapshot_restores_the_identical_engine() -> None:
    cmds = stream(2_500, seed=5)
    original = Engine(config())
    original.apply_all(cmds[:2_000])
    restored = Engine(config(), state=decode_state(encode_state(original.state)))
    assert restored.state == original.state
    for part in ("accounts", "markets", "deposits", "open_interest"):  # decimals and orders exact, not just equal
        assert repr(getattr(restored.state, part)) == repr(getattr(original.state, part))
    assert restored.state_hash() == original.state_hash()
    twin = Engine(config(), state=copy.deepcopy(original.state))
    for cmd in cmds[2_000:]:  # and behaves identically afterwards, derived indexes included
        assert repr(restored.apply(cmd)) == repr(twin.apply(cmd))
    assert restored.state_hash() == twin.state_hash()


def test_the_documented_example_has_the_documented_head_hash() -> None:
    doc = (ROOT / "docs" / "journal.md").read_text("utf-8")
    expected_head = re.search(r"head hash `H_6` = `([0-9a-f]{64})`", doc)
    expected_state = re.search(r"state hash after replay = `([0-9a-f]{64})`", doc)
    assert expected_head and expected_state
    h = bytes(32)  # the independent check printed in the docs: hashlib only
    for line in EXAMPLE.read_bytes().splitlines(keepends=True):
        m = re.fullmatch(rb'\{"h":"([0-9a-f]{64})","r":(.*)\}\n', line, re.S)
        assert m is not None
        h = hashlib.sha256(h + m.group(2)).digest()
        assert h.hex() == m.group(1).decode()
    assert h.hex() == expected_head.group(1)
    report = verify(NdjsonBackend(EXAMPLE))
    assert report.ok and report.head_seq == 6 and report.records == 7  # genesis + 6 commands
    assert report.head_hash == expected_head.group(1) and report.state_hash == expected_state.group(1)


def test_the_example_margin_call_is_explained() -> None:
    answer = explain(NdjsonBackend(EXAMPLE), 6)
    assert answer["events_match_replay"] and answer["marks"] == {"BTCUSDT": "59500"}
    (alice,) = answer["accounts"]
    assert alice["account_id"] == "alice" and alice["matches_recorded"]
    # equity 700 − 1 × (60,000 − 59,500) = 200; MM 59,500 × 0.4 % = 238 (tier 0–300,000)
    assert (alice["equity"], alice["maintenance_margin"]) == ("200", "238")
    assert alice["positions"][0]["tier"]["maint_margin_rate"] == "0.004"
    assert any(e["type"] == "MarginCall" for e in alice["events"])


def test_the_cli_replays_verifies_and_explains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(EXAMPLE)]) == 0
    assert "3af10f418038a5d2" in capsys.readouterr().out
    assert main(["verify", str(EXAMPLE)]) == 0
    assert main(["explain", str(EXAMPLE), "--event", "6"]) == 0
    assert "MM 238" in capsys.readouterr().out
    assert main(["export", str(EXAMPLE), str(tmp_path / "x.ndjson")]) == 0
    assert main(["import", str(tmp_path / "x.ndjson"), str(tmp_path / "x.db")]) == 0
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "x.db"), "--json"]) == 0
    assert '"ok": true' in capsys.readouterr().out
    damaged = tmp_path / "bad.ndjson"
    damaged.write_bytes(EXAMPLE.read_bytes().replace(b'"amount":"700"', b'"amount":"701"'))
    assert main(["verify", str(damaged)]) == 1
    assert "record 2: hash mismatch" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "missing.db")]) == 2


def test_a_journal_records_the_bundled_profile_by_digest_and_refuses_other_specs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The genesis record names a bundled profile with the SHA-256 of the file solvent ships
    (computed here from the package's file: its length as 8 bytes big-endian, then its bytes).
    A solvent whose bundled profile differs (simulated by another digest) refuses to replay the
    journal, naming why, instead of replaying it on other tiers; a journal written before the
    digest was recorded (the documented example) still opens, with or without a configuration."""
    from importlib import resources

    from solvent.journal import SqliteBackend
    from solvent.journal import codec as journal_codec
    from solvent.journal.durable_engine import DurableEngine
    from solvent.journal.replay import open_genesis
    from solvent.risk.venues import load_venue

    shipped = (resources.files("solvent") / "profiles" / "binance-usdm.json").read_bytes()
    expected = hashlib.sha256(len(shipped).to_bytes(8, "big") + shipped).hexdigest()
    path = tmp_path / "j.sqlite"
    durable = DurableEngine(SqliteBackend(path), config())
    durable.apply(Deposit("a", "USDT", D(100)))
    durable.close()
    backend = SqliteBackend(path, read_only=True)
    genesis = loads_strict(next(iter(backend.records(0))).payload)
    assert genesis["config"]["profile"] == {"name": "binance-usdm", "bundled": True, "sha256": expected}
    assert open_genesis(backend, None)[0] == config() and open_genesis(backend, config())[0] == config()
    # this solvent ships another file and keeps no earlier one with the journal's digest
    monkeypatch.setattr(journal_codec, "bundled_profile_at", lambda name, sha256: None)
    monkeypatch.setattr(journal_codec, "bundled_sha256", lambda name: "0" * 64)
    with pytest.raises(CodecError, match="as bundled with another solvent"):
        open_genesis(backend, None)
    backend.close()
    assert main(["verify", str(path)]) != 0
    assert "as bundled with another solvent" in capsys.readouterr().err
    legacy = NdjsonBackend(EXAMPLE)
    assert "sha256" not in loads_strict(next(iter(legacy.records(0))).payload)["config"]["profile"]
    recorded = open_genesis(legacy, None)[0]
    assert recorded.profile == load_venue("binance-usdm", overlays=False)
    assert open_genesis(legacy, recorded)[0] == recorded  # the configuration it was written with still opens it


@pytest.mark.parametrize(("raw", "message"), [
    ("1E+999999999", "beyond the size a record's decimal may have"),      # verify wrote 2 GB printing it
    ("1E+99999999999", "beyond the size a record's decimal may have"),    # replay ran out of memory
    ("1E-1001", "beyond the size a record's decimal may have"),
    ("1" * 5000, r"a decimal of 5000 characters: '1111"),                 # shown cut, not whole
])
def test_a_records_decimal_of_absurd_size_is_refused_in_a_short_line(raw: str, message: str) -> None:
    """Found by a new-user pass on a journal re-hashed after the edit (the chain still checks):
    the reader took any canonical decimal, however large."""
    from solvent.journal._typed import decode_value
    from solvent.journal.codec import CodecError

    with pytest.raises(CodecError, match=message) as refused:
        decode_value(raw, Decimal, "$.price")
    assert len(str(refused.value)) < 200


@pytest.mark.parametrize("raw", ["1E-7", "1.5E+20", "1E-8", "123456789012345678901234567890.1234567891"])
def test_the_engines_own_decimals_still_read(raw: str) -> None:
    from solvent.journal._typed import decode_value

    assert decode_value(raw, Decimal, "$.x") == Decimal(raw)
