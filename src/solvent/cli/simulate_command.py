"""``solvent simulate``: a liquidation cascade on a synthetic book, with a summary and a PNG.

Every argument is checked before any work: the venue must be a bundled one and the symbol
one of its instruments (linear or inverse), and ``--engine exact`` is refused above
``EXACT_MAX_ACCOUNTS`` (the exact engine builds and re-margins every account through
commands; the fast cascade takes the same decisions, ``docs/stress.md``).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from solvent.cli.exits import Failed
from solvent.cli.files import check_output_dir, check_output_file, refuse_if_read, same_file
from solvent.cli.params import WholeNumber
from solvent.cli.render import emit_json, table
from solvent.cli.rerun import no_run_options, recorded_inputs, rerun_mismatch, version_note
from solvent.errors import InvalidInput
from solvent.extras import missing_extra
from solvent.limits import STRESS_EXACT_MAX_ACCOUNTS
from solvent.risk.liquidation_rules import parse_loss_limit
from solvent.risk.venues import VenueProfile, bundled_venues, load_venue
from solvent.units import plain, to_decimal

if TYPE_CHECKING:
    from solvent.stress.cascade import EngineName
    from solvent.stress.policy import LiquidationMode
    from solvent.stress.run_inputs import RunInputs

__all__ = ["simulate_cmd"]

DEFAULT_STEPS = 60
_FINEST = Decimal(1).scaleb(-8)
"""A path file's first price is read to 10^-8 to build the book there; the book then rounds it
down to its own grid, as it rounds the rest of the path."""

FAST_ABOVE = 3_000
"""``--engine auto`` uses the exact engine up to this many accounts, the fast model above."""
EXACT_MAX_ACCOUNTS = STRESS_EXACT_MAX_ACCOUNTS
VENUE_HELP = ("A bundled venue (`solvent venues` lists the profiles); on an inverse instrument every amount is"
              " in the coin.")
LIQUIDATION_HELP = ("generic: the engine's generic procedure on both engines (full close on the book, fee, fund,"
                    " socialised loss; no ADL, no backstop), the same decisions digest for digest. venue: the"
                    " procedure the venue profile selects (bankruptcy-price takeover then ADL, dYdX fillable price,"
                    " Hyperliquid backstop, Drift liquidator), partial closes; the exact engine only.")


def _default_symbol(profile: VenueProfile) -> str:
    """``stress.book.default_symbol``: the stress module needs numpy (the 'stress' extra)."""
    try:
        from solvent.stress.book import default_symbol
    except ImportError as exc:
        raise missing_extra(exc, "stress", "solvent simulate") from None
    return default_symbol(profile)


def _venue(ctx: click.Context, param: click.Parameter, name: str) -> str:
    """A bundled venue (checked while the arguments are parsed)."""
    del ctx, param
    if name not in bundled_venues():
        raise click.BadParameter(f"unknown venue {name!r}; bundled: {', '.join(bundled_venues())}")
    return name


def _start_price(text: str) -> Decimal:
    from solvent.stress.book import MAX_START_PRICE

    value = to_decimal(text, "--start-price")
    if not value.is_finite() or not Decimal(0) < value <= MAX_START_PRICE:
        raise InvalidInput(f"--start-price must lie in (0, {MAX_START_PRICE:,f}], got {text}")
    return value


def _halt(text: str, steps: int) -> tuple[int, int]:
    match = re.fullmatch(r"([0-9]{1,6}):([0-9]{1,6})", text.strip())
    if match is None or int(match[1]) < 1 or int(match[2]) < 1:
        raise InvalidInput(f"--halt takes MINUTE:MINUTES, both whole numbers >= 1 (e.g. 30:10), got {text!r}")
    first, length = int(match[1]), int(match[2])
    if first + length - 1 > steps:
        raise InvalidInput(f"--halt {text} runs to minute {first + length - 1}, past the run's {steps} minutes")
    return first, length


def _fund(text: str) -> Decimal:
    from solvent.stress.book import MAX_FUND_FRACTION

    value = to_decimal(text, "--fund")
    if not Decimal(0) <= value <= MAX_FUND_FRACTION:
        raise InvalidInput(f"--fund is a fraction of the open interest in [0, {MAX_FUND_FRACTION}], got {text}")
    return value


def _releverage(text: str) -> Decimal:
    from solvent.stress.entrants import MAX_RATE, RELEVERAGE_2020_03_12

    if text == "calibrated":
        return RELEVERAGE_2020_03_12
    value = to_decimal(text, "--releverage")
    if not Decimal(0) <= value <= MAX_RATE:
        raise InvalidInput(f"--releverage is a rate in [0, {MAX_RATE}] or 'calibrated', got {text}")
    return value


def _response(text: str) -> Decimal:
    from solvent.stress.response import MAX_RESPONSE_MINUTES, RESPONSE_MINUTES

    if text == "judgement":
        return RESPONSE_MINUTES
    refusal = f"--response is a mean delay in minutes in [0, {MAX_RESPONSE_MINUTES}] or 'judgement', got {text!r}"
    try:
        value = to_decimal(text, "--response")
    except InvalidInput:
        raise InvalidInput(refusal) from None
    if not Decimal(0) <= value <= MAX_RESPONSE_MINUTES:
        raise InvalidInput(refusal)
    return value


def _drop(text: str) -> Decimal:
    value = to_decimal(text, "--drop")
    if not Decimal(0) < value < Decimal(1):
        raise InvalidInput(f"--drop must lie strictly between 0 and 1, got {text}")
    return value


@contextmanager
def _progress(steps: int, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    if not enabled:
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("cascade", total=steps)
        yield lambda step: bar.update(task, completed=step)


_ROWS = [("liquidations", "liquidations"), ("liquidated long notional", "liquidated_long_notional"),
         ("liquidated short notional", "liquidated_short_notional"), ("fees to the fund", "fees_to_insurance_fund"),
         ("backstop takeovers", "backstop_events"), ("ADL events", "adl_events"), ("ADL notional", "adl_notional"),
         ("markets put in drawdown ADL", "drawdown_adl_starts"),
         ("bad debt", "bad_debt"), ("  socialised", "bad_debt_socialised"), ("  taken by ADL", "bad_debt_adl"),
         ("insurance fund start", "insurance_fund_start"),
         ("insurance fund min", "insurance_fund_min"), ("insurance fund end", "insurance_fund_end"),
         ("open interest start", "open_interest_start"), ("open interest end", "open_interest_end"),
         ("open interest change (base)", "open_interest_change_ratio"),
         ("cascade rounds", "cascade_rounds"), ("most rounds in a minute", "max_rounds_in_a_step"),
         ("minutes cut at --max-rounds", "truncated_steps"),
         ("accounts left at their trigger", "accounts_left_at_trigger"),
         ("lowest mark", "lowest_mark"), ("wall time (s)", "wall_s")]


_BACKSTOP_ROWS = [("backstop capital at start", "backstop_capital_start"),
                  ("backstop position at end", "backstop_position_end"),
                  ("backstop equity at end", "backstop_equity_end"),
                  ("backstop loss limit", "backstop_loss_limit"),
                  ("backstop loss limit reached", "backstop_loss_limit_events")]


@click.command("simulate")
@click.option("--scenario", default="crash", show_default=True,
              help="crash, crash-linear, path:FILE, or a bundled real path: bf_2020_03_12, china_2021_05_19,"
                   " celsius_2022_06_13, ftx_2022_11_08, tariff_2025_10_10.")
@click.option("--accounts", type=WholeNumber(), default=100_000, show_default=True, help="Trader accounts in the book.")
@click.option("--steps", type=WholeNumber(), default=None,
              help="One-minute steps [default: 60; a replay: all its prices, at most 50,000 steps].")
@click.option("--drop", "drop_text", default="0.20", show_default=True,
              help="Fall of a crash scenario (fraction); a replay's prices are its path.")
@click.option("--seed", type=WholeNumber(min=0), default=7, show_default=True, help="Seed of the book generator.")
@click.option("--venue", default="binance-usdm", show_default=True, callback=_venue,
              help=VENUE_HELP + " How it liquidates: --liquidation.")
@click.option("--symbol", default=None, help="An instrument of the venue (default: its BTC perpetual, linear first).")
@click.option("--start-price", "start_text", default=None,
              help="The price the book is built at [default: the open of the bundled BTC crash path;"
                   " a replay: its first price].")
@click.option("--engine", "engine", type=click.Choice(["auto", "exact", "fast"]), default="auto", show_default=True,
              help=f"exact: the engine itself (at most {EXACT_MAX_ACCOUNTS:,} accounts); fast: the vectorised"
                   f" cascade, the same decisions (digest for digest); auto: fast above {FAST_ABOVE:,} accounts"
                   " (exact with --liquidation venue or --depeg).")
@click.option("--liquidation", type=click.Choice(["generic", "venue"]), default="generic", show_default=True,
              help=LIQUIDATION_HELP)
@click.option("--book", "book_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A venue's own book (CSV: account_id, side, qty, entry, deposit[, group_id]; docs/stress.md)"
                   " instead of a drawn one; needs --start-price unless a replay gives it.")
@click.option("--book-model", "book_model", type=click.Choice(["calibrated", "spot"]), default=None,
              help="calibrated: entries over the month before the start, survivors only, effective leverage with"
                   " published moments; spot: every entry within 0.2 % of the start price [default: calibrated;"
                   " docs/calibration.md].")
@click.option("--fund", "fund_text", default=None,
              help="The insurance fund at the start, a fraction of the open interest [default: 0.05;"
                   " docs/calibration.md].")
@click.option("--max-rounds", type=WholeNumber(), default=None,
              help="Cascade rounds a minute may run [default: 64]; a minute still liquidating at its last round is"
                   " reported as truncated.")
@click.option("--halt", "halt_text", default=None, metavar="MINUTE:MINUTES",
              help="Halt the liquidation engine from MINUTE (1 = the first) for MINUTES: the venue sees no price"
                   " and liquidates no one, then meets the market at once.")
@click.option("--withdrawal", "withdrawal", is_flag=True,
              help="Market makers withdraw depth as the price moves and come back slowly, as fitted to Binance's"
                   " BTCUSDT book on 2025-10-10 (docs/calibration.md) [default: the calm book throughout].")
@click.option("--backstop-capital", "backstop_capital", default=None, metavar="FRACTION",
              help="With --liquidation venue on a venue with a backstop (hyperliquid): what its vault holds at the"
                   " start, a fraction of the open interest [default: 0, an empty vault].")
@click.option("--backstop-loss-limit", "backstop_loss_limit", default=None, metavar="FRACTION",
              help="With --liquidation venue: the vault deleverages its positions in loss at the mark once it has"
                   " lost this fraction of its capital (Hyperliquid's capped liquidator vault; it needs"
                   " --backstop-capital above 0) [default: none].")
@click.option("--releverage", "releverage_text", default=None, metavar="RATE|calibrated",
              help="Traders open new positions during the run: each minute, pairs worth RATE x the start's open"
                   " interest x the minute's absolute return; 'calibrated' is 0.13, fitted to BitMEX on 2020-03-12"
                   " (docs/stress.md); --engine auto then runs the fast model [default: 0, nobody opens a"
                   " position].")
@click.option("--response", "response_text", default=None, metavar="MINUTES|judgement",
              help="Traders act on their losses: one that has lost half its equity of the start closes its position"
                   " at the mark after a delay of its own, exponential with this mean; 'judgement' is 30"
                   " (docs/stress.md); linear books; --engine auto then runs the fast model [default: 0, nobody"
                   " acts].")
@click.option("--depeg", "depeg_text", default=None, metavar="ASSET:PRICE:MINUTE",
              help="A stablecoin depeg of collateral (USDE:0.65:30): a share of the traders (--depeg-holders) post"
                   " ASSET, whose index falls to PRICE at MINUTE; the exact engine only (docs/stress.md).")
@click.option("--depeg-holders", "depeg_holders", default="0.2", show_default=True,
              help="With --depeg: the share of traders who post the asset.")
@click.option("--depeg-haircut", "depeg_haircut", default="0.05", show_default=True,
              help="With --depeg: the venue's haircut on the asset (holders post deposit / (1 - haircut)).")
@click.option("--inputs", "inputs_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Run again from a previous run's --json output (its 'inputs'), and check its digest.")
@click.option("--series", "series_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a per-minute CSV: prices, liquidations by side, fund, depth, ADL, open interest.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Directory for the PNG.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def simulate_cmd(ctx: click.Context, scenario: str, accounts: int, steps: int | None, drop_text: str, seed: int,
                 venue: str, symbol: str | None, start_text: str | None, engine: str, liquidation: str,
                 book_file: Path | None, book_model: str | None, fund_text: str | None, max_rounds: int | None,
                 halt_text: str | None, withdrawal: bool, releverage_text: str | None, response_text: str | None,
                 backstop_capital: str | None,
                 backstop_loss_limit: str | None, depeg_text: str | None, depeg_holders: str,
                 depeg_haircut: str, inputs_file: Path | None, series_file: Path | None, out_dir: Path,
                 as_json: bool) -> None:
    """Run a liquidation cascade (market impact fed back into the price) on a synthetic book.

    A replay (a path file, or a bundled real path) is built at its first price, all of it
    unless ``--steps`` says otherwise; ``--drop`` and ``--start-price`` are refused with it,
    and so is a path whose first step moves more than 1 %. ``--json`` echoes every input
    (``inputs``), which ``--inputs FILE`` runs again, checking the digest.
    """
    try:
        from solvent.stress.run_inputs import execute, with_profile
    except ImportError as exc:
        raise missing_extra(exc, "stress", "solvent simulate") from None
    from solvent.stress.plot import plot_cascade

    recorded: str | None = None
    recorded_run: dict[str, Any] | None = None
    if inputs_file is not None:
        no_run_options(ctx, _RUN_OPTIONS)
        inputs, recorded, recorded_run = _read_inputs(inputs_file)
    else:
        drop = _drop(drop_text)
        inputs = _inputs_from_options(ctx, scenario, accounts, steps, drop, seed, venue, symbol, start_text,
                                      engine, liquidation, max_rounds)
        if fund_text is not None:
            inputs = replace(inputs, book=replace(inputs.book, insurance_fraction=_fund(fund_text)))
        if book_model is not None:
            inputs = replace(inputs, book=replace(inputs.book, model=book_model))
        if book_file is not None:
            inputs = _with_book_file(ctx, inputs, book_file, engine)
        if halt_text is not None:
            first, length = _halt(halt_text, inputs.steps)
            inputs = replace(inputs, cascade=replace(inputs.cascade, halt_start=first, halt_minutes=length))
        if withdrawal:
            from solvent.stress.impact import WITHDRAWAL_2025_10_10

            inputs = replace(inputs, cascade=replace(inputs.cascade, impact=replace(inputs.cascade.impact,
                                                                                   **WITHDRAWAL_2025_10_10)))
        if releverage_text is not None:
            inputs = replace(inputs, cascade=replace(inputs.cascade, releverage=_releverage(releverage_text)))
            if engine == "auto" and inputs.liquidation == "generic" and inputs.cascade.releverage > 0:
                inputs = replace(inputs, engine="fast")  # each pair adds two accounts the exact engine builds
        if response_text is not None:
            inputs = replace(inputs, cascade=replace(inputs.cascade, response_minutes=_response(response_text)))
            if engine == "auto" and inputs.liquidation == "generic" and inputs.cascade.response_minutes > 0:
                inputs = replace(inputs, engine="fast")  # the exact engine re-margins every trader each minute
        inputs = _with_backstop(inputs, backstop_capital, backstop_loss_limit, engine)
        inputs = _with_depeg(ctx, inputs, depeg_text, depeg_holders, depeg_haircut, engine)
    _check_size(inputs)
    inputs.check()
    halt = inputs.cascade
    if halt.halt_minutes and halt.halt_start + halt.halt_minutes - 1 == inputs.steps:
        click.echo(f"note: the halt lasts to the run's last minute ({inputs.steps}): the venue never meets the market "
                   f"again, so nothing due from minute {halt.halt_start} on is liquidated or counted", err=True)
    check_output_dir(out_dir, "--out")
    from solvent.stress.scenarios import replay_file

    inputs_read = [Path(f) for f in (inputs.book_file, replay_file(inputs.scenario), inputs_file) if f is not None]
    if series_file is not None:
        check_output_file(series_file, "--series")
        if any(same_file(series_file, f) for f in inputs_read):
            raise InvalidInput(f"--series {series_file} is a file the run reads; give another name")
    with _progress(inputs.steps, not as_json and sys.stdout.isatty()) as progress:
        book, path, result = execute(inputs, progress)
    inputs = with_profile(inputs, book)  # resolved: venue, symbol, the start price on the book's grid, the profile
    p = inputs.book
    name = f"cascade-{inputs.scenario}-{p.venue}-{book.symbol}-{p.accounts}-{p.seed}.png"
    target = out_dir / "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    refuse_if_read(target, "--out", inputs_read)
    png: Path | None = None
    unwritten: list[str] = []  # outputs that failed after the run: the results are reported all the same
    try:
        shape = f"replayed, {inputs.steps} min" if inputs.drop is None else f"−{inputs.drop:%} in {inputs.steps} min"
        png = plot_cascade(result, float(path[0]), target,
                           f"{inputs.scenario}: {p.venue} {book.symbol}, {p.accounts:,} accounts, {shape}"
                           f" ({inputs.engine})", quote=book.instrument.quote, settle=book.settle, coin=book.inverse)
    except OSError as err:
        unwritten.append(f"cannot write the plot to {target}: {err.strerror}")
    except ImportError as err:  # the plot is the one part that needs matplotlib: report without it
        click.echo(f"note: {missing_extra(err, 'plot', 'the PNG plot')}", err=True)
    if series_file is not None:
        from solvent.stress.series import write_series

        try:
            write_series(result, series_file)
        except InvalidInput as err:
            unwritten.append(str(err))
            series_file = None
    profile = book.profile
    run: dict[str, object] = {"scenario": inputs.scenario, "drop": None if inputs.drop is None else plain(inputs.drop),
                              "steps": inputs.steps, "seed": p.seed, "start_price": plain(p.start_price),
                              "settle_asset": book.settle, "quote_asset": book.instrument.quote,
                              "liquidation": inputs.liquidation,
                              "liquidation_rule": profile.liquidation.kind.value if inputs.liquidation == "venue"
                              else "generic",
                              "series": None if series_file is None else str(series_file),
                              "inputs": inputs.to_json()}
    summary = result.summary()
    printed = _run_json(summary, p.venue, book.symbol, run, png)
    _report(summary, printed, run, png, as_json)
    mismatch = rerun_mismatch(printed, recorded, recorded_run, inputs_file, what="run", unrecorded=_UNRECORDED)
    if unwritten:  # after the report, which holds the run's results (its --json reproduces it)
        raise Failed("; ".join([*unwritten, *([mismatch] if mismatch else [])]) + " (the run's results are above)")
    if mismatch is not None:
        raise RunMismatch(mismatch)


_RUN_OPTIONS = {"scenario": "--scenario", "accounts": "--accounts", "steps": "--steps", "drop_text": "--drop",
                "seed": "--seed", "venue": "--venue", "symbol": "--symbol", "start_text": "--start-price",
                "engine": "--engine", "liquidation": "--liquidation", "book_file": "--book",
                "book_model": "--book-model", "fund_text": "--fund",
                "max_rounds": "--max-rounds", "halt_text": "--halt", "withdrawal": "--withdrawal",
                "releverage_text": "--releverage", "response_text": "--response",
                "backstop_capital": "--backstop-capital", "backstop_loss_limit": "--backstop-loss-limit",
                "depeg_text": "--depeg",
                "depeg_holders": "--depeg-holders", "depeg_haircut": "--depeg-haircut"}
"""The options that decide a run: ``--inputs`` takes them from its file instead."""


class RunMismatch(Failed):
    """A run from ``--inputs`` gave another digest than the file records (exit 1)."""


_UNRECORDED = frozenset({"wall_s", "plot", "series"})
"""Keys of a run's ``--json`` output that say how long it took and where it wrote, not what it found."""


