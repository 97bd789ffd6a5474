"""WebSocket ``/v1/stream``: live events, per account or the whole venue, resumable.

Query: ``from_seq`` (send every kept event with ``seq ≥ from_seq`` first; default: only new
ones), ``account`` (an operator may narrow to one account; an account key always gets its
own). Authentication: ``X-API-Key`` / ``Authorization: Bearer`` on the upgrade request, or,
for browsers, a first message ``{"type": "auth", "key": "..."}`` within 10 s.

Server messages: ``{"type": "hello", "head_seq", "from_seq", "account"}``, then
``{"type": "event", "seq", "command_seq", "time_ms", "event": {...}}``. Close codes: 4400 bad
query (a parameter given twice included), 4401 bad key, 4403 another account, 4404 an unknown
account, 4410 ``from_seq`` no longer kept, 4429 rate
limited, 4008 the client fell too far behind (reconnect with ``from_seq`` = last seq + 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from solvent.errors import InvalidInput
from solvent.jsonstrict import loads_strict
from solvent.service.context import (
    ID_RE,
    TWO_KEYS,
    authenticate,
    keys_given,
    not_a_whole_number,
    presented_key,
    repeated_query_parameter,
    repeated_query_refusal,
    service_of,
)
from solvent.service.errors import ApiError
from solvent.service.eventlog import MAX_SEQ, EventLog, Subscription
from solvent.service.fanout import Attached, Fanout
from solvent.service.keys import KeyStore, Principal
from solvent.service.ws_frames import RawStream

_INTEGERS = frozenset({"from_seq"})
"""The stream's integer query parameters (``not_a_whole_number``)."""

__all__ = ["stream"]

AUTH_TIMEOUT_S = 10.0


async def _refuse(socket: WebSocket[Any, Any, Any], code: int, error: str, **context: Any) -> None:
    await socket.send_json({"type": "error", "code": error, **context})
    await socket.close(code=code, reason=error)


async def _key_from_first_message(socket: WebSocket[Any, Any, Any]) -> str | None:
    """The key of a first message ``{"type": "auth", "key": …}``, read as every body is
    (``jsonstrict``: a duplicate key is refused, not read as its last value), or ``None`` (the
    stream then closes 4401): text that is not JSON closed the stream with 4500, a code the
    close-code table does not have (found by a new-user pass)."""
    try:
        text = await asyncio.wait_for(socket.receive_text(), AUTH_TIMEOUT_S)
        first = loads_strict(text, "the stream's auth message")
    except (TimeoutError, InvalidInput):
        return None
    if isinstance(first, dict) and first.get("type") == "auth" and isinstance(first.get("key"), str):
        return str(first["key"])
    return None


BACKLOG_PAGE = 1_000
"""Backlog events read from the log per step (the client's sends interleave between pages)."""


STALLED_S = 10.0
"""A subscriber whose client has not read its buffered frames for this long is closed 4008
``LAGGING`` (its memory is the transport's buffer: bounded)."""

KEY_RECHECK_S = 1.0
"""How often an open stream checks that its key is still in force (a revoked key is closed 4401)."""


class _KeyCheck:
    """Whether the stream's key is still the one it connected with, asked at most once a second."""

    def __init__(self, keys: KeyStore, key: str | None, principal: Principal) -> None:
        self.keys, self.key, self.principal = keys, key, principal
        self.checked_at = time.monotonic()

    def revoked(self) -> bool:
        now = time.monotonic()
        if now - self.checked_at < KEY_RECHECK_S:
            return False
        self.checked_at = now
        return self.keys.authenticate(self.key) != self.principal


async def _attached_while_key_holds(attached: Attached, key: _KeyCheck) -> bool:
    """Wait until the fan-out hands the subscriber back (``True``), checking once a second
    that its key still holds (``False``: revoked)."""
    while True:
        done, _ = await asyncio.wait({attached.handed_back}, timeout=KEY_RECHECK_S)
        if done:
            return True
        if key.revoked():
            return False


async def _end(socket: WebSocket[Any, Any, Any], raw: RawStream | None, code: int, error: str,
               **context: Any) -> None:
    """``_refuse`` from the pump: on a raw connection without waiting for the client to read
    (``RawStream.abort``: a stalled client must not hold the pump in a send)."""
    if raw is None:
        await _refuse(socket, code, error, **context)
    else:
        raw.abort(code, error, json.dumps({"type": "error", "code": error, **context}).encode())


