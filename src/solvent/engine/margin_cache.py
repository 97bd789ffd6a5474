"""Incremental re-margining: each account's margin kept as per-symbol contributions.

An account's margin is ``collateral + Σ_symbol contribution`` (``engine/margin.py``). The
cache keeps each contribution and the collateral, and the engine drops exactly what a
command invalidates:

* a price move on ``symbol`` makes that symbol's contribution stale for the accounts holding
  it: each contribution remembers the mark it was computed at, and is recomputed when it is
  next read at another mark (``bump`` tells the cache some mark moved; nothing is done per
  holder on the tick itself) — only the positions on that instrument are revalued, the
  other contributions are reused;
* a command that touches an account drops that account's entries; one that says which
  symbols it touched (``Outcome.narrow``: a deposit or withdrawal, a one-way order, cancel
  or fill) drops only those symbols' parts and the collateral;
* a collateral asset's price move drops every cached collateral value.

``margin(acc)`` recomputes only what is missing; ``margin_with(acc, order)`` answers the
pre-trade question by recomputing one symbol. The test suite checks after every step of
random command sequences that the cached margin equals ``evaluate`` from scratch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from solvent.engine.margin import (
    AccountMargin,
    MarginView,
    OrderExposure,
    SymbolMargin,
    collateral_value,
    combine,
    evaluate,
    is_hedge,
    order_exposure,
    order_extra,
    order_margin_of,
    symbol_margin,
    symbols_of,
)
from solvent.engine.state import AccountState, OrderState
from solvent.model import PositionSide

__all__ = ["MarginCache"]


@dataclass(slots=True)
class _Entry:
    hedge: bool
    collateral: Decimal | None = None
    parts: dict[str, SymbolMargin] = field(default_factory=dict)
    marks: dict[str, Decimal | None] = field(default_factory=dict)
    """The mark each part was computed at."""
    symbols: list[str] | None = None
    """``symbols_of`` the account, kept until a command changes one of its symbols (``None``: unknown)."""
    total: AccountMargin | None = None
    epoch: int = -1
    """``MarginCache.epoch`` when ``total`` was last found current."""


@dataclass(slots=True)
class MarginCache:
    entries: dict[str, _Entry] = field(default_factory=dict)
    epoch: int = 0
    """Advanced whenever a mark may have moved: a total found current at this epoch is current."""

    def bump(self) -> None:
        """Some mark moved: every entry re-checks its parts' marks when next read."""
        self.epoch += 1

    def drop_account(self, account_id: str) -> None:
        self.entries.pop(account_id, None)

    def drop_symbol(self, account_id: str, symbol: str) -> None:
        entry = self.entries.get(account_id)
        if entry is not None:
            entry.parts.pop(symbol, None)
            entry.marks.pop(symbol, None)
            entry.symbols = None
            entry.total = None

    def drop_parts(self, account_id: str, symbols: frozenset[str]) -> None:
        """The account's wallet and these symbols changed; its other parts stand."""
        entry = self.entries.get(account_id)
        if entry is not None:
            for symbol in symbols:
                entry.parts.pop(symbol, None)
                entry.marks.pop(symbol, None)
            if symbols:
                entry.symbols = None
            entry.collateral = None
            entry.total = None

    def drop_collateral(self) -> None:
        for entry in self.entries.values():
            entry.collateral = None
            entry.total = None

    def clear(self) -> None:
        self.entries.clear()

    def _entry(self, acc: AccountState, view: MarginView) -> _Entry:
        entry = self.entries.get(acc.account_id)
        if entry is None:
            entry = self.entries[acc.account_id] = _Entry(is_hedge(acc))
        if entry.collateral is None:
            entry.collateral = collateral_value(acc, view)
        return entry

    def margin(self, acc: AccountState, view: MarginView) -> AccountMargin:
        entry = self._entry(acc, view)
        total = entry.total
        if total is not None and entry.epoch == self.epoch:
            return total
        parts = []
        current = total is not None
        marks = view.marks
        symbols = entry.symbols
        if symbols is None:
            symbols = entry.symbols = symbols_of(acc)
        for symbol in symbols:
            part = entry.parts.get(symbol)
            mark = marks.get(symbol)
            if part is None or entry.marks.get(symbol) != mark:
                part = entry.parts[symbol] = symbol_margin(acc, symbol, view, entry.hedge)
                entry.marks[symbol] = mark
                current = False
            parts.append(part)
        entry.epoch = self.epoch
        if current and total is not None:
            return total
        assert entry.collateral is not None
        entry.total = combine(entry.collateral, parts)
        return entry.total

    def hedge(self, acc: AccountState, view: MarginView) -> bool:
        """Whether the account trades in hedge mode (cached with its entry)."""
        return self._entry(acc, view).hedge

    def margin_with(
        self, acc: AccountState, view: MarginView, order: OrderState
    ) -> tuple[AccountMargin, OrderExposure]:
        """The margin as if ``order`` were resting too, and the symbol's worst-case exposure.

        Positions do not change when an order is added, so only the symbol's order margin
        is recomputed; its equity, MM and position IM come from the cache.
        """
        current = self.margin(acc, view)
        entry = self.entries[acc.account_id]
        hedge = entry.hedge or order.position_side is not PositionSide.BOTH
        if hedge != entry.hedge:
            return evaluate(acc, view, [order]), order_exposure(acc, order.symbol, view, hedge, (order,))
        old = entry.parts.get(order.symbol, _EMPTY)
        mark = view.mark(order.symbol)
        inst = view.config.profile.instrument(order.symbol)
        cs, inverse = inst.contract_size, inst.is_inverse
        extra = order_extra(order, mark, cs, view.config.taker_fee_rate, inverse)
        exposure = order_margin_of(old.exposure.plus(order, hedge, extra), hedge, mark, cs,
                                   view.leverage(acc, order.symbol), inverse)
        delta = exposure.order_margin - old.order_margin
        return AccountMargin(
            current.collateral,
            current.equity,
            current.maintenance_margin,
            current.initial_margin + delta,
            current.order_margin + delta,
            current.isolated,
            current.notional,
        ), exposure


_EMPTY = SymbolMargin(Decimal(0), Decimal(0), Decimal(0), Decimal(0), ())
