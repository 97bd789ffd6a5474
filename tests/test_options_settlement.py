"""Option settlement that one source cannot move far, and automatic exercise. Expected values
are computed by hand in each test."""

from __future__ import annotations

from decimal import Decimal

import pytest

from solvent.errors import InvalidInput, StaleMarketData
from solvent.options import parse_instrument
from solvent.options.settlement import SettlementRules, capped_weights, exercise, median_of, settlement_price

EXPIRY = 10_000_000
START = EXPIRY - 30 * 60_000


def _flat(price: str, every_ms: int = 60_000) -> list[tuple[int, Decimal]]:
    """One observation a minute through the window (and one just before it)."""
    return [(ts, Decimal(price)) for ts in range(START - every_ms, EXPIRY, every_ms)]


def test_equal_sources_average_their_twaps() -> None:
    done = settlement_price({"a": _flat("100"), "b": _flat("101"), "c": _flat("102")}, EXPIRY)
    assert done.price == 101  # (100 + 101 + 102) / 3
    assert dict(done.weights) == pytest.approx({"a": Decimal(1) / 3, "b": Decimal(1) / 3, "c": Decimal(1) / 3})
    assert {s for s, _, _ in done.observations} == {"a", "b", "c"}
    assert len(done.observations) == 3 * 31  # the one in force at the start and the 30 inside


def test_capped_weights_by_hand() -> None:
    """10 : 1 : 1 : 1 with a 0.4 cap: a is capped at 0.4, and the 0.6 left is shared equally by
    the three others: 0.2 each."""
    got = capped_weights({"a": Decimal(10), "b": Decimal(1), "c": Decimal(1), "d": Decimal(1)}, Decimal("0.4"))
    assert got == {"a": Decimal("0.4"), "b": Decimal("0.2"), "c": Decimal("0.2"), "d": Decimal("0.2")}
    assert capped_weights({"a": Decimal(1), "b": Decimal(3)}, Decimal(1)) == {"a": Decimal("0.25"),
                                                                             "b": Decimal("0.75")}
    with pytest.raises(InvalidInput, match="cannot each weigh"):
        capped_weights({"a": Decimal(1), "b": Decimal(1)}, Decimal("0.4"))


def test_one_manipulated_source_moves_the_price_by_at_most_its_capped_weight() -> None:
    """Four sources at 100,000; the heaviest (weight 10 of 13, capped at 0.4) is pushed to
    130,000 for the last 10 minutes of the window. Its TWAP rises by 10,000 (a third of the
    window at +30,000); the settlement by 0.4 × 10,000 = 4,000, not the 10/13 × 10,000 = 7,692
    it would move uncapped."""
    calm = {s: _flat("100000") for s in "abcd"}
    pushed = dict(calm)
    pushed["a"] = [(ts, Decimal(130_000) if ts >= EXPIRY - 10 * 60_000 else p) for ts, p in calm["a"]]
    weights = {"a": Decimal(10), "b": Decimal(1), "c": Decimal(1), "d": Decimal(1)}
    rules = SettlementRules(max_weight=Decimal("0.4"), median_band=None)  # the cap alone (the band: below)
    before = settlement_price(calm, EXPIRY, rules, source_weights=weights)
    after = settlement_price(pushed, EXPIRY, rules, source_weights=weights)
    assert dict(after.source_twaps)["a"] - dict(before.source_twaps)["a"] == 10_000
    assert after.price - before.price == 4_000
    assert after.price - before.price <= rules.max_weight * 10_000


def test_a_stale_or_thin_window_is_not_settled() -> None:
    fresh = {"a": _flat("100"), "b": _flat("100"), "c": _flat("100")}
    late = [(ts, p) for ts, p in _flat("100") if ts < EXPIRY - 5 * 60_000]  # silent for the last 5 minutes
    thin = [(ts, p) for ts, p in _flat("100") if ts >= EXPIRY - 10 * 60_000]  # only the last 10 minutes
    done = settlement_price({**fresh, "late": late, "thin": thin}, EXPIRY)
    assert dict(done.excluded).keys() == {"late", "thin"}
    with pytest.raises(StaleMarketData, match="2 usable sources, 3 needed"):
        settlement_price({"a": _flat("100"), "b": _flat("100"), "late": late}, EXPIRY)
    with pytest.raises(StaleMarketData, match="no observation"):
        settlement_price({"a": [(EXPIRY + 1, Decimal(1))], "b": _flat("1"), "c": _flat("1")}, EXPIRY)


def test_the_price_is_rounded_half_even_to_the_tick() -> None:
    done = settlement_price({"a": _flat("100.0"), "b": _flat("100.0"), "c": _flat("100.15")}, EXPIRY,
                            tick=Decimal("0.1"))
    assert done.price == Decimal("100.0")  # 100.05 → 100.0 (half to even)


