"""The cascade: fast model == exact engine, determinism, and a 3-account cascade by hand."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal as D

import numpy as np
import pytest

from solvent.engine.config import LiquidationPolicy
from solvent.errors import InvalidInput
from solvent.risk.venues import load_venue
from solvent.stress import (
    BookParams,
    CascadeParams,
    ImpactParams,
    SyntheticBook,
    generate_book,
    run_cascade,
    scenario_path,
    simulate,
)
from solvent.stress.cascade import make_venue

HAS_ADL_SWITCH = "adl" in {f.name for f in fields(LiquidationPolicy)}


def _path(book: SyntheticBook, scenario: str = "crash") -> list[D]:
    return scenario_path(scenario, book.params.start_price, D("0.20"), 60, book.tick)


@pytest.mark.parametrize(("seed", "accounts", "scenario"), [
    (1, 300, "crash"), (2, 300, "crash-linear"), (3, 250, "crash"), (4, 200, "crash-linear"),
])
def test_fast_and_exact_take_the_same_decisions_when_the_fund_suffices(seed: int, accounts: int,
                                                                        scenario: str) -> None:
    book = generate_book(BookParams(accounts=accounts, seed=seed, insurance_fraction=D("0.05")))
    fast = run_cascade(book, _path(book, scenario), "fast")
    exact = run_cascade(book, _path(book, scenario), "exact")
    assert sum(s.adl_events for s in exact.steps) == 0
    assert len(fast.liquidations) > 20
    assert [s.liquidated for s in fast.steps] == [s.liquidated for s in exact.steps]
    assert [s.sold_quote for s in fast.steps] == [s.sold_quote for s in exact.steps]
    assert [s.insurance_fund for s in fast.steps] == [s.insurance_fund for s in exact.steps]
    assert fast.liquidation_events() == exact.liquidation_events()
    assert fast.digest() == exact.digest()


@pytest.fixture
def adl_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine without ADL: the policy switch when it exists, else ``_deleverage`` closing nothing
    (then ``_execute`` sends the whole quantity to the book and the fund pays what it has)."""
    if HAS_ADL_SWITCH:
        return
    import solvent.engine.liquidation as liquidation

    monkeypatch.setattr(liquidation, "_deleverage", lambda ctx, acc, pos, qty, bankruptcy, out: qty)


@pytest.mark.usefixtures("adl_off")
@pytest.mark.parametrize("seed", [3, 11])
def test_fast_and_exact_agree_when_the_fund_runs_dry_and_losses_are_socialised(seed: int) -> None:
    book = generate_book(BookParams(accounts=300, seed=seed, insurance_fraction=D("0.0005")))
    fast = run_cascade(book, _path(book), "fast")
    exact = run_cascade(book, _path(book), "exact")
    assert sum(s.socialised_quote for s in fast.steps) > 0
    assert min(s.insurance_min for s in fast.steps) == 0
    assert fast.digest() == exact.digest()


def test_the_same_book_and_path_give_the_same_events() -> None:
    book = generate_book(BookParams(accounts=200, seed=5))
    again = generate_book(BookParams(accounts=200, seed=5))
    assert np.array_equal(book.qty_lots, again.qty_lots) and book.insurance_units == again.insurance_units
    assert run_cascade(book, _path(book), "fast").digest() == run_cascade(again, _path(again), "fast").digest()
    assert run_cascade(book, _path(book), "exact").digest() == run_cascade(again, _path(again), "exact").digest()


def _three_accounts() -> SyntheticBook:
    profile = load_venue("binance-usdm")
    lots = np.asarray([1000, 1000, -2000, 0], dtype=np.int64)  # A0, A1 long 1 BTC; A2 short 2; mm flat
    entry = np.full(4, 1_000_000, dtype=np.int64)  # 100,000.0 in ticks of 0.1
    return SyntheticBook(
        params=BookParams(accounts=3, start_price=D("100000.0")), profile=profile,
        table=profile.rules_for("BTCUSDT").maintenance_table(D(1)), lot=D("0.001"), tick=D("0.1"),
        qty_lots=lots, entry_ticks=entry, cost=lots * entry,
        deposit_units=np.asarray([1600, 2500, 20000, 1_000_000], dtype=np.int64) * 10**8,
        leverage=np.asarray([62, 40, 10, 1], dtype=np.int64), insurance_units=5000 * 10**8,
    )


