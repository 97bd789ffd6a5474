"""``solvent venues update``: exchange payloads in, a validated dated profile overlay out.

Each payload is read exactly (``loads_payload``), its shape detected (or named with
``fmt``), and turned into tick/lot specs (``adapters/specs.py``) or tier tables (the tier
adapters). The new overlay starts from the venue's newest one (overlays are cumulative,
``risk/overlays.py``), is merged onto the bundled profile and validated by
``parse_profile`` exactly as a bundled profile is, and only then written. Any refusal
raises ``InvalidInput`` with one line and writes nothing.

A symbol the profile lacks is added only when it is a perpetual and, on a tiered venue,
the same update brings its tier table too; otherwise it is skipped (and counted).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, Final, TypeVar

from solvent.adapters._fields import loads_payload
from solvent.adapters.ccxt import instrument_for_ccxt_symbol
from solvent.adapters.specs import (
    InstrumentSpec,
    specs_from_binance,
    specs_from_bybit,
    specs_from_ccxt,
    tier_brackets,
    tiers_by_symbol,
)
from solvent.errors import InvalidInput, UnknownSymbol
from solvent.limits import MAX_FRACTION_DIGITS, MAX_PRICE, MAX_QTY
from solvent.risk.overlays import (
    OVERLAY_VERSION,
    check_overlay,
    newest_overlay,
    overlay_bytes,
    parse_date,
    read_overlay,
    write_overlay,
)
from solvent.risk.price_rules import PriceRuleKind
from solvent.risk.tiers import TierTable
from solvent.risk.venues import VenueProfile, load_venue, profile_with_overlay
from solvent.units import plain

__all__ = ["FORMATS", "Payload", "UpdateResult", "detect_format", "live_payloads", "read_payload", "update_venue"]

FORMATS: Final = ("binance-exchange-info", "binance-leverage-bracket", "bybit-instruments-info",
                  "bybit-risk-limit", "ccxt-markets", "ccxt-leverage-tiers")
_T = TypeVar("_T")

TIER_FORMATS: Final = frozenset({"binance-leverage-bracket", "bybit-risk-limit", "ccxt-leverage-tiers"})

CCXT_EXCHANGES: Final[Mapping[str, tuple[str, dict[str, Any]]]] = {
    "binance-usdm": ("binanceusdm", {}),
    "binance-coinm": ("binancecoinm", {}),
    "bybit-linear": ("bybit", {"defaultType": "swap", "defaultSubType": "linear"}),
    "bybit-inverse": ("bybit", {"defaultType": "swap", "defaultSubType": "inverse"}),
    "bitmex": ("bitmex", {}),
}
"""ccxt exchange class and options per venue, for ``--live``."""


@dataclass(frozen=True, slots=True)
class Payload:
    """One exchange response: where it came from, its sha256, its format and its decoded JSON."""

    name: str
    sha256: str
    fmt: str
    raw: Any


@dataclass(frozen=True, slots=True)
class UpdateResult:
    path: Path
    profile: VenueProfile
    steps_updated: int
    tiers_updated: int
    added: tuple[str, ...]
    skipped: tuple[str, ...]


def read_payload(path: str | Path, fmt: str | None = None) -> Payload:
    """Read a saved payload file; ``fmt`` ``None``: detect its shape."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read payload {path}: {exc.strerror}") from None
    raw = loads_payload(data, f"payload {Path(path).name}")
    return Payload(Path(path).name, hashlib.sha256(data).hexdigest(), fmt or detect_format(raw, Path(path).name), raw)


