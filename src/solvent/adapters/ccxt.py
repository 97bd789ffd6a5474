"""ccxt unified structures: leverage tiers and positions + balance, as solvent inputs.

solvent does not depend on ccxt: these read what ccxt returns, saved as JSON (read it with
``loads_payload`` so numbers stay exact; Python floats from a live ccxt call are refused).
Shapes, from the ccxt Manual (https://docs.ccxt.com/#/README), sections
"Leverage Tier Structure", "Position Structure" and "Balance Structure":

* ``fetch_leverage_tiers()`` — ``{unified symbol: [{"tier", "currency", "minNotional",
  "maxNotional", "maintenanceMarginRate", "maxLeverage", "info"}]}``
  (``fetch_market_leverage_tiers(symbol)``: the list of one symbol). The unified tier has
  no maintenance amount: it is computed from the continuity recursion.
* ``fetch_positions()`` — ``[{"symbol": "BTC/USDT:USDT", "side": "long"/"short",
  "contracts", "contractSize", "entryPrice", "markPrice", "leverage",
  "marginMode": "cross"/"isolated", "hedged", "collateral", "initialMargin",
  "unrealizedPnl", ...}]``.
* ``fetch_balance()`` — ``{"total": {coin: amount}, coin: {"free", "used", "total"}, ...}``.

A unified symbol ``BASE/QUOTE:SETTLE`` maps to the profile's perpetual with that base,
quote and settlement asset; a dated future (``...:USDT-251226``) is refused.
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
    is_perpetual,
    number,
    optional_number,
    read_positions,
    text,
)
from solvent.adapters.binance import cross_balances as binance_cross_balances
from solvent.adapters.bybit import wallet_balances as bybit_wallet_balances
from solvent.errors import InvalidInput, InvalidTierTable, UnknownSymbol
from solvent.model import Instrument
from solvent.risk.tiers import UNBOUNDED_NOTIONAL, TierTable
from solvent.risk.venues import VenueProfile
from solvent.units import ZERO, exact, plain

__all__ = ["account_from_ccxt", "ccxt_symbol", "instrument_for_ccxt_symbol", "tiers_from_ccxt"]


def ccxt_symbol(instrument: Instrument) -> str:
    """The ccxt unified symbol of a perpetual: ``BTC/USDT:USDT``."""
    return f"{instrument.base}/{instrument.quote}:{instrument.settle}"


def instrument_for_ccxt_symbol(profile: VenueProfile, symbol: str, where: str) -> Instrument:
    """The profile's perpetual for a unified ``BASE/QUOTE:SETTLE`` symbol; ``UnknownSymbol`` if none."""
    base, _, rest = symbol.partition("/")
    quote, _, settle = rest.partition(":")
    if not base or not quote or not settle:
        raise UnknownSymbol(f"{where}: {symbol!r} is not a ccxt derivatives symbol (BASE/QUOTE:SETTLE)")
    if "-" in settle:
        raise UnknownSymbol(f"{where}: {symbol!r} is a dated future; only perpetuals are mapped")
    matches = [i for i in profile.instruments.values()
               if is_perpetual(i) and (i.base, i.quote, i.settle) == (base, quote, settle)]
    if len(matches) != 1:
        found = "no" if not matches else "more than one"
        raise UnknownSymbol(f"{where}: venue {profile.name} has {found} perpetual for ccxt symbol {symbol!r}")
    return matches[0]


@exact
def tiers_from_ccxt(payload: Any, symbol: str) -> TierTable:
    """The tier table of ``symbol`` (a unified symbol) from ``fetch_leverage_tiers()`` output.

    A last tier with ``maxNotional`` null is unbounded.
    """
    what = "ccxt leverage tiers"
    if isinstance(payload, Mapping):
        if symbol not in payload:
            raise InvalidTierTable(f"{what}: no symbol {symbol!r} in the payload")
        payload, what = payload[symbol], f"{what}[{symbol!r}]"
    tiers = as_list(payload, what)
    if not tiers:
        raise InvalidTierTable(f"{what}: no tiers")
    brackets: list[dict[str, object]] = []
    for i, raw in enumerate(tiers):
        where = f"{what}[{i}]"
        tier = as_object(raw, where)
        if tier.get("symbol") not in (None, symbol):
            raise InvalidTierTable(f"{where}.symbol: {tier['symbol']!r} is not {symbol!r}")
        cap = optional_number(tier, "maxNotional", where)
        if cap is None and i != len(tiers) - 1:
            raise InvalidInput(f"{where}.maxNotional: missing field")
        brackets.append({
            "notional_floor": number(tier, "minNotional", where),
            "notional_cap": UNBOUNDED_NOTIONAL if cap is None else cap,
            "maint_margin_ratio": number(tier, "maintenanceMarginRate", where),
            "initial_leverage": number(tier, "maxLeverage", where),
        })
    return TierTable.from_brackets(f"ccxt {symbol}", brackets, recompute=True)


