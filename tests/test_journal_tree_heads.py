"""Checkpoint records carry the tree and chain heads of the records before them (issue 16,
item 1; ``verifiability.md`` §4.3): ``size``, ``mth`` (RFC 9162 over the records' bytes),
``chain_head`` (H of the record before) and ``state_hash``, plus the compact range the head is
computed from. The expected heads are computed here from RFC 9162's definitions, written
out below, not with the journal's own tree code.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest
from test_journal_common import config

from solvent.engine import Deposit
from solvent.journal import DurableEngine, JournalError, MemoryBackend, recover, verify
from solvent.journal.backend import StoredRecord, StoredSnapshot
from solvent.journal.codec import CodecError, decode_record
from solvent.journal.log_proofs import journal_checkpoint
from solvent.journal.snapshot import encode_state, snapshot_digest


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _mth(records: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1: MTH({d0}) = SHA-256(0x00 ‖ d0); for n > 1, k is the largest power of two
    below n and MTH(D[n]) = SHA-256(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n]))."""
    if len(records) == 1:
        return _sha(b"\x00" + records[0])
    k = 1
    while k * 2 < len(records):
        k *= 2
    return _sha(b"\x01" + _mth(records[:k]) + _mth(records[k:]))


def _chain(records: list[bytes]) -> str:
    """H_n = SHA-256(H_{n-1} ‖ bytes_n), H_{-1} = 32 zero bytes."""
    head = bytes(32)
    for payload in records:
        head = _sha(head + payload)
    return head.hex()


def _payloads(backend: MemoryBackend) -> list[bytes]:
    return [r.payload for r in backend.records(0)]


