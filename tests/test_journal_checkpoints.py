"""Snapshots are bound into the hash chain by checkpoint records (issue 10, item 3).

Before checkpoints, raising one balance in the newest snapshot and recomputing its digest
and state hash gave a venue that served the forged balance under an unchanged head hash.
Now each snapshot's state hash is also held by a chained checkpoint record at the same seq,
and recovery trusts a snapshot only when the two agree.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from test_journal_common import config

from solvent.engine import Deposit, Engine, PriceUpdate
from solvent.engine.state_digest import state_hash
from solvent.errors import InvalidInput
from solvent.journal import DurableEngine, MemoryBackend, SqliteBackend, recover, verify
from solvent.journal.backend import StoredRecord, StoredSnapshot
from solvent.journal.chain import ZERO_HASH, chain_hash
from solvent.journal.codec import CodecError, checkpoint_record, decode_record
from solvent.journal.explain import explain
from solvent.journal.snapshot import decode_state, encode_state, snapshot_digest
from solvent.journal.tlog import CompactRange


def _write(backend: SqliteBackend | MemoryBackend, deposits: int, snapshot_every: int) -> DurableEngine:
    durable = DurableEngine(backend, config(), snapshot_every=snapshot_every)
    for i in range(deposits):
        durable.apply(Deposit(f"acc{i % 3}", "USDT", Decimal(100)))
    return durable


def _tree(payloads: list[bytes]) -> CompactRange:
    tree = CompactRange()
    tree.extend(payloads)
    return tree


def test_a_version_1_checkpoint_record_still_decodes() -> None:
    digest = "ab" * 32
    payload = b'{"v":1,"seq":4,"kind":"checkpoint","state_hash":"' + digest.encode() + b'"}'
    record = decode_record(payload)
    assert (record.seq, record.kind, record.input, record.state_hash, record.head) == (4, "checkpoint", None,
                                                                                       digest, None)


@pytest.mark.parametrize("payload", [
    b'{"v":1,"seq":4,"kind":"checkpoint","state_hash":"' + b"AB" * 32 + b'"}',  # upper-case hex
    b'{"v":1,"seq":4,"kind":"checkpoint","state_hash":"' + b"ab" * 31 + b'"}',  # 62 characters
    b'{"v":1,"seq":0,"kind":"checkpoint","state_hash":"' + b"ab" * 32 + b'"}',  # seq 0 is genesis
    b'{"v":1,"seq":4,"kind":"checkpoint","state_hash":"' + b"ab" * 32 + b'","x":1}',  # extra field
    b'{"v":1,"seq":4,"kind":"checkpoint"}',
])
def test_a_malformed_checkpoint_record_is_refused(payload: bytes) -> None:
    with pytest.raises(CodecError):
        decode_record(payload)


def test_a_forged_snapshot_is_skipped_and_the_true_balance_served(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    # 9 deposits of 100 round-robin over acc0..acc2, one flush each, snapshot_every=3:
    # deposits at seqs 1–3, checkpoint 4 (3 // 3 = 1 > 0); 5, 6, checkpoint 7 (6 // 3 = 2 > 4 // 3);
    # 8, 9, checkpoint 10; 11, 12, checkpoint 13 (12 // 3 = 4 > 10 // 3): 9 deposits, 4 checkpoints.
    durable = _write(SqliteBackend(path), 9, 3)
    assert durable.seq == 13
    durable.close()
    with sqlite3.connect(path) as db:
        seqs = [row[0] for row in db.execute("SELECT seq FROM snapshots ORDER BY seq")]
        assert seqs == [7, 10, 13]  # the three newest: 4 went when 13 was stored
        blob = db.execute("SELECT blob FROM snapshots WHERE seq = 13").fetchone()[0]
        forged = decode_state(blob)
        assert forged.accounts["acc0"].balances["USDT"] == Decimal(300)  # deposits 1, 4, 7
        forged.accounts["acc0"].balances["USDT"] += Decimal(1_000_000)
        forged.deposits["USDT"] += Decimal(1_000_000)  # even the books balance
        forged_blob = encode_state(forged)
        db.execute("UPDATE snapshots SET blob = ?, digest = ?, state_hash = ? WHERE seq = 13",
                   (forged_blob, snapshot_digest(forged_blob), state_hash(forged)))
    reopened = DurableEngine(SqliteBackend(path))
    try:
        assert reopened.recovery.snapshot_seq == 10
        skipped = reopened.recovery.skipped_snapshots
        assert any("snapshot at 13" in r and "checkpoint record binds" in r for r in skipped)
        # acc0 received deposits 1, 4, 7 (all nine deposits: 3 each): 300 USDT, not 1,000,300
        assert reopened.engine.state.accounts["acc0"].balances["USDT"] == Decimal(300)
    finally:
        reopened.close()


def test_a_journal_written_before_checkpoints_recovers_from_genesis_and_verifies() -> None:
    backend = MemoryBackend()
    durable = _write(backend, 5, 10**9)  # no checkpoint is ever due
    assert durable.seq == 5
    # what an older writer stored: a snapshot with no checkpoint record at its seq
    blob = encode_state(durable.engine.state)
    backend.append([], StoredSnapshot(5, durable.head_hash, durable.state_hash(), snapshot_digest(blob), blob))
    recovered = recover(backend)
    assert recovered.problem is None and recovered.snapshot_seq is None and recovered.replayed == 5
    assert any("not bound to the chain" in r for r in recovered.skipped_snapshots)
    assert recovered.engine.state_hash() == durable.state_hash()
    report = verify(backend)
    assert report.ok and report.snapshots_checked == 1 and report.head_seq == 5


def _rechained(payloads: list[bytes]) -> MemoryBackend:
    backend, head = MemoryBackend(), ZERO_HASH
    for seq, payload in enumerate(payloads):
        head = chain_hash(head, payload)
        backend.stored.append(StoredRecord(seq, head, payload))
    return backend


def test_a_checkpoint_that_disagrees_with_the_replay_is_reported_at_its_seq() -> None:
    written = _write(MemoryBackend(), 4, 3)  # deposits 1–3, checkpoint 4, deposit 5
    payloads = [r.payload for r in written.backend.records(0)]  # type: ignore[attr-defined]
    assert decode_record(payloads[4]).kind == "checkpoint"
    wrong = Engine(config())
    wrong.apply(PriceUpdate("BTCUSDT", "binance", Decimal(50_000)))  # some other state's hash
    head = ZERO_HASH
    for payload in payloads[:4]:
        head = chain_hash(head, payload)
    payloads[4] = checkpoint_record(4, wrong.state_hash(), _tree(payloads[:4]), head)
    backend = _rechained(payloads)  # a consistent chain: only the replay can tell
    report = verify(backend)
    expected = [(4, "checkpoint state hash differs from the replayed state")]
    assert [(p.seq, p.message) for p in report.mismatches] == expected
    recovered = recover(backend)
    assert recovered.problem is not None and recovered.problem.seq == 4 and recovered.last_seq == 3


def test_explain_names_a_checkpoint_record_as_nothing_to_explain() -> None:
    written = _write(MemoryBackend(), 4, 3)
    with pytest.raises(InvalidInput, match="record 4 is a checkpoint record"):
        explain(written.backend, 4)


def test_an_edit_behind_the_newest_snapshot_is_caught_only_by_a_full_verification(tmp_path: Path) -> None:
    """Start-up checks the newest snapshot and the tail: a record changed behind the snapshot
    is not read at all. ``verify_full`` (``serve --verify-full``) reads everything first."""
    from solvent.journal import JournalError

    path = tmp_path / "journal.sqlite"
    _write(SqliteBackend(path), 9, 3).close()  # snapshots at 7, 10, 13 (see above)
    with sqlite3.connect(path) as db:
        payload = db.execute("SELECT payload FROM records WHERE seq = 2").fetchone()[0]
        assert b'"amount":"100"' in payload
        db.execute("UPDATE records SET payload = ? WHERE seq = 2", (payload.replace(b'"100"', b'"900"', 1),))
    quick = DurableEngine(SqliteBackend(path))
    assert quick.recovery.snapshot_seq == 13  # the documented limit: record 2 was never read
    quick.close()
    with pytest.raises(JournalError, match="full verification failed: record 2: hash mismatch"):
        DurableEngine(SqliteBackend(path), verify_full=True)


def test_a_checkpoint_and_snapshot_appended_past_the_head_file_are_not_trusted(tmp_path: Path) -> None:
    """Found by review: appending one chained checkpoint record and a snapshot of one's own
    making at the tail got a forged balance served, since a journal ahead of its head file
    (a crash between commit and head write) is accepted. A snapshot past the recorded head is
    now not used: the records after the head are replayed, and the planted checkpoint is
    checked against the replay."""
    from solvent.journal import JournalError
    from solvent.journal.head_file import HeadFile

    path = tmp_path / "journal.sqlite"
    head = HeadFile(tmp_path / "journal.sqlite.head")
    durable = DurableEngine(SqliteBackend(path), config(), snapshot_every=3, head_file=head)
    for i in range(9):
        durable.apply(Deposit(f"acc{i % 3}", "USDT", Decimal(100)))
    last, last_hash = durable.seq, durable.head_hash
    forged = decode_state(encode_state(durable.engine.state))
    durable.close()
    forged.accounts["acc0"].balances["USDT"] += Decimal(1_000_000)
    forged.deposits["USDT"] += Decimal(1_000_000)
    blob, digest = encode_state(forged), state_hash(forged)
    backend = SqliteBackend(path)
    payload = checkpoint_record(last + 1, digest, _tree([r.payload for r in backend.records(0)]), last_hash)
    planted_hash = chain_hash(last_hash, payload)
    backend.append([StoredRecord(last + 1, planted_hash, payload)],
                   StoredSnapshot(last + 1, planted_hash, digest, snapshot_digest(blob), blob))
    backend.close()
    assert head.read() == (last, last_hash)  # the head file was left alone
    with pytest.raises(JournalError, match=f"record {last + 1}: checkpoint state hash differs"):
        DurableEngine(SqliteBackend(path), head_file=head)
    assert head.read() == (last, last_hash)  # and is not moved to the planted head
