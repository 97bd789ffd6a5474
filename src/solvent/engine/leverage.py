"""The leverage a position may carry: the one check orders and ``SetLeverage`` share.

1. The venue's own limit (``MarginRules.check_leverage``): the tier's maximum leverage for
   the position's notional (dYdX: ``1 / IMF``; Drift: its margin ratio).
2. With a volatility-scaled MM in force (``EngineConfig.volatility_rule``) and
   ``EngineConfig.strict_leverage``: the initial margin ``notional / leverage`` must cover
   the position's scaled maintenance margin ``scale × table MM(notional)``. The tier tables
   keep IM above MM at the published rates; a scale of 4 on a 0.4 % first tier makes MM
   1.6 %, above the 1 % IM of 100× leverage, and without this check an order at 100× would
   open a position already below its maintenance margin (liquidated on the next tick). The
   largest leverage allowed is then ``notional / scaled MM``, rounded down to 0.01.

Both refusals are ``LEVERAGE_EXCEEDS_TIER`` naming the leverage asked, the largest allowed
and the notional (and, for the second, the scale).
"""

from __future__ import annotations

from decimal import Decimal

from solvent.engine.context import Deny
from solvent.engine.denials import DenyCode
from solvent.engine.margin import MarginView
from solvent.errors import LeverageTooHigh
from solvent.risk.rules import TieredRules
from solvent.units import ZERO, round_down

__all__ = ["check_leverage", "leverage_clear_below"]

_LEVERAGE_STEP = Decimal("0.01")


def check_leverage(view: MarginView, symbol: str, qty: Decimal, notional: Decimal, leverage: Decimal) -> None:
    """Refuse ``leverage`` for a position of ``qty`` worth ``notional`` on ``symbol`` (module docstring)."""
    rules = view.config.profile.rules_for(symbol)
    try:
        rules.check_leverage(qty, notional, leverage)
    except LeverageTooHigh:
        raise Deny(DenyCode.LEVERAGE_EXCEEDS_TIER, leverage=leverage, max_leverage=rules.max_leverage(qty, notional),
                   notional=notional) from None
    scale = view.scales.get(symbol)
    if scale is None or notional <= 0 or not view.config.strict_leverage:
        return
    scaled_mm = rules.maintenance_table(qty).maintenance_margin(notional) * scale
    if scaled_mm > 0 and notional < scaled_mm * leverage:  # notional / leverage < scaled MM
        allowed = min(rules.max_leverage(qty, notional), round_down(notional / scaled_mm, _LEVERAGE_STEP))
        raise Deny(DenyCode.LEVERAGE_EXCEEDS_TIER, leverage=leverage, max_leverage=allowed, notional=notional,
                   mm_scale=scale)


def leverage_clear_below(view: MarginView, symbol: str, leverage: Decimal) -> Decimal:
    """A notional below which ``check_leverage(view, symbol, qty, notional, leverage)`` passes
    whatever the quantity (0 where no such bound is known): a tier table's
    (``TierTable.leverage_clear_below``), with no scaled-MM check in force. The pre-trade check
    skips the full check below it; at or above it, or under any other rules, it runs the check."""
    config = view.config
    if config.strict_leverage and view.scales.get(symbol) is not None:
        return ZERO
    rules = config.profile.rules_for(symbol)
    return rules.table.leverage_clear_below(leverage) if type(rules) is TieredRules else ZERO
