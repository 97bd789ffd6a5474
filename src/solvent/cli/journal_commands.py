"""``solvent replay | verify | explain | export | import``: the journal from the command line.

JOURNAL is a SQLite file, an ``.ndjson`` export, or ``postgresql://…`` (with ``--schema``).
Exit codes: 0 success, 1 the journal is damaged or does not verify, 2 bad input.
"""

from __future__ import annotations

from pathlib import Path

import click

from solvent.cli import cli
from solvent.cli.files import check_new_file
from solvent.cli.render import emit_json
from solvent.errors import InvalidInput
from solvent.journal import JournalError, NotAJournal, export_ndjson, import_ndjson, open_journal, recover, verify
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
    backend = open_journal(journal, schema=schema, read_only=True)
    try:
        rec = recover(backend) if from_snapshot else full_replay(backend)
    except CodecError as exc:
        raise _fail(f"{journal}: {exc}") from None
    finally:
        backend.close()
    out = {"records": rec.last_seq + 1, "head_seq": rec.last_seq, "head_hash": rec.head_hash,
           "state_hash": rec.engine.state_hash(),
           "snapshot_seq": rec.snapshot_seq, "problem": None if rec.problem is None else str(rec.problem)}
    if as_json:
        emit_json(out)
    else:
        click.echo(f"records {rec.last_seq + 1} (seq 0–{rec.last_seq})  head {rec.head_hash}\n"
                   f"state_hash {out['state_hash']}")
    if rec.problem is not None:
        raise _fail(rec.message())


@click.command("verify")
@click.argument("journal")
@_schema
@_json
def verify_cmd(journal: str, schema: str, as_json: bool) -> None:
    """Check the hash chain and re-derive every event from the inputs."""
    backend = open_journal(journal, schema=schema, read_only=True)
    try:
        report = verify(backend)
    finally:
        backend.close()
    problems = [str(p) for p in ([report.chain_problem] if report.chain_problem else []) + report.mismatches]
    if as_json:
        emit_json({"ok": report.ok, "records": report.records, "head_seq": report.head_seq,
                   "head_hash": report.head_hash,
                   "state_hash": report.state_hash, "snapshots_checked": report.snapshots_checked,
                   "problems": problems})
    else:
        click.echo(f"records {report.records} (seq 0–{report.head_seq})  head {report.head_hash}"
                   f"  snapshots checked {report.snapshots_checked}")
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
    backend = open_journal(journal, schema=schema, read_only=True)
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
@click.argument("out")
@_schema
@click.option("--force", is_flag=True, help="Replace OUT if it already exists.")
@_json
def export_cmd(journal: str, out: str, schema: str, force: bool, as_json: bool) -> None:
    """Write JOURNAL's records to an NDJSON file (bytes unchanged)."""
    check_new_file(Path(out), "OUT", force)
    backend = open_journal(journal, schema=schema, read_only=True)
    try:
        count = export_ndjson(backend, out)
    finally:
        backend.close()
    if as_json:
        emit_json({"records": count, "out": out})
    else:
        click.echo(f"exported {count} records to {out}")


@click.command("import")
@click.argument("ndjson")
@click.argument("journal")
@_schema
@_json
def import_cmd(ndjson: str, journal: str, schema: str, as_json: bool) -> None:
    """Copy an NDJSON export into a new (empty) JOURNAL."""
    if not Path(ndjson).is_file():
        raise InvalidInput(f"no NDJSON export at {ndjson}")
    target = None if "://" in journal or journal == ":memory:" else Path(journal)
    created = target is not None and not target.exists()
    backend = open_journal(journal, schema=schema, create=True)
    try:
        count = import_ndjson(ndjson, backend)
    except NotAJournal:
        backend.close()
        _remove_new(target, created)
        raise
    except JournalError as exc:
        backend.close()
        _remove_new(target, created)
        raise click.ClickException(str(exc)) from None
    backend.close()
    if as_json:
        emit_json({"records": count, "journal": journal})
    else:
        click.echo(f"imported {count} records into {journal}")


def _remove_new(target: Path | None, created: bool) -> None:
    """A failed import leaves nothing behind: the journal file it created (and SQLite's
    ``-wal``/``-shm`` companions) is removed; an existing target is never touched."""
    if target is None or not created:
        return
    for path in (target, target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
        path.unlink(missing_ok=True)


for _command in (replay_cmd, verify_cmd, explain_cmd, export_cmd, import_cmd):
    cli.add_command(_command)
