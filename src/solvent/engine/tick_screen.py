"""The price-tick screen: which accounts a mark move may change, decided without Decimal.

The engine keeps, next to its exact state, a columnar float picture of every account's
cross equity and MM (``eq``, ``mm``, with an error bound ``err``) and, per symbol, one row
per account holding a position there (signed size, the MM tier the notional is in, the row's
MM at the current mark). The picture is written from the exact margin each time the engine
evaluates an account (``refresh``: every account a command touches, every account a tick
flags), and moved by ``tick`` on a mark change, for the symbol's rows only, in one compiled
pass (``_tick_kernel``). ``tick`` returns the accounts whose level may change; the engine
decides those exactly, in Decimal, and emits the events. Everything else is untouched: no
Decimal, no object, no event for an account whose answer does not change.

The screen only chooses which accounts to evaluate; it never decides a level itself. Its
one obligation is to return every account whose exact level would change (a superset is
safe). ``tests/test_tick_screen.py`` checks that against an engine re-levelling every
holder from scratch, on random books put exactly on each threshold, for every venue.

An inverse instrument's rows live on the axis ``t = 1 / mark`` (``mark_f`` holds ``t``): a
position's value ``−size / mark`` is ``q × t`` with ``q = −size``, and its coin notional
``|size| / mark`` is ``|q| × t``, so the same linear kernel moves them.

Every part of an account the engine judges a level for has a slot in the picture: the cross
account, and each isolated position (its own equity, ``isolated margin + PnL``, and MM). A
position's row adds into its part's slot. Each slot keeps the account's level (the level
before the move, which the hysteresis reads) and the level its own part is judged at
(``judged``: ``next_level`` of the part, exactly, when it was written); a tick flags the
account when any part's judgement may differ from that. The account's level is the worst of
its parts' judgements, so while none of them changes it cannot change either. In hedge mode
an account holds two positions in one symbol: the short one's row is in a second row set of
the symbol (``hedged``), so that no row set holds two rows adding into one slot.

Accounts the float picture does not follow are flagged on every tick of their symbols and
decided exactly: a position whose MM the row's tier does not give, a symbol whose mark moved
without a tick, and accounts at liquidation or bankrupt.

A collateral asset (``EngineConfig.collateral``) has rows too (``assets``), one per holder:
its value is ``units × price`` rounded down to the money quantum (``risk/collateral.py``:
``units`` is the balance less its haircut bands, or a debt's whole balance), linear in the
index with no MM, so the same kernel moves it (``tick_asset``), each holder's error bound
first grown by the rounding (two quanta). A holder whose asset had no price when it was
written is decided exactly, and an asset the screen has no rows for sends every holder to
the exact path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from solvent.engine import _tick_kernel as kernel
from solvent.engine.config import EngineConfig
from solvent.engine.contract_value import notional as notional_of
from solvent.engine.margin import AccountMargin, MarginView, position_mm
from solvent.engine.state import AccountState, PositionState
from solvent.model import PositionSide
from solvent.risk.levels import LEVEL_ORDER, is_strict, next_level
from solvent.risk.rules import MMBasis
from solvent.units import ONE, ZERO

__all__ = ["TickScreen"]

_RANK = {level.value: rank for rank, level in enumerate(LEVEL_ORDER)}
_LEVEL = {level.value: level for level in LEVEL_ORDER}
_INF = float("inf")

PartKey = tuple[str, str, PositionSide]
"""An isolated position's part of an account: (account id, symbol, position side)."""


_Column = TypeVar("_Column", bound=NDArray[Any])


def _grow(array: _Column, size: int) -> _Column:
    """``array`` with room for ``size`` entries (doubled when full; new entries zero)."""
    if size <= array.shape[0]:
        return array
    out = np.zeros(max(size, 2 * array.shape[0], 16), dtype=array.dtype)
    out[:array.shape[0]] = array
    return cast(_Column, out)


def _axis(mark: Decimal, inverse: bool) -> float:
    """The rows' price axis: the mark, or ``1 / mark`` for an inverse instrument."""
    return float(ONE / mark) if inverse else float(mark)


