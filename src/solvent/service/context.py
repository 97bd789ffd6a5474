"""What every route works with: the ``Service`` (venue, keys, limits) and the caller."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency

from solvent.service.checkpoints import LogPublisher
from solvent.service.errors import ApiError
from solvent.service.keys import KeyStore, Principal
from solvent.service.ratelimit import FAILED_AUTH_BURST, FAILED_AUTH_RATE_PER_S, RateLimiter, address_bucket
from solvent.service.venue import Venue
from solvent.text import ID_PATTERN, whole_number

__all__ = ["Caller", "Service", "Svc", "account_scope", "authenticate", "failed_auth_limiter", "presented_key",
           "service_of"]

ID_RE = re.compile(ID_PATTERN)
"""An account id: 1–64 of these characters, at least one a letter or digit (not ``.`` or ``..``)."""
ID_RULE = "account id must be 1-64 of [A-Za-z0-9_.:@-] with at least one letter or digit"
log = logging.getLogger("solvent.service")


def repeated_query_parameter(query_string: bytes) -> str | None:
    """The first query parameter named twice in ``query_string`` (after percent-decoding), or
    ``None``. Such a request is refused over HTTP (400) and on the stream (4400) alike: which
    value was meant is ambiguous, and frameworks differ (the first wins in one place, the last
    in another), so neither is taken."""
    if not query_string:
        return None
    seen: set[str] = set()
    for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name in seen:
            return name
        seen.add(name)
    return None


def repeated_query_refusal(name: str) -> ApiError:
    return ApiError(400, "INVALID_REQUEST", detail=f"query parameter {name or repr(name)} is given more than once")


def not_a_whole_number(query_string: bytes, names: frozenset[str]) -> ApiError | None:
    """400 for the first of ``names`` (a route's integer query parameters) whose value is not a
    whole number in ASCII digits without a leading zero (``010`` is refused, as Litestar does).
    The one rule for them over HTTP and on the stream: a framework would read ``1e1`` as 10,
    ``76.9999999999999999999`` as 77 (through a float), ``1_0`` or an Arabic-Indic digit as a
    number."""
    if not query_string or not names:
        return None
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name in names and whole_number(value) is None:
            return _not_whole("query", name, value)
    return None


def refuse_unless_whole_segment(path: str, name: str) -> None:
    """Raise 400 unless the last segment of ``path`` (the request's decoded path, whose last
    segment is the integer path parameter ``name``) is a whole number by the rule above:
    Litestar's ``{name:int}`` reads it with ``int()``, which takes ``1_0``, ``+10``, `` 10`` and
    other scripts' digits (``/v1/checkpoints/%D9%A3`` was checkpoint 3)."""
    value = path.rstrip("/").rsplit("/", 1)[-1]
    if whole_number(value) is None:
        raise _not_whole("path", name, value)


def _not_whole(where: str, name: str, value: str) -> ApiError:
    return ApiError(400, "INVALID_REQUEST",
                    detail=f"{where} parameter {name} must be a whole number in digits (no sign, point, exponent "
                           f"or leading zero), got {value[:40]!r}")


def failed_auth_limiter() -> RateLimiter:
    """The default budget of failed authentications per client address (burst 20, then 1 per second)."""
    return RateLimiter(FAILED_AUTH_RATE_PER_S, FAILED_AUTH_BURST)


@dataclass(slots=True)
class Service:
    venue: Venue
    keys: KeyStore
    limiter: RateLimiter = field(default_factory=RateLimiter)
    """Requests per API key, after authentication."""
    demo: dict[str, Any] = field(default_factory=dict)
    """Demo replay status (``running``, ``step``, ``steps``), empty when not a demo."""
    failed_auth: RateLimiter = field(default_factory=failed_auth_limiter)
    """Failed authentications per client address (``address_bucket``), spent only by failures."""
    checkpoints: LogPublisher | None = None
    """Signs and keeps the journal's checkpoints (``serve --checkpoint-key``); ``None``: off."""


Svc = NamedDependency[Service]
"""A handler parameter ``svc: Svc`` receives the running service."""
Caller = NamedDependency[Principal]
"""A handler parameter ``principal: Caller`` receives the authenticated, rate-limited caller."""


def service_of(state: State) -> Service:
    return cast(Service, state["service"])


def keys_given(raw_headers: Iterable[tuple[bytes, bytes]]) -> int:
    """How many API keys a request's raw (ASGI) headers present: each ``X-API-Key`` line and each
    ``Authorization: Bearer`` line. More than one is refused (400 over HTTP, 4400 on the stream):
    which one is meant is ambiguous, and the first was taken silently (found by a new-user pass)."""
    return sum(1 for name, value in raw_headers
               if (lowered := name.lower()) == b"x-api-key"
               or (lowered == b"authorization" and value[:7].lower() == b"bearer "))


TWO_KEYS = "a request presents one API key: X-API-Key or Authorization: Bearer, once"


def presented_key(headers: Any) -> str | None:
    """``X-API-Key: <key>`` or ``Authorization: Bearer <key>``."""
    key = headers.get("x-api-key")
    if key:
        return str(key)
    auth = headers.get("authorization")
    if auth and str(auth).lower().startswith("bearer "):
        return str(auth)[7:].strip()
    return None


def _rate_limited(wait_s: float, **context: Any) -> ApiError:
    """429 with ``Retry-After``: the wait in whole seconds, rounded up (at least 1)."""
    return ApiError(429, "RATE_LIMITED", {"Retry-After": str(max(1, math.ceil(wait_s)))},
                    retry_after_s=f"{wait_s:.3f}", **context)


def authenticate(svc: Service, key: str | None, client: str | None) -> Principal:
    """The caller behind ``key``, calling from the address ``client``, rate-limited.

    In this order: 429 while ``client``'s address has spent its failed-authentication budget
    (the key is not looked at, so a good guess and a bad one get the same answer and a key
    cannot be brute-forced); 401 for a missing or wrong key, which spends one token of that
    budget; 429 over the key's own rate.
    """
    address = address_bucket(client)
    wait_s = svc.failed_auth.wait(address)
    if wait_s is not None:
        raise _rate_limited(wait_s, detail="too many failed authentications from this address")
    principal = svc.keys.authenticate(key)
    if principal is None:
        svc.failed_auth.take(address)
        raise ApiError(401, "UNAUTHORIZED", {"WWW-Authenticate": "Bearer"},
                       detail="missing or wrong API key (X-API-Key or Authorization: Bearer)")
    wait_s = svc.limiter.take(principal.key_id)
    if wait_s is not None:
        raise _rate_limited(wait_s)
    return principal


async def provide_principal(request: Request[Any, Any, Any], svc: Svc) -> Principal:
    """The caller. It takes ``svc`` so that Litestar resolves the two one after the other:
    dependencies it finds independent are resolved in an anyio task group, a task per
    dependency per request (a fifth of a read's CPU before). A read naming a journal record
    (``Solvent-Min-Seq``) then waits for it (``read_at_least``), once its caller is known."""
    client = request.client.host if request.client is not None else None
    principal = authenticate(svc, presented_key(request.headers), client)
    if request.method == "GET" or (request.method == "POST" and request.url.path.endswith("/what-if")):
        await read_at_least(svc, request.headers, principal, request.path_params.get("account_id"))
    return principal


MIN_SEQ_HEADER = "solvent-min-seq"
"""The request header a read names the journal record it must see with (``read_at_least``)."""


async def read_at_least(svc: Service, headers: Any, principal: Principal, account_id: str | None = None) -> None:
    """A read with ``Solvent-Min-Seq: N`` is answered from a state that includes journal record
    ``N`` (``Venue.at_least``): a client that wrote on one ``serve --cluster`` server (its answer's
    ``command_seq``) reads its own write on another. 400 for anything but a whole number (the
    header given twice is refused before: ``MIN_SEQ_TWICE``). A read of an account the caller's
    key may not see does not wait: its handler refuses it at once (403)."""
    raw = headers.get(MIN_SEQ_HEADER)
    if raw is None:
        return
    seq = whole_number(str(raw))
    if seq is None:
        shown = str(raw) if len(str(raw)) <= 40 else f"{str(raw)[:40]}…"
        raise ApiError(400, "INVALID_REQUEST", detail=f"Solvent-Min-Seq must be a whole number from 0 to "
                                                      f"{10 ** 19 - 1} (a journal record's seq, as a write's "
                                                      f"command_seq), got {shown!r}")
    if account_id is not None and not principal.may_access(account_id):
        return
    await svc.venue.at_least(seq)


MIN_SEQ_TWICE = "the Solvent-Min-Seq header is given more than once; a read names one journal record"


def repeats_min_seq(raw_headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a request's raw (ASGI) headers give ``Solvent-Min-Seq`` more than once (refused:
    the first was taken silently, and a proxy's lower value read a state before the write)."""
    return sum(1 for name, _ in raw_headers if name.lower() == b"solvent-min-seq") > 1


async def provide_service(request: Request[Any, Any, Any]) -> Service:
    return service_of(request.app.state)


def require_operator(principal: Principal) -> None:
    if not principal.is_operator:
        raise ApiError(403, "FORBIDDEN", detail="operator key required")


def refuse_unless_id(value: str, what: str = "account id") -> None:
    """400 unless ``value`` is an id (``text.ID_PATTERN``: the one rule for ids in a body and in a path)."""
    if not ID_RE.match(value):
        raise ApiError(400, "INVALID_REQUEST", detail=ID_RULE.replace("account id", what, 1))


async def funds_scope(svc: Service, principal: Principal, account_id: str, must_exist: bool = True) -> None:
    """Deposits and withdrawals: 400 for a malformed id, 403 unless treasury or operator."""
    refuse_unless_id(account_id)
    if not principal.may_move_funds:
        raise ApiError(403, "FORBIDDEN", detail="deposits and withdrawals need a treasury or operator key")
    if must_exist and not await svc.venue.account_known(account_id):
        raise ApiError(404, "UNKNOWN_ACCOUNT", account=account_id)


async def account_scope(svc: Service, principal: Principal, account_id: str, must_exist: bool = True) -> None:
    """400 for a malformed id, 403 for another account's key, 404 for an unknown account."""
    refuse_unless_id(account_id)
    if not principal.may_access(account_id):
        raise ApiError(403, "FORBIDDEN", detail="this key may not access that account")
    if must_exist and not await svc.venue.account_known(account_id):
        raise ApiError(404, "UNKNOWN_ACCOUNT", account=account_id)
