"""A replica: the engine behind its own journal, applying the venue's log in stream order.

Every replica applies every message, so each one *is* the single engine: its state after
stream message ``n`` is the state one process reaches after the same ``n`` inputs, by the
engine's determinism (DESIGN rule 2), not by any merge. What the replicas share out is the
reading: pre-trade checks go to any one of them (``serve_checks``), answered from state at
or after the log sequence the caller names, so a client reads its own writes.

**Durable position.** Each accepted command is journaled (``DurableEngine``) with the stream
sequence it came from, as its request key (scope ``stream:<STREAM>``), in the same record and
the same transaction. After a crash (SIGKILL included) the replica recovers its journal and
resumes at the message after the last one its journal holds. Refused commands are not
journaled; those after the last journaled one are read again and refused again, against the
same state (a refusal changes nothing), so nothing is applied twice or skipped.

The first message must be the genesis; a replica whose journal was started from another
genesis refuses the stream (``ClusterError``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from solvent.cluster.log import (
    RETRY_PAUSE_S,
    TRANSIENT_PATIENCE_S,
    ClusterError,
    VenueLog,
    decode_message,
    encode_command_message,
    encode_params_message,
    is_transient,
    patiently,
    server_of,
    stream_last,
)
from solvent.engine import commands as c
from solvent.engine.core import CommandResult
from solvent.engine.events import event_to_json
from solvent.journal.backend import JournalBackend
from solvent.journal.codec import (
    STREAM_SCOPE,
    RequestKey,
    canonical_json,
    decode_record,
    encode_config,
    loads_strict,
    log_position,
)
from solvent.journal.durable_engine import DurableEngine
from solvent.journal.replay import open_genesis

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

__all__ = ["Replica", "follow", "result_json", "serve_checks"]

_SCAN = 16
"""Records looked at per step when finding the last stream position in the journal."""


def _scope(log: VenueLog) -> str:
    return f"{STREAM_SCOPE}{log.stream}"


class Replica:
    """One replica's engine and its position in the stream (the last message applied)."""

    def __init__(self, backend: JournalBackend, log: VenueLog, *, snapshot_every: int = 10_000) -> None:
        self.backend = backend
        self.log = log
        self.snapshot_every = snapshot_every
        self.engine: DurableEngine | None = None
        self._last_message: bytes | None = None
        self.position = 0
        """Stream sequence of the last message applied and committed."""
        self.committed = asyncio.Event()
        """Set (and replaced) at each commit: a check waiting for a position wakes on it."""
        self.skipped = 0
        """Messages skipped since start (not log messages, or a second genesis)."""
        self.failed: BaseException | None = None
        """Set when following stopped on an error: checks are refused from then on."""
        self.samples: dict[int, bytes] = {}
        """Stream sequence → message, for commands journaled at journal records n/2, n/4, …, 1
        (n the newest): what ``check_stream`` also finds in the stream, so a stream made again
        under the same name is told apart though it hold the same command at the position."""
        if next(iter(backend.records(0)), None) is not None:
            self.engine = DurableEngine(backend, snapshot_every=snapshot_every, allow_new=False, aligned=True)
            self.position, self._last_message = _journaled_position(backend, self.engine.seq, _scope(log))
            self.samples = _journaled_samples(backend, self.engine.seq, _scope(log))
        self._applied = self.position
        self._taken = self._last_message

    def check_genesis(self, payload: bytes) -> None:
        """A journal already started must have been started from this stream's message 1."""
        message = decode_message(payload)
        if message.config is None:
            raise ClusterError(f"stream {self.log.stream}: message 1 is not the venue's genesis")
        if self.engine is not None:
            mine, _ = open_genesis(self.backend, None)
            if canonical_json(encode_config(mine)) != canonical_json(encode_config(message.config)):
                raise ClusterError(f"this replica's journal was started from another genesis than stream "
                                   f"{self.log.stream}'s")

    def check_stream(self, last_seq: int, message_at_position: bytes | None,
                     sampled: Mapping[int, bytes | None] | None = None) -> None:
        """The stream holds what this replica's journal says it applied: at least as many
        messages, at its position the very command it journaled last, and at each of the
        ``samples`` positions (``sampled``: what the stream holds there) the command journaled
        there (a stream deleted and made again with the same genesis holds other commands)."""
        if self.position > last_seq:
            raise ClusterError(f"this replica's journal is at stream message {self.position} but stream "
                               f"{self.log.stream} ends at {last_seq}: not the stream it followed")
        found = {**(sampled or {}), self.position: message_at_position}
        expected = {**self.samples, **({self.position: self._last_message} if self._last_message is not None else {})}
        for seq in sorted(expected, reverse=True):
            if found.get(seq) != expected[seq]:
                raise ClusterError(f"stream {self.log.stream}'s message {seq} is not the command this replica "
                                   "journaled there: not the stream it followed")

    def apply(self, seq: int, payload: bytes, msg_id: str | None = None) -> str | None:
        """Apply stream message ``seq`` (the next one, or ``ClusterError``: a gap, or a first
        message that is no genesis). A later message that is not a command (bytes that are no
        log message, a second genesis) is skipped, as a refused command is: every replica reads
        the same bytes and skips them, so all stay the same; the reason is returned."""
        command, skipped = self.take(seq, payload)
        if command is not None:
            assert self.engine is not None
            self.engine.submit(command, self.key(seq, msg_id))
        return skipped

    def take(self, seq: int, payload: bytes) -> tuple[c.Command | None, str | None]:
        """Stream message ``seq`` as the command to apply next, or ``(None, reason)`` for one
        that is skipped; the genesis (message 1) starts the engine and is no command. The
        position to apply moves past ``seq`` (``commit`` makes it the replica's position).
        ``apply`` submits the command to the replica's engine; ``solvent serve --cluster``
        (``cluster/serve.py``) submits it through the service's venue, which publishes its events."""
        if seq != self._applied + 1:
            raise ClusterError(f"stream {self.log.stream}: message {seq} arrived after {self._applied} (a gap)")
        command: c.Command | None = None
        skipped: str | None = None
        if seq == 1:
            config = decode_message(payload).config
            if config is None:
                raise ClusterError(f"stream {self.log.stream}: message 1 is not the venue's genesis")
            # the venue's genesis as its log recorded it: replayed, not admitted again
            self.engine = DurableEngine(self.backend, config, snapshot_every=self.snapshot_every, checked=False,
                                        aligned=True)
        else:
            assert self.engine is not None
            try:
                command = decode_message(payload).command
            except ClusterError as exc:
                skipped = str(exc)
            if command is None:
                skipped = skipped or "a second genesis"
                self.skipped += 1
        self._applied = seq
        self._taken = payload if seq > 1 else None
        return command, skipped

    def key(self, seq: int, msg_id: str | None = None) -> RequestKey:
        """The request key stream message ``seq``'s command is journaled with: its durable position,
        and the message id it was published under (``codec.log_position`` reads both back), so a server
        knows the ids of the messages it journaled after a restart (``cluster/serve.py``)."""
        return RequestKey(_scope(self.log), str(seq) if not msg_id else f"{seq} {msg_id}")

    def moved(self) -> None:
        """The messages taken are durable (the caller flushed the engine): they are the position."""
        self.position = self._applied
        self._last_message = self._taken  # what ``check_stream`` finds at the position when following again
        self.committed.set()
        self.committed = asyncio.Event()

    def commit(self) -> None:
        """Make every applied message durable; the position moves only then."""
        if self.engine is not None:
            self.engine.flush()
        self.moved()

    def state_hash(self) -> str:
        if self.engine is None:
            raise ClusterError("the replica has applied no genesis yet")
        return self.engine.state_hash()

    def check(self, cmd: c.Command) -> CommandResult:
        if self.failed is not None:
            raise ClusterError(f"this replica stopped following the stream: {self.failed}")
        if self.engine is None:
            raise ClusterError("the replica has applied no genesis yet")
        return self.engine.check(cmd)


