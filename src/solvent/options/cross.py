"""Cross-currency option margin: positions on several coins, and collateral in several assets,
margined together in one asset with haircuts.

The file is a portfolio file (``options.portfolio``) with ``margin_asset`` (``USDC``, say);
``index`` gives every coin's price, and every other asset's, in that asset; ``wallet`` may hold
any of them; ``haircuts`` may override the collateral model's (``risk.collateral``'s
``DEFAULT_HAIRCUTS``).

1. The positions are grouped by coin and settlement asset (``BTC`` settled in ``BTC``,
   ``ETH_USDC``...). Each group is margined alone by the rule set, in its own settlement
   asset, as a one-currency portfolio is (``options.margin``).
2. Each group's MM and IM are converted to the margin asset at its settlement asset's price
   (the coin's index for an inverse group, 1 for the margin asset) and rounded up; its
   equity (option marks, futures P&L) is converted and rounded down.
3. The wallet counts at its collateral value (``risk.collateral.value_wallet``: the margin
   asset at face value, another asset at index × (1 − haircut), a debt at the full index).
4. MM and IM are the groups' sums; equity is the collateral value plus the groups' equity.

Losses on different coins are added, never netted against each other: no diversification
across coins is assumed, so the answer is at least what each coin needs alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from solvent.errors import InvalidInput
from solvent.limits import MAX_AMOUNT, MAX_PRICE, within
from solvent.model import Asset
from solvent.options.margin import MarginReport, margin
from solvent.options.okx_tiers import rules_with_okx_tiers
from solvent.options.portfolio import OptionPortfolio, read_portfolio, underlying_of, unused_surfaces
from solvent.options.rules import OptionRules
from solvent.risk.collateral import DEFAULT_HAIRCUTS, CollateralValue, value_wallet
from solvent.units import ZERO, exact, plain, positive, round_down, round_up, to_decimal

USD_ASSETS = ("USD", "USDC", "USDT")
"""Margin assets a cross-currency portfolio may use: ``index`` is in USD, taken as 1:1."""

__all__ = ["USD_ASSETS", "CrossGroup", "CrossPortfolio", "CrossReport", "cross_margin", "read_cross_portfolio"]


@dataclass(frozen=True, slots=True)
class CrossPortfolio:
    margin_asset: str
    wallet: dict[str, Decimal]
    prices: dict[str, Decimal]
    """Every asset's price in the margin asset (the file's ``index``)."""
    haircuts: dict[str, Decimal]
    groups: tuple[OptionPortfolio, ...]


@dataclass(frozen=True, slots=True)
class CrossGroup:
    report: MarginReport
    price: Decimal
    """The group's settlement asset in the margin asset."""
    maintenance_margin: Decimal
    initial_margin: Decimal
    equity: Decimal
    """In the margin asset."""


@dataclass(frozen=True, slots=True)
class CrossReport:
    rules: str
    margin_asset: str
    equity: Decimal
    maintenance_margin: Decimal
    initial_margin: Decimal
    collateral: CollateralValue
    groups: tuple[CrossGroup, ...]

    @property
    def excess(self) -> Decimal:
        return self.equity - self.maintenance_margin


