"""Columnar bulk re-margining: every account's level at once, screened in float64, decided exactly.

A book of N accounts and P linear (USDT-margined) positions on M instruments. For account ``a``::

    equity_a = collateral_a + Σ_p qty_p × (mark_m − entry_p)                (quote units)
    MM_a     = Σ_p table_m.maintenance_margin(|qty_p| × mark_m)             (tier at the mark)

    level    = 4 bankrupt    if equity < 0, or equity = 0 and MM > 0
               3 liquidation if MM > 0 and equity ≤ MM (equity < MM on a strict venue)
               0 healthy     if MM ≤ 0 (an account without positions)
               2 margin call if MM ≥ margin_call_ratio × equity   (MM / equity ≥ ratio)
               1 warning     if MM ≥ warning_ratio × equity
               0 healthy     otherwise

This is ``solvent.risk.levels.level_without_history`` (the one home of the level; the trigger
is the venue profile's ``is_bankrupt`` / ``is_liquidatable``): the exact confirmation calls it,
and the float screens follow the same tree.

Worked example: collateral 100, long 1 BTC from 50,000, mark 49,950, one tier of mmr 0.05:
equity = 100 + 1 × (49,950 − 50,000) = 50, MM = 49,950 × 0.05 = 2,497.5 ≥ 50 → liquidation (3).

Exactness argument
------------------
The exact data are scaled integers and ``Decimal`` marks (see ``_columnar_layout``). The fast
path evaluates the formulas above in float64 from copies that are each within 3 ulp of the
exact value, and bounds the error of every decision quantity ``D`` (``MM``, ``equity``,
``equity − MM``, ``MM − r × equity``) of an account with ``k`` positions by::

    bound = (k + 16) × 2^-48 × max(1, r_max) × S,
    S     = |collateral| + Σ_p (5 × notional_p + |qty_p × entry_p| + |maint_amount_p|)

Per position the float pnl is within ~9u·(notional + |qty × entry|) and the float MM within
~20u·notional + 2u·amount (u = 2^-53), *including a wrong tier*: MM is continuous and
piecewise linear with slopes (rates) in (0, 1], so evaluating the line of a tier whose
float interval holds the float notional, while the exact notional (within ~6u·notional of
it) lies in a neighbour, errs by at most twice that distance. Recursive summation of k
terms adds k·u·Σ|terms|, and ``r × equity`` one more rounding. The total stays below
(k + 30)·u·S·max(1, r), under a sixteenth of ``bound``. So wherever ``|D_f| > bound`` the
sign of the exact ``D`` equals the sign of ``D_f``, and the screened level is the exact
level. Where ``|D_f| ≤ bound`` (or the float result is not finite) the account is
*ambiguous* and decided from the exact data in ``Decimal`` arithmetic that raises rather than
rounds. The points where the venue's trigger matters (equity = MM, equity = 0) have
``D = 0`` and are therefore always ambiguous: the screens need no trigger parameter.
Hence every level equals the exact Decimal decision; the tests check this, for every bundled
venue, against an independent exact loop on books built to sit exactly on every threshold.

Incremental updates never accumulate float error: ``update_mark`` recomputes the touched
accounts' sums from the per-position data, so each tick's bound is the one above.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from solvent.engine import _columnar_exact as exact
from solvent.engine._columnar_layout import (
    MAX_EXP,
    IntColumn,
    decimals_to_scaled,
    flatten_tiers,
    int_column,
    make_layout,
    to_float,
)
from solvent.engine._columnar_numba import KERNELS
from solvent.engine._columnar_numpy import AMBIGUOUS, Screen, screen_accounts, screen_all
from solvent.errors import InvalidInput
from solvent.risk.levels import TriggerRule
from solvent.risk.tiers import TierTable
from solvent.risk.venues import load_venue
from solvent.units import require_decimals

__all__ = ["Backend", "ColumnarBook", "Level", "PassStats", "numba_available"]

Backend = Literal["auto", "numpy", "numba"]

DEFAULT_VENUE = "binance-usdm"
"""Whose liquidation trigger (equity ≤ MM) a book built without ``venue`` applies."""


class Level(IntEnum):
    """Account level codes stored in ``ColumnarBook.levels`` (int8)."""

    HEALTHY = exact.HEALTHY
    WARNING = exact.WARNING
    MARGIN_CALL = exact.MARGIN_CALL
    LIQUIDATION = exact.LIQUIDATION
    BANKRUPT = exact.BANKRUPT


@dataclass(frozen=True, slots=True)
class PassStats:
    """What the last ``remargin_full`` or ``update_mark`` did."""

    evaluated: int
    """Accounts re-decided (screened)."""
    confirmed: int
    """Of those, accounts the screen left ambiguous and the exact path decided."""


def numba_available() -> bool:
    """True when the optional numba kernels are importable (``pip install solvent[fast]``)."""
    return KERNELS is not None


def _int_input(values: object, field: str) -> IntColumn:
    arr = np.asarray(values)
    if arr.dtype == np.int64 or arr.dtype == object:
        out: IntColumn = arr.reshape(-1)
        if arr.dtype == object and not all(isinstance(v, int) and not isinstance(v, bool) for v in out):
            raise InvalidInput(f"{field} must hold integers")
        return out
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind in "iu":
        return int_column([int(v) for v in arr.reshape(-1)])
    raise InvalidInput(f"{field} must hold integers, not {arr.dtype}")


def _index_input(values: object, field: str) -> NDArray[np.int64]:
    arr = np.asarray(values)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise InvalidInput(f"{field} must hold integer indices")
    return arr.astype(np.int64).reshape(-1)


class ColumnarBook:
    """N accounts, P linear positions, M instruments; levels kept current (module docstring).

    Build with ``build`` (Decimal columns) or ``from_scaled`` (integer columns, for large books).
    ``venue`` (a ``VenueProfile``) supplies the liquidation trigger (default: ``DEFAULT_VENUE``'s);
    the warning and margin-call ratios are the book's own arguments.
    Positions are stored in account order; ``update_mark`` costs the positions of the accounts
    holding the instrument, not the book.
    """

    def __init__(
        self,
        tables: Sequence[TierTable],
        *,
        collateral_units: IntColumn,
        collateral_exp: int,
        pos_account: NDArray[np.int64],
        pos_instrument: NDArray[np.int64],
        qty_lots: IntColumn,
        qty_exp: NDArray[np.int64],
        entry_ticks: IntColumn,
        price_exp: NDArray[np.int64],
        marks: Sequence[Decimal],
        warning_ratio: Decimal,
        margin_call_ratio: Decimal,
        backend: Backend,
        venue: TriggerRule | None = None,
    ) -> None:
        n_inst = len(tables)
        require_decimals("ColumnarBook", warning_ratio=warning_ratio, margin_call_ratio=margin_call_ratio)
        if not 0 < warning_ratio <= margin_call_ratio:
            raise InvalidInput("need 0 < warning_ratio <= margin_call_ratio")
        if len(marks) != n_inst or qty_exp.shape != (n_inst,) or price_exp.shape != (n_inst,):
            raise InvalidInput("one table, mark, qty_exp and price_exp is needed per instrument")
        exps = [collateral_exp, *qty_exp.tolist(), *price_exp.tolist()]
        if any(not 0 <= e <= MAX_EXP for e in exps):
            raise InvalidInput(f"decimal exponents must lie in [0, {MAX_EXP}]")
        if not qty_lots.shape == entry_ticks.shape == pos_account.shape:
            raise InvalidInput("position columns must have equal lengths")
        for mark in marks:
            self._check_price(mark)
        if backend == "numba" and KERNELS is None:
            raise InvalidInput("backend 'numba' requested but numba is not installed")
        self.backend: Literal["numpy", "numba"] = "numba" if backend != "numpy" and KERNELS is not None else "numpy"
        n_acc = collateral_units.shape[0]
        lay = make_layout(pos_account, pos_instrument, n_acc, n_inst)
        self._tables = tuple(tables)
        self._layout = lay
        self._qty_lots = qty_lots[lay.order]
        self._entry_ticks = entry_ticks[lay.order]
        if self._entry_ticks.size and not bool(np.all(self._entry_ticks > 0)):
            raise InvalidInput("entry prices must be > 0")
        self._qty_exp = qty_exp
        self._price_exp = price_exp
        self._collateral_units = collateral_units
        self._collateral_exp = collateral_exp
        self._marks = list(marks)
        self._warning = warning_ratio
        self._margin_call = margin_call_ratio
        self.venue: TriggerRule = venue if venue is not None else load_venue(DEFAULT_VENUE)
        inst = lay.instrument
        self._screen = Screen(
            ptr=lay.ptr,
            count=lay.count,
            count_f=lay.count.astype(np.float64),
            instrument=inst,
            qty_f=to_float(self._qty_lots, qty_exp[inst]),
            entry_f=to_float(self._entry_ticks, price_exp[inst]),
            tier=np.zeros(inst.shape[0], dtype=np.int8),
            collateral_f=to_float(collateral_units, np.full(n_acc, collateral_exp, dtype=np.int64)),
            mark_f=np.asarray([float(m) for m in self._marks], dtype=np.float64).reshape(n_inst),
            tiers=flatten_tiers(tables),
            nonempty_starts=lay.nonempty_starts,
            nonempty=lay.nonempty,
            warning_f=float(warning_ratio),
            margin_call_f=float(margin_call_ratio),
            ratio_factor=max(1.0, float(warning_ratio), float(margin_call_ratio)),
        )
        self._amb_buf = np.empty(0, dtype=np.int64)
        self._levels = np.zeros(n_acc, dtype=np.int8)
        self.last_pass = PassStats(0, 0)
        self.remargin_full()

    # ---------------------------------------------------------------- constructors
    @classmethod
    def build(
        cls,
        tables: Sequence[TierTable],
        collateral: Sequence[Decimal],
        pos_account: Sequence[int] | NDArray[np.integer],
        pos_instrument: Sequence[int] | NDArray[np.integer],
        pos_qty: Sequence[Decimal],
        pos_entry: Sequence[Decimal],
        marks: Sequence[Decimal],
        *,
        warning_ratio: Decimal = Decimal("0.7"),
        margin_call_ratio: Decimal = Decimal("0.8"),
        backend: Backend = "auto",
        venue: TriggerRule | None = None,
    ) -> ColumnarBook:
        """A book from exact ``Decimal`` columns (each instrument gets the smallest scales that fit)."""
        for column, name in ((collateral, "collateral"), (pos_qty, "qty"), (pos_entry, "entry")):
            for value in column:
                require_decimals("ColumnarBook.build", **{name: value})
        instruments = _index_input(pos_instrument, "pos_instrument")
        if len(pos_qty) != instruments.shape[0] or len(pos_entry) != instruments.shape[0]:
            raise InvalidInput("position columns must have equal lengths")
        if instruments.size and (int(instruments.min()) < 0 or int(instruments.max()) >= len(tables)):
            raise InvalidInput("a position refers to an instrument that does not exist")
        qty_lots, qty_exp = decimals_to_scaled(pos_qty, instruments, len(tables))
        entry_ticks, price_exp = decimals_to_scaled(pos_entry, instruments, len(tables))
        coll_units, coll_exp = decimals_to_scaled(collateral, np.zeros(len(collateral), dtype=np.int64), 1)
        return cls(
            tables, collateral_units=coll_units, collateral_exp=int(coll_exp[0]),
            pos_account=_index_input(pos_account, "pos_account"), pos_instrument=instruments,
            qty_lots=qty_lots, qty_exp=qty_exp, entry_ticks=entry_ticks, price_exp=price_exp, marks=marks,
            warning_ratio=warning_ratio, margin_call_ratio=margin_call_ratio, backend=backend, venue=venue,
        )

    @classmethod
    def from_scaled(
        cls,
        tables: Sequence[TierTable],
        *,
        collateral_units: Sequence[int] | NDArray[np.integer],
        collateral_exp: int,
        pos_account: Sequence[int] | NDArray[np.integer],
        pos_instrument: Sequence[int] | NDArray[np.integer],
        qty_lots: Sequence[int] | NDArray[np.integer],
        qty_exp: Sequence[int] | NDArray[np.integer],
        entry_ticks: Sequence[int] | NDArray[np.integer],
        price_exp: Sequence[int] | NDArray[np.integer],
        marks: Sequence[Decimal],
        warning_ratio: Decimal = Decimal("0.7"),
        margin_call_ratio: Decimal = Decimal("0.8"),
        backend: Backend = "auto",
        venue: TriggerRule | None = None,
    ) -> ColumnarBook:
        """A book from scaled integer columns: ``qty = qty_lots × 10^-qty_exp[instrument]``,
        ``entry = entry_ticks × 10^-price_exp[instrument]``, ``collateral = units × 10^-collateral_exp``."""
        return cls(
            tables, collateral_units=_int_input(collateral_units, "collateral_units"),
            collateral_exp=int(collateral_exp),
            pos_account=_index_input(pos_account, "pos_account"),
            pos_instrument=_index_input(pos_instrument, "pos_instrument"),
            qty_lots=_int_input(qty_lots, "qty_lots"), qty_exp=_index_input(qty_exp, "qty_exp"),
            entry_ticks=_int_input(entry_ticks, "entry_ticks"), price_exp=_index_input(price_exp, "price_exp"),
            marks=marks, warning_ratio=warning_ratio, margin_call_ratio=margin_call_ratio, backend=backend,
            venue=venue,
        )

    # ---------------------------------------------------------------- queries
    @property
    def levels(self) -> NDArray[np.int8]:
        """Current level of every account (read-only view; codes in ``Level``)."""
        view = self._levels.view()
        view.flags.writeable = False
        return view

    @property
    def num_accounts(self) -> int:
        return int(self._levels.shape[0])

    @property
    def num_positions(self) -> int:
        return int(self._layout.account.shape[0])

    @property
    def marks(self) -> tuple[Decimal, ...]:
        return tuple(self._marks)

    def holders(self, instrument: int) -> NDArray[np.int64]:
        """Sorted indices of the accounts holding a position on ``instrument``."""
        lay = self._layout
        return lay.holders[lay.holders_ptr[instrument]:lay.holders_ptr[instrument + 1]]

    def exact_account(self, account: int) -> tuple[Decimal, Decimal]:
        """``(equity, MM)`` of ``account`` from the exact data (the oracle; never rounded)."""
        lay = self._layout
        start, stop = int(lay.ptr[account]), int(lay.ptr[account + 1])
        insts = lay.instrument[start:stop].tolist()
        lots = self._qty_lots[start:stop].tolist()
        ticks = self._entry_ticks[start:stop].tolist()
        qty = [exact.scaled(int(u), int(self._qty_exp[m])) for u, m in zip(lots, insts, strict=True)]
        entry = [exact.scaled(int(u), int(self._price_exp[m])) for u, m in zip(ticks, insts, strict=True)]
        collateral = exact.scaled(int(self._collateral_units[account]), self._collateral_exp)
        marks = [self._marks[m] for m in insts]
        return exact.account_values(collateral, qty, entry, marks, [self._tables[m] for m in insts])

    def exact_level(self, account: int) -> Level:
        """The level of ``account`` decided from the exact data alone."""
        equity, mm = self.exact_account(account)
        return Level(exact.decide(equity, mm, self.venue, self._warning, self._margin_call))

    # ---------------------------------------------------------------- updates
    def remargin_full(self) -> NDArray[np.int8]:
        """Re-decide every account (screen all, confirm the ambiguous exactly); returns the levels."""
        sc = self._screen
        if self.backend == "numba" and KERNELS is not None:
            if self._amb_buf.shape[0] != self.num_accounts:
                self._amb_buf = np.empty(self.num_accounts, dtype=np.int64)
            levels, n_amb = KERNELS.screen_all(sc, self._amb_buf)
            ambiguous = self._amb_buf[:n_amb]
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                levels = screen_all(sc)
            ambiguous = np.flatnonzero(levels == AMBIGUOUS)
        for account in ambiguous.tolist():
            levels[account] = self.exact_level(account)
        self._levels = levels
        self.last_pass = PassStats(self.num_accounts, int(ambiguous.shape[0]))
        return self.levels

    def update_mark(self, instrument: int, price: Decimal) -> NDArray[np.int64]:
        """Set one instrument's mark; re-decide only its holders. Returns the accounts whose level changed."""
        if not 0 <= instrument < len(self._tables):
            raise InvalidInput(f"no instrument {instrument}")
        self._check_price(price)
        self._marks[instrument] = price
        self._screen.mark_f[instrument] = float(price)
        accounts = self.holders(instrument)
        if accounts.shape[0] == 0:
            self.last_pass = PassStats(0, 0)
            return accounts.copy()
        if self.backend == "numba" and KERNELS is not None:
            new = KERNELS.screen_accounts(self._screen, accounts)
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                new = screen_accounts(self._screen, accounts)
        ambiguous = np.flatnonzero(new == AMBIGUOUS)
        for k in ambiguous.tolist():
            new[k] = self.exact_level(int(accounts[k]))
        old = self._levels[accounts]
        self._levels[accounts] = new
        self.last_pass = PassStats(int(accounts.shape[0]), int(ambiguous.shape[0]))
        changed: NDArray[np.int64] = accounts[old != new]
        return changed

    @staticmethod
    def _check_price(price: Decimal) -> None:
        require_decimals("ColumnarBook", price=price)
        if price <= 0:
            raise InvalidInput(f"a mark price must be > 0, got {price}")
