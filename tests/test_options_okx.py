"""OKX's standard option margin (``okx-options``) and its margin factor by position tier.

Every expected value is computed by hand in the test from OKX's published formula (help page
"Option Margin", okx.com/help/ii-option-margin):

* short position IMR = max(a, b − OTM / F) × MF + mark, with a = 0.1, b = 0.15, the OTM amount
  measured from F, the forward (same-expiry futures) mark;
* short call MMR = c × MF + mark; short put MMR = max(c, c × mark) × MF + mark; c = 0.03 (BTC),
  0.05 (ETH);
* USD-margined: the fractions times the index price, the mark in USD;

or from a restatement of OKX's own worked example (a tier-2 factor of 1.02, 0.1 BTC contracts:
[max(0.1, 0.15 − 100/5900) × 1.02 + 0.0575] × 0.1 = 0.01932 BTC)."""

from __future__ import annotations

import json
import typing
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from solvent.cli import main
from solvent.errors import InvalidInput
from solvent.options import bundled_option_rules, load_option_rules, read_portfolio, standard_margin
from solvent.options.okx_tiers import okx_family, read_okx_tiers, with_margin_tiers
from solvent.options.pretrade import OptionOrder, check_order
from solvent.options.rules import read_option_rules

NOW = "2026-12-06T08:00:00Z"
OKX = load_option_rules("okx-options")


def _book(positions: list[dict[str, str]], coin: str = "BTC", index: str = "100000") -> Any:
    return read_portfolio({"now": NOW, "index": {coin: index}, "wallet": {}, "positions": positions})


def _option(name: str, qty: str, mark: str, forward: str = "101000") -> dict[str, str]:
    return {"instrument": name, "qty": qty, "mark": mark, "vol": "0.6", "forward": forward}


def _tiers(*rows: tuple[str, str, str], family: str = "BTC-USD") -> dict[str, object]:
    """An OKX position-tiers response: (minSz, maxSz, optMgnFactor) per tier, tier 1 first."""
    return {"code": "0", "msg": "", "data": [
        {"instFamily": family, "instType": "OPTION", "tier": str(n), "minSz": low, "maxSz": high,
         "optMgnFactor": factor, "imr": "", "mmr": "", "maxLever": ""}
        for n, (low, high, factor) in enumerate(rows, start=1)]}


SAMPLE = _tiers(("0", "100", "1"), ("101", "1000", "1.02"), ("1001", "100000", "1.1"))


def test_okx_worked_example_tier_two_factor_one_point_zero_two() -> None:
    """One 0.1 BTC call sold $100 out of the money, futures mark 5,900, option mark 0.0575,
    margin factor 1.02: [max(0.1, 0.15 − 100/5900) × 1.02 + 0.0575] × 0.1 = 0.01932 BTC."""
    rules = with_margin_tiers(OKX, "BTC", ((None, Decimal("1.02")),))
    book = read_portfolio({"now": "2020-05-01T08:00:00Z", "index": {"BTC": "5900"}, "wallet": {},
                           "positions": [_option("BTC-15MAY20-6000-C", "-0.1", "0.0575", forward="5900")]})
    report = standard_margin(book, rules)
    exact = (max(Fraction("0.1"), Fraction("0.15") - Fraction(100, 5900)) * Fraction("1.02")
             + Fraction("0.0575")) * Fraction("0.1")
    assert round(float(exact), 5) == 0.01932   # the published figure
    assert report.initial_margin == Decimal("0.01932119")   # 0.0193211864…, rounded up to the satoshi
    assert report.initial_margin >= exact > report.initial_margin - Decimal("0.00000001")
    assert report.tier is not None and report.tier.factor == Decimal("1.02")


