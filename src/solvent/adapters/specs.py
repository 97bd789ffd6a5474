"""Instrument specs (tick, lot, assets, kind) and tier tables from exchange payloads.

What ``solvent venues update`` reads (``docs/venues.md``, "Updating specs"). Shapes:

* Binance ``GET /fapi/v1/exchangeInfo`` (and ``/dapi/v1/exchangeInfo``): ``symbols[]`` with
  ``symbol``, ``contractType``, ``baseAsset``, ``quoteAsset``, ``marginAsset``,
  ``contractSize`` (COIN-M) and ``filters[]``: ``PRICE_FILTER.tickSize`` the tick,
  ``LOT_SIZE.stepSize`` (else ``MARKET_LOT_SIZE``) the lot (``risk/exchange_info.py``).
* Bybit ``GET /v5/market/instruments-info``
  (https://bybit-exchange.github.io/docs/v5/market/instrument): ``result.list[]`` with
  ``symbol``, ``contractType`` (``LinearPerpetual``, ``InversePerpetual``, ...),
  ``baseCoin``, ``quoteCoin``, ``settleCoin``, ``priceFilter.tickSize``,
  ``lotSizeFilter.qtyStep``.
* ccxt ``load_markets()`` (a map by unified symbol, or ``fetch_markets()``'s list): ``id``
  (the exchange's symbol), ``base``, ``quote``, ``settle``, ``swap``, ``linear``,
  ``inverse``, ``contractSize``, ``precision.price`` and ``precision.amount`` read as tick
  and lot sizes (ccxt's ``TICK_SIZE`` precision mode, which its Binance and Bybit classes use).
* Tier tables: Binance ``leverageBracket``, Bybit ``risk-limit`` and ccxt
  ``fetch_leverage_tiers()``, through ``tiers_from_binance``, ``tiers_from_bybit`` and
  ``tiers_from_ccxt``.

Every size must be a positive exact number; a symbol listed twice is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from solvent.adapters._fields import as_list, as_object, field, number, optional_number, text
from solvent.adapters.binance import tiers_from_binance
from solvent.adapters.bybit import _result_list, tiers_from_bybit
from solvent.adapters.ccxt import tiers_from_ccxt
from solvent.errors import InvalidInput
from solvent.risk.exchange_info import exchange_info_steps
from solvent.risk.tiers import UNBOUNDED_NOTIONAL, TierTable
from solvent.units import plain, positive

__all__ = [
    "InstrumentSpec",
    "specs_from_binance",
    "specs_from_bybit",
    "specs_from_ccxt",
    "tier_brackets",
    "tiers_by_symbol",
]


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """One symbol's specs from a payload. ``kind`` is ``None`` for what is not a perpetual
    (solvent adds only perpetuals to a profile; it still updates a listed symbol's sizes)."""

    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    base: str
    quote: str
    settle: str
    kind: str | None
    contract_size: Decimal | None = None
    unified: str | None = None
    """The ccxt unified symbol, for a ccxt market."""


def _kind(perpetual: bool, base: str, settle: str) -> str | None:
    if not perpetual:
        return None
    return "inverse_perpetual" if settle == base else "linear_perpetual"


def specs_from_binance(raw: Any) -> dict[str, InstrumentSpec]:
    """Specs by symbol from an ``exchangeInfo`` response."""
    what = "binance exchangeInfo"
    steps = exchange_info_steps(raw, what, strict=True)
    out: dict[str, InstrumentSpec] = {}
    for i, entry in enumerate(raw["symbols"]):
        where = f"{what}.symbols[{i}]"
        symbol = entry["symbol"]
        base, quote = text(entry, "baseAsset", where), text(entry, "quoteAsset", where)
        settle = text(entry, "marginAsset", where) if "marginAsset" in entry else quote
        size = optional_number(entry, "contractSize", where)
        tick, lot = steps[symbol].tick_size, steps[symbol].lot_size
        assert tick is not None and lot is not None  # strict: both present
        out[symbol] = InstrumentSpec(
            symbol, tick, lot, base, quote, settle,
            _kind(entry.get("contractType") == "PERPETUAL", base, settle),
            None if size is None else positive(size, f"{where}.contractSize"))
    return out


def specs_from_bybit(raw: Any) -> dict[str, InstrumentSpec]:
    """Specs by symbol from a ``/v5/market/instruments-info`` response."""
    what = "bybit instruments-info"
    out: dict[str, InstrumentSpec] = {}
    for i, item in enumerate(_result_list(raw, what)):
        where = f"{what}.result.list[{i}]"
        entry = as_object(item, where)
        symbol = text(entry, "symbol", where)
        if symbol in out:
            raise InvalidInput(f"{where}: symbol {symbol} appears twice")
        prices = as_object(field(entry, "priceFilter", where), f"{where}.priceFilter")
        lots = as_object(field(entry, "lotSizeFilter", where), f"{where}.lotSizeFilter")
        base, settle = text(entry, "baseCoin", where), text(entry, "settleCoin", where)
        contract = str(entry.get("contractType", ""))
        out[symbol] = InstrumentSpec(
            symbol,
            positive(number(prices, "tickSize", f"{where}.priceFilter"), f"{where}.priceFilter.tickSize"),
            positive(number(lots, "qtyStep", f"{where}.lotSizeFilter"), f"{where}.lotSizeFilter.qtyStep"),
            base, text(entry, "quoteCoin", where), settle,
            _kind(contract.endswith("Perpetual"), base, settle))
    return out


def specs_from_ccxt(raw: Any) -> dict[str, InstrumentSpec]:
    """Specs by exchange symbol (the market's ``id``) from ``load_markets()`` output."""
    what = "ccxt markets"
    markets = list(raw.items()) if isinstance(raw, Mapping) else list(enumerate(as_list(raw, what)))
    out: dict[str, InstrumentSpec] = {}
    for key, item in markets:
        where = f"{what}[{key!r}]"
        market = as_object(item, where)
        if market.get("type", "swap") not in ("swap", "future") or not market.get("settle"):
            continue  # spot and options carry no margin tiers
        symbol = text(market, "id", where)
        if symbol in out:
            raise InvalidInput(f"{where}: market id {symbol} appears twice")
        precision = as_object(field(market, "precision", where), f"{where}.precision")
        base, settle = text(market, "base", where), text(market, "settle", where)
        size = optional_number(market, "contractSize", where)
        out[symbol] = InstrumentSpec(
            symbol,
            positive(number(precision, "price", f"{where}.precision"), f"{where}.precision.price"),
            positive(number(precision, "amount", f"{where}.precision"), f"{where}.precision.amount"),
            base, text(market, "quote", where), settle,
            _kind(market.get("swap") is True, base, settle),
            None if size is None else positive(size, f"{where}.contractSize"),
            text(market, "symbol", where))
    return out


def tiers_by_symbol(fmt: str, raw: Any) -> dict[str, TierTable]:
    """Every tier table of a ``leverageBracket`` (``binance``), ``risk-limit`` (``bybit``) or
    ``fetch_leverage_tiers()`` (``ccxt``, keyed by unified symbol) payload."""
    if fmt == "binance":
        entries = raw if isinstance(raw, list) else [as_object(raw, "binance leverageBracket")]
        symbols: list[str] = []
        for i, entry in enumerate(entries):
            where = f"binance leverageBracket[{i}]"
            symbols.append(text(as_object(entry, where), "symbol" if "symbol" in entry else "pair", where))
        _unique(symbols, "binance leverageBracket")
        return {s: tiers_from_binance(raw, s) for s in symbols}
    if fmt == "bybit":
        rows = _result_list(raw, "bybit risk-limit")
        names = {text(as_object(r, "bybit risk-limit row"), "symbol", "bybit risk-limit row") for r in rows}
        return {s: tiers_from_bybit(raw, s) for s in sorted(names)}
    tables = as_object(raw, "ccxt leverage tiers")
    return {s: tiers_from_ccxt(raw, s) for s in tables}


def _unique(symbols: list[str], what: str) -> None:
    seen: set[str] = set()
    for s in symbols:
        if s in seen:
            raise InvalidInput(f"{what}: symbol {s} appears twice")
        seen.add(s)


def tier_brackets(table: TierTable) -> list[dict[str, str]]:
    """A table as profile brackets (plain decimal strings; an unbounded cap as written by ``UNBOUNDED_NOTIONAL``)."""
    return [{"notional_floor": plain(t.floor_notional),
             "notional_cap": plain(min(t.cap_notional, UNBOUNDED_NOTIONAL)),
             "maint_margin_ratio": plain(t.maint_margin_rate),
             "initial_leverage": plain(t.max_leverage),
             "cum": plain(t.maint_amount)} for t in table.tiers]
