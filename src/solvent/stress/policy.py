"""The engine configuration both cascades follow (``stress_config``): one home for the policy.

The exact cascade runs the ``Engine`` with this configuration; the fast cascade reads its
parameters (fee rate, money quantum, book account) from the same object and refuses one it
does not model (``FastVenue``), so the two cannot drift apart silently.

* the settlement asset is the instrument's (``USDT``, ``USDC``, ...);
* liquidation orders go to the ``book`` account at the square-root price, walked in a round; no
  backstop, no ADL (a deficit the fund cannot pay is socialised), ``target_buffer = 10^9`` so
  that the smallest part of a position restoring ``MM × (1 + target_buffer)`` is always the
  whole position (a full close);
* ``venue_rules = False``: the engine's **generic** liquidation procedure on every venue. The
  venue-specific procedures of ``engine/venue_rules.py`` (bankruptcy-price takeover, dYdX v4
  fillable price and fund delta, Hyperliquid backstop, Drift liquidator fees and socialised
  loss) are not modelled by the fast cascade, so the exact run leaves them off too, unless
  asked for them (``liquidation="venue"``, exact engine only: the venue's procedure with
  partial closes to the engine's default target, ADL by the venue's ranking, its backstop);
* the volatility-scaled MM is off (no bundled profile has one; the fast cascade has none);
* no price band and a jump guard no move can trip (``NO_JUMP_GUARD``), so every price of the
  path is believed and liquidations never pause: a 90 % crash (``--drop 0.9``), a path
  file's gap, or an impact that drives the mark to one tick and back runs on both engines
  alike (a venue's feed keeps the 50 % band and the guard's 10 %).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from solvent.engine.config import EngineConfig, LiquidationPolicy
from solvent.market import JumpGuardConfig
from solvent.stress.book import BOOK_ACCOUNT, SyntheticBook

__all__ = ["FULL_CLOSE_BUFFER", "LIQUIDATION_MODES", "LiquidationMode", "stress_config"]

LiquidationMode = Literal["generic", "venue"]
LIQUIDATION_MODES: tuple[LiquidationMode, ...] = ("generic", "venue")

FULL_CLOSE_BUFFER = Decimal(10) ** 9
NO_JUMP_GUARD = JumpGuardConfig(Decimal("1E+30"), 1, Decimal("0.02"))  # 10^30 written out: no arithmetic at import
"""A relative jump of 10^30 is more than any two prices the engine accepts can differ by
(``limits.MAX_PRICE`` over the smallest tick)."""


def stress_config(book: SyntheticBook, liquidation: LiquidationMode = "generic") -> EngineConfig:
    """The engine configuration of both cascades (module docstring); ``liquidation="venue"``,
    the exact engine's only: the procedure the venue profile selects (``venue_rules``), with
    its partial closes to the engine's default target, its ADL ranking and its backstop."""
    if liquidation == "venue":
        policy = LiquidationPolicy(book_account=BOOK_ACCOUNT, venue_rules=True)
    else:
        policy = LiquidationPolicy(book_account=BOOK_ACCOUNT, backstop_account=None, target_buffer=FULL_CLOSE_BUFFER,
                                   adl=False, venue_rules=False)
    return EngineConfig(book.profile, settle_asset=book.settle, liquidation=policy, volatility_mm=False,
                        jump_guard=NO_JUMP_GUARD, price_band=None)
