"""Journal benchmarks: durable acknowledged commands per second, recovery cost, overhead.

* ``journal.sqlite_group_commit``: ``DurableEngine.apply_many`` in batches of 256 on a SQLite
  file (WAL, synchronous=FULL): commands/s, every one durable before it is acknowledged;
  baseline: the same commands on the in-memory engine (ratio = journaled / in-memory).
* ``journal.sqlite_per_command``: one commit (one fsync) per command, for comparison.
* ``journal.postgres_group_commit``: the same on PostgreSQL (``SOLVENT_PG_DSN``, default the
  local server); skipped with a note when it cannot be reached.
* ``journal.recovery_per_million``: seconds to rebuild the state from a journal of N records
  without snapshots (chain check + replay), **extrapolated linearly** from the measured N to
  10^6 records; baseline: the in-memory engine's time for the same commands, scaled alike.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

from solvent.bench import BenchResult, benchmark, result
from solvent.engine import AdvanceTime, Command, Deposit, Engine, EngineConfig, Fill, PriceUpdate
from solvent.journal import DurableEngine, JournalBackend, JournalError, SqliteBackend
from solvent.journal.engine_replay import full_replay
from solvent.risk.venues import load_venue

BATCH = 256


def _config() -> EngineConfig:
    return EngineConfig(load_venue("binance-usdm"))


def _stream(n: int) -> list[Command]:
    """Deposits, a price walk and fills among 200 accounts: a mixed, mostly accepted stream."""
    cmds: list[Command] = [AdvanceTime(0), PriceUpdate("BTCUSDT", "b", Decimal(60000)),
                           Deposit("maker", "USDT", Decimal(10) ** 12)]
    cmds += [Deposit(f"a{i}", "USDT", Decimal(100_000)) for i in range(200)]
    k = 0
    while len(cmds) < n:
        k += 1
        if k % 4 == 0:
            cmds.append(PriceUpdate("BTCUSDT", "b", Decimal(60000 + (k % 97) * 10 - 480)))
        elif k % 4 == 1:
            cmds.append(Deposit(f"a{k % 200}", "USDT", Decimal(k % 50 + 1)))
        else:
            buyer, seller = (f"a{k % 200}", "maker") if k % 3 else ("maker", f"a{k % 200}")
            cmds.append(Fill(f"t{k}", "BTCUSDT", Decimal(60000), Decimal("0.001"), buyer, seller))
    return cmds[:n]


def _in_memory(cmds: list[Command]) -> float:
    engine = Engine(_config())
    start = time.perf_counter()
    engine.apply_all(cmds)
    return time.perf_counter() - start


def _journaled(backend: JournalBackend, cmds: list[Command], batch: int) -> float:
    engine = DurableEngine(backend, _config(), snapshot_every=10**9)
    start = time.perf_counter()
    for i in range(0, len(cmds), batch):
        engine.apply_many(cmds[i:i + batch])
    elapsed = time.perf_counter() - start
    engine.close()
    return elapsed


def _postgres(cmds: list[Command]) -> tuple[float, str] | None:
    try:
        from solvent.journal.postgres_backend import PostgresBackend

        backend = PostgresBackend(None, f"bench_{uuid.uuid4().hex[:12]}", connect_timeout=3)
    except JournalError:
        return None
    try:
        return _journaled(backend, cmds, BATCH), backend.schema
    finally:
        cleanup = PostgresBackend(None, backend.schema)
        cleanup.drop()
        cleanup.close()


@benchmark("journal")
def journal_benchmarks(quick: bool) -> list[BenchResult]:
    n = 3_000 if quick else 20_000
    cmds = _stream(n)
    memory_s = _in_memory(cmds)
    memory_rate = n / memory_s
    out: list[BenchResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        grouped_s = _journaled(SqliteBackend(path), cmds, BATCH)
        out.append(result("journal.sqlite_group_commit", n / grouped_s, "cmd/s", "engine in memory", memory_rate,
                          f"{n} commands, batches of {BATCH}, WAL synchronous=FULL"))
        single = cmds[: min(300, n)]
        single_s = _journaled(SqliteBackend(Path(tmp) / "single.db"), single, 1)
        out.append(result("journal.sqlite_per_command", len(single) / single_s, "cmd/s", "engine in memory",
                          memory_rate, f"{len(single)} commands, one commit each"))
        start = time.perf_counter()
        recovered = full_replay(SqliteBackend(path))
        recover_s = time.perf_counter() - start
        if recovered.problem is not None:
            raise JournalError(recovered.message())
        scale = 1_000_000 / recovered.last_seq
        out.append(result("journal.recovery_per_million", recover_s * scale, "s", "in-memory replay per million",
                          memory_s * 1_000_000 / n,
                          f"extrapolated linearly from {recovered.last_seq} records measured, no snapshots"))
    pg = _postgres(cmds)
    if pg is None:
        out.append(result("journal.postgres_group_commit", 0.0, "cmd/s", "engine in memory", memory_rate,
                          "skipped: PostgreSQL not reachable"))
    else:
        out.append(result("journal.postgres_group_commit", n / pg[0], "cmd/s", "engine in memory", memory_rate,
                          f"{n} commands, batches of {BATCH}, COPY + synchronous_commit"))
    return out
