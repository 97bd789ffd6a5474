"""The error answers of each route, in the OpenAPI document (``/openapi.json``): a client
generated from the schema learns the statuses docs/api.md's table gives, not only 200 and the
400 Litestar adds for a malformed request.

Which statuses a route lists is read from the route itself (``documented``): a route that takes
the caller (``principal``) can answer 401 (no key or a wrong one), 403 (not this key's) and 429
(over the key's rate); one with a path parameter 404 (an unknown account, symbol or
checkpoint); one that is not a ``GET`` (it takes a body, or changes the state) 413, 415, 422
(the engine's refusal or the service's) and 500 (a failure inside the engine, rolled back), and
503 (the journal failed, or the service is closing) where it reaches the venue. A route may
list a status it gives rarely (403 where any key will do); none that it gives is missing."""

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
    401: "UNAUTHORIZED: no key, or a wrong one",
    403: "FORBIDDEN: another account's data, or a route this key's role may not use",
    404: "UNKNOWN_ACCOUNT, UNKNOWN_SYMBOL or NOT_FOUND",
    413: "BODY_TOO_LARGE: a body over 64 KiB",
    415: "UNSUPPORTED_MEDIA_TYPE: a body not application/json in UTF-8",
    422: "the engine refused the command (its DenyCode), or the service did (IDEMPOTENCY_KEY_REUSED, "
         "INVALID_PARAMS, PARAMS_INCOMPATIBLE): state unchanged, nothing journaled",
    429: "RATE_LIMITED: over the key's rate (Retry-After)",
    500: "INTERNAL_ERROR: a failure inside the engine; the command was rolled back",
    503: "JOURNAL_FAILED or VENUE_CLOSED (Retry-After)",
}


def _statuses(handler: HTTPRouteHandler) -> list[int]:
    params = inspect.signature(handler.fn).parameters
    codes: set[int] = set()
    if "principal" in params:
        codes |= {401, 403, 429}
    if any("{" in path for path in handler.paths):
        codes.add(404)
    if any(method != "GET" for method in handler.http_methods):
        codes |= {413, 415, 422, 500} | ({503} if "svc" in params else set())
    return sorted(codes)


def documented(handlers: Sequence[Any]) -> list[Any]:
    """``handlers`` (a router's), each HTTP route given its error answers (module docstring);
    call it before the router is built (Litestar reads ``responses`` when it registers them)."""
    for handler in handlers:
        if isinstance(handler, HTTPRouteHandler):
            own = dict(handler.responses or {})
            for code in _statuses(handler):
                own.setdefault(code, ResponseSpec(data_container=ErrorAnswer, description=_WHY[code]))
            handler.responses = own
    return list(handlers)
