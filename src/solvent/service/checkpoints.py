"""Signed checkpoints of the venue's journal and proofs against them, served over HTTP.

With a signer key (``serve --checkpoint-key FILE``, from ``solvent tlog keygen``), the
service signs the tree head of its durable journal (``journal/checkpoint_note.py``) at most
once per ``interval_s`` and keeps every checkpoint it has published, so that a client can
ask for an inclusion proof of a record, or a consistency proof between two checkpoints, and
check it with ``solvent-verify``. The tree's leaves are the venue's (``Venue.log_leaves``:
every durable record, kept up to date as batches commit), so a proof costs hashing the
subtrees it needs, never a read of the journal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from solvent.journal.chain import ZERO_HASH
from solvent.journal.checkpoint_note import Checkpoint, SignerKey, sign_checkpoint
from solvent.journal.log_proofs import TLOG_VERSION
from solvent.journal.tlog import consistency_proof, inclusion_proof, tree_hash

__all__ = ["CHECKPOINT_INTERVAL_S", "LogPublisher"]

CHECKPOINT_INTERVAL_S = 60.0
"""A new checkpoint is signed at most this often (when the journal grew)."""


@dataclass(slots=True)
class LogPublisher:
    key: SignerKey
    interval_s: float = CHECKPOINT_INTERVAL_S
    clock: Callable[[], float] = time.monotonic
    published: dict[int, str] = field(default_factory=dict)
    """Size → the signed note published for it."""
    _latest: int = 0
    _signed_at: float = float("-inf")
    _lock: Any = field(default_factory=threading.Lock)  # Any: Litestar reads these annotations
    """Signing runs in worker threads: one at a time, so the newest size never goes back."""

    def due(self, size: int) -> bool:
        """Whether ``latest`` would sign a new checkpoint for a journal of ``size`` records now."""
        return size > self._latest and (self.clock() - self._signed_at >= self.interval_s or not self.published)

    def latest(self, leaves: list[bytes], tip: tuple[int, str], state: str | None = None) -> tuple[int, str]:
        """The newest checkpoint: a new one over the first ``size`` of ``leaves`` (the durable
        journal; ``tip`` is ``(size, chain hash of record size − 1)``) when the last is older
        than the interval, with ``state``, the engine's state hash after record ``size − 1``
        (the note's ``state`` line, which account extracts are proven against)."""
        size, head = tip
        with self._lock:
            # without the state (the caller found no checkpoint due) nothing is signed: a note
            # always states the state hash at its size
            if state is not None and self.due(size):
                note = sign_checkpoint(Checkpoint(self.key.name, size, tree_hash(leaves[:size]), head or ZERO_HASH,
                                                  state), self.key)
                self.published[size] = note
                self._latest, self._signed_at = size, self.clock()
            if not self.published:
                raise LookupError("no checkpoint has been signed yet")
            return self._latest, self.published[self._latest]

    def inclusion(self, leaves: list[bytes], index: int, size: int, record: bytes) -> dict[str, Any]:
        return {"v": TLOG_VERSION, "origin": self.key.name, "size": size, "index": index,
                "record": record.decode(), "path": [h.hex() for h in inclusion_proof(leaves[:size], index)],
                "checkpoint": self.published[size]}

    def consistency(self, leaves: list[bytes], size1: int, size2: int) -> dict[str, Any]:
        return {"v": TLOG_VERSION, "origin": self.key.name, "size1": size1, "size2": size2,
                "path": [h.hex() for h in consistency_proof(leaves[:size2], size1)]}
