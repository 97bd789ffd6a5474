"""The live fan-out (``service/fanout.py``): caught-up subscribers get each batch written once
per scope, in one write each, gapless and in order; a closed or slow one is handed back to its
pump. Unit tests with a fake transport, then the real server (uvicorn with ``solvent serve``'s
settings) with subscribers of every scope, checked against the log's own history."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from solvent.service.eventlog import EventLog
from solvent.service.fanout import Fanout
from solvent.service.ws_frames import raw_stream_middleware

uvicorn = pytest.importorskip("uvicorn", reason="the service extra runs the server (pip install '.[service]')")
ws_client = pytest.importorskip("websockets.sync.client", reason="pip install '.[service]'")


class _FakeRaw:
    """A subscriber's transport: records each write; ``open``/``writable`` as set."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.is_open, self.takes_more = True, True

    def open(self) -> bool:
        return self.is_open

    def writable(self) -> bool:
        return self.takes_more

    def write_now(self, data: bytes) -> None:
        self.writes.append(data)


def _messages(data: bytes) -> list[dict[str, Any]]:
    """Split joined text frames (all short here: one length byte, RFC 6455 §5.2) into their JSON."""
    out, i = [], 0
    while i < len(data):
        assert data[i] == 0x81 and data[i + 1] < 126
        n = data[i + 1]
        out.append(json.loads(data[i + 2:i + 2 + n]))
        i += 2 + n
    return out


def test_each_scope_gets_its_own_events_in_one_write_and_a_slow_or_closed_one_is_handed_back() -> None:
    async def run() -> None:
        log, fanout = EventLog(), Fanout()
        log.listener = fanout.published
        log.publish(1, 0, [{"type": "Deposited", "account_id": "a"}])  # before anyone attached: history
        venue, alice, bob, slow, gone = (_FakeRaw() for _ in range(5))
        subs = {name: fanout.attach(scope, raw, log.head_seq, 0)  # type: ignore[arg-type]
                for name, scope, raw in [("venue", None, venue), ("alice", "a", alice), ("bob", "b", bob),
                                         ("slow", None, slow), ("gone", "a", gone)]}
        slow.takes_more, gone.is_open = False, False
        log.publish(2, 0, [{"type": "MarkPriceChanged", "symbol": "X"}, {"type": "Deposited", "account_id": "a"}])
        log.publish(3, 0, [{"type": "Deposited", "account_id": "b"}])
        assert venue.writes == alice.writes == bob.writes == []  # written once per loop turn, not per publish
        await asyncio.sleep(0)
        # one write each: the whole venue sees 2, 3, 4; alice the public 2 and her 3; bob 2 and his 4
        assert [[m["seq"] for m in _messages(w)] for w in venue.writes] == [[2, 3, 4]]
        assert [[m["seq"] for m in _messages(w)] for w in alice.writes] == [[2, 3]]
        assert [[m["seq"] for m in _messages(w)] for w in bob.writes] == [[2, 4]]
        assert _messages(venue.writes[0])[1] == {"type": "event", "seq": 3, "command_seq": 2, "time_ms": 0,
                                                 "event": {"type": "Deposited", "account_id": "a"}}
        assert (subs["venue"].sent, subs["alice"].sent, subs["bob"].sent) == (4, 3, 4)
        assert all(subs[n].scanned == 4 for n in ("venue", "alice", "bob"))
        # the slow reader and the closed one were handed back where they stood, nothing written
        assert subs["slow"].handed_back.done() and subs["gone"].handed_back.done()
        assert slow.writes == gone.writes == [] and subs["slow"].scanned == 1
        assert fanout.attached_count == 3
        bob.takes_more = False
        log.publish(4, 0, [{"type": "Deposited", "account_id": "b"}])
        await asyncio.sleep(0)
        assert subs["bob"].handed_back.done() and subs["bob"].scanned == 4  # seq 5 is its pump's to send
        assert [[m["seq"] for m in _messages(w)] for w in venue.writes] == [[2, 3, 4], [5]]
        assert len(alice.writes) == 1  # nothing of hers: no write, but she has looked at 5
        assert subs["alice"].scanned == 5 and subs["alice"].sent == 3

    asyncio.run(run())


