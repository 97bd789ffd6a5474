"""``/v1/options/price`` and ``/v1/options/margin``: the CLI's answers over HTTP, for any
authenticated caller; bad bodies are 400 with a code, and nothing in the venue changes."""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import ROUND_CEILING, Decimal

import pytest
from service_support import Harness, make_harness

from solvent.service.routes_options import MAX_OPTION_POSITIONS


@pytest.fixture
def hx() -> Iterator[Harness]:
    yield from make_harness()


SHORT_CALL = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "50000"}, "wallet": {"BTC": "1"},
              "positions": [{"instrument": "BTC-26MAR27-55000-C", "qty": "-1", "mark": "0.01", "vol": "0.6"}]}


def test_price_answers_tv06(hx: Harness) -> None:
    r = hx.client.post("/v1/options/price", json={"type": "call", "forward": "100000", "strike": "110000",
                                                  "expiry_days": "30", "vol": "0.6", "inverse": True},
                       headers=hx.h(hx.alice))
    assert r.status_code == 200, r.text
    body = r.json()
    assert round(float(body["price"]), 6) == 3270.260505 and round(float(body["price_coin"]), 8) == 0.03270261
    assert body["vol_implied"] is False and body["inverse"] is True


def test_margin_answers_tv29_and_changes_nothing(hx: Harness) -> None:
    """A short 55,000 call at index 50,000, mark 0.01 BTC: IM 0.11 and MM 0.085 BTC (TV-29)."""
    before = hx.svc.venue.engine.state_hash()
    r = hx.client.post("/v1/options/margin", json={"rules": "deribit-standard", "portfolio": SHORT_CALL},
                       headers=hx.h(hx.bob))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["initial_margin"], body["maintenance_margin"], body["equity"]) == ("0.11", "0.085", "0.99")
    pm = hx.client.post("/v1/options/margin", json={"rules": "deribit-pm", "portfolio": SHORT_CALL},
                        headers=hx.h(hx.operator)).json()
    assert len(pm["scenarios"]) == 9 * 3 + 8
    im_by_hand = (Decimal(pm["maintenance_margin"]) * Decimal("1.25")).quantize(Decimal("1e-8"), rounding=ROUND_CEILING)
    assert Decimal(pm["initial_margin"]) == im_by_hand  # IM = 1.25 × MM, rounded up to the satoshi
    assert hx.svc.venue.engine.state_hash() == before


@pytest.mark.parametrize(("body", "fragment"), [
    ({"rules": "okx-pm", "portfolio": SHORT_CALL}, "rules"),
    ({"rules": "deribit-pm", "portfolio": {**SHORT_CALL, "now": "soon"}}, "ISO 8601"),
    ({"rules": "deribit-pm", "portfolio": {**SHORT_CALL, "positions": []}}, "no positions"),
    ({"rules": "deribit-pm", "portfolio": {**SHORT_CALL, "positions": SHORT_CALL["positions"] * (
        MAX_OPTION_POSITIONS + 1)}}, "at most"),
])
def test_a_bad_margin_body_is_400_with_a_code(hx: Harness, body: dict[str, object], fragment: str) -> None:
    r = hx.client.post("/v1/options/margin", json=body, headers=hx.h(hx.alice))
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "INVALID_REQUEST" and fragment in r.text


def test_a_bad_price_body_is_400_and_a_caller_needs_a_key(hx: Harness) -> None:
    good = {"type": "put", "forward": "100000", "strike": "90000", "expiry_days": "7", "vol": "0.5"}
    assert hx.client.post("/v1/options/price", json=good).status_code == 401
    for bad in ({**good, "vol": 0.5}, {**good, "premium": "100"}, {**good, "premium": "200000", "vol": None},
                {**good, "type": "straddle"}, {k: v for k, v in good.items() if k != "vol"},
                {**good, "vol": None, "premium": "5000", "rate": "-1000000"}):  # e^{-rt} overflowed: a 500
        r = hx.client.post("/v1/options/price", json=bad, headers=hx.h(hx.alice))
        assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST", (bad, r.text)


def test_margin_across_currencies(hx: Harness) -> None:
    from test_options_cross import CROSS

    r = hx.client.post("/v1/options/margin", json={"rules": "deribit-standard", "portfolio": CROSS},
                       headers=hx.h(hx.alice))
    assert r.status_code == 200, r.text
    assert (r.json()["maintenance_margin"], r.json()["margin_asset"]) == ("17960", "USDC")