@pytest.mark.parametrize("engine", ["fast", "exact"])
def test_a_three_account_cascade_worked_by_hand(engine: str) -> None:
    """Depth 1,000,000 (no thinning), k_cascade 0.1, k_order 0.01; one step 100,000 → 98,750.

    Round 0, mark 98,750.0. MM = 0.4 % of the notional (tier 1).
      A0: equity 1,600 + (98,750 − 100,000) = 350 ≤ MM 395 → liquidated.
          order price 98,750 × (1 − 0.01 × sqrt(98,750 / 1e6)) = 98,439.68… → 98,439.6 (tick, down);
          equity at it 1,600 − 1,560.4 = 39.6; fee min(1.25 % × 98,439.6 = 1,230.495, 39.6) = 39.6
          → fund 5,000 + 39.6 = 5,039.6; balance 0.
      A1: equity 1,250 > MM 395: safe.  A2 (short) gains.
    Round 1, sold 98,439.6: mark 98,750 × (1 − 0.1 × sqrt(0.0984396)) = 95,651.71… → 95,651.7.
      A1: equity 2,500 − 4,348.3 = −1,848.3 ≤ MM → liquidated (bankrupt).
          order price 95,651.7 × (1 − 0.01 × sqrt(0.0956517)) = 95,355.87… → 95,355.8;
          equity at it 2,500 − 4,644.2 = −2,144.2: no fee; the fund pays 2,144.2 → 2,895.4.
    Round 2, sold 193,795.4: mark 98,750 × (1 − 0.1 × sqrt(0.1937954)) → 94,402.8: nobody else due.
    """
    book = _three_accounts()
    params = CascadeParams(ImpactParams(depth_quote=D(1_000_000), k_cascade=D("0.1"), k_order=D("0.01"),
                                        thinning=D(0)))
    result = simulate(make_venue(book, engine), book, [D("100000.0"), D("98750.0")], params)  # type: ignore[arg-type]
    (step,) = result.steps
    assert step.marks == (D("98750.0"), D("95651.7"), D("94402.8"))
    assert step.liquidated == (0, 1)
    a0, a1 = result.liquidations
    assert (a0.round, a0.price, a0.fee_quote, a0.deficit_quote) == (0, D("98439.6"), D("39.6"), D(0))
    assert (a1.round, a1.price, a1.fee_quote, a1.deficit_quote, a1.socialised_quote) == (
        1, D("95355.8"), D(0), D("2144.2"), D(0))
    assert step.sold_quote == D("193795.4") and step.bought_quote == 0
    assert (step.insurance_fund, step.insurance_min) == (D("2895.4"), D("2895.4"))
    assert result.insurance_start == D(5000)


def test_a_book_that_starts_liquidatable_is_refused_by_the_exact_venue() -> None:
    from solvent.errors import InvariantViolation

    book = _three_accounts()
    broke = SyntheticBook(**{**{f.name: getattr(book, f.name) for f in fields(SyntheticBook)},
                             "deposit_units": np.asarray([1600, 2500, 20000, 1], dtype=np.int64) * 10**8})
    with pytest.raises(InvariantViolation, match="liquidat"):
        make_venue(broke, "exact")


def test_a_path_that_does_not_start_at_the_books_price_is_refused() -> None:
    book = generate_book(BookParams(accounts=10))
    with pytest.raises(InvalidInput, match=r"the book was built at 116975\.9"):
        run_cascade(book, [D("100000"), D("90000")], "fast")