def test_a_subscriber_attached_after_part_of_a_batch_gets_only_the_rest_and_a_future_from_seq_keeps_its_place(
        ) -> None:
    """Found by review: a pump woken by a publish sends that event from the log and attaches
    before the flush; it must not be sent the event again (the batch's frames are shared only
    among subscribers that had looked at none of it). And a subscriber asking from a seq past
    the head is sent nothing before it."""
    async def run() -> None:
        log, fanout = EventLog(), Fanout()
        log.listener = fanout.published
        early, late, future = _FakeRaw(), _FakeRaw(), _FakeRaw()
        fanout.attach(None, early, 0, 0)  # type: ignore[arg-type]
        subs = {"future": fanout.attach(None, future, 4, 0)}  # type: ignore[arg-type]  # from_seq 5
        log.publish(1, 0, [{"type": "TimeAdvanced", "now_ms": 1}])
        subs["late"] = fanout.attach(None, late, 1, 1)  # type: ignore[arg-type]  # its pump sent seq 1
        log.publish(2, 0, [{"type": "TimeAdvanced", "now_ms": 2}])
        await asyncio.sleep(0)
        assert [[m["seq"] for m in _messages(w)] for w in early.writes] == [[1, 2]]
        assert [[m["seq"] for m in _messages(w)] for w in late.writes] == [[2]]
        assert future.writes == [] and subs["future"].scanned == 4
        for n in range(3, 7):
            log.publish(n, 0, [{"type": "TimeAdvanced", "now_ms": n}])
        await asyncio.sleep(0)
        assert [[m["seq"] for m in _messages(w)] for w in future.writes] == [[5, 6]]

    asyncio.run(run())


# --- the real server ----------------------------------------------------------------------------

@pytest.fixture
def served() -> Iterator[tuple[int, Any, dict[str, str]]]:
    from service_support import uvicorn_serving

    from solvent.service import KeyStore, RateLimiter, Role, build_service, create_app

    keys = KeyStore()
    names = {"operator": keys.issue(Role.OPERATOR), "alice": keys.issue(Role.ACCOUNT, "alice-cross-5x")}
    svc = build_service(keys, demo=True, limiter=RateLimiter(1e6, 1e6))
    with uvicorn_serving(raw_stream_middleware(create_app(svc))) as port:
        yield port, svc, names


def test_subscribers_of_every_scope_get_every_event_of_theirs_once_in_order(
        served: tuple[int, Any, dict[str, str]]) -> None:
    """Three live subscribers (the whole venue; the operator narrowed to alice; alice's own key)
    while 40 price updates and 40 deposits are made: each gets exactly the log's events for its
    scope after its hello, in seq order, no gap, no repeat."""
    import httpx

    port, svc, keys = served
    urls = [("operator", ""), ("operator", "?account=alice-cross-5x"), ("alice", "")]
    with contextlib.ExitStack() as opened:
        streams = [opened.enter_context(ws_client.connect(f"ws://127.0.0.1:{port}/v1/stream{query}",
                                                          additional_headers={"X-API-Key": keys[who]}))
                   for who, query in urls]
        hellos = [json.loads(ws.recv(timeout=10)) for ws in streams]
        start = hellos[0]["head_seq"]
        assert all(h["type"] == "hello" and h["head_seq"] == start for h in hellos)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": keys["operator"]}) as client:
            for k in range(40):  # prices move every holder's margin; deposits name one account
                r = client.post("/v1/prices", json={"symbol": "BTCUSDT", "price": str(100_000 + 50 * (k % 7))})
                assert r.status_code == 200, r.text
                who = "alice-cross-5x" if k % 2 else "bob-cross-10x"
                assert client.post(f"/v1/accounts/{who}/deposits", json={"amount": "1"}).status_code == 200
        for ws, scope in zip(streams, [None, "alice-cross-5x", "alice-cross-5x"], strict=True):
            want = [e.seq for e in svc.venue.events.since(start + 1, scope)]
            assert len(want) >= 20
            got: list[int] = []
            while len(got) < len(want):
                message = json.loads(ws.recv(timeout=10))
                assert message["type"] == "event"
                got.append(message["seq"])
            assert got == want
    assert svc.venue.fanout.flushes > 0  # the live events went out through the fan-out