def test_okx_margin_with_okxs_tiers_in_the_body(hx: Harness) -> None:
    """SHORT_CALL under okx-options (forward = index 50,000): IM = max(0.1, 0.15 − 5,000 / 50,000)
    × factor + 0.01, MM = 0.03 × factor + 0.01; 1 BTC short is 100 contracts of 0.01 BTC, in
    tier 2 (factor 1.05) of these tiers: IM 0.115, MM 0.0415."""
    tiers = {"code": "0", "data": [
        {"instFamily": "BTC-USD", "tier": "1", "minSz": "0", "maxSz": "99", "optMgnFactor": "1"},
        {"instFamily": "BTC-USD", "tier": "2", "minSz": "100", "maxSz": "5000", "optMgnFactor": "1.05"}]}
    plain = hx.client.post("/v1/options/margin", json={"rules": "okx-options", "portfolio": SHORT_CALL},
                           headers=hx.h(hx.alice)).json()
    assert (plain["initial_margin"], plain["maintenance_margin"]) == ("0.11", "0.04")
    r = hx.client.post("/v1/options/margin", json={"rules": "okx-options", "portfolio": SHORT_CALL,
                                                   "margin_tiers": tiers}, headers=hx.h(hx.alice))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["initial_margin"], body["maintenance_margin"]) == ("0.115", "0.0415")
    assert body["margin_tier"] == {"tier": 2, "margin_factor": "1.05", "seller_contracts": "100"}
    bad = hx.client.post("/v1/options/margin", json={"rules": "okx-options", "portfolio": SHORT_CALL,
                                                     "margin_tiers": {"code": "50011", "msg": "busy", "data": []}},
                         headers=hx.h(hx.alice))
    assert bad.status_code == 400 and "error 50011" in bad.text


def test_cross_currency_margin_takes_each_groups_tiers_from_the_body(hx: Harness) -> None:
    from test_options_cross import CROSS

    tiers = {"code": "0", "data": [
        {"instFamily": family, "tier": "1", "minSz": "0", "maxSz": "1000", "optMgnFactor": factor}
        for family, factor in (("BTC-USD", "1.02"), ("ETH-USDC", "1.5"))]}
    r = hx.client.post("/v1/options/margin", json={"rules": "okx-options", "portfolio": CROSS, "margin_tiers": tiers},
                       headers=hx.h(hx.alice))
    assert r.status_code == 200, r.text
    assert [g["margin_tier"]["margin_factor"] for g in r.json()["groups"]] == ["1.02", "1.5"]


def test_a_negative_rate_discounts_by_exp_minus_rt(hx: Harness) -> None:
    """Black-76 discounts the forward's payoff by e^(−rT): at r = −5 % over 30 days (T = 30/365)
    the call is worth e^(0.05 × 30/365) times its value at r = 0 (and a sign was refused over
    HTTP while the CLI took it)."""
    body = {"type": "call", "forward": "100", "strike": "100", "expiry_days": "30", "vol": "0.5"}
    at_zero = hx.client.post("/v1/options/price", json=body, headers=hx.h(hx.alice))
    below = hx.client.post("/v1/options/price", json={**body, "rate": "-0.05"}, headers=hx.h(hx.alice))
    assert at_zero.status_code == below.status_code == 200, below.text
    assert float(below.json()["price"]) == pytest.approx(float(at_zero.json()["price"]) * math.exp(0.05 * 30 / 365),
                                                         rel=1e-12)


