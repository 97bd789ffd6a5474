"""Proof-of-liabilities inclusion proofs ``solvent-pol-v1`` (the specification's verifier steps).

Every value is a per-asset (equity, debt) pair of unsigned integers written as decimal strings;
``E(values)`` is each pair as two 16-byte big-endian integers. ``leaf = SHA-256(0x00 ‖
snapshot_id ‖ id_hash ‖ E(values))`` with ``id_hash = SHA-256("solvent-pol-v1/id" ‖ salt ‖
account id)``; ``node = SHA-256(0x01 ‖ h_L ‖ E(v_L) ‖ h_R ‖ E(v_R))`` with the values summed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["check_pol"]

VERSION = "solvent-pol-v1"
_DIGITS = re.compile(r"0|[1-9][0-9]*")
_HEX32 = re.compile(r"[0-9a-f]{64}")
Pairs = list[tuple[int, int]]


class _Refused(Exception):
    pass


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _number(text: Any) -> int:
    if not isinstance(text, str) or not text.isascii() or not _DIGITS.fullmatch(text):
        raise _Refused(f"malformed: bad value {text!r}")
    return int(text)


def _pairs(raw: Any, count: int) -> Pairs:
    if not isinstance(raw, list) or len(raw) != count:
        raise _Refused("shape")
    out = []
    for pair in raw:
        if not isinstance(pair, list) or len(pair) != 2:
            raise _Refused("shape")
        out.append((_number(pair[0]), _number(pair[1])))
    return out


def _encode(values: Pairs) -> bytes:
    return b"".join(e.to_bytes(16, "big") + d.to_bytes(16, "big") for e, d in values)


def _hash(raw: Any) -> bytes:
    if not isinstance(raw, str) or not _HEX32.fullmatch(raw):
        raise _Refused("malformed: bad hash")
    return bytes.fromhex(raw)


def _check(proof: Any, root_hex: str | None, expected: Sequence[tuple[int, int]] | None) -> None:
    if not isinstance(proof, dict) or proof.get("v") != VERSION:
        raise _Refused("version")
    header = proof.get("header")
    if not isinstance(header, dict) or header.get("v") != VERSION:
        raise _Refused("version")
    snapshot = hashlib.sha256(b"solvent-pol-v1/snapshot" + _canonical(header)).digest()
    if proof.get("snapshot_id") != snapshot.hex():
        raise _Refused("snapshot_id")
    assets, height = header.get("assets"), header.get("height")
    leaf, path, root = proof.get("leaf"), proof.get("path"), proof.get("root")
    if (not isinstance(assets, list) or not assets or type(height) is not int or not 1 <= height <= 40
            or not isinstance(leaf, dict) or not isinstance(path, list) or not isinstance(root, dict)):
        raise _Refused("shape")
    index = leaf.get("index")
    if type(index) is not int or not 0 <= index < 1 << height or len(path) != height:
        raise _Refused("shape")
    count = len(assets)
    values = _pairs(leaf.get("values"), count)
    siblings = [(_hash(p.get("hash") if isinstance(p, dict) else None),
                 _pairs(p.get("values") if isinstance(p, dict) else None, count)) for p in path]
    root_hash, root_values = _hash(root.get("hash")), _pairs(root.get("values"), count)
    if any(v >= 1 << 64 for pair in values for v in pair):
        raise _Refused("leaf range")
    if any(v >= 1 << 128 for _, pairs in siblings for pair in pairs for v in pair):
        raise _Refused("sibling range")
    if expected is not None and [tuple(p) for p in expected] != values:
        raise _Refused("not my balances")
    account, salt = leaf.get("account_id"), leaf.get("salt")
    if not isinstance(account, str) or not isinstance(salt, str):
        raise _Refused("shape")
    ident = hashlib.sha256(b"solvent-pol-v1/id" + _hash(salt) + account.encode()).digest()
    digest = hashlib.sha256(b"\x00" + snapshot + ident + _encode(values)).digest()
    for level, (sibling, sibling_values) in enumerate(siblings):
        total = [(a + c, b + d) for (a, b), (c, d) in zip(values, sibling_values, strict=True)]
        if any(v >= 1 << 128 for pair in total for v in pair):
            raise _Refused("overflow")
        if index >> level & 1:
            digest = hashlib.sha256(b"\x01" + sibling + _encode(sibling_values) + digest + _encode(values)).digest()
        else:
            digest = hashlib.sha256(b"\x01" + digest + _encode(values) + sibling + _encode(sibling_values)).digest()
        values = total
    if digest != root_hash:
        raise _Refused("root hash")
    if values != root_values:
        raise _Refused("root values")
    if root_hex is not None and root_hex.lower() != root_hash.hex():
        raise _Refused("not the published root")


def check_pol(proof: Any, root_hex: str | None = None,
              expected: Sequence[tuple[int, int]] | None = None) -> tuple[bool, str]:
    """``(True, "ok")``, or ``(False, reason)`` with the specification's reasons."""
    try:
        _check(proof, root_hex, expected)
    except _Refused as refused:
        return False, str(refused)
    return True, "ok"


def expected_from(statement: Mapping[str, Any], proof: Mapping[str, Any]) -> list[tuple[int, int]]:
    """A holder's statement ``{asset: [equity, debt]}`` in the proof header's asset order."""
    assets = proof.get("header", {}).get("assets", [])
    out = []
    for asset in assets:
        symbol = asset.get("symbol") if isinstance(asset, dict) else None
        pair = statement.get(symbol) if isinstance(symbol, str) else None
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError(f"the statement has no [equity, debt] for {symbol}")
        try:
            out.append((_number(pair[0]), _number(pair[1])))
        except _Refused as bad:
            raise ValueError(f"the statement's {symbol}: {bad}") from None
    extra = sorted(set(statement) - {a.get("symbol") for a in assets if isinstance(a, dict)}, key=str)
    for symbol in extra:
        pair = statement[symbol]
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError(f"the statement's {symbol}: not [equity, debt]")
        try:
            values = (_number(pair[0]), _number(pair[1]))
        except _Refused as bad:
            raise ValueError(f"the statement's {symbol}: {bad}") from None
        if values != (0, 0):  # found by audit: refused as the holder's bad input (exit 2), not as a failed check
            raise ProofLacks(f"the proof has no {symbol}, of which you expect {pair[0]} equity and {pair[1]} debt")
    return out


class ProofLacks(Exception):
    """The holder expects a balance in an asset the proof does not hold (a failed check, not bad input)."""
