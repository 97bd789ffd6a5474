"""Signed checkpoints: C2SP signed notes whose body is an RFC 9162 tree head.

A note is ``body`` + ``"\\n"`` + signature lines; the body is the origin, the size, the base64
root, then extension lines (``chain-head <hex>``), each ending in a newline. A signature line
is ``— <name> base64(key ID ‖ Ed25519 signature of the body)``. A verifier key is
``<name>+<key ID hex>+base64(0x01 ‖ public key)``, with ``key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖
public key)[:4]``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from solvent_verify import VerifyError

__all__ = ["Checkpoint", "VerifierKey", "parse_vkey", "verify_note"]

_NAME = re.compile(r"[^\s+]+")
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
_MAX_NOTE = 1 << 20


@dataclass(frozen=True, slots=True)
class VerifierKey:
    name: str
    key_id: bytes
    public: Ed25519PublicKey


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...]


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise VerifyError(f"{what} is not base64") from None


def parse_vkey(text: str) -> VerifierKey:
    """Read ``<name>+<key ID hex>+<base64(0x01 ‖ key)>``; the key ID must be the key's."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not _NAME.fullmatch(parts[0]) or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise VerifyError("not a verifier key: expected <name>+<8 hex key id>+<base64 key>")
    raw = _b64(parts[2], "the verifier key")
    if len(raw) != 33 or raw[0] != 1:
        raise VerifyError("the verifier key is not an Ed25519 key")
    name, key_id = parts[0], bytes.fromhex(parts[1])
    if hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4] != key_id:
        raise VerifyError("the verifier key's id does not match its key")
    return VerifierKey(name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:]))


def _body(body: str) -> Checkpoint:
    lines = body.split("\n")[:-1]  # the body ends in a newline
    if len(lines) < 3 or not lines[0] or not _SIZE.fullmatch(lines[1]):
        raise VerifyError("malformed checkpoint: expected origin, size and root lines")
    root = _b64(lines[2], "the checkpoint root")
    if len(root) != 32:
        raise VerifyError("malformed checkpoint: the root is not 32 bytes")
    if any(not line for line in lines[3:]):
        raise VerifyError("malformed checkpoint: empty extension line")
    return Checkpoint(lines[0], int(lines[1]), root, tuple(lines[3:]))


def verify_note(note: str, key: VerifierKey) -> Checkpoint:
    """The checkpoint a note states, once a signature by ``key`` over its body checks."""
    if len(note) > _MAX_NOTE:
        raise VerifyError("the checkpoint is too large")
    body, sep, signatures = note.partition("\n\n")
    if not sep or not body or not signatures.endswith("\n"):
        raise VerifyError("malformed checkpoint: no blank line before the signatures")
    body += "\n"
    checkpoint = _body(body)
    signed = False
    for line in signatures[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise VerifyError("malformed checkpoint: a signature line must start with '— '")
        name, _, stamp = line[2:].rpartition(" ")
        if name != key.name:
            continue  # another key's signature: not ours to judge
        raw = _b64(stamp, "a signature")
        if len(raw) != 68 or raw[:4] != key.key_id:
            continue
        try:
            key.public.verify(raw[4:], body.encode())
        except InvalidSignature:
            raise VerifyError(f"bad signature by {key.name}") from None
        signed = True
    if not signed:
        raise VerifyError(f"no signature by {key.name} ({key.key_id.hex()})")
    return checkpoint
