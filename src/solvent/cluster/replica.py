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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from solvent.cluster.log import ClusterError, VenueLog, decode_message
from solvent.engine import commands as c
from solvent.engine.core import CommandResult
from solvent.engine.events import event_to_json
from solvent.journal.backend import JournalBackend
from solvent.journal.codec import RequestKey, canonical_json, decode_record, encode_config, loads_strict
from solvent.journal.durable_engine import DurableEngine
from solvent.journal.replay import open_genesis

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

__all__ = ["Replica", "follow", "result_json", "serve_checks"]

_SCAN = 16
"""Records looked at per step when finding the last stream position in the journal."""


def _scope(log: VenueLog) -> str:
    return f"stream:{log.stream}"


class Replica:
    """One replica's engine and its position in the stream (the last message applied)."""

    def __init__(self, backend: JournalBackend, log: VenueLog, *, snapshot_every: int = 10_000) -> None:
        self.backend = backend
        self.log = log
        self.snapshot_every = snapshot_every
        self.engine: DurableEngine | None = None
        self.position = 0
        """Stream sequence of the last message applied and committed."""
        self.committed = asyncio.Event()
        """Set (and replaced) at each commit: a check waiting for a position wakes on it."""
        if next(iter(backend.records(0)), None) is not None:
            self.engine = DurableEngine(backend, snapshot_every=snapshot_every, allow_new=False)
            self.position = _journaled_position(backend, self.engine.seq, _scope(log))
        self._applied = self.position

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

    def apply(self, seq: int, payload: bytes) -> None:
        """Apply stream message ``seq`` (the next one, or ``ClusterError``)."""
        if seq != self._applied + 1:
            raise ClusterError(f"stream {self.log.stream}: message {seq} arrived after {self._applied} (a gap)")
        message = decode_message(payload)
        if seq == 1:
            if message.config is None:
                raise ClusterError(f"stream {self.log.stream}: message 1 is not the venue's genesis")
            self.engine = DurableEngine(self.backend, message.config, snapshot_every=self.snapshot_every)
        elif message.command is None or self.engine is None:
            raise ClusterError(f"stream {self.log.stream}: message {seq} is a second genesis")
        else:
            self.engine.submit(message.command, RequestKey(_scope(self.log), str(seq)))
        self._applied = seq

    def commit(self) -> None:
        """Make every applied message durable; the position moves only then."""
        if self.engine is not None:
            self.engine.flush()
        self.position = self._applied
        self.committed.set()
        self.committed = asyncio.Event()

    def state_hash(self) -> str:
        if self.engine is None:
            raise ClusterError("the replica has applied no genesis yet")
        return self.engine.state_hash()

    def check(self, cmd: c.Command) -> CommandResult:
        if self.engine is None:
            raise ClusterError("the replica has applied no genesis yet")
        return self.engine.check(cmd)


def _journaled_position(backend: JournalBackend, last_seq: int, scope: str) -> int:
    """The stream sequence of the newest journaled command (1: the genesis only)."""
    high = last_seq
    while high >= 1:
        low = max(1, high - _SCAN + 1)
        for stored in reversed(list(backend.records_at(list(range(low, high + 1))))):
            record = decode_record(stored.payload)
            if record.kind == "command":
                if record.request is None or record.request.scope != scope:
                    raise ClusterError(f"journal record {record.seq} did not come from stream "
                                       f"{scope.removeprefix('stream:')}: not a replica's journal")
                return int(record.request.key)
            if record.kind == "params":
                raise ClusterError(f"journal record {record.seq} is a parameter change: not a replica's journal")
        high = low - 1
    return 1


def result_json(seq: int, result: CommandResult) -> dict[str, Any]:
    """A check's answer: the stream position it was read at, and the engine's result."""
    return {"accepted": result.accepted, "denial": None if result.denial is None else result.denial.to_json(),
            "events": [event_to_json(e) for e in result.events], "seq": seq}


async def follow(replica: Replica, client: Client, *, stop_at: int | None = None, batch: int = 512,
                 on_commit: Callable[[Replica], None] | None = None) -> None:
    """Apply the stream from the replica's position on; return once ``stop_at`` is applied
    (never, without it)."""
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    js = client.jetstream()
    first = await js.get_msg(replica.log.stream, 1)
    replica.check_genesis(first.data or b"")
    sub = await js.pull_subscribe(
        replica.log.subject, durable=None, stream=replica.log.stream,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=replica.position + 1,
                              ack_policy=AckPolicy.NONE, inactive_threshold=30.0))
    try:
        while stop_at is None or replica.position < stop_at:
            try:
                msgs = await sub.fetch(batch, timeout=0.5)
            except (TimeoutError, NatsTimeout):
                continue
            for msg in msgs:
                assert msg.metadata.sequence is not None
                replica.apply(int(msg.metadata.sequence.stream), msg.data)
            replica.commit()
            if on_commit is not None:
                on_commit(replica)
    finally:
        with contextlib.suppress(Exception):  # the connection may be gone already (a cancelled follower)
            await sub.unsubscribe()


CHECK_WAIT_S = 5.0
"""How long a check waits for its replica to reach the sequence it names."""


async def serve_checks(replica: Replica, client: Client) -> None:
    """Answer pre-trade checks on the venue's check subject (one replica per request): the
    request is ``{"input": <command>, "min_seq": n}``; the answer is read at a position ``≥ n``
    (``result_json``), or ``{"error": …}``."""

    async def answer(msg: Msg) -> None:
        try:
            raw = loads_strict(msg.data)
            if not isinstance(raw, dict) or sorted(raw) != ["input", "min_seq"] or not isinstance(
                    raw["min_seq"], int) or isinstance(raw["min_seq"], bool) or raw["min_seq"] < 0:
                raise ClusterError("a check is {input: <command>, min_seq: <stream sequence >= 0>}")
            cmd = decode_message(canonical_json({"input": raw["input"], "kind": "command"})).command
            assert cmd is not None
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

    await client.subscribe(replica.log.check_subject, queue="replicas", cb=answer)