@dataclass(slots=True)
class _Rows:
    """One symbol's rows: parallel arrays, ``n`` in use, ``row_of`` account id → row."""

    inverse: bool = False
    """An inverse instrument: the rows' axis is ``1 / mark`` and ``q`` is ``−qty × cs``."""
    mark: Decimal | None = None
    mark_f: float = 0.0
    """The mark on the rows' axis (``_axis``)."""
    n: int = 0
    aidx: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    q: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    rate: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    amount: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    lo: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    hi: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    mm_last: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    dirty: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    flags: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    ids: list[str] = field(default_factory=list)
    qty: list[Decimal] = field(default_factory=list)
    follows: list[bool] = field(default_factory=list)
    """Whether the row's tier gives its position's MM (``put``)."""
    row_of: dict[str, int] = field(default_factory=dict)

    def put(self, aid: str, a: int, pos: PositionState, mark: Decimal, config: EngineConfig,
            view: MarginView) -> bool:
        """Write (or rewrite) the account's row from its position at ``mark``, with the
        symbol's volatility MM scale applied to the tier (``scale × rate``, ``scale × amount``,
        products of exact decimals rounded once to float). False when the row's tier does not
        give the position's MM (a rule the screen does not know): the account must then
        always be decided exactly."""
        row = self._row(aid)
        size = abs(pos.qty)
        exact_mm = position_mm(pos, view)
        if config.profile.mm_basis is MMBasis.ENTRY:
            rate, amount, lo, hi = 0.0, -float(exact_mm), -_INF, _INF
        else:
            table = config.profile.rules_for(pos.symbol).maintenance_table(size)
            notional = notional_of(size * pos.contract_size, mark, self.inverse)
            k = table.tier_index(notional)
            tier = table.tiers[k]
            scale = view.scales.get(pos.symbol)
            if scale is None:
                rate, amount = float(tier.maint_margin_rate), float(tier.maint_amount)
            else:
                rate, amount = float(scale * tier.maint_margin_rate), float(scale * tier.maint_amount)
            lo = float(tier.floor_notional) if k > 0 else -_INF
            hi = float(table.tiers[k + 1].floor_notional) if k + 1 < len(table.tiers) else _INF
        self.aidx[row] = a
        signed = pos.qty * pos.contract_size
        q_f = self.q[row] = float(-signed if self.inverse else signed)
        self.rate[row] = rate
        self.amount[row] = amount
        self.lo[row] = lo
        self.hi[row] = hi
        self.mm_last[row] = float(exact_mm)
        self.dirty[row] = False
        self.qty[row] = pos.qty
        mm_f = float(exact_mm)
        follows = abs(abs(q_f) * _axis(mark, self.inverse) * rate - amount - mm_f) <= 1e-9 * (1.0 + abs(mm_f))
        self.follows[row] = follows
        return follows

    def put_value(self, aid: str, a: int, balance: Decimal, units: Decimal) -> None:
        """Write (or rewrite) the account's row of a collateral asset: its value is
        ``units × price`` rounded to the money quantum (``risk/collateral.py``: ``units`` is
        the balance less its haircuts, or the whole balance of a debt), linear in the price
        and with no MM (rate, amount 0, one tier without bounds)."""
        row = self._row(aid)
        self.aidx[row] = a
        self.q[row] = float(units)
        self.rate[row] = 0.0
        self.amount[row] = 0.0
        self.lo[row] = -_INF
        self.hi[row] = _INF
        self.mm_last[row] = 0.0
        self.dirty[row] = False
        self.qty[row] = balance
        self.follows[row] = True

    def _row(self, aid: str) -> int:
        """The account's row, appended (and the columns grown) if it has none."""
        row = self.row_of.get(aid)
        if row is not None:
            return row
        row = self.n
        self.n += 1
        needed = self.n
        if needed > self.aidx.shape[0]:
            self.aidx = _grow(self.aidx, needed)
            self.q = _grow(self.q, needed)
            self.rate = _grow(self.rate, needed)
            self.amount = _grow(self.amount, needed)
            self.lo = _grow(self.lo, needed)
            self.hi = _grow(self.hi, needed)
            self.mm_last = _grow(self.mm_last, needed)
            self.dirty = _grow(self.dirty, needed)
            self.flags = _grow(self.flags, needed)
        self.ids.append(aid)
        self.qty.append(ZERO)
        self.follows.append(True)
        self.row_of[aid] = row
        return row

    def drop(self, aid: str) -> None:
        """Remove the account's row (the last row moves into its place)."""
        row = self.row_of.pop(aid, None)
        if row is None:
            return
        last = self.n - 1
        if row != last:
            moved = self.ids[last]
            for column in (self.aidx, self.q, self.rate, self.amount, self.lo, self.hi, self.mm_last, self.dirty):
                column[row] = column[last]
            self.ids[row] = moved
            self.qty[row] = self.qty[last]
            self.follows[row] = self.follows[last]
            self.row_of[moved] = row
        self.ids.pop()
        self.qty.pop()
        self.follows.pop()
        self.n = last


