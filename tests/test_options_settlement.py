"""Option settlement that one source cannot move far, and automatic exercise. Expected values
are computed by hand in each test."""

from __future__ import annotations

from decimal import Decimal

import pytest

from solvent.errors import InvalidInput, StaleMarketData
from solvent.options import parse_instrument
from solvent.options.settlement import SettlementRules, capped_weights, exercise, settlement_price

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
    rules = SettlementRules(max_weight=Decimal("0.4"))
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
