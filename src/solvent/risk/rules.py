"""Margin rules per instrument: what a venue's margin model says about one position.

Every model is reduced to the same small interface, so the calculators and the engine never
branch on the venue:

* ``maintenance_table(qty)`` — the maintenance-margin schedule, as a tier table over the
  position's notional. A notional tier table returns itself; models whose rate depends only
  on size (Drift's size premium, dYdX's fractions) return a one-tier table with the rate
  for that size. MM is then ``notional × mmr − maint_amount`` with the notional taken at
  the mark (``MMBasis.MARK``) or at entry (``MMBasis.ENTRY``), per the venue profile.
* ``initial_margin(qty, notional, leverage)`` — the initial margin for a position of that size.
* ``max_leverage(qty, notional)`` — the highest leverage the venue allows at that size.

``qty`` is the position's size (base units or contracts), ``notional`` its value at the
mark; models use whichever their venue defines requirements on.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from solvent.errors import LeverageTooHigh
from solvent.risk.dydx import CURRENT_IMF_SCALING, ImfScaling, initial_margin_fraction
from solvent.risk.size_premium import MarginType, size_premium_margin_ratio
from solvent.risk.tiers import TierTable
from solvent.units import ONE, ZERO, exact, plain

PPM = Decimal(1_000_000)

__all__ = ["DriftRules", "DydxRules", "LiquidationTrigger", "MMBasis", "MarginRules", "TieredRules", "size_independent"]


class LiquidationTrigger(StrEnum):
    """When an account is liquidatable: the profile's ``liquidation_trigger``."""

    AT_OR_BELOW = "equity_at_or_below_mm"
    """Liquidatable once equity ≤ MM (margin ratio ≥ 100 %): Binance, Bybit, BitMEX."""
    BELOW = "equity_below_mm"
    """Liquidatable only once equity < MM: dYdX v4 (``NC < MMR``)."""


class MMBasis(StrEnum):
    """Which position value maintenance margin is measured on."""

    MARK = "mark"
    """The value at the current mark (so at the liquidation price): Binance, Hyperliquid, dYdX."""
    ENTRY = "entry"
    """The value at entry: Bybit and BitMEX."""


class MarginRules(Protocol):
    """A venue's margin model for one instrument."""

    def maintenance_table(self, qty: Decimal) -> TierTable:
        """The MM schedule over notional for a position of ``qty``."""
        ...

    @exact
    def initial_margin(self, qty: Decimal, notional: Decimal, leverage: Decimal | None) -> Decimal:
        """Initial margin (exact) for ``notional`` at ``leverage`` (None: the maximum)."""
        ...

    @exact
    def max_leverage(self, qty: Decimal, notional: Decimal) -> Decimal:
        """The highest leverage allowed for a position of ``notional``."""
        ...

    @exact
    def check_leverage(self, qty: Decimal, notional: Decimal, leverage: Decimal) -> None:
        """Raise ``LeverageTooHigh`` if ``leverage`` is not allowed at ``notional``."""
        ...


@dataclass(frozen=True, slots=True)
class TieredRules:
    """Notional tier table: Binance brackets, Bybit risk limits, Hyperliquid margin tiers.

    ``IM = notional / leverage``, with leverage at most the tier's maximum.
    """

    table: TierTable

    def maintenance_table(self, qty: Decimal) -> TierTable:
        return self.table

    @exact
    def initial_margin(self, qty: Decimal, notional: Decimal, leverage: Decimal | None) -> Decimal:
        lev = self.max_leverage(qty, notional) if leverage is None else leverage
        return notional * (ONE / lev)

    @exact
    def max_leverage(self, qty: Decimal, notional: Decimal) -> Decimal:
        return self.table.max_leverage_for(notional)

    def check_leverage(self, qty: Decimal, notional: Decimal, leverage: Decimal) -> None:
        self.table.check_leverage(notional, leverage)  # the table's method enters solvent's context


def _check_flat_leverage(where: str, leverage: Decimal, allowed: Decimal) -> None:
    if leverage > allowed:
        raise LeverageTooHigh(f"{where}: leverage {plain(leverage)} exceeds the maximum {plain(allowed)}")


