"""Files the CLI writes: one rule for never replacing a user's file by accident."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from solvent.errors import InvalidInput
from solvent.input_files import MAX_INPUT_BYTES, read_bounded
from solvent.journal.head_file import default_head_file
from solvent.journal.open import journal_kind

__all__ = ["MAX_INPUT_BYTES", "check_new_file", "check_output_dir", "check_output_file", "journal_files", "read_input",
           "refuse_if_read", "same_file", "write_new", "write_secret"]

def read_input(path: Path | str, what: str) -> bytes:
    """The bytes of the input file ``path`` (``what`` names it in a refusal), at most
    ``MAX_INPUT_BYTES`` (``input_files.read_bounded``): ``--file /dev/zero`` was read for ever
    (found by a new-user pass)."""
    return read_bounded(path, what, MAX_INPUT_BYTES)


def check_new_file(path: Path, option: str, force: bool, reads: Iterable[Path] = ()) -> None:
    """Refuse to write ``path`` over a directory, into a missing folder, over a file without
    ``force``, or, even with it, over a file the command reads (``reads``: its journal and the
    journal's files, a key, a checkpoint): ``export J J --force`` left the journal empty and
    ``tlog checkpoint --out KEY --force`` replaced the signer key (found by review)."""
    if path.is_dir():
        raise InvalidInput(f"{option} {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise InvalidInput(f"{option} {path}: folder {path.parent} does not exist")
    refuse_if_read(path, option, reads)
    if path.exists() and not force:
        raise InvalidInput(f"{option} {path} already exists; pass --force to replace it")


def refuse_if_read(path: Path, option: str, reads: Iterable[Path]) -> None:
    """Refuse to write ``path`` when it is one of the files the command reads (``same_file``)."""
    for read in reads:
        if same_file(path, read):
            raise InvalidInput(f"{option} {path} is {read}, which this command reads; write to another file")


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file: the same path once resolved (a symlink followed),
    or a hard link of it."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def journal_files(journal: str, schema: str = "solvent_journal") -> list[Path]:
    """The files a command reading ``journal`` depends on: a SQLite file with its write-ahead log
    and shared-memory files, or an NDJSON file, and the journal's head file (a PostgreSQL
    journal: its head file only)."""
    head = default_head_file(journal, schema)
    if journal_kind(journal) == "postgresql":
        return [head]
    return [Path(journal), Path(journal + "-wal"), Path(journal + "-shm"), head]


def check_output_file(path: Path, option: str) -> None:
    """Refuse, before any work, an output file that can't be written: a directory, or in a
    missing folder (an existing file is replaced, as a report is re-run)."""
    if path.is_dir():
        raise InvalidInput(f"{option} {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise InvalidInput(f"{option} {path}: folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InvalidInput(f"{option} {path}: not writable")


def check_output_dir(path: Path, option: str) -> None:
    """Refuse, before any work (and without creating anything), a folder a command can't write
    into: a file in the way, or a folder (or the nearest existing parent of a new one) that
    can't be written. The command creates a new folder when it writes."""
    if path.exists() and not path.is_dir():
        raise InvalidInput(f"{option} {path} is a file, not a folder")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InvalidInput(f"{option} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidInput(f"{option} {path}: {existing} is not writable")


def write_secret(path: Path, text: str) -> None:
    """Create ``path`` (it must not exist) readable by its owner only: a key or a master secret."""
    write_new(path, text, 0o600)


def write_new(path: Path, text: str, mode: int = 0o666) -> None:
    """Create ``path`` with ``text`` (``mode``, less the umask): ``FileExistsError`` when it exists,
    so a file that appeared since a command checked its output folder is never replaced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except BaseException:  # created but not written (a full disk): not left half-written
        path.unlink(missing_ok=True)
        raise