def _journaled_position(backend: JournalBackend, last_seq: int, scope: str) -> tuple[int, bytes | None]:
    """The stream sequence of the newest journaled command and that command as its log message
    (``(1, None)``: the genesis only)."""
    high = last_seq
    while high >= 1:
        low = max(1, high - _SCAN + 1)
        for stored in reversed(list(backend.records_at(list(range(low, high + 1))))):
            record = decode_record(stored.payload)
            if record.kind in ("command", "params") and record.input is not None:
                if record.request is not None and record.request.scope.startswith(STREAM_SCOPE) and (
                        record.request.scope != scope):
                    raise ClusterError(f"this journal follows stream {record.request.scope.removeprefix(STREAM_SCOPE)}"
                                       f", not {scope.removeprefix(STREAM_SCOPE)}: give each venue its own journal")
                if record.request is None or record.request.scope != scope:
                    raise ClusterError(f"journal record {record.seq} did not come from stream "
                                       f"{scope.removeprefix(STREAM_SCOPE)}: not a replica's journal")
                params = record.config if record.kind == "params" else None  # as its message held it
                return log_position(record.request)[0], (encode_command_message(record.input) if params is None
                                                         else encode_params_message(params))
        high = low - 1
    return 1, None


def _journaled_samples(backend: JournalBackend, last_seq: int, scope: str) -> dict[int, bytes]:
    """``Replica.samples``: the log messages of the commands journaled at journal records
    ``last_seq // 2``, ``// 4``, …, 1 (those that are commands of ``scope``'s stream: a
    checkpoint record is none), keyed by their stream sequence."""
    seqs = sorted({last_seq >> k for k in range(1, last_seq.bit_length())} - {0})
    out: dict[int, bytes] = {}
    for stored in backend.records_at(seqs):
        record = decode_record(stored.payload)
        if record.kind in ("command", "params") and record.input is not None and record.request is not None and (
                record.request.scope == scope):
            params = record.config if record.kind == "params" else None  # as its message held it
            out[log_position(record.request)[0]] = (encode_command_message(record.input) if params is None
                                                   else encode_params_message(params))
    return out


