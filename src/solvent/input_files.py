"""Reading an input file whole, bounded: one home for the rule that a file larger than its
limit is refused, and a device that never ends (``/dev/zero``) is refused once past it rather
than read for ever (found by new-user passes and review)."""

from __future__ import annotations

from pathlib import Path

from solvent.errors import InvalidInput

__all__ = ["MAX_INPUT_BYTES", "MAX_TABLE_BYTES", "read_bounded"]

MAX_INPUT_BYTES = 64 * 2**20
"""A JSON or TOML input (a portfolio of 100,000 options is about 10 MiB)."""
MAX_TABLE_BYTES = 512 * 2**20
"""A CSV table (a venue's book of a million accounts is about 60 MiB)."""


def read_bounded(path: Path | str, what: str, limit: int) -> bytes:
    """The bytes of ``path`` (``what`` names it in a refusal), at most ``limit``: more is refused."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InvalidInput(f"{what} {path} is larger than {limit // 2**20} MiB")
    return data
