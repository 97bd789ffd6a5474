"""Signed checkpoints: a journal tree head as a C2SP signed note, signed with Ed25519.

A checkpoint says "the journal of ``origin`` had ``size`` records, with RFC 9162 tree hash
``root`` (``journal/tlog.py``), hash-chain head ``chain-head`` (H of its last record) and, when
the signer replayed it, the engine's state hash after that record (a ``state <hex>`` line: what
account extracts are proven against)"::

    solvent.example/vector-liq-1
    8
    avgrUOaZtOs1vzCLx1PwQpMtYDhHxmkbg0SoMQrlwZM=
    chain-head c9081b77bf3340de013aa4257143fe749658ba471ce98319707e525b8364a47f

    — solvent.example/vector-liq-1 1qq87NEQi9c3F7Ql…

The signature line is ``— <key name> base64(key ID ‖ Ed25519 signature of the body)``, with
``key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]`` (C2SP signed-note). Keys are written
as the Go ``note`` package writes them: a signer key ``PRIVATE+KEY+<name>+<key ID hex>+
base64(0x01 ‖ seed)`` (kept secret) and a verifier key ``<name>+<key ID hex>+base64(0x01 ‖
public key)`` (published). Anyone holding the verifier key checks a checkpoint with
``solvent-verify checkpoint``; a venue that signs two checkpoints no consistency proof links
has signed evidence of a rewritten history.

Ed25519 is ``cryptography``'s (a dependency: the standalone verifier needs it too).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from solvent.errors import InvalidInput

__all__ = [
    "Checkpoint",
    "SignerKey",
    "checkpoint_body",
    "generate_key",
    "key_id",
    "note_signers",
    "parse_checkpoint",
    "read_signer_key",
    "sign_checkpoint",
]

_ED25519 = b"\x01"
_NAME = re.compile(r"[^\s+]+")
_HEX32 = re.compile(r"[0-9a-f]{64}")
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
_DASH = "\u2014 "


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: what a checkpoint note's body states."""

    origin: str
    size: int
    root: bytes
    chain_head: str | None = None
    """H of record ``size − 1`` (hex), binding the hash chain to the tree."""
    state: str | None = None
    """The engine's state hash after record ``size − 1`` (hex): what account extracts are
    proven against (``proofs/account_extract.py``)."""


@dataclass(frozen=True, slots=True)
class SignerKey:
    name: str
    seed: bytes

    def public_key(self) -> bytes:
        return _private(self.seed).public_key().public_bytes_raw()

    def verifier_key(self) -> str:
        public = self.public_key()
        return f"{self.name}+{key_id(self.name, public).hex()}+{base64.b64encode(_ED25519 + public).decode()}"

    def encoded(self) -> str:
        public = self.public_key()
        return (f"PRIVATE+KEY+{self.name}+{key_id(self.name, public).hex()}+"
                f"{base64.b64encode(_ED25519 + self.seed).decode()}")


def _private(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidInput(f"key name {name!r}: must be non-empty, without spaces or '+'")
    return name


def key_id(name: str, public_key: bytes) -> bytes:
    """``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]`` (C2SP signed-note)."""
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public_key).digest()[:4]


def generate_key(name: str) -> SignerKey:
    """A new random Ed25519 signer key for ``name`` (the log's origin, usually)."""
    import secrets

    _check_name(name)
    return SignerKey(name, secrets.token_bytes(32))


def read_signer_key(text: str) -> SignerKey:
    """Parse ``PRIVATE+KEY+<name>+<key ID>+<base64(0x01 ‖ seed)>``; its key ID must match."""
    parts = text.strip().split("+", 4)  # base64 may hold '+': the key is everything after the fourth
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise InvalidInput("not a signer key: expected PRIVATE+KEY+<name>+<key id>+<key>")
    name, kid, encoded = parts[2], parts[3], parts[4]
    _check_name(name)
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise InvalidInput("signer key: the key is not base64") from None
    if len(raw) != 33 or raw[:1] != _ED25519:
        raise InvalidInput("signer key: not an Ed25519 key")
    key = SignerKey(name, raw[1:])
    if key_id(name, key.public_key()).hex() != kid:
        raise InvalidInput("signer key: its key id does not match the key")
    return key


def checkpoint_body(checkpoint: Checkpoint) -> str:
    """The note body the signature covers (every line ends in a newline)."""
    if not checkpoint.origin or "\n" in checkpoint.origin:
        raise InvalidInput("a checkpoint's origin must be one non-empty line")
    lines = [checkpoint.origin, str(checkpoint.size), base64.b64encode(checkpoint.root).decode()]
    if checkpoint.chain_head is not None:
        lines.append(f"chain-head {checkpoint.chain_head}")
    if checkpoint.state is not None:
        lines.append(f"state {checkpoint.state}")
    return "".join(f"{line}\n" for line in lines)


def sign_checkpoint(checkpoint: Checkpoint, key: SignerKey) -> str:
    """The signed note: body, a blank line, one signature line (Ed25519 is deterministic)."""
    body = checkpoint_body(checkpoint)
    signature = _private(key.seed).sign(body.encode())
    stamp = base64.b64encode(key_id(key.name, key.public_key()) + signature).decode()
    return f"{body}\n{_DASH}{key.name} {stamp}\n"


def note_signers(note: str) -> set[str]:
    """``"<key name> <key ID hex>"`` of each signature line of ``note`` (signatures not checked):
    which keys signed it."""
    out = set()
    for line in note.partition("\n\n")[2].splitlines():
        name, _, blob = line.removeprefix(_DASH).partition(" ")
        if line.startswith(_DASH) and name and blob:
            try:
                out.add(f"{name} {base64.b64decode(blob, validate=True)[:4].hex()}")
            except binascii.Error:
                continue
    return out


def parse_checkpoint(note: str) -> Checkpoint:
    """The tree head a note states, read without checking its signatures (the journal side
    uses it to find which tree a proof is asked against; ``solvent_verify`` checks them)."""
    body, sep, signatures = note.partition("\n\n")
    lines = body.split("\n")
    if not sep or len(lines) < 3 or not signatures.endswith("\n") or any(
            not line.startswith(_DASH) for line in signatures[:-1].split("\n")):
        raise InvalidInput("not a checkpoint: expected origin, size and root lines, a blank line, then signature "
                           "lines ('— name signature'), each ending in a newline")
    origin, size, root_b64 = lines[:3]
    if not origin or not origin.isprintable() or not _SIZE.fullmatch(size):
        raise InvalidInput("not a checkpoint: bad origin or size line")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except binascii.Error:
        root = b""
    if len(root) != 32:
        raise InvalidInput("not a checkpoint: the root is not 32 bytes of base64")
    chain_head = state = None
    for line in lines[3:]:
        if line.startswith("chain-head ") and _HEX32.fullmatch(line[11:]):
            chain_head = line[11:]
        if line.startswith("state ") and _HEX32.fullmatch(line[6:]):
            state = line[6:]
    return Checkpoint(origin, int(size), root, chain_head, state)
