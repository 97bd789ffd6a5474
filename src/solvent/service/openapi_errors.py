"""The error answers of each route, in the OpenAPI document (``/openapi.json``): a client
generated from the schema learns the statuses docs/api.md's table gives, not only 200 and the
400 Litestar adds for a malformed request.

Which statuses a route lists is read from the route itself (``documented``): every route can
answer 400 (a malformed request; two ``Idempotency-Key`` headers, refused before routing); a
route that takes the caller (``principal``) 401 (no key or a wrong one), 403 (not this key's)
and 429 (over the key's rate); one with a path parameter, or that its router says looks
records up (``finds``: the checkpoints and proofs), 404; one that is not a ``GET`` (it takes a
body, or changes the state) 413, 415, 422 (the engine's refusal or the service's) and 500 (a
failure inside the engine, rolled back); one that reaches the venue (``svc``) 503 (the journal
failed, or the service is closing), reads too. A route may list a status it gives rarely (403
where any key will do); none that it gives is missing (``tests/test_service_api.py`` provokes
each on one route)"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec

__all__ = ["ErrorAnswer", "documented"]


@dataclass
class ErrorAnswer:
    """An error's body: its closed ``code``, and context fields that depend on it (``detail``,
    ``account``, ``journal_seq``, a denial's figures: docs/api.md, *Conventions*)."""

    code: str
    detail: str | None = None


_WHY = {
    400: "INVALID_REQUEST: a malformed body, query, id or Idempotency-Key (errors, detail)",
    401: "UNAUTHORIZED: no key, or a wrong one",
    403: "FORBIDDEN: another account's data, or a route this key's role may not use",
    404: "UNKNOWN_ACCOUNT, UNKNOWN_SYMBOL (a path's symbol) or NOT_FOUND, or a checkpoint or proof not published",
    413: "BODY_TOO_LARGE: a body over 64 KiB",
    415: "UNSUPPORTED_MEDIA_TYPE: a body not application/json in UTF-8",
    422: "the engine refused the command (its DenyCode), or the service did (IDEMPOTENCY_KEY_REUSED, "
         "INVALID_PARAMS, PARAMS_INCOMPATIBLE, an option expiry's STALE_MARKET_DATA): state unchanged, "
         "nothing journaled",
    429: "RATE_LIMITED: over the key's rate (Retry-After)",
    500: "INTERNAL_ERROR: a failure inside the engine; the command was rolled back",
    503: "JOURNAL_FAILED or VENUE_CLOSED (Retry-After)",
}


def _statuses(handler: HTTPRouteHandler, finds: bool) -> list[int]:
    params = inspect.signature(handler.fn).parameters
    codes: set[int] = {400}
    if "principal" in params:
        codes |= {401, 403, 429}
    if finds or any("{" in path for path in handler.paths):
        codes.add(404)
    if any(method != "GET" for method in handler.http_methods):
        codes |= {413, 415, 422, 500}
    if "svc" in params:
        codes.add(503)
    return sorted(codes)


def documented(handlers: Sequence[Any], *, finds: bool = False) -> list[Any]:
    """``handlers`` (a router's), each HTTP route given its error answers (module docstring;
    ``finds``: every route of the router may answer 404); call it before the router is built
    (Litestar reads ``responses`` when it registers them)."""
    for handler in handlers:
        if isinstance(handler, HTTPRouteHandler):
            own = dict(handler.responses or {})
            for code in _statuses(handler, finds):
                own.setdefault(code, ResponseSpec(data_container=ErrorAnswer, description=_WHY[code],
                                                  generate_examples=False))
            handler.responses = own
    return list(handlers)
