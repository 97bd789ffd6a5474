"""The HTTP API: every route's access control, JSON errors on bad input, commands and views."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from service_support import ALICE, BOB, Harness, make_harness

from solvent.service import KeyStore, RateLimiter, Role, build_service, create_app


@pytest.fixture
def hx() -> Iterator[Harness]:
    yield from make_harness()


ORDER = {"order_id": "o-1", "symbol": "BTCUSDT", "side": "long", "qty": "0.001", "price": "116000"}

# (method, path, body, who may: "any" key, "own" account or operator, "treasury" or operator (money in and
# out: an account key must not mint or take money, issue 10), "operator")
ROUTES: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("GET", "/v1/accounts", None, "operator"),
    ("GET", "/v1/accounts/{a}", None, "own"),
    ("GET", "/v1/accounts/{a}/margin", None, "own"),
    ("POST", "/v1/accounts/{a}/what-if", ORDER, "own"),
    ("POST", "/v1/accounts/{a}/deposits", {"amount": "1"}, "treasury"),
    ("POST", "/v1/accounts/{a}/withdrawals", {"amount": "1"}, "treasury"),
    ("POST", "/v1/accounts/{a}/leverage", {"symbol": "BTCUSDT", "leverage": "5"}, "own"),
    ("POST", "/v1/accounts/{a}/orders", ORDER, "own"),
    ("DELETE", "/v1/accounts/{a}/orders/o-1", None, "own"),
    ("GET", "/v1/accounts/{a}/liquidations", None, "own"),
    ("GET", "/v1/accounts/{a}/margin-calls", None, "own"),
    ("POST", "/v1/prices", {"symbol": "ETHUSDT", "price": "4300"}, "operator"),
    ("POST", "/v1/fills", {"trade_id": "t-auth", "symbol": "BTCUSDT", "price": "116000", "qty": "0.001",
                           "buyer_id": ALICE, "seller_id": "desk"}, "operator"),
    ("POST", "/v1/time", {"now_ms": 1760125600000}, "operator"),
    ("GET", "/v1/liquidations", None, "operator"),
    ("GET", "/v1/margin-calls", None, "operator"),
    ("GET", "/v1/ladder/BTCUSDT", None, "operator"),
    ("GET", "/v1/events", None, "any"),
    ("GET", "/v1/insurance-fund", None, "any"),
    ("GET", "/v1/state", None, "any"),
    ("GET", "/v1/params", None, "operator"),
]
IDS = [f"{m} {p}" for m, p, _, _ in ROUTES]


def call(hx: Harness, method: str, path: str, body: dict[str, Any] | None, key: str | None, account: str = ALICE
         ) -> Any:
    return hx.client.request(method, path.replace("{a}", account), json=body, headers=hx.h(key))


@pytest.mark.parametrize(("method", "path", "body", "who"), ROUTES, ids=IDS)
def test_a_request_without_a_key_or_with_a_wrong_one_is_401(hx: Harness, method: str, path: str,
                                                             body: dict[str, Any] | None, who: str) -> None:
    # alice's key with its last character changed (``[:-2] + "xx"`` was her own key whenever
    # it happened to end in "xx": about one run in a hundred failed for that)
    wrong = hx.alice[:-1] + ("y" if hx.alice.endswith("x") else "x")
    for key in (None, "slv_nope_nope", wrong, "garbage"):
        r = call(hx, method, path, body, key)
        assert r.status_code == 401, (key, r.text)
        assert r.json()["code"] == "UNAUTHORIZED"


RESTRICTED = [r for r in ROUTES if r[3] != "any"]
FUNDS = [r for r in ROUTES if r[3] == "treasury"]
NOT_TREASURY = [r for r in ROUTES if r[3] in ("own", "operator")]


@pytest.mark.parametrize(("method", "path", "body", "who"), FUNDS, ids=[f"{m} {p}" for m, p, _, _ in FUNDS])
def test_an_account_key_cannot_move_money_even_on_its_own_account(
        hx: Harness, method: str, path: str, body: dict[str, Any] | None, who: str) -> None:
    before = hx.svc.venue.state_hash()
    big = {"amount": "999999999999999999999999"}
    r = call(hx, method, path, big, hx.alice, account=ALICE)
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN", r.text
    assert hx.svc.venue.state_hash() == before


@pytest.mark.parametrize(("method", "path", "body", "who"), NOT_TREASURY,
                         ids=[f"{m} {p}" for m, p, _, _ in NOT_TREASURY])
def test_a_treasury_key_moves_money_only(hx: Harness, method: str, path: str, body: dict[str, Any] | None,
                                         who: str) -> None:
    r = call(hx, method, path, body, hx.treasury)
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN", r.text


@pytest.mark.parametrize("account", [".", "..", "-", "@:"])
def test_an_account_id_without_a_letter_or_digit_is_400(hx: Harness, account: str) -> None:
    r = hx.client.get(f"/v1/accounts/{account}/margin", headers=hx.h(hx.operator))
    assert r.status_code in (400, 404), r.text  # "." and ".." may be normalised away by the client as a path
    r = hx.client.post(f"/v1/accounts/{account}/deposits", json={"amount": "1"}, headers=hx.h(hx.treasury))
    assert r.status_code in (400, 404, 405), r.text
    assert account not in hx.svc.venue.engine.state.accounts


@pytest.mark.parametrize(("method", "path", "body", "who"), RESTRICTED, ids=[f"{m} {p}" for m, p, _, _ in RESTRICTED])
def test_an_account_key_is_refused_another_account_and_operator_routes_with_403(
        hx: Harness, method: str, path: str, body: dict[str, Any] | None, who: str) -> None:
    r = call(hx, method, path, body, hx.alice, account=BOB)
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "FORBIDDEN"


@pytest.mark.parametrize(("method", "path", "body", "who"), ROUTES, ids=IDS)
def test_the_right_key_is_let_through(hx: Harness, method: str, path: str, body: dict[str, Any] | None,
                                      who: str) -> None:
    keys = {"operator": [hx.operator], "treasury": [hx.treasury, hx.operator]}.get(who, [hx.alice, hx.operator])
    for key in keys:
        r = call(hx, method, path, body, key)
        assert r.status_code not in (401, 403, 500), (key, r.text)
        assert r.status_code in (200, 422), r.text  # 422: the engine refused, e.g. cancelling twice
        assert isinstance(r.json(), dict)


def test_an_account_key_sees_only_its_own_and_public_events(hx: Harness) -> None:
    r = hx.client.get("/v1/events?from_seq=0&limit=10000", headers=hx.h(hx.alice))
    events = r.json()["events"]
    assert events
    for e in events:
        assert e.get("account_id", ALICE) == ALICE


BAD_BODIES = [
    ("a float amount", "/v1/accounts/{a}/deposits", {"amount": 1.5}),
    ("an integer amount", "/v1/accounts/{a}/deposits", {"amount": 15}),
    ("an exponent", "/v1/accounts/{a}/deposits", {"amount": "1e5"}),
    ("a negative amount", "/v1/accounts/{a}/deposits", {"amount": "-1"}),
    ("NaN", "/v1/accounts/{a}/deposits", {"amount": "NaN"}),
    ("an unknown field", "/v1/accounts/{a}/deposits", {"amount": "1", "bonus": "1"}),
    ("a missing field", "/v1/accounts/{a}/orders", {"symbol": "BTCUSDT"}),
    ("a bad side", "/v1/accounts/{a}/orders", {**ORDER, "side": "up"}),
    ("not an object", "/v1/accounts/{a}/orders", ["x"]),
    ("a float price", "/v1/prices", {"symbol": "BTCUSDT", "price": 1.0}),
]


@pytest.mark.parametrize(("why", "path", "body"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_a_malformed_body_is_400_json_and_changes_nothing(hx: Harness, why: str, path: str, body: Any) -> None:
    before = hx.svc.venue.state_hash()
    r = hx.client.post(path.replace("{a}", ALICE), json=body, headers=hx.h(hx.operator))
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "INVALID_REQUEST"
    assert hx.svc.venue.state_hash() == before


def test_broken_json_and_unknown_routes_are_json_4xx(hx: Harness) -> None:
    r = hx.client.post(f"/v1/accounts/{ALICE}/deposits", content=b"{not json", headers=hx.h(hx.alice))
    assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST"
    r = hx.client.get("/v1/nothing-here", headers=hx.h(hx.operator))
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    r = hx.client.put("/v1/prices", json={}, headers=hx.h(hx.operator))
    assert r.status_code == 405 and r.json()["code"] == "METHOD_NOT_ALLOWED"
    r = hx.client.get("/v1/accounts/nobody/margin", headers=hx.h(hx.operator))
    assert r.status_code == 404 and r.json() == {"code": "UNKNOWN_ACCOUNT", "account": "nobody"}
    r = hx.client.get("/v1/ladder/NOPE", headers=hx.h(hx.operator))
    assert r.status_code == 404 and r.json()["code"] == "UNKNOWN_SYMBOL"
    for bad in ("%E2%80%AEBTCUSDT", "BTC%E2%80%8BUSDT", "X" * 65):  # a bidi control, a zero-width space, 65 chars
        r = hx.client.get(f"/v1/ladder/{bad}", headers=hx.h(hx.operator))
        assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST", (bad, r.text)
        assert "symbol" not in r.json(), r.text  # the malformed symbol is not echoed back
    r = hx.client.post(f"/v1/accounts/{ALICE}/deposits", content=b"x" * 100_000, headers=hx.h(hx.alice))
    assert r.status_code == 413 and r.json()["code"] == "BODY_TOO_LARGE"


def test_an_engine_denial_is_422_with_its_code_and_context_and_changes_nothing(hx: Harness) -> None:
    before = hx.svc.venue.state_hash()
    r = hx.client.post(f"/v1/accounts/{ALICE}/withdrawals", json={"amount": "999999999"},
                       headers=hx.h(hx.treasury))
    assert r.status_code == 422
    body = r.json()
    assert body["code"] in ("INSUFFICIENT_BALANCE", "WITHDRAWAL_EXCEEDS_FREE_MARGIN")
    assert "command_seq" not in body and body["journal_seq"] >= 1  # refusals are not journaled
    assert hx.svc.venue.state_hash() == before


@pytest.mark.parametrize("amount", ["0.00000000", "0.0", "000.000"])
def test_a_refusal_writes_the_refused_amount_plainly_never_with_an_exponent(hx: Harness, amount: str) -> None:
    """Found by a new-user pass: a deposit of "0.00000000" was refused naming "amount": "0E-8"."""
    r = hx.client.post(f"/v1/accounts/{ALICE}/deposits", json={"amount": amount}, headers=hx.h(hx.treasury))
    assert r.status_code == 422 and r.json()["code"] == "INVALID_AMOUNT"
    assert r.json()["amount"] == "0"


def test_margin_shows_exact_figures_liquidation_prices_and_adl_ranks(hx: Harness) -> None:
    m = hx.client.get(f"/v1/accounts/{ALICE}/margin", headers=hx.h(hx.alice)).json()
    engine = hx.svc.venue.engine
    exact = engine.margin(ALICE)
    assert Decimal(m["equity"]) == exact.equity
    assert Decimal(m["maintenance_margin"]) == exact.maintenance_margin
    assert m["level"] == "healthy"
    (pos,) = [p for p in m["positions"] if p["symbol"] == "BTCUSDT"]
    assert pos["side"] == "long" and Decimal(pos["liquidation_price"]) < Decimal(pos["mark_price"])
    assert pos["adl_rank"] in (1, 2, 3, 4, 5)
    # each position's own MM is its tier's line at its notional (no volatility scale on the demo), IM its
    # notional over the leverage; the cross positions' MM add up to the account's
    tier = pos["tier"]
    assert Decimal(pos["maintenance_margin"]) == (Decimal(pos["notional"]) * Decimal(tier["maint_margin_rate"])
                                                  - Decimal(tier["maint_amount"]))
    assert Decimal(tier["floor_notional"]) <= Decimal(pos["notional"]) and tier["index"] >= 1
    lev = Decimal(hx.client.get(f"/v1/accounts/{ALICE}", headers=hx.h(hx.alice)).json()["positions"][0]["leverage"])
    assert Decimal(pos["initial_margin"]) == Decimal(pos["notional"]) / lev
    cross = [p for p in m["positions"] if p["margin_mode"] == "cross"]
    assert sum(Decimal(p["maintenance_margin"]) for p in cross) == Decimal(m["maintenance_margin"])
    assert m["status"] == "healthy"


def test_an_account_liquidated_out_of_its_positions_shows_as_liquidated_beside_the_engines_level(
        hx: Harness) -> None:
    # erin: 0.2 BTC long at 117,200 on 50x isolated (468.8 USDT margin); at 113,000 she loses 840: liquidated
    erin, op = "erin-isolated-50x", hx.h(hx.operator)
    r = hx.client.post("/v1/prices", json={"symbol": "BTCUSDT", "price": "113000"}, headers=op)
    assert any(e["type"] == "LiquidationStep" and e["account_id"] == erin for e in r.json()["events"])
    m = hx.client.get(f"/v1/accounts/{erin}/margin", headers=op).json()
    assert m["positions"] == [] and m["level"] == "healthy"  # no MM left: the engine's level is healthy again
    assert m["status"] == "liquidated"
    rows = {row["account_id"]: row for row in hx.client.get("/v1/accounts", headers=op).json()["accounts"]}
    assert rows[erin]["status"] == "liquidated"
    assert rows[ALICE]["status"] == rows[ALICE]["level"] == "healthy"  # 5x: untouched
    assert hx.client.get(f"/v1/accounts/{erin}", headers=op).json()["status"] == "liquidated"


def test_what_if_answers_the_pre_trade_check_and_the_largest_size_without_changing_anything(hx: Harness) -> None:
    op = hx.h(hx.operator)
    assert hx.client.post("/v1/accounts/zoe/deposits", json={"amount": "10000"}, headers=op).status_code == 200
    before = hx.svc.venue.state_hash()
    big = {**ORDER, "qty": "10"}
    r = hx.client.post("/v1/accounts/zoe/what-if", json=big, headers=op).json()
    assert r["accepted"] is False and r["code"] == "INSUFFICIENT_INITIAL_MARGIN"
    assert set(r["context"]) == {"required", "available"}
    max_qty = Decimal(r["max_qty"])
    assert max_qty > 0
    ok = hx.client.post("/v1/accounts/zoe/what-if", json={**ORDER, "qty": r["max_qty"]}, headers=op).json()
    assert ok == {"accepted": True, "code": None, "context": {}, "max_qty": r["max_qty"]}
    assert hx.svc.venue.state_hash() == before


def test_what_if_for_an_unknown_account_is_404_as_placing_the_order_is(hx: Harness) -> None:
    """The engine refuses every order of an account it does not hold (``UNKNOWN_ACCOUNT``): there is
    no "new account with no funds" to size an order for, so what-if answers as ``/orders`` and the
    account reads do, 404, not a 200 carrying the refusal."""
    op = hx.h(hx.operator)
    before = hx.svc.venue.state_hash()
    r = hx.client.post("/v1/accounts/nobody/what-if", json=ORDER, headers=op)
    assert r.status_code == 404 and r.json() == {"code": "UNKNOWN_ACCOUNT", "account": "nobody"}, r.text
    placed = hx.client.post("/v1/accounts/nobody/orders", json=ORDER, headers=op)
    assert (placed.status_code, placed.json()) == (r.status_code, r.json())
    assert hx.svc.venue.state_hash() == before
    assert hx.client.post("/v1/accounts/nobody/deposits", json={"amount": "10000"}, headers=op).status_code == 200
    r = hx.client.post("/v1/accounts/nobody/what-if", json=ORDER, headers=op)
    assert r.status_code == 200 and r.json()["accepted"] is True


@pytest.mark.parametrize("path", ["/v1/accounts/alice/margin", "/v1/events?from_seq=1", "/v1/state"])
def test_a_read_naming_a_journal_record_waits_for_it_and_a_bad_one_is_400(
        hx: Harness, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import solvent.service.venue as venue_module

    op = hx.h(hx.operator)
    done = hx.client.post("/v1/accounts/alice/deposits", json={"amount": "5"}, headers=op)
    seq = done.json()["command_seq"]
    assert hx.client.get(path, headers={**op, "Solvent-Min-Seq": str(seq)}).status_code == 200  # held: at once
    monkeypatch.setattr(venue_module, "MIN_SEQ_WAIT_S", 0.05)
    later = hx.client.get(path, headers={**op, "Solvent-Min-Seq": str(seq + 1)})  # no record after it comes
    assert later.status_code == 503 and later.json()["code"] == "BEHIND", later.text
    assert later.json()["journal_seq"] == seq and later.headers["retry-after"] == "1"
    for bad in ("-1", "1.0", "x", "01", "1_0", " 1", "1" * 20):
        r = hx.client.get(path, headers={**op, "Solvent-Min-Seq": bad})
        assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST", (bad, r.text)
    anonymous = hx.client.get(path, headers={"Solvent-Min-Seq": str(seq + 1)})  # no key: refused before any wait
    assert anonymous.status_code == 401
    # given twice: which one? refused (found by a new-user pass; it took the first). This client
    # joins the two lines into one value ("1, 62"), which is no whole number; curl sends two
    # lines, which the middleware counts (``repeats_min_seq``, below)
    twice = hx.client.get(path, headers=[("X-API-Key", hx.operator), ("Solvent-Min-Seq", "1"),
                                         ("Solvent-Min-Seq", str(seq + 1))])
    assert twice.status_code == 400, twice.text
    from solvent.service.context import repeats_min_seq

    assert repeats_min_seq([(b"Solvent-Min-Seq", b"1"), (b"x-api-key", b"k"), (b"solvent-min-seq", b"2")])
    assert not repeats_min_seq([(b"solvent-min-seq", b"1"), (b"x-api-key", b"k")])


def test_a_read_the_caller_may_not_make_is_refused_without_waiting_for_its_record(
        hx: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    import solvent.service.venue as venue_module

    monkeypatch.setattr(venue_module, "MIN_SEQ_WAIT_S", 0.05)  # waiting would answer 503 BEHIND, not the refusal
    later = {"Solvent-Min-Seq": str(hx.svc.venue.journal_seq + 1)}
    r = hx.client.get("/v1/accounts/bob/margin", headers={**hx.h(hx.alice), **later})  # alice's key, bob's account
    assert r.status_code == 403, r.text
    r = hx.client.post("/v1/accounts/bob/what-if", json=ORDER, headers={**hx.h(hx.alice), **later})
    assert r.status_code == 403, r.text
    # a cancel of the order "what-if" is a write, not a read: the header is no reason to wait
    r = hx.client.request("DELETE", "/v1/accounts/alice/orders/what-if", json={},
                          headers={**hx.h(hx.operator), **later})
    assert r.status_code != 503, r.text


def test_a_price_drop_posted_by_the_operator_brings_margin_calls_and_liquidations_into_history() -> None:
    for hx in make_harness():
        r = hx.client.post("/v1/prices", json={"symbol": "BTCUSDT", "price": "113000"}, headers=hx.h(hx.operator))
        assert r.status_code == 200
        types = [e["type"] for e in r.json()["events"]]
        assert "MarginCall" in types and "LiquidationStep" in types
        calls = hx.client.get("/v1/margin-calls", headers=hx.h(hx.operator)).json()["events"]
        assert calls and all(c["type"] == "MarginCall" for c in calls)
        liqs = hx.client.get("/v1/liquidations", headers=hx.h(hx.operator)).json()["events"]
        assert liqs and {e["type"] for e in liqs} <= {"LiquidationStep", "AutoDeleveraged", "LossSocialised"}
        fund = hx.client.get("/v1/insurance-fund", headers=hx.h(hx.alice)).json()
        assert len(fund["history"]) >= 3 and Decimal(fund["balance"]) == hx.svc.venue.engine.state.insurance_fund
        rows = hx.client.get("/v1/accounts", headers=hx.h(hx.operator)).json()["accounts"]
        ratios = [Decimal(r["worst_margin_ratio"]) for r in rows if r["worst_margin_ratio"] is not None]
        assert ratios == sorted(ratios, reverse=True)
        for held, owed in hx.svc.venue.engine.conservation().values():
            assert held == owed


def test_the_ladder_buckets_real_positions_by_exact_liquidation_price(hx: Harness) -> None:
    lad = hx.client.get("/v1/ladder/BTCUSDT?bucket=500", headers=hx.h(hx.operator)).json()
    assert lad["exact"] is True and lad["bucket_width"] == "500"
    assert lad["buckets"]
    for b in lad["buckets"]:
        assert Decimal(b["price_to"]) - Decimal(b["price_from"]) == 500
    r = hx.client.get("/v1/ladder/BTCUSDT?bucket=0", headers=hx.h(hx.operator))
    assert r.status_code == 400


def test_over_the_rate_limit_a_key_gets_429_with_retry_after() -> None:
    keys = KeyStore()
    key = keys.issue(Role.OPERATOR)
    svc = build_service(keys, limiter=RateLimiter(rate_per_s=0.5, burst=3))
    from litestar.testing import TestClient

    with TestClient(create_app(svc)) as client:
        codes = [client.get("/v1/state", headers={"X-API-Key": key}).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        r = client.get("/v1/state", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED" and int(r.headers["retry-after"]) >= 1


def test_metrics_are_prometheus_text(hx: Harness) -> None:
    hx.client.get("/v1/state", headers=hx.h(hx.operator))
    text = hx.client.get("/metrics").text
    assert "# TYPE solvent_http_request_duration_seconds histogram" in text
    assert 'solvent_http_request_duration_seconds_count{method="GET",route="/v1/state",status="200"}' in text
    assert "solvent_engine_queue_depth 0" in text
    assert "solvent_events_per_second" in text
    assert 'solvent_engine_commands_total{command="Deposit",outcome="accepted"}' in text


def test_the_openapi_document_is_valid_and_lists_every_route(hx: Harness) -> None:
    doc = hx.client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for method, path, _, _ in ROUTES:
        template = path.replace("{a}", "{account_id}").replace("o-1", "{order_id}").replace("BTCUSDT", "{symbol}")
        assert method.lower() in doc["paths"][template], template
    from openapi_spec_validator import validate  # a dev dependency in pyproject.toml

    validate(doc)
    # the document only: no HTML viewers under /schema (found by a new-user pass: they answered
    # without a key and load their scripts from a CDN)
    for viewer in ("/schema/swagger", "/schema/redoc", "/schema/openapi.yaml", "/schema/elements", "/schema/rapidoc"):
        assert hx.client.get(viewer).status_code == 404, viewer
    assert hx.client.get("/schema").json() == doc  # Litestar's own path of the document: the same JSON


def test_the_openapi_document_closes_every_request_body_as_the_service_does(hx: Harness) -> None:
    """Found by a new-user pass: the service refuses a body field it does not know (so that a
    misspelled ``reduce_only`` is not an order that is not reduce-only), but the document left
    ``additionalProperties`` out, which in JSON Schema allows any extra field."""
    doc = hx.client.get("/openapi.json").json()
    bodies = {name: schema for name, schema in doc["components"]["schemas"].items() if name.endswith("Body")}
    assert len(bodies) >= 12 and "OrderBody" in bodies
    assert {name: schema.get("additionalProperties") for name, schema in bodies.items()} == dict.fromkeys(bodies, False)
    assert "additionalProperties" not in doc["components"]["schemas"]["ErrorAnswer"]  # an answer: not closed
    order = {"order_id": "o-x", "symbol": "BTCUSDT", "side": "long", "qty": "0.001", "price": "50000",
             "reduceonly": True}
    r = hx.client.post(f"/v1/accounts/{ALICE}/orders", json=order, headers=hx.h(hx.alice))
    assert r.status_code == 400 and "reduceonly" in r.text, r.text


def test_the_openapi_document_lists_the_error_answers_a_route_gives(hx: Harness) -> None:
    """It listed 200 and 400 only. Each status below is provoked on its route, and the route's
    entry in the document must list it (docs/api.md's table); a read takes no body, so it lists
    no 413, 415 or 422; the errors have the service's shape (``code``), not Litestar's."""
    doc = hx.client.get("/openapi.json").json()
    big = {"symbol": "BTCUSDT", "side": "long", "qty": "1", "price": "1", "pad": "x" * 70_000}
    provoked = [
        ("get", "/v1/accounts/{account_id}", f"/v1/accounts/{ALICE}", {}, 401),
        ("get", "/v1/accounts/{account_id}", "/v1/accounts/nobody-here", {"headers": hx.h(hx.operator)}, 404),
        ("get", "/v1/accounts/{account_id}", f"/v1/accounts/{ALICE}", {"headers": hx.h(hx.bob)}, 403),
        ("post", "/v1/accounts/{account_id}/orders", f"/v1/accounts/{ALICE}/orders",
         {"json": big, "headers": hx.h(hx.alice)}, 413),
        ("post", "/v1/accounts/{account_id}/orders", f"/v1/accounts/{ALICE}/orders",
         {"content": b"x", "headers": {**hx.h(hx.alice), "content-type": "text/plain"}}, 415),
        ("post", "/v1/accounts/{account_id}/withdrawals", f"/v1/accounts/{ALICE}/withdrawals",
         {"json": {"amount": "1000000000"}, "headers": hx.h(hx.operator)}, 422),
        ("get", "/v1/checkpoints/latest", "/v1/checkpoints/latest", {"headers": hx.h(hx.operator)}, 404),
        ("get", "/v1/state", "/v1/state", {"headers": {"X-API-Key": "slv_nope_nope"}}, 401),
    ]
    for method, template, url, kwargs, status in provoked:
        answer = hx.client.request(method.upper(), url, **kwargs)
        assert answer.status_code == status, (url, answer.text)
        assert str(status) in doc["paths"][template][method]["responses"], (template, status)
    hx.svc.venue.failure = OSError("disk gone")  # a failed journal: every route that reaches the venue is 503
    for template, url in (("/v1/state", "/v1/state"), ("/v1/accounts/{account_id}", f"/v1/accounts/{ALICE}")):
        assert hx.client.get(url, headers=hx.h(hx.operator)).status_code == 503
        assert "503" in doc["paths"][template]["get"]["responses"]
    read = set(doc["paths"]["/v1/accounts/{account_id}"]["get"]["responses"])
    assert not read & {"413", "415", "422"} and "404" not in doc["paths"]["/v1/state"]["get"]["responses"]
    for status in ("400", "422"):
        schema = doc["paths"]["/v1/accounts/{account_id}/orders"]["post"]["responses"][status]["content"]
        name = schema["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert "code" in doc["components"]["schemas"][name]["properties"]


def test_the_dashboard_and_its_assets_are_served(hx: Harness) -> None:
    page = hx.client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="health"' in page.text
    assert hx.client.get("/static/dashboard.js").status_code == 200


def test_one_clock_step_is_bounded_so_a_request_cannot_ask_for_years_of_funding(hx: Harness) -> None:
    now = hx.svc.venue.engine.state.now_ms
    r = hx.client.post("/v1/time", json={"now_ms": now + 10 * 365 * 86_400_000}, headers=hx.h(hx.operator))
    assert r.status_code == 422 and r.json()["code"] == "TIME_STEP_TOO_LARGE"
    assert r.json()["journal_seq"] == hx.svc.venue.journal_seq  # as every 422 (found by a new-user pass)
    # ``now_ms`` is the time asked for and ``current_ms`` the venue's, as TIME_WENT_BACKWARDS names them
    # (found by a new-user pass: ``now_ms`` named the venue's time)
    assert (r.json()["now_ms"], r.json()["current_ms"]) == (str(now + 10 * 365 * 86_400_000), str(now))
    back = hx.client.post("/v1/time", json={"now_ms": 0}, headers=hx.h(hx.operator)).json()
    assert back["code"] == "TIME_WENT_BACKWARDS" and (back["now_ms"], back["current_ms"]) == ("0", str(now))
    r = hx.client.post("/v1/time", json={"now_ms": now + 60_000}, headers=hx.h(hx.operator))
    assert r.status_code == 200


def test_a_keys_file_stores_only_salted_hashes_and_round_trips(tmp_path: Any) -> None:
    path = tmp_path / "keys.json"
    store = KeyStore()
    plain_key = store.issue(Role.ACCOUNT, ALICE)
    store.save(path)
    text = path.read_text()
    assert plain_key.split("_", 2)[2] not in text and "sha256" in text and "salt" in text
    loaded = KeyStore.load(path)
    who = loaded.authenticate(plain_key)
    assert who is not None and who.account_id == ALICE and not who.is_operator
    assert loaded.authenticate(plain_key + "x") is None


def test_the_reported_liquidation_price_is_exact_one_tick_lower_the_engine_liquidates(hx: Harness) -> None:
    from solvent.demo_session import SOURCE

    op = hx.h(hx.operator)

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = hx.client.post(path, json=body, headers=op)
        assert r.status_code == 200, r.text
        return dict(r.json())

    post("/v1/accounts/zoe/deposits", {"amount": "10000"})
    post("/v1/accounts/zoe/orders", {**ORDER, "order_id": "z-1", "qty": "1"})
    post("/v1/fills", {"trade_id": "t-zoe", "symbol": "BTCUSDT", "price": "116000", "qty": "1", "buyer_id": "zoe",
                       "seller_id": "desk", "buy_order_id": "z-1"})
    post("/v1/prices", {"symbol": "BTCUSDT", "price": "108000", "source": SOURCE})
    (pos,) = hx.client.get("/v1/accounts/zoe/margin", headers=op).json()["positions"]
    liq = Decimal(pos["liquidation_price"])
    assert liq == Decimal("106425.8")  # 10000 + (P − 116000) = 0.4 % × P → P = 106425.70…, rounded up to the tick
    at = post("/v1/prices", {"symbol": "BTCUSDT", "price": str(liq), "source": SOURCE})
    assert not any(e["type"] == "LiquidationStep" and e["account_id"] == "zoe" for e in at["events"])
    below = post("/v1/prices", {"symbol": "BTCUSDT", "price": str(liq - Decimal("0.1")), "source": SOURCE})
    assert any(e["type"] == "LiquidationStep" and e["account_id"] == "zoe" for e in below["events"])


def test_a_liquidation_price_served_from_the_cache_follows_every_journaled_command(hx: Harness) -> None:
    # liquidation prices are solved once per journal record and shared by the reads in between;
    # the next command (here a deposit) must show in the next read
    from solvent.demo_session import SOURCE

    op = hx.h(hx.operator)
    for path, body in [("/v1/accounts/zoe/deposits", {"amount": "10000"}),
                       ("/v1/accounts/zoe/orders", {**ORDER, "order_id": "z-1", "qty": "1"}),
                       ("/v1/fills", {"trade_id": "t-zoe", "symbol": "BTCUSDT", "price": "116000", "qty": "1",
                                      "buyer_id": "zoe", "seller_id": "desk", "buy_order_id": "z-1"}),
                       ("/v1/prices", {"symbol": "BTCUSDT", "price": "108000", "source": SOURCE})]:
        assert hx.client.post(path, json=body, headers=op).status_code == 200

    def liquidation_price() -> Decimal:
        (pos,) = hx.client.get("/v1/accounts/zoe/margin", headers=op).json()["positions"]
        return Decimal(pos["liquidation_price"])

    assert liquidation_price() == liquidation_price() == Decimal("106425.8")  # as in the test above
    assert hx.client.post("/v1/accounts/zoe/deposits", json={"amount": "1000"}, headers=op).status_code == 200
    # 11000 + (P − 116000) = 0.4 % × P → P = 105000 / 0.996 = 105421.686…, rounded up to the tick
    assert liquidation_price() == Decimal("105421.7")
    ladder = hx.client.get("/v1/ladder/BTCUSDT?bucket=100", headers=op).json()
    assert any(b["price_from"] == "105400" for b in ladder["buckets"])


def test_the_free_margin_shown_can_be_withdrawn_whatever_the_exact_value_runs_to(hx: Harness) -> None:
    # leverage 7 makes IM = notional / 7, a repeating decimal: the exact free margin runs to 40
    # digits, which no withdrawal amount may have (18 fraction digits at most). The view shows
    # it rounded down to 10^-8 (IM up), and that amount is accepted: it is at most the exact one.
    op, treasury = hx.h(hx.operator), hx.h(hx.treasury)
    assert hx.client.post("/v1/accounts/zoe/deposits", json={"amount": "10000"}, headers=op).status_code == 200
    assert hx.client.post("/v1/accounts/zoe/leverage", json={"symbol": "BTCUSDT", "leverage": "7"},
                          headers=op).status_code == 200
    assert hx.client.post("/v1/fills", json={"trade_id": "t-z7", "symbol": "BTCUSDT", "price": "116000",
                                             "qty": "0.013", "buyer_id": "zoe", "seller_id": "desk"},
                          headers=op).status_code == 200
    exact = hx.svc.venue.engine.margin("zoe")
    assert len(exact.initial_margin.as_tuple().digits) > 30            # 1,508 / 7 = 215.428571…
    m = hx.client.get("/v1/accounts/zoe/margin", headers=op).json()
    shown = Decimal(m["available"])
    assert shown <= exact.available < shown + Decimal("0.00000001")
    assert Decimal(m["initial_margin"]) >= exact.initial_margin
    r = hx.client.post("/v1/accounts/zoe/withdrawals", json={"amount": m["available"]}, headers=treasury)
    assert r.status_code == 200, r.json()


def test_a_float_in_a_body_is_told_the_plain_string_the_api_takes(hx: Harness) -> None:
    """Found by a new-user pass: ``{"leverage": 1e1}`` was told to write ``"1e1"``, which the
    API's decimal pattern (digits, an optional point) refuses in turn; the hint is the plain form."""
    r = hx.client.post(f"/v1/accounts/{ALICE}/leverage", content=b'{"symbol": "BTCUSDT", "leverage": 1e1}',
                       headers={**hx.h(hx.alice), "content-type": "application/json"})
    assert r.status_code == 400 and 'is a float; write exact numbers as strings, e.g. \\"10\\"' in r.text
    r = hx.client.post(f"/v1/accounts/{ALICE}/leverage", json={"symbol": "BTCUSDT", "leverage": "10"},
                       headers=hx.h(hx.alice))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("literal", ["1e-300000000", "1e-9999999999999", "9e999999999"])
def test_a_float_of_a_huge_exponent_is_refused_without_building_it(hx: Harness, literal: str) -> None:
    """Found by review: the plain-form hint built ``format(Decimal("1e-300000000"), "f")``, 300
    million characters (608 MB), and ``1e-9999999999999`` raised ``MemoryError``: a 500 from
    an unauthenticated what-if (the body is read before the key). The hint now shows a plain
    form only for an exponent within ±24."""
    import tracemalloc

    tracemalloc.start()
    try:
        r = hx.client.post(f"/v1/accounts/{ALICE}/what-if", content=b'{"symbol": ' + literal.encode() + b"}",
                           headers={"content-type": "application/json"})  # no key
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.status_code == 400
    # and no string of it is suggested, since none would be taken (found by a new-user pass)
    assert f'{literal} is a float, and beyond any size solvent takes; write exact numbers as strings' in r.text
    assert peak < 20_000_000, peak
