"""The demo's last step: what a venue would publish about the session it just journaled.

Into ``solvent-demo-proofs/`` next to the journal (replaced on every run; a folder without the
demo's marker file is never touched): a fresh signing key (``venue.skey``, ``venue.vkey``: a demo
key, never for production), a signed checkpoint of the journal (with its state hash), a
certificate of the first margin call or liquidation that can be certified with the venue
profile file it is checked against, an account extract (one account's whole state under the
checkpoint), a proof of liabilities at the journal's end, published in the journal first (a
``pol_snapshot`` record, with its inclusion proof), with its capital adequacy report (no
reserves: the demo venue states none), and, when the ``zk`` extra is installed, a
zero-knowledge attestation (``docs/zk.md``) that the first account the engine liquidated which
Z1 covers had equity at or below its MM, in the scope it was liquidated in, on the state that
record judged. The commands that check each are returned for the demo to print.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from solvent.cli.files import write_secret
from solvent.errors import InvalidInput, SolventError
from solvent.journal.backend import JournalBackend
from solvent.journal.checkpoint_note import generate_key, sign_checkpoint
from solvent.journal.codec import decode_record
from solvent.journal.durable_engine import DurableEngine
from solvent.journal.head_file import HeadFile, default_head_file
from solvent.journal.log_proofs import journal_checkpoint, record_inclusion
from solvent.journal.sqlite_backend import SqliteBackend
from solvent.proofs.account_extract import account_extract
from solvent.proofs.adequacy import capital_adequacy
from solvent.proofs.certificate import certify
from solvent.proofs.liabilities import record_pol
from solvent.proofs.pol import proof_file_name, prove, root_summary

__all__ = ["DEMO_PROOFS", "check_folder", "write_demo_proofs"]

DEMO_PROOFS = "solvent-demo-proofs"
_MARKER = ".solvent-demo"
_ORIGIN = "demo.solvent.invalid/journal"
_SERIOUS = ("margin_call", "liquidation", "bankrupt")


def check_folder(folder: Path) -> None:
    """Refuse, before the demo runs, a ``folder`` that exists and is not the demo's own."""
    if folder.exists() and not (folder / _MARKER).is_file():
        raise InvalidInput(f"{folder} exists and is not the demo's own proofs folder: move it away")


