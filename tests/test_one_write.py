"""One socket write per HTTP response under uvicorn's httptools protocol (``service/one_write.py``).

The tests drive uvicorn's own ``RequestResponseCycle.send`` over a transport that records its
writes: the bytes must be exactly the server's own, in one write where it made two."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("httptools")

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from solvent.service.one_write import one_write

BODY = b'{"ok":true}'
START = {"type": "http.response.start", "status": 200,
         "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]}


class Recording:
    """A transport that keeps each write apart."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


def _cycle(transport: Recording) -> RequestResponseCycle:
    scope: Any = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "http_version": "1.1",
                  "headers": [], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2)}
    log = logging.getLogger("test-one-write")
    return RequestResponseCycle(scope, transport, FlowControl(transport), log, log, False,  # type: ignore[arg-type]
                                [(b"server", b"uvicorn")], asyncio.Event(), False, True, lambda: None)


def _run(messages: list[dict[str, Any]], wrapped: bool,
         before: Any = None) -> tuple[list[bytes], RequestResponseCycle]:
    transport = Recording()
    cycle = _cycle(transport)
    if before is not None:
        before(cycle)

    async def go() -> None:
        send = one_write(cycle.scope, cycle.send) if wrapped else cycle.send
        for message in messages:
            await send(message)

    asyncio.run(go())
    return transport.writes, cycle


def test_the_head_and_the_body_go_out_in_one_write_of_the_servers_own_bytes() -> None:
    plain, _ = _run([START, {"type": "http.response.body", "body": BODY, "more_body": False}], wrapped=False)
    once, cycle = _run([START, {"type": "http.response.body", "body": BODY, "more_body": False}], wrapped=True)
    assert len(plain) == 2 and plain[0].startswith(b"HTTP/1.1 200 OK\r\n") and plain[1] == BODY
    assert once == [b"".join(plain)]
    assert cycle.response_complete and isinstance(cycle.transport, Recording)  # the real transport is back


def test_a_streamed_body_writes_its_head_with_the_first_part_and_the_rest_as_the_server_does() -> None:
    parts = [START, {"type": "http.response.body", "body": b"a", "more_body": True},
             {"type": "http.response.body", "body": b"b", "more_body": True},
             {"type": "http.response.body", "body": b"", "more_body": False}]
    start = {**START, "headers": [(b"content-type", b"text/plain")]}  # no length: chunked
    plain, _ = _run([start, *parts[1:]], wrapped=False)
    once, _ = _run([start, *parts[1:]], wrapped=True)
    assert len(plain) == 4 and once == [plain[0] + plain[1], plain[2], plain[3]]


def test_nothing_is_written_to_a_client_that_went_away() -> None:
    def gone(cycle: RequestResponseCycle) -> None:
        cycle.disconnected = True

    once, _ = _run([START, {"type": "http.response.body", "body": BODY, "more_body": False}], wrapped=True,
                   before=gone)
    assert once == []
    transport = Recording()  # gone after the head was collected: the head is not written either
    cycle = _cycle(transport)

    async def go() -> None:
        send = one_write(cycle.scope, cycle.send)
        await send(START)
        cycle.disconnected = True
        await send({"type": "http.response.body", "body": BODY, "more_body": False})

    asyncio.run(go())
    assert transport.writes == []


def test_a_paused_transport_is_waited_for_before_anything_is_collected() -> None:
    """The server's send waits while the client's buffer is full; the wrapper makes that wait
    itself, with the real transport in place, and writes once it may."""
    transport = Recording()
    cycle = _cycle(transport)

    async def go() -> list[bytes]:
        cycle.flow.pause_writing()
        send = one_write(cycle.scope, cycle.send)
        task = asyncio.ensure_future(send(START))
        await asyncio.sleep(0.01)
        assert not task.done() and isinstance(cycle.transport, Recording)  # waiting, nothing swapped
        cycle.flow.resume_writing()
        await task
        await send({"type": "http.response.body", "body": BODY, "more_body": False})
        return transport.writes

    writes = asyncio.run(go())
    assert len(writes) == 1 and writes[0].endswith(b"\r\n\r\n" + BODY)


def test_anything_but_uvicorns_httptools_cycle_keeps_its_own_send() -> None:
    async def send(message: Any) -> None: ...

    assert one_write({"type": "http"}, send) is send
    server_send = _cycle(Recording()).send
    assert one_write({"type": "websocket"}, server_send) is server_send
    assert one_write({"type": "http"}, server_send) is not server_send


class Closing(Recording):
    """A transport that also records when it is closed, among its writes."""

    def close(self) -> None:
        self.writes.append(b"<close>")


def _run_on(transport: Recording, messages: list[dict[str, Any]], wrapped: bool, keep_alive: bool) -> list[bytes]:
    cycle = _cycle(transport)
    cycle.keep_alive = keep_alive
    cycle.on_response = lambda: transport.writes.append(b"<on_response>")  # starts a pipelined request

    async def go() -> None:
        send = one_write(cycle.scope, cycle.send) if wrapped else cycle.send
        for message in messages:
            await send(message)

    asyncio.run(go())
    assert cycle.transport is transport
    return transport.writes


def test_a_response_that_closes_the_connection_is_written_before_the_close() -> None:
    """``Connection: close``, HTTP/1.0, a server shutting down: the server's send closes the
    transport after the last body part; the answer must still go out, then the close, before the
    server's response callback (which starts a pipelined request unless the transport closes)."""
    messages = [START, {"type": "http.response.body", "body": BODY, "more_body": False}]
    plain = _run_on(Closing(), messages, wrapped=False, keep_alive=False)
    once = _run_on(Closing(), messages, wrapped=True, keep_alive=False)
    assert plain[1:] == [BODY, b"<close>", b"<on_response>"]
    assert once == [plain[0] + plain[1], b"<close>", b"<on_response>"]
    # kept alive, the callback comes before the one write (it only schedules: the next pipelined
    # request runs after this task yields), and the bytes are the server's own
    kept = _run_on(Closing(), messages, wrapped=True, keep_alive=True)
    assert kept == [b"<on_response>", plain[0].replace(b"connection: close\r\n", b"") + BODY]


def test_what_the_server_wrote_before_its_send_raised_still_goes_out() -> None:
    """A body longer than its Content-Length: the server wrote the head, then raised."""
    too_long = {"type": "http.response.body", "body": BODY + b"!", "more_body": False}
    for wrapped in (False, True):
        transport = Recording()
        with pytest.raises(RuntimeError, match="longer than Content-Length"):
            _run_on(transport, [START, too_long], wrapped=wrapped, keep_alive=True)
        assert len(transport.writes) == 1 and transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
