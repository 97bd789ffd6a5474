"""RFC 9162 (Certificate Transparency 2.0) proof verification, as the RFC writes it.

``root_from_inclusion`` is §2.1.3.2, ``check_consistency`` §2.1.4.2, over SHA-256 with the
0x00 leaf and 0x01 node prefixes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from solvent_verify import VerifyError

__all__ = ["check_consistency", "leaf_hash", "root_from_inclusion"]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (§2.1.3.2); ``VerifyError`` if it cannot lead to one."""
    if not 0 <= index < size:
        raise VerifyError(f"index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise VerifyError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerifyError("inclusion proof too short")
    return r


def check_consistency(size1: int, size2: int, root1: bytes, root2: bytes, path: Sequence[bytes]) -> None:
    """That the tree of ``size1`` with ``root1`` is a prefix of the tree of ``size2`` with
    ``root2`` (§2.1.4.2); ``VerifyError`` otherwise. Size 0 is refused: every log is an
    extension of the empty one, so a proof from it proves nothing."""
    if not 0 < size1 <= size2:
        raise VerifyError(f"no consistency from size {size1} to size {size2}")
    if size1 == size2:
        if path or root1 != root2:
            raise VerifyError("same size, but the roots or the proof differ")
        return
    proof = list(path)
    if not proof:
        raise VerifyError("empty consistency proof")
    if size1 & (size1 - 1) == 0:  # an exact power of two: the old root is a node of the new tree
        proof.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise VerifyError("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != root1 or sr != root2:
        raise VerifyError("the consistency proof does not link the two roots")
