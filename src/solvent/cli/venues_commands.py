"""``solvent venues``: list the profiles, ``show`` one, ``update`` its specs from exchange payloads."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import click

from solvent.adapters.profile_update import FORMATS, live_payloads, read_payload, update_venue
from solvent.cli.render import emit_json, table
from solvent.cli.spec_age import echo_specs, specs_json, today_utc
from solvent.errors import InvalidInput
from solvent.risk.overlays import find_overlay, overlays_enabled
from solvent.risk.rules import PPM, DriftRules, DydxRules, MarginRules, TieredRules
from solvent.risk.tiers import tier_json
from solvent.risk.venues import VenueProfile, bundled_venues, load_venue
from solvent.units import ZERO, plain

__all__ = ["venues_cmd"]


def _row(p: VenueProfile) -> dict[str, Any]:
    return {"name": p.name, "display_name": p.display_name, "margin_model": p.margin_model,
            "mm_basis": p.mm_basis.value, "instruments": len(p.instruments),
            "effective_from": p.effective_from, "source": p.source, "notes": p.notes or None, "specs": specs_json(p)}


def _margin_json(rules: MarginRules) -> dict[str, Any] | None:
    """The margin parameters of a model that has no notional tier table, as its profile gives
    them and as fractions of notional (``None`` for a tiered instrument: its ``tiers`` say it).
    ``max_leverage`` is the one-tier table's the engine uses for a new position (1 / initial)."""
    if isinstance(rules, DydxRules):
        return {"model": "dydx", "imf_ppm": rules.imf_ppm, "mmf_ppm": rules.mmf_ppm,
                "initial_margin_fraction": plain(Decimal(rules.imf_ppm) / PPM),
                "maintenance_fraction_of_initial": plain(Decimal(rules.mmf_ppm) / PPM),
                "maint_margin_rate": plain(rules.maintenance_table(ZERO).tiers[0].maint_margin_rate),
                "oi_lower_cap": plain(rules.oi_lower_cap), "oi_upper_cap": plain(rules.oi_upper_cap),
                "imf_scaling": rules.imf_scaling.value,
                "max_leverage": plain(rules.maintenance_table(ZERO).tiers[0].max_leverage)}
    if isinstance(rules, DriftRules):
        return {"model": "drift", "initial_ratio": plain(rules.initial_ratio),
                "maintenance_ratio": plain(rules.maintenance_ratio), "imf_factor": plain(rules.imf_factor),
                "max_leverage": plain(rules.maintenance_table(ZERO).tiers[0].max_leverage)}
    return None


def _margin_rows(margin: dict[str, Any]) -> list[list[str]]:
    """``venues show``'s lines for ``_margin_json``'s parameters."""
    if margin["model"] == "dydx":
        low, high = margin["oi_lower_cap"], margin["oi_upper_cap"]
        scaling = (f"{low}–{high} (the initial fraction scales up between them, {margin['imf_scaling']})"
                   if high != "0" else f"{low}–{high} (no open-interest scaling)")
        return [["initial margin", f"{margin['initial_margin_fraction']} of notional (imf_ppm {margin['imf_ppm']}); "
                                   f"max {margin['max_leverage']}x"],
                ["maintenance margin", f"{margin['maint_margin_rate']} of notional: "
                                       f"{margin['maintenance_fraction_of_initial']} of the initial fraction "
                                       f"(mmf_ppm {margin['mmf_ppm']})"],
                ["open interest caps", scaling]]
    premium = (f"imf_factor {margin['imf_factor']}: no size premium" if margin["imf_factor"] == "0" else
               f"imf_factor {margin['imf_factor']}: a ratio is max(ratio, 0.8 × ratio + imf_factor × √size)")
    return [["initial margin", f"{margin['initial_ratio']} of notional; max {margin['max_leverage']}x"],
            ["maintenance margin", f"{margin['maintenance_ratio']} of notional"],
            ["size premium", premium]]


