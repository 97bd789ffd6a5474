"""Venue profiles: validated, versioned data files that say how a venue computes margin.

A profile names its margin model, where MM is measured (mark or entry value), which price
triggers liquidation, whether equity equal to MM is already liquidatable, the liquidation
fee, notification levels, and every instrument with its tick, lot, contract size and
margin parameters. Bundled profiles live in ``solvent/profiles/*.json``; the format is
documented in ``docs/venues.md``. Nothing in shared code branches on a venue's name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from solvent.errors import InvalidInput, UnknownSymbol, UnknownVenue
from solvent.model import Instrument, InstrumentKind
from solvent.risk.model_params import build_rules
from solvent.risk.rules import MarginRules, MMBasis
from solvent.risk.tiers import TierTable
from solvent.units import ZERO, non_negative, positive, to_decimal

__all__ = ["LiquidationTrigger", "VenueProfile", "bundled_venues", "load_venue", "load_venue_file"]

SCHEMA_VERSION = 1


class LiquidationTrigger(StrEnum):
    AT_OR_BELOW = "equity_at_or_below_mm"
    """Liquidatable once equity ≤ MM (margin ratio ≥ 100 %): Binance, Bybit, BitMEX."""
    BELOW = "equity_below_mm"
    """Liquidatable only once equity < MM: dYdX v4 (``NC < MMR``)."""


@dataclass(frozen=True, slots=True)
class VenueProfile:
    """One venue's margin rule set (see ``docs/venues.md``)."""

    name: str
    display_name: str
    source: str
    effective_from: str
    margin_model: str
    mm_basis: MMBasis
    trigger_price: str
    liquidation_trigger: LiquidationTrigger
    liquidation_fee_rate: Decimal
    warning_ratio: Decimal
    margin_call_ratio: Decimal
    instruments: Mapping[str, Instrument]
    rules: Mapping[str, MarginRules]
    notes: str = ""

    def instrument(self, symbol: str) -> Instrument:
        try:
            return self.instruments[symbol]
        except KeyError:
            raise UnknownSymbol(f"venue {self.name} has no symbol {symbol!r}") from None

    def rules_for(self, symbol: str) -> MarginRules:
        self.instrument(symbol)
        return self.rules[symbol]

    def is_liquidatable(self, equity: Decimal, maintenance_margin: Decimal) -> bool:
        """Apply the venue's trigger; an account with no MM is never liquidatable."""
        if maintenance_margin <= 0:
            return False
        if self.liquidation_trigger is LiquidationTrigger.BELOW:
            return equity < maintenance_margin
        return equity <= maintenance_margin


def bundled_venues() -> list[str]:
    """Names of the venue profiles shipped with solvent."""
    folder = resources.files("solvent") / "profiles"
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


@cache
def load_venue(name: str) -> VenueProfile:
    """Load a bundled profile by name (``binance-usdm``, ``bybit-linear``, ...)."""
    if name not in bundled_venues():
        raise UnknownVenue(f"unknown venue {name!r}; bundled: {', '.join(bundled_venues())}")
    text = (resources.files("solvent") / "profiles" / f"{name}.json").read_text("utf-8")
    return parse_profile(json.loads(text))


def load_venue_file(path: str | Path) -> VenueProfile:
    """Load a profile from a JSON file of the same format."""
    try:
        raw = json.loads(Path(path).read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read venue profile {path}: {exc}") from None
    return parse_profile(raw)


def parse_profile(raw: Any) -> VenueProfile:
    """Validate and build a profile from its decoded JSON."""
    if not isinstance(raw, dict):
        raise InvalidInput("a venue profile must be a JSON object")
    name = _text(raw, "name", "profile")
    if raw.get("schema_version") != SCHEMA_VERSION:
        raise InvalidInput(f"{name}: schema_version must be {SCHEMA_VERSION}")
    model = _text(raw, "margin_model", name)
    tables = {
        key: TierTable.from_brackets(f"{name}/{key}", rows)
        for key, rows in sorted(raw.get("tier_tables", {}).items())
    }
    defaults = raw.get("defaults", {})
    instruments: dict[str, Instrument] = {}
    rules: dict[str, MarginRules] = {}
    for symbol, spec in sorted(raw.get("instruments", {}).items()):
        merged = {**defaults, **spec}
        instruments[symbol] = _instrument(symbol, merged)
        rules[symbol] = build_rules(model, f"{name}/{symbol}", merged, tables)
    if not instruments:
        raise InvalidInput(f"{name}: a profile needs at least one instrument")
    levels = raw.get("levels", {})
    return VenueProfile(
        name=name,
        display_name=str(raw.get("display_name", name)),
        source=_text(raw, "source", name),
        effective_from=_text(raw, "effective_from", name),
        margin_model=model,
        mm_basis=MMBasis(_text(raw, "mm_basis", name)),
        trigger_price=_text(raw, "trigger_price", name),
        liquidation_trigger=LiquidationTrigger(_text(raw, "liquidation_trigger", name)),
        liquidation_fee_rate=non_negative(raw.get("liquidation_fee_rate", "0"), "liquidation_fee_rate"),
        warning_ratio=positive(levels.get("warning", "0.7"), "levels.warning"),
        margin_call_ratio=positive(levels.get("margin_call", "0.8"), "levels.margin_call"),
        instruments=instruments,
        rules=rules,
        notes=str(raw.get("notes", "")),
    )


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{where}: field {key!r} must be a non-empty string")
    return value


def _instrument(symbol: str, spec: Mapping[str, Any]) -> Instrument:
    kind = InstrumentKind(spec.get("kind", "linear_perpetual"))
    expiry = spec.get("expiry_ms")
    return Instrument(
        symbol=symbol,
        kind=kind,
        base=str(spec.get("base", "")),
        quote=str(spec.get("quote", "")),
        settle=str(spec.get("settle", "")),
        contract_size=positive(spec.get("contract_size", "1"), f"{symbol}.contract_size"),
        tick_size=_step(spec, "tick_size", symbol),
        lot_size=_step(spec, "lot_size", symbol),
        expiry_ms=int(expiry) if expiry is not None else None,
    )


def _step(spec: Mapping[str, Any], key: str, symbol: str) -> Decimal | None:
    raw = spec.get(key)
    if raw is None:
        return None
    value = to_decimal(raw, f"{symbol}.{key}")
    return value if value > ZERO else None
