"""Monte Carlo of the fund a venue needs (issue 15, item 5, run locally): bootstrap paths from
the bundled crash days, VaR and expected shortfall, the probability the fund is exhausted."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

import pytest

from solvent.cli import main
from solvent.stress import BookParams, generate_book, run_cascade
from solvent.stress.montecarlo import bootstrap_path, crash_returns, monte_carlo, var_es


def test_var_and_expected_shortfall_by_hand() -> None:
    """1..100: the 99 % quantile taken upward is the 99th smallest, 99; the tail beyond it is
    {99, 100}, mean 99.5; two values are too few to resolve it. 1..1000: the 990th smallest,
    990, and the mean of 990..1000 is 995, with 11 values beyond: resolved."""
    assert var_es([Decimal(i) for i in range(100, 0, -1)], Decimal("0.99")) == (Decimal(99), Decimal("99.5"), False)
    assert var_es([Decimal(i) for i in range(1, 1001)], Decimal("0.99")) == (Decimal(990), Decimal(995), True)


def test_a_path_is_a_run_of_real_minute_returns() -> None:
    """With one block as long as the path, its prices follow 30 consecutive real returns of one
    bundled crash day from the start (within the rounding of each price down to the tick)."""
    start, tick = Decimal(60000), Decimal("0.1")
    path = bootstrap_path(start, tick, 30, 30, 5, 3)
    assert path == bootstrap_path(start, tick, 30, 30, 5, 3) != bootstrap_path(start, tick, 30, 30, 5, 4)
    assert path[0] == start and len(path) == 31
    implied = [math.log(float(p) / 60000) for p in path[1:]]
    found = False
    for day in crash_returns():
        for first in range(day.shape[0] - 30 + 1):
            run = [float(x) for x in day[first:first + 30].cumsum()]
            if all(abs(a - b) < 0.1 / 50_000 + 1e-12 for a, b in zip(implied, run, strict=True)):
                found = True
                break
        if found:
            break
    assert found


def test_the_fund_is_exhausted_exactly_on_the_paths_where_the_engine_socialises() -> None:
    """With a fund of 1.5 % of the open interest, a path needs more than the fund exactly when
    the cascade run with that fund socialises a loss: the fund accounting of the engine itself."""
    book = generate_book(BookParams(accounts=1_500, seed=6, insurance_fraction=Decimal("0.015")))
    result = monte_carlo(book, paths=24, horizon=45, block=15, seed=3)
    fund = book.money(book.insurance_units)
    for outcome in result.paths:
        run = run_cascade(book, bootstrap_path(book.start_price, book.tick, 45, 15, 3, outcome.index), "fast")
        assert (outcome.fund_needed > fund) == (Decimal(run.summary()["bad_debt_socialised"]) > 0)
    exhausted = sum(p.fund_needed > fund for p in result.paths)
    assert 0 < exhausted < 24  # the check is not vacuous either way
    assert result.summary()["fund_exhausted_probability"] == Decimal(exhausted) / 24


def test_adequacy_reports_the_monte_carlo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adequacy", "--accounts", "800", "--paths", "30", "--horizon", "30", "--bands", "1",
                 "--out", str(tmp_path), "--json"]) == 0
    mc = json.loads(capsys.readouterr().out)["monte_carlo"]
    assert mc["paths"] == 30 and mc["seed_bands"] == 1 and len(mc["quantiles"]) == 3
    q99 = mc["quantiles"][0]
    assert Decimal(q99["var_band_low"]) <= Decimal(q99["fund_needed_var"]) <= Decimal(q99["var_band_high"])
    assert Decimal(q99["fund_needed_es"]) >= Decimal(q99["fund_needed_var"]) and q99["resolved"] is False
    assert main(["adequacy", "--accounts", "300", "--paths", "0", "--out", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["monte_carlo"] is None and "not run" in doc["monte_carlo_reason"]
    assert main(["adequacy", "--paths", "-1", "--out", str(tmp_path / "no")]) == 2
    assert "--paths" in capsys.readouterr().err and not (tmp_path / "no").exists()
