"""Inputs a review broke the options with: each is refused in one line or answered right."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import pytest

from solvent.cli import main
from solvent.errors import InvalidInput
from solvent.options import load_option_rules, portfolio_margin, price, read_portfolio
from solvent.options.cross import read_cross_portfolio
from solvent.options.pretrade import OptionOrder, check_order
from solvent.options.settlement import settlement_price

NOW = "2026-12-05T08:00:00Z"


def _book(positions: list[dict[str, str]], **extra: object) -> dict[str, object]:
    return {"now": NOW, "wallet": {"BTC": "1"}, "index": {"BTC": "100000"}, "positions": positions, **extra}


def test_an_inverse_futures_scenario_pnl_follows_its_entry() -> None:
    """Long 1 BTC of inverse perpetual entered at 50,000, marked at 100,000: its USD notional is
    50,000, so at −66 % it loses 0.5 × (1 − 1 / 0.34) = 0.970588 BTC; weighted 0.16 / 0.66 that
    is 0.23529412 (rounded up), the worst scenario (−16 % loses only 0.5 × 0.190476)."""
    book = read_portfolio(_book([{"instrument": "BTC-PERPETUAL", "qty": "1", "mark": "100000", "entry": "50000"}]))
    report = portfolio_margin(book, load_option_rules("deribit-pm"))
    assert report.maintenance_margin == Decimal("0.23529412")


@pytest.mark.parametrize(("extra", "position", "message"), [
    ({"surface": {"BTC-26MAR27": {"svi": {"a": "1e308", "b": "1e308", "rho": "0.5", "m": "0", "sigma": "1e308"}}}},
     {"instrument": "BTC-26MAR27-110000-C", "qty": "-1", "mark": "0.01"}, "volatility"),
    ({"surface": {"BTC-26MAR27": {"strikes": ["100000"], "vols": ["1e155"]}}},
     {"instrument": "BTC-26MAR27-110000-C", "qty": "-1", "mark": "0.01"}, "volatility"),
    ({}, {"instrument": "BTC-26MAR27-110000-C", "qty": "-1", "mark": "0.01", "vol": "60"}, "60 %"),
    ({}, {"instrument": "BTC-26MAR27-110000-C", "qty": "-1", "mark": "0.01", "vol": "0.6", "forward": "1e40"},
     "forward"),
    ({}, {"instrument": "BTC-26MAR27-" + "1" + "0" * 400 + "-P", "qty": "-1", "mark": "0.01", "vol": "0.6"},
     "option name"),
    ({}, {"instrument": "BTC-26MAR27-110000d0-C", "qty": "-1", "mark": "0.01", "vol": "0.6"}, "option name"),
    ({}, {"instrument": "BTC-05MAR27-110000-C", "qty": "-1", "mark": "0.01", "vol": "0.6"}, "option name"),
    ({}, {"instrument": "BTC-99XYZ99", "qty": "1", "mark": "100000"}, "date"),
    ({}, {"instrument": "BTC-26MAR20", "qty": "1", "mark": "100000"}, "expired"),
])
def test_out_of_range_or_malformed_input_is_refused(extra: dict[str, object], position: dict[str, str],
                                                    message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        portfolio_margin(read_portfolio(_book([position], **extra)), load_option_rules("deribit-pm"))


def test_a_cross_margin_asset_must_be_a_usd_one() -> None:
    with pytest.raises(InvalidInput, match="USD"):
        read_cross_portfolio({"now": NOW, "margin_asset": "BTC", "index": {"ETH": "0.04"}, "wallet": {"BTC": "1"},
                              "positions": [{"instrument": "ETH-26MAR27-3500-P", "qty": "-1", "mark": "0.02",
                                             "vol": "0.7"}]})


def test_an_order_that_pays_away_equity_must_still_fit_its_margin() -> None:
    book = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "50000"}, "wallet": {"BTC": "0.2"},
            "positions": [{"instrument": "BTC-26MAR27-55000-C", "qty": "-1", "mark": "0.01", "vol": "0.6"}]}
    rules = load_option_rules("deribit-standard")
    ruinous = check_order(book, rules, OptionOrder("BTC-26MAR27-55000-C", Decimal(1), Decimal(100)))
    assert not ruinous.accepted and ruinous.equity_after < 0
    fair = check_order(book, rules, OptionOrder("BTC-26MAR27-55000-C", Decimal(1), Decimal("0.01")))
    assert fair.accepted


def test_settlement_refuses_observations_out_of_order() -> None:
    expiry = 100 * 60_000
    ordered = [(t, Decimal(100)) for t in range(expiry - 31 * 60_000, expiry, 60_000)]
    with pytest.raises(InvalidInput, match="time order"):
        settlement_price({"a": [*ordered, (0, Decimal(1))], "b": ordered, "c": ordered}, expiry)
    last = ordered[-1][0]  # the refusal names the source and the time (found by review: it named neither)
    with pytest.raises(InvalidInput, match=f"^b: observations must be in time order, one per time: {last} follows "
                                           f"{last}$"):
        settlement_price({"a": ordered, "b": [*ordered, (last, Decimal(101))], "c": ordered}, expiry)


@pytest.mark.parametrize("args", [
    ["--rate", "-1000000"],
    ["--forward", "1e-308", "--strike", "1e308"],
])
def test_price_refuses_overflowing_arguments_in_one_line(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    base = {"--forward": "100", "--strike": "100"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = ["options", "price", "--vol", "0.5", "--expiry-days", "30", "--type", "put"]
    for flag, value in base.items():
        argv += [flag, value]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_png_must_be_a_writable_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["options", "margin", "--venue", "deribit-pm", "--demo", "calm", "--png", str(tmp_path / "m.txt")]) == 2
    assert ".png" in capsys.readouterr().err
    assert main(["options", "margin", "--venue", "deribit-pm", "--demo", "calm", "--png", "/proc/x/m.png"]) == 2
    assert "folder /proc/x does not exist" in capsys.readouterr().err  # refused before any work


def test_prices_stay_finite_at_the_largest_volatility_accepted() -> None:
    assert price("call", 100, 100, 20.0, 1.0) == pytest.approx(100, rel=1e-6)


@pytest.mark.parametrize(("position", "message"), [
    # a 60,000 call at a forward of 100,000 (the index) is worth at least 40,000 USD = 0.4 BTC
    ({"instrument": "BTC-26MAR27-60000-C", "qty": "-1", "mark": "0.3", "vol": "0.6"}, r"\[40000, 100000\]"),
    # a 120,000 put is worth at least 20,000 USD = 0.2 BTC
    ({"instrument": "BTC-26MAR27-120000-P", "qty": "-1", "mark": "0.1", "vol": "0.6"}, r"\[20000, 120000\]"),
    # a call is worth at most its forward: 1.5 BTC = 150,000 USD
    ({"instrument": "BTC-26MAR27-60000-C", "qty": "1", "mark": "1.5", "vol": "0.6"}, "no-arbitrage"),
    # USDC-margined: the mark is USD itself; a forward given moves the floor (90,000 − 60,000)
    ({"instrument": "BTC_USDC-26MAR27-60000-C", "qty": "-1", "mark": "29999.99", "vol": "0.6", "forward": "90000"},
     r"\[30000, 90000\]"),
])
def test_a_mark_below_the_intrinsic_value_is_refused_even_with_a_vol_given(position: dict[str, str],
                                                                           message: str) -> None:
    """Found by a new-user pass: with a vol given, nothing compared the mark with the option's
    value at exercise, so a deep in-the-money short call marked at 0.3 BTC was margined as
    fractions + 0.3 where it owes at least 0.4."""
    book = _book([position], wallet={"BTC": "1", "USDC": "100000"})
    if position["instrument"].startswith("BTC_USDC"):
        book["wallet"] = {"USDC": "100000"}
    with pytest.raises(InvalidInput, match=message):
        read_portfolio(book)


@pytest.mark.parametrize("position", [
    {"instrument": "BTC-26MAR27-60000-C", "qty": "-1", "mark": "0.4", "vol": "0.01"},  # exactly intrinsic
    {"instrument": "BTC-26MAR27-120000-P", "qty": "-1", "mark": "0.2", "vol": "0.01"},
    {"instrument": "BTC_USDC-26MAR27-60000-C", "qty": "-1", "mark": "30000", "vol": "0.01", "forward": "90000"},
])
def test_a_mark_at_its_intrinsic_value_is_read(position: dict[str, str]) -> None:
    book = _book([position])
    if position["instrument"].startswith("BTC_USDC"):
        book["wallet"] = {"USDC": "100000"}
    assert read_portfolio(book).options[0].mark == Decimal(position["mark"])


def test_a_surface_for_an_expiry_no_option_has_is_refused_not_ignored() -> None:
    """Found by a new-user pass: a surface keyed by a mistyped expiry (27MAR27 for 26MAR27) was
    silently unused, and the option took a vol implied from its mark instead."""
    smile = {"strikes": ["90000", "110000"], "vols": ["0.7", "0.6"]}
    option = {"instrument": "BTC-26MAR27-110000-C", "qty": "-1", "mark": "0.01"}
    with pytest.raises(InvalidInput, match="no option here expires at BTC-27MAR27"):
        read_portfolio(_book([option], surface={"BTC-27MAR27": smile}))
    assert read_portfolio(_book([option], surface={"BTC-26MAR27": smile})).options[0].vol_source == "surface"


def test_a_cross_portfolio_uses_each_groups_surface_and_refuses_an_unused_one() -> None:
    smile = {"strikes": ["3000", "4000"], "vols": ["0.8", "0.7"]}
    cross = {"now": NOW, "margin_asset": "USDC", "index": {"BTC": "100000", "ETH": "3500"},
             "wallet": {"USDC": "100000"},
             "positions": [{"instrument": "ETH-26MAR27-3500-P", "qty": "-1", "mark": "0.02"},
                           {"instrument": "BTC-26MAR27-110000-C", "qty": "-1", "mark": "0.01", "vol": "0.6"}]}
    read = read_cross_portfolio({**cross, "surface": {"ETH-26MAR27": smile}})
    eth = next(g for g in read.groups if g.base == "ETH")
    assert eth.options[0].vol_source == "surface"
    with pytest.raises(InvalidInput, match="no option here expires at SOL-26MAR27"):
        read_cross_portfolio({**cross, "surface": {"ETH-26MAR27": smile, "SOL-26MAR27": smile}})


def test_a_cross_portfolio_names_a_bad_position_before_its_surfaces() -> None:
    """Found by review: a position missing its -P was reported as unused surfaces."""
    smile = {"strikes": ["3000", "4000"], "vols": ["0.8", "0.7"]}
    with pytest.raises(InvalidInput, match="is not an option name"):
        read_cross_portfolio({"now": NOW, "margin_asset": "USDC", "index": {"ETH": "3500"}, "wallet": {"USDC": "1"},
                              "surface": {"ETH-26MAR27": smile, "BTC-26MAR27": smile},
                              "positions": [{"instrument": "ETH-26MAR27-3500", "qty": "-1", "mark": "0.02"}]})


def test_a_large_portfolio_is_read_in_one_pass_and_duplicates_are_still_named() -> None:
    """The duplicate check counted each name with ``list.count``: O(n²), 100,000 positions took
    minutes (found by a new-user pass). It is one pass now, and still names every duplicate."""
    calls = [{"instrument": f"BTC-26MAR27-{100000 + 1000 * i}-C", "qty": "-1", "mark": "0.001", "vol": "0.6"}
             for i in range(3)]
    with pytest.raises(InvalidInput, match="BTC-26MAR27-100000-C, BTC-26MAR27-102000-C listed more than once"):
        read_portfolio(_book([*calls, calls[2], calls[0]]))


def test_the_portfolio_as_read_is_written_in_plain_decimals(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """``str(Decimal)`` wrote "1E-7", "5E+4" and "50000.00" (json-conventions: plain, no exponent,
    no trailing zeros); a position's IM and MM are rounded up to the quantum as the totals are."""
    import json

    path = tmp_path / "p.json"
    path.write_text(json.dumps({"now": NOW, "wallet": {"BTC": "0.0000001"}, "index": {"BTC": "5e4"},
                                "positions": [{"instrument": "BTC-26DEC26-104000-C", "qty": "-1.000", "mark": "0.01",
                                               "vol": "0.6", "forward": "50500.00"}]}))
    assert main(["options", "margin", "--venue", "okx-options", "--file", str(path), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert (body["portfolio"]["index_price"], body["portfolio"]["wallet"]) == ("50000", "0.0000001")
    assert (body["portfolio"]["options"][0]["qty"], body["portfolio"]["options"][0]["forward"]) == ("-1", "50500")
    # 53,500 out of the money: max(0.1, 0.15 − 53,500 / 50,500) + 0.01 = 0.11, the portfolio's IM
    assert body["positions"][0]["initial_margin"] == body["initial_margin"]
    assert len(body["positions"][0]["initial_margin"].partition(".")[2]) <= 8


@pytest.mark.parametrize(("extra", "position", "place"), [
    ({"surface": {"BTC-26MAR27": {"strikes": ["90000", "80000"], "vols": ["0.7", "0.6"]}}},
     {"instrument": "BTC-26MAR27-110000-C", "qty": "-1", "mark": "0.01"}, "surface.BTC-26MAR27"),
    ({"surface": {"BTC-26MAR27": {"svi": {"a": "-1", "b": "0.4", "rho": "-0.4", "m": "0", "sigma": "0.1"}}}},
     {"instrument": "BTC-26MAR27-110000-C", "qty": "-1", "mark": "0.01"}, "surface.BTC-26MAR27.svi"),
    ({}, {"instrument": "BTC-30FEB27-110000-C", "qty": "-1", "mark": "0.01"}, r"positions\[0\].instrument"),
])
def test_a_refusal_names_the_field(extra: dict[str, object], position: dict[str, str], place: str) -> None:
    """A bad smile, SVI slice or instrument name was refused without saying where."""
    with pytest.raises(InvalidInput, match=place):
        read_portfolio(_book([position], **extra))


@pytest.mark.parametrize("days", ["-1", "1e300"])
def test_expiry_days_out_of_range_are_named_in_days(days: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``--expiry-days -1`` was refused as "time to expiry ... got -0.0027397260273972603": the
    years black76 sees, not the days the user typed."""
    args = ["options", "price", "--forward", "100000", "--strike", "110000", "--vol", "0.6", "--type", "call",
            "--expiry-days", days]
    assert main(args) == 2
    assert "expiry days must be between 0 and 36500" in capsys.readouterr().err


@pytest.mark.parametrize("rules", ["deribit-pm", "span-16"])
def test_a_volatility_that_misses_the_mark_is_replaced_by_the_marks_own(rules: str) -> None:
    """Found by a new-user pass: one long 55,000 call at index 50,000, 111 days out, marked at
    0.01 BTC with vol 0.6. Black-76 at 0.6 prices it at about 4,690 USD = 0.094 BTC (F 50,000,
    σ√t = 0.6 × √(111.33 / 365) = 0.3314, d1 = (ln(50/55) + 0.3314² / 2) / 0.3314 = −0.1219,
    d2 = −0.4533: 50,000 × 0.4515 − 55,000 × 0.3252 = 4,690), so the scenarios counted losses of
    up to 0.07 BTC on a position worth 0.01: MM 0.0704. A long's loss can never exceed what it is
    worth; the mark decides, its own volatility is used and a note says so."""
    position = {"instrument": "BTC-26MAR27-55000-C", "qty": "1", "mark": "0.01"}
    book = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "50000"}, "wallet": {"BTC": "1"}}
    given = portfolio_margin(read_portfolio({**book, "positions": [{**position, "vol": "0.6"}]}),
                             load_option_rules(rules))
    implied = portfolio_margin(read_portfolio({**book, "positions": [position]}), load_option_rules(rules))
    assert Decimal(0) < given.maintenance_margin <= Decimal("0.01")
    assert given.maintenance_margin == implied.maintenance_margin and implied.notes == ()
    (note,) = given.notes
    assert note.startswith("BTC-26MAR27-55000-C: vol 0.6 (given) prices this call at 4689.") and \
        "the scenarios use the mark's own volatility" in note, note
    # a volatility that prices the mark (within 1 %) is kept: the mark's own, written to 4 places
    own = note.rsplit(", ", 1)[1]
    kept = portfolio_margin(read_portfolio({**book, "positions": [{**position, "vol": own}]}), load_option_rules(rules))
    assert kept.notes == ()


def test_a_mark_no_volatility_prices_is_refused_by_the_scenarios_only(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A put 5,000 in the money marked at its intrinsic value exactly (0.1 BTC × 50,000 = 5,000 USD)
    with a volatility: no volatility prices a mark at intrinsic value, so the scenarios cannot
    reprice it (refused); standard margin reads only the mark, the index and its fractions."""
    raw = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "50000"}, "wallet": {"BTC": "1"},
           "positions": [{"instrument": "BTC-26MAR27-55000-P", "qty": "-1", "mark": "0.1", "vol": "0.6"}]}
    portfolio = read_portfolio(raw)
    with pytest.raises(InvalidInput, match="no volatility prices the mark"):
        portfolio_margin(portfolio, load_option_rules("deribit-pm"))
    path = tmp_path / "p.json"
    path.write_text(__import__("json").dumps(raw))
    assert main(["options", "margin", "--venue", "deribit-standard", "--file", str(path), "--json"]) == 0
    capsys.readouterr()
    assert main(["options", "margin", "--venue", "deribit-pm", "--file", str(path)]) == 2
    assert "no volatility prices the mark" in capsys.readouterr().err


def test_an_inverse_futures_rate_steps_with_the_coins_it_is_charged_on() -> None:
    """Found by a new-user pass: short 250 coins of BTC-PERPETUAL entered at 40,000 (USD 10M),
    marked at 50,000, is 10,000,000 / 50,000 = 200 coins now. Deribit's legacy futures rates
    (TV-30: IM 2 % + 0.005 % per BTC, MM 1 % + 0.005 % per BTC) at 200 coins: IM 3 % × 200 =
    6 BTC, MM 2 % × 200 = 4 BTC. The rates stepped with the 250 coins at entry (IM 3.25 %,
    MM 2.25 %) and were applied to 200: 6.5 and 4.5."""
    raw = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "50000"}, "wallet": {"BTC": "100"},
           "positions": [{"instrument": "BTC-PERPETUAL", "qty": "-250", "mark": "50000", "entry": "40000"}]}
    from solvent.options import margin

    result = margin(read_portfolio(raw), load_option_rules("deribit-standard"))
    assert (result.initial_margin, result.maintenance_margin) == (Decimal(6), Decimal(4))


