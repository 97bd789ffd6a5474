"""``solvent replay | verify | explain | export | import``: the journal from the command line.

JOURNAL is a SQLite file, an ``.ndjson`` export, or ``postgresql://…`` (with ``--schema``).
Exit codes: 0 success, 1 the journal is damaged or does not verify, 2 bad input.
"""

from __future__ import annotations

from pathlib import Path

import click

from solvent.cli import cli
from solvent.cli.exits import Failed
from solvent.cli.files import check_new_file, journal_files, refuse_if_read
from solvent.cli.params import WholeNumber
from solvent.cli.render import emit_json
from solvent.errors import InvalidInput
from solvent.journal import JournalError, NotAJournal, export_ndjson, import_ndjson, open_journal, recover, verify
from solvent.journal.backend import JournalBackend
from solvent.journal.codec import CodecError
from solvent.journal.engine_replay import full_replay
from solvent.journal.explain import explain, render_explanation
from solvent.journal.head_file import HeadFile, HeadRead, default_head_file, tail_problem
from solvent.journal.ndjson import NdjsonBackend, read_export
from solvent.journal.open import journal_kind
from solvent.journal.sqlite_backend import foreign_tables, is_sqlite

__all__ = ["explain_cmd", "export_cmd", "import_cmd", "replay_cmd", "verify_cmd"]

_schema = click.option("--schema", default="solvent_journal", show_default=True,
                       help="PostgreSQL schema holding the journal.")
_json = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
_head = click.option("--head-file", "head_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="The last committed head recorded outside the journal, to catch records lost at "
                          "its end [default: JOURNAL.head, or solvent-data/SCHEMA.pg-head for PostgreSQL].")


class _HeadFirst:
    """The head file, read before the journal's records: a server may be writing the journal,
    and a head read after the records would name records committed since."""

    def __init__(self, journal: str, schema: str, head_path: Path | None) -> None:
        self.head = HeadFile(head_path or default_head_file(journal, schema))
        if head_path is not None and not self.head.path.is_file():
            raise InvalidInput(f"--head-file {head_path}: no such file")
        self.present = self.head.path.exists()  # a directory or a damaged file there is a problem, not "no head"
        self.read = HeadRead(self.head) if self.present else None

    def check(self, backend: JournalBackend, last_seq: int) -> tuple[dict[str, object], str | None]:
        """What the head file says about the journal's end: (its JSON view, the problem or ``None``)."""
        problem = tail_problem(self.head, backend, last_seq, self.read) if self.present else None
        return {"path": str(self.head.path), "checked": self.present}, problem

    def past_head(self, last_seq: int) -> int | None:
        """The committed head's seq when the journal runs past it (``None`` otherwise): records
        written after the head was read (a writer is running), after its last write (a crash
        between commit and head write), or appended by someone else; accepted, but not called
        the committed head (found by audit: ``verify`` said "the journal ends at the committed
        head" of a journal with a record appended behind its head file)."""
        value = self.read.value if self.read is not None else None
        return value[0] if value is not None and value[0] < last_seq else None


def _no_head_line(view: dict[str, object]) -> str:
    return ("" if view["checked"] else
            f"\n  note: no head file at {view['path']}: records lost at the end of the journal "
            "cannot be told from a complete journal")


def _fail(message: str) -> click.ClickException:
    """A check that ran and failed (exit 1), as opposed to bad input (exit 2)."""
    return Failed(message)


