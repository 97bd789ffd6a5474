"""The fast cascade takes the exact engine's decisions on every bundled linear venue.

The CI comparison runs 2,000 accounts per venue (both engines, same seed): the JSON digest
of every decision must be equal. The hand-worked books below pin each rule the fast loop has
to reproduce (MM on entry value, the strict trigger, a rate worth a fraction of a money unit,
an instrument without a tick, rows too large for int64), with the expected figures computed
by hand in the docstrings, not taken from either engine.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import numpy as np
import pytest

from solvent.errors import InvalidInput
from solvent.risk.venues import LiquidationTrigger, VenueProfile, bundled_venues, load_venue
from solvent.stress import BookParams, CascadeParams, ImpactParams, SyntheticBook, generate_book, run_cascade, simulate
from solvent.stress.book import default_symbol, linear_symbols
from solvent.stress.cascade import make_venue
from solvent.stress.cascade_fast import FastVenue
from solvent.stress.scenarios import scenario_path
from solvent.units import round_down

LINEAR_VENUES = [v for v in bundled_venues() if linear_symbols(load_venue(v))]


def test_the_linear_venues_are_the_six_bundled_ones() -> None:
    assert LINEAR_VENUES == ["binance-usdm", "bitmex", "bybit-linear", "drift", "dydx-v4", "hyperliquid"]


@pytest.mark.parametrize("venue", LINEAR_VENUES)
def test_fast_and_exact_give_the_same_digest_on_2000_accounts(venue: str) -> None:
    book = generate_book(BookParams(accounts=2_000, seed=7, venue=venue))
    path = scenario_path("crash", book.params.start_price, D("0.20"), 60, book.tick)
    fast = run_cascade(book, path, "fast")
    exact = run_cascade(book, path, "exact")
    assert len(fast.liquidations) > 500
    assert [s.liquidated for s in fast.steps] == [s.liquidated for s in exact.steps]
    assert fast.digest() == exact.digest()


@pytest.mark.parametrize("venue", LINEAR_VENUES)
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
    ("dydx-v4", "BTC-USD"), ("hyperliquid", "BTC"),
])
def test_each_venue_trades_its_btc_linear_perpetual_by_default(venue: str, symbol: str) -> None:
    assert default_symbol(load_venue(venue)) == symbol


@pytest.mark.parametrize("venue", ["binance-coinm", "bybit-inverse"])
def test_an_inverse_only_venue_has_no_book(venue: str) -> None:
    with pytest.raises(InvalidInput, match="inverse"):
        generate_book(BookParams(accounts=10, venue=venue))


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
        qty_lots=qty, entry_ticks=entry, cost_lot_ticks=qty * entry,
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
