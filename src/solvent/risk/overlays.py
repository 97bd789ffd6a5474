"""Dated venue profile overlays: newer ticks, lots and tier tables on top of a bundled profile.

``solvent venues update`` writes one; ``load_venue`` applies the newest one for the venue
(``docs/venues.md``, "Updating specs"). An overlay is a JSON file in
``<data dir>/overlays/<venue>/`` (``solvent.paths.user_data_dir``), named
``<sequence>-<effective date>-<sha256 prefix>.json``::

    {"overlay_version": 1, "venue": "binance-usdm", "sequence": 2, "effective_from": "2026-12-04",
     "sources": [{"file": "exchangeInfo.json", "sha256": "…", "format": "binance-exchange-info",
                  "as_of": "2026-12-04"}],
     "instruments": {"BTCUSDT": {"tick_size": "0.1", "lot_size": "0.001", "steps_as_of": "2026-12-04",
                                 "tiers": [{"notional_floor": "0", …}], "tiers_as_of": "2026-12-04"}}}

Overlays are cumulative: each update starts from the newest one, so the newest (highest
``sequence``) holds every instrument any update set, each part with the date of the
payload it came from. Files are never rewritten: a journal names the overlay it ran on by
its sha256 and replays on exactly that file (``journal/codec.py``).
``SOLVENT_NO_OVERLAYS=1`` (or ``load_venue(name, overlays=False)``) loads bundled profiles only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

from solvent.errors import InvalidInput
from solvent.jsonstrict import loads_strict
from solvent.paths import user_data_dir

__all__ = [
    "NO_OVERLAYS_ENV",
    "OVERLAY_VERSION",
    "OverlayStamp",
    "check_overlay",
    "find_overlay",
    "merge_overlay",
    "newest_overlay",
    "overlay_bytes",
    "overlay_dir",
    "overlays_enabled",
    "parse_date",
    "read_overlay",
    "write_overlay",
]

OVERLAY_VERSION: Final = 1
NO_OVERLAYS_ENV: Final = "SOLVENT_NO_OVERLAYS"
_FILE = re.compile(r"^(\d{6})-(\d{4}-\d{2}-\d{2})-([0-9a-f]{16})\.json$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TOP_KEYS = frozenset({"overlay_version", "venue", "sequence", "effective_from", "sources", "instruments"})
_ENTRY_KEYS = frozenset({"base", "quote", "settle", "kind", "contract_size", "tick_size", "lot_size",
                         "steps_as_of", "tiers", "tiers_as_of"})


@dataclass(frozen=True, slots=True)
class OverlayStamp:
    """Which overlay a profile carries, and the date of each part it set."""

    effective_from: str
    sha256: str
    """sha256 of the overlay file's bytes: what a journal's genesis record names."""
    sequence: int
    sources: tuple[tuple[str, str], ...]
    """``(file name, sha256)`` of every payload the overlay was built from."""
    steps_as_of: Mapping[str, str]
    """Date of each symbol's tick and lot."""
    tiers_as_of: Mapping[str, str]
    """Date of each symbol's tier table."""


def overlays_enabled(flag: bool | None = None) -> bool:
    """``flag`` when given, else true unless ``$SOLVENT_NO_OVERLAYS`` is set (to anything but ``0``)."""
    if flag is not None:
        return flag
    return os.environ.get(NO_OVERLAYS_ENV, "") in ("", "0")


def overlay_dir(venue: str) -> Path:
    return user_data_dir() / "overlays" / venue


def _listed(venue: str) -> list[tuple[int, Path]]:
    folder = overlay_dir(venue)
    try:
        files = [p for p in folder.iterdir() if p.suffix == ".json"]
    except OSError:  # no folder: no overlays
        return []
    names = [p for p in files if _FILE.match(p.name)]
    stray = sorted(p.name for p in files if not _FILE.match(p.name))
    if stray:
        raise InvalidInput(f"{folder} holds {stray[0]}, which is not named as an overlay "
                           "(NNNNNN-YYYY-MM-DD-<sha256 prefix>.json): renamed by hand? give it its name back")
    return sorted((int(_FILE.match(p.name).group(1)), p) for p in names)  # type: ignore[union-attr]


def newest_overlay(venue: str) -> Path | None:
    """The overlay file with the highest sequence for ``venue``, if any."""
    listed = _listed(venue)
    return listed[-1][1] if listed else None


def find_overlay(venue: str, sha256: str) -> Path | None:
    """The overlay file of ``venue`` whose bytes hash to ``sha256``, if present."""
    for _, path in _listed(venue):
        if path.name.endswith(f"-{sha256[:16]}.json") and hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
            return path
    return None


def parse_date(text: object, what: str) -> date:
    """A ``YYYY-MM-DD`` date; ``InvalidInput`` naming ``what`` otherwise."""
    if not isinstance(text, str) or not _DATE.match(text):
        raise InvalidInput(f"{what}: expected a date YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{what}: {text!r} is not a calendar date") from None


