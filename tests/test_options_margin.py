"""Standard and portfolio (scenario) option margin against the public vectors of
``shared/vectors/options.md`` (TV-16..TV-19, TV-21, TV-23, TV-24, TV-29, TV-30; expected values
copied from there or computed by hand in the test), and its two properties: a hedged book
needs no more than its legs' standard margins, and a naked short at least its extended-table
loss."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvent.errors import InvalidInput
from solvent.options import load_option_rules, portfolio_margin, price, read_portfolio, scan, standard_margin
from solvent.options.margin import scenario_grid, shocked_vol
from solvent.options.rules import OptionRules, read_option_rules

THIRTY_DAYS_BEFORE = "2027-02-25T08:00:00Z"
"""30 days of 365-day years before the 27MAR27 expiry (08:00 UTC)."""


def _portfolio(positions: list[dict[str, str]], index: str = "100000", now: str = THIRTY_DAYS_BEFORE,
               wallet: dict[str, str] | None = None) -> Any:
    return read_portfolio({"now": now, "index": {"BTC": index}, "wallet": wallet or {}, "positions": positions})


def _rules(**scenarios: object) -> OptionRules:
    base: dict[str, object] = {"price_range": "0.16", "price_steps": 4, "vol_up": "0.5", "vol_down": "0.3",
                               "im_multiple": "1"}
    return read_option_rules({
        "name": "test", "provenance": "a test", "method": "scenarios", "scenarios": {**base, **scenarios},
        "futures": {"im_base": "0.02", "mm_base": "0.01"}, "quantum": {"BTC": "0.00000001", "USDC": "0.000001"},
    }, "test rules")


TV16 = {"extended_moves": ["-0.66", "-0.33", "0.5", "1", "2", "3", "4", "5"], "extended_dampener": "0.16"}


# -- standard ----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "mark", "im", "mm"), [
    ("BTC-26MAR27-55000-C", "0.01", "0.11", "0.085"),   # OTM 5,000 / 50,000 = 0.10: max(0.05, 0.10) + 0.01
    ("BTC-26MAR27-45000-C", "0.12", "0.27", "0.195"),   # in the money: max(0.15, 0.10) + 0.12
    ("BTC-26MAR27-45000-P", "0.005", "0.105", "0.08"),  # OTM put: max(0.05, 0.10) + 0.005; MM 0.075 + 0.005
])
def test_tv29_deribit_standard_margin_of_a_short_option(name: str, mark: str, im: str, mm: str) -> None:
    book = _portfolio([{"instrument": name, "qty": "-1", "mark": mark, "vol": "0.6"}], index="50000",
                      now="2026-12-05T00:00:00Z")
    report = standard_margin(book, load_option_rules("deribit-standard"))
    assert (report.initial_margin, report.maintenance_margin) == (Decimal(im), Decimal(mm))
    two = _portfolio([{"instrument": name, "qty": "-2", "mark": mark, "vol": "0.6"}], index="50000",
                     now="2026-12-05T00:00:00Z")
    assert standard_margin(two, load_option_rules("deribit-standard")).maintenance_margin == 2 * Decimal(mm)


def test_a_long_option_needs_no_margin_beyond_its_premium() -> None:
    book = _portfolio([{"instrument": "BTC-26MAR27-55000-C", "qty": "3", "mark": "0.01", "vol": "0.6"}],
                      index="50000", now="2026-12-05T00:00:00Z", wallet={"BTC": "1"})
    report = standard_margin(book, load_option_rules("deribit-standard"))
    assert (report.initial_margin, report.maintenance_margin) == (0, 0)
    assert report.equity == Decimal("1") + 3 * Decimal("0.01")


def test_the_linear_option_is_margined_in_the_same_fractions_of_the_index() -> None:
    """BTC_USDC short call K 55,000 at index 50,000, mark 500 USDC: IM max(0.15 × 50,000 −
    5,000, 0.10 × 50,000) + 500 = 5,500; MM 0.075 × 50,000 + 500 = 4,250."""
    book = _portfolio([{"instrument": "BTC_USDC-26MAR27-55000-C", "qty": "-1", "mark": "500", "vol": "0.6"}],
                      index="50000", now="2026-12-05T00:00:00Z")
    report = standard_margin(book, load_option_rules("deribit-standard"))
    assert (report.initial_margin, report.maintenance_margin, report.settle) == (5500, 4250, "USDC")


@pytest.mark.parametrize(("size", "im_rate"), [("25", "0.02125"), ("350", "0.0375")])
def test_tv30_deribit_futures_initial_margin_rises_with_size(size: str, im_rate: str) -> None:
    book = _portfolio([{"instrument": "BTC-PERPETUAL", "qty": size, "mark": "100000"}])
    report = standard_margin(book, load_option_rules("deribit-standard"))
    assert report.initial_margin == Decimal(im_rate) * Decimal(size)  # 350 BTC: 13.125 BTC
    if size == "350":
        assert report.initial_margin == Decimal("13.125")


# -- scenarios ---------------------------------------------------------------------------


def test_tv16_inverse_short_call_regular_grid_dominates() -> None:
    """Short 1 inverse call F = index = 100,000, K 110,000, 30 days, σ 60 %: the worst regular
    scenario loses 0.09525431 BTC at +16 % vol up; the damped extended table's worst is
    −0.07879656 at +50 %, so the regular grid decides."""
    book = _portfolio([{"instrument": "BTC-27MAR27-110000-C", "qty": "-1", "mark": "0.0327", "vol": "0.6"}])
    report = portfolio_margin(book, _rules(**TV16))
    assert report.worst is not None
    assert (report.worst.scenario.move, report.worst.scenario.vol, report.worst.scenario.extended) == (
        Decimal("0.16"), "up", False)
    assert report.worst.pnl == pytest.approx(-0.09525431, abs=5e-9)
    assert report.maintenance_margin == Decimal("0.09525431")  # 0.0952543074 rounded up to the satoshi
    extended = min((r for r in report.scenarios if r.scenario.extended), key=lambda r: r.pnl)
    assert (extended.scenario.move, round(extended.pnl, 8)) == (Decimal("0.5"), -0.07879656)


def test_tv16_the_same_call_linear_in_usd_the_extended_table_dominates() -> None:
    book = _portfolio([{"instrument": "BTC_USDC-27MAR27-110000-C", "qty": "-1", "mark": "3270", "vol": "0.6"}])
    report = portfolio_margin(book, _rules(**TV16))
    regular = min((r for r in report.scenarios if not r.scenario.extended), key=lambda r: r.pnl)
    assert round(regular.pnl, 2) == -11572.74
    assert report.worst is not None and report.worst.scenario.extended and report.worst.scenario.move == 5
    assert round(report.worst.pnl, 2) == -15575.35
    assert report.maintenance_margin == pytest.approx(Decimal("15575.35"), abs=Decimal("0.01"))


def test_tv17_the_volatility_shock_law_by_days_to_expiry() -> None:
    """Paradex's law: f = (30 / days)^p, p 0.30 under 30 days and 0.13 beyond; up 1 + 0.40 f,
    down 1 − 0.22 f. 7.5 days: f = 4^0.3 = 1.515717; 60 days: f = 0.5^0.13 = 0.913831."""
    rules = _rules(vol_up="0.40", vol_down="0.22", vol_power_short="0.30", vol_power_long="0.13").scenarios
    assert rules is not None
    assert shocked_vol(1.0, 7.5, "up", rules) == pytest.approx(1.606287, abs=1e-6)
    assert shocked_vol(1.0, 7.5, "down", rules) == pytest.approx(0.666542, abs=1e-6)
    assert shocked_vol(1.0, 60, "up", rules) == pytest.approx(1.365533, abs=1e-6)
    assert shocked_vol(1.0, 60, "down", rules) == pytest.approx(0.798957, abs=1e-6)
    assert shocked_vol(0.7, 60, "same", rules) == 0.7


def test_tv18_deribit_legacy_shock_at_15_days() -> None:
    """(30/15)^0.3 × 38 % = 46.78 %: the up leg multiplies σ by 1.4678."""
    rules = _rules(vol_up="0.38", vol_power_short="0.3").scenarios
    assert rules is not None
    assert shocked_vol(1.0, 15, "up", rules) == pytest.approx(1 + 2 ** 0.3 * 0.38, abs=1e-12)
    assert round(2 ** 0.3 * 0.38, 4) == 0.4678


def test_deribit_pm_floors_the_up_shock_at_its_minimum_volatility() -> None:
    rules = load_option_rules("deribit-pm").scenarios
    assert rules is not None
    assert shocked_vol(0.2, 30, "up", rules) == 0.5  # 0.2 × 1.5 = 0.3, floored at 50 %
    assert shocked_vol(0.6, 30, "up", rules) == pytest.approx(0.9)


def test_tv19_contingencies_per_net_short_strike_and_offsetting_futures() -> None:
    """+10 calls and −20 puts of one strike are net 10 short: 10 × 0.01 BTC = 0.10 BTC; +100 BTC
    of one future and −100 of another offset: 1 % of 100 BTC = 1 BTC."""
    book = _portfolio([
        {"instrument": "BTC-27MAR27-100000-C", "qty": "10", "mark": "0.05", "vol": "0.6"},
        {"instrument": "BTC-27MAR27-100000-P", "qty": "-20", "mark": "0.05", "vol": "0.6"},
        {"instrument": "BTC-PERPETUAL", "qty": "100", "mark": "100000"},
        {"instrument": "BTC-27MAR27", "qty": "-100", "mark": "100000"},
    ])
    report = portfolio_margin(book, load_option_rules("deribit-pm"))
    assert dict(report.contingencies) == {"net_short_options": Decimal("0.10"), "offsetting_futures": Decimal("1")}


def test_tv21_extended_weights_are_the_dampener_over_the_move() -> None:
    rules = load_option_rules("deribit-pm").scenarios
    assert rules is not None
    weights = [float(s.weight) for s in scenario_grid(rules) if s.extended]
    assert weights == pytest.approx([0.242424, 0.484848, 0.32, 0.16, 0.08, 0.053333, 0.04, 0.032], abs=1e-6)
    assert len([s for s in scenario_grid(rules) if not s.extended]) == 9 * 3


MCMILLAN_FUTURE = [0, 0, 3330, 3330, -3330, -3330, 6670, 6670, -6670, -6670, 10000, 10000, -10000, -10000, 7000,
                   -7000]
MCMILLAN_CALL = [460, -610, 2640, 1730, -1270, -2340, 5210, 4540, -2540, -3430, 8060, 7640, -3380, -3990, 3130,
                 -1500]


def test_tv23_scan_risk_of_mcmillans_span_arrays() -> None:
    future, worst = scan([[float(v) for v in MCMILLAN_FUTURE]])
    assert -future[worst] == 10_000
    call, worst = scan([[float(v) for v in MCMILLAN_CALL]])
    assert (-call[worst], worst + 1) == (3990, 14)
    covered, worst = scan([[float(v) for v in MCMILLAN_FUTURE], [-float(v) for v in MCMILLAN_CALL]])
    assert (-covered[worst], worst + 1) == (6620, 13)
    assert MCMILLAN_FUTURE[14] == 0.35 * 2 * 10_000  # the extreme move, weighted in the array


TV24_LONG_CALL_LOSS = [-994.20, 1205.91, -2574.49, -251.00, 364.42, 2361.43, -4371.72, -2010.71, 1502.84, 3233.48,
                       -6375.89, -4059.41, 2429.22, 3855.01, -4379.98, 1558.40]
SPAN_ORDER = [(0, "up"), (0, "down"), (1, "up"), (1, "down"), (-1, "up"), (-1, "down"), (2, "up"), (2, "down"),
              (-2, "up"), (-2, "down"), (3, "up"), (3, "down"), (-3, "up"), (-3, "down")]


def _span(positions: list[dict[str, str]]) -> Any:
    return portfolio_margin(_portfolio(positions), load_option_rules("span-16"))


def test_tv24_span_16_array_of_a_long_call() -> None:
    """F 100,000, K 105,000 call, 30 days, σ 60 %: scan range 10,000 in thirds, vol ±10
    points, one day ahead; ±2 scan ranges at 35 %. The array (loss positive) in SPAN's order."""
    call = {"instrument": "BTC_USDC-27MAR27-105000-C", "qty": "1", "mark": "4805", "vol": "0.6"}
    report = _span([call])
    assert len(report.scenarios) == 16
    pnl = {(round(float(r.scenario.move) * 30), r.scenario.vol, r.scenario.extended): r.pnl for r in report.scenarios}
    losses = [-pnl[(third, leg, False)] for third, leg in SPAN_ORDER]
    losses += [-pnl[(6, "same", True)], -pnl[(-6, "same", True)]]
    assert losses == pytest.approx(TV24_LONG_CALL_LOSS, abs=0.005)
    assert float(report.maintenance_margin) == pytest.approx(3855.01, abs=0.005)
    short = {**call, "qty": "-1"}
    assert float(_span([short]).maintenance_margin) == pytest.approx(6375.89, abs=0.005)
    future = {"instrument": "BTC_USDC-PERPETUAL", "qty": "1", "mark": "100000"}
    assert _span([future]).maintenance_margin == 10_000
    assert float(_span([future, short]).maintenance_margin) == pytest.approx(7570.78, abs=0.005)


