"""Re-leveraging (``stress/entrants.py``): new pairs opened during a cascade, on both engines alike."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from solvent.cli import main
from solvent.errors import InvalidInput
from solvent.stress.book import BookParams, generate_book
from solvent.stress.cascade import CascadeParams, run_cascade
from solvent.stress.entrants import RELEVERAGE_2020_03_12, EntrantFlow, _Pool, entrant_id, plan_entrants
from solvent.stress.scenarios import load_path_file, replay_file, scenario_path


def test_a_pair_opens_at_the_mark_with_its_drawn_size_and_capped_leverage() -> None:
    """By hand, Binance BTCUSDT (tick 0.1, lot 0.001: one step at one tick is 0.0001 USDT, the
    bracket 0–300,000 USDT allows 150×). A pair of 6,000.00 USDT at 60,000: 6,000 / 60,000 =
    0.1 BTC = 100 lots. The long drew 20×: it deposits 6,000 / 20 = 300 USDT; the short drew
    200×, capped at the bracket's 150×: 6,000 / 150 = 40 USDT. The minute's budget, rate 0.5 ×
    open interest × |return| of 1 %, opens it only once it covers the 6,000."""
    book = generate_book(BookParams(accounts=50, seed=1, start_price=Decimal(60000)))
    oi = book.open_interest_quote()
    minute = Decimal("0.5") * oi * Decimal("0.01")
    need = int(Decimal(6000) / minute) + 1  # minutes of budget the pair waits for
    flow = EntrantFlow(book, Decimal("0.5"), (minute,) * (need + 1),
                       _Pool((Decimal("6000.00"),), np.asarray([20, 200], dtype=np.int64)))
    for step in range(1, need):
        assert flow.openings(step, Decimal(60000)) == []
    (opening,) = flow.openings(need, Decimal(60000))
    assert (opening.long, opening.short) == (book.size, book.size + 1)  # after the traders and mm
    assert (opening.lots, opening.price_ticks) == (100, 600_000)
    assert (opening.leverage_long, opening.leverage_short) == (20, 150)
    assert (opening.deposit_long, opening.deposit_short) == (300 * 10**8, 40 * 10**8)
    assert flow.carried == need * minute - Decimal(6000)
    assert flow.outcome().pairs_opened == 1 and flow.outcome().notional_opened == Decimal(6000)


def test_a_halted_minute_carries_its_budget_to_the_next() -> None:
    book = generate_book(BookParams(accounts=50, seed=1, start_price=Decimal(60000)))
    flow = EntrantFlow(book, Decimal(1), (Decimal(4000), Decimal(4000)),
                       _Pool((Decimal("6000.00"),), np.asarray([10, 10], dtype=np.int64)))
    assert flow.openings(1, None) == []  # 4,000 carried, nothing opened while halted
    assert len(flow.openings(2, Decimal(60000))) == 1  # 8,000 covers the pair


@pytest.mark.parametrize("venue", ["binance-usdm", "bybit-linear", "hyperliquid", "dydx-v4", "drift", "bitmex"])
def test_the_exact_engine_and_the_fast_model_open_and_liquidate_the_same_entrants(venue: str) -> None:
    """The two engines' digests (every step's open interest and every liquidation, entrants'
    included) agree on every linear bundled venue, a halt included (its minutes carry)."""
    prices = load_path_file(replay_file("celsius_2022_06_13"), None, Decimal("0.1"))
    book = generate_book(BookParams(accounts=120, seed=5, venue=venue, start_price=prices[0]))
    path = scenario_path("celsius_2022_06_13", book.params.start_price, Decimal("0.5"), 300, book.tick)
    params = CascadeParams(releverage=Decimal("0.5"), halt_start=100, halt_minutes=5)
    fast = run_cascade(book, path, "fast", params)
    exact = run_cascade(book, path, "exact", params)
    assert fast.entrants is not None and fast.entrants.pairs_opened > 10
    assert any(liq.account >= book.size for liq in fast.liquidations)  # entrants were liquidated too
    assert fast.digest() == exact.digest()
    assert fast.summary()["releverage"] == exact.summary()["releverage"]


def test_no_entrant_opens_without_a_rate_and_the_digest_is_the_one_from_before() -> None:
    prices = load_path_file(replay_file("tariff_2025_10_10"), None, Decimal("0.1"))
    book = generate_book(BookParams(accounts=200, seed=2, start_price=prices[0]))
    path = scenario_path("tariff_2025_10_10", book.params.start_price, Decimal("0.5"), 200, book.tick)
    before = run_cascade(book, path, "fast", CascadeParams())
    zero = run_cascade(book, path, "fast", CascadeParams(releverage=Decimal(0)))
    assert before.digest() == zero.digest() and "releverage" not in zero.summary()
    assert run_cascade(book, path, "fast", CascadeParams(releverage=Decimal("0.13"))).digest() != before.digest()


def test_shorts_are_liquidated_on_a_one_way_crash_only_when_traders_enter_during_it() -> None:
    """The 2025-10-10 path never trades 0.2 % above its first price: every short of the book is
    in profit all the way, and the long share is exactly 1 without entrants. Shorts opened on
    the way down are caught by the rebound (+10.8 % from the low)."""
    prices = load_path_file(replay_file("tariff_2025_10_10"), None, Decimal("0.1"))
    book = generate_book(BookParams(accounts=1000, seed=3, start_price=prices[0]))
    path = scenario_path("tariff_2025_10_10", book.params.start_price, Decimal("0.5"), len(prices) - 1, book.tick)
    off = run_cascade(book, path, "fast", CascadeParams()).summary()
    on = run_cascade(book, path, "fast", CascadeParams(releverage=RELEVERAGE_2020_03_12)).summary()
    assert Decimal(off["liquidated_short_notional"]) == 0
    assert Decimal(on["liquidated_short_notional"]) > 0
    assert on["releverage"]["pairs_opened"] > 0


def test_books_and_rates_it_does_not_model_are_refused() -> None:
    linear = generate_book(BookParams(accounts=20, seed=1, start_price=Decimal(60000)))
    path = [Decimal(60000), Decimal(59000)]
    for rate in (Decimal(-1), Decimal(101), Decimal("NaN")):
        with pytest.raises(InvalidInput, match="releverage"):
            plan_entrants(linear, path, rate)
    inverse = generate_book(BookParams(accounts=20, seed=1, venue="binance-coinm", start_price=Decimal(60000)))
    with pytest.raises(InvalidInput, match="linear instruments only"):
        plan_entrants(inverse, [inverse.params.start_price, inverse.params.start_price - inverse.tick],
                      Decimal("0.1"))
    with pytest.raises(InvalidInput, match="releverage must lie"):
        run_cascade(linear, path, "fast", CascadeParams(releverage=Decimal(1000)))


def test_entrant_ids_sort_after_the_books_in_index_order() -> None:
    """The fast model liquidates the due rows in index order, the engine its accounts in id
    order: an entrant's id must sort after every id of the book (its traders, ``book``,
    ``mm``) and entrants among themselves by row."""
    book = generate_book(BookParams(accounts=20, seed=1, start_price=Decimal(60000)))
    entrants = [entrant_id(book.size + k) for k in (0, 1, 9, 10, 99_999_999)]
    assert max([*book.ids(), "book"]) < min(entrants)
    assert entrants == sorted(entrants)


def test_the_cli_takes_a_rate_echoes_it_and_runs_again_from_its_inputs(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--scenario", "tariff_2025_10_10", "--steps", "120", "--accounts", "200",
            "--releverage", "calibrated", "--out", str(tmp_path), "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["inputs"]["cascade"]["releverage"] == "0.13"
    assert report["releverage"]["rate"] == "0.13"
    run = tmp_path / "run.json"
    run.write_text(json.dumps(report))
    assert main(["simulate", "--inputs", str(run), "--out", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["digest"] == report["digest"]
    assert main(["simulate", "--releverage", "-1", "--out", str(tmp_path)]) != 0
    assert "--releverage is a rate in [0, 100]" in capsys.readouterr().err


def test_an_inputs_file_from_before_the_rate_runs_without_entrants(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--scenario", "crash", "--steps", "30", "--accounts", "100", "--out", str(tmp_path), "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    del report["inputs"]["cascade"]["releverage"]  # as written before the field existed
    run = tmp_path / "old.json"
    run.write_text(json.dumps(report))
    assert main(["simulate", "--inputs", str(run), "--out", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["digest"] == report["digest"]


def test_a_run_drawing_more_pairs_than_five_per_trader_is_refused_and_so_is_an_exact_run_past_its_size() -> None:
    """Found by review: --releverage 100 on 3,000 accounts planned 1.26M pairs and ran the exact
    engine on them with no word."""
    from solvent.stress.entrants import MAX_PAIRS_PER_ACCOUNT

    prices = load_path_file(replay_file("bf_2020_03_12"), None, Decimal("0.1"))
    book = generate_book(BookParams(accounts=100, seed=1, start_price=prices[0]))
    path = scenario_path("bf_2020_03_12", book.params.start_price, Decimal("0.5"), len(prices) - 1, book.tick)
    with pytest.raises(InvalidInput, match=f"more than {MAX_PAIRS_PER_ACCOUNT * 100:,} new pairs"):
        plan_entrants(book, path, Decimal(100))
    from solvent.limits import STRESS_EXACT_MAX_ACCOUNTS

    big = generate_book(BookParams(accounts=STRESS_EXACT_MAX_ACCOUNTS - 10, seed=1, start_price=prices[0]))
    short = scenario_path("bf_2020_03_12", big.params.start_price, Decimal("0.5"), 30, big.tick)
    with pytest.raises(InvalidInput, match="the exact engine takes at most 50,000 accounts"):
        run_cascade(big, short, "exact", CascadeParams(releverage=Decimal(1)))


def test_simulate_refuses_a_rate_without_its_entrants() -> None:
    from solvent.stress.cascade import make_venue, simulate

    book = generate_book(BookParams(accounts=20, seed=1, start_price=Decimal(60000)))
    with pytest.raises(InvalidInput, match="releverage needs the run's entrants"):
        simulate(make_venue(book, "fast"), book, [Decimal(60000), Decimal(59000)], CascadeParams(releverage=Decimal(1)))


def test_a_higher_rate_opens_the_same_first_pairs_with_the_same_leverages() -> None:
    """Found by review: the leverages were drawn after every size, so a rate of 1.01 gave the
    first pairs other leverages than 1 did."""
    prices = load_path_file(replay_file("tariff_2025_10_10"), None, Decimal("0.1"))
    book = generate_book(BookParams(accounts=2000, seed=2, start_price=prices[0]))
    path = scenario_path("tariff_2025_10_10", book.params.start_price, Decimal("0.5"), 300, book.tick)
    low, high = plan_entrants(book, path, Decimal(1)), plan_entrants(book, path, Decimal("1.01"))
    assert low is not None and high is not None
    n = len(low.pool.notional)
    assert high.pool.notional[:n] == low.pool.notional
    assert high.pool.leverage[:2 * n].tolist() == low.pool.leverage.tolist()


def test_the_summary_shows_the_target_beside_what_opened(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A pair opens whole, so a small book's pairs can fall short of the run's amount; the
    summary says both, and --engine auto runs the fast model under re-leveraging."""
    assert main(["simulate", "--scenario", "crash", "--steps", "30", "--accounts", "100", "--releverage", "0.5",
                 "--out", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    entrants = report["releverage"]
    assert report["engine"] == "fast"
    assert Decimal(entrants["notional_opened_quote"]) <= Decimal(entrants["notional_target_quote"])
