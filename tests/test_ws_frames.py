"""Stream frames built once per event and written straight to the subscriber's transport
(``service/ws_frames.py``): the bytes against RFC 6455 §5.2 by hand, and the writer under a real
uvicorn server with the settings ``solvent serve`` runs it with, read by the ``websockets`` client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from solvent.service.ws_frames import RawStream, close_frame, raw_stream_middleware, text_frame

uvicorn = pytest.importorskip("uvicorn", reason="the service extra runs the server (pip install '.[service]')")
ws_client = pytest.importorskip("websockets.sync.client", reason="pip install '.[service]'")


def test_a_text_frame_is_fin_text_unmasked_with_the_rfc_length_encoding() -> None:
    # RFC 6455 §5.2: byte 0 = FIN (0x80) | opcode 1 (text) = 0x81; byte 1 = MASK bit 0 | payload length,
    # where 0–125 is the length itself, 126 means "a 16-bit length follows", 127 "a 64-bit length follows".
    assert text_frame(b"hi") == b"\x81\x02hi"
    assert text_frame(b"x" * 125)[:2] == b"\x81\x7d"  # 125 = 0x7d still fits the byte
    assert text_frame(b"x" * 126)[:4] == b"\x81\x7e\x00\x7e"  # 126 → 126, then 0x007e
    assert text_frame(b"x" * 65_535)[:4] == b"\x81\x7e\xff\xff"
    assert text_frame(b"x" * 65_536)[:10] == b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"  # 127, then 2**16 in 8 bytes
    assert len(text_frame(b"x" * 65_536)) == 10 + 65_536
    # §5.5.1: close = FIN | opcode 8 = 0x88; payload = status code in 2 bytes (4008 = 0x0fa8) + reason
    assert close_frame(4008, "LAGGING") == b"\x88\x09\x0f\xa8LAGGING"


def _app(seen: list[bool]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert scope["type"] == "websocket"
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        raw = RawStream.of(scope)
        seen.append(raw is not None)
        frames = [text_frame(b'{"seq": 1}'), text_frame(b"y" * 70_000), text_frame("é".encode())]
        if raw is not None:
            assert raw.open() and raw.writable() and await raw.wait_writable(1.0)
            raw.write_now(b"".join(frames))
        else:
            for frame in frames:  # the ASGI path, for the comparison: the same messages
                payload = frame[2:] if frame[1] < 126 else frame[10:] if frame[1] == 127 else frame[4:]
                await send({"type": "websocket.send", "text": payload.decode()})
        await send({"type": "websocket.send", "text": "through asgi"})  # the protocol's own frames interleave
        await receive()  # until the client closes

    return app


@pytest.fixture(params=[False, True], ids=["no deflate", "deflate offered"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[int, list[bool], bool]]:
    from service_support import uvicorn_serving

    deflate = bool(request.param)
    seen: list[bool] = []
    with uvicorn_serving(raw_stream_middleware(_app(seen)), ws_per_message_deflate=deflate) as port:
        yield port, seen, deflate


def test_frames_written_to_the_transport_arrive_as_the_messages_they_carry(
        server: tuple[int, list[bool], bool]) -> None:
    port, seen, deflate = server
    with ws_client.connect(f"ws://127.0.0.1:{port}/", compression="deflate" if deflate else None) as ws:
        got = [ws.recv(timeout=10) for _ in range(4)]
    assert got == ['{"seq": 1}', "y" * 70_000, "é", "through asgi"]
    # with permessage-deflate negotiated the raw writer stands aside (its frames are not compressed)
    assert seen == [not deflate]
