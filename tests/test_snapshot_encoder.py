"""A checkpoint's snapshot costs what changed since the last one, not the whole venue.

``SnapshotEncoder`` keeps each account's snapshot bytes until ``Engine.account_changes`` says
a command touched the account. Its bytes must be ``encode_state``'s, computed from nothing,
after any command: accounts liquidated, deleveraged, refused commands, a rolled-back command,
a restore.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_journal_common import config, stream

from solvent.engine import CancelOrder, Command, Deposit, Engine, Fill, PlaceOrder, PriceUpdate, core, state_digest
from solvent.engine.denials import DenyCode
from solvent.engine.kept_orders import MIN_ORDERS
from solvent.engine.state import OrderState
from solvent.engine.state_digest import state_hash
from solvent.journal import SqliteBackend, decode_state, encode_state, snapshot
from solvent.journal._typed import CodecError, encode_value
from solvent.journal.codec import canonical_json
from solvent.journal.durable_engine import DurableEngine
from solvent.journal.snapshot import SnapshotEncoder
from solvent.model import PositionSide, Side


def test_the_kept_bytes_are_the_bytes_from_nothing_after_every_command() -> None:
    engine, encoder, seen = Engine(config()), SnapshotEncoder(), set()
    for i, cmd in enumerate(stream(3_000, seed=7)):
        seen.update(type(e).__name__ for e in engine.apply(cmd).events)
        if i % 7 == 0 or i > 2_980:
            kept = encoder.encode(engine)
            assert kept == encode_state(engine.state), f"after command {i}: {cmd}"
    assert decode_state(encoder.encode(engine)) == engine.state
    assert {"MarginCall", "LiquidationStep", "AutoDeleveraged", "Rejected"} <= seen


def _three_accounts(amount: int = 1_000) -> Engine:
    engine = Engine(config())
    engine.apply(PriceUpdate("BTCUSDT", "binance", Decimal(50_000)))
    for aid in ("a", "b", "c"):
        engine.apply(Deposit(aid, "USDT", Decimal(amount)))
    return engine


def _count_encodings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make ``snapshot.encode_account`` record the id of each account it encodes, in this list."""
    encoded: list[str] = []
    real = snapshot.encode_account

    def counting(acc: object, kept: object = None) -> bytes:
        encoded.append(acc.account_id)  # type: ignore[attr-defined]
        return real(acc, kept)  # type: ignore[arg-type]

    monkeypatch.setattr(snapshot, "encode_account", counting)
    return encoded


def test_only_the_accounts_a_command_touched_are_encoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    engine, encoder = _three_accounts(), SnapshotEncoder()
    encoded = _count_encodings(monkeypatch)

    def encode_and_count() -> list[str]:
        """The accounts ``encoder.encode`` encoded, its bytes compared with ``encode_state``'s."""
        encoded.clear()
        blob = encoder.encode(engine)
        names = sorted(encoded)
        assert blob == encode_state(engine.state)
        return names

    assert encode_and_count() == ["a", "b", "c"]
    assert encode_and_count() == []  # nothing changed
    engine.apply(Deposit("b", "USDT", Decimal(5)))
    assert not engine.apply(Deposit("c", "USDT", Decimal(-1))).accepted  # refused: changes nothing
    assert encode_and_count() == ["b"]
    assert b'"account_id":"b","balances":{"USDT":"1005"}' in encoder.encode(engine)  # 1,000 + 5
    engine.apply(Fill("t1", "BTCUSDT", Decimal(50_000), Decimal("0.01"), "a", "c"))
    assert encode_and_count() == ["a", "c"]


def test_a_rolled_back_command_and_a_restore_forget_what_was_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    engine, encoder = _three_accounts(), SnapshotEncoder()
    engine.apply(Fill("t1", "BTCUSDT", Decimal(50_000), Decimal("0.1"), "a", "b"))
    encoder.encode(engine)

    def fail(*args: object, **kwargs: object) -> object:
        raise ArithmeticError("late failure")

    monkeypatch.setattr(core, "liquidate_account", fail)
    # 0.1 BTC bought at 50,000 on 1,000 of margin is below its MM near 40,160: falling 4 % at a
    # time (under the jump guard), the failing liquidation runs at 39,124 at the latest
    price, refused = Decimal(50_000), engine.apply(Deposit("c", "USDT", Decimal(1)))
    while refused.denial is None and price > 39_000:
        price = (price * Decimal("0.96")).quantize(Decimal(1))
        refused = engine.apply(PriceUpdate("BTCUSDT", "binance", price))
    assert refused.denial is not None and refused.denial.code is DenyCode.INTERNAL_ERROR
    assert encoder.encode(engine) == encode_state(engine.state)
    restored = Engine(config(), state=decode_state(encode_state(engine.state)))
    restored.apply(Deposit("a", "USDT", Decimal(7)))
    assert encoder.encode(restored) == encode_state(restored.state)
    assert encoder.encode(engine) == encode_state(engine.state)


