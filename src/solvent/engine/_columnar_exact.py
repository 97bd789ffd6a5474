"""The exact oracle of the columnar book: ``Decimal`` equity, MM and level of one account.

Every operation runs in ``EXACT_CONTEXT``: a huge precision with ``Inexact`` trapped, so a
result is either exact or the call raises — it can never be silently rounded.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from decimal import Decimal

from solvent.risk.tiers import TierTable

__all__ = ["BANKRUPT", "EXACT_CONTEXT", "HEALTHY", "LIQUIDATION", "MARGIN_CALL", "WARNING", "decide", "scaled"]

HEALTHY, WARNING, MARGIN_CALL, LIQUIDATION, BANKRUPT = 0, 1, 2, 3, 4

EXACT_CONTEXT = decimal.Context(
    prec=2000,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[
        decimal.Inexact,
        decimal.InvalidOperation,
        decimal.DivisionByZero,
        decimal.Overflow,
        decimal.FloatOperation,
    ],
)
"""Exact arithmetic or an exception: a rounded result raises ``decimal.Inexact``."""


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


def decide(equity: Decimal, mm: Decimal, warning_ratio: Decimal, margin_call_ratio: Decimal) -> int:
    """The level, exactly: the same decision tree the screen follows.

    MM ≤ 0 → healthy; equity ≤ 0 → bankrupt; equity ≤ MM → liquidation;
    MM ≥ margin_call_ratio × equity → margin call; MM ≥ warning_ratio × equity → warning.
    (For equity > 0, ``MM / equity ≥ r`` ⇔ ``MM ≥ r × equity``: no division needed.)
    """
    with decimal.localcontext(EXACT_CONTEXT):
        if mm <= 0:
            return HEALTHY
        if equity <= 0:
            return BANKRUPT
        if equity <= mm:
            return LIQUIDATION
        if mm >= margin_call_ratio * equity:
            return MARGIN_CALL
        if mm >= warning_ratio * equity:
            return WARNING
        return HEALTHY