def test_coin_margined_call_and_put_measure_otm_from_the_forward() -> None:
    """Index 100,000, forward 101,000. Call 104,000: OTM 3,000 / 101,000 = 0.029703 → b − it =
    0.120297 > a: IM = 0.120297… + 0.01; MM = 0.03 + 0.01. Put 97,000: OTM 4,000 / 101,000 →
    0.110396 > a: IM = 0.110396… + 0.005; MM = max(0.03, 0.03 × 0.005) + 0.005 = 0.035."""
    book = _book([_option("BTC-26DEC26-104000-C", "-1", "0.01"), _option("BTC-26DEC26-97000-P", "-1", "0.005")])
    report = standard_margin(book, OKX)
    call, put = report.positions
    call_im = Fraction("0.15") - Fraction(3000, 101000) + Fraction("0.01")
    put_im = Fraction("0.15") - Fraction(4000, 101000) + Fraction("0.005")
    assert abs(Fraction(call.initial_margin) - call_im) < Fraction(1, 10**30)
    assert abs(Fraction(put.initial_margin) - put_im) < Fraction(1, 10**30)
    assert (call.maintenance_margin, put.maintenance_margin) == (Decimal("0.04"), Decimal("0.035"))
    # measured from the index instead, the call's OTM would be 4,000 / 100,000: IM 0.12, not 0.1303
    assert round(call.initial_margin, 4) == Decimal("0.1303")
    # 0.3 + 0.015 − 7,000 / 101,000 = 0.2456930693…, rounded up to the satoshi
    assert report.initial_margin == Decimal("0.24569307")


def test_far_out_of_the_money_floors_at_a_and_in_the_money_pays_b() -> None:
    """Call 150,000 on a forward of 101,000: b − 49,000/101,000 < 0.1, so IM = 0.1 + 0.002.
    Call 90,000 (in the money, OTM 0): IM = 0.15 + 0.12. MM = 0.03 + mark each."""
    report = standard_margin(_book([_option("BTC-26DEC26-150000-C", "-3", "0.002"),
                                    _option("BTC-26DEC26-90000-C", "-1", "0.12")]), OKX)
    far, itm = report.positions
    assert (far.initial_margin, far.maintenance_margin) == (Decimal("0.306"), Decimal("0.096"))   # 3 × (0.1 + 0.002)
    assert (itm.initial_margin, itm.maintenance_margin) == (Decimal("0.27"), Decimal("0.15"))


def test_eth_uses_its_own_c_and_an_unlisted_coin_is_refused() -> None:
    """ETH: c = 0.05. Put 3,000 on a forward of 3,000 (OTM 0): IM = 0.15 + 0.04, MM = max(0.05,
    0.05 × 0.04) + 0.04 = 0.09."""
    book = _book([_option("ETH-26DEC26-3000-P", "-1", "0.04", forward="3000")], coin="ETH", index="3000")
    (put,) = standard_margin(book, OKX).positions
    assert (put.initial_margin, put.maintenance_margin) == (Decimal("0.19"), Decimal("0.09"))
    sol = _book([_option("SOL-26DEC26-200-P", "-1", "0.04", forward="200")], coin="SOL", index="200")
    with pytest.raises(InvalidInput, match="margin options on BTC, ETH, not SOL"):
        standard_margin(sol, OKX)


def test_usd_margined_fractions_are_times_the_index() -> None:
    """BTC_USDC call 110,000, index 100,000, forward 101,000, mark 1,000 USDC:
    IM = max(0.1, 0.15 − 9,000/101,000) × 1 × 100,000 + 1,000 = 11,000;
    MM = 0.03 × 100,000 + 1,000 = 4,000. Put 102,000 (in the money: OTM 0), mark 3,000:
    IM = 0.15 × 100,000 + 3,000 = 18,000; MM = max(0.03 × 100,000, 0.03 × 3,000) + 3,000 = 6,000."""
    book = _book([_option("BTC_USDC-26DEC26-110000-C", "-1", "1000"),
                  _option("BTC_USDC-26DEC26-102000-P", "-1", "3000")])
    call, put = standard_margin(book, OKX).positions
    assert (call.initial_margin, call.maintenance_margin) == (Decimal(11000), Decimal(4000))
    assert (put.initial_margin, put.maintenance_margin) == (Decimal(18000), Decimal(6000))


