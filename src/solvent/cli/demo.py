"""``solvent demo``: a sample book walked through the 2025-10-10 BTC crash, minute by minute.

Everything comes from files bundled in the package: the ``binance-usdm`` profile, the
sample accounts (``data/sample_accounts.json``) and Binance's BTCUSDT 1-minute klines for
2025-10-10 20:45–22:53 UTC (``data/btcusdt-1m-2025-10-10.csv``, provenance on its first
line). The first table is the calculators' view of the book at the start of the path; the second
comes from the engine (``solvent.demo_session``): the book traded in through pre-trade
checks and fills, then each minute's close fed as the index.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import dataclass, replace
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import click

from solvent.calc.account import MarginLevel
from solvent.cli.demo_proofs import DEMO_PROOFS, check_folder, write_demo_proofs
from solvent.cli.files import check_new_file
from solvent.cli.render import dec, emit_json, money_down, money_up, table
from solvent.cli.spec_age import echo_specs, specs_json
from solvent.csv_table import bundled_rows
from solvent.demo_session import DEMO_INSURANCE, PATH_SYMBOL, LevelEvent, run_session
from solvent.engine.config import default_config
from solvent.errors import InvalidInput
from solvent.journal.codec import LEGACY_CONFIG, encode_config
from solvent.journal.sqlite_backend import JOURNAL_TABLES, is_sqlite
from solvent.jsonstrict import loads_strict
from solvent.portfolio import Portfolio, parse_portfolio
from solvent.risk.levels import LEVEL_ORDER, worst
from solvent.risk.venues import load_venue
from solvent.units import plain, to_decimal

__all__ = ["PricePoint", "demo_cmd", "load_sample_accounts", "load_sample_path"]



@dataclass(frozen=True, slots=True)
class PricePoint:
    minute_utc: str
    low: Decimal
    high: Decimal
    close: Decimal


def load_sample_path() -> list[PricePoint]:
    """The bundled BTCUSDT 1-minute path (comment lines skipped)."""
    rows = bundled_rows("btcusdt-1m-2025-10-10.csv", ("date", "low", "high", "close"))
    return [
        PricePoint(r["date"], to_decimal(r["low"]), to_decimal(r["high"]), to_decimal(r["close"]))
        for r in rows
    ]


def load_sample_accounts() -> dict[str, Portfolio]:
    """The bundled sample book, by account name."""
    raw = loads_strict((resources.files("solvent") / "data" / "sample_accounts.json").read_bytes(),
                       "sample accounts")
    profile = load_venue(raw["venue"], overlays=False)  # the bundled specs, as the demo session runs on
    return {
        acc["name"]: parse_portfolio({k: v for k, v in acc.items() if k != "name"}, profile)
        for acc in raw["accounts"]
    }


def at_price(portfolio: Portfolio, symbol: str, price: Decimal) -> Portfolio:
    """The portfolio with every ``symbol`` position marked at ``price``."""
    moved = tuple(
        replace(p, mark_price=price) if p.instrument.symbol == symbol else p for p in portfolio.positions
    )
    return replace(portfolio, positions=moved)


def _worst_price(portfolio: Portfolio, point: PricePoint) -> Decimal:
    net = sum(p.side.sign * p.qty for p in portfolio.positions if p.instrument.symbol == PATH_SYMBOL)
    return point.low if net >= 0 else point.high


def _worst_level(portfolio: Portfolio) -> MarginLevel:
    """The worst level any position draws on: the cross account's for a cross position, its
    own for an isolated one (``PositionReport.level``; ``risk.levels.worst`` orders them)."""
    return worst(p.level for p in portfolio.assess().positions)


def first_crossings(names: list[str], found: list[LevelEvent]) -> dict[str, dict[str, dict[str, str]]]:
    """For each account, the first minute (and price) it reached each level above healthy."""
    firsts: dict[str, dict[str, dict[str, str]]] = {name: {} for name in names}
    for event in found:
        reached = LEVEL_ORDER[1 : LEVEL_ORDER.index(MarginLevel(event.level)) + 1]
        for level in reached:
            firsts.setdefault(event.account_id, {}).setdefault(
                level.value, {"minute_utc": event.minute_utc, "price": dec(event.price) or ""}
            )
    return firsts


DEMO_JOURNAL = "solvent-demo.sqlite"
"""Where the demo journals its engine session unless told otherwise."""


def is_demo_journal(path: Path) -> bool:
    """Whether ``path`` is a journal an earlier run of this demo wrote, which a rerun may
    replace: a SQLite file holding the journal's tables and nothing else, whose genesis record
    holds the demo's configuration. A file of one's own under the demo's name (found by a
    new-user pass: any SQLite file was replaced) is not."""
    if not is_sqlite(path):
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            own = tables == set(JOURNAL_TABLES)
            row = db.execute("SELECT payload FROM records WHERE seq = 0").fetchone() if own else None
    except sqlite3.Error:
        return False
    if row is None:
        return False
    try:
        genesis = json.loads(row[0])
    except ValueError:
        return False
    if not isinstance(genesis, dict) or genesis.get("kind") != "genesis":
        return False
    recorded = _unspecified(genesis.get("config"))
    current = _unspecified(json.loads(json.dumps(encode_config(default_config(overlays=False)))))
    if not isinstance(recorded, dict):
        return False
    # an earlier solvent's demo: the fields it recorded are today's, and those it predates are
    # ones a genesis may lack (``LEGACY_CONFIG``)
    return all(recorded.get(k) == v for k, v in current.items() if k not in LEGACY_CONFIG or k in recorded) and (
        set(recorded) <= set(current))


def _unspecified(config: Any) -> Any:
    """A recorded configuration with its profile's specs digest and overlay left out: a new
    solvent's bundled file, or a ``solvent venues update`` overlay an earlier version ran the
    demo on, changes only those, and the journal is still the demo's."""
    if not isinstance(config, dict) or not isinstance(config.get("profile"), dict):
        return config
    return {**config, "profile": {k: v for k, v in config["profile"].items() if k not in ("sha256", "overlay")}}


