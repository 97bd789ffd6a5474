"""Bybit v5 payloads: risk-limit tiers and positions + wallet balance, as solvent inputs.

Shapes, from Bybit's v5 API documentation:

* ``GET /v5/market/risk-limit``, "Get Risk Limit" https://bybit-exchange.github.io/docs/v5/market/risk-limit
  — ``{"retCode": 0, "result": {"category", "list": [{"id", "symbol", "riskLimitValue",
  "maintenanceMargin", "initialMargin", "isLowestRisk", "maxLeverage", "mmDeduction"}]}}``.
  Each row's ``riskLimitValue`` is the *cap* of its tier; its floor is the previous row's
  cap (0 for the first). ``mmDeduction`` is the maintenance amount (``""`` when not given).
* ``GET /v5/position/list``, "Get Position Info" https://bybit-exchange.github.io/docs/v5/position
  — ``{"retCode": 0, "result": {"list": [{"symbol", "side": "Buy"/"Sell"/"", "size",
  "avgPrice", "markPrice", "leverage", "tradeMode": 0 cross / 1 isolated, "positionIM",
  "positionIdx": 0 one-way / 1 buy side / 2 sell side of hedge mode, ...}]}}``, numbers as strings.
* ``GET /v5/account/wallet-balance``, "Get Wallet Balance"
  https://bybit-exchange.github.io/docs/v5/account/wallet-balance
  — ``{"retCode": 0, "result": {"list": [{"accountType", "coin": [{"coin", "walletBalance", ...}]}]}}``.
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

__all__ = ["account_from_bybit", "tiers_from_bybit", "wallet_balances"]

_HEDGE_SIDES = {0: "both", 1: "long", 2: "short"}


def _result_list(payload: Any, what: str) -> list[Any]:
    """``result.list`` of a v5 response, refusing an error response (``retCode`` not 0)."""
    body = as_object(payload, what)
    code = body.get("retCode", 0)
    if code != 0:
        raise InvalidInput(f"{what}: an error response (retCode {code}: {body.get('retMsg', '')})")
    result = as_object(field(body, "result", what), f"{what}.result")
    return as_list(field(result, "list", f"{what}.result"), f"{what}.result.list")


@exact
def tiers_from_bybit(payload: Any, symbol: str) -> TierTable:
    """The tier table of ``symbol`` from a ``/v5/market/risk-limit`` response.

    When every tier has an ``mmDeduction`` it is kept and checked for continuity; when any
    is empty, all maintenance amounts are recomputed from the continuity recursion.
    """
    what = "bybit risk-limit"
    rows: list[tuple[Decimal, Decimal, Decimal, Decimal | None, str]] = []
    for i, raw in enumerate(_result_list(payload, what)):
        where = f"{what}.result.list[{i}]"
        entry = as_object(raw, where)
        if text(entry, "symbol", where) != symbol:
            continue
        rows.append((
            number(entry, "riskLimitValue", where),
            number(entry, "maintenanceMargin", where),
            number(entry, "maxLeverage", where),
            optional_number(entry, "mmDeduction", where),
            where,
        ))
    if not rows:
        raise InvalidTierTable(f"{what}: no symbol {symbol!r} in the payload")
    rows.sort(key=lambda r: r[0])
    given = all(r[3] is not None for r in rows)
    brackets: list[dict[str, object]] = []
    floor = ZERO
    for cap, rate, lev, deduction, _ in rows:
        bracket: dict[str, object] = {"notional_floor": floor, "notional_cap": cap,
                                      "maint_margin_ratio": rate, "initial_leverage": lev}
        if given:
            bracket["cum"] = deduction
        brackets.append(bracket)
        floor = cap
    return TierTable.from_brackets(f"bybit {symbol}", brackets, recompute=not given)


@exact
def account_from_bybit(position_list: Any, wallet: Any, profile: VenueProfile | None = None) -> dict[str, Any]:
    """An account file (``docs/account-file.md``) from ``/v5/position/list`` and ``/v5/account/wallet-balance``.

    ``profile`` defaults to ``bybit-linear``. Zero-size rows are skipped. An isolated
    position's margin is its ``positionIM``; the cross wallet is the settlement coin's
    ``walletBalance`` less those isolated margins (the wallet balance holds them).
    """
    venue = profile or load_venue("bybit-linear")
    rows = _result_list(position_list, "bybit position/list")
    read = read_positions(((f"bybit position/list.result.list[{i}]", raw) for i, raw in enumerate(rows)), venue,
                          lambda row, where: _position(row, venue, where))
    balances = {coin: amount - read.isolated.get(coin, ZERO) for coin, amount in wallet_balances(wallet).items()}
    return account_file(venue, read, balances, "bybit wallet-balance")


def _position(row: Mapping[str, Any], venue: VenueProfile, where: str) -> dict[str, Any] | None:
    size = number(row, "size", where)
    if size == 0:
        return None
    if size < 0:  # Bybit's size is unsigned; the side says which way
        raise InvalidInput(f"{where}.size: expected a size >= 0 (the side gives the direction), got {plain(size)}")
    symbol = text(row, "symbol", where)
    venue.instrument(symbol)
    side = text(row, "side", where)
    if side not in ("Buy", "Sell"):
        raise InvalidInput(f"{where}.side: expected Buy or Sell for a position of size {plain(size)}, got {side!r}")
    idx = _integer(row, "positionIdx", where, default=0)
    mode = _integer(row, "tradeMode", where, default=0)
    if idx not in _HEDGE_SIDES or mode not in (0, 1):
        raise InvalidInput(f"{where}: positionIdx must be 0, 1 or 2 and tradeMode 0 or 1")
    spec: dict[str, Any] = {
        "symbol": symbol,
        "side": "long" if side == "Buy" else "short",
        "qty": plain(abs(size)),
        "entry": plain(number(row, "avgPrice", where)),
        "mark": plain(number(row, "markPrice", where)),
        "position_side": _HEDGE_SIDES[idx],
        "margin_mode": "isolated" if mode == 1 else "cross",
    }
    leverage = optional_number(row, "leverage", where)
    if leverage is not None:
        spec["leverage"] = plain(leverage)
    if mode == 1:
        spec["isolated_margin"] = plain(number(row, "positionIM", where))
    return spec


def _integer(row: Mapping[str, Any], key: str, where: str, default: int) -> int:
    value = row.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{where}.{key}: expected an integer, got {value!r}")
    return value


def wallet_balances(wallet: Any, what: str = "bybit wallet-balance") -> dict[str, Decimal]:
    """``walletBalance`` by coin over the accounts listed; a coin in two accounts is refused."""
    balances: dict[str, Decimal] = {}
    for i, raw in enumerate(_result_list(wallet, what)):
        where = f"{what}.result.list[{i}]"
        account = as_object(raw, where)
        for j, coin_raw in enumerate(as_list(field(account, "coin", where), f"{where}.coin")):
            at = f"{where}.coin[{j}]"
            coin = as_object(coin_raw, at)
            name = text(coin, "coin", at)
            if name in balances:
                raise InvalidInput(f"{at}: coin {name} appears in two accounts; pass one account's balance")
            balances[name] = number(coin, "walletBalance", at)
    return balances
