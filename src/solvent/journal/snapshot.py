"""Engine state ⇄ canonical JSON, complete enough that the restored engine is the same engine.

Unlike the state hash (``engine/state.py``), which normalises decimals and leaves out derived
figures, a snapshot keeps every field of ``EngineState`` and every decimal exactly as held
(``str(d)``), so ``Engine(config, state=decode_state(encode_state(s))).state == s`` and the
state hashes are equal. Collections keep their insertion order (so even ``repr`` of the
restored state is identical), trade ids included (``[id, ordinal]`` in the order they were
recorded). ``Engine.__post_init__`` rebuilds the derived indexes.

Version 2 (December 2026) added trade-id ordinals, ``trade_count`` and each market's
``samples_dropped``/``samples_base``. Version 1 snapshots are not read: only journals written
before checkpoint records hold them, and recovery does not trust those snapshots anyway.
A market's ``volatility`` (the volatility-scaled MM) and the state's ``fund_watch`` (a fund
rule's window) are written only when set, so a snapshot of an engine without those rules, and
every snapshot written before they existed, is unchanged. So is ``params``: after a parameter
change (``engine/params.py``) the snapshot holds the digest the state holds and the
configuration in force, encoded as a genesis record's, which recovery starts the engine on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import msgspec

from solvent.engine.core import Engine
from solvent.engine.kept_orders import MIN_ORDERS, KeptOrders
from solvent.engine.state import AccountState, EngineState, MarketState, OrderState, PositionState, VolatilityState
from solvent.journal._typed import CodecError, decode_dataclass, decode_value, encode_value, hints_of
from solvent.journal.codec import canonical_json, encode_config, loads_strict
from solvent.market import JumpGuard
from solvent.model import MarginMode
from solvent.risk.fund_rules import FundWatch

__all__ = ["SNAPSHOT_VERSION", "SnapshotEncoder", "decode_snapshot", "decode_snapshot_in_force", "decode_state",
           "encode_account", "encode_state", "snapshot_digest"]

SNAPSHOT_VERSION = 2


def _ordered(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping in its own (insertion) order, values encoded."""
    return {k: encode_value(v) for k, v in mapping.items()}


def _position(p: PositionState) -> dict[str, Any]:
    return {k: encode_value(getattr(p, k)) for k in
            ("symbol", "position_side", "qty", "cost", "contract_size", "margin_mode", "isolated_margin")}


def _account_before_orders(a: AccountState) -> dict[str, Any]:
    return {
        "account_id": a.account_id,
        "balances": _ordered(a.balances),
        "positions": [_position(p) for p in a.positions.values()],
    }


def _account_after_orders(a: AccountState) -> dict[str, Any]:
    return {
        "leverage": _ordered(a.leverage),
        "margin_mode": _ordered(a.margin_mode),
        "level": a.level,
        "last_liquidation_ms": a.last_liquidation_ms,
    }


def _account(a: AccountState) -> dict[str, Any]:
    return {**_account_before_orders(a), "orders": [encode_value(o) for o in a.orders.values()],
            **_account_after_orders(a)}


_MSGSPEC = msgspec.json.Encoder()
_ORDER_DECIMALS = tuple(name for name, hint in hints_of(OrderState).items() if hint is Decimal)


def _order_bytes(order: OrderState) -> bytes:
    """``canonical_json(encode_value(order))``, written by msgspec (a tenth of the time: a
    checkpoint writes every order placed since the last one). msgspec writes the order's
    fields in order (``OrderState`` is a msgspec ``Struct``), an enum as its value and a
    decimal as ``str(d)``, as ``encode_value`` does; the two JSON writers differ only on text
    outside printable ASCII (msgspec leaves non-ASCII and DEL unescaped) and on a non-finite
    decimal (refused here): those orders take the slow path, and so does text msgspec refuses
    (a lone surrogate, which ``json`` escapes; found by review: such an order id stopped every
    checkpoint)."""
    try:
        out = _MSGSPEC.encode(order)
    except (UnicodeEncodeError, msgspec.EncodeError):
        out = b"\x7f"
    if out.isascii() and b"\x7f" not in out and all(getattr(order, name).is_finite() for name in _ORDER_DECIMALS):
        return out
    return canonical_json(encode_value(order))


def _market(m: MarketState) -> dict[str, Any]:
    return {
        "symbol": m.symbol,
        "quotes": {s: [encode_value(p), t] for s, (p, t) in m.quotes.items()},
        "mark": encode_value(m.mark),
        "guard": encode_value(m.guard),
        "liquidations_allowed": m.liquidations_allowed,
        "halted": m.halted,
        "index_samples": [[t, encode_value(p)] for t, p in m.index_samples],
        "samples_dropped": m.samples_dropped,
        "samples_base": m.samples_base,
        "premiums": [encode_value(p) for p in m.premiums],
        "settled": m.settled,
        "last_price": encode_value(m.last_price),
        "last_funding_rate": encode_value(m.last_funding_rate),
        **({} if m.volatility is None else {"volatility": encode_value(m.volatility)}),
    }


