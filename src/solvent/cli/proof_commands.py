"""``solvent tlog …`` and ``solvent prove-liabilities``: what a venue publishes so that anyone
can check its journal and its liabilities with ``solvent-verify`` (``docs/verify.md``).

Exit codes: 0 success, 1 the journal is damaged or does not match the checkpoint, 2 bad input.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import click

from solvent.cli import cli
from solvent.cli.exits import Failed
from solvent.cli.files import check_new_file, check_output_dir, journal_files, read_input, write_new, write_secret
from solvent.cli.params import WholeNumber
from solvent.cli.render import emit_json
from solvent.cli.whole_journal import open_whole_journal
from solvent.errors import InvalidInput
from solvent.journal.backend import JournalBackend
from solvent.journal.checkpoint_note import (
    SignerKey,
    generate_key,
    parse_checkpoint,
    read_signer_key,
    sign_checkpoint,
)
from solvent.journal.durable_engine import DurableEngine
from solvent.journal.head_file import HeadFile, default_head_file
from solvent.journal.log_proofs import journal_checkpoint, log_consistency, record_inclusion
from solvent.journal.open import open_journal
from solvent.jsonstrict import loads_strict
from solvent.proofs.adequacy import capital_adequacy, read_reserves
from solvent.proofs.certificate import certify
from solvent.proofs.liabilities import MAX_DECIMALS, record_pol, snapshot_at
from solvent.proofs.pol import build_tree, proof_file_name, prove, root_summary
from solvent.text import shown, whole_number
from solvent.units import plain, round_down

__all__ = ["certify_cmd", "extract_cmd", "prove_liabilities_cmd", "read_master", "tlog_cmd"]

_schema = click.option("--schema", default="solvent_journal", show_default=True,
                       help="PostgreSQL schema holding the journal.")
_out = click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                    help="Write here instead of standard output.")
_force = click.option("--force", is_flag=True, help="Replace --out if it already exists.")
_json = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def _read_text(path: Path, what: str) -> str:
    try:
        return read_input(path, what).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{what} {path}: cannot be read ({exc.__class__.__name__})") from None


def _emit(text: str, out: Path | None, force: bool, reads: list[Path], quiet: bool = False) -> None:
    """``text`` to ``out`` (stdout without it); ``reads``: the files the command read, which ``out``
    may not be (``check_new_file``)."""
    if out is None:
        click.echo(text, nl=False)
        return
    check_new_file(out, "--out", force, reads)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"--out {out}: cannot be written ({exc.strerror or type(exc).__name__})") from None
    if not quiet:
        click.echo(f"wrote {out}", err=True)


def _one_source(note_path: Path | None, key_path: Path | None) -> None:
    """A proof is made against ``--checkpoint`` or ``--key``: exactly one (checked before any work)."""
    if (note_path is None) == (key_path is None):
        raise InvalidInput("give --checkpoint NOTE or --key SKEY (one of them)")


def _note(backend: JournalBackend, note_path: Path | None, key_path: Path | None, *, state: bool) -> str:
    """The signed checkpoint a proof is made against: read from ``--checkpoint``, or signed now
    over the whole journal with ``--key`` (with its state line when ``state``)."""
    if note_path is not None:
        return _read_text(note_path, "--checkpoint")
    assert key_path is not None
    key = read_signer_key(_read_text(key_path, "--key"))
    return sign_checkpoint(journal_checkpoint(backend, key.name, state=state), key)


def _state_signer(backend: JournalBackend, key: SignerKey) -> Callable[[int], str]:
    """Signs the checkpoint of the journal's first ``size`` records with its state line."""
    def sign(size: int) -> str:
        return sign_checkpoint(journal_checkpoint(backend, key.name, size, state=True), key)
    return sign


def _in_asset(units: str, decimals: int) -> str:
    """A total the tree counts in units of ``10^-decimals``, as an amount of the asset."""
    return plain(Decimal(units).scaleb(-decimals))


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1) + "\n"


@click.group("tlog")
def tlog_cmd() -> None:
    """Signed checkpoints of a journal and proofs against them (RFC 9162)."""


