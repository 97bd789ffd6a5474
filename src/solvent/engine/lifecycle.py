"""The account lifecycle as one transition table with guards.

Levels come from ``risk/levels.py`` (ratio thresholds and hysteresis) and the exit guard
in ``engine/core.py``; this table says under which facts an account may *be* at each level
after an update — moving there or staying there — so a level that contradicts the
account's equity raises ``InvariantViolation`` instead of being recorded. Gaps are allowed
(a price jump can take an account from ``healthy`` straight to ``bankrupt``); what is checked
is the guard of the level reached. The facts (``Facts.of``) come from the venue profile's
``is_bankrupt`` / ``is_liquidatable`` (the one home) and the liquidation target.

==============  ==================  ===================================================================
to / stay at    from                guard
==============  ==================  ===================================================================
bankrupt        any                 bankrupt: equity < 0, or equity = 0 with MM > 0
liquidation     any                 not bankrupt, and liquidatable (venue trigger) — or, liquidation on,
                                    held: the account was at liquidation/bankrupt and is below target
margin_call     any                 not liquidatable, and not held (liquidation on: an account leaves
warning         any                 liquidation/bankrupt only at ``target_equity``)
healthy         any                 same as margin_call (the ratio thresholds are ``risk/levels.py``'s)
==============  ==================  ===================================================================

Forbidden, for example: ``healthy`` (or staying ``healthy``) with negative equity; leaving
``bankrupt`` for ``healthy`` while equity is below zero; leaving ``liquidation`` for
``warning`` below the target with liquidation on; ``bankrupt`` while equity is positive.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import msgspec

from solvent.calc.account import MarginLevel
from solvent.engine.config import EngineConfig
from solvent.engine.liquidation import exit_guard
from solvent.errors import InvariantViolation

__all__ = ["TRANSITIONS", "Facts", "check_transition"]

H, W, C, L, B = (MarginLevel.HEALTHY, MarginLevel.WARNING, MarginLevel.MARGIN_CALL,
                 MarginLevel.LIQUIDATION, MarginLevel.BANKRUPT)


class Facts(msgspec.Struct, frozen=True, gc=False):
    """What the guards read about the scope that decided an account's level."""

    bankrupt: bool
    liquidatable: bool
    held: bool
    """Liquidation is on, the account was at liquidation/bankrupt, and it is below target."""

    @classmethod
    def of(cls, config: EngineConfig, previous: MarginLevel, equity: Decimal, mm: Decimal,
           notional: Decimal) -> Facts:
        profile = config.profile
        # held at liquidation by the exit rule whatever the level rules say (its one home: ``exit_guard``)
        held = exit_guard(config.liquidation, previous, MarginLevel.HEALTHY, equity, mm, notional) is not (
            MarginLevel.HEALTHY)
        return cls(profile.is_bankrupt(equity, mm), profile.is_liquidatable(equity, mm), held)


Guard = Callable[[Facts], bool]

TRANSITIONS: dict[MarginLevel, tuple[str, Guard]] = {
    B: ("bankrupt", lambda f: f.bankrupt),
    L: ("liquidatable or held, not bankrupt", lambda f: not f.bankrupt and (f.liquidatable or f.held)),
    C: ("not liquidatable, not held", lambda f: not f.liquidatable and not f.held),
    W: ("not liquidatable, not held", lambda f: not f.liquidatable and not f.held),
    H: ("not liquidatable, not held", lambda f: not f.liquidatable and not f.held),
}
"""The guard of each level, checked on every move there and every stay."""


def check_transition(previous: MarginLevel, level: MarginLevel, facts: Facts) -> MarginLevel:
    """``level`` if being there after ``previous`` is legal under ``facts``, else ``InvariantViolation``."""
    name, guard = TRANSITIONS[level]
    if not guard(facts):
        raise InvariantViolation(
            f"illegal account transition {previous.value} -> {level.value}: guard '{name}' fails")
    return level
