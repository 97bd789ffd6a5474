"""The last committed head, kept beside the journal where the journal's own loss can't take it.

A hash chain proves that what is there is intact; it cannot prove that nothing is missing
at the end. A deleted ``-wal`` file, a ``TRUNCATE``, a restored old backup or a 0-byte file
each leave a journal that verifies but has lost acknowledged commands. So after every commit
batch the journal's head (seq and H) is also written to a small sidecar file, and opening a
journal that is behind its sidecar is refused, naming the missing range.

Format: one line of JSON ``{"seq": N, "hash": "<64 hex>", "check": "<16 hex>"}``, padded with
spaces to ``HEAD_BYTES`` (a JSON reader ignores them). ``check`` is the first 16 hex digits of
SHA-256 of ``"<seq>:<hash>"``: a reader that meets a head whose check fails reads it again
(a writer may be overwriting it), and calls it damaged if it still fails. A file without
``check`` or the padding, as earlier versions wrote it, reads as before.

How it is written. The write is on every commit's path (the service's writer waits for it), so
its cost is the commit's: the first write, and any write to a file of another size, goes to a
temp file (fsync, rename, fsync of the folder: the new name is durable); every later one
overwrites the ``HEAD_BYTES`` in place and ``fdatasync``s them, about a fifth of the cost
(measured: 115 µs against 519 µs per write here); the first in-place write of a process also
fsyncs the folder, in case an earlier process died between its rename and that fsync. The
size does not change, so no metadata needs flushing. An in-place write of a record this small
relies on the storage writing one 512-byte sector whole, the assumption PostgreSQL makes for
its control file (``PG_CONTROL_MAX_SAFE_SIZE``); on storage that tears a sector, a crash in the
middle of a write leaves a head whose check fails, refused at start as damaged (restore it or
move it away, as for any damaged head file). A concurrent reader (``solvent verify`` on a live
journal) can see the same mix of two writes while one is in progress: the check tells it to
read again. Where the file cannot be opened for writing in place, or the platform has no
``pwrite``, every write takes the temp-file path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from solvent.errors import InvalidInput
from solvent.journal.backend import JournalBackend, JournalError
from solvent.journal.open import journal_kind
from solvent.jsonstrict import loads_strict

__all__ = ["HEAD_BYTES", "HeadFile", "HeadRead", "JournalBehindHead", "default_head_file", "tail_problem"]

_HASH = re.compile(r"^[0-9a-f]{64}$")

HEAD_BYTES = 160
"""The head file's size as written: the longest record (a 19-digit seq) is 133 bytes."""

_READS = 5
"""Reads of a head whose check fails before it is called damaged (the pause grows each time)."""

_FOLDER_SYNCED: set[Path] = set()
"""Head files whose folder this process has fsynced since their name last changed."""

_datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync: its fsync does the same here


class JournalBehindHead(JournalError):
    """The journal holds fewer records than were committed (or a different head)."""


def default_head_file(target: str, schema: str = "solvent_journal") -> Path:
    """Where a journal's last committed head is kept: beside a SQLite file (``<file>.head``),
    or under ``solvent-data/`` for a PostgreSQL schema (a file the database's own loss cannot
    take). The one home for the name: the service, the demo, ``import``, ``verify`` and
    ``replay`` all use it."""
    if journal_kind(target) == "postgresql":
        return Path("solvent-data") / f"{schema}.pg-head"
    return Path(target + ".head")


