"""The Litestar application: routes, auth dependency, JSON errors, metrics, logs, dashboard."""

from __future__ import annotations

import asyncio
import contextlib
import decimal
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, MediaType, Request, Response, get
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Message, Receive, Scope, Send

from solvent.errors import InvalidInput
from solvent.jsonstrict import loads_strict
from solvent.service.commands_api import repeated_key
from solvent.service.context import (
    MIN_SEQ_TWICE,
    TWO_KEYS,
    Service,
    Svc,
    keys_given,
    not_a_whole_number,
    provide_principal,
    provide_service,
    repeated_query_parameter,
    repeated_query_refusal,
    repeats_min_seq,
    service_of,
)
from solvent.service.errors import ApiError, media_type_refusal
from solvent.service.jsonlog import AccessLog
from solvent.service.lean import MAX_BODY_BYTES, LeanRoutes
from solvent.service.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from solvent.service.openapi_bodies import closed_bodies
from solvent.service.routes_accounts import accounts_router
from solvent.service.routes_options import options_router
from solvent.service.routes_proofs import proofs_router
from solvent.service.routes_venue import venue_router
from solvent.service.schemas import explained
from solvent.service.stream import stream
from solvent.units import solvent_context

__all__ = ["create_app"]

log = logging.getLogger("solvent.service")


def _static_dir() -> Path:
    return Path(str(resources.files("solvent.service") / "static"))


def _json_error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(content=body, status_code=status, media_type=MediaType.JSON, headers=headers)


def _on_api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return _json_error(exc.status, exc.body(), exc.headers)


def _on_validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    return _json_error(400, {"code": "INVALID_REQUEST", "detail": exc.detail, "errors": exc.extra or []})


def _on_http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "BODY_TOO_LARGE", 401: "UNAUTHORIZED",
             415: "UNSUPPORTED_MEDIA_TYPE", 403: "FORBIDDEN", 429: "RATE_LIMITED"}
    status = exc.status_code if 400 <= exc.status_code < 600 else 500
    code = codes.get(status, "INVALID_REQUEST" if status < 500 else "INTERNAL_ERROR")
    return _json_error(status, {"code": code, "detail": exc.detail}, exc.headers)