def _deposits(durable: DurableEngine, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        durable.apply(Deposit(f"acc{i % 3}", "USDT", Decimal(100 + i)))


def test_the_first_checkpoint_binds_the_tree_of_genesis_and_three_deposits() -> None:
    backend = MemoryBackend()
    durable = DurableEngine(backend, config(), snapshot_every=3)
    _deposits(durable, 3)  # deposits at seqs 1–3; the third flush queues a checkpoint at seq 4
    records = _payloads(backend)
    assert len(records) == 5
    raw = json.loads(records[4])
    assert list(raw) == ["v", "seq", "kind", "size", "mth", "chain_head", "state_hash", "compact_range"]
    assert (raw["v"], raw["seq"], raw["kind"], raw["size"]) == (3, 4, "checkpoint", 4)
    # four leaves: MTH = node(node(leaf0, leaf1), node(leaf2, leaf3)), a perfect tree, so the
    # compact range (one root per set bit of 4 = 0b100) is that root alone
    leaf = [_sha(b"\x00" + d) for d in records[:4]]
    expected = _sha(b"\x01" + _sha(b"\x01" + leaf[0] + leaf[1]) + _sha(b"\x01" + leaf[2] + leaf[3]))
    assert raw["mth"] == expected.hex() and raw["compact_range"] == [expected.hex()]
    assert raw["chain_head"] == _chain(records[:4])
    assert raw["state_hash"] == durable.state_hash()  # nothing changed the state since record 3


def test_every_checkpoint_binds_the_records_before_it_across_reopens() -> None:
    backend = MemoryBackend()
    durable = DurableEngine(backend, config(), snapshot_every=4)
    _deposits(durable, 7)
    durable.close()
    reopened = DurableEngine(backend, snapshot_every=4)  # recovers from a snapshot: the tree from its range
    assert reopened.recovery.snapshot_seq is not None
    _deposits(reopened, 11, start=7)
    reopened.close()
    records = _payloads(backend)
    checkpoints = [i for i, p in enumerate(records) if json.loads(p)["kind"] == "checkpoint"]
    assert len(checkpoints) >= 4 and checkpoints[-1] > reopened.recovery.snapshot_seq
    for seq in checkpoints:
        raw = json.loads(records[seq])
        assert raw["size"] == seq == raw["seq"]
        assert raw["mth"] == _mth(records[:seq]).hex(), seq
        assert raw["chain_head"] == _chain(records[:seq]), seq
        assert len(raw["compact_range"]) == bin(seq).count("1")
        signed = journal_checkpoint(backend, "venue", seq)  # what a signed checkpoint of that size says
        assert (signed.root.hex(), signed.chain_head) == (raw["mth"], raw["chain_head"])
    report = verify(backend)
    assert report.ok and report.checkpoints_checked == len(checkpoints)


def _rechained(records: list[bytes]) -> MemoryBackend:
    backend, head = MemoryBackend(), bytes(32)
    for seq, payload in enumerate(records):
        head = _sha(head + payload)
        backend.stored.append(StoredRecord(seq, head.hex(), payload))
    return backend


def _edited(records: list[bytes], seq: int, field: str, value: object) -> list[bytes]:
    raw = json.loads(records[seq])
    raw[field] = value
    return [*records[:seq], json.dumps(raw, separators=(",", ":")).encode(), *records[seq + 1:]]


@pytest.mark.parametrize(("field", "reason"), [
    ("chain_head", "checkpoint chain_head is not the hash of the record before it"),
    ("mth", "checkpoint mth differs from the tree of records 0–3"),
])
def test_a_checkpoint_whose_heads_disagree_with_the_records_is_reported_at_its_seq(field: str, reason: str) -> None:
    written = MemoryBackend()
    _deposits(DurableEngine(written, config(), snapshot_every=3), 4)  # deposits 1–3, checkpoint 4, deposit 5
    records = _payloads(written)
    other = _mth(records[1:4])  # the tree of other records: a consistent-looking head of the wrong history
    if field == "mth":  # its compact range must lead to it, or the record itself is malformed
        records = _edited(_edited(records, 4, "mth", other.hex()), 4, "compact_range", [other.hex()])
    else:
        records = _edited(records, 4, "chain_head", _chain(records[1:4]))
    backend = _rechained(records)  # the chain over the edited bytes is consistent: only the heads can tell
    report = verify(backend)
    assert [(p.seq, p.message) for p in report.mismatches] == [(4, reason)]
    recovered = recover(backend)
    assert recovered.problem is not None and (recovered.problem.seq, recovered.problem.message) == (4, reason)
    assert recovered.last_seq == 3


def _checkpoint_bytes(**fields: object) -> bytes:
    peak = _sha(b"\x00x").hex()
    raw: dict[str, object] = {"v": 3, "seq": 1, "kind": "checkpoint", "size": 1, "mth": peak,
                              "chain_head": "cd" * 32, "state_hash": "ef" * 32, "compact_range": [peak]}
    raw.update(fields)
    return json.dumps(raw, separators=(",", ":")).encode()


def test_a_well_formed_version_3_checkpoint_decodes() -> None:
    record = decode_record(_checkpoint_bytes())
    assert record.head is not None and (record.head.size, record.head.chain_head) == (1, "cd" * 32)


@pytest.mark.parametrize("payload", [
    _checkpoint_bytes(size=2),  # size is not the seq
    _checkpoint_bytes(size=True),  # a bool is not a size
    _checkpoint_bytes(compact_range=[]),  # one root per set bit of 1
    _checkpoint_bytes(compact_range=["ab" * 32]),  # a range that does not lead to mth
    _checkpoint_bytes(mth="AB" * 32),  # upper-case hex
    _checkpoint_bytes(chain_head="cd" * 31),  # short
    _checkpoint_bytes(seq=0, size=0, compact_range=[], mth=hashlib.sha256(b"").hexdigest()),  # seq 0 is genesis
    b'{"v":3,"seq":1,"kind":"command","input":{},"events":[]}',  # version 3 is a checkpoint
])
def test_a_malformed_version_3_checkpoint_is_refused(payload: bytes) -> None:
    with pytest.raises(CodecError):
        decode_record(payload)


def test_a_journal_with_version_1_checkpoints_is_continued_with_version_3_ones() -> None:
    """What an older writer left: a version 1 checkpoint (state hash only) and the snapshot
    bound to it. Reopened, recovery starts from that snapshot, reads the records before it for
    the tree, and the next checkpoint binds the whole history."""
    backend = MemoryBackend()
    old = DurableEngine(backend, config(), snapshot_every=10**9)  # no checkpoint is ever due
    _deposits(old, 5)
    digest = old.state_hash()
    legacy = b'{"v":1,"seq":6,"kind":"checkpoint","state_hash":"' + digest.encode() + b'"}'
    head = _sha(bytes.fromhex(old.head_hash) + legacy).hex()
    blob = encode_state(old.engine.state)
    backend.append([StoredRecord(6, head, legacy)], StoredSnapshot(6, head, digest, snapshot_digest(blob), blob))
    reopened = DurableEngine(backend, snapshot_every=4)
    assert reopened.recovery.snapshot_seq == 6 and reopened.recovery.replayed == 0
    _deposits(reopened, 3, start=5)  # deposits 7, 8, checkpoint 9 (8 // 4 = 2 > 6 // 4 = 1), deposit 10
    reopened.close()
    records = _payloads(backend)
    raw = json.loads(records[9])
    assert (raw["v"], raw["kind"], raw["mth"]) == (3, "checkpoint", _mth(records[:9]).hex())
    report = verify(backend)
    assert report.ok and report.checkpoints_checked == 2 and report.snapshots_checked == 2
    assert recover(backend).snapshot_seq == 9


def test_a_forged_compact_range_at_the_newest_snapshot_is_caught_by_a_reader_of_every_record() -> None:
    """Recovery starts the tree from the compact range of the checkpoint its snapshot is bound
    to, without reading the history. A range forged together with its mth (the chain rewritten
    from there, the snapshot's chain hash moved along) passes recovery; the service reads every
    record at start-up anyway and checks the writer's tree against them (``check_tree``), so the
    forged tree cannot carry into the checkpoints written next; ``verify`` names the record."""
    written = MemoryBackend()
    _deposits(DurableEngine(written, config(), snapshot_every=4), 6)
    records = _payloads(written)
    newest = max(s.seq for s in written.snapshots())
    assert newest == 5 and json.loads(records[5])["kind"] == "checkpoint"  # deposits 1–4, checkpoint 5
    peaks = [_sha(b"forged").hex(), _sha(b"\x00" + records[4]).hex()]  # size 5 = 0b101: two roots
    forged_mth = _sha(b"\x01" + bytes.fromhex(peaks[0]) + bytes.fromhex(peaks[1])).hex()
    records = _edited(_edited(records, 5, "compact_range", peaks), 5, "mth", forged_mth)
    backend = _rechained(records)
    for snap in written.snapshots():
        backend.stored_snapshots.append(StoredSnapshot(snap.seq, backend.stored[snap.seq].hash, snap.state_hash,
                                                       snap.digest, snap.blob))
    reopened = DurableEngine(backend)
    assert reopened.recovery.snapshot_seq == 5 and reopened.recovery.problem is None  # the documented gap
    with pytest.raises(JournalError, match="compact range was altered"):
        reopened.check_tree([_sha(b"\x00" + p) for p in records])
    pytest.importorskip("litestar", reason="the service extra is not installed")
    from solvent.service.venue import Venue

    with pytest.raises(JournalError, match="compact range was altered"):  # the service refuses to start
        Venue.open(DurableEngine(backend))
    genuine = DurableEngine(written)
    genuine.check_tree([_sha(b"\x00" + p) for p in _payloads(written)])  # the true journal passes
    assert [(p.seq, p.message) for p in verify(backend).mismatches] == [
        (5, "checkpoint mth differs from the tree of records 0–4")]


def test_recovery_skips_a_snapshot_whose_checkpoint_names_another_chain_head() -> None:
    written = MemoryBackend()
    _deposits(DurableEngine(written, config(), snapshot_every=4), 6)
    records = _edited(_payloads(written), 5, "chain_head", "ab" * 32)
    backend = _rechained(records)
    for snap in written.snapshots():
        backend.stored_snapshots.append(StoredSnapshot(snap.seq, backend.stored[snap.seq].hash, snap.state_hash,
                                                       snap.digest, snap.blob))
    recovered = recover(backend)
    assert any("chain_head is not the stored hash" in r for r in recovered.skipped_snapshots)
    assert recovered.problem is not None and recovered.problem.seq == 5
