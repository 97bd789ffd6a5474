"""The fast cascade venue: every account's trigger decided at once, in exact integers.

State per account (numpy ``int64``, one position each on one instrument): ``lots`` (signed
quantity in the book's steps), ``cost`` (signed cost basis in step × price-step units),
``balance`` (10^-8 units). With the mark ``m`` in price steps, ``U`` the money units in one
step × contract size × price step, and ``D`` the smallest integer that makes every
``U × rate × D`` and ``amount × 10^8 × D`` an integer (1 on Binance, Bybit and dYdX; 2 on Hyperliquid, where
1.25 % of ``U`` = 1,000 units is 12.5 units), the screen compares, scaled by ``D``::

    equity × D = (balance + (lots × m − cost) × U) × D
    MM × D     = n × (U × rate_tier × D) − amount_tier × 10^8 × D,   tier by the notional n
    n          = |lots| × m       (MM measured at the mark: Binance, dYdX, Hyperliquid, Drift)
               = |cost|           (MM measured on entry value: Bybit, BitMEX; ``MMBasis.ENTRY``)
    due        = liquidatable_mask(equity × D, MM × D, venue)   (``risk.levels``: the venue's
                 trigger, ≤ or <, and bankruptcy; the rule of ``VenueProfile.is_liquidatable``)

The rates and amounts are the venue's own (``MarginRules.maintenance_table``): a notional
tier table shared by every position, or, for rules whose rate grows with size (Drift's size
premium), each position's own one-tier table (a position keeps its size until it is closed).
Every value is an integer, so no float is involved. A row is screened in ``int64`` only when
every product and sum of its screen stays below ``2^62`` (checked per row against bounds
computed in Python integers from the mark); the rows beyond (in a large book: the
counterparty ``mm``) are screened in Python integers, so numpy's silent wrap-around cannot
occur and no book is too large to screen.

The due accounts are then liquidated in ascending id order, exactly as the engine's generic
``liquidate_account`` does with ``policy.stress_config``, in the engine's own ``Decimal``
expressions, operation for operation (the same operations on the same values give the same
results):

* price: the shared ``SquareRootImpact`` rounded to the engine's price step
  (``EngineConfig.price_step``: the tick, or the money quantum on an instrument without one);
  no price (the order exceeds the book) → nothing happens; the account stays due;
* ``equity_exec = equity + sign × qty × cs × (P − mark)``; ``fee = min(round_up(qty × cs × P ×
  rate, 10^-8), round_down(max(equity_exec, 0), 10^-8))`` goes to the insurance fund;
* the position is closed (``engine.ledger.apply_trade``); a negative balance left is paid by
  the fund as far as it can, the rest is socialised.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from solvent.engine.config import EngineConfig
from solvent.engine.ledger import apply_trade
from solvent.engine.liquidity import SquareRootImpact
from solvent.errors import InvalidInput, InvariantViolation
from solvent.model import Side
from solvent.risk.levels import liquidatable_mask
from solvent.risk.rules import MMBasis, size_independent
from solvent.risk.tiers import TierTable
from solvent.stress.book import MONEY_EXP, SyntheticBook
from solvent.stress.entrants import Opening
from solvent.stress.policy import FULL_CLOSE_BUFFER, LiquidationMode, stress_config
from solvent.stress.result import BackstopHolding, Liquidation, RoundOutcome, VoluntaryClose
from solvent.units import ONE, ZERO, exact, round_down, round_up

__all__ = ["FastVenue"]

_LIMIT = 2**60
"""Bound on each term of a row's int64 screen (three terms of the equity sum stay below 2^62)."""


def _integer(value: Decimal, what: str) -> int:
    if value != value.to_integral_value():
        raise InvalidInput(f"fast cascade needs {what} to be an integer number of units, got {value}")
    return int(value)


def _modelled(config: EngineConfig) -> None:
    """Refuse a configuration whose procedure this loop does not reproduce (module docstring)."""
    policy = config.liquidation
    if (policy is None or policy.venue_rules or policy.adl or policy.backstop_account is not None
            or policy.target_buffer < FULL_CLOSE_BUFFER or policy.exit_buffer != 0 or policy.chunk_fraction is not None
            or policy.cooldown_ms != 0 or config.volatility_rule is not None
            or config.money_quantum != Decimal(1).scaleb(-MONEY_EXP)):
        raise InvalidInput("the fast cascade models the generic full-close procedure of stress_config only")