@click.command("replay")
@click.argument("journal")
@_schema
@_head
@_json
@click.option("--from-snapshot", is_flag=True, help="Start from the newest verified snapshot (as recovery does).")
def replay_cmd(journal: str, schema: str, head_path: Path | None, as_json: bool, from_snapshot: bool) -> None:
    """Rebuild the engine state from JOURNAL and print its hash."""
    head = _HeadFirst(journal, schema, head_path)
    backend = open_journal(journal, schema=schema, read_only=True)
    try:
        rec = recover(backend) if from_snapshot else full_replay(backend)
        head_view, missing = head.check(backend, rec.last_seq)
    except CodecError as exc:
        raise _fail(f"{journal}: {exc}") from None
    finally:
        backend.close()
    skipped = list(rec.skipped_snapshots)
    past = head.past_head(rec.last_seq)
    out = {"records": rec.last_seq + 1, "head_seq": rec.last_seq, "head_hash": rec.head_hash,
           "state_hash": rec.engine.state_hash(),
           "snapshot_seq": rec.snapshot_seq, "problem": None if rec.problem is None else str(rec.problem),
           "head_file": head_view, "missing": missing,
           "skipped_snapshots": skipped, "past_head": past}
    if as_json:
        emit_json(out)
    else:
        start = ("" if rec.snapshot_seq is None else  # found by audit: read as if records 0 on were all replayed
                 f"\n  from the snapshot at record {rec.snapshot_seq}: records 0–{rec.snapshot_seq} were not "
                 "replayed, nor their links checked (solvent verify checks them)")
        start += "".join(f"\n  skipped {why}" for why in skipped)  # found by audit: in silence
        if past is not None:  # as verify says it (found by review: replay said nothing)
            start += (f"\n  note: records {past + 1}–{rec.last_seq} run past the committed head recorded in "
                      f"{head_view['path']} (record {past})")
        click.echo(f"records {rec.last_seq + 1} (seq 0–{rec.last_seq})  head {rec.head_hash}\n"
                   f"state_hash {out['state_hash']}{start}{_no_head_line(head_view)}")
    if rec.problem is not None:
        raise _fail(rec.message())
    if missing is not None:
        raise _fail(f"{journal}: {missing}")


@click.command("verify")
@click.argument("journal")
@click.option("--pol-secret", "pol_secrets", type=click.Path(dir_okay=False, path_type=Path), multiple=True,
              help="The venue's proof-of-liabilities master secret (hex; repeat for several): also rebuild the root "
                   "hash of every pol_snapshot record (without it, their headers and root values are checked).")
@_schema
@_head
@_json
def verify_cmd(journal: str, pol_secrets: tuple[Path, ...], schema: str, head_path: Path | None,
               as_json: bool) -> None:
    """Check the hash chain and re-derive every event from the inputs."""
    from solvent.cli.proof_commands import read_master
    from solvent.proofs.liabilities import pol_check

    masters = [read_master(path, "--pol-secret") for path in pol_secrets]
    head = _HeadFirst(journal, schema, head_path)
    backend = open_journal(journal, schema=schema, read_only=True)
    try:
        report = verify(backend, pol=pol_check(masters))
        head_view, missing = head.check(backend, report.head_seq)
    finally:
        backend.close()
    problems = [str(p) for p in ([report.chain_problem] if report.chain_problem else []) + report.mismatches]
    if missing is not None and report.chain_problem is None:
        problems.append(missing)
    if as_json:
        emit_json({"ok": not problems, "records": report.records, "head_seq": report.head_seq,
                   "head_hash": report.head_hash,
                   "state_hash": report.state_hash, "snapshots_checked": report.snapshots_checked,
                   "checkpoints_checked": report.checkpoints_checked,
                   "pol_snapshots_checked": report.pol_snapshots_checked, "pol_roots_rebuilt": bool(masters),
                   "head_file": head_view, "past_head": head.past_head(report.head_seq), "problems": problems})
    else:
        span = f" (seq 0–{report.head_seq})" if report.records else ""
        click.echo(f"records {report.records}{span}  head {report.head_hash}"
                   f"  snapshots checked {report.snapshots_checked}"
                   f"  checkpoints checked {report.checkpoints_checked}"
                   + (f"  pol snapshots checked {report.pol_snapshots_checked}"
                      + (" (roots rebuilt)" if masters else "") if report.pol_snapshots_checked else ""))
        for line in problems:
            click.echo(f"  {line}")
    if problems:
        raise _fail(f"{journal} does not verify: {problems[0]}")
    if not as_json:
        past = head.past_head(report.head_seq)
        ending = (f"records {past + 1}–{report.head_seq} run past the committed head recorded in {head_view['path']} "
                  f"(record {past}): written after it was recorded (a writer running, or a crash before the head "
                  "write) or appended since" if past is not None
                  else "the journal ends at the committed head" if head_view["checked"]
                  else f"no head file at {head_view['path']}, so records lost at the end could not be detected")
        click.echo(f"ok: chain intact, every event re-derived; {ending}")


