"""Stream events written to a subscriber's socket as WebSocket frames built once per event.

Fanning an event out through the ASGI ``send`` costs, per subscriber and per event, Litestar's
send wrapper, uvicorn's ``websocket.send`` handling and the ``websockets`` library building the
frame in Python: with 100 subscribers that was most of a price update's time on the server
(issue "Service at venue throughput": the fan-out stays O(events), not O(clients × events), in
Python time). A server's frames are not masked (RFC 6455 §5.3), so the frame carrying an event is
the same bytes for every subscriber: ``text_frame`` builds it once (``LoggedEvent.frame``), and
``RawStream`` writes a page of them to the subscriber's transport in one call.

``RawStream`` is used only where it is known to be right: under uvicorn's ``websockets-sansio``
protocol (``solvent serve``'s setting), on an open connection that negotiated no extension (no
permessage-deflate: ``SERVER_SETTINGS`` turns it off). It honours the protocol's flow control
(it waits while the transport's buffer is above its high-water mark, as the protocol's own send
does) and writes whole frames only, so its frames interleave with the protocol's own (pings,
close) at frame boundaries. Anywhere else (another server, the in-process test client) the
stream sends through ASGI as before.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from solvent.service.one_write import one_write

__all__ = ["RAW_STREAM_KEY", "RawStream", "close_frame", "raw_stream_middleware", "text_frame"]

RAW_STREAM_KEY = "solvent.raw_stream"
"""The ASGI scope key under which ``raw_stream_middleware`` leaves the server's protocol object."""

ABORT_AFTER_S = 5.0
"""How long an aborted connection's buffered frames may take to flush before it is dropped."""

_FIN_TEXT = 0x81
"""FIN set, opcode 1 (text): a whole text message in one frame (RFC 6455 §5.2)."""


def text_frame(payload: bytes) -> bytes:
    """A server's unmasked text frame carrying ``payload`` (UTF-8 JSON) whole: RFC 6455 §5.2 —
    a length up to 125 in the second byte, up to 65,535 as 126 and two bytes, else 127 and
    eight bytes, big-endian."""
    n = len(payload)
    if n < 126:
        header = bytes((_FIN_TEXT, n))
    elif n < 65_536:
        header = bytes((_FIN_TEXT, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((_FIN_TEXT, 127)) + n.to_bytes(8, "big")
    return header + payload


def close_frame(code: int, reason: str) -> bytes:
    """A server's close frame (RFC 6455 §5.5.1): FIN and opcode 8, the status code in two bytes,
    then the reason (a control frame's payload is at most 125 bytes)."""
    payload = code.to_bytes(2, "big") + reason.encode()[:123]
    return bytes((0x88, len(payload))) + payload


class _Transport(Protocol):
    def write(self, data: bytes) -> None: ...

    def is_closing(self) -> bool: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


_SANSIO = "uvicorn.protocols.websockets.websockets_sansio_impl.WebSocketsSansIOProtocol"


def _protocol_of(send: Any) -> Any | None:
    """The uvicorn ``websockets-sansio`` protocol object behind an ASGI ``send``, if it is one."""
    owner = getattr(send, "__self__", None)
    kind = type(owner)
    return owner if f"{kind.__module__}.{kind.__qualname__}" == _SANSIO else None


def raw_stream_middleware(app: Any) -> Any:
    """The ASGI app ``app`` with, on each WebSocket connection served by uvicorn's
    ``websockets-sansio`` protocol, that protocol object in ``scope[RAW_STREAM_KEY]``, and each
    HTTP response written in one socket write (``one_write``): the outermost layer, where
    ``send`` is still the server's own."""

    async def with_raw_stream(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            protocol = _protocol_of(send)
            if protocol is not None:
                scope[RAW_STREAM_KEY] = protocol
        elif scope["type"] == "http":
            send = one_write(scope, send)  # a response's head and body in one socket write
        await app(scope, receive, send)

    return with_raw_stream


class RawStream:
    """Writes pre-built frames straight to one subscriber's transport (module docstring)."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

    @classmethod
    def of(cls, scope: Any) -> RawStream | None:
        """The raw writer of the connection ``scope`` belongs to, where it is known to be right."""
        protocol = scope.get(RAW_STREAM_KEY)
        if protocol is None:
            return None
        conn = getattr(protocol, "conn", None)
        if conn is None or getattr(conn, "extensions", None):  # a negotiated extension frames differently
            return None
        if not isinstance(getattr(protocol, "writable", None), asyncio.Event):
            return None
        return cls(protocol)

    def open(self) -> bool:
        """The handshake is done and neither side has started to close."""
        p = self._protocol
        return bool(p.handshake_complete and not p.close_sent and not p.disconnected
                    and not p.transport.is_closing())

    def writable(self) -> bool:
        """The transport takes more now (its buffer is below the high-water mark)."""
        return bool(self._protocol.writable.is_set())

    def write_now(self, data: bytes) -> None:
        """Write whole frames at once; the caller checked ``open`` and ``writable``."""
        transport: _Transport = self._protocol.transport
        transport.write(data)

    async def wait_writable(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until the transport takes more: ``False`` if the
        client has not read its buffered frames meanwhile (a stalled reader)."""
        writable = self._protocol.writable
        if writable.is_set():
            return True
        try:
            await asyncio.wait_for(writable.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def abort(self, code: int, reason: str, message: bytes) -> None:
        """Close a stalled connection without waiting for it: ``message`` and the close frame
        are queued behind what it has not read, and the transport is closed (it still flushes
        what the client reads before the server's close timer)."""
        if not self.open():
            return
        p = self._protocol
        p.close_sent = True
        transport: _Transport = p.transport
        transport.write(text_frame(message) + close_frame(code, reason))
        transport.close()
        # a client that reads nothing never lets the buffer flush: drop the connection then
        asyncio.get_running_loop().call_later(ABORT_AFTER_S, transport.abort)