def test_standard_margin_does_not_need_a_volatility_the_mark_cannot_give(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a new-user pass: a short 110,000 call one minute before expiry, index 100,000,
    marked at the minimum tick, 0.0001 BTC (10 USD): no volatility up to 2,000 % prices it (σ√t at
    20 is 20 × √(1 / 525,600) = 0.028, d2 ≈ −3.5), and the whole portfolio was refused, though
    standard margin reads only the mark: MM 0.075 + 0.0001 = 0.0751 BTC, IM max(0.15 − 0.10,
    0.10) + 0.0001 = 0.1001 BTC (TV-29's formulas). The scenario rule sets still refuse it."""
    raw = {"now": "2027-03-26T07:59:00Z", "wallet": {"BTC": "1"}, "index": {"BTC": "100000"},
           "positions": [{"instrument": "BTC-26MAR27-110000-C", "qty": "-1", "mark": "0.0001"}]}
    path = tmp_path / "near.json"
    path.write_text(__import__("json").dumps(raw))
    assert main(["options", "margin", "--venue", "deribit-standard", "--file", str(path), "--json"]) == 0
    doc = __import__("json").loads(capsys.readouterr().out)
    assert (doc["maintenance_margin"], doc["initial_margin"]) == ("0.0751", "0.1001")
    assert doc["portfolio"]["options"][0]["vol"] is None and doc["portfolio"]["options"][0]["vol_source"] == "none"
    assert main(["options", "margin", "--venue", "deribit-pm", "--file", str(path)]) == 2
    assert "no volatility prices its mark" in capsys.readouterr().err


def test_settlement_refuses_two_observations_of_one_source_at_one_time() -> None:
    """Found by a new-user pass: a source's last minute reported again at 1 (a price at the same
    millisecond as the one before it) was taken, and moved the settlement from 125,000 to
    123,611.12. Which of the two held? Neither can be told: refused."""
    expiry = 100 * 60_000
    ordered = [(t, Decimal(125_000)) for t in range(expiry - 31 * 60_000, expiry, 60_000)]
    assert settlement_price({"a": ordered, "b": ordered, "c": ordered}, expiry).price == Decimal(125_000)
    twice = [*ordered, (ordered[-1][0], Decimal(1))]
    with pytest.raises(InvalidInput, match="one per time"):
        settlement_price({"a": twice, "b": ordered, "c": ordered}, expiry)


@pytest.mark.parametrize(("png", "words"), [("missing/matrix.png", "does not exist"),
                                            ("matrix.txt", "should end in .png")])
def test_a_plot_that_cannot_be_written_is_refused_before_any_work(png: str, words: str, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a new-user pass: ``--png`` into a missing folder created the folder (every other
    output refuses one), and a name not ending in .png was refused only after the margin."""
    assert main(["options", "margin", "--venue", "deribit-pm", "--demo", "calm", "--png", str(tmp_path / png)]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_at_zero_volatility_theta_is_the_rate_on_the_discounted_intrinsic_value() -> None:
    """Found by a new-user pass: with vol × √t = 0 theta was 0 whatever the rate. A call on 100
    struck at 90, a year out at 5 %: V = e^−0.05 × 10 = 9.51229 and, as expiry nears, it earns the
    rate: theta = r × V / 365 = 0.05 × 9.51229 / 365 = 0.00130305 a day. The general formula's
    limit is the same (its decay term vanishes deep in the money)."""
    from solvent.options import greeks

    g = greeks("call", 100.0, 90.0, 0.0, 1.0, 0.05)
    assert g.theta == pytest.approx(0.05 * 10 * math.exp(-0.05) / 365, rel=1e-12)
    assert greeks("call", 100.0, 90.0, 0.01, 1.0, 0.05).theta == pytest.approx(g.theta, rel=1e-9)


def test_greeks_that_overflow_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a new-user pass: vol 1e-310 printed ``"gamma": "Infinity"`` and exited 0."""
    assert main(["options", "price", "--forward", "0.00000001", "--strike", "0.00000001", "--vol", "1e-310",
                 "--expiry-days", "30", "--type", "call", "--json"]) == 2
    assert "the greeks overflow" in capsys.readouterr().err


def test_a_new_option_ordered_below_its_intrinsic_value_is_refused_naming_the_order_price() -> None:
    """Found by a new-user pass: a deep in-the-money call (strike 40,000, index 50,000: intrinsic
    at least 10,000 USD = 0.2 BTC) ordered at 0.01 BTC (500 USD) under portfolio margin was
    refused speaking of "its mark", where the user had given an order price."""
    book = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "50000"}, "wallet": {"BTC": "1"}, "positions": []}
    with pytest.raises(InvalidInput, match=r"^the order's price 0\.01 is the new option's mark until the venue marks "
                                           r"it, and cannot be one: .*no-arbitrage range"):
        check_order(book, load_option_rules("deribit-pm"), OptionOrder("BTC-26MAR27-40000-C", Decimal(1),
                                                                       Decimal("0.01")))


def test_a_refusal_of_another_position_is_not_put_on_the_new_option_s_order_price() -> None:
    """Found by review: any refusal while margining the portfolio after a new option's order was
    put on the order's price, even one about a future the rules do not margin."""
    book = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "50000"}, "wallet": {"BTC": "1"},
            "positions": [{"instrument": "BTC-26MAR27", "qty": "1000", "mark": "50000", "entry": "50000"}]}
    with pytest.raises(InvalidInput, match=r"^option rules okx-options margin options only: BTC-26MAR27 has no "
                                           r"futures rules here$"):
        check_order(book, load_option_rules("okx-options"), OptionOrder("BTC-26MAR27-60000-C", Decimal(1),
                                                                        Decimal("0.02")))
