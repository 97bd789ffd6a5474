"""Proofs of liabilities published in the journal (issue 16, item 5; verifiability.md §4.6: the
header "appended to the journal as a ``pol_snapshot`` record, so the signed checkpoints prevent
showing different roots to different users").

The book: A deposits 1,000 USDT, B 500 USDT and C 250 USDT; nothing else. binance-usdm's money
quantum is 10^-8, so the PoL counts USDT in units of 10^-8: the root values are equity
(1,000 + 500 + 250) × 10^8 = 175,000,000,000 and debt 0.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from solvent.cli import main
from solvent.engine import AdvanceTime, Deposit, EngineConfig
from solvent.errors import InvalidInput
from solvent.journal import DurableEngine, MemoryBackend
from solvent.journal.backend import StoredRecord
from solvent.journal.chain import ZERO_HASH, chain_hash
from solvent.journal.checkpoint_note import SignerKey, sign_checkpoint
from solvent.journal.codec import decode_record
from solvent.journal.log_proofs import journal_checkpoint, record_inclusion
from solvent.journal.open import open_journal
from solvent.journal.replay import verify
from solvent.proofs.liabilities import liabilities, pol_check, record_pol
from solvent.proofs.pol import build_tree, prove, root_summary
from solvent.risk.venues import load_venue
from solvent_verify.cli import main as verify_main

MASTER = hashlib.sha256(b"the venue's master secret").digest()
KEY = SignerKey("test.example/venue", hashlib.sha256(b"pol record test key").digest())


def _book() -> DurableEngine:
    engine = DurableEngine(MemoryBackend(), EngineConfig(load_venue("binance-usdm")))
    for cmd in (AdvanceTime(0), Deposit("A", "USDT", Decimal(1_000)), Deposit("B", "USDT", Decimal(500)),
                Deposit("C", "USDT", Decimal(250))):
        assert engine.apply(cmd).accepted
    return engine


def test_a_published_root_is_a_record_after_a_checkpoint_and_verify_rebuilds_it() -> None:
    engine = _book()
    seq, tree, owed = record_pol(engine, MASTER)
    assert seq == 6  # genesis 0, four commands 1–4, the checkpoint 5, the pol_snapshot 6
    stored = {r.seq: r for r in engine.backend.records(0)}
    checkpoint, pol = decode_record(stored[5].payload), decode_record(stored[6].payload)
    assert checkpoint.kind == "checkpoint" and pol.kind == "pol_snapshot" and pol.pol is not None
    header = pol.pol["header"]
    assert (header["journal_seq"], header["journal_head"], header["state_hash"]) == (
        5, stored[5].hash, engine.engine.state_hash())
    assert header["assets"] == [{"symbol": "USDT", "decimals": 8}]
    assert pol.pol["root"]["values"] == [["175000000000", "0"]]  # 1,750 USDT in units of 10^-8
    assert pol.pol["root"]["hash"] == tree.root[0].hex() and owed.accounts["A"] == ((100_000_000_000, 0),)
    report = verify(engine.backend, pol=pol_check([MASTER]))
    assert report.ok and report.pol_snapshots_checked == 1 and report.checkpoints_checked == 1
    assert verify(engine.backend, pol=pol_check()).ok  # header and values without the secret
    assert engine.apply(Deposit("A", "USDT", Decimal(1))).accepted  # the writer goes on after it
    reopened = DurableEngine(engine.backend)
    assert reopened.engine.state_hash() == engine.engine.state_hash() and reopened.seq == 7


def _rewritten(engine: DurableEngine, seq: int, edit: Any) -> MemoryBackend:
    """The journal with record ``seq``'s JSON edited and the chain recomputed after it: what a
    venue rewriting its own journal could hold (verify must still catch the PoL)."""
    out, head = MemoryBackend(), ZERO_HASH
    records = []
    for stored in engine.backend.records(0):
        payload = stored.payload
        if stored.seq == seq:
            raw = json.loads(payload)
            edit(raw)
            payload = json.dumps(raw, separators=(",", ":")).encode()
        head = chain_hash(head, payload)
        records.append(StoredRecord(stored.seq, head, payload))
    out.append(records)
    return out


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda r: r["root"].update(values=[["175000000001", "0"]]), "root values are not the sums"),
    (lambda r: r["root"].update(hash="0" * 64), "root hash is not the tree"),
    (lambda r: r["header"].update(state_hash="0" * 64), "state hash differs"),
    (lambda r: r["header"].update(journal_seq=4), "names record 4, not the one before it (5)"),
    # a new-user pass: a header whose seq was right but whose head was not said "names record 5, not (5)"
    (lambda r: r["header"].update(journal_head="0" * 64), f"names chain head {'0' * 64}, not the one of record 5"),
    (lambda r: r["header"].update(uncovered_deficit={"USDT": "1"}), "header differs"),
    (lambda r: r.update(snapshot_id="0" * 64), "snapshot id is not its header's"),
])
def test_verify_catches_a_published_root_that_is_not_the_states(edit: Any, reason: str) -> None:
    engine = _book()
    record_pol(engine, MASTER)
    report = verify(_rewritten(engine, 6, edit), pol=pol_check([MASTER]))
    assert not report.ok and reason in str(report.mismatches[0]), report.mismatches


def test_a_second_root_while_nothing_happened_is_refused() -> None:
    engine = _book()
    record_pol(engine, MASTER)
    with pytest.raises(InvalidInput, match="record 6 already publishes a root for this state"):
        record_pol(engine, hashlib.sha256(b"a second secret").digest())
    assert engine.apply(Deposit("A", "USDT", Decimal(1))).accepted
    assert record_pol(engine, MASTER)[0] == 9  # something happened: a new state, a new root


def test_a_header_height_no_tree_can_have_is_caught_without_the_secret() -> None:
    engine = _book()
    record_pol(engine, MASTER)
    for height in (0, 41, "2", True, None):
        report = verify(_rewritten(engine, 6, lambda r, h=height: r["header"].update(height=h)), pol=pol_check())
        assert not report.ok and "pol_snapshot header" in str(report.mismatches[0]), height
    for places in (10**30, 31, -1, True):
        report = verify(_rewritten(engine, 6, lambda r, d=places: r["header"]["assets"][0].update(decimals=d)),
                        pol=pol_check([MASTER]))
        assert not report.ok and "whole decimals from 0 to 30" in str(report.mismatches[0]), places


def test_another_secret_does_not_rebuild_the_root() -> None:
    engine = _book()
    record_pol(engine, MASTER)
    assert verify(engine.backend, pol=pol_check([MASTER])).ok
    other = verify(engine.backend, pol=pol_check([hashlib.sha256(b"another").digest()]))
    assert "root hash is not the tree" in str(other.mismatches[0])
    both = verify(engine.backend, pol=pol_check([hashlib.sha256(b"another").digest(), MASTER]))
    assert both.ok  # several secrets: each record is rebuilt with the one it was built with


def test_a_holder_refuses_a_root_other_than_the_published_one(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Split view: the venue shows holder A a tree built with another secret (a valid proof, a
    different root) while the journal publishes the first one."""
    engine = _book()
    seq, tree, _ = record_pol(engine, MASTER)
    note = sign_checkpoint(journal_checkpoint(engine.backend, KEY.name), KEY)
    (tmp_path / "pol-record.json").write_text(json.dumps(record_inclusion(engine.backend, seq, note)))
    (tmp_path / "venue.vkey").write_text(KEY.verifier_key() + "\n")
    args = ["--record", str(tmp_path / "pol-record.json"), "--key", str(tmp_path / "venue.vkey")]
    honest = tmp_path / "a.json"
    honest.write_text(json.dumps(prove(tree, "A")))
    assert verify_main(["pol", str(honest), "--root", tree.root[0].hex(), *args]) == 0
    assert f"publishes at record {seq}" in capsys.readouterr().out
    owed = liabilities(engine.engine)
    other = build_tree({k: v for k, v in tree.header.items() if k != "height"}, owed.accounts,
                       hashlib.sha256(b"a second secret").digest())
    split = tmp_path / "split.json"
    split.write_text(json.dumps(prove(other, "A")))
    assert verify_main(["pol", str(split), "--root", other.root[0].hex()]) == 0  # fine on its own
    assert verify_main(["pol", str(split), "--root", other.root[0].hex(), *args]) == 1
    assert "different root shown to you" in capsys.readouterr().err
    not_pol = tmp_path / "not-pol.json"
    not_pol.write_text(json.dumps(record_inclusion(engine.backend, 2, note)))
    assert verify_main(["pol", str(honest), "--root", tree.root[0].hex(), "--record", str(not_pol), "--key",
                        str(tmp_path / "venue.vkey")]) == 1
    assert verify_main(["pol", str(honest), "--root", tree.root[0].hex(), "--record", str(not_pol)]) == 2
    assert root_summary(tree)["root"]["hash"] == tree.root[0].hex()


