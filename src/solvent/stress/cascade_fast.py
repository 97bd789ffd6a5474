"""The fast cascade venue: every account's trigger decided at once, in exact integers.

State per account (numpy ``int64``, one position each on one instrument): ``lots`` (signed
quantity in lots), ``cost`` (signed cost basis in lot × tick units), ``balance`` (10^-8
units). With the mark ``m`` in ticks and ``U`` the money units in one lot × tick::

    equity = balance + (lots × m − cost) × U
    MM     = |lots| × m × (U × rate_tier) − amount_tier × 10^8       (tier by |lots| × m)
    due    = liquidatable_mask(equity, MM, venue)   (``risk.levels``: the venue's trigger,
             ≤ or <, and bankruptcy; the same rule as ``VenueProfile.is_liquidatable``)

Every term is an integer (``U × rate`` and ``amount × 10^8`` are checked to be integers when
the venue is built), and the magnitudes are bound-checked against 2^62 before each screen,
so no float is involved and numpy's silent int64 wrap-around cannot occur: the screen *is*
the exact decision. The due accounts are then liquidated in ascending id order, exactly as
the engine's ``liquidate_account`` does with the stress policy, in Python integers plus the
engine's own ``Decimal`` expressions for the execution price (the shared ``SquareRootImpact``)
and the fee (``round_up(qty × price × rate, 10^-8)``):

* no price (the order exceeds the book) → nothing happens; the account stays due (the
  engine keeps it at the liquidation level) and is retried next round;
* ``equity_exec = balance + (lots × P − cost) × U``; ``fee = min(fee, max(equity_exec, 0))``
  goes to the insurance fund; the position is closed;
* a negative balance left is paid by the fund as far as it can, the rest is socialised.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

import numpy as np
from numpy.typing import NDArray

from solvent.engine.liquidity import SquareRootImpact
from solvent.errors import InvalidInput
from solvent.model import Side
from solvent.risk.levels import liquidatable_mask
from solvent.stress.book import MONEY_EXP, SyntheticBook
from solvent.stress.result import Liquidation, RoundOutcome
from solvent.units import round_up

__all__ = ["FastVenue"]

_LIMIT = 2**62


def _integer(value: Decimal, what: str) -> int:
    if value != value.to_integral_value():
        raise InvalidInput(f"fast cascade needs {what} to be an integer number of units, got {value}")
    return int(value)


class FastVenue:
    """The book as integer columns (module docstring)."""

    name = "fast"

    def __init__(self, book: SyntheticBook) -> None:
        self.book = book
        self.lots = book.qty_lots.copy()
        self.cost = book.cost_lot_ticks.copy()
        self.balance = book.deposit_units.copy()
        self.stuck = np.zeros(book.size, dtype=np.bool_)
        self.fund_units = book.insurance_units
        self.unit = _integer((book.lot * book.tick).scaleb(MONEY_EXP), "lot × tick")
        tiers = book.table.tiers
        self.floor_lt = np.asarray([_int_ceil(t.floor_notional / (book.lot * book.tick)) for t in tiers],
                                   dtype=np.int64)
        self.rate_u = np.asarray([_integer(t.maint_margin_rate * self.unit, "U × rate") for t in tiers],
                                 dtype=np.int64)
        self.amount_u = np.asarray([_integer(t.maint_amount.scaleb(MONEY_EXP), "maint amount") for t in tiers],
                                   dtype=np.int64)
        rate = book.profile.liquidation_fee_rate
        self.fee_rate = rate
        self._events = 0

    def insurance_fund(self) -> Decimal:
        return Decimal(self.fund_units).scaleb(-MONEY_EXP)

    def events(self) -> int:
        return self._events

    def start_step(self, now_ms: int) -> None:
        del now_ms  # no funding or expiry in the fast model (the exact one has none in an hour either)

    def due(self, mark_ticks: int) -> NDArray[np.int64]:
        """Accounts at the trigger at ``mark_ticks`` (or stuck), ascending."""
        lots, m = self.lots, mark_ticks
        self._check_bounds(m)
        notional = np.abs(lots) * m
        tier = np.searchsorted(self.floor_lt, notional, side="right") - 1
        mm = notional * self.rate_u[tier] - self.amount_u[tier]
        equity = self.balance + (lots * m - self.cost) * self.unit
        due = (lots != 0) & (liquidatable_mask(equity, mm, self.book.profile) | self.stuck)
        return np.flatnonzero(due).astype(np.int64)

    def _check_bounds(self, mark_ticks: int) -> None:
        """Each int64 product and sum of the screen stays below 2^63 (Python ints checked here)."""
        largest = max(self.unit, int(self.rate_u.max()))
        terms = (int(np.max(np.abs(self.lots))) * mark_ticks * largest, int(np.max(np.abs(self.cost))) * self.unit,
                 4 * int(np.max(np.abs(self.balance))), int(np.max(self.amount_u)))
        if any(t >= _LIMIT for t in terms):
            raise InvalidInput("book too large for the int64 screen")

    def run_round(self, step: int, rnd: int, mark: Decimal, liquidity: SquareRootImpact) -> RoundOutcome:
        mark_ticks = _integer(mark / self.book.tick, "the mark in ticks")
        low = self.fund_units
        liqs: list[Liquidation] = []
        for a in self.due(mark_ticks).tolist():
            liq, fund_low = self._liquidate(step, rnd, a, mark, liquidity)
            low = min(low, fund_low)
            if liq is not None:
                liqs.append(liq)
        events = sum(q.events() for q in liqs)
        self._events += events
        return RoundOutcome(tuple(liqs), self.insurance_fund(), Decimal(low).scaleb(-MONEY_EXP), 0, 0, events)

    def _liquidate(self, step: int, rnd: int, a: int, mark: Decimal,
                   liquidity: SquareRootImpact) -> tuple[Liquidation | None, int]:
        book = self.book
        lots = int(self.lots[a])
        qty = book.lot * abs(lots)
        side = Side.SHORT if lots > 0 else Side.LONG
        price = liquidity.execution_price(book.params.symbol, side, qty, mark, book.tick)
        if price is None:
            self.stuck[a] = True
            return None, self.fund_units
        price_ticks = _integer(price / book.tick, "the execution price in ticks")
        balance = int(self.balance[a]) + (lots * price_ticks - int(self.cost[a])) * self.unit
        fee_full = _integer(round_up(qty * price * self.fee_rate, Decimal(1).scaleb(-MONEY_EXP)).scaleb(MONEY_EXP),
                            "the fee")
        fee = min(fee_full, max(balance, 0))
        balance -= fee
        self.fund_units += fee
        high = self.fund_units
        deficit = max(-balance, 0)
        paid = min(deficit, self.fund_units)
        self.fund_units -= paid
        self.balance[a] = balance + deficit
        self.lots[a] = 0
        self.cost[a] = 0
        self.stuck[a] = False
        money = Decimal(1).scaleb(-MONEY_EXP)
        liq = Liquidation(step, rnd, a, 1 if lots > 0 else -1, qty, price, fee * money, deficit * money,
                          (deficit - paid) * money)
        return liq, min(high, self.fund_units)


def _int_ceil(value: Decimal) -> int:
    """Smallest integer ≥ ``value`` (an integer notional reaches a tier iff it reaches this)."""
    return int(value.to_integral_value(rounding=ROUND_CEILING))
