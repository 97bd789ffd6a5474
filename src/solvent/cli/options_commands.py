"""``solvent options price|margin|check|settle|liquidate`` (``docs/options.md``)."""

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
from solvent.options.expiry_settlement import read_settlement_file, settle_expiry, time_text
from solvent.options.liquidation import plan_liquidation
from solvent.options.margin import MarginReport
from solvent.options.okx_tiers import rules_with_okx_tiers, rules_with_okx_tiers_of
from solvent.options.portfolio import is_cross, underlying_of
from solvent.options.pretrade import OptionOrder, check_order
from solvent.options.report import check_json, cross_json, liquidation_json, margin_json, price_option, settlement_json
from solvent.text import shown
from solvent.units import plain, round_up, to_decimal

__all__ = ["options_cmd"]

DEMOS = ("calm", "crash")
DEMO_SETTLEMENT = "settlement-BTC-10OCT25.json"
_tiers_option = click.option(
    "--margin-tiers", "tiers_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="OKX's option position tiers (the JSON of GET /api/v5/public/position-tiers?instType=OPTION) for "
         "okx-options: the margin factor of the portfolio's tier.")
_venue_option = click.option("--venue", "rules_name", required=True,
                             help=f"Option margin rules: {', '.join(bundled_option_rules())}.")


@click.group("options")
def options_cmd() -> None:
    """Option pricing (Black-76) and option margin: standard and portfolio (scenario)."""


def _rules(rules_name: str) -> None:
    """Refuse a rule set that is not bundled, naming the bundled ones."""
    if rules_name not in bundled_option_rules():
        raise InvalidInput(f"unknown option rules {rules_name!r}; bundled: {', '.join(bundled_option_rules())}")


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
@_venue_option
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The portfolio (JSON, docs/options.md).")
@click.option("--demo", type=click.Choice(DEMOS), default=None,
              help="A bundled portfolio instead of --file: a short BTC strangle with a perpetual hedge at real OKX"
                   " marks of 2025-10-10, calm (00:00 UTC) or in the crash (21:20 UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (maintenance_margin, initial_margin, the matrix).")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Save the risk matrix as a PNG heatmap (needs the plot extra).")
@_tiers_option
def margin_cmd(rules_name: str, path: Path | None, demo: str | None, as_json: bool, png: Path | None,
               tiers_path: Path | None) -> None:
    """Maintenance and initial margin of an options portfolio, the worst scenario and the risk matrix."""
    _rules(rules_name)
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


@options_cmd.command("check")
@_venue_option
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The portfolio (JSON, docs/options.md); one whose positions are [] takes a first order.")
@click.option("--instrument", required=True, help="BTC-27MAR27-130000-C, BTC-PERPETUAL, BTC_USDC-...")
@click.option("--qty", required=True, help="Options (or coins of a future) bought; negative: sold.")
@click.option("--price", required=True,
              help="The order's price: an option's in its settlement asset (coin when inverse), a future's in USD.")
@click.option("--vol", default=None, help="A new option's volatility (else implied from --price).")
@click.option("--forward", default=None, help="A new option's expiry forward (else the portfolio's, or the index).")
@click.option("--fee", default="0", show_default=True,
              help="The order's fee per coin of underlying, in the settlement asset.")
@_tiers_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check_cmd(rules_name: str, path: Path, instrument: str, qty: str, price: str, vol: str | None,
              forward: str | None, fee: str, tiers_path: Path | None, as_json: bool) -> None:
    """Would this order be accepted? The portfolio margined as it would be after the order; nothing
    changes. Exit 0 when accepted, 1 when refused."""
    _rules(rules_name)
    raw = loads_strict(read_input(path, "portfolio"), f"portfolio {path}")
    rules = load_option_rules(rules_name)
    if not (isinstance(raw, dict) and raw.get("positions") == []):  # a first order goes into an empty one
        read_portfolio(raw, f"portfolio {path}")  # refused naming the file, before the order is read
    if tiers_path is not None:
        tiers = loads_strict(read_input(tiers_path, "margin tiers"), f"margin tiers {tiers_path}")
        # the order's family: a portfolio that holds nothing yet takes a first order (found by review)
        rules = rules_with_okx_tiers_of(rules, underlying_of(instrument), tiers, f"margin tiers {tiers_path}")
    order = OptionOrder(instrument, to_decimal(qty, "--qty"), to_decimal(price, "--price"),
                        None if vol is None else to_decimal(vol, "--vol"), to_decimal(fee, "--fee"),
                        None if forward is None else to_decimal(forward, "--forward"))
    answer = check_order(raw, rules, order)
    if as_json:
        emit_json(check_json(answer))
    else:
        rows = [["answer", "accepted" if answer.accepted else f"refused ({answer.reason})"],
                ["initial margin before", plain(answer.initial_margin_before)],
                ["initial margin after", plain(answer.initial_margin_after)],
                ["maintenance margin after", plain(answer.maintenance_margin_after)],
                ["equity after", plain(answer.equity_after)]]
        if answer.order_margin is not None and answer.available is not None:
            rows += [["order margin", plain(answer.order_margin)], ["available before", plain(answer.available)]]
        table(f"{rules_name}: {plain(order.qty)} {shown(instrument)} at {plain(order.price)}", ["figure", "value"],
              rows)
    if not answer.accepted:
        raise click.exceptions.Exit(1)


@options_cmd.command("settle")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The settlement file: the expiry and each source's index observations (docs/options.md).")
@click.option("--demo", is_flag=True,
              help="The bundled settlement file instead of --file: four sources' real BTC prices before the "
                   "2025-10-10 08:00 UTC expiry (OKX index, Binance COIN-M BTCUSD and USDⓈ-M BTCUSDT marks, "
                   "Gemini trades).")