def test_tv07_an_inverse_call_pays_its_usd_payoff_in_coin() -> None:
    """K 100,000 settled at 125,000: 25,000 USD = 0.2 BTC per option; the short pays it."""
    call = parse_instrument("BTC-27MAR27-100000-C")
    long = exercise(call, Decimal(3), Decimal(125_000), Decimal("0.00000001"))
    short = exercise(call, Decimal(-3), Decimal(125_000), Decimal("0.00000001"))
    assert (long.payoff_per_option, long.cash, short.cash) == (Decimal("0.2"), Decimal("0.6"), Decimal("-0.6"))
    put = exercise(parse_instrument("BTC-27MAR27-100000-P"), Decimal(1), Decimal(125_000), Decimal("0.00000001"))
    assert put.cash == 0  # out of the money: nothing


def test_a_coin_payoff_is_rounded_down_once_per_option_and_both_sides_move_the_same() -> None:
    """K 100,000 settled at 130,000: 30,000 / 130,000 = 0.230769230769... BTC, rounded down to
    0.23076923; the long receives exactly what the short pays."""
    call = parse_instrument("BTC-27MAR27-100000-C")
    long = exercise(call, Decimal("2.5"), Decimal(130_000), Decimal("0.00000001"))
    short = exercise(call, Decimal("-2.5"), Decimal(130_000), Decimal("0.00000001"))
    assert long.payoff_per_option == Decimal("0.23076923")
    assert long.cash == -short.cash == Decimal("0.576923075")
    linear = exercise(parse_instrument("BTC_USDC-27MAR27-90000-P"), Decimal(-2), Decimal(85_000), Decimal("0.000001"))
    assert linear.cash == -10_000  # (90,000 − 85,000) × 2, paid by the short


def test_bad_rules_are_refused() -> None:
    with pytest.raises(InvalidInput, match="max_weight"):
        SettlementRules(min_sources=3, max_weight=Decimal("0.3"))
    with pytest.raises(InvalidInput, match="min_coverage"):
        SettlementRules(min_coverage=Decimal(0))


def test_with_the_median_band_the_same_push_moves_the_price_by_the_weight_times_the_band() -> None:
    """The push above, under the default band (±0.5 % of the median): a's TWAP of 110,000 is
    capped at 100,000 × 1.005 = 100,500 (the median of 110,000, 100,000, 100,000, 100,000 is
    100,000), so the price moves by 0.4 × 500 = 200, not 4,000."""
    calm = {s: _flat("100000") for s in "abcd"}
    pushed = dict(calm)
    pushed["a"] = [(ts, Decimal(130_000) if ts >= EXPIRY - 10 * 60_000 else p) for ts, p in calm["a"]]
    weights = {"a": Decimal(10), "b": Decimal(1), "c": Decimal(1), "d": Decimal(1)}
    before = settlement_price(calm, EXPIRY, source_weights=weights)
    after = settlement_price(pushed, EXPIRY, source_weights=weights)
    assert SettlementRules().median_band == Decimal("0.005")
    assert (before.price, before.capped) == (100_000, ())
    assert after.median == 100_000 and after.capped == (("a", Decimal(100_500)),)
    assert dict(after.source_twaps)["a"] == 110_000  # the TWAP itself is reported as it is
    assert after.price - before.price == 200


def test_deribits_capped_median_worked_example() -> None:
    """support.deribit.com, "Index Prices": A 100 (weight 25 %), B 101 (50 %), C 120 (25 %). The
    median is 101; capped within 0.5 % of it, A counts as 100.495 and C as 101.505, so the
    index is 0.25 × 100.495 + 0.5 × 101 + 0.25 × 101.505 = 101."""
    done = settlement_price({"a": _flat("100"), "b": _flat("101"), "c": _flat("120")}, EXPIRY,
                            SettlementRules(max_weight=Decimal("0.5")), tick=Decimal("0.001"),
                            source_weights={"a": Decimal(25), "b": Decimal(50), "c": Decimal(25)})
    assert done.median == 101
    assert done.capped == (("a", Decimal("100.495")), ("c", Decimal("101.505")))
    assert done.price == Decimal("101.000")


def test_ftxs_capped_median_example_with_its_own_band() -> None:
    """FTX's index rule as its founder worked it (30 bp of the median): 100, 100.1, 100.2, 100.3
    and 115; the median is 100.2, 115 is capped at 100.2 × 1.003 = 100.5006, and the index is
    (100 + 100.1 + 100.2 + 100.3 + 100.5006) / 5 = 100.22012."""
    sources = {name: _flat(p) for name, p in zip("abcde", ["100", "100.1", "100.2", "100.3", "115"], strict=True)}
    done = settlement_price(sources, EXPIRY, SettlementRules(median_band=Decimal("0.003")), tick=Decimal("0.00001"))
    assert done.capped == (("e", Decimal("100.5006")),)
    assert done.price == Decimal("100.22012")


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    assert median_of([Decimal(4), Decimal(1), Decimal(3), Decimal(2)]) == Decimal("2.5")
    assert median_of([Decimal(7)]) == 7
    with pytest.raises(InvalidInput, match="median_band"):
        SettlementRules(median_band=Decimal("1.5"))
