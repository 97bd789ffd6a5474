"""Output helpers: decimals as strings in JSON, rich tables for people."""

from __future__ import annotations

import json
import os
import textwrap
from decimal import Decimal
from typing import Any

import click
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from solvent.calc.account import MONEY_QUANTUM
from solvent.text import whole_number
from solvent.units import plain, round_down, round_up

__all__ = ["dec", "emit_json", "money_down", "money_up", "output_width", "table"]


def dec(value: Decimal | None) -> str | None:
    """A decimal as a plain string (``None`` stays ``None``)."""
    return None if value is None else plain(value)


def money_up(value: Decimal) -> str:
    """A requirement, rounded up to the money quantum."""
    return plain(round_up(value, MONEY_QUANTUM))


def money_down(value: Decimal) -> str:
    """An amount owed to the holder (equity, PnL), rounded down to the money quantum."""
    return plain(round_down(value, MONEY_QUANTUM))


def emit_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, ensure_ascii=False))


TEXT_COLUMNS = frozenset({"symbol", "side", "account", "account_id", "level", "name", "figure", "detail",
                          "model", "MM basis", "baseline", "unit"})
"""Columns of words, left-aligned; every other column holds numbers and is right-aligned."""

PIPE_WIDTH = 200
"""Width used when stdout is not a terminal and ``COLUMNS`` is not set."""


def output_width() -> int:
    """The terminal's width (``COLUMNS`` when set), or ``PIPE_WIDTH`` when writing to a pipe."""
    console = Console()
    if console.is_terminal or whole_number(os.environ.get("COLUMNS", "")) is not None:
        return console.width
    return PIPE_WIDTH


def _column_floor(name: str, cells: list[str]) -> int:
    """Narrowest a column may be: its header's longest word, and its widest value in full
    (for a column of words, its longest word: words may wrap, numbers never do)."""
    values = [word for cell in cells for word in cell.split()] if name in TEXT_COLUMNS else cells
    return max([cell_len(word) for word in name.split()] + [cell_len(v) for v in values] + [1])


def table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """Print a table whose numbers are never cut or wrapped.

    Columns get their natural width when the table fits; otherwise headers and columns of
    words wrap, down to their longest word, while number columns keep their widest value.
    When even that does not fit, each row is printed as a stacked block of
    ``column  value`` lines instead.
    """
    width = output_width()
    room = width - (3 * len(columns) + 1)  # "│ " + " " around every cell, one closing "│"
    cells = [[row[i] for row in rows] for i in range(len(columns))]
    natural = [max([cell_len(name)] + [cell_len(c) for c in col]) for name, col in zip(columns, cells, strict=True)]
    widths = [_column_floor(name, col) for name, col in zip(columns, cells, strict=True)]
    if sum(widths) > room:
        _stacked(title, columns, rows)
        return
    spare = room - sum(widths)
    for i, want in enumerate(natural):
        extra = min(spare, want - widths[i])
        widths[i] += extra
        spare -= extra
    out = Table(title=title, title_justify="left")
    for name, column_width in zip(columns, widths, strict=True):
        out.add_column(name, justify="left" if name in TEXT_COLUMNS else "right", width=column_width,
                       overflow="fold")
    for row in rows:
        out.add_row(*row)
    Console(width=width).print(out)


def _stacked(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """One ``column  value`` line per cell; long text wraps at spaces, a number is never split."""
    label = max(cell_len(name) for name in columns)
    width = output_width()
    room = max(width - label - 4, 20)
    for line in textwrap.wrap(title, max(width, 20), break_long_words=False, break_on_hyphens=False):
        click.echo(line)
    for n, row in enumerate(rows):
        if n:
            click.echo("")
        for name, cell in zip(columns, row, strict=True):
            lines = textwrap.wrap(cell, room, break_long_words=False, break_on_hyphens=False) or [""]
            click.echo(f"  {name.ljust(label)}  {lines[0]}")
            for more in lines[1:]:
                click.echo(f"  {'':{label}}  {more}")