def _assemble(state: EngineState, accounts: Iterable[bytes], params_config: dict[str, Any] | None = None) -> bytes:
    """The snapshot's bytes, its accounts given already encoded (``canonical_json`` of
    ``_account``, in the state's order). Canonical JSON of a list is its items' encodings joined
    by commas, so this is ``canonical_json`` of the whole body, byte for byte."""
    head = canonical_json({"snapshot_version": SNAPSHOT_VERSION, "now_ms": state.now_ms})
    rest = canonical_json({
        "markets": [_market(m) for m in state.markets.values()],
        "insurance_fund": encode_value(state.insurance_fund),
        "fee_income": encode_value(state.fee_income),
        "socialised_loss": encode_value(state.socialised_loss),
        "deposits": _ordered(state.deposits),
        "withdrawals": _ordered(state.withdrawals),
        "trade_ids": [[tid, n] for tid, n in state.trade_ids.items()],
        "trade_count": state.trade_count,
        "next_funding_ms": state.next_funding_ms,
        "open_interest": _ordered(state.open_interest),
        "liquidation_seq": state.liquidation_seq,
        **({} if state.fund_watch is None else {"fund_watch": encode_value(state.fund_watch)}),
        **_params(state, params_config),
    })
    return b"".join((head[:-1], b',"accounts":[', b",".join(accounts), b"],", rest[1:]))


def _params(state: EngineState, config: dict[str, Any] | None) -> dict[str, Any]:
    if state.params is None:
        return {}
    if config is None:
        raise CodecError("a state under changed parameters is snapshotted with its configuration")
    return {"params": {"digest": state.params, "config": config}}


def encode_account(acc: AccountState, kept: KeptOrders | None = None) -> bytes:
    """One account's part of a snapshot; with ``kept``, an account with many orders takes the
    bytes of the orders it held at the last call from there (canonical JSON of an object is
    its members' encodings joined by commas, so the bytes are the same)."""
    if kept is None or len(acc.orders) < MIN_ORDERS:
        if kept is not None:
            kept.forget(acc.account_id)
        return canonical_json(_account(acc))
    head, tail = canonical_json(_account_before_orders(acc)), canonical_json(_account_after_orders(acc))
    return b"".join((head[:-1], b',"orders":[', b",".join(kept.parts(acc).values()), b"],", tail[1:]))


def encode_state(state: EngineState, params_config: dict[str, Any] | None = None) -> bytes:
    """Canonical bytes of the whole state (collections in their order, exact decimals); a state
    under changed parameters (``state.params`` set) with the configuration in force as its
    ``params`` record holds it (``params_config``), which recovery starts the engine on."""
    return _assemble(state, [encode_account(a) for a in state.accounts.values()], params_config)


class SnapshotEncoder:
    """``encode_state`` of one engine's state, each account's bytes kept until the engine
    reports the account touched (``Engine.account_changes``): a checkpoint encodes the
    accounts that changed since the last one, not the whole venue (1.9 s at 100,000 accounts).
    The bytes are ``encode_state``'s, always (a test compares them after every command)."""

    __slots__ = ("_epoch", "_kept", "_orders")

    def __init__(self) -> None:
        self._epoch = 0
        self._kept: dict[str, tuple[int, bytes]] = {}
        self._orders = KeptOrders(_order_bytes)

    @classmethod
    def primed(cls, engine: Engine, parts: list[bytes]) -> SnapshotEncoder:
        """An encoder that already holds ``engine``'s account bytes ``parts`` (``decode_snapshot``
        of the snapshot the engine was built from, before any command): the first checkpoint
        after a restart then encodes what the tail and later commands touched, not every account."""
        encoder = cls()
        changes = engine.account_changes
        if changes.clock == 0 and len(parts) == len(engine.state.accounts):  # nothing touched yet
            encoder._epoch = changes.epoch
            encoder._kept = {aid: (0, part) for aid, part in zip(engine.state.accounts, parts, strict=True)}
        return encoder

    def encode(self, engine: Engine, params_config: dict[str, Any] | None = None) -> bytes:
        """The snapshot of ``engine``; after a parameter change, with ``params_config``, the
        configuration in force as its ``params`` record holds it (``encode_config`` of the
        engine's when not given)."""
        changes = engine.account_changes
        if changes.epoch != self._epoch:  # a new engine, a restore or a rollback: nothing is known
            self._kept.clear()
            self._orders.clear()
            self._epoch = changes.epoch
        state, kept, version, orders = engine.state, self._kept, changes.version, self._orders
        parts: list[bytes] = []
        for aid, acc in state.accounts.items():
            v = version(aid)
            entry = kept.get(aid)
            if entry is None or entry[0] != v:
                entry = kept[aid] = (v, encode_account(acc, orders))
            parts.append(entry[1])
        if len(kept) > len(parts):  # an account left the state: keep only those still in it
            self._kept = {aid: kept[aid] for aid in state.accounts}
            orders.keep_only(state.accounts)
        if state.params is not None and params_config is None:
            params_config = encode_config(engine.config)
        return _assemble(state, parts, None if state.params is None else params_config)


