"""The calibrated stress book (issue 15, item 1; docs/calibration.md).

Expected values come from the sources the calibration names, not from the generator: BitMEX's
published leverage statistics (contract-weighted mean effective leverage 22-30x, 80th
percentile 47-54x), the bundled history file read here on its own, and a three-hour history
worked by hand.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from importlib import resources

import numpy as np
import pytest

from solvent.stress import BookParams, book_calibrated, generate_book
from solvent.stress.book_calibrated import HISTORY, History
from solvent.stress.cascade_exact import ExactVenue


def _effective_leverage(accounts: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:  # type: ignore[type-arg]
    """Effective leverage of each trader at the start price, from the book's exact columns:
    notional at the start ÷ (deposit + PnL from entry to start)."""
    book = generate_book(BookParams(accounts=accounts, seed=seed))
    start = book.start_price
    lev, weight = [], []
    for i in range(book.size - 1):
        qty, entry = book.qty(i), book.entry(i)
        equity = book.money(int(book.deposit_units[i])) + qty * (start - entry)
        lev.append(float(abs(qty) * start / equity))
        weight.append(float(abs(qty)))
    return np.asarray(lev), np.asarray(weight), float(np.mean(book.qty_lots[:-1] > 0))


@pytest.mark.parametrize("seed", [7, 3])
def test_effective_leverage_has_bitmex_2019_moments(seed: int) -> None:
    """BitMEX XBTUSD, May 2018 - Apr 2019: contract-weighted month-end mean effective leverage
    29x long / 26x short and 22x / 30x; 80 % of contracts at <= 54x (long) and <= 47x (short)."""
    lev, weight, long_share = _effective_leverage(20_000, seed)
    mean = float(np.sum(lev * weight) / np.sum(weight))
    order = np.argsort(lev)
    p80 = float(lev[order][np.searchsorted(np.cumsum(weight[order]) / np.sum(weight), 0.8)])
    assert 22 <= mean <= 30 and 47 <= p80 <= 54, (mean, p80)
    assert abs(long_share - 0.6) < 0.015  # long-skewed 60/40 (funding positive)


def _history_range() -> tuple[float, float]:
    text = (resources.files("solvent") / "data" / HISTORY).read_text("utf-8")
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    last = float(rows[-1]["close"])
    return min(float(r["low"]) for r in rows) / last, max(float(r["high"]) for r in rows) / last


def test_entries_lie_on_the_month_before_the_start_and_spread_over_it() -> None:
    """Every entry is a price the scaled month reached (within one grid step), and entries are
    spread: not the hair trigger of a book opened within 0.2 % of the start."""
    book = generate_book(BookParams(accounts=5_000, seed=5))
    low, high = _history_range()
    start = float(book.start_price)
    entries = book.entry_ticks[:-1] * float(book.tick)
    assert entries.min() >= low * start - float(book.tick) and entries.max() <= high * start + float(book.tick)
    away = np.abs(entries / start - 1)
    assert np.mean(away > 0.01) > 0.3 and np.percentile(away, 95) > 0.02
    spot = generate_book(BookParams(accounts=5_000, seed=5, model="spot"))
    assert np.max(np.abs(spot.entry_ticks[:-1] * float(spot.tick) / float(spot.start_price) - 1)) <= 0.002 + 1e-6


def test_no_trader_starts_near_its_trigger() -> None:
    """The engine itself, on the built book: every trader's equity is at least 1.5 x its MM
    (within the cent the deposit is rounded to), so a scenario's first minute meets no one
    already at the trigger."""
    book = generate_book(BookParams(accounts=1_000, seed=9))
    venue = ExactVenue(book)
    ratios = []
    for aid in book.ids()[:-1]:
        m = venue.engine.margin(aid)
        ratios.append(m.equity / m.maintenance_margin)
    assert min(ratios) >= Decimal("1.49")


def test_only_survivors_of_the_month_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """A three-hour history worked by hand (prices as fractions of the start price S):
    hour 0 at 1.2, hour 1 at 0.5, hour 2 at 1.0; every trader at 10x effective leverage.

    * a long entered at 1.2 S needs a deposit of 0.1 + 0.2 = 0.3 of its notional at S, and at
      0.5 S its equity is 0.3 − 0.7 < 0: liquidated in hour 1, rejected;
    * a long entered at 0.5 S would need 0.1 − 0.5 < 0: no deposit makes it, rejected;
    * so every long enters at S (hour 2, or the fallback: a position opened at the start).
    * a short entered at 1.2 S would need 0.1 − 0.2 < 0: rejected; one entered at 0.5 S needs
      0.1 + 0.5 = 0.6 and never sees a price above S afterwards: kept. Shorts enter at 0.5 S or S.
    """
    fake = History(low=np.asarray([1.2, 0.5, 1.0]), high=np.asarray([1.2, 0.5, 1.0]),
                   close=np.asarray([1.2, 0.5, 1.0]))
    monkeypatch.setattr(book_calibrated, "load_history", lambda: fake)
    book = generate_book(BookParams(accounts=400, seed=2, entry_days=1,
                                    leverage_mix=((1.0, 10, 10),)))
    start = book.start_price
    entries = {(int(q) > 0, book.entry(i) / start) for i, q in enumerate(book.qty_lots[:-1])}
    longs = {round(r, 3) for is_long, r in entries if is_long}
    shorts = {round(r, 3) for is_long, r in entries if not is_long}
    assert longs == {Decimal(1)}
    assert shorts == {Decimal("0.5"), Decimal(1)}
    assert all(int(lv) == 10 for lv in book.leverage[:-1])


def test_the_same_parameters_give_the_same_book() -> None:
    a, b = generate_book(BookParams(accounts=3_000, seed=4)), generate_book(BookParams(accounts=3_000, seed=4))
    c = generate_book(BookParams(accounts=3_000, seed=5))
    for column in ("qty_lots", "entry_ticks", "cost", "deposit_units", "leverage"):
        assert np.array_equal(getattr(a, column), getattr(b, column)), column
    assert not np.array_equal(a.entry_ticks, c.entry_ticks)


@pytest.mark.parametrize(("field", "value", "words"), [
    ("model", "uniform", "model must be one of calibrated, spot"),
    ("entry_days", 31, "entry_days must lie in [1, 30]"),
    ("entry_age_mean_days", 0.0, "entry_age_mean_days must be > 0"),
])
def test_bad_calibration_parameters_are_refused(field: str, value: object, words: str) -> None:
    from dataclasses import replace

    from solvent.errors import InvalidInput

    with pytest.raises(InvalidInput, match=words.replace("[", r"\[").replace("]", r"\]")):
        generate_book(replace(BookParams(accounts=10), **{field: value}))
