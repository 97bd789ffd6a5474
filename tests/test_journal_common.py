"""Shared helpers for the journal tests: a deterministic command stream and backend factories.

PostgreSQL runs at 127.0.0.1:5432 (``SOLVENT_PG_DSN`` overrides). Without it a PostgreSQL test
is skipped with the reason, except in CI (``SOLVENT_REQUIRE_SERVICES=1``) where it fails.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from solvent.engine import (
    AdvanceTime,
    CancelOrder,
    Command,
    Deposit,
    EngineConfig,
    Fill,
    LiquidationPolicy,
    PlaceOrder,
    PriceUpdate,
    Withdraw,
)
from solvent.journal import JournalBackend, SqliteBackend
from solvent.model import Side
from solvent.risk.venues import load_venue

BACKENDS = ["sqlite", "postgres"]


def config() -> EngineConfig:
    return EngineConfig(load_venue("binance-usdm"), liquidation=LiquidationPolicy())


def stream(n: int, seed: int = 7) -> list[Command]:
    """``n`` commands: deposits, a price walk, fills against a maker, orders, some refusals.

    Accounts are leveraged enough that the walk brings margin calls and liquidations.
    """
    rng = random.Random(seed)
    prices = {"BTCUSDT": Decimal(60000), "ETHUSDT": Decimal(3000)}
    accounts = [f"a{i}" for i in range(12)]
    cmds: list[Command] = [AdvanceTime(1_000), Deposit("mm", "USDT", Decimal(10) ** 10),
                           Deposit("book", "USDT", Decimal(10) ** 10)]
    cmds += [PriceUpdate(s, "ix", p) for s, p in prices.items()]
    cmds += [Deposit(a, "USDT", Decimal(rng.randint(2_000, 20_000))) for a in accounts]
    now, trade, order = 1_000, 0, 0
    while len(cmds) < n:
        roll = rng.random()
        sym = rng.choice(sorted(prices))
        acct = rng.choice(accounts)
        if roll < 0.35:
            step = Decimal(rng.randint(-80, 80)) / Decimal(10_000)
            prices[sym] = (prices[sym] * (1 + step)).quantize(Decimal("0.1"))
            cmds.append(PriceUpdate(sym, "ix", prices[sym]))
        elif roll < 0.65:
            trade += 1
            qty = Decimal(rng.randint(1, 40)) / (Decimal(1000) if sym == "BTCUSDT" else Decimal(100))
            buyer, seller = (acct, "mm") if rng.random() < 0.5 else ("mm", acct)
            cmds.append(Fill(f"t{trade}", sym, prices[sym], qty, buyer, seller))
        elif roll < 0.75:
            order += 1
            side = Side.LONG if rng.random() < 0.5 else Side.SHORT
            cmds.append(PlaceOrder(acct, f"o{order}", sym, side, Decimal("0.01"), prices[sym]))
        elif roll < 0.80 and order:
            cmds.append(CancelOrder(acct, f"o{rng.randint(1, order)}"))
        elif roll < 0.88:
            cmds.append(Deposit(acct, "USDT", Decimal(rng.randint(1, 3_000))))
        elif roll < 0.94:
            cmds.append(Withdraw(acct, "USDT", Decimal(rng.randint(1, 5_000))))
        else:
            now += rng.randint(1_000, 3_600_000)
            cmds.append(AdvanceTime(now))
    return cmds


def pg_dsn() -> str:
    from solvent.journal.postgres_backend import default_dsn

    return default_dsn()


def require_postgres() -> None:
    """Skip (or, in CI, fail) when PostgreSQL cannot be reached."""
    try:
        import psycopg

        with psycopg.connect(pg_dsn(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        reason = f"PostgreSQL not reachable at {pg_dsn()!r}: {type(exc).__name__}: {exc}".strip()
        if os.environ.get("SOLVENT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason} (SOLVENT_REQUIRE_SERVICES=1: PostgreSQL is required)")
        pytest.skip(reason)


def unique_schema() -> str:
    return f"jt_{uuid.uuid4().hex[:16]}"


class BackendFactory:
    """Opens (and reopens) one journal of the chosen kind; drops PostgreSQL schemas at the end."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.path = tmp / "journal.db"
        self.schema = unique_schema()
        self.target = self.path.as_posix() if kind == "sqlite" else "postgresql://postgres@127.0.0.1:5432/test"
        if kind == "postgres":
            require_postgres()
            self.target = os.environ.get("SOLVENT_PG_DSN", self.target)

    def open(self) -> JournalBackend:
        if self.kind == "sqlite":
            return SqliteBackend(self.path)
        from solvent.journal.postgres_backend import PostgresBackend

        return PostgresBackend(self.target, self.schema)

    def tamper(self, table: str, seq: int, column: str, value: bytes) -> None:
        """Overwrite one stored field behind the journal's back (corruption tests)."""
        if self.kind == "sqlite":
            import sqlite3

            with sqlite3.connect(self.path) as db:
                db.execute(f"UPDATE {table} SET {column} = ? WHERE seq = ?", (value, seq))
            return
        import psycopg

        with psycopg.connect(self.target) as conn:
            conn.execute(f"UPDATE {self.schema}.{table} SET {column} = %s WHERE seq = %s", (value, seq))

    def cleanup(self) -> None:
        if self.kind == "postgres":
            from solvent.journal.postgres_backend import PostgresBackend

            backend = PostgresBackend(self.target, self.schema)
            backend.drop()
            backend.close()


def backend_factory(kind: str, tmp: Path) -> Iterator[BackendFactory]:
    factory = BackendFactory(kind, tmp)
    try:
        yield factory
    finally:
        factory.cleanup()


Opener = Callable[[], JournalBackend]
