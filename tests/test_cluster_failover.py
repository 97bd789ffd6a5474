"""Failover of the cluster (issue 13): a venue's log on a cluster of three NATS servers keeps
every acknowledged command through the loss of one of them, and replicas SIGKILLed twenty
times while the log grows still reach one engine's state, each command applied once.

The three servers run here as three ``nats-server`` processes on loopback ports, with the
flags ``deploy/compose.yaml`` gives its nodes (``NODE_FLAGS``: JetStream, a server name, one
cluster name, routes to the two others; ``test_deploy`` holds the compose file to them). The
stream keeps three copies (``ensure_stream(replicas=3)``, ``cluster init --stream-replicas 3``).

Needs the ``nats-server`` binary (CI installs it); without it these tests skip with the reason,
except under ``SOLVENT_REQUIRE_SERVICES=1``, where that is a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cluster import SRC, _commands, _commands_journaled, _config, _single_engine_hash, _wait_for

from solvent.cluster.log import encode_command_message, encode_genesis, ensure_stream, publish, venue_log

NODES = 3
CLUSTER_NAME = "solvent"
NODE_FLAGS = ("--jetstream", "--store_dir", "--server_name", "--cluster_name", "--cluster", "--routes")
"""The flags every node of ``deploy/compose.yaml`` is started with (``test_deploy`` checks them)."""


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class NatsCluster:
    """Three JetStream servers routed to each other; ``kill`` and ``start`` one of them."""

    def __init__(self, root: Path, binary: str) -> None:
        self.root, self.binary = root, binary
        root.mkdir(parents=True, exist_ok=True)
        ports = _free_ports(2 * NODES)
        self.client_ports, self.route_ports = ports[:NODES], ports[NODES:]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * NODES

    @property
    def url(self) -> str:
        """The ``--nats`` value naming every node."""
        return ",".join(f"nats://127.0.0.1:{p}" for p in self.client_ports)

    def args(self, k: int) -> list[str]:
        routes = ",".join(f"nats://127.0.0.1:{p}" for j, p in enumerate(self.route_ports) if j != k)
        return [self.binary, "--addr", "127.0.0.1", "--port", str(self.client_ports[k]),
                "--jetstream", "--store_dir", str(self.root / f"n{k + 1}"), "--server_name", f"n{k + 1}",
                "--cluster_name", CLUSTER_NAME, "--cluster", f"nats://127.0.0.1:{self.route_ports[k]}",
                "--routes", routes]

    def start(self, k: int) -> None:
        assert set(NODE_FLAGS) <= {word for word in self.args(k) if word.startswith("--")}
        with (self.root / f"n{k + 1}.log").open("ab") as log:
            self.procs[k] = subprocess.Popen(self.args(k), stdout=log, stderr=log)

    def kill(self, k: int) -> None:
        proc = self.procs[k]
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        self.procs[k] = None

    def node(self, name: str) -> int:
        return int(name.removeprefix("n")) - 1

    def stop(self) -> None:
        for proc in self.procs:
            if proc is not None:
                proc.terminate()
        for proc in self.procs:
            if proc is not None:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


async def _ready(url: str) -> None:
    """Until the cluster answers JetStream requests (its meta leader is elected)."""
    import nats

    deadline = time.monotonic() + 30
    while True:
        try:
            client = await nats.connect(servers=url.split(","), connect_timeout=1, allow_reconnect=False)
            try:
                await client.jetstream().account_info()
                return
            finally:
                await client.close()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    binary = shutil.which("nats-server")
    if binary is None:
        reason = "the nats-server binary is not on PATH (apt-get install nats-server)"
        if os.environ.get("SOLVENT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason}; SOLVENT_REQUIRE_SERVICES=1: it is required")
        pytest.skip(reason)
    nodes = NatsCluster(tmp_path / "nats", binary)
    try:
        for k in range(NODES):
            nodes.start(k)
        asyncio.run(_ready(nodes.url))
        yield nodes
    finally:
        nodes.stop()


def _connect_all(url: str) -> Any:
    import nats

    return nats.connect(servers=url.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.2)


def _replica(url: str, venue: str, journal: Path, stop_at: int | None = None) -> subprocess.Popen[str]:
    """A replica process; its notices go to ``<journal>.err`` (appended across restarts)."""
    args = [sys.executable, "-m", "solvent.cli", "cluster", "replica", "--nats", url, "--venue", venue,
            "--journal", str(journal)]
    if stop_at is not None:
        args += ["--stop-at", str(stop_at), "--json"]
    with journal.with_suffix(".err").open("a", encoding="utf-8") as err:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True,
                                env={**os.environ, "PYTHONPATH": SRC})


def _notices(journal: Path) -> list[str]:
    path = journal.with_suffix(".err")
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def test_a_stream_of_three_copies_is_begun_from_the_command_line_and_a_fourth_is_refused(
        cluster: NatsCluster) -> None:
    venue = f"f{uuid.uuid4().hex[:12]}"

    def init(copies: int, name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "solvent.cli", "cluster", "init", "--nats", cluster.url,
                               "--venue", name, "--stream-replicas", str(copies), "--json"],
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60,
                              check=False)

    done = init(3, venue)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stream_replicas"] == 3

    async def copies() -> tuple[int, int]:
        client = await _connect_all(cluster.url)
        try:
            info = await client.jetstream().stream_info(venue_log(venue).stream)
            assert info.cluster is not None
            return int(info.config.num_replicas or 0), len(info.cluster.replicas or []) + 1  # the leader and the others
        finally:
            await client.close()

    assert asyncio.run(copies()) == (3, 3)
    refused = init(4, f"{venue}x")  # three servers cannot keep four copies: JetStream refuses, one line
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert f"cannot create stream SOLVENT_{venue}x on 4 NATS server(s)" in refused.stderr


KILLS = 20


def test_replicas_reach_one_engine_through_a_lost_server_and_twenty_sigkills(cluster: NatsCluster,
                                                                            tmp_path: Path) -> None:
    """While the log grows to about 12,000 commands (a crash with liquidations and ADL at its
    end): the NATS server replica 1 follows the log on is SIGKILLed (and started again later),
    and replica 1 carries on through another server without stopping; then the two replicas
    are SIGKILLed twenty times in all, each started again at once on its journal, the log
    growing by a chunk after each kill. Every
    command the publisher had acknowledged is in the stream once, and each replica journals
    each stream message once, in order, and reaches the hash of one engine fed the same
    commands."""
    cmds = _commands(accounts=4_000)
    expected, accepted = _single_engine_hash(cmds)
    venue = f"f{uuid.uuid4().hex[:12]}"
    log = venue_log(venue)
    journals = [tmp_path / "replica-1.sqlite", tmp_path / "replica-2.sqlite"]
    replicas = [_replica(cluster.url, venue, j) for j in journals]
    acked: list[int] = []
    killed = threading.Semaphore(0)  # released at each replica SIGKILL
    first = 3_000  # before the chaos: the lost server, and replica 1 going on through another
    chunk = -(-(len(cmds) - first) // KILLS)

    async def feed() -> None:
        """The log grows all through the chaos: after the first 3,000 commands, one more chunk
        of the rest after each replica SIGKILL."""
        client = await _connect_all(cluster.url)
        try:
            js = client.jetstream()
            await ensure_stream(js, log, replicas=3)
            acked.append(await publish(js, log, encode_genesis(_config()), f"{venue}:genesis"))
            for k, cmd in enumerate(cmds):
                if k >= first and (k - first) % chunk == 0:
                    assert await asyncio.to_thread(killed.acquire, timeout=300), "no replica was killed"
                acked.append(await publish(js, log, encode_command_message(cmd), f"{venue}:{k}"))
        finally:
            await client.close()

    feeder = threading.Thread(target=lambda: asyncio.run(feed()))
    feeder.start()
    chance = random.Random(13)
    died_alone: list[str] = []

    def following(k: int) -> int:
        return sum(" following " in line for line in _notices(journals[k]))

    started = [0, 0]  # ``following`` notices of each replica when it was last started
    growing = 0  # kills while the log still grew

    def restart(k: int) -> None:
        """SIGKILL replica ``k`` once it follows the log again and has applied a while; start it again."""
        nonlocal growing
        _wait_for(lambda: following(k) > started[k] or replicas[k].poll() is not None)
        time.sleep(chance.uniform(0.05, 0.5))
        if replicas[k].poll() is not None:  # a replica must ride out the lost server, not stop
            died_alone.append(f"replica {k + 1} exit {replicas[k].returncode}: {_notices(journals[k])[-1:]}")
        growing += feeder.is_alive() and len(acked) < len(cmds) + 1
        replicas[k].send_signal(signal.SIGKILL)
        replicas[k].communicate(timeout=10)
        killed.release()
        started[k] = following(k)
        replicas[k] = _replica(cluster.url, venue, journals[k])

    def server(k: int) -> int:
        """The node replica ``k`` said it follows the log on."""
        on = [line.rsplit(" on ", 1)[1] for line in _notices(journals[k]) if " following " in line]
        return [f"nats://127.0.0.1:{p}" for p in cluster.client_ports].index(on[-1])

    try:
        _wait_for(lambda: journals[0].exists() and _commands_journaled(journals[0]) > 100
                  and any(" following " in line for line in _notices(journals[0])), seconds=120)
        lost = server(0)
        cluster.kill(lost)
        before = _commands_journaled(journals[0])
        _wait_for(lambda: _commands_journaled(journals[0]) > before + 1_000, seconds=120)  # on another server
        assert replicas[0].poll() is None, _notices(journals[0])
        assert any("lost its NATS server" in line for line in _notices(journals[0]))
        for n in range(KILLS):
            restart(chance.randrange(len(replicas)))
            if n == KILLS // 2:
                cluster.start(lost)  # back, it catches up from the others
        feeder.join(timeout=300)
        assert not feeder.is_alive()
        assert growing == KILLS, growing  # every kill came while commands were still arriving
        assert acked == list(range(1, len(cmds) + 2))  # every command stored once, in the order sent
        _wait_for(lambda: all(j.exists() and _commands_journaled(j) == accepted for j in journals), seconds=180)
        died_alone += [f"replica {k + 1} exit {p.returncode}" for k, p in enumerate(replicas) if p.poll() is not None]
    finally:
        for proc in replicas:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=10)
        feeder.join(timeout=60)
    assert not died_alone, died_alone
    for journal in journals:
        said = len(_notices(journal))
        done = _replica(cluster.url, venue, journal, stop_at=len(cmds) + 1)
        out, _ = done.communicate(timeout=120)
        assert done.returncode == 0, _notices(journal)[-3:]
        assert json.loads(out)["state_hash"] == expected
        assert _commands_journaled(journal) == accepted
        assert not any("lost its NATS server" in n for n in _notices(journal)[said:])  # a clean stop is no loss


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "solvent.cli", "cluster", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": SRC}, timeout=120, check=False)


def test_submit_and_init_ride_out_the_election_after_the_streams_server_is_lost(cluster: NatsCluster,
                                                                               tmp_path: Path) -> None:
    """``cluster submit`` started at once after the server leading the stream is SIGKILLed (the
    stream has no leader yet: its first read fails) stores every line once. With the new
    leader lost too (two servers of three: no majority), nothing is stored and the one-line
    error says how to send the rest (``--from-line``, which then sends just those lines).
    ``init`` refuses an empty stream made before with other copies than it is asked for."""
    venue = f"s{uuid.uuid4().hex[:12]}"
    begun = _cli("init", "--nats", cluster.url, "--venue", venue, "--stream-replicas", "3", "--json")
    assert begun.returncode == 0, begun.stderr
    lines = [json.dumps({"type": "Deposit", "account_id": f"a{k}", "asset": "USDT", "amount": str(100 + k)})
             for k in range(300)]
    orders = tmp_path / "deposits.ndjson"
    orders.write_text("\n".join(lines) + "\n", encoding="utf-8")

    async def leader() -> str:
        client = await _connect_all(cluster.url)
        try:
            info = await client.jetstream().stream_info(venue_log(venue).stream)
            assert info.cluster is not None and info.cluster.leader is not None
            return info.cluster.leader
        finally:
            await client.close()

    cluster.kill(cluster.node(asyncio.run(leader())))
    sent = _cli("submit", str(orders), "--nats", cluster.url, "--venue", venue, "--json")
    assert sent.returncode == 0, sent.stderr
    assert [row["seq"] for row in json.loads(sent.stdout)["submitted"]] == list(range(2, 302))
    second = asyncio.run(leader())
    cluster.kill(cluster.node(second))  # two of three lost: no majority, nothing can be stored
    stuck = _cli("submit", str(orders), "--nats", cluster.url, "--venue", venue, "--id-prefix", "again")
    assert stuck.returncode == 1 and stuck.stderr.count("\n") == 1, stuck.stderr
    # the stream's end unreadable, or its first line not stored: either way, nothing was stored, and it says so
    assert "nothing was stored; send the" in stuck.stderr, stuck.stderr

    empty = f"{venue}e"  # a stream made by hand, one copy, no genesis
    for k in range(NODES):
        if cluster.procs[k] is None:
            cluster.start(k)
    asyncio.run(_ready(cluster.url))

    async def bare_stream() -> None:
        client = await _connect_all(cluster.url)
        try:
            await ensure_stream(client.jetstream(), venue_log(empty), replicas=1)
        finally:
            await client.close()

    asyncio.run(bare_stream())
    refused = _cli("init", "--nats", cluster.url, "--venue", empty, "--stream-replicas", "3")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "kept on 1 NATS server(s), not 3: give --stream-replicas 1" in refused.stderr
    rest = _cli("submit", str(orders), "--nats", cluster.url, "--venue", venue, "--from-line", "299", "--json",
                "--id-prefix", "rest")
    assert rest.returncode == 0, rest.stderr
    assert [row["line"] for row in json.loads(rest.stdout)["submitted"]] == [299, 300]
