"""A price path above the engine's largest price is refused when the file is read: the exact
engine refused it mid-run (exit 1) while the fast cascade ran it to a digest."""

from decimal import Decimal
from pathlib import Path

import pytest

from solvent.errors import InvalidInput
from solvent.stress import load_path_file


def test_a_price_above_the_engines_largest_is_refused_naming_the_line(tmp_path: Path) -> None:
    f = tmp_path / "up.csv"
    f.write_text("close\n100000\n99900\n1000000001\n")
    with pytest.raises(InvalidInput, match="line 4: price 1000000001"):
        load_path_file(f, None, Decimal("0.1"))


def test_the_largest_price_itself_is_read(tmp_path: Path) -> None:
    f = tmp_path / "top.csv"
    f.write_text("close\n100000\n1000000000\n")
    assert load_path_file(f, None, Decimal("0.1"))[-1] == Decimal(1000000000)


def test_prices_past_the_steps_taken_are_not_read(tmp_path: Path) -> None:
    f = tmp_path / "cut.csv"
    f.write_text("100000\n99900\n1e30\n")
    assert load_path_file(f, 1, Decimal("0.1")) == [Decimal(100000), Decimal(99900)]


@pytest.mark.parametrize("engine", ["fast", "exact"])
def test_a_mark_the_impact_pushes_past_the_largest_price_stops_both_engines_alike(
        engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a new-user pass: a path up to 999,999,999 (allowed), with the liquidated shorts'
    buying pushing the mark past 10^9: the exact engine stopped there with exit 1, the fast one
    finished with a digest. Both now stop at that minute with the same one line."""
    from solvent.cli import main

    prices = [Decimal(10) ** 8 * Decimal("1.0099") ** i for i in range(400)]
    path = tmp_path / "up.csv"
    path.write_text("close\n" + "\n".join(f"{p:.1f}" for p in prices if p <= 999_999_999) + "\n999999999\n")
    assert main(["simulate", "--accounts", "300", "--engine", engine, "--scenario", f"path:{path}", "--json"]) == 2
    err = capsys.readouterr().err
    assert "the liquidations' impact moved the mark to" in err
    assert "past the engine's largest price 1,000,000,000" in err
