"""The lean path (``service/lean.py``) answers exactly as Litestar does: the same requests, sent
in the same order to two services built alike, one app with the lean path and one without
(``create_app(lean=False)``, every route through Litestar), get the same status, headers and
body bytes: happy paths, every kind of bad request, auth failures, idempotent retries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from solvent.service import KeyStore, RateLimiter, Role, build_service, create_app

ALICE, BOB = "alice-cross-5x", "bob-cross-10x"
_VARYING = {"date", "server"}


@pytest.fixture
def pair() -> Iterator[tuple[TestClient[Any], TestClient[Any], dict[str, str]]]:
    keys = KeyStore()
    names = {"operator": keys.issue(Role.OPERATOR), "alice": keys.issue(Role.ACCOUNT, ALICE),
             "treasury": keys.issue(Role.TREASURY), "bad": "slv_not_a_key"}
    lean = build_service(keys, demo=True, limiter=RateLimiter(10_000.0, 10_000.0))
    plain = build_service(keys, demo=True, limiter=RateLimiter(10_000.0, 10_000.0))
    with TestClient(create_app(lean)) as a, TestClient(create_app(plain, lean=False)) as b:
        yield a, b, names


def _order(order_id: str, qty: str = "0.01", price: str = "100000") -> str:
    return json.dumps({"order_id": order_id, "symbol": "BTCUSDT", "side": "long", "qty": qty, "price": price})


# (method, path, key name or None, body or None, extra headers)
REQUESTS: list[tuple[str, str, str | None, str | bytes | None, dict[str, str]]] = [
    ("GET", f"/v1/accounts/{ALICE}/margin", "alice", None, {}),
    ("GET", f"/v1/accounts/{ALICE}", "alice", None, {}),
    ("GET", f"/v1/accounts/{BOB}/margin", "alice", None, {}),  # 403: another account
    ("GET", "/v1/accounts/nobody/margin", "operator", None, {}),  # 404
    ("GET", "/v1/accounts/bad%20id/margin", "operator", None, {}),  # 400: malformed id
    ("GET", "/v1/accounts", "operator", None, {}),
    ("GET", "/v1/accounts", "alice", None, {}),  # 403: operator only
    ("GET", f"/v1/accounts/{ALICE}/margin", None, None, {}),  # 401: no key
    ("GET", f"/v1/accounts/{ALICE}/margin", "bad", None, {}),  # 401: wrong key
    ("POST", f"/v1/accounts/{ALICE}/what-if", "alice", _order("w1"), {}),
    ("POST", f"/v1/accounts/{ALICE}/what-if", "alice", _order("w2", qty="1000"), {}),  # refused, sized
    ("POST", f"/v1/accounts/{ALICE}/what-if", "alice", _order("w3", qty="-1"), {}),  # 400 by the schema
    ("POST", f"/v1/accounts/{ALICE}/what-if", "alice", '{"order_id": "x", "order_id": "y"}', {}),  # duplicate key
    ("POST", f"/v1/accounts/{ALICE}/what-if", "alice", '{"order_id": 1}', {}),  # wrong types
    ("POST", f"/v1/accounts/{ALICE}/what-if", "alice", "{not json", {}),
    ("POST", f"/v1/accounts/{ALICE}/what-if", "alice", b"\xff\xfe", {}),  # not UTF-8
    ("POST", f"/v1/accounts/{ALICE}/what-if", "alice", "", {}),  # no body: Litestar's answer
    ("POST", f"/v1/accounts/{ALICE}/what-if", "alice", _order("w4"), {"content-type": "text/plain"}),
    ("POST", f"/v1/accounts/{ALICE}/what-if", "alice", _order("w6"),
     {"content-type": "application/json; charset=latin-1"}),
    ("POST", f"/v1/accounts/{ALICE}/what-if", "alice", _order("w7"),
     {"content-type": "application/json; charset=utf-8"}),
    ("POST", f"/v1/accounts/{ALICE}/what-if", "alice", " " * 70_000, {}),  # past the body limit: 413
    ("POST", f"/v1/accounts/{ALICE}/what-if", None, _order("w5"), {}),  # 401 after the body checks
    ("POST", f"/v1/accounts/{ALICE}/what-if", None, "{bad", {}),  # 400 before auth, as before
    ("POST", f"/v1/accounts/{ALICE}/orders", "alice", _order("o1", price="90000"), {"Idempotency-Key": "k-1"}),
    ("POST", f"/v1/accounts/{ALICE}/orders", "alice", _order("o1", price="90000"), {"Idempotency-Key": "k-1"}),
    ("POST", f"/v1/accounts/{ALICE}/orders", "alice", _order("o2", price="90000"), {"Idempotency-Key": "k-1"}),
    ("POST", f"/v1/accounts/{ALICE}/orders", "alice", _order("o1", price="90000"), {}),  # duplicate order id
    ("POST", f"/v1/accounts/{ALICE}/orders", "alice", _order("o3", qty="100000"), {}),  # margin refusal
    ("DELETE", f"/v1/accounts/{ALICE}/orders/o1", "alice", None, {}),
    ("DELETE", f"/v1/accounts/{ALICE}/orders/o1", "alice", None, {}),  # already gone
    ("DELETE", f"/v1/accounts/{ALICE}/orders/o1", "alice", "x", {"content-type": "text/plain"}),  # a body: 415
    ("DELETE", f"/v1/accounts/{ALICE}/orders/o1", "alice", "{bad", {}),  # a body that is not JSON
    ("POST", f"/v1/accounts/{ALICE}/leverage", "alice", '{"symbol": "BTCUSDT", "leverage": "3"}', {}),
    ("POST", f"/v1/accounts/{ALICE}/deposits", "treasury", '{"amount": "100"}', {"Idempotency-Key": "d-1"}),
    ("POST", f"/v1/accounts/{ALICE}/deposits", "treasury", '{"amount": "100"}', {"Idempotency-Key": "d-1"}),
    ("POST", f"/v1/accounts/{ALICE}/deposits", "alice", '{"amount": "100"}', {}),  # 403: not treasury
    ("POST", f"/v1/accounts/{ALICE}/deposits", "treasury", '{"amount": "0.000000000000000004"}', {}),
    ("POST", f"/v1/accounts/{ALICE}/withdrawals", "treasury", '{"amount": "1"}', {}),
    ("POST", "/v1/prices", "operator", '{"symbol": "BTCUSDT", "price": "101000"}', {}),
    ("POST", "/v1/prices", "alice", '{"symbol": "BTCUSDT", "price": "101000"}', {}),  # 403
    ("POST", "/v1/prices", "operator", '{"symbol": "NOPE", "price": "1"}', {}),
    ("POST", "/v1/time", "operator", '{"now_ms": 1}', {}),  # the clock never goes back
    ("GET", "/v1/state", "operator", None, {}),
    ("GET", "/v1/params", "operator", None, {}),
    ("GET", "/v1/checkpoints/latest", "operator", None, {}),  # no checkpoint key: refused
]


def _send(client: TestClient[Any], keys: dict[str, str], method: str, path: str, who: str | None,
          body: str | bytes | None, extra: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = {"content-type": "application/json"} if body is not None else {}
    headers.update(extra)
    if who is not None:
        headers["X-API-Key"] = keys[who]
    r = client.request(method, path, content=body, headers=headers)
    shown = sorted((k.lower(), v) for k, v in r.headers.items() if k.lower() not in _VARYING)
    return r.status_code, shown, r.content


def test_the_lean_path_answers_every_request_as_litestar_does(
        pair: tuple[TestClient[Any], TestClient[Any], dict[str, str]]) -> None:
    lean, plain, keys = pair
    statuses = set()
    for method, path, who, body, extra in REQUESTS:
        ours = _send(lean, keys, method, path, who, body, extra)
        theirs = _send(plain, keys, method, path, who, body, extra)
        assert ours == theirs, (method, path, who, body if body is None or len(body) < 200 else "…")
        statuses.add(ours[0])
    assert {200, 400, 401, 403, 404, 413, 415, 422} <= statuses  # every kind of answer was compared
    state = lean.get("/v1/state", headers={"X-API-Key": keys["operator"]}).json()
    assert state == plain.get("/v1/state", headers={"X-API-Key": keys["operator"]}).json()
