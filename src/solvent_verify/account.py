"""Account extracts ``solvent-account-v1`` (``docs/verify.md``): one account's state, bound to
the state hash a signed checkpoint states.

The checks, in order: the checkpoint's signature and its ``state <hex>`` line; the document's
SHA-256 (sorted-key compact ASCII JSON) is that state hash, and it is a version-3 state
document; the 4,096 bucket hashes hash (concatenated, raw) to the document's ``accounts.root``;
the account's bucket (the first 12 bits of SHA-256 of its id) lists ids of that bucket only,
each once, in order, and hashes (the JSON list ``[[id, digest], …]``) to that bucket's hash; the
account's entry in it is SHA-256 of the sorted-key JSON ``[id, account]``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from solvent_verify import VerifyError, shown
from solvent_verify.note import VerifierKey, verify_note

__all__ = ["verify_extract"]

VERSION = "solvent-account-v1"
BUCKETS = 4096
FIELDS = frozenset({"v", "checkpoint", "account_id", "account", "bucket", "buckets", "document"})
_HEX = frozenset("0123456789abcdef")


def _json(value: Any, sort_keys: bool = False) -> bytes:
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _hex32(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def _bucket_of(account_id: str) -> int:
    return int.from_bytes(hashlib.sha256(account_id.encode("utf-8")).digest()[:2], "big") >> 4


def verify_extract(extract: Any, key: VerifierKey) -> str:
    """A one-line summary when the extract holds; ``VerifyError`` with the reason if not."""
    if not isinstance(extract, dict) or extract.get("v") != VERSION:
        raise VerifyError(f"not a {VERSION} extract")
    if set(extract) != FIELDS:
        raise VerifyError(f"malformed extract: its fields must be {', '.join(sorted(FIELDS))}")
    note, account_id, account = extract.get("checkpoint"), extract.get("account_id"), extract.get("account")
    bucket, buckets, document = extract.get("bucket"), extract.get("buckets"), extract.get("document")
    if not isinstance(note, str) or not isinstance(account_id, str) or not isinstance(account, dict) or not (
            isinstance(bucket, list) and isinstance(buckets, list) and isinstance(document, dict)):
        raise VerifyError("malformed extract: checkpoint, account_id, account, bucket, buckets and document")
    checkpoint = verify_note(note, key)
    states = [line[6:] for line in checkpoint.extensions if line.startswith("state ")]
    if len(states) != 1 or not _hex32(states[0]):
        raise VerifyError("the checkpoint states no state hash (one 'state <hex>' line)")
    if hashlib.sha256(_json(document, sort_keys=True)).hexdigest() != states[0]:
        raise VerifyError("the document is not the state the checkpoint states")
    accounts = document.get("accounts")
    if document.get("version") != 3 or not isinstance(accounts, dict) or not _hex32(accounts.get("root")):
        raise VerifyError("the document is not a version-3 state document")
    if len(buckets) != BUCKETS or not all(_hex32(b) for b in buckets):
        raise VerifyError(f"buckets: expected {BUCKETS} hashes (64 hex digits each)")
    if hashlib.sha256(b"".join(bytes.fromhex(b) for b in buckets)).hexdigest() != accounts["root"]:
        raise VerifyError("the bucket hashes are not the document's accounts root")
    index = _bucket_of(account_id)
    if not all(isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) and _hex32(e[1]) for e in bucket):
        raise VerifyError("malformed extract: bucket entries are [id, digest]")
    ids = [e[0] for e in bucket]
    if ids != sorted(set(ids)) or any(_bucket_of(i) != index for i in ids):
        raise VerifyError("the bucket lists ids out of order, twice, or from another bucket")
    if hashlib.sha256(_json(bucket)).hexdigest() != buckets[index]:
        raise VerifyError(f"the bucket is not bucket {index} of the state")
    digest = hashlib.sha256(_json([account_id, account], sort_keys=True)).hexdigest()
    if [account_id, digest] not in bucket:
        raise VerifyError(f"{shown(account_id)}: the account stated is not the one in the state")
    balances, positions, orders = (account.get(k) for k in ("balances", "positions", "orders"))
    held = ", ".join(f"{shown(asset)} {shown(amount)}" for asset, amount in sorted(balances.items())) if isinstance(
        balances, dict) else ""
    count = {name: len(v) if isinstance(v, list | dict) else 0 for name, v in (("positions", positions),
                                                                                ("orders", orders))}
    return (f"ok: {shown(account_id)} after record {checkpoint.size - 1} of {shown(checkpoint.origin)}: "
            f"{held or 'no balance'}; {count['positions']} position(s), {count['orders']} order(s), "
            f"level {shown(account.get('level'))}")
