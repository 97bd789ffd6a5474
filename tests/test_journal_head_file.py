"""The head file's bytes and how they are replaced (``journal/head_file.py``).

The head is rewritten after every commit batch, on the service writer's path, so after the
first write it is overwritten in place (one ``pwrite`` and ``fdatasync``) instead of through
a temp file and a rename; these tests pin the bytes, which path each write takes, and that a
mix of two writes (a torn write, or a reader racing the writer) is never read as a head."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from solvent.journal import JournalError
from solvent.journal.head_file import HEAD_BYTES, HeadFile

H1 = "ab" * 32
H2 = "cd" * 32


def _check(seq: int, digest: str) -> str:
    """The check field as the module docstring defines it: SHA-256 of "<seq>:<hash>", 16 hex."""
    return hashlib.sha256(f"{seq}:{digest}".encode()).hexdigest()[:16]


def test_the_head_is_one_json_line_with_its_check_padded_to_160_bytes(tmp_path: Path) -> None:
    head = HeadFile(tmp_path / "j.sqlite.head")
    head.write(7, H1)
    line = '{"seq": 7, "hash": "' + H1 + '", "check": "' + _check(7, H1) + '"}'
    assert len(line) == 8 + 1 + 11 + 64 + 13 + 16 + 2  # '{"seq": ', '7', ', "hash": "', H, '", "check": "', C, '"}'
    assert HEAD_BYTES == 160
    assert (tmp_path / "j.sqlite.head").read_bytes() == (line + " " * (159 - len(line)) + "\n").encode()
    assert json.loads((tmp_path / "j.sqlite.head").read_text())["seq"] == 7
    assert head.read() == (7, H1)


def test_later_heads_overwrite_the_file_in_place(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite.head"
    head = HeadFile(path)
    head.write(1, H1)
    inode = path.stat().st_ino
    for seq in (2, 10, 1_234_567_890_123_456_789):  # the longest seq: the padding shrinks, the size stays
        head.write(seq, H2)
        assert head.read() == (seq, H2)
        assert path.stat().st_size == HEAD_BYTES
        assert path.stat().st_ino == inode  # the same file: no temp file, no rename
    assert not path.with_name(path.name + ".tmp").exists()


@pytest.mark.parametrize("earlier", [
    json.dumps({"seq": 3, "hash": H1}) + "\n",  # as versions before the padding wrote it
    json.dumps({"seq": 3, "hash": H1}).ljust(127) + "\n",  # padded to 128, without a check
])
def test_a_head_file_of_an_earlier_form_reads_and_is_replaced_whole(tmp_path: Path, earlier: str) -> None:
    path = tmp_path / "j.sqlite.head"
    path.write_text(earlier)
    head = HeadFile(path)
    assert head.read() == (3, H1)
    inode = path.stat().st_ino
    head.write(4, H2)
    assert path.stat().st_ino != inode  # another size: the atomic temp-file path, not an overwrite
    assert path.stat().st_size == HEAD_BYTES and head.read() == (4, H2)


def test_a_longer_file_is_not_overwritten_in_place(tmp_path: Path) -> None:
    """Bytes past the record would stay behind an in-place write and make it unreadable."""
    path = tmp_path / "j.sqlite.head"
    path.write_bytes(b" " * 300)
    HeadFile(path).write(5, H1)
    assert path.stat().st_size == HEAD_BYTES and HeadFile(path).read() == (5, H1)


@pytest.mark.parametrize("cut", [30, 40, 60, 90, 110])
def test_a_mix_of_two_heads_reads_as_damaged_not_as_a_head_never_written(tmp_path: Path, cut: int) -> None:
    """Found by review: what a torn write leaves, and what a reader racing the writer sees, is
    the new head's first bytes over the old one's. With seqs of the same width (10, then 11)
    that is valid JSON naming a hash of 64 hex digits that was never written (half of each);
    the check tells it apart."""
    path = tmp_path / "j.sqlite.head"
    head = HeadFile(path)
    head.write(10, H1)
    old = path.read_bytes()
    head.write(11, H2)
    new = path.read_bytes()
    mixed = new[:cut] + old[cut:]
    path.write_bytes(mixed)
    assert json.loads(mixed) not in (json.loads(old), json.loads(new))  # valid JSON neither write made
    with pytest.raises(JournalError, match="is damaged"):
        head.read()


def test_a_head_file_that_cannot_be_opened_for_writing_is_replaced_as_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by review: a read-only head file in a writable folder was replaced (temp file and
    rename); the in-place write must not turn that into an error. (Opening it is refused here
    by a stand-in for ``os.open``: root opens a read-only file whatever its mode.)"""
    path = tmp_path / "j.sqlite.head"
    head = HeadFile(path)
    head.write(1, H1)
    real_open = os.open

    def read_only(file: object, flags: int, *args: int) -> int:
        if Path(str(file)) == path and flags & os.O_WRONLY:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only)
    inode = path.stat().st_ino
    head.write(2, H2)  # the folder is writable: the temp file and rename still work
    assert head.read() == (2, H2) and path.stat().st_ino != inode