def _fresh(folder: Path) -> None:
    check_folder(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    (folder / _MARKER).write_text("written by `solvent demo`; replaced by the next run\n")


def _first_certificate(backend: JournalBackend, note: str, prior: Callable[[int], str]) -> dict[str, Any] | None:
    """The first record's level change to margin call or worse that can be certified."""
    for stored in backend.records(1):
        events = decode_record(stored.payload).events
        if any(e["type"] == "MarginLevelChanged" and e["level"] in _SERIOUS for e in events):
            try:
                return certify(backend, stored.seq, note, prior=prior)
            except InvalidInput:
                continue
    return None


def _attest_a_liquidation(journal: Path, folder: Path) -> str | None:
    """A Z1 proof that the first account the engine liquidated which Z1 covers (one-way, linear)
    was at or below its MM, in the scope the engine liquidated, at that record; ``None``
    without the ``zk`` extra or such an account."""
    try:
        from solvent.proofs.zk.cema import prove
        from solvent.proofs.zk.cema_json import proof_to_json
        from solvent.proofs.zk.engine_statement import (
            OutsideZ1,
            account_statement,
            auto_claim,
            journal_state,
            scope_figures,
            scopes_of,
        )
        from solvent.proofs.zk.group import generator_h

        generator_h()
    except (ImportError, SolventError):  # the extra, or the system libsodium, is not there
        return None
    backend = SqliteBackend(journal, read_only=True)
    try:
        for stored in backend.records(1):
            for event in decode_record(stored.payload).events:
                if event["type"] != "MarginLevelChanged" or event["level"] not in ("liquidation", "bankrupt"):
                    continue
                engine, checkpoint = journal_state(backend, stored.seq, judged=True)
                aid = event["account_id"]
                due = [s for s in scopes_of(engine, aid)
                       if auto_claim(engine, *scope_figures(engine, aid, s)).endswith(("le_mm", "lt_mm"))]
                if not due:
                    continue
                try:
                    statement, witness = account_statement(engine, aid, checkpoint, scope=due[0])
                except OutsideZ1:
                    continue
                folder.mkdir()
                path = folder / f"cema-{statement.account}.json"
                _write_json(path, proof_to_json(prove(statement, witness)[0]))
                return str(path)
    finally:
        backend.close()
    return None


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def write_demo_proofs(journal: Path, folder: Path) -> dict[str, Any]:
    """Write the folder; what was written and the commands that check it."""
    _fresh(folder)
    key = generate_key(_ORIGIN)
    skey, vkey = folder / "venue.skey", folder / "venue.vkey"
    write_secret(skey, key.encoded() + "\n")
    vkey.write_text(key.verifier_key() + "\n")
    secret = secrets.token_bytes(32)
    backend = SqliteBackend(journal)  # the proof of liabilities is published in the journal first
    try:
        head_file = HeadFile(default_head_file(str(journal)))
        durable = DurableEngine(backend, allow_new=False, head_file=head_file if head_file.path.is_file() else None)
        pol_seq, tree, owed = record_pol(durable, secret)
        engine, journal_head = durable.engine, durable.head_hash
    finally:
        backend.close()
    backend = SqliteBackend(journal, read_only=True)
    try:
        note = sign_checkpoint(journal_checkpoint(backend, _ORIGIN, state=True), key)
        certificate = _first_certificate(backend, note, lambda size: sign_checkpoint(
            journal_checkpoint(backend, _ORIGIN, size, state=True), key))
        published = record_inclusion(backend, pol_seq, note)
    finally:
        backend.close()
    checkpoint = folder / "checkpoint.txt"
    checkpoint.write_text(note)
    commands = [f"solvent-verify checkpoint {checkpoint} --key {vkey}"]
    written: dict[str, Any] = {"folder": str(folder), "verifier_key": str(vkey), "checkpoint": str(checkpoint),
                               "journal_head": journal_head}
    if certificate is not None:
        path = folder / f"certificate-{certificate['claim']['seq']}.json"
        _write_json(path, certificate)
        written["certificate"] = str(path)
        profile = folder / f"{engine.config.profile.name}.json"  # the file the genesis record's digest names
        profile.write_bytes((resources.files("solvent") / "profiles" / profile.name).read_bytes())
        written["profile"] = str(profile)
        commands.append(f"solvent-verify certificate {path} --key {vkey} --profile {profile}")
    backend = SqliteBackend(journal, read_only=True)
    try:
        holder = min(owed.accounts)  # the account the proof of liabilities shows too
        extract = folder / f"extract-{proof_file_name(holder)}"
        _write_json(extract, account_extract(backend, holder, note))
    finally:
        backend.close()
    written["extract"] = str(extract)
    commands.append(f"solvent-verify account {extract} --key {vkey}")
    master = folder / "pol" / "master-secret.hex"
    master.parent.mkdir()
    write_secret(master, secret.hex() + "\n")
    summary = root_summary(tree)
    record = folder / "pol" / "pol-record.json"
    _write_json(record, published)
    _write_json(folder / "pol" / "root.json", summary)
    _write_json(folder / "pol" / "capital-adequacy.json", capital_adequacy(engine, tree, {}))
    proofs = folder / "pol" / "proofs"
    proofs.mkdir()
    for account_id in owed.accounts:
        _write_json(proofs / proof_file_name(account_id), prove(tree, account_id))
    first = proof_file_name(min(owed.accounts))
    root = summary["root"]["hash"]
    written["pol_root"] = root
    written["pol_record"] = pol_seq
    commands.append(f"solvent-verify pol {proofs / first} --root {root} --record {record} --key {vkey}")
    attested = _attest_a_liquidation(journal, folder / "zk")
    if attested is not None:
        written["zk_proof"] = attested
        commands.append(f"solvent zk verify {attested} --journal {journal}")
    written["commands"] = commands
    return written
