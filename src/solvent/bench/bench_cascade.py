"""Cascade benchmarks: a 20 % crash in 60 one-minute steps (bundled 2025-10-10 shape).

* ``cascade.fast``: the vectorised integer model on 100,000 accounts (quick: 5,000); wall
  time, events per second, cost per liquidation. Baseline: building the book (numpy draws).
* ``cascade.fast.inverse``: the same on ``binance-coinm`` BTCUSD_PERP (a float screen with
  exact confirmation, ``stress/cascade_fast_inverse.py``). Baseline: building that book.
* ``cascade.fast_vs_exact``: the same cascade on 2,000 accounts (quick: 300) through the exact
  ``Engine`` and through the fast model, in the same run; ratio = fast / exact wall time. Both
  run the one stress policy (``stress/policy.py``: generic procedure, no backstop, no ADL), so
  the two runs' digests must agree; the comparison is reported.
* ``cascade.budget.10k_x_3600`` and ``cascade.budget.100k_x_1440`` (issue 15, acceptance
  A19): the fast cascade on the default (calibrated) book, 10,000 accounts over 3,600 minutes
  and 100,000 over 1,440, the 2025-10-10 crash shape resampled to that many minutes. The
  acceptance states a time budget on this 2-core machine (10 s and 60 s), so the ratio is to
  that budget (≤ 1 meets it), not to a floor. Quick: 10,000 accounts over 360 minutes against
  a tenth of the first budget.
* ``cascade.1m``: one million accounts, 60 minutes (acceptance A20: they run; the issue's
  "1,000,000 accounts either run or are refused when the arguments are parsed"); baseline:
  building that book. Not in quick mode.
"""

from __future__ import annotations

import time
from decimal import Decimal

from solvent.bench import BenchResult, benchmark, result
from solvent.stress import BookParams, CascadeParams, generate_book, run_cascade, scenario_path

__all__ = ["cascade_bench"]


@benchmark("cascade")
def cascade_bench(quick: bool) -> list[BenchResult]:
    big, small = (5_000, 300) if quick else (100_000, 2_000)
    start = time.perf_counter()
    book = generate_book(BookParams(accounts=big))
    build_s = time.perf_counter() - start
    path = scenario_path("crash", book.params.start_price, Decimal("0.20"), 60, book.tick)
    fast = run_cascade(book, path, "fast")
    n_liq = max(len(fast.liquidations), 1)
    out = [result("cascade.fast", fast.wall_s, "s", "book generation", build_s,
                  f"{big:,} accounts; {len(fast.liquidations):,} liquidations, {fast.events:,} events "
                  f"({fast.events / fast.wall_s:,.0f} events/s), {fast.wall_s / n_liq * 1e6:,.1f} µs/liquidation, "
                  f"{sum(s.rounds for s in fast.steps)} rounds")]
    out.append(_inverse(big))
    out += _budgets(quick)
    small_book = generate_book(BookParams(accounts=small, insurance_fraction=Decimal("0.05")))
    exact = run_cascade(small_book, path, "exact")
    quick_fast = run_cascade(small_book, path, "fast")
    same = "identical decisions" if exact.digest() == quick_fast.digest() else (
        "DIGESTS DIFFER: fast and exact disagree (a bug, see docs/stress.md)")
    per_liq_ms = exact.wall_s / max(len(exact.liquidations), 1) * 1e3
    out.append(result("cascade.fast_vs_exact", quick_fast.wall_s, "s", "exact engine, same book", exact.wall_s,
                      f"{small:,} accounts; exact {exact.wall_s:.2f} s ({exact.events:,} engine events, "
                      f"{exact.events / exact.wall_s:,.0f}/s, {per_liq_ms:.2f} ms/liquidation); "
                      f"fast {quick_fast.wall_s * 1e3:.1f} ms; {same}"))
    return out


A19_BUDGETS = ((10_000, 3_600, 10.0), (100_000, 1_440, 60.0))
"""Acceptance A19: accounts, one-minute steps, and the budget in seconds on 2 cores."""


def _budgets(quick: bool) -> list[BenchResult]:
    rows = []
    runs = ((10_000, 360, 1.0),) if quick else A19_BUDGETS
    for accounts, steps, budget in runs:
        book = generate_book(BookParams(accounts=accounts))
        path = scenario_path("crash", book.params.start_price, Decimal("0.20"), steps, book.tick)
        run = run_cascade(book, path, "fast")
        rows.append(result(f"cascade.budget.{accounts // 1000}k_x_{steps}", run.wall_s, "s",
                           "the acceptance budget (A19)", budget,
                           f"{accounts:,} accounts, {steps:,} minutes; {len(run.liquidations):,} liquidations, "
                           f"{sum(s.rounds for s in run.steps):,} rounds; ≤ 1 meets the budget"))
    if not quick:
        start = time.perf_counter()
        book = generate_book(BookParams(accounts=1_000_000))
        build_s = time.perf_counter() - start
        path = scenario_path("crash", book.params.start_price, Decimal("0.20"), 60, book.tick)
        run = run_cascade(book, path, "fast")
        rows.append(result("cascade.1m", run.wall_s, "s", "book generation", build_s,
                           f"1,000,000 accounts, 60 minutes (A20); {len(run.liquidations):,} liquidations"))
    return rows


def _inverse(accounts: int) -> BenchResult:
    from solvent.stress.cascade import make_venue, simulate
    from solvent.stress.cascade_fast_inverse import InverseFastVenue

    start = time.perf_counter()
    book = generate_book(BookParams(accounts=accounts, venue="binance-coinm"))
    build_s = time.perf_counter() - start
    path = scenario_path("crash", book.params.start_price, Decimal("0.20"), 60, book.tick)
    venue = make_venue(book, "fast")
    assert isinstance(venue, InverseFastVenue)
    run = simulate(venue, book, path, CascadeParams())
    return result("cascade.fast.inverse", run.wall_s, "s", "book generation", build_s,
                  f"{accounts:,} accounts on binance-coinm {book.symbol}; {len(run.liquidations):,} liquidations, "
                  f"{venue.confirmed:,} rows confirmed in Decimal")
