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
the machine has any business reading or changing who may act. It is replaced atomically
(temporary file + ``os.replace``), so a running service reads either the old file or the new
one, never half of one; a service follows the file without a restart (``KeyStore.refresh``).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from solvent.errors import InvalidInput
from solvent.text import ID_PATTERN

__all__ = ["RELOAD_CHECK_S", "KeyRecord", "KeyStore", "Principal", "Role", "new_key"]

PREFIX = "slv"

PUBLIC_ONLY = ""
"""An event scope naming no account: public events only (no account id is empty)."""
RELOAD_CHECK_S = 1.0
"""A running service stats its keys file at most this often (seconds), on the request path."""
_HEX = re.compile(r"^[0-9a-f]*$")
log = logging.getLogger("solvent.service")


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

    @property
    def event_scope(self) -> str | None:
        """Which events this caller sees when it names no account: ``None`` the whole venue
        (the operator), its own account's and the public ones (an account key), or the public
        ones only (``PUBLIC_ONLY``: a treasury key moves money but reads no one's trading)."""
        if self.is_operator:
            return None
        return self.account_id if self.account_id is not None else PUBLIC_ONLY

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
        """A stored record, checked whole: a record that could fail later, at a request, is refused now."""
        if not isinstance(raw, dict):
            raise InvalidInput("keys file: each key must be an object")
        try:
            role = Role(raw["role"])
            record = cls(str(raw["id"]), role, raw.get("account_id"), str(raw["salt"]), str(raw["sha256"]))
        except (KeyError, ValueError) as bad:
            raise InvalidInput(f"keys file: bad key record ({bad})") from None
        if not record.key_id or "_" in record.key_id:
            raise InvalidInput("keys file: a key id is non-empty and has no '_'")
        if not (_HEX.match(record.salt_hex) and len(record.salt_hex) % 2 == 0
                and _HEX.match(record.sha256_hex) and len(record.sha256_hex) == 64):
            raise InvalidInput(f"keys file: key {record.key_id} needs a hex salt and a 64-hex-digit sha256")
        if record.account_id is not None and not isinstance(record.account_id, str):
            raise InvalidInput(f"keys file: key {record.key_id} has a non-string account_id")
        if role is Role.ACCOUNT and not record.account_id:
            raise InvalidInput(f"keys file: account key {record.key_id} has no account_id")
        return record


def _digest(salt: bytes, secret: str) -> str:
    return hashlib.sha256(salt + secret.encode("utf-8")).hexdigest()


def new_key(role: Role, account_id: str | None = None) -> tuple[str, KeyRecord]:
    """A fresh plain key and the record to store for it."""
    if role is Role.ACCOUNT and not account_id:
        raise InvalidInput("an account key needs an account id")
    if role is Role.ACCOUNT and not re.match(ID_PATTERN, str(account_id)):
        # the API refuses such an id in every path (found by a new-user pass: ``keys new
        # account:a/b`` printed a key that could never reach its account)
        raise InvalidInput(f"account id {str(account_id)[:80]!r} is not one the API takes: 1-64 of "
                           "[A-Za-z0-9_.:@-] with at least one letter or digit")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24)
    salt = secrets.token_bytes(16)
    record = KeyRecord(key_id, role, account_id if role is Role.ACCOUNT else None, salt.hex(), _digest(salt, secret))
    return f"{PREFIX}_{key_id}_{secret}", record


_Seen = tuple[int, ...]
"""What a keys file looked like when last checked: its stat signature, or an error's."""


def _signature(st: os.stat_result) -> _Seen:
    """(mtime_ns, size, inode, ctime_ns): any write, replacement or chmod changes one of them."""
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