def test_check_answers_200_accepted_or_refused_and_changes_nothing(hx: Harness) -> None:
    """SHORT_CALL (wallet 1 BTC) under deribit-standard: IM 0.11 an option (TV-29). Selling 8 more at
    0.01: equity 1 + 0.08 − 9 × 0.01 = 0.99 against IM 9 × 0.11 = 0.99, accepted; 9 more: equity
    0.99 against 10 × 0.11 = 1.1, refused."""
    before = hx.svc.venue.engine.state_hash()
    order = {"instrument": "BTC-26MAR27-55000-C", "price": "0.01"}
    ok = hx.client.post("/v1/options/check", json={"rules": "deribit-standard", "portfolio": SHORT_CALL,
                                                   "order": {**order, "qty": "-8"}}, headers=hx.h(hx.alice))
    assert ok.status_code == 200, ok.text
    assert (ok.json()["accepted"], ok.json()["equity_after"], ok.json()["initial_margin_after"]) == (True, "0.99",
                                                                                                     "0.99")
    no = hx.client.post("/v1/options/check", json={"rules": "deribit-standard", "portfolio": SHORT_CALL,
                                                   "order": {**order, "qty": "-9"}}, headers=hx.h(hx.alice))
    assert no.status_code == 200 and (no.json()["accepted"], no.json()["reason"]) == (False, "INSUFFICIENT_MARGIN")
    assert no.json()["initial_margin_after"] == "1.1"
    for bad in ({**order, "qty": "0"}, {**order, "qty": "-1", "price": "-0.01"}, {**order, "qty": -1},
                {**order, "qty": "-1", "side": "sell"}):
        r = hx.client.post("/v1/options/check", json={"rules": "deribit-standard", "portfolio": SHORT_CALL,
                                                      "order": bad}, headers=hx.h(hx.alice))
        assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST", (bad, r.text)
    assert hx.svc.venue.engine.state_hash() == before


def test_settle_answers_the_price_or_422_when_sources_are_stale(hx: Harness) -> None:
    from test_options_expiry_settlement import FILE, PORTFOLIO

    r = hx.client.post("/v1/options/settle", json={"settlement": {**FILE, "weights": {"a": "4"}},
                                                   "portfolio": PORTFOLIO, "rules": "deribit-pm"},
                       headers=hx.h(hx.bob))
    assert r.status_code == 200, r.text
    body = r.json()  # the hand computations of test_options_expiry_settlement
    assert body["settlement_price"] == "123000" and body["portfolio"]["wallet_after"] == "1.69105692"
    stale = hx.client.post("/v1/options/settle", json={"settlement": {**FILE, "rules": {"min_sources": 4}}},
                           headers=hx.h(hx.bob))
    assert stale.status_code == 422 and stale.json()["code"] == "STALE_MARKET_DATA"
    assert "4 needed" in stale.json()["detail"]
    for bad in ({"settlement": {**FILE, "expiry": "soon"}}, {"settlement": FILE, "portfolio": PORTFOLIO},
                {"settlement": FILE, "rules": "deribit-pm"}):
        r = hx.client.post("/v1/options/settle", json=bad, headers=hx.h(hx.bob))
        assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST", (bad, r.text)
    assert hx.client.post("/v1/options/settle", json={"settlement": FILE}).status_code == 401


UNDER = {"now": "2026-12-05T00:00:00Z", "index": {"BTC": "50000"}, "wallet": {"BTC": "0.1"},
         "positions": [{"instrument": "BTC-26MAR27-55000-C", "qty": "-1", "mark": "0.01", "vol": "0.6"},
                       {"instrument": "BTC-26MAR27-45000-P", "qty": "-1", "mark": "0.005", "vol": "0.6"}]}


def test_liquidation_plans_the_call_first_and_changes_nothing(hx: Harness) -> None:
    """deribit-standard: the short call's MM is 0.075 + 0.01 = 0.085 BTC, the put's max(0.075,
    0.075 × 0.005) + 0.005 = 0.08; equity 0.1 − 0.01 − 0.005 = 0.085 < 0.165. Closing half the call
    relieves 0.0425 per half option, the put 0.04: the call goes first, halving each step, until
    MM 0.08 + 0.085 × 0.5⁵ = 0.08265625 ≤ 0.085."""
    before = hx.svc.venue.engine.state_hash()
    r = hx.client.post("/v1/options/liquidation", json={"rules": "deribit-standard", "portfolio": UNDER,
                                                        "step": "0.5"}, headers=hx.h(hx.alice))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["qty"] for s in body["steps"]] == ["0.5", "0.25", "0.125", "0.0625", "0.03125"]
    assert {s["instrument"] for s in body["steps"]} == {"BTC-26MAR27-55000-C"}
    assert (body["maintenance_margin_after"], body["equity_after"], body["covered"]) == ("0.08265625", "0.085", True)
    for bad in ({"step": "0"}, {"step": "2"}, {"max_steps": 41}, {"untradable": "BTC-26MAR27-55000-C"},
                {"portfolio": {**UNDER, "positions": UNDER["positions"] * 11}}):
        r = hx.client.post("/v1/options/liquidation", json={"rules": "deribit-standard", "portfolio": UNDER, **bad},
                           headers=hx.h(hx.alice))
        assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST", (bad, r.text)
    assert hx.svc.venue.engine.state_hash() == before


