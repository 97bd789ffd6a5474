"""Venue profiles: validated, versioned data files that say how a venue computes margin.

A profile names its margin model, where MM is measured (mark or entry value), which price
triggers liquidation, whether equity equal to MM is already liquidatable, the liquidation
fee, notification levels, and every instrument with its tick, lot, contract size and
margin parameters. Bundled profiles live in ``solvent/profiles/*.json``; the format is
documented in ``docs/venues.md``. Nothing in shared code branches on a venue's name.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

from solvent.errors import InvalidInput, UnknownSymbol, UnknownVenue
from solvent.jsonstrict import loads_strict
from solvent.model import Instrument, InstrumentKind
from solvent.risk.exchange_info import InstrumentSteps, parse_exchange_info
from solvent.risk.liquidation_rules import GENERIC_RULE, LiquidationRule, parse_liquidation_rule
from solvent.risk.model_params import build_rules
from solvent.risk.overlays import (
    OverlayStamp,
    find_overlay,
    merge_overlay,
    newest_overlay,
    overlays_enabled,
    read_overlay,
)
from solvent.risk.price_rules import PriceRule, PriceRuleKind
from solvent.risk.profile_format import SCHEMA_VERSION, read_profile_shape
from solvent.risk.rules import LiquidationTrigger, MarginRules, MMBasis
from solvent.risk.tiers import TierTable
from solvent.risk.volatility import VolatilityMMRule, parse_volatility_rule
from solvent.units import ZERO, non_negative, positive, to_decimal

__all__ = [
    "LiquidationTrigger",
    "VenueProfile",
    "bundled_profile_at",
    "bundled_sha256",
    "bundled_venues",
    "kept_profile_file",
    "kept_sha256",
    "load_venue",
    "load_venue_file",
    "load_venue_overlay",
    "profile_with_overlay",
    "with_exchange_info",
]



TICK_UNKNOWN: Final = PriceRule(PriceRuleKind.TICK_UNKNOWN)
"""The rule of a tick-less instrument on a venue that has ticks (see ``price_rules``)."""


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
    no_tick_rule: PriceRule = TICK_UNKNOWN
    """Price rule of an instrument with no tick: the venue's own (``price_rule``), or the
    fallback precision with ``tick_known`` false."""
    sz_decimals: Mapping[str, int] | None = None
    """``sz_decimals`` by symbol, for a significant-figures price rule (Hyperliquid)."""
    liquidation: LiquidationRule = GENERIC_RULE
    """The venue's liquidation and deficit procedure (``risk/liquidation_rules.py``); a
    profile without a ``"liquidation"`` object gets solvent's generic one."""
    leverage_step: Decimal | None = None
    """The leverage an account may set is a multiple of this (``SetLeverage``): 1 where the venue
    takes whole numbers only (Binance, Hyperliquid), 0.01 where it takes hundredths (Bybit,
    BitMEX); ``None``: the profile's ``"leverage"`` object is absent, any leverage from 1 (a
    venue whose protocol has no leverage setting: dYdX v4, Drift)."""
    volatility_mm: VolatilityMMRule | None = None
    """A volatility-scaled maintenance rule (``risk/volatility.py``) from the profile's optional
    ``"volatility_mm"`` object; ``None`` (every bundled profile): the tables' MM as published."""
    overlay: OverlayStamp | None = None
    """The dated overlay applied on top of the bundled profile (``risk/overlays.py``), if any."""

    def on_leverage_grid(self, leverage: Decimal) -> bool:
        """Whether an account may set ``leverage`` as far as the venue's grid goes (a multiple
        of ``leverage_step``; the tier's maximum is the rules' to check). Exact for any size:
        the remainder is taken on fractions, not in the decimal context's precision."""
        step = self.leverage_step
        return step is None or Fraction(leverage) % Fraction(step) == 0

    def specs_date(self, symbol: str | None = None) -> str:
        """Effective date (``YYYY-MM-DD``) of the specs an answer on ``symbol`` rests on: the
        older of its tier table's and its tick and lot's dates, each the overlay's date for a
        part an overlay set and ``effective_from`` otherwise. Without ``symbol``: the oldest
        over every instrument (what the whole profile can be trusted to)."""
        if self.overlay is None:
            return self.effective_from
        symbols = [symbol] if symbol is not None else list(self.instruments)
        base = self.effective_from
        return min(min(self.overlay.steps_as_of.get(s, base), self.overlay.tiers_as_of.get(s, base))
                   for s in symbols)

    def instrument(self, symbol: str) -> Instrument:
        try:
            return self.instruments[symbol]
        except KeyError:
            raise UnknownSymbol.on_venue(self.name, symbol, self.instruments) from None

    def rules_for(self, symbol: str) -> MarginRules:
        self.instrument(symbol)
        return self.rules[symbol]

    def price_rule(self, instrument: Instrument) -> PriceRule | None:
        """How this venue rounds prices of ``instrument``; ``None`` (exact) for an instrument
        that is not this profile's own and has no tick."""
        if instrument.tick_size is not None:
            return PriceRule.for_tick(instrument.tick_size)
        if self.instruments.get(instrument.symbol) != instrument:
            return None
        rule = self.no_tick_rule
        if rule.max_decimals is not None and self.sz_decimals:
            decimals = max(rule.max_decimals - self.sz_decimals.get(instrument.symbol, 0), 0)
            rule = replace(rule, max_decimals=decimals)
        return rule

    def is_bankrupt(self, equity: Decimal, maintenance_margin: Decimal) -> bool:
        """Nothing left to cover the debts or the requirement: equity < 0, or equity ≤ 0 with MM > 0."""
        return equity < 0 or (equity == 0 and maintenance_margin > 0)

    def is_liquidatable(self, equity: Decimal, maintenance_margin: Decimal) -> bool:
        """Apply the venue's trigger. Without MM (no positions) only a bankrupt account is:
        debt above the collateral value must be liquidated too."""
        if self.is_bankrupt(equity, maintenance_margin):
            return True
        if maintenance_margin <= 0:
            return False
        if self.liquidation_trigger is LiquidationTrigger.BELOW:
            return equity < maintenance_margin
        return equity <= maintenance_margin


