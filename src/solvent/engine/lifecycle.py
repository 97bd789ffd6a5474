"""The account lifecycle as one transition table.

Levels come from ``engine/levels.py``; this table says which moves between them are legal
and what guards them. Anything not in the table is a bug and raises
``InvariantViolation``.

==============  ==============================================  =====================================
from            to                                              guard
==============  ==============================================  =====================================
healthy         warning, margin_call, liquidation, bankrupt     the ratio crossed a threshold (gaps allowed)
warning         healthy, margin_call, liquidation, bankrupt     ratio thresholds with hysteresis
margin_call     healthy, warning, liquidation, bankrupt         ratio thresholds with hysteresis
liquidation     healthy, warning, margin_call                   equity ≥ MM + exit buffer × notional
liquidation     bankrupt                                        equity ≤ 0
bankrupt        healthy                                         resolved: positions closed, deficit covered
bankrupt        liquidation, margin_call, warning               the price recovered before resolution
==============  ==============================================  =====================================
"""

from __future__ import annotations

from solvent.calc.account import MarginLevel
from solvent.errors import InvariantViolation

__all__ = ["TRANSITIONS", "check_transition"]

H, W, C, L, B = (MarginLevel.HEALTHY, MarginLevel.WARNING, MarginLevel.MARGIN_CALL,
                 MarginLevel.LIQUIDATION, MarginLevel.BANKRUPT)

TRANSITIONS: dict[MarginLevel, frozenset[MarginLevel]] = {
    H: frozenset({W, C, L, B}),
    W: frozenset({H, C, L, B}),
    C: frozenset({H, W, L, B}),
    L: frozenset({H, W, C, B}),
    B: frozenset({H, W, C, L}),
}
"""Legal moves; staying at the same level is not a transition (no event)."""


def check_transition(previous: MarginLevel, level: MarginLevel) -> MarginLevel:
    """``level`` if moving there from ``previous`` is legal, else ``InvariantViolation``."""
    if level is previous:
        return level
    if level not in TRANSITIONS[previous]:
        raise InvariantViolation(f"illegal account transition {previous.value} -> {level.value}")
    return level
