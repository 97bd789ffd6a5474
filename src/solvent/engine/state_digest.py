"""The state hash: equal states, equal hashes, on any machine; kept up to date incrementally.

Version 3 (December 2026, the default) covers **every field** of the state dataclasses — no
hand-kept field list, so a field added to ``engine/state.py`` is hashed without anyone
remembering to (a test mutates each field and checks the hash moves) — arranged so that
bringing the hash up to date costs work in proportion to what changed, never to history.
Each value is encoded generically (``encode``): a decimal in plain notation, an enum as its
value, a record (a dataclass, or the msgspec ``Struct`` of a resting order) as
``{field: value}`` over all its fields, a map with string keys as an object, any other map as
``[[key, value], …]`` in key order, a sequence as a list, a set
sorted. Then:

* **accounts**: each account's JSON ``[id, encode(account)]`` is hashed on its own; account ids
  fall into 4,096 buckets by the first 12 bits of SHA-256(id, UTF-8); a bucket's hash is
  SHA-256 of the JSON list ``[[id, digest hex], …]`` in id order; the accounts root is
  SHA-256 of the 4,096 bucket hashes (32 raw bytes each, bucket order).
* **trade ids**: the same buckets, a bucket's hash being SHA-256 of the JSON list
  ``[[id, ordinal as a string], …]`` in id order.
* **index samples** of each market: a chain ``c_0 = 32 zero bytes``,
  ``c_k = SHA-256(c_{k−1} ‖ JSON [time_ms, price])`` over every sample ever taken, so an
  appended sample costs one hash. Samples the engine has forgotten (``engine/history.py``)
  are folded into ``samples_base``, the chain through them; the chain continues from there,
  and ``count`` is ``samples_dropped`` plus the samples held.
* **markets**: ``encode(market)`` with ``index_samples`` replaced by ``{"count", "chain"}``
  (``samples_base`` is inside the chain; ``samples_dropped`` stays a field); ``volatility``
  (added later) is left out while it is ``None``.
* the document: every other field of ``EngineState`` encoded (``fund_watch`` and ``params``,
  added later, left out while they are ``None``), ``"version": 3``, and
  ``{"count", "root"}`` for accounts and trade ids, hashed as one sorted-key JSON document.

JSON here is compact (``separators=(",", ":")``), ASCII, decimals in plain notation.
``Engine`` holds a ``StateDigest`` and tells it which accounts and trade ids each command
touched; ``state_hash(state)`` computes the same value from nothing (tests compare the two).
Versions 1 and 2 (one JSON document of the whole state) stay computable, so journals that
recorded them still verify.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable
from decimal import Decimal
from enum import Enum
from typing import Any

import msgspec

from solvent.engine.kept_orders import MIN_ORDERS, KeptOrders
from solvent.engine.state import AccountState, EngineState, MarketState, OrderState
from solvent.records import is_record, record_fields
from solvent.units import plain

__all__ = ["STATE_HASH_VERSION", "StateDigest", "account_digest", "bucket_of", "canonical_bytes", "encode",
           "sample_link", "state_hash", "state_hash_matches"]

STATE_HASH_VERSION = 3
"""3: incremental (above). 2 hashed ``open_interest`` too; 1, written by journals before
December 2026, left it out. Every version stays verifiable."""

BUCKET_BITS = 12
BUCKETS = 1 << BUCKET_BITS
_ZERO = bytes(32)


_ENCODERS_BY_SORT = {sort: json.JSONEncoder(sort_keys=sort, separators=(",", ":"), ensure_ascii=True)
                     for sort in (False, True)}
"""Built once: ``json.dumps`` with arguments builds an encoder on every call."""


def _json(obj: Any, sort_keys: bool = False) -> bytes:
    return _ENCODERS_BY_SORT[sort_keys].encode(obj).encode("ascii")


def canonical_bytes(value: Any) -> bytes:
    """Sorted-key compact ASCII JSON of ``encode(value)``: what a digest of a value hashes."""
    return _json(encode(value), sort_keys=True)


def encode(value: Any) -> Any:
    """A state value as JSON-ready data, generically (see the module docstring)."""
    how = _ENCODERS.get(type(value))
    if how is None:
        how = _encoder_for(type(value))
    return how(value)


def _same(value: Any) -> Any:
    return value


def _encode_map(value: dict[Any, Any]) -> Any:
    if all(isinstance(k, str) for k in value):
        return {k: encode(v) for k, v in value.items()}
    pairs = [[encode(k), encode(v)] for k, v in value.items()]
    return sorted(pairs, key=lambda kv: _json(kv[0])) if len(pairs) > 1 else pairs


def _encode_list(value: list[Any] | tuple[Any, ...]) -> list[Any]:
    return [encode(v) for v in value]


def _encode_set(value: set[Any] | frozenset[Any]) -> list[Any]:
    return sorted(encode(v) for v in value)


def _encode_enum(value: Enum) -> Any:
    return encode(value.value)


def _encoder_for(cls: type) -> Callable[[Any], Any]:
    """How ``encode`` renders a value of ``cls``: the rules of the module docstring, in their
    order, decided once per type (the state holds a handful of types, millions of values)."""
    how: Callable[[Any], Any]
    if cls is type(None) or issubclass(cls, bool | int | str):
        how = _same
    elif issubclass(cls, Decimal):
        how = plain
    elif issubclass(cls, Enum):
        how = _encode_enum
    elif is_record(cls):
        how = _dataclass_encoder(cls)
    elif issubclass(cls, dict):
        how = _encode_map
    elif issubclass(cls, list | tuple):
        how = _encode_list
    elif issubclass(cls, set | frozenset):
        how = _encode_set
    else:
        raise TypeError(f"cannot hash a {cls.__name__} in the engine state")
    _ENCODERS[cls] = how
    return how


_ENCODERS: dict[type, Callable[[Any], Any]] = {}


def _dataclass_encoder(cls: type) -> Callable[[Any], Any]:
    """``{field: encode(value.field), …}`` over every field of ``cls`` (a dataclass or a msgspec
    ``Struct``), as one generated function (a loop over the names with ``getattr`` costs twice
    as much)."""
    names = record_fields(cls)
    items = ", ".join(f"{name!r}: e(v.{name})" for name in names)
    scope: dict[str, Any] = {"e": encode}
    exec(f"def how(v):\n    return {{{items}}}", scope)  # built from the class's field names, nothing else
    how: Callable[[Any], Any] = scope["how"]
    return how


_MARKET_APART = frozenset({"index_samples", "samples_base"})
_MARKET_IF_SET = frozenset({"volatility"})
"""Market fields added after version 3 was first written: left out while ``None``, so a state
without them hashes as before (checkpoints recorded before they existed still verify)."""
_STATE_APART = frozenset({"accounts", "markets", "trade_ids"})
_STATE_IF_SET = frozenset({"fund_watch", "params"})
"""State fields added after version 3 was first written: left out while ``None`` (as ``_MARKET_IF_SET``)."""


def _account_canonical(acc: AccountState) -> dict[str, Any]:
    """Versions 1 and 2."""
    return {
        "balances": {k: plain(v) for k, v in sorted(acc.balances.items())},
        "positions": [
            [p.symbol, p.position_side.value, plain(p.qty), plain(p.cost), p.margin_mode.value,
             plain(p.isolated_margin)]
            for _, p in sorted(acc.positions.items(), key=lambda kv: (kv[0][0], kv[0][1].value))
        ],
        "orders": [
            [o.order_id, o.symbol, o.side.value, plain(o.qty), plain(o.price), o.reduce_only, o.position_side.value]
            for _, o in sorted(acc.orders.items())
        ],
        "leverage": {k: plain(v) for k, v in sorted(acc.leverage.items())},
        "margin_mode": {k: v.value for k, v in sorted(acc.margin_mode.items())},
        "level": acc.level,
        "last_liquidation_ms": acc.last_liquidation_ms,
    }


def _market_canonical(m: MarketState, samples: Any) -> dict[str, Any]:
    return {
        "mark": plain(m.mark) if m.mark is not None else None,
        "quotes": {s: [plain(p), t] for s, (p, t) in sorted(m.quotes.items())},
        "liquidations_allowed": m.liquidations_allowed,
        "halted": m.halted,
        "settled": m.settled,
        "guard": [None if m.guard.accepted_price is None else plain(m.guard.accepted_price),
                  None if m.guard.held_price is None else plain(m.guard.held_price),
                  m.guard.confirmations_seen],
        "index_samples": samples,
        "premiums": [plain(p) for p in m.premiums],
        "last_price": None if m.last_price is None else plain(m.last_price),
        "last_funding_rate": plain(m.last_funding_rate),
    }


def _totals(state: EngineState) -> dict[str, Any]:
    return {
        "now_ms": state.now_ms,
        "insurance_fund": plain(state.insurance_fund),
        "fee_income": plain(state.fee_income),
        "socialised_loss": plain(state.socialised_loss),
        "deposits": {k: plain(v) for k, v in sorted(state.deposits.items())},
        "withdrawals": {k: plain(v) for k, v in sorted(state.withdrawals.items())},
        "next_funding_ms": state.next_funding_ms,
        "liquidation_seq": state.liquidation_seq,
    }


def _whole_document(state: EngineState, version: int) -> bytes:
    """Versions 1 and 2: the whole state as one JSON document."""
    doc: dict[str, Any] = {
        "version": version,
        "accounts": {aid: _account_canonical(state.accounts[aid]) for aid in sorted(state.accounts)},
        "markets": {sym: _market_canonical(m, [[t, plain(p)] for t, p in m.index_samples])
                    for sym, m in sorted(state.markets.items())},
        "trade_ids": sorted(state.trade_ids),  # versions 1 and 2 predate ordinals and forgetting
        **_totals(state),
    }
    if version >= 2:
        doc["open_interest"] = {k: plain(v) for k, v in sorted(state.open_interest.items())}
    return _json(doc, sort_keys=True)


def account_digest(acc: AccountState) -> str:
    """SHA-256 (hex) of one account's JSON ``[id, encode(account)]``."""
    return hashlib.sha256(_json([acc.account_id, encode(acc)], sort_keys=True)).hexdigest()


