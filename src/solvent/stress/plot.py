"""PNGs of stress runs (``../shared/realism.md`` §4.5), one function per figure:

* ``plot_cascade``: the price panel (scenario price and the mark with liquidation impact, ADL
  minutes marked), liquidated notional per minute by side and cumulated, the insurance fund,
  and the book's depth (plots 1, 4 and 9);
* ``plot_adequacy``: the fund each shock needs, and reverse stress against the fund size;
* ``plot_monte_carlo``: the loss exceedance curve (log scale) with VaR and ES and the fund
  (plot 6);
* ``plot_cover``: deficits by scenario and group, the Cover-1 / Cover-2 heat map (plot 11).

What is drawn is computed in ``plot_data.py``; floats here are for drawing only (design rule 1:
plots may use floats).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from solvent.stress.adequacy import ShockOutcome
from solvent.stress.montecarlo import CONFIDENCES, MonteCarloResult, var_es
from solvent.stress.plot_data import ccdf, cover_matrix, minute_bars
from solvent.stress.result import CascadeResult

__all__ = ["plot_adequacy", "plot_cascade", "plot_cover", "plot_monte_carlo"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    _pyplot().close(fig)
    return out


def plot_cascade(result: CascadeResult, start_price: float, out: Path, title: str, quote: str = "USDT",
                 settle: str = "USDT", coin: bool = False) -> Path:
    """Write the five-panel figure to ``out`` (Agg backend, no display needed): prices, notionals
    and depth in ``quote``, the fund in ``settle`` (in millions, or whole when it is the coin of
    an inverse instrument: ``coin``)."""
    plt = _pyplot()
    minutes = [0] + [s.step for s in result.steps]
    scenario = [start_price] + [float(s.scenario_price) for s in result.steps]
    low_mark = [start_price] + [float(min(s.marks)) for s in result.steps]
    fund_scale, fund_unit = (1.0, settle) if coin else (1e6, f"M {settle}")
    sold, bought, fund = [0.0], [0.0], [float(result.insurance_start) / fund_scale]
    for s in result.steps:
        sold.append(sold[-1] + float(s.sold_quote) / 1e6)
        bought.append(bought[-1] + float(s.bought_quote) / 1e6)
        fund.append(float(s.insurance_fund) / fund_scale)
    bar_minutes, long_bars, short_bars, adl_minutes = minute_bars(result.steps)
    fig, axes = plt.subplots(5, 1, figsize=(10, 15), sharex=True, constrained_layout=True)
    ax = axes[0]
    ax.plot(minutes, scenario, label="scenario price", color="0.5", linestyle="--")
    ax.plot(minutes, low_mark, label="mark with liquidation impact (lowest round)", color="tab:red")
    if adl_minutes:
        lows = {s.step: float(min(s.marks)) for s in result.steps}
        ax.scatter(adl_minutes, [lows[m] for m in adl_minutes], marker="v", color="black", zorder=3,
                   label="auto-deleveraging")
    ax.set_ylabel(f"price ({quote})")
    ax.legend(loc="lower left")
    ax.set_title(title)
    ax = axes[1]
    # one filled outline per side, a bar a minute wide around each minute: one artist whatever the
    # run's length (a bar each took two minutes to draw for a month of minutes)
    edges = [m - 0.5 for m in bar_minutes] + [bar_minutes[-1] + 0.5] if bar_minutes else [0.0]
    ax.stairs([float(v) / 1e6 for v in long_bars], edges, fill=True, color="tab:red", label="longs liquidated")
    ax.stairs([-float(v) / 1e6 for v in short_bars], edges, fill=True, color="tab:green",
              label="shorts liquidated (below 0)")
    ax.set_ylabel(f"per minute (M {quote})")
    ax.legend(loc="upper right")
    ax = axes[2]
    ax.step(minutes, sold, where="post", label="longs liquidated (sold)", color="tab:red")
    ax.step(minutes, bought, where="post", label="shorts liquidated (bought)", color="tab:green")
    ax.set_ylabel(f"cumulative notional (M {quote})")
    ax.legend(loc="upper left")
    ax = axes[3]
    ax.step(minutes, fund, where="post", color="tab:blue", label="insurance fund")
    ax.set_ylabel(f"insurance fund ({fund_unit})")
    ax.legend(loc="upper right")
    ax = axes[4]
    ax.step(bar_minutes, [float(s.depth_quote) / 1e6 for s in result.steps], where="post", color="tab:purple",
            label="book depth at the end of the minute")
    ax.set_ylabel(f"depth (M {quote})")
    ax.set_xlabel("minute")
    ax.legend(loc="upper right")
    for a in axes:
        a.grid(True, alpha=0.3)
    return _save(fig, out)


def plot_monte_carlo(result: MonteCarloResult, out: Path, title: str, settle: str = "USDT") -> Path:
    """The share of paths whose fund need is at least x, against x (log scale), with VaR and ES
    at each confidence of ``CONFIDENCES`` and the fund as it is."""
    plt = _pyplot()
    needs = [p.fund_needed for p in result.paths]
    points = ccdf(needs)
    fig, ax = plt.subplots(figsize=(10, 6), constrained_layout=True)
    ax.step([float(x) / 1e6 for x, _ in points], [float(p) for _, p in points], where="post", color="tab:red",
            label=f"P(fund needed ≥ x), {len(needs):,} paths of {result.horizon} min")
    ax.set_yscale("log")
    ax.set_ylim(0.5 / len(needs), 1.05)
    for q, style in zip(CONFIDENCES, ("--", "-.", ":"), strict=True):
        var, es, resolved = var_es(needs, q)
        note = "" if resolved else " (fewer than 10 paths beyond it)"
        ax.axvline(float(var) / 1e6, color="0.3", linestyle=style, label=f"VaR {float(q):.1%}{note}")
        ax.axvline(float(es) / 1e6, color="tab:orange", linestyle=style, label=f"ES {float(q):.1%}")
    ax.axvline(float(result.fund) / 1e6, color="tab:blue", linewidth=2, label="insurance fund")
    ax.set_xlabel(f"fund needed on the path (M {settle})")
    ax.set_ylabel("share of paths")
    ax.set_title(title)
    ax.legend(loc="upper right")
    ax.grid(True, alpha=0.3, which="both")
    return _save(fig, out)


def plot_cover(outcomes: Sequence[ShockOutcome], k: int, out: Path, title: str, settle: str = "USDT") -> Path:
    """Deficits by scenario (rows: the instantaneous moves) and group (columns: the union of each
    scenario's ``k`` costliest), in millions of ``settle``; each cell says its figure."""
    plt = _pyplot()
    moves, groups, cells = cover_matrix(outcomes, k)
    if not groups:  # no scenario left a deficit: nothing to map, and the figure says so
        fig, ax = plt.subplots(figsize=(6.0, 3.0), constrained_layout=True)
        ax.text(0.5, 0.5, f"no deficit in any of the {len(moves)} scenarios", ha="center", va="center")
        ax.set_axis_off()
        ax.set_title(title)
        return _save(fig, out)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.0 + 0.9 * len(groups)), max(4.0, 1.0 + 0.45 * len(moves))),
                           constrained_layout=True)
    values = [[float(c) / 1e6 for c in row] for row in cells]
    image = ax.imshow(values, cmap="Reds", aspect="auto")
    fig.colorbar(image, ax=ax, label=f"deficits (M {settle})")
    ax.set_yticks(range(len(moves)), [f"{float(m):+.0%}" for m in moves])
    ax.set_xticks(range(len(groups)), [str(g) for g in groups])
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8, color="black" if v < 0.5 * max(
                max(r) for r in values) else "white")
    ax.set_xlabel(f"group (the {k} costliest of each scenario; Cover-{k}: the worst row's {k} together)")
    ax.set_ylabel("instantaneous move")
    ax.set_title(title)
    return _save(fig, out)