@click.option("--portfolio", "portfolio_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A portfolio held up to the expiry: its options and futures of that expiry are settled.")
@click.option("--venue", "rules_name", default=None,
              help="With --portfolio: the option rules whose money quantum the cash is rounded to.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON, with every observation used in the settlement file's form.")
def settle_cmd(path: Path | None, demo: bool, portfolio_path: Path | None, rules_name: str | None,
               as_json: bool) -> None:
    """The settlement price of an option expiry: each source's 30-minute TWAP, weights capped, stale
    sources left out; with --portfolio, the automatic exercise and the wallet after it. Exit 1 when
    too few sources can be trusted (nothing is settled)."""
    if (portfolio_path is None) != (rules_name is None):
        raise InvalidInput("--portfolio and --venue go together: the venue's quantum rounds the portfolio's cash")
    if rules_name is not None:
        _rules(rules_name)
    if (path is None) == (not demo):
        raise InvalidInput("give --file SETTLEMENT or --demo (one of them)")
    if path is None:
        data, where = (resources.files("solvent") / "data" / DEMO_SETTLEMENT).read_bytes(), DEMO_SETTLEMENT
    else:
        data, where = read_input(path, "settlement file"), f"settlement file {path}"
    spec = read_settlement_file(loads_strict(data, where), where)
    raw = None
    if portfolio_path is not None:
        raw = loads_strict(read_input(portfolio_path, "portfolio"), f"portfolio {portfolio_path}")
    rules = None if rules_name is None else load_option_rules(rules_name)
    done, settled = settle_expiry(spec, raw, rules, f"portfolio {portfolio_path}")
    if as_json:
        emit_json(settlement_json(spec, done, settled))
        return
    window = f"{time_text(spec.expiry_ms - spec.rules.window_ms)} to {time_text(spec.expiry_ms)}"
    rows = [["settlement price", plain(done.price)], ["window", window]]
    weights, capped = dict(done.weights), dict(done.capped)
    if done.median is not None:
        band = plain(spec.rules.median_band) if spec.rules.median_band is not None else ""
        rows.append(["median of the TWAPs", f"{plain(done.median)} (each capped within ±{band} of it)"])
    rows += [[f"source {shown(s)}", f"TWAP {plain(t)}" + (f", capped to {plain(capped[s])}" if s in capped else "")
              + f", weight {plain(weights[s])}"] for s, t in done.source_twaps]
    rows += [[f"left out: {shown(s)}", why] for s, why in done.excluded]
    rows.append(["observations used", str(len(done.observations))])
    if settled is not None:
        unit = settled.settle_asset
        rows += [[f"exercise {e.instrument}", f"{plain(e.qty)} × {plain(e.payoff_per_option)} = {plain(e.cash)} {unit}"]
                 for e in settled.options]
        rows += [[f"close {f.instrument}", f"{plain(f.qty)} from {plain(f.entry)}: {plain(f.cash)} {unit}"]
                 for f in settled.futures]
        rows += [["wallet", f"{plain(settled.wallet_before)} → {plain(settled.wallet_after)} {unit}"]]
    table(f"{spec.expiry} expiry settlement", ["figure", "value"], rows)


@options_cmd.command("liquidate")
@_venue_option
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The portfolio (JSON, docs/options.md).")
@click.option("--step", default="0.25", show_default=True,
              help="The fraction of a position one step closes (or of the delta one hedge trades).")
@click.option("--max-steps", type=click.IntRange(1, 1000), default=40, show_default=True,
              help="At most this many steps.")
@click.option("--untradable", multiple=True,
              help="An instrument whose liquidation orders would not trade (repeat for several).")
@_tiers_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON, with the portfolio after the plan.")
def liquidate_cmd(rules_name: str, path: Path, step: str, max_steps: int, untradable: tuple[str, ...],
                  tiers_path: Path | None, as_json: bool) -> None:
    """Plan the liquidation of a portfolio below maintenance: the close with the most MM relief per
    USD of notional first, step by step, until equity covers MM (under deribit-pm, a perpetual
    hedge when no close helps). It plans; nothing is traded and no fee is charged."""
    _rules(rules_name)
    raw = loads_strict(read_input(path, "portfolio"), f"portfolio {path}")
    rules = load_option_rules(rules_name)
    portfolio = read_portfolio(raw, f"portfolio {path}")  # refused naming the file, before any step
    if tiers_path is not None:  # the tiers of its family: each step's margin finds its own tier in them
        tiers = loads_strict(read_input(tiers_path, "margin tiers"), f"margin tiers {tiers_path}")
        rules = rules_with_okx_tiers(rules, portfolio, tiers, f"margin tiers {tiers_path}")
    plan, after_raw = plan_liquidation(raw, rules, to_decimal(step, "--step"), max_steps, untradable)
    after = margin(read_portfolio(after_raw, "the portfolio after the plan"), rules)
    if as_json:
        emit_json(liquidation_json(plan, after_raw, after))
        return
    unit = after.settle
    rows = [[str(i), s.kind, shown(s.instrument), plain(s.qty),
             f"{plain(s.maintenance_margin_before)} → {plain(s.maintenance_margin_after)}"]
            for i, s in enumerate(plan, 1)]
    table(f"{rules_name}: liquidation plan, {len(plan)} steps (MM in {unit})", ["step", "kind", "instrument",
                                                                                "qty", "MM"], rows)
    verdict = "covers" if after.equity >= after.maintenance_margin else "is still below (the rest is the fund's)"
    click.echo(f"after the plan: equity {plain(after.equity)} {unit} {verdict} MM {plain(after.maintenance_margin)} "
               f"{unit}")