class _Tiers:
    """MM × D of a notional in step × price-step units: one table, in integers."""

    def __init__(self, table: TierTable, unit: int, scale: int, notional_unit: Decimal) -> None:
        self.floor = [math.ceil(Fraction(t.floor_notional) / Fraction(notional_unit)) for t in table.tiers]
        self.rate = [_scaled(Fraction(t.maint_margin_rate) * unit, scale) for t in table.tiers]
        self.amount = [_scaled(Fraction(t.maint_amount) * 10**MONEY_EXP, scale) for t in table.tiers]
        if max(max(self.rate), max(self.amount)) > _LIMIT:
            raise InvalidInput("the fast cascade's integer screen cannot hold this instrument's maintenance tiers at "
                               "the book's price step (a rate or amount past 2^60 units); run it with --engine exact")
        self.floor_np = np.asarray(self.floor, dtype=object if max(self.floor) > _LIMIT else np.int64)
        self.rate_np = np.asarray(self.rate, dtype=np.int64)
        self.amount_np = np.asarray(self.amount, dtype=np.int64)

    def mm(self, notional: int) -> int:
        tier = max(bisect_right(self.floor, notional) - 1, 0)
        return notional * self.rate[tier] - self.amount[tier]

    def mm_np(self, notional: NDArray[np.int64]) -> NDArray[np.int64]:
        tier = np.maximum(np.searchsorted(self.floor_np, notional, side="right") - 1, 0)
        out: NDArray[np.int64] = notional * self.rate_np[tier] - self.amount_np[tier]
        return out


def _scaled(value: Fraction, scale: int) -> int:
    out = value * scale
    if out.denominator != 1:
        raise InvalidInput(f"fast cascade: {value} × {scale} is not an integer")
    return out.numerator