class _PumpRaw(_FakeRaw):
    """The pump's side of a raw connection: ``wait_writable`` answers at once, ``abort`` is recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.aborted: tuple[int, str, dict[str, Any]] | None = None

    async def wait_writable(self, timeout: float) -> bool:
        return self.takes_more

    def abort(self, code: int, reason: str, message: bytes) -> None:
        self.aborted, self.is_open = (code, reason, json.loads(message)), False


class _Key:
    def revoked(self) -> bool:
        return False


def test_the_pump_sends_the_backlog_hands_live_events_over_and_closes_a_stalled_reader_4008() -> None:
    """A raw subscriber from seq 1: its backlog (3 events) in one write; then, caught up, it is
    attached and the fan-out writes the live ones. Once its transport stops taking data the
    fan-out hands it back; its client then reads nothing (``wait_writable`` times out): closed
    4008 ``LAGGING``, told to resume after the last event it was sent."""
    from solvent.service.stream import _pump

    async def run() -> tuple[_PumpRaw, Fanout]:
        log, fanout = EventLog(), Fanout()
        log.listener = fanout.published
        for n in range(3):
            log.publish(n + 1, 0, [{"type": "TimeAdvanced", "now_ms": n}])
        sub, end = log.subscribe(None)
        raw = _PumpRaw()
        pump = asyncio.create_task(_pump(None, log, sub, 1, end, _Key(), fanout, raw))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        assert [[m["seq"] for m in _messages(w)] for w in raw.writes] == [[1, 2, 3]]
        assert fanout.attached_count == 1
        log.publish(4, 0, [{"type": "TimeAdvanced", "now_ms": 4}, {"type": "TimeAdvanced", "now_ms": 5}])
        await asyncio.sleep(0.01)
        assert [[m["seq"] for m in _messages(w)] for w in raw.writes] == [[1, 2, 3], [4, 5]]
        raw.takes_more = False
        log.publish(5, 0, [{"type": "TimeAdvanced", "now_ms": 6}])
        await asyncio.wait_for(pump, 5)
        return raw, fanout

    raw, fanout = asyncio.run(run())
    assert raw.aborted == (4008, "LAGGING", {"type": "error", "code": "LAGGING", "resume_from_seq": 6})
    assert fanout.attached_count == 0 and len(raw.writes) == 2


def test_the_fan_out_sends_a_fund_events_account_to_the_whole_venue_only() -> None:
    """A public fund event whose reason names the account it concerns (``"deficit bob"``): the
    whole venue's subscriber reads it so, every other scope reads ``"deficit"`` (found by a
    new-user pass: every trader saw who was liquidated)."""
    async def run() -> None:
        log, fanout = EventLog(), Fanout()
        log.listener = fanout.published
        venue, alice, treasury = (_FakeRaw() for _ in range(3))
        for scope, raw in ((None, venue), ("a", alice), ("", treasury)):
            fanout.attach(scope, raw, log.head_seq, 0)  # type: ignore[arg-type]
        log.publish(1, 0, [{"type": "InsuranceFundChanged", "reason": "deficit bob"},  # short frames: _messages
                           {"type": "InsuranceFundChanged", "reason": "settlement rounding X"}])
        await asyncio.sleep(0)
        assert [m["event"]["reason"] for m in _messages(venue.writes[0])] == ["deficit bob", "settlement rounding X"]
        for raw in (alice, treasury):
            assert [m["event"]["reason"] for m in _messages(raw.writes[0])] == ["deficit", "settlement rounding X"]

    asyncio.run(run())