_ACCOUNT_FIELDS = tuple(sorted(f.name for f in dataclasses.fields(AccountState)))
_BEFORE_ORDERS = tuple(name for name in _ACCOUNT_FIELDS if name < "orders")
_AFTER_ORDERS = tuple(name for name in _ACCOUNT_FIELDS if name > "orders")


_SORTED_MSGSPEC = msgspec.json.Encoder(order="sorted")


def _order_member(order: OrderState) -> bytes:
    """``"order id":{…}``: one member of an account's ``orders`` object, sorted-key JSON, written
    by msgspec (a third of the time); ``_json`` writes the same bytes but for text outside
    printable ASCII, which msgspec leaves unescaped (non-ASCII, DEL) or refuses (a lone
    surrogate): such an order takes it."""
    doc = {order.order_id: encode(order)}
    try:
        member = _SORTED_MSGSPEC.encode(doc)
    except (UnicodeEncodeError, msgspec.EncodeError):
        member = b"\x7f"
    if not member.isascii() or b"\x7f" in member:
        member = _json(doc, sort_keys=True)
    return member[1:-1]


def _kept_account_digest(acc: AccountState, kept: KeptOrders) -> str:
    """``account_digest`` of an account with many orders, the orders' members taken from
    ``kept``: the sorted-key JSON of an object is its members in key order joined by commas,
    so these are the same bytes (a test compares the two after every command)."""
    if len(acc.orders) < MIN_ORDERS:
        kept.forget(acc.account_id)
        return account_digest(acc)
    members = kept.parts(acc)
    before = _json({name: encode(getattr(acc, name)) for name in _BEFORE_ORDERS}, sort_keys=True)
    after = _json({name: encode(getattr(acc, name)) for name in _AFTER_ORDERS}, sort_keys=True)
    body = b",".join(members[oid] for oid in sorted(members))
    doc = b"".join((b"[", _json(acc.account_id), b",", before[:-1], b',"orders":{', body, b"}",
                    b"," + after[1:] if _AFTER_ORDERS else b"}", b"]"))
    return hashlib.sha256(doc).hexdigest()


