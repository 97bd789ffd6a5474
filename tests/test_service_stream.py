"""WebSocket /v1/stream: authentication, scoping, and resume without gaps or duplicates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import WebSocketTestSession
from service_support import ALICE, BOB, Harness, make_harness

T = 5.0  # seconds: no test waits longer for a message


@pytest.fixture
def hx() -> Iterator[Harness]:
    yield from make_harness()


def closing(ws: WebSocketTestSession) -> tuple[dict[str, Any], int]:
    """The error message and the close code the server ends with."""
    error = ws.receive_json(timeout=T)
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json(timeout=T)
    return error, closed.value.code


def events(ws: WebSocketTestSession, n: int) -> list[dict[str, Any]]:
    out = [ws.receive_json(timeout=T) for _ in range(n)]
    assert all(m["type"] == "event" for m in out), out
    return out


def post_price(hx: Harness, price: str) -> int:
    r = hx.client.post("/v1/prices", json={"symbol": "BTCUSDT", "price": price}, headers=hx.h(hx.operator))
    assert r.status_code == 200, r.text
    return len(r.json()["events"])


def test_a_stream_without_a_key_is_closed_4401(hx: Harness) -> None:
    with hx.client.websocket_connect("/v1/stream") as ws:
        ws.send_json({"type": "auth", "key": "slv_bad_key"})
        error, code = closing(ws)
    assert error["code"] == "UNAUTHORIZED" and code == 4401


def test_an_account_key_may_not_stream_another_account(hx: Harness) -> None:
    with hx.client.websocket_connect(f"/v1/stream?account={BOB}", headers=hx.h(hx.alice)) as ws:
        error, code = closing(ws)
    assert error["code"] == "FORBIDDEN" and code == 4403


def test_a_bad_from_seq_is_closed_4400(hx: Harness) -> None:
    with hx.client.websocket_connect("/v1/stream?from_seq=abc", headers=hx.h(hx.operator)) as ws:
        error, code = closing(ws)
    assert error["code"] == "INVALID_REQUEST" and code == 4400


def test_a_browser_authenticates_with_its_first_message_and_replays_from_seq_1(hx: Harness) -> None:
    head = hx.svc.venue.events.head_seq
    with hx.client.websocket_connect("/v1/stream?from_seq=1") as ws:
        ws.send_json({"type": "auth", "key": hx.operator})
        hello = ws.receive_json(timeout=T)
        assert hello == {"type": "hello", "head_seq": head, "from_seq": 1, "account": None}
        got = events(ws, head)
    assert [m["seq"] for m in got] == list(range(1, head + 1))


def test_a_reconnecting_client_with_from_seq_misses_nothing_and_sees_nothing_twice(hx: Harness) -> None:
    seen: list[int] = []
    with hx.client.websocket_connect("/v1/stream", headers=hx.h(hx.operator)) as ws:
        assert ws.receive_json(timeout=T)["type"] == "hello"
        n = post_price(hx, "116500")
        seen += [m["seq"] for m in events(ws, n)]
    missed = post_price(hx, "115000") + post_price(hx, "113000")  # published while disconnected
    with hx.client.websocket_connect(f"/v1/stream?from_seq={seen[-1] + 1}", headers=hx.h(hx.operator)) as ws:
        assert ws.receive_json(timeout=T)["type"] == "hello"
        backlog = events(ws, missed)
        seen += [m["seq"] for m in backlog]
        live = post_price(hx, "112000")
        seen += [m["seq"] for m in events(ws, live)]
    assert seen == list(range(seen[0], seen[0] + len(seen)))
    assert seen[-1] == hx.svc.venue.events.head_seq
    types = {m["event"]["type"] for m in backlog}
    assert {"MarkPriceChanged", "MarginCall", "LiquidationStep"} <= types


def test_an_account_stream_carries_its_own_and_public_events_only(hx: Harness) -> None:
    with hx.client.websocket_connect("/v1/stream?from_seq=1", headers=hx.h(hx.alice)) as ws:
        hello = ws.receive_json(timeout=T)
        assert hello["account"] == ALICE
        expected = hx.svc.venue.events.since(1, ALICE)
        got = events(ws, len(expected))
    assert [m["seq"] for m in got] == [e.seq for e in expected]
    for m in got:
        assert m["event"].get("account_id", ALICE) == ALICE
    assert any(m["event"]["type"] == "MarkPriceChanged" for m in got)


def test_a_backlog_longer_than_a_page_arrives_whole_and_in_order(hx: Harness) -> None:
    """The backlog is read page by page (``BACKLOG_PAGE``), not built whole at subscription
    (found by the event-log review: a key connecting from seq 0 cost the whole history)."""
    from solvent.service.stream import BACKLOG_PAGE

    log = hx.svc.venue.events
    log.publish(0, 0, [{"type": "TimeAdvanced", "now_ms": i} for i in range(2 * BACKLOG_PAGE + 500)])
    head = log.head_seq
    with hx.client.websocket_connect("/v1/stream?from_seq=1", headers=hx.h(hx.operator)) as ws:
        assert ws.receive_json(timeout=T)["type"] == "hello"
        backlog = events(ws, head)
        live = post_price(hx, "116500")
        after = events(ws, live)
    assert [m["seq"] for m in backlog] == list(range(1, head + 1))
    assert [m["seq"] for m in after] == list(range(head + 1, head + 1 + live))


def test_a_revoked_key_closes_its_open_stream_4401(hx: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by review: revocation refused new requests but an open stream kept receiving the
    account's private events. An open stream re-checks its key (every ``KEY_RECHECK_S``)."""
    from solvent.service import stream

    monkeypatch.setattr(stream, "KEY_RECHECK_S", 0.05)
    with hx.client.websocket_connect("/v1/stream", headers=hx.h(hx.alice)) as ws:
        assert ws.receive_json(timeout=T)["type"] == "hello"
        hx.svc.keys.revoke(hx.alice.split("_")[1])
        error, code = closing(ws)
    assert error["code"] == "UNAUTHORIZED" and code == 4401


def test_a_treasury_key_streams_and_reads_public_events_only(hx: Harness) -> None:
    """Found by review: a treasury key (no account) was given the whole venue's events."""
    with hx.client.websocket_connect("/v1/stream?from_seq=1", headers=hx.h(hx.treasury)) as ws:
        hello = ws.receive_json(timeout=T)
        expected = hx.svc.venue.events.since(1, "")  # public only
        got = events(ws, len(expected))
    assert hello["account"] is None and expected
    assert all(not any(k in m["event"] for k in ("account_id", "buyer_id", "seller_id")) for m in got)
    page = hx.client.get("/v1/events", params={"limit": 10_000}, headers=hx.h(hx.treasury)).json()["events"]
    assert page and all("account_id" not in e and "buyer_id" not in e for e in page)
    assert [e["seq"] for e in page] == [m["seq"] for m in got]
