"""``solvent serve --cluster``: the HTTP service as one more follower of the venue's log.

A service started with ``--cluster`` is not the venue's writer: the venue's log (a NATS
JetStream stream, ``cluster/log.py``) is. Every state-changing request is published to the
log, and it is acknowledged by JetStream once stored. The server follows the log like a
replica, with its own journal, and applies every message in stream order. That includes the
messages other servers and ``cluster submit`` published. It answers a request once it has
applied the message that request became, with that command's own result and events. So
several servers behind one address hold the same state after the same message. Each one
answers its own writes from a state that includes them, and streams every command's events
in log order, whoever published it.

Idempotency across servers: a request with an ``Idempotency-Key`` is published under a
message id derived from the caller and the key. JetStream stores a retry within the
stream's duplicate window (two minutes, unless ``cluster init --duplicate-window`` made it
longer) once, on any server; past it, every server knows the ids of the newest messages it
applied (``remember`` of them, journaled with each command's position, so across restarts
too) and answers a retry without publishing it again. The answer is the first message's: its
result if the same command, 422 ``IDEMPOTENCY_KEY_REUSED`` if another. A refused first
message frees the key, as on one service: the retry is published again under an id chained
to it. A retry whose first message is no longer kept but still in JetStream's window gets 409
``ANSWER_NOT_KEPT`` (the same request: decided once, and the state shows it) or 422.

A request the log does not acknowledge within ``TRANSIENT_PATIENCE_S`` is answered 503
``LOG_UNAVAILABLE``: it may or may not have been stored (an acknowledgement lost is not a
message lost), so the answer says to retry with the same key within the window. A message stored
but not applied here within ``APPLY_WAIT_S`` is answered 503 ``NOT_APPLIED_YET``: it will be
applied, so retry with the same key to get its answer. A server that loses the log for good
stops (503 ``LOG_LOST`` for reads and writes) and is restarted. It then resumes from its
journal, as a replica does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from solvent.cluster.log import (
    DUPLICATE_WINDOW_S,
    TRANSIENT_PATIENCE_S,
    ClusterError,
    VenueLog,
    encode_command_message,
    patiently,
    publish_once,
    stream_last,
    stream_window,
    window_words,
)
from solvent.cluster.replica import Replica, follow
from solvent.engine import Command, CommandResult
from solvent.journal.codec import RequestKey
from solvent.service.errors import ApiError, IdempotencyKeyReused, VenueUnavailable
from solvent.service.venue import Submitted, Venue

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

__all__ = ["APPLY_WAIT_S", "LogSequencer", "catch_up", "log_begun", "message_id"]

log = logging.getLogger("solvent.service")

APPLY_WAIT_S = 10.0
"""How long a request waits for this server to apply the message it became."""
CONNECT_WAIT_S = TRANSIENT_PATIENCE_S
"""How long a request waits for the server's first connection to the log."""


def message_id(request: RequestKey | None) -> str:
    """The ``Nats-Msg-Id`` a request is published under: from the caller and its
    ``Idempotency-Key`` (the same on every server, so JetStream stores a retry once), else a
    new random one."""
    if request is None:
        return uuid.uuid4().hex
    return KEYED + hashlib.sha256(f"{request.scope}\0{request.key}".encode()).hexdigest()


KEYED = "k-"
"""How a keyed request's message id begins (``message_id``); a retry of one whose first message
was refused goes out as ``<id>/<that message's sequence>`` (``chained``). Other publishers' ids
(``cluster submit``'s ``<prefix>:<line>``, random ones) are never read as keyed."""


def chained(msg_id: str, refused_at: int) -> str:
    """The id a keyed request is published under again after its message ``refused_at`` was refused."""
    return f"{msg_id}/{refused_at}"


def refused_links(msg_id: str) -> list[tuple[str, int]]:
    """For a keyed id published after refusals (``chained``), each earlier id in its chain and the
    message it was refused at: ``k-X/5/9`` → ``[("k-X", 5), ("k-X/5", 9)]``; ``[]`` for any other id."""
    if not msg_id.startswith(KEYED):
        return []
    root, *links = msg_id.split("/")
    if not all(link.isascii() and link.isdigit() for link in links):
        return []
    out, at = [], root
    for link in links:
        out.append((at, int(link)))
        at = f"{at}/{link}"
    return out


async def log_begun(client: Client, log: VenueLog) -> int:
    """The last sequence of the venue's stream; ``ClusterError`` for a stream that does not
    exist or holds no genesis yet: ``solvent cluster init`` begins a venue."""
    last = await stream_last(client.jetstream(), log)
    if not last:
        raise ClusterError(f"stream {log.stream} {'holds no genesis' if last == 0 else 'does not exist'}: "
                           f"begin the venue with `solvent cluster init --venue {log.venue}`")
    return last


