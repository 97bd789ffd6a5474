"""``solvent replay | verify | explain | export | import``: the journal from the command line.

JOURNAL is a SQLite file, an ``.ndjson`` export, or ``postgresql://…`` (with ``--schema``).
Exit codes: 0 success, 1 the journal is damaged or does not verify, 2 bad input.
"""

from __future__ import annotations

import click

from solvent.cli import cli
from solvent.cli.render import emit_json
from solvent.journal import JournalError, export_ndjson, import_ndjson, open_journal, recover, verify
from solvent.journal.codec import CodecError
from solvent.journal.engine_replay import full_replay
from solvent.journal.explain import explain, render_explanation

__all__ = ["explain_cmd", "export_cmd", "import_cmd", "replay_cmd", "verify_cmd"]

_schema = click.option("--schema", default="solvent_journal", show_default=True,
                       help="PostgreSQL schema holding the journal.")
_json = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


class _Failure(click.ClickException):
    """A check that ran and failed (exit 1), as opposed to bad input (exit 2)."""

    exit_code = 1


def _fail(message: str) -> click.ClickException:
    return _Failure(message)


@click.command("replay")
@click.argument("journal")
@_schema
@_json
@click.option("--from-snapshot", is_flag=True, help="Start from the newest verified snapshot (as recovery does).")
def replay_cmd(journal: str, schema: str, as_json: bool, from_snapshot: bool) -> None:
    """Rebuild the engine state from JOURNAL and print its hash."""
    backend = open_journal(journal, schema=schema)
    try:
        rec = recover(backend) if from_snapshot else full_replay(backend)
    except CodecError as exc:
        raise _fail(f"{journal}: {exc}") from None
    finally:
        backend.close()
    out = {"records": rec.last_seq, "head_hash": rec.head_hash, "state_hash": rec.engine.state_hash(),
           "snapshot_seq": rec.snapshot_seq, "problem": None if rec.problem is None else str(rec.problem)}
    if as_json:
        emit_json(out)
    else:
        click.echo(f"records {rec.last_seq}  head {rec.head_hash}\nstate_hash {out['state_hash']}")
    if rec.problem is not None:
        raise _fail(rec.message())


@click.command("verify")
@click.argument("journal")
@_schema
@_json
def verify_cmd(journal: str, schema: str, as_json: bool) -> None:
    """Check the hash chain and re-derive every event from the inputs."""
    backend = open_journal(journal, schema=schema)
    try:
        report = verify(backend)
    finally:
        backend.close()
    problems = [str(p) for p in ([report.chain_problem] if report.chain_problem else []) + report.mismatches]
    if as_json:
        emit_json({"ok": report.ok, "records": report.records, "head_hash": report.head_hash,
                   "state_hash": report.state_hash, "snapshots_checked": report.snapshots_checked,
                   "problems": problems})
    else:
        click.echo(f"records {report.records}  head {report.head_hash}  snapshots checked {report.snapshots_checked}")
        for line in problems:
            click.echo(f"  {line}")
    if not report.ok:
        raise _fail(f"{journal} does not verify: {problems[0]}")
    if not as_json:
        click.echo("ok: chain intact, every event re-derived")


@click.command("explain")
@click.argument("journal")
@click.option("--event", "seq", type=int, required=True, help="Sequence number of the record to explain.")
@_schema
@_json
def explain_cmd(journal: str, seq: int, schema: str, as_json: bool) -> None:
    """Show what justified the margin calls and liquidations of record N."""
    backend = open_journal(journal, schema=schema)
    try:
        answer = explain(backend, seq)
    finally:
        backend.close()
    if as_json:
        emit_json(answer)
    else:
        click.echo(render_explanation(answer))


@click.command("export")
@click.argument("journal")
@click.argument("out", type=click.Path(dir_okay=False))
@_schema
def export_cmd(journal: str, out: str, schema: str) -> None:
    """Write JOURNAL's records to an NDJSON file (bytes unchanged)."""
    backend = open_journal(journal, schema=schema)
    try:
        click.echo(f"exported {export_ndjson(backend, out)} records to {out}")
    finally:
        backend.close()


@click.command("import")
@click.argument("ndjson", type=click.Path(exists=True, dir_okay=False))
@click.argument("journal")
@_schema
def import_cmd(ndjson: str, journal: str, schema: str) -> None:
    """Copy an NDJSON export into a new (empty) JOURNAL."""
    backend = open_journal(journal, schema=schema, create=True)
    try:
        click.echo(f"imported {import_ndjson(ndjson, backend)} records into {journal}")
    except JournalError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        backend.close()


for _command in (replay_cmd, verify_cmd, explain_cmd, export_cmd, import_cmd):
    cli.add_command(_command)
