"""The calibrated book: positions opened over the month before the scenario, and only the
ones that month did not liquidate (``BookParams.model = "calibrated"``; docs/calibration.md).

Each trader keeps the side and notional ``generate_book`` drew. Then:

* **leverage** is the position's *effective* leverage when the scenario starts (notional at
  the start price ÷ equity there), drawn from ``leverage_mix`` and capped at the tier maximum
  for the notional at the start price: the statistic BitMEX published for its open positions
  (month-end, effective leverage = |mark value| / (mark value − bankruptcy value)), which is
  what a book at a given moment holds;
* **entry**: an hour ``age`` hours before the start, ``age`` exponential with mean
  ``entry_age_mean_days`` cut at ``entry_days`` (older positions are fewer: many were closed),
  on the bundled history (``HISTORY``, a real calm month of Binance BTCUSDT, hour by hour,
  scaled so that its last close is the start price); the entry price is uniform between that
  hour's low and high, on the book's grid;
* **deposit**: what makes the equity at the start price ``notional / leverage`` (the deposit
  plus the PnL from entry to start), rounded up to a cent (or to 10^-8 of a coin);
* **survivors only**: a draw is kept when (a) the deposit covers the initial margin at the
  entry (notional at entry ÷ the tier's maximum leverage there), (b) the account stayed above
  its maintenance margin at every later hour (a long at the lowest low after its entry hour,
  a short at the highest high: equity − MM only grows as the price moves for the position),
  and (c) its equity at the start is at least ``1.5 ×`` its MM there (so the engine that
  builds the book never meets an account already at its trigger). A rejected draw is drawn
  again (a new hour and price) up to ``_TRIES`` times; what is still rejected opens at the
  start price itself (a position opened just now).

The checks (a)-(c) are made in float on the book's own tier table (the decision to keep a
draw is a draw, not a margin decision); every amount the book then holds is an exact integer,
and the engines decide on those.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import numpy as np
from numpy.typing import NDArray

from solvent.csv_table import bundled_rows
from solvent.risk.rules import MarginRules, MMBasis
from solvent.risk.tiers import TierTable

__all__ = ["HISTORY", "Calibrated", "History", "draw_calibrated", "load_history"]

HISTORY = "btcusdt-1h-2025-05-25_06-24.csv"
"""Binance USD-M BTCUSDT perpetual, 2025-05-25 to 06-24, in hours (``solvent/data``; its first line is its source)."""
_TRIES = 20
_START_BUFFER = 1.5
_HOURS_PER_DAY = 24


@dataclass(frozen=True, slots=True)
class History:
    """Hourly lows, highs and closes of the bundled month, as fractions of its last close."""

    low: NDArray[np.float64]
    high: NDArray[np.float64]
    close: NDArray[np.float64]

    @property
    def hours(self) -> int:
        return int(self.close.shape[0])


@cache
def load_history() -> History:
    rows = bundled_rows(HISTORY, ("low", "high", "close"))
    last = float(rows[-1]["close"])
    return History(np.asarray([float(r["low"]) for r in rows]) / last,
                   np.asarray([float(r["high"]) for r in rows]) / last,
                   np.asarray([float(r["close"]) for r in rows]) / last)


@dataclass(frozen=True, slots=True)
class Calibrated:
    """The draw, per trader: entry (grid steps), quantity (steps), leverage setting, deposit (10^-8 units)."""

    entry_ticks: NDArray[np.int64]
    lots: NDArray[np.int64]
    leverage: NDArray[np.int64]
    deposit: NDArray[np.int64]
    opened_now: int
    """Traders every drawn entry of which was rejected, opened at the start price instead."""


@dataclass(frozen=True, slots=True)
class Market:
    """What the draw needs of the instrument and the venue's rules (float, for the checks)."""

    start_ticks: int
    tick: float
    face: float
    """Base units (or USD, inverse) per step: ``lot × contract size``."""
    money_unit: int
    """Linear: 10^-8 units per step per grid step; inverse: ``coin_units`` (``K``)."""
    deposit_step: int
    """Deposits are rounded up to this many units (a cent, or one unit of a coin)."""
    inverse: bool
    table: TierTable
    rules: MarginRules
    shared_table: bool
    entry_basis: bool
    lot: Decimal