class KeyStore:
    """The known keys, by key id: those of a keys file, and those added in this process.

    A store made by ``load`` follows its file while a service runs: ``authenticate`` first
    calls ``refresh``, which stats the file at most once per ``check_interval_s`` (by ``clock``)
    and reads it again when its (mtime_ns, size, inode, ctime_ns) changed. A revoked key stops
    working about a second after the file changes, without a restart. A file that becomes
    unreadable, vanishes or is invalid changes nothing: the last good keys stay in force (the
    door neither opens nor shuts) and one error line is logged for that version of the file.
    Keys added in this process (``add``, ``add_plain``, ``issue``: the operator key from the
    environment, the one-time key) are not in the file and survive every reload.
    """

    def __init__(self, records: list[KeyRecord] | None = None, *, clock: Callable[[], float] = time.monotonic,
                 check_interval_s: float = RELOAD_CHECK_S) -> None:
        self._own: dict[str, KeyRecord] = {}
        self._from_file: dict[str, KeyRecord] = {}
        self._path: Path | None = None
        self._seen: _Seen = ()
        self._checked_at = 0.0
        self.clock = clock
        self.check_interval_s = check_interval_s
        for record in records or []:
            self.add(record)

    def add(self, record: KeyRecord) -> None:
        if record.key_id in self._own or record.key_id in self._from_file:
            raise InvalidInput(f"duplicate key id {record.key_id}")
        self._own[record.key_id] = record

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

    def revoke(self, key_id: str) -> KeyRecord:
        """Remove the key ``key_id`` (``save`` then writes the file without it)."""
        record = self._from_file.pop(key_id, None) or self._own.pop(key_id, None)
        if record is None:
            raise InvalidInput(f"no key with id {key_id}")
        return record

    def records(self) -> list[KeyRecord]:
        """Every key in force, by key id."""
        return sorted([*self._from_file.values(), *self._own.values()], key=lambda r: r.key_id)

    def authenticate(self, presented: str | None) -> Principal | None:
        """The caller behind ``presented``, or ``None`` for a missing or wrong key."""
        self.refresh()
        if not presented:
            return None
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        record = self._from_file.get(parts[1]) or self._own.get(parts[1])
        if record is None or not record.matches(parts[2]):
            return None
        return Principal(record.key_id, record.role, record.account_id)

    def __len__(self) -> int:
        return len(self._from_file) + len(self._own)

    def refresh(self) -> None:
        """Read the keys file again if it changed; at most one ``stat`` per ``check_interval_s``."""
        if self._path is None:
            return
        now = self.clock()
        if now - self._checked_at < self.check_interval_s:
            return
        self._checked_at = now
        try:
            seen = _signature(os.stat(self._path))
        except OSError as bad:
            self._keep_last_good((-1, bad.errno or 0), f"cannot stat: {bad.strerror}")
            return
        if seen == self._seen:
            return
        try:
            self._from_file, self._seen = self._read(self._path)
        except InvalidInput as bad:
            self._keep_last_good(seen, str(bad))
            return
        log.info("keys file reloaded", extra={"path": str(self._path), "keys": len(self)})

    def _keep_last_good(self, seen: _Seen, reason: str) -> None:
        if seen != self._seen:
            self._seen = seen
            log.error("keys file unreadable or invalid: the last good keys stay in force",
                      extra={"path": str(self._path), "error": reason, "keys": len(self)})

    def _read(self, path: Path) -> tuple[dict[str, KeyRecord], _Seen]:
        """The file's records and signature, from one open file (a replacement in between cannot mix them)."""
        try:
            with path.open("rb") as handle:
                seen = _signature(os.fstat(handle.fileno()))
                raw = json.loads(handle.read())
        except (OSError, ValueError, RecursionError) as bad:
            raise InvalidInput(f"cannot read keys file {path}: {bad}") from None
        keys = raw.get("keys") if isinstance(raw, dict) else None
        if not isinstance(keys, list):
            raise InvalidInput(f"keys file {path}: expected {{\"keys\": [...]}}")
        records: dict[str, KeyRecord] = {}
        for item in keys:
            record = KeyRecord.from_json(item)
            if record.key_id in records or record.key_id in self._own:
                raise InvalidInput(f"keys file {path}: duplicate key id {record.key_id}")
            records[record.key_id] = record
        return records, seen

    @classmethod
    def load(cls, path: str | Path, *, clock: Callable[[], float] = time.monotonic,
             check_interval_s: float = RELOAD_CHECK_S) -> KeyStore:
        """The keys of the file at ``path``, followed from now on (see ``refresh``)."""
        store = cls(clock=clock, check_interval_s=check_interval_s)
        store._path = Path(path)
        store._from_file, store._seen = store._read(store._path)
        store._checked_at = clock()
        return store

    def save(self, path: str | Path | None = None) -> None:
        """Write every key to ``path`` (default: the file it was loaded from) atomically, mode 0600.

        The text goes to a temporary file (created 0600) in the same folder, is flushed to disk,
        and replaces the file in one ``os.replace``: a reader sees the old keys or the new ones.
        """
        target = Path(path) if path is not None else self._path
        if target is None:
            raise InvalidInput("this key store has no keys file to save to")
        body = {"keys": [r.to_json() for r in self.records()]}
        try:
            descriptor, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        except OSError as bad:
            raise InvalidInput(f"cannot write keys file {target}: {bad.strerror}") from None
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(body, indent=2) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o600)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        with contextlib.suppress(OSError):  # make the rename itself durable where the platform allows
            folder = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
