"""RFC 9162 (Certificate Transparency 2.0) Merkle trees over the journal's stored records.

The leaves are the records' bytes exactly as stored (the same bytes the hash chain covers,
``journal/chain.py``), so a signed tree head (``journal/checkpoint_note.py``) commits to the
whole history up to its size, and two tree heads are linked by a consistency proof:

* ``leaf_hash(d) = SHA-256(0x00 ‖ d)``, ``node_hash(l, r) = SHA-256(0x01 ‖ l ‖ r)``;
* ``MTH`` of no leaves is ``SHA-256("")``; of more than one, the left subtree holds the
  largest power of two below the count (RFC 9162 §2.1.1);
* an inclusion proof is the audit path of §2.1.3.1, a consistency proof the one of §2.1.4.1.

This module makes proofs; checking them is the standalone verifier's job (``solvent_verify``,
written from the specification independently of this code), and the tests check every proof
made here with it.

``CompactRange`` keeps the right edge of the tree (one root per set bit of the size), so the
head of a growing log costs O(log n) memory and O(1) amortised hashing per record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "EMPTY_ROOT",
    "CompactRange",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "tree_hash",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The head of an empty log (RFC 9162 §2.1.1)."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n`` ≥ 2): the left subtree's size."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_hash(leaves: Sequence[bytes]) -> bytes:
    """``MTH`` of the leaf hashes ``leaves`` (already ``leaf_hash``-ed)."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(tree_hash(leaves[:k]), tree_hash(leaves[k:]))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaves`` (RFC 9162 §2.1.3.1), from the
    leaf's sibling up. ``IndexError`` when the leaf is not in the tree."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is not in a tree of {len(leaves)}")
    path: list[bytes] = []
    lo, hi = 0, len(leaves)
    siblings: list[tuple[int, int]] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo += k
    for start, end in reversed(siblings):
        path.append(tree_hash(leaves[start:end]))
    return path


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """The proof that the tree of the first ``old_size`` leaves is a prefix of the tree of all
    ``leaves`` (RFC 9162 §2.1.4.1). ``ValueError`` unless 0 < ``old_size`` ≤ the size."""
    n = len(leaves)
    if not 0 < old_size <= n:
        raise ValueError(f"no consistency proof from size {old_size} to size {n}")
    return _subproof(leaves, old_size, True)


def _subproof(leaves: Sequence[bytes], m: int, whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [tree_hash(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(leaves[:k], m, whole), tree_hash(leaves[k:])]
    return [*_subproof(leaves[k:], m - k, False), tree_hash(leaves[:k])]


@dataclass(slots=True)
class CompactRange:
    """The right edge of a growing tree: the roots of its perfect subtrees, left to right."""

    size: int = 0
    peaks: list[bytes] = field(default_factory=list)

    def append(self, data: bytes) -> None:
        """Add one record's bytes as the next leaf."""
        self.append_hash(leaf_hash(data))

    def append_hash(self, leaf: bytes) -> None:
        node = leaf
        size = self.size
        while size & 1:  # each trailing one bit of the old size is a peak this leaf completes
            node = node_hash(self.peaks.pop(), node)
            size >>= 1
        self.peaks.append(node)
        self.size += 1

    def extend(self, records: Iterable[bytes]) -> None:
        for data in records:
            self.append(data)

    def root(self) -> bytes:
        """``MTH`` of every leaf added so far."""
        if not self.peaks:
            return EMPTY_ROOT
        root = self.peaks[-1]
        for peak in reversed(self.peaks[:-1]):
            root = node_hash(peak, root)
        return root
