"""The CLI's exit codes: 0 done, 1 a check or a run that ran and failed, 2 bad input
(``InvalidInput``, answered at the edge in one line)."""

from __future__ import annotations

import click

__all__ = ["Failed"]


class Failed(click.ClickException):
    """Something that ran and failed (exit 1): a journal that does not verify, a realism check
    under ``--gate``, a proof that does not hold, outputs that could not be written after a run."""

    exit_code = 1