def _read_inputs(path: Path) -> tuple[RunInputs, str | None, dict[str, Any] | None]:
    """A previous run's ``--json`` output (or its ``inputs`` object alone), its digest and the
    whole output (``None``: the file is the inputs alone)."""
    from solvent.stress.run_inputs import FORMATS_WITHOUT_PROCEDURE, RunInputs

    doc, digest, whole = recorded_inputs(path, allow_float=True)  # a run's output has wall_s, a float
    inputs = RunInputs.from_json(doc)
    if isinstance(doc, dict) and doc.get("format") in FORMATS_WITHOUT_PROCEDURE and digest is not None:
        click.echo(f"note: {path} is a {doc['format']} file, whose digest did not cover the liquidation procedure: "
                   "it is not compared (the run's own digest is printed)", err=True)
        digest = ""  # recorded, not comparable
    else:
        version_note(path, doc)
    return inputs, digest, whole


def _inputs_from_options(ctx: click.Context, scenario: str, accounts: int, steps: int | None, drop: Decimal,
                         seed: int, venue: str, symbol: str | None, start_text: str | None, engine: str,
                         liquidation: str, max_rounds: int | None) -> RunInputs:
    from solvent.stress import BookParams, CascadeParams, load_path_file
    from solvent.stress.book import MAX_BOOK_ACCOUNTS
    from solvent.stress.cascade import MAX_ROUNDS
    from solvent.stress.run_inputs import MAX_STEPS, RunInputs, file_sha256
    from solvent.stress.scenarios import REPLAYS, replay_file

    if not 1 <= accounts <= MAX_BOOK_ACCOUNTS:
        raise InvalidInput(f"--accounts must lie in [1, {MAX_BOOK_ACCOUNTS}], got {accounts}")
    if steps is not None and not 1 <= steps <= MAX_STEPS:
        raise InvalidInput(f"--steps must lie in [1, {MAX_STEPS}], got {steps}")
    if max_rounds is not None and not 1 <= max_rounds <= MAX_ROUNDS:
        raise InvalidInput(f"--max-rounds must lie in [1, {MAX_ROUNDS}], got {max_rounds}")
    file = replay_file(scenario)
    if file is not None and ctx.get_parameter_source("drop_text") is not click.core.ParameterSource.DEFAULT:
        raise InvalidInput("--drop sets the fall of a crash scenario; a replay's prices are its path")
    if file is not None and start_text is not None:
        raise InvalidInput("--start-price sets where a crash scenario starts; a replay starts at its first price")
    profile = load_venue(venue)
    symbol = symbol if symbol is not None else _default_symbol(profile)
    if symbol not in profile.instruments:
        known = ", ".join(sorted(profile.instruments)[:12])
        raise InvalidInput(f"--symbol {symbol!r} is not an instrument of {venue} (for example: {known}; "
                           f"`solvent venues show {venue}` lists them)")
    inst = profile.instruments[symbol]
    mode: LiquidationMode = "venue" if liquidation == "venue" else "generic"
    if mode == "venue" and engine == "fast":
        raise InvalidInput("--liquidation venue runs on the exact engine only (the fast cascade models the generic "
                           "procedure); use --engine exact or auto")
    fast = engine == "fast" or (engine == "auto" and mode == "generic" and accounts > FAST_ABOVE)
    chosen: EngineName = "fast" if fast else "exact"
    params = BookParams(accounts=accounts, seed=seed, venue=venue, symbol=symbol)
    sha: str | None = None
    if start_text is not None:
        params = replace(params, start_price=_start_price(start_text))
    elif file is None and inst.base not in ("BTC", "XBT"):
        click.echo(f"note: {symbol} starts at {params.start_price}, the bundled BTC path's price; give "
                   "--start-price for a realistic one", err=True)
    if scenario in REPLAYS and inst.base not in ("BTC", "XBT"):
        click.echo(f"note: {scenario} is a BTCUSDT path: {symbol} is valued along BTC's prices", err=True)
    if file is not None:  # the book opens at the file's first price (rounded down to the book's grid)
        prices = load_path_file(file, steps, inst.tick_size or _FINEST)
        if steps is None and len(prices) > MAX_STEPS + 1:
            raise InvalidInput(f"{file} holds {len(prices):,} prices; give --steps (at most {MAX_STEPS})")
        steps = len(prices) - 1
        params = replace(params, start_price=prices[0])
        sha = file_sha256(file)
        if scenario.startswith("path:"):  # as --book's: --inputs from another directory finds the file
            scenario = f"path:{file.absolute()}"
    return RunInputs(scenario=scenario, steps=DEFAULT_STEPS if steps is None else steps,
                     drop=None if file is not None else drop, engine=chosen, liquidation=mode, book=params,
                     cascade=CascadeParams() if max_rounds is None else CascadeParams(max_rounds=max_rounds),
                     path_sha256=sha)