def test_a_head_that_does_not_fit_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite.head"
    with pytest.raises(ValueError, match="does not fit"):
        HeadFile(path).write(7, "ab" * 60)  # 175 bytes
    assert not path.exists()


def test_a_head_file_that_is_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    """Found by a new-user pass: ``solvent verify`` waited for good on a FIFO in the head file's place."""
    path = tmp_path / "j.sqlite.head"
    os.mkfifo(path)
    with pytest.raises(JournalError, match="is not a file"):
        HeadFile(path).read()


@pytest.mark.parametrize("text", [
    '{"seq": 1, "seq": 448, "hash": "' + H1 + '"}',  # a duplicate key: which one is meant?
    '{"seq": 448.0, "hash": "' + H1 + '"}',
    '{"seq": "448", "hash": "' + H1 + '"}',
    '{"seq": 448, "hash": "' + H1.upper() + '"}',
])
def test_a_head_file_is_read_as_strictly_as_any_input(tmp_path: Path, text: str) -> None:
    path = tmp_path / "j.sqlite.head"
    path.write_text(text)
    with pytest.raises(JournalError, match="is damaged; restore it or move it away"):
        HeadFile(path).read()


def test_a_head_file_that_cannot_be_written_at_start_is_a_one_line_journal_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by a new-user pass: an immutable head file (``chattr +i``) stopped ``serve`` with
    "internal error: PermissionError"; recovery now says which file, in the journal's terms."""
    from solvent.engine import EngineConfig
    from solvent.journal import DurableEngine
    from solvent.journal.sqlite_backend import SqliteBackend
    from solvent.risk.venues import load_venue

    journal = tmp_path / "j.sqlite"
    head = HeadFile(tmp_path / "j.sqlite.head")
    DurableEngine(SqliteBackend(journal), EngineConfig(load_venue("bybit-linear", overlays=False)),
                  head_file=head).close()

    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(HeadFile, "write", refused)
    with pytest.raises(JournalError, match=r"^cannot record the journal head in .*j\.sqlite\.head: Operation not "
                                           r"permitted$"):
        DurableEngine(SqliteBackend(journal), head_file=head)


def test_a_head_of_this_versions_size_without_its_check_is_damaged(tmp_path: Path) -> None:
    """Found by review: ``check`` was optional at any size; only earlier files (91 or 128 bytes)
    lack it, so a 160-byte line without one is a mix of two writes, not a head."""
    path = tmp_path / "j.sqlite.head"
    path.write_bytes(json.dumps({"seq": 3, "hash": H1}).encode().ljust(HEAD_BYTES - 1) + b"\n")
    with pytest.raises(JournalError, match="is damaged"):
        HeadFile(path).read()
