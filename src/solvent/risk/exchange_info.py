"""Tick and lot sizes from a venue's ``exchangeInfo``-style file.

The format is Binance's ``GET /fapi/v1/exchangeInfo`` (and ``/dapi/v1/exchangeInfo``)
response: ``symbols[]`` each with a ``symbol`` and ``filters[]``; the ``PRICE_FILTER``
filter's ``tickSize`` is the tick and the ``LOT_SIZE`` filter's ``stepSize`` the lot::

    {"symbols": [{"symbol": "BTCUSDT", "filters": [
        {"filterType": "PRICE_FILTER", "tickSize": "0.10", ...},
        {"filterType": "LOT_SIZE", "stepSize": "0.001", ...}]}]}

Other fields are ignored. A size of ``"0"`` means "none" (Binance's convention), as in a
profile. Numbers must be decimal strings: a float literal in a size is refused. Without a
``LOT_SIZE`` filter, ``MARKET_LOT_SIZE``'s ``stepSize`` is the lot.

``exchange_info_steps(raw, what, strict=True)`` (what ``solvent venues update`` reads) also
refuses a symbol without both sizes, or with a size of 0.

A venue profile takes these with its ``exchange_info`` field (a file name next to the
profile), or a caller applies them with ``solvent.risk.venues.with_exchange_info``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from solvent.errors import InvalidInput
from solvent.jsonstrict import loads_strict
from solvent.units import non_negative

__all__ = ["InstrumentSteps", "exchange_info_steps", "load_exchange_info", "parse_exchange_info"]


@dataclass(frozen=True, slots=True)
class InstrumentSteps:
    """One symbol's tick and lot (``None`` when the file gives none)."""

    tick_size: Decimal | None
    lot_size: Decimal | None


def load_exchange_info(path: str | Path) -> dict[str, InstrumentSteps]:
    """Read an ``exchangeInfo`` file (see the module docstring); ``InvalidInput`` if bad."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read exchange info {path}: {exc.strerror}") from None
    return parse_exchange_info(data, f"exchange info {Path(path).name}")


def parse_exchange_info(data: bytes | str, what: str = "exchange info") -> dict[str, InstrumentSteps]:
    """Tick and lot by symbol from an ``exchangeInfo`` document."""
    # Floats may appear in fields solvent does not read; the sizes themselves are checked.
    return exchange_info_steps(loads_strict(data, what, allow_float=True), what)


def exchange_info_steps(raw: Any, what: str, *, strict: bool = False) -> dict[str, InstrumentSteps]:
    """Tick and lot by symbol from a decoded ``exchangeInfo`` document (``strict``: both
    sizes required and positive for every symbol)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("symbols"), list):
        raise InvalidInput(f"{what}: expected an object with a 'symbols' list")
    steps: dict[str, InstrumentSteps] = {}
    for i, entry in enumerate(raw["symbols"]):
        where = f"{what}: symbols[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("symbol"), str) or not entry["symbol"]:
            raise InvalidInput(f"{where} needs a 'symbol' string")
        symbol = entry["symbol"]
        if symbol in steps:
            raise InvalidInput(f"{where}: symbol {symbol} appears twice")
        filters = entry.get("filters", [])
        if not isinstance(filters, list):
            raise InvalidInput(f"{where}.filters must be a list")
        by_type = _filters(filters, f"{where}.filters")
        lot_filter = "LOT_SIZE" if "LOT_SIZE" in by_type else "MARKET_LOT_SIZE"
        found = InstrumentSteps(
            tick_size=_size(by_type.get("PRICE_FILTER"), "tickSize", f"{where} PRICE_FILTER"),
            lot_size=_size(by_type.get(lot_filter), "stepSize", f"{where} {lot_filter}"),
        )
        if strict and (found.tick_size is None or found.lot_size is None):
            missing = "PRICE_FILTER tickSize" if found.tick_size is None else "LOT_SIZE stepSize"
            raise InvalidInput(f"{where} ({symbol}): no {missing} above 0")
        steps[symbol] = found
    return steps


def _filters(filters: list[Any], where: str) -> dict[str, Mapping[str, Any]]:
    by_type: dict[str, Mapping[str, Any]] = {}
    for j, f in enumerate(filters):
        if not isinstance(f, dict) or not isinstance(f.get("filterType"), str):
            raise InvalidInput(f"{where}[{j}] needs a 'filterType' string")
        if f["filterType"] in by_type:
            raise InvalidInput(f"{where}: filter {f['filterType']} appears twice")
        by_type[f["filterType"]] = f
    return by_type


def _size(spec: Mapping[str, Any] | None, key: str, where: str) -> Decimal | None:
    if spec is None or spec.get(key) is None:
        return None
    value = non_negative(spec[key], f"{where}.{key}")
    return value if value > 0 else None
