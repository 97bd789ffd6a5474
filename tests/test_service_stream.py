"""WebSocket /v1/stream: authentication, scoping, and resume without gaps or duplicates."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import WebSocketTestSession
from service_support import ALICE, BOB, Harness, make_harness

from solvent.service.eventlog import EventLog
from solvent.service.stream import _pump

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


@pytest.mark.parametrize("first", ["not json", '{"type": "auth", "key": "slv_bad_key", "key": "{operator}"}'])
def test_an_auth_message_that_is_not_one_json_object_is_closed_4401(hx: Harness, first: str) -> None:
    """Found by a new-user pass: text that is not JSON closed with 4500 (no such code in the
    table), and a duplicate ``key`` logged in with its last value, as no HTTP body may."""
    with hx.client.websocket_connect("/v1/stream") as ws:
        ws.send_text(first.replace("{operator}", hx.operator))
        error, code = closing(ws)
    assert error["code"] == "UNAUTHORIZED" and code == 4401


def test_an_account_key_may_not_stream_another_account(hx: Harness) -> None:
    with hx.client.websocket_connect(f"/v1/stream?account={BOB}", headers=hx.h(hx.alice)) as ws:
        error, code = closing(ws)
    assert error["code"] == "FORBIDDEN" and code == 4403


@pytest.mark.parametrize("from_seq", ["abc", "-1", str(2**53 + 1), "99999999999999999999999"])
def test_a_bad_from_seq_is_closed_4400(hx: Harness, from_seq: str) -> None:
    # past 2^53 as the history pages refuse it (found by a new-user pass: a hello, then silence)
    with hx.client.websocket_connect(f"/v1/stream?from_seq={from_seq}", headers=hx.h(hx.operator)) as ws:
        error, code = closing(ws)
    assert error["code"] == "INVALID_REQUEST" and code == 4400
    assert hx.client.get(f"/v1/events?from_seq={from_seq}", headers=hx.h(hx.operator)).status_code == 400


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


class _SlowSocket:
    """A client that reads one message and then stops reading until released (its sends block)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.release = asyncio.Event()
        self.closed: tuple[int, str] | None = None

    async def send_data(self, data: bytes, mode: str = "text") -> None:
        self.sent.append(json.loads(data))
        if len(self.sent) == 1:
            await self.release.wait()

    async def send_json(self, data: dict[str, Any]) -> None:
        self.sent.append(data)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


class _Key:
    def revoked(self) -> bool:
        return False


def test_a_subscriber_that_stops_reading_is_dropped_lagging_and_told_where_to_resume() -> None:
    """Nothing is queued per connection: the log is shared, each subscriber keeps a cursor. One
    that falls more than ``queue_size`` events behind the head is closed 4008 with the seq to
    resume from; the others are not held up (publishing never waits for a subscriber)."""
    async def scenario() -> tuple[_SlowSocket, list[int]]:
        log = EventLog(queue_size=5)
        sub, end = log.subscribe(None)
        socket = _SlowSocket()
        pump = asyncio.create_task(_pump(socket, log, sub, 1, end, _Key()))  # type: ignore[arg-type]
        log.publish(1, 0, [{"type": "TimeAdvanced", "now_ms": 1}])
        await asyncio.sleep(0.01)  # the pump sends event 1 and blocks in the client's read
        seqs = [e.seq for _ in range(20) for e in log.publish(2, 0, [{"type": "TimeAdvanced", "now_ms": 2}])]
        socket.release.set()
        await asyncio.wait_for(pump, 5)
        return socket, seqs

    socket, published = asyncio.run(scenario())
    assert published == list(range(2, 22))  # published without waiting for the slow client
    assert socket.closed == (4008, "LAGGING")
    assert [m["seq"] for m in socket.sent if m["type"] == "event"] == [1]
    assert socket.sent[-1] == {"type": "error", "code": "LAGGING", "resume_from_seq": 2}


def test_an_account_subscriber_waits_through_other_accounts_events_and_wakes_for_its_own() -> None:
    async def scenario() -> list[dict[str, Any]]:
        log = EventLog()
        sub, end = log.subscribe("zoe")
        socket = _SlowSocket()
        socket.release.set()
        pump = asyncio.create_task(_pump(socket, log, sub, 1, end, _Key()))  # type: ignore[arg-type]
        for n in range(50):
            log.publish(n, 0, [{"type": "BalanceChanged", "account_id": "bob", "delta": "1"}])
            await asyncio.sleep(0)
        log.publish(99, 0, [{"type": "BalanceChanged", "account_id": "zoe", "delta": "2"}])
        log.publish(100, 0, [{"type": "MarkPriceChanged", "symbol": "BTCUSDT", "mark": "1"}])
        for _ in range(100):
            await asyncio.sleep(0.001)
            if len(socket.sent) == 2:
                break
        pump.cancel()
        return socket.sent

    sent = asyncio.run(scenario())
    assert [(m["seq"], m["event"]["type"]) for m in sent] == [(51, "BalanceChanged"), (52, "MarkPriceChanged")]
    assert sent[0]["event"]["account_id"] == "zoe"


