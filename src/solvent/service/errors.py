"""API errors: always JSON ``{"code": ..., **context}`` with a 4xx status (5xx only for bugs)."""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError", "IdempotencyKeyReused", "VenueUnavailable", "media_type_refusal"]


class ApiError(Exception):
    """A request refused at the edge: ``status`` 4xx, a closed ``code``, and its context."""

    def __init__(self, status: int, code: str, headers: dict[str, str] | None = None, **context: Any) -> None:
        self.status = status
        self.code = code
        self.context = context
        self.headers = headers or {}
        super().__init__(code)

    def body(self) -> dict[str, Any]:
        return {"code": self.code, **self.context}


class VenueUnavailable(ApiError):
    """503: the venue takes no commands (its journal failed, or it is shutting down)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(503, code, {"Retry-After": "30"}, detail=detail)


class IdempotencyKeyReused(ApiError):
    """422: an ``Idempotency-Key`` already answered (or being answered) a different command."""

    def __init__(self, key: str, command_seq: int | None) -> None:
        super().__init__(422, "IDEMPOTENCY_KEY_REUSED", key=key, command_seq=command_seq,
                         detail="this Idempotency-Key was first used for a different request; a retry must "
                                "repeat the request exactly, a new request needs a new key")


_UTF8 = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
"""Charsets a JSON body is read in as declared: UTF-8, and ASCII, a subset of it."""


def media_type_refusal(content_type: str) -> ApiError | None:
    """415 for a request body that is not JSON as RFC 8259 defines it: another media type,
    or a ``charset`` other than UTF-8 (the body would be read as UTF-8 all the same, so a
    Latin-1 body's accented letters would be refused as bad bytes, or misread). None: the
    header is ``application/json`` (any case, with or without ``charset=utf-8``), or absent."""
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    if media and media != "application/json":
        return ApiError(415, "UNSUPPORTED_MEDIA_TYPE", detail=f"bodies are application/json, not {media}")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in _UTF8:
            return ApiError(415, "UNSUPPORTED_MEDIA_TYPE",
                            detail=f"JSON bodies are UTF-8 (RFC 8259), not charset {charset or '(empty)'}")
    return None