@tlog_cmd.command("keygen")
@click.argument("name")
@click.option("--out", "prefix", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Writes PREFIX.skey (secret, mode 600) and PREFIX.vkey (publish it).")
def keygen_cmd(name: str, prefix: Path) -> None:
    """A new Ed25519 key for signing checkpoints of the log NAME (its origin)."""
    skey, vkey = prefix.with_name(prefix.name + ".skey"), prefix.with_name(prefix.name + ".vkey")
    for path in (skey, vkey):
        if path.exists():  # a key is never replaced: checkpoints signed with it would be orphaned
            raise InvalidInput(f"--out {prefix}: {path} already exists; choose another --out")
        check_new_file(path, "--out", False)
    key = generate_key(name)
    write_secret(skey, key.encoded() + "\n")
    vkey.write_text(key.verifier_key() + "\n", encoding="utf-8")
    click.echo(f"wrote {skey} (keep it secret) and {vkey}: {key.verifier_key()}")


@tlog_cmd.command("checkpoint")
@click.argument("journal")
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The signer key (tlog keygen's .skey); its name is the log's origin.")
@click.option("--size", type=WholeNumber(min=1), default=None, help="Records covered, from seq 0 [default: all].")
@click.option("--no-state", "no_state", is_flag=True,
              help="Leave out the state line (the state hash after the last record covered, which account "
                   "extracts are proven against; computing it replays the journal).")
@_schema
@_out
@_force
def checkpoint_cmd(journal: str, key_path: Path, size: int | None, no_state: bool, schema: str, out: Path | None,
                   force: bool) -> None:
    """Sign the journal's tree head: a checkpoint note anyone can check with the .vkey."""
    key = read_signer_key(_read_text(key_path, "--key"))
    backend = open_whole_journal(journal, schema)
    try:
        checkpoint = journal_checkpoint(backend, key.name, size, state=not no_state)
    finally:
        backend.close()
    _emit(sign_checkpoint(checkpoint, key), out, force, [*journal_files(journal, schema), key_path])


@tlog_cmd.command("prove")
@click.argument("journal")
@click.option("--index", type=WholeNumber(min=0), required=True, help="The record's seq.")
@click.option("--checkpoint", "note_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The signed checkpoint the proof is against.")
@_schema
@_out
@_force
def prove_cmd(journal: str, index: int, note_path: Path, schema: str, out: Path | None, force: bool) -> None:
    """Inclusion proof of one record under a signed checkpoint."""
    note = _read_text(note_path, "--checkpoint")
    backend = open_journal(journal, schema=schema, read_only=True)
    try:
        proof = record_inclusion(backend, index, note)
    finally:
        backend.close()
    _emit(_json_text(proof), out, force, [*journal_files(journal, schema), note_path])


@tlog_cmd.command("consistency")
@click.argument("journal")
@click.option("--old", "old_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The earlier signed checkpoint.")
@click.option("--new", "new_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The later signed checkpoint.")
@_schema
@_out
@_force
def consistency_cmd(journal: str, old_path: Path, new_path: Path, schema: str, out: Path | None,
                    force: bool) -> None:
    """Proof that the older checkpoint's log is a prefix of the newer one's."""
    old, new = _read_text(old_path, "--old"), _read_text(new_path, "--new")
    backend = open_journal(journal, schema=schema, read_only=True)
    try:
        proof = log_consistency(backend, old, new)
    finally:
        backend.close()
    _emit(_json_text(proof), out, force, [*journal_files(journal, schema), old_path, new_path])


def _decimals(given: tuple[str, ...]) -> dict[str, int]:
    places: dict[str, int] = {}
    for item in given:
        asset, sep, digits = item.partition("=")
        places_of = whole_number(digits)
        if not sep or not asset or places_of is None or places_of > MAX_DECIMALS:
            raise InvalidInput(f"--decimals {item}: expected ASSET=N with N from 0 to {MAX_DECIMALS} in digits 0-9")
        places[asset] = places_of
    return places


def _master(secret: Path | None) -> tuple[bytes, bool]:
    """The master secret, and whether it is a new one (to be written with the output)."""
    if secret is not None:
        return read_master(secret, "--secret"), False
    return secrets.token_bytes(32), True


def read_master(path: Path, option: str) -> bytes:
    """A proof of liabilities' master secret from its file (hex, at least 32 bytes)."""
    text = _read_text(path, option).strip()
    if not re.fullmatch(r"(?:[0-9a-fA-F]{2}){32,}", text):
        raise InvalidInput(f"{option} {path}: expected at least 32 bytes as hex")
    return bytes.fromhex(text)


def _made_folder(out: Path) -> list[Path]:
    """Create ``out`` (checked by ``check_output_dir``); the folders made, innermost first."""
    made = [folder for folder in (out, *out.parents) if not folder.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"--out {out}: cannot be created ({exc.strerror or type(exc).__name__})") from None
    return made


def _unmake(made: list[Path]) -> None:
    """Remove the folders ``_made_folder`` made (innermost first), as far as they are empty."""
    for folder in made:
        try:
            folder.rmdir()
        except OSError:
            return


class _Created:
    """What ``prove-liabilities`` creates in its ``--out`` folder, each new: a file or folder that
    appeared there since the folder was checked is never replaced but refused in one line
    (``InvalidInput``), and ``undo`` removes what this run created."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.paths: list[Path] = []

    def file(self, path: Path, text: str, mode: int = 0o666) -> None:
        try:
            write_new(path, text, mode)
        except OSError as exc:
            raise InvalidInput(self._why(path, exc)) from None
        self.paths.append(path)

    def folder(self, path: Path, mode: int) -> None:
        try:
            path.mkdir(mode=mode)
        except OSError as exc:
            raise InvalidInput(self._why(path, exc)) from None
        self.paths.append(path)

    def _why(self, path: Path, exc: OSError) -> str:
        name = path.relative_to(self.out)
        if isinstance(exc, FileExistsError):
            return (f"--out {self.out}: {name} appeared in it while writing (something else writes into this folder); "
                    "it is left as it was")
        return f"--out {self.out}: cannot write {name} ({exc.strerror or type(exc).__name__})"

    def undo(self) -> None:
        for path in reversed(self.paths):
            try:
                if path.is_dir():
                    path.rmdir()
                else:
                    path.unlink()
            except OSError:
                pass
        self.paths.clear()


@click.command("prove-liabilities")
@click.option("--journal", required=True, help="The journal (SQLite file, .ndjson, or postgresql://…).")
@click.option("--at", "seq", type=WholeNumber(min=0), default=None,
              help="The journal seq of the snapshot (a checkpoint of size N ends at seq N − 1) [default: the last].")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="A new (or empty) folder for root.json and proofs/<account>.json.")
@click.option("--secret", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The venue's master secret (hex) salts are derived from [default: a new one, written to "
                   "OUT/master-secret.hex].")
@click.option("--decimals", multiple=True, help="ASSET=N: values in units of 10^-N [default: the settlement "
                                                 "asset's money quantum, 8 for others].")
@click.option("--height", type=WholeNumber(1, 40), default=None,
              help="A fixed tree height (hides the number of accounts).")
@click.option("--venue", default=None, help="The venue name in the header [default: the profile's].")
@click.option("--reserves", "reserves_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help='What the venue holds, JSON {"USDT": "1200000"} or {"USDT": {"amount": …, "evidence": […]}}: '
                   "the capital adequacy report sets liabilities against it.")
@click.option("--record", "publish", is_flag=True,
              help="Publish the root in the journal: append a checkpoint and a pol_snapshot record (the state after "
                   "the journal's last record; not with --at, nor while a service writes the journal).")
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --record: a signer key; writes OUT/pol-record.json, the pol_snapshot record's inclusion "
                   "proof under a checkpoint signed with it, which holders check their proofs against.")
@_schema
@_json
def prove_liabilities_cmd(journal: str, seq: int | None, out: Path, secret: Path | None, decimals: tuple[str, ...],
                          height: int | None, venue: str | None, reserves_path: Path | None, publish: bool,
                          key_path: Path | None, schema: str, as_json: bool) -> None:
    """Proof of liabilities (solvent-pol-v1) from the state replayed to --at, and the capital
    adequacy report (solvent-car-v1)."""
    out = Path(os.path.normpath(out))  # ``new/..`` is the folder it names, which must be new or empty too
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"--out {out}: must be a new or empty folder")
    if publish and seq is not None:
        raise InvalidInput("--record publishes the state after the journal's last record: leave out --at")
    if key_path is not None and not publish:
        raise InvalidInput("--key goes with --record (the proof of the published pol_snapshot record)")
    signer = None if key_path is None else read_signer_key(_read_text(key_path, "--key"))
    check_output_dir(out, "--out")
    places = _decimals(decimals)
    reserves = {}
    if reserves_path is not None:
        try:
            reserves = read_reserves(loads_strict(_read_text(reserves_path, "--reserves")))
        except InvalidInput as bad:
            raise InvalidInput(f"--reserves {reserves_path}: {bad}") from None
    master, new_master = _master(secret)
    secret_file = out / "master-secret.hex" if new_master else secret
    created = _Created(out)
    published: dict[str, Any] | None = None
    if publish:
        open_journal(journal, schema=schema, read_only=True).close()  # a journal, before anything is written to it
        may_be_published = False
        made = _made_folder(out)  # and the folder, with the secret in it when new, before the root is published:
        try:  # a published root whose secret is lost could never be proven
            if new_master:
                created.file(out / "master-secret.hex", master.hex() + "\n", 0o600)
            backend = open_journal(journal, schema=schema, exclusive=True)
            try:
                head = HeadFile(default_head_file(journal, schema))  # kept up to date where the journal keeps one
                durable = DurableEngine(backend, allow_new=False, head_file=head if head.path.is_file() else None)
                may_be_published = True
                try:
                    at, tree, owed = record_pol(durable, master, places, height, venue)
                except InvalidInput:  # refused before anything was appended to the journal
                    may_be_published = False
                    raise
                engine = durable.engine
                if signer is not None:
                    published = record_inclusion(backend, at, sign_checkpoint(
                        journal_checkpoint(backend, signer.name), signer))
            finally:
                backend.close()
        except BaseException:
            # refused before the journal could hold the root (a locked, damaged or behind journal, a
            # refusal of the snapshot): nothing is left behind. Any later failure keeps the secret:
            # the root may have been published
            if not may_be_published:
                created.undo()
                _unmake(made)
            raise
        header = tree.header
    else:
        backend = open_whole_journal(journal, schema)
        try:
            engine, header, owed = snapshot_at(backend, seq, places)
        finally:
            backend.close()
        if venue is not None:
            header["venue"] = venue
        tree = build_tree(header, owed.accounts, master, height)  # everything is checked before anything is written
    summary = root_summary(tree)
    report = capital_adequacy(engine, tree, reserves)
    names = {account_id: proof_file_name(account_id) for account_id in owed.accounts}
    made = _made_folder(out)
    proofs = out / "proofs"
    try:
        if new_master and not publish:
            created.file(out / "master-secret.hex", master.hex() + "\n", 0o600)
        created.folder(proofs, 0o700)  # each proof holds its holder's salt: for that holder only
        for account_id, name in names.items():
            created.file(proofs / name, _json_text(prove(tree, account_id)))
        created.file(proofs / "index.json", _json_text(names))
        created.file(out / "root.json", _json_text(summary))
        created.file(out / "capital-adequacy.json", _json_text(report))
        if published is not None:
            created.file(out / "pol-record.json", _json_text(published))
    except InvalidInput as unwritten:
        if publish:  # the journal holds the root now: what was written stays, the secret above all
            raise Failed(f"{unwritten}; the root is published in the journal (pol_snapshot record "
                         f"{header['journal_seq'] + 1}) and its master secret is in {secret_file}") from None
        created.undo()  # nothing was published: nothing is left behind
        _unmake(made)
        raise Failed(str(unwritten)) from None  # the run failed writing its outputs (exit 1, as with --record)
    root = summary["root"]["hash"]
    if as_json:
        emit_json({"root": root, "snapshot_id": summary["snapshot_id"], "accounts": len(owed.accounts),
                   "header": summary["header"], "totals": summary["totals"], "folder": str(out),
                   "recorded_at": header["journal_seq"] + 1 if publish else None,
                   "ratios": report["ratios"], "worst_stress_loss": report["stress"]["worst_loss"]})
        return
    click.echo(f"root {root} over {len(owed.accounts)} accounts at seq {header['journal_seq']}")
    places = {asset["symbol"]: asset["decimals"] for asset in header["assets"]}
    for symbol, total in summary["totals"].items():  # the tree counts in units of 10^-decimals
        d = places[symbol]
        click.echo(f"  {symbol}: equity {_in_asset(total['equity'], d)}  debt {_in_asset(total['debt'], d)} "
                   f"(the tree's units of 10^-{d} {symbol}: {total['equity']} and {total['debt']})")
    for asset, units in header.get("uncovered_deficit", {}).items():
        click.echo(f"  uncovered deficit {asset}: {units}")
    for asset, coverage in report["ratios"]["reserve_coverage"].items():
        click.echo(f"  reserves {asset} cover {coverage or 'n/a'} of net liabilities")
    worst = ", ".join(f"{a} {v}" for a, v in report["stress"]["worst_loss"].items())
    cover = report["ratios"]["fund_cover"]
    shown_cover = "n/a" if cover is None else f"{round_down(Decimal(cover), Decimal('0.01'))}×"
    click.echo(f"  stress: worst loss {worst}; the insurance fund covers {shown_cover} of it")
    click.echo(f"wrote {out / 'root.json'} and {out / 'capital-adequacy.json'} (publish them), and {len(names)} "
               f"proofs in {proofs} (each for its holder only; index.json says whose file is whose)"
               + ("; keep master-secret.hex private" if new_master else ""))
    if publish:
        click.echo(f"published in the journal: pol_snapshot record {header['journal_seq'] + 1}"
                   + (f" (its proof: {out / 'pol-record.json'})" if published is not None else ""))
    if names:
        first = names[min(names)]
        record_args = f" --record {out / 'pol-record.json'} --key VKEY" if published is not None else ""
        click.echo(f"a holder checks theirs with:\n  solvent-verify pol {proofs / first} --root {root} "
                   f"--expect MY-BALANCES.json{record_args}")


@click.command("certify")
@click.option("--journal", required=True, help="The journal (SQLite file, .ndjson, or postgresql://…).")
@click.option("--event", "seq", type=WholeNumber(min=1), required=True,
              help="The seq of the record whose level change to certify.")
@click.option("--account", default=None, help="Whose level change [default: the record's first margin call or "
                                              "worse, else its first level change].")
@click.option("--event-index", "index", type=WholeNumber(min=0), default=None,
              help="Which of the record's events (counted from 0): a level change, or a liquidation step on "
                   "the book of an account already in liquidation (certified on its own).")
@click.option("--checkpoint", "note_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A signed checkpoint covering the record (tlog checkpoint).")
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Or a signer key: sign a checkpoint of the whole journal for the certificate.")
@click.option("--prior-checkpoint", "prior_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --checkpoint: a signed checkpoint with a state line (tlog checkpoint --size N), "
                   "binding the account judged to the venue's signed state: of size EVENT (the state before "
                   "the record), or EVENT+1 (after it: for a record that changes the account before judging it "
                   "and not after). With --key the one that binds is signed here.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="[default: certificate-<seq>.json]")
@_force
@_schema
@_json
def certify_cmd(journal: str, seq: int, account: str | None, index: int | None, note_path: Path | None,
                key_path: Path | None, prior_path: Path | None, out: Path | None, force: bool, schema: str,
                as_json: bool) -> None:
    """A margin-call or liquidation certificate anyone can check with solvent-verify."""
    _one_source(note_path, key_path)
    if prior_path is not None and key_path is not None:
        raise InvalidInput("--prior-checkpoint goes with --checkpoint (with --key the prior checkpoint is signed here)")
    backend = open_whole_journal(journal, schema)
    try:
        note = _note(backend, note_path, key_path, state=False)
        prior: str | Callable[[int], str] | None = None
        if prior_path is not None:
            prior = _read_text(prior_path, "--prior-checkpoint")
        elif key_path is not None:
            prior = _state_signer(backend, read_signer_key(_read_text(key_path, "--key")))
        certificate = certify(backend, seq, note, account, index=index, prior=prior)
    finally:
        backend.close()
    target = out or Path(f"certificate-{seq}.json")
    _emit(_json_text(certificate), target, force,
          [*journal_files(journal, schema), *(p for p in (note_path, key_path, prior_path) if p is not None)],
          quiet=as_json)
    claim = certificate["claim"]
    if as_json:
        emit_json({"certificate": str(target), "claim": claim, "equity": certificate["equity"],
                   "maintenance_margin": certificate["maintenance_margin"], "prior_bound": "prior" in certificate,
                   "after_bound": "after" in certificate})
        return
    bound = ("its state before the record signed" if "prior" in certificate else
             "its state after the record signed" if "after" in certificate else "its state not bound")
    move = f"stays in {claim['level']}" if claim["previous"] == claim["level"] else \
        f"{claim['previous']} → {claim['level']}"
    profile, unbound = _shipped_profile(certificate)
    click.echo(f"{shown(claim['account_id'])}: {move} at seq {seq} (equity "
               f"{certificate['equity']}, MM {certificate['maintenance_margin']}; {bound}); check it with:\n"
               f"  solvent-verify certificate {target} --key {_verifying_key(key_path)}"
               + (f" --profile {profile}" if profile else ""))
    if unbound:
        click.echo(f"note: {unbound}", err=True)


def _shipped_profile(certificate: dict[str, Any]) -> tuple[str | None, str | None]:
    """Where the profile file the certificate's venue ships with this solvent is (a bundled one),
    else its name as a file to supply; or ``None`` and why, when the journal names its profile
    in a way ``--profile`` cannot bind (found by review: the hint offered ``--profile`` for a
    journal whose genesis record holds no digest, which solvent-verify then refused)."""
    name = certificate["rules"]["profile"]
    entry = certificate["params"] if "params" in certificate else certificate["genesis"]
    named = json.loads(entry["record"])["config"].get("profile", {})
    if isinstance(named.get("overlay"), dict):
        return None, (f"the journal runs a dated overlay of {name}: --profile binds bundled profile files only, so "
                      "the tier tables are not re-derived")
    if not isinstance(named.get("sha256"), str):
        return None, (f"the journal's genesis record names {name} without its digest (written before solvent "
                      "recorded it, or a profile that is not bundled): --profile cannot be bound")
    from solvent.risk.venues import bundled_sha256, bundled_venues, kept_profile_file

    if name in bundled_venues() and named["sha256"] != bundled_sha256(name):  # found by review: the file shipped now
        kept = kept_profile_file(name, named["sha256"])  # is not the one the journal ran on, and would be refused
        if kept.is_file() and kept.name.endswith(".json"):
            return str(kept), None
        return None, (f"the journal ran on an earlier version of {name}, not the file this solvent ships"
                      + (f" ({kept}, gzip: --profile takes the file unpacked)" if kept.is_file() else "")
                      + ": --profile is not offered")
    shipped = resources.files("solvent") / "profiles" / f"{name}.json"
    return (str(shipped) if shipped.is_file() else f"{name}.json"), None


cli.add_command(tlog_cmd)
cli.add_command(prove_liabilities_cmd)
cli.add_command(certify_cmd)


@click.command("extract")
@click.option("--journal", required=True, help="The journal (SQLite file, .ndjson, or postgresql://…).")
@click.option("--account", "account_id", required=True, help="The account whose state to extract.")
@click.option("--checkpoint", "note_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A signed checkpoint with a state line (tlog checkpoint): the state extracted is after its last "
                   "record.")
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Or a signer key: sign a checkpoint of the whole journal, with its state, for the extract.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="[default: extract-<account>.json]")
@_force
@_schema
@_json
def extract_cmd(journal: str, account_id: str, note_path: Path | None, key_path: Path | None, out: Path | None,
                force: bool, schema: str, as_json: bool) -> None:
    """An account's whole state at a signed checkpoint, provable with solvent-verify account."""
    from solvent.proofs.account_extract import account_extract

    _one_source(note_path, key_path)
    backend = open_whole_journal(journal, schema)
    try:
        note = _note(backend, note_path, key_path, state=True)
        extract = account_extract(backend, account_id, note)
    finally:
        backend.close()
    target = out or Path(f"extract-{proof_file_name(account_id)}")
    _emit(_json_text(extract), target, force,
          [*journal_files(journal, schema), *(p for p in (note_path, key_path) if p is not None)], quiet=as_json)
    size = parse_checkpoint(note).size
    if as_json:
        emit_json({"extract": str(target), "account_id": account_id, "after_record": size - 1})
        return
    click.echo(f"{shown(account_id)} after record {size - 1}; check it with:\n"
               f"  solvent-verify account {target} --key VKEY")


cli.add_command(extract_cmd)


def _verifying_key(key_path: Path | None) -> str:
    """The verifying key to name in a "check it with" line: the one `tlog keygen` wrote beside the
    signer key (``NAME.vkey`` for ``NAME.skey``) when it is there, else ``VKEY`` (found by audit:
    the line printed ``VKEY`` with the key file beside the signer key given)."""
    if key_path is not None and key_path.suffix == ".skey" and key_path.with_suffix(".vkey").is_file():
        return str(key_path.with_suffix(".vkey"))
    return "VKEY"