def detect_format(raw: Any, name: str = "payload") -> str:
    """Which of ``FORMATS`` a decoded payload is, from its shape; ``InvalidInput`` if none."""
    if isinstance(raw, dict) and isinstance(raw.get("symbols"), list):
        return "binance-exchange-info"
    entries = raw if isinstance(raw, list) else [raw]
    if entries and all(isinstance(e, dict) and "brackets" in e for e in entries):
        return "binance-leverage-bracket"
    if isinstance(raw, dict) and isinstance(raw.get("result"), dict) and isinstance(raw["result"].get("list"), list):
        rows = raw["result"]["list"]
        if rows and all(isinstance(r, dict) and "priceFilter" in r for r in rows):
            return "bybit-instruments-info"
        if rows and all(isinstance(r, dict) and "riskLimitValue" in r for r in rows):
            return "bybit-risk-limit"
    values = list(raw.values()) if isinstance(raw, dict) else raw if isinstance(raw, list) else []
    if values and all(isinstance(v, list) and all(isinstance(t, dict) and "maintenanceMarginRate" in t for t in v)
                      for v in values) and isinstance(raw, dict):
        return "ccxt-leverage-tiers"
    if values and all(isinstance(v, dict) and "precision" in v for v in values):
        return "ccxt-markets"
    raise InvalidInput(f"{name}: cannot tell which exchange payload this is; pass --format "
                       f"({', '.join(FORMATS)})")


def _specs(payload: Payload) -> dict[str, InstrumentSpec]:
    reader = {"binance-exchange-info": specs_from_binance, "bybit-instruments-info": specs_from_bybit,
              "ccxt-markets": specs_from_ccxt}[payload.fmt]
    return reader(payload.raw)


def _tiers(payload: Payload, profile: VenueProfile, unified: Mapping[str, str]) -> dict[str, TierTable]:
    """Tier tables by the venue's symbol (a ccxt unified symbol mapped through the markets
    of the same update, else through the profile; one that maps to neither is dropped)."""
    tables = tiers_by_symbol(payload.fmt.split("-")[0], payload.raw)
    if not payload.fmt.startswith("ccxt"):
        return tables
    out: dict[str, TierTable] = {}
    for name, table in tables.items():
        symbol = unified.get(name)
        if symbol is None:
            try:
                symbol = instrument_for_ccxt_symbol(profile, name, payload.name).symbol
            except UnknownSymbol:
                continue
        out[symbol] = table
    return out


def _named(payload: Payload, read: Callable[[], _T]) -> _T:
    """``read()``, its refusal prefixed with the payload's file name."""
    try:
        return read()
    except InvalidInput as bad:
        raise type(bad)(f"{payload.name}: {bad}") from None


def _collect(payloads: Sequence[Payload], profile: VenueProfile) -> tuple[dict[str, InstrumentSpec],
                                                                          dict[str, TierTable]]:
    specs: dict[str, InstrumentSpec] = {}
    tiers: dict[str, TierTable] = {}
    for p in payloads:
        if p.fmt not in FORMATS:
            raise InvalidInput(f"{p.name}: unknown format {p.fmt!r}; one of {', '.join(FORMATS)}")
        if p.fmt in TIER_FORMATS:
            continue
        for symbol, spec in _named(p, partial(_specs, p)).items():
            if symbol in specs:
                raise InvalidInput(f"{p.name}: specs of {symbol} given twice")
            specs[symbol] = spec
    unified = {s.unified: s.symbol for s in specs.values() if s.unified}
    for p in payloads:
        if p.fmt in TIER_FORMATS:
            for symbol, table in _named(p, partial(_tiers, p, profile, unified)).items():
                if symbol in tiers:
                    raise InvalidInput(f"{p.name}: the tier table of {symbol} is given twice")
                tiers[symbol] = table
    return specs, tiers


def _check_known(profile: VenueProfile, spec: InstrumentSpec, where: str) -> None:
    """A listed symbol's payload must describe the same contract (else it is another venue's)."""
    inst = profile.instruments[spec.symbol]
    if inst.settle and spec.settle != inst.settle:
        raise InvalidInput(f"{where}: {spec.symbol} settles in {spec.settle} there but in {inst.settle} on "
                           f"{profile.name}: a payload of another venue?")
    if spec.contract_size is not None and spec.contract_size != inst.contract_size:
        raise InvalidInput(f"{where}: {spec.symbol} contract size {plain(spec.contract_size)} there but "
                           f"{plain(inst.contract_size)} on {profile.name}: a payload of another venue?")


