"""``--inputs``: a whole output's figures are compared even when its digest was deleted."""

from __future__ import annotations

from pathlib import Path

import pytest

from solvent.cli.rerun import rerun_mismatch

_RAN = {"digest": "ab" * 32, "bad_debt": "0", "liquidations": 3, "wall_s": 0.5}


@pytest.mark.parametrize("whole", [
    {"bad_debt": "5", "liquidations": 3},  # digest deleted, a figure edited
    {"digest": None, "bad_debt": "5", "liquidations": 3},  # digest null, a figure edited
])
def test_a_figure_edited_with_the_digest_removed_is_caught(whole: dict[str, object],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    found = rerun_mismatch(_RAN, None, whole, Path("run.json"), what="run", unrecorded=frozenset({"wall_s"}))
    assert found is not None
    assert "records no digest, and not this run's figures: 'bad_debt' differs" in found


def test_a_file_without_a_digest_whose_figures_match_is_noted(capsys: pytest.CaptureFixture[str]) -> None:
    whole = {"bad_debt": "0", "liquidations": 3, "wall_s": 9.0}
    assert rerun_mismatch(_RAN, None, whole, Path("run.json"), what="run", unrecorded=frozenset({"wall_s"})) is None
    assert "records no digest" in capsys.readouterr().err


def test_the_inputs_alone_have_no_figures_to_compare(capsys: pytest.CaptureFixture[str]) -> None:
    assert rerun_mismatch(_RAN, None, None, Path("in.json"), what="run", unrecorded=frozenset()) is None
    assert "records no digest: the run is not checked against one" in capsys.readouterr().err
