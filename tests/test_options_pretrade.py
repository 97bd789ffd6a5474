"""Pre-trade check of an option order on the portfolio after it; values by hand (TV-29's
standard margin: a short 55,000 call at index 50,000, mark 0.01 BTC, needs IM 0.11 BTC)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from solvent.errors import InvalidInput
from solvent.options import load_option_rules
from solvent.options.pretrade import OptionOrder, after_order, check_order

BOOK = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "50000"}, "wallet": {"BTC": "0.2"},
        "positions": [{"instrument": "BTC-26MAR27-55000-C", "qty": "-1", "mark": "0.01", "vol": "0.6"}]}
STANDARD = load_option_rules("deribit-standard")


def test_a_second_short_call_is_refused_when_equity_does_not_cover_the_new_im() -> None:
    """Sell one more at 0.01: wallet 0.21, two short at 0.01: equity 0.19 BTC < IM 2 × 0.11."""
    answer = check_order(BOOK, STANDARD, OptionOrder("BTC-26MAR27-55000-C", Decimal(-1), Decimal("0.01")))
    assert (answer.accepted, answer.reason) == (False, "INSUFFICIENT_MARGIN")
    assert (answer.initial_margin_before, answer.initial_margin_after) == (Decimal("0.11"), Decimal("0.22"))
    assert answer.equity_after == Decimal("0.19")


def test_half_an_option_more_fits_and_closing_always_passes() -> None:
    half = check_order(BOOK, STANDARD, OptionOrder("BTC-26MAR27-55000-C", Decimal("-0.5"), Decimal("0.01")))
    assert half.accepted and half.initial_margin_after == Decimal("0.165")  # 1.5 × 0.11 ≤ equity 0.19
    poor = {**BOOK, "wallet": {"BTC": "0.05"}}  # equity 0.04 < IM 0.11 already
    close = check_order(poor, STANDARD, OptionOrder("BTC-26MAR27-55000-C", Decimal("0.5"), Decimal("0.01")))
    assert close.accepted and close.initial_margin_after == Decimal("0.055")  # it lowers the IM
    more = check_order(poor, STANDARD, OptionOrder("BTC-PERPETUAL", Decimal("1"), Decimal("50000")))
    assert not more.accepted  # a future adds IM (2 % + 0.005 % of 1 BTC) to an account already short


def test_the_order_changes_nothing_and_bad_orders_are_refused() -> None:
    snapshot = repr(BOOK)
    check_order(BOOK, STANDARD, OptionOrder("BTC-26MAR27-55000-C", Decimal(-1), Decimal("0.01")))
    assert repr(BOOK) == snapshot
    with pytest.raises(InvalidInput, match="not on BTC"):
        check_order(BOOK, STANDARD, OptionOrder("ETH-26MAR27-5000-C", Decimal(-1), Decimal("0.01")))
    with pytest.raises(InvalidInput, match="must not be 0"):
        check_order(BOOK, STANDARD, OptionOrder("BTC-26MAR27-55000-C", Decimal(0), Decimal("0.01")))
    with pytest.raises(InvalidInput, match="price"):
        check_order(BOOK, STANDARD, OptionOrder("BTC-26MAR27-55000-C", Decimal(1), Decimal(0)))


def test_a_future_reduced_realises_its_pnl_and_one_added_averages_its_entry() -> None:
    """Long 2 BTC of inverse perpetual entered at 50,000, marked at 62,500 (TV-08's inverse P&L:
    qty × (1 − entry / exit)): 2 × (1 − 50,000 / 62,500) = 0.4 BTC unrealised. Selling 1 at the
    mark realises 1 × 0.2 into the wallet, and the other keeps its 0.2: equity 1 + 0.2 + 0.2 =
    1.4. Buying 2 more at the mark keeps one position of 4 at the entry of the summed notional,
    (2 × 50,000 + 2 × 62,500) / 4 = 56,250: 4 × (1 − 56,250 / 62,500) = 0.4 unrealised, 1.4."""
    book = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "62500"}, "wallet": {"BTC": "1"},
            "positions": [{"instrument": "BTC-PERPETUAL", "qty": "2", "mark": "62500", "entry": "50000"}]}
    sold = check_order(book, STANDARD, OptionOrder("BTC-PERPETUAL", Decimal(-1), Decimal(62_500)))
    assert sold.equity_after == Decimal("1.4")
    bought = check_order(book, STANDARD, OptionOrder("BTC-PERPETUAL", Decimal(2), Decimal(62_500)))
    assert bought.equity_after == Decimal("1.4")


def test_an_order_priced_away_from_the_mark_counts_no_gain() -> None:
    """Found by a new-user pass: the gap between an order's price and the mark counted as a gain.
    Each order counts at the worse of its price and the mark for the trader."""
    # long 0.01 BTC of inverse perpetual at its mark 100,000, 0.01 BTC in the wallet: buying 100
    # more at 1,000 counts at 100,000, so the entry stays 100,000 and the equity 0.01 BTC (it was
    # 99.01: the entry averaged down to about 1,990 against the mark of 100,000)
    perp = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "100000"}, "wallet": {"BTC": "0.01"},
            "positions": [{"instrument": "BTC-PERPETUAL", "qty": "0.01", "mark": "100000"}]}
    bought = check_order(perp, STANDARD, OptionOrder("BTC-PERPETUAL", Decimal(100), Decimal(1000)))
    assert (bought.accepted, bought.equity_after) == (False, Decimal("0.01"))
    # short a 120,000 call (mark 0.02) and an 80,000 put (mark 0.015) on 100,000, 0.3 BTC: ten more
    # calls sold at 0.9 count at 0.02: 0.3 + 10 × 0.02 − 11 × 0.02 − 0.015 = 0.265 BTC against
    # IM 11 × (0.10 + 0.02) + (0.10 + 0.015) = 1.435 (each 20 % out of the money: max(0.15 −
    # 0.2, 0.10)); it counted 0.3 + 9 = 9.065 and was accepted
    strangle = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "100000"}, "wallet": {"BTC": "0.3"},
                "positions": [{"instrument": "BTC-26MAR27-120000-C", "qty": "-1", "mark": "0.02", "vol": "0.6"},
                              {"instrument": "BTC-26MAR27-80000-P", "qty": "-1", "mark": "0.015", "vol": "0.6"}]}
    sold = check_order(strangle, STANDARD, OptionOrder("BTC-26MAR27-120000-C", Decimal(-10), Decimal("0.9")))
    assert (sold.accepted, sold.equity_after, sold.initial_margin_after) == (False, Decimal("0.265"),
                                                                              Decimal("1.435"))
    # a new USDC perpetual sold at 1 is marked at the index 100,000 and entered at min(1, 100,000):
    # −100 × (100,000 − 1) = −9,999,900 USDC on a wallet of 10 and a 5 USDC call (it was margined on
    # a notional of 100 × 1 USDC and accepted)
    usdc = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "100000"}, "wallet": {"USDC": "10"},
            "positions": [{"instrument": "BTC_USDC-26MAR27-200000-C", "qty": "1", "mark": "5", "vol": "0.6"}]}
    short = check_order(usdc, STANDARD, OptionOrder("BTC_USDC-PERPETUAL", Decimal(-100), Decimal(1)))
    assert (short.accepted, short.equity_after) == (False, Decimal(-9_999_885))


LONG_PERP = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "62500"}, "wallet": {"BTC": "1"},
             "positions": [{"instrument": "BTC-PERPETUAL", "qty": "1", "mark": "62500", "entry": "50000"}]}
"""Long 1 BTC of inverse perpetual entered at 50,000, marked at 62,500: 1 × (1 − 50,000 / 62,500)
= 0.2 BTC unrealised, equity 1.2."""


@pytest.mark.parametrize(("qty", "price", "wallet", "left", "entry", "equity"), [
    # closing at 70,000 (above the mark, for the seller) realises at the mark: 0.2, not 1 − 5 / 7
    ("-1", "70000", "1.2", "0", "50000", "1.2"),
    # closing at 50,000 (under the mark) realises at it: 1 × (1 − 50,000 / 50,000) = 0
    ("-1", "50000", "1", "0", "50000", "1"),
    # a flip at 70,000: the long closes at the mark (0.2), the short 2 is entered at the mark,
    # 62,500, not 70,000 (which would count −2 × (1 − 70,000 / 62,500) = 0.24 more)
    ("-3", "70000", "1.2", "-2", "62500", "1.2"),
    # a flip at 50,000: the long closes at 50,000 (0), the short 2 is entered at 50,000 and marked
    # at 62,500: −2 × (1 − 50,000 / 62,500) = −0.4; equity 0.6, the 3 × 0.2 given away
    ("-3", "50000", "1", "-2", "50000", "0.6"),
])
def test_a_future_reduced_or_flipped_counts_at_the_worse_of_its_price_and_the_mark(
        qty: str, price: str, wallet: str, left: str, entry: str, equity: str) -> None:
    order = OptionOrder("BTC-PERPETUAL", Decimal(qty), Decimal(price))
    after = after_order(LONG_PERP, order)
    assert (Decimal(after["wallet"]["BTC"]), Decimal(after["positions"][0]["qty"]),
            Decimal(after["positions"][0]["entry"])) == (Decimal(wallet), Decimal(left), Decimal(entry))
    assert check_order(LONG_PERP, STANDARD, order).equity_after == Decimal(equity)


def test_a_new_future_is_marked_at_its_expirys_forward_else_the_index() -> None:
    """A long 120,000 call of 26MAR27 with the expiry's forward 105,000, index 100,000. A new
    26MAR27 future is marked at 105,000 and a buy at 100,000 is entered there (the worse for a
    buyer); a 25JUN27 future, whose expiry no option gives, and the perpetual at the index
    100,000, a buy at 1,000 entered at 100,000: the equity stays the wallet 1 + the call 0.02."""
    book = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "100000"}, "wallet": {"BTC": "1"},
            "positions": [{"instrument": "BTC-26MAR27-120000-C", "qty": "1", "mark": "0.02", "forward": "105000",
                           "vol": "0.6"}]}
    for name, price, mark in (("BTC-26MAR27", "100000", "105000"), ("BTC-25JUN27", "100000", "100000"),
                              ("BTC-PERPETUAL", "1000", "100000")):
        order = OptionOrder(name, Decimal(1), Decimal(price))
        new = after_order(book, order)["positions"][1]
        assert (new["instrument"], Decimal(new["mark"]), Decimal(new["entry"])) == (name, Decimal(mark),
                                                                                    Decimal(mark))
        assert check_order(book, STANDARD, order).equity_after == Decimal("1.02")
    # sold at 110,000 (above its mark 105,000): entered at the mark, no gain
    sold = after_order(book, OptionOrder("BTC-26MAR27", Decimal(-1), Decimal(110_000)))["positions"][1]
    assert (Decimal(sold["mark"]), Decimal(sold["entry"])) == (Decimal(105_000), Decimal(105_000))


def test_a_first_order_into_a_portfolio_that_holds_nothing_is_checked() -> None:
    """Nothing held, 0.2 BTC in the wallet: selling the TV-29 call at 0.01 receives 0.01 and holds
    it at 0.01 (equity 0.2), IM 0.11: accepted; five of them need 0.55 > 0.2: refused."""
    empty = {**BOOK, "positions": []}
    one = check_order(empty, STANDARD, OptionOrder("BTC-26MAR27-55000-C", Decimal(-1), Decimal("0.01"),
                                                   Decimal("0.6")))
    assert (one.accepted, one.initial_margin_before, one.initial_margin_after, one.equity_after) == (
        True, Decimal(0), Decimal("0.11"), Decimal("0.2"))
    five = check_order(empty, STANDARD, OptionOrder("BTC-26MAR27-55000-C", Decimal(-5), Decimal("0.01"),
                                                    Decimal("0.6")))
    assert (five.accepted, five.reason) == (False, "INSUFFICIENT_MARGIN")


def test_a_portfolio_without_a_positions_list_is_refused_in_one_line() -> None:
    with pytest.raises(InvalidInput, match="missing field 'positions'"):
        check_order({k: v for k, v in BOOK.items() if k != "positions"}, STANDARD,
                    OptionOrder("BTC-26MAR27-55000-C", Decimal(-1), Decimal("0.01")))


@pytest.mark.parametrize("wallet", [[], "1", None])
def test_a_first_order_into_a_wallet_that_is_no_object_is_refused_in_one_line(wallet: object) -> None:
    """Found by a new-user pass: nothing held, the portfolio is not read before the order is
    filled, and a wallet that was no object was an AttributeError (exit 1, HTTP 500)."""
    with pytest.raises(InvalidInput, match="portfolio wallet: expected an object"):
        check_order({**BOOK, "positions": [], "wallet": wallet}, STANDARD,
                    OptionOrder("BTC-26MAR27-55000-C", Decimal(-1), Decimal("0.01"), Decimal("0.6")))


@pytest.mark.parametrize("qty", ["-1", "2"])
def test_a_future_whose_entry_is_null_trades_from_its_mark(qty: str) -> None:
    """The portfolio reads an entry of null as the mark; an order on it did too little (found by a
    new-user pass: "entry must be a decimal string or integer, not NoneType")."""
    held = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "50000"}, "wallet": {"BTC": "1"},
            "positions": [{"instrument": "BTC-PERPETUAL", "qty": "2", "mark": "50000", "entry": None}]}
    order = OptionOrder("BTC-PERPETUAL", Decimal(qty), Decimal("62500"))
    as_mark = {**held, "positions": [{**held["positions"][0], "entry": "50000"}]}
    assert check_order(held, STANDARD, order) == check_order(as_mark, STANDARD, order)


def test_a_bought_option_must_have_its_premium_in_what_is_available() -> None:
    """Found by a new-user pass: a bought option held at its order price left the equity as it
    was and needs no IM under standard margin, so 1,000 calls at 0.01 (10 BTC) passed on 0.2 BTC,
    and so did one call bought at 5 BTC. Available before: equity 0.2 − 0.01 (the short call at
    its mark) = 0.19, less IM 0.11: 0.08 BTC."""
    rules = load_option_rules("deribit-standard")
    many = check_order(BOOK, rules, OptionOrder("BTC-26MAR27-60000-C", Decimal(1000), Decimal("0.01"),
                                                Decimal("0.6")))
    dear = check_order(BOOK, rules, OptionOrder("BTC-26MAR27-60000-C", Decimal(1), Decimal(5), Decimal("0.6")))
    assert (many.accepted, dear.accepted) == (False, False)
    fits = check_order(BOOK, rules, OptionOrder("BTC-26MAR27-60000-C", Decimal(8), Decimal("0.01"), Decimal("0.6")))
    assert fits.accepted  # 8 × 0.01 = 0.08: exactly what is available
    fee = check_order(BOOK, rules, OptionOrder("BTC-26MAR27-60000-C", Decimal(8), Decimal("0.01"), Decimal("0.6"),
                                               fee=Decimal("0.0001")))
    assert not fee.accepted  # 8 × 0.0101 = 0.0808 > 0.08
    poor = {**BOOK, "wallet": {"BTC": "0.05"}}  # nothing available: buying back the short still passes
    assert check_order(poor, rules, OptionOrder("BTC-26MAR27-55000-C", Decimal(1), Decimal("0.01"))).accepted


def test_a_vol_or_forward_for_a_held_option_or_a_future_is_refused_not_ignored() -> None:
    """Found by a new-user pass: they were silently ignored (the held option keeps its own)."""
    with pytest.raises(InvalidInput, match="which the portfolio holds, takes them from the portfolio"):
        check_order(BOOK, STANDARD, OptionOrder("BTC-26MAR27-55000-C", Decimal(-1), Decimal("0.01"), Decimal("0.9")))
    with pytest.raises(InvalidInput, match="a future takes them from the portfolio"):
        check_order(BOOK, STANDARD, OptionOrder("BTC-PERPETUAL", Decimal(1), Decimal(50000), forward=Decimal(50000)))


def test_a_buy_that_flips_a_short_pays_only_for_what_it_opens_and_strings_are_read() -> None:
    """Found by review. Short 1 call, wallet 0.05 (equity 0.04 < IM 0.11): buying 2 at 0.01 closes
    the short and opens 1 long; after it: wallet 0.03, the long at its mark 0.01, equity 0.04, IM 0:
    0.04 − 0 − 0.01 ≥ 0, accepted (the same trade as two orders passed; the first rule refused it).
    A price and quantity given as strings are read as decimals (they raised TypeError)."""
    poor = {**BOOK, "wallet": {"BTC": "0.05"}}
    flip = check_order(poor, STANDARD, OptionOrder("BTC-26MAR27-55000-C", Decimal(2), Decimal("0.01")))
    assert (flip.accepted, flip.equity_after, flip.initial_margin_after) == (True, Decimal("0.04"), Decimal(0))
    text = check_order(BOOK, STANDARD, OptionOrder("BTC-26MAR27-60000-C", "1", "0.01", "0.6"))  # type: ignore[arg-type]
    assert text.accepted


def test_a_short_sold_under_its_intrinsic_value_is_held_at_that_value() -> None:
    """Found by review: the portfolio after the order held a new option at the order's price,
    so a deep in-the-money call sold at 0.05 BTC looked like a liability of 0.05. Index 50,000
    (the forward), a 40,000 call is worth at least 10,000 USD = 0.2 BTC: sold at 0.05, the
    wallet is 0.2 + 0.05 = 0.25 and the call is held at 0.2, beside the book's short 55,000
    call at 0.01: equity 0.25 − 0.2 − 0.01 = 0.04. At its intrinsic price the same order leaves
    0.2 + 0.2 − 0.2 − 0.01 = 0.19: the 0.15 given away is a loss at once. A long bought above
    its cap (a call worth at most the forward, 1 BTC) is held at the cap."""
    cheap = check_order(BOOK, STANDARD, OptionOrder("BTC-26MAR27-40000-C", Decimal(-1), Decimal("0.05"),
                                                    Decimal("0.6")))
    fair = check_order(BOOK, STANDARD, OptionOrder("BTC-26MAR27-40000-C", Decimal(-1), Decimal("0.2"),
                                                   Decimal("0.6")))
    assert (cheap.equity_after, fair.equity_after) == (Decimal("0.04"), Decimal("0.19"))
    assert not cheap.accepted  # IM (0.15 + 0.2) for it, (0.1 + 0.01) for the 55,000 call: 0.46 > 0.04
    rich = {**BOOK, "wallet": {"BTC": "3"}}
    dear = check_order(rich, STANDARD, OptionOrder("BTC-26MAR27-40000-C", Decimal(1), Decimal("1.5"),
                                                   Decimal("0.6")))
    assert dear.equity_after == Decimal("3") - Decimal("1.5") + Decimal(1) - Decimal("0.01")


def test_a_held_option_bought_above_its_mark_counts_its_cost_once() -> None:
    """Found by review: 3 BTC and a long 120,000 call marked at 0.02. Ten more bought at 0.2 pay
    2 BTC and are held at 0.02: equity 3 − 2 + 11 × 0.02 = 1.22, and less the value of the ten
    opened, 0.2, 1.02 is left: accepted, as ten of a new call at 0.2 are (3.015 − 2 + 2 − 2). Less
    the order's price, 1.22 − 2 < 0 refused it (the 1.8 paid over the mark counted twice). Bought
    at 0.001, under the mark, they count at the mark, 0.2 out of the wallet and 0.2 held: equity
    3.02, less the 0.01 paid. With nothing in the wallet, the call held (0.02) pays for 20 at
    0.001, not for 30."""
    book = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "100000"}, "wallet": {"BTC": "3"},
            "positions": [{"instrument": "BTC-26MAR27-120000-C", "qty": "1", "mark": "0.02", "vol": "0.6"}]}
    over = check_order(book, STANDARD, OptionOrder("BTC-26MAR27-120000-C", Decimal(10), Decimal("0.2")))
    assert (over.accepted, over.equity_after, over.initial_margin_after) == (True, Decimal("1.22"), Decimal(0))
    new = {**book, "positions": [{"instrument": "BTC-26MAR27-80000-P", "qty": "1", "mark": "0.015", "vol": "0.6"}]}
    assert check_order(new, STANDARD, OptionOrder("BTC-26MAR27-120000-C", Decimal(10), Decimal("0.2"),
                                                  Decimal("0.6"))).accepted
    under = check_order(book, STANDARD, OptionOrder("BTC-26MAR27-120000-C", Decimal(10), Decimal("0.001")))
    assert (under.accepted, under.equity_after) == (True, Decimal("3.02"))
    thin = {**book, "wallet": {"BTC": "0"}}
    assert [check_order(thin, STANDARD, OptionOrder("BTC-26MAR27-120000-C", Decimal(n), Decimal("0.001"))).accepted
            for n in (20, 30)] == [True, False]
