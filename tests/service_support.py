"""Fixtures shared by the service tests: a demo service with one key per role."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from litestar.testing import TestClient

from solvent.service import KeyStore, RateLimiter, Role, Service, build_service, create_app

ALICE = "alice-cross-5x"
BOB = "bob-cross-10x"


@dataclass
class Harness:
    svc: Service
    client: TestClient  # type: ignore[type-arg]
    operator: str
    alice: str
    bob: str
    treasury: str = ""

    def h(self, key: str | None) -> dict[str, str]:
        return {} if key is None else {"X-API-Key": key}


def make_harness(demo: bool = True, rate: float = 10_000.0) -> Iterator[Harness]:
    keys = KeyStore()
    operator = keys.issue(Role.OPERATOR)
    alice = keys.issue(Role.ACCOUNT, ALICE)
    bob = keys.issue(Role.ACCOUNT, BOB)
    treasury = keys.issue(Role.TREASURY)
    svc = build_service(keys, demo=demo, limiter=RateLimiter(rate, rate))
    with TestClient(create_app(svc)) as client:
        yield Harness(svc, client, operator, alice, bob, treasury)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def uvicorn_serving(app: Any, **settings: Any) -> Iterator[int]:
    """``app`` served by a real uvicorn (``settings``: ``solvent serve``'s, overridden) in a thread;
    yields its port once it accepts connections, and stops it after."""
    import uvicorn

    from solvent.cli.serve_command import SERVER_SETTINGS

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **{**SERVER_SETTINGS, **settings}))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(15)
