"""Multi-asset collateral: what a wallet is worth in the settlement asset (the one home).

* the settlement asset counts at face value (price 1, no haircut), whatever its sign;
* a positive balance of another asset counts at ``index × (1 − haircut)``, where the haircut
  may grow with size (``Asset.haircut_tiers``: marginal bands by quantity);
* a negative balance of another asset is a debt at the full index (no haircut benefit).

Each asset's value is rounded for the venue: a collateral value down, a debt up (more
negative), to ``quantum``. The engine (``engine/margin.py``) and the account calculator
(``portfolio.py``) both call ``value_wallet``.

>>> from decimal import Decimal as D
>>> from solvent.model import Asset
>>> v = value_wallet({"USDT": D("-5700"), "BTC": D("0.1")}, {"BTC": D("5000")}, "USDT",
...                  {"BTC": Asset("BTC", haircut=D("0.05"))}, D("0.00000001"))
>>> v.total                              # 0.1 × 5,000 × 0.95 − 5,700
Decimal('-5225.00000000')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from solvent.errors import InvalidInput
from solvent.model import Asset
from solvent.units import ONE, ZERO, round_down, round_up

__all__ = ["DEFAULT_HAIRCUTS", "CollateralLine", "CollateralValue", "conversion_quantity", "value_wallet"]

DEFAULT_HAIRCUTS: Mapping[str, Decimal] = {
    "BTC": Decimal("0.05"), "ETH": Decimal("0.05"), "BNB": Decimal("0.05"),
    "XRP": Decimal("0.10"), "ADA": Decimal("0.10"), "DOT": Decimal("0.10"), "SOL": Decimal("0.10"),
    "USDT": Decimal("0.0001"), "USDC": Decimal("0.0001"),
}
"""Haircuts the account calculator uses when neither the venue profile nor the account file
gives one: Binance USDⓈ-M Multi-Assets Mode "Collateral Value Ratio" (FAQ "What Is
Multi-Assets Mode", 2021-05-28: BTC/ETH/BNB 95 %, XRP/ADA/DOT/SOL 90 %, USDT/USDC 99.99 %).
Venues revise these; pass ``"haircuts"`` in the file for current values."""


@dataclass(frozen=True, slots=True)
class CollateralLine:
    """One asset of a wallet: balance, index price, the haircut applied, value (signed)."""

    asset: str
    balance: Decimal
    price: Decimal | None
    haircut: Decimal
    value: Decimal


@dataclass(frozen=True, slots=True)
class CollateralValue:
    lines: tuple[CollateralLine, ...]

    @property
    def total(self) -> Decimal:
        """Σ values: the wallet's contribution to equity, in the settlement asset."""
        return sum((line.value for line in self.lines), ZERO)

    @property
    def debt(self) -> Decimal:
        """Σ negative values (≤ 0): what the wallet owes, at the full index."""
        return sum((line.value for line in self.lines if line.value < 0), ZERO)


def _line(asset_id: str, balance: Decimal, price: Decimal, asset: Asset, quantum: Decimal) -> CollateralLine:
    if balance < 0:
        return CollateralLine(asset_id, balance, price, ZERO, round_down(asset.collateral_value(balance, price),
                                                                        quantum))
    raw = asset.collateral_value(balance, price)
    haircut = ONE - raw / (balance * price) if balance else asset.haircut
    return CollateralLine(asset_id, balance, price, haircut, round_down(raw, quantum))


def value_wallet(
    balances: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    settle: str,
    assets: Mapping[str, Asset],
    quantum: Decimal,
    *,
    unpriced_counts_zero: bool = False,
) -> CollateralValue:
    """Value every balance of a wallet in ``settle`` (module docstring), sorted by asset.

    An asset other than ``settle`` needs an entry in ``assets`` (its haircut) and a price in
    ``prices``; a missing price is ``InvalidInput`` unless ``unpriced_counts_zero`` (the
    engine before an asset's first index print), which counts a *positive* balance as 0. A
    debt can never be valued at 0: an unpriced negative balance is always ``InvalidInput``.
    """
    lines: list[CollateralLine] = []
    for asset_id, balance in sorted(balances.items()):
        if asset_id == settle:
            lines.append(CollateralLine(asset_id, balance, ONE, ZERO, balance))
            continue
        price = prices.get(asset_id)
        if price is None:
            if balance == 0 or (balance > 0 and unpriced_counts_zero):
                lines.append(CollateralLine(asset_id, balance, None, ZERO, ZERO))
                continue
            raise InvalidInput(f"no index price for collateral asset {asset_id}")
        if price <= 0:
            raise InvalidInput(f"index price of {asset_id} must be > 0, got {price}")
        asset = assets.get(asset_id)
        if asset is None:
            raise InvalidInput(f"no haircut for collateral asset {asset_id}")
        lines.append(_line(asset_id, balance, price, asset, quantum))
    return CollateralValue(tuple(lines))


def conversion_quantity(debt: Decimal, balance: Decimal, price: Decimal, penalty: Decimal,
                        quantum: Decimal) -> Decimal:
    """How much of a collateral balance to sell at ``price × (1 − penalty)`` to repay ``debt``:
    the smallest multiple of ``quantum`` whose proceeds cover it, at most ``balance``."""
    if debt <= 0 or balance <= 0:
        return ZERO
    return min(balance, round_up(debt / (price * (ONE - penalty)), quantum))
