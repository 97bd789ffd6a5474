"""The "check it with" line after ``certify --key NAME.skey`` names ``NAME.vkey`` (the key
`tlog keygen` wrote beside it), so the printed command runs as printed."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from test_certificate import _hand_book, _level_changes

from solvent.cli import main
from solvent_verify.cli import main as verify_main


def test_the_printed_check_runs_as_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tlog", "keygen", "test.example/venue", "--out", str(tmp_path / "venue")]) == 0
    backend = _hand_book()
    journal = tmp_path / "j.ndjson"
    with journal.open("wb") as out:
        for stored in backend.records(0):
            out.write(b'{"h":"' + stored.hash.encode() + b'","r":' + stored.payload + b"}\n")
    capsys.readouterr()
    assert main(["certify", "--journal", str(journal), "--event", str(_level_changes(backend)[0][0]), "--key",
                 str(tmp_path / "venue.skey"), "--out", str(tmp_path / "c.json")]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("solvent-verify "))
    words = shlex.split(line)[1:]
    assert words[words.index("--key") + 1] == str(tmp_path / "venue.vkey")
    assert verify_main(words) == 0
