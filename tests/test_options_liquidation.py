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