def market_of(start_ticks: int, tick: Decimal, lot: Decimal, contract_size: Decimal, money_unit: int,
              deposit_step: int, inverse: bool, table: TierTable, rules: MarginRules, shared_table: bool,
              mm_basis: MMBasis) -> Market:
    return Market(start_ticks, float(tick), float(lot * contract_size), money_unit, deposit_step, inverse, table, rules,
                  shared_table, mm_basis is MMBasis.ENTRY, lot)


def draw_calibrated(rng: np.random.Generator, long: NDArray[np.bool_], notional_quote: NDArray[np.float64],
                    leverage: NDArray[np.int64], market: Market, entry_days: int,
                    entry_age_mean_days: float) -> Calibrated:
    """The calibrated traders (module docstring) for the sides, notionals and effective
    leverages already drawn."""
    history = load_history()
    hours = min(history.hours, entry_days * _HOURS_PER_DAY)
    low, high = history.low[-hours:], history.high[-hours:]
    # the lowest low (highest high) from the hour after h to the end, and the start price itself (1.0)
    after_low = np.append(np.minimum.accumulate(low[::-1])[::-1][1:], 1.0)
    after_high = np.append(np.maximum.accumulate(high[::-1])[::-1][1:], 1.0)
    after_low, after_high = np.minimum(after_low, 1.0), np.maximum(after_high, 1.0)
    n = long.shape[0]
    sign = np.where(long, 1, -1).astype(np.int64)
    out_entry = np.full(n, market.start_ticks, dtype=np.int64)
    pending = np.arange(n)
    mean_hours = entry_age_mean_days * _HOURS_PER_DAY
    for _ in range(_TRIES):
        if pending.size == 0:
            break
        u = rng.random(pending.size)
        age = np.floor(-mean_hours * np.log1p(-u * (1.0 - math.exp(-hours / mean_hours)))).astype(np.int64)
        hour = hours - 1 - np.minimum(age, hours - 1)
        ratio = low[hour] + rng.random(pending.size) * (high[hour] - low[hour])
        entry = np.maximum(np.round(ratio * market.start_ticks), 1).astype(np.int64)
        extreme = np.where(long[pending], after_low[hour], after_high[hour]) * market.start_ticks
        ok = _keeps(market, sign[pending], notional_quote[pending], leverage[pending], entry, extreme)
        out_entry[pending[ok]] = entry[ok]
        pending = pending[~ok]
    lots = _lots(market, notional_quote, out_entry)
    lev = np.minimum(leverage, _max_leverage(market, lots, float(market.start_ticks)))
    deposit = _deposit(market, sign * lots, out_entry, lev)
    return Calibrated(out_entry, lots, lev, deposit, int(pending.size))


def _lots(market: Market, notional_quote: NDArray[np.float64], entry: NDArray[np.int64]) -> NDArray[np.int64]:
    if market.inverse:  # the notional drawn is the USD face value
        return np.maximum(1, np.round(notional_quote / market.face)).astype(np.int64)
    return np.maximum(1, np.round(notional_quote / (entry * market.face * market.tick))).astype(np.int64)


