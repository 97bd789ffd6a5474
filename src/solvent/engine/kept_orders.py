"""Each resting order's encoding, kept while its account holds the same ``OrderState`` object.

A checkpoint re-encodes every account a command touched since the last one, both for the
snapshot (``journal/snapshot.py``) and for the state hash (``engine/state_digest.py``). An
account with thousands of resting orders (a market maker) is touched by nearly every batch,
so without this a checkpoint re-encodes every order of it: 0.1–0.2 s at 24,000 orders on 200
accounts, during which the service answers nothing (measured with ``solvent bench http``).

``OrderState`` is frozen and never replaced by an equal-looking copy in place: a partly
filled order is a new object, a rollback restores the old objects. So an order's bytes stay
right for as long as the account holds the very object they were made from (``is``, with a
strong reference kept, so an id is never reused under the cache). Accounts with fewer than
``MIN_ORDERS`` orders are cheap to encode whole and keep nothing here.
"""

from __future__ import annotations

from collections.abc import Callable, Container

from solvent.engine.state import AccountState, OrderState

__all__ = ["MIN_ORDERS", "KeptOrders"]

MIN_ORDERS = 8
"""Accounts holding at least this many orders keep their orders' bytes."""


class KeptOrders:
    """``encode(order)`` per order of an account, kept across calls while the object is the same."""

    __slots__ = ("_encode", "_kept")

    def __init__(self, encode: Callable[[OrderState], bytes]) -> None:
        self._encode = encode
        self._kept: dict[str, dict[str, tuple[OrderState, bytes]]] = {}

    def parts(self, acc: AccountState) -> dict[str, bytes]:
        """Order id → ``encode(order)`` for every order of ``acc``, in the account's order."""
        old = self._kept.get(acc.account_id)
        kept: dict[str, tuple[OrderState, bytes]] = {}
        encode = self._encode
        for oid, order in acc.orders.items():
            entry = None if old is None else old.get(oid)
            if entry is None or entry[0] is not order:
                entry = (order, encode(order))
            kept[oid] = entry
        if len(kept) >= MIN_ORDERS:
            self._kept[acc.account_id] = kept
        elif old is not None:
            del self._kept[acc.account_id]
        return {oid: entry[1] for oid, entry in kept.items()}

    def forget(self, account_id: str) -> None:
        """The account left the state."""
        self._kept.pop(account_id, None)

    def keep_only(self, account_ids: Container[str]) -> None:
        """Forget every account not in ``account_ids`` (the accounts still in the state)."""
        self._kept = {aid: orders for aid, orders in self._kept.items() if aid in account_ids}

    def clear(self) -> None:
        self._kept.clear()
