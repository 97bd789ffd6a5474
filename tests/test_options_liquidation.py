"""Liquidation planning of an options portfolio below maintenance, by hand (TV-29's standard
margin at index 50,000: a short 55,000 call at 0.01 needs MM 0.085 BTC, a short 45,000 put at
0.005 needs 0.08, a long call nothing)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from solvent.errors import InvalidInput
from solvent.options import load_option_rules, margin, read_portfolio
from solvent.options.liquidation import plan_liquidation

BOOK = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "50000"}, "wallet": {"BTC": "0.1"},
        "positions": [{"instrument": "BTC-26MAR27-55000-C", "qty": "-1", "mark": "0.01", "vol": "0.6"},
                      {"instrument": "BTC-26MAR27-45000-P", "qty": "-1", "mark": "0.005", "vol": "0.6"},
                      {"instrument": "BTC-26MAR27-60000-C", "qty": "1", "mark": "0.004", "vol": "0.6"}]}


def test_the_call_that_relieves_most_per_notional_is_reduced_until_equity_covers_mm() -> None:
    """Equity 0.1 − 0.01 − 0.005 + 0.004 = 0.089 BTC < MM 0.165. Half of the call relieves
    0.0425 BTC per 25,000 USD closed (1.7e-6), half of the put 0.04 (1.6e-6), the long call
    nothing: the call, each time half of what is left, until 0.085 × 0.5^k + 0.08 ≤ 0.089,
    k = 4 (MM 0.0853125)."""
    plan, after = plan_liquidation(BOOK, load_option_rules("deribit-standard"), step=Decimal("0.5"))
    assert [(s.instrument, s.qty) for s in plan] == [("BTC-26MAR27-55000-C", Decimal(q))
                                                      for q in ("0.5", "0.25", "0.125", "0.0625")]
    assert plan[0].relief_per_notional == Decimal("0.0425") / 25_000
    final = margin(read_portfolio(after), load_option_rules("deribit-standard"))
    assert final.maintenance_margin == Decimal("0.0853125") and final.equity == Decimal("0.089")
    assert BOOK["wallet"] == {"BTC": "0.1"}  # the input is not changed


def test_a_portfolio_above_maintenance_is_left_alone_and_bad_steps_are_refused() -> None:
    rich = {**BOOK, "wallet": {"BTC": "1"}}
    plan, after = plan_liquidation(rich, load_option_rules("deribit-pm"))
    assert plan == [] and after == rich
    with pytest.raises(InvalidInput, match="fraction"):
        plan_liquidation(BOOK, load_option_rules("deribit-pm"), step=Decimal(0))


# -- hedging with the perpetual (deribit-pm: Deribit's algorithm since 2023-08-01) ----------

SHORT_CALLS = {"now": "2027-02-25T08:00:00Z", "index": {"BTC": "100000"}, "wallet": {"BTC": "0.05"},
               "positions": [{"instrument": "BTC-27MAR27-100000-C", "qty": "-2", "mark": "0.0685", "vol": "0.6"}]}
"""Two short at-the-money inverse calls, 30 days left, equity 0.05 − 0.137 < 0: below maintenance."""


def _coin_delta_of_the_call() -> float:
    """Black-76 by hand, forward = strike = index 100,000, σ 0.6, t = 30/365: d1 = σ√t / 2,
    d2 = −d1; delta N(d1); coin value (F N(d1) − K N(d2)) / index; coin delta = N(d1) − value."""
    from math import sqrt
    from statistics import NormalDist

    n = NormalDist().cdf
    d1 = 0.6 * sqrt(30 / 365) / 2
    value = (100_000 * n(d1) - 100_000 * n(-d1)) / 100_000
    return n(d1) - value


def test_when_no_option_can_be_traded_deribit_pm_hedges_the_delta_with_the_perpetual() -> None:
    from solvent.options.liquidation import portfolio_delta
    from solvent.options.pretrade import OptionOrder, after_order

    pm = load_option_rules("deribit-pm")
    assert abs(float(portfolio_delta(read_portfolio(SHORT_CALLS))) - -2 * _coin_delta_of_the_call()) < 1e-12
    plan, after = plan_liquidation(SHORT_CALLS, pm, untradable={"BTC-27MAR27-100000-C"})
    assert plan and all(s.kind == "hedge" and s.instrument == "BTC-PERPETUAL" for s in plan)
    first = Decimal(int(0.25 * 2 * _coin_delta_of_the_call() * 10_000)) / 10_000   # a quarter, toward zero
    assert plan[0].qty == first and first > 0   # short calls: the hedge buys
    assert all(s.maintenance_margin_after < s.maintenance_margin_before for s in plan)
    held = next(p for p in after["positions"] if p["instrument"] == "BTC-PERPETUAL")
    assert Decimal(held["qty"]) == sum(s.qty for s in plan)   # the hedges add to one perpetual position
    # it stopped because one more quarter of the delta would not lower MM (equity stays below it)
    current = read_portfolio(after)
    last = margin(current, pm)
    assert last.equity < last.maintenance_margin
    more = -portfolio_delta(current) * Decimal("0.25")
    again = margin(read_portfolio(after_order(after, OptionOrder("BTC-PERPETUAL", more.quantize(Decimal("0.0001")),
                                                                 Decimal(100_000)))), pm)
    assert again.maintenance_margin >= last.maintenance_margin


def test_closing_comes_first_and_rules_without_the_hedge_do_not_hedge() -> None:
    pm = load_option_rules("deribit-pm")
    plan, _ = plan_liquidation(SHORT_CALLS, pm)
    assert plan[0].kind == "close" and plan[0].instrument == "BTC-27MAR27-100000-C"
    standard = load_option_rules("deribit-standard")
    assert not standard.hedge_with_perpetual
    assert plan_liquidation(SHORT_CALLS, standard, untradable={"BTC-27MAR27-100000-C"}) == ([], SHORT_CALLS)
    # nor with the perpetual itself untradable
    assert plan_liquidation(SHORT_CALLS, pm, untradable={"BTC-27MAR27-100000-C", "BTC-PERPETUAL"})[0] == []


@pytest.mark.parametrize(("arguments", "message"), [
    ({"untradable": "BTC-27MAR27-100000-C"}, "a collection of instrument names"),  # was read as its letters
    ({"untradable": None}, "a collection of instrument names"),
    ({"untradable": [5]}, "strings only"),
    ({"step": Decimal("NaN")}, "finite"),
    ({"step": 0.5}, "not float"),
    ({"max_steps": True}, "at least one step"),
])
def test_bad_planning_arguments_are_refused_in_one_line(arguments: dict[str, object], message: str) -> None:
    """Found by a new-user pass: a name given as a string was read as a set of its characters (and
    that very instrument was then closed); NaN and float steps raised decimal and type errors."""
    with pytest.raises(InvalidInput, match=message):
        plan_liquidation(SHORT_CALLS, load_option_rules("deribit-pm"), **arguments)  # type: ignore[arg-type]
