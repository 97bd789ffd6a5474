"""Liquidation maths and ADL: public vectors (read by id from tests/vectors/public.json) plus
hand computations written out next to each case, plus hypothesis properties.

No expected value comes from running solvent: vectors carry their source line; every other
number is worked out in the comment beside it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import D, vector

from solvent.errors import InvalidInput
from solvent.risk.adl import (
    AdlFill,
    adl_quantiles,
    allocate_adl,
    allocate_pro_rata,
    binance_adl_score,
    bitmex_adl_score,
)
from solvent.risk.liquidation_math import (
    bankruptcy_price_linear,
    drift_base_to_cover_shortage,
    drift_socialized_loss_per_base,
    dydx_bankruptcy_quote,
    dydx_fillable_price,
    dydx_insurance_fund_delta,
    liquidation_fee,
)


def untyped(value: object) -> Any:
    """Hide a deliberately wrong argument (a float) from the type checker."""
    return value


def dydx_account(inputs: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """One-position dYdX account of a vector: (position, price, TNC, TMMR).

    In these vectors ``mmf`` is the maintenance fraction itself (0.10 of notional), so a
    0.1 BTC position at 50,000 needs 500 of maintenance margin. TNC = USDC + position ×
    price (input wiring, not an expected value).
    """
    position, price = D(inputs["position_btc"]), D(inputs["btc_price"])
    net_collateral = D(inputs["usdc"]) + position * price
    total_mm = abs(position) * price * D(inputs["mmf"])
    return position, price, net_collateral, total_mm


# --- dYdX v4 bankruptcy quote ---------------------------------------------------------------

BANKRUPTCY_IDS = {
    # −DNNV − TNC × |DMMR|/TMMR; DMMR/TMMR = |delta|/|position| for one linear position.
    "D-BK-1": "closing 0.1 BTC long with 499 of collateral receives 5000 − 499 = 4,501",
    "D-BK-2": "closing 0.1 BTC short with 499 of collateral pays 5000 + 499 = 5,499",
    "D-BK-3": "closing a long with zero collateral receives exactly its notional, 5,000",
    "D-BK-4": "closing half a long with zero collateral receives 2,500",
    "D-BK-5": "closing half a short with zero collateral pays 2,500",
    "D-BK-6": "closing a short with zero collateral pays its notional, 5,000",
    "D-BK-7": "closing a long with −100 collateral needs 5000 + 100 = 5,100",
}


@pytest.mark.parametrize("vector_id", list(BANKRUPTCY_IDS), ids=list(BANKRUPTCY_IDS.values()))
def test_dydx_bankruptcy_quote_matches_vectors(vector_id: str) -> None:
    v = vector(vector_id)
    inputs = v["inputs"]
    position, price, net_collateral, total_mm = dydx_account(inputs)
    delta = D(inputs["delta_btc"])
    closed_mm = abs(delta) * price * D(inputs["mmf"])
    result = dydx_bankruptcy_quote(position, delta, price, net_collateral, total_mm, closed_mm)
    assert result == D(v["expected"]["bankruptcy_quote_usd"])


def test_dydx_bankruptcy_quote_rounds_toward_positive_infinity() -> None:
    # position 0.3 @ 10, mmf 0.1 → TMMR 0.3; closing 0.1 → DMMR 0.1, DNNV −1; TNC −1:
    # 1 − (−1 × 0.1/0.3) = 1.3333… → up to 0.01 → 1.34 (dYdX floors TNC×DMMR/TMMR = −0.34).
    exact = dydx_bankruptcy_quote("0.3", "-0.1", "10", "-1", "0.3", "0.1")
    assert D("1.3333") < exact < D("1.3334")
    assert dydx_bankruptcy_quote("0.3", "-0.1", "10", "-1", "0.3", "0.1", quote_quantum="0.01") == D("1.34")
    # Closing half of D-BK-1's long: 2500 − 499 × 250/500 = 2250.5 → up to 1 → 2251.
    assert dydx_bankruptcy_quote("0.1", "-0.05", "50000", "499", "500", "250", quote_quantum=1) == 2251


@pytest.mark.parametrize(
    ("position", "delta"),
    [("0.1", "0.05"), ("0.1", "-0.2"), ("-0.1", "-0.05"), ("0.1", "0")],
    ids=["adding to a long", "flipping a long", "adding to a short", "a zero delta"],
)
def test_dydx_bankruptcy_quote_refuses_a_delta_that_does_not_reduce(position: str, delta: str) -> None:
    with pytest.raises(InvalidInput):
        dydx_bankruptcy_quote(position, delta, "50000", "499", "500", "250")


def test_dydx_bankruptcy_quote_refuses_zero_total_maintenance_and_floats() -> None:
    with pytest.raises(InvalidInput):
        dydx_bankruptcy_quote("0.1", "-0.1", "50000", "499", "0", "0")
    with pytest.raises(InvalidInput):
        dydx_bankruptcy_quote("0.1", "-0.1", untyped(50000.0), "499", "500", "500")


# --- dYdX v4 fillable price -----------------------------------------------------------------

FILLABLE_IDS = {
    # ABR = clamp(BA × (1 − TNC/TMMR), 0, 1); price = (PNNV − ABR × SMMR × PMMR)/PS.
    "D-FP-1": "long, TNC 499 of 500: ABR 0.002, spread 0.002×0.1×500 = 0.1 → 4999.9/0.1 = 49,999",
    "D-FP-2": "long, BA 2: ABR 0.004, spread 0.2 → 49,998",
    "D-FP-3": "long, SMMR 0.2: spread 0.2 → 49,998",
    "D-FP-4": "short, TNC 499: (−5000 − 0.1)/(−0.1) = 50,001",
    "D-FP-5": "short, BA 2 → 50,002",
    "D-FP-6": "short, SMMR 0.2 → 50,002",
    "D-FP-7": "long, TNC 0: ABR 1, spread 0.1 × 500 = 50 → 4950/0.1 = 49,500",
}


@pytest.mark.parametrize("vector_id", list(FILLABLE_IDS), ids=list(FILLABLE_IDS.values()))
def test_dydx_fillable_price_matches_vectors(vector_id: str) -> None:
    v = vector(vector_id)
    inputs = v["inputs"]
    position, price, net_collateral, total_mm = dydx_account(inputs)
    result = dydx_fillable_price(
        position,
        price,
        net_collateral,
        total_mm,
        total_mm,  # one position: its maintenance margin is the account's
        inputs["bankruptcy_adjustment_ppm"],
        inputs["spread_to_mm_ratio_ppm"],
    )
    assert result == D(v["expected"]["fillable_price"])


def test_dydx_fillable_price_clamps_the_rating() -> None:
    # TNC −100 of 500: unbounded ABR 1 × (1 + 0.2) = 1.2 → clamped to 1 → same as D-FP-7, 49,500.
    assert dydx_fillable_price("0.1", "50000", "-100", "500", "500", 1_000_000, 100_000) == 49500
    # TNC 600 ≥ TMMR 500: ABR 1 × (1 − 1.2) < 0 → clamped to 0 → the oracle price.
    assert dydx_fillable_price("0.1", "50000", "600", "500", "500", 1_000_000, 100_000) == 50000


def test_dydx_fillable_price_rounds_to_tick_against_the_book() -> None:
    # long 3 @ 10, TNC 0, TMMR = PMMR = 3, BA 1, SMMR 0.1: (30 − 0.3)/3 = 9.9 exactly;
    # PMMR 1 instead: (30 − 0.1)/3 = 9.9666… → long rounds up to 9.97, a short mirror
    # (−30 + 0.1)/(−3) = 10.0333… rounds down to 10.03.
    assert dydx_fillable_price("3", "10", "0", "3", "3", 1_000_000, 100_000) == D("9.9")
    assert dydx_fillable_price("3", "10", "0", "3", "1", 1_000_000, 100_000, tick="0.01") == D("9.97")
    assert dydx_fillable_price("-3", "10", "0", "3", "1", 1_000_000, 100_000, tick="0.01") == D("10.03")


# --- dYdX v4 insurance fund delta -----------------------------------------------------------

INSURANCE_IDS = {
    # sell 0.1 @ 56,100 → 5,610 received; bankruptcy 5,100 (TNC −100); surplus 510.
    "D-IF-1": "long sold above bankruptcy pays the 0.5% cap: 5610 × 0.005 = 28.05",
    "D-IF-2": "long sold above bankruptcy pays the 2.5% cap: 5610 × 0.025 = 140.25",
    "D-IF-3": "a 100% cap is limited by the surplus over bankruptcy, 510",
    # buy 0.1 @ 44,100 → pays 4,410; bankruptcy −4,900 (TNC −100); surplus 490.
    "D-IF-4": "short bought below bankruptcy pays 4410 × 0.005 = 22.05",
    "D-IF-5": "short bought below bankruptcy pays 4410 × 0.025 = 110.25",
    "D-IF-6": "a 100% cap on a short is limited by the surplus, 490",
}


@pytest.mark.parametrize("vector_id", list(INSURANCE_IDS), ids=list(INSURANCE_IDS.values()))
def test_dydx_insurance_fund_delta_matches_vectors(vector_id: str) -> None:
    v = vector(vector_id)
    inputs = v["inputs"]
    position, price, net_collateral, total_mm = dydx_account(inputs)
    fill = D(inputs["fill_btc"])
    delta = -fill if inputs["fill_side"] == "sell" else fill
    closed_mm = abs(delta) * price * D(inputs["mmf"])
    bankruptcy = dydx_bankruptcy_quote(position, delta, price, net_collateral, total_mm, closed_mm)
    result = dydx_insurance_fund_delta(delta, inputs["fill_price"], bankruptcy, inputs["max_liquidation_fee_ppm"])
    assert result == D(v["expected"]["insurance_fund_delta_usd"])


def test_dydx_insurance_fund_pays_a_fill_below_bankruptcy() -> None:
    # D-BK-7's long sold at 50,000: receives 5,000 against a bankruptcy quote of 5,100
    # → delta −100: the fund covers 100, no fee is charged.
    assert dydx_insurance_fund_delta("-0.1", "50000", "5100", 5000) == -100
    # exactly at bankruptcy: nothing either way.
    assert dydx_insurance_fund_delta("-0.1", "51000", "5100", 5000) == 0


def test_dydx_insurance_fund_fee_cap_rounds_up() -> None:
    # 5,610 × 1 ppm = 0.00561 → up to 0.01 (dYdX would truncate to 0.00).
    assert dydx_insurance_fund_delta("-0.1", "56100", "5100", 1, quote_quantum="0.01") == D("0.01")


# --- generic fee and bankruptcy price -------------------------------------------------------


@pytest.mark.parametrize(
    ("notional", "rate", "left", "fee"),
    [
        ("10000", "0.01", "250", "100"),  # 10,000 × 1% = 100 < 250
        ("10000", "0.01", "60", "60"),  # capped at the 60 left above bankruptcy
        ("10000", "0.01", "-5", "0"),  # already below bankruptcy: no fee
        ("-10000", "0.01", "250", "100"),  # a short's signed notional: same fee
    ],
    ids=["fee below the cap", "fee capped by equity left", "nothing left", "short notional"],
)
def test_liquidation_fee_is_capped_by_equity_above_bankruptcy(notional: str, rate: str, left: str, fee: str) -> None:
    assert liquidation_fee(notional, rate, left) == D(fee)


def test_liquidation_fee_rounds_up_to_the_quantum() -> None:
    # 333.33 × 0.003 = 0.99999 → up to 0.01 → 1.00.
    assert liquidation_fee("333.33", "0.003", "50", quote_quantum="0.01") == D("1.00")


def test_bankruptcy_price_linear_long_and_short() -> None:
    # long 2 @ 100, margin 20: 100 − 20/2 = 90; short: 100 + 10 = 110.
    assert bankruptcy_price_linear("100", "2", "20") == 90
    assert bankruptcy_price_linear("100", "-2", "20") == 110
    # 3 @ 100, margin 10: 100 ∓ 3.333… → long up to 96.67, short down to 103.33.
    assert bankruptcy_price_linear("100", "3", "10", tick="0.01") == D("96.67")
    assert bankruptcy_price_linear("100", "-3", "10", tick="0.01") == D("103.33")
    # a fully collateralised long (margin 300 ≥ notional 200) never goes bankrupt above 0.
    assert bankruptcy_price_linear("100", "2", "300") == 0


# --- Drift ----------------------------------------------------------------------------------

DRIFT_SHORTAGE_IDS = {
    "DR-LQ-1": "shortage 10 at ratio 10% and price 100 needs 10/10 = 1 base",
    "DR-LQ-2": "a 0.99 quote price needs 10/9.9 = 1.0101010101… → 1.010101010 base",
    "DR-LQ-4": "a 1% liquidation fee needs 10/9 = 1.111111111 base",
    "DR-LQ-5": "1% fee and 1% insurance fee need 10/(9 − 1) = 1.25 base",
}


@pytest.mark.parametrize("vector_id", list(DRIFT_SHORTAGE_IDS), ids=list(DRIFT_SHORTAGE_IDS.values()))
def test_drift_base_to_cover_shortage_matches_vectors(vector_id: str) -> None:
    v = vector(vector_id)
    inputs = v["inputs"]
    result = drift_base_to_cover_shortage(
        inputs["margin_shortage"],
        inputs["margin_ratio"],
        inputs["fee"],
        inputs["if_fee"],
        inputs["oracle_price"],
        inputs["quote_price"],
    )
    assert result == D(v["expected"]["base_amount"])


def test_drift_base_to_cover_shortage_edges() -> None:
    # fee ≥ margin ratio: Drift returns u64::MAX (take everything) → None.
    assert drift_base_to_cover_shortage("10", "0.10", "0.10", "0", "100") is None
    # ratio 0.10, fee 0.05, if fee 0.05: 100 × 0.05 − 100 × 0.05 = 0 freed per base → error.
    with pytest.raises(InvalidInput):
        drift_base_to_cover_shortage("10", "0.10", "0.05", "0.05", "100")
    # inputs finer than Drift's precisions are refused (price 1e-6, ratio 1e-4).
    with pytest.raises(InvalidInput):
        drift_base_to_cover_shortage("10", "0.10", "0", "0", "100.0000001")
    with pytest.raises(InvalidInput):
        drift_base_to_cover_shortage("10", "0.10005", "0", "0", "100")
    # 1/3 base: shortage 1, ratio 0.03, price 100 → 1/3 = 0.333333333 (truncated).
    assert drift_base_to_cover_shortage("1", "0.03", "0", "0", "100") == D("0.333333333")


def test_drift_socialized_loss_matches_vector_dr_lq_14() -> None:
    v = vector("DR-LQ-14")
    inputs = v["inputs"]
    # ⌈100 / (7 + 4)⌉ at 1e-6 = ⌈9.0909090…⌉ = 9.090910 (Drift stores 9090910 × 1000).
    result = drift_socialized_loss_per_base(inputs["loss"], inputs["base_long"], inputs["base_short"])
    assert result == D(v["expected"]["funding_delta_per_base"])


def test_drift_socialized_loss_edges() -> None:
    assert drift_socialized_loss_per_base("-100", "6", "-4") == 10  # 100/10, exact
    assert drift_socialized_loss_per_base("-1", "3", "0") == D("0.333334")  # ⌈0.3333…⌉
    with pytest.raises(InvalidInput):
        drift_socialized_loss_per_base("-1", "0", "0")


# --- ADL scores -----------------------------------------------------------------------------


def test_binance_adl_score_matches_vector_bn_17() -> None:
    v = vector("BN-17")
    inputs, expected, tolerance = v["inputs"], v["expected"], D(v["tolerance"])
    # 40.2 / max(1, 4.27) = 9.414519…; × 0.1342 = 1.263428…
    result = binance_adl_score(inputs["unrealized_pnl"], inputs["wallet_balance"], inputs["margin_ratio"])
    assert abs(result.pnl_percent - D(expected["pnl_percent"])) <= tolerance
    assert abs(result.score - D(expected["leverage_pnl"])) <= tolerance


def test_binance_adl_score_floors() -> None:
    # a loss scores 0; a wallet under 1 counts as 1: 5 / 1 × 0.5 = 2.5.
    assert binance_adl_score("-3", "100", "0.5").score == 0
    assert binance_adl_score("5", "0.2", "0.5").score == D("2.5")


def test_bitmex_adl_score_matches_vector_bx_5() -> None:
    v = vector("BX-5")
    inputs, expected = v["inputs"], v["expected"]
    # (22000 − 20000)/20000 = 0.10; 22000/(22000 − 18000) = 5.5; 0.10 × 5.5 = 0.55.
    result = bitmex_adl_score(inputs["side"], inputs["entry_value"], inputs["mark_value"], inputs["bankrupt_value"])
    assert result.pnl_percent == D(expected["pnl_percent"])
    assert result.effective_leverage == D(expected["effective_leverage"])
    assert result.rank == D(expected["rank"])


def test_bitmex_adl_score_short_and_losing() -> None:
    # short entry 20,000, mark 18,000, bankrupt 22,000: pnl (20000 − 18000)/20000 = 0.1,
    # leverage 18000/(22000 − 18000) = 4.5, rank 0.45.
    assert bitmex_adl_score("short", "20000", "18000", "22000").rank == D("0.45")
    # losing long: entry 20,000, mark 19,000, bankrupt 18,000: pnl −0.05, leverage 19,
    # rank −0.05/19 (divided, so more leverage ranks a loser *higher*, nearer zero).
    assert bitmex_adl_score("long", "20000", "19000", "18000").rank == D("-0.05") / 19
    with pytest.raises(InvalidInput):
        bitmex_adl_score("long", "20000", "18000", "18000")  # at bankruptcy


# --- ADL allocation -------------------------------------------------------------------------


def test_allocate_adl_matches_vector_bx_4() -> None:
    v = vector("BX-4")
    liquidated = v["inputs"]["liquidated"]
    candidates = [(name, qty, score) for name, qty, score in v["inputs"]["longs"]]
    # queue by score: A2 (6) 10, A5 (5) 20 → 10 + 10 covers 20; all at 650.
    fills = allocate_adl(liquidated["qty"], liquidated["bankruptcy_price"], candidates)
    assert fills == [(name, D(qty), D(price)) for name, qty, price in v["expected"]["deleveraged"]]


def test_allocate_adl_ties_short_supply_and_duplicates() -> None:
    # equal scores go by account id: "a" before "b"; only 15 held in all.
    fills = allocate_adl(20, 5, [("b", 10, 1), ("a", 5, 1), ("c", 0, 9)])
    assert fills == [AdlFill("a", D(5), D(5)), AdlFill("b", D(10), D(5))]
    with pytest.raises(InvalidInput):
        allocate_adl(1, 5, [("a", 1, 1), ("a", 2, 2)])


def test_allocate_pro_rata_by_hand() -> None:
    # 10 across 5/3/2: floors 5, 3, 2 exactly.
    assert allocate_pro_rata(10, [("A", 5), ("B", 3), ("C", 2)], 1) == [("A", D(5)), ("B", D(3)), ("C", D(2))]
    # 5 across 5/3/2: 2.5, 1.5, 1 → floors 2, 1, 1 (4); remainders A .5, B .5 tie → A.
    assert allocate_pro_rata(5, [("C", 2), ("B", 3), ("A", 5)], 1) == [("A", D(3)), ("B", D(1)), ("C", D(1))]
    # lots of 0.1: 0.7 across 1.0/1.0 → 3.5 lots each → 3 + 3, the last lot to "x" (id).
    assert allocate_pro_rata("0.7", [("y", "1.0"), ("x", "1.0")], "0.1") == [("x", D("0.4")), ("y", D("0.3"))]
    with pytest.raises(InvalidInput):
        allocate_pro_rata(11, [("A", 5), ("B", 5)], 1)  # more than held
    with pytest.raises(InvalidInput):
        allocate_pro_rata("0.55", [("A", 5)], "0.1")  # not a whole lot


def test_adl_quantiles_by_hand() -> None:
    assert adl_quantiles({"e": 5, "d": 4, "c": 3, "b": 2, "a": 1}) == {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
    # ten accounts: ⌈5 × r/10⌉ for r = 1..10 → 1,1,2,2,3,3,4,4,5,5.
    ten = adl_quantiles({f"k{i:02}": i for i in range(10)})
    assert list(ten.values()) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # ties share the higher bucket: r = 3 for all three → ⌈5 × 3/3⌉ = 5; one account → 5.
    assert adl_quantiles({"a": 1, "b": 1, "c": 1}) == {"a": 5, "b": 5, "c": 5}
    assert adl_quantiles({"only": "0.3"}, buckets=3) == {"only": 3}
    assert adl_quantiles({}) == {}


# --- properties -----------------------------------------------------------------------------

ids = st.text(alphabet="abcdefgh", min_size=1, max_size=3)
lots = st.integers(min_value=0, max_value=10_000)
holdings = st.dictionaries(ids, lots, min_size=1, max_size=12)
lot_sizes = st.sampled_from([D("1"), D("0.1"), D("0.001"), D("25")])


@given(holdings, lot_sizes, st.data())
def test_pro_rata_sums_exactly_and_never_exceeds_a_holding(
    held: dict[str, int], lot: Decimal, data: st.DataObject
) -> None:
    total = sum(held.values())
    wanted = data.draw(st.integers(min_value=0, max_value=total))
    candidates = [(aid, n * lot) for aid, n in held.items()]
    shares = allocate_pro_rata(wanted * lot, candidates, lot)
    assert sum((s.qty for s in shares), D(0)) == wanted * lot
    assert all(0 < s.qty <= held[s.account_id] * lot for s in shares)
    # input order does not matter
    assert allocate_pro_rata(wanted * lot, list(reversed(candidates)), lot) == shares


@given(
    st.dictionaries(ids, st.tuples(lots, st.integers(min_value=-50, max_value=50)), max_size=12),
    st.integers(min_value=0, max_value=60_000),
)
def test_allocate_adl_never_closes_more_than_held_and_follows_the_queue(
    book: dict[str, tuple[int, int]], qty: int
) -> None:
    candidates = [(aid, held, score) for aid, (held, score) in book.items()]
    fills = allocate_adl(qty, "650", candidates)
    assert all(0 < f.qty <= book[f.account_id][0] and f.price == 650 for f in fills)
    assert sum((f.qty for f in fills), D(0)) == min(qty, sum(h for h, _ in book.values()))
    keys = [(-book[f.account_id][1], f.account_id) for f in fills]
    assert keys == sorted(keys)
    assert allocate_adl(qty, "650", list(reversed(candidates))) == fills


money = st.decimals(min_value=-10_000, max_value=10_000, places=2)
ratios = st.decimals(min_value=0, max_value=5, places=4)


@given(money, money, ratios, money)
def test_binance_score_is_monotone_in_pnl(pnl_a: Decimal, pnl_b: Decimal, ratio: Decimal, wallet: Decimal) -> None:
    low, high = sorted((pnl_a, pnl_b))
    assert binance_adl_score(low, wallet, ratio).score <= binance_adl_score(high, wallet, ratio).score


@given(
    st.sampled_from(["long", "short"]),
    st.decimals(min_value=1, max_value=100_000, places=2),
    st.decimals(min_value=1, max_value=100_000, places=2),
    st.decimals(min_value=100, max_value=10_000, places=2),
    st.decimals(min_value=1, max_value=99, places=0),
)
def test_bitmex_rank_is_monotone_in_pnl_at_equal_leverage(
    side: str, entry_a: Decimal, entry_b: Decimal, mark: Decimal, cushion_pct: Decimal
) -> None:
    # Same mark and bankruptcy value → same effective leverage; a different entry changes PnL only.
    bankrupt = mark * (100 - cushion_pct) / 100 if side == "long" else mark * (100 + cushion_pct) / 100
    a = bitmex_adl_score(untyped(side), entry_a, mark, bankrupt)
    b = bitmex_adl_score(untyped(side), entry_b, mark, bankrupt)
    assert a.effective_leverage == b.effective_leverage
    if a.pnl_percent <= b.pnl_percent:
        assert a.rank <= b.rank
    else:
        assert a.rank >= b.rank


@given(st.dictionaries(ids, st.integers(min_value=-20, max_value=20), max_size=15), st.integers(1, 7))
def test_adl_quantiles_are_in_range_monotone_and_order_free(scores: dict[str, int], buckets: int) -> None:
    result = adl_quantiles(scores, buckets)
    assert set(result) == set(scores)
    assert all(1 <= b <= buckets for b in result.values())
    for x in scores:
        for y in scores:
            if scores[x] <= scores[y]:
                assert result[x] <= result[y]
    if scores:
        top = max(scores, key=lambda aid: scores[aid])
        assert result[top] == buckets
    assert adl_quantiles(dict(reversed(list(scores.items()))), buckets) == result
