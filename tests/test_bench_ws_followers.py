"""The benchmark's stream followers read WebSocket frames by their headers alone: checked
against the framing examples of RFC 6455, section 5.7."""

from __future__ import annotations

from solvent.bench.ws_followers import Follower, frame_lengths, pong

HELLO_TEXT = bytes([0x81, 0x05]) + b"Hello"
"""RFC 6455 5.7: a single-frame unmasked text message containing "Hello"."""
PING = bytes([0x89, 0x05]) + b"Hello"
"""RFC 6455 5.7: an unmasked ping request with the body "Hello"."""
MASKED_PONG = bytes([0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
"""RFC 6455 5.7: its masked ping response, mask 0x37fa213d."""
BINARY_256 = bytes([0x82, 0x7E, 0x01, 0x00]) + bytes(256)
"""RFC 6455 5.7: 256 bytes of binary data in a single unmasked frame (16-bit length)."""
BINARY_64K = bytes([0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]) + bytes(65536)
"""RFC 6455 5.7: 64 KiB of binary data in a single unmasked frame (64-bit length)."""


def test_frames_are_told_apart_by_their_headers() -> None:
    stream = HELLO_TEXT + BINARY_256 + BINARY_64K + PING
    frames, used = frame_lengths(stream)
    # (opcode, where the payload starts, its length), worked out from the byte layouts above
    assert frames == [(0x1, 2, 5), (0x2, 7 + 4, 256), (0x2, 7 + 4 + 256 + 10, 65536),
                      (0x9, 7 + 260 + 65546 + 2, 5)]
    assert used == len(stream)


def test_a_frame_cut_anywhere_waits_for_the_rest() -> None:
    stream = HELLO_TEXT + BINARY_256
    for cut in range(len(HELLO_TEXT), len(stream)):
        frames, used = frame_lengths(stream[:cut])
        assert frames == [(0x1, 2, 5)] and used == len(HELLO_TEXT)
    assert frame_lengths(HELLO_TEXT[:1]) == ([], 0)


def test_the_pong_is_the_rfcs_masked_response() -> None:
    assert pong(b"Hello", bytes([0x37, 0xFA, 0x21, 0x3D])) == MASKED_PONG


class _Socket:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.sent.append(data)


def test_a_follower_counts_the_events_after_the_hello_and_answers_pings() -> None:
    sock = _Socket()
    follower = Follower(sock)  # type: ignore[arg-type]  # only sendall is used
    wire = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n" + HELLO_TEXT + PING + HELLO_TEXT * 3
    for i in range(0, len(wire), 7):  # in pieces, as a socket delivers them
        follower.feed(wire[i:i + 7])
    assert follower.hello and follower.frames == 3 and follower.received == len(wire)
    assert len(sock.sent) == 1 and sock.sent[0][:2] == bytes([0x8A, 0x85])
    mask, masked = sock.sent[0][2:6], sock.sent[0][6:]
    assert bytes(b ^ mask[i % 4] for i, b in enumerate(masked)) == b"Hello"
