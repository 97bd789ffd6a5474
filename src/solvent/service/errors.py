"""API errors: always JSON ``{"code": ..., **context}`` with a 4xx status (5xx only for bugs)."""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError", "IdempotencyKeyReused", "VenueUnavailable"]


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