@pytest.mark.parametrize(("short_btc", "tier", "factor"), [
    ("1", 1, "1"),          # 100 contracts of 0.01 BTC: tier 1's largest size
    ("1.01", 2, "1.02"),    # 101 contracts
    ("1.005", 2, "1.02"),   # 100.5 contracts: past tier 1
    ("10.01", 3, "1.1"),
])
def test_the_tier_is_the_sellers_contracts_and_scales_the_fractions(short_btc: str, tier: int, factor: str) -> None:
    """Short calls 150,000 (IM at a = 0.1) and a long put that counts for nothing: IM per coin =
    0.1 × factor + mark, MM = 0.03 × factor + mark."""
    rules = with_margin_tiers(OKX, "BTC", read_okx_tiers(SAMPLE, "BTC-USD"))
    book = _book([_option("BTC-26DEC26-150000-C", f"-{short_btc}", "0.002"),
                  _option("BTC-26DEC26-80000-P", "50", "0.001")])
    report = standard_margin(book, rules)
    assert report.tier is not None
    assert (report.tier.tier, report.tier.factor) == (tier, Decimal(factor))
    assert report.tier.seller_contracts == Decimal(short_btc) * 100
    f = Decimal(factor)
    call = report.positions[0]
    assert call.initial_margin == (Decimal("0.1") * f + Decimal("0.002")) * Decimal(short_btc)
    assert call.maintenance_margin == (Decimal("0.03") * f + Decimal("0.002")) * Decimal(short_btc)


def test_beyond_the_last_tier_is_refused() -> None:
    rules = with_margin_tiers(OKX, "BTC", read_okx_tiers(_tiers(("0", "100", "1")), "BTC-USD"))
    with pytest.raises(InvalidInput, match="beyond the largest position tier"):
        standard_margin(_book([_option("BTC-26DEC26-150000-C", "-2", "0.002")]), rules)


