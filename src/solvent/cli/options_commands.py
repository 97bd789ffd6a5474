"""``solvent options price`` and ``solvent options margin`` (``docs/options.md``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import click

from solvent.cli.files import check_output_file, read_input, refuse_if_read
from solvent.cli.render import emit_json, table
from solvent.errors import InvalidInput
from solvent.jsonstrict import loads_strict
from solvent.options import bundled_option_rules, load_option_rules, margin, read_portfolio
from solvent.options.cross import CrossPortfolio, cross_margin, read_cross_portfolio
from solvent.options.margin import MarginReport
from solvent.options.okx_tiers import rules_with_okx_tiers
from solvent.options.portfolio import is_cross
from solvent.options.report import cross_json, margin_json, price_option
from solvent.units import plain, round_up

__all__ = ["options_cmd"]

DEMOS = ("calm", "crash")


@click.group("options")
def options_cmd() -> None:
    """Option pricing (Black-76) and option margin: standard and portfolio (scenario)."""


@options_cmd.command("price")
@click.option("--forward", type=float, required=True, help="Forward (or index) price of the underlying, in USD.")
@click.option("--strike", type=float, required=True, help="Strike, in USD.")
@click.option("--vol", type=float, default=None, help="Implied volatility, a fraction (0.6 = 60 %).")
@click.option("--premium", type=float, default=None,
              help="The option's price instead of --vol: the volatility is implied from it (USD; coin with --inverse).")
@click.option("--expiry-days", type=float, required=True, help="Days to expiry (years of 365 days).")
@click.option("--type", "kind", type=click.Choice(["call", "put"]), required=True)
@click.option("--rate", type=float, default=0.0, show_default=True, help="Discount rate (0: undiscounted).")
@click.option("--inverse", is_flag=True, help="Coin-settled (Deribit-style): value and delta in coin too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def price_cmd(forward: float, strike: float, vol: float | None, premium: float | None, expiry_days: float, kind: str,
              rate: float, inverse: bool, as_json: bool) -> None:
    """Price a European option with Black-76 and print its greeks."""
    priced = price_option(kind, forward, strike, expiry_days, vol, premium, rate, inverse)
    if as_json:
        emit_json(priced.json())
        return
    g = priced.greeks
    rows = [["price (USD)", f"{g.price:.8f}"], ["implied vol" if priced.implied else "vol", f"{priced.vol:.8f}"],
            ["delta", f"{g.delta:.8f}"], ["gamma", f"{g.gamma:.10f}"], ["vega (per vol point)", f"{g.vega:.8f}"],
            ["theta (per day)", f"{g.theta:.8f}"], ["rho (per rate point)", f"{g.rho:.8f}"]]
    if inverse:
        rows += [["price (coin)", f"{priced.price_coin:.8f}"], ["delta (coin)", f"{priced.delta_coin:.8f}"]]
    table(f"Black-76 {kind}, F {forward:g}, K {strike:g}, {expiry_days:g} days", ["figure", "value"], rows)


def _matrix_rows(report: MarginReport) -> tuple[list[str], list[list[str]]]:
    """The regular grid as rows of moves × columns of volatility legs, then the extended moves."""
    legs = list(dict.fromkeys(r.scenario.vol for r in report.scenarios if not r.scenario.extended))
    rows: dict[str, dict[str, str]] = {}
    for r in report.scenarios:
        label = r.scenario.label.split(" vol ")[0] + (" ext." if r.scenario.extended else "")
        rows.setdefault(label, {})[r.scenario.vol] = plain(report.pnl_amount(r))
    columns = ["move", *legs]
    extended_legs = {r.scenario.vol for r in report.scenarios if r.scenario.extended} - set(legs)
    columns += sorted(extended_legs)
    return columns, [[label, *(cells.get(c, "") for c in columns[1:])] for label, cells in rows.items()]


@options_cmd.command("margin")
@click.option("--venue", "rules_name", required=True,
              help=f"Option margin rules: {', '.join(bundled_option_rules())}.")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The portfolio (JSON, docs/options.md).")
@click.option("--demo", type=click.Choice(DEMOS), default=None,
              help="A bundled portfolio instead of --file: a short BTC strangle with a perpetual hedge at real OKX"
                   " marks of 2025-10-10, calm (00:00 UTC) or in the crash (21:20 UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (maintenance_margin, initial_margin, the matrix).")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Save the risk matrix as a PNG heatmap (needs the plot extra).")
@click.option("--margin-tiers", "tiers_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="OKX's option position tiers (the JSON of GET /api/v5/public/position-tiers?instType=OPTION)"
                   " for okx-options: the margin factor of the portfolio's tier.")
def margin_cmd(rules_name: str, path: Path | None, demo: str | None, as_json: bool, png: Path | None,
               tiers_path: Path | None) -> None:
    """Maintenance and initial margin of an options portfolio, the worst scenario and the risk matrix."""
    if rules_name not in bundled_option_rules():
        raise InvalidInput(f"unknown option rules {rules_name!r}; bundled: {', '.join(bundled_option_rules())}")
    if (path is None) == (demo is None):
        raise InvalidInput("give --file PORTFOLIO or --demo calm|crash (one of them)")
    if png is not None:  # before any work: the plot's name and folder (a missing folder was created)
        if png.suffix.lower() != ".png":
            raise InvalidInput(f"--png writes a PNG: {png} should end in .png")
        check_output_file(png, "--png")
        refuse_if_read(png, "--png", [p for p in (path, tiers_path) if p is not None])
    if demo is not None:
        name = f"options-strangle-2025-10-10-{demo}.json"
        data, where = (resources.files("solvent") / "data" / name).read_bytes(), f"demo portfolio {name}"
    else:
        assert path is not None
        data, where = read_input(path, "portfolio"), f"portfolio {path}"
    raw = loads_strict(data, where)
    tiers = None
    if tiers_path is not None:
        tiers = loads_strict(read_input(tiers_path, "margin tiers"), f"margin tiers {tiers_path}")
    if is_cross(raw):
        if png is not None:
            raise InvalidInput("--png draws one currency's risk matrix; a cross-currency portfolio has one per group")
        _cross(read_cross_portfolio(raw, where), rules_name, as_json, tiers, f"margin tiers {tiers_path}")
        return
    portfolio = read_portfolio(raw, where)
    rules = load_option_rules(rules_name)
    if tiers is not None:
        rules = rules_with_okx_tiers(rules, portfolio, tiers, f"margin tiers {tiers_path}")
    report = margin(portfolio, rules)
    for note in report.notes:  # what the margin changed in its inputs (a volatility that missed the mark)
        click.echo(f"note: {note}", err=True)
    if png is not None:
        if not report.scenarios:
            raise InvalidInput(f"{rules_name} is standard margin: there is no risk matrix to plot")
        from solvent.options.heatmap import save_heatmap

        save_heatmap(report, png)
    if as_json:
        emit_json({**margin_json(report, portfolio), "plot": None if png is None else str(png)})
        return
    unit = report.settle
    rows = [["rules", f"{report.rules} ({report.method})"], ["equity", f"{plain(report.equity)} {unit}"],
            ["maintenance margin", f"{plain(report.maintenance_margin)} {unit}"],
            ["initial margin", f"{plain(report.initial_margin)} {unit}"],
            ["excess over maintenance", f"{plain(report.excess)} {unit}"]]
    if report.worst is not None:
        worst = plain(report.pnl_amount(report.worst))
        rows.append(["worst scenario", f"{report.worst.scenario.label}: {worst} {unit}"])
    rows += [[f"contingency: {name.replace('_', ' ')}", f"{plain(value)} {unit}"]
             for name, value in report.contingencies]
    if report.tier is not None:
        rows.append(["position tier", f"{report.tier.tier}: margin factor {plain(report.tier.factor)} "
                                      f"({plain(report.tier.seller_contracts)} short contracts)"])
    rows += [[f"{p.instrument} IM / MM", f"{plain(round_up(p.initial_margin, report.quantum))} / "
                                         f"{plain(round_up(p.maintenance_margin, report.quantum))} {unit}"]
             for p in report.positions]
    table(f"option margin, {len(portfolio.options)} options and {len(portfolio.futures)} futures on {portfolio.base}",
          ["figure", "value"], rows)
    if report.scenarios:
        columns, matrix = _matrix_rows(report)
        table(f"portfolio P&L per scenario ({unit}; extended moves weighted)", columns, matrix)
    if png is not None:
        click.echo(f"plot: {png}")


def _cross(portfolio: CrossPortfolio, rules_name: str, as_json: bool, tiers: object = None,
           tiers_what: str = "margin tiers") -> None:
    report = cross_margin(portfolio, load_option_rules(rules_name), tiers, tiers_what)
    for group in report.groups:
        for note in group.report.notes:
            click.echo(f"note: {note}", err=True)
    if as_json:
        emit_json(cross_json(report, portfolio))
        return
    unit = report.margin_asset
    rows = [["rules", report.rules], ["equity", f"{plain(report.equity)} {unit}"],
            ["maintenance margin", f"{plain(report.maintenance_margin)} {unit}"],
            ["initial margin", f"{plain(report.initial_margin)} {unit}"],
            ["excess over maintenance", f"{plain(report.excess)} {unit}"]]
    rows += [[f"collateral {line.asset}", f"{plain(line.balance)} → {plain(line.value)} {unit}"]
             for line in report.collateral.lines]
    for group in report.groups:
        r = group.report
        rows.append([f"{r.settle} group MM / IM", f"{plain(r.maintenance_margin)} / {plain(r.initial_margin)} "
                     f"{r.settle} = {plain(group.maintenance_margin)} / {plain(group.initial_margin)} {unit}"])
    table(f"cross-currency option margin in {unit}, {len(report.groups)} groups", ["figure", "value"], rows)
