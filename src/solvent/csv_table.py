"""The CSV files solvent reads: one reader, so every file is checked the same way.

A file is UTF-8 (a byte-order mark is allowed), may open with ``#`` comment lines (a data
file's source and licence), then has a header row and data rows. The reader refuses what a
spreadsheet export can get wrong rather than guessing: a header naming a column twice, a
required column missing, an unknown one (where the caller lists every column), a row with
more or fewer fields than the header, a NUL byte. A ``#`` after the header is data, not a
comment (an account may be called ``#1``). Errors name the file and its line as an editor
counts it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from solvent.errors import InvalidInput
from solvent.input_files import MAX_TABLE_BYTES, read_bounded

__all__ = ["CsvRow", "bundled_rows", "parse_rows", "read_rows", "read_text"]


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One data row: its line in the file and its fields by column name."""

    line: int
    fields: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.fields[column]

    def get(self, column: str, default: str = "") -> str:
        return self.fields.get(column, default)


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``; ``InvalidInput`` names ``what`` when it can't be read."""
    data = read_bounded(path, what, MAX_TABLE_BYTES)  # a book of /dev/zero was read for ever (review)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{what} {path} is not UTF-8 text (a binary file?)") from None


def parse_rows(text: str, where: str, required: Iterable[str], optional: Iterable[str] | None = ()) -> list[CsvRow]:
    """The data rows of ``text`` (module docstring). Every column in ``required`` must be in the
    header; a column in neither ``required`` nor ``optional`` is refused, unless ``optional`` is
    ``None`` (a file that may carry more columns than the reader uses). Blank lines are skipped."""
    need = tuple(required)
    allowed = None if optional is None else {*need, *optional}
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InvalidInput(f"{where} line {line}: a NUL byte (a binary file?)")
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    header: list[str] | None = None
    rows: list[CsvRow] = []
    try:
        for fields in reader:
            line = reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if header is None:
                if fields[0].lstrip().startswith("#"):
                    continue
                header = [name.strip() for name in fields]
                _check_header(header, need, allowed, f"{where} line {line}")
                continue
            if len(fields) != len(header):
                raise InvalidInput(f"{where} line {line}: {len(fields)} field(s), the header has {len(header)}")
            rows.append(CsvRow(line, dict(zip(header, fields, strict=True))))
    except csv.Error as err:
        raise InvalidInput(f"{where} line {reader.line_num}: not valid CSV ({err})") from None
    if header is None:
        raise InvalidInput(f"{where}: no header row (it needs {', '.join(need)})")
    return rows


def read_rows(path: Path, what: str, required: Iterable[str], optional: Iterable[str] | None = ()) -> list[CsvRow]:
    """``parse_rows`` of the file at ``path``."""
    return parse_rows(read_text(path, what), f"{what} {path}", required, optional)


def bundled_rows(name: str, required: Iterable[str]) -> list[CsvRow]:
    """The rows of a data file shipped in the package (``solvent/data/NAME``)."""
    text = (resources.files("solvent") / "data" / name).read_text("utf-8")
    return parse_rows(text, f"bundled {name}", required, None)


def _check_header(header: list[str], need: tuple[str, ...], allowed: set[str] | None, where: str) -> None:
    seen: set[str] = set()
    for name in header:
        if not name:
            raise InvalidInput(f"{where}: the header has an empty column name")
        if name in seen:
            raise InvalidInput(f"{where}: the header names column {name!r} twice")
        seen.add(name)
    missing = [c for c in need if c not in seen]
    if missing:
        raise InvalidInput(f"{where}: the header has no {missing[0]!r} column (it needs {', '.join(need)})")
    unknown = [c for c in header if allowed is not None and c not in allowed]
    if unknown:
        raise InvalidInput(f"{where}: unknown column {unknown[0]!r} (columns: {', '.join(sorted(allowed or ()))})")