def _with_book_file(ctx: click.Context, inputs: RunInputs, path: Path, engine: str) -> RunInputs:
    """The run on a venue's own book: its accounts come from the file (``--accounts``, ``--seed``
    and ``--book-model`` do not apply), its start price from ``--start-price`` or the replay."""
    from solvent.stress.book_file import count_rows
    from solvent.stress.run_inputs import file_sha256

    for name, flag in (("accounts", "--accounts"), ("seed", "--seed"), ("book_model", "--book-model")):
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT:
            raise InvalidInput(f"{flag} draws a book; --book reads one")
    if inputs.path_sha256 is None and ctx.get_parameter_source("start_text") is click.core.ParameterSource.DEFAULT:
        raise InvalidInput("--book needs --start-price (the price its positions are valued at) unless a replay "
                           "gives it")
    rows = count_rows(path)
    exact_engine = engine == "exact" or (engine == "auto" and inputs.liquidation == "venue")
    chosen: EngineName = "exact" if exact_engine else "fast"
    return replace(inputs, engine=chosen, book=replace(inputs.book, accounts=rows, model="file", whale_groups=0),
                   book_file=os.path.abspath(path), book_sha256=file_sha256(path))


def _with_backstop(inputs: RunInputs, capital: str | None, limit: str | None, engine: str) -> RunInputs:
    """``--backstop-capital`` and ``--backstop-loss-limit``: the venue's own procedure on the
    exact engine (``auto`` picks it; anything else is refused in one line)."""
    if capital is None and limit is None:
        return inputs
    flag = "--backstop-capital" if capital is not None else "--backstop-loss-limit"
    if inputs.liquidation != "venue" or engine == "fast":
        raise InvalidInput(f"{flag} sets the venue's backstop: it needs --liquidation venue on the exact engine")
    cascade = inputs.cascade
    if capital is not None:
        value = to_decimal(capital, "--backstop-capital")
        if not Decimal(0) <= value <= Decimal(10):
            raise InvalidInput(f"--backstop-capital is a fraction of the open interest in [0, 10], got {capital}")
        cascade = replace(cascade, backstop_capital=value)
    if limit is not None:
        cascade = replace(cascade, backstop_loss_limit=parse_loss_limit(limit, "--backstop-loss-limit"))
    return replace(inputs, engine="exact", cascade=cascade)