def result_json(seq: int, result: CommandResult) -> dict[str, Any]:
    """A check's answer: the stream position it was read at, and the engine's result."""
    return {"accepted": result.accepted, "denial": None if result.denial is None else result.denial.to_json(),
            "events": [event_to_json(e) for e in result.events], "seq": seq}


GENESIS_POLL_S = 0.5
"""How often a replica looks for the stream and its genesis until both exist."""


async def _genesis(client: Client, log: VenueLog, notice: Callable[[str], None] | None) -> bytes:
    """Message 1 of the venue's stream, waiting (``GENESIS_POLL_S``) until the stream and its
    genesis exist: replicas may start before the venue's first message is published."""
    from nats.js.errors import NotFoundError

    js, told = client.jetstream(), False
    while True:
        try:
            return (await js.get_msg(log.stream, 1)).data or b""
        except NotFoundError:
            if notice is not None and not told:
                notice(f"waiting for stream {log.stream} and its genesis (message 1)")
                told = True
            await asyncio.sleep(GENESIS_POLL_S)


async def _subscribe(client: Client, log: VenueLog, start: int) -> Any:
    """A pull consumer of the stream from sequence ``start`` (ephemeral: the server drops it
    after ``inactive_threshold`` without a pull; ``follow`` makes a new one if it is gone)."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    return await client.jetstream().pull_subscribe(
        log.subject, durable=None, stream=log.stream,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start,
                              ack_policy=AckPolicy.NONE, inactive_threshold=30.0))


async def _nothing_new(failure: Exception, client: Client, replica: Replica) -> bool:
    """After a fetch failed with ``failure``: whether it only timed out because the stream holds
    nothing past the replica's position (asked of the server; ``False`` if that fails too)."""
    from nats.errors import TimeoutError as NatsTimeout

    if not isinstance(failure, TimeoutError | NatsTimeout):
        return False
    try:
        info = await client.jetstream().stream_info(replica.log.stream)
    except Exception as exc:
        if is_transient(exc):
            return False
        raise
    return int(info.state.last_seq) <= replica.position


Batch = Callable[[list[tuple[int, bytes, str | None]]], Awaitable[None]]
"""Applies one fetched batch of stream messages ``(sequence, bytes, message id)`` in order, and
makes it durable (``Replica.take`` each, then ``Replica.moved``)."""


async def follow(replica: Replica, client: Client, *, stop_at: int | None = None, batch: int = 512,
                 on_commit: Callable[[Replica], None] | None = None,
                 notice: Callable[[str], None] | None = None, apply_batch: Batch | None = None) -> None:
    """Apply the stream from the replica's position on; return once ``stop_at`` is applied
    (never, without it). ``notice``: told of a skipped message, of waiting for the genesis and
    of a consumer made again. ``apply_batch``: how a fetched batch is applied (default: to the
    replica's own engine, ``Replica.apply`` and ``commit``). On an error the replica is marked
    failed (its checks are refused) and the error raised."""
    from nats.js.errors import NotFoundError

    log, js = replica.log, client.jetstream()

    async def where() -> tuple[int | None, bytes | None, dict[int, bytes | None]]:
        """The stream's end, and the messages at the replica's position and its samples (to
        check they are its own)."""
        last = await stream_last(js, log)

        async def at(seq: int) -> bytes | None:
            if seq <= 1 or last is None or seq > last:
                return None
            try:
                return (await js.get_msg(log.stream, seq)).data
            except NotFoundError:  # deleted from the stream (a limit, or by hand): not what was journaled
                return None

        return last, await at(replica.position), {seq: await at(seq) for seq in replica.samples}

    try:
        replica.check_genesis(await patiently(lambda: _genesis(client, log, notice)))
        last, at, sampled = await patiently(where)
        replica.check_stream(last or 0, at, sampled)
        if notice is not None:
            notice(f"following {log.stream} from message {replica.position + 1} (the stream is at {last}) "
                   f"on {server_of(client)}")
        loop = asyncio.get_running_loop()
        sub: Any = None
        made = 0
        served = loop.time()  # when NATS last served this replica: messages, or word that there are none
        while stop_at is None or replica.position < stop_at:
            want = batch if stop_at is None else min(batch, stop_at - replica.position)
            try:
                if sub is None:
                    sub = await _subscribe(client, log, replica.position + 1)
                    made += 1
                    if made > 1 and notice is not None:
                        notice(f"consumer of {log.stream} made again from message {replica.position + 1}")
                msgs = await sub.fetch(want, timeout=0.5)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if await _nothing_new(exc, client, replica):
                    served = loop.time()
                    continue
                # behind and fed nothing (the server dropped the consumer after a long pause of
                # this process, or lost the server that held it), or NATS failed the request
                # (a server lost, a stream electing its leader): a new consumer from here
                if sub is not None:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
                    sub = None
                if loop.time() - served > TRANSIENT_PATIENCE_S:
                    raise ClusterError(f"NATS has not served stream {log.stream} for {TRANSIENT_PATIENCE_S:g} s: "
                                       f"{type(exc).__name__}: {exc}") from None
                await asyncio.sleep(RETRY_PAUSE_S)
                continue
            served = loop.time()
            if apply_batch is not None:
                await apply_batch([(_sequence(msg), msg.data, _msg_id(msg)) for msg in msgs])
            else:
                for msg in msgs:
                    seq = _sequence(msg)
                    skipped = replica.apply(seq, msg.data, _msg_id(msg))
                    if skipped is not None and notice is not None:
                        notice(f"stream {log.stream}: message {seq} skipped: {skipped}")
                replica.commit()
            if on_commit is not None:
                on_commit(replica)
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
    except NotFoundError:
        replica.failed = ClusterError(f"stream {log.stream} is gone (deleted while this replica followed it)")
        raise replica.failed from None
    except BaseException as exc:
        replica.failed = exc
        raise


