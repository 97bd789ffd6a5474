"""The hot routes answered without Litestar's per-request machinery (issue "Service at venue
throughput": a faster HTTP path, the API contract kept).

Profiling a what-if under load put about a third of the server's time in Litestar's handler
pipeline: resolving dependencies and keyword arguments, building a ``Response`` and converting
it to ASGI messages. For a route whose parameters are only path strings, a JSON body of a
msgspec struct, the service, the caller and the ``Idempotency-Key`` header (every order,
what-if, price, fill and funds route, and the account reads), ``LeanRoute`` does the same steps
itself, in the same order, calling the route's own function:

1. the body is read (refused as Litestar would past ``MAX_BODY_BYTES``);
2. ``app.before_request``'s checks: a read waits for the journal commit in flight; the body is
   read strictly (``app.strict_body``'s rules) and converted to the route's struct once;
3. the caller is authenticated and rate-limited (``context.authenticate``);
4. the route's function runs; its answer is encoded with Litestar's own JSON encoder and sent
   with the same status and headers (``content-type: application/json``, ``content-length``).

An ``ApiError`` is answered as the app's handler answers it. Anything it does not cover (a
missing or non-JSON body, a body too large, a body on a route that takes none, an unexpected
exception) goes to Litestar with the body replayed, so that Litestar answers exactly as before.
``tests/test_service_lean.py`` sends the same requests to the app with and without this path
and compares the answers byte for byte.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.serialization import encode_json

from solvent.errors import InvalidInput
from solvent.jsonstrict import loads_strict
from solvent.service.context import Service, authenticate, presented_key, read_at_least
from solvent.service.errors import ApiError, media_type_refusal
from solvent.service.schemas import explained

__all__ = ["MAX_BODY_BYTES", "LeanRoute", "LeanRoutes", "integer_query_names"]

Receive = Callable[[], Awaitable[Any]]

_JSON = b"application/json"
_SIMPLE = frozenset({"svc", "principal", "idempotency_key"})


class _Fallback(Exception):
    """This request is Litestar's to answer (the module docstring's last paragraph)."""


@dataclass(frozen=True, slots=True)
class LeanRoute:
    fn: Callable[..., Awaitable[Any]]
    path_params: tuple[str, ...]
    body: type[msgspec.Struct] | None
    idempotent: bool
    status: int
    waits_for_commit: bool
    """A read of the engine (a GET, a what-if): it waits for the journal commit in flight."""

    @classmethod
    def of(cls, handler: Any) -> LeanRoute | None:
        """The lean form of a Litestar route handler, if its parameters are all of the kinds above."""
        params = handler.parsed_fn_signature.parameters
        paths = list(handler.paths)
        body: type[msgspec.Struct] | None = None
        path_params: list[str] = []
        for name, field in params.items():
            kind = type(getattr(field, "kwarg_definition", None)).__name__
            if name == "data" and kind == "BodyKwarg":
                if not (inspect.isclass(field.annotation) and issubclass(field.annotation, msgspec.Struct)):
                    return None
                body = field.annotation
            elif kind == "PathParameter" and field.annotation is str:
                path_params.append(name)
            elif name not in _SIMPLE:
                return None
        answer = handler.parsed_fn_signature.return_type.annotation
        if "principal" not in params or "svc" not in params or len(paths) != 1 or (
                answer is not dict and typing.get_origin(answer) is not dict):  # a dict, encoded as JSON
            return None
        method = next(iter(handler.http_methods))
        reads = method == "GET" or paths[0].endswith("/what-if")
        return cls(handler.fn, tuple(path_params), body, "idempotency_key" in params, handler.status_code, reads)

    async def serve(self, scope: Any, receive: Any, send: Any, svc: Service) -> Receive | None:
        """Answer the request: ``None``; or the ``receive`` to hand Litestar the request with
        (the body replayed) when it is Litestar's to answer."""
        raw = b""
        if self.body is not None or scope["method"] != "GET":  # a DELETE may carry a body to refuse
            try:
                raw = await _read_body(receive)
            except _TooLarge as big:
                return _replay(big.read, big.more, receive)
            except _Disconnected:
                return None  # the client went away: nobody to answer
        try:
            answer = await self._answer(scope, raw, svc)
        except _Fallback:
            return _replay(raw, False, receive)
        except ApiError as refused:
            await _send(send, refused.status, encode_json(refused.body()), refused.headers)
            return None
        await _send(send, self.status, encode_json(answer), None)
        return None

    async def _answer(self, scope: Any, raw: bytes, svc: Service) -> Any:
        if self.waits_for_commit:
            await svc.venue.readable()
        headers = _headers(scope["headers"])
        kwargs: dict[str, Any] = {name: scope["path_params"][name] for name in self.path_params}
        if self.body is not None:
            content_type = headers.get("content-type", "")
            if (not raw or content_type.partition(";")[0].strip().lower() != "application/json"
                    or media_type_refusal(content_type) is not None):
                raise _Fallback  # no body, another media type or charset: Litestar's own answers
            try:
                parsed = loads_strict(raw, "request body")
            except InvalidInput as bad:
                raise ApiError(400, "INVALID_REQUEST", detail=str(bad)) from None
            try:
                kwargs["data"] = msgspec.convert(parsed, self.body, strict=True)
            except msgspec.ValidationError as bad:
                raise ApiError(400, "INVALID_REQUEST", detail=f"request body: {explained(bad)}") from None
        elif raw:
            raise _Fallback  # a body on a route that takes none (a DELETE's): Litestar checks it as before
        client = scope.get("client")
        kwargs["principal"] = authenticate(svc, presented_key(headers), client[0] if client else None)
        if self.waits_for_commit:
            await read_at_least(svc, headers, kwargs["principal"], kwargs.get("account_id"))
        kwargs["svc"] = svc
        if self.idempotent:
            kwargs["idempotency_key"] = headers.get("idempotency-key")
        return await self.fn(**kwargs)