@click.group("venues", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def venues_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the venue profiles (bundled, with any overlay from `venues update` applied)."""
    if ctx.invoked_subcommand is not None:
        return
    rows = [_row(load_venue(name)) for name in bundled_venues()]
    if as_json:
        emit_json(rows)
        return
    table("venue profiles", ["name", "model", "MM basis", "instruments", "effective from", "specs from", "age (days)"],
          [[r["name"], r["margin_model"], r["mm_basis"], str(r["instruments"]), r["effective_from"],
            r["specs"]["effective_from"] + (" (overlay)" if r["specs"]["overlay"] else ""),
            str(r["specs"]["age_days"]) + (" stale" if r["specs"]["stale"] else "")] for r in rows])
    stale = [r["name"] for r in rows if r["specs"]["stale"]]
    if stale:
        click.echo(f"warning: specs older than {rows[0]['specs']['stale_after_days']} days: {', '.join(stale)} "
                   "(solvent venues update --venue NAME --from FILE)")
    if not overlays_enabled():
        click.echo("note: overlays are off (SOLVENT_NO_OVERLAYS): bundled profiles as shipped")


@venues_cmd.command("show")
@click.argument("name")
@click.option("--symbol", default=None, help="Show this instrument's tick, lot and tiers.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_cmd(name: str, symbol: str | None, as_json: bool) -> None:
    """One profile: its dates, overlay and provenance (and one instrument with --symbol)."""
    p = load_venue(name)
    out = _row(p)
    stamp = p.overlay
    if stamp is not None:
        path = find_overlay(p.name, stamp.sha256)
        out["overlay"] = {"effective_from": stamp.effective_from, "sha256": stamp.sha256,
                          "path": None if path is None else str(path),
                          "sources": [{"file": f, "sha256": h} for f, h in stamp.sources]}
    else:
        out["overlay"] = None
    if symbol is not None:
        inst, rules = p.instrument(symbol), p.rules_for(symbol)
        table_ = rules.table if isinstance(rules, TieredRules) else None
        out["instrument"] = {
            "symbol": symbol, "kind": inst.kind.value, "base": inst.base, "quote": inst.quote, "settle": inst.settle,
            "contract_size": plain(inst.contract_size),
            "tick_size": None if inst.tick_size is None else plain(inst.tick_size),
            "lot_size": None if inst.lot_size is None else plain(inst.lot_size),
            "tiers": None if table_ is None else [tier_json(table_, i + 1) for i in range(len(table_.tiers))],
            "margin_parameters": _margin_json(rules),
        }
        out["specs"] = specs_json(p, [symbol])
    if as_json:
        emit_json(out)
        return
    echo_specs(p, None if symbol is None else [symbol])
    rows = [["display name", p.display_name], ["model", p.margin_model], ["instruments", str(len(p.instruments))],
            ["bundled effective from", p.effective_from], ["source", p.source]]
    if p.notes:  # caveats the profile states (drift's ratios are approximated, say): shown, not left in the file
        rows.append(["notes", p.notes])
    if out["overlay"] is not None:
        o = out["overlay"]
        rows += [["overlay effective from", o["effective_from"]], ["overlay sha256", o["sha256"]],
                 ["overlay file", o["path"] or "-"],
                 *(["overlay source", f"{s['file']} sha256 {s['sha256'][:16]}…"] for s in o["sources"])]
    if "instrument" in out:
        i = out["instrument"]
        rows += [["symbol", f"{i['symbol']} ({i['kind']})"], ["tick size", i["tick_size"] or "-"],
                 ["lot size", i["lot_size"] or "-"], ["contract size", i["contract_size"]],
                 *([f"tier {t['index']}", f"{t['floor_notional']}–{t['cap_notional'] or '∞'} mmr "
                    f"{t['maint_margin_rate']} cum {t['maint_amount']} max {t['max_leverage']}x"]
                   for t in i["tiers"] or [])]
        rows += _margin_rows(i["margin_parameters"]) if i["margin_parameters"] is not None else []
    table(p.name, ["figure", "detail"], rows)


@venues_cmd.command("update")
@click.option("--venue", required=True, help="Bundled venue profile to update, e.g. binance-usdm.")
@click.option("--from", "files", multiple=True, metavar="FILE",
              help="A saved exchange payload (repeat for several, e.g. exchangeInfo and leverageBracket).")
@click.option("--format", "formats", multiple=True, type=click.Choice(FORMATS),
              help="The payload's format, once per --from in order [default: detected from its shape].")
@click.option("--as-of", default=None, metavar="YYYY-MM-DD",
              help="Effective date of the payloads [default: today, UTC].")
@click.option("--live", is_flag=True, help="Fetch markets and leverage tiers now through ccxt (the 'ccxt' extra).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def update_cmd(venue: str, files: tuple[str, ...], formats: tuple[str, ...], as_of: str | None, live: bool,
               as_json: bool) -> None:
    """Write a dated overlay of a venue's ticks, lots and tiers from exchange payloads."""
    if venue not in bundled_venues():
        raise InvalidInput(f"unknown venue {venue!r}; bundled: {', '.join(bundled_venues())}")
    if formats and len(formats) != len(files):
        raise InvalidInput("give --format once per --from, in the same order (or leave it out to detect it)")
    if not files and not live:
        raise InvalidInput("give --from FILE (a saved exchange payload) or --live")
    payloads = [read_payload(f, formats[i] if formats else None) for i, f in enumerate(files)]
    if live:
        payloads += live_payloads(venue)
    today = today_utc()
    result = update_venue(venue, payloads, as_of or today.isoformat(), today)
    summary = {"venue": venue, "path": str(result.path), "effective_from": result.profile.overlay.effective_from
               if result.profile.overlay else None,
               "sha256": result.profile.overlay.sha256 if result.profile.overlay else None,
               "sources": [{"file": p.name, "sha256": p.sha256, "format": p.fmt} for p in payloads],
               "steps_updated": result.steps_updated, "tiers_updated": result.tiers_updated,
               "added": list(result.added), "skipped": list(result.skipped), "specs": specs_json(result.profile)}
    if as_json:
        emit_json(summary)
        return
    click.echo(f"wrote {result.path}")
    click.echo(f"{venue}: ticks and lots of {result.steps_updated} symbol(s), tiers of {result.tiers_updated}, "
               f"{len(result.added)} added, {len(result.skipped)} skipped (not on {venue}, or no tiers for them)")
    echo_specs(result.profile)
