"""What each account is owed, per asset, from the engine state: the leaves of a proof of
liabilities (``proofs/pol.py``), and the snapshot at a journal seq (``snapshot_at``).

An account's ``net`` in an asset is its wallet balance in it, plus, in the settlement asset,
the unrealised PnL of its positions at the marks and the margin its isolated positions hold:
what it could withdraw in that asset after closing everything at mark. In units of
``10^-decimals``: ``equity = ceil(net)`` when positive, ``debt = floor(−net)`` when negative
(rounding toward larger liabilities).

An account whose value at the engine's prices (the settlement asset at 1, a collateral asset
at its index) is below zero is bankrupt: nobody holds a claim on it, so its leaf is all
zeros, and its deficit (rounded up, in the settlement asset) is added to the header's
``uncovered_deficit``. The insurance fund and fee income are the venue's, not customers':
they are not liabilities here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from solvent.engine.core import Engine
from solvent.errors import InvalidInput
from solvent.journal.backend import JournalBackend, JournalError
from solvent.journal.replay import genesis_tree, open_genesis, replay_tail
from solvent.proofs.pol import POL_VERSION, Values
from solvent.units import ZERO, exact

__all__ = ["Liabilities", "liabilities", "snapshot_at"]

DEFAULT_DECIMALS = 8


@dataclass(frozen=True, slots=True)
class Liabilities:
    assets: list[dict[str, Any]]
    """``[{"symbol", "decimals"}]``: the header's asset list (sorted by symbol)."""
    accounts: dict[str, Values]
    deficit: dict[str, int]
    """Per asset, in its units: what bankrupt accounts owe that nobody will pay."""


def _units(amount: Decimal, decimals: int, rounding: str) -> int:
    return int(amount.scaleb(decimals).to_integral_value(rounding=rounding))


@exact
def liabilities(engine: Engine, decimals: Mapping[str, int] | None = None) -> Liabilities:
    """Every account's (equity, debt) per asset, at the engine's current marks and prices."""
    state, config = engine.state, engine.config
    settle = config.settle_asset
    view = engine.margin_view()
    nets: dict[str, dict[str, Decimal]] = {}
    symbols = {settle}
    for aid in sorted(state.accounts):
        acc = state.accounts[aid]
        net = {asset: amount for asset, amount in acc.balances.items() if amount}
        for pos in acc.positions.values():
            if not pos.qty and not pos.isolated_margin:
                continue
            mark = view.marks.get(pos.symbol)
            if mark is None:
                raise InvalidInput(f"{pos.symbol} has no mark: positions cannot be valued")
            inverse = config.profile.instrument(pos.symbol).is_inverse
            net[settle] = net.get(settle, ZERO) + pos.pnl(mark, inverse) + pos.isolated_margin
        nets[aid] = net
        symbols.update(net)
    places = {symbol: (decimals or {}).get(symbol, _default_decimals(engine, symbol)) for symbol in sorted(symbols)}
    order = sorted(symbols)
    accounts: dict[str, Values] = {}
    deficit = ZERO
    for aid, net in nets.items():
        value = _value(net, view.asset_prices, settle, aid)
        if value < 0:
            deficit -= value
            accounts[aid] = tuple((0, 0) for _ in order)
            continue
        accounts[aid] = tuple(
            (_units(net.get(s, ZERO), places[s], ROUND_CEILING), 0) if net.get(s, ZERO) >= 0
            else (0, _units(-net[s], places[s], ROUND_FLOOR)) for s in order)
    owed = {settle: _units(deficit, places[settle], ROUND_CEILING)} if deficit else {}
    return Liabilities([{"symbol": s, "decimals": places[s]} for s in order], accounts, owed)


def _default_decimals(engine: Engine, symbol: str) -> int:
    """The settlement asset's money quantum; 8 for another asset."""
    if symbol == engine.config.settle_asset:
        return max(0, -int(engine.config.money_quantum.normalize().as_tuple().exponent))
    return DEFAULT_DECIMALS


def _value(net: Mapping[str, Decimal], prices: Mapping[str, Decimal], settle: str, aid: str) -> Decimal:
    """The account's value in the settlement asset at the engine's prices."""
    total = ZERO
    for asset, amount in net.items():
        if asset == settle:
            total += amount
            continue
        price = prices.get(asset)
        if price is None:
            if any(v < 0 for v in net.values()):
                raise InvalidInput(f"account {aid!r} holds {asset}, which has no price: it cannot be valued")
            continue
        total += amount * price
    return total


def snapshot_at(backend: JournalBackend, seq: int | None,
                decimals: Mapping[str, int] | None = None) -> tuple[Engine, dict[str, Any], Liabilities]:
    """Replay the journal from genesis to record ``seq`` (the last when ``None``), chain and
    events checked: the engine there, the snapshot header (without ``height``) and the
    liabilities."""
    if seq is not None and seq < 0:
        raise InvalidInput(f"--at {seq}: a journal seq is ≥ 0")
    config, head = open_genesis(backend, None)
    engine = Engine(config)
    last, head, problem = replay_tail(engine, _through(backend, seq), 1, head, tree=genesis_tree(backend))
    if problem is not None:
        raise JournalError(f"journal corrupt at seq {problem.seq}: {problem.message}")
    if seq is not None and last != seq:
        raise InvalidInput(f"the journal ends at seq {last}, before {seq}")
    owed = liabilities(engine, decimals)
    header: dict[str, Any] = {
        "v": POL_VERSION,
        "venue": config.profile.name,
        "journal_seq": last,
        "journal_head": head,
        "state_hash": engine.state_hash(),
        "assets": owed.assets,
        "taken_at_ms": engine.state.now_ms,
    }
    if owed.deficit:
        header["uncovered_deficit"] = {asset: str(units) for asset, units in owed.deficit.items()}
    return engine, header, owed


def _through(backend: JournalBackend, seq: int | None) -> Any:
    for stored in backend.records(1):
        if seq is not None and stored.seq > seq:
            return
        yield stored
