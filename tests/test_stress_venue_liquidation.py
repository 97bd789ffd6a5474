"""Stress with each venue's own liquidation procedure (``--liquidation venue``, exact engine).

The generic procedure (both engines, digest for digest) has no ADL and no backstop, so a
deficit the small stress fund cannot pay is socialised. The venue procedures the profiles name
(``risk/liquidation_rules.py``) end a deficit differently, and a stress run must show it:

* Binance, Bybit (``bankruptcy_price``) and dYdX v4: the fund, then auto-deleveraging of the
  most profitable opposite positions: nothing is socialised;
* Hyperliquid (``backstop``): an account below 2/3 of its MM is taken over by the backstop
  vault, not sold on the book;
* Drift: its liquidator takes over only the base that covers the margin shortage (partial
  closes), and there is no ADL.

Whatever the procedure, money is conserved exactly (every asset held equals deposits less
withdrawals) after the run.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest

from solvent.cli import main
from solvent.errors import InvalidInput
from solvent.risk.venues import load_venue
from solvent.stress import BookParams, CascadeParams, generate_book, scenario_path, simulate
from solvent.stress.book import SyntheticBook
from solvent.stress.cascade import make_venue
from solvent.stress.cascade_exact import ExactVenue

CRASH = Decimal("0.20")
SMALL_FUND = Decimal("0.002")
"""A fund of 0.2 % of the open interest (a small-fund venue): the crash leaves deficits it cannot pay."""


def _run(venue: str, symbol: str, liquidation: str) -> tuple[ExactVenue, dict[str, object]]:
    book = generate_book(BookParams(accounts=300, seed=7, venue=venue, symbol=symbol,
                                    insurance_fraction=SMALL_FUND))
    path = scenario_path("crash", book.params.start_price, CRASH, 30, book.tick)
    exact = make_venue(book, "exact", liquidation)  # type: ignore[arg-type]
    assert isinstance(exact, ExactVenue)
    result = simulate(exact, book, path, CascadeParams())
    return exact, result.summary()


def _conserved(exact: ExactVenue) -> None:
    for asset, (held, net) in exact.engine.conservation().items():
        assert held == net, f"{asset}: held {held} != deposits - withdrawals {net}"


@pytest.mark.parametrize(("venue", "symbol"), [("binance-usdm", "BTCUSDT"), ("bybit-linear", "BTCUSDT"),
                                               ("dydx-v4", "BTC-USD")])
def test_where_the_fund_then_adl_cover_a_deficit_nothing_is_socialised(venue: str, symbol: str) -> None:
    generic, plain = _run(venue, symbol, "generic")
    own, ruled = _run(venue, symbol, "venue")
    assert Decimal(str(plain["bad_debt_socialised"])) > 0 and plain["adl_events"] is None  # the crash leaves deficits
    assert int(str(ruled["adl_events"])) > 0 and Decimal(str(ruled["bad_debt_socialised"])) == 0
    assert load_venue(venue).liquidation.kind.value in ("bankruptcy_price", "dydx_v4")
    _conserved(generic)
    _conserved(own)


def test_hyperliquid_hands_the_deepest_accounts_to_its_backstop_vault() -> None:
    _, plain = _run("hyperliquid", "BTC", "generic")
    own, ruled = _run("hyperliquid", "BTC", "venue")
    assert plain["backstop_events"] is None and int(str(ruled["backstop_events"])) > 0
    rule = load_venue("hyperliquid").liquidation
    vault = own.engine.state.accounts[rule.backstop_account]
    assert any(p.qty for p in vault.positions.values())  # it holds what it took over
    _conserved(own)
    assert plain["backstop_position_end"] is None and plain["backstop_equity_end"] is None


def test_a_run_reports_what_the_backstop_vault_is_left_holding() -> None:
    """The vault takes the deepest longs over at the mark and carries them down the crash: the
    summary must say what it holds and what it is worth at the last mark, or a run in which the
    vault ends bankrupt reads as one with no loss at all (nothing socialised, no ADL). Its
    equity by hand: its USDC plus, for the linear BTC position, qty × mark − cost."""
    own, ruled = _run("hyperliquid", "BTC", "venue")
    vault = own.engine.state.accounts[load_venue("hyperliquid").liquidation.backstop_account]
    (position,) = [p for p in vault.positions.values() if p.qty]
    mark = own.engine.state.markets["BTC"].mark
    assert mark is not None and position.contract_size == 1
    assert Decimal(str(ruled["backstop_position_end"])) == position.qty > 0  # the longs it took over
    by_hand = vault.balances.get("USDC", Decimal(0)) + position.qty * mark - position.cost
    assert Decimal(str(ruled["backstop_equity_end"])) == by_hand
    assert by_hand < 0  # bought at marks above 0.8 × the start, held to the bottom: bankrupt
    assert Decimal(str(ruled["bad_debt_socialised"])) == 0  # the loss is the vault's, not socialised


def test_drift_closes_only_the_base_that_covers_the_shortage_and_never_deleverages() -> None:
    """Drift's liquidator takes over the base that covers the margin shortage, not the whole
    position: more, smaller closes than the generic full close, over more rounds."""
    _, plain = _run("drift", "BTC-PERP", "generic")
    own, ruled = _run("drift", "BTC-PERP", "venue")
    assert ruled["adl_events"] == 0
    assert int(str(ruled["liquidations"])) > int(str(plain["liquidations"])) > 0
    assert load_venue("drift").liquidation.kind.value == "drift"
    _conserved(own)


def test_the_fast_cascade_refuses_the_venue_procedure() -> None:
    book = generate_book(BookParams(accounts=50, seed=1))
    with pytest.raises(InvalidInput, match="exact engine"):
        make_venue(book, "fast", "venue")
    with pytest.raises(InvalidInput, match="generic, venue"):
        make_venue(book, "exact", "both")  # type: ignore[arg-type]


def test_the_cli_names_the_procedure_it_ran_and_refuses_it_on_the_fast_engine(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--accounts", "200", "--steps", "10", "--json", "--out", str(tmp_path)]
    assert main([*args, "--venue", "hyperliquid", "--liquidation", "venue"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert (body["engine"], body["liquidation"], body["liquidation_rule"]) == ("exact", "venue", "backstop")
    assert body["backstop_position_end"] is not None and body["backstop_equity_end"] is not None
    assert main([*args[:-3], "--venue", "hyperliquid", "--liquidation", "venue", "--out", str(tmp_path)]) == 0
    assert "backstop equity at end" in capsys.readouterr().out  # the table's row
    assert main(args) == 0
    generic = json.loads(capsys.readouterr().out)
    assert (generic["liquidation"], generic["liquidation_rule"]) == ("generic", "generic")
    assert main([*args, "--engine", "fast", "--liquidation", "venue"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "exact engine only" in err
    assert main(["simulate", "--accounts", "60000", "--liquidation", "venue"]) == 2  # over the exact engine's cap
    err = capsys.readouterr().err
    assert "exact engine only" in err and "--engine fast" not in err and "--accounts 50000 or fewer" in err


def test_a4_a_small_fund_on_the_10_10_replay_deleverages_and_every_forced_close_is_book_or_adl() -> None:
    """Acceptance A4 (issue 15): with the fund at 0.2 % of the open interest, the 2025-10-10
    replay deleverages (ADL events > 0), and what liquidation closed of each liquidated account,
    read from the engine's state (its position at the start less at the end), is exactly what
    went to the book plus what ADL closed."""
    from solvent.engine.events import AutoDeleveraged, Event, LiquidationStep
    from solvent.stress.book import BOOK_ACCOUNT
    from solvent.stress.result import RoundOutcome
    from solvent.stress.scenarios import load_path_file, replay_file

    file = replay_file("tariff_2025_10_10")
    assert file is not None
    prices = load_path_file(file, 240, Decimal("0.1"))
    book = generate_book(BookParams(accounts=600, seed=7, venue="binance-usdm", symbol="BTCUSDT",
                                    insurance_fraction=SMALL_FUND, start_price=prices[0]))
    to_book: dict[str, Decimal] = {}
    to_adl: dict[str, Decimal] = {}

    class Recording(ExactVenue):
        def _parse(self, step: int, rnd: int, events: tuple[Event, ...], before: Decimal) -> RoundOutcome:
            for ev in events:
                if isinstance(ev, LiquidationStep):
                    to_book[ev.account_id] = to_book.get(ev.account_id, Decimal(0)) + ev.qty
                elif isinstance(ev, AutoDeleveraged):
                    to_adl[ev.account_id] = to_adl.get(ev.account_id, Decimal(0)) + ev.qty
            return super()._parse(step, rnd, events, before)

    exact = Recording(book, "venue")
    engine = exact.engine
    start = {aid: sum((p.qty for p in acc.positions.values()), Decimal(0))
             for aid, acc in engine.state.accounts.items() if aid != BOOK_ACCOUNT}
    summary = simulate(exact, book, prices, CascadeParams()).summary()
    assert int(str(summary["adl_events"])) > 0 and to_adl and Decimal(str(summary["adl_notional"])) > 0
    for aid in sorted(set(to_book) | set(to_adl)):
        end = sum((p.qty for p in engine.state.accounts[aid].positions.values()), Decimal(0))
        assert abs(start[aid]) - abs(end) == to_book.get(aid, Decimal(0)) + to_adl.get(aid, Decimal(0)), aid
    _conserved(exact)


def _replay_run(venue: str, fund: Decimal = SMALL_FUND) -> dict[str, object]:
    from solvent.stress.scenarios import load_path_file, replay_file

    file = replay_file("tariff_2025_10_10")
    assert file is not None
    prices = load_path_file(file, 240, Decimal("0.1"))
    book = generate_book(BookParams(accounts=600, seed=7, venue=venue, symbol="BTCUSDT",
                                    insurance_fraction=fund, start_price=prices[0]))
    exact = make_venue(book, "exact", "venue")
    summary = simulate(exact, book, prices, CascadeParams()).summary()
    assert isinstance(exact, ExactVenue)
    _conserved(exact)
    return summary


def test_bybits_fund_rule_keeps_the_fund_above_70_percent_of_its_peak_in_a_one_market_crash() -> None:
    """Four hours of the 2025-10-10 replay, 600 accounts, a fund of 0.6 % of OI (about 24,000
    USDT: above Bybit's 10,000 threshold, under which the rule does not apply). On Binance the fund pays
    until it is empty. On Bybit the fund rule stops it paying the one market's deficits once its
    PnL there is 30 % of the fund's 8-hour peak below the market's PnL peak, and the rest is
    deleveraged. In a stress run the fund moves only by that market's PnL, so its fall from any
    earlier balance is that market's PnL drawdown since: never more than 0.3 × the peak, and the
    run (4 hours) is inside the window, so the fund never falls below 0.7 × its start."""
    binance = _replay_run("binance-usdm", Decimal("0.006"))
    assert Decimal(str(binance["insurance_fund_min"])) < Decimal("0.01") * Decimal(str(binance["insurance_fund_start"]))
    assert binance["drawdown_adl_starts"] == 0
    bybit = _replay_run("bybit-linear", Decimal("0.006"))
    start, low = Decimal(str(bybit["insurance_fund_start"])), Decimal(str(bybit["insurance_fund_min"]))
    assert int(str(bybit["drawdown_adl_starts"])) >= 1 and int(str(bybit["adl_events"])) > 0
    assert Decimal("0.7") * start <= low < Decimal("0.75") * start


def _hyperliquid(params: CascadeParams) -> tuple[ExactVenue, dict[str, object], SyntheticBook]:
    book = generate_book(BookParams(accounts=300, seed=7, venue="hyperliquid", symbol="BTC",
                                    insurance_fraction=SMALL_FUND))
    path = scenario_path("crash", book.params.start_price, CRASH, 30, book.tick)
    exact = make_venue(book, "exact", "venue", None, params)
    assert isinstance(exact, ExactVenue)
    return exact, simulate(exact, book, path, params).summary(), book


def test_a_vault_given_capital_and_no_limit_decides_nothing_differently() -> None:
    """1 % of the open interest, by hand: the longs' cost Σ qty × entry (every account long at
    the start, the counterparty ``mm`` included), rounded down to 10^-8. It sits in the vault:
    the same liquidations, the vault's equity at the end higher by exactly that much."""
    _, empty, book = _hyperliquid(CascadeParams())
    funded_venue, funded, _ = _hyperliquid(CascadeParams(backstop_capital=Decimal("0.01")))
    longs = sum((book.qty(i) * book.entry(i) for i in range(book.size) if book.qty(i) > 0), Decimal(0))
    capital = (longs / 100).quantize(Decimal("0.00000001"), rounding="ROUND_DOWN")
    assert Decimal(str(funded["backstop_capital_start"])) == capital > 0
    assert Decimal(str(funded["backstop_equity_end"])) - Decimal(str(empty["backstop_equity_end"])) == capital
    for key in ("liquidations", "backstop_events", "adl_events", "liquidated_long_notional", "insurance_fund_end"):
        assert funded[key] == empty[key], key
    assert funded["backstop_loss_limit"] is None and funded["backstop_loss_limit_events"] == 0
    assert funded["digest"] != empty["digest"]  # the capital is an input the digest binds
    _conserved(funded_venue)