def snapshot_digest(blob: bytes) -> str:
    """SHA-256 (hex) of the snapshot bytes, stored beside them to detect damage."""
    return hashlib.sha256(blob).hexdigest()


def _field(raw: dict[str, Any], cls: type, name: str, path: str) -> Any:
    if name not in raw:
        raise CodecError(f"{path}: missing {name}")
    return decode_value(raw[name], hints_of(cls)[name], f"{path}.{name}")


def _decode_account(raw: Any, path: str) -> AccountState:
    if not isinstance(raw, dict):
        raise CodecError(f"{path}: expected an object")
    acc = AccountState(_field(raw, AccountState, "account_id", path))
    acc.balances = _field(raw, AccountState, "balances", path)
    for i, p in enumerate(raw.get("positions", [])):
        pos = decode_dataclass(p, PositionState, f"{path}.positions[{i}]")
        acc.positions[(pos.symbol, pos.position_side)] = pos
    for i, o in enumerate(raw.get("orders", [])):
        order = decode_dataclass(o, OrderState, f"{path}.orders[{i}]")
        acc.orders[order.order_id] = order
    acc.leverage = _field(raw, AccountState, "leverage", path)
    acc.margin_mode = {k: MarginMode(v) for k, v in dict(raw.get("margin_mode", {})).items()}
    acc.level = _field(raw, AccountState, "level", path)
    acc.last_liquidation_ms = _field(raw, AccountState, "last_liquidation_ms", path)
    return acc


def _decode_market(raw: Any, path: str) -> MarketState:
    if not isinstance(raw, dict):
        raise CodecError(f"{path}: expected an object")
    m = MarketState(_field(raw, MarketState, "symbol", path))
    m.quotes = _field(raw, MarketState, "quotes", path)
    m.mark = _field(raw, MarketState, "mark", path)
    m.guard = decode_dataclass(raw.get("guard"), JumpGuard, f"{path}.guard")
    for name in ("liquidations_allowed", "halted", "settled", "last_price", "last_funding_rate", "samples_dropped",
                 "samples_base"):
        setattr(m, name, _field(raw, MarketState, name, path))
    m.index_samples = _field(raw, MarketState, "index_samples", path)
    m.premiums = _field(raw, MarketState, "premiums", path)
    if "volatility" in raw:  # absent: no volatility MM (every snapshot written before it existed)
        m.volatility = decode_dataclass(raw["volatility"], VolatilityState, f"{path}.volatility")
    return m


def decode_state(blob: bytes) -> EngineState:
    """Rebuild the state from ``encode_state`` bytes (``CodecError`` if anything is off)."""
    return decode_snapshot(blob)[0]


def decode_snapshot(blob: bytes) -> tuple[EngineState, list[bytes]]:
    """``decode_state``, with each account's bytes (``encode_account``, in the state's order),
    which checking the canonical form computes anyway (``SnapshotEncoder.primed`` keeps them)."""
    state, parts, _ = decode_snapshot_in_force(blob)
    return state, parts


def decode_snapshot_in_force(blob: bytes) -> tuple[EngineState, list[bytes], dict[str, Any] | None]:
    """``decode_snapshot`` and, after a parameter change, the configuration in force as the
    snapshot holds it (``None``: the journal's genesis configuration), from one reading."""
    raw = loads_strict(blob)
    if not isinstance(raw, dict) or raw.get("snapshot_version") != SNAPSHOT_VERSION:
        raise CodecError(f"not a version {SNAPSHOT_VERSION} snapshot")
    state = EngineState()
    state.now_ms = _field(raw, EngineState, "now_ms", "$")
    for i, a in enumerate(raw.get("accounts", [])):
        acc = _decode_account(a, f"$.accounts[{i}]")
        state.accounts[acc.account_id] = acc
    for i, m in enumerate(raw.get("markets", [])):
        market = _decode_market(m, f"$.markets[{i}]")
        state.markets[market.symbol] = market
    for name in ("insurance_fund", "fee_income", "socialised_loss", "deposits", "withdrawals", "next_funding_ms",
                 "open_interest", "liquidation_seq", "trade_count"):
        setattr(state, name, _field(raw, EngineState, name, "$"))
    state.trade_ids = dict(decode_value(raw.get("trade_ids"), list[tuple[str, int]], "$.trade_ids"))
    if "fund_watch" in raw:  # absent: no fund rule (every snapshot written before fund rules existed)
        state.fund_watch = decode_dataclass(raw["fund_watch"], FundWatch, "$.fund_watch")
    params = raw.get("params")
    config: dict[str, Any] | None = None
    if params is not None:
        if not (isinstance(params, dict) and list(params) == ["digest", "config"] and isinstance(params["digest"], str)
                and isinstance(params["config"], dict)):
            raise CodecError("$.params: expected an object with digest and config")
        state.params, config = params["digest"], params["config"]
    parts = [encode_account(a) for a in state.accounts.values()]
    if _assemble(state, parts, config) != blob:
        raise CodecError("snapshot bytes are not in canonical form")
    return state, parts, config
