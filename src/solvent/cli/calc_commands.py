"""``solvent liq-price`` and ``solvent account``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from solvent.adapters import (
    account_from_binance,
    account_from_bybit,
    account_from_ccxt,
    ccxt_symbol,
    loads_payload,
    tiers_from_binance,
    tiers_from_bybit,
    tiers_from_ccxt,
)
from solvent.calc.account import AccountReport, PositionReport, shown_pct
from solvent.cli.files import read_input
from solvent.cli.render import dec, emit_json, money_down, money_up, table
from solvent.cli.spec_age import echo_specs, specs_json
from solvent.errors import InvalidInput, InvalidTierTable
from solvent.jsonstrict import loads_strict
from solvent.model import MarginMode
from solvent.portfolio import Portfolio, margin_amount, parse_portfolio, position_from_spec
from solvent.risk.rules import MarginRules, TieredRules
from solvent.risk.tiers import TierTable, tier_json
from solvent.risk.venues import VenueProfile, load_venue
from solvent.units import ZERO, positive

__all__ = ["account_cmd", "liq_price_cmd"]



EXCHANGE_FORMATS = ("binance", "bybit", "ccxt")


def _read_json(path: str, what: str, *, exchange: bool = False) -> Any:
    """Read a JSON file strictly; an exchange payload keeps its JSON numbers as exact decimals."""
    data = read_input(path, what)
    if exchange:
        return loads_payload(data, f"{what} {path}")
    return loads_strict(data, f"{what} {path}")


def exchange_tiers(path: str, fmt: str, profile: VenueProfile, symbol: str) -> MarginRules:
    """A tier table from a saved exchange response (``--tiers-format``, docs/adapters.md)."""
    raw = _read_json(path, "tier file", exchange=True)
    if fmt == "binance":
        return TieredRules(tiers_from_binance(raw, symbol))
    if fmt == "bybit":
        return TieredRules(tiers_from_bybit(raw, symbol))
    return TieredRules(tiers_from_ccxt(raw, ccxt_symbol(profile.instrument(symbol))))


def exchange_account(path: str, fmt: str, profile: VenueProfile) -> dict[str, Any]:
    """An account file built from ``{"positions": ..., "balance": ...}`` (``--format``, docs/adapters.md)."""
    raw = _read_json(path, "account file", exchange=True)
    if not isinstance(raw, dict) or set(raw) != {"positions", "balance"}:
        raise InvalidInput(f"account file {path}: a {fmt} account file is a JSON object with exactly "
                           "'positions' and 'balance' (the two exchange responses)")
    if fmt == "binance":
        return account_from_binance(raw["positions"], raw["balance"], profile)
    if fmt == "bybit":
        return account_from_bybit(raw["positions"], raw["balance"], profile)
    return account_from_ccxt(raw["positions"], raw["balance"], profile)


def tiers_from_file(path: str, symbol: str) -> MarginRules:
    """A tier table from a JSON array of brackets, or from ``{"symbols": {SYMBOL: [...]}}``."""
    raw = _read_json(path, "tier file")
    if isinstance(raw, dict) and isinstance(raw.get("symbols"), dict):
        if symbol not in raw["symbols"]:
            raise InvalidTierTable(f"tier file {path} has no symbol {symbol}")
        raw = raw["symbols"][symbol]
    if not isinstance(raw, list) or not raw:
        raise InvalidTierTable(f"tier file {path} must hold a non-empty JSON array of brackets")
    return TieredRules(TierTable.from_brackets(Path(path).name, raw))


def _position_json(report: PositionReport, rules: MarginRules) -> dict[str, Any]:
    pos = report.position
    return {
        "symbol": pos.instrument.symbol,
        "side": pos.side.value,
        "position_side": pos.position_side.value,
        "margin_mode": pos.margin_mode.value,
        "qty": dec(pos.qty),
        "entry_price": dec(pos.entry_price),
        "mark_price": dec(pos.price_now),
        "notional": money_down(report.notional),
        "unrealised_pnl": money_down(report.unrealised_pnl),
        "initial_margin": money_up(report.initial_margin),
        "maintenance_margin": money_up(report.maintenance_margin),
        "tier": tier_json(rules.maintenance_table(report.position.qty), report.tier),
        "isolated_margin": money_down(pos.isolated_margin) if report.isolated_equity is not None else None,
        "liquidation_price": dec(report.liquidation.price),
        "liquidation_price_lower": dec(report.liquidation.lower),
        "liquidation_price_upper": dec(report.liquidation.upper),
        "bankruptcy_price": dec(report.bankruptcy.price),
        "liquidation_price_reason": report.liquidation.reason.value if report.liquidation.reason else None,
        "distance_to_liquidation_pct": _pct(report),
        "level": report.level.value,
        "already_liquidatable": report.already_liquidatable,
        "liquidation_beyond_entry": report.liquidation_beyond_entry,
        "price_rounding": _rounding(report),
        "tick_known": report.liquidation.rule is None or report.liquidation.rule.tick_known,
    }


def _rounding(report: PositionReport) -> str:
    rule = report.liquidation.rule
    return "exact" if rule is None else rule.describe()


def _pct(report: PositionReport) -> str | None:
    return dec(shown_pct(report.distance_to_liquidation_pct))


def _account_json(portfolio: Portfolio, report: AccountReport) -> dict[str, Any]:
    ratio = report.margin_ratio
    return {
        "venue": portfolio.profile.name,
        "wallet": dec(portfolio.wallet),
        "equity": money_down(report.equity),
        "maintenance_margin": money_up(report.maintenance_margin),
        "initial_margin": money_up(report.initial_margin),
        "margin_ratio": None if ratio is None else money_up(ratio),
        "level": report.level.value,
        "cross_level": report.cross_level.value,
        "positions": [_position_json(p, r) for p, r in zip(report.positions, portfolio.rules, strict=True)],
        **_collateral_json(portfolio),
    }


def _collateral_json(portfolio: Portfolio) -> dict[str, Any]:
    """Per asset of a multi-asset wallet: balance, index price, haircut applied, value."""
    if portfolio.collateral is None:
        return {}
    return {"collateral": [
        {"asset": line.asset, "balance": dec(line.balance), "price": None if line.price is None else dec(line.price),
         "haircut": dec(line.haircut), "value": money_down(line.value)}
        for line in portfolio.collateral.lines]}


@click.command("liq-price")
@click.option("--venue", required=True, help="Venue profile, e.g. binance-usdm (see `solvent venues`).")
@click.option("--symbol", required=True, help="Instrument symbol on that venue, e.g. BTCUSDT.")
@click.option("--side", required=True, type=click.Choice(["long", "short"]))
@click.option("--qty", required=True, help="Quantity: base units (linear) or contracts (inverse).")
@click.option("--entry", required=True, help="Entry price.")
@click.option("--wallet", help="Margin: isolated margin, or the cross wallet (coin for inverse).")
@click.option("--leverage", help="Leverage; margin = entry notional / leverage.")
@click.option("--mode", type=click.Choice(["isolated", "cross"]), default="isolated", show_default=True)
@click.option("--mark", help="Mark price (default: the entry price).")
@click.option("--mmr", help="Override: one bracket's maintenance-margin rate.")
@click.option("--maint-amount", help="Override: that bracket's maintenance amount (default 0).")
@click.option("--tiers", "tiers_file", help="Override: JSON file of brackets.")
@click.option("--tiers-format", type=click.Choice(["solvent", *EXCHANGE_FORMATS]), default="solvent",
              show_default=True, help="Format of --tiers: solvent brackets, or a saved exchange/ccxt response.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def liq_price_cmd(
    venue: str, symbol: str, side: str, qty: str, entry: str, wallet: str | None,
    leverage: str | None, mode: str, mark: str | None, mmr: str | None,
    maint_amount: str | None, tiers_file: str | None, tiers_format: str, as_json: bool,
) -> None:
    """Liquidation and bankruptcy price of one position."""
    if (wallet is None) == (leverage is None):
        raise InvalidInput("give exactly one of --wallet and --leverage")
    if mmr is not None and tiers_file is not None:
        raise InvalidInput("give --mmr/--maint-amount or --tiers, not both")
    if maint_amount is not None and mmr is None:
        raise InvalidInput("--maint-amount needs --mmr")
    if tiers_format != "solvent" and tiers_file is None:
        raise InvalidInput("--tiers-format needs --tiers")
    profile = load_venue(venue)
    spec: dict[str, Any] = {"symbol": symbol, "side": side, "qty": qty, "entry": entry, "mark": mark,
                            "leverage": leverage, "mmr": mmr, "maint_amount": maint_amount}
    given_rules = None
    if tiers_file is not None:  # the table given replaces the venue's for every check (leverage too)
        given_rules = (tiers_from_file(tiers_file, symbol) if tiers_format == "solvent"
                       else exchange_tiers(tiers_file, tiers_format, profile, symbol))
    position, rules = position_from_spec(
        {**spec, "isolated_margin": wallet if mode == "isolated" else None},
        profile, MarginMode(mode), "position", given_rules,
    )
    cross_wallet = ZERO
    if mode == "cross":
        cross_wallet = (
            margin_amount(wallet, "wallet") if wallet is not None
            else position.entry_notional() / positive(leverage, "leverage")
        )
    portfolio = Portfolio(profile, cross_wallet, (position,), (rules,))
    report = portfolio.assess()
    out = _position_json(report.positions[0], rules)
    out["venue"] = profile.name
    out["specs"] = specs_json(profile, [symbol])
    if as_json:
        emit_json(out)
        return
    echo_specs(profile, [symbol])
    _print_positions([report.positions[0]], [rules], f"{profile.display_name} {symbol}")


def _print_positions(reports: list[PositionReport], rules: list[MarginRules], title: str) -> None:
    rows = []
    for r, rule in zip(reports, rules, strict=True):
        j = _position_json(r, rule)
        rows.append([
            j["symbol"], f'{j["side"]} ({j["margin_mode"]})', j["qty"], j["entry_price"], j["mark_price"],
            j["unrealised_pnl"], j["initial_margin"], j["maintenance_margin"], str(j["tier"]["index"]),
            j["liquidation_price"] or (j["liquidation_price_reason"] or "-"), j["bankruptcy_price"] or "-",
            (j["distance_to_liquidation_pct"] or "-") + ("%" if j["distance_to_liquidation_pct"] else ""),
        ])
    table(title, ["symbol", "side", "qty", "entry", "mark", "uPnL", "IM", "MM", "tier",
                  "liq price", "bankruptcy", "distance"], rows)
    for r in reports:
        if r.liquidation.rule is not None and not r.liquidation.rule.tick_known:
            click.echo(f"note: {r.position.instrument.symbol} prices: {r.liquidation.rule.describe()}")
        if r.already_liquidatable:
            click.echo(f"warning: {r.position.instrument.symbol} {r.position.side.value} is already "
                       f"liquidatable at the mark (level {r.level.value})")
        elif r.liquidation_beyond_entry:
            click.echo(f"warning: {r.position.instrument.symbol} {r.position.side.value} liquidation price "
                       "is on the wrong side of entry: the margin does not cover MM at entry")


@click.command("account")
@click.option("--venue", required=True, help="Venue profile, e.g. binance-usdm.")
@click.option("--file", "path", required=True, help="Account JSON file (docs/account-file.md).")
@click.option("--format", "file_format", type=click.Choice(["solvent", *EXCHANGE_FORMATS]), default="solvent",
              show_default=True,
              help="solvent's account file, or saved exchange/ccxt responses (docs/adapters.md).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def account_cmd(venue: str, path: str, file_format: str, as_json: bool) -> None:
    """Margin, liquidation prices and margin level of a whole account."""
    profile = load_venue(venue)
    raw = (_read_json(path, "account file") if file_format == "solvent"
           else exchange_account(path, file_format, profile))
    portfolio = parse_portfolio(raw, profile)
    report = portfolio.assess()
    payload = _account_json(portfolio, report)
    symbols = [p.instrument.symbol for p in portfolio.positions]
    payload["specs"] = specs_json(profile, symbols or None)
    if as_json:
        emit_json(payload)
        return
    echo_specs(profile, symbols or None)
    _print_positions(list(report.positions), list(portfolio.rules), f"{profile.display_name}: positions")
    if "collateral" in payload:
        table("collateral", ["asset", "balance", "price", "haircut", "value"],
              [[c["asset"], c["balance"], c["price"] or "-", c["haircut"], c["value"]] for c in payload["collateral"]])
    table("account", ["equity", "maintenance margin", "initial margin", "margin ratio", "level"],
          [[payload["equity"], payload["maintenance_margin"], payload["initial_margin"],
            payload["margin_ratio"] or "-", payload["level"]]])