def _with_depeg(ctx: click.Context, inputs: RunInputs, text: str | None, holders: str, haircut: str,
                engine: str) -> RunInputs:
    """``--depeg``: the run on the exact engine (``auto`` picks it; ``fast`` is refused)."""
    from solvent.stress.depeg import parse_depeg

    if text is None:
        for name, flag in (("depeg_holders", "--depeg-holders"), ("depeg_haircut", "--depeg-haircut")):
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT:
                raise InvalidInput(f"{flag} shapes a --depeg; give one")
        return inputs
    if engine == "fast":
        raise InvalidInput("--depeg runs on the exact engine (the fast cascade holds one collateral asset); use "
                           "--engine exact or auto")
    depeg = parse_depeg(text, to_decimal(holders, "--depeg-holders"), to_decimal(haircut, "--depeg-haircut"))
    return replace(inputs, engine="exact", depeg=depeg)


def _check_size(inputs: RunInputs) -> None:
    """The exact engine's limit (``EXACT_MAX_ACCOUNTS``), for options and ``--inputs`` alike."""
    accounts = inputs.book.accounts
    if inputs.engine == "exact" and accounts > EXACT_MAX_ACCOUNTS:
        why = (f"it builds and re-margins every account through the engine, 82 s for 50,000 on two cores: "
               f"{accounts:,} would take {accounts / 50_000:,.0f} times that or more")
        if inputs.depeg is not None:
            raise InvalidInput(f"--depeg runs on the exact engine only, which takes at most {EXACT_MAX_ACCOUNTS:,}"
                               f" accounts ({why}); give --accounts {EXACT_MAX_ACCOUNTS} or fewer")
        if inputs.liquidation == "venue":
            raise InvalidInput(f"--liquidation venue runs on the exact engine only, which takes at most"
                               f" {EXACT_MAX_ACCOUNTS:,} accounts ({why}); give --accounts {EXACT_MAX_ACCOUNTS}"
                               " or fewer")
        raise InvalidInput(f"--engine exact takes at most {EXACT_MAX_ACCOUNTS:,} accounts ({why}); use --engine fast,"
                           " which takes the same decisions")


