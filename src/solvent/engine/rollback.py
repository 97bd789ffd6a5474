"""Undo for one command: a command that fails inside the engine is rolled back, never
half-applied (issue 10).

While a command commits, ``state.accounts`` is replaced by a ``Recorder`` that keeps a copy
of each account the first time it is read, so only the accounts a command (or the
liquidations it triggers) actually looks at are copied. Markets the command can change are
copied up front (``index_samples`` only grows, so its length is kept instead of a copy), and
the scalar totals and small maps are saved. ``Savepoint.restore`` puts all of it back.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import fields, is_dataclass
from typing import Any, cast

from solvent.engine.state import AccountState, EngineState, MarketState

__all__ = ["Recorder", "Savepoint"]

_MISSING: Any = object()
_OWN = frozenset({"accounts", "markets", "trade_ids"})  # restored by their own means
_SHARED_VALUES = frozenset({"orders"})
"""Maps whose values are never changed in place (``OrderState``): the map is copied, its
values shared, so a market maker's thousands of resting orders cost one C-level copy."""
_GROWING = frozenset({"index_samples"})  # append-only: rolled back by truncation, never copied


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


_Copy = Callable[[Any], Any]
_COPIERS: dict[type, _Copy | None] = {}
"""Per type: its field-by-field copier (a dataclass), or ``None`` (anything else: kept as is)."""


def _copier(cls: type) -> _Copy | None:
    """A function copying an instance of dataclass ``cls`` field by field (``None`` for any
    other type), built once per class: plain attribute reads and writes, with neither
    ``copy``'s reduce protocol nor a ``getattr`` loop per copy."""
    if cls in _COPIERS:
        return _COPIERS[cls]
    made: _Copy | None = None
    if is_dataclass(cls):
        frozen = cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        body = [f"    put(n, {name!r}, o.{name})" if frozen else f"    n.{name} = o.{name}" for name in _names(cls)]
        scope: dict[str, Any] = {"new": object.__new__, "cls": cls, "put": object.__setattr__}
        exec("\n".join(["def copy(o):", "    n = new(cls)", *body, "    return n"]), scope)
        made = cast(_Copy, scope["copy"])
    _COPIERS[cls] = made
    return made


def _shallow(obj: Any) -> Any:
    """A field-by-field copy of a (slots) dataclass."""
    copier = _copier(type(obj))
    assert copier is not None, type(obj)
    return copier(obj)


_SEQUENCES = (list, set)
"""``isinstance`` against a tuple: ``list | set`` would build a union type on every call."""


def _copy_value(value: Any) -> Any:
    return dict(value) if type(value) is dict else copy.copy(value) if isinstance(value, _SEQUENCES) else value


def _copy_items(value: dict[Any, Any]) -> dict[Any, Any]:
    """A copy of a map whose dataclass values are copied one level (others shared)."""
    out = {}
    for key, item in value.items():
        cls = type(item)
        copier = _COPIERS[cls] if cls in _COPIERS else _copier(cls)
        out[key] = item if copier is None else copier(item)
    return out


def _clone(obj: Any, share: frozenset[str] = frozenset()) -> Any:
    """A copy of a state dataclass deep enough for rollback: its maps and lists are copied
    (except the fields in ``share``), dataclass values in its maps are copied one level."""
    new = _shallow(obj)
    for name in _names(type(obj)):
        if name in share:
            continue
        value = getattr(obj, name)
        if type(value) is dict:
            object.__setattr__(new, name, {} if not value else dict(value) if name in _SHARED_VALUES
                               else _copy_items(value))
        elif isinstance(value, dict):
            object.__setattr__(new, name, _copy_items(value))
        elif isinstance(value, _SEQUENCES):
            object.__setattr__(new, name, copy.copy(value))
    return new


class Recorder(MutableMapping[str, AccountState]):
    """The accounts map during a commit: remembers each account as it was when first read."""

    __slots__ = ("data", "levels", "saved")

    def __init__(self, data: dict[str, AccountState]) -> None:
        self.data = data
        self.saved: dict[str, Any] = {}
        self.levels: dict[str, str] = {}
        """Accounts whose level alone changed (re-margining): the level before the command."""

    def note_level(self, key: str) -> None:
        """Only ``key``'s level is about to change: remember the level, not the whole account."""
        if key not in self.saved and key not in self.levels:
            self.levels[key] = self.data[key].level

    def changed(self) -> list[str]:
        """Every account the command read or whose level it changed."""
        return [*self.saved, *(k for k in self.levels if k not in self.saved)]

    def note(self, key: str) -> None:
        if key not in self.saved:
            acc = self.data.get(key, _MISSING)
            self.saved[key] = acc if acc is _MISSING else _clone(acc)

    def __getitem__(self, key: str) -> AccountState:
        self.note(key)
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        if key not in self.data:
            return default
        self.note(key)
        return self.data[key]

    def __setitem__(self, key: str, value: AccountState) -> None:
        self.note(key)
        self.data[key] = value

    def __delitem__(self, key: str) -> None:
        self.note(key)
        del self.data[key]

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def undo(self) -> None:
        for key, acc in self.saved.items():
            if acc is _MISSING:
                self.data.pop(key, None)
            else:
                self.data[key] = acc
        for key, level in self.levels.items():  # after the copies: one taken later holds the new level
            if key in self.data:
                self.data[key].level = level


class Savepoint:
    """Everything one command may change, restorable after an unexpected failure."""

    __slots__ = ("accounts", "market_keys", "markets", "samples", "scalars", "state", "trade_count")

    def __init__(self, state: EngineState, symbols: Iterable[str]) -> None:
        self.state = state
        self.accounts = Recorder(state.accounts)
        self.market_keys = set(state.markets)
        self.markets = {s: _clone(state.markets[s], _GROWING) for s in symbols if s in state.markets}
        self.samples = {s: len(state.markets[s].index_samples) for s in self.markets}
        self.scalars = {name: _copy_value(getattr(state, name)) for name in _names(type(state)) if name not in _OWN}
        self.trade_count = len(state.trade_ids)
        state.accounts = cast(dict[str, AccountState], self.accounts)

    def keep(self, symbol: str) -> None:
        """Keep a copy of ``symbol``'s market before it is first written, when the command's own
        symbols did not include it (a liquidation trading in another market sets its last price)."""
        if symbol not in self.markets and symbol in self.market_keys:  # one the command made is dropped
            self.markets[symbol] = _clone(self.state.markets[symbol], _GROWING)
            self.samples[symbol] = len(self.state.markets[symbol].index_samples)

    def release(self) -> None:
        """The command is done: the plain accounts map goes back in place."""
        self.state.accounts = self.accounts.data

    def restore(self) -> None:
        """Put the state back exactly as it was before the command."""
        self.release()
        self.accounts.undo()
        state = self.state
        for key in set(state.markets) - self.market_keys:
            del state.markets[key]
        for sym, saved in self.markets.items():
            samples: list[Any] = state.markets[sym].index_samples if sym in state.markets else []
            del samples[self.samples[sym]:]
            saved.index_samples = samples
            state.markets[sym] = cast(MarketState, saved)
        for name, value in self.scalars.items():
            setattr(state, name, value)
        for trade_id in self.added_trade_ids():  # the command's fill and any liquidation fills
            del state.trade_ids[trade_id]

    def added_trade_ids(self) -> list[str]:
        """The trade ids the command added (trade ids are only ever added, in order)."""
        added = len(self.state.trade_ids) - self.trade_count
        return list(itertools.islice(reversed(self.state.trade_ids), added)) if added > 0 else []