def plot_adequacy(moves: list[float], needed: list[float], fund: float, fund_table: list[tuple[float, float | None,
                  float | None]], out: Path, title: str, settle: str = "USDT") -> Path:
    """Two panels: the fund each shock needs against the fund (in millions of ``settle``), and
    the reverse-stress move (down and up) against the fund size."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), constrained_layout=True)
    ax = axes[0]
    labels = [f"{m:+.0%}" for m in moves]
    ax.bar(labels, [n / 1e6 for n in needed], color=["tab:red" if m < 0 else "tab:green" for m in moves])
    ax.axhline(fund / 1e6, color="tab:blue", linestyle="--", label="insurance fund")
    ax.set_ylabel(f"fund needed (M {settle})")
    ax.set_xlabel("instantaneous move")
    ax.set_title(title)
    ax.legend(loc="upper left")
    ax = axes[1]
    sizes = [row[0] / 1e6 for row in fund_table]
    for column, label, colour in ((1, "down", "tab:red"), (2, "up", "tab:green")):
        points = [(s, abs(move)) for s, row in zip(sizes, fund_table, strict=True)
                  if (move := row[column]) is not None]
        ax.plot([p[0] for p in points], [p[1] * 100 for p in points], marker="o", color=colour,
                label=f"smallest move {label} that exhausts it")
    ax.axvline(fund / 1e6, color="tab:blue", linestyle="--", label="the fund")
    if any(size > 0 for size in sizes) and fund > 0:  # a fund of 0 (or sizes of 0) has no place on a log axis
        ax.set_xscale("log")
    ax.set_xlabel(f"insurance fund (M {settle})")
    ax.set_ylabel("move (%)")
    ax.set_title("reverse stress")
    ax.legend(loc="upper left")
    for a in axes:
        a.grid(True, alpha=0.3)
    return _save(fig, out)