def _depeg_rows(summary: dict[str, object]) -> list[list[str]]:
    depeg = summary.get("depeg")
    if not isinstance(depeg, dict):
        return []
    return [["depeg", f"{depeg['asset']} to {depeg['price']} at minute {depeg['minute']}"],
            ["  holders of it", str(depeg["holders"])], ["  holders liquidated", str(depeg["holders_liquidated"])],
            ["  others liquidated", str(depeg["others_liquidated"])],
            ["  holders below MM at the end", str(depeg["holders_below_maintenance_end"])]]


def _entrant_rows(summary: dict[str, Any]) -> list[list[str]]:
    """Under re-leveraging: the pairs it opened and their notional against its target."""
    entrants = summary.get("releverage")
    if not entrants:
        return []
    return [["re-leveraging rate", str(entrants["rate"])],
            ["  pairs opened (of drawn)", f"{entrants['pairs_opened']:,} of {entrants['pairs_drawn']:,}"],
            ["  notional opened / target",
             f"{entrants['notional_opened_quote']} / {entrants['notional_target_quote']}"]]


def _response_rows(summary: dict[str, Any]) -> list[list[str]]:
    """Under traders' responses: the closes they made, by side."""
    response = summary.get("response")
    if not response:
        return []
    return [["response: mean delay (min), loss", f"{response['minutes']}, {response['loss']}"],
            ["  voluntary closes", f"{response['closes']:,}"],
            ["  closed long / short notional",
             f"{response['closed_long_notional']} / {response['closed_short_notional']}"]]


