"""Portfolio margin for a whole venue at once: instruments valued once per scenario, accounts as
sums of rows (issue 14, item 4).

A ``ScenarioBook`` holds the option and futures instruments on one coin and the accounts that
hold them (quantities in a compressed row layout: each account's positions in the order they
were added). On a mark or volatility move:

1. ``reprice`` values each instrument once in every scenario of the rule set's grid (``unit``:
   one unit's P&L, instruments × scenarios), not once per holder;
2. ``refresh`` adds each account's ``qty × unit`` rows and weights them (``pnl``), and keeps
   each account's worst scenario.

A fill changes one account by one row (``fill``: ``pnl[a] += Δqty × unit[i] × weight``)
until the next refresh. The loops are ``options._kernel``'s: numba when installed, else the
same loops in Python. They use the formulas the one-portfolio path (``margin.portfolio_margin``)
uses, in the same order, so after a refresh an account's worst loss is the float
``portfolio_margin`` computes for the same positions (a test checks it). ``maintenance_margin``
turns an account's worst loss into money (with its contingencies) exactly as that path does.

Needs numpy (the ``stress`` or ``fast`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

from solvent.errors import InvalidInput
from solvent.options import _kernel
from solvent.options.instruments import OptionInstrument, parse_instrument, years_to_expiry
from solvent.options.margin import Scenario, contingencies, scenario_grid, shock_params
from solvent.options.portfolio import is_future, underlying_of
from solvent.options.rules import LEG_CODE, OptionRules, ScenarioRules
from solvent.units import ZERO, exact, round_up

__all__ = ["ScenarioBook"]


@dataclass(frozen=True, slots=True)
class _Instrument:
    name: str
    option: OptionInstrument | None
    """None for a future."""


class ScenarioBook:
    """Instruments × scenarios, and accounts as sums of instrument rows (module docstring)."""

    def __init__(self, rules: OptionRules, instruments: Sequence[str], now: datetime) -> None:
        if rules.scenarios is None:
            raise InvalidInput(f"option rules {rules.name} are not scenario (portfolio) margin")
        self.rules, self.scenarios = rules, rules.scenarios
        self.grid: tuple[Scenario, ...] = scenario_grid(rules.scenarios)
        parsed = [self._instrument(name) for name in instruments]
        coins = {underlying_of(i.name) for i in parsed}
        if len(coins) != 1:
            raise InvalidInput("a scenario book holds instruments on one coin settled in one asset")
        ((self.base, self.settle),) = coins
        n = len(parsed)
        self.names = [i.name for i in parsed]
        self.index_of = {name: k for k, name in enumerate(self.names)}
        if len(self.index_of) != n:
            raise InvalidInput("a scenario book lists each instrument once")
        self.kind = np.array([_kernel.KIND_FUTURE if i.option is None else
                              _kernel.KIND_CALL if i.option.kind == "call" else _kernel.KIND_PUT for i in parsed],
                             dtype=np.int8)
        self.inverse = np.full(n, self.settle == self.base, dtype=np.bool_)
        self.strike = np.array([float(i.option.strike) if i.option else 0.0 for i in parsed], dtype=np.float64)
        self.years = np.array([years_to_expiry(i.option.expiry, now) if i.option else 0.0 for i in parsed],
                              dtype=np.float64)
        if np.any((self.kind != _kernel.KIND_FUTURE) & (self.years <= 0)):
            raise InvalidInput("a scenario book holds no expired option")
        self.options = [i.option for i in parsed]
        self.forward = np.ones(n, dtype=np.float64)
        self.vol = np.zeros(n, dtype=np.float64)
        self.index = np.ones(n, dtype=np.float64)
        self.index_exact = Decimal(1)
        self.moves = np.array([float(s.move) for s in self.grid], dtype=np.float64)
        self.legs = np.array([LEG_CODE[s.vol] for s in self.grid], dtype=np.int8)
        self.weights = np.array([float(s.weight) for s in self.grid], dtype=np.float64)
        absolute, *shock = shock_params(rules.scenarios)
        self._absolute, self._shock = absolute, np.array(shock, dtype=np.float64)
        self._look_ahead = float(rules.scenarios.look_ahead_days) / 365.0
        self.unit = np.zeros((n, len(self.grid)), dtype=np.float64)
        self.indptr = np.zeros(1, dtype=np.int64)
        self.position_instrument = np.zeros(0, dtype=np.int64)
        self.position_qty = np.zeros(0, dtype=np.float64)
        self.exact_qty: list[Decimal] = []
        """Each position's quantity as given (the contingencies are counted on it)."""
        self.account_ids: list[str] = []
        self.pnl = np.zeros((0, len(self.grid)), dtype=np.float64)
        self.worst = np.zeros(0, dtype=np.float64)
        self.worst_at = np.zeros(0, dtype=np.int64)

    @staticmethod
    def _instrument(name: str) -> _Instrument:
        return _Instrument(name, None) if is_future(name) else _Instrument(name, parse_instrument(name))

    # -- market ---------------------------------------------------------------------------

    def set_market(self, index: Decimal, forward: NDArray[np.float64], vol: NDArray[np.float64]) -> None:
        """The index, and each instrument's forward (a future's: its mark) and volatility."""
        if not index > 0 or forward.shape != self.forward.shape or vol.shape != self.vol.shape:
            raise InvalidInput("set_market needs an index > 0 and one forward and one vol per instrument")
        if not (np.all(np.isfinite(forward)) and np.all(forward > 0) and np.all(np.isfinite(vol))
                and np.all(vol >= 0)):
            raise InvalidInput("forwards must be finite and > 0, volatilities finite and >= 0")
        self.index_exact = index
        self.index[:] = float(index)
        self.forward[:] = forward
        self.vol[:] = vol

    def reprice(self) -> None:
        """Value every instrument once in every scenario (``unit``)."""
        _kernel.reprice_loop(self.kind, self.inverse, self.forward, self.strike, self.vol, self.years, self.index,
                             self.moves, self.legs, self._look_ahead, self._shock, self._absolute, self.unit)

    # -- accounts -------------------------------------------------------------------------

    def add_accounts(self, accounts: Sequence[tuple[str, Sequence[tuple[str, Decimal]]]]) -> None:
        """Accounts and their positions ``(instrument, qty)``, in order; then ``refresh``."""
        starts, instruments, quantities = [int(self.indptr[-1])], [], []
        for account_id, positions in accounts:
            self.account_ids.append(account_id)
            for name, qty in positions:
                if name not in self.index_of:
                    raise InvalidInput(f"account {account_id}: {name} is not an instrument of the book")
                instruments.append(self.index_of[name])
                quantities.append(float(qty))
                self.exact_qty.append(qty)
            starts.append(starts[-1] + len(positions))
        self.indptr = np.concatenate([self.indptr, np.array(starts[1:], dtype=np.int64)])
        self.position_instrument = np.concatenate([self.position_instrument, np.array(instruments, dtype=np.int64)])
        self.position_qty = np.concatenate([self.position_qty, np.array(quantities, dtype=np.float64)])
        n = len(self.account_ids)
        self.pnl = np.zeros((n, len(self.grid)), dtype=np.float64)
        self.worst = np.zeros(n, dtype=np.float64)
        self.worst_at = np.zeros(n, dtype=np.int64)

    def refresh(self) -> None:
        """Every account's weighted P&L per scenario and its worst, from the held quantities."""
        _kernel.account_loop(self.indptr, self.position_instrument, self.position_qty, self.unit, self.weights,
                             self.pnl, self.worst, self.worst_at)

    @exact
    def fill(self, account: int, instrument: str, qty: Decimal) -> None:
        """Account ``account`` (its row) trades ``qty`` of ``instrument``: its P&L vector moves by
        one row, ``qty × unit × weight``, until the next refresh adds it from scratch."""
        if instrument not in self.index_of:
            raise InvalidInput(f"{instrument} is not an instrument of the book")
        k = self.index_of[instrument]
        lo, hi = int(self.indptr[account]), int(self.indptr[account + 1])
        held = np.nonzero(self.position_instrument[lo:hi] == k)[0]
        if held.size == 0:
            raise InvalidInput(f"{self.account_ids[account]} holds no {instrument} (positions are opened by "
                               "add_accounts)")
        j = lo + int(held[0])
        self.exact_qty[j] += qty
        self.position_qty[j] = float(self.exact_qty[j])
        row = self.pnl[account]
        row += float(qty) * self.unit[k] * self.weights
        at = int(np.argmin(row))
        self.worst[account], self.worst_at[account] = row[at], at

    @exact
    def maintenance_margin(self, account: int) -> Decimal:
        """Account ``account``'s MM: its worst loss (0 when no scenario loses) and its
        contingencies, rounded up to the quantum as ``margin.portfolio_margin`` does."""
        s: ScenarioRules = self.scenarios
        loss = max(-float(self.worst[account]), 0.0)
        lo, hi = int(self.indptr[account]), int(self.indptr[account + 1])
        held = [(self.options[int(self.position_instrument[j])], self.exact_qty[j]) for j in range(lo, hi)]
        unit = Decimal(1) if self.settle == self.base else self.index_exact
        parts = contingencies((((o.expiry, o.strike), q) for o, q in held if o is not None),
                              (q for o, q in held if o is None), s, unit)
        return round_up(Decimal.from_float(loss) + sum((c for _, c in parts), ZERO),
                        self.rules.quantum_of(self.settle))

