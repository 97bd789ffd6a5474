"""``solvent bench``: run the benchmarks, print figures and same-run ratios."""

from __future__ import annotations

import click

from solvent.bench import run
from solvent.cli.render import emit_json, table

__all__ = ["bench_cmd"]


@click.command("bench")
@click.argument("names", nargs=-1)
@click.option("--quick", is_flag=True, help="Small sizes that finish in under a minute.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per benchmark.")
def bench_cmd(names: tuple[str, ...], quick: bool, as_json: bool) -> None:
    """Run benchmarks (all, or NAMES) and print ratios against same-run baselines."""
    results = run(list(names), quick)
    if as_json:
        emit_json([r.to_json() for r in results])
        return
    table("benchmarks (ratio = value / baseline, measured in the same run)",
          ["name", "value", "unit", "baseline", "baseline value", "ratio", "detail"],
          [[r.name, f"{r.value:.6g}", r.unit, r.baseline, f"{r.baseline_value:.6g}", f"{r.ratio:.3g}", r.detail]
           for r in results])
