"""The venue's ordered command log on NATS JetStream: names, message bytes, publishing.

One stream per venue, ``SOLVENT_<venue>``, subject ``solvent.<venue>.cmd``. The stream's
sequence number is the venue's total order: every replica applies message ``n`` after
message ``n − 1`` and nothing else, so every replica holds the same state after ``n``.

Message 1 is the venue's genesis (the engine configuration, as a journal's record 0 holds
it); every later message is one command, as a journal's command record holds its input, or
a parameter change (below).
Bytes are canonical JSON (``journal/codec.py``), so a message is exactly the input a
journal records. Each message carries the publisher's ``Nats-Msg-Id``: JetStream stores a
message whose id it has seen within its duplicate window once, so a publisher that retries
after a timeout does not append the command twice.

On a cluster of NATS servers the stream can keep copies on several of them
(``ensure_stream(replicas=3)``): JetStream acknowledges a message once a majority of them
store it, and while a server is lost it elects another leader for the stream, a few seconds
in which nothing is stored or read. ``publish`` rides that out, sending the message again
under its id (``TRANSIENT_PATIENCE_S``), and a replica's ``follow`` does too.

A parameter change is a message of its own, ``{config, kind: params}``: the configuration as
its params record holds it (``journalable_params``: a bundled profile or a dated overlay, by
name). Every replica puts it in force as one engine does (``engine/params.py``, admission
included), and journals it with the stream position in a version 2 params record, so a
replica restarted after it resumes from there (``replica.py``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

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
    journalable_params,
    params_record_digest,
)

if TYPE_CHECKING:
    from nats.js import JetStreamContext

__all__ = [
    "ClusterError", "Message", "VenueLog", "decode_message", "encode_command_message", "encode_genesis",
    "encode_params_message",
    "ensure_stream", "is_transient", "patiently", "publish", "publish_once", "server_of", "stream_copies",
    "stream_last", "stream_window", "venue_log", "window_words",
]

_VENUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
DUPLICATE_WINDOW_S = 120.0
"""How long JetStream remembers a message id (its default, and a new stream's unless ``cluster
init --duplicate-window`` says otherwise): a retry within it is stored once."""
MAX_DUPLICATE_WINDOW_S = 86_400
"""The longest duplicate window a stream is made with: JetStream keeps every id of the window in
its memory (a day of 1,000 commands a second is 86 million)."""
MAX_STREAM_REPLICAS = 5
"""JetStream's own limit on the copies of a stream."""
TRANSIENT_PATIENCE_S = 30.0
"""How long a publisher or a replica keeps trying through errors a lost NATS server causes
(a stream electing a new leader takes a few seconds); well inside ``DUPLICATE_WINDOW_S``."""
RETRY_PAUSE_S = 0.2
T = TypeVar("T")


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
    """A command's message; a parameter change's is ``encode_params_message`` of the
    configuration its params record would hold (``journalable_params``)."""
    if isinstance(cmd, c.ChangeParams):
        return encode_params_message(journalable_params(cmd))
    return canonical_json({"input": encode_command(cmd), "kind": "command"})


def encode_params_message(config: dict[str, Any]) -> bytes:
    """A parameter change's message from its configuration as a params record holds it (the one
    home of the form: a replica rebuilds its last message from its journal with it)."""
    return canonical_json({"config": config, "kind": "params"})


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
        if raw.get("kind") == "params" and list(raw) == ["config", "kind"] and isinstance(raw["config"], dict):
            # named by the digest of its configuration as recorded, as a params record's replay names it
            return Message(None, c.ChangeParams(decode_config(raw["config"]), params_record_digest(raw["config"])))
        raise CodecError("a message is {config, kind: genesis}, {input, kind: command} or {config, kind: params}")
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


def server_of(client: Any) -> str:
    """The NATS server a connection is on, as ``--nats`` names it."""
    url = client.connected_url
    return f"{url.scheme}://{url.netloc}" if url is not None else "no server"


