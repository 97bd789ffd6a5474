"""``options.pm.reprice``: a mark and volatility move on a venue of option portfolios.

The book (fixed seed): 10,000 BTC option instruments (20 weekly expiries × 250 strikes ×
call and put, inverse, Deribit-named) and 100,000 accounts of five positions each under
``deribit-pm`` (35 scenarios). Timed: the index and every forward up 0.5 % and every
volatility up 5 %, until every account's worst scenario is known again
(``ScenarioBook.set_market`` + ``reprice`` + ``refresh``). Quick: 1,000 instruments and
10,000 accounts.

Floor: one bare numba pass over the same scenario arrays that adds each position's
``qty × unit row`` into its account and takes each account's minimum: the aggregation any
portfolio-margin engine must do after a move, with nothing else (without numba, the same in
numpy: ``np.add.reduceat``, ``min``). The floor does not price the instruments; the value
does. The detail gives the numpy pass's time too.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from solvent.bench import BenchResult, benchmark, best_of, result
from solvent.options import _kernel, load_option_rules
from solvent.options.scenario_book import ScenarioBook

__all__ = ["options_benchmarks"]

NOW = datetime(2026, 12, 5, 8, tzinfo=UTC)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _instruments(expiries: int, strikes: int) -> list[str]:
    names = []
    for e in range(expiries):
        day = NOW + timedelta(days=7 * (e + 1))
        stamp = f"{day.day}{_MONTHS[day.month - 1]}{day.year % 100:02d}"
        for k in range(strikes):
            strike = 50_000 + 400 * k
            names += [f"BTC-{stamp}-{strike}-C", f"BTC-{stamp}-{strike}-P"]
    return names


def _book(expiries: int, strikes: int, accounts: int) -> ScenarioBook:
    names = _instruments(expiries, strikes)
    book = ScenarioBook(load_option_rules("deribit-pm"), names, NOW)
    rng = random.Random(7)
    index = 100_000.0
    forward = np.array([index * (1 + 0.0004 * (1 + i // (2 * strikes))) for i in range(len(names))])
    vol = np.array([0.45 + 0.25 * abs(book.strike[i] / index - 1) for i in range(len(names))])
    book.set_market(Decimal(100_000), forward, vol)
    sizes = (-3, -2, -1, 1, 2, 3)
    held = [(f"a{a}", [(names[i], Decimal(rng.choice(sizes))) for i in rng.sample(range(len(names)), 5)])
            for a in range(accounts)]
    book.add_accounts(held)
    book.reprice()  # compiles the kernels (or loads them from numba's cache) outside the timed move
    book.refresh()
    return book


@benchmark("options", needs=("stress",))
def options_benchmarks(quick: bool) -> list[BenchResult]:
    expiries, strikes, accounts = (20, 25, 10_000) if quick else (20, 250, 100_000)
    book = _book(expiries, strikes, accounts)
    forward, vol = book.forward.copy(), book.vol.copy()
    timings: list[tuple[float, float]] = []
    for _ in range(5):  # the move, then back (each pass starts from the same market)
        for scale, vol_scale in ((1.005, 1.05), (1.0, 1.0)):
            book.set_market(Decimal(100_000) * Decimal(str(scale)), forward * scale, vol * vol_scale)
            start = time.perf_counter()
            book.reprice()
            mid = time.perf_counter()
            book.refresh()
            if scale != 1.0:
                timings.append((mid - start, time.perf_counter() - mid))
    reprice_s, refresh_s = min(timings, key=sum)
    instrument, qty, starts = book.position_instrument, book.position_qty, book.indptr[:-1]

    def numpy_floor() -> None:
        sums = np.add.reduceat(qty[:, None] * book.unit[instrument], starts, axis=0) * book.weights
        sums.min(axis=1)

    numpy_s = best_of(numpy_floor, 5)
    bare = _bare_pass()
    out, low = np.empty_like(book.pnl), np.empty(len(book.account_ids))
    if bare is not None:
        bare(book.indptr, instrument, qty, book.unit, book.weights, out, low)  # compiled before it is timed
        floor_s = best_of(lambda: bare(book.indptr, instrument, qty, book.unit, book.weights, out, low), 5)
    else:
        floor_s = numpy_s
    n, s = len(book.names), len(book.grid)
    label = "options.pm.reprice.quick" if quick else "options.pm.reprice"
    return [result(label, (reprice_s + refresh_s) * 1e3, "ms",
                   f"{'bare numba' if bare is not None else 'numpy'}: each position's qty × scenario row added into"
                   " its account, each account's minimum",
                   floor_s * 1e3,
                   f"{n:,} instruments × {s} scenarios repriced in {reprice_s * 1e3:.1f} ms, {len(book.account_ids):,} "
                   f"accounts ({len(qty):,} positions) summed in {refresh_s * 1e3:.1f} ms; numpy pass "
                   f"{numpy_s * 1e3:.1f} ms; "
                   f"loops {'compiled (numba)' if _kernel.COMPILED else 'in Python (no numba)'}")]


def _bare_pass() -> Callable[..., None] | None:
    """The floor's loop, compiled with numba (None without it)."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(cache=False)
    def bare(indptr: Any, instrument: Any, qty: Any, unit: Any, weights: Any, out: Any, low: Any) -> None:
        for a in range(indptr.shape[0] - 1):
            least = np.inf
            for s in range(unit.shape[1]):
                total = 0.0
                for j in range(indptr[a], indptr[a + 1]):
                    total += qty[j] * unit[instrument[j], s]
                total *= weights[s]
                out[a, s] = total
                least = min(least, total)
            low[a] = least

    return bare
