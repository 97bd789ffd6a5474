"""A Drift liquidation's first step in a certificate (issue 16, item 3: "every intermediate
number ... the liquidation fee"), checked against a hand computation of Drift's takeover.

Drift (``profiles/drift.json``, from drift-labs/protocol-v2 ``math/liquidation.rs``): a
liquidator takes over the base that covers the margin shortage,
``base = shortage / (⌊P × (margin_ratio − liquidator_fee)⌋ − ⌊P × if_fee⌋)`` in Drift's integer
precisions (price, quote, fees 1e-6; margin ratio 1e-4; base 1e-9), at the oracle less the
liquidator fee; the insurance fund takes ``if_fee`` of the notional taken over. The liquidator
fee is 0.5 % on BTC-PERP and rises by 2.5e-9 a millisecond once 600,000 ms have passed since the
account's previous liquidation step (at most 5 %). The insurance fund's fee is 0.75 %.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from test_certificate import KEY, _note
from test_certificate_prior import _checked, _refused, _state_note

from solvent.engine import AdvanceTime, Deposit, EngineConfig, Fill, LiquidationPolicy, PriceUpdate
from solvent.journal import DurableEngine, MemoryBackend
from solvent.journal.codec import decode_record
from solvent.proofs.certificate import certify
from solvent.risk.venues import load_venue
from solvent_verify.certificate import _clock
from solvent_verify.cli import main as verify_main

D = Decimal


def _drift_book() -> MemoryBackend:
    """A deposits 1,000 USDC and buys 0.1 BTC-PERP at 60,000 (cost 6,000); the oracle falls to
    55,000, then 52,000 (t = 0), and, after 700,000 ms, to 51,500."""
    backend = MemoryBackend()
    engine = DurableEngine(backend, EngineConfig(load_venue("drift"), settle_asset="USDC",
                                                 liquidation=LiquidationPolicy()))
    for cmd in (AdvanceTime(0), PriceUpdate("BTC-PERP", "s", D(60_000)), Deposit("A", "USDC", D(1_000)),
                Deposit("maker", "USDC", D(10) ** 9), Deposit("book", "USDC", D(10) ** 9),
                Fill("t1", "BTC-PERP", D(60_000), D("0.1"), "A", "maker"),
                PriceUpdate("BTC-PERP", "s", D(55_000)), PriceUpdate("BTC-PERP", "s", D(52_000)),
                AdvanceTime(700_000), PriceUpdate("BTC-PERP", "s", D(51_500))):
        assert engine.apply(cmd).accepted, cmd
    return backend


def _trigger(backend: MemoryBackend, seq: int) -> tuple[int, dict[str, Any]]:
    """A's level change to liquidation in record ``seq``, and A's liquidation step after it."""
    events = decode_record(next(iter(backend.records(seq))).payload).events
    index = next(i for i, e in enumerate(events) if e["type"] == "MarginLevelChanged" and e["account_id"] == "A"
                 and e["level"] == "liquidation")
    return index, next(e for e in events[index:] if e["type"] == "LiquidationStep")


def _verify_file(tmp_path: Path, cert: dict[str, Any], *extra: str) -> int:
    vkey = tmp_path / "venue.vkey"
    vkey.write_text(KEY.verifier_key() + "\n")
    target = tmp_path / "certificate.json"
    target.write_text(json.dumps(cert))
    return verify_main(["certificate", str(target), "--key", str(vkey), *extra])


def test_the_first_drift_takeover_by_hand(tmp_path: Path) -> None:
    """At 52,000: equity 1,000 + 0.1 × (52,000 − 60,000) = 200 < MM 0.05 × 5,200 = 260.
    Target 260 × 1.02 = 265.2, shortage 65.2, margin ratio 260 / 5,200 = 0.05, fee 0.005 (no
    earlier step). In Drift's integers: P = 52,000 × 1e6; ⌊P × (50,000 − 5,000) / 1e6⌋ =
    2,340,000,000; ⌊P × 7,500 / 1e6⌋ = 390,000,000; base = ⌊65,200,000 × 1e9 / 1,950,000,000⌋ =
    33,435,897 (1e-9) = 0.033435897, on the 1e-8 lot up: 0.0334359 BTC. Price 52,000 × 0.995 =
    51,740. Insurance fund: 0.0334359 × 52,000 × 0.0075 = 13.040001; the fill leaves
    200 + 0.0334359 × (51,740 − 52,000) = 191.306666, so the fee is 13.040001."""
    backend = _drift_book()
    seq = 8
    index, step = _trigger(backend, seq)
    assert (step["type"], D(step["qty"]), D(step["price"]), D(step["fee"])) == (
        "LiquidationStep", D("0.0334359"), D(51_740), D("13.040001"))
    cert = certify(backend, seq, _note(backend), index=index, prior=lambda size: _state_note(backend, size))
    part = cert["liquidation"]
    assert "prior" in cert and part["rule"] == "drift"
    expected = {"target_equity": D("265.2"), "shortage": D("65.2"), "margin_ratio": D("0.05"),
                "escalated_fee": D("0.005"), "base": D("0.033435897"), "equity_at_fill": D("191.306666"),
                "fee": D("13.040001")}
    assert {name: D(part[name]) for name in expected} == expected
    assert (part["now_ms"], part["last_liquidation_ms"]) == (0, None)
    assert "Drift takeover of 0.0334359 BTC-PERP at 51740" in _checked(cert)
    shipped = str(resources.files("solvent") / "profiles" / "drift.json")
    assert _verify_file(tmp_path, cert, "--profile", shipped) == 0
    forged: list[tuple[str, Any, str]] = [
        ("the fee", lambda p: p.update(fee="13.040002"), "liquidation fee"),
        ("the base", lambda p: p.update(base="0.033435898"), "liquidation base"),
        ("the shortage", lambda p: p.update(shortage="65.3"), "liquidation shortage"),
        ("the liquidator fee", lambda p: p.update(liquidator_fee="0.006"), "escalated_fee"),
        ("the fund's fee", lambda p: p.update(if_liquidation_fee="0.0076"), "liquidation base"),
        ("the time since the last step", lambda p: p.update(last_liquidation_ms=0, now_ms=900_000),
         "not the signed prior state's"),
        ("whole position", lambda p: p.update(base=None), "liquidation base"),
    ]
    for what, edit, reason in forged:
        changed = copy.deepcopy(cert)
        edit(changed["liquidation"])
        assert reason in _refused(changed), what
    # without the signed prior state, the time is as stated: a later time past the grace period
    # changes the fee the arithmetic expects, so it is refused all the same
    unbound = copy.deepcopy(cert)
    unbound.pop("prior")
    assert "time as stated" in _checked(unbound)
    unbound["liquidation"].update(now_ms=900_000, last_liquidation_ms=0)
    assert "escalated_fee" in _refused(unbound)
    # parameters the arithmetic does not read here are bound by the profile file: the cap and the
    # escalation (no earlier step), and a lot of 5e-9 (0.033435897 still rounds up to 0.0334359)
    for edit in ({"max_liquidator_fee": "0.04"}, {"fee_increase_per_ms": "0.000000003"}, {"fee_grace_ms": 500_000},
                 {"lot": "0.000000005"}):
        changed = copy.deepcopy(cert)
        changed["liquidation"].update(edit)
        assert _verify_file(tmp_path, changed) == 0, edit
        assert _verify_file(tmp_path, changed, "--profile", shipped) == 1, edit


def test_the_liquidator_fee_escalates_after_the_grace_period(tmp_path: Path) -> None:
    """A's first step (t = 0) left it above its target; at t = 700,000 ms the oracle is 51,500
    and A is liquidated again. 700,000 ms ≥ the 600,000 ms grace period, so the liquidator fee is
    0.005 + 700,000 × 2.5e-9 = 0.00675 and the price 51,500 × (1 − 0.00675) = 51,152.375."""
    backend = _drift_book()
    seq = 10
    index, step = _trigger(backend, seq)
    assert D(step["price"]) == D("51152.375")
    cert = certify(backend, seq, _note(backend), index=index, prior=lambda size: _state_note(backend, size))
    part = cert["liquidation"]
    assert (part["now_ms"], part["last_liquidation_ms"], D(part["escalated_fee"])) == (700_000, 0, D("0.00675"))
    assert "liquidator fee 0.00675)" in _checked(cert)
    # the signed prior state holds the time of the record before (the AdvanceTime's) and the step at 0
    changed = copy.deepcopy(cert)
    changed["liquidation"].update(now_ms=600_000)
    assert "not the signed prior state's" in _refused(changed)
    assert _verify_file(tmp_path, cert) == 0


def test_the_insurance_funds_cut_is_capped_at_the_equity_the_fill_leaves(tmp_path: Path) -> None:
    """A holds 0.15 BTC-PERP bought at 60,000 on 1,000 USDC; the oracle falls to 58,000, then to
    53,400: equity 1,000 − 0.15 × 6,600 = 10 < MM 0.05 × 8,010 = 400.5. Shortage
    400.5 × 1.02 − 10 = 398.51; base ⌊398,510,000 × 1e9 / (2,403,000,000 − 400,500,000)⌋ =
    0.199006242 > 0.15, so the whole 0.15 is taken over at 53,400 × 0.995 = 53,133. The fund's
    0.75 % would be 0.15 × 53,400 × 0.0075 = 60.075, but the fill leaves 10 + 0.15 × (53,133 −
    53,400) = −30.05: nothing, so the fee is 0."""
    backend = MemoryBackend()
    engine = DurableEngine(backend, EngineConfig(load_venue("drift"), settle_asset="USDC",
                                                 liquidation=LiquidationPolicy()))
    for cmd in (AdvanceTime(0), PriceUpdate("BTC-PERP", "s", D(60_000)), Deposit("A", "USDC", D(1_000)),
                Deposit("maker", "USDC", D(10) ** 9), Deposit("book", "USDC", D(10) ** 9),
                Fill("t1", "BTC-PERP", D(60_000), D("0.15"), "A", "maker"),
                PriceUpdate("BTC-PERP", "s", D(58_000)), PriceUpdate("BTC-PERP", "s", D(53_400))):
        assert engine.apply(cmd).accepted, cmd
    index, step = _trigger(backend, 8)
    assert (D(step["qty"]), D(step["price"]), D(step["fee"])) == (D("0.15"), D(53_133), D(0))
    cert = certify(backend, 8, _note(backend), index=index, prior=lambda size: _state_note(backend, size))
    part = cert["liquidation"]
    assert (D(part["base"]), D(part["equity_at_fill"]), D(part["fee"])) == (D("0.199006242"), D("-30.05"), D(0))
    assert _verify_file(tmp_path, cert) == 0
    charged = copy.deepcopy(cert)
    charged["liquidation"]["fee"] = "60.075"
    assert "liquidation fee 60.075 stated, 0 computed" in _refused(charged)


def test_a_record_that_moves_time_is_judged_at_its_own_time() -> None:
    """The prior state holds the time before the record; an ``AdvanceTime`` record (funding,
    expiry) is applied at the time it names."""
    prior = {"extract": {"document": {"now_ms": 5_000}, "account": {"last_liquidation_ms": 1_000}}}
    assert _clock({"prior": prior}, {"input": {"type": "PriceUpdate"}}) == (5_000, 1_000)
    assert _clock({"prior": prior}, {"input": {"type": "AdvanceTime", "now_ms": 9_000}}) == (9_000, 1_000)
    assert _clock({}, {"input": {"type": "AdvanceTime", "now_ms": 9_000}}) is None
