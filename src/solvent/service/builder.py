"""Putting a service together: engine, logs, keys, limits, and the optional demo book."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from solvent.engine import AdvanceTime, Command, Deposit, Engine, FundInsurance, PriceUpdate
from solvent.errors import InvalidInput
from solvent.service.commandlog import CommandLog, InMemoryCommandLog
from solvent.service.context import Service
from solvent.service.keys import KeyStore, Role
from solvent.service.ratelimit import RateLimiter
from solvent.service.venue import Venue, default_engine

__all__ = ["BOOK_DEPOSIT", "DEMO_INSURANCE", "build_service", "demo_opening", "load_keys", "replay_demo"]

log = logging.getLogger("solvent.service")

BOOK_DEPOSIT = Decimal(1_000_000_000)
"""Seed of the venue's book account, the counterparty of liquidation orders."""
DEMO_INSURANCE = Decimal(100_000)


def load_keys(keys_file: str | Path | None = None) -> KeyStore:
    """Keys from ``keys_file`` (or ``$SOLVENT_KEYS_FILE``) plus ``$SOLVENT_OPERATOR_KEY``."""
    path = keys_file or os.environ.get("SOLVENT_KEYS_FILE")
    store = KeyStore.load(path) if path else KeyStore()
    operator = os.environ.get("SOLVENT_OPERATOR_KEY")
    if operator:
        store.add_plain(operator, Role.OPERATOR)
    return store


def demo_opening() -> tuple[list[Command], list[tuple[str, Decimal, int]]]:
    from solvent.demo_session import session_commands

    opening, path = session_commands()
    return [*opening[:1], FundInsurance(DEMO_INSURANCE), *opening[1:]], path


def build_service(keys: KeyStore, *, demo: bool = False, engine: Engine | None = None, log_: CommandLog | None = None,
                  limiter: RateLimiter | None = None) -> Service:
    """A ready service. The book account is seeded first so liquidations have a counterparty."""
    engine = engine or default_engine()
    venue = Venue(engine, log_ or InMemoryCommandLog())
    svc = Service(venue, keys, limiter or RateLimiter())
    policy = engine.config.liquidation
    if policy is not None and policy.book_account not in engine.state.accounts:
        venue.submit_now(Deposit(policy.book_account, engine.config.settle_asset, BOOK_DEPOSIT))
    if demo:
        opening, path = demo_opening()
        for cmd in opening:
            done = venue.submit_now(cmd)
            if not done.result.accepted:
                raise InvalidInput(f"demo opening refused {cmd}: {done.result.denial}")
        svc.demo = {"running": False, "step": 0, "steps": len(path)}
    return svc


async def replay_demo(svc: Service, step_s: float, path: Sequence[tuple[str, Decimal, int]] | None = None) -> None:
    """Feed the crash path minute by minute, ``step_s`` seconds apart (0: as fast as possible)."""
    from solvent.demo_session import SOURCE

    steps = list(path) if path is not None else demo_opening()[1]
    svc.demo.update(running=True, steps=len(steps))
    try:
        for i, (minute, close, now_ms) in enumerate(steps):
            await svc.venue.submit(AdvanceTime(now_ms))
            await svc.venue.submit(PriceUpdate("BTCUSDT", SOURCE, close))
            svc.demo.update(step=i + 1, minute=minute, price=str(close))
            await asyncio.sleep(step_s)
    finally:
        svc.demo["running"] = False
        log.info("demo replay finished", extra={"steps": svc.demo.get("step", 0)})