@click.command("explain")
@click.argument("journal")
@click.option("--event", "seq", type=WholeNumber(), required=True, help="Sequence number of the record to explain.")
@_schema
@_head
@_json
def explain_cmd(journal: str, seq: int, schema: str, head_path: Path | None, as_json: bool) -> None:
    """Show what justified the margin calls and liquidations of record N."""
    head = _HeadFirst(journal, schema, head_path)
    backend = open_journal(journal, schema=schema, read_only=True)
    try:
        answer = explain(backend, seq)
        # found by audit: a damaged head file, or a journal rewritten or cut short behind it, was
        # explained without a word (verify and replay fail on them)
        start = min(seq, head.read.value[0]) if head.read is not None and head.read.value is not None else seq
        last_seq = seq
        for stored in backend.records(start):
            last_seq = stored.seq
        _, problem = head.check(backend, last_seq)
    finally:
        backend.close()
    past = head.past_head(seq)  # found by audit: a record behind the head file was explained as committed
    answer["past_head"] = past
    if as_json:
        emit_json(answer)
    else:
        click.echo(render_explanation(answer))
    if past is not None:
        click.echo(f"note: record {seq} runs past the committed head recorded in {head.head.path} (record {past}): "
                   "written after the head, or appended since", err=True)
    if problem is not None:  # shown, then exit 1 as verify and replay
        raise _fail(f"{journal}: {problem}")
    if not answer["events_match_replay"]:  # shown, then exit 1 as every journal check that finds a difference
        raise _fail(f"{journal}: record {seq}'s events differ from the replay of its command (solvent verify "
                    "tells more)")


