"""The scenario book (many accounts at once) gives each account what the one-portfolio path
gives the same positions: the same worst float, the same exact MM; the compiled loops and
their Python fallback give the same floats; a fill moves one account by one row."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest

from solvent.errors import InvalidInput
from solvent.options import _kernel, load_option_rules, portfolio_margin, read_portfolio
from solvent.options.scenario_book import ScenarioBook

NOW = "2026-12-05T08:00:00Z"
OPTIONS = ["BTC-26DEC26-90000-P", "BTC-26DEC26-100000-C", "BTC-26DEC26-100000-P", "BTC-26MAR27-120000-C",
           "BTC-26MAR27-80000-P", "BTC-25JUN27-150000-C"]
FUTURES = ["BTC-PERPETUAL", "BTC-26MAR27"]
FORWARD = {"BTC-26DEC26": "100400", "BTC-26MAR27": "101800", "BTC-25JUN27": "103300"}
VOL = [0.62, 0.55, 0.58, 0.51, 0.66, 0.49]
INDEX = Decimal("100000")


def _accounts(seed: int, count: int) -> list[tuple[str, list[tuple[str, Decimal]]]]:
    rng = random.Random(seed)
    out = []
    for a in range(count):
        options = rng.sample(OPTIONS, rng.randint(1, 4))
        futures = rng.sample(FUTURES, rng.randint(0, 2))
        positions = [(name, Decimal(rng.randint(-40, 40)) / 4 or Decimal(1)) for name in options + futures]
        out.append((f"acct-{a}", positions))
    return out


def _forward(name: str) -> str:
    return FORWARD[name.rsplit("-", 2)[0]] if name not in FUTURES else FORWARD.get(name, str(INDEX))


def _book(rules: str, accounts: list[tuple[str, list[tuple[str, Decimal]]]]) -> ScenarioBook:
    book = ScenarioBook(load_option_rules(rules), OPTIONS + FUTURES, datetime(2026, 12, 5, 8, tzinfo=UTC))
    forwards = np.array([float(_forward(n)) for n in OPTIONS + FUTURES])
    book.set_market(INDEX, forwards, np.array([*VOL, 0.0, 0.0]))
    book.reprice()
    book.add_accounts(accounts)
    book.refresh()
    return book


def _mark(name: str) -> str:
    """The option's Black-76 value at its ``VOL`` in BTC (undiscounted, ÷ the index), to the
    satoshi: the mark the volatility was made with, so the one-portfolio path keeps the book's
    volatility (it replaces one that misses the mark). Written out here with the standard normal
    distribution, not solvent's pricing."""
    from statistics import NormalDist

    expiry, strike, kind = name.rsplit("-", 2)[0][4:], float(name.rsplit("-", 2)[1]), name[-1]
    when = datetime.strptime(expiry, "%d%b%y").replace(hour=8, tzinfo=UTC)
    years = (when - datetime(2026, 12, 5, 8, tzinfo=UTC)).total_seconds() / (365 * 86400)
    f, vol, n = float(_forward(name)), VOL[OPTIONS.index(name)], NormalDist()
    d1 = (math.log(f / strike) + vol * vol * years / 2) / (vol * math.sqrt(years))
    d2 = d1 - vol * math.sqrt(years)
    usd = f * n.cdf(d1) - strike * n.cdf(d2) if kind == "C" else strike * n.cdf(-d2) - f * n.cdf(-d1)
    return f"{usd / float(INDEX):.8f}"


def _one_portfolio(positions: list[tuple[str, Decimal]]) -> dict[str, object]:
    rows: list[dict[str, str]] = []
    for name, qty in positions:
        if name in FUTURES:
            rows.append({"instrument": name, "qty": str(qty), "mark": _forward(name)})
        else:
            rows.append({"instrument": name, "qty": str(qty), "mark": _mark(name), "vol": str(VOL[OPTIONS.index(name)]),
                         "forward": _forward(name)})
    return {"now": NOW, "index": {"BTC": str(INDEX)}, "positions": rows}


@pytest.mark.parametrize("rules", ["deribit-pm", "span-16"])
def test_each_account_gets_what_the_one_portfolio_path_gives(rules: str) -> None:
    accounts = _accounts(seed=11, count=40)
    book = _book(rules, accounts)
    for a, (_, positions) in enumerate(accounts):
        single = portfolio_margin(read_portfolio(_one_portfolio(positions)), load_option_rules(rules))
        assert single.worst is not None
        assert float(book.worst[a]) == single.worst.pnl  # the same float, bit for bit
        assert book.grid[int(book.worst_at[a])] == single.worst.scenario
        assert book.maintenance_margin(a) == single.maintenance_margin


def test_the_python_loops_give_the_compiled_loops_floats(monkeypatch: pytest.MonkeyPatch) -> None:
    accounts = _accounts(seed=3, count=25)
    compiled = _book("deribit-pm", accounts)
    monkeypatch.setattr(_kernel, "reprice_loop", _kernel._reprice_loop_py)
    monkeypatch.setattr(_kernel, "account_loop", _kernel._account_loop_py)
    python = _book("deribit-pm", accounts)
    assert np.array_equal(compiled.unit, python.unit) and np.array_equal(compiled.pnl, python.pnl)
    assert np.array_equal(compiled.worst_at, python.worst_at)


def test_a_fill_moves_one_account_by_one_row() -> None:
    accounts = _accounts(seed=5, count=10)
    book = _book("deribit-pm", accounts)
    before = book.pnl.copy()
    name = accounts[4][1][0][0]
    book.fill(4, name, Decimal(-2))
    changed = np.nonzero(np.any(book.pnl != before, axis=1))[0]
    assert changed.tolist() == [4]
    expected = before[4] + (-2.0) * book.unit[book.index_of[name]] * book.weights
    assert np.allclose(book.pnl[4], expected, rtol=0, atol=1e-12)
    refreshed = book.pnl[4].copy()
    book.refresh()  # from the held quantities again: the same up to the order of additions
    assert np.allclose(book.pnl[4], refreshed, rtol=1e-12, atol=1e-12)
    not_held = next(name for name in OPTIONS + FUTURES if all(p[0] != name for p in accounts[0][1]))
    with pytest.raises(InvalidInput, match="holds no"):
        book.fill(0, not_held, Decimal(1))
    with pytest.raises(InvalidInput, match="not an instrument"):
        book.fill(0, "BTC-PERP", Decimal(1))


def test_a_book_refuses_what_it_cannot_hold() -> None:
    with pytest.raises(InvalidInput, match="one coin"):
        ScenarioBook(load_option_rules("deribit-pm"), ["BTC-PERPETUAL", "ETH-PERPETUAL"], datetime.now(UTC))
    with pytest.raises(InvalidInput, match="scenario"):
        ScenarioBook(load_option_rules("deribit-standard"), ["BTC-PERPETUAL"], datetime.now(UTC))
    book = ScenarioBook(load_option_rules("deribit-pm"), ["BTC-PERPETUAL"], datetime.now(UTC))
    with pytest.raises(InvalidInput, match="not an instrument"):
        book.add_accounts([("a", [("BTC-26MAR27", Decimal(1))])])
    with pytest.raises(InvalidInput, match="index > 0"):
        book.set_market(Decimal(0), np.ones(1), np.zeros(1))