@dataclass(frozen=True, slots=True)
class HeadFile:
    path: Path

    def read(self) -> tuple[int, str] | None:
        """The recorded head, ``None`` when there is no sidecar yet."""
        for attempt in range(_READS):  # a writer may be overwriting it: a failed check is read again
            try:
                if not stat.S_ISREG(os.stat(self.path).st_mode):  # a FIFO would block the reader for good
                    raise JournalError(f"head file {self.path} is not a file")
                data = self.path.read_bytes()
            except FileNotFoundError:
                return None
            except OSError as exc:  # unreadable: not a head file, and not no head file
                raise JournalError(f"head file {self.path}: {exc.strerror}") from None
            head = _parsed(data)
            if head is not None:
                return head
            if attempt + 1 < _READS:
                time.sleep(0.001 * (attempt + 1))
        raise JournalError(f"head file {self.path} is damaged; restore it or move it away to accept "
                           "the journal as it is")

    def write(self, seq: int, digest: str) -> None:
        """Replace the recorded head durably: in place when the file is already ``HEAD_BYTES``
        long, else atomically through a temp file (the module docstring). Its folder is made if
        it is missing (a PostgreSQL journal's default, ``solvent-data/``, in a folder where none
        was run)."""
        data = json.dumps({"seq": seq, "hash": digest, "check": _check(seq, digest)}).encode("ascii")
        if len(data) >= HEAD_BYTES:
            raise ValueError(f"a head of {len(data)} bytes does not fit the head file's {HEAD_BYTES}")
        data = data.ljust(HEAD_BYTES - 1) + b"\n"
        try:
            descriptor = os.open(self.path, os.O_WRONLY) if hasattr(os, "pwrite") else None
        except (FileNotFoundError, PermissionError):
            descriptor = None
        if descriptor is not None:
            try:
                if os.fstat(descriptor).st_size == HEAD_BYTES:
                    os.pwrite(descriptor, data, 0)
                    _datasync(descriptor)
                    if self.path not in _FOLDER_SYNCED:
                        _sync_folder(self.path.parent)
                        _FOLDER_SYNCED.add(self.path)
                    return
            finally:
                os.close(descriptor)
        self._replace(data)

    def _replace(self, data: bytes) -> None:
        """Write ``data`` as the whole file: temp file, fsync, rename, fsync of the folder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(tmp, self.path)
        _sync_folder(self.path.parent)
        _FOLDER_SYNCED.add(self.path)

    def check(self, seq: int, digest_at: dict[int, str]) -> None:
        """Refuse a journal whose last record ``seq`` is behind the recorded head.

        ``digest_at`` maps the recorded head's seq to the journal's H there, when it has it.
        """
        self.check_against(self.read(), seq, digest_at)

    def check_against(self, recorded: tuple[int, str] | None, seq: int, digest_at: dict[int, str]) -> None:
        """``check`` with the head as read earlier (``None``: there was none)."""
        if recorded is None:
            return
        head_seq, head_hash = recorded
        if seq < head_seq:
            raise JournalBehindHead(
                f"the journal ends at record {seq} but record {head_seq} was committed "
                f"(head file {self.path}): records {seq + 1}–{head_seq} are missing; "
                "restore the journal, or move the head file away to accept the loss")
        found = digest_at.get(head_seq)
        if found is not None and found != head_hash:
            raise JournalBehindHead(
                f"record {head_seq} of the journal is not the one committed (head file {self.path}): "
                "the journal was replaced or rewritten")


def _check(seq: int, digest: str) -> str:
    return hashlib.sha256(f"{seq}:{digest}".encode("ascii")).hexdigest()[:16]


def _parsed(data: bytes) -> tuple[int, str] | None:
    """The head ``data`` records, or ``None`` when it is not one whole head (damaged, or two
    writes mixed: its check fails)."""
    try:
        raw = loads_strict(data, "head file")  # duplicate keys, floats and the like are damage too
        seq, digest = raw["seq"], raw["hash"]
    except (InvalidInput, KeyError, TypeError):
        return None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or not isinstance(digest, str) \
            or not _HASH.match(digest):
        return None
    # a file of this version's size always has its check (only earlier, shorter files lack it):
    # a mix of two writes that lost the key is not taken for a head either
    if ("check" in raw or len(data) == HEAD_BYTES) and raw.get("check") != _check(seq, digest):
        return None
    return seq, digest


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class HeadRead:
    """A head file read once, before the journal's records are: ``value`` (``None`` without a
    head file) or ``problem`` (why it could not be read)."""

    __slots__ = ("problem", "value")

    def __init__(self, head: HeadFile) -> None:
        self.value: tuple[int, str] | None = None
        self.problem: str | None = None
        try:
            self.value = head.read()
        except JournalError as exc:
            self.problem = str(exc)


def tail_problem(head: HeadFile, backend: JournalBackend, last_seq: int, before: HeadRead | None = None) -> str | None:
    """Why a journal whose last good record is ``last_seq`` falls short of ``head``, or ``None``.

    For the read-only commands (``verify``, ``replay``): the chain proves what is there; the
    head file says whether anything committed is missing after it. ``before``: the head as read
    *before* the records were (on a journal a server is writing, a head read after them names
    records committed since, which the reader never saw: a loss that is not one)."""
    read = before if before is not None else HeadRead(head)
    if read.problem is not None:
        return read.problem
    recorded = read.value
    if recorded is None:
        return None
    at: dict[int, str] = {}
    if recorded[0] <= last_seq:
        stored = next(iter(backend.records(recorded[0])), None)
        if stored is not None and stored.seq == recorded[0]:
            at[recorded[0]] = stored.hash
    try:
        head.check_against(recorded, last_seq, at)
    except JournalBehindHead as exc:
        return str(exc)
    return None