def _cell(value: object) -> str:
    return "not modelled (generic procedure)" if value is None else str(value)


def _run_json(summary: dict[str, Any], venue: str, symbol: str, run: dict[str, object],
              png: Path | None) -> dict[str, Any]:
    """What ``--json`` prints: the run's summary and what re-runs it (scenario, drop, steps,
    seed, start price, every input)."""
    return {**summary, "venue": venue, "symbol": symbol, **run, "plot": None if png is None else str(png)}


def _report(summary: dict[str, Any], printed: dict[str, Any], run: dict[str, object], png: Path | None,
            as_json: bool) -> None:
    """The run's JSON (``printed``), or its summary as a table."""
    venue, symbol = printed["venue"], printed["symbol"]
    settle, quote = str(run["settle_asset"]), str(run["quote_asset"])
    if summary["truncated"]:
        click.echo(f"warning: {summary['truncated_steps']} minute(s) still liquidating at their last of "
                   f"{summary['max_rounds']} cascade rounds were cut short; run again with a larger --max-rounds",
                   err=True)
    left = summary.get("accounts_left_at_trigger", 0)
    if left:
        click.echo(f"warning: {left} account(s) end at their liquidation trigger with their positions open: the book "
                   "could not take their liquidation orders (a mark at one price step, or orders past its depth), "
                   "and no figure of this run counts their losses", err=True)
    if as_json:
        emit_json(printed)
        return
    table(f"cascade ({summary['engine']}, {summary['accounts']:,} accounts, {summary['steps']} steps)",
          ["figure", "value"], [["venue", f"{venue} {symbol}"], ["liquidation procedure", str(run["liquidation_rule"])],
                                ["fees, fund, bad debt in", settle],
                                ["notionals, prices in", quote],
                                *([label, _cell(summary[key])] for label, key in _ROWS),
                                *([label, str(summary[key])] for label, key in _BACKSTOP_ROWS
                                  if summary[key] is not None),
                                *_depeg_rows(summary), *_entrant_rows(summary), *_response_rows(summary)])
    click.echo(f"plot: {png or 'none'}\ndigest: {summary['digest']}")
