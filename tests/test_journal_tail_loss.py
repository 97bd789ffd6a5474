"""A journal that lost records at its end, and an export that was damaged, are caught.

A hash chain proves that what is stored is intact; only the committed head kept outside the
journal (``<journal>.head``) can say that nothing is missing after it. ``verify`` and
``replay`` read it, the demo and ``import`` write it, and ``import`` checks every link of an
export before it writes anything.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from test_journal_trust import run

from solvent.cli import main
from solvent.journal.chain import ZERO_HASH, chain_hash


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tail") / "demo.sqlite"
    assert main(["demo", "--journal", str(path), "--json"]) == 0
    return path


def _records(path: Path) -> int:
    with sqlite3.connect(path) as db:
        count: int = db.execute("SELECT count(*) FROM records").fetchone()[0]
    return count


def _copy(demo: Path, folder: Path, *, head: bool = True) -> Path:
    copy = folder / "copy.sqlite"
    shutil.copy(demo, copy)
    if head:
        shutil.copy(Path(f"{demo}.head"), Path(f"{copy}.head"))
    return copy


def test_the_demo_keeps_its_committed_head_beside_the_journal(demo: Path) -> None:
    head = json.loads(Path(f"{demo}.head").read_text())
    assert head["seq"] == _records(demo) - 1
    doc = json.loads(run("verify", str(demo), "--json")[1])
    assert doc["ok"] is True and doc["head_file"] == {"path": f"{demo}.head", "checked": True}
    assert doc["head_hash"] == head["hash"]


@pytest.mark.parametrize("command", ["verify", "replay"])
def test_records_deleted_at_the_end_fail_verify_and_replay_naming_the_range(demo: Path, tmp_path: Path,
                                                                              command: str) -> None:
    copy = _copy(demo, tmp_path)
    last = _records(demo) - 1
    with sqlite3.connect(copy) as db:
        db.execute("DELETE FROM records WHERE seq > ?", (last - 5,))
    code, out, err = run(command, str(copy))
    assert code == 1
    assert f"records {last - 4}–{last} are missing" in err
    code, out, _ = run(command, str(copy), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["head_seq"] == last - 5
    if command == "verify":
        assert doc["ok"] is False and any("are missing" in p for p in doc["problems"])
    else:
        assert "are missing" in doc["missing"]


def test_a_journal_replaced_by_another_at_the_same_length_is_caught(demo: Path, tmp_path: Path) -> None:
    copy = _copy(demo, tmp_path)
    Path(f"{copy}.head").write_text(json.dumps({"seq": _records(demo) - 1, "hash": "ab" * 32}))
    code, _, err = run("verify", str(copy))
    assert code == 1 and "is not the one committed" in err


def test_without_a_head_file_verify_passes_but_says_what_it_could_not_check(demo: Path, tmp_path: Path) -> None:
    copy = _copy(demo, tmp_path, head=False)
    code, out, _ = run("verify", str(copy))
    assert code == 0 and "records lost at the end could not be detected" in out
    assert json.loads(run("verify", str(copy), "--json")[1])["head_file"]["checked"] is False
    code, _, err = run("verify", str(copy), "--head-file", str(tmp_path / "absent.head"))
    assert code == 2 and "no such file" in err


def test_a_head_file_given_explicitly_is_used(demo: Path, tmp_path: Path) -> None:
    copy = _copy(demo, tmp_path, head=False)
    elsewhere = tmp_path / "kept-elsewhere.head"
    shutil.copy(Path(f"{demo}.head"), elsewhere)
    with sqlite3.connect(copy) as db:
        db.execute("DELETE FROM records WHERE seq = (SELECT max(seq) FROM records)")
    assert run("verify", str(copy))[0] == 0          # nothing beside it to say so
    assert run("verify", str(copy), "--head-file", str(elsewhere))[0] == 1


def _export(demo: Path, folder: Path) -> list[bytes]:
    out = folder / "export.ndjson"
    assert run("export", str(demo), str(out))[0] == 0
    return out.read_bytes().splitlines(keepends=True)


def _import(lines: list[bytes], folder: Path) -> tuple[int, str, Path]:
    source = folder / "edited.ndjson"
    source.write_bytes(b"".join(lines))
    target = folder / "imported.sqlite"
    code, _, err = run("import", str(source), str(target))
    return code, err, target


def test_import_refuses_an_export_with_a_missing_line_and_writes_nothing(demo: Path, tmp_path: Path) -> None:
    lines = _export(demo, tmp_path)
    del lines[40]
    code, err, target = _import(lines, tmp_path)
    assert code == 2 and "line 41" in err and "hash mismatch" in err
    assert not target.exists() and not Path(f"{target}.head").exists()


def test_import_refuses_an_edited_record_even_with_its_hash_recomputed(demo: Path, tmp_path: Path) -> None:
    lines = _export(demo, tmp_path)
    # edit record 10's bytes and recompute its own hash: the next link no longer holds
    record = json.loads(lines[10])["r"]
    payload = lines[10][lines[10].index(b'"r":') + 4:-2].replace(b'"seq":10', b'"seq":10 ')
    assert payload != lines[10][lines[10].index(b'"r":') + 4:-2] and record["seq"] == 10
    previous = json.loads(lines[9])["h"]
    forged = chain_hash(previous, payload)
    lines[10] = b'{"h":"' + forged.encode() + b'","r":' + payload + b"}\n"
    code, err, target = _import(lines, tmp_path)
    assert code == 2 and "line 12" in err and not target.exists()


def test_import_refuses_an_export_that_does_not_start_with_a_genesis_record(demo: Path, tmp_path: Path) -> None:
    lines = _export(demo, tmp_path)
    # a chain that is internally consistent but starts with an ordinary record
    payload = lines[1][lines[1].index(b'"r":') + 4:-2]
    lines = [b'{"h":"' + chain_hash(ZERO_HASH, payload).encode() + b'","r":' + payload + b"}\n"]
    code, err, target = _import(lines, tmp_path)
    assert code == 2 and "not a genesis record" in err and not target.exists()


def test_an_intact_import_keeps_its_head_so_later_tail_loss_is_caught(demo: Path, tmp_path: Path) -> None:
    lines = _export(demo, tmp_path)
    code, _, target = _import(lines, tmp_path)
    assert code == 0
    assert json.loads(Path(f"{target}.head").read_text())["seq"] == len(lines) - 1
    assert run("verify", str(target))[0] == 0
    with sqlite3.connect(target) as db:
        db.execute("DELETE FROM records WHERE seq = ?", (len(lines) - 1,))
    assert run("verify", str(target))[0] == 1


def test_an_export_keeps_its_head_and_an_export_cut_at_its_end_is_refused(demo: Path, tmp_path: Path) -> None:
    lines = _export(demo, tmp_path)
    head = json.loads((tmp_path / "export.ndjson.head").read_text())
    assert head["seq"] == len(lines) - 1
    assert run("verify", str(tmp_path / "export.ndjson"))[0] == 0
    cut = tmp_path / "cut.ndjson"
    cut.write_bytes(b"".join(lines[:300]))                       # every link holds: only the head can tell
    shutil.copy(tmp_path / "export.ndjson.head", tmp_path / "cut.ndjson.head")
    code, _, err = run("import", str(cut), str(tmp_path / "cut.sqlite"))
    assert code == 2 and f"records 300–{len(lines) - 1} are missing" in err
    assert not (tmp_path / "cut.sqlite").exists() and not (tmp_path / "cut.sqlite.head").exists()
    assert run("verify", str(cut))[0] == 1


def test_an_export_of_a_journal_that_lost_its_tail_carries_the_committed_head(demo: Path, tmp_path: Path) -> None:
    copy = _copy(demo, tmp_path)
    last = _records(demo) - 1
    with sqlite3.connect(copy) as db:
        db.execute("DELETE FROM records WHERE seq > ?", (last - 3,))
    out = tmp_path / "lost.ndjson"
    assert run("export", str(copy), str(out))[0] == 0
    code, _, err = run("import", str(out), str(tmp_path / "lost.sqlite"))
    assert code == 2 and f"records {last - 2}–{last} are missing" in err


def test_an_export_without_a_head_imports_with_a_note(demo: Path, tmp_path: Path) -> None:
    lines = _export(demo, tmp_path)
    (tmp_path / "export.ndjson.head").unlink()
    code, out, _ = run("import", str(tmp_path / "export.ndjson"), str(tmp_path / "plain.sqlite"))
    assert code == 0 and "records lost at its end could not be detected" in out
    assert json.loads(Path(f"{tmp_path / 'plain.sqlite'}.head").read_text())["seq"] == len(lines) - 1


def test_an_empty_export_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.ndjson"
    empty.write_bytes(b"")
    code, _, err = run("import", str(empty), str(tmp_path / "e.sqlite"))
    assert code == 2 and "no genesis record" in err and not (tmp_path / "e.sqlite").exists()


@pytest.mark.parametrize("damage", ["directory", "binary"])
def test_a_head_file_that_is_not_one_fails_verify_and_replay(demo: Path, tmp_path: Path, damage: str) -> None:
    copy = _copy(demo, tmp_path, head=False)
    head = Path(f"{copy}.head")
    if damage == "directory":
        head.mkdir()
    else:
        head.write_bytes(bytes(range(256)))           # not UTF-8: was an internal error
    for command in ("verify", "replay"):
        code, _, err = run(command, str(copy))
        assert code == 1 and "head file" in err and "internal error" not in err


def test_import_onto_a_head_path_that_is_a_directory_writes_nothing(demo: Path, tmp_path: Path) -> None:
    _export(demo, tmp_path)
    target = tmp_path / "t.sqlite"
    Path(f"{target}.head").mkdir()
    code, _, err = run("import", str(tmp_path / "export.ndjson"), str(target))
    assert code == 2 and "is not a file" in err and not target.exists()


@pytest.mark.parametrize("command", ["verify", "replay"])
def test_a_journal_a_server_commits_to_meanwhile_is_not_called_short(
        demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """Found by a new-user pass: ``verify`` on a journal ``serve`` was writing said "records
    503–520 are missing; restore the journal" five runs in six. It read the head file after the
    records, so the head named records committed while it read. Here three deposits are
    committed (records and head file) just after the records are read: the head is now read
    first, and what the reader saw is whole."""
    from decimal import Decimal

    import solvent.cli.journal_commands as commands
    from solvent.engine import Deposit
    from solvent.journal import DurableEngine
    from solvent.journal.head_file import HeadFile
    from solvent.journal.sqlite_backend import SqliteBackend

    copy = _copy(demo, tmp_path)
    before = _records(copy)
    real = commands.verify if command == "verify" else commands.full_replay

    def then_a_server_commits(backend: object, **kwargs: object) -> object:
        seen = real(backend, **kwargs)  # type: ignore[arg-type]
        writer = DurableEngine(SqliteBackend(copy), head_file=HeadFile(Path(f"{copy}.head")))
        writer.apply_many([Deposit(f"late-{i}", "USDT", Decimal(1)) for i in range(3)])
        writer.close()
        return seen

    monkeypatch.setattr(commands, command if command == "verify" else "full_replay", then_a_server_commits)
    code, out, err = run(command, str(copy), "--json")
    assert code == 0, err
    assert json.loads(out)["head_seq"] == before - 1  # what it read: the journal before the deposits
    assert json.loads(Path(f"{copy}.head").read_text())["seq"] == before + 2  # the head moved on meanwhile


def test_an_export_of_a_journal_a_server_commits_to_meanwhile_imports(
        demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by review: ``export`` read the source's head file after its records, as ``verify``
    did, so the export's head named records committed meanwhile and ``import`` refused the
    export as incomplete. Three deposits are committed just after the records are read."""
    from decimal import Decimal

    import solvent.cli.journal_commands as commands
    from solvent.engine import Deposit
    from solvent.journal import DurableEngine
    from solvent.journal.head_file import HeadFile
    from solvent.journal.sqlite_backend import SqliteBackend

    copy = _copy(demo, tmp_path)
    real = commands.export_ndjson

    def then_a_server_commits(backend: object, out: str) -> int:
        count = real(backend, out)  # type: ignore[arg-type]
        writer = DurableEngine(SqliteBackend(copy), head_file=HeadFile(Path(f"{copy}.head")))
        writer.apply_many([Deposit(f"late-{i}", "USDT", Decimal(1)) for i in range(3)])
        writer.close()
        return count

    monkeypatch.setattr(commands, "export_ndjson", then_a_server_commits)
    export = tmp_path / "live.ndjson"
    assert run("export", str(copy), str(export))[0] == 0
    code, _, err = run("import", str(export), str(tmp_path / "imported.sqlite"))
    assert code == 0, err


