"""``solvent adequacy``: Cover-1, Cover-2, the fund every scenario needs and reverse stress on a
calibrated stress book (``stress/adequacy.py``), written as JSON, one page of markdown and a PNG.

Every argument is checked before any work; bad input exits 2 with one line and writes nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from solvent.cli.exits import Failed
from solvent.cli.files import check_output_dir, check_output_file, refuse_if_read
from solvent.cli.params import WholeNumber
from solvent.cli.render import emit_json, table
from solvent.cli.rerun import no_run_options, recorded_inputs, rerun_mismatch, version_note
from solvent.cli.simulate_command import VENUE_HELP, RunMismatch, _default_symbol, _fund, _start_price, _venue
from solvent.errors import InvalidInput
from solvent.extras import missing_extra
from solvent.risk.venues import load_venue

if TYPE_CHECKING:
    from solvent.stress.adequacy_inputs import AdequacyInputs

__all__ = ["adequacy_cmd"]

MAX_ACCOUNTS = 1_000_000

"""Each report runs the cascade about a hundred times (the scenarios and the reverse-stress grid)."""


@click.command("adequacy")
@click.pass_context
@click.option("--venue", default="binance-usdm", show_default=True, callback=_venue, help=VENUE_HELP)
@click.option("--symbol", default=None, help="An instrument of the venue (default: its BTC perpetual, linear first).")
@click.option("--accounts", type=WholeNumber(), default=10_000, show_default=True, help="Trader accounts in the book.")
@click.option("--seed", type=WholeNumber(min=0), default=7, show_default=True, help="Seed of the book generator.")
@click.option("--start-price", "start_text", default=None,
              help="The price the book is built at [default: the open of the bundled BTC crash path].")
@click.option("--fund", "fund_text", default=None,
              help="The insurance fund, a fraction of the open interest [default: 0.05; docs/calibration.md].")
@click.option("--book", "book_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A venue's own book (CSV: account_id, side, qty, entry, deposit[, group_id]; docs/stress.md)"
                   " instead of a drawn one; needs --start-price.")
@click.option("--book-model", "book_model", type=click.Choice(["calibrated", "spot"]), default=None,
              help="The book model [default: calibrated; docs/calibration.md].")
@click.option("--paths", type=WholeNumber(), default=200, show_default=True,
              help="Monte Carlo paths (block bootstrap of the bundled crash days' minute returns); 0: none.")
@click.option("--horizon", type=WholeNumber(), default=60, show_default=True, help="Minutes per Monte Carlo path.")
@click.option("--mc-seed", type=WholeNumber(min=0), default=1, show_default=True, help="Seed of the paths.")
@click.option("--bands", type=WholeNumber(), default=0, show_default=True,
              help="Further seeds whose VaR gives the seed band (each one as many paths again).")
@click.option("--ray", "ray_address", default=None, metavar="local|ADDRESS",
              help="Run the Monte Carlo paths as tasks on Ray: 'local' starts a cluster in this machine for the run, "
                   "an address joins a running one (extra solvent[ray]); the report is the same, bit for bit.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Directory for adequacy-<venue>-<symbol>.{json,md,png}.")
@click.option("--inputs", "inputs_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Run again from a previous report's JSON (its 'inputs'), and check its digest.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def adequacy_cmd(ctx: click.Context, venue: str, symbol: str | None, accounts: int, seed: int, start_text: str | None,
                 fund_text: str | None, book_file: Path | None, book_model: str | None, paths: int, horizon: int,
                 mc_seed: int, bands: int, ray_address: str | None, out_dir: Path, inputs_file: Path | None,
                 as_json: bool) -> None:
    """Capital adequacy of the venue's default waterfall: Cover-1 and Cover-2 (PFMI Principle 4),
    the fund each shock of ±5 % to ±50 % needs, and reverse stress (the smallest move that
    exhausts the fund, for the fund and for multiples of it). The JSON echoes every input
    (``inputs``), which ``--inputs FILE`` runs again, checking the digest."""
    try:
        from solvent.journal.codec import encode_profile
        from solvent.stress import BookParams, generate_book
        from solvent.stress.adequacy import adequacy
        from solvent.stress.adequacy_inputs import AdequacyInputs, check_monte_carlo
        from solvent.stress.adequacy_report import pct, report_json, report_markdown
        from solvent.stress.montecarlo import monte_carlo
        from solvent.stress.run_inputs import file_sha256
    except ImportError as exc:
        raise missing_extra(exc, "stress", "solvent adequacy") from None
    recorded: str | None = None
    recorded_report: dict[str, Any] | None = None
    if inputs_file is not None:
        no_run_options(ctx, _RUN_OPTIONS)
        inputs, recorded, recorded_report = _read_inputs(inputs_file)
        venue, symbol, book_file = inputs.book.venue, inputs.book.symbol, (
            None if inputs.book_file is None else Path(inputs.book_file))
        paths, horizon, mc_seed, bands = inputs.paths, inputs.horizon, inputs.mc_seed, inputs.bands
        if inputs.book_file is None and not 1 <= inputs.book.accounts <= MAX_ACCOUNTS:  # as --accounts is
            raise InvalidInput(f"{inputs_file}: inputs.book.accounts must lie in [1, {MAX_ACCOUNTS}], got "
                               f"{inputs.book.accounts}")
    else:
        if not 1 <= accounts <= MAX_ACCOUNTS:
            raise InvalidInput(f"--accounts must lie in [1, {MAX_ACCOUNTS}], got {accounts}")
        check_monte_carlo(paths, horizon, mc_seed, bands)
    if ray_address is not None and not paths:
        raise InvalidInput("--ray runs the Monte Carlo paths; --paths 0 runs none")
    recorded_profile = inputs.venue_profile() if inputs_file is not None else None
    profile = recorded_profile if recorded_profile is not None else load_venue(venue)
    symbol = symbol if symbol is not None else _default_symbol(profile)
    if symbol not in profile.instruments:
        where = "--symbol" if inputs_file is None else f"{inputs_file}: inputs.book.symbol"
        raise InvalidInput(f"{where} {symbol!r} is not an instrument of {venue} (`solvent venues show {venue}` "
                           "lists them)")

    check_output_dir(out_dir, "--out")
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"adequacy-{venue}-{symbol}")
    files = {"json": out_dir / f"{stem}.json", "markdown": out_dir / f"{stem}.md", "plot": out_dir / f"{stem}.png",
             "cover": out_dir / f"{stem}-cover.png", "montecarlo": out_dir / f"{stem}-montecarlo.png"}
    reads = [p for p in (book_file, inputs_file) if p is not None]
    if out_dir.is_dir():  # before the run: a file that cannot be written would cost the run its report
        for file in files.values():
            check_output_file(file, "--out")
            refuse_if_read(file, "--out", reads)
    if inputs_file is not None:
        book = inputs.load_book()
    else:
        params = BookParams(accounts=accounts, seed=seed, venue=venue, symbol=symbol)
        if start_text is not None:
            params = replace(params, start_price=_start_price(start_text))
        if fund_text is not None:
            params = replace(params, insurance_fraction=_fund(fund_text))
        if book_model is not None:
            params = replace(params, model=book_model)
        if book_file is not None:
            from solvent.stress.book_file import read_book_file

            for name, flag in (("accounts", "--accounts"), ("seed", "--seed"), ("book_model", "--book-model")):
                if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT:
                    raise InvalidInput(f"{flag} draws a book; --book reads one")
            if start_text is None:
                raise InvalidInput("--book needs --start-price (the price its positions are valued at)")
            book = read_book_file(book_file, params)
        else:
            book = generate_book(params)
        inputs = AdequacyInputs(book.params, paths, horizon, mc_seed, bands,  # the book's path from anywhere
                                None if book_file is None else os.path.abspath(book_file),
                                None if book_file is None else file_sha256(book_file), encode_profile(book.profile))
    mc = monte_carlo(book, paths, horizon, min(30, horizon), mc_seed, bands, ray=ray_address) if paths else None
    report = adequacy(book)
    doc = report_json(report, book, mc, inputs)
    unwritten: list[str] = []  # outputs that failed after the run: the report is printed all the same
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        unwritten.append(f"cannot create {out_dir}: {err.strerror}")
    written: dict[str, str | list[str] | None] = {"json_file": None, "markdown_file": None}
    for key, text in (("markdown", report_markdown(doc)), ("json", json.dumps(doc, indent=2) + "\n")):
        try:
            files[key].write_text(text, "utf-8")
            written[f"{key}_file"] = str(files[key])
        except OSError as err:
            unwritten.append(f"cannot write the report to {files[key]}: {err.strerror}")
    plot: Path | None = files["plot"]
    plots: list[Path] = []
    try:
        from solvent.stress.plot import plot_adequacy, plot_cover, plot_monte_carlo

        moves = [float(s["move"]) for s in doc["scenarios"]]
        plot_adequacy(moves, [float(s["fund_needed"]) for s in doc["scenarios"]], float(doc["insurance_fund"]),
                      [(float(r["insurance_fund"]), _float(r["down_move"]), _float(r["up_move"]))
                       for r in doc["fund_sizes"]], files["plot"], f"{venue} {symbol}: fund needed by shock",
                      book.settle)
        plots.append(plot_cover(report.outcomes, 2, files["cover"],
                                f"{venue} {symbol}: deficits by group",
                                book.settle))
        if mc is not None:
            plots.append(plot_monte_carlo(mc, files["montecarlo"], f"{venue} {symbol}: Monte Carlo fund need",
                                          book.settle))
    except ImportError as err:
        plot = None
        click.echo(f"note: {missing_extra(err, 'plot', 'the PNG plot')}", err=True)
    except OSError as err:
        plot = None
        unwritten.append(f"cannot write the plots to {out_dir}: {err.strerror}")
    written.update({"plot_file": None if plot is None else str(plot), "plot_files": [str(p) for p in plots]})
    mismatch = rerun_mismatch(doc, recorded, recorded_report, inputs_file, what="report", unrecorded=_WRITTEN)
    if as_json:
        emit_json({**doc, **written})
        _unwritten(unwritten, mismatch)
        return
    c1, c2, settle = doc["cover1"], doc["cover2"], book.settle
    table(f"capital adequacy ({venue} {symbol}, {book.params.accounts:,} accounts)", ["figure", "value"], [
        ["open interest", f"{doc['open_interest']} {book.instrument.quote}" + (
            "" if book.settle == book.instrument.quote else f" ({doc['open_interest_settle']} {book.settle})")],
        ["insurance fund", f"{doc['insurance_fund']} {book.settle} "
                           f"({_share(doc['insurance_fund_to_open_interest_ratio'])} of open interest in {settle})"],
        ["Cover-1", _cover(c1, book.settle)],
        ["Cover-2", _cover(c2, book.settle)],
        ["coverage (fund ÷ Cover-2)", "— (no loss to cover)" if doc["coverage_ratio"] is None
         else str(doc["coverage_ratio"])],
        ["fund needed for every scenario", f"{doc['required_fund']} {book.settle}"],
        ["reverse stress, down", pct(doc["reverse_stress"]["down_move"])],
        ["reverse stress, up", pct(doc["reverse_stress"]["up_move"])],
        *([[f"fund needed at {Decimal(q['confidence']):.1%} (Monte Carlo)",
            f"{q['fund_needed_var']} {settle}" + ("" if q["resolved"] else " (not resolved: fewer than 10 paths "
                                                                       "beyond it; more --paths)")]
           for q in doc["monte_carlo"]["quantiles"]] if doc["monte_carlo"] else []),
    ])
    click.echo("\n".join(f"{k.replace('_file', '')}: {v}" for k, v in written.items() if v))
    click.echo(f"digest: {doc['digest']}")
    _unwritten(unwritten, mismatch)


_RUN_OPTIONS = {"venue": "--venue", "symbol": "--symbol", "accounts": "--accounts", "seed": "--seed",
                "start_text": "--start-price", "fund_text": "--fund", "book_file": "--book",
                "book_model": "--book-model", "paths": "--paths", "horizon": "--horizon", "mc_seed": "--mc-seed",
                "bands": "--bands"}
"""The options that decide a report: ``--inputs`` takes them from its file instead."""


def _read_inputs(path: Path) -> tuple[AdequacyInputs, str | None, dict[str, Any] | None]:
    """A previous report's JSON (or its ``inputs`` object alone), its digest and the report."""
    from solvent.stress.adequacy_inputs import AdequacyInputs

    # floats read too: a `simulate` run's output holds one (wall_s), and is then named as a run's, not
    # refused over its float (found by a new-user pass); a report holds none, and its figures are compared
    doc, digest, report = recorded_inputs(path, allow_float=True)
    inputs = AdequacyInputs.from_json(doc)
    version_note(path, doc)
    return inputs, digest, report


_WRITTEN = frozenset({"json_file", "markdown_file", "plot_file", "plot_files"})
"""Keys ``--json`` adds to the report on stdout: where it was written, not what it found."""




def _unwritten(problems: list[str], mismatch: str | None = None) -> None:
    """After the report, which holds the figures (and its digest): outputs that failed, then a
    digest that differs from ``--inputs``' (``RunMismatch``, exit 1)."""
    if problems:
        raise Failed("; ".join([*problems, *([mismatch] if mismatch else [])]) + " (the report is above)")
    if mismatch is not None:
        raise RunMismatch(mismatch)


def _cover(cover: dict[str, Any], settle: str) -> str:
    """A Cover-n row: its loss in the settlement asset, the groups whose default it is, and the
    move; ``—`` where no move makes the groups' default a loss."""
    groups = ", ".join(cover["groups"]) or "none"
    return f"{cover['loss']} {settle} ({groups}, move {cover['move']})" if cover["move"] is not None else \
        f"{cover['loss']} {settle} (no move makes a loss)"


def _share(ratio: str) -> str:
    return f"{Decimal(ratio):.2%}"


def _float(text: str | None) -> float | None:
    return None if text is None else float(Decimal(text))