def _notional(market: Market, lots: NDArray[np.int64], price_ticks: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """Quote notional (linear) or coin notional (inverse) at a price in grid steps: what the tiers read."""
    if market.inverse:
        return np.asarray(lots * market.face / (np.asarray(price_ticks) * market.tick), dtype=np.float64)
    return np.asarray(lots * np.asarray(price_ticks) * market.face * market.tick, dtype=np.float64)


def _tiers(market: Market, lots: NDArray[np.int64], notional: NDArray[np.float64]
           ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Per row: the maintenance rate, amount (quote or coin) and maximum leverage of its tier."""
    if market.shared_table:
        tiers = market.table.tiers
        floors = np.asarray([float(t.floor_notional) for t in tiers])
        row = np.clip(np.searchsorted(floors, notional, side="right") - 1, 0, len(tiers) - 1)
        return (np.asarray([float(t.maint_margin_rate) for t in tiers])[row],
                np.asarray([float(t.maint_amount) for t in tiers])[row],
                np.asarray([float(t.max_leverage) for t in tiers])[row])
    rate, amount, cap = np.zeros(lots.shape[0]), np.zeros(lots.shape[0]), np.zeros(lots.shape[0])
    for size in np.unique(lots).tolist():  # one-tier tables that grow with the size (Drift's size premium)
        tier = market.rules.maintenance_table(Decimal(size) * market.lot).tiers[0]
        rows = lots == size
        rate[rows], amount[rows] = float(tier.maint_margin_rate), float(tier.maint_amount)
        cap[rows] = float(tier.max_leverage)
    return rate, amount, cap


def _max_leverage(market: Market, lots: NDArray[np.int64], price_ticks: float) -> NDArray[np.int64]:
    return np.maximum(np.floor(_tiers(market, lots, _notional(market, lots, price_ticks))[2]), 1).astype(np.int64)


def _pnl_units(market: Market, signed: NDArray[np.int64], entry: NDArray[np.int64],
               price_ticks: NDArray[np.float64] | float) -> NDArray[np.float64]:
    price = np.asarray(price_ticks, dtype=np.float64)
    if market.inverse:
        return np.asarray(signed * market.money_unit * (1.0 / entry - 1.0 / price), dtype=np.float64)
    return np.asarray(signed * (price - entry) * market.money_unit, dtype=np.float64)


def _mm_units(market: Market, lots: NDArray[np.int64], entry: NDArray[np.int64],
              price_ticks: NDArray[np.float64] | float) -> NDArray[np.float64]:
    basis = entry if market.entry_basis else price_ticks
    notional = _notional(market, lots, np.asarray(basis, dtype=np.float64))
    rate, amount, _ = _tiers(market, lots, notional)
    return (notional * rate - amount) * 1e8


def _deposit(market: Market, signed: NDArray[np.int64], entry: NDArray[np.int64],
             lev: NDArray[np.int64]) -> NDArray[np.int64]:
    """Units that make the equity at the start ``notional / leverage`` (rounded up to the deposit step)."""
    lots = np.abs(signed)
    start = float(market.start_ticks)
    equity = _notional(market, lots, start) * 1e8 / lev
    raw = equity - _pnl_units(market, signed, entry, start)
    step = market.deposit_step
    return (np.ceil(np.maximum(raw, 1.0) / step) * step).astype(np.int64)


def _keeps(market: Market, sign: NDArray[np.int64], notional_quote: NDArray[np.float64], leverage: NDArray[np.int64],
           entry: NDArray[np.int64], extreme_ticks: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Checks (a)-(c) of the module docstring for each row's drawn entry."""
    lots = _lots(market, notional_quote, entry)
    signed = sign * lots
    start = float(market.start_ticks)
    lev = np.minimum(leverage, _max_leverage(market, lots, start))
    equity_start = _notional(market, lots, start) * 1e8 / lev
    deposit = equity_start - _pnl_units(market, signed, entry, start)
    entry_f = entry.astype(np.float64)
    initial = _notional(market, lots, entry_f) * 1e8 / _tiers(market, lots, _notional(market, lots, entry_f))[2]
    at_extreme = deposit + _pnl_units(market, signed, entry, extreme_ticks)
    survived = at_extreme > _mm_units(market, lots, entry, extreme_ticks)
    healthy = equity_start >= _START_BUFFER * _mm_units(market, lots, entry, start)
    return np.asarray((deposit >= initial) & survived & healthy, dtype=np.bool_)
