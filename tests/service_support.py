"""Fixtures shared by the service tests: a demo service with one key per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

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