@dataclass(slots=True)
class TickScreen:
    """The float picture (module docstring). ``ready`` is false until every account has been
    written once; the engine then rebuilds it and evaluates every holder of the ticking
    symbol exactly (a restored or rolled-back engine starts so)."""

    config: EngineConfig
    ready: bool = False
    index: dict[str, int] = field(default_factory=dict)
    """Account id → the slot of its cross part."""
    part_index: dict[PartKey, int] = field(default_factory=dict)
    """An isolated position → the slot of its part (kept once given, as an account's)."""
    parts: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """Account id → the slots of the isolated parts it has now (none: not in the map)."""
    used: int = 0
    """Slots given out (the columns below hold at least as many)."""
    eq: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    mm: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    err: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    level: NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    """Per slot, the level of its account (the hysteresis reads the level held)."""
    judged: NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    """Per slot, the level its part was judged at when written (its account's level for an
    account without isolated parts: the level is then the cross part's own)."""
    exact: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    rows: dict[str, _Rows] = field(default_factory=dict)
    """Per symbol, one row per account with a one-way position there, or with a hedge-mode
    long."""
    hedged: dict[str, _Rows] = field(default_factory=dict)
    """Per symbol, one row per hedge-mode account with a short there."""
    symbols: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Account id → the symbols it has rows in."""
    assets: dict[str, _Rows] = field(default_factory=dict)
    """Per collateral asset (``EngineConfig.collateral``): one row per account holding it."""
    wallets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Account id → the collateral assets it has rows in."""
    params: NDArray[np.float64] = field(default_factory=lambda: np.zeros(6, np.float64))
    flagged: int = 0
    """Accounts the last ``tick`` returned (for benchmarks and monitoring)."""

    def __post_init__(self) -> None:
        t = self.config.thresholds
        ratios = [t.warning, t.warning - t.hysteresis, t.margin_call, t.margin_call - t.hysteresis]
        strict = 1.0 if is_strict(self.config.profile) else 0.0
        self.params = np.array([strict, *(float(r) for r in ratios), 4 * kernel.EPS], dtype=np.float64)
        kernel.warm()

    def reset(self) -> None:
        """Forget everything (after a rollback or a restore); the next tick rebuilds."""
        self.ready = False
        self.index.clear()
        self.part_index.clear()
        self.parts.clear()
        self.used = 0
        self.rows.clear()
        self.hedged.clear()
        self.symbols.clear()
        self.assets.clear()
        self.wallets.clear()
        self.eq = np.zeros(0, np.float64)
        self.mm = np.zeros(0, np.float64)
        self.err = np.zeros(0, np.float64)
        self.level = np.zeros(0, np.int8)
        self.judged = np.zeros(0, np.int8)
        self.exact = np.zeros(0, np.bool_)

    def _new_slot(self) -> int:
        a = self.used
        self.used = size = a + 1
        self.eq = _grow(self.eq, size)
        self.mm = _grow(self.mm, size)
        self.err = _grow(self.err, size)
        self.level = _grow(self.level, size)
        self.judged = _grow(self.judged, size)
        self.exact = _grow(self.exact, size)
        return a

    def _slot(self, aid: str) -> int:
        a = self.index.get(aid)
        if a is None:
            a = self.index[aid] = self._new_slot()
        return a

    def _part_slot(self, key: PartKey) -> int:
        a = self.part_index.get(key)
        if a is None:
            a = self.part_index[key] = self._new_slot()
        return a

    def refresh(self, acc: AccountState, margin: AccountMargin, view: MarginView,
                marks: Mapping[str, Decimal | None], positions_changed: bool = True,
                only: frozenset[str] | None = None) -> None:
        """Write the account from its exact ``margin`` (and level) just computed: its parts'
        totals, its position rows (``_refresh_positions``), then its collateral rows."""
        self._refresh_positions(acc, margin, view, marks, positions_changed, only)
        if self.config.collateral:
            self._write_wallet(acc, self._slot(acc.account_id), view)

    def _write_wallet(self, acc: AccountState, a: int, view: MarginView) -> None:
        """One row per collateral asset the account holds (not the settlement asset, which
        counts at face value). An asset with no price yet, or whose price moved while the
        screen was not following it, makes the account one the screen decides exactly."""
        aid, collateral, settle = acc.account_id, self.config.collateral, self.config.settle_asset
        held: list[str] = []
        for asset_id, balance in acc.balances.items():
            asset = collateral.get(asset_id)
            if asset is None or asset_id == settle or not balance:
                continue
            price = view.asset_prices.get(asset_id)
            if price is None:
                self._set_exact(aid, a, True)
                continue
            rows = self.assets.get(asset_id)
            if rows is None:
                rows = self.assets[asset_id] = _Rows()
            if rows.mark is None:
                rows.mark, rows.mark_f = price, float(price)
            elif rows.mark != price:
                self._set_exact(aid, a, True)
            rows.put_value(aid, a, balance, asset.haircut_value(balance) if balance > 0 else balance)
            held.append(asset_id)
        for asset_id in self.wallets.get(aid, ()):
            if asset_id not in held:
                self.assets[asset_id].drop(aid)
        if held:
            self.wallets[aid] = tuple(held)
        else:
            self.wallets.pop(aid, None)

    def _write_parts(self, acc: AccountState, a: int, margin: AccountMargin) -> tuple[dict[tuple[str, PositionSide],
                                                                                        int], bool]:
        """Write the totals of every part of the account (cross and isolated) with its level
        and each part's judgement; the isolated parts' slots by position, and whether the
        account must be decided exactly: its level is not the worst of its parts' judgements
        (never, below liquidation: ``next_level`` only looks back at the level held to stay at
        a level, so at the level the worst part gave, the parts judge the same)."""
        aid = acc.account_id
        rank = _RANK[acc.level]
        self._write_slot(a, margin.equity, margin.maintenance_margin, rank, rank)
        if not margin.isolated:
            self.parts.pop(aid, None)
            return {}, False
        held = _LEVEL[acc.level]
        profile, thresholds = self.config.profile, self.config.thresholds
        worst = _RANK[next_level(held, margin.equity, margin.maintenance_margin, profile, thresholds).value]
        self.judged[a] = worst
        slots: dict[tuple[str, PositionSide], int] = {}
        for part in margin.isolated:
            s = self._part_slot((aid, part.symbol, part.position_side))
            judged = _RANK[next_level(held, part.equity, part.maintenance_margin, profile, thresholds).value]
            self._write_slot(s, part.equity, part.maintenance_margin, rank, judged)
            worst = max(worst, judged)
            slots[(part.symbol, part.position_side)] = s
        self.parts[aid] = tuple(slots.values())
        return slots, worst != rank and rank < kernel.LIQUIDATION

    def _write_slot(self, s: int, equity: Decimal, mm: Decimal, rank: int, judged: int) -> None:
        eq_f, mm_f = float(equity), float(mm)
        self.eq[s] = eq_f
        self.mm[s] = mm_f
        self.err[s] = kernel.SLACK * (abs(eq_f) + abs(mm_f))
        self.level[s] = rank
        self.judged[s] = judged

    def _set_exact(self, aid: str, a: int, exact: bool) -> None:
        """The account is (or is no longer) one the screen flags on every tick: every slot of it."""
        self.exact[a] = exact
        for s in self.parts.get(aid, ()):
            self.exact[s] = exact

    def _refresh_positions(self, acc: AccountState, margin: AccountMargin, view: MarginView,
                           marks: Mapping[str, Decimal | None], positions_changed: bool,
                           only: frozenset[str] | None) -> None:
        """Write the account from its exact ``margin`` (and level) just computed.
        ``positions_changed=False`` (an account a tick flagged, nothing else done to it): only
        its totals, and the rows whose notional left their tier, are rewritten. ``only``: the
        command changed no position outside these symbols (``Outcome.narrow``), so only their
        rows are rewritten."""
        aid = acc.account_id
        a = self._slot(aid)
        had_parts = aid in self.parts
        before = self.parts.get(aid, ())
        slots, unsettled = self._write_parts(acc, a, margin)
        if not positions_changed and aid in self.symbols and tuple(slots.values()) == before:
            if unsettled:
                self._set_exact(aid, a, True)
            else:  # an exact account's rows too: a part slot is read on every tick of its symbol
                self._rewrite_dirty(acc, a, slots, view)
            return
        if only is not None and not had_parts and not slots and not self.exact[a] and aid in self.symbols and \
                self._refresh_only(acc, a, only, view, marks):
            return
        positions = acc.positions
        exact = unsettled
        held = {p.symbol for p in positions.values() if p.qty}
        for symbol in (*self.symbols.get(aid, ()), *sorted(held)):
            one_way = _open(positions, symbol, PositionSide.BOTH)
            long = _open(positions, symbol, PositionSide.LONG)
            if one_way is not None and long is not None:
                exact = True  # both layouts at once: not one the rows know
            first = long if one_way is None else one_way
            exact |= not self._place(self.rows, aid, a, symbol, first, slots, view, marks)
            exact |= not self._place(self.hedged, aid, a, symbol, _open(positions, symbol, PositionSide.SHORT),
                                     slots, view, marks)
        self._set_exact(aid, a, exact)
        self.symbols[aid] = tuple(sorted(held))

    def _rewrite_dirty(self, acc: AccountState, a: int, slots: Mapping[tuple[str, PositionSide], int],
                       view: MarginView) -> None:
        """Rewrite the account's rows whose notional left their tier (``dirty``), at the mark
        the rows hold; an account whose row no longer follows its MM becomes exact."""
        aid = acc.account_id
        for symbol in self.symbols[aid]:
            for sets, sides in ((self.rows, _FIRST), (self.hedged, _SECOND)):
                mine = sets.get(symbol)
                row = None if mine is None else mine.row_of.get(aid)
                if mine is None or row is None or mine.mark is None or not mine.dirty[row]:
                    continue
                for side in sides:
                    position = _open(acc.positions, symbol, side)
                    if position is not None and not mine.put(aid, slots.get((symbol, side), a), position, mine.mark,
                                                             self.config, view):
                        self._set_exact(aid, a, True)
                        return

    def _place(self, sets: dict[str, _Rows], aid: str, a: int, symbol: str, pos: PositionState | None,
               slots: Mapping[tuple[str, PositionSide], int], view: MarginView,
               marks: Mapping[str, Decimal | None]) -> bool:
        """The account's row in ``sets[symbol]`` for ``pos`` (dropped when there is none), in
        its isolated part's slot or the account's; False when the screen cannot follow it."""
        if pos is None:
            rows = sets.get(symbol)
            if rows is not None:
                rows.drop(aid)
            return True
        return self._write_row(sets, aid, slots.get((symbol, pos.position_side), a), symbol, pos, view, marks)

    def _write_row(self, sets: dict[str, _Rows], aid: str, a: int, symbol: str, pos: PositionState,
                   view: MarginView, marks: Mapping[str, Decimal | None]) -> bool:
        """Bring the account's row for ``symbol`` in ``sets`` up to date with ``pos``, adding
        into slot ``a`` (rewritten only when new, dirty, resized or moved to another slot).
        False when the screen cannot follow it: the row's tier does not give its MM, or the
        symbol's mark moved without a tick."""
        rows = sets.get(symbol)
        if rows is None:
            inst = self.config.profile.instruments.get(symbol)
            rows = sets[symbol] = _Rows(inverse=inst is not None and inst.is_inverse)
        mark = marks.get(symbol)
        if mark is None:
            return True
        follows = True
        if rows.mark is None:
            rows.mark, rows.mark_f = mark, _axis(mark, rows.inverse)
        elif rows.mark != mark:  # a mark moved without a tick: never trust the picture for it
            follows = False
        row = rows.row_of.get(aid)
        if row is None or rows.dirty[row] or rows.qty[row] != pos.qty or rows.aidx[row] != a:
            return rows.put(aid, a, pos, mark, self.config, view) and follows
        return rows.follows[row] and follows

    def _refresh_only(self, acc: AccountState, a: int, only: frozenset[str], view: MarginView,
                      marks: Mapping[str, Decimal | None]) -> bool:
        """``refresh``'s row update for the symbols in ``only`` of a cross account the screen
        follows (its other rows stand). False, with nothing written, for a hedge-mode slot
        in one of them: the caller then rewrites the whole account."""
        positions = acc.positions
        for symbol in only:
            if (symbol, PositionSide.LONG) in positions or (symbol, PositionSide.SHORT) in positions:
                return False
        aid = acc.account_id
        mine = list(self.symbols[aid])
        exact = False
        for symbol in sorted(only):
            pos = positions.get((symbol, PositionSide.BOTH))
            rows = self.rows.get(symbol)
            hedged = self.hedged.get(symbol)
            if hedged is not None:
                hedged.drop(aid)  # a hedge-mode short closed: no hedge-mode slot is left here
            if pos is None or not pos.qty:
                if symbol in mine:
                    mine.remove(symbol)
                    if rows is not None:
                        rows.drop(aid)
                continue
            if symbol not in mine:
                mine.append(symbol)
            exact |= not self._write_row(self.rows, aid, a, symbol, pos, view, marks)
        self.exact[a] = exact
        self.symbols[aid] = tuple(mine)
        return True

    def forget(self, aid: str) -> None:
        """The account is gone from the picture (it holds nothing the screen follows)."""
        for symbol in self.symbols.pop(aid, ()):
            for sets in (self.rows, self.hedged):
                rows = sets.get(symbol)
                if rows is not None:
                    rows.drop(aid)
        self.parts.pop(aid, None)
        for asset_id in self.wallets.pop(aid, ()):
            self.assets[asset_id].drop(aid)

    def tick(self, symbol: str, mark: Decimal) -> list[str]:
        """Move ``symbol``'s rows to ``mark``; the accounts to decide exactly (unsorted; an
        account may be named twice, for its two hedge-mode rows)."""
        flagged = self._tick_rows(self.rows.get(symbol), mark)
        hedged = self.hedged.get(symbol)
        if hedged is not None:
            flagged += self._tick_rows(hedged, mark)
        self.flagged = len(flagged)
        return flagged

    def _tick_rows(self, rows: _Rows | None, mark: Decimal) -> list[str]:
        if rows is None or rows.n == 0:
            if rows is not None:
                rows.mark, rows.mark_f = mark, _axis(mark, rows.inverse)
            return []
        return self._move(rows, mark, _axis(mark, rows.inverse), 0.0)

    def tick_asset(self, asset_id: str, price: Decimal, quantum: Decimal) -> list[str] | None:
        """Move the collateral asset's rows to ``price``; the accounts to decide exactly, or
        ``None`` when the screen has no rows for the asset: it never had a price while the
        screen was written (a holder then counts it as nothing, and is not in the picture's
        rows), so every holder must be decided exactly.

        A row's exact value is ``units × price`` rounded down to ``quantum``, so the float
        move ``units × (p1 − p0)`` is off the exact change by less than one quantum (the two
        roundings): each holder's error bound grows by it before the kernel decides."""
        rows = self.assets.get(asset_id)
        if rows is None:
            return None
        if rows.n == 0:
            rows.mark, rows.mark_f = price, float(price)
            return []
        return self._move(rows, price, float(price), 2.0 * float(quantum))

    def reprice_asset(self, asset_id: str, price: Decimal) -> None:
        """The asset's price is now ``price`` and every holder is being decided exactly (the
        screen is not ready): their rows are rewritten at it."""
        rows = self.assets.get(asset_id)
        if rows is not None:
            rows.mark, rows.mark_f = price, float(price)

    def _move(self, rows: _Rows, mark: Decimal, p1: float, rounding: float) -> list[str]:
        if rows.mark == mark:  # nothing moved: only the accounts the screen never decides
            aidx = rows.aidx[:rows.n]
            always = np.flatnonzero(self.exact[aidx] | (self.level[aidx] >= kernel.LIQUIDATION) | rows.dirty[:rows.n])
            return [rows.ids[i] for i in always.tolist()]
        p0 = rows.mark_f
        n = rows.n
        if rounding:
            self.err[rows.aidx[:n]] += rounding
        count = kernel.tick(rows.aidx[:n], rows.q[:n], rows.rate[:n], rows.amount[:n], rows.lo[:n], rows.hi[:n],
                            rows.mm_last[:n], rows.dirty[:n], p0, p1, self.eq, self.mm, self.err, self.level,
                            self.judged, self.exact, self.params, rows.flags)
        rows.mark, rows.mark_f = mark, p1
        ids = rows.ids
        return [ids[i] for i in rows.flags[:count].tolist()]

    def nbytes(self) -> int:
        """Bytes held by the screen's arrays (not counting the id lists and maps)."""
        total = sum(x.nbytes for x in (self.eq, self.mm, self.err, self.level, self.judged, self.exact))
        for rows in [*self.rows.values(), *self.hedged.values(), *self.assets.values()]:
            total += sum(x.nbytes for x in (rows.aidx, rows.q, rows.rate, rows.amount, rows.lo, rows.hi,
                                            rows.mm_last, rows.dirty, rows.flags))
        return total

    def rerate(self, symbol: str) -> list[str]:
        """``symbol``'s MM rule changed (a new volatility scale, say): every row is rewritten at
        its account's next exact evaluation, and every holder is returned to be evaluated now."""
        out: list[str] = []
        for sets in (self.rows, self.hedged):
            rows = sets.get(symbol)
            if rows is not None:
                rows.dirty[:rows.n] = True
                out += rows.ids[:rows.n]
        return out

    def holders(self, symbol: str) -> Iterable[str]:
        """The accounts with a row in ``symbol`` (each once)."""
        rows, hedged = self.rows.get(symbol), self.hedged.get(symbol)
        first = () if rows is None else rows.ids[:rows.n]
        if hedged is None or not hedged.n:
            return first
        return list(dict.fromkeys([*first, *hedged.ids[:hedged.n]]))


_FIRST = (PositionSide.BOTH, PositionSide.LONG)
"""The sides whose positions have their row in ``TickScreen.rows``."""
_SECOND = (PositionSide.SHORT,)
"""The side whose positions have their row in ``TickScreen.hedged``."""


def _open(positions: Mapping[tuple[str, PositionSide], PositionState], symbol: str,
          side: PositionSide) -> PositionState | None:
    """The account's open position on ``symbol``'s ``side``, if it has one."""
    pos = positions.get((symbol, side))
    return pos if pos is not None and pos.qty else None
