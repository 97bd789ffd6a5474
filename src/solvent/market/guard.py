"""Price guards: reject impossible prices, hold sudden jumps until they are confirmed.

``validate_price``
    accepts a positive finite decimal (never a float) that, when a reference and a band
    are given, satisfies ``|price / reference − 1| ≤ band``; anything else raises
    ``InvalidInput``. Example: reference 30000, band 0.10 → 33000 passes, 33001 fails.

``jump_guard_step`` (state machine, one row per case)
    ======================  =====================================  ===========  ============
    state                   update p                               status       liquidate?
    ======================  =====================================  ===========  ============
    no accepted price       any                                    ACCEPTED     yes
    accepted a, no hold     |p/a − 1| ≤ max_jump                   ACCEPTED     yes
    accepted a, no hold     |p/a − 1| > max_jump                   HELD (L=p)   no
    holding level L         |p/a − 1| ≤ max_jump                   ACCEPTED     yes (revert)
    holding level L         |p/L − 1| ≤ tolerance, count < n       HELD         no
    holding level L         |p/L − 1| ≤ tolerance, count reaches n CONFIRMED    yes
    holding level L         otherwise                              HELD (L=p)   no
    ======================  =====================================  ===========  ============

    While a move is held the engine keeps judging accounts at the last accepted price
    (``reference_price``) and must not let the held price trigger liquidations.
    Worked example: ``max_jump = 0.05``, ``tolerance = 0.01``, ``confirmations = 2``;
    prices 30000 (ACCEPTED), 33000 (+10 %: HELD), 33100 (within 1 % of 33000: HELD,
    1 of 2), 32900 (HELD → CONFIRMED, 2 of 2; the accepted price becomes 32900).

Source: solvent's own circuit breaker (DESIGN.md, market layer). No venue publishes this
exact rule; it follows the common practice of confirming an outlying print before acting on
it, as the index's deviation filter does across sources.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from solvent.errors import InvalidInput
from solvent.market._stats import relative_deviation
from solvent.units import ONE, exact, non_negative, positive


@exact
def validate_price(
    raw: object,
    *,
    reference: Decimal | None = None,
    band: Decimal | None = None,
    field: str = "price",
) -> Decimal:
    """A positive finite decimal within ``band`` of ``reference`` (when both are given).

    >>> validate_price("30000.5")
    Decimal('30000.5')
    """
    price = positive(raw, field)
    if reference is None or band is None:
        return price
    reference = positive(reference, "reference")
    band = non_negative(band, "band")
    if abs(price / reference - ONE) > band:
        raise InvalidInput(f"{field} {price} is outside ±{band} of the reference {reference}")
    return price


class JumpStatus(StrEnum):
    """What the guard did with one price update."""

    ACCEPTED = "ACCEPTED"
    HELD = "HELD"
    CONFIRMED = "CONFIRMED"


@dataclass(frozen=True, slots=True)
class JumpGuardConfig:
    """``max_jump`` and ``tolerance`` are relative; ``confirmations`` counts updates."""

    max_jump: Decimal
    confirmations: int
    tolerance: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_jump", positive(self.max_jump, "max_jump"))
        object.__setattr__(self, "tolerance", non_negative(self.tolerance, "tolerance"))
        count = self.confirmations
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidInput(f"confirmations must be an integer >= 1, got {count!r}")


@dataclass(frozen=True, slots=True)
class JumpGuard:
    """Guard state: the last accepted price and the level being held, if any."""

    accepted_price: Decimal | None = None
    held_price: Decimal | None = None
    held_since_ms: int | None = None
    confirmations_seen: int = 0
    last_update_ms: int | None = None

    @exact
    def step(
        self, new_price: Decimal, now_ms: int, config: JumpGuardConfig
    ) -> tuple[JumpGuard, JumpDecision]:
        """Same as ``jump_guard_step(self, new_price, now_ms, config)``."""
        return jump_guard_step(self, new_price, now_ms, config)


@dataclass(frozen=True, slots=True)
class JumpDecision:
    """Outcome of one update: the observed price and the price liquidations may use."""

    status: JumpStatus
    price: Decimal
    reference_price: Decimal
    liquidations_allowed: bool
    confirmations_seen: int = 0
    held_since_ms: int | None = None


@exact
def jump_guard_step(
    state: JumpGuard, new_price: Decimal, now_ms: int, config: JumpGuardConfig
) -> tuple[JumpGuard, JumpDecision]:
    """Feed one price update to the guard (table in the module docstring); pure.

    >>> cfg = JumpGuardConfig(Decimal("0.05"), 2, Decimal("0.01"))
    >>> state, decision = jump_guard_step(JumpGuard(), Decimal(30000), 0, cfg)
    >>> state, decision = jump_guard_step(state, Decimal(33000), 1000, cfg)
    >>> decision.status, decision.liquidations_allowed, decision.reference_price
    (<JumpStatus.HELD: 'HELD'>, False, Decimal('30000'))
    """
    price = positive(new_price, "new_price")
    if isinstance(now_ms, bool) or not isinstance(now_ms, int):
        raise InvalidInput("now_ms must be an integer number of milliseconds")
    if state.last_update_ms is not None and now_ms < state.last_update_ms:
        raise InvalidInput(f"price update at {now_ms} ms is before {state.last_update_ms} ms")
    accepted = state.accepted_price
    if accepted is None or relative_deviation(price, accepted) <= config.max_jump:
        return _accept(price, now_ms, JumpStatus.ACCEPTED)
    held = state.held_price
    if held is not None and relative_deviation(price, held) <= config.tolerance:
        seen = state.confirmations_seen + 1
        if seen >= config.confirmations:
            return _accept(price, now_ms, JumpStatus.CONFIRMED, seen)
        new_state = replace(state, confirmations_seen=seen, last_update_ms=now_ms)
        return new_state, _held(new_state, price, accepted)
    new_state = JumpGuard(accepted, price, now_ms, 0, now_ms)
    return new_state, _held(new_state, price, accepted)


def _accept(
    price: Decimal, now_ms: int, status: JumpStatus, seen: int = 0
) -> tuple[JumpGuard, JumpDecision]:
    decision = JumpDecision(status, price, price, True, seen)
    return JumpGuard(accepted_price=price, last_update_ms=now_ms), decision


def _held(state: JumpGuard, price: Decimal, accepted: Decimal) -> JumpDecision:
    return JumpDecision(
        JumpStatus.HELD, price, accepted, False, state.confirmations_seen, state.held_since_ms
    )
