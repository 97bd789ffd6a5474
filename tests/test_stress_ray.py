"""Monte Carlo on Ray (``solvent adequacy --ray``, ``stress/ray_fanout.py``): the same paths on a
local Ray cluster give the same result, bit for bit, as the local run.

Ray is in the ``dev`` extra; without it the test is skipped with the reason, except in CI
(``SOLVENT_REQUIRE_SERVICES=1``), where that is a failure."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

try:
    import ray  # noqa: F401
except ImportError as exc:
    if os.environ.get("SOLVENT_REQUIRE_SERVICES") == "1":
        raise RuntimeError("ray is not installed (SOLVENT_REQUIRE_SERVICES=1: the ray extra is required)") from exc
    pytest.skip(f"ray is not installed ({exc}): pip install 'solvent[ray]'", allow_module_level=True)

from solvent.cli import main
from solvent.stress import BookParams, generate_book
from solvent.stress.montecarlo import monte_carlo


def test_paths_on_a_local_ray_cluster_give_the_local_result_bit_for_bit(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """20 paths and one seed band (40 paths in all, 5 tasks) of a 300-account book: every path's
    outcome, in order, and the summary are those of the local run."""
    book = generate_book(BookParams(accounts=300, seed=3))
    here = monte_carlo(book, paths=20, horizon=30, block=10, seed=5, bands=1)
    there = monte_carlo(book, paths=20, horizon=30, block=10, seed=5, bands=1, ray="local")
    assert there.paths == here.paths and there.bands == here.bands
    assert there.summary() == here.summary()
    assert any(p.fund_needed > 0 for p in here.paths)  # the paths do something worth comparing
    # the CLI: the same report (its digest), with and without --ray
    args = ["adequacy", "--accounts", "200", "--paths", "8", "--horizon", "20", "--json"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    local = json.loads(capsys.readouterr().out)
    assert main([*args, "--out", str(tmp_path / "b"), "--ray", "local"]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert remote["monte_carlo"] == local["monte_carlo"] and remote["digest"] == local["digest"]


def test_ray_without_paths_or_a_cluster_is_refused_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adequacy", "--accounts", "200", "--paths", "0", "--ray", "local"]) == 2
    assert "--ray runs the Monte Carlo paths" in capsys.readouterr().err
    for address, words in (("127.0.0.1:1", "nothing answers there"), ("bogus", "give 'local' or HOST:PORT")):
        assert main(["adequacy", "--accounts", "200", "--paths", "2", "--horizon", "5", "--ray", address]) == 2
        assert words in capsys.readouterr().err
