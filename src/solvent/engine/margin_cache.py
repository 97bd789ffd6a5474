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

Each symbol's resting orders are also kept added up (``OrderSums``, with the mark they were
valued at), and kept up to date order by order: every place where an order starts or stops
resting calls ``Ctx.rest_order`` / ``Ctx.unrest_order``, which tell the cache
(``order_rested`` / ``order_gone``). Re-margining a symbol after a command is then a pass over
its positions, not over its orders: a market maker with thousands of resting orders costs
the same per fill or order as an account with one. The sums are exact (``margin.OrderSums``),
so kept-up-to-date sums equal sums from scratch; a mark move revalues them from scratch
(every order's immediate loss depends on the mark).

``margin(acc)`` recomputes only what is missing; ``order_base(acc, symbol)`` gives the
pre-trade check (``orders.OrderSizing``) what it recomputes one symbol's order margin from.
The test suite checks after every step of random command sequences that the cached margin
equals ``evaluate`` from scratch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from solvent.engine.margin import (
    NO_ORDERS,
    AccountMargin,
    Exposure,
    MarginView,
    OrderSums,
    SymbolMargin,
    collateral_value,
    combine,
    exposure_from,
    exposure_of,
    is_hedge,
    order_extra,
    order_sums,
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
    recheck: frozenset[str] = frozenset()
    """Symbols a command changed since ``symbols`` was known: each is still held or not."""
    orders: dict[str, tuple[Decimal, OrderSums]] = field(default_factory=dict)
    """Per symbol: its resting orders added up, and the mark their extras were valued at."""
    total: AccountMargin | None = None
    epoch: int = -1
    """``MarginCache.epoch`` when ``total`` was last found current."""
    priced: int = 0
    """``MarginCache.prices`` when ``collateral`` was computed."""


@dataclass(slots=True)
class MarginCache:
    entries: dict[str, _Entry] = field(default_factory=dict)
    epoch: int = 0
    """Advanced whenever a mark may have moved: a total found current at this epoch is current."""
    prices: int = 0
    """Advanced whenever a collateral asset's price moved: a cached collateral value computed
    before is stale (``drop_collateral``, in O(1): each entry notices when next read)."""

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
        """The account's wallet and these symbols changed; its other parts stand (and the
        symbols' order sums, which ``order_rested``/``order_gone`` kept up to date)."""
        entry = self.entries.get(account_id)
        if entry is not None:
            for symbol in symbols:
                entry.parts.pop(symbol, None)
                entry.marks.pop(symbol, None)
            if symbols and entry.symbols is not None:
                entry.recheck |= symbols
            entry.collateral = None
            entry.total = None

    def order_rested(self, acc: AccountState, order: OrderState, view: MarginView) -> None:
        """``order`` now rests on ``acc``: its symbol's order sums take it in."""
        self._order_moved(acc, order, view, True)

    def order_gone(self, acc: AccountState, order: OrderState, view: MarginView) -> None:
        """``order`` no longer rests on ``acc`` (cancelled, filled, expired, replaced)."""
        self._order_moved(acc, order, view, False)

    def _order_moved(self, acc: AccountState, order: OrderState, view: MarginView, rests: bool) -> None:
        entry = self.entries.get(acc.account_id)
        if entry is None:
            return
        known = entry.orders.get(order.symbol)
        if known is None:
            return
        mark, sums = known
        inst = view.config.profile.instrument(order.symbol)
        extra = order_extra(order, mark, inst.contract_size, view.config.taker_fee_rate, inst.is_inverse)
        entry.orders[order.symbol] = (mark, sums.plus(order, entry.hedge, extra) if rests
                                      else sums.minus(order, entry.hedge, extra))

    def _order_sums(self, entry: _Entry, acc: AccountState, symbol: str, mark: Decimal, view: MarginView) -> OrderSums:
        """The symbol's order sums at ``mark``: kept, or added up from scratch (and kept)."""
        known = entry.orders.get(symbol)
        if known is not None:
            if known[0] == mark:
                return known[1]
            if not known[1].count:
                entry.orders[symbol] = (mark, NO_ORDERS)
                return NO_ORDERS
        inst = view.config.profile.instrument(symbol)
        sums = order_sums([o for o in acc.orders.values() if o.symbol == symbol], entry.hedge, mark,
                          inst.contract_size, view.config.taker_fee_rate, inst.is_inverse)
        entry.orders[symbol] = (mark, sums)
        return sums

    def _symbols(self, entry: _Entry, acc: AccountState) -> list[str]:
        """``symbols_of(acc)``, from what is known: only the symbols a command changed are looked at."""
        symbols = entry.symbols
        if symbols is None:
            symbols = entry.symbols = symbols_of(acc)
            entry.recheck = frozenset()
        elif entry.recheck:
            held = set(symbols)
            for symbol in entry.recheck:
                known = entry.orders.get(symbol)
                resting = known[1].count > 0 if known is not None else any(
                    o.symbol == symbol for o in acc.orders.values())
                if resting or any(p.symbol == symbol for p in acc.positions.values()):
                    held.add(symbol)
                else:
                    held.discard(symbol)
            symbols = entry.symbols = sorted(held)
            entry.recheck = frozenset()
        return symbols

    def exposure(self, acc: AccountState, symbol: str, view: MarginView, hedge: bool) -> Exposure:
        """The symbol's exposure at the current mark (``margin.exposure_of``), from the kept
        order sums when ``hedge`` is the account's own mode."""
        entry = self._entry(acc, view)
        positions = [p for p in acc.positions.values() if p.symbol == symbol]
        mark = view.mark(symbol)
        if hedge == entry.hedge:
            return exposure_from(positions, self._order_sums(entry, acc, symbol, mark, view))
        inst = view.config.profile.instrument(symbol)
        return exposure_of(positions, [o for o in acc.orders.values() if o.symbol == symbol], hedge, mark,
                           inst.contract_size, view.config.taker_fee_rate, inst.is_inverse)

    def drop_collateral(self) -> None:
        """A collateral asset's price moved: every cached collateral value is stale."""
        self.prices += 1

    def clear(self) -> None:
        self.entries.clear()

    def _entry(self, acc: AccountState, view: MarginView) -> _Entry:
        entry = self.entries.get(acc.account_id)
        if entry is None:
            entry = self.entries[acc.account_id] = _Entry(is_hedge(acc))
        if entry.collateral is None or entry.priced != self.prices:
            entry.collateral = collateral_value(acc, view)
            entry.priced = self.prices
            entry.total = None
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
        if symbols is None or entry.recheck:
            symbols = self._symbols(entry, acc)
        for symbol in symbols:
            part = entry.parts.get(symbol)
            mark = marks.get(symbol)
            if part is None or entry.marks.get(symbol) != mark:
                sums = None if mark is None else self._order_sums(entry, acc, symbol, mark, view)
                part = entry.parts[symbol] = symbol_margin(acc, symbol, view, entry.hedge, sums=sums)
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

    def order_base(
        self, acc: AccountState, view: MarginView, symbol: str, slot: PositionSide
    ) -> tuple[AccountMargin, SymbolMargin | None, bool]:
        """What the margin with one more order on ``symbol`` in ``slot`` starts from (``orders.
        OrderSizing``): the margin now, the symbol's part of it (``None`` when the slot puts the
        account in the other mode: then the whole account is margined with the order), and
        whether the account counts in hedge mode with the order. Positions do not change when an
        order is added, so with the part only the symbol's order margin is recomputed."""
        current = self.margin(acc, view)
        entry = self.entries[acc.account_id]
        hedge = entry.hedge or slot is not PositionSide.BOTH
        if hedge != entry.hedge:
            return current, None, hedge
        return current, entry.parts.get(symbol, _EMPTY), hedge


_EMPTY = SymbolMargin(Decimal(0), Decimal(0), Decimal(0), Decimal(0), ())