async def _pump(socket: WebSocket[Any, Any, Any], events: EventLog, sub: Subscription, from_seq: int,
                backlog_end: int, key: _KeyCheck, fanout: Fanout | None = None, raw: RawStream | None = None) -> None:
    """Send the subscriber's events from ``from_seq`` on, backlog then live, read page by page
    from the log (``EventLog.since``); ``scanned``: every event up to it has been looked at.
    ``raw``: the connection takes pre-built frames (``ws_frames.RawStream``); caught up, it then
    hands the live events to ``fanout`` (``service/fanout.py``) until the fan-out hands it back
    (closed, or a slow reader)."""
    last = scanned = from_seq - 1
    while True:
        if key.revoked():
            await _end(socket, raw, 4401, "UNAUTHORIZED", detail="the key was revoked")
            return
        if events.lost_after(scanned, sub.account_id):  # retention dropped one of its events unsent
            await _end(socket, raw, 4410, "RESUME_TOO_OLD", first_seq=events.first_seq)
            return
        head = events.head_seq
        # live, and more than queue_size of its own events behind (others' events never count)
        if scanned >= backlog_end and events.visible_after(scanned, sub.account_id) > events.queue_size:
            await _end(socket, raw, 4008, "LAGGING", resume_from_seq=last + 1)
            return
        # chosen with no await since ``head`` was read (events older than memory are then read
        # in a worker thread); a from_seq past the head keeps its place
        page = await events.read(scanned + 1, sub.account_id, None, BACKLOG_PAGE)
        scanned = page[-1].seq if len(page) == BACKLOG_PAGE else max(head, scanned)
        if raw is not None and page:  # frames built once for every subscriber, the page in one write
            if not await raw.wait_writable(STALLED_S):
                await _end(socket, raw, 4008, "LAGGING", resume_from_seq=last + 1)
                return
            if not raw.open():
                return  # the connection closed: the drain task sees why
            raw.write_now(b"".join(event.seen_by(sub.account_id).frame() for event in page))
            last = page[-1].seq
        else:
            for event in page:
                await socket.send_data(event.seen_by(sub.account_id).message(), mode="text")  # encoded once
                last = event.seq
        if not page or scanned == head:
            if fanout is not None and raw is not None and scanned >= events.head_seq and raw.writable():
                attached = fanout.attach(sub.account_id, raw, scanned, last)  # no await since the head was read
                try:
                    holds = await _attached_while_key_holds(attached, key)
                finally:
                    fanout.detach(attached)
                if not holds:
                    await _end(socket, raw, 4401, "UNAUTHORIZED", detail="the key was revoked")
                    return
                scanned, last = attached.scanned, attached.sent
                if not raw.open():
                    return  # the connection closed: the drain task sees why
                continue
            await events.wait_after(scanned, KEY_RECHECK_S, sub.account_id)


async def _drain_client(socket: WebSocket[Any, Any, Any]) -> None:
    """Read (and ignore) client messages until the client goes away."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await socket.receive_data(mode="text")


@websocket("/v1/stream")
async def stream(socket: WebSocket[Any, Any, Any]) -> None:
    svc = service_of(socket.app.state)
    await socket.accept()
    if keys_given(socket.scope["headers"]) > 1:
        await _refuse(socket, 4400, "INVALID_REQUEST", detail=TWO_KEYS)
        return
    key = presented_key(socket.headers) or await _key_from_first_message(socket)
    try:
        principal = authenticate(svc, key, socket.client.host if socket.client is not None else None)
    except ApiError as refused:
        await _refuse(socket, 4401 if refused.status == 401 else 4429, refused.code)
        return
    twice = repeated_query_parameter(socket.scope["query_string"])
    if twice is not None:
        await _refuse(socket, 4400, "INVALID_REQUEST", **repeated_query_refusal(twice).context)
        return
    query = socket.query_params
    events = svc.venue.events
    bad = not_a_whole_number(socket.scope["query_string"], _INTEGERS)
    if bad is not None:  # the HTTP history's rule: 1e1, 1_0, +5 or an Arabic-Indic digit is no from_seq
        await _refuse(socket, 4400, "INVALID_REQUEST", **bad.context)
        return
    from_seq = int(query.get("from_seq", events.head_seq + 1))
    if "account" in query and not query.get("account"):  # an empty ?account= is not the whole venue
        await _refuse(socket, 4400, "INVALID_REQUEST", detail="account is empty: name one, or leave it out")
        return
    account = query.get("account") or principal.event_scope
    if not 0 <= from_seq <= MAX_SEQ or (account and not ID_RE.match(account)):
        # as the history pages refuse it (a typo's from_seq far past any event waited in silence)
        await _refuse(socket, 4400, "INVALID_REQUEST", detail=f"bad from_seq (0 to {MAX_SEQ}) or account")
        return
    if account and not principal.may_access(account):
        await _refuse(socket, 4403, "FORBIDDEN")
        return
    if query.get("account") and account not in svc.venue.engine.state.accounts:  # as its HTTP history is 404
        # (an account key's own stream, before its first deposit, follows the public events as before)
        await _refuse(socket, 4404, "UNKNOWN_ACCOUNT", account=account)
        return
    from_seq = max(from_seq, 1)  # seqs start at 1: from 0 is from the start (as the HTTP history's default)
    if from_seq < events.first_seq and events.first_seq > 1:
        await _refuse(socket, 4410, "RESUME_TOO_OLD", first_seq=events.first_seq)
        return
    sub, backlog_end = events.subscribe(account)
    try:
        await socket.send_json({"type": "hello", "head_seq": events.head_seq, "from_seq": from_seq,
                                "account": account or None})
        pump = asyncio.create_task(_pump(socket, events, sub, from_seq, backlog_end,
                                         _KeyCheck(svc.keys, key, principal), svc.venue.fanout,
                                         RawStream.of(socket.scope)))
        drain = asyncio.create_task(_drain_client(socket))
        done, pending = await asyncio.wait({pump, drain}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await task
        for task in done:
            with contextlib.suppress(WebSocketDisconnect):
                task.result()
    finally:
        events.unsubscribe(sub)