def read_overlay(path: Path, venue: str) -> tuple[dict[str, Any], OverlayStamp]:
    """An overlay document and its stamp; ``InvalidInput`` if the file is unreadable or malformed."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read venue overlay {path}: {exc.strerror}") from None
    what = f"venue overlay {path}"
    sha256 = hashlib.sha256(data).hexdigest()
    named = path.stem.rsplit("-", 1)[-1]
    if not sha256.startswith(named):
        raise InvalidInput(f"{what} was changed after it was written (its name says sha256 {named}…, its bytes hash "
                           f"to {sha256[:16]}…): restore it as written (a journal that ran on it needs it so)")
    doc = loads_strict(data, what)
    stamp = check_overlay(doc, venue, sha256, what)
    if path.name != overlay_file_name(stamp.sequence, stamp.effective_from, sha256):
        raise InvalidInput(f"{what}: its name does not match its sequence {stamp.sequence} and date "
                           f"{stamp.effective_from} (renamed?): give it its name back, "
                           f"{overlay_file_name(stamp.sequence, stamp.effective_from, sha256)}")
    return doc, stamp


def overlay_file_name(sequence: int, effective_from: str, sha256: str) -> str:
    """The name an overlay is stored under: its sequence, its date and its sha256's first 16 digits."""
    return f"{sequence:06d}-{effective_from}-{sha256[:16]}.json"


def check_overlay(doc: Any, venue: str, sha256: str, what: str) -> OverlayStamp:
    """Check an overlay document's shape (its numbers are checked by ``parse_profile``)."""
    if not isinstance(doc, dict) or set(doc) != _TOP_KEYS:
        raise InvalidInput(f"{what}: an overlay is an object with exactly {', '.join(sorted(_TOP_KEYS))}")
    if doc["overlay_version"] != OVERLAY_VERSION or doc["venue"] != venue:
        raise InvalidInput(f"{what}: expected overlay_version {OVERLAY_VERSION} for venue {venue}")
    seq = doc["sequence"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise InvalidInput(f"{what}: sequence must be an integer >= 1")
    parse_date(doc["effective_from"], f"{what}: effective_from")
    sources = doc["sources"]
    if not isinstance(sources, list) or not all(
            isinstance(s, dict) and isinstance(s.get("file"), str) and isinstance(s.get("sha256"), str)
            for s in sources):
        raise InvalidInput(f"{what}: sources must be a list of {{file, sha256, ...}} objects")
    entries = doc["instruments"]
    if not isinstance(entries, dict) or not entries:
        raise InvalidInput(f"{what}: instruments must be a non-empty object")
    steps: dict[str, str] = {}
    tiers: dict[str, str] = {}
    for symbol, entry in entries.items():
        where = f"{what}: instruments.{symbol}"
        if not isinstance(entry, dict) or set(entry) - _ENTRY_KEYS:
            raise InvalidInput(f"{where}: an entry takes only {', '.join(sorted(_ENTRY_KEYS))}")
        for part, dates in (("steps", steps), ("tiers", tiers)):
            if f"{part}_as_of" in entry:
                parse_date(entry[f"{part}_as_of"], f"{where}.{part}_as_of")
                dates[symbol] = entry[f"{part}_as_of"]
    return OverlayStamp(effective_from=doc["effective_from"], sha256=sha256, sequence=seq,
                        sources=tuple((s["file"], s["sha256"]) for s in sources),
                        steps_as_of=steps, tiers_as_of=tiers)


def merge_overlay(profile: Mapping[str, Any], doc: Mapping[str, Any]) -> dict[str, Any]:
    """The decoded profile ``profile`` with the overlay's instruments replaced or added.

    An entry's ``tick_size``, ``lot_size`` and ``tiers`` (a bracket list) replace the
    instrument's; a symbol the profile lacks is added with the entry's fields. Pure: the
    arguments are not modified.
    """
    instruments = dict(profile.get("instruments", {}))
    for symbol, entry in doc["instruments"].items():
        spec = dict(instruments.get(symbol, {}))
        spec.update({k: v for k, v in entry.items() if not k.endswith("_as_of")})
        instruments[symbol] = spec
    return {**profile, "instruments": instruments}


def overlay_bytes(doc: Mapping[str, Any]) -> bytes:
    """The bytes an overlay is stored as (sorted keys: the same document, the same sha256)."""
    return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_overlay(doc: Mapping[str, Any]) -> Path:
    """Store a checked overlay document under its name; returns the path (never overwrites)."""
    data = overlay_bytes(doc)
    sha = hashlib.sha256(data).hexdigest()
    folder = overlay_dir(str(doc["venue"]))
    path = folder / overlay_file_name(int(doc["sequence"]), str(doc["effective_from"]), sha)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if path.exists():
            raise InvalidInput(f"venue overlay {path} already exists")
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise InvalidInput(f"cannot write venue overlay in {folder}: {exc.strerror}") from None
    return path