@exact
def read_cross_portfolio(raw: object, what: str = "portfolio") -> CrossPortfolio:
    """A cross-currency portfolio from decoded JSON (module docstring)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("margin_asset"), str):
        raise InvalidInput(f"{what}: a cross-currency portfolio names its margin_asset")
    body: dict[str, Any] = dict(raw)
    margin_asset: str = body.pop("margin_asset")
    if margin_asset not in USD_ASSETS:
        raise InvalidInput(f"{what}: margin_asset {margin_asset!r} is not one of {', '.join(USD_ASSETS)} (the index "
                           "prices the coins in USD, so the margin asset is a USD one)")
    raw_haircuts = body.pop("haircuts", {})
    raw_wallet = body.pop("wallet", {})
    if not isinstance(raw_haircuts, dict) or not isinstance(raw_wallet, dict) or not isinstance(
            body.get("index"), dict) or not isinstance(body.get("positions"), list):
        raise InvalidInput(f"{what}: index, wallet and haircuts are objects, positions a list")
    if not body["positions"]:
        raise InvalidInput(f"{what}: no positions")
    # the ranges the one-currency reader holds its numbers to (found by a new-user pass: a wallet of
    # 10^39 USDC was taken, and an index of the margin asset itself was replaced by 1 in silence)
    prices = {asset: within(positive(p, f"{what} index.{asset}"), MAX_PRICE, f"{what} index.{asset}")
              for asset, p in body["index"].items()}
    if prices.setdefault(margin_asset, Decimal(1)) != 1:
        raise InvalidInput(f"{what} index.{margin_asset}: the margin asset is the unit its index prices are in; "
                           f"give 1 or leave it out, got {plain(prices[margin_asset])}")
    haircuts = {asset: to_decimal(h, f"{what} haircuts.{asset}") for asset, h in raw_haircuts.items()}
    wallet = {asset: within(to_decimal(v, f"{what} wallet.{asset}"), MAX_AMOUNT, f"{what} wallet.{asset}")
              for asset, v in raw_wallet.items()}
    for asset, units in wallet.items():
        if asset in prices:
            within(abs(units) * prices[asset], MAX_AMOUNT, f"{what} wallet.{asset} × its index")
    by_group: dict[tuple[str, str], list[Any]] = {}
    for i, position in enumerate(body["positions"]):
        name = position.get("instrument") if isinstance(position, dict) else None
        if not isinstance(name, str):
            raise InvalidInput(f"{what} positions[{i}]: needs an instrument name")
        try:
            group = underlying_of(name)
        except InvalidInput as bad:
            raise InvalidInput(f"{what} positions[{i}].instrument: {bad}") from None
        by_group.setdefault(group, []).append(position)
    groups = []
    for (base, settle), positions in sorted(by_group.items()):
        if settle not in prices:
            raise InvalidInput(f"{what} index: no price for {settle} in {margin_asset}")
        groups.append(read_portfolio({**body, "positions": positions}, f"{what} ({base} settled in {settle})",
                                     whole=False))
    surface = body.get("surface", {})
    if isinstance(surface, dict):  # each group read its positions' names (and refused a bad one) first
        unused_surfaces(surface, [p["instrument"] for group in by_group.values() for p in group], what)
    return CrossPortfolio(margin_asset, wallet, prices, haircuts, tuple(groups))


@exact
def cross_margin(portfolio: CrossPortfolio, rules: OptionRules, margin_tiers: object = None,
                 tiers_what: str = "margin tiers") -> CrossReport:
    """MM, IM and equity of ``portfolio`` in its margin asset (module docstring). ``margin_tiers``:
    OKX's option position tiers (``options.okx_tiers``), each group at its own family's."""
    quantum = rules.quantum_of(portfolio.margin_asset)
    assets: dict[str, Asset] = {}
    for asset in portfolio.wallet:
        haircut = portfolio.haircuts.get(asset, DEFAULT_HAIRCUTS.get(asset))
        if asset != portfolio.margin_asset and haircut is None:
            raise InvalidInput(f"no haircut for collateral asset {asset}: give it in haircuts")
        assets[asset] = Asset(asset, haircut=haircut or ZERO)
    collateral = value_wallet(portfolio.wallet, portfolio.prices, portfolio.margin_asset, assets, quantum)
    groups = []
    for group in portfolio.groups:
        own = rules if margin_tiers is None else rules_with_okx_tiers(rules, group, margin_tiers, tiers_what)
        report = margin(group, own)
        price = portfolio.prices[group.settle]
        groups.append(CrossGroup(report, price, round_up(report.maintenance_margin * price, quantum),
                                 round_up(report.initial_margin * price, quantum),
                                 round_down(report.equity * price, quantum)))
    return CrossReport(rules.name, portfolio.margin_asset,
                       collateral.total + sum((g.equity for g in groups), ZERO),
                       sum((g.maintenance_margin for g in groups), ZERO),
                       sum((g.initial_margin for g in groups), ZERO), collateral, tuple(groups))