def _new_entry(spec: InstrumentSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {"base": spec.base, "quote": spec.quote, "settle": spec.settle, "kind": spec.kind}
    if spec.contract_size is not None:
        entry["contract_size"] = plain(spec.contract_size)
    return entry


def _check_payloads(venue: str, payloads: Sequence[Payload], as_of: str, today: date) -> None:
    """Refuse what would write specs that are not the venue's: a date after ``today`` (its
    answers would never be stale), or an exchange's own payload given for another exchange."""
    if parse_date(as_of, "--as-of") > today:
        raise InvalidInput(f"--as-of {as_of} is in the future: give the date the payloads were fetched")
    for payload in payloads:
        exchange = payload.fmt.split("-")[0]
        if exchange != "ccxt" and not venue.startswith(exchange):
            raise InvalidInput(f"{payload.name}: a {payload.fmt} payload is not {venue}'s (nothing written)")


def _check_sizes(specs: Mapping[str, InstrumentSpec]) -> None:
    """Ticks and lots within what the engine accepts (a tick above the largest price would make
    every price of the symbol fall below one tick)."""
    for symbol, spec in sorted(specs.items()):
        if spec.tick_size >= MAX_PRICE:
            raise InvalidInput(f"{symbol}: tick size {plain(spec.tick_size)} is not below the largest price solvent "
                               f"accepts ({plain(MAX_PRICE)}); nothing written")
        if spec.lot_size > MAX_QTY:
            raise InvalidInput(f"{symbol}: lot size {plain(spec.lot_size)} is above the largest quantity solvent "
                               f"accepts ({plain(MAX_QTY)}); nothing written")
        for what, step in (("tick", spec.tick_size), ("lot", spec.lot_size)):
            digits = -int(step.normalize().as_tuple().exponent)
            if digits > MAX_FRACTION_DIGITS:
                raise InvalidInput(f"{symbol}: {what} size {plain(step)} has {digits} digits after the point; solvent "
                                   f"keeps at most {MAX_FRACTION_DIGITS}; nothing written")


def update_venue(venue: str, payloads: Sequence[Payload], as_of: str, today: date) -> UpdateResult:
    """Build, validate and write the next overlay of ``venue`` (see the module docstring);
    ``as_of`` may not be after ``today`` (UTC)."""
    if not payloads:
        raise InvalidInput("give at least one payload (--from FILE, or --live)")
    _check_payloads(venue, payloads, as_of, today)
    profile = load_venue(venue, overlays=False)
    previous = newest_overlay(venue)
    prev_doc, prev_stamp = read_overlay(previous, venue) if previous is not None else (None, None)
    if prev_stamp is not None and parse_date(as_of, "--as-of") < parse_date(prev_stamp.effective_from, "overlay"):
        raise InvalidInput(f"--as-of {as_of} is before the newest overlay's date {prev_stamp.effective_from}: "
                           "specs older than the ones in force are not written")
    current = profile_with_overlay(venue, prev_doc, prev_stamp) if prev_doc and prev_stamp else profile
    specs, tiers = _collect(payloads, current)
    _check_venue(profile, specs, tiers)
    _check_sizes(specs)
    entries: dict[str, dict[str, Any]] = copy.deepcopy(prev_doc["instruments"]) if prev_doc else {}
    added, skipped = _merge(entries, current, specs, tiers, as_of)
    if len(skipped) == len(set(specs) | set(tiers)):
        raise InvalidInput(f"no symbol of the payload is on {venue} (nothing written)")
    doc = {
        "overlay_version": OVERLAY_VERSION, "venue": venue,
        "sequence": (prev_stamp.sequence if prev_stamp else 0) + 1,
        "effective_from": as_of,
        "sources": [*(prev_doc["sources"] if prev_doc else []),
                    *({"file": p.name, "sha256": p.sha256, "format": p.fmt, "as_of": as_of} for p in payloads)],
        "instruments": dict(sorted(entries.items())),
    }
    stamp = check_overlay(doc, venue, hashlib.sha256(overlay_bytes(doc)).hexdigest(), f"{venue} overlay")
    try:
        merged = profile_with_overlay(venue, doc, stamp)  # the bundled profiles' own validation
    except InvalidInput as bad:
        raise InvalidInput(f"the updated {venue} profile is invalid (nothing written): {bad}") from None
    path = write_overlay(doc)
    return UpdateResult(path, merged, sum(1 for s in specs if s not in skipped),
                        sum(1 for s in tiers if s not in skipped), tuple(added), tuple(skipped))


def _check_venue(profile: VenueProfile, specs: Mapping[str, InstrumentSpec], tiers: Mapping[str, TierTable]) -> None:
    """Refuse parts the venue's profile does not take."""
    if tiers and profile.margin_model != "tiered":
        raise InvalidInput(f"{profile.name} does not use tier tables (margin model {profile.margin_model}): "
                           "give it tick and lot payloads only")
    if specs and profile.no_tick_rule.kind is PriceRuleKind.SIGNIFICANT_FIGURES:
        raise InvalidInput(f"{profile.name} prices follow its significant-figures rule, not a tick: "
                           "give it tier payloads only")


def _merge(entries: dict[str, dict[str, Any]], current: VenueProfile, specs: Mapping[str, InstrumentSpec],
           tiers: Mapping[str, TierTable], as_of: str) -> tuple[list[str], list[str]]:
    """Set the payloads' parts into the overlay ``entries``; returns the symbols added and skipped."""
    added: list[str] = []
    skipped: list[str] = []
    for symbol in sorted(set(specs) | set(tiers)):
        spec, table = specs.get(symbol), tiers.get(symbol)
        if symbol not in current.instruments:
            if spec is None or spec.kind is None or (current.margin_model == "tiered" and table is None):
                skipped.append(symbol)
                continue
            entries[symbol] = _new_entry(spec)
            added.append(symbol)
        elif spec is not None:
            _check_known(current, spec, "payload")
        entry = entries.setdefault(symbol, {})
        if spec is not None:
            entry.update(tick_size=plain(spec.tick_size), lot_size=plain(spec.lot_size), steps_as_of=as_of)
        if table is not None:
            entry.update(tiers=tier_brackets(table), tiers_as_of=as_of)
    return added, skipped


def live_payloads(venue: str) -> list[Payload]:
    """Markets and leverage tiers fetched now through ccxt (the optional ``ccxt`` extra)."""
    from solvent.extras import missing_extra

    try:
        import ccxt  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise missing_extra(exc, "ccxt", "solvent venues update --live") from None
    if venue not in CCXT_EXCHANGES:
        raise InvalidInput(f"--live: no ccxt exchange is mapped for {venue}; save its payloads and use --from")
    exchange_id, options = CCXT_EXCHANGES[venue]
    exchange = getattr(ccxt, exchange_id)({"options": options})
    out: list[Payload] = []
    for fmt, fetch in (("ccxt-markets", exchange.load_markets), ("ccxt-leverage-tiers", exchange.fetch_leverage_tiers)):
        # ccxt returns Python floats: their shortest repr is the exchange's decimal text
        data = json.dumps(fetch(), default=str, sort_keys=True).encode("utf-8")
        out.append(Payload(f"ccxt:{exchange_id}:{fmt}", hashlib.sha256(data).hexdigest(), fmt,
                           loads_payload(data, f"ccxt {exchange_id} {fmt}")))
    return out