class FastVenue:
    """The book as integer columns (module docstring)."""

    name = "fast"
    procedure: LiquidationMode = "generic"
    entry_tier: NDArray[np.int64]
    """Each row's tier by its entry value (``MMBasis.ENTRY`` under a shared table only)."""

    def __init__(self, book: SyntheticBook, entrant_rows: int = 0) -> None:
        config = stress_config(book)
        _modelled(config)
        policy = config.liquidation
        assert policy is not None
        self.book = book
        self.symbol = book.symbol
        inst = book.instrument
        self.contract_size = inst.contract_size
        self.exec_tick = config.price_step(book.symbol) if policy.revision >= 2 else inst.tick_size
        """The engine rounds a liquidation price to the instrument's price step (the money
        quantum on an instrument without a tick), as ``engine/liquidation.py`` does."""
        self.quantum = config.money_quantum
        self.fee_rate = policy.fee_rate if policy.fee_rate is not None else book.profile.liquidation_fee_rate
        self.entry_basis = book.profile.mm_basis is MMBasis.ENTRY
        self.lots = book.qty_lots.copy()
        self.cost = book.cost.copy()
        self.balance = book.deposit_units.copy()
        self.fund = book.money(book.insurance_units)
        self._events = 0
        self._build_mm(book)
        if entrant_rows:
            self._reserve(entrant_rows)

    def _reserve(self, rows: int) -> None:
        """Empty rows for the entrants (``stress/entrants.py``), after the book's."""
        if self.shared is None:
            raise InvalidInput("the fast cascade models re-leveraging under one shared tier table; MM rules that "
                               "depend on the position's size run it on the exact engine (--engine exact)")
        zeros = np.zeros(rows, dtype=np.int64)
        self.lots = np.concatenate([self.lots, zeros])
        self.cost = np.concatenate([self.cost, zeros])
        self.balance = np.concatenate([self.balance, zeros])
        if self.entry_basis:
            self.entry_tier = np.concatenate([self.entry_tier, zeros])

    def open_pairs(self, openings: Sequence[Opening]) -> None:
        """Each pair's long and short at its price, with their deposits (``entrants.Opening``):
        what the engine's deposits and fill between them leave."""
        for o in openings:
            for row, signed, deposit in ((o.long, o.lots, o.deposit_long), (o.short, -o.lots, o.deposit_short)):
                self.lots[row] = signed
                self.cost[row] = signed * o.price_ticks
                self.balance[row] = deposit
                if self.entry_basis:
                    assert self.shared is not None
                    self.entry_tier[row] = max(bisect_right(self.shared.floor, abs(signed * o.price_ticks)) - 1, 0)

    def _build_mm(self, book: SyntheticBook) -> None:
        """The shared tier table, or one table per position size (module docstring), and ``D``."""
        self.unit = _integer(book.notional_unit.scaleb(MONEY_EXP), "step × contract size × price step")
        rules = book.rules
        if size_independent(rules):
            tables = {0: book.table}
        else:
            tables = {size: rules.maintenance_table(Decimal(size) * book.lot)
                      for size in np.unique(np.abs(book.qty_lots)).tolist() if size}
            if any(len(t.tiers) != 1 for t in tables.values()):
                raise InvalidInput("fast cascade: size-dependent MM rules must give one-tier tables")
        denominators = [(Fraction(t.maint_margin_rate) * self.unit).denominator for table in tables.values()
                        for t in table.tiers]
        denominators += [Fraction(t.maint_amount).denominator for table in tables.values() for t in table.tiers]
        self.scale = math.lcm(*denominators)
        """``D``: every rate and amount times it is a whole number of money units."""
        self.tiers = {k: _Tiers(t, self.unit, self.scale, book.notional_unit) for k, t in tables.items()}
        self.shared = self.tiers.get(0)
        if self.shared is None:  # each position's own rate and amount (one tier)
            sizes = np.abs(book.qty_lots)
            self.acc_rate = np.zeros(book.size, dtype=np.int64)
            self.acc_amount = np.zeros(book.size, dtype=np.int64)
            for size, tiers in self.tiers.items():
                rows = sizes == size
                self.acc_rate[rows], self.acc_amount[rows] = tiers.rate[0], tiers.amount[0]
        largest = max(max(t.rate) for t in self.tiers.values())
        self.rate_max = max(largest, 1)
        if self.entry_basis and self.shared is not None:
            self.entry_tier = np.maximum(np.searchsorted(self.shared.floor_np, np.abs(self.cost), side="right") - 1, 0)

    def insurance_fund(self) -> Decimal:
        return self.fund

    def events(self) -> int:
        return self._events

    def long_open_interest(self) -> Decimal:
        lots = self.lots
        return Decimal(int(np.sum(lots[lots > 0], dtype=object))) * self.book.lot

    def backstop(self) -> BackstopHolding | None:
        return None  # the generic procedure: no backstop

    def start_step(self, now_ms: int) -> None:
        del now_ms  # no funding or expiry in the fast model (the exact one has none in an hour either)

    # -- the screen --------------------------------------------------------------------------

    def _small(self, mark_ticks: int) -> NDArray[np.bool_]:
        """Rows whose int64 screen cannot overflow at ``mark_ticks`` (module docstring)."""
        ud = self.unit * self.scale
        coef = max(ud, self.rate_max)
        lots_limit = _LIMIT // (mark_ticks * coef)
        cost_limit = _LIMIT // (max(ud, self.rate_max) if self.entry_basis else ud)
        balance_limit = _LIMIT // self.scale
        out: NDArray[np.bool_] = ((np.abs(self.lots) <= lots_limit) & (np.abs(self.cost) <= cost_limit)
                                  & (np.abs(self.balance) <= balance_limit))
        return out

    def _mm_np(self, mark_ticks: int) -> NDArray[np.int64]:
        notional = np.abs(self.cost) if self.entry_basis else np.abs(self.lots) * mark_ticks
        if self.shared is None:
            per_account: NDArray[np.int64] = notional * self.acc_rate - self.acc_amount
            return np.where(self.lots != 0, per_account, 0)
        if self.entry_basis:
            tier = self.entry_tier
            entry: NDArray[np.int64] = notional * self.shared.rate_np[tier] - self.shared.amount_np[tier]
            return np.where(self.lots != 0, entry, 0)
        return np.where(self.lots != 0, self.shared.mm_np(notional), 0)

    def _mm_exact(self, a: int, mark_ticks: int) -> int:
        lots = int(self.lots[a])
        if lots == 0:
            return 0
        notional = abs(int(self.cost[a])) if self.entry_basis else abs(lots) * mark_ticks
        if self.shared is None:
            return notional * int(self.acc_rate[a]) - int(self.acc_amount[a])
        return self.shared.mm(notional)

    def due(self, mark_ticks: int) -> NDArray[np.int64]:
        """Accounts at the venue's trigger at ``mark_ticks``, ascending."""
        if mark_ticks < 1:
            raise InvalidInput(f"the mark must be at least one price step, got {mark_ticks}")
        small = self._small(mark_ticks)
        equity = (self.balance + (self.lots * mark_ticks - self.cost) * self.unit) * self.scale
        due = liquidatable_mask(equity, self._mm_np(mark_ticks), self.book.profile)
        big = np.flatnonzero(~small).tolist()
        if big:  # beyond the int64 bounds: the same decision in Python integers
            eq = np.asarray([(int(self.balance[a]) + (int(self.lots[a]) * mark_ticks - int(self.cost[a])) * self.unit)
                             * self.scale for a in big], dtype=object)
            mm = np.asarray([self._mm_exact(a, mark_ticks) for a in big], dtype=object)
            due[big] = liquidatable_mask(eq, mm, self.book.profile)
        return np.flatnonzero(due).astype(np.int64)

    # -- traders' responses (``stress/response.py``) -------------------------------------------

    def alerted(self, mark: Decimal, line: NDArray[np.int64]) -> NDArray[np.int64]:
        """Rows holding a position with equity at ``mark`` at or below ``line`` (10^-8 units),
        and not at the venue's trigger there (``due``: a row the venue could not liquidate, its
        order beyond the book, stays the venue's)."""
        mark_ticks = _integer(mark / self.book.tick, "the mark in price steps")
        small = self._small(mark_ticks)
        equity = self.balance + (self.lots * mark_ticks - self.cost) * self.unit
        hit = (self.lots != 0) & (equity <= line) & small
        for a in np.flatnonzero(~small).tolist():  # beyond the int64 bounds: in Python integers
            lots = int(self.lots[a])
            units = int(self.balance[a]) + (lots * mark_ticks - int(self.cost[a])) * self.unit
            hit[a] = lots != 0 and units <= int(line[a])
        hit[self.due(mark_ticks)] = False
        return np.flatnonzero(hit).astype(np.int64)

    def close_positions(self, step: int, rows: NDArray[np.int64], mark: Decimal) -> list[VoluntaryClose]:
        """Each row's whole position closed at ``mark``: its balance takes the PnL, exactly the
        engine's ``apply_trade`` of a full close at a price on the book's grid."""
        mark_ticks = _integer(mark / self.book.tick, "the mark in price steps")
        out = []
        for a in rows.tolist():
            lots = int(self.lots[a])
            if lots == 0:
                raise InvalidInput(f"fast cascade: row {a} has no position to close")
            balance = int(self.balance[a]) + (lots * mark_ticks - int(self.cost[a])) * self.unit
            if balance < 0:  # above its trigger at the mark, a trader's equity is positive
                raise InvariantViolation(f"fast cascade: row {a} closed at {mark} with a balance below zero")
            self.balance[a] = balance
            self.lots[a] = 0
            self.cost[a] = 0
            qty = self.book.lot * abs(lots)
            out.append(VoluntaryClose(step, a, 1 if lots > 0 else -1, qty, mark, self.book.quote_value(qty, mark)))
        return out

    # -- the liquidations ----------------------------------------------------------------------

    @exact
    def run_round(self, step: int, rnd: int, mark: Decimal, liquidity: SquareRootImpact) -> RoundOutcome:
        mark_ticks = _integer(mark / self.book.tick, "the mark in price steps")
        low = self.fund
        liqs: list[Liquidation] = []
        taken = {Side.SHORT: ZERO, Side.LONG: ZERO}  # the round's orders walk the book (``engine/liquidity.py``)
        for a in self.due(mark_ticks).tolist():
            liq, fund_low = self._liquidate(step, rnd, a, mark, liquidity, taken)
            low = min(low, fund_low)
            if liq is not None:
                liqs.append(liq)
        events = sum(q.events() for q in liqs)
        self._events += events
        return RoundOutcome(tuple(liqs), self.fund, low, 0, 0, events)

    @exact
    def left_at_trigger(self, mark: Decimal) -> int:
        return len(self.due(_integer(mark / self.book.tick, "the mark in price steps")))

    def _liquidate(self, step: int, rnd: int, a: int, mark: Decimal, liquidity: SquareRootImpact,
                   taken: dict[Side, Decimal]) -> tuple[Liquidation | None, Decimal]:
        """The engine's full close of account ``a`` (module docstring), in its own expressions,
        priced after what the round's earlier orders on its side took (``taken``, updated)."""
        lots = int(self.lots[a])
        if lots == 0:  # bankrupt without a position: cannot happen (a close leaves a balance >= 0)
            raise InvalidInput(f"fast cascade: account {a} is bankrupt without a position")
        qty = self.book.lot * abs(lots)
        side = Side.SHORT if lots > 0 else Side.LONG
        shown = self._shown(qty, mark)
        price = liquidity.execution_price(self.symbol, side, shown, mark, self.exec_tick, taken[side])
        if price is None:
            return None, self.fund
        taken[side] += shown
        fee, balance = self._fee_and_balance(a, qty, price, mark)
        return self._close(step, rnd, a, qty, price, fee, balance)

    def _shown(self, qty: Decimal, mark: Decimal) -> Decimal:
        """The quantity the liquidity model prices (``engine/liquidation.py``): the base."""
        del mark
        return qty

    def _fee_and_balance(self, a: int, qty: Decimal, price: Decimal, mark: Decimal) -> tuple[Decimal, Decimal]:
        """The liquidation fee (capped by the equity left at ``price``) and the balance after
        the close, before the fee (``venue_rules.close_terms``, ``ledger.apply_trade``)."""
        cs, quantum = self.contract_size, self.quantum
        lots = int(self.lots[a])
        signed = self.book.lot * lots
        cost = Decimal(int(self.cost[a])) * self.book.notional_unit  # book.cost_of, on this venue's rows
        balance = Decimal(int(self.balance[a])).scaleb(-MONEY_EXP)
        sign = ONE if lots > 0 else -ONE
        equity = balance + (signed * cs * mark - cost)
        base = qty * cs
        eq_exec = equity + sign * base * (price - mark)
        cap = round_down(max(eq_exec, ZERO), quantum)
        fee = min(round_up(base * price * self.fee_rate, quantum), cap)
        return fee, balance + apply_trade(signed, cost, -signed, price, cs, quantum, inverse=False).realised_pnl

    def _close(self, step: int, rnd: int, a: int, qty: Decimal, price: Decimal, fee: Decimal,
               balance: Decimal) -> tuple[Liquidation, Decimal]:
        """The position of ``a`` is closed, leaving ``balance``: the fee goes to the fund, then
        the fund pays what it can of a negative balance and the rest is socialised."""
        lots = int(self.lots[a])
        sign = ONE if lots > 0 else -ONE
        if fee > 0:
            balance = balance - fee
            self.fund += fee
        high = self.fund
        paid = rest = ZERO
        if balance < 0:
            deficit = -balance
            paid = min(deficit, self.fund)
            if paid > 0:
                self.fund -= paid
                balance = balance + paid
            rest = deficit - paid
            if rest > 0:
                balance = balance + rest
        self.balance[a] = int(balance.scaleb(MONEY_EXP).to_integral_value(rounding=ROUND_FLOOR))
        self.lots[a] = 0
        self.cost[a] = 0
        liq = Liquidation(step, rnd, a, int(sign), qty, price, fee, paid + rest, rest,
                          self.book.quote_value(qty, price))
        return liq, min(high, self.fund)
