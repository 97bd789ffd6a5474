"""Cluster benchmarks (``solvent/cluster``): a replica applying the log, and checks over NATS.

Needs a NATS server with JetStream at ``SOLVENT_NATS_URL`` (default
``nats://127.0.0.1:4222``). Each run uses a stream of its own and deletes it.

* ``cluster.apply``: µs per command for a replica (in this process, SQLite journal, group
  commit per fetched batch) to apply the recorded mixed stream of ``engine.replay`` from the
  log; floor: the same messages fetched from the same stream in the same batches by a bare
  pull consumer that only reads their bytes. The ratio is what applying and journaling add to
  reading the log.
* ``cluster.check``: checks/s answered by one replica (its own process) to a client keeping
  ``IN_FLIGHT`` requests open; floor: a bare NATS responder (its own process) answering each
  request with a fixed reply of a check's size, measured by the same client. Ratio: replica
  rate ÷ floor rate (the share of the bare round trip a real check keeps). The detail gives
  the rate with two replicas (one queue group), and how many CPU cores the machine has: with
  two cores, client and replicas share them.
* ``cluster.throughput.{1,2,4}``: commands/s of the whole venue when 1, 2 or 4 replica
  processes (``cluster replica --stop-at``, SQLite journals) apply the same stream at once:
  the stream's commands over the longest time a replica reports following them (its start,
  imports and the building of its engine left out). Compared with one ``Engine`` applying the same commands in
  this process (no log, no journal). Every replica applies every command, so replicas add no
  applying throughput: N of them share the machine's cores.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from solvent.bench import BenchResult, benchmark, result
from solvent.bench.bench_engine import _book
from solvent.cluster.log import encode_command_message, encode_genesis, ensure_stream, publish, venue_log
from solvent.cluster.replica import Replica, follow
from solvent.engine import PlaceOrder
from solvent.journal.codec import canonical_json, encode_command
from solvent.journal.sqlite_backend import SqliteBackend
from solvent.model import Side

NATS_URL = os.environ.get("SOLVENT_NATS_URL", "nats://127.0.0.1:4222")
IN_FLIGHT = 64
BATCH = 512

_RESPONDER = """
import asyncio, sys, nats
async def main():
    client = await nats.connect(sys.argv[1])
    reply = sys.argv[3].encode()
    async def answer(msg):
        await msg.respond(reply)
    await client.subscribe(sys.argv[2], queue="replicas", cb=answer)
    await client.flush()  # the server has the subscription before the client is told to ask
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


async def _publish_stream(name: str, accounts: int) -> tuple[int, Any]:
    import nats

    cmds, engine = _book(accounts)
    log = venue_log(name)
    client = await nats.connect(NATS_URL)
    js = client.jetstream()
    await ensure_stream(js, log)
    last = await publish(js, log, encode_genesis(engine.config), f"{name}:genesis")
    for k, cmd in enumerate(cmds):
        last = await publish(js, log, encode_command_message(cmd), f"{name}:{k}")
    return last, client


async def _bare_read(client: Any, name: str, last: int) -> float:
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    log = venue_log(name)
    sub = await client.jetstream().pull_subscribe(
        log.subject, durable=None, stream=log.stream,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE))
    start, seen, size = time.perf_counter(), 0, 0
    while seen < last:
        for msg in await sub.fetch(BATCH, timeout=5):
            seen += 1
            size += len(msg.data)
    elapsed = time.perf_counter() - start
    await sub.unsubscribe()
    return elapsed


async def _apply(client: Any, name: str, last: int, folder: Path) -> float:
    replica = Replica(SqliteBackend(folder / f"{name}.sqlite"), venue_log(name))
    start = time.perf_counter()
    await follow(replica, client, stop_at=last, batch=BATCH)
    return time.perf_counter() - start


async def _rate(client: Any, subject: str, body: bytes, seconds: float) -> float:
    """Requests answered per second with ``IN_FLIGHT`` open at a time."""
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            reply = await client.request(subject, body, timeout=10)
            if b'"error"' in reply.data:
                raise RuntimeError(f"a check failed: {reply.data[:200]!r}")
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return done / (time.perf_counter() - start)


async def _answered(client: Any, subject: str, body: bytes) -> None:
    """Wait until a replica answers (it subscribes once started, and answers once at the position)."""
    from nats.errors import NoRespondersError

    deadline = time.perf_counter() + 120
    while True:
        try:
            await client.request(subject, body, timeout=30)
            return
        except NoRespondersError:
            if time.perf_counter() > deadline:
                raise
            await asyncio.sleep(0.1)


def _records(journal: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM records").fetchone()[0])
    except sqlite3.Error:
        return 0


async def _caught_up(journal: Path, records: int) -> None:
    """Wait until ``journal`` holds ``records`` records (the second replica has applied the stream)."""
    deadline = time.perf_counter() + 120
    while _records(journal) < records:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"a replica did not catch up ({journal})")
        await asyncio.sleep(0.1)


