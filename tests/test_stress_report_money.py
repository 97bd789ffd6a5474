"""Money in stress reports: rounded once to the settlement asset's quantum, against the fund, on
every venue; ratios to open interest in one unit (the settlement asset) on inverse venues too.

Found by a new user: Drift and Hyperliquid printed the fund with 14 to 20 places
(``insurance_fund_end "53613.46999064586682"``), and ``adequacy --venue bybit-inverse`` divided a
BTC fund by a USD open interest (``insurance_fund_to_open_interest_ratio "0"``) and printed BTC
amounts as whole numbers in its markdown.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest

from solvent.errors import InvalidInput
from solvent.stress import BookParams, generate_book, run_cascade
from solvent.stress.adequacy import adequacy
from solvent.stress.adequacy_report import amount, report_json, report_markdown
from solvent.stress.money import held, money_quantum, owed
from solvent.stress.result import CascadeResult, StepRecord
from solvent.stress.scenarios import crash_path

SATOSHI = Decimal("0.00000001")
ZERO_D = Decimal(0)


def test_held_rounds_down_and_owed_rounds_up_to_the_quantum() -> None:
    """The figures the user saw, by hand at 10^-8: 53613.46999064|586682 held is ...064 (down);
    625198.92606220|056367 owed is ...221 (up); a figure already on the quantum is unchanged."""
    assert held(Decimal("53613.46999064586682"), SATOSHI) == "53613.46999064"
    assert owed(Decimal("625198.92606220056367"), SATOSHI) == "625198.92606221"
    assert held(Decimal("0.83835536"), SATOSHI) == owed(Decimal("0.83835536"), SATOSHI) == "0.83835536"


def _step(fund: str, fees: str, socialised: str, adl: str) -> StepRecord:
    return StepRecord(1, Decimal(100), (Decimal(100),), (), Decimal("10.000000005"), ZERO_D, Decimal(fees),
                      Decimal(socialised), Decimal(fund), Decimal(fund), 0, 0, adl_loss=Decimal(adl))


def test_a_run_summary_rounds_every_money_figure_once_against_the_fund() -> None:
    """One minute by hand, quantum 10^-8: fund 7.123456789 → 7.12345678 (down); fees into it
    0.000000019 → 0.00000001 (down); socialised 0.000000001 → 0.00000001 and ADL loss
    0.000000011 → 0.00000002 (up); bad debt their sum 0.00000003; notional sold
    10.000000005 → 10.00000001 (up)."""
    step = _step("7.123456789", "0.000000019", "0.000000001", "0.000000011")
    s = CascadeResult("exact", 1, Decimal("9.999999999"), (step,), (), 0, money_quantum=SATOSHI).summary()
    assert s["insurance_fund_start"] == "9.99999999"
    assert s["insurance_fund_min"] == s["insurance_fund_end"] == "7.12345678"
    assert s["fees_to_insurance_fund"] == "0.00000001"
    assert (s["bad_debt_socialised"], s["bad_debt_adl"], s["bad_debt"]) == ("0.00000001", "0.00000002", "0.00000003")
    assert s["liquidated_long_notional"] == "10.00000001"


@pytest.mark.parametrize("venue", ["drift", "hyperliquid"])
def test_a_usdc_venue_run_reports_the_fund_floored_to_the_quantum(venue: str) -> None:
    """On Drift and Hyperliquid the engine's fund carries more than 8 places; the summary shows it
    floored at the 8th, and a notional as the sum of the minutes' notionals each rounded up
    (``Decimal.quantize`` here, not the helper under test); the quantum is the configuration's."""
    book = generate_book(BookParams(accounts=200, venue=venue))
    assert money_quantum(book) == SATOSHI
    result = run_cascade(book, crash_path(book.start_price, Decimal("0.2"), 60, book.tick), "exact")
    exact_end = result.steps[-1].insurance_fund
    s = result.summary()
    assert Decimal(s["insurance_fund_end"]) == exact_end.quantize(SATOSHI, rounding=ROUND_FLOOR)
    # each minute rounded up once, then added (so the series adds up to the summary)
    assert Decimal(s["liquidated_long_notional"]) == sum(
        (r.sold_quote.quantize(SATOSHI, rounding=ROUND_CEILING) for r in result.steps), ZERO_D)
    for key in ("insurance_fund_start", "insurance_fund_min", "insurance_fund_end", "fees_to_insurance_fund",
                "bad_debt", "liquidated_long_notional"):
        assert Decimal(s[key]) % SATOSHI == 0, key


@pytest.fixture(scope="module")
def inverse_report() -> tuple[dict[str, object], str, int, Decimal]:
    book = generate_book(BookParams(accounts=300, venue="bybit-inverse"))
    report = adequacy(book, shocks=(Decimal("-0.1"), Decimal("0.1")))
    doc = report_json(report, book)
    return doc, report_markdown(doc), book.insurance_units, book.open_interest_settle()


def test_inverse_ratios_are_taken_to_the_open_interest_in_the_coin(
        inverse_report: tuple[dict[str, object], str, int, Decimal]) -> None:
    """The fund is 5 % of the coin open interest rounded up to a satoshi (docs/stress.md), so over
    that open interest it is 0.05 plus less than 10^-8 / OI: "0.05" at six places (it read "0",
    a BTC fund over a USD open interest). Every other ratio is over the same coin amount."""
    doc, _, _, oi_coin = inverse_report
    assert doc["settle_asset"] == "BTC" and Decimal(str(doc["open_interest_settle"])) == oi_coin
    assert doc["insurance_fund_to_open_interest_ratio"] == "0.05"
    required = Decimal(str(doc["required_fund"]))
    assert abs(Decimal(str(doc["required_fund_to_open_interest_ratio"])) - required / oi_coin) <= Decimal("5E-7")
    loss = Decimal(str(doc["cover1"]["loss"]))  # type: ignore[index]
    assert abs(Decimal(str(doc["cover1"]["loss_to_open_interest_ratio"])) - loss / oi_coin) \
        <= Decimal("5E-7")  # type: ignore[index]


def test_inverse_fund_sizes_round_up_and_the_markdown_shows_satoshis(
        inverse_report: tuple[dict[str, object], str, int, Decimal]) -> None:
    """A quarter of a fund of N satoshis is ⌈N / 4⌉ satoshis in the fund-size table (up: the fund
    quoted for a move is never smaller than the one that was run); the markdown writes BTC to 8
    places and names the unit of its shares of open interest."""
    doc, text, units, _ = inverse_report
    sizes = doc["fund_sizes"]
    assert Decimal(sizes[0]["insurance_fund"]) == Decimal(-(-units // 4)).scaleb(-8)  # type: ignore[index]
    assert f"insurance fund {Decimal(units).scaleb(-8):.8f} BTC (5.00% of open interest in BTC)" in text
    rows = [line for line in text.splitlines() if re.match(r"\| [+-]\d+\.\d% \|", line)]
    assert len(rows) == 2
    for row in rows:  # deficits, fund needed, worst group, worst two: every one to the satoshi
        assert all(re.fullmatch(r"[\d,]+\.\d{8}", cell.strip()) for cell in row.strip("|").split("|")[2:])


def test_amount_writes_the_quantum_places_and_refuses_a_figure_off_it() -> None:
    assert amount("62816.23", "0.00000001") == "62,816.23000000"
    assert amount("0.5075072", "0.00000001") == "0.50750720"
    with pytest.raises(InvalidInput, match="not a multiple of the money quantum"):
        amount("1.000000001", "0.00000001")