@dataclass(frozen=True, slots=True)
class DydxRules:
    """dYdX v4 liquidity tier: ``IM = notional × imf(OI)``, ``MM = notional × imf × mmf``.

    ``imf(OI)`` is the initial fraction scaled up with open interest between the tier's caps
    (``solvent.risk.dydx``); ``mmf_ppm`` is the maintenance fraction *of* the initial one.
    ``open_interest_base`` is the market's open interest, fixed when the rules are built.
    ``imf_scaling`` is the version of the chain's scaling the profile follows.
    """

    name: str
    imf_ppm: int
    mmf_ppm: int
    oi_lower_cap: Decimal = ZERO
    oi_upper_cap: Decimal = ZERO
    open_interest_notional: Decimal = ZERO
    imf_scaling: ImfScaling = CURRENT_IMF_SCALING

    def _imf(self) -> Decimal:
        imf = initial_margin_fraction(
            self.imf_ppm, self.open_interest_notional, self.oi_lower_cap, self.oi_upper_cap,
            self.imf_scaling,
        )
        return Decimal(imf.numerator) / Decimal(imf.denominator)

    def maintenance_table(self, qty: Decimal) -> TierTable:
        mmr = Decimal(self.imf_ppm) * Decimal(self.mmf_ppm) / (PPM * PPM)
        return TierTable.single(mmr, PPM / Decimal(self.imf_ppm), name=self.name)

    @exact
    def initial_margin(self, qty: Decimal, notional: Decimal, leverage: Decimal | None) -> Decimal:
        floor = notional * self._imf()
        return floor if leverage is None else max(floor, notional / leverage)

    @exact
    def max_leverage(self, qty: Decimal, notional: Decimal) -> Decimal:
        return ONE / self._imf()

    @exact
    def check_leverage(self, qty: Decimal, notional: Decimal, leverage: Decimal) -> None:
        _check_flat_leverage(self.name, leverage, self.max_leverage(qty, notional))


@dataclass(frozen=True, slots=True)
class DriftRules:
    """Drift perp market: margin ratios grow with size (``solvent.risk.size_premium``).

    ``ratio(size) = max(base, 0.8·base + imf_factor·sqrt(size))`` with ``base`` the initial or
    maintenance ratio; MM and IM are ``notional × ratio(|qty|)``.
    """

    name: str
    initial_ratio: Decimal
    maintenance_ratio: Decimal
    imf_factor: Decimal = ZERO

    def _ratio(self, qty: Decimal, kind: MarginType) -> Decimal:
        return size_premium_margin_ratio(
            self.initial_ratio, self.maintenance_ratio, self.imf_factor, qty, kind
        )

    def maintenance_table(self, qty: Decimal) -> TierTable:
        mmr = self._ratio(qty, MarginType.MAINTENANCE)
        initial = max(self._ratio(qty, MarginType.INITIAL), mmr)
        return TierTable.single(mmr, ONE / initial, name=self.name)

    @exact
    def initial_margin(self, qty: Decimal, notional: Decimal, leverage: Decimal | None) -> Decimal:
        floor = notional * self._ratio(qty, MarginType.INITIAL)
        return floor if leverage is None else max(floor, notional / leverage)

    @exact
    def max_leverage(self, qty: Decimal, notional: Decimal) -> Decimal:
        return ONE / self._ratio(qty, MarginType.INITIAL)

    @exact
    def check_leverage(self, qty: Decimal, notional: Decimal, leverage: Decimal) -> None:
        _check_flat_leverage(self.name, leverage, self.max_leverage(qty, notional))


def size_independent(rules: MarginRules) -> bool:
    """Whether ``rules.maintenance_table`` is the same for every position size: a notional
    tier table, or a one-tier model whose rate does not grow with size (dYdX fractions, Drift
    without a size premium). Anything else is asked per size."""
    if isinstance(rules, TieredRules):
        return True
    return isinstance(rules, DydxRules) or (isinstance(rules, DriftRules) and rules.imf_factor == 0)
