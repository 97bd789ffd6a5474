"""Columnar re-margining benchmarks: a full pass and one instrument's mark update.

The book (fixed seed, vectorised): 1,000,000 accounts, ~2,500,000 positions (1 + Poisson(1.5)
per account) on 250 binance-usdm instruments with their real tier tables; instrument popularity
~ 1/rank^1.1; position notionals log-normal (median 2,000 USDT, up to 50M, so upper tiers are
used); account margin ratio MM/equity mostly 0.05–0.5 with 7 % in 0.6–1, 2 % liquidatable and
1 % bankrupt; 1 in 10,000 accounts pinned *exactly* on a threshold (equity = MM, equity = 0, or
equity = MM + 1e-8) so the exact confirmation is exercised and timed. Quick mode: 50,000 / 125,000.
Exact data: qty in lots (10^-qty_exp), prices in ticks (10^-price_exp), collateral in 1e-8 USDT.
"""

from __future__ import annotations

import dataclasses
import decimal
from collections.abc import Iterator
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

from solvent.bench import BenchResult, benchmark, best_of, result
from solvent.engine._columnar_exact import EXACT_CONTEXT, scaled
from solvent.engine.columnar import ColumnarBook
from solvent.risk.tiers import TierTable
from solvent.risk.venues import load_venue

__all__ = ["make_book", "remargin_bench"]

COLLATERAL_EXP = 8


def _tables(n_instruments: int) -> list[TierTable]:
    profile = load_venue("binance-usdm")
    symbols = sorted(s for s in profile.instruments if s.endswith("USDT"))[:n_instruments]
    return [profile.rules_for(s).maintenance_table(Decimal(1)) for s in symbols]


def _mm_float(tables: list[TierTable], inst: NDArray[np.int64], notional: NDArray[np.float64]) -> NDArray[np.float64]:
    mm = np.empty_like(notional)
    for m, table in enumerate(tables):
        sel = inst == m
        floors = np.array([float(t.floor_notional) for t in table.tiers])
        rates = np.array([float(t.maint_margin_rate) for t in table.tiers])
        amounts = np.array([float(t.maint_amount) for t in table.tiers])
        row = np.searchsorted(floors, notional[sel], side="right") - 1
        mm[sel] = notional[sel] * rates[row] - amounts[row]
    return mm


def _pin(book_cols: dict[str, NDArray[np.int64]], tables: list[TierTable], marks: list[Decimal],
         qty_exp: NDArray[np.int64], price_exp: NDArray[np.int64], counts: NDArray[np.int64],
         ptr: NDArray[np.int64], n_pinned: int, rng: np.random.Generator) -> int:
    """Set collateral so single-position accounts sit exactly on a threshold; returns how many."""
    singles = np.flatnonzero(counts == 1)
    pinned = 0
    for k, a in enumerate(rng.permutation(singles)[: 4 * n_pinned].tolist()):
        p = int(ptr[a])
        m = int(book_cols["inst"][p])
        qty = scaled(int(book_cols["qty"][p]), int(qty_exp[m]))
        entry = scaled(int(book_cols["entry"][p]), int(price_exp[m]))
        with decimal.localcontext(EXACT_CONTEXT):
            pnl = qty * (marks[m] - entry)
            mm = tables[m].maintenance_margin(abs(qty) * marks[m])
            equity = (mm, Decimal(0), mm + Decimal("1e-8"))[k % 3]
            units = (equity - pnl).scaleb(COLLATERAL_EXP)
        if units != units.to_integral_value():
            continue
        book_cols["coll"][a] = int(units)
        pinned += 1
        if pinned == n_pinned:
            break
    return pinned


