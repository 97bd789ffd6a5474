"""API keys: who is calling, stored only as salted SHA-256 digests.

A key reads ``slv_<key id>_<secret>``. The key id (hex, no underscore) finds the stored
record; the secret is checked with ``sha256(salt ‖ secret)`` and a constant-time compare.
A record is ``{"id", "role", "account_id", "salt", "sha256"}``; the keys file is
``{"keys": [record, ...]}`` (JSON). Plain keys exist only in the caller's hands and, once,
on the terminal that created them.

==========  ==============================================================
role        may
==========  ==============================================================
operator    read everything; post prices, fills, time; act on any account
treasury    deposits and withdrawals to and from any account (money moves)
account     read, trade and what-if on its own ``account_id`` only; no money
            in or out (a deposit would mint money, a withdrawal take it)
==========  ==============================================================

The keys file is written with mode 0600: its digests are not secrets, but nothing else on
the machine has any business reading or changing who may act.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from solvent.errors import InvalidInput

__all__ = ["KeyRecord", "KeyStore", "Principal", "Role", "new_key"]

PREFIX = "slv"


class Role(StrEnum):
    OPERATOR = "operator"
    TREASURY = "treasury"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller."""

    key_id: str
    role: Role
    account_id: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR

    def may_access(self, account_id: str) -> bool:
        """Read and trade on ``account_id``: the operator, or the account's own key."""
        return self.is_operator or (self.role is Role.ACCOUNT and self.account_id == account_id)

    @property
    def may_move_funds(self) -> bool:
        """Deposit to or withdraw from any account: the treasury and the operator only."""
        return self.role in (Role.OPERATOR, Role.TREASURY)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    role: Role
    account_id: str | None
    salt_hex: str
    sha256_hex: str

    def matches(self, secret: str) -> bool:
        digest = _digest(bytes.fromhex(self.salt_hex), secret)
        return hmac.compare_digest(digest, self.sha256_hex)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.key_id, "role": self.role.value, "account_id": self.account_id,
                "salt": self.salt_hex, "sha256": self.sha256_hex}

    @classmethod
    def from_json(cls, raw: Any) -> KeyRecord:
        if not isinstance(raw, dict):
            raise InvalidInput("keys file: each key must be an object")
        try:
            role = Role(raw["role"])
            record = cls(str(raw["id"]), role, raw.get("account_id"), str(raw["salt"]), str(raw["sha256"]))
        except (KeyError, ValueError) as bad:
            raise InvalidInput(f"keys file: bad key record ({bad})") from None
        if role is Role.ACCOUNT and not record.account_id:
            raise InvalidInput(f"keys file: account key {record.key_id} has no account_id")
        return record


def _digest(salt: bytes, secret: str) -> str:
    return hashlib.sha256(salt + secret.encode("utf-8")).hexdigest()


def new_key(role: Role, account_id: str | None = None) -> tuple[str, KeyRecord]:
    """A fresh plain key and the record to store for it."""
    if role is Role.ACCOUNT and not account_id:
        raise InvalidInput("an account key needs an account id")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24)
    salt = secrets.token_bytes(16)
    record = KeyRecord(key_id, role, account_id if role is Role.ACCOUNT else None, salt.hex(), _digest(salt, secret))
    return f"{PREFIX}_{key_id}_{secret}", record


class KeyStore:
    """The known keys, by key id."""

    def __init__(self, records: list[KeyRecord] | None = None) -> None:
        self._records: dict[str, KeyRecord] = {}
        for record in records or []:
            self.add(record)

    def add(self, record: KeyRecord) -> None:
        if record.key_id in self._records:
            raise InvalidInput(f"duplicate key id {record.key_id}")
        self._records[record.key_id] = record

    def issue(self, role: Role, account_id: str | None = None) -> str:
        """Create, store and return a new plain key."""
        plain_key, record = new_key(role, account_id)
        self.add(record)
        return plain_key

    def add_plain(self, plain_key: str, role: Role, account_id: str | None = None) -> None:
        """Store a key given in plain (e.g. from the environment), hashed like any other."""
        parts = plain_key.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
            raise InvalidInput(f"a key must look like {PREFIX}_<id>_<secret>")
        salt = secrets.token_bytes(16)
        self.add(KeyRecord(parts[1], role, account_id, salt.hex(), _digest(salt, parts[2])))

    def authenticate(self, presented: str | None) -> Principal | None:
        """The caller behind ``presented``, or ``None`` for a missing or wrong key."""
        if not presented:
            return None
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        record = self._records.get(parts[1])
        if record is None or not record.matches(parts[2]):
            return None
        return Principal(record.key_id, record.role, record.account_id)

    def __len__(self) -> int:
        return len(self._records)

    @classmethod
    def load(cls, path: str | Path) -> KeyStore:
        try:
            raw = json.loads(Path(path).read_text("utf-8"))
        except (OSError, ValueError) as bad:
            raise InvalidInput(f"cannot read keys file {path}: {bad}") from None
        keys = raw.get("keys") if isinstance(raw, dict) else None
        if not isinstance(keys, list):
            raise InvalidInput(f"keys file {path}: expected {{\"keys\": [...]}}")
        return cls([KeyRecord.from_json(k) for k in keys])

    def save(self, path: str | Path) -> None:
        """Write the keys file with mode 0600 (created so, and tightened if it existed)."""
        body = {"keys": [r.to_json() for _, r in sorted(self._records.items())]}
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(body, indent=2) + "\n")
        os.chmod(path, 0o600)