def test_a_refused_snapshot_leaves_the_writer_as_it_was() -> None:
    engine = _book()
    before = (engine.seq, engine.engine.state_hash())
    with pytest.raises(InvalidInput):
        record_pol(engine, MASTER, height=1)  # 3 accounts do not fit a tree of height 1
    assert (engine.seq, engine.engine.state_hash()) == before
    assert engine.apply(Deposit("A", "USDT", Decimal(1))).accepted and verify(engine.backend).ok


def test_prove_liabilities_record_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = tmp_path / "j.sqlite"
    assert main(["demo", "--journal", str(journal), "--json"]) == 0
    assert main(["tlog", "keygen", "test.example/venue", "--out", str(tmp_path / "venue")]) == 0
    capsys.readouterr()
    out = tmp_path / "pol"
    secret = tmp_path / "solvent-demo-proofs" / "pol" / "master-secret.hex"  # the demo published a root too
    assert main(["prove-liabilities", "--journal", str(journal), "--out", str(tmp_path / "again"), "--record"]) == 2
    assert "already publishes a root for this state" in capsys.readouterr().err  # nothing happened since
    backend = open_journal(str(journal))
    try:  # something happens: the venue takes a deposit
        DurableEngine(backend).apply(Deposit("newcomer", "USDT", Decimal(5)))
    finally:
        backend.close()
    assert main(["prove-liabilities", "--journal", str(journal), "--out", str(out), "--record", "--key",
                 str(tmp_path / "venue.skey"), "--secret", str(secret), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    recorded = summary["recorded_at"]
    assert summary["header"]["journal_seq"] == recorded - 1
    assert main(["verify", str(journal), "--pol-secret", str(secret), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["pol_snapshots_checked"] == 2 and report["pol_roots_rebuilt"] is True
    index = json.loads((out / "proofs" / "index.json").read_text())
    first = out / "proofs" / index[min(index)]
    assert verify_main(["pol", str(first), "--root", summary["root"], "--record", str(out / "pol-record.json"),
                        "--key", str(tmp_path / "venue.vkey")]) == 0
    capsys.readouterr()
    for bad, message in ((["--at", "3"], "leave out --at"), (["--key", str(tmp_path / "venue.skey")], "--record")):
        args = ["prove-liabilities", "--journal", str(journal), "--out", str(tmp_path / "x")]
        assert main([*args, *bad] + (["--record"] if "--at" in bad else [])) == 2
        assert message in capsys.readouterr().err


def test_decimals_for_an_asset_nobody_holds_are_refused_before_anything_is_written() -> None:
    engine = _book()
    before = engine.seq
    with pytest.raises(InvalidInput, match="decimals given for FOO, which no account holds"):
        record_pol(engine, MASTER, {"FOO": 3})
    assert engine.seq == before


def test_an_output_folder_that_cannot_be_made_publishes_nothing(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    journal = tmp_path / "j.sqlite"
    assert main(["demo", "--journal", str(journal), "--json"]) == 0
    capsys.readouterr()
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    def records() -> int:
        backend = open_journal(str(journal), read_only=True)
        try:
            return len(list(backend.records(0)))
        finally:
            backend.close()

    count = records()
    assert main(["prove-liabilities", "--journal", str(journal), "--out", str(blocker / "pol"), "--record"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert records() == count


def test_a_refused_publication_leaves_no_folder_and_no_secret(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    journal = tmp_path / "j.sqlite"
    assert main(["demo", "--journal", str(journal), "--json"]) == 0
    capsys.readouterr()
    out = tmp_path / "pol"
    assert main(["prove-liabilities", "--journal", str(journal), "--out", str(out), "--record"]) == 2
    assert "already publishes a root" in capsys.readouterr().err and not out.exists()
    mine = tmp_path / "mine.hex"
    mine.write_text(MASTER.hex() + "\n")
    out.mkdir()
    assert main(["prove-liabilities", "--journal", str(journal), "--out", str(out), "--record", "--decimals",
                 "FOO=2", "--secret", str(mine)]) == 2
    assert out.is_dir() and not any(out.iterdir()) and mine.is_file()  # the user's folder and secret stay
    assert main(["prove-liabilities", "--journal", str(journal), "--out", "/proc/solvent-pol"]) == 2
    refused = capsys.readouterr().err
    assert "cannot be created" in refused or "not writable" in refused  # as root, or not


def test_the_folder_out_names_is_the_one_checked_and_a_refusal_removes_every_folder_it_made(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = tmp_path / "j.sqlite"
    assert main(["demo", "--journal", str(journal), "--json"]) == 0
    (tmp_path / "root.json").write_text("precious")
    capsys.readouterr()
    assert main(["prove-liabilities", "--journal", str(journal), "--out", str(tmp_path / "new" / "..")]) == 2
    assert "must be a new or empty folder" in capsys.readouterr().err
    assert (tmp_path / "root.json").read_text() == "precious" and not (tmp_path / "new").exists()
    deep = tmp_path / "a" / "b" / "c"
    assert main(["prove-liabilities", "--journal", str(journal), "--out", str(deep), "--record"]) == 2
    assert not (tmp_path / "a").exists()  # refused (the demo's root is the last record): every folder made removed


def test_a_failure_after_the_root_may_be_published_keeps_the_secret(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by review: the journal's head file cannot be written after the records are committed
    (a full disk): the root is published, so its new secret must stay."""
    from solvent.journal.head_file import HeadFile

    journal = _demo_with_a_newcomer(tmp_path)

    count = _records(journal)
    real, writes = HeadFile.write, []

    def full(self: HeadFile, seq: int, head: str) -> None:
        writes.append(seq)
        if len(writes) > 1:  # opening the journal records its head; the disk is full after the commit
            raise OSError(28, "No space left on device")
        real(self, seq, head)

    monkeypatch.setattr(HeadFile, "write", full)
    out = tmp_path / "pol"
    assert main(["prove-liabilities", "--journal", str(journal), "--out", str(out), "--record"]) != 0
    assert len(writes) == 2 and _records(journal) == count + 2  # published
    assert (out / "master-secret.hex").is_file()


def _records(journal: Path) -> int:
    backend = open_journal(str(journal), read_only=True)
    try:
        return len(list(backend.records(0)))
    finally:
        backend.close()


def test_a_publication_refused_by_a_locked_journal_leaves_no_folder_and_no_secret(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by review: only a refusal raised as ``InvalidInput`` removed the new secret; a journal
    another writer holds (a running service) refused the publication but left OUT/master-secret.hex."""
    journal = tmp_path / "j.sqlite"
    assert main(["demo", "--journal", str(journal), "--json"]) == 0
    backend = open_journal(str(journal))
    try:  # something happens, so that a root could be published
        DurableEngine(backend).apply(Deposit("newcomer", "USDT", Decimal(5)))
    finally:
        backend.close()
    count = _records(journal)
    capsys.readouterr()
    out = tmp_path / "new" / "pol"
    writer = open_journal(str(journal), exclusive=True)  # a service writing the journal
    try:
        assert main(["prove-liabilities", "--journal", str(journal), "--out", str(out), "--record"]) == 1
    finally:
        writer.close()
    err = capsys.readouterr().err
    assert "another process has this journal open for writing" in err and err.count("\n") == 1
    assert not (tmp_path / "new").exists() and _records(journal) == count
    assert main(["prove-liabilities", "--journal", str(journal), "--out", str(out), "--record"]) == 0
    assert (out / "master-secret.hex").is_file()  # once the journal is free, it is published


def _appears(monkeypatch: pytest.MonkeyPatch, path: Path, folder: bool = False) -> None:
    """``path`` appears (another process writes into --out) after the folder was checked, while
    the command computes its report, before it writes."""
    import solvent.cli.proof_commands as commands

    real = commands.capital_adequacy

    def report(*args: Any, **kwargs: Any) -> Any:
        path.parent.mkdir(parents=True, exist_ok=True)
        if folder:
            path.mkdir()
        else:
            path.write_text("someone else's")
        return real(*args, **kwargs)

    monkeypatch.setattr(commands, "capital_adequacy", report)


@pytest.mark.parametrize(("name", "folder"), [("master-secret.hex", False), ("root.json", False),
                                              ("proofs", True), ("capital-adequacy.json", False)])
def test_an_output_that_appears_while_writing_is_refused_in_one_line_and_never_replaced(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str,
        folder: bool) -> None:
    """Found by review: a master-secret.hex made between the folder's check and the write was a raw
    FileExistsError, and a root.json made then was silently replaced."""
    journal = tmp_path / "j.sqlite"
    assert main(["demo", "--journal", str(journal), "--json"]) == 0
    capsys.readouterr()
    out = tmp_path / "pol"
    _appears(monkeypatch, out / name, folder)
    assert main(["prove-liabilities", "--journal", str(journal), "--out", str(out)]) == 1  # a run that failed
    err = capsys.readouterr().err
    assert err == f"error: --out {out}: {name} appeared in it while writing (something else writes into this " \
                  "folder); it is left as it was\n"
    assert [p.name for p in out.iterdir()] == [name]  # nothing of this run is left behind
    assert (out / name).is_dir() if folder else (out / name).read_text() == "someone else's"


def _demo_with_a_newcomer(tmp_path: Path) -> Path:
    """The demo's journal with one more command after it (a state no root was published for)."""
    journal = tmp_path / "j.sqlite"
    assert main(["demo", "--journal", str(journal), "--json"]) == 0
    backend = open_journal(str(journal))
    try:
        DurableEngine(backend).apply(Deposit("newcomer", "USDT", Decimal(5)))
    finally:
        backend.close()
    return journal


def test_an_output_that_appears_after_the_root_is_published_keeps_the_secret(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    journal = _demo_with_a_newcomer(tmp_path)
    count = _records(journal)
    capsys.readouterr()
    out = tmp_path / "pol"
    _appears(monkeypatch, out / "root.json")
    assert main(["prove-liabilities", "--journal", str(journal), "--out", str(out), "--record"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {out}: root.json appeared in it while writing") and err.count("\n") == 1
    assert f"the root is published in the journal (pol_snapshot record {count + 1})" in err
    assert (out / "master-secret.hex").is_file() and (out / "root.json").read_text() == "someone else's"
    assert _records(journal) == count + 2  # the checkpoint and the pol_snapshot record