def make_book(n_accounts: int, n_instruments: int = 250, seed: int = 7) -> tuple[ColumnarBook, int]:
    """A realistic book (module docstring) and the number of accounts pinned on a threshold."""
    rng = np.random.default_rng(seed)
    tables = _tables(n_instruments)
    log_px = rng.uniform(-3.0, 4.8, n_instruments)
    price_exp = np.clip(4 - np.floor(log_px), 0, 10).astype(np.int64)
    qty_exp = np.clip(np.floor(log_px) - 1, 0, 8).astype(np.int64)
    mark_ticks = np.round(10.0**log_px * 10.0**price_exp).astype(np.int64)
    marks = [scaled(int(t), int(e)) for t, e in zip(mark_ticks, price_exp, strict=True)]
    counts = (1 + rng.poisson(1.5, n_accounts)).astype(np.int64)
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    account = np.repeat(np.arange(n_accounts, dtype=np.int64), counts)
    n_pos = account.shape[0]
    weight = 1.0 / np.arange(1, n_instruments + 1) ** 1.1
    inst = rng.choice(n_instruments, size=n_pos, p=weight / weight.sum()).astype(np.int64)
    mark_f = mark_ticks / 10.0**price_exp
    notional = np.clip(rng.lognormal(np.log(2000.0), 1.8, n_pos), 5.0, 5e7)
    lots = np.maximum(1, np.round(notional / mark_f[inst] * 10.0**qty_exp[inst])).astype(np.int64)
    qty_lots = np.where(rng.random(n_pos) < 0.5, lots, -lots)
    entry_f = mark_f[inst] * (1.0 + rng.normal(0.0, 0.02, n_pos))
    entry_ticks = np.maximum(1, np.round(entry_f * 10.0**price_exp[inst])).astype(np.int64)
    qty_f = qty_lots / 10.0**qty_exp[inst]
    pnl = qty_f * (mark_f[inst] - entry_ticks / 10.0**price_exp[inst])
    mm_acc = np.bincount(account, _mm_float(tables, inst, np.abs(qty_f) * mark_f[inst]), n_accounts)
    pnl_acc = np.bincount(account, pnl, n_accounts)
    kind = rng.random(n_accounts)
    ratio = np.where(kind < 0.90, rng.uniform(0.05, 0.5, n_accounts),
                     np.where(kind < 0.97, rng.uniform(0.6, 1.0, n_accounts), rng.uniform(1.0, 3.0, n_accounts)))
    equity = np.where(kind < 0.99, mm_acc / ratio, -rng.uniform(0.0, 0.5, n_accounts) * mm_acc)
    coll = np.round((equity - pnl_acc) * 10.0**COLLATERAL_EXP).astype(np.int64)
    cols = {"inst": inst, "qty": qty_lots, "entry": entry_ticks, "coll": coll}
    pinned = _pin(cols, tables, marks, qty_exp, price_exp, counts, ptr, max(1, n_accounts // 10_000), rng)
    book = ColumnarBook.from_scaled(
        tables, collateral_units=coll, collateral_exp=COLLATERAL_EXP, pos_account=account, pos_instrument=inst,
        qty_lots=qty_lots, qty_exp=qty_exp, entry_ticks=entry_ticks, price_exp=price_exp, marks=marks,
    )
    return book, pinned


def _arrays(obj: object, seen: set[int]) -> Iterator[NDArray[np.generic]]:
    """Every numpy array ``obj`` keeps, through its attributes, dataclass fields, lists and tuples."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        yield obj
        return
    if isinstance(obj, list | tuple):
        values: list[object] = list(obj)
    elif dataclasses.is_dataclass(obj):
        values = [getattr(obj, f.name) for f in dataclasses.fields(obj)]
    elif hasattr(obj, "__dict__"):
        values = list(vars(obj).values())
    else:
        return
    for value in values:
        yield from _arrays(value, seen)


def memory_per_row(book: ColumnarBook) -> tuple[float, float]:
    """Bytes the book keeps per account and per position: its arrays with one row per account
    (or one more: offsets) and those with one row per position; tables and per-instrument
    arrays, a fixed cost, are left out."""
    accounts, positions = book.num_accounts, book.num_positions
    per_account = per_position = 0
    for array in _arrays(book, set()):
        rows = array.shape[0] if array.ndim else -1
        if rows in (accounts, accounts + 1):
            per_account += array.nbytes
        elif rows == positions:
            per_position += array.nbytes
    return per_account / max(accounts, 1), per_position / max(positions, 1)


def _copy_floor(book: ColumnarBook) -> float:
    """One ``np.copy`` of every array a full pass reads and writes."""
    sc = book._screen
    arrays: list[NDArray[np.generic]] = [
        sc.ptr, sc.instrument, sc.qty_f, sc.entry_f, sc.tier, sc.collateral_f, book._levels,
    ]
    return best_of(lambda: [np.copy(a) for a in arrays], 7)


def _full_pass(book: ColumnarBook, backend: str, repeat: int) -> float:
    saved = book.backend
    book.backend = "numba" if backend == "numba" else "numpy"
    try:
        book.remargin_full()  # warm-up (compiles numba kernels on first use)
        return best_of(book.remargin_full, repeat)
    finally:
        book.backend = saved


def _update_time(book: ColumnarBook, instrument: int, repeat: int) -> float:
    base = book.marks[instrument]
    prices = [base * Decimal("0.97"), base]
    state = [0]

    def tick() -> None:
        state[0] ^= 1
        book.update_mark(instrument, prices[state[0]])

    tick()
    return best_of(tick, repeat)


@benchmark("remargin")
def remargin_bench(quick: bool) -> list[BenchResult]:
    n_accounts = 50_000 if quick else 1_000_000
    book, pinned = make_book(n_accounts)
    size = f"{book.num_accounts:,} accounts / {book.num_positions:,} positions / 250 instruments"
    per_account, per_position = memory_per_row(book)
    memory = f"memory {per_account:.0f} B per account, {per_position:.0f} B per position"
    floor = _copy_floor(book)
    results = []
    backends = [book.backend] + (["numpy"] if book.backend == "numba" else [])
    full_ms = 0.0
    for backend in backends:
        ms = _full_pass(book, backend, 3 if backend == "numpy" else 7) * 1e3
        full_ms = full_ms or ms
        name = "remargin.full" if backend == backends[0] else f"remargin.full.{backend}"
        results.append(result(name, ms, "ms", "numpy copy floor", floor * 1e3,
                              f"{backend}; {size}; {book.last_pass.confirmed} confirmed exactly ({pinned} pinned); "
                              f"{memory}"))
    holders = np.bincount(book._layout.instrument, minlength=250)
    for label, m in (("remargin.instrument", int(np.argmax(holders))),
                     ("remargin.instrument.median", int(np.argsort(holders)[125]))):
        ms = _update_time(book, m, 7) * 1e3
        results.append(result(label, ms, "ms", "full pass", full_ms,
                              f"instrument {m}: {int(holders[m]):,} positions, {book.holders(m).shape[0]:,} "
                              f"accounts re-decided of {size}; {book.backend}"))
    return results