def bucket_of(key: str) -> int:
    """The bucket (0–4,095) of an account id or a trade id."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:2], "big") >> (16 - BUCKET_BITS)


def sample_link(chain: bytes, sample: tuple[int, Any]) -> bytes:
    """One link of the index-sample chain."""
    return hashlib.sha256(chain + _json([sample[0], plain(sample[1])])).digest()


class _Buckets:
    """Keys in 4,096 buckets, each bucket's hash cached until one of its keys changes."""

    __slots__ = ("dirty", "hashes", "members", "value_of")

    def __init__(self, value_of: bool) -> None:
        self.value_of = value_of  # True: [[key, value], …] per bucket; False: [key, …]
        self.members: list[dict[str, str]] = [{} for _ in range(BUCKETS)]
        self.hashes: list[bytes] = [b""] * BUCKETS
        self.dirty: set[int] = set(range(BUCKETS))

    def put(self, key: str, value: str) -> None:
        b = bucket_of(key)
        self.members[b][key] = value
        self.dirty.add(b)

    def drop(self, key: str) -> None:
        b = bucket_of(key)
        if self.members[b].pop(key, None) is not None:
            self.dirty.add(b)

    def root(self) -> str:
        for b in self.dirty:
            items = sorted(self.members[b].items())
            listed: Any = [[k, v] for k, v in items] if self.value_of else [k for k, _ in items]
            self.hashes[b] = hashlib.sha256(_json(listed)).digest()
        self.dirty.clear()
        return hashlib.sha256(b"".join(self.hashes)).hexdigest()

    def count(self) -> int:
        return sum(len(m) for m in self.members)


