"""The fast cascade on an inverse (coin-margined) instrument: a float screen, exact confirmation.

On an inverse contract every amount is in the coin and a position's value at the mark is a
quotient, ``−qty × cs / mark`` (``engine.contract_value``), which the engine carries at its
working precision (40 significant digits). Equity and MM are therefore not integers in any
fixed unit, so the screen of the linear venue (``cascade_fast``) does not apply. Instead,
in money units (10^-8 coin), with ``K = 10^8 × lot × cs / tick`` (``book.coin_units``) and
the mark ``m`` in price steps::

    value  = −lots × K / m
    equity = balance + (value − cost)
    MM     = n × rate_tier − amount_tier × 10^8,   tier by n
    n      = |value|   (MM at the mark: Binance COIN-M)
           = |cost|    (MM on entry value: Bybit inverse, ``MMBasis.ENTRY``)

are evaluated for every holder in ``float64``. Each result is within a few units in the last
place of the engine's exact figures; a row is decided by the float figures only when
``equity``, ``MM`` and ``equity − MM`` all lie farther from zero than ``2^-40`` of the sum
of the magnitudes involved (plus one unit), and ``n`` that far from every tier floor. Every
other row is **confirmed** in ``Decimal`` with the engine's own expressions and the venue's
trigger (``VenueProfile.is_liquidatable``, the one home of the decision), so an account
exactly at its maintenance margin is decided as the engine decides it. A flat row's equity
is its balance, an integer: it is due only when the balance is negative.

The liquidation itself is the linear one (``FastVenue``) with the inverse expressions of
``engine/liquidation.py`` and ``venue_rules.close_terms``: the order is shown to the
liquidity model as ``qty × cs / mark`` of base, the fee is ``round_up(qty × cs / P × rate)``
capped by the equity left at ``P``, and the close realises the coin PnL rounded as a fill
rounds it (``ledger.apply_trade``).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

from solvent.engine.contract_value import gain, notional, value
from solvent.engine.ledger import apply_trade
from solvent.errors import InvalidInput
from solvent.risk.rules import size_independent
from solvent.stress.book import MONEY_EXP, SyntheticBook, coin_units
from solvent.stress.cascade_fast import FastVenue
from solvent.units import ONE, ZERO, exact, round_down, round_up

__all__ = ["SCREEN_TOLERANCE", "InverseFastVenue"]

SCREEN_TOLERANCE = 2.0**-40
"""Relative band around each boundary inside which a row is confirmed exactly. A float64
figure built from four roundings is within about ``2^-51`` of the exact one; the engine's
40-digit figures are within ``10^-39``: the band is 2,000 times what the error can be."""
_UNIT = float(10**MONEY_EXP)


class InverseFastVenue(FastVenue):
    """``FastVenue`` on an inverse book (module docstring)."""

    def _build_mm(self, book: SyntheticBook) -> None:
        if not book.inverse:
            raise InvalidInput("InverseFastVenue takes an inverse book")
        if not size_independent(book.rules):
            raise InvalidInput("fast cascade: an inverse book needs MM rules that do not depend on position size")
        self.k = coin_units(book.lot * self.contract_size, book.tick)
        tiers = book.table.tiers
        self.floor_f = np.asarray([float(t.floor_notional) * _UNIT for t in tiers], dtype=np.float64)
        self.rate_f = np.asarray([float(t.maint_margin_rate) for t in tiers], dtype=np.float64)
        self.amount_f = np.asarray([float(t.maint_amount) * _UNIT for t in tiers], dtype=np.float64)
        self.confirmed = 0
        """Rows decided in ``Decimal`` so far (the rest were decided by the float screen)."""

    @exact
    def due(self, mark_ticks: int) -> NDArray[np.int64]:
        """Accounts at the venue's trigger at ``mark_ticks``, ascending (module docstring);
        confirmations run in solvent's decimal context, as the engine does."""
        if mark_ticks < 1:
            raise InvalidInput(f"the mark must be at least one price step, got {mark_ticks}")
        held = self.lots != 0
        lots = self.lots.astype(np.float64)
        cost = self.cost.astype(np.float64)
        balance = self.balance.astype(np.float64)
        val = -lots * float(self.k) / float(mark_ticks)
        equity = balance + (val - cost)
        size = np.abs(cost) if self.entry_basis else np.abs(val)
        tier = np.maximum(np.searchsorted(self.floor_f, size, side="right") - 1, 0)
        mm = np.where(held, size * self.rate_f[tier] - self.amount_f[tier], 0.0)
        band = (np.abs(balance) + np.abs(val) + np.abs(cost) + np.abs(mm)) * SCREEN_TOLERANCE + 1.0
        near = (np.abs(equity - mm) <= band) | (np.abs(equity) <= band) | (np.abs(mm) <= band)
        for floor in self.floor_f[1:].tolist():
            near |= np.abs(size - floor) <= size * SCREEN_TOLERANCE + 1.0
        near &= held
        due = np.where(held, (equity < 0) | ((mm > 0) & (equity < mm)), self.balance < 0) & ~near
        rows = np.flatnonzero(near).tolist()
        if rows:
            mark = Decimal(mark_ticks) * self.book.tick
            due[rows] = [self._exact_due(a, mark) for a in rows]
            self.confirmed += len(rows)
        return np.flatnonzero(due).astype(np.int64)

    def _exact_due(self, a: int, mark: Decimal) -> bool:
        """The engine's decision for account ``a``: its equity and MM in its own expressions
        (``margin.symbol_margin``, ``margin.position_mm``), then the venue's trigger."""
        book, cs = self.book, self.contract_size
        qty = book.lot * int(self.lots[a])
        cost = book.cost_of(a)
        equity = self._balance(a) + (value(qty * cs, mark, True) - cost)
        basis = abs(cost) if self.entry_basis else notional(abs(qty) * cs, mark, True)
        return book.profile.is_liquidatable(equity, book.table.maintenance_margin(basis))

    def _balance(self, a: int) -> Decimal:
        return Decimal(int(self.balance[a])).scaleb(-MONEY_EXP)

    def _shown(self, qty: Decimal, mark: Decimal) -> Decimal:
        """An inverse order is shown to the liquidity model as its base at the mark."""
        return qty * self.contract_size / mark

    def _fee_and_balance(self, a: int, qty: Decimal, price: Decimal, mark: Decimal) -> tuple[Decimal, Decimal]:
        cs, quantum = self.contract_size, self.quantum
        lots = int(self.lots[a])
        signed = self.book.lot * lots
        cost = self.book.cost_of(a)
        balance = self._balance(a)
        sign = ONE if lots > 0 else -ONE
        equity = balance + (value(signed * cs, mark, True) - cost)
        base = qty * cs
        eq_exec = equity + gain(sign * base, price, mark, True)
        cap = round_down(max(eq_exec, ZERO), quantum)
        fee = min(round_up(notional(base, price, True) * self.fee_rate, quantum), cap)
        return fee, balance + apply_trade(signed, cost, -signed, price, cs, quantum, inverse=True).realised_pnl
