"""Output helpers: decimals as strings in JSON, rich tables for people."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from solvent.calc.account import MONEY_QUANTUM
from solvent.units import plain, round_down, round_up

__all__ = ["dec", "emit_json", "money_down", "money_up", "table"]


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


def table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    out = Table(title=title, title_justify="left")
    for name in columns:
        out.add_column(name, justify="left" if name in ("symbol", "side", "account", "level") else "right")
    for row in rows:
        out.add_row(*row)
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(out)
