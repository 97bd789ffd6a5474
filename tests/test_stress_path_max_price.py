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