# -- properties --------------------------------------------------------------------------


def _book(kind: str, short_strike: int, long_strike: int, vol: float, index: int) -> Any:
    """A short option hedged by a long one of the same kind and expiry, nearer the money."""
    letter = kind[0].upper()
    mark = price(kind, index, short_strike, vol, 30 / 365) / index  # type: ignore[arg-type]
    hedge = price(kind, index, long_strike, vol, 30 / 365) / index  # type: ignore[arg-type]
    return _portfolio([
        {"instrument": f"BTC-27MAR27-{short_strike}-{letter}", "qty": "-1", "mark": f"{max(mark, 1e-8):.8f}",
         "vol": str(vol)},
        {"instrument": f"BTC-27MAR27-{long_strike}-{letter}", "qty": "1", "mark": f"{max(hedge, 1e-8):.8f}",
         "vol": str(vol)},
    ], index=str(index))


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["call", "put"]), index=st.integers(20_000, 200_000), width=st.floats(0.01, 0.3),
       distance=st.floats(0.0, 0.3), vol=st.floats(0.2, 1.5))
def test_a_hedged_book_needs_no_more_than_its_legs_standard_margins(kind: str, index: int, width: float,
                                                                  distance: float, vol: float) -> None:
    sign = 1 if kind == "call" else -1
    near = round(index * (1 + sign * distance))
    far = round(index * (1 + sign * (distance + width)))
    if near <= 0 or far <= 0 or near == far:
        return
    book = _book(kind, far, near, vol, index)
    pm = portfolio_margin(book, load_option_rules("deribit-pm"))
    standard = standard_margin(book, load_option_rules("deribit-standard"))
    assert pm.maintenance_margin <= standard.maintenance_margin
    assert pm.initial_margin <= standard.initial_margin


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["call", "put"]), moneyness=st.floats(0.6, 1.6), vol=st.floats(0.2, 1.5),
       days=st.integers(1, 80))
