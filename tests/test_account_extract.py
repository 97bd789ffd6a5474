"""Account extracts (``solvent extract``, ``solvent-verify account``): one account's state under
a signed checkpoint's state hash; the verifier redoes every hash with the standard library
only, and any change to the account, its bucket, the bucket hashes or the document fails."""

from __future__ import annotations

import copy
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from solvent.cli import main
from solvent.engine import AdvanceTime, Deposit, EngineConfig, Fill, PriceUpdate
from solvent.errors import InvalidInput
from solvent.journal import DurableEngine, MemoryBackend, SqliteBackend
from solvent.journal.backend import JournalError
from solvent.journal.checkpoint_note import Checkpoint, SignerKey, parse_checkpoint, sign_checkpoint
from solvent.journal.log_proofs import journal_checkpoint
from solvent.proofs.account_extract import account_extract
from solvent.risk.venues import load_venue
from solvent_verify.cli import main as verify_main

KEY = SignerKey("test.example/venue", hashlib.sha256(b"extract test key").digest())
D = Decimal


def _journal(backend: Any) -> str:
    """alice deposits 1,000 USDT and buys 0.1 BTC at 50,000 from bob (500,000 USDT); 40 other
    accounts deposit 1 USDT each, so buckets hold more than one account somewhere. The state
    hash after the last record, from the engine that wrote it."""
    engine = DurableEngine(backend, EngineConfig(load_venue("binance-usdm", overlays=False)))
    for cmd in [AdvanceTime(0), PriceUpdate("BTCUSDT", "s", D(50_000)), Deposit("alice", "USDT", D(1000)),
                Deposit("bob", "USDT", D(500_000)), Fill("t1", "BTCUSDT", D(50_000), D("0.1"), "alice", "bob"),
                *(Deposit(f"user{i:02d}", "USDT", D(1)) for i in range(40))]:
        assert engine.apply(cmd).accepted, cmd
    state = engine.engine.state_hash()
    engine.close()
    return state


def _verify(tmp_path: Path, extract: dict[str, Any]) -> int:
    vkey = tmp_path / "venue.vkey"
    vkey.write_text(KEY.verifier_key() + "\n")
    path = tmp_path / "extract.json"
    path.write_text(json.dumps(extract, indent=1))
    return verify_main(["account", str(path), "--key", str(vkey)])


