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

import json
from decimal import Decimal
from pathlib import Path

import pytest

from solvent.cli import main
from solvent.errors import InvalidInput
from solvent.risk.venues import load_venue
from solvent.stress import BookParams, CascadeParams, generate_book, scenario_path, simulate
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