@pytest.mark.parametrize(("raw", "message"), [
    ({"code": "51001", "msg": "Instrument ID does not exist", "data": []}, "error 51001"),
    (_tiers(("0", "100", "1"), family="ETH-USD"), "no tier of BTC-USD; the file has ETH-USD"),
    (_tiers(("0", "100", "1"), ("150", "200", "1.1")), "tier 2 must start where tier 1 ends"),
    (_tiers(("0", "100", "1"), ("50", "200", "1.1")), "tier 2 must start where tier 1 ends"),
    (_tiers(("5", "100", "1")), "tier 1 must start at 0"),
    (_tiers(("0", "100", "0")), "optMgnFactor > 0"),
    (_tiers(("0", "100", "1"), ("101", "90", "1.1")), "minSz <= maxSz"),
    ({"code": "0", "data": [{"instFamily": "BTC-USD", "tier": "2", "minSz": "0", "maxSz": "5",
                             "optMgnFactor": "1"}]}, "numbered 1, 2, 3"),
    ({"code": "0", "data": [{"instFamily": "BTC-USD", "tier": "1", "minSz": "0", "maxSz": "x",
                             "optMgnFactor": "1"}]}, "maxSz"),
    ({"code": "0", "data": [{"instFamily": "BTC-USD", "tier": "1"}]}, "missing field"),
])
def test_a_bad_tiers_response_is_refused_naming_the_problem(raw: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        read_okx_tiers(raw, "BTC-USD")


def test_the_data_list_alone_is_read_and_families_are_okxs() -> None:
    data = typing.cast(list[object], SAMPLE["data"])
    assert read_okx_tiers(data, "BTC-USD") == read_okx_tiers(SAMPLE, "BTC-USD")
    assert (okx_family("BTC", "BTC"), okx_family("BTC", "USDC")) == ("BTC-USD", "BTC-USDC")


def test_okx_margins_options_only() -> None:
    book = _book([_option("BTC-26DEC26-150000-C", "-1", "0.002"),
                  {"instrument": "BTC-PERPETUAL", "qty": "1", "mark": "100000"}])
    with pytest.raises(InvalidInput, match="margin options only"):
        standard_margin(book, OKX)


def test_deribit_standard_is_unchanged_by_the_new_terms() -> None:
    """TV-29's short call (shared/vectors/options.md): 55,000 on 50,000, mark 0.01: IM = max(0.15 −
    0.10, 0.10) + 0.01 = 0.11, MM = 0.075 + 0.01, with a forward that the index rule ignores."""
    book = read_portfolio({"now": NOW, "index": {"BTC": "50000"}, "wallet": {},
                           "positions": [_option("BTC-26DEC26-55000-C", "-1", "0.01", forward="52000")]})
    report = standard_margin(book, load_option_rules("deribit-standard"))
    assert (report.initial_margin, report.maintenance_margin, report.tier) == (Decimal("0.11"), Decimal("0.085"),
                                                                             None)


@pytest.mark.parametrize(("tiers", "message"), [
    ([{"up_to": "100", "factor": "1"}, {"up_to": "50", "factor": "1.1"}], "must rise"),
    ([{"up_to": None, "factor": "1"}, {"up_to": "50", "factor": "1.1"}], "a limit on every tier but the last"),
    ([], "at least one tier"),
    ([{"up_to": None, "factor": "-1"}], "factors > 0"),
])
def test_a_rule_file_with_bad_tiers_is_refused(tiers: list[dict[str, object]], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        read_option_rules({"name": "t", "provenance": "a test", "method": "standard",
                           "standard": {"im_base": "0.15", "im_floor": "0.1", "mm_base": "0.03", "put_mm_mark": "0.03",
                                        "margin_factor": {"contract_size": "0.01", "tiers": tiers}},
                           "quantum": {"*": "0.00000001"}}, "test rules")


def test_the_service_accepts_exactly_the_bundled_rule_sets() -> None:
    from solvent.service.schemas import OptionRulesName

    assert sorted(typing.get_args(OptionRulesName)) == bundled_option_rules()


def test_cli_margin_with_okx_tiers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two short calls of 2 BTC (200 contracts) on the sample tiers: tier 2, factor 1.02: IM = 2 ×
    (0.1 × 1.02 + 0.002) = 0.208, MM = 2 × (0.03 × 1.02 + 0.002) = 0.0652."""
    portfolio, tiers = tmp_path / "p.json", tmp_path / "t.json"
    portfolio.write_text(json.dumps({"now": NOW, "index": {"BTC": "100000"}, "wallet": {"BTC": "1"},
                                     "positions": [_option("BTC-26DEC26-150000-C", "-2", "0.002")]}))
    tiers.write_text(json.dumps(SAMPLE))
    code = main(["options", "margin", "--venue", "okx-options", "--file", str(portfolio),
                 "--margin-tiers", str(tiers), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["initial_margin"], doc["maintenance_margin"]) == ("0.208", "0.0652")
    assert doc["margin_tier"] == {"tier": 2, "margin_factor": "1.02", "seller_contracts": "200"}
    code = main(["options", "margin", "--venue", "deribit-standard", "--file", str(portfolio),
                 "--margin-tiers", str(tiers)])
    out, err = capsys.readouterr()
    assert code != 0 and "no margin factor tiers" in err and len(err.strip().splitlines()) == 1


# -- OKX's order margin (options.pretrade) --------------------------------------------------

def _okx_book(positions: list[dict[str, str]], wallet: str = "10", index: str = "5900",
              now: str = "2020-05-01T08:00:00Z") -> dict[str, object]:
    return {"now": now, "index": {"BTC": index}, "wallet": {"BTC": wallet}, "positions": positions}


TIER_TWO = with_margin_tiers(OKX, "BTC", ((None, Decimal("1.02")),))
CALL = "BTC-15MAY20-6000-C"   # $100 out of the money on a forward of 5,900
PIMR = (max(Fraction("0.1"), Fraction("0.15") - Fraction(100, 5900)) * Fraction("1.02") + Fraction("0.0575"))
"""OKX's worked example's position IMR per coin: 0.1932118644… (its 0.01932 BTC per 0.1 BTC contract)."""


def test_okx_order_margin_buy_to_open_is_premium_and_fee() -> None:
    """OKX's example: buy 100 calls (0.1 BTC each: 10 BTC) at 0.0475 with a fee of 0.00002 BTC a
    contract (0.0002 a coin): (0.0475 × 0.1 + 0.00002) × 100 = 0.477 BTC."""
    answer = check_order(_okx_book([]), TIER_TWO, OptionOrder(CALL, Decimal(10), Decimal("0.0475"),
                                                              Decimal("0.6"), Decimal("0.0002")))
    assert answer.order_margin == Decimal("0.477") and answer.accepted


def test_okx_order_margin_sell_to_open_is_position_imr_less_the_premium() -> None:
    """OKX's example: sell 100 calls at 0.06 (mark 0.0575, factor 1.02, fee 0.00002 a contract):
    max(0.01932 − 0.06 × 0.1 + 0.00002, 0.1 × 0.1) × 100 = 1.334 BTC. Held short one contract
    already, so the option stays at its mark."""
    book = _okx_book([_option(CALL, "-0.1", "0.0575", forward="5900")])
    answer = check_order(book, TIER_TWO, OptionOrder(CALL, Decimal(-10), Decimal("0.06"), fee=Decimal("0.0002")))
    exact = (PIMR - Fraction("0.06") + Fraction("0.0002")) * 10
    assert round(float(exact), 3) == 1.334   # the published figure
    assert answer.order_margin is not None and answer.available is not None
    assert answer.order_margin >= exact > answer.order_margin - Decimal("0.00000001")   # rounded up once
    assert answer.accepted  # available: 10 − 0.00575 premium held at its mark − IM 0.0193…
    poor = check_order({**book, "wallet": {"BTC": "1.3"}}, TIER_TWO,
                       OptionOrder(CALL, Decimal(-10), Decimal("0.06"), fee=Decimal("0.0002")))
    assert (poor.accepted, poor.reason) == (False, "INSUFFICIENT_MARGIN")
    assert poor.available is not None and poor.available < poor.order_margin  # type: ignore[operator]


def test_okx_order_margin_closing_freezes_nothing() -> None:
    """OKX's examples: buy to close 100 calls at 0.05: max(0.05 − 0.01932 / 0.1 + 0.0002, 0) = 0;
    sell to close 100 puts at 0.0755: max(0.0002 − 0.0755, 0) = 0; accepted even with nothing
    available."""
    short = _okx_book([_option(CALL, "-10", "0.0575", forward="5900")], wallet="0")
    closing = check_order(short, TIER_TWO, OptionOrder(CALL, Decimal(10), Decimal("0.05"), fee=Decimal("0.0002")))
    assert (closing.order_margin, closing.accepted) == (Decimal(0), True)
    assert closing.available is not None and closing.available < 0
    put = "BTC-15MAY20-5800-P"
    long = _okx_book([_option(put, "10", "0.07", forward="5900")], wallet="0")
    sold = check_order(long, TIER_TWO, OptionOrder(put, Decimal(-10), Decimal("0.0755"), fee=Decimal("0.0002")))
    assert (sold.order_margin, sold.accepted) == (Decimal(0), True)


def test_okx_order_margin_floor_a_crossing_order_and_the_tier_after_it() -> None:
    """Coin-margined, tiers of the sample (≤ 100 contracts: 1; to 1,000: 1.02). Long 0.1 of a
    150,000 call (forward 101,000, mark 0.002), sell 0.2 at 0.003: 0.1 closes (fee 0 − price < 0:
    nothing), 0.1 opens. After it, short 1.0 of a 140,000 call plus this 0.1 is 110 contracts:
    tier 2. PIMR = max(0.1, 0.15 − 49,000/101,000) × 1.02 + 0.002 = 0.104; less the price 0.003
    = 0.101 ≥ the floor 0.1: frozen 0.1 × 0.101 = 0.0101."""
    rules = with_margin_tiers(OKX, "BTC", read_okx_tiers(SAMPLE, "BTC-USD"))
    book = {"now": NOW, "index": {"BTC": "100000"}, "wallet": {"BTC": "1"},
            "positions": [_option("BTC-26DEC26-150000-C", "0.1", "0.002"),
                          _option("BTC-26DEC26-140000-C", "-1", "0.003")]}
    answer = check_order(book, rules, OptionOrder("BTC-26DEC26-150000-C", Decimal("-0.2"), Decimal("0.003")))
    assert answer.order_margin == Decimal("0.0101")
    # a deep in-the-money USDC call sold at a high premium freezes the floor: index 100,000, call
    # 50,000 (OTM 0): PIMR = 0.15 × 100,000 + mark 50,000 = 65,000; − 60,000 = 5,000 < 0.1 × 100,000
    usdc = {"now": NOW, "index": {"BTC": "100000"}, "wallet": {"USDC": "100000"},
            "positions": [_option("BTC_USDC-26DEC26-50000-C", "-0.5", "50000", forward="100000")]}
    floor = check_order(usdc, OKX, OptionOrder("BTC_USDC-26DEC26-50000-C", Decimal(-1), Decimal(60000)))
    assert floor.order_margin == Decimal(10000)


def test_an_order_fee_is_paid_from_the_wallet_and_must_not_be_negative() -> None:
    standard = load_option_rules("deribit-standard")
    book = _okx_book([], wallet="1")
    paid = check_order(book, standard, OptionOrder(CALL, Decimal(1), Decimal("0.05"), Decimal("0.6"),
                                                   Decimal("0.0003")))
    assert paid.equity_after == Decimal("0.9997") and paid.order_margin is None   # 1 − 0.05 − 0.0003 + 0.05
    with pytest.raises(InvalidInput, match="fee must be >= 0"):
        check_order(book, standard, OptionOrder(CALL, Decimal(1), Decimal("0.05"), fee=Decimal(-1)))


# -- found by review ---------------------------------------------------------------------------

@pytest.mark.parametrize(("rows", "message"), [
    ([{"tier": "²", "minSz": "0", "maxSz": "5", "optMgnFactor": "1"}], "is not a tier number"),   # isdigit() took it
    ([{"tier": "1", "minSz": "0", "maxSz": "50", "optMgnFactor": "1"},
      {"tier": "2", "minSz": "49.5", "maxSz": "90", "optMgnFactor": "2"}], "at 50 or 51 contracts, got 49.5"),
    ([{"tier": "1", "minSz": "0", "maxSz": "50", "optMgnFactor": "1"},
      {"tier": "2", "minSz": "60", "maxSz": "90", "optMgnFactor": "2"}], "at 50 or 51 contracts, got 60"),
    ([{"tier": "1", "minSz": "0", "maxSz": "0", "optMgnFactor": "1"}], "tier limits must rise, each > 0"),
    # a second review (new-user pass): a falling factor scaled IM below the a = 0.1 floor
    ([{"tier": "1", "minSz": "0", "maxSz": "50", "optMgnFactor": "1"},
      {"tier": "2", "minSz": "51", "maxSz": "90", "optMgnFactor": "0.5"}], "got 1, 0.5"),
])
def test_tiers_review_findings_are_refused(rows: list[dict[str, str]], message: str) -> None:
    raw = {"code": "0", "data": [{"instFamily": "BTC-USD", **row} for row in rows]}
    with pytest.raises(InvalidInput, match=message):
        with_margin_tiers(OKX, "BTC", read_okx_tiers(raw, "BTC-USD"))


def test_a_tier_that_starts_where_the_last_ends_is_taken_and_messages_show_plain_numbers() -> None:
    touching = read_okx_tiers(_tiers(("0", "50", "1"), ("50", "90", "2")), "BTC-USD")
    assert touching == ((Decimal(50), Decimal(1)), (Decimal(90), Decimal(2)))
    rules = with_margin_tiers(OKX, "BTC", read_okx_tiers(_tiers(("0", "5000", "1")), "BTC-USD"))
    with pytest.raises(InvalidInput, match=r"^6000 contracts of short options are beyond the largest position "
                                           r"tier \(5000 contracts\)$"):
        standard_margin(_book([_option("BTC-26DEC26-150000-C", "-60", "0.002")]), rules)


def test_a_new_option_takes_its_expirys_forward_and_one_expiry_has_one_forward() -> None:
    """Held: a 104,000 call with forward 101,000. Selling a new 103,000 call of the same expiry
    (no forward given): OTM 2,000 / 101,000, IM = 0.15 − 0.0198… + 0.01 = 0.1401980198… (from the
    index it would be 0.15 − 0.03 + 0.01 = 0.13)."""
    book = {"now": NOW, "index": {"BTC": "100000"}, "wallet": {"BTC": "5"},
            "positions": [_option("BTC-26DEC26-104000-C", "-1", "0.01")]}
    answer = check_order(book, load_option_rules("okx-options"),
                         OptionOrder("BTC-26DEC26-103000-C", Decimal(-1), Decimal("0.01"), Decimal("0.6")))
    first = Fraction("0.15") - Fraction(3000, 101000) + Fraction("0.01")
    second = Fraction("0.15") - Fraction(2000, 101000) + Fraction("0.01")
    assert answer.initial_margin_after == Decimal("0.27049505")   # 0.32 − 5,000 / 101,000 = 0.2704950495…, up
    assert Fraction(answer.initial_margin_after) - (first + second) < Fraction(1, 10**8)
    two = {**book, "positions": [_option("BTC-26DEC26-104000-C", "-1", "0.01"),
                                 _option("BTC-26DEC26-103000-C", "-1", "0.01", forward="95000")]}
    with pytest.raises(InvalidInput, match="BTC-26DEC26 has two forwards, 101000 and 95000"):
        read_portfolio(two)


def test_a_cross_currency_portfolio_takes_each_groups_tiers() -> None:
    """The BTC group (coin-margined, 2 BTC short: 200 contracts) at factor 1.02 of its family's
    tiers, the ETH USDC group (3 ETH: 30 contracts of 0.1) at ETH-USDC's 1.5: each group's IM is
    max(a, …) × its factor + mark, per coin."""
    from test_options_cross import CROSS

    from solvent.options.cross import cross_margin, read_cross_portfolio

    raw = {"code": "0", "data": [
        *_tiers(("0", "100", "1"), ("101", "1000", "1.02"))["data"],  # type: ignore[misc]
        *_tiers(("0", "10", "1"), ("11", "1000", "1.5"), family="ETH-USDC")["data"]]}  # type: ignore[misc]
    report = cross_margin(read_cross_portfolio(CROSS), OKX, raw)
    btc, eth = report.groups
    assert btc.report.tier is not None and (btc.report.tier.tier, btc.report.tier.factor) == (2, Decimal("1.02"))
    assert eth.report.tier is not None and (eth.report.tier.tier, eth.report.tier.factor) == (2, Decimal("1.5"))
    # BTC 110,000 call on 100,000 (forward = index): OTM 10,000 → b − 0.1 < a: (0.1 × 1.02 + 0.01) × 2
    assert btc.report.initial_margin == Decimal("0.224")
    # ETH 3,500 put on 4,000: OTM 500 → 0.15 − 0.125 < a: (0.1 × 1.5 × 4,000 + 20) × 3
    assert eth.report.initial_margin == Decimal("1860")
    with pytest.raises(InvalidInput, match="no tier of ETH-USDC"):
        cross_margin(read_cross_portfolio(CROSS), OKX, _tiers(("0", "1000", "1")))
