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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from solvent.engine.core import Engine
from solvent.errors import InvalidInput
from solvent.journal.backend import JournalBackend, JournalError
from solvent.journal.codec import decode_record, pol_snapshot_record
from solvent.journal.durable_engine import DurableEngine
from solvent.journal.replay import PolCheck, genesis_tree, open_genesis, replay_tail
from solvent.proofs.pol import POL_VERSION, PolTree, Values, build_tree, root_summary, snapshot_id, tree_height
from solvent.units import ZERO, exact

__all__ = ["MAX_DECIMALS", "Liabilities", "liabilities", "pol_check", "record_pol", "snapshot_at"]

DEFAULT_DECIMALS = 8
MAX_DECIMALS = 30
"""The most decimals a PoL counts an asset in (``--decimals``' bound too)."""


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
    unknown = sorted(set(decimals or {}) - symbols)
    if unknown:
        raise InvalidInput(f"decimals given for {', '.join(unknown)}, which no account holds")
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
    engine = Engine(config, checked=False)
    last, head, problem = replay_tail(engine, _through(backend, seq), 1, head, tree=genesis_tree(backend))
    if problem is not None:
        raise JournalError(f"journal corrupt at seq {problem.seq}: {problem.message}")
    if seq is not None and last != seq:
        raise InvalidInput(f"the journal ends at seq {last}, before {seq}")
    owed = liabilities(engine, decimals)
    return engine, _header(engine, last, head, owed), owed


def _header(engine: Engine, seq: int, head: str, owed: Liabilities, venue: str | None = None) -> dict[str, Any]:
    """The snapshot header (without ``height``) of the state after record ``seq``, whose chain
    hash is ``head``."""
    header: dict[str, Any] = {
        "v": POL_VERSION,
        "venue": venue if venue is not None else engine.config.profile.name,
        "journal_seq": seq,
        "journal_head": head,
        "state_hash": engine.state_hash(),
        "assets": owed.assets,
        "taken_at_ms": engine.state.now_ms,
    }
    if owed.deficit:
        header["uncovered_deficit"] = {asset: str(units) for asset, units in owed.deficit.items()}
    return header


@exact
def record_pol(durable: DurableEngine, master: bytes, decimals: Mapping[str, int] | None = None,
               height: int | None = None, venue: str | None = None) -> tuple[int, PolTree, Liabilities]:
    """Publish a proof of liabilities of the journaled engine's current state in its journal: a
    checkpoint record, then a ``pol_snapshot`` record with the header, snapshot id and root
    (``DurableEngine.record_pol``), so that every signed checkpoint after it commits the venue to
    this one root. Its seq, the tree (for the holders' proofs) and the liabilities."""
    durable.flush()
    last = next(iter(durable.backend.records(durable.seq)), None)
    if last is not None and decode_record(last.payload).kind == "pol_snapshot":
        raise InvalidInput(f"record {last.seq} already publishes a root for this state (nothing happened since): "
                           "a second root for one state is what a split view looks like")
    built: list[tuple[PolTree, Liabilities]] = []

    def make(engine: Engine, seq: int, head: str) -> bytes:
        owed = liabilities(engine, decimals)
        tree = build_tree(_header(engine, seq, head, owed, venue), owed.accounts, master, height)
        built.append((tree, owed))
        summary = root_summary(tree)
        return pol_snapshot_record(seq + 1, summary["header"], summary["snapshot_id"], summary["root"])

    seq = durable.record_pol(make)
    tree, owed = built[-1]
    return seq, tree, owed


def pol_check(masters: Sequence[bytes] = ()) -> PolCheck:
    """The check ``verify`` makes of a ``pol_snapshot`` record (``journal/replay.py``): its
    header (assets, deficit) and root values are those of the liabilities of the replayed state,
    and its snapshot id that of its header; with the venue's master secrets (``masters``: the
    one each record was built with among them), the whole tree is rebuilt and its root hash
    compared too (without them, the hash cannot be: the leaves are salted)."""
    def check(engine: Engine, pol: dict[str, Any]) -> str | None:
        header = pol["header"]
        assets = header.get("assets")
        if not isinstance(assets, list) or not all(isinstance(a, dict) and type(a.get("decimals")) is int
                                                   and 0 <= a["decimals"] <= MAX_DECIMALS for a in assets):
            return f"pol_snapshot header names no assets, or an asset without whole decimals from 0 to {MAX_DECIMALS}"

        try:
            owed = liabilities(engine, {str(a.get("symbol")): int(a.get("decimals", -1)) for a in assets})
        except (InvalidInput, TypeError, ValueError) as exc:
            return f"pol_snapshot cannot be rebuilt from the replayed state: {exc}"
        height = header.get("height")
        try:
            if type(height) is not int:
                raise InvalidInput(f"height {height!r} is not a whole number")
            tree_height(len(owed.accounts), height)
        except InvalidInput as exc:
            return f"pol_snapshot header: {exc}"
        expected = _header(engine, header.get("journal_seq", -1), str(header.get("journal_head")), owed,
                           str(header.get("venue"))) | {"height": header.get("height")}
        if expected != header:
            differs = sorted(k for k in expected.keys() | header.keys() if expected.get(k) != header.get(k))
            return f"pol_snapshot header differs from the replayed state's liabilities ({', '.join(differs)})"
        if snapshot_id(header).hex() != pol["snapshot_id"]:
            return "pol_snapshot snapshot id is not its header's"
        totals = [[str(sum(v[i][0] for v in owed.accounts.values())), str(sum(v[i][1] for v in owed.accounts.values()))]
                  for i in range(len(assets))]
        if pol["root"].get("values") != totals:
            return "pol_snapshot root values are not the sums of the replayed state's liabilities"
        if not masters:
            return None
        for master in masters:  # a venue may have used more than one secret over the journal's life
            try:
                tree = build_tree({k: v for k, v in header.items() if k != "height"}, owed.accounts, master,
                                  header.get("height"))
            except InvalidInput as exc:
                return f"pol_snapshot cannot be rebuilt: {exc}"
            if tree.root[0].hex() == pol["root"].get("hash"):
                return None
        return ("pol_snapshot root hash is not the tree of the replayed state's liabilities under the secret(s) "
                "given")
    return check


def _through(backend: JournalBackend, seq: int | None) -> Any:
    for stored in backend.records(1):
        if seq is not None and stored.seq > seq:
            return
        yield stored