def bundled_venues() -> list[str]:
    """Names of the venue profiles shipped with solvent."""
    folder = resources.files("solvent") / "profiles"
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


def load_venue(name: str, *, overlays: bool | None = None) -> VenueProfile:
    """Load a bundled profile by name (``binance-usdm``, ``bybit-linear``, ...), with the
    newest overlay ``solvent venues update`` wrote for it applied (``risk/overlays.py``).

    ``overlays=False`` (or ``$SOLVENT_NO_OVERLAYS=1`` when ``overlays`` is not given) loads
    the bundled profile as shipped, for answers that must not depend on a user's files.
    """
    if name not in bundled_venues():
        raise UnknownVenue(f"unknown venue {name!r}; bundled: {', '.join(bundled_venues())}")
    path = newest_overlay(name) if overlays_enabled(overlays) else None
    if path is None:
        return _bundled(name)
    try:
        stat = path.stat()
    except OSError:
        return _bundled(name)
    return _overlaid(name, str(path), stat.st_mtime_ns, stat.st_size)


def load_venue_overlay(name: str, sha256: str) -> VenueProfile | None:
    """The bundled profile ``name`` with the overlay file whose sha256 is ``sha256``, or
    ``None`` when no such file is in the data folder (a journal's recorded overlay)."""
    if name not in bundled_venues():
        raise UnknownVenue(f"unknown venue {name!r}; bundled: {', '.join(bundled_venues())}")
    path = find_overlay(name, sha256)
    if path is None:
        return None
    stat = path.stat()
    return _overlaid(name, str(path), stat.st_mtime_ns, stat.st_size)


@cache
def bundled_sha256(name: str) -> str:
    """The SHA-256 of the bundled profile ``name`` as this solvent ships it: of its file's bytes,
    then (when it names one) of its exchange-info file's, each preceded by its length, so that a
    journal can record which specs it ran on and refuse to replay on others."""
    if name not in bundled_venues():
        raise UnknownVenue(f"unknown venue {name!r}; bundled: {', '.join(bundled_venues())}")
    return _profile_digest((resources.files("solvent") / "profiles" / f"{name}.json").read_bytes(), _bundled_raw(name))


def _profile_digest(data: bytes, raw: dict[str, Any]) -> str:
    folder = resources.files("solvent") / "profiles"
    parts = [data]
    ref = raw.get("exchange_info")
    if isinstance(ref, str):
        parts.append((folder / ref).read_bytes())
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def bundled_profile_at(name: str, sha256: str) -> VenueProfile | None:
    """The bundled profile ``name`` as the solvent whose ``bundled_sha256`` was ``sha256``
    shipped it: today's, or an earlier one kept in ``profiles/history/`` (named
    ``NAME-<first 16 hex digits>.json``, its bytes as shipped) when a later version changed
    the file, so that a journal keeps replaying on the specs it ran on. ``None``: not one
    this solvent knows."""
    if name not in bundled_venues():
        raise UnknownVenue(f"unknown venue {name!r}; bundled: {', '.join(bundled_venues())}")
    if sha256 == bundled_sha256(name):
        return _bundled(name)
    return _historical(name, sha256)


