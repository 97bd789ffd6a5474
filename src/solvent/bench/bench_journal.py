"""Journal benchmarks (issue "One engine": names and floors as given there).

* ``journal.sqlite``: commands per second made durable by ``DurableEngine.apply_many`` in
  batches of 256 on a SQLite file (WAL, ``synchronous=FULL``), the engine's apply included;
  floor: a raw ``executemany`` of the same record bytes into a fresh file, same batches, same
  pragmas (ratio = journaled rate / raw rate; the target is at least 0.25).
* ``journal.postgresql``: the same on PostgreSQL (``SOLVENT_PG_DSN``, default the local
  server); floor: a raw ``COPY`` of the same record bytes, one transaction per batch. Reported
  as skipped when PostgreSQL cannot be reached.
* ``journal.recovery.100k`` (quick: ``journal.recovery.10k``): seconds for ``recover`` on a
  journal of that many commands with a snapshot every 10,000 records (quick: 1,000) and the
  newest snapshot about one interval before the end (newest snapshot + tail), **measured**;
  floor: reading every record, checking its chain hash and parsing its JSON (what any verifier
  of the same records must do). ``….from_genesis`` also times a full replay of the same
  journal (snapshots ignored): recovery's worst case, and what ``verify`` does.
* ``journal.checkpoint.100k`` (quick: ``journal.checkpoint.10k``): ms for the work of one
  checkpoint (``DurableEngine._checkpoint``: the state hash brought up to date, the snapshot
  bytes, their SHA-256; the backend write left out) on a venue of that many accounts, a tenth
  of which commands touched since the previous checkpoint; floor: SHA-256 of the same snapshot
  bytes (``hashlib``), the least any checkpoint storing them does. The detail gives the same
  checkpoint computed from nothing (``encode_state`` and ``state_hash``), what every checkpoint
  cost before the snapshot kept each account's bytes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

from solvent.bench import BenchResult, benchmark, result
from solvent.engine import AdvanceTime, Command, Deposit, EngineConfig, Fill, PriceUpdate
from solvent.engine.state_digest import state_hash
from solvent.journal import DurableEngine, JournalBackend, JournalError, SqliteBackend, recover
from solvent.journal.backend import StoredRecord
from solvent.journal.chain import ZERO_HASH, chain_hash
from solvent.journal.engine_replay import full_replay
from solvent.journal.snapshot import SnapshotEncoder, encode_state, snapshot_digest
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


def _journaled(backend: JournalBackend, cmds: list[Command], snapshot_every: int = 10**9) -> float:
    engine = DurableEngine(backend, _config(), snapshot_every=snapshot_every)
    start = time.perf_counter()
    for i in range(0, len(cmds), BATCH):
        engine.apply_many(cmds[i:i + BATCH])
    elapsed = time.perf_counter() - start
    engine.close()
    return elapsed


def _batches(records: list[StoredRecord]) -> list[list[tuple[int, str, bytes]]]:
    rows = [(r.seq, r.hash, r.payload) for r in records]
    return [rows[i:i + BATCH] for i in range(0, len(rows), BATCH)]


def _raw_sqlite(path: Path, records: list[StoredRecord]) -> float:
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE records (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, payload BLOB NOT NULL)")
    batches = _batches(records)
    start = time.perf_counter()
    for rows in batches:
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO records (seq, hash, payload) VALUES (?, ?, ?)", rows)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def _postgres(cmds: list[Command]) -> tuple[float, float, int] | None:
    """(journaled seconds, raw COPY seconds, records) on fresh schemas; ``None`` without a server."""
    try:
        import psycopg

        from solvent.journal.postgres_backend import PostgresBackend, default_dsn

        backend = PostgresBackend(None, f"bench_{uuid.uuid4().hex[:12]}", connect_timeout=3)
    except (JournalError, ImportError):  # no server, or no 'postgres' extra
        return None
    schema = backend.schema
    try:
        journaled = _journaled(backend, cmds)
        reader = PostgresBackend(None, schema)
        records = list(reader.records(1))
        reader.close()
        conn = psycopg.connect(default_dsn())
        raw_schema = f"{schema}_raw"
        conn.execute(f"CREATE SCHEMA {raw_schema}")
        conn.execute(f"CREATE TABLE {raw_schema}.records (seq BIGINT PRIMARY KEY, hash TEXT NOT NULL, "
                     "payload BYTEA NOT NULL)")
        conn.commit()
        start = time.perf_counter()
        for rows in _batches(records):
            with conn.transaction(), conn.cursor() as cur, \
                    cur.copy(f"COPY {raw_schema}.records (seq, hash, payload) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            conn.commit()
        raw = time.perf_counter() - start
        conn.execute(f"DROP SCHEMA {raw_schema} CASCADE")
        conn.commit()
        conn.close()
        return journaled, raw, len(records)
    finally:
        cleanup = PostgresBackend(None, schema)
        cleanup.drop()
        cleanup.close()


def _read_hash_parse(backend: JournalBackend) -> float:
    start = time.perf_counter()
    head = ZERO_HASH
    for stored in backend.records(0):
        head = chain_hash(head, stored.payload)
        json.loads(stored.payload)
    return time.perf_counter() - start


def _checkpoint(quick: bool) -> BenchResult:
    from solvent.bench.bench_engine import _tick_book

    accounts = 10_000 if quick else 100_000
    engine, _ = _tick_book(accounts)
    encoder = SnapshotEncoder()
    engine.state_hash()
    encoder.encode(engine)  # the previous checkpoint
    for i in range(0, accounts, 10):
        engine.apply(Deposit(f"h{i:06d}", "USDT", Decimal(1)))
    start = time.perf_counter()
    engine.state_hash()
    blob = encoder.encode(engine)
    snapshot_digest(blob)
    checkpoint_s = time.perf_counter() - start
    start = time.perf_counter()
    hashlib.sha256(blob).hexdigest()
    floor_s = time.perf_counter() - start
    start = time.perf_counter()
    state_hash(engine.state)
    encode_state(engine.state)
    whole_s = time.perf_counter() - start
    return result(f"journal.checkpoint.{accounts // 1000}k", checkpoint_s * 1e3, "ms", "SHA-256 of the snapshot bytes",
                  floor_s * 1e3, f"{accounts:,} accounts, {accounts // 10:,} touched since the last checkpoint; "
                  f"snapshot {len(blob) / 1e6:.1f} MB; from nothing: {whole_s * 1e3:,.0f} ms")


@benchmark("journal")
def journal_benchmarks(quick: bool) -> list[BenchResult]:
    n = 3_000 if quick else 20_000
    cmds = _stream(n)
    out: list[BenchResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        journaled_s = _journaled(SqliteBackend(path), cmds)
        reader = SqliteBackend(path, read_only=True)
        records = list(reader.records(1))
        reader.close()
        raw_s = _raw_sqlite(Path(tmp) / "raw.db", records)
        out.append(result("journal.sqlite", len(records) / journaled_s, "cmd/s",
                          "raw executemany of the same record bytes", len(records) / raw_s,
                          f"{len(records)} journaled of {n} commands, batches of {BATCH}, WAL synchronous=FULL; "
                          "apply included"))
        size = 10_000 if quick else 100_000
        recovery_path = Path(tmp) / "recovery.db"
        # the newest snapshot about a snapshot interval before the end, as a restart at a random
        # moment finds it (not exactly on the last record, which would time the snapshot alone)
        every = min(10_000, size // 10)
        commands = _stream(size)
        head_part = size - size // 20
        _journaled(SqliteBackend(recovery_path), commands[:head_part], snapshot_every=every)
        tail = DurableEngine(SqliteBackend(recovery_path), snapshot_every=10**9)
        for i in range(head_part, size, BATCH):
            tail.apply_many(commands[i:i + BATCH])
        tail.close()
        backend = SqliteBackend(recovery_path, read_only=True)
        floor_s = _read_hash_parse(backend)
        start = time.perf_counter()
        recovered = recover(backend)
        recover_s = time.perf_counter() - start
        if recovered.problem is not None:
            raise JournalError(recovered.message())
        label = f"journal.recovery.{size // 1000}k"
        out.append(result(label, recover_s, "s", "read, hash and parse the records", floor_s,
                          f"{recovered.last_seq} records; snapshot at {recovered.snapshot_seq}, "
                          f"{recovered.replayed} replayed; measured, not extrapolated"))
        start = time.perf_counter()
        replayed = full_replay(backend)
        full_s = time.perf_counter() - start
        backend.close()
        if replayed.problem is not None:
            raise JournalError(replayed.message())
        out.append(result(f"{label}.from_genesis", full_s, "s", "read, hash and parse the records", floor_s,
                          f"{replayed.last_seq} records replayed from genesis, snapshots ignored (what a verifier "
                          "does, and recovery's worst case)"))
    out.append(_checkpoint(quick))
    pg = _postgres(cmds)
    if pg is None:
        out.append(result("journal.postgresql", 0.0, "cmd/s", "raw COPY of the same record bytes", 0.0,
                          "skipped: PostgreSQL not reachable, or the 'postgres' extra not installed"))
    else:
        out.append(result("journal.postgresql", pg[2] / pg[0], "cmd/s", "raw COPY of the same record bytes",
                          pg[2] / pg[1], f"{pg[2]} journaled of {n} commands, batches of {BATCH}; apply included"))
    return out
