"""The one CSV reader (``solvent.csv_table``): what a spreadsheet export gets wrong is refused
with the file's line, not guessed at."""

from __future__ import annotations

from pathlib import Path

import pytest

from solvent.csv_table import bundled_rows, parse_rows, read_rows
from solvent.errors import InvalidInput


def test_rows_keep_their_line_numbers_past_comments_and_blank_lines() -> None:
    text = "# source: somewhere\n# licence: CC0\nname,qty\n\na,1\nb,2\n"
    rows = parse_rows(text, "t", ("name", "qty"))
    assert [(r.line, r["name"], r["qty"]) for r in rows] == [(5, "a", "1"), (6, "b", "2")]


def test_a_bom_and_spaces_around_header_names_are_accepted() -> None:
    rows = parse_rows("\ufeff name , qty\na,1\n", "t", ("name", "qty"))
    assert rows[0].fields == {"name": "a", "qty": "1"}


def test_a_hash_after_the_header_is_data() -> None:
    rows = parse_rows("name,qty\n#1,5\n", "t", ("name", "qty"))
    assert rows[0]["name"] == "#1"


@pytest.mark.parametrize(("text", "words"), [
    ("name,qty,name\na,1,b\n", "t line 1: the header names column 'name' twice"),
    ("name\na\n", "t line 1: the header has no 'qty' column (it needs name, qty)"),
    ("name,qty,colour\na,1,red\n", "t line 1: unknown column 'colour'"),
    ("name,qty\na,1\nb\n", "t line 3: 1 field(s), the header has 2"),
    ("name,qty\na,1,2\n", "t line 2: 3 field(s), the header has 2"),
    ("name,,qty\n", "t line 1: the header has an empty column name"),
    ("# only a comment\n", "t: no header row"),
    ("name,qty\na,\"1\nb,2\n", "t line 3: not valid CSV (unexpected end of data)"),
    ("name,qty\na\x00,1\n", "t line 2: a NUL byte"),
])
def test_bad_files_are_refused_naming_the_line(text: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=None) as err:
        parse_rows(text, "t", ("name", "qty"))
    assert words in str(err.value), str(err.value)


def test_more_columns_are_allowed_where_the_reader_says_so() -> None:
    rows = parse_rows("date,close,volume\n1,100,5\n", "t", ("close",), None)
    assert rows[0]["close"] == "100" and rows[0].get("volume") == "5"


def test_a_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(InvalidInput, match="is not UTF-8 text"):
        read_rows(path, "the book", ("name",))
    with pytest.raises(InvalidInput, match="cannot read the book"):
        read_rows(tmp_path / "missing.csv", "the book", ("name",))


def test_the_bundled_files_read_through_it() -> None:
    """The 2025-10-10 sample path: 20:45 to 22:53 UTC by its source line, so 129 minutes, the
    first at line 3 (after the source comment and the header)."""
    rows = bundled_rows("btcusdt-1m-2025-10-10.csv", ("date", "close"))
    assert len(rows) == 129 and rows[0].line == 3
    assert (rows[0]["date"], rows[-1]["date"]) == ("2025-10-10T20:45:00Z", "2025-10-10T22:53:00Z")