def _sequence(msg: Msg) -> int:
    assert msg.metadata.sequence is not None
    return int(msg.metadata.sequence.stream)


def _msg_id(msg: Msg) -> str | None:
    """The id the message was published under (``Nats-Msg-Id``), if any of printable ASCII with no
    space (what ``RequestKey`` holds after the position: ``Replica.key``)."""
    found = (msg.headers or {}).get("Nats-Msg-Id")
    return found if found and found.isascii() and found.isprintable() and " " not in found else None



CHECK_WAIT_S = 5.0
"""How long a check waits for its replica to reach the sequence it names."""


MAX_WAITING_CHECKS = 1_000
"""Checks a replica holds open while it catches up; one more is answered with an error at once."""


async def serve_checks(replica: Replica, client: Client) -> None:
    """Answer pre-trade checks on the venue's check subject (one replica per request): the
    request is ``{"input": <PlaceOrder>, "min_seq": n}``; the answer is read at a position
    ``≥ n`` (``result_json``), or ``{"error": …}``. Each check runs as its own task, so one
    waiting for a later position holds up no other."""
    waiting: set[asyncio.Task[None]] = set()

    async def receive(msg: Msg) -> None:
        if len(waiting) >= MAX_WAITING_CHECKS:
            await msg.respond(canonical_json({"error": f"{MAX_WAITING_CHECKS} checks already wait on this "
                                                       "replica; ask again later"}))
            return
        task = asyncio.create_task(answer(msg))
        waiting.add(task)
        task.add_done_callback(waiting.discard)

    async def answer(msg: Msg) -> None:
        try:
            raw = loads_strict(msg.data)
            if not isinstance(raw, dict) or sorted(raw) != ["input", "min_seq"] or not isinstance(
                    raw["min_seq"], int) or isinstance(raw["min_seq"], bool) or raw["min_seq"] < 0:
                raise ClusterError("a check is {input: <command>, min_seq: <stream sequence >= 0>}")
            cmd = decode_message(canonical_json({"input": raw["input"], "kind": "command"})).command
            if not isinstance(cmd, c.PlaceOrder):
                raise ClusterError(f"a check is a pre-trade check of a PlaceOrder, not a {type(cmd).__name__}")
            if raw["min_seq"] > replica.position:  # waits only for a message the stream holds
                last = await stream_last(client.jetstream(), replica.log)
                if last is None or raw["min_seq"] > last:
                    raise ClusterError(f"stream {replica.log.stream} ends at {last or 0}, before {raw['min_seq']}")
            deadline = asyncio.get_running_loop().time() + CHECK_WAIT_S
            while replica.position < raw["min_seq"]:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    raise ClusterError(f"this replica is at {replica.position}, behind {raw['min_seq']} after "
                                       f"{CHECK_WAIT_S:g} s")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(replica.committed.wait(), left)
            reply = result_json(replica.position, replica.check(cmd))
        except ClusterError as exc:
            reply = {"error": str(exc)}
        except Exception as exc:  # bad input of any kind: answered, never fatal to the replica
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        await msg.respond(canonical_json(reply))

    await client.subscribe(replica.log.check_subject, queue="replicas", cb=receive)
