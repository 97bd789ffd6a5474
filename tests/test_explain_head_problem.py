"""``explain`` fails, as ``verify`` and ``replay`` do, on a head file that says the journal is not
the one committed (rewritten, cut short) or that cannot be read; the explanation is still shown."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from test_journal_trust import run

from solvent.cli import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("explain-head") / "demo.sqlite"
    assert main(["demo", "--journal", str(path), "--json"]) == 0
    return path


def _last(path: Path) -> int:
    with sqlite3.connect(path) as db:
        last: int = db.execute("SELECT max(seq) FROM records").fetchone()[0]
    return last


@pytest.mark.parametrize(("head", "words"), [
    (lambda last: json.dumps({"seq": last, "hash": "ab" * 32}), "is not the one committed"),  # rewritten
    (lambda last: json.dumps({"seq": last + 5, "hash": "ab" * 32}), "are missing"),  # cut short
    (lambda last: "garbage", "is damaged"),
])
def test_explain_fails_where_verify_does(demo: Path, tmp_path: Path, head: object, words: str) -> None:
    copy = tmp_path / "copy.sqlite"
    shutil.copy(demo, copy)
    Path(f"{copy}.head").write_text(head(_last(demo)))  # type: ignore[operator]
    code, out, err = run("explain", str(copy), "--event", "1")
    assert code == 1 and words in err and "record 1:" in out, (code, out, err)


def test_explain_of_an_intact_journal_passes(demo: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    shutil.copy(demo, copy)
    shutil.copy(Path(f"{demo}.head"), Path(f"{copy}.head"))
    code, out, err = run("explain", str(copy), "--event", "1")
    assert code == 0 and "record 1:" in out and err == "", err