def _on_crash(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
    return _json_error(500, {"code": "INTERNAL_ERROR", "detail": type(exc).__name__})


_KEY_HEADER = b"idempotency-key"


def _repeats_key(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    return sum(1 for name, _ in headers if name.lower() == _KEY_HEADER) > 1


async def _no_such_path(send: Send) -> None:
    await _send_error(send, 404, b'{"code":"NOT_FOUND","detail":"no such path"}')


async def _send_error(send: Send, status: int, body: bytes) -> None:
    start: HTTPResponseStartEvent = {
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)


def service_middleware(access: AccessLog, fast: bool = True) -> Callable[[ASGIApp], ASGIApp]:
    """Around every request, in one layer (each layer is a coroutine call per request):

    * every request (and the writer task it starts) computes in solvent's decimal context. The
      engine's entry points enter it themselves; this covers the service's own arithmetic
      (views, ladders, metrics), whatever context the hosting process has;
    * a path with a NUL byte names nothing: 404 before any router or file lookup sees it;
    * a request with two ``Idempotency-Key`` headers is refused (400: ``commands_api.repeated_key``);
    * every other HTTP request is timed into the latency histogram and written to the access
      log (``access``: one JSON line per request, or a sample of them);
    * with ``fast``, a route ``service/lean.py`` covers is answered by its own function without
      Litestar's per-request machinery (the same answer: ``tests/test_service_lean.py``).
    """
    lean = LeanRoutes()

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            with decimal.localcontext(solvent_context()):
                if scope["type"] != ScopeType.HTTP:
                    await app(scope, receive, send)
                    return
                if "\x00" in scope["path"]:
                    await _no_such_path(send)
                    return
                method = scope["method"]
                started = time.perf_counter()
                status = [500]

                async def send_wrapper(message: Message) -> None:
                    if message["type"] == "http.response.start":
                        status[0] = int(message["status"])
                    await send(message)

                try:
                    if _repeats_key(scope["headers"]):
                        await _send_error(send_wrapper, 400, msgspec.json.encode(repeated_key().body()))
                        return
                    if keys_given(scope["headers"]) > 1:
                        await _send_error(send_wrapper, 400, msgspec.json.encode(
                            ApiError(400, "INVALID_REQUEST", detail=TWO_KEYS).body()))
                        return
                    if repeats_min_seq(scope["headers"]):
                        await _send_error(send_wrapper, 400, msgspec.json.encode(
                            ApiError(400, "INVALID_REQUEST", detail=MIN_SEQ_TWICE).body()))
                        return
                    query = scope["query_string"]
                    twice = repeated_query_parameter(query)
                    bad = repeated_query_refusal(twice) if twice is not None else (
                        not_a_whole_number(query, lean.integers(scope["route_handler"])) if query else None)
                    if bad is not None:
                        await _send_error(send_wrapper, 400, msgspec.json.encode(bad.body()))
                        return
                    direct = lean.of(scope["route_handler"]) if fast else None
                    if direct is None:
                        await app(scope, receive, send_wrapper)
                    else:  # the route's own function, without Litestar's per-request machinery
                        svc = service_of(scope["litestar_app"].state)
                        replay = await direct.serve(scope, receive, send_wrapper, svc)
                        if replay is not None:
                            await app(scope, replay, send_wrapper)
                finally:
                    elapsed = time.perf_counter() - started
                    route = str(scope.get("path_template") or "unmatched")
                    service_of(scope["litestar_app"].state).venue.metrics.observe_request(
                        method, route, status[0], elapsed)
                    access.request(method, route, scope["path"], status[0], elapsed)

        return middleware

    return wrap


@get("/metrics", include_in_schema=False)
async def metrics(svc: Svc) -> Response[bytes]:
    """Prometheus text format: the service's counters and the engine's risk gauges."""
    return Response(svc.venue.metrics.render(), media_type=METRICS_CONTENT_TYPE)


@get("/openapi.json", include_in_schema=False)
async def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return request.app.openapi_schema.to_schema()


@get("/", media_type=MediaType.HTML, include_in_schema=False)
async def dashboard() -> str:
    return (_static_dir() / "index.html").read_text("utf-8")


@get("/healthz", include_in_schema=False)
async def healthz(svc: Svc) -> Response[dict[str, str]]:
    """200 while the venue takes commands; 503 once a journal write failed, or (``serve --cluster``)
    the server lost the venue's log (restart to recover)."""
    if svc.venue.failure is not None:
        return Response({"status": "log-lost" if svc.venue.stopped is not None else "journal-failed"},
                        status_code=503)
    return Response({"status": "ok"})


Background = Callable[[], Coroutine[Any, Any, None]]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def before_request(request: Request[Any, Any, Any]) -> None:
    """Every request: a read of the engine (any GET, a what-if) first waits for the journal
    commit in flight, so it never sees a command that is applied but not yet durable
    (``Venue.readable``); a body is checked strictly (``strict_body``). Writes do not wait:
    they join the writer's queue and are answered once durable."""
    if request.method == "GET" or (request.method == "POST" and request.url.path.endswith("/what-if")):
        await service_of(request.app.state).venue.readable()
    await strict_body(request)


async def strict_body(request: Request[Any, Any, Any]) -> None:
    """Refuse a body a lenient parser would misread, before any handler decodes it.

    msgspec (which decodes the typed bodies) keeps the last of duplicate keys, so
    ``{"amount": "1", "amount": "999"}`` would deposit 999: every body first goes through
    ``solvent.jsonstrict.loads_strict``, the one strict reader (duplicate keys, nesting depth,
    non-UTF-8, floats, NaN). Litestar caches the body, so the handler reads it once more from
    memory.
    """
    if request.method not in _BODY_METHODS:
        return
    body = await request.body()
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if not body:
        if data is not None and not (data.is_optional or data.has_default):
            raise ApiError(400, "INVALID_REQUEST", detail="this request needs a JSON body")
        return
    refusal = media_type_refusal(request.headers.get("content-type", ""))
    if refusal is not None:
        raise refusal
    try:
        parsed = loads_strict(body, "request body")
    except InvalidInput as bad:
        raise ApiError(400, "INVALID_REQUEST", detail=str(bad)) from None
    # Litestar converts bodies leniently ("1000" → 1000, 0 → False): check the types strictly first
    target = data.annotation if data is not None else None
    if isinstance(target, type) and issubclass(target, msgspec.Struct):
        try:
            msgspec.convert(parsed, target, strict=True)
        except msgspec.ValidationError as bad:
            raise ApiError(400, "INVALID_REQUEST", detail=f"request body: {explained(bad)}") from None


def create_app(svc: Service, background: Sequence[Background] = (), *, close_journal: bool = True,
               access_log_sample: float = 1.0, lean: bool = True) -> Litestar:
    """The ASGI app serving ``svc`` (build ``svc`` with ``solvent.service.build_service``).

    ``background`` coroutines (the demo replay) start with the app and are cancelled, and
    awaited, when it shuts down; then the venue finishes its queued commands and flushes and
    closes its journal (an app then serves one run: build a new service to serve again).
    ``close_journal=False`` only flushes, so the app can start again (an in-process test
    client that runs the app's lifespan once per request). ``access_log_sample``: the
    fraction of requests the access log writes a line for (``AccessLog``; errors always).
    ``lean=False`` answers every route through Litestar (``service/lean.py``; for comparison).
    """

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(job()) for job in background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await (svc.venue.close() if close_journal else svc.venue.settle())

    app = Litestar(
        route_handlers=[accounts_router, venue_router, options_router, proofs_router, stream, metrics, openapi_json,
                        dashboard, healthz, create_static_files_router(path="/static", directories=[_static_dir()])],
        dependencies={"svc": Provide(provide_service), "principal": Provide(provide_principal)},
        exception_handlers={ApiError: _on_api_error, ValidationException: _on_validation, HTTPException: _on_http,
                            Exception: _on_crash},
        middleware=[service_middleware(AccessLog(access_log_sample), lean)],
        before_request=before_request,
        plugins=closed_bodies(),
        openapi_config=OpenAPIConfig(
            title="solvent", version="1", path="/schema",
            description="Exact margin and liquidation engine. Decimals are strings; errors are "
                        "JSON {\"code\": ..., ...context} with a 4xx status.",
            components=Components(security_schemes={
                "apiKey": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header"),
            }),
            security=[{"apiKey": []}],
            # the document only (``GET /openapi.json`` serves it): no HTML viewers, which load their
            # scripts from a CDN and answered under /schema without a key
            render_plugins=[JsonRenderPlugin()],
        ),
        request_max_body_size=MAX_BODY_BYTES,
        state={"service": svc},  # type: ignore[arg-type]  # Litestar accepts a mapping here
        lifespan=[lifespan],
        logging_config=None,
        debug=False,
    )
    return app
