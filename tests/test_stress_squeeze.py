"""The squeeze into the backstop (``stress/squeeze.py``, realism RC-18), run on the engine:
each figure worked out by hand from the setup."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from solvent.cli import main
from solvent.errors import InvalidInput
from solvent.stress.squeeze import SqueezeParams, run_squeeze

D = Decimal


def test_the_shared_vault_carries_the_whole_squeeze_and_never_deleverages() -> None:
    """The whale: 4,000,000 ÷ 20 = 200,000 deposited, short 40,000 SOL at 100 (five longs of
    8,000). Minute 1: 100 × (1 + 3/60) = 105, its equity 200,000 − 40,000 × 5 = 0 < 2/3 MM: the
    vault takes the short at 105 with nothing left. Minute 60: 400, the vault's loss
    40,000 × (400 − 105) = 11,800,000, 5.13 % of 230,000,000 (HLP's "up to ≈ $12M", [R28])."""
    run = run_squeeze(SqueezeParams(), capped=False)
    assert run.takeover_minute == 1
    assert run.capital == D(230_000_000)
    assert run.losses[0] == 0 and run.losses[1] == 40_000 * 5
    assert run.losses[-1] == run.max_loss == D(11_800_000)
    assert run.adl_minute is None and run.adl_events == 0


def test_the_capped_vault_deleverages_at_its_limit_and_its_loss_stops_there() -> None:
    """Capital 5 % × 230M = 11,500,000, limit 1/2 → 5,750,000. The loss at minute m is
    40,000 × (100 + 5m − 105) = 200,000 × (m − 1): 5,600,000 at minute 29 (below), 5,800,000
    at minute 30 (at the limit): the 40,000 SOL short is deleveraged at 250 against the five
    longs (five ADL fills), and the loss stays 5,800,000 whatever the price does after."""
    run = run_squeeze(SqueezeParams(), capped=True)
    assert run.capital == D(11_500_000)
    assert run.adl_minute == 30
    assert run.losses[28] == D(5_600_000)
    assert (run.loss_at_adl, run.capital_at_adl) == (D(5_800_000), D(11_500_000))
    assert run.adl_events == 5 and run.adl_quantity == D(40_000)
    assert set(run.losses[29:]) == {D(5_800_000)}


def test_rc18_reports_both_vaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["realism", "--only", "RC-18", "--json"]) == 0
    (check,) = json.loads(capsys.readouterr().out)["checks"]
    assert [D(f["value"]) for f in check["figures"]] == [D("0.0513"), D(0), D(5), D("0.5043"), D("0.4870")]
    assert check["passed"] is True


@pytest.mark.parametrize(("change", "words"), [
    ({"rise": D(1)}, "rise must lie in"),
    ({"rise": D("1e30")}, "rise must lie in"),
    ({"start_price": 100}, "start_price must be a Decimal"),
    ({"minutes": 2.5}, "minutes must be a whole number"),
    ({"longs": True}, "longs must be a whole number"),
    ({"cap": D("1.5")}, "cap must lie in"),
    ({"loss_limit": D(0)}, "loss_limit must lie in"),
    ({"loss_limit": None}, "loss_limit must be a Decimal"),
    ({"notional": D("NaN")}, "notional must lie in"),
    ({"minutes": 0}, "minutes must be a whole number"),
    ({"venue": "binance-usdm", "symbol": "BTCUSDT"}, "has no backstop"),
])
def test_a_squeeze_the_engine_cannot_run_is_refused_in_one_line(change: dict[str, object], words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        run_squeeze(replace(SqueezeParams(), **change), capped=True)  # type: ignore[arg-type]
