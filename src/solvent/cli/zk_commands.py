"""``solvent zk``: zero-knowledge margin attestations (Z1, ``docs/zk.md``).

``solvent zk prove`` replays a journal to a seq and writes, for one account, the public proof
(anyone verifies it) and the private openings (for the account's holder only). ``solvent zk
verify`` checks a proof, and with ``--openings`` (and ``--account``) that the commitments open
to the holder's own values. Exit codes: 0 the proof holds, 1 it does not (one line saying
why), 2 bad input.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from solvent.cli.exits import Failed
from solvent.cli.files import check_output_dir, read_input
from solvent.cli.params import WholeNumber
from solvent.cli.render import emit_json
from solvent.cli.whole_journal import open_whole_journal
from solvent.errors import InvalidInput
from solvent.extras import missing_extra
from solvent.jsonstrict import loads_strict

if TYPE_CHECKING:
    from solvent.proofs.zk.cema import Statement
    from solvent.proofs.zk.cema_json import HolderFile

__all__ = ["zk_cmd"]

_CLAIMS = ("auto", "equity_ge_mm", "equity_gt_mm", "equity_le_mm", "equity_lt_mm")


class ProofFails(Failed):
    """The proof does not hold (exit 1)."""


@click.group("zk")
def zk_cmd() -> None:
    """Zero-knowledge margin attestations (Z1): equity against MM, sizes and collateral hidden."""


def _modules() -> None:
    try:
        from solvent.proofs.zk.group import generator_h

        generator_h()
    except ImportError as exc:
        raise missing_extra(exc, "zk", "solvent zk") from None


@zk_cmd.command("prove")
@click.option("--journal", required=True, help="The journal (SQLite file, .ndjson, or postgresql://…).")
@click.option("--account", "account_id", required=True, help="The account to attest.")
@click.option("--at", "seq", type=WholeNumber(min=0), default=None, help="The journal seq [default: the last].")
@click.option("--judged", is_flag=True,
              help="Attest the state record --at's level changes were judged on (its input applied, before any "
                   "liquidation step): how a liquidation is justified.")
@click.option("--scope", default="cross", show_default=True,
              help="The margin scope: cross, or isolated:SYMBOL for an isolated position.")
@click.option("--claim", type=click.Choice(_CLAIMS), default="auto", show_default=True,
              help="auto: the engine's own decision (equity <= MM, or < MM, when it would liquidate the account).")
@click.option("--bits", type=click.Choice(["64", "96", "128"]), default="64", show_default=True,
              help="Width of the range proof on the margin excess.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for cema-<pseudonym>.json (public) and cema-<pseudonym>.openings.json (the holder's).")
@click.option("--schema", default="solvent_journal", show_default=True, help="PostgreSQL schema holding the journal.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def zk_prove_cmd(journal: str, account_id: str, seq: int | None, judged: bool, scope: str, claim: str, bits: str,
                 out: Path, schema: str, as_json: bool) -> None:
    """Prove an account's claim at a journal seq, revealing no size, entry or balance."""
    _modules()
    from solvent.proofs.zk.cema import prove
    from solvent.proofs.zk.cema_json import openings_to_json, proof_to_json
    from solvent.proofs.zk.engine_statement import account_statement, journal_state, new_salt

    check_output_dir(out, "--out")
    if judged and seq is None:
        raise InvalidInput("--judged attests a record's decision: give the record with --at")
    backend = open_whole_journal(journal, schema, "nothing is proved over it")
    try:
        engine, checkpoint = journal_state(backend, seq, judged)
    finally:
        backend.close()
    salt = new_salt()
    statement, witness = account_statement(engine, account_id, checkpoint, claim, int(bits), scope, salt)
    public, private = out / f"cema-{statement.account}.json", out / f"cema-{statement.account}.openings.json"
    proof, openings = prove(statement, witness)
    try:
        out.mkdir(parents=True, exist_ok=True)
        # a fresh salt names the files: neither exists unless something else made it, which is never replaced
        _write_new(public, json.dumps(proof_to_json(proof), indent=1) + "\n", 0o644)
        _write_new(private, json.dumps(openings_to_json(proof, witness, openings, salt), indent=1) + "\n",
                   0o600)  # the holder's alone
    except OSError as err:
        raise InvalidInput(f"--out {out}: cannot write the proof: {err.strerror}") from None
    if as_json:
        emit_json({"claim": statement.claim, "scope": statement.scope, "checkpoint": checkpoint,
                   "account": statement.account,
                   "proof": str(public), "openings": str(private)})
        return
    click.echo(f"{statement.claim} for {account_id} ({statement.scope}; as {statement.account}) at {checkpoint}")
    click.echo(f"proof: {public}\nopenings (give to the holder only): {private}")