@exact
def account_from_ccxt(positions: Any, balance: Any, profile: VenueProfile) -> dict[str, Any]:
    """An account file (``docs/account-file.md``) from ``fetch_positions()`` and ``fetch_balance()``.

    Zero-size positions are skipped. ``qty = contracts × contractSize / the instrument's
    contract size``. An isolated position's margin is ``collateral − unrealizedPnl`` (ccxt's
    collateral moves with PnL, which solvent adds from the mark), else ``initialMargin``.
    The cross wallet is ``total`` of the settlement asset less those isolated margins; it
    must be the wallet balance without unrealised PnL, as ccxt documents ``total``.
    """
    rows = as_list(positions, "ccxt positions")
    read = read_positions(((f"ccxt positions[{i}]", raw) for i, raw in enumerate(rows)), profile,
                          lambda row, where: _position(row, profile, where))
    return account_file(profile, read, _wallets(as_object(balance, "ccxt balance"), read.isolated), "ccxt balance")


def _wallets(balance: Mapping[str, Any], isolated: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """The cross wallet per asset, without unrealised PnL and isolated margins.

    ccxt fills ``total`` per exchange: for Binance USDⓈ-M it is the margin balance (wallet plus
    unrealised PnL), elsewhere the wallet balance, and the unified structure does not say
    which. So when ``info`` holds the exchange's own account response, its documented wallet
    fields are read (Binance ``assets[].crossWalletBalance`` / ``walletBalance``, Bybit v5
    ``coin[].walletBalance``); only otherwise is ``total`` taken, as the wallet balance."""
    info = balance.get("info")
    if isinstance(info, Mapping) and isinstance(info.get("assets"), list):
        return binance_cross_balances(info, isolated, "ccxt balance.info")
    if isinstance(info, Mapping) and isinstance(info.get("result"), Mapping):
        return {coin: amount - isolated.get(coin, ZERO)
                for coin, amount in bybit_wallet_balances(info, "ccxt balance.info").items()}
    return {a: v - isolated.get(a, ZERO) for a, v in _totals(balance).items()}


def _position(row: Mapping[str, Any], profile: VenueProfile, where: str) -> dict[str, Any] | None:
    contracts = number(row, "contracts", where)
    if contracts == 0:
        return None
    if contracts < 0:  # ccxt's contracts are unsigned; the side says which way
        raise InvalidInput(f"{where}.contracts: expected a count >= 0 (the side gives the direction), "
                           f"got {plain(contracts)}")
    instrument = instrument_for_ccxt_symbol(profile, text(row, "symbol", f"{where}"), f"{where}.symbol")
    side = text(row, "side", where)
    if side not in ("long", "short"):
        raise InvalidInput(f"{where}.side: expected long or short, got {side!r}")
    contract_size = optional_number(row, "contractSize", where) or instrument.contract_size
    mode = row.get("marginMode") or "cross"
    if mode not in ("cross", "isolated"):
        raise InvalidInput(f"{where}.marginMode: expected cross or isolated, got {mode!r}")
    hedged = row.get("hedged")
    if hedged not in (None, True, False):
        raise InvalidInput(f"{where}.hedged: expected true or false, got {hedged!r}")
    spec: dict[str, Any] = {
        "symbol": instrument.symbol,
        "side": side,
        "qty": plain(abs(contracts) * contract_size / instrument.contract_size),
        "entry": plain(number(row, "entryPrice", where)),
        "mark": plain(number(row, "markPrice", where)),
        "position_side": side if hedged else "both",
        "margin_mode": mode,
    }
    leverage = optional_number(row, "leverage", where)
    if leverage is not None:
        spec["leverage"] = plain(leverage)
    if mode == "isolated":
        spec["isolated_margin"] = plain(_isolated_margin(row, where))
    return spec


def _isolated_margin(row: Mapping[str, Any], where: str) -> Decimal:
    collateral = optional_number(row, "collateral", where)
    if collateral is not None:
        return collateral - (optional_number(row, "unrealizedPnl", where) or ZERO)
    return number(row, "initialMargin", where)


def _totals(balance: Mapping[str, Any]) -> dict[str, Decimal]:
    """``total`` per asset: ``balance["total"]``, else each ``balance[asset]["total"]``."""
    if "total" in balance:
        totals = as_object(field(balance, "total", "ccxt balance"), "ccxt balance.total")
        return {a: number(totals, a, "ccxt balance.total") for a in totals if totals[a] is not None}
    out: dict[str, Decimal] = {}
    for asset, entry in balance.items():
        if asset in ("info", "free", "used", "timestamp", "datetime") or not isinstance(entry, Mapping):
            continue
        if entry.get("total") is not None:
            out[asset] = number(entry, "total", f"ccxt balance.{asset}")
    return out
