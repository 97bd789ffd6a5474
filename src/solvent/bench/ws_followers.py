"""Stream followers for the service benchmarks: many WebSocket clients in one process, doing
as little as a client can (``python -m solvent.bench.ws_followers URL KEY N``).

A benchmark's clients must not be slower than the server they measure. A Python WebSocket
library parses, validates and queues every message it receives, so 100 of them cost more
CPU than the server's fan-out to them. These clients do the RFC 6455 handshake with plain
sockets, then only read: the server's frames are not masked, so each frame's length is in
its first bytes, and counting a frame is reading its header and skipping its payload. One
thread multiplexes every connection (``selectors``).

Prints ``ready`` once every client got the server's hello (its first frame), then on SIGTERM
or SIGINT one JSON line, ``{"frames": [...], "bytes": [...]}``: the frames after the hello,
per client (each is one event), and exits.
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import signal
import socket
import sys
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["Follower", "frame_lengths", "main", "pong"]

_OPCODE_TEXT = 0x1
_OPCODE_PING = 0x9


def pong(payload: bytes, mask: bytes | None = None) -> bytes:
    """A client's masked pong frame answering a ping of ``payload`` (at most 125 bytes);
    ``mask``: four bytes, random unless given."""
    mask = mask or os.urandom(4)
    return bytes([0x8A, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def frame_lengths(buffer: bytes | bytearray, start: int = 0) -> tuple[list[tuple[int, int, int]], int]:
    """The complete unmasked frames in ``buffer`` from ``start``: ``(opcode, payload offset,
    payload length)`` each, and the offset of the first byte not yet part of a complete frame."""
    frames: list[tuple[int, int, int]] = []
    at, end = start, len(buffer)
    while end - at >= 2:
        opcode, size = buffer[at] & 0x0F, buffer[at + 1] & 0x7F
        head = 2
        if size == 126:
            if end - at < 4:
                break
            size, head = int.from_bytes(buffer[at + 2:at + 4], "big"), 4
        elif size == 127:
            if end - at < 10:
                break
            size, head = int.from_bytes(buffer[at + 2:at + 10], "big"), 10
        if end - at < head + size:
            break
        frames.append((opcode, at + head, size))
        at += head + size
    return frames, at


@dataclass(slots=True)
class Follower:
    sock: socket.socket
    handshaken: bool = False
    hello: bool = False
    frames: int = 0
    """Text frames after the hello (events)."""
    received: int = 0
    buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> None:
        self.received += len(data)
        self.buffer += data
        if not self.handshaken:
            head, sep, rest = bytes(self.buffer).partition(b"\r\n\r\n")
            if not sep:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(f"handshake refused: {head[:80]!r}")
            self.handshaken = True
            self.buffer = bytearray(rest)
        frames, used = frame_lengths(self.buffer)
        for opcode, at, size in frames:
            if opcode == _OPCODE_PING:
                self.sock.sendall(pong(bytes(self.buffer[at:at + size])))
            if opcode != _OPCODE_TEXT:
                continue
            if self.hello:
                self.frames += 1
            else:
                self.hello = True
        del self.buffer[:used]


def _connect(url: str, key: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80))
    nonce = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\nSec-WebSocket-Version: 13\r\n"
                  f"X-API-Key: {key}\r\n\r\n").encode())
    sock.setblocking(False)
    return sock


def main(argv: list[str]) -> int:
    url, key, n = argv[0], argv[1], int(argv[2])
    followers = [Follower(_connect(url, key)) for _ in range(n)]
    selector = selectors.DefaultSelector()
    for follower in followers:
        selector.register(follower.sock, selectors.EVENT_READ, follower)
    stop = [False]

    def on_signal(*_: object) -> None:
        stop[0] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ready = False
    while not stop[0]:
        for sel_key, _ in selector.select(timeout=0.2):
            follower = sel_key.data
            try:
                data = follower.sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                continue
            if not data:
                selector.unregister(follower.sock)
                continue
            follower.feed(data)
        if not ready and all(f.hello for f in followers):
            ready = True
            print("ready", flush=True)
    print(json.dumps({"frames": [f.frames for f in followers], "bytes": [f.received for f in followers]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