def kept_profile_file(name: str, sha256: str) -> Traversable:
    """Where ``profiles/history/`` keeps the bundled profile ``name`` shipped with digest
    ``sha256``: ``NAME-<16 hex>.json``, or ``.json.gz`` (gzip of the same bytes) for a large one."""
    folder = resources.files("solvent") / "profiles" / "history"
    packed = folder / f"{name}-{sha256[:16]}.json.gz"
    return packed if packed.is_file() else folder / f"{name}-{sha256[:16]}.json"


@cache
def _historical(name: str, sha256: str) -> VenueProfile | None:
    earlier = kept_profile_file(name, sha256)
    if not earlier.is_file():
        return None
    kept = _read_kept(earlier, name)
    return kept[1] if kept is not None and kept[0] == sha256 else None


def _read_kept(file: Traversable, name: str) -> tuple[str, VenueProfile] | None:
    """A kept file's digest and profile; ``None`` when it is damaged (not the file shipped)."""
    data = file.read_bytes()
    if file.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            return None
    raw = loads_strict(data, f"venue profile {name} ({file.name})")
    if not isinstance(raw, dict):
        return None
    digest = _profile_digest(data, raw)
    if not file.name.startswith(f"{name}-{digest[:16]}."):
        return None
    return digest, parse_profile(raw, folder=resources.files("solvent") / "profiles")


@cache
def _kept_versions(name: str) -> tuple[tuple[str, VenueProfile], ...]:
    """Every earlier bundled version of ``name`` kept in ``profiles/history/``, with its digest."""
    folder = resources.files("solvent") / "profiles" / "history"
    files = sorted((f for f in folder.iterdir() if f.name.startswith(f"{name}-")
                    and f.name.endswith((".json", ".json.gz"))), key=lambda f: f.name)
    return tuple(kept for kept in (_read_kept(f, name) for f in files) if kept is not None)


def kept_sha256(profile: VenueProfile) -> str | None:
    """The digest of the earlier bundled version ``profile`` is (kept in ``profiles/history/``),
    or ``None``: a venue started on a file a later solvent changed keeps naming it so, in its
    parameter changes, snapshots and cluster genesis as in its own genesis record."""
    if profile.name not in bundled_venues() or profile.overlay is not None:
        return None
    return next((sha for sha, kept in _kept_versions(profile.name) if kept == profile), None)


@cache
def _bundled_raw(name: str) -> dict[str, Any]:
    """The decoded bundled profile (shared: never modify it)."""
    data = (resources.files("solvent") / "profiles" / f"{name}.json").read_bytes()
    raw = loads_strict(data, f"venue profile {name}")
    if not isinstance(raw, dict):
        raise InvalidInput(f"venue profile {name}: a venue profile must be a JSON object")
    return raw


@cache
def _bundled(name: str) -> VenueProfile:
    return parse_profile(_bundled_raw(name), folder=resources.files("solvent") / "profiles")


@cache
def _overlaid(name: str, path: str, mtime_ns: int, size: int) -> VenueProfile:
    """Keyed by the file's path, time and size: a replaced file is read again."""
    try:
        doc, stamp = read_overlay(Path(path), name)
        return profile_with_overlay(name, doc, stamp)
    except InvalidInput as bad:
        raise InvalidInput(f"{bad}; SOLVENT_NO_OVERLAYS=1 answers on the bundled profile meanwhile") from None


def profile_with_overlay(name: str, doc: Mapping[str, Any], stamp: OverlayStamp) -> VenueProfile:
    """The bundled profile ``name`` with overlay ``doc`` merged, validated by ``parse_profile``
    exactly as a bundled profile is; ``InvalidInput`` naming what is wrong."""
    merged = merge_overlay(_bundled_raw(name), doc)
    profile = parse_profile(merged, folder=resources.files("solvent") / "profiles")
    return replace(profile, overlay=stamp)