@zk_cmd.command("verify")
@click.argument("proof_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--openings", "openings_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The holder's openings: check that the commitments open to its own values.")
@click.option("--account", "account_id", default=None,
              help="With --openings: the holder's account id, checked against the statement's pseudonym (and, with "
                   "--journal, that the statement covers the account's whole scope with its own values).")
@click.option("--journal", default=None,
              help="The venue's journal: check that the statement's checkpoint, marks, lots, MM tiers and money unit "
                   "are the venue's at that seq.")
@click.option("--schema", default="solvent_journal", show_default=True, help="PostgreSQL schema holding the journal.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def zk_verify_cmd(proof_file: Path, openings_file: Path | None, account_id: str | None, journal: str | None,
                  schema: str, as_json: bool) -> None:
    """Check a proof (exit 0 if it holds, 1 if not)."""
    _modules()
    from solvent.proofs.zk.cema import openings_match, verify
    from solvent.proofs.zk.cema_json import openings_from_json, proof_from_json
    from solvent.proofs.zk.engine_statement import pseudonym

    if account_id is not None and openings_file is None:
        raise InvalidInput("--account checks a holder's pseudonym; give --openings with it")
    proof = proof_from_json(_read_json(proof_file))
    st = proof.statement
    if not verify(proof):
        raise ProofFails(f"{proof_file}: the proof of {st.claim} does not hold")
    holder = None
    if openings_file is not None:
        holder = openings_from_json(_read_json(openings_file))
        if (holder.checkpoint, holder.account) != (st.checkpoint, st.account):
            raise ProofFails(f"{openings_file} belongs to another statement ({holder.account} at {holder.checkpoint})")
        if not openings_match(proof, holder.witness, holder.openings):
            raise ProofFails(f"{openings_file}: the commitments do not open to these values")
        if account_id is not None and pseudonym(st.checkpoint, account_id, holder.salt) != st.account:
            raise ProofFails(f"the statement is about {st.account}, not {account_id}")
    decision = None
    if journal is not None:
        problem, decision = _against_journal(journal, schema, st, holder, account_id)
        if problem is not None:
            raise ProofFails(f"{proof_file}: {problem}")
    if as_json:
        emit_json({"ok": True, "claim": st.claim, "scope": st.scope, "checkpoint": st.checkpoint,
                   "account": st.account,
                   "positions": [p.symbol for p in st.positions], "openings_checked": openings_file is not None,
                   "journal_checked": journal is not None,
                   "whole_scope_checked": journal is not None and account_id is not None,
                   "venue_decision": decision})
        return
    checked = [what for what, done in (("openings match", openings_file is not None),
                                       ("public inputs are the journal's", journal is not None),
                                       ("the account's whole scope", journal is not None and account_id is not None))
               if done]
    if journal is not None:
        checked.append(f"the venue's trigger: {decision.replace('_', ' ')}" if decision is not None
                       else "not the venue's trigger: it decides no liquidation")
    suffix = f" ({'; '.join(checked)})" if checked else ""
    click.echo(f"ok: {st.claim} ({st.scope}) for {st.account} at {st.checkpoint}{suffix}")
    if journal is None:  # found by audit: a plain "ok" read as if the statement were the venue's
        click.echo("note: the proof holds for the statement's own public inputs (marks, tiers, lots); they were not "
                   "checked against the venue's journal: give --journal for that", err=True)


def _against_journal(journal: str, schema: str, st: Statement, holder: HolderFile | None,
                     account_id: str | None) -> tuple[str | None, str | None]:
    """Replay ``journal`` to the statement's seq and compare its public inputs; with the holder's
    openings and account id, also the whole scope and the values: the problem found (``None``
    if none) and what the claim says of the venue's decision (``claim_decision``)."""
    from solvent.journal.backend import JournalError
    from solvent.journal.open import open_journal
    from solvent.proofs.zk.engine_statement import (
        claim_decision,
        holder_problem,
        journal_state,
        parse_checkpoint,
        public_inputs_problem,
    )

    parsed = parse_checkpoint(st.checkpoint)
    if parsed is None:
        return (f"the checkpoint {st.checkpoint!r} does not name a journal seq (venue@seq[:judged]:state_hash)",
                None)
    backend = open_journal(journal, schema=schema, read_only=True)
    try:
        engine, checkpoint = journal_state(backend, *parsed)
    except (InvalidInput, JournalError) as bad:
        return f"the journal has no state at {st.checkpoint}: {bad}", None
    finally:
        backend.close()
    problem = public_inputs_problem(engine, checkpoint, st)
    if problem is None and holder is not None and account_id is not None:
        problem = holder_problem(engine, account_id, st, holder.witness, holder.salt)
    return problem, claim_decision(engine, st)


def _write_new(path: Path, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _read_json(path: Path) -> object:
    return loads_strict(read_input(path, "the file"), str(path))