@click.command("export")
@click.argument("journal")
@click.argument("out")
@_schema
@click.option("--force", is_flag=True, help="Replace OUT if it already exists.")
@_json
def export_cmd(journal: str, out: str, schema: str, force: bool, as_json: bool) -> None:
    """Write JOURNAL's records to an NDJSON file (bytes unchanged)."""
    reads = journal_files(journal, schema)
    check_new_file(Path(out), "OUT", force, reads)
    out_head = HeadFile(default_head_file(out))
    if out_head.path.exists() and not out_head.path.is_file():
        raise InvalidInput(f"{out_head.path} (where the export's head is kept) is not a file")
    check_new_file(out_head.path, "OUT's head file", True, reads)
    source = HeadFile(default_head_file(journal, schema))
    read = HeadRead(source)  # before the records: a server may be committing to the journal meanwhile
    committed = read.value
    backend = open_journal(journal, schema=schema, read_only=True)
    if read.problem is not None:
        click.echo(f"note: {read.problem}: the export's head is its last record, so records lost at the "
                   "journal's end would not be caught when it is imported", err=True)
    elif read.value is None:  # found by audit: said nothing, and the export's head then passed for a committed one
        click.echo(f"note: no head file at {source.path}: the export's head is its last record, so records lost "
                   "at the journal's end would not be caught when it is imported", err=True)
    try:
        count = export_ndjson(backend, out)
        last = next(iter(backend.records(count - 1)), None) if count else None
    finally:
        backend.close()
    if committed is not None and committed[0] > count - 1:  # found by audit: exported in silence
        click.echo(f"note: the journal ends at record {count - 1} but record {committed[0]} was committed (head file "
                   f"{source.path}): the export carries that head, so importing it is refused", err=True)
    elif committed is not None and committed[0] < count - 1:  # as verify names them (found by review)
        click.echo(f"note: records {committed[0] + 1}–{count - 1} run past the committed head recorded in "
                   f"{source.path} (record {committed[0]}): exported, and the export's head is that committed record",
                   err=True)
    # the export's head: the source's committed head when it keeps one (an export of a journal
    # that lost its tail then fails to import, naming the range), else its last record
    head = committed if committed is not None else (last.seq, last.hash) if last is not None else None
    if head is not None:
        out_head.write(*head)
    if as_json:
        emit_json({"records": count, "out": out, "head_file": str(out_head.path)})
    else:
        click.echo(f"exported {count} records to {out} (its head in {out_head.path})")


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
    kind = journal_kind(journal)
    keep_head = kind in ("sqlite", "postgresql") and journal != ":memory:"  # where the service keeps it
    where = f"{journal} (schema {schema})" if kind == "postgresql" else journal
    head = HeadFile(default_head_file(journal, schema))
    if keep_head and head.path.exists() and not head.path.is_file():
        raise InvalidInput(f"{head.path} (where the journal's head is kept) is not a file")
    source_head = HeadFile(default_head_file(ndjson))
    if keep_head:  # the new journal's head file may not be the export, nor the export's head
        refuse_if_read(head.path, f"{journal}'s head file", [Path(ndjson), source_head.path])
    checked = source_head.path.exists()
    # every line and link first (found by audit: a truncated or re-encoded export was refused as "replaced or
    # rewritten" by the head check, which read its damaged last line), then the end against the export's head
    records = read_export(ndjson)
    if checked:  # the export's committed head: a line lost at its end is caught here
        missing = tail_problem(source_head, NdjsonBackend(ndjson), _last_good_line(ndjson))
        if missing is not None:
            raise NotAJournal(f"{ndjson} is not a complete journal export: {missing}")
    # everything is checked before the target is opened (opening creates a journal's tables): a
    # refused import leaves a database, a schema or an empty file as it found it
    if target is not None and is_sqlite(target):
        foreign = foreign_tables(target)
        if foreign:
            raise InvalidInput(f"{journal} is a database holding {', '.join(foreign)}, not a journal: import into a "
                               "new file")
    created = target is not None and not target.exists()
    backend = open_journal(journal, schema=schema, create=True)
    try:
        count = import_ndjson(ndjson, backend, records=records)
        if keep_head:  # the imported journal's committed head, kept beside it as the service keeps it
            last = next(iter(backend.records(count - 1)))
            head.write(last.seq, last.hash)
    except (NotAJournal, InvalidInput):
        backend.close()
        _remove_new(target, created)
        raise
    except (JournalError, OSError) as exc:
        backend.close()
        _remove_new(target, created)
        raise click.ClickException(str(exc)) from None
    backend.close()
    note = None if checked else (f"no head file beside the export ({source_head.path}): "
                                 "records lost at its end could not be detected")
    if as_json:
        emit_json({"records": count, "journal": journal, "export_head_checked": checked,
                   "head_file": str(head.path) if keep_head else None})
    else:
        click.echo(f"imported {count} records into {where}" + (f"\n  note: {note}" if note else ""))


def _last_good_line(ndjson: str) -> int:
    """The seq of the export's last line (-1 when empty); its links are checked by the import."""
    return sum(1 for _ in NdjsonBackend(ndjson).records(0)) - 1


def _remove_new(target: Path | None, created: bool) -> None:
    """A failed import leaves nothing behind: the journal file it created (and SQLite's
    ``-wal``/``-shm`` companions) is removed; an existing target is never touched."""
    if target is None or not created:
        return
    for path in (target, target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
        path.unlink(missing_ok=True)


for _command in (replay_cmd, verify_cmd, explain_cmd, export_cmd, import_cmd):
    cli.add_command(_command)