def test_an_extract_shows_the_account_as_journaled_and_verifies(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    backend = MemoryBackend()
    state = _journal(backend)
    note = sign_checkpoint(journal_checkpoint(backend, KEY.name, state=True), KEY)
    assert f"\nstate {state}\n" in note
    extract = account_extract(backend, "alice", note)
    account = extract["account"]
    assert account["balances"] == {"USDT": "1000"}  # the deposit; a fill moves cost, not the balance
    assert [p for _, p in account["positions"]] == [{
        "symbol": "BTCUSDT", "position_side": "both", "qty": "0.1", "cost": "5000", "contract_size": "1",
        "margin_mode": "cross", "isolated_margin": "0"}]
    assert len(extract["buckets"]) == 4096
    assert _verify(tmp_path, extract) == 0
    assert "ok: alice after record" in capsys.readouterr().out


def _tampered(extract: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    more = copy.deepcopy(extract)
    more["account"]["balances"]["USDT"] = "1001"
    out.append(("the account stated is not the one in the state", more))
    smaller = copy.deepcopy(extract)
    smaller["account"]["positions"][0][1]["qty"] = "0.01"
    out.append(("the account stated is not the one in the state", smaller))
    other = copy.deepcopy(extract)
    other["account_id"] = "bob"
    out.append(("", other))
    bucket = copy.deepcopy(extract)
    bucket["buckets"][0] = "0" * 64 if bucket["buckets"][0] != "0" * 64 else "1" * 64
    out.append(("the bucket hashes are not the document's accounts root", bucket))
    doc = copy.deepcopy(extract)
    doc["document"]["insurance_fund"] = "1"
    out.append(("the document is not the state the checkpoint states", doc))
    return out


def test_any_change_to_an_extract_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backend = MemoryBackend()
    _journal(backend)
    extract = account_extract(backend, "alice", sign_checkpoint(journal_checkpoint(backend, KEY.name, state=True),
                                                               KEY))
    for words, bad in _tampered(extract):
        assert _verify(tmp_path, bad) == 1, words
        assert words in capsys.readouterr().err


def test_an_extract_needs_a_checkpoint_with_the_journals_state(tmp_path: Path) -> None:
    backend = MemoryBackend()
    _journal(backend)
    with pytest.raises(InvalidInput, match="no state line"):
        account_extract(backend, "alice", sign_checkpoint(journal_checkpoint(backend, KEY.name), KEY))
    with pytest.raises(InvalidInput, match="no account 'carol'"):
        account_extract(backend, "carol", sign_checkpoint(journal_checkpoint(backend, KEY.name, state=True), KEY))
    other = MemoryBackend()
    engine = DurableEngine(other, EngineConfig(load_venue("binance-usdm", overlays=False)))
    for cmd in [AdvanceTime(0), Deposit("alice", "USDT", D(5))]:
        engine.apply(cmd)
    engine.close()
    foreign = sign_checkpoint(journal_checkpoint(other, KEY.name, state=True), KEY)
    with pytest.raises(JournalError, match="not this journal's tree"):
        account_extract(backend, "alice", foreign)
    mine = parse_checkpoint(sign_checkpoint(journal_checkpoint(backend, KEY.name, state=True), KEY))
    wrong_state = sign_checkpoint(Checkpoint(mine.origin, mine.size, mine.root, mine.chain_head, "ab" * 32), KEY)
    with pytest.raises(JournalError, match="is not the one the checkpoint states"):
        account_extract(backend, "alice", wrong_state)


def test_the_cli_extracts_and_the_verifier_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = tmp_path / "j.sqlite"
    _journal(SqliteBackend(journal))
    assert main(["tlog", "keygen", "test.example/venue", "--out", str(tmp_path / "k")]) == 0
    assert main(["tlog", "checkpoint", str(journal), "--key", str(tmp_path / "k.skey"), "--out",
                 str(tmp_path / "cp.txt")]) == 0
    assert "\nstate " in (tmp_path / "cp.txt").read_text()
    assert main(["extract", "--journal", str(journal), "--account", "alice", "--checkpoint", str(tmp_path / "cp.txt"),
                 "--out", str(tmp_path / "e.json")]) == 0
    capsys.readouterr()
    assert verify_main(["account", str(tmp_path / "e.json"), "--key", str(tmp_path / "k.vkey")]) == 0
    assert "USDT 1000; 1 position(s)" in capsys.readouterr().out
    assert main(["tlog", "checkpoint", str(journal), "--key", str(tmp_path / "k.skey"), "--no-state", "--out",
                 str(tmp_path / "plain.txt")]) == 0
    assert main(["extract", "--journal", str(journal), "--account", "alice", "--checkpoint",
                 str(tmp_path / "plain.txt"), "--out", str(tmp_path / "x.json")]) == 2
    assert "no state line" in capsys.readouterr().err
    assert verify_main(["account", str(tmp_path / "plain.txt"), "--key", str(tmp_path / "k.vkey")]) == 2


def test_what_the_verifier_prints_and_reads_cannot_be_bent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An account id with a line break is printed escaped, on one line; a name given twice in one
    JSON object, a number too long to read, or an extra field is refused (exit 2 for what cannot
    be read, 1 for a malformed extract)."""
    backend = MemoryBackend()
    engine = DurableEngine(backend, EngineConfig(load_venue("binance-usdm", overlays=False)))
    sneaky = "x\nok: evil after record 1 of venue: USDT 1000000"
    for cmd in (AdvanceTime(0), Deposit(sneaky, "USDT", D(1))):
        assert engine.apply(cmd).accepted
    engine.close()
    extract = account_extract(backend, sneaky, sign_checkpoint(journal_checkpoint(backend, KEY.name, state=True), KEY))
    assert _verify(tmp_path, extract) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith('ok: "x\\nok: evil')
    path = tmp_path / "extract.json"
    text = json.dumps(extract)
    vkey = str(tmp_path / "venue.vkey")
    path.write_text(text.replace('"balances": {"USDT": "1"}', '"balances": {"USDT": "9", "USDT": "1"}'))
    assert verify_main(["account", str(path), "--key", vkey]) == 2
    assert "appears twice" in capsys.readouterr().err
    path.write_text(text.replace('"level": "healthy"', '"level": ' + "9" * 5001))
    assert verify_main(["account", str(path), "--key", vkey]) == 2
    capsys.readouterr()
    assert _verify(tmp_path, {**extract, "note": "mine"}) == 1
    assert "its fields must be" in capsys.readouterr().err
