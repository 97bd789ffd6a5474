"""Proof of liabilities ``solvent-pol-v1``: a Merkle sum tree over every account's
per-asset (equity, debt), and each account's inclusion proof.

The normative description is ``docs/verify.md`` (after the project's verifiability
specification, §4.6). In short, with every value an unsigned integer in units of
``10^-decimals`` of its asset and ``E(values)`` the per-asset ``u128(equity) ‖ u128(debt)``:

* ``snapshot_id = SHA-256("solvent-pol-v1/snapshot" ‖ canonical(header))``;
* an account's ``salt = HMAC-SHA256(master, snapshot_id ‖ account id)`` (sent to its holder
  only) and ``id_hash = SHA-256("solvent-pol-v1/id" ‖ salt ‖ account id)``;
* ``leaf = SHA-256(0x00 ‖ snapshot_id ‖ id_hash ‖ E(values))``; a pad (to fill the tree to
  ``2^height`` leaves) is ``SHA-256(0x02 ‖ snapshot_id ‖ pad_secret ‖ u64(i))`` with zero
  values, ``pad_secret = HMAC-SHA256(master, "pad" ‖ snapshot_id)``;
* leaves sorted by key (``id_hash``, or the pad's hash): a fresh order every snapshot;
* ``node = SHA-256(0x01 ‖ h_L ‖ E(v_L) ‖ h_R ‖ E(v_R))``, its values the sums. **Both
  children's values are in the preimage**: a node that states only the sum (Maxwell's
  original shape) lets a venue show two holders proofs that under-count them both.

Leaf values must be below 2^64, or the tree is refused; with at most 2^40 leaves, no sum
reaches 2^128.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from solvent.errors import InvalidInput

__all__ = [
    "POL_VERSION",
    "PolTree",
    "Values",
    "build_tree",
    "canonical",
    "encode_values",
    "proof_file_name",
    "prove",
    "snapshot_id",
    "tree_height",
]

POL_VERSION = "solvent-pol-v1"
LEAF_LIMIT = 1 << 64
NODE_LIMIT = 1 << 128
MAX_HEIGHT = 40
assert LEAF_LIMIT << MAX_HEIGHT < NODE_LIMIT  # no sum can reach the node limit (``_Entry``)

Values = tuple[tuple[int, int], ...]
"""Per asset, in header order: (equity, debt)."""


def canonical(value: Any) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8, no floats (refused)."""
    _no_floats(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _no_floats(value: Any) -> None:
    if isinstance(value, float):
        raise InvalidInput("canonical JSON holds no floats")
    if isinstance(value, dict):
        for item in value.values():
            _no_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _no_floats(item)


def snapshot_id(header: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(b"solvent-pol-v1/snapshot" + canonical(dict(header))).digest()


def encode_values(values: Values) -> bytes:
    return b"".join(e.to_bytes(16, "big") + d.to_bytes(16, "big") for e, d in values)


def _pack(values: Values) -> int:
    """The values as one integer whose big-endian 16-byte fields are ``E(values)``'s."""
    packed = 0
    for equity, debt in values:
        packed = (((packed << 128) | equity) << 128) | debt
    return packed


def _unpack(packed: int, width: int) -> Values:
    fields = [(packed >> (128 * (width - 1 - i))) & (NODE_LIMIT - 1) for i in range(width)]
    return tuple((fields[i], fields[i + 1]) for i in range(0, width, 2))


_Entry = tuple[bytes, bytes, int]
"""A tree entry: its hash, its values encoded (``E``), its values packed (``_pack``). Leaf values
are below 2^64 and a tree has at most 2^40 leaves, so every sum stays below 2^104: packed values
add field by field with no carry, and no node can reach the 2^128 limit."""


def _parent(left: _Entry, right: _Entry, size: int, sha256: Any = hashlib.sha256) -> _Entry:
    total = left[2] + right[2]
    return sha256(b"\x01" + left[0] + left[1] + right[0] + right[1]).digest(), total.to_bytes(size, "big"), total


@dataclass(frozen=True, slots=True)
class PolTree:
    header: dict[str, Any]
    snapshot_id: bytes
    levels: list[list[_Entry]]
    """``levels[0]`` the leaves in tree order, ``levels[-1]`` the root alone."""
    accounts: dict[str, tuple[int, bytes]]
    """Account id → (leaf index, salt)."""

    @property
    def root(self) -> tuple[bytes, Values]:
        return self.node(len(self.levels) - 1, 0)

    def node(self, level: int, index: int) -> tuple[bytes, Values]:
        digest, _, packed = self.levels[level][index]
        return digest, _unpack(packed, 2 * len(self.header["assets"]))


MAX_PADDING = 1 << 22
"""The most padding leaves a fixed height may add to the accounts: every leaf is built in memory
(height 20 over a few accounts took 7 s and 680 MB here), and the padding is shuffled among the
accounts' leaves, so it cannot be summed up in subtrees without revealing where the accounts are."""


def tree_height(count: int, height: int | None) -> int:
    """The height of a tree of ``count`` accounts: the least that holds them, or ``height`` if it
    does, is at most ``MAX_HEIGHT`` and pads with at most ``MAX_PADDING`` leaves (``InvalidInput``
    if not)."""
    least = max(1, (count - 1).bit_length())
    if height is None:
        return least
    if not least <= height <= MAX_HEIGHT:
        raise InvalidInput(f"height {height}: {count} accounts need a height from {least} to {MAX_HEIGHT}")
    padding = (1 << height) - count
    if padding > MAX_PADDING:
        most = max(least, (count + MAX_PADDING).bit_length() - 1)
        raise InvalidInput(f"height {height}: {count} accounts would be padded with {padding:,} leaves, each built in "
                           f"memory; at most {MAX_PADDING:,} (a height up to {most} here)")
    return height


def build_tree(header: Mapping[str, Any], accounts: Mapping[str, Values], master: bytes,
               height: int | None = None) -> PolTree:
    """The tree of ``accounts`` (values in the order of ``header["assets"]``). ``header`` is
    the snapshot header without ``height``, which is added: the least that holds every
    account, or ``height`` (a venue may publish a fixed one to hide its growth)."""
    assets = header.get("assets")
    if not isinstance(assets, list) or not assets:
        raise InvalidInput("the header names no assets")
    full = dict(header)
    full["v"] = POL_VERSION
    full["height"] = h = tree_height(len(accounts), height)
    snap = snapshot_id(full)
    sha256 = hashlib.sha256
    size = 32 * len(assets)
    salted = hmac.new(master, snap, "sha256")
    keyed: list[tuple[bytes, _Entry, str | None, bytes]] = []  # (sort key, entry, account, salt)
    for account_id, values in accounts.items():
        if len(values) != len(assets) or any(not (0 <= e < LEAF_LIMIT and 0 <= d < LEAF_LIMIT) for e, d in values):
            raise InvalidInput(f"account {account_id!r}: one (equity, debt) per asset, each from 0 to 2^64 − 1")
        name = account_id.encode()
        mac = salted.copy()
        mac.update(name)
        salt = mac.digest()
        ident = sha256(b"solvent-pol-v1/id" + salt + name).digest()
        packed = _pack(values)
        encoded = packed.to_bytes(size, "big")
        keyed.append((ident, (sha256(b"\x00" + snap + ident + encoded).digest(), encoded, packed), account_id, salt))
    zero_encoded = bytes(size)
    pad_secret = hmac.digest(master, b"pad" + snap, "sha256")
    for i in range((1 << h) - len(accounts)):
        pad = sha256(b"\x02" + snap + pad_secret + i.to_bytes(8, "big")).digest()
        keyed.append((pad, (pad, zero_encoded, 0), None, b""))
    keyed.sort(key=lambda item: item[0])
    level = [entry for _, entry, _, _ in keyed]
    levels = [level]
    while len(level) > 1:
        level = [_parent(level[i], level[i + 1], size) for i in range(0, len(level), 2)]
        levels.append(level)
    placed = {account: (i, salt) for i, (_, _, account, salt) in enumerate(keyed) if account is not None}
    return PolTree(full, snap, levels, placed)


def _strings(values: Values) -> list[list[str]]:
    return [[str(e), str(d)] for e, d in values]


def prove(tree: PolTree, account_id: str) -> dict[str, Any]:
    """The account's inclusion proof (the JSON ``solvent-verify pol`` checks)."""
    placed = tree.accounts.get(account_id)
    if placed is None:
        raise InvalidInput(f"account {account_id!r} is not in the snapshot")
    index, salt = placed
    path: list[dict[str, Any]] = []
    at = index
    for level in range(len(tree.levels) - 1):
        digest, values = tree.node(level, at ^ 1)
        path.append({"hash": digest.hex(), "values": _strings(values)})
        at >>= 1
    root_hash, root_values = tree.root
    return {
        "v": POL_VERSION,
        "header": tree.header,
        "snapshot_id": tree.snapshot_id.hex(),
        "root": {"hash": root_hash.hex(), "values": _strings(root_values)},
        "leaf": {"index": index, "account_id": account_id, "salt": salt.hex(),
                 "values": _strings(tree.node(0, index)[1])},
        "path": path,
    }


def root_summary(tree: PolTree) -> dict[str, Any]:
    """What a venue publishes: the header, the snapshot id, the root hash and totals."""
    root_hash, root_values = tree.root
    assets: Sequence[Mapping[str, Any]] = tree.header["assets"]
    return {
        "v": POL_VERSION,
        "header": tree.header,
        "snapshot_id": tree.snapshot_id.hex(),
        "root": {"hash": root_hash.hex(), "values": _strings(root_values)},
        "totals": {a["symbol"]: {"equity": str(e), "debt": str(d)} for a, (e, d) in zip(assets, root_values,
                                                                                          strict=True)},
    }


_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]{1,120}")


def proof_file_name(account_id: str) -> str:
    """The file an account's proof is written to: ``<id>.json`` for an id that is a safe file
    name, else ``id-<SHA-256 of the id>.json`` (an id that itself starts with ``id-`` takes the
    hashed name too, so no two accounts share a file; and so does ``index``, in any case, whose
    name is the folder's ``index.json``)."""
    if _SAFE_NAME.fullmatch(account_id) and account_id not in (".", "..") and not account_id.startswith("id-") and (
            account_id.lower() != "index"):
        return f"{account_id}.json"
    return "id-" + hashlib.sha256(account_id.encode()).hexdigest() + ".json"