def is_transient(exc: BaseException) -> bool:
    """An error that passes once the NATS cluster has recovered from a lost server: no answer
    in time, no responder yet, a stream electing a leader, a connection being remade. Not: a
    stream that does not exist, a request refused, a connection given up."""
    import nats.errors as core
    import nats.js.errors as js

    if isinstance(exc, js.APIError):
        return isinstance(exc, js.ServiceUnavailableError)
    return isinstance(exc, TimeoutError | core.TimeoutError | core.NoRespondersError | core.StaleConnectionError
                      | core.ConnectionReconnectingError | js.NoStreamResponseError)


async def ensure_stream(js: JetStreamContext, log: VenueLog, replicas: int = 1,
                        duplicate_window_s: float = DUPLICATE_WINDOW_S) -> int:
    """Create the venue's stream if it does not exist, its messages kept on ``replicas`` NATS
    servers (at most ``MAX_STREAM_REPLICAS``, and no more than the cluster has); its last
    sequence (0: empty). An existing stream is left as it is (``stream_copies`` says how many
    copies it keeps). Through a lost server's errors it tries again (``patiently``), looking
    for the stream first each time: a creation whose answer was lost is not made twice."""
    from nats.js.api import StreamConfig
    from nats.js.errors import APIError

    if not 1 <= replicas <= MAX_STREAM_REPLICAS:
        raise InvalidInput(f"a stream is kept on 1 to {MAX_STREAM_REPLICAS} NATS servers, not {replicas}")

    async def once() -> int:
        last = await stream_last(js, log)
        if last is not None:
            return last
        try:
            await js.add_stream(StreamConfig(name=log.stream, subjects=[log.subject],
                                             duplicate_window=duplicate_window_s, num_replicas=replicas))
        except APIError as exc:  # e.g. more copies than the cluster has servers
            if is_transient(exc):
                raise
            raise ClusterError(f"cannot create stream {log.stream} on {replicas} NATS server(s): "
                               f"{exc.description}") from None
        return 0

    return await patiently(once)


async def stream_window(js: JetStreamContext, log: VenueLog) -> float:
    """The venue stream's duplicate window in seconds: how long a retried message id is stored once."""
    info = await patiently(lambda: js.stream_info(log.stream))
    return float(info.config.duplicate_window or DUPLICATE_WINDOW_S)


def window_words(seconds: float) -> str:
    """A duplicate window for a message: ``2 minutes``, ``1 hour``, ``90 seconds``."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds:g} seconds"


async def stream_copies(js: JetStreamContext, log: VenueLog) -> int:
    """How many NATS servers keep the venue's stream."""
    info = await patiently(lambda: js.stream_info(log.stream))
    return int(info.config.num_replicas or 1)


async def patiently(step: Callable[[], Awaitable[T]], patience: float = TRANSIENT_PATIENCE_S) -> T:
    """``await step()``, made again after a transient error (``is_transient``) until it succeeds
    or ``patience`` seconds have passed (then ``ClusterError`` naming the last error); any other
    error at once. For steps that are safe to repeat: reads, and publishing under a message id."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        try:
            return await step()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if loop.time() >= deadline:
                raise ClusterError(f"NATS did not answer for {patience:g} s: {type(exc).__name__}: {exc}") from None
        await asyncio.sleep(RETRY_PAUSE_S)


async def publish(js: JetStreamContext, log: VenueLog, payload: bytes, msg_id: str,
                  patience: float = TRANSIENT_PATIENCE_S) -> int:
    """Append one message; its stream sequence once JetStream has stored it (the command is
    acknowledged from then on). A message id seen before answers the first one's sequence, so
    through a transient error the message is sent again under its id (``patiently``)."""
    seq, _ = await publish_once(js, log, payload, msg_id, patience)
    return seq


async def publish_once(js: JetStreamContext, log: VenueLog, payload: bytes, msg_id: str,
                       patience: float = TRANSIENT_PATIENCE_S) -> tuple[int, bool]:
    """``publish``, and whether JetStream had already stored a message under ``msg_id`` (within
    its duplicate window): then the sequence is that first message's. A message sent again by
    ``patiently`` after a lost acknowledgement may come back as its own duplicate."""

    async def once() -> tuple[int, bool]:
        ack = await js.publish(log.subject, payload, stream=log.stream, headers={"Nats-Msg-Id": msg_id}, timeout=2.0)
        return int(ack.seq), bool(ack.duplicate)

    return await patiently(once, patience)
