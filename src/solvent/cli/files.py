"""Files the CLI writes: one rule for never replacing a user's file by accident."""

from __future__ import annotations

import os
from pathlib import Path

from solvent.errors import InvalidInput

__all__ = ["check_new_file", "is_sqlite", "write_secret"]


def check_new_file(path: Path, option: str, force: bool) -> None:
    """Refuse to write ``path`` over a directory, into a missing folder, or over a file without ``force``."""
    if path.is_dir():
        raise InvalidInput(f"{option} {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise InvalidInput(f"{option} {path}: folder {path.parent} does not exist")
    if path.exists() and not force:
        raise InvalidInput(f"{option} {path} already exists; pass --force to replace it")


def is_sqlite(path: Path) -> bool:
    """Whether ``path`` is a SQLite database file (e.g. the demo's journal from an earlier run)."""
    try:
        with path.open("rb") as handle:
            return path.is_file() and handle.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def write_secret(path: Path, text: str) -> None:
    """Create ``path`` (it must not exist) readable by its owner only: a key or a master secret."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
