"""The hash chain: ``H_n = SHA-256(H_{n-1} ‖ payload_n)`` over raw bytes, ``H_{-1}`` = 32 zero bytes.

``payload_n`` is the canonical record exactly as stored; hashes are written as lowercase hex.
"""

from __future__ import annotations

import hashlib

__all__ = ["ZERO_HASH", "chain_hash"]

ZERO_HASH = "00" * 32
"""``H_{-1}``: what the genesis record (seq 0) is chained to."""


def chain_hash(previous_hex: str, payload: bytes) -> str:
    """``SHA-256(bytes.fromhex(previous_hex) + payload)`` as lowercase hex."""
    return hashlib.sha256(bytes.fromhex(previous_hex) + payload).hexdigest()
