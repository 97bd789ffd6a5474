"""Binance futures payloads: leverage brackets and positions + account, as solvent inputs.

Shapes, from Binance's API documentation:

* ``GET /fapi/v1/leverageBracket`` (USDⓈ-M), "Notional and Leverage Brackets"
  https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Notional-and-Leverage-Brackets
  — a list of ``{"symbol", "notionalCoef", "brackets": [{"bracket", "initialLeverage",
  "notionalCap", "notionalFloor", "maintMarginRatio", "cum"}]}``, or one such object when
  a symbol is sent; numbers are JSON numbers.
* ``GET /dapi/v2/leverageBracket`` (COIN-M), "Notional Bracket for Symbol"
  https://developers.binance.com/docs/derivatives/coin-margined-futures/account/rest-api/Notional-Bracket-for-Symbol
  — the same with ``qtyCap`` / ``qtyFloor`` (the page spells it ``qtylFloor``; both are read):
  tiers by base-asset quantity, not notional.
* ``GET /fapi/v2/positionRisk``, "Position Information V2"
  https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Position-Information-V2
  — a list of ``{"symbol", "positionAmt", "entryPrice", "markPrice", "leverage", "marginType",
  "isolatedMargin", "isolatedWallet", "unRealizedProfit", "positionSide", ...}``, numbers as strings
  (v3 drops ``leverage`` and ``marginType``: a non-zero ``isolatedWallet`` marks an isolated position).
* ``GET /fapi/v2/account``, "Account Information V2"
  https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Account-Information-V2
  — ``{"totalWalletBalance", "assets": [{"asset", "walletBalance", "crossWalletBalance", ...}], ...}``.

``notionalCoef`` is not applied: the brackets returned are taken as the ones in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from solvent.adapters._fields import (
    account_file,
    as_list,
    as_object,
    field,
    number,
    optional_number,
    read_positions,
    text,
)
from solvent.errors import InvalidInput, InvalidTierTable
from solvent.risk.tiers import TierTable
from solvent.risk.venues import VenueProfile, load_venue
from solvent.units import ZERO, exact, plain

__all__ = ["account_from_binance", "cross_balances", "tiers_from_binance"]

_SIDES = {"BOTH": "both", "LONG": "long", "SHORT": "short"}


@exact
def tiers_from_binance(payload: Any, symbol: str) -> TierTable:
    """The tier table of ``symbol`` from a ``leverageBracket`` response (see the module docstring).

    ``cum`` is Binance's maintenance amount; it must satisfy the continuity recursion
    (``TierTable.from_brackets``), as Binance's own tables do.
    """
    entries = payload if isinstance(payload, list) else [as_object(payload, "binance leverageBracket")]
    for i, raw in enumerate(entries):
        where = f"binance leverageBracket[{i}]"
        entry = as_object(raw, where)
        name = entry.get("symbol", entry.get("pair"))
        if name != symbol:
            continue
        brackets = as_list(field(entry, "brackets", where), f"{where}.brackets")
        if not brackets:
            raise InvalidTierTable(f"{where}.brackets: no brackets for {symbol}")
        rows = [_bracket(b, f"{where}.brackets[{j}]") for j, b in enumerate(brackets)]
        return TierTable.from_brackets(f"binance {symbol}", rows)
    raise InvalidTierTable(f"binance leverageBracket: no symbol {symbol!r} in the payload")


def _bracket(raw: object, where: str) -> dict[str, object]:
    b = as_object(raw, where)
    if "notionalFloor" in b or "notionalCap" in b:
        floor, cap = number(b, "notionalFloor", where), number(b, "notionalCap", where)
    else:  # COIN-M: bands of base-asset quantity
        floor_key = "qtyFloor" if "qtyFloor" in b else "qtylFloor"
        floor, cap = number(b, floor_key, where), number(b, "qtyCap", where)
    return {
        "notional_floor": floor,
        "notional_cap": cap,
        "maint_margin_ratio": number(b, "maintMarginRatio", where),
        "initial_leverage": number(b, "initialLeverage", where),
        "cum": number(b, "cum", where),
    }


@exact
def account_from_binance(
    position_risk: Any, account: Any, profile: VenueProfile | None = None
) -> dict[str, Any]:
    """An account file (``docs/account-file.md``) from ``positionRisk`` and ``account`` responses.

    ``profile`` defaults to ``binance-usdm``. Zero-size rows are skipped. The cross wallet is
    the settlement asset's ``crossWalletBalance`` (else its ``walletBalance`` less the
    isolated wallets); an isolated position's margin is its ``isolatedWallet`` (its
    margin without unrealised PnL, which solvent adds from the mark).
    """
    venue = profile or load_venue("binance-usdm")
    rows = as_list(position_risk, "binance positionRisk")
    read = read_positions(((f"binance positionRisk[{i}]", raw) for i, raw in enumerate(rows)), venue,
                          lambda row, where: _position(row, venue, where))
    balances = cross_balances(as_object(account, "binance account"), read.isolated)
    return account_file(venue, read, balances, "binance account")


def _position(row: Mapping[str, Any], venue: VenueProfile, where: str) -> dict[str, Any] | None:
    amount = number(row, "positionAmt", where)
    if amount == 0:
        return None
    symbol = text(row, "symbol", where)
    venue.instrument(symbol)  # UnknownSymbol names the venue and the symbol
    side_raw = row.get("positionSide", "BOTH")
    if side_raw not in _SIDES:
        raise InvalidInput(f"{where}.positionSide: expected BOTH, LONG or SHORT, got {side_raw!r}")
    spec: dict[str, Any] = {
        "symbol": symbol,
        "side": "long" if amount > 0 else "short",
        "qty": plain(abs(amount)),
        "entry": plain(number(row, "entryPrice", where)),
        "mark": plain(number(row, "markPrice", where)),
        "position_side": _SIDES[side_raw],
        "margin_mode": "cross",
    }
    leverage = optional_number(row, "leverage", where)
    if leverage is not None:
        spec["leverage"] = plain(leverage)
    if _is_isolated(row, where):
        spec["margin_mode"] = "isolated"
        spec["isolated_margin"] = plain(_isolated_wallet(row, where))
    return spec


def _is_isolated(row: Mapping[str, Any], where: str) -> bool:
    if "marginType" in row:
        kind = str(text(row, "marginType", where)).lower()
        if kind not in ("cross", "crossed", "isolated"):
            raise InvalidInput(f"{where}.marginType: expected cross or isolated, got {kind!r}")
        return kind == "isolated"
    wallet = optional_number(row, "isolatedWallet", where)
    return wallet is not None and wallet != 0


def _isolated_wallet(row: Mapping[str, Any], where: str) -> Decimal:
    wallet = optional_number(row, "isolatedWallet", where)
    if wallet is not None:
        return wallet
    # isolatedMargin includes the position's unrealised PnL; solvent adds that from the mark
    return number(row, "isolatedMargin", where) - number(row, "unRealizedProfit", where)


def cross_balances(account: Mapping[str, Any], isolated: Mapping[str, Decimal],
                   where: str = "binance account") -> dict[str, Decimal]:
    """The cross wallet per asset of an ``account`` response, less the isolated margins."""
    if "assets" not in account:
        total = number(account, "totalWalletBalance", where)  # single-asset mode: USDT only
        return {"USDT": total - isolated.get("USDT", ZERO)}
    balances: dict[str, Decimal] = {}
    for i, raw in enumerate(as_list(account["assets"], f"{where}.assets")):
        at = f"{where}.assets[{i}]"
        entry = as_object(raw, at)
        asset = text(entry, "asset", at)
        if asset in balances:
            raise InvalidInput(f"{at}: asset {asset} listed twice")
        cross = optional_number(entry, "crossWalletBalance", at)
        if cross is None:
            cross = number(entry, "walletBalance", at) - isolated.get(asset, ZERO)
        balances[asset] = cross
    return balances
