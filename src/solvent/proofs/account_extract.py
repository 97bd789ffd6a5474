"""Account extracts (``solvent-account-v1``): one account's whole state at a signed checkpoint,
with the path that binds it to the checkpoint's state hash (``solvent extract``; checked by
``solvent-verify account``; ``docs/verify.md``).

A checkpoint signed with a ``state`` line (``solvent tlog checkpoint`` writes one) states the
engine's state hash after its last record. That hash (``engine/state_digest.py``, version 3) is
SHA-256 of a sorted-key JSON document whose ``accounts.root`` is SHA-256 of 4,096 bucket hashes;
an account's bucket is the first 12 bits of SHA-256 of its id, a bucket's hash is SHA-256 of the
JSON list ``[[id, digest], …]`` of its accounts in id order, and an account's digest is SHA-256
of the sorted-key JSON ``[id, account]``. The extract holds each of those: the account as the
engine holds it (balances, positions with quantity and cost, orders, leverage, margin modes,
level), its bucket, the bucket hashes and the document. So a holder sees, under the venue's
signature, exactly what the venue's state says it holds: no other account is revealed beyond
the ids and digests sharing its bucket (about one in 4,096 accounts).
"""

from __future__ import annotations

from typing import Any

from solvent.engine.state_digest import StateDigest, account_digest, encode
from solvent.errors import InvalidInput
from solvent.journal.backend import JournalBackend, JournalError
from solvent.journal.checkpoint_note import parse_checkpoint
from solvent.journal.log_proofs import journal_checkpoint
from solvent.proofs.liabilities import snapshot_at

__all__ = ["EXTRACT_VERSION", "account_extract"]

EXTRACT_VERSION = "solvent-account-v1"


def account_extract(backend: JournalBackend, account_id: str, note: str) -> dict[str, Any]:
    """The extract of ``account_id`` at the signed checkpoint ``note`` (module docstring):
    ``InvalidInput`` when the note has no state line or the account no state there,
    ``JournalError`` when the journal's state there is not the one the note states."""
    checkpoint = parse_checkpoint(note)
    if checkpoint.state is None:
        raise InvalidInput("the checkpoint has no state line: sign one that has (solvent tlog checkpoint)")
    if journal_checkpoint(backend, checkpoint.origin, checkpoint.size).root != checkpoint.root:
        raise JournalError(f"the checkpoint's root is not this journal's tree of size {checkpoint.size}: another "
                           "journal, or a history that was rewritten")
    engine, header, _ = snapshot_at(backend, checkpoint.size - 1)
    if header["state_hash"] != checkpoint.state:
        raise JournalError(f"the journal's state after record {checkpoint.size - 1} is not the one the checkpoint "
                           "states: another journal, or a checkpoint signed on another state")
    acc = engine.state.accounts.get(account_id)
    if acc is None:
        raise InvalidInput(f"no account {account_id!r} at record {checkpoint.size - 1}")
    digest = StateDigest()
    document = digest.document(engine.state)
    bucket, buckets = digest.account_path(engine.state, account_id)
    assert [account_id, account_digest(acc)] in bucket
    return {"v": EXTRACT_VERSION, "checkpoint": note, "account_id": account_id, "account": encode(acc),
            "bucket": bucket, "buckets": buckets, "document": document}
