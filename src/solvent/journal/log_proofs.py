"""Checkpoints and log proofs of a stored journal: what ``solvent tlog`` writes.

* ``journal_checkpoint``: the tree head of the journal's first ``size`` records (all of them
  by default), with the hash-chain head, ready to sign (``checkpoint_note``).
* ``record_inclusion``: the ``solvent-tlog-v1`` inclusion proof of one record under a signed
  checkpoint: the record's exact stored bytes, its audit path, the checkpoint note.
* ``log_consistency``: the ``solvent-tlog-v1`` consistency proof between two checkpoints.

Every read checks the hash chain on the way (a damaged journal is refused, naming the
record), and a proof is only made against a checkpoint whose root is this journal's tree of
that size: a checkpoint of another journal, or of a history that was since rewritten, is
refused instead of producing a proof that cannot verify.

The record is carried as a JSON string of its stored bytes, not re-encoded as an object:
the journal's canonical encoding fixes its field order (``journal/codec.py``), so the bytes
are what the leaf hashes, and a verifier needs no knowledge of that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from solvent.errors import InvalidInput
from solvent.journal.backend import JournalBackend, JournalError
from solvent.journal.chain import ZERO_HASH, chain_hash
from solvent.journal.checkpoint_note import Checkpoint, parse_checkpoint
from solvent.journal.tlog import consistency_proof, inclusion_proof, leaf_hash, tree_hash

__all__ = ["TLOG_VERSION", "journal_checkpoint", "log_consistency", "record_inclusion"]

TLOG_VERSION = "solvent-tlog-v1"


class _Short(JournalError):
    """The journal holds fewer records than asked for."""


@dataclass(frozen=True, slots=True)
class _Log:
    leaves: list[bytes]
    payloads: list[bytes]
    heads: list[str]


def _read(backend: JournalBackend, size: int | None) -> _Log:
    """The first ``size`` records (all when ``None``), hash chain checked."""
    leaves: list[bytes] = []
    payloads: list[bytes] = []
    heads: list[str] = []
    previous = ZERO_HASH
    for stored in backend.records(0):
        if size is not None and stored.seq >= size:
            break
        expected = len(leaves)
        if stored.damage or stored.seq != expected:
            raise JournalError(f"journal corrupt at seq {expected}: {stored.damage or 'record missing'}")
        digest = chain_hash(previous, stored.payload)
        if digest != stored.hash:
            raise JournalError(f"journal corrupt at seq {expected}: hash mismatch")
        previous = digest
        leaves.append(leaf_hash(stored.payload))
        payloads.append(stored.payload)
        heads.append(digest)
    if size is not None and len(leaves) < size:
        raise _Short(f"the journal holds {len(leaves)} records, fewer than {size}")
    return _Log(leaves, payloads, heads)


def journal_checkpoint(backend: JournalBackend, origin: str, size: int | None = None, *,
                       state: bool = False) -> Checkpoint:
    """The tree head of the first ``size`` records (every record when ``None``); ``state``: with
    the engine's state hash after the last of them (the journal replayed from genesis, events
    checked), so that account extracts can be proven against the checkpoint."""
    if size is not None and size < 1:
        raise InvalidInput("a checkpoint covers at least the genesis record: size ≥ 1")
    try:
        log = _read(backend, size)
    except _Short as short:
        raise InvalidInput(str(short)) from None
    if not log.leaves:
        raise JournalError("the journal is empty")
    state_hash = None
    if state:
        from solvent.proofs.liabilities import snapshot_at

        state_hash = str(snapshot_at(backend, len(log.leaves) - 1)[1]["state_hash"])
    return Checkpoint(origin, len(log.leaves), tree_hash(log.leaves), log.heads[-1], state_hash)


def _matching(log: _Log, note: str) -> Checkpoint:
    checkpoint = parse_checkpoint(note)
    if tree_hash(log.leaves[:checkpoint.size]) != checkpoint.root:
        raise JournalError(f"the checkpoint's root is not this journal's tree of size {checkpoint.size}: "
                           "another journal, or a history that was rewritten")
    return checkpoint


def record_inclusion(backend: JournalBackend, index: int, note: str) -> dict[str, Any]:
    """Proof that record ``index`` is in the tree the signed checkpoint ``note`` states."""
    size = parse_checkpoint(note).size
    if not 0 <= index < size:
        raise InvalidInput(f"record {index} is not under a checkpoint of size {size}")
    log = _read(backend, size)
    checkpoint = _matching(log, note)
    return {
        "v": TLOG_VERSION,
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "index": index,
        "record": log.payloads[index].decode(),
        "path": [h.hex() for h in inclusion_proof(log.leaves, index)],
        "checkpoint": note,
    }


def log_consistency(backend: JournalBackend, old_note: str, new_note: str) -> dict[str, Any]:
    """Proof that the tree of ``old_note`` is a prefix of the tree of ``new_note``."""
    old, new = parse_checkpoint(old_note), parse_checkpoint(new_note)
    if old.origin != new.origin:
        raise JournalError(f"the checkpoints are of two logs: {old.origin!r} and {new.origin!r}")
    if not 0 < old.size <= new.size:
        raise InvalidInput(f"no consistency proof from size {old.size} to size {new.size}: the old checkpoint "
                           "must be the smaller")
    log = _read(backend, new.size)
    _matching(log, old_note)
    _matching(log, new_note)
    return {
        "v": TLOG_VERSION,
        "origin": new.origin,
        "size1": old.size,
        "size2": new.size,
        "path": [h.hex() for h in consistency_proof(log.leaves, old.size)],
    }