class StateDigest:
    """The version-3 hash of one engine's state, brought up to date from what changed.

    ``touch_accounts`` and ``touch_trade_ids`` name what a command may have changed (a
    superset is fine); anything else is recomputed on each ``hexdigest`` (markets and totals:
    small). ``reset`` forgets everything (the next ``hexdigest`` starts from nothing).
    """

    __slots__ = ("_accounts", "_dirty_accounts", "_dirty_trades", "_orders", "_samples", "_trades")

    def __init__(self, keep_orders: bool = True) -> None:
        """``keep_orders``: keep the orders' encodings of accounts with many orders
        (``engine/kept_orders.py``); ``state_hash`` from nothing does without."""
        self._orders = KeptOrders(_order_member) if keep_orders else None
        self._accounts: _Buckets | None = None
        self._trades: _Buckets | None = None
        self._dirty_accounts: set[str] = set()
        self._dirty_trades: set[str] = set()
        self._samples: dict[str, tuple[int, object, bytes]] = {}  # symbol → (count, last sample, chain)

    def reset(self) -> None:
        self._accounts = self._trades = None
        if self._orders is not None:
            self._orders.clear()
        self._dirty_accounts.clear()
        self._dirty_trades.clear()
        self._samples.clear()

    def touch_accounts(self, account_ids: Iterable[str]) -> None:
        if self._accounts is not None:
            self._dirty_accounts.update(account_ids)

    def touch_trade_ids(self, trade_ids: Iterable[str]) -> None:
        if self._trades is not None:
            self._dirty_trades.update(trade_ids)

    def _account_root(self, state: EngineState) -> str:
        if self._accounts is None:
            self._accounts = _Buckets(value_of=True)
            self._dirty_accounts = set(state.accounts)
        orders = self._orders
        for aid in self._dirty_accounts:
            acc = state.accounts.get(aid)
            if acc is None:
                self._accounts.drop(aid)
                if orders is not None:
                    orders.forget(aid)
            else:
                self._accounts.put(aid, account_digest(acc) if orders is None else _kept_account_digest(acc, orders))
        self._dirty_accounts.clear()
        return self._accounts.root()

    def _trade_root(self, state: EngineState) -> str:
        if self._trades is None:
            self._trades = _Buckets(value_of=True)
            self._dirty_trades = set(state.trade_ids)
        for tid in self._dirty_trades:
            ordinal = state.trade_ids.get(tid)
            if ordinal is None:
                self._trades.drop(tid)
            else:
                self._trades.put(tid, str(ordinal))
        self._dirty_trades.clear()
        return self._trades.root()

    def _sample_chain(self, market: MarketState) -> tuple[int, str]:
        """(count, chain) over every sample the market ever took, extended by the new ones."""
        samples, dropped = market.index_samples, market.samples_dropped
        total = dropped + len(samples)
        count, last, chain = self._samples.get(market.symbol, (-1, None, _ZERO))
        new = total - count
        if count < dropped or new < 0 or (new < len(samples) and samples[len(samples) - 1 - new] is not last):
            new, chain = len(samples), bytes.fromhex(market.samples_base)  # unknown to the cache: from the base
        for sample in samples[len(samples) - new:]:
            chain = sample_link(chain, sample)
        self._samples[market.symbol] = (total, samples[-1] if samples else None, chain)
        return total, chain.hex()

    def hexdigest(self, state: EngineState) -> str:
        return hashlib.sha256(_json(self.document(state), sort_keys=True)).hexdigest()

    def document(self, state: EngineState) -> dict[str, Any]:
        """The document whose SHA-256 (sorted-key JSON) is the hash, brought up to date."""
        accounts = {"count": len(state.accounts), "root": self._account_root(state)}
        trades = {"count": len(state.trade_ids), "root": self._trade_root(state)}
        markets = {}
        for sym, m in state.markets.items():
            count, chain = self._sample_chain(m)
            body = {f.name: encode(getattr(m, f.name)) for f in dataclasses.fields(m)
                    if f.name not in _MARKET_APART and not (f.name in _MARKET_IF_SET and getattr(m, f.name) is None)}
            markets[sym] = {**body, "index_samples": {"count": count, "chain": chain}}
        for gone in set(self._samples) - set(state.markets):
            del self._samples[gone]
        doc = {f.name: encode(getattr(state, f.name)) for f in dataclasses.fields(state)
               if f.name not in _STATE_APART and not (f.name in _STATE_IF_SET and getattr(state, f.name) is None)}
        doc.update(version=3, accounts=accounts, markets=markets, trade_ids=trades)
        return doc

    def account_path(self, state: EngineState, account_id: str) -> tuple[list[list[str]], list[str]]:
        """What links one account to the accounts root: its bucket's ``[[id, digest], …]`` (id
        order) and the 4,096 bucket hashes (hex), after ``document``."""
        self._account_root(state)
        assert self._accounts is not None
        bucket = sorted(self._accounts.members[bucket_of(account_id)].items())
        return [[k, v] for k, v in bucket], [h.hex() for h in self._accounts.hashes]


def state_hash(state: EngineState, version: int = STATE_HASH_VERSION) -> str:
    """SHA-256 (hex) of the state, computed from nothing, in the given version."""
    if version == 3:
        return StateDigest(keep_orders=False).hexdigest(state)
    if version not in (1, 2):
        raise ValueError(f"unknown state hash version {version}")
    return hashlib.sha256(_whole_document(state, version)).hexdigest()


def state_hash_matches(state: EngineState, recorded: str, current: str | None = None) -> bool:
    """Whether ``recorded`` is this state's hash in any version (``current``: the version-3
    hash if the caller already has it, e.g. ``Engine.state_hash()``)."""
    if recorded == (current if current is not None else state_hash(state)):
        return True
    return recorded in (state_hash(state, 2), state_hash(state, 1))
