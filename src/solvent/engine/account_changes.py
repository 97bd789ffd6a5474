"""Which accounts changed, as a version number per account: the one record of it outside the
state, for readers that keep something derived per account (the snapshot encoder's bytes).

``Engine`` touches every account a committed command read (a superset of those it changed;
the same set the state hash is brought up to date from) and starts a new ``epoch`` whenever
it rebuilds its derived indexes (construction, restore, rollback). A reader keeps, with what
it derived, the ``epoch`` and the account's ``version``; while both are unchanged, so is the
account.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import count

__all__ = ["AccountChanges"]

_EPOCHS = count(1)


class AccountChanges:
    """A version per account (0: not touched in this epoch), and the epoch."""

    __slots__ = ("_clock", "_versions", "epoch")

    def __init__(self) -> None:
        self.epoch = next(_EPOCHS)
        self._clock = 0
        self._versions: dict[str, int] = {}

    def reset(self) -> None:
        """Forget every version: what readers derived before is no longer known to hold."""
        self.epoch = next(_EPOCHS)
        self._clock = 0
        self._versions.clear()

    def touch(self, account_ids: Iterable[str]) -> None:
        self._clock += 1
        clock, versions = self._clock, self._versions
        for aid in account_ids:
            versions[aid] = clock

    @property
    def clock(self) -> int:
        """Commands that touched accounts in this epoch (0: nothing touched since it began)."""
        return self._clock

    def version(self, account_id: str) -> int:
        return self._versions.get(account_id, 0)
