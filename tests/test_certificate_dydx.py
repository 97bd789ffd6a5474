"""dYdX v4 liquidations in certificates, and liquidation steps certified on their own (issue 16,
item 3), checked against hand computations of dYdX's rules.

dYdX v4 (dydxprotocol/v4-chain ``x/clob/keeper/liquidations.go``, ``profiles/dydx-v4.json``):
a liquidation order fills at the fillable price or better, ``(PS × M − ABR × SMMR × PMMR) / PS``
with ``ABR = clamp(BA × (1 − TNC / TMMR), 0, 1)`` (BA 1, SMMR 0.1; a long's rounded up to the
tick, 1 on BTC-USD); the bankruptcy quote of closing ``s`` is ``s × M − TNC × ΔMM / TMMR``
(rounded up to 1e-8); the insurance-fund delta at a fill of quote ``F`` is ``F − quote`` when
that is not positive (the fund pays), else at most 1.5 % of ``|F|``, and never more than the
equity the fill leaves. BTC-USD's MM is 1.2 % of the notional.

The step of ``test_certificate._venue_book("dydx-v4", liquidation=True)`` comes in a later record
than the trigger (the liquidity model's price is below the fillable price at the trigger), so
it is certified on its own: the account stays in liquidation, and the certificate shows the step.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from test_certificate import _note, _venue_book
from test_certificate_drift import _verify_file
from test_certificate_prior import _checked, _refused, _state_note

from solvent.engine import AdvanceTime, Deposit, EngineConfig, Fill, FundInsurance, LiquidationPolicy, PriceUpdate
from solvent.errors import InvalidInput
from solvent.journal import DurableEngine, MemoryBackend
from solvent.journal.codec import decode_record
from solvent.proofs.certificate import certify
from solvent.risk.venues import load_venue

D = Decimal


def _events(backend: MemoryBackend, seq: int) -> list[dict[str, Any]]:
    return list(decode_record(next(iter(backend.records(seq))).payload).events)


def test_a_dydx_step_in_a_later_record_is_certified_on_its_own(tmp_path: Path) -> None:
    """Record 77 (mark 50,094): the long of 0.1 BTC-USD (entry 60,000, 1,000 USDC) has equity
    1,000 − 0.1 × 9,906 = 9.4 and MM 0.012 × 5,009.4 = 60.1128; it has been in liquidation since
    record 73. ABR = 1 − 9.4 / 60.1128; fillable = 50,094 − ABR × 0.1 × 60.1128 / 0.1 =
    50,094 − (60.1128 − 9.4) = 50,043.2872, up to the tick: 50,044. The whole 0.1 closes (no MM
    left): quote 5,009.4 − 9.4 = 5,000, bankruptcy price 50,000. It fills at 50,068 (≥ 50,044):
    fill quote 5,006.8, surplus 6.8 < 1.5 % × 5,006.8; the fill leaves 9.4 + 0.1 × (50,068 −
    50,094) = 6.8, so the fee is 6.8."""
    backend = _venue_book("dydx-v4", liquidation=True)
    events = _events(backend, 77)
    index = next(i for i, e in enumerate(events) if e["type"] == "LiquidationStep")
    assert not any(e["type"] == "MarginLevelChanged" for e in events[:index])
    cert = certify(backend, 77, _note(backend), index=index, prior=lambda size: _state_note(backend, size))
    assert cert["claim"] | {} == {"seq": 77, "event_index": index, "account_id": "long", "previous": "liquidation",
                                  "level": "liquidation"}
    assert (D(cert["equity"]), D(cert["maintenance_margin"])) == (D("9.4"), D("60.1128"))
    part = cert["liquidation"]
    assert part["rule"] == "dydx_v4" and part["step"] == index
    expected = {"fillable_price": D(50_044), "rest_mm": D(0), "bankruptcy_price": D(50_000),
                "equity_at_fill": D("6.8"), "fee": D("6.8"), "fund_pays": D(0)}
    assert {name: D(part[name]) for name in expected} == expected
    summary = _checked(cert)
    assert summary.startswith("ok: long stays in liquidation at seq 77 (equity 9.4 < MM 60.1128)")
    assert "within the fillable price 50044" in summary
    assert summary.endswith("signed after record 76; marks and MM scales as in force")
    shipped = str(resources.files("solvent") / "profiles" / "dydx-v4.json")
    assert _verify_file(tmp_path, cert, "--profile", shipped) == 0
    # on its own a step has no signed MM: without the profile file to re-derive the table, refused
    assert _verify_file(tmp_path, cert) == 1
    forged: list[tuple[str, Any, str]] = [
        ("the fee", lambda c: c["liquidation"].update(fee="6.9"), "liquidation fee"),
        ("the fund's payment", lambda c: c["liquidation"].update(fund_pays="1"), "fund_pays"),
        ("the bankruptcy price", lambda c: c["liquidation"].update(bankruptcy_price="50001"), "bankruptcy_price"),
        ("the fillable price", lambda c: c["liquidation"].update(fillable_price="50043"), "fillable_price"),
        ("the adjustment", lambda c: c["liquidation"].update(bankruptcy_adjustment_ppm=0), "not the profile's"),
        ("the fee cap", lambda c: c["liquidation"].update(max_liquidation_fee_ppm=1_000), "not the profile's"),
        ("another step", lambda c: c["liquidation"].update(step=index + 1), "shows that step"),
        ("a level change", lambda c: c["claim"].update(previous="margin_call"), "stays in liquidation"),
        ("a higher equity", lambda c: c.update(equity="9.5"), "not the judged scope's"),
    ]
    for what, edit, reason in forged:
        changed = copy.deepcopy(cert)
        edit(changed)
        assert reason in _refused(changed), what
    # parameters the arithmetic does not read here are bound by the profile file
    for edit in ({"max_liquidation_fee_ppm": 14_000}, {"price_step": "0.5"}):
        changed = copy.deepcopy(cert)
        changed["liquidation"].update(edit)
        assert "not the profile's" in _refused(changed), edit
    # the MM table doubled, with every number that reads it restated: the profile's table refuses it
    doubled = copy.deepcopy(cert)
    doubled["positions"][0]["tiers"][0]["mmr"] = "0.024"
    doubled["positions"][0]["mm"] = doubled["scopes"][0]["maintenance_margin"] = "120.2256"
    doubled.update(maintenance_margin="120.2256", margin_ratio=str(D("120.2256") / D("9.4")))
    assert "tier table is not the profile's" in _refused(doubled)
    # the trigger (record 73) has no step in its record: its certificate shows none
    trigger_events = _events(backend, 73)
    trigger = next(i for i, e in enumerate(trigger_events) if e["type"] == "MarginLevelChanged")
    assert "liquidation" not in certify(backend, 73, _note(backend), index=trigger)


def test_a_step_whose_level_changed_in_its_record_is_certified_through_that_change() -> None:
    backend = _venue_book("binance-usdm", liquidation=True)
    events = _events(backend, 77)
    step = next(i for i, e in enumerate(events) if e["type"] == "LiquidationStep")
    with pytest.raises(InvalidInput, match="certify that level change"):
        certify(backend, 77, _note(backend), index=step)
    with pytest.raises(InvalidInput, match="not a margin level change or a liquidation step"):
        certify(backend, 77, _note(backend), index=0)


def test_the_insurance_fund_pays_a_dydx_fill_below_the_bankruptcy_price(tmp_path: Path) -> None:
    """A holds 0.1 BTC-USD bought at 60,000 on 535 USDC; the fund holds 1,000. The oracle falls to
    54,600: equity 535 − 540 = −5 (bankrupt), MM 0.012 × 5,460 = 65.52. ABR = 1 (equity ≤ 0), so
    fillable = 54,600 − 0.1 × 65.52 / 0.1 = 54,534.48, up to 54,535. Quote 5,460 − (−5) = 5,465:
    bankruptcy price 54,650. The book takes 0.1 at 54,571: fill quote 5,457.1, surplus −7.9, so
    the fund pays 7.9 and the fee is 0; the fill leaves −5 + 0.1 × (54,571 − 54,600) = −7.9."""
    backend = MemoryBackend()
    engine = DurableEngine(backend, EngineConfig(load_venue("dydx-v4"), liquidation=LiquidationPolicy()))
    for cmd in (AdvanceTime(0), PriceUpdate("BTC-USD", "s", D(60_000)), Deposit("A", "USDC", D(535)),
                Deposit("maker", "USDC", D(10) ** 9), Deposit("book", "USDC", D(10) ** 9), FundInsurance(D(1_000)),
                Fill("t1", "BTC-USD", D(60_000), D("0.1"), "A", "maker"), PriceUpdate("BTC-USD", "s", D(54_600))):
        assert engine.apply(cmd).accepted, cmd
    events = _events(backend, 8)
    trigger = next(i for i, e in enumerate(events) if e["type"] == "MarginLevelChanged" and e["account_id"] == "A")
    step = next(e for e in events if e["type"] == "LiquidationStep")
    assert (events[trigger]["level"], D(step["price"]), D(step["fee"])) == ("bankrupt", D(54_571), D(0))
    cert = certify(backend, 8, _note(backend), index=trigger, prior=lambda size: _state_note(backend, size))
    part = cert["liquidation"]
    expected = {"fillable_price": D(54_535), "bankruptcy_price": D(54_650), "equity_at_fill": D("-7.9"),
                "fee": D(0), "fund_pays": D("7.9")}
    assert {name: D(part[name]) for name in expected} == expected
    assert "fund pays 7.9" in _checked(cert)
    assert _verify_file(tmp_path, cert) == 0
    for edit in ({"fund_pays": "0"}, {"fee": "7.9"}, {"rest_mm": "1"}):
        changed = copy.deepcopy(cert)
        changed["liquidation"].update(edit)
        assert _verify_file(tmp_path, changed) == 1, edit


def test_the_dydx_arithmetic_of_a_partial_close_by_hand() -> None:
    """The verifier's dYdX rule on numbers no bundled book reaches (under this engine a dYdX
    close takes the whole position, and the book never pays above the mark): a long of 1 at mark
    100 (MM 1.2 %: 1.2), scope equity −1, half closed at 102. ABR = 1 (equity < 0): fillable
    100 − 0.1 × 1.2 = 99.88. MM left 0.5 × 100 × 0.012 = 0.6: quote 0.5 × 100 − (−1) × 0.6 / 1.2
    = 50.5, bankruptcy price 101. Fill quote 51, surplus 0.5 (below 1.5 % × 51 = 0.765); the fill
    leaves −1 + 0.5 × 2 = 0, so the fee is capped at 0."""
    from solvent_verify import VerifyError
    from solvent_verify.liquidation import _check_dydx

    pos = {"symbol": "X", "qty": "1", "contract_size": "1", "inverse": False, "mm": "1.2", "scale": None,
           "tiers": [{"floor": "0", "mmr": "0.012", "amount": "0"}]}
    step = {"qty": "0.5", "price": "102", "fee": "0"}
    part = {"bankruptcy_adjustment_ppm": 1_000_000, "spread_to_maint_margin_ratio_ppm": 100_000,
            "max_liquidation_fee_ppm": 15_000, "tick": None, "price_step": "1", "fillable_price": "99.88",
            "rest_mm": "0.6", "bankruptcy_price": "101", "equity_at_fill": "0", "fee": "0", "fund_pays": "0"}
    quantum = D("0.00000001")
    assert "bankruptcy price 101, fee 0" in _check_dydx(part, step, pos, (D(-1), D("1.2")), D(100), quantum)
    for name, value in (("rest_mm", "0"), ("bankruptcy_price", "102"), ("fee", "0.5")):
        with pytest.raises(VerifyError, match=f"liquidation {name}"):
            _check_dydx(part | {name: value}, step, pos, (D(-1), D("1.2")), D(100), quantum)
    with pytest.raises(VerifyError, match=r"the signed step charges 0\.5"):
        _check_dydx(part, step | {"fee": "0.5"}, pos, (D(-1), D("1.2")), D(100), quantum)


def test_a_step_after_its_level_change_is_not_verified_as_a_step_on_its_own() -> None:
    """A trigger certificate turned into a claim of its step alone: the account's level changed
    before the step in the same record, so the verifier refuses it."""
    backend = _venue_book("binance-usdm", liquidation=True)
    events = _events(backend, 77)
    trigger = next(i for i, e in enumerate(events) if e["type"] == "MarginLevelChanged")
    cert = certify(backend, 77, _note(backend), index=trigger)
    step = cert["liquidation"]["step"]
    forged = copy.deepcopy(cert)
    forged["claim"].update(event_index=step, previous="liquidation", level="liquidation")
    assert "moves long" in _refused(forged)
    forged["claim"].update(previous="margin_call")
    assert "while the account stays in liquidation" in _refused(forged)


def test_the_dydx_parameters_are_read_as_the_engine_reads_them() -> None:
    """Record 77's close (above) under a bankruptcy adjustment of 2,000,000 ppm: ABR = min(1,
    2 × (1 − 9.4 / 60.1128)) = 1, so fillable = 50,094 − 60.1128 = 50,033.8872, up to 50,034;
    the rest is as before. A negative or zero price grid is refused."""
    from solvent_verify import VerifyError
    from solvent_verify.liquidation import _check_dydx

    pos = {"symbol": "BTC-USD", "qty": "0.1", "contract_size": "1", "inverse": False, "mm": "60.1128", "scale": None,
           "tiers": [{"floor": "0", "mmr": "0.012", "amount": "0"}]}
    step = {"qty": "0.1", "price": "50068", "fee": "6.8"}
    part = {"bankruptcy_adjustment_ppm": 2_000_000, "spread_to_maint_margin_ratio_ppm": 100_000,
            "max_liquidation_fee_ppm": 15_000, "tick": "1", "price_step": "1", "fillable_price": "50034",
            "rest_mm": "0", "bankruptcy_price": "50000", "equity_at_fill": "6.8", "fee": "6.8", "fund_pays": "0"}
    figures, mark, quantum = (D("9.4"), D("60.1128")), D(50_094), D("0.00000001")
    assert "within the fillable price 50034" in _check_dydx(part, step, pos, figures, mark, quantum)
    for name, value in (("price_step", "-1"), ("tick", "0"), ("max_liquidation_fee_ppm", 1_000_001)):
        with pytest.raises(VerifyError, match=name):
            _check_dydx(part | {name: value}, step, pos, figures, mark, quantum)
    # no adjustment: the fillable price is the mark, 50,094, above the signed fill at 50,068
    with pytest.raises(VerifyError, match="beyond the fillable price 50094"):
        _check_dydx(part | {"bankruptcy_adjustment_ppm": 0}, step, pos, figures, mark, quantum)