def _spawn(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


async def _checks(client: Any, name: str, last: int, folder: Path, seconds: float) -> tuple[float, float, float]:
    log = venue_log(name)
    order = PlaceOrder("acct000001", "probe", "BTCUSDT", Side.LONG, Decimal("0.01"), Decimal(60000))
    body = canonical_json({"input": encode_command(order), "min_seq": last})
    replicas: list[subprocess.Popen[str]] = []
    journals = [folder / f"check-{k}.sqlite" for k in range(2)]
    try:
        for k, journal in enumerate(journals):
            replicas.append(_spawn(["-m", "solvent.cli", "cluster", "replica", "--nats", NATS_URL, "--venue", name,
                                    "--journal", str(journal)]))
            if k == 0:
                await _answered(client, log.check_subject, body)  # the replica is at `last`
                one = await _rate(client, log.check_subject, body, seconds)
            else:
                await _caught_up(journal, _records(journals[0]))
        two = await _rate(client, log.check_subject, body, seconds)
    finally:
        for proc in replicas:
            proc.kill()
            proc.communicate()
    reply = canonical_json({"accepted": True, "denial": None, "events": [], "seq": last}).decode()
    bare = _spawn(["-c", _RESPONDER, NATS_URL, log.check_subject + ".bare", reply])
    try:
        assert bare.stdout is not None
        bare.stdout.readline()
        floor = await _rate(client, log.check_subject + ".bare", body, seconds)
    finally:
        bare.kill()
        bare.communicate()
    return one, two, floor


THROUGHPUT_REPLICAS = (1, 2, 4)


async def _replicas_through(name: str, last: int, count: int, folder: Path) -> float:
    """The longest time one of ``count`` replica processes, started together on stream ``name``,
    reports following it from the genesis through message ``last`` (``seconds`` in its JSON).
    Each first takes the genesis alone (``--stop-at 1``), so that building its engine (the tick
    screen's compiled kernel loaded) is recovery when it starts again, before its clock runs."""

    async def run(stop_at: int) -> list[dict[str, Any]]:
        procs = [_spawn(["-m", "solvent.cli", "cluster", "replica", "--nats", NATS_URL, "--venue", name, "--journal",
                         str(folder / f"{name}-{count}-{k}.sqlite"), "--stop-at", str(stop_at), "--json"])
                 for k in range(count)]
        reports = []
        for proc in procs:
            out, _ = await asyncio.to_thread(proc.communicate)
            if proc.returncode != 0:
                raise RuntimeError(f"a replica of the throughput run failed (exit {proc.returncode})")
            reports.append(json.loads(out))
        return reports

    await run(1)
    reports = await run(last)
    if any(r["followed"] != last - 1 for r in reports):
        raise RuntimeError(f"a replica did not follow messages 2 to {last}: {reports}")
    return max(float(r["seconds"]) for r in reports)


def _single_engine_s(accounts: int) -> float:
    cmds, engine = _book(accounts)
    start = time.perf_counter()
    for cmd in cmds:
        engine.apply(cmd)
    return time.perf_counter() - start


@benchmark("cluster", needs=("cluster", "stress"))
def cluster_benchmarks(quick: bool) -> list[BenchResult]:
    name = f"bench{uuid.uuid4().hex[:10]}"
    accounts = 50 if quick else 500

    async def run() -> tuple[int, float, float, float, float, float, list[tuple[int, float]]]:
        last, client = await _publish_stream(name, accounts)
        try:
            with tempfile.TemporaryDirectory(prefix="solvent-bench-cluster-") as scratch:
                folder = Path(scratch)
                read_s = min([await _bare_read(client, name, last) for _ in range(3)])
                apply_s = await _apply(client, name, last, folder)
                one, two, floor = await _checks(client, name, last, folder, 1.0 if quick else 3.0)
                through = [(count, await _replicas_through(name, last, count, folder)) for count in THROUGHPUT_REPLICAS]
            return last, read_s, apply_s, one, two, floor, through
        finally:
            await client.jetstream().delete_stream(venue_log(name).stream)
            await client.close()

    last, read_s, apply_s, one, two, floor, through = asyncio.run(run())
    per = last - 1
    single = per / min(_single_engine_s(accounts) for _ in range(3))
    rates = []
    for count, seconds in through:
        rates.append(result(f"cluster.throughput.{count}", per / seconds, "commands/s",
                            "one Engine in this process, same commands (no log, no journal), commands/s", single,
                            f"{count} replica process(es) at once, each applying and journaling all {per:,} "
                            f"commands: the slowest took {seconds:.2f} s; {os.cpu_count()} CPU cores"))
    return [
        result("cluster.apply", apply_s / per * 1e6, "µs/command", "the same messages read by a bare pull consumer",
               read_s / per * 1e6, f"{per:,} commands ({accounts} accounts, 10 symbols), batches of {BATCH}; "
               f"{per / apply_s:,.0f} commands/s applied and journaled"),
        result("cluster.check", one, "checks/s", "a bare NATS responder (1 process), replies/s", floor,
               f"two replicas {two:,.0f} checks/s; {IN_FLIGHT} requests in flight; {os.cpu_count()} CPU cores "
               "shared by the client and the replicas"),
        *rates,
    ]
