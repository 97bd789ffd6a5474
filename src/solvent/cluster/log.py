"""The venue's ordered command log on NATS JetStream: names, message bytes, publishing.

One stream per venue, ``SOLVENT_<venue>``, subject ``solvent.<venue>.cmd``. The stream's
sequence number is the venue's total order: every replica applies message ``n`` after
message ``n − 1`` and nothing else, so every replica holds the same state after ``n``.

Message 1 is the venue's genesis (the engine configuration, as a journal's record 0 holds
it); every later message is one command, as a journal's command record holds its input.
Bytes are canonical JSON (``journal/codec.py``), so a message is exactly the input a
journal records. Each message carries the publisher's ``Nats-Msg-Id``: JetStream stores a
message whose id it has seen within its duplicate window once, so a publisher that retries
after a timeout does not append the command twice.

A parameter change is not carried yet: its journal record has no room for the stream
position a replica resumes from (``replica.py``), so the log refuses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from solvent import jsonstrict
from solvent.engine import commands as c
from solvent.engine.config import EngineConfig
from solvent.errors import InvalidInput, SolventError
from solvent.journal.codec import (
    CodecError,
    canonical_json,
    decode_command,
    decode_config,
    encode_command,
    encode_config,
)

if TYPE_CHECKING:
    from nats.js import JetStreamContext

__all__ = [
    "ClusterError", "Message", "VenueLog", "decode_message", "encode_command_message", "encode_genesis",
    "ensure_stream", "publish", "stream_last", "venue_log",
]

_VENUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
DUPLICATE_WINDOW_S = 120.0
"""How long JetStream remembers a message id (its default): a retry within it is stored once."""


class ClusterError(SolventError):
    """The log or a replica cannot go on (a gap in the stream, a stream of another venue…)."""


@dataclass(frozen=True, slots=True)
class VenueLog:
    """Where one venue's commands live: the stream and its subject (the one home of both names)."""

    venue: str
    stream: str
    subject: str
    check_subject: str
    """Pre-trade checks, request/reply, answered by any one replica (queue group ``replicas``)."""


def venue_log(venue: str) -> VenueLog:
    """The names for ``venue`` (letters, digits, ``-``, ``_``; at most 64)."""
    if not _VENUE_NAME.fullmatch(venue):
        raise InvalidInput(f"venue name must be 1-64 letters, digits, '-' or '_', got {venue!r}")
    return VenueLog(venue, f"SOLVENT_{venue}", f"solvent.{venue}.cmd", f"solvent.{venue}.check")


@dataclass(frozen=True, slots=True)
class Message:
    """A decoded message: the genesis configuration, or one command."""

    config: EngineConfig | None
    command: c.Command | None


def encode_genesis(config: EngineConfig) -> bytes:
    return canonical_json({"config": encode_config(config), "kind": "genesis"})


def encode_command_message(cmd: c.Command) -> bytes:
    if isinstance(cmd, c.ChangeParams):
        raise InvalidInput("a parameter change cannot go through the cluster log yet (docs/cluster.md)")
    return canonical_json({"input": encode_command(cmd), "kind": "command"})


def decode_message(payload: bytes) -> Message:
    """``ClusterError`` for bytes that are not a log message."""
    try:
        raw: Any = jsonstrict.loads_strict(payload, "log message")
        if not isinstance(raw, dict) or canonical_json(raw) != payload:
            raise CodecError("not canonical JSON: a log message is one object, keys sorted, no spaces")
        if raw.get("kind") == "genesis" and list(raw) == ["config", "kind"] and isinstance(raw["config"], dict):
            return Message(decode_config(raw["config"]), None)
        if raw.get("kind") == "command" and list(raw) == ["input", "kind"]:
            return Message(None, decode_command(raw["input"]))
        raise CodecError("a message is {config, kind: genesis} or {input, kind: command}")
    except (CodecError, InvalidInput) as exc:
        raise ClusterError(f"not a cluster log message: {exc}") from None


async def stream_last(js: JetStreamContext, log: VenueLog) -> int | None:
    """The last sequence of the venue's stream (0: empty), ``None`` if there is no such stream."""
    from nats.js.errors import NotFoundError

    try:
        info = await js.stream_info(log.stream)
    except NotFoundError:
        return None
    if log.subject not in (info.config.subjects or []):
        raise ClusterError(f"stream {log.stream} does not carry {log.subject}")
    return int(info.state.last_seq)


async def ensure_stream(js: JetStreamContext, log: VenueLog) -> int:
    """Create the venue's stream if it does not exist; its last sequence (0: empty)."""
    from nats.js.api import StreamConfig

    last = await stream_last(js, log)
    if last is not None:
        return last
    await js.add_stream(StreamConfig(name=log.stream, subjects=[log.subject], duplicate_window=DUPLICATE_WINDOW_S))
    return 0


async def publish(js: JetStreamContext, log: VenueLog, payload: bytes, msg_id: str) -> int:
    """Append one message; its stream sequence once JetStream has stored it (the command is
    acknowledged from then on). A message id seen before answers the first one's sequence."""
    ack = await js.publish(log.subject, payload, stream=log.stream, headers={"Nats-Msg-Id": msg_id})
    return int(ack.seq)