def test_settle_refuses_too_many_positions_before_any_work(hx: Harness) -> None:
    from test_options_expiry_settlement import FILE, PORTFOLIO

    many = {**PORTFOLIO, "positions": [PORTFOLIO["positions"][0]] * (MAX_OPTION_POSITIONS + 1)}
    r = hx.client.post("/v1/options/settle", json={"settlement": {**FILE, "rules": {"min_sources": 4}},
                                                   "portfolio": many, "rules": "deribit-pm"}, headers=hx.h(hx.bob))
    assert r.status_code == 400 and f"at most {MAX_OPTION_POSITIONS}" in r.json()["detail"], r.text


def test_liquidation_under_okx_reads_the_tiers_in_the_body(hx: Harness) -> None:
    """SHORT_CALL with 0.0505 BTC: equity 0.0505 − 0.01 = 0.0405. Under okx-options at tier 1's
    factor of 1, MM = 0.03 + 0.01 = 0.04: covered, no step. With OKX's tiers, 100 contracts of
    0.01 BTC are in tier 2 (factor 1.05): MM 0.0315 + 0.01 = 0.0415 > 0.0405. Closing half leaves
    50 contracts, tier 1: MM 0.5 × (0.03 + 0.01) = 0.02: one step (found by a new-user pass: the
    plan ignored the tiers)."""
    tiers = {"code": "0", "data": [
        {"instFamily": "BTC-USD", "tier": "1", "minSz": "0", "maxSz": "99", "optMgnFactor": "1"},
        {"instFamily": "BTC-USD", "tier": "2", "minSz": "100", "maxSz": "5000", "optMgnFactor": "1.05"}]}
    thin = {**SHORT_CALL, "wallet": {"BTC": "0.0505"}}
    body = {"rules": "okx-options", "portfolio": thin, "step": "0.5"}
    plain = hx.client.post("/v1/options/liquidation", json=body, headers=hx.h(hx.alice)).json()
    assert (plain["steps"], plain["maintenance_margin_after"]) == ([], "0.04")
    r = hx.client.post("/v1/options/liquidation", json={**body, "margin_tiers": tiers}, headers=hx.h(hx.alice))
    assert r.status_code == 200, r.text
    assert [(s["qty"], s["maintenance_margin_before"], s["maintenance_margin_after"]) for s in r.json()["steps"]] == [
        ("0.5", "0.0415", "0.02")]


def test_a_second_liquidation_plan_while_one_runs_is_503_busy(hx: Harness) -> None:
    """One plan at a time (found by a new-user pass: plans sent together took every worker
    thread); the others are told to retry."""
    from solvent.service.routes_options import _ONE_PLAN

    body = {"rules": "deribit-standard", "portfolio": UNDER, "step": "0.5"}
    with _ONE_PLAN:  # a plan running
        busy = hx.client.post("/v1/options/liquidation", json=body, headers=hx.h(hx.alice))
    assert busy.status_code == 503 and busy.json()["code"] == "BUSY" and busy.headers["Retry-After"] == "1"
    assert hx.client.post("/v1/options/liquidation", json=body, headers=hx.h(hx.alice)).status_code == 200


def test_a_liquidation_plan_that_fails_lets_the_next_one_run(hx: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-plan lock is released however a plan ends: refused (400), or failing inside."""
    from solvent.service import routes_options
    from solvent.service.routes_options import _ONE_PLAN

    body = {"rules": "deribit-standard", "portfolio": UNDER, "step": "0.5"}
    bad = {**body, "portfolio": {**UNDER, "now": "soon"}}  # refused inside the plan
    assert hx.client.post("/v1/options/liquidation", json=bad, headers=hx.h(hx.alice)).status_code == 400
    assert not _ONE_PLAN.locked()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a plan failing inside")

    monkeypatch.setattr(routes_options, "plan_liquidation", broken)
    try:
        failed = hx.client.post("/v1/options/liquidation", json=body, headers=hx.h(hx.alice)).status_code
    except RuntimeError:  # the test client may raise the server's exception
        failed = 500
    assert failed == 500 and not _ONE_PLAN.locked()
    monkeypatch.undo()
    assert hx.client.post("/v1/options/liquidation", json=body, headers=hx.h(hx.alice)).status_code == 200
