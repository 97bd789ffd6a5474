"""The inverse fast screen (float64 + exact confirmation) against an independent recomputation.

Books are put on their thresholds: each account's deposit is its MM less its PnL at the
mark, as a fraction rounded to a money unit, then moved by −2..+2 units, so most rows sit
within a few 10^-8 coin of equity = MM, where a float screen alone would be wrong. The
reference below recomputes every decision with Python's ``decimal`` module in the engine's
documented arithmetic (40 significant digits, half to even: ``units.WORKING_PRECISION``),
from the formulas of ``engine/contract_value.py`` and the venue's published tier table, not
with solvent's code.
"""

from __future__ import annotations

import decimal
from decimal import Decimal as D
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.risk.rules import MMBasis
from solvent.risk.venues import LiquidationTrigger, load_venue
from solvent.stress import BookParams, SyntheticBook
from solvent.stress.cascade_fast_inverse import InverseFastVenue

CTX = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN)
VENUES = {"binance-coinm": ("BTCUSD_PERP", D("0.1")), "bybit-inverse": ("BTCUSD", D("0.5"))}


def _tier(venue: str, symbol: str, notional: Fraction | D) -> tuple[D, D]:
    """(rate, amount) of the last tier whose floor ≤ the coin notional."""
    profile = load_venue(venue)
    tiers = profile.rules_for(symbol).maintenance_table(D(1)).tiers
    chosen = [t for t in tiers if Fraction(t.floor_notional) <= Fraction(notional)][-1]
    return chosen.maint_margin_rate, chosen.maint_amount


def _cost_units(venue: str, lots: int, entry_ticks: int) -> int:
    """A fill's coin value −qty × cs / entry, to 40 digits, then half to even to 10^-8."""
    symbol, tick = VENUES[venue]
    cs = load_venue(venue).instrument(symbol).contract_size
    value = CTX.divide(-D(lots) * cs, D(entry_ticks) * tick)
    return int(value.quantize(D("1E-8"), rounding=decimal.ROUND_HALF_EVEN, context=CTX).scaleb(8))


def _reference_due(venue: str, lots: int, cost_units: int, deposit_units: int, mark_ticks: int) -> bool:
    symbol, tick = VENUES[venue]
    profile = load_venue(venue)
    cs = profile.instrument(symbol).contract_size
    mark = D(mark_ticks) * tick
    cost = D(cost_units).scaleb(-8)
    equity = D(deposit_units).scaleb(-8)
    if lots:
        equity = CTX.add(equity, CTX.subtract(CTX.divide(-D(lots) * cs, mark), cost))
    if lots == 0:
        return equity < 0
    n = abs(cost) if profile.mm_basis is MMBasis.ENTRY else CTX.divide(abs(D(lots) * cs), mark)
    rate, amount = _tier(venue, symbol, n)
    mm = CTX.subtract(CTX.multiply(n, rate), amount)
    if equity < 0 or (equity == 0 and mm > 0):
        return True
    if mm <= 0:
        return False
    return equity < mm if profile.liquidation_trigger is LiquidationTrigger.BELOW else equity <= mm


def _boundary_deposit(venue: str, lots: int, cost_units: int, mark_ticks: int, offset: int) -> int:
    """MM − PnL at the mark as an exact fraction, rounded to a unit, moved by ``offset``."""
    symbol, tick = VENUES[venue]
    profile = load_venue(venue)
    cs = Fraction(profile.instrument(symbol).contract_size)
    mark = Fraction(mark_ticks) * Fraction(tick)
    cost = Fraction(cost_units, 10**8)
    pnl = -lots * cs / mark - cost
    n = abs(cost) if profile.mm_basis is MMBasis.ENTRY else abs(lots) * cs / mark
    rate, amount = _tier(venue, symbol, n)
    mm = n * Fraction(rate) - Fraction(amount)
    return max(round((mm - pnl) * 10**8) + offset, 0)


rows = st.lists(st.tuples(st.integers(-20_000, 20_000), st.integers(900_000, 1_100_000), st.integers(-2, 2)),
                min_size=1, max_size=40)
TIE_MARKS = [251 * 3200, 251 * 4000]
"""Marks (in 0.1 steps) at which a Binance COIN-M long in tier 1 sits exactly on its MM as a
fraction, with a whole-unit deposit: MM − PnL = lots × 100 × 1.004 / m + cost, and with
m = 80,320.0 or 100,400.0, ``10^8 × lots × 100 × 1.004 / m`` = lots × 125,000 or lots ×
100,000 units. Only the engine's 40-digit rounding then separates equity from MM, and the
float screen cannot see it: those rows must be confirmed."""


@settings(max_examples=150, deadline=None)
@given(venue=st.sampled_from(sorted(VENUES)), rows=rows,
       mark_move=st.one_of(st.integers(-150_000, 150_000), st.sampled_from([m - 1_000_000 for m in TIE_MARKS])))
def test_the_inverse_screen_decides_as_an_exact_recomputation(venue: str, rows: list[tuple[int, int, int]],
                                                              mark_move: int) -> None:
    symbol, tick = VENUES[venue]
    mark_ticks = (1_000_000 + mark_move) // (2 if tick == D("0.5") else 1)
    lots = [r[0] for r in rows]
    entries = [r[1] // (2 if tick == D("0.5") else 1) for r in rows]
    costs = [_cost_units(venue, q, e) for q, e in zip(lots, entries, strict=True)]
    deposits = [_boundary_deposit(venue, q, c, mark_ticks, off) if q else off
                for q, c, off in zip(lots, costs, (r[2] for r in rows), strict=True)]
    profile = load_venue(venue)
    book = SyntheticBook(
        params=BookParams(accounts=len(rows), venue=venue, symbol=symbol, start_price=entries[0] * tick),
        profile=profile, table=profile.rules_for(symbol).maintenance_table(D(1)), lot=D(1), tick=tick,
        qty_lots=np.asarray(lots, dtype=np.int64), entry_ticks=np.asarray(entries, dtype=np.int64),
        cost=np.asarray(costs, dtype=np.int64), deposit_units=np.asarray(deposits, dtype=np.int64),
        leverage=np.ones(len(rows), dtype=np.int64), insurance_units=10**8,
    )
    expected = [a for a in range(len(rows)) if _reference_due(venue, lots[a], costs[a], deposits[a], mark_ticks)]
    assert InverseFastVenue(book).due(mark_ticks).tolist() == expected