def test_a_naked_short_needs_at_least_its_extended_table_loss(kind: str, moneyness: float, vol: float,
                                                              days: int) -> None:
    """The extended table recomputed here from Black-76 directly: each move m of −66 % ...
    +500 % at the up-leg volatility σ (1 + 0.5 (30/days)^p), at least 50 % (p 0.3 under 30
    days, else 0.13), the loss over the coin value now, weighted min(1, 0.16 / |m|)."""
    index, strike = 100_000.0, round(100_000 * moneyness)
    moment = datetime(2027, 3, 27, 8, tzinfo=UTC) - timedelta(days=days)  # `days` before the expiry
    now = moment.isoformat().replace("+00:00", "Z")
    letter = kind[0].upper()
    value = price(kind, index, strike, vol, days / 365) / index  # type: ignore[arg-type]
    book = _portfolio([{"instrument": f"BTC-27MAR27-{strike}-{letter}", "qty": "-1",
                        "mark": f"{max(value, 1e-8):.8f}", "vol": str(vol)}], now=now)
    power = 0.3 if days < 30 else 0.13
    up = max(vol * (1 + 0.5 * (30 / days) ** power), 0.5)
    worst = 0.0
    for move in (-0.66, -0.33, 0.5, 1, 2, 3, 4, 5):
        shocked = price(kind, index * (1 + move), strike, up, days / 365) / (index * (1 + move))  # type: ignore[arg-type]
        worst = max(worst, (shocked - value) * min(1.0, 0.16 / abs(move)))
    pm = portfolio_margin(book, load_option_rules("deribit-pm"))
    assert float(pm.maintenance_margin) >= worst - 1e-12
    assert pm.maintenance_margin >= Decimal("0.01")  # the net short option's contingency


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(("positions", "message"), [
    ([{"instrument": "BTC-27MAR27-110000-C", "qty": "-1", "mark": "0.01", "vol": "0.6"},
      {"instrument": "ETH-27MAR27-4000-C", "qty": "-1", "mark": "0.01", "vol": "0.6"}], "margin_asset"),
    ([{"instrument": "BTC-27MAR27-110000-C", "qty": "-1", "mark": "0.01", "vol": "0.6"},
      {"instrument": "BTC-27MAR27-110000-C", "qty": "1", "mark": "0.01", "vol": "0.6"}], "more than once"),
    ([{"instrument": "BTC-20FEB27-110000-C", "qty": "-1", "mark": "0.01", "vol": "0.6"}], "expired"),
    ([{"instrument": "BTC-30FEB27-110000-C", "qty": "-1", "mark": "0.01", "vol": "0.6"}], "not a date"),
    ([{"instrument": "BTC-27MAR27-110000-X", "qty": "-1", "mark": "0.01", "vol": "0.6"}], "not an option name"),
    ([{"instrument": "BTC-27MAR27-110000-C", "qty": "-1", "mark": "0", "vol": "0.6"}], "mark"),
    # a call worth more than its forward (1.2 BTC × 100,000 = 120,000 USD): no price, with a vol or without
    ([{"instrument": "BTC-27MAR27-110000-C", "qty": "-1", "mark": "1.2"}], r"no-arbitrage range \[0, 100000\]"),
    ([{"instrument": "BTC-PERPETUAL", "qty": "1", "mark": "100000", "vol": "0.5"}], "a future takes"),
    ([], "no positions"),
    # sizes past solvent/limits.py (a new-user pass margined a qty of -1e30: MM 8.5e28 BTC)
    ([{"instrument": "BTC-27MAR27-110000-C", "qty": "-1e30", "mark": "0.01", "vol": "0.6"}],
     r"qty -1E\+30 is beyond the largest size solvent accepts \(1,000,000,000\)"),
    ([{"instrument": "BTC-PERPETUAL", "qty": "1e8", "mark": "100000"}], r"\|qty\| × price"),
    ([{"instrument": "BTC-PERPETUAL", "qty": "1", "mark": "1e10"}], "mark"),
])
def test_a_bad_portfolio_is_refused_naming_the_problem(positions: list[dict[str, str]], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        _portfolio(positions)


def test_the_vol_is_implied_from_the_mark_when_left_out() -> None:
    value = price("call", 100_000, 110_000, 0.6, 30 / 365) / 100_000
    book = _portfolio([{"instrument": "BTC-27MAR27-110000-C", "qty": "-1", "mark": f"{value:.12f}"}])
    assert book.options[0].vol == pytest.approx(0.6, abs=1e-8)


def test_a_malformed_rule_set_is_refused() -> None:
    with pytest.raises(InvalidInput, match="extended"):
        _rules(extended_moves=["0.5"])  # neither a weight nor a dampener
    with pytest.raises(InvalidInput, match="vol_legs"):
        _rules(vol_legs=["up", "up"])
    with pytest.raises(InvalidInput, match="unknown option rules"):
        load_option_rules("okx-pm")


def test_an_extended_move_smaller_than_the_dampener_weighs_one() -> None:
    rules = _rules(extended_moves=["0.1", "-0.32"], extended_dampener="0.16").scenarios
    assert rules is not None
    assert [s.weight for s in scenario_grid(rules) if s.extended] == [1, Decimal("0.5")]
