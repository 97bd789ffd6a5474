"""The stress plots (``../shared/realism.md`` §4.5, plots 1, 6, 9 and 11): what they draw is
checked against hand computations, and the CLI writes each figure."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from solvent.cli import main
from solvent.stress.adequacy import ShockOutcome
from solvent.stress.plot_data import ccdf, cover_matrix, minute_bars
from solvent.stress.result import StepRecord

D = Decimal


def test_the_exceedance_curve_is_the_share_of_paths_at_or_beyond_each_loss() -> None:
    # five paths needing 0, 0, 1, 3, 3: P(L ≥ 0) = 5/5, P(L ≥ 1) = 3/5, P(L ≥ 3) = 2/5
    assert ccdf([D(3), D(0), D(1), D(3), D(0)]) == [(D(0), D(1)), (D(1), D("0.6")), (D(3), D("0.4"))]
    assert ccdf([D(7)]) == [(D(7), D(1))]


def _shock(move: str, groups: dict[int, int]) -> ShockOutcome:
    return ShockOutcome(D(move), D(0), D(sum(groups.values())), D(0), D(0), {g: D(v) for g, v in groups.items()})


def test_the_cover_matrix_keeps_each_scenarios_costliest_groups() -> None:
    # -10 %: groups 1 (5), 2 (3), 3 (1); +10 %: groups 4 (9), 1 (2). Two costliest of each: {1, 2} and {4, 1};
    # worst deficit per group: 4 → 9, 1 → 5, 2 → 3: columns 4, 1, 2 (group 3 is no scenario's top two)
    moves, groups, cells = cover_matrix([_shock("-0.1", {1: 5, 2: 3, 3: 1}), _shock("0.1", {4: 9, 1: 2})], 2)
    assert moves == [D("-0.1"), D("0.1")] and groups == [4, 1, 2]
    assert cells == [[D(0), D(5), D(3)], [D(9), D(2), D(0)]]
    # Cover-2 is the worst row's two costliest together: 9 + 2 = 11 at +10 %
    assert max(sum(sorted(row, reverse=True)[:2]) for row in cells) == D(11)


def _step(minute: int, sold: int, bought: int, adl: int) -> StepRecord:
    return StepRecord(minute, D(100), (D(100),), (), D(sold), D(bought), D(0), D(0), D(0), D(0), adl, 0)


def test_minute_bars_split_the_sides_and_mark_the_adl_minutes() -> None:
    steps = [_step(1, 0, 0, 0), _step(2, 500, 20, 1), _step(3, 10, 0, 0)]
    assert minute_bars(steps) == ([1, 2, 3], [D(0), D(500), D(10)], [D(0), D(20), D(0)], [2])


def test_the_adequacy_report_writes_the_cover_heat_map_and_the_monte_carlo_curve(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib", reason="the plot extra is not installed")
    assert main(["adequacy", "--accounts", "800", "--paths", "40", "--horizon", "20", "--out", str(tmp_path),
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    names = sorted(Path(p).name for p in [doc["plot_file"], *doc["plot_files"]])
    assert names == ["adequacy-binance-usdm-BTCUSDT-cover.png", "adequacy-binance-usdm-BTCUSDT-montecarlo.png",
                     "adequacy-binance-usdm-BTCUSDT.png"]
    for name in names:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_book_no_shock_leaves_a_deficit_in_still_gets_its_report(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Found by review: the cover heat map crashed when no scenario left a deficit."""
    pytest.importorskip("matplotlib", reason="the plot extra is not installed")
    book = tmp_path / "book.csv"
    book.write_text("account_id,side,qty,entry,deposit\na1,long,1,100000,100000\na2,short,1,100000,100000\n")
    assert main(["adequacy", "--book", str(book), "--start-price", "100000", "--paths", "0", "--out", str(tmp_path),
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (cover,) = doc["plot_files"]
    assert Path(cover).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
