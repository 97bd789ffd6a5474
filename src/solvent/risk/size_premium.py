"""Drift-style size premium: the margin ratio grows with the square root of position size.

Drift protocol-v2 raises a market's margin ratio for large positions ("IMF factor")::

    base_ratio = initial_ratio                               (MarginType.INITIAL)
               = (initial_ratio + maintenance_ratio) / 2     (MarginType.FILL)
               = maintenance_ratio                           (MarginType.MAINTENANCE)

    ratio = max(base_ratio, 0.8 × base_ratio + imf_factor × sqrt(|size_base|))

Units: ratios are fractions of notional (0.10 = 10 %, i.e. 10× max leverage);
``size_base`` is the position size in base units (e.g. SOL); ``imf_factor`` is a ratio
per sqrt(base unit). The margin requirement is then ``notional × ratio``.

Worked example (vector DR-MR-6): initial 0.10, imf_factor 0.00005, size 1,000,000 →
``max(0.10, 0.08 + 0.00005 × 1000) = 0.13``.

Rounding: a requirement rounds up, so the ratio is rounded *up* to ``MARGIN_RATIO_QUANTUM``
(1e-9; finer than Drift's own 1e-4 ``MARGIN_PRECISION``); the square root and the premium
are evaluated in a round-toward-+∞ context, so no working-precision step can under-state it.
Drift computes ``sqrt`` on integers (``size × 10 + 1``) at fixed precision; this exact
version differs from it only below that integer resolution.

Source: drift-labs/protocol-v2 ``programs/drift/src/state/perp_market.rs``
(``get_margin_ratio``) and ``programs/drift/src/math/margin.rs``
(``calculate_size_premium_liability_weight``).
"""

from __future__ import annotations

import decimal
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from typing import Final

from solvent.errors import InvalidInput
from solvent.units import NumberLike, exact, non_negative, positive, round_up, to_decimal

__all__ = ["MARGIN_RATIO_QUANTUM", "MarginType", "size_premium_margin_ratio"]

MARGIN_RATIO_QUANTUM: Final = Decimal("1e-9")
"""Resolution of the returned margin ratio; results are rounded up to it."""

_DISCOUNT: Final = Decimal("0.8")
_TWO: Final = Decimal(2)


class MarginType(StrEnum):
    """Which requirement the ratio is for (Drift ``MarginRequirementType``)."""

    INITIAL = "initial"
    FILL = "fill"
    MAINTENANCE = "maintenance"


def _margin_type(raw: object) -> MarginType:
    if isinstance(raw, MarginType):
        return raw
    if isinstance(raw, str):
        try:
            return MarginType(raw.strip().lower())
        except ValueError:
            pass
    choices = ", ".join(member.value for member in MarginType)
    raise InvalidInput(f"margin_type must be one of {choices}, got {raw!r}")


@exact
def size_premium_margin_ratio(
    initial_ratio: NumberLike,
    maintenance_ratio: NumberLike,
    imf_factor: NumberLike,
    size_base: NumberLike,
    margin_type: MarginType | str,
) -> Decimal:
    """``max(base, 0.8 × base + imf_factor × sqrt(|size_base|))``, rounded up to 1e-9.

    ``base`` is the initial ratio, the maintenance ratio, or their mean for ``FILL``.
    Requires ``0 < maintenance_ratio <= initial_ratio`` and ``imf_factor >= 0``; the sign
    of ``size_base`` (long or short) is ignored. The result is never below ``base`` and
    never decreases as ``|size_base|`` grows.

    Example (vectors DR-MR-1/2/3): initial 0.10, maintenance 0.05, imf 0 →
    0.10 (initial), 0.075 (fill), 0.05 (maintenance).
    """
    initial = positive(initial_ratio, "initial_ratio")
    maintenance = positive(maintenance_ratio, "maintenance_ratio")
    if maintenance > initial:
        raise InvalidInput(f"maintenance_ratio {maintenance} must be <= initial_ratio {initial}")
    factor = non_negative(imf_factor, "imf_factor")
    size = abs(to_decimal(size_base, "size_base"))
    kind = _margin_type(margin_type)
    if kind is MarginType.INITIAL:
        base = initial
    elif kind is MarginType.MAINTENANCE:
        base = maintenance
    else:
        base = (initial + maintenance) / _TWO
    with decimal.localcontext() as ctx:
        ctx.rounding = ROUND_CEILING
        premium = _DISCOUNT * base + factor * size.sqrt()
    return round_up(max(base, premium), MARGIN_RATIO_QUANTUM)
