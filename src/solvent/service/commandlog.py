"""The ``CommandLog`` port: where the service writes each command before applying it.

The service is write-ahead: a command is appended (and, for a durable log, made durable)
*before* the engine applies it, and the answer is sent only after both. Replaying the log
into a fresh engine gives the same state, rejected commands included (they change nothing).

``InMemoryCommandLog`` is the embedded default and the test fake: it keeps a SHA-256 hash
chain, ``head = sha256(previous head ‖ canonical JSON of the command)``, so the dashboard can
show a head that a journal built the same way would match. The durable journal
(``solvent.journal``) plugs in here by implementing the same three members.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol

from solvent.engine import Command
from solvent.units import plain

__all__ = ["GENESIS", "CommandLog", "InMemoryCommandLog", "command_to_json"]

GENESIS = "0" * 64


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, Enum):
        return value.value
    return value


def command_to_json(cmd: Command) -> dict[str, Any]:
    """``{"type": ClassName, field: value, ...}``, decimals as strings, fields in order."""
    out: dict[str, Any] = {"type": type(cmd).__name__}
    for f in fields(cmd):
        out[f.name] = _encode(getattr(cmd, f.name))
    return out


class CommandLog(Protocol):
    """Append-only, ordered log of the commands the service applied."""

    def append(self, cmd: Command) -> int:
        """Record ``cmd``; return its sequence number (1, 2, …). Durable when it returns."""
        ...

    def head(self) -> str:
        """Hash of the chain up to the last command (``GENESIS`` when empty)."""
        ...

    def __len__(self) -> int: ...


class InMemoryCommandLog:
    """The embedded default: a hash-chained list in memory (not durable)."""

    def __init__(self) -> None:
        self._commands: list[Command] = []
        self._head = GENESIS

    def append(self, cmd: Command) -> int:
        text = json.dumps(command_to_json(cmd), sort_keys=True, separators=(",", ":"))
        self._head = hashlib.sha256((self._head + text).encode("utf-8")).hexdigest()
        self._commands.append(cmd)
        return len(self._commands)

    def head(self) -> str:
        return self._head

    def __len__(self) -> int:
        return len(self._commands)

    def commands(self) -> list[Command]:
        return list(self._commands)
