"""A PNG of a cascade: price path with impact, cumulative liquidations by side, insurance fund.

Floats here are for drawing only (design rule 1: plots may use floats).
"""

from __future__ import annotations

from pathlib import Path

from solvent.stress.result import CascadeResult

__all__ = ["plot_cascade"]


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
