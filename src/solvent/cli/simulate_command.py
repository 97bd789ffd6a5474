"""``solvent simulate``: a liquidation cascade on a synthetic book, with a summary and a PNG."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import click

from solvent.cli.render import emit_json, table
from solvent.errors import InvalidInput
from solvent.stress import BookParams, CascadeResult, generate_book, run_cascade, scenario_path
from solvent.stress.cascade import EngineName
from solvent.stress.plot import plot_cascade
from solvent.units import to_decimal

__all__ = ["simulate_cmd"]

FAST_ABOVE = 3_000
"""``--engine auto`` uses the exact engine up to this many accounts, the fast model above."""


def _drop(text: str) -> Decimal:
    value = to_decimal(text, "--drop")
    if not Decimal(0) < value < Decimal(1):
        raise InvalidInput(f"--drop must lie strictly between 0 and 1, got {text}")
    return value


@contextmanager
def _progress(steps: int, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    if not enabled:
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("cascade", total=steps)
        yield lambda step: bar.update(task, completed=step)


_ROWS = [("liquidations", "liquidations"), ("liquidated long notional", "liquidated_long_notional"),
         ("liquidated short notional", "liquidated_short_notional"), ("fees to the fund", "fees_to_insurance_fund"),
         ("backstop takeovers", "backstop_events"), ("ADL events", "adl_events"),
         ("bad debt (socialised)", "bad_debt_socialised"), ("insurance fund start", "insurance_fund_start"),
         ("insurance fund min", "insurance_fund_min"), ("insurance fund end", "insurance_fund_end"),
         ("cascade rounds", "cascade_rounds"), ("most rounds in a minute", "max_rounds_in_a_step"),
         ("lowest mark", "lowest_mark"), ("wall time (s)", "wall_s")]


@click.command("simulate")
@click.option("--scenario", default="crash", show_default=True, help="crash, crash-linear or path:FILE.")
@click.option("--accounts", type=int, default=100_000, show_default=True, help="Trader accounts in the book.")
@click.option("--steps", type=int, default=60, show_default=True, help="One-minute steps.")
@click.option("--drop", "drop_text", default="0.20", show_default=True, help="Fall of the crash (fraction).")
@click.option("--seed", type=click.IntRange(min=0), default=7, show_default=True, help="Seed of the book generator.")
@click.option("--engine", "engine", type=click.Choice(["auto", "exact", "fast"]), default="auto", show_default=True,
              help=f"exact engine or vectorised model (auto: fast above {FAST_ABOVE:,} accounts).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Directory for the PNG.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def simulate_cmd(scenario: str, accounts: int, steps: int, drop_text: str, seed: int, engine: str,
                 out_dir: Path, as_json: bool) -> None:
    """Run a liquidation cascade (market impact fed back into the price) on a synthetic book."""
    if not 1 <= accounts <= 5_000_000:
        raise InvalidInput(f"--accounts must lie in [1, 5000000], got {accounts}")
    if not 1 <= steps <= 10_000:
        raise InvalidInput(f"--steps must lie in [1, 10000], got {steps}")
    drop = _drop(drop_text)
    book = generate_book(BookParams(accounts=accounts, seed=seed))
    path = scenario_path(scenario, book.params.start_price, drop, steps, book.tick)
    chosen: EngineName = "fast" if engine == "fast" or (engine == "auto" and accounts > FAST_ABOVE) else "exact"
    with _progress(steps, not as_json and sys.stdout.isatty()) as progress:
        result = run_cascade(book, path, chosen, progress=progress)
    target = out_dir / f"cascade-{scenario.replace(':', '_').replace('/', '_')}-{accounts}-{seed}.png"
    try:
        png = plot_cascade(result, float(path[0]), target,
                           f"{scenario}: {accounts:,} accounts, −{drop:%} in {steps} min ({chosen})")
    except OSError as err:
        raise InvalidInput(f"cannot write the plot to {target}: {err.strerror}") from None
    _report(result, png, as_json)


def _report(result: CascadeResult, png: Path, as_json: bool) -> None:
    summary = result.summary()
    if as_json:
        emit_json({**summary, "plot": str(png)})
        return
    table(f"cascade ({summary['engine']}, {summary['accounts']:,} accounts, {summary['steps']} steps)",
          ["figure", "value"], [[label, str(summary[key])] for label, key in _ROWS])
    click.echo(f"plot: {png}\ndigest: {summary['digest']}")