def integer_query_names(handler: Any) -> frozenset[str]:
    """The query parameters ``handler`` reads as integers (``int`` or ``int | None``), by the
    name the query gives them: the one home of which parameters ``not_a_whole_number`` checks."""
    names: set[str] = set()
    for name, field in handler.parsed_fn_signature.parameters.items():
        kwarg = getattr(field, "kwarg_definition", None)
        if type(kwarg).__name__ == "QueryParameter" and field.annotation in (int, int | None):
            names.add(getattr(kwarg, "query", None) or name)
    return frozenset(names)


class LeanRoutes:
    """The lean form of each route handler, and its integer query parameters, worked out on its
    first request and kept."""

    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: dict[int, tuple[Any, LeanRoute | None, frozenset[str]]] = {}

    def _entry(self, handler: Any) -> tuple[Any, LeanRoute | None, frozenset[str]]:
        known = self._known.get(id(handler))
        if known is None or known[0] is not handler:
            known = self._known[id(handler)] = (handler, LeanRoute.of(handler), integer_query_names(handler))
        return known

    def of(self, handler: Any) -> LeanRoute | None:
        return self._entry(handler)[1]

    def integers(self, handler: Any) -> frozenset[str]:
        return self._entry(handler)[2]


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The request's headers, names lower-cased; the first of a repeated name."""
    out: dict[str, str] = {}
    for name, value in raw:
        out.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return out


MAX_BODY_BYTES = 64 * 1024
"""The largest request body the service reads (Litestar's ``request_max_body_size``, and here)."""


async def _read_body(receive: Any) -> bytes:
    """The whole body; ``_TooLarge`` past ``MAX_BODY_BYTES`` (Litestar then refuses it: 413)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge(b"".join(chunks), message.get("more_body", False))
        if not message.get("more_body", False):
            return b"".join(chunks)


class _Disconnected(Exception):
    pass


class _TooLarge(Exception):
    def __init__(self, read: bytes, more: bool) -> None:
        super().__init__()
        self.read, self.more = read, more


def _replay(raw: bytes, more: bool, receive: Any) -> Receive:
    """A ``receive`` that gives the body already read, then the real ``receive``'s messages."""
    given = [False]

    async def replayed() -> Any:
        if not given[0]:
            given[0] = True
            return {"type": "http.request", "body": raw, "more_body": more}
        return await receive()

    return replayed


async def _send(send: Any, status: int, body: bytes, headers: dict[str, str] | None) -> None:
    extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", _JSON), (b"content-length", str(len(body)).encode()), *extra]})
    await send({"type": "http.response.body", "body": body, "more_body": False})