def test_another_engine_with_the_same_versions_is_encoded_from_its_own_state() -> None:
    """Two engines fed the same kinds of commands number their accounts' versions alike."""
    first, second, encoder = _three_accounts(1_000), _three_accounts(2_000), SnapshotEncoder()
    assert [first.account_changes.version(a) for a in "abc"] == [second.account_changes.version(a) for a in "abc"]
    encoder.encode(first)
    assert encoder.encode(second) == encode_state(second.state)
    assert b'"balances":{"USDT":"2000"}' in encode_state(second.state)


def test_a_journal_checkpoint_stores_the_state_it_binds(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "j.sqlite"
    durable = DurableEngine(SqliteBackend(path), config(), snapshot_every=50)
    for cmd in stream(400, seed=3):
        durable.apply(cmd)
    digest = durable.state_hash()
    durable.close()
    reopened = DurableEngine(SqliteBackend(path), config())
    assert reopened.recovery.snapshot_seq is not None and reopened.recovery.snapshot_seq > 300
    assert reopened.state_hash() == digest
    reopened.close()


def test_after_a_restart_the_first_checkpoint_encodes_what_the_tail_touched(tmp_path: object,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Recovery checks the snapshot's canonical form by encoding every account: the encoder it
    hands over keeps those bytes, so the first checkpoint after a restart does not encode the
    whole venue again."""
    from pathlib import Path

    path = Path(str(tmp_path)) / "j.sqlite"
    durable = DurableEngine(SqliteBackend(path), config(), snapshot_every=300)
    cmds = stream(420, seed=5)
    for cmd in cmds:
        durable.apply(cmd)
    durable.close()
    reopened = DurableEngine(SqliteBackend(path), config())
    engine = reopened.engine
    assert reopened.recovery.snapshot_seq is not None and reopened.recovery.replayed > 0
    touched = {aid for aid in engine.state.accounts if engine.account_changes.version(aid) != 0}
    assert 0 < len(touched) < len(engine.state.accounts)  # the tail touched some accounts, not all
    encoded = _count_encodings(monkeypatch)
    blob = reopened.recovery.snapshots.encode(engine)
    assert set(encoded) == touched
    monkeypatch.undo()
    assert blob == encode_state(engine.state)
    reopened.close()


def _maker(orders: int) -> Engine:
    """Account ``m`` with ``orders`` resting buy orders (m0, m1, …) at 40,000 and below, the mark
    at 50,000; ``t`` funded to take the other side of fills."""
    engine = Engine(config())
    engine.apply(PriceUpdate("BTCUSDT", "binance", Decimal(50_000)))
    engine.apply(Deposit("m", "USDT", Decimal(1_000_000)))
    engine.apply(Deposit("t", "USDT", Decimal(1_000_000)))
    for i in range(orders):
        placed = engine.apply(PlaceOrder("m", f"m{i}", "BTCUSDT", Side.LONG, Decimal("0.010"), Decimal(40_000 - i)))
        assert placed.accepted, placed.denial
    return engine


def test_an_account_with_many_orders_is_encoded_right_through_fills_cancels_and_a_restore() -> None:
    """The kept order bytes (``engine/kept_orders.py``) splice into the account's bytes and into
    its state-hash document: both must be the bytes from nothing after every command, as
    orders are added, partly filled (a new order object), cancelled, and below the threshold."""
    engine, encoder = _maker(MIN_ORDERS + 4), SnapshotEncoder()

    def same() -> None:
        assert encoder.encode(engine) == encode_state(engine.state)
        assert engine.state_hash() == state_hash(engine.state)  # kept members vs ``account_digest``

    same()
    steps: list[Command] = [
        PlaceOrder("m", "late", "BTCUSDT", Side.LONG, Decimal("0.010"), Decimal(39_000)),
        Fill("f1", "BTCUSDT", Decimal(40_000), Decimal("0.004"), "m", "t", buy_order_id="m0"),  # m0 partly filled
        CancelOrder("m", "m3"),
        Deposit("m", "USDT", Decimal(5)),
    ] + [CancelOrder("m", f"m{i}") for i in range(4, MIN_ORDERS + 4)]  # below the threshold, then none
    for cmd in steps:
        assert engine.apply(cmd).accepted, cmd
        same()
    assert len(engine.state.accounts["m"].orders) < MIN_ORDERS
    restored = Engine(config(), state=decode_state(encode_state(engine.state)))
    restored.apply(Deposit("m", "USDT", Decimal(1)))
    assert encoder.encode(restored) == encode_state(restored.state)


def test_only_the_orders_a_command_added_are_encoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    engine, encoder = _maker(MIN_ORDERS * 3), SnapshotEncoder()
    encoded: list[str] = []
    real = snapshot._order_bytes

    def counting(order: OrderState) -> bytes:
        encoded.append(order.order_id)
        return real(order)

    encoder = SnapshotEncoder()
    monkeypatch.setattr(encoder._orders, "_encode", counting)
    encoder.encode(engine)
    assert len(encoded) == MIN_ORDERS * 3  # the first time, every order
    encoded.clear()
    engine.apply(PlaceOrder("m", "new", "BTCUSDT", Side.LONG, Decimal("0.010"), Decimal(30_000)))
    engine.apply(Fill("f1", "BTCUSDT", Decimal(40_000), Decimal("0.004"), "m", "t", buy_order_id="m0"))
    assert encoder.encode(engine) == encode_state(engine.state)
    assert sorted(encoded) == ["m0", "new"]  # the new order, and m0's remainder: a new object


@settings(max_examples=300, deadline=None)
@given(order_id=st.text(st.characters(exclude_categories=()), max_size=12),  # lone surrogates included
       symbol=st.sampled_from(["BTCUSDT", "ÉTH\u2028", "a\x7fb", 'q"\\', "\ud800x"]),
       side=st.sampled_from(list(Side)), slot=st.sampled_from(list(PositionSide)),
       qty=st.decimals(allow_nan=True, allow_infinity=True), price=st.decimals(allow_nan=False, allow_infinity=False),
       reduce_only=st.booleans())
def test_an_orders_fast_bytes_are_the_json_modules_bytes(order_id: str, symbol: str, side: Side, slot: PositionSide,
                                                         qty: Decimal, price: Decimal, reduce_only: bool) -> None:
    """msgspec writes the kept orders' bytes; Python's ``json`` (``canonical_json``, ``_json``) is
    the definition: any text (non-ASCII, DEL, control characters, quotes) and any decimal."""
    order = OrderState(order_id, symbol, side, qty, price, reduce_only, slot)
    try:
        expected = canonical_json(encode_value(order))
    except CodecError:  # a non-finite decimal: refused by both
        with pytest.raises(CodecError):
            snapshot._order_bytes(order)
    else:
        assert snapshot._order_bytes(order) == expected
    if qty.is_finite():  # the state hash has no encoding of a non-finite decimal (the engine holds none)
        member = state_digest._json({order_id: state_digest.encode(order)}, sort_keys=True)[1:-1]
        assert state_digest._order_member(order) == member


def test_verify_refuses_a_snapshot_whose_bytes_were_edited_with_their_digest(tmp_path: object) -> None:
    """Found by review: an edited snapshot blob with its digest recomputed verified (``verify``
    compared only the stored state-hash column with the replay), and recovery skipped it in
    silence. The bytes must hold the replayed state."""
    import sqlite3
    from pathlib import Path

    from solvent.journal import verify

    path = Path(str(tmp_path)) / "j.sqlite"
    durable = DurableEngine(SqliteBackend(path), config(), snapshot_every=50)
    for cmd in stream(200, seed=3):
        durable.apply(cmd)
    durable.close()
    backend = SqliteBackend(path)
    assert verify(backend).ok
    backend.close()
    with sqlite3.connect(path) as db:
        seq, blob = db.execute("SELECT seq, blob FROM snapshots ORDER BY seq DESC LIMIT 1").fetchone()
        forged = bytes(blob).replace(b'"balances":{"USDT":"', b'"balances":{"USDT":"9', 1)
        assert forged != bytes(blob)
        db.execute("UPDATE snapshots SET blob = ?, digest = ? WHERE seq = ?",
                   (forged, snapshot.snapshot_digest(forged), seq))
    db.close()
    backend = SqliteBackend(path)
    report = verify(backend)
    backend.close()
    assert not report.ok and any(p.seq == seq and "snapshot does not hold the replayed state" in p.message
                                 for p in report.mismatches), report