@pytest.mark.parametrize("log", [EventLog(queue_size=5), EventLog(retention=5)], ids=["queue_size", "retention"])
def test_a_caught_up_account_stream_is_not_dropped_for_other_accounts_events(log: EventLog) -> None:
    """Review finding: lag and retention were counted in venue events, so an idle account (or
    treasury) stream was closed 4008 or 4410 when other accounts' events passed it by."""
    async def scenario() -> _SlowSocket:
        socket = _SlowSocket()
        socket.release.set()
        for scope in ("zoe", ""):  # an account, and the treasury's public-only scope
            sub, end = log.subscribe(scope)
            pump = asyncio.create_task(_pump(socket, log, sub, end + 1, end, _Key()))  # type: ignore[arg-type]
            for _ in range(20):
                log.publish(1, 0, [{"type": "BalanceChanged", "account_id": "bob", "delta": "1"}])
            await asyncio.sleep(1.3)  # past the pump's one-second timeout: it looks again
            assert not pump.done()
            pump.cancel()
        return socket

    socket = asyncio.run(scenario())
    assert socket.closed is None and socket.sent == []


def test_a_from_seq_past_the_head_sends_nothing_before_it() -> None:
    async def scenario() -> list[dict[str, Any]]:
        log = EventLog()
        log.publish(1, 0, [{"type": "TimeAdvanced", "now_ms": n} for n in range(3)])
        sub, end = log.subscribe(None)
        socket = _SlowSocket()
        socket.release.set()
        pump = asyncio.create_task(_pump(socket, log, sub, 6, end, _Key()))  # type: ignore[arg-type]
        for n in range(4):
            log.publish(2, 0, [{"type": "TimeAdvanced", "now_ms": 10 + n}])  # seqs 4 to 7
            await asyncio.sleep(0.01)
        pump.cancel()
        return socket.sent

    assert [m["seq"] for m in asyncio.run(scenario())] == [6, 7]


def test_a_stream_from_seq_0_starts_at_the_first_event(hx: Harness) -> None:
    """Found by a new-user pass: ``from_seq=0`` (the HTTP history's default) was closed 4410
    ``RESUME_TOO_OLD`` though every event was kept; seqs start at 1, so 0 means from the start."""
    with hx.client.websocket_connect("/v1/stream?from_seq=0", headers=hx.h(hx.operator)) as ws:
        hello = ws.receive_json(timeout=T)
        assert hello["type"] == "hello" and hello["from_seq"] == 1
        assert events(ws, 1)[0]["seq"] == 1


def test_an_operator_stream_of_an_unknown_account_is_closed_4404_as_its_history_is_404(hx: Harness) -> None:
    """Found by a new-user pass: a typo in ``account`` was a stream that waited in silence,
    where the same account's HTTP history answers 404."""
    with hx.client.websocket_connect("/v1/stream?account=nobody-here", headers=hx.h(hx.operator)) as ws:
        error, code = closing(ws)
    assert (error["code"], error["account"], code) == ("UNKNOWN_ACCOUNT", "nobody-here", 4404)
    assert hx.client.get("/v1/accounts/nobody-here/liquidations", headers=hx.h(hx.operator)).status_code == 404
    with hx.client.websocket_connect(f"/v1/stream?account={ALICE}", headers=hx.h(hx.operator)) as ws:
        assert ws.receive_json(timeout=T)["type"] == "hello"  # a known account streams as before


@pytest.mark.parametrize("query", ["from_seq=1&from_seq=5", "account=a&account=b", "from%5Fseq=1&from_seq=2"])
def test_a_query_parameter_given_twice_is_refused_on_the_stream_and_over_http_alike(hx: Harness, query: str) -> None:
    """Found by a new-user pass: the stream took the first of two values and the HTTP pages the
    last, so one request meant two things; both now refuse it."""
    with hx.client.websocket_connect(f"/v1/stream?{query}", headers=hx.h(hx.operator)) as ws:
        error, code = closing(ws)
    assert error["code"] == "INVALID_REQUEST" and code == 4400
    name = "account" if query.startswith("account") else "from_seq"
    assert error["detail"] == f"query parameter {name} is given more than once"
    r = hx.client.get(f"/v1/events?{query}", headers=hx.h(hx.operator))
    assert r.status_code == 400 and r.json() == {"code": "INVALID_REQUEST", "detail": error["detail"]}


