"""The fast cascade takes the exact engine's decisions on every bundled venue, linear and inverse.

The CI comparison runs 2,000 accounts per venue (both engines, same seed): the JSON digest
of every decision must be equal. The hand-worked books below pin each rule the fast loop has
to reproduce (MM on entry value, the strict trigger, a rate worth a fraction of a money unit,
an instrument without a tick, rows too large for int64; on inverse books: the coin PnL
quotient, MM at the mark and on entry value, an account at its MM to the last rational digit),
with the expected figures computed by hand in the docstrings, not taken from either engine.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import numpy as np
import pytest

from solvent.errors import InvalidInput
from solvent.risk.venues import LiquidationTrigger, VenueProfile, bundled_venues, load_venue
from solvent.stress import BookParams, CascadeParams, ImpactParams, SyntheticBook, generate_book, run_cascade, simulate
from solvent.stress.book import default_symbol, half_even_quotient
from solvent.stress.cascade import make_venue
from solvent.stress.cascade_exact import ExactVenue
from solvent.stress.cascade_fast import FastVenue
from solvent.stress.cascade_fast_inverse import InverseFastVenue
from solvent.stress.scenarios import scenario_path
from solvent.units import round_down

VENUES = bundled_venues()


def test_every_bundled_venue_is_compared() -> None:
    assert VENUES == ["binance-coinm", "binance-usdm", "bitmex", "bybit-inverse", "bybit-linear", "drift", "dydx-v4",
                      "hyperliquid"]


@pytest.mark.parametrize("venue", VENUES)
def test_fast_and_exact_give_the_same_digest_on_2000_accounts(venue: str) -> None:
    book = generate_book(BookParams(accounts=2_000, seed=7, venue=venue))
    path = scenario_path("crash", book.params.start_price, D("0.20"), 60, book.tick)
    fast = run_cascade(book, path, "fast")
    exact = run_cascade(book, path, "exact")
    assert len(fast.liquidations) > 500
    assert [s.liquidated for s in fast.steps] == [s.liquidated for s in exact.steps]
    assert fast.digest() == exact.digest()


@pytest.mark.parametrize("venue", VENUES)
def test_shorts_squeezed_by_a_rise_are_liquidated_alike(venue: str) -> None:
    book = generate_book(BookParams(accounts=300, seed=2, venue=venue, long_share=0.3))
    start = book.params.start_price
    path = [round_down(start * (1 + D("0.25") * t / 30), book.tick) for t in range(31)]
    fast, exact = run_cascade(book, path, "fast"), run_cascade(book, path, "exact")
    assert fast.summary()["liquidated_short_notional"] != "0"
    assert fast.digest() == exact.digest()


@pytest.mark.parametrize("venue", ["bybit-linear", "hyperliquid"])
def test_orders_the_book_cannot_take_are_retried_alike(venue: str) -> None:
    """Orders above 0.3 % of the depth are refused: those accounts stay due and are retried."""
    book = generate_book(BookParams(accounts=300, seed=4, venue=venue))
    path = scenario_path("crash", book.params.start_price, D("0.20"), 60, book.tick)
    params = CascadeParams(ImpactParams(max_depth_fraction=D("0.003")))
    fast, exact = run_cascade(book, path, "fast", params), run_cascade(book, path, "exact", params)
    assert len(fast.liquidations) < len(run_cascade(book, path, "fast").liquidations)
    assert fast.digest() == exact.digest()


def test_a_drift_size_premium_is_taken_per_position() -> None:
    """Drift with imf_factor 0.02: MM ratio max(0.05, 0.04 + 0.02 × sqrt(size)) per position."""
    drift = load_venue("drift")
    profile = replace(drift, rules={s: replace(r, imf_factor=D("0.02")) for s, r in drift.rules.items()})
    book = generate_book(BookParams(accounts=300, seed=3, venue="drift"), profile=profile)
    path = scenario_path("crash", book.params.start_price, D("0.20"), 60, book.tick)
    fast, exact = run_cascade(book, path, "fast"), run_cascade(book, path, "exact")
    plain = generate_book(BookParams(accounts=300, seed=3, venue="drift"))
    assert len(set(FastVenue(book).acc_rate.tolist())) > 10  # a rate per position size
    assert fast.digest() != run_cascade(plain, path, "fast").digest()
    assert fast.digest() == exact.digest()


@pytest.mark.parametrize(("venue", "symbol"), [
    ("binance-usdm", "BTCUSDT"), ("bitmex", "ETHUSDT"), ("bybit-linear", "BTCUSDT"), ("drift", "BTC-PERP"),
    ("dydx-v4", "BTC-USD"), ("hyperliquid", "BTC"), ("binance-coinm", "BTCUSD_PERP"), ("bybit-inverse", "BTCUSD"),
])
def test_each_venue_trades_its_btc_perpetual_by_default_linear_first(venue: str, symbol: str) -> None:
    assert default_symbol(load_venue(venue)) == symbol


def test_a_quotient_is_rounded_half_to_even() -> None:
    """5/2 = 2.5 → 2, 7/2 = 3.5 → 4, 7/3 = 2.33 → 2, 8/3 = 2.67 → 3, and the negatives alike
    (−2.5 → −2, −3.5 → −4, −2.67 → −3): the rounding of ``contract_value.traded``."""
    num = np.asarray([5, 7, 7, 8, -5, -7, -8, 6], dtype=np.int64)
    den = np.asarray([2, 2, 3, 3, 2, 2, 3, 3], dtype=np.int64)
    assert half_even_quotient(num, den).tolist() == [2, 4, 2, 3, -2, -4, -3, 2]


@pytest.mark.parametrize("venue", ["binance-coinm", "bybit-inverse"])
def test_an_inverse_book_holds_the_engines_own_coin_costs(venue: str) -> None:
    """Each trader's cost is the fill's coin value rounded half to even to 10^-8, as the
    engine books it; the fund and the deposits are in the coin. ``mm`` trades both ways, so
    the engine realises PnL into its balance as it goes; the book keeps the sum of its fills
    as cost instead. Its balance − cost, and so its equity at any mark, is the same (a
    trade moves ``balance − cost`` by exactly ``−V(t, P)``, ``engine/ledger.py``)."""
    book = generate_book(BookParams(accounts=400, seed=5, venue=venue))
    assert book.inverse and book.settle == "BTC" and book.lot == 1
    state = ExactVenue(book).engine.state
    for a, aid in enumerate(book.ids()):
        (pos,) = [p for p in state.accounts[aid].positions.values() if p.qty]
        balance = state.accounts[aid].balances["BTC"]
        deposit = book.money(int(book.deposit_units[a]))
        assert pos.qty == book.qty(a), aid
        if aid == "mm":
            assert balance - pos.cost == deposit - book.cost_of(a)
            assert balance != deposit  # it did realise PnL
        else:
            assert (pos.cost, balance) == (book.cost_of(a), deposit), aid
    assert state.insurance_fund == book.money(book.insurance_units)


@pytest.mark.parametrize(("venue", "tick", "lot", "start"), [
    # the published tick and lot
    ("binance-usdm", D("0.1"), D("0.001"), D("116975.9")),
    # tick 1: the start price is rounded down to it
    ("dydx-v4", D("1"), D("0.0001"), D("116975")),
    # no tick: 5 significant figures at 116,975.9 → whole numbers; lot 0.00001 × 1 = 1,000 units
    ("hyperliquid", D("1"), D("0.00001"), D("116975")),
    # no tick, no lot: 8 significant figures → 0.01; lot 1e-8 × 0.01 = 1/100 unit → step 100 × 1e-8
    ("drift", D("0.01"), D("0.000001"), D("116975.9")),
    # tick 0.05, no lot: 1e-8 × 0.05 = 1/20 unit → step 20 × 1e-8
    ("bitmex", D("0.05"), D("0.0000002"), D("116975.9")),
])
def test_the_book_takes_the_venue_grids(venue: str, tick: D, lot: D, start: D) -> None:
    book = generate_book(BookParams(accounts=10, venue=venue))
    assert (book.tick, book.lot, book.params.start_price) == (tick, lot, start)
    assert book.lot % book.instrument.lot == 0


# -- hand-worked books ----------------------------------------------------------------------


def _book(profile: VenueProfile, symbol: str, lot: D, tick: D, lots: list[int], entry_ticks: list[int],
          deposits_units: list[int]) -> SyntheticBook:
    """Accounts 0..n−2 and ``mm`` last; each entry ``entry_ticks``; deposits in 10^-8."""
    qty = np.asarray(lots, dtype=np.int64)
    entry = np.asarray(entry_ticks, dtype=np.int64)
    return SyntheticBook(
        params=BookParams(accounts=len(lots) - 1, venue=profile.name, symbol=symbol,
                          start_price=int(entry[-1]) * tick), profile=profile,
        table=profile.rules_for(symbol).maintenance_table(lot), lot=lot, tick=tick,
        qty_lots=qty, entry_ticks=entry, cost=qty * entry,
        deposit_units=np.asarray(deposits_units, dtype=np.int64),
        leverage=np.ones(len(lots), dtype=np.int64), insurance_units=1000 * 10**8,
    )


def _entry_book(venue: str) -> SyntheticBook:
    """A0 long 1 BTC at 100,000.0 with 2,495 USDT; mm short 1 BTC with 1,000,000."""
    return _book(load_venue(venue), "BTCUSDT", D("0.001"), D("0.1"), [1000, -1000], [1_000_000, 1_000_000],
                 [2495 * 10**8, 10**14])


def test_bybit_measures_mm_on_entry_value() -> None:
    """Bybit BTCUSDT tier 1: MM = 0.5 % of the entry value 100,000 = 500, whatever the mark.

    mark 98,005.1: equity 2,495 − 1,994.9 = 500.1 > 500 → safe;
    mark 98,005.0: equity 500 ≤ 500 → due (Bybit liquidates at equity ≤ MM);
    mark 98,000.0: equity 495 → due, although MM at the mark (490) would leave it safe.
    """
    fast = FastVenue(_entry_book("bybit-linear"))
    assert fast.due(980_051).tolist() == []
    assert fast.due(980_050).tolist() == [0]
    assert fast.due(980_000).tolist() == [0]


@pytest.mark.parametrize("engine", ["fast", "exact"])
def test_both_engines_liquidate_on_entry_value(engine: str) -> None:
    book = _entry_book("bybit-linear")
    result = simulate(make_venue(book, engine), book, [D("100000.0"), D("98000.0")],  # type: ignore[arg-type]
                      CascadeParams(ImpactParams(depth_quote=D(10_000_000), thinning=D(0))))
    assert result.steps[0].liquidated == (0,)


def test_dydx_needs_equity_below_mm() -> None:
    """dYdX BTC-USD: MM = 2 % × 60 % = 1.2 % of the notional at the mark. A0 long 1 BTC at
    100,000 with 3,176 USDC: at 98,000 equity 1,176 = MM 1,176 → not liquidatable on dYdX
    (equity < MM), liquidatable on a venue whose trigger is equity ≤ MM; at 97,999 equity
    1,175 < MM 1,175.988 → due."""
    dydx = load_venue("dydx-v4")

    def book(profile: VenueProfile) -> SyntheticBook:
        return _book(profile, "BTC-USD", D("0.0001"), D("1"), [10_000, -10_000], [100_000, 100_000],
                     [3176 * 10**8, 10**14])

    assert FastVenue(book(dydx)).due(98_000).tolist() == []
    assert FastVenue(book(dydx)).due(97_999).tolist() == [0]
    at_or_below = replace(dydx, liquidation_trigger=LiquidationTrigger.AT_OR_BELOW)
    assert FastVenue(book(at_or_below)).due(98_000).tolist() == [0]


def test_hyperliquid_mm_worth_half_a_money_unit_is_compared_exactly() -> None:
    """Hyperliquid BTC: 1 lot = 0.00001 BTC at 100,001: MM = 1.25 % × 1.00001 = 0.0125001250
    USDC = 1,250,012.5 units of 1e-8. Equity 0.01250012 < MM → due; 0.01250013 > MM → safe."""
    hyperliquid = load_venue("hyperliquid")

    def due(deposit_units: int) -> list[int]:
        book = _book(hyperliquid, "BTC", D("0.00001"), D("1"), [1, -1], [100_001, 100_001],
                     [deposit_units, 10**8])
        return FastVenue(book).due(100_001).tolist()

    assert due(1_250_012) == [0]
    assert due(1_250_013) == []


@pytest.mark.parametrize("engine", ["fast", "exact"])
def test_drift_rounds_a_liquidation_price_to_the_money_quantum(engine: str) -> None:
    """Drift BTC-PERP has no tick, so the engine's price step is the money quantum 10^-8.

    A0 long 1 BTC at 100,000 with 5,400 USDC; mark 95,000: equity 400 < MM 5 % × 95,000.
    Order price 95,000 × (1 − 0.01 × sqrt(95,000 / 1,000,000)) = 95,000 × (1 − 0.01 ×
    0.308220700148…) = 94,707.190334858973…, rounded down (a long's close sells) to
    94,707.19033485. Equity there 5,400 − (100,000 − 94,707.19033485) = 107.19033485; the fee
    0.75 % × 94,707.19… ≈ 710 exceeds it, so the fee is all of it and no deficit is left.
    """
    drift = load_venue("drift")
    book = _book(drift, "BTC-PERP", D("0.000001"), D("0.01"), [1_000_000, -1_000_000],
                 [10_000_000, 10_000_000], [5400 * 10**8, 10**14])
    params = CascadeParams(ImpactParams(depth_quote=D(1_000_000), k_cascade=D("0.1"), k_order=D("0.01"),
                                        thinning=D(0)))
    result = simulate(make_venue(book, engine), book, [D("100000"), D("95000")], params)  # type: ignore[arg-type]
    first = result.liquidations[0]
    assert (first.account, first.price, first.deficit_quote) == (0, D("94707.19033485"), 0)
    assert first.fee_quote == D("107.19033485")


def test_rows_too_large_for_int64_are_screened_exactly() -> None:
    """A0 long 1,000,000 BTC (10^9 lots): |lots| × mark × U = 10^9 × 10^6 × 10^4 = 10^19 > 2^63.
    Its deposit puts it exactly at its trigger at 99,000.0 (Binance BTCUSDT, equity ≤ MM);
    the screen is checked against Decimal at marks around it, for A0, a small A1 and mm."""
    profile = load_venue("binance-usdm")
    table = profile.rules_for("BTCUSDT").maintenance_table(D(1))
    size, entry, trigger = D(1_000_000), D(100_000), D("99000.0")
    deposit = table.maintenance_margin(size * trigger) - size * (trigger - entry)
    book = _book(profile, "BTCUSDT", D("0.001"), D("0.1"), [10**9, 1000, -(10**9 + 1000)],
                 [1_000_000, 1_000_000, 1_000_000], [int(deposit.scaleb(8)), 2000 * 10**8, 9 * 10**18])
    fast = FastVenue(book)
    assert not fast._small(990_000)[0]
    for ticks in (989_990, 989_999, 990_000, 990_001, 990_100, 1_020_000, 500_000):
        mark = ticks * D("0.1")
        expected = []
        for a in range(book.size):
            q = book.qty(a)
            equity = D(int(book.deposit_units[a])).scaleb(-8) + q * (mark - entry)
            if profile.is_liquidatable(equity, table.maintenance_margin(abs(q) * mark)):
                expected.append(a)
        assert fast.due(ticks).tolist() == expected, ticks
    assert fast.due(990_000).tolist()[:1] == [0] and fast.due(990_001).tolist()[:1] != [0]


def test_a_million_accounts_are_screened_without_overflow() -> None:
    """At 1,000,000 accounts the counterparty's row is beyond the int64 bounds (its deposit is
    the book's gross notional): it is screened in Python integers, the rest in int64."""
    book = generate_book(BookParams(accounts=1_000_000, seed=7))
    fast = FastVenue(book)
    start = int(book.params.start_price / book.tick)
    assert np.flatnonzero(~fast._small(start)).tolist() == [book.size - 1]
    assert fast.due(start).tolist() == []
    crash = int(book.params.start_price * D("0.8") / book.tick)
    assert 100_000 < len(fast.due(crash)) < 1_000_000


# -- hand-worked inverse books ----------------------------------------------------------------


def _coin_book(venue: str, symbol: str, tick: D, lots: list[int], entry_ticks: list[int], cost_units: list[int],
               deposits_units: list[int]) -> SyntheticBook:
    """Like ``_book``, with the coin costs (10^-8 units) given by hand; lot 1 contract."""
    profile = load_venue(venue)
    qty = np.asarray(lots, dtype=np.int64)
    return SyntheticBook(
        params=BookParams(accounts=len(lots) - 1, venue=venue, symbol=symbol, start_price=entry_ticks[-1] * tick),
        profile=profile, table=profile.rules_for(symbol).maintenance_table(D(1)), lot=D(1), tick=tick,
        qty_lots=qty, entry_ticks=np.asarray(entry_ticks, dtype=np.int64),
        cost=np.asarray(cost_units, dtype=np.int64), deposit_units=np.asarray(deposits_units, dtype=np.int64),
        leverage=np.ones(len(lots), dtype=np.int64), insurance_units=1000 * 10**8,
    )


def _coinm_book(deposit_units: int) -> SyntheticBook:
    """Binance COIN-M BTCUSD_PERP (100 USD contracts, tick 0.1): A0 long 100 contracts at
    100,000.0, cost −10,000 / 100,000 = −0.1 BTC; mm short 100, cost +0.1 BTC, 10 BTC."""
    return _coin_book("binance-coinm", "BTCUSD_PERP", D("0.1"), [100, -100], [1_000_000, 1_000_000],
                      [-10_000_000, 10_000_000], [deposit_units, 10**9])


def test_coinm_liquidates_at_equity_at_or_below_mm_in_coin() -> None:
    """Tier 1 (up to 5 BTC): MM 0.4 % of the coin notional 10,000 / m, amount 0.
    Deposit 0.005 BTC: equity = 0.005 + 0.1 − 10,000 / m = 0.105 − 10,000 / m, MM = 40 / m;
    due ⇔ 0.105 ≤ 10,040 / m ⇔ m ≤ 95,619.047619…: safe at 95,619.1, due at 95,619.0."""
    fast = InverseFastVenue(_coinm_book(500_000))
    assert fast.due(956_191).tolist() == []
    assert fast.due(956_190).tolist() == [0]
    assert fast.due(900_000).tolist() == [0]


def test_an_account_at_its_mm_to_the_last_rational_digit_is_decided_as_the_engine_decides() -> None:
    """Deposit 0.025 BTC at mark 80,320.0: equity 0.125 − 10,000/80,320 and MM 40/80,320 are
    equal as fractions (10,040 / 80,320 = 0.125). The engine carries 40 significant digits:
    10,000/80,320 = 0.1245019920 3187250996 0159362549 8007968127|49… rounds down, so
    equity = 0.125 − that = 0.0004980079681274900398406374501992031873, while
    MM = 0.004 × that = 0.0004980079681274900398406374501992031872508 is below it by about
    5 × 10^-41: the engine does not liquidate. The float screen cannot see that difference, so
    the row is confirmed in Decimal, and the fast cascade agrees. One tick lower, at 80,319.9,
    10,040 / m > 0.125 and the account is due."""
    fast = InverseFastVenue(_coinm_book(2_500_000))
    assert fast.due(803_200).tolist() == []
    assert fast.confirmed == 1
    assert fast.due(803_199).tolist() == [0]
    for engine in ("fast", "exact"):
        book = _coinm_book(2_500_000)
        result = simulate(make_venue(book, engine), book, [D("100000.0"), D("80320.0")],  # type: ignore[arg-type]
                          CascadeParams(ImpactParams(depth_quote=D(10**9), thinning=D(0))))
        assert result.liquidations == (), engine


@pytest.mark.parametrize("engine", ["fast", "exact"])
def test_a_coinm_close_realises_the_coin_loss_rounded_as_a_fill(engine: str) -> None:
    """Deposit 0.005 BTC, mark 95,000.0 (depth 1,000,000 USD, k_order 0.01): the order is
    shown as 10,000 / 95,000 BTC, 10,000 USD at the mark, so the price is 95,000 × (1 − 0.01 ×
    sqrt(0.01)) = 94,905.0. Coin value of the close: 10,000 / 94,905 = 0.105368526…, rounded
    half to even to 0.10536853; realised −0.10536853 + 0.1 = −0.00536853, so the balance is
    0.005 − 0.00536853 = −0.00036853: the fund pays 0.00036853. The equity at 94,905 is below
    zero, so the fee (0.0125 × 0.10536853) is capped at 0."""
    book = _coinm_book(500_000)
    params = CascadeParams(ImpactParams(depth_quote=D(1_000_000), k_cascade=D("0.1"), k_order=D("0.01"),
                                        thinning=D(0)))
    result = simulate(make_venue(book, engine), book, [D("100000.0"), D("95000.0")], params)  # type: ignore[arg-type]
    (liq,) = result.liquidations
    assert (liq.account, liq.qty_base, liq.price, liq.fee_quote) == (0, D(100), D("94905.0"), 0)
    assert (liq.deficit_quote, liq.socialised_quote, liq.notional_quote) == (D("0.00036853"), 0, D(10_000))


def _bybit_inverse_book() -> SyntheticBook:
    """Bybit BTCUSD (1 USD contracts, tick 0.5, MM 0.5 % of the entry value): A0 long 10,000
    contracts at 100,000.0, cost −0.1 BTC, deposit 0.0025 BTC; mm short, 10 BTC."""
    return _coin_book("bybit-inverse", "BTCUSD", D("0.5"), [10_000, -10_000], [200_000, 200_000],
                      [-10_000_000, 10_000_000], [250_000, 10**9])


def test_bybit_inverse_measures_mm_on_entry_value_in_coin() -> None:
    """MM = 0.5 % × 0.1 = 0.0005 BTC whatever the mark; equity = 0.1025 − 10,000 / m.
    due ⇔ 10,000 / m ≥ 0.102 ⇔ m ≤ 98,039.2156…: safe at 98,039.5, due at 98,039.0. At
    98,040.0 it is safe, though MM at the mark (0.005 × 10,000 / 98,040 = 0.00051) would make
    it due (10,050 / 98,040 = 0.102509… ≥ 0.1025)."""
    fast = InverseFastVenue(_bybit_inverse_book())
    assert fast.due(196_080).tolist() == []
    assert fast.due(196_079).tolist() == []
    assert fast.due(196_078).tolist() == [0]
    for engine in ("fast", "exact"):
        book = _bybit_inverse_book()
        result = simulate(make_venue(book, engine), book, [D("100000.0"), D("98040.0"), D("98039.0")],  # type: ignore[arg-type]
                          CascadeParams(ImpactParams(depth_quote=D(10**9), thinning=D(0))))
        assert [s.liquidated for s in result.steps] == [(), (0,)], engine


@pytest.mark.parametrize("venue", ["binance-usdm", "binance-coinm"])
def test_an_impact_that_drives_the_mark_to_one_tick_runs_alike(venue: str) -> None:
    """Depth at 1 % of the open interest: the cascade's own sales push the mark to one tick.
    A sale there rounds down to 0, which no book takes (the order waits, as for a thin book);
    the exact engine raised DivisionByZero on the inverse close and refused the linear fill
    at 0, and its jump guard held the mark's return from one tick, while the fast loop ran on."""
    book = generate_book(BookParams(accounts=300, seed=3, venue=venue))
    path = scenario_path("crash", book.params.start_price, D("0.30"), 60, book.tick)
    params = CascadeParams(ImpactParams(depth_to_open_interest=D("0.01")))
    fast, exact = run_cascade(book, path, "fast", params), run_cascade(book, path, "exact", params)
    assert D(fast.summary()["lowest_mark"]) == book.tick
    assert fast.digest() == exact.digest()


def test_a_sale_rounded_down_to_nothing_has_no_price() -> None:
    """Mark 0.1 on a 0.1 tick, selling 100 of notional into a depth of 400 at k = 0.5:
    0.1 × (1 − 0.5 × sqrt(0.25)) = 0.075, rounded down to the tick: 0, no price. A buy at
    0.1 × 1.25 = 0.125 rounds up to 0.2."""
    from solvent.engine.liquidity import SquareRootImpact
    from solvent.model import Side

    impact = SquareRootImpact({"X": D(400)}, k=D("0.5"))
    assert impact.execution_price("X", Side.SHORT, D(1000), D("0.1"), D("0.1")) is None
    assert impact.execution_price("X", Side.LONG, D(1000), D("0.1"), D("0.1")) == D("0.2")


def test_a_step_time_the_engine_refuses_stops_the_exact_run() -> None:
    """A step's ``AdvanceTime`` that the engine refuses (here: back in time) would leave the run on
    the old clock, funding and cooldowns unmoved; it is an invariant violation, not passed over."""
    from solvent.errors import InvariantViolation

    venue = ExactVenue(generate_book(BookParams(accounts=50, seed=3)))
    venue.start_step(60_000)
    with pytest.raises(InvariantViolation, match="refused at a step's start"):
        venue.start_step(0)


def test_tiers_past_the_fast_screen_are_refused_in_one_line_and_run_exactly() -> None:
    """Found by review: SOLUSDT at 150 (tick 0.00001, lot 0.001: one step at one tick is 10^-8
    USDT, so D = 2,000 and the last tier's 66,731,475 USDT is 1.3 × 10^19 units, past int64)
    ended in an OverflowError. The fast model now refuses it by name; the exact engine runs it."""
    book = generate_book(BookParams(accounts=60, seed=3, symbol="SOLUSDT", start_price=D(150)))
    path = scenario_path("crash", book.params.start_price, D("0.30"), 10, book.tick)
    with pytest.raises(InvalidInput, match="run it with --engine exact"):
        run_cascade(book, path, "fast")
    assert run_cascade(book, path, "exact").steps
