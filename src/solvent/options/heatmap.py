"""A PNG heatmap of a scenario margin's risk matrix: moves × volatility legs, the worst marked.

Floats here are for drawing only (design rule 1: plots may use floats).
"""

from __future__ import annotations

from pathlib import Path

from solvent.errors import InvalidInput
from solvent.extras import require
from solvent.options.margin import MarginReport

__all__ = ["save_heatmap"]


def save_heatmap(report: MarginReport, out: Path) -> Path:
    """Write the regular grid (rows: volatility legs; columns: underlying moves) to ``out``,
    P&L in the settlement asset, losses red (Agg backend, no display needed)."""
    if out.suffix.lower() != ".png":
        raise InvalidInput(f"--png writes a PNG: {out} should end in .png")
    require("plot", "the risk-matrix heatmap")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    regular = [r for r in report.scenarios if not r.scenario.extended]
    moves = list(dict.fromkeys(r.scenario.move for r in regular))
    legs = list(dict.fromkeys(r.scenario.vol for r in regular))
    cell = {(r.scenario.vol, r.scenario.move): r.pnl for r in regular}
    grid = [[cell[(leg, m)] for m in moves] for leg in legs]
    bound = max((abs(v) for row in grid for v in row), default=1.0) or 1.0
    fig, ax = plt.subplots(figsize=(1.1 * len(moves) + 2, 0.8 * len(legs) + 1.6))
    image = ax.imshow(grid, cmap="RdYlGn", vmin=-bound, vmax=bound, aspect="auto")
    ax.set_xticks(range(len(moves)), [f"{float(m) * 100:+g}%" for m in moves])
    ax.set_yticks(range(len(legs)), [f"vol {leg}" for leg in legs])
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            ax.text(j, i, f"{value:.4g}", ha="center", va="center", fontsize=7)
    if report.worst is not None and not report.worst.scenario.extended:
        w = report.worst.scenario
        ax.add_patch(Rectangle((moves.index(w.move) - 0.5, legs.index(w.vol) - 0.5), 1, 1, fill=False,
                                   edgecolor="black", linewidth=2))
    fig.colorbar(image, ax=ax, label=f"P&L ({report.settle})")
    ax.set_title(f"{report.rules}: MM {report.maintenance_margin} {report.settle}")
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=110)
    except OSError as exc:
        raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return out