def test_an_export_says_when_the_source_head_file_cannot_be_read(demo: Path, tmp_path: Path) -> None:
    copy = _copy(demo, tmp_path)
    Path(f"{copy}.head").write_text("not a head")
    code, _, err = run("export", str(copy), str(tmp_path / "x.ndjson"))
    assert code == 0 and "is damaged" in err and "would not be caught when it is imported" in err


def test_verify_names_records_past_the_head_and_a_snapshot_recovery_would_skip(demo: Path, tmp_path: Path) -> None:
    """Found by audit: ``verify`` said "the journal ends at the committed head" of a journal with a
    record appended behind its head file, and ok over a snapshot whose ``chain_hash`` was changed
    (which recovery skips); ``export`` said nothing of a missing head file."""
    from decimal import Decimal

    from solvent.engine import Deposit
    from solvent.journal import DurableEngine
    from solvent.journal.sqlite_backend import SqliteBackend

    copy = _copy(demo, tmp_path)
    head = Path(f"{copy}.head").read_bytes()
    last = _records(demo) - 1
    writer = DurableEngine(SqliteBackend(copy))
    assert writer.apply(Deposit("mallory", "USDT", Decimal(1))).accepted
    writer.close()
    Path(f"{copy}.head").write_bytes(head)  # the head file as it was: one record appended behind it
    code, out, _ = run("verify", str(copy))
    assert code == 0 and "ends at the committed head" not in out and f"(record {last})" in out
    assert json.loads(run("verify", str(copy), "--json")[1])["past_head"] == last
    code, out, _ = run("replay", str(copy))  # replay says so too (found by review)
    assert code == 0 and f"records {last + 1}–{last + 1} run past the committed head" in out, out
    assert json.loads(run("replay", str(copy), "--json")[1])["past_head"] == last
    code, _, err = run("explain", str(copy), "--event", str(last + 1))  # and explain, of that record (audit)
    assert code == 0 and f"record {last + 1} runs past the committed head" in err and f"(record {last})" in err, err
    assert json.loads(run("explain", str(copy), "--event", "1", "--json")[1])["past_head"] is None
    assert "past the committed head" not in run("explain", str(copy), "--event", "1")[2]
    code, _, err = run("export", str(copy), str(tmp_path / "past.ndjson"))  # and export (review)
    assert code == 0 and f"records {last + 1}–{last + 1} run past the committed head" in err, err
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE snapshots SET chain_hash = ?", ("0" * 64,))
    code, out, _ = run("verify", str(copy))
    assert code == 1 and "snapshot chain_hash is not the journal's H" in out
    Path(f"{copy}.head").unlink()
    code, _, err = run("export", str(copy), str(tmp_path / "x.ndjson"))
    assert code == 0 and "no head file" in err


def test_import_names_a_truncated_last_line_not_a_rewritten_journal(demo: Path, tmp_path: Path) -> None:
    """Found by audit: an export whose last line lost its end was refused as "replaced or
    rewritten" by the head check, which ran before the lines were checked."""
    lines = _export(demo, tmp_path)
    cut = tmp_path / "cut.ndjson"
    cut.write_bytes(b"".join(lines)[:-50])
    shutil.copy(tmp_path / "export.ndjson.head", tmp_path / "cut.ndjson.head")
    code, _, err = run("import", str(cut), str(tmp_path / "cut.sqlite"))
    assert code == 2 and "truncated" in err and "rewritten" not in err