@click.command("demo")
@click.option("--journal", "journal", default=None,
              help=f"New SQLite journal the engine session writes; '' for none. [default: {DEMO_JOURNAL},"
                   " which a rerun replaces]")
@click.option("--force", is_flag=True, help="Replace the --journal file if it already exists.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def demo_cmd(journal: str | None, force: bool, as_json: bool) -> None:
    """Margin, liquidation prices and a margin-call table for the bundled sample book."""
    if journal is None:
        journal = DEMO_JOURNAL
        # the demo's own scratch journal: a rerun replaces it, but never a file that is not one
        own = is_demo_journal(Path(journal))
        if not own and not force and Path(journal).exists():
            raise InvalidInput(f"{journal} is not a journal an earlier demo wrote (another database, or another "
                               "solvent's); move it away, give --journal FILE, or pass --force to replace it")
        force = force or own
    if journal:
        check_new_file(Path(journal), "--journal", force)
        check_folder(Path(journal).parent / DEMO_PROOFS)
    book = load_sample_accounts()
    path = load_sample_path()
    opening = {name: at_price(p, PATH_SYMBOL, path[0].close) for name, p in book.items()}
    summary = [_summary(name, p) for name, p in opening.items()]
    engine, found, steps, head = run_session(Path(journal) if journal else None)
    proofs = write_demo_proofs(Path(journal), Path(journal).parent / DEMO_PROOFS) if journal else None
    if proofs is not None:  # the proof of liabilities was published in the journal: its head moved on
        head = proofs["journal_head"]
    calls = first_crossings(list(book), found)
    held, owed = engine.conservation()["USDT"]
    engine_summary: dict[str, Any] = {
        "level_changes": len(found),
        "margin_calls": sum(1 for f in found if f.margin_call),
        "state_hash": engine.state_hash(),
        "conservation_holds": held == owed,
        "liquidation_steps": len(steps),
        "insurance_fund_start": dec(DEMO_INSURANCE),
        "insurance_fund_end": dec(engine.state.insurance_fund),
        "journal": journal or None,
        "head_hash": head,
        "proofs": proofs,
    }
    profile = next(iter(book.values())).profile
    symbols = sorted({p.instrument.symbol for portfolio in book.values() for p in portfolio.positions})
    liquidations = [{"minute_utc": r.minute_utc, "account_id": r.account_id, "symbol": r.symbol, "qty": dec(r.qty),
                     "price": dec(r.price), "fee_to_fund": dec(r.fee)} for r in steps]
    if as_json:
        emit_json({"price_path": {"symbol": PATH_SYMBOL, "first": path[0].minute_utc,
                                  "last": path[-1].minute_utc, "minutes": len(path)},
                   "accounts": summary, "margin_calls": calls, "engine": engine_summary,
                   "level_changes": [{"minute_utc": f.minute_utc, "account_id": f.account_id,
                                      "previous": f.previous, "level": f.level, "price": dec(f.price),
                                      "margin_ratio": dec(f.margin_ratio), "margin_call": f.margin_call}
                                     for f in found],
                   "liquidations": liquidations, "specs": specs_json(profile, symbols)})
        return
    click.echo(f"solvent demo — binance-usdm sample book, {PATH_SYMBOL} 1m path "
               f"{path[0].minute_utc} → {path[-1].minute_utc} "
               f"(low {min(p.low for p in path)}, marked at {path[0].close} to start)")
    echo_specs(profile, symbols)
    click.echo()
    table("calculator: margin at the start of the path",
          ["account", "equity", "MM", "IM", "margin ratio", "level", "liq price (BTCUSDT)", "bankruptcy"],
          [[s["account_id"], s["equity"], s["maintenance_margin"], s["initial_margin"],
            s["margin_ratio"] or "-", s["level"], s["liquidation_price"] or s["liquidation_price_reason"] or "-",
            s["bankruptcy_price"] or "-"] for s in summary])
    levels = [lv.value for lv in LEVEL_ORDER[1:]]
    table("engine: first minute (UTC) and mark at which each account reached each level", ["account", *levels],
          [[name, *[_when(calls.get(name, {}).get(lv)) for lv in levels]] for name in book])
    table("engine: liquidation steps (the book account takes each order at the square-root impact price;"
          " the fee goes to the insurance fund)", ["minute (UTC)", "account", "symbol", "qty closed", "price",
                                                   "fee to fund"],
          [[r.minute_utc[11:16], r.account_id, r.symbol, plain(r.qty), plain(r.price), plain(r.fee)] for r in steps])
    holds = "holds" if engine_summary["conservation_holds"] else "BROKEN"
    click.echo(f"engine: {engine_summary['level_changes']} level changes,"
               f" {engine_summary['margin_calls']} margin calls, {len(steps)} liquidation steps;"
               f" insurance fund {engine_summary['insurance_fund_start']} → {engine_summary['insurance_fund_end']};"
               f" conservation {holds}; state hash {engine_summary['state_hash']}")
    if head is not None:
        click.echo(f"journal: {journal} (SQLite, hash-chained; head {head}) —"
                   f" check it with `solvent verify {journal}`, rebuild it with `solvent replay {journal}`")
    if proofs is not None:
        click.echo(f"published in {proofs['folder']}/ (docs/verify.md): a signed checkpoint, "
                   f"{'a certificate, ' if 'certificate' in proofs else ''}an account extract, a proof of liabilities"
                   " (its root published in the journal)"
                   f"{', a zero-knowledge proof of a liquidation (docs/zk.md)' if 'zk_proof' in proofs else ''};"
                   " check them with:")
        for command in proofs["commands"]:
            click.echo(f"  {command}")


def _when(hit: dict[str, str] | None) -> str:
    return "-" if hit is None else f"{hit['minute_utc'][11:16]} @ {hit['price']}"


def _summary(name: str, portfolio: Portfolio) -> dict[str, Any]:
    report = portfolio.assess()
    btc = next(r for r in report.positions if r.position.instrument.symbol == PATH_SYMBOL)
    ratio = report.margin_ratio
    isolated = btc.isolated_equity is not None
    return {
        "account_id": name,
        "equity": money_down(btc.isolated_equity if isolated and btc.isolated_equity is not None
                             else report.equity),
        "maintenance_margin": money_up(btc.maintenance_margin if isolated else report.maintenance_margin),
        "initial_margin": money_up(btc.initial_margin if isolated else report.initial_margin),
        "margin_ratio": None if isolated or ratio is None else money_up(ratio),
        "level": _worst_level(portfolio).value,
        "liquidation_price": dec(btc.liquidation.price),
        "bankruptcy_price": dec(btc.bankruptcy.price),
        "liquidation_price_reason": btc.liquidation.reason.value if btc.liquidation.reason else None,
    }
