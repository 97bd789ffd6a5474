"""A stablecoin depeg of collateral in stress (realism.md S7, acceptance A17): only the holders
of the depegged asset are liquidated by it (``stress/depeg.py``, ``solvent simulate --depeg``)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from solvent.cli import main
from solvent.stress import BookParams, CascadeParams, generate_book, scenario_path
from solvent.stress.cascade import make_venue, simulate
from solvent.stress.cascade_exact import ExactVenue
from solvent.stress.depeg import Depeg
from solvent.stress.impact import ImpactParams

D = Decimal
FLAT = D("0.001")
"""A crash of 0.1 % over the run: the price alone liquidates nobody in this book (checked below)."""


STILL = CascadeParams(impact=ImpactParams(k_cascade=D(0), k_order=D(0)))
"""No market impact: the holders' forced sales do not move the price, so the depeg's own effect
is seen alone (with impact they can liquidate others in turn: the cascade)."""


def _run(depeg: Depeg | None, params: CascadeParams = STILL) -> tuple[ExactVenue, dict[str, object],
                                                                       list[tuple[int, int]]]:
    book = generate_book(BookParams(accounts=600, seed=7))
    path = scenario_path("crash", book.params.start_price, FLAT, 30, book.tick)
    venue = make_venue(book, "exact", "generic", depeg)
    assert isinstance(venue, ExactVenue)
    result = simulate(venue, book, path, params)
    return venue, result.summary(), [(liq.account, liq.step) for liq in result.liquidations]


def test_a17_a_depeg_liquidates_only_the_holders_of_that_collateral() -> None:
    """A share of 0.2 of the 600 traders spread evenly holds USDE: traders 4, 9, 14, … (every
    fifth, ⌊(i + 1)/5⌋ > ⌊i/5⌋), 120 of them. At minute 10 USDE falls to 0.65: a holder's
    collateral, posted as deposit / 0.95 USDE, is worth 0.65 × 0.95 × deposit / 0.95 = 0.65 ×
    its deposit. With no market impact (the depeg's own effect), without the depeg the 0.1 %
    move liquidates nobody; with it, some holders and only holders, from minute 10 on, and every
    asset is conserved. With impact, the holders' forced sales move the price and take others
    with them."""
    _, calm, none = _run(None)
    assert none == [] and calm["liquidations"] == 0
    venue, summary, closes = _run(Depeg("USDE", D("0.65"), 10))
    liquidated = [i for i, _ in closes]
    assert liquidated and all(i % 5 == 4 for i in liquidated)
    assert {step for _, step in closes} == {10}  # at the depeg, nothing moving the price after it
    depeg = summary["depeg"]
    assert isinstance(depeg, dict)
    assert (depeg["holders"], depeg["holders_liquidated"], depeg["others_liquidated"]) == (120, len(set(liquidated)),
                                                                                           0)
    engine = venue.engine
    ids = venue.book.ids()
    assert engine.state.accounts[ids[4]].balances.get("USDE", D(0)) > 0
    assert "USDE" not in engine.state.accounts[ids[3]].balances
    for asset, (held, net) in engine.conservation().items():
        assert held == net, asset
    _, moved, _ = _run(Depeg("USDE", D("0.65"), 10), CascadeParams())
    assert isinstance(moved["depeg"], dict) and moved["depeg"]["holders_liquidated"] > 0


def test_a_deeper_depeg_liquidates_at_least_as_many_holders() -> None:
    counts = [len({i for i, _ in _run(Depeg("USDE", D(price), 10))[2]}) for price in ("0.9", "0.65", "0.3")]
    assert counts == sorted(counts) and counts[-1] > counts[0]


def test_the_depeg_is_in_the_inputs_and_a_run_again_checks_the_digest(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--accounts", "300", "--steps", "15", "--drop", "0.001", "--depeg", "USDE:0.5:5",
            "--depeg-holders", "0.5", "--out", str(tmp_path), "--json"]
    assert main(args) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["engine"] == "exact"  # --engine auto picks the exact engine for a depeg
    assert run["inputs"]["format"] == "solvent-stress-inputs-v3"
    assert run["inputs"]["depeg"] == {"asset": "USDE", "price": "0.5", "minute": 5, "holders": "0.5",
                                      "haircut": "0.05"}
    assert run["depeg"]["holders"] == 150 and run["depeg"]["holders_liquidated"] > 0
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(run))
    assert main(["simulate", "--inputs", str(saved), "--out", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["digest"] == run["digest"]
    # the digest covers the depeg: a 1 % depeg that liquidates nobody still has its own
    plain = [a for a in args if a not in ("--depeg", "USDE:0.5:5", "--depeg-holders", "0.5")] + ["--engine", "exact"]
    assert main(plain) == 0
    calm = json.loads(capsys.readouterr().out)
    assert main([*plain, "--depeg", "USDE:0.99:5"]) == 0
    mild = json.loads(capsys.readouterr().out)
    assert mild["liquidations"] == calm["liquidations"] == 0 and mild["digest"] != calm["digest"]


def test_a_v2_inputs_file_without_a_depeg_still_runs_to_its_digest(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--accounts", "200", "--steps", "10", "--engine", "exact", "--out", str(tmp_path),
                 "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    old = dict(run["inputs"], format="solvent-stress-inputs-v2")
    del old["depeg"], old["profile"]
    saved = tmp_path / "v2.json"
    saved.write_text(json.dumps({**run, "inputs": old}))
    assert main(["simulate", "--inputs", str(saved), "--out", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["digest"] == run["digest"]
    old["depeg"] = None  # a v2 file has no such field
    saved.write_text(json.dumps({**run, "inputs": old}))
    assert main(["simulate", "--inputs", str(saved), "--out", str(tmp_path)]) == 2
    assert "unknown field 'depeg'" in capsys.readouterr().err


@pytest.mark.parametrize(("extra", "words"), [
    (["--depeg", "USDE:1.2:5"], "strictly between 0 and 1"),
    (["--depeg", "USDT:0.5:5"], "is the settlement asset"),
    (["--depeg", "USDE:0.5:99"], "the minute must lie in [1, 10]"),
    (["--depeg", "USDE:0.5"], "ASSET:PRICE:MINUTE"),
    (["--depeg", "USDE:nan:5"], "ASSET:PRICE:MINUTE"),
    (["--depeg", "USDE: 0.5:5"], "ASSET:PRICE:MINUTE"),
    (["--depeg", "USDE:0.5_0:5"], "ASSET:PRICE:MINUTE"),
    (["--depeg", "usde:0.5:5"], "upper-case ticker"),
    (["--depeg", "U" * 21 + ":0.5:5"], "at most 20 letters"),
    (["--depeg", "BTCUSDT:0.5:5"], "BTCUSDT is an instrument of the venue"),
    (["--depeg", "USDE:0.000000001:5"], "a whole number of 1E-8"),
    (["--depeg", "USDE:0.5:5", "--depeg-holders", "0"], "holders' share"),
    (["--depeg", "USDE:0.5:5", "--depeg-holders", "0.001"], "is no holder at all"),
    (["--depeg", "USDE:0.5:5", "--depeg-haircut", "1"], "haircut must lie in [0, 0.9]"),
    (["--depeg", "USDE:0.5:5", "--venue", "binance-coinm"], "coin-margined"),
    (["--depeg", "USDE:0.5:5", "--engine", "fast"], "runs on the exact engine"),
    (["--depeg-holders", "0.5"], "--depeg-holders shapes a --depeg"),
])
def test_a_bad_depeg_is_refused_with_one_line(extra: list[str], words: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--accounts", "50", "--steps", "10", "--out", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1, err
    assert not list(tmp_path.iterdir())


def test_backstop_takeovers_count_as_holders_forced_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every trader holds USDE (share 1) on Hyperliquid's procedure: an account below 2/3 of its
    MM is taken over by the backstop vault rather than sold on the book, and it is a holder
    forced out as much as one closed on the book: holders_liquidated counts both (each
    takeover is one account), and nobody else is counted."""
    assert main(["simulate", "--accounts", "200", "--steps", "10", "--drop", "0.001", "--depeg", "USDE:0.5:5",
                 "--depeg-holders", "1", "--venue", "hyperliquid", "--liquidation", "venue", "--out", str(tmp_path),
                 "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["backstop_events"] > 0 and run["liquidations"] > 0
    assert run["depeg"]["holders"] == 200 and run["depeg"]["others_liquidated"] == 0
    assert run["depeg"]["holders_liquidated"] >= run["backstop_events"] + 1


def test_holders_a_procedure_cannot_close_are_reported_below_maintenance(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """dYdX v4's procedure fills a liquidation only at its fillable price or better; with the
    default book's impact the depegged holders are not all closed, and the run says how many
    holders end below their maintenance margin rather than leaving them unseen."""
    assert main(["simulate", "--accounts", "300", "--steps", "15", "--drop", "0.001", "--depeg", "USDE:0.5:5",
                 "--venue", "dydx-v4", "--liquidation", "venue", "--out", str(tmp_path), "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["depeg"]["holders_below_maintenance_end"] > 0