async def catch_up(replica: Replica, client: Client) -> int:
    """Apply the venue's log up to its current end (the server's start, before it takes
    requests); the position reached (``log_begun`` refuses a venue not begun)."""
    await follow(replica, client, stop_at=await log_begun(client, replica.log))
    return replica.position


def _unacknowledged(exc: Exception, request: RequestKey | None, window_s: float) -> str:
    """What a client is told when the log did not acknowledge its write."""
    again = (f"retry with the same Idempotency-Key within {window_words(window_s)}: it is stored once, and you get "
             "its answer" if request is not None else
             "this request had no Idempotency-Key: read the state before sending it again")
    return (f"the venue's log did not acknowledge the command ({type(exc).__name__}: {exc}); it may or may not "
            f"have been stored: {again}")


_REFUSED = Submitted(None, CommandResult(False, ()), (), 0)
"""The answer a server rebuilt from its journal knows of a message that was refused (only that:
it is chained past, never given as an answer)."""


class LogSequencer:
    """A venue's ``Sequencer`` on its log: ``submit`` publishes and waits for the answer,
    ``run`` follows the log and applies every message through the venue (module docstring)."""

    def __init__(self, venue: Venue, replica: Replica, *, remember: int = 100_000,
                 apply_wait_s: float = APPLY_WAIT_S) -> None:
        self.venue, self.replica, self.log = venue, replica, replica.log
        self.remember = remember
        self.apply_wait_s = apply_wait_s
        self.window_s = DUPLICATE_WINDOW_S
        """The stream's duplicate window (read when ``run`` connects): how long a key holds."""
        self._js: JetStreamContext | None = None
        self._connected: asyncio.Event | None = None
        self._waiting: dict[int, asyncio.Future[tuple[Submitted, bytes | None]]] = {}
        self._answers: OrderedDict[int, tuple[Submitted, bytes | None]] = OrderedDict()
        """Per stream sequence, recent answers and the digest of the message's bytes (``None``:
        not at hand, rebuilt from the journal; read from the log when needed)."""
        self._keyed: OrderedDict[str, int] = OrderedDict()
        """Message id → stream sequence of the newest messages applied (journaled ones kept across
        restarts: ``Venue.logged``). A key retried after the log's duplicate window is found here."""
        for seq, msg_id, submitted in venue.logged:
            for earlier, refused_at in refused_links(msg_id):  # refusals are not journaled: known from the chain
                self._keyed[earlier] = refused_at
                self._answers.setdefault(refused_at, (_REFUSED, None))
            self._keyed[msg_id] = seq
            self._answers[seq] = (submitted, None)

    def _event(self) -> asyncio.Event:
        if self._connected is None:
            self._connected = asyncio.Event()
        return self._connected

    async def submit(self, cmd: Command, request: RequestKey | None) -> Submitted:
        js = await self._jetstream()
        payload = encode_command_message(cmd)
        digest = hashlib.sha256(payload).digest()
        msg_id = message_id(request)
        while True:
            known = self._keyed.get(msg_id) if request is not None else None
            if known is None and request is not None:  # this server may be behind the log: look again once caught up
                await self.caught_up()
                known = self._keyed.get(msg_id)
            if known is not None:  # applied here under this id, perhaps before the log's window: not sent again
                seq, duplicate = known, True
            else:
                try:
                    seq, duplicate = await publish_once(js, self.log, payload, msg_id, self._patience())
                except Exception as exc:  # no acknowledgement: stored or not, nobody can tell from here
                    raise VenueUnavailable("LOG_UNAVAILABLE", _unacknowledged(exc, request, self.window_s)) from None
            submitted, first = await self._answer(seq, request, digest)
            if request is None:
                return submitted
            if submitted.command_seq is None and duplicate:
                # the key's first message was refused: it changed nothing and the key is free, as on
                # one service. Judged again, under an id chained to that message, which every server
                # derives alike (so a retry that reaches another server meanwhile is stored once)
                msg_id = chained(msg_id, seq)
                continue
            if first is None:  # an answer rebuilt from the journal: the log holds the message's bytes
                first = await self._stored_digest(seq)
            if first != digest:
                raise IdempotencyKeyReused(request.key, submitted.command_seq)
            return submitted

    async def _answer(self, seq: int, request: RequestKey | None, digest: bytes) -> tuple[Submitted, bytes | None]:
        """The answer of log message ``seq`` and the digest of its bytes, once this server has
        applied it."""
        answer = self._answers.get(seq)
        if answer is not None:
            return answer
        self.venue.check_open()  # the follower stopped (``LOG_LOST``): nothing more is applied here
        if seq <= self.replica.position:  # applied before this server kept answers (a restart), or pushed out
            first = await self._stored_digest(seq)
            if request is not None and first != digest:
                raise IdempotencyKeyReused(request.key, None)
            raise ApiError(409, "ANSWER_NOT_KEPT", stream_seq=seq,
                           detail=f"this Idempotency-Key first came with this same request, as log message {seq} "
                                  "(a stream position, not a journal record); this server no longer keeps its "
                                  "answer: read the state, it was decided once")
        future = self._waiting.get(seq)
        if future is None:
            future = self._waiting[seq] = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.apply_wait_s)
        except TimeoutError:
            again = ("retry with the same Idempotency-Key for its answer" if request is not None else
                     "it has no Idempotency-Key, so sending it again would apply it twice: read the state")
            raise VenueUnavailable("NOT_APPLIED_YET", f"stored as log message {seq}, not yet applied by this "
                                   f"server after {self.apply_wait_s:g} s; it will be: {again}") from None

    async def _stored_digest(self, seq: int) -> bytes:
        """The digest of log message ``seq`` as the stream holds it (``LOG_UNAVAILABLE`` if NATS
        cannot say)."""
        js = await self._jetstream()
        try:
            stored = await patiently(lambda: js.get_msg(self.log.stream, seq))
        except Exception as exc:
            raise VenueUnavailable("LOG_UNAVAILABLE", f"the venue's log could not be read ({type(exc).__name__}: "
                                   f"{exc}); nothing was applied by this request: retry") from None
        return hashlib.sha256(stored.data or b"").digest()

    def _patience(self) -> float:
        """How long a publish is sent again through a lost NATS server: within half the stream's
        duplicate window, so every attempt is stored once (past it, each would be a new message)."""
        return min(TRANSIENT_PATIENCE_S, self.window_s / 2)

    async def caught_up(self) -> None:
        """Wait (at most ``apply_wait_s``) until this server has applied every message the log
        holds now; the log unreachable, or the wait over, it returns all the same: the caller
        then answers from the state it has."""
        js = await self._jetstream()
        try:
            last = await asyncio.wait_for(stream_last(js, self.log), self.apply_wait_s)
        except Exception:  # the log cannot say: answer from what this server holds
            return
        deadline = asyncio.get_running_loop().time() + self.apply_wait_s
        while last is not None and self.replica.position < last and self.venue.failure is None:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.replica.committed.wait(), left)

    async def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            try:
                await asyncio.wait_for(self._event().wait(), CONNECT_WAIT_S)
            except TimeoutError:
                raise VenueUnavailable("LOG_UNAVAILABLE", "this server has not reached the venue's log yet; "
                                       "nothing was applied: retry") from None
        self.venue.check_open()  # stopped meanwhile (``LOG_LOST``)
        assert self._js is not None
        return self._js

    async def apply_batch(self, batch: list[tuple[int, bytes, str | None]]) -> None:
        """One fetched batch of the log, applied through the venue in order (``follow``); each
        command journaled with its position and message id (``Replica.key``)."""
        cmds: list[Command] = []
        taken: list[tuple[int, bytes, str | None]] = []
        for seq, payload, msg_id in batch:
            command, skipped = self.replica.take(seq, payload)
            if command is None:
                log.warning("log message skipped", extra={"stream_seq": seq, "reason": skipped})
                continue
            cmds.append(command)
            taken.append((seq, hashlib.sha256(payload).digest(), msg_id))
        keys = [self.replica.key(seq, msg_id) for seq, _, msg_id in taken]
        answers = await self.venue.apply_logged(cmds, keys) if cmds else []
        self.replica.moved()
        for (seq, digest, msg_id), submitted in zip(taken, answers, strict=True):
            self._answers[seq] = (submitted, digest)
            if msg_id is not None:
                self._keyed[msg_id] = seq
            future = self._waiting.pop(seq, None)
            if future is not None and not future.done():
                future.set_result((submitted, digest))
        while len(self._answers) > self.remember:
            self._answers.popitem(last=False)
        while len(self._keyed) > self.remember:
            self._keyed.popitem(last=False)

    async def run(self, connect: Callable[[], Any]) -> None:
        """Follow the log until cancelled (the app's shutdown). A log lost for good stops the
        venue: commands and reads are refused (503 ``LOG_LOST``) until a restart."""
        client = None
        try:
            client = await connect()
            js = client.jetstream()
            self.window_s = await stream_window(js, self.log)
            self._js = js
            self._event().set()
            await follow(self.replica, client, apply_batch=self.apply_batch, notice=log.info)
        except Exception as exc:  # the log lost for good, never reached, the journal failed
            self._stop(exc)
        finally:
            if client is not None:
                await client.close()

    def _stop(self, exc: BaseException) -> None:
        venue = self.venue
        if venue.failure is None:  # a journal failure says so itself
            venue.stopped = (f"this server stopped following the venue's log ({type(exc).__name__}: {exc}); "
                             "restart it")
            venue.failure = exc
        log.error("stopped following the venue's log", exc_info=exc)
        self._event().set()  # requests waiting for the first connection: refused now (``_jetstream``)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(VenueUnavailable("LOG_LOST", venue.stopped or str(exc)))
        self._waiting.clear()

