"""The head file's bytes and how they are replaced (``journal/head_file.py``).

The head is rewritten after every commit batch, on the service writer's path, so after the
first write it is overwritten in place (one ``pwrite`` and ``fdatasync``) instead of through
a temp file and a rename; these tests pin the bytes and which path each write takes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from solvent.journal import JournalError
from solvent.journal.head_file import HEAD_BYTES, HeadFile

H1 = "ab" * 32
H2 = "cd" * 32


def test_the_head_is_one_json_line_padded_to_128_bytes(tmp_path: Path) -> None:
    head = HeadFile(tmp_path / "j.sqlite.head")
    head.write(7, H1)
    # written out by hand: the JSON object json.dumps makes, spaces up to byte 127, a newline
    line = '{"seq": 7, "hash": "' + H1 + '"}'
    assert len(line) == 8 + 1 + 11 + 64 + 2  # '{"seq": ', '7', ', "hash": "', the hash, '"}'
    assert (tmp_path / "j.sqlite.head").read_bytes() == (line + " " * (127 - 86) + "\n").encode()
    assert HEAD_BYTES == 128
    assert json.loads((tmp_path / "j.sqlite.head").read_text()) == {"seq": 7, "hash": H1}
    assert head.read() == (7, H1)


def test_later_heads_overwrite_the_file_in_place(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite.head"
    head = HeadFile(path)
    head.write(1, H1)
    inode = path.stat().st_ino
    for seq in (2, 10, 12_345_678_901):  # a longer seq: the padding shrinks, the size stays
        head.write(seq, H2)
        assert head.read() == (seq, H2)
        assert path.stat().st_size == HEAD_BYTES
        assert path.stat().st_ino == inode  # the same file: no temp file, no rename
    assert not path.with_name(path.name + ".tmp").exists()


def test_a_head_file_of_the_earlier_unpadded_form_reads_and_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite.head"
    path.write_text(json.dumps({"seq": 3, "hash": H1}) + "\n")  # as versions before the padding wrote it
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


def test_a_torn_overwrite_reads_as_damaged_not_as_another_head(tmp_path: Path) -> None:
    """What a write torn mid-record would leave (on storage that does not write a sector
    whole): the first half of the new record over the old one is refused."""
    path = tmp_path / "j.sqlite.head"
    head = HeadFile(path)
    head.write(9, H1)
    new = json.dumps({"seq": 10, "hash": H2}).encode()
    descriptor = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(descriptor, new[:40], 0)
    finally:
        os.close(descriptor)
    with pytest.raises(JournalError, match="is damaged"):
        head.read()


def test_a_head_that_does_not_fit_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite.head"
    with pytest.raises(ValueError, match="does not fit"):
        HeadFile(path).write(7, "ab" * 60)  # 142 bytes
    assert not path.exists()
