"""The exact oracle of the columnar book: ``Decimal`` equity, MM and level of one account.

Every operation runs in ``EXACT_CONTEXT``: a huge precision with ``Inexact`` trapped, so a
result is either exact or the call raises — it can never be silently rounded. The level
itself is decided by ``solvent.risk.levels`` (the one home), with the venue's trigger.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from decimal import Decimal

from solvent.risk.levels import EXACT_CONTEXT, MarginLevel, TriggerRule, level_without_history, rank
from solvent.risk.tiers import TierTable

__all__ = ["BANKRUPT", "EXACT_CONTEXT", "HEALTHY", "LIQUIDATION", "MARGIN_CALL", "WARNING", "decide", "scaled"]

HEALTHY, WARNING, MARGIN_CALL, LIQUIDATION, BANKRUPT = (rank(level) for level in MarginLevel)


def scaled(units: int, exp: int) -> Decimal:
    """``units × 10^-exp`` as an exact ``Decimal``."""
    return Decimal(units).scaleb(-exp, EXACT_CONTEXT)


def account_values(
    collateral: Decimal,
    qty: Sequence[Decimal],
    entry: Sequence[Decimal],
    mark: Sequence[Decimal],
    table: Sequence[TierTable],
) -> tuple[Decimal, Decimal]:
    """``(equity, MM)`` of one account, exactly::

    equity = collateral + Σ qty × (mark − entry)
    MM     = Σ table.maintenance_margin(|qty| × mark)
    """
    with decimal.localcontext(EXACT_CONTEXT):
        equity = collateral
        mm = Decimal(0)
        for q, e, m, t in zip(qty, entry, mark, table, strict=True):
            equity += q * (m - e)
            mm += t.maintenance_margin(abs(q) * m)
    return equity, mm


def decide(equity: Decimal, mm: Decimal, venue: TriggerRule, warning_ratio: Decimal, margin_call_ratio: Decimal) -> int:
    """The level code (0 healthy … 4 bankrupt) from ``risk.levels.level_without_history``."""
    with decimal.localcontext(EXACT_CONTEXT):
        level = level_without_history(equity, mm, venue, warning=warning_ratio, margin_call=margin_call_ratio)
    return rank(level)