def load_venue_file(path: str | Path) -> VenueProfile:
    """Load a profile from a JSON file of the same format (``exchange_info`` next to it)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read venue profile {path}: {exc.strerror}") from None
    return parse_profile(loads_strict(data, f"venue profile {path}"), folder=Path(path).parent)


def with_exchange_info(profile: VenueProfile, steps: Mapping[str, InstrumentSteps]) -> VenueProfile:
    """``profile`` with tick and lot sizes taken from an ``exchangeInfo`` file.

    A size the file gives replaces the profile's; a size it does not give (or a symbol it
    does not list) is left as it was. Symbols of the file that the profile lacks are ignored.
    """
    instruments = {
        symbol: _with_steps(inst, steps.get(symbol)) for symbol, inst in profile.instruments.items()
    }
    return replace(profile, instruments=instruments)


def _with_steps(instrument: Instrument, steps: InstrumentSteps | None) -> Instrument:
    if steps is None:
        return instrument
    return replace(
        instrument,
        tick_size=steps.tick_size if steps.tick_size is not None else instrument.tick_size,
        lot_size=steps.lot_size if steps.lot_size is not None else instrument.lot_size,
    )


def _exchange_info(
    raw: Mapping[str, Any], name: str, folder: Traversable | Path | None
) -> dict[str, InstrumentSteps]:
    ref = raw.get("exchange_info")
    if ref is None:
        return {}
    if not isinstance(ref, str) or not ref or "/" in ref or "\\" in ref or ref.startswith("."):
        raise InvalidInput(f"{name}: exchange_info must be a file name next to the profile")
    if folder is None:
        raise InvalidInput(f"{name}: exchange_info needs the profile to be loaded from a file")
    try:
        data = (folder / ref).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{name}: cannot read exchange info {ref}: {exc.strerror}") from None
    return parse_exchange_info(data, f"{name}: exchange info {ref}")


def _price_rule(raw: Mapping[str, Any], name: str) -> PriceRule:
    spec = raw.get("price_rule")
    if spec is None:
        return TICK_UNKNOWN
    if not isinstance(spec, dict) or set(spec) - {"significant_figures", "max_decimals"}:
        raise InvalidInput(f"{name}: price_rule takes 'significant_figures' and 'max_decimals'")
    figures, decimals = spec.get("significant_figures"), spec.get("max_decimals")
    if not isinstance(figures, int) or isinstance(figures, bool) or not (
        decimals is None or (isinstance(decimals, int) and not isinstance(decimals, bool))
    ):
        raise InvalidInput(f"{name}: price_rule values must be integers")
    return PriceRule(PriceRuleKind.SIGNIFICANT_FIGURES, figures=figures, max_decimals=decimals)


def parse_profile(raw: Any, *, folder: Traversable | Path | None = None) -> VenueProfile:
    """Validate and build a profile from its decoded JSON (``folder``: where it was read)."""
    if not isinstance(raw, dict):
        raise InvalidInput("a venue profile must be a JSON object")
    read_profile_shape(raw, str(raw.get("name", "")))
    name = _text(raw, "name", "profile")
    if raw.get("schema_version") != SCHEMA_VERSION:
        raise InvalidInput(f"{name}: schema_version must be {SCHEMA_VERSION}")
    no_tick_rule = _price_rule(raw, name)
    model = _text(raw, "margin_model", name)
    tables = {
        key: TierTable.from_brackets(f"{name}/{key}", rows)
        for key, rows in sorted(raw.get("tier_tables", {}).items())
    }
    defaults = raw.get("defaults", {})
    instruments: dict[str, Instrument] = {}
    rules: dict[str, MarginRules] = {}
    sz_decimals: dict[str, int] = {}
    for symbol, spec in sorted(raw.get("instruments", {}).items()):
        merged = {**defaults, **spec}
        instruments[symbol] = _instrument(symbol, merged)
        rules[symbol] = build_rules(model, f"{name}/{symbol}", merged, tables)
        if "sz_decimals" in merged:
            sz = merged["sz_decimals"]
            if not isinstance(sz, int) or isinstance(sz, bool) or sz < 0:
                raise InvalidInput(f"{name}/{symbol}: sz_decimals must be an integer >= 0")
            sz_decimals[symbol] = sz
    if not instruments:
        raise InvalidInput(f"{name}: a profile needs at least one instrument")
    levels = raw.get("levels", {})
    profile = VenueProfile(
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
        no_tick_rule=no_tick_rule,
        sz_decimals=sz_decimals,
        liquidation=parse_liquidation_rule(raw.get("liquidation"), name),
        volatility_mm=parse_volatility_rule(raw.get("volatility_mm"), name),
        leverage_step=_leverage_step(raw.get("leverage"), name),
    )
    steps = _exchange_info(raw, name, folder)
    return with_exchange_info(profile, steps) if steps else profile


def _leverage_step(spec: object, name: str) -> Decimal | None:
    if spec is None:
        return None
    if not isinstance(spec, Mapping) or "step" not in spec:
        raise InvalidInput(f"{name}: leverage must be an object with a step")
    step = positive(spec["step"], f"{name}: leverage.step")
    if Fraction(1) % Fraction(step):  # 1× (and so every whole leverage) must be on the grid
        raise InvalidInput(f"{name}: leverage.step must divide 1 (1, 0.5, 0.01, ...), got {step}")
    return step


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