def test_an_account_keys_own_stream_before_its_first_deposit_opens_as_before(hx: Harness) -> None:
    """Found by review: the 4404 above closed an account key's own stream (no ``account`` in
    the query) before the account's first deposit, where it had followed the public events and
    then its deposit; only an ``account`` named in the query is looked up."""
    from solvent.service.keys import Role

    carol = hx.svc.keys.issue(Role.ACCOUNT, "carol-new")
    with hx.client.websocket_connect("/v1/stream", headers=hx.h(carol)) as ws:
        hello = ws.receive_json(timeout=T)
        assert (hello["type"], hello["account"]) == ("hello", "carol-new")
        r = hx.client.post("/v1/accounts/carol-new/deposits", json={"amount": "5"}, headers=hx.h(hx.operator))
        assert r.status_code == 200, r.text
        got = events(ws, 1)[0]["event"]
        assert (got["type"], got["account_id"]) == ("BalanceChanged", "carol-new")


@pytest.mark.parametrize("value", ["1e1", "76.9999999999999999999", "1.0", "1_0", "+5", "%205%20", "%D9%A5", "-1", "",
                                   "010"])
def test_an_integer_query_parameter_is_whole_digits_on_the_stream_and_over_http_alike(hx: Harness, value: str) -> None:
    """Found by a new-user pass: the history pages read ``from_seq=76.9999999999999999999`` as 77
    (through a float) and ``1e1`` as 10, the stream read ``1_0``, ``+5``, `` 5 `` and an
    Arabic-Indic digit as numbers; both now take digits only (the routes' own integer
    parameters: ``lean.integer_query_names``)."""
    r = hx.client.get(f"/v1/events?from_seq={value}", headers=hx.h(hx.operator))
    assert r.status_code == 400 and r.json()["detail"].startswith("query parameter from_seq must be a whole number")
    for route in ("/v1/events?limit=", "/v1/insurance-fund?last=", "/v1/proofs/inclusion?size=1&index="):
        assert hx.client.get(route + value, headers=hx.h(hx.operator)).status_code == 400, route
    with hx.client.websocket_connect(f"/v1/stream?from_seq={value}", headers=hx.h(hx.operator)) as ws:
        error, code = closing(ws)
    assert code == 4400 and error["detail"] == r.json()["detail"]


def test_an_empty_account_on_the_stream_is_refused_not_read_as_the_whole_venue(hx: Harness) -> None:
    """Found by a new-user pass: ``?account=`` (a client's empty variable) gave an operator every
    account's events."""
    for query in ("account=", "account"):
        with hx.client.websocket_connect(f"/v1/stream?{query}", headers=hx.h(hx.operator)) as ws:
            error, code = closing(ws)
        assert (code, error["detail"]) == (4400, "account is empty: name one, or leave it out")


def test_a_nameless_query_parameter_given_twice_is_named_as_such(hx: Harness) -> None:
    r = hx.client.get("/v1/events?=1&=2", headers=hx.h(hx.operator))
    assert r.status_code == 400 and r.json()["detail"] == "query parameter '' is given more than once"


def test_only_the_whole_venue_reads_which_account_a_fund_event_concerns(hx: Harness) -> None:
    """Found by a new-user pass: the insurance fund's public events named the liquidated account
    (``"deficit bob-cross-10x"`` with the amount), so every trader saw who was liquidated. A fall
    to 108,000 liquidates demo accounts with deficits the fund pays; an operator reads which
    account each concerns, account keys and the treasury read the reason alone
    (``eventlog.NAMED_REASONS``), over HTTP and on the stream."""
    op = hx.h(hx.operator)
    assert hx.client.post("/v1/insurance-fund/contributions", json={"amount": "1000000"}, headers=op).is_success
    assert hx.client.post("/v1/prices", json={"symbol": "BTCUSDT", "price": "108000"}, headers=op).is_success
    names = set(hx.svc.venue.engine.state.accounts)

    def reasons(body: dict[str, Any]) -> list[str]:
        return [e["reason"] for e in body["events"] if e["type"] == "InsuranceFundChanged"]

    venue = reasons(hx.client.get("/v1/events?limit=10000", headers=op).json())
    named = [r for r in venue if r.startswith("deficit ")]
    assert named and all(r.split(" ", 1)[1] in names for r in named)
    for key in (hx.alice, hx.bob, hx.treasury):
        shown = reasons(hx.client.get("/v1/events?limit=10000", headers=hx.h(key)).json())
        assert len(shown) == len(venue) and shown.count("deficit") == len(named)
        assert not any(name in r for r in shown for name in names), shown
    with hx.client.websocket_connect("/v1/stream?from_seq=1", headers=hx.h(hx.alice)) as ws:
        ws.receive_json(timeout=T)
        got = events(ws, len(hx.svc.venue.events.since(1, ALICE)))
    streamed = [m["event"]["reason"] for m in got if m["event"]["type"] == "InsuranceFundChanged"]
    assert streamed.count("deficit") == len(named) and not any(name in r for r in streamed for name in names)
    with hx.client.websocket_connect("/v1/stream?from_seq=1", headers=op) as ws:
        ws.receive_json(timeout=T)
        got = events(ws, len(hx.svc.venue.events.since(1, None)))
    assert [m["event"]["reason"] for m in got if m["event"]["type"] == "InsuranceFundChanged"] == venue
