"""How old a venue profile's specs are: the one place every command renders it.

Each answer says the effective date of the specs it used (``VenueProfile.specs_date``:
the bundled profile's date, or an overlay's for the parts ``solvent venues update`` set)
and warns when that date is more than ``$SOLVENT_STALE_DAYS`` days (default 180) before
today (UTC). JSON outputs carry it as a ``specs`` object; tables get a ``specs:`` line and,
when stale, a ``warning:`` line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any, Final

import click

from solvent.errors import InvalidInput
from solvent.risk.overlays import parse_date
from solvent.risk.venues import VenueProfile
from solvent.text import whole_number

__all__ = ["DEFAULT_STALE_DAYS", "STALE_DAYS_ENV", "echo_specs", "specs_json", "today_utc"]

STALE_DAYS_ENV: Final = "SOLVENT_STALE_DAYS"
DEFAULT_STALE_DAYS: Final = 180


def today_utc() -> date:
    """Today's date in UTC (the CLI's one wall-clock read for ages; tests replace it)."""
    return datetime.now(UTC).date()


def stale_after_days() -> int:
    raw = os.environ.get(STALE_DAYS_ENV, "")
    if not raw:
        return DEFAULT_STALE_DAYS
    days = whole_number(raw)
    if days is None:
        raise InvalidInput(f"${STALE_DAYS_ENV} must be a whole number of days in digits 0-9, got {raw!r}")
    return days


def specs_json(profile: VenueProfile, symbols: Iterable[str] | None = None) -> dict[str, Any]:
    """The ``specs`` object: effective date of the specs used (the oldest over ``symbols``,
    or over the whole profile), its age in days, whether it is stale, and the overlay."""
    chosen = list(symbols) if symbols is not None else [None]
    effective = min(profile.specs_date(s) for s in chosen) if chosen else profile.specs_date()
    age = (today_utc() - parse_date(effective, f"{profile.name} effective date")).days
    limit = stale_after_days()
    stamp = profile.overlay
    return {
        "effective_from": effective,
        "age_days": age,
        "stale": age > limit,
        "stale_after_days": limit,
        "bundled_effective_from": profile.effective_from,
        "overlay": None if stamp is None else {"effective_from": stamp.effective_from, "sha256": stamp.sha256},
    }


def echo_specs(profile: VenueProfile, symbols: Iterable[str] | None = None) -> None:
    """The ``specs:`` header line, and a ``warning:`` line when the specs are stale."""
    info = specs_json(profile, symbols)
    overlay = info["overlay"]
    origin = "bundled" if overlay is None else f"overlay of {overlay['effective_from']} on bundled " \
        f"{info['bundled_effective_from']}"
    click.echo(f"specs: {profile.name} effective {info['effective_from']} ({info['age_days']} days old; {origin})")
    if info["stale"]:
        click.echo(f"warning: {profile.name} specs date from {info['effective_from']}, more than "
                   f"{info['stale_after_days']} days ago: tiers, ticks or lots may have changed "
                   f"(solvent venues update --venue {profile.name} --from FILE)")
