"""A PNG of a cascade: price path with impact, cumulative liquidations by side, insurance fund.

Floats here are for drawing only (design rule 1: plots may use floats).
"""

from __future__ import annotations

from pathlib import Path

from solvent.stress.result import CascadeResult

__all__ = ["plot_adequacy", "plot_cascade"]


def plot_cascade(result: CascadeResult, start_price: float, out: Path, title: str, quote: str = "USDT",
                 settle: str = "USDT", coin: bool = False) -> Path:
    """Write the three-panel figure to ``out`` (Agg backend, no display needed): prices and
    notionals in ``quote``, the fund in ``settle`` (in millions, or whole when it is the coin
    of an inverse instrument: ``coin``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [0] + [s.step for s in result.steps]
    scenario = [start_price] + [float(s.scenario_price) for s in result.steps]
    low_mark = [start_price] + [float(min(s.marks)) for s in result.steps]
    fund_scale, fund_unit = (1.0, settle) if coin else (1e6, f"M {settle}")
    sold, bought, fund = [0.0], [0.0], [float(result.insurance_start) / fund_scale]
    for s in result.steps:
        sold.append(sold[-1] + float(s.sold_quote) / 1e6)
        bought.append(bought[-1] + float(s.bought_quote) / 1e6)
        fund.append(float(s.insurance_fund) / fund_scale)
    fig, axes = plt.subplots(3, 1, figsize=(10, 10), sharex=True, constrained_layout=True)
    ax = axes[0]
    ax.plot(minutes, scenario, label="scenario price", color="0.5", linestyle="--")
    ax.plot(minutes, low_mark, label="mark with liquidation impact (lowest round)", color="tab:red")
    ax.set_ylabel(f"price ({quote})")
    ax.legend(loc="lower left")
    ax.set_title(title)
    ax = axes[1]
    ax.step(minutes, sold, where="post", label="longs liquidated (sold)", color="tab:red")
    ax.step(minutes, bought, where="post", label="shorts liquidated (bought)", color="tab:green")
    ax.set_ylabel(f"cumulative notional (M {quote})")
    ax.legend(loc="upper left")
    ax = axes[2]
    ax.step(minutes, fund, where="post", color="tab:blue", label="insurance fund")
    ax.set_ylabel(f"insurance fund ({fund_unit})")
    ax.set_xlabel("minute")
    ax.legend(loc="upper right")
    for a in axes:
        a.grid(True, alpha=0.3)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_adequacy(moves: list[float], needed: list[float], fund: float, fund_table: list[tuple[float, float | None,
                  float | None]], out: Path, title: str, settle: str = "USDT") -> Path:
    """Two panels: the fund each shock needs against the fund (in millions of ``settle``), and
    the reverse-stress move (down and up) against the fund size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    ax.set_xscale("log")
    ax.set_xlabel(f"insurance fund (M {settle})")
    ax.set_ylabel("move (%)")
    ax.set_title("reverse stress")
    ax.legend(loc="upper left")
    for a in axes:
        a.grid(True, alpha=0.3)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
