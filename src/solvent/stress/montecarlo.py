"""Monte Carlo of the venue's loss: many seeded price paths, each run through the cascade.

**Paths** (realism.md S3, "bootstrap from the real minute data"): a block bootstrap of the
1-minute log returns of the four bundled crash days (``scenarios.REPLAYS``: 2,879 returns of
Black Thursday, 2021-05-19, FTX and 2025-10-10). A path of ``horizon`` minutes strings together
blocks of ``block`` consecutive returns, each block starting at a uniformly drawn minute of one
day (blocks never straddle two days), and ``price_t = start × exp(r_1 + … + r_t)``, rounded down
to the book's price grid. The draw uses numpy's ``default_rng((seed, path))``: path ``i`` of
seed ``s`` is the same on every machine and in every order. Sampling crash days makes these
stressed paths, not calm ones.

**Per path**: the cascade on the book (``run_cascade``, the engine's decisions) gives the fund
the path needs (``adequacy.fund_needed``: one run answers for every fund size), the deficits,
the liquidated notional and the lowest price.

**Summary**: the value at risk of the fund needed at 99, 99.5 and 99.9 % (the empirical
quantile taken upward: the ``⌈q × n⌉``-th smallest, so never below the exact quantile of the
sample), the expected shortfall beyond it (the mean of the values at or above it), the
probability that the fund is exhausted (share of paths needing more than the fund) and the
required fund at each confidence (its VaR). A quantile beyond what ``n`` paths resolve
(fewer than ten paths above it) is reported with ``resolved: false``. **Seed bands**: the same
summary on ``bands`` further seeds gives the range of each VaR.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import numpy as np
from numpy.typing import NDArray

from solvent.csv_table import bundled_rows
from solvent.errors import InvalidInput
from solvent.stress.adequacy import fund_needed
from solvent.stress.book import SyntheticBook
from solvent.stress.cascade import CascadeParams, EngineName, run_cascade
from solvent.stress.scenarios import REPLAYS
from solvent.units import ZERO, exact, round_down

__all__ = ["CONFIDENCES", "MAX_HORIZON", "MAX_PATHS", "MonteCarloResult", "PathOutcome", "bootstrap_path",
           "crash_returns", "monte_carlo", "path_outcome", "var_es"]

CONFIDENCES = (Decimal("0.99"), Decimal("0.995"), Decimal("0.999"))
MAX_PATHS = 100_000
MAX_HORIZON = 1_440


@cache
def crash_returns() -> tuple[NDArray[np.float64], ...]:
    """The 1-minute log returns of each bundled crash day (closes), one array a day."""
    days = []
    for name in REPLAYS:
        rows = bundled_rows(f"crash/{name}.csv", ("close",))
        closes = np.asarray([float(r["close"]) for r in rows])
        days.append(np.diff(np.log(closes)))
    return tuple(days)


@exact
def bootstrap_path(start: Decimal, tick: Decimal, horizon: int, block: int, seed: int, index: int) -> list[Decimal]:
    """Path ``index`` of ``seed`` (module docstring): ``horizon + 1`` prices from ``start``."""
    days = crash_returns()
    rng = np.random.default_rng((seed, index))
    out: list[float] = []
    while len(out) < horizon:
        day = days[int(rng.integers(len(days)))]
        first = int(rng.integers(0, day.shape[0] - block + 1))
        out.extend(day[first:first + block].tolist())
    cumulative = np.cumsum(np.asarray(out[:horizon]))
    prices = [start]
    for c in cumulative.tolist():
        prices.append(max(round_down(start * Decimal(repr(math.exp(c))), tick), tick))
    return prices


@dataclass(frozen=True, slots=True)
class PathOutcome:
    index: int
    fund_needed: Decimal
    deficits: Decimal
    liquidated_notional: Decimal
    lowest_price: Decimal


def var_es(values: Sequence[Decimal], q: Decimal) -> tuple[Decimal, Decimal, bool]:
    """(VaR, ES, resolved) of ``values`` at confidence ``q`` (module docstring)."""
    if not values:
        raise InvalidInput("no values to take a quantile of")
    ordered = sorted(values)
    n = len(ordered)
    k = max(math.ceil(q * n), 1)  # the k-th smallest, 1-based
    var = ordered[k - 1]
    tail = ordered[k - 1:]
    return var, sum(tail, ZERO) / len(tail), n - k + 1 >= 10


@dataclass(frozen=True, slots=True)
class MonteCarloResult:
    fund: Decimal
    paths: tuple[PathOutcome, ...]
    bands: tuple[tuple[Decimal, ...], ...]
    """Per further seed: the VaR at each of ``CONFIDENCES``."""
    horizon: int
    block: int
    seed: int

    def summary(self) -> dict[str, object]:
        needs = [p.fund_needed for p in self.paths]
        exhausted = sum(n > self.fund for n in needs)
        rows = []
        for i, q in enumerate(CONFIDENCES):
            var, es, resolved = var_es(needs, q)
            band = [b[i] for b in self.bands]
            rows.append({"confidence": q, "fund_needed_var": var, "fund_needed_es": es, "resolved": resolved,
                         "var_band_low": min([var, *band]), "var_band_high": max([var, *band])})
        return {"paths": len(self.paths), "horizon_minutes": self.horizon, "block_minutes": self.block,
                "seed": self.seed, "seed_bands": len(self.bands),
                "fund_exhausted_probability": Decimal(exhausted) / len(needs),
                "fund_needed_mean": sum(needs, ZERO) / len(needs), "quantiles": rows}


def path_outcome(book: SyntheticBook, horizon: int, block: int, seed: int, index: int, engine: EngineName,
                 params: CascadeParams | None) -> PathOutcome:
    """Path ``index`` of ``seed`` through the cascade: what one Monte Carlo path gives."""
    path = bootstrap_path(book.start_price, book.tick, horizon, block, seed, index)
    result = run_cascade(book, path, engine, params)
    return PathOutcome(index, fund_needed(result), sum((q.deficit_quote for q in result.liquidations), ZERO),
                       sum((q.notional_quote for q in result.liquidations), ZERO), min(path))


def _local(book: SyntheticBook, jobs: Sequence[tuple[int, int]], horizon: int, block: int, engine: EngineName,
           params: CascadeParams | None) -> list[PathOutcome]:
    return [path_outcome(book, horizon, block, seed, i, engine, params) for seed, i in jobs]


@exact
def monte_carlo(book: SyntheticBook, paths: int = 200, horizon: int = 60, block: int = 30, seed: int = 1,
                bands: int = 0, engine: EngineName = "fast", params: CascadeParams | None = None,
                ray: str | None = None) -> MonteCarloResult:
    """``paths`` bootstrap paths of ``horizon`` minutes through the cascade (module docstring),
    and ``bands`` further seeds (``seed + 1`` …) for the VaR's seed bands. ``ray``: run the
    paths as tasks on a Ray cluster (``local`` starts one in this machine, anything else is the
    address of a running one; ``stress/ray_fanout.py``); the result is the same, bit for bit."""
    if not 1 <= paths <= MAX_PATHS:
        raise InvalidInput(f"paths must lie in [1, {MAX_PATHS:,}], got {paths}")
    if not 1 <= horizon <= MAX_HORIZON:
        raise InvalidInput(f"the horizon must lie in [1, {MAX_HORIZON}] minutes, got {horizon}")
    if not 1 <= block <= min(horizon, 240):
        raise InvalidInput(f"the block must lie in [1, min(horizon, 240)] minutes, got {block}")
    if not 0 <= bands <= 20 or seed < 0:
        raise InvalidInput("need 0 <= bands <= 20 and seed >= 0")
    jobs = [(seed + b, i) for b in range(bands + 1) for i in range(paths)]  # the main seed, then each band's
    if ray is None:
        outcomes = _local(book, jobs, horizon, block, engine, params)
    else:
        from solvent.stress.ray_fanout import run_paths

        outcomes = run_paths(ray, book, jobs, horizon, block, engine, params)
    band_vars = [tuple(var_es([p.fund_needed for p in outcomes[b * paths:(b + 1) * paths]], q)[0]
                       for q in CONFIDENCES) for b in range(1, bands + 1)]
    outcomes = outcomes[:paths]
    return MonteCarloResult(book.money(book.insurance_units), tuple(outcomes), tuple(band_vars), horizon, block, seed)