def test_a_capped_vault_deleverages_its_longs_and_ends_above_the_uncapped_one() -> None:
    """The crash falls all the way: the uncapped vault carries its takeovers to the bottom; the
    capped one (limit a half) deleverages them at the mark once it has lost half its capital,
    against the shorts, and so ends with more."""
    _, uncapped, _ = _hyperliquid(CascadeParams(backstop_capital=Decimal("0.01")))
    capped_venue, capped, _ = _hyperliquid(CascadeParams(backstop_capital=Decimal("0.01"),
                                                         backstop_loss_limit=Decimal("0.5")))
    assert capped["backstop_loss_limit"] == "0.5"
    assert int(str(capped["backstop_loss_limit_events"])) >= 1 and int(str(capped["adl_events"])) > 0
    assert uncapped["adl_events"] == 0
    assert Decimal(str(capped["backstop_equity_end"])) > Decimal(str(uncapped["backstop_equity_end"]))
    assert Decimal(str(capped["bad_debt_adl"])) == 0  # deleveraged at the mark: no counterparty gives anything up
    _conserved(capped_venue)


def test_the_backstop_settings_run_again_from_the_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--venue", "hyperliquid", "--liquidation", "venue", "--accounts", "200", "--steps", "20",
            "--backstop-capital", "0.02", "--backstop-loss-limit", "0.25", "--json", "--out", str(tmp_path)]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["inputs"]["cascade"]["backstop_capital"] == "0.02"
    assert first["inputs"]["cascade"]["backstop_loss_limit"] == "0.25"
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(first))
    assert main(["simulate", "--inputs", str(saved), "--json", "--out", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["digest"] == first["digest"]
    older = dict(first["inputs"])  # written before the settings existed: none
    older["cascade"] = {k: v for k, v in older["cascade"].items() if not k.startswith("backstop")}
    from solvent.stress.run_inputs import RunInputs
    decoded = RunInputs.from_json(older)
    assert decoded.cascade.backstop_capital == 0 and decoded.cascade.backstop_loss_limit is None


def test_the_loss_limit_reads_as_a_profile_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A profile's ``backstop_loss_limit`` may be a ratio ("1/2"); the flag reads it the same way
    (``liquidation_rules.parse_loss_limit``): 1/2 is the limit 0.5."""
    args = ["simulate", "--venue", "hyperliquid", "--liquidation", "venue", "--accounts", "100", "--steps", "5",
            "--backstop-capital", "0.01", "--json", "--out", str(tmp_path)]
    assert main([*args, "--backstop-loss-limit", "1/2"]) == 0
    ratio = json.loads(capsys.readouterr().out)
    assert main([*args, "--backstop-loss-limit", "0.5"]) == 0
    decimal = json.loads(capsys.readouterr().out)
    assert Decimal(ratio["inputs"]["cascade"]["backstop_loss_limit"]) == Decimal("0.5")
    assert ratio["digest"] == decimal["digest"]


@pytest.mark.parametrize(("args", "words"), [
    (["--backstop-capital", "0.01"], "needs --liquidation venue"),
    (["--liquidation", "venue", "--backstop-capital", "-1"], "--backstop-capital is a fraction"),
    (["--liquidation", "venue", "--backstop-loss-limit", "0"], "--backstop-loss-limit must be above 0"),
    (["--liquidation", "venue", "--backstop-loss-limit", "1.5"], "--backstop-loss-limit must be at most 1"),
    (["--liquidation", "venue", "--backstop-loss-limit", "3/2"], "--backstop-loss-limit must be at most 1"),
    (["--liquidation", "venue", "--backstop-capital", "abc"], "--backstop-capital"),
    (["--liquidation", "venue", "--engine", "fast", "--backstop-capital", "0.1"], "exact engine"),
    (["--liquidation", "venue", "--venue", "binance-usdm", "--backstop-capital", "0.1"], "has no backstop"),
    # found by a new-user pass: with the default empty vault any limit fired at once, whatever its value
    (["--liquidation", "venue", "--backstop-loss-limit", "0.5"],
     "backstop_loss_limit is a fraction of the vault's capital, and the vault holds none"),
])
def test_bad_backstop_settings_are_refused_in_one_line(args: list[str], words: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    base = ["simulate", "--accounts", "100", "--steps", "5"]
    if "--venue" not in args:
        base += ["--venue", "hyperliquid"]
    assert main([*base, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1


def test_the_series_counts_the_limit_minute_by_minute(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A3 for the capped vault: the per-minute ``backstop_loss_limit_events`` add up to the
    summary's, and ``backstop_events`` to the takeovers."""
    series = tmp_path / "s.csv"
    assert main(["simulate", "--venue", "hyperliquid", "--liquidation", "venue", "--accounts", "300", "--steps", "30",
                 "--backstop-capital", "0.01", "--backstop-loss-limit", "0.5", "--series", str(series), "--json",
                 "--out", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = list(csv.DictReader(series.read_text().splitlines()))
    assert sum(int(r["backstop_loss_limit_events"]) for r in rows) == out["backstop_loss_limit_events"] >= 1
    assert sum(int(r["backstop_events"]) for r in rows) == out["backstop_events"]
