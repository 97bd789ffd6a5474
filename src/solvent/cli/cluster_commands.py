"""``solvent cluster``: the engine as replicas following one command log on NATS JetStream
(``solvent/cluster``, docs/cluster.md). Needs the ``cluster`` extra (nats-py) and a NATS
server with JetStream."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import click

from solvent.cli.params import WholeNumber
from solvent.cli.render import emit_json
from solvent.errors import InvalidInput, SolventError

__all__ = ["cluster_cmd"]

T = TypeVar("T")
DEFAULT_NATS = "nats://127.0.0.1:4222"
MAX_REPLICAS = 16


@click.group("cluster")
def cluster_cmd() -> None:
    """Replicas of the engine, each following the venue's command log on NATS JetStream."""


def _nats_option(fn: Any) -> Any:
    return click.option("--nats", "nats_url", default=DEFAULT_NATS, show_default=True,
                        help="NATS server (JetStream enabled), or a cluster's servers separated by commas.")(fn)


def _need_nats() -> None:
    """Before anything is opened or created: the ``cluster`` extra is installed."""
    from solvent.extras import require

    require("cluster", "solvent cluster")


NATS_SCHEMES = ("nats://", "tls://", "ws://", "wss://")


def _check_url(url: str, option: str = "--nats") -> list[str]:
    """The servers ``--nats`` (or ``option``) names: one URL, or several separated by commas (a cluster's nodes)."""
    servers = [part.strip() for part in url.split(",")]
    for server in servers:
        if not server.startswith(NATS_SCHEMES) or len(server) <= server.index("://") + 3:
            raise InvalidInput(f"{option} must be NATS server URLs ({', '.join(NATS_SCHEMES)}…) separated by commas, "
                               f"got {url!r}")
    return servers


async def _quiet(exc: Exception) -> None:
    """nats-py's error callback: the connection's errors reach the user as one line, not its tracebacks."""


def _on_nats(work: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(work)``, a NATS failure that escapes it (a connection lost for good, a
    request never answered) said in one line, not as an internal error."""
    import nats.errors

    try:
        return asyncio.run(work)
    except (nats.errors.Error, ConnectionError, TimeoutError) as exc:
        raise SolventError(f"NATS: {type(exc).__name__}: {exc}") from None


REPLICA_RECONNECTS = 60
"""Times a replica tries each server again after losing its connection, half a second apart
(about 30 s with one server): then it stops, and ``cluster run`` starts it again."""


async def _connect(url: str, *, notice: Callable[[str], None] | None = None) -> Any:
    """A connection to a server of ``url`` that answers (nats-py tries them in random order,
    and also those the cluster tells it of). A command (no ``notice``) tries each server twice
    at most; a replica (told of a lost and a new server through
    ``notice``) keeps trying its servers for ``REPLICA_RECONNECTS`` rounds when the connection
    drops, and follows the log again where it stopped."""
    import nats

    from solvent.cluster.log import server_of

    callbacks: dict[str, Any] = {}
    if notice is not None:
        told = notice

        async def lost() -> None:
            if not client.is_closed:  # nats-py calls this on ``close()`` too
                told("lost its NATS server; trying the others")

        async def found() -> None:
            told(f"on NATS server {server_of(client)} again")

        callbacks = {"disconnected_cb": lost, "reconnected_cb": found}
    try:
        client = await nats.connect(servers=_check_url(url), connect_timeout=3, allow_reconnect=True,
                                    max_reconnect_attempts=REPLICA_RECONNECTS if notice is not None else 1,
                                    reconnect_time_wait=0.5, error_cb=_quiet, **callbacks)
    except Exception as exc:  # nats-py raises several kinds for an unreachable server
        raise SolventError(f"cannot reach NATS at {url}: {type(exc).__name__}: {exc}") from None
    return client


@cluster_cmd.command("replica")
@_nats_option
@click.option("--venue", required=True, help="The venue's name (its stream is SOLVENT_<venue>).")
@click.option("--journal", "journal", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="This replica's own SQLite journal (created on first start, recovered after).")
@click.option("--stop-at", type=WholeNumber(min=1), default=None,
              help="Stop once this stream sequence is applied, and print the state hash [default: run on].")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def replica_cmd(nats_url: str, venue: str, journal: Path, stop_at: int | None, as_json: bool) -> None:
    """Follow the venue's log: apply every command, journal it, answer pre-trade checks."""
    from solvent.cluster.log import venue_log
    from solvent.cluster.replica import Replica, follow, serve_checks
    from solvent.journal.open import open_journal

    _need_nats()
    _check_url(nats_url)
    log = venue_log(venue)
    if not journal.parent.is_dir():
        raise InvalidInput(f"--journal {journal}: no directory {journal.parent}")
    backend = open_journal(str(journal), create=True, exclusive=True)

    def notice(line: str) -> None:
        click.echo(f"{venue} ({journal.name}): {line}", err=True)  # which replica, under cluster run

    async def run() -> tuple[Replica, int, float]:
        client = await _connect(nats_url, notice=notice)
        try:
            replica = Replica(backend, log)
            await serve_checks(replica, client)
            start, since = replica.position, time.perf_counter()
            await follow(replica, client, stop_at=stop_at, notice=notice)
            return replica, replica.position - start, time.perf_counter() - since
        finally:
            await client.close()

    try:
        replica, followed, seconds = _on_nats(run())
        out = {"venue": venue, "position": replica.position, "followed": followed, "seconds": round(seconds, 6),
               "state_hash": replica.state_hash(),
               "journal_seq": replica.engine.seq if replica.engine is not None else 0, "journal": str(journal)}
    finally:
        backend.close()
    if as_json:
        emit_json(out)
    else:
        click.echo(f"{venue}: applied through stream message {out['position']} ({followed} messages followed in "
                   f"{seconds:.2f} s)  state_hash {out['state_hash']}")


def _replica_args(nats_url: str, venue: str, journal: Path, stop_at: int | None = None) -> list[str]:
    """The command line of one replica process (``cluster replica``)."""
    args = [sys.executable, "-m", "solvent.cli", "cluster", "replica", "--nats", nats_url, "--venue", venue,
            "--journal", str(journal)]
    return args + (["--stop-at", str(stop_at), "--json"] if stop_at is not None else [])


def _die_with_parent() -> None:
    """In a replica process, before it runs (Linux): SIGTERM when the process that started it
    dies, so a supervisor killed with SIGKILL leaves no replica behind holding its journal."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _start_replica(args: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
    return subprocess.Popen(args, preexec_fn=_die_with_parent, **kwargs)


RESTARTS = 5
"""Restarts of one replica within ``RESTART_WINDOW_S`` after which ``cluster run`` gives up."""
RESTART_WINDOW_S = 30.0


class _Stop(Exception):
    """SIGTERM or SIGINT to ``cluster run``."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


@cluster_cmd.command("run")
@_nats_option
@click.option("--venue", required=True, help="The venue's name (its stream is SOLVENT_<venue>).")
@click.option("--replicas", type=WholeNumber(1, MAX_REPLICAS), default=2, show_default=True,
              help="Replica processes to keep running.")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where the replicas keep their journals (replica-1.sqlite, …), kept across restarts.")
@click.option("--json", "as_json", is_flag=True,
              help="Each start and stop as a JSON line on stdout (replica, pid, journal, exit) instead of text on "
                   "stderr.")
def run_cmd(nats_url: str, venue: str, replicas: int, directory: Path, as_json: bool) -> None:
    """Run REPLICAS replicas of the venue and restart any that stops (SIGTERM or Ctrl-C stops them all)."""
    from solvent.cluster.log import venue_log

    _need_nats()
    _check_url(nats_url)
    venue_log(venue)  # a bad name is refused here, not by each replica
    directory.mkdir(parents=True, exist_ok=True)
    journals = [directory / f"replica-{k + 1}.sqlite" for k in range(replicas)]
    procs: list[subprocess.Popen[bytes]] = []
    starts: list[list[float]] = [[] for _ in journals]

    def start(k: int) -> subprocess.Popen[bytes]:
        starts[k] = [t for t in starts[k] if time.monotonic() - t < RESTART_WINDOW_S] + [time.monotonic()]
        if len(starts[k]) > RESTARTS:
            raise SolventError(f"replica {k + 1} stopped {RESTARTS} times within {RESTART_WINDOW_S:g} s; "
                               "giving up (its errors are above)")
        proc = _start_replica(_replica_args(nats_url, venue, journals[k]))
        if as_json:
            click.echo(json.dumps({"event": "started", "replica": k + 1, "pid": proc.pid,
                                   "journal": str(journals[k])}))
        else:
            click.echo(f"replica {k + 1}: pid {proc.pid}, journal {journals[k]}", err=True)
        return proc

    previous = signal.signal(signal.SIGTERM, _stop), signal.signal(signal.SIGINT, _stop)
    try:
        procs.extend(start(k) for k in range(replicas))
        while True:
            time.sleep(0.2)
            for k, proc in enumerate(procs):
                if proc.poll() is not None:
                    if as_json:
                        click.echo(json.dumps({"event": "stopped", "replica": k + 1, "pid": proc.pid,
                                               "exit": proc.returncode}))
                    else:
                        click.echo(f"replica {k + 1} stopped (exit {proc.returncode}); restarting", err=True)
                    procs[k] = start(k)
    except _Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _run_replicas(nats_url: str, venue: str, replicas: int, directory: Path | None, last: int
                  ) -> list[dict[str, Any]]:
    """Run ``replicas`` replica processes through stream message ``last``; their JSON reports
    (``journal`` is ``None`` for a temporary directory, gone when this returns)."""
    with tempfile.TemporaryDirectory(prefix="solvent-cluster-") as scratch:
        where = directory or Path(scratch)
        where.mkdir(parents=True, exist_ok=True)
        procs = [_start_replica(_replica_args(nats_url, venue, where / f"replica-{k + 1}.sqlite", last),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(replicas)]
        results = []
        failed = []
        for k, proc in enumerate(procs):
            out, err = proc.communicate()
            if proc.returncode != 0:
                failed.append(f"replica {k + 1}: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}")
            else:
                results.append(json.loads(out))
        if failed:
            raise SolventError("; ".join(failed))
    if directory is None:
        for r in results:
            r["journal"] = None
    return results


@cluster_cmd.command("init")
@_nats_option
@click.option("--venue", required=True, help="The venue's name (its stream is SOLVENT_<venue>).")
@click.option("--profile", default="binance-usdm", show_default=True,
              help="Bundled venue profile of the genesis (the embedded default: liquidation on).")
@click.option("--stream-replicas", type=WholeNumber(min=1), default=1, show_default=True,
              help="NATS servers that keep a copy of the log (a cluster of 3 keeps it through the loss of one).")
@click.option("--duplicate-window", type=WholeNumber(min=60, max=86_400), default=120, show_default=True,
              metavar="SECONDS",
              help="How long a retried message (the same message id: a line of the same file, the same "
                   "Idempotency-Key through serve --cluster) is stored once; at least 60, twice the 30 s a publisher "
                   "keeps sending a message through a lost NATS server. JetStream keeps every id of the window in "
                   "memory.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def init_cmd(nats_url: str, venue: str, profile: str, stream_replicas: int, duplicate_window: int,
             as_json: bool) -> None:
    """Start a venue's log: create its stream and publish its genesis (message 1)."""
    from solvent.cluster.log import (
        encode_genesis,
        ensure_stream,
        publish,
        stream_copies,
        stream_window,
        venue_log,
        window_words,
    )
    from solvent.engine.config import default_config

    _need_nats()
    _check_url(nats_url)
    log = venue_log(venue)
    genesis = encode_genesis(default_config(profile))

    async def run() -> tuple[int, int]:
        client = await _connect(nats_url)
        try:
            js = client.jetstream()
            if await ensure_stream(js, log, stream_replicas, float(duplicate_window)):
                raise InvalidInput(f"stream {log.stream} already holds messages: venue {venue} has begun")
            copies = await stream_copies(js, log)
            if copies != stream_replicas:  # an empty stream made before, with other copies
                raise InvalidInput(f"stream {log.stream} exists, empty, kept on {copies} NATS server(s), not "
                                   f"{stream_replicas}: give --stream-replicas {copies}, or delete the stream first")
            window = await stream_window(js, log)
            if window != duplicate_window:  # an empty stream made before, with another window
                raise InvalidInput(f"stream {log.stream} exists, empty, with a duplicate window of "
                                   f"{window_words(window)}, not {window_words(duplicate_window)}: give "
                                   f"--duplicate-window {window:g}, or delete the stream first")
            return await publish(js, log, genesis, f"{venue}:genesis"), copies
        finally:
            await client.close()

    seq, copies = _on_nats(run())
    out = {"venue": venue, "stream": log.stream, "subject": log.subject, "profile": profile, "seq": seq,
           "stream_replicas": copies, "duplicate_window_s": duplicate_window}
    if as_json:
        emit_json(out)
    else:
        click.echo(f"{venue}: stream {log.stream} begun with the genesis of {profile} (message {seq})")


def _submitted(raw: Any) -> Any:
    """A submitted line's command: ``{"config": {...}}`` a parameter change, anything else a
    command as a journal records its input (``CodecError``/``InvalidInput`` otherwise)."""
    from solvent.engine.commands import ChangeParams
    from solvent.engine.params import refuse_settings
    from solvent.journal.codec import decode_command, decode_config

    if isinstance(raw, dict) and "config" in raw and "type" not in raw:
        if list(raw) != ["config"] or not isinstance(raw["config"], dict):
            raise InvalidInput("a parameter change is {\"config\": {...}} and nothing else, as GET /v1/params "
                               "gives it")
        config = decode_config(raw["config"])
        refuse_settings(config)  # what a replica would refuse whatever the venue's state
        return ChangeParams(config)
    return decode_command(raw)


@cluster_cmd.command("submit")
@click.argument("commands", type=click.File("r", encoding="utf-8"))
@_nats_option
@click.option("--venue", required=True, help="The venue's name (its stream is SOLVENT_<venue>).")
@click.option("--id-prefix", default=None,
              help="Message ids are PREFIX:LINE; a retry with the same ids within the stream's duplicate window "
                   "(cluster init --duplicate-window, 120 s by default) is stored once [default: the file's SHA-256].")
@click.option("--from-line", type=WholeNumber(min=1), default=1, show_default=True,
              help="Send the lines from this one on (every line is still checked): the rest of a file a failed "
                   "submit stopped in.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def submit_cmd(commands: Any, nats_url: str, venue: str, id_prefix: str | None, from_line: int,
               as_json: bool) -> None:
    """Append the commands of COMMANDS (one JSON command per line, as a journal records its input;
    '-' for stdin) to the venue's log. A line {"config": {...}} is a parameter change: the body
    POST /v1/params takes, GET /v1/params's config edited. Every line is checked before the
    first is sent."""
    from solvent.cluster.log import (
        TRANSIENT_PATIENCE_S,
        ClusterError,
        encode_command_message,
        patiently,
        publish,
        stream_last,
        stream_window,
        venue_log,
        window_words,
    )
    from solvent.journal.codec import CodecError
    from solvent.jsonstrict import loads_strict

    _need_nats()
    _check_url(nats_url)
    log = venue_log(venue)
    text = commands.read()
    prefix = id_prefix or hashlib.sha256(text.encode("utf-8")).hexdigest()
    payloads: list[tuple[int, bytes]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            payloads.append((number, encode_command_message(_submitted(loads_strict(line, "a command")))))
        except (CodecError, InvalidInput, ValueError, TypeError, ArithmeticError) as exc:  # what a config refuses
            raise InvalidInput(f"line {number}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") \
                from None
    payloads = [(number, payload) for number, payload in payloads if number >= from_line]
    if not payloads:
        raise InvalidInput("no command to submit (one JSON command per line)" if from_line == 1 else
                           f"no command at or after line {from_line}")
    async def run() -> list[int]:
        client = await _connect(nats_url)
        started, first_sent = time.monotonic(), time.strftime("%H:%M:%S")
        try:
            js = client.jetstream()
            try:
                begun = await patiently(lambda: stream_last(js, log))
            except ClusterError as exc:
                raise SolventError(f"stream {log.stream} not reached: {exc}; nothing was stored; send the file "
                                   "again") from None
            if not begun:
                raise InvalidInput(f"venue {venue} has not begun (no genesis in {log.stream}): solvent cluster init "
                                   "begins it")
            window_s = await stream_window(js, log)
            window = window_words(window_s)
            stored: list[int] = []
            for number, payload in payloads:
                try:
                    stored.append(await publish(js, log, payload, f"{prefix}:{number}",
                                                min(TRANSIENT_PATIENCE_S, window_s / 2)))
                except Exception as exc:
                    done = f"the lines before it were stored (messages {stored[0]} to {stored[-1]})" if stored \
                        else "nothing was stored"
                    again = f"send the rest with --from-line {number}" + (
                        f" (or the same file again within {window} of {first_sent}: a line stored "
                        "within that window is stored once)" if time.monotonic() - started < window_s
                        else "")
                    raise SolventError(f"line {number} not stored: {type(exc).__name__}: {exc}; {done}; "
                                       f"{again}") from None
            return stored
        finally:
            await client.close()

    seqs = _on_nats(run())
    rows = [{"line": number, "seq": seq} for (number, _), seq in zip(payloads, seqs, strict=True)]
    if as_json:
        emit_json({"venue": venue, "stream": log.stream, "submitted": rows})
    else:
        click.echo(f"{venue}: {len(rows)} commands stored, messages {rows[0]['seq']} to {rows[-1]['seq']}")


@cluster_cmd.command("check")
@click.argument("order")
@_nats_option
@click.option("--venue", required=True, help="The venue's name.")
@click.option("--min-seq", type=WholeNumber(min=0), default=0, show_default=True,
              help="Answer from a state that includes this stream message (the one your write was stored at).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def check_cmd(order: str, nats_url: str, venue: str, min_seq: int, as_json: bool) -> None:
    """Pre-trade check of ORDER (a PlaceOrder as JSON) by one of the venue's replicas."""
    from solvent.cluster.log import venue_log
    from solvent.journal.codec import CodecError, canonical_json, decode_command, encode_command
    from solvent.jsonstrict import loads_strict

    _need_nats()
    _check_url(nats_url)
    log = venue_log(venue)
    try:
        cmd = decode_command(loads_strict(order, "ORDER"))
    except (CodecError, InvalidInput) as exc:
        raise InvalidInput(f"ORDER: {exc}") from None
    body = canonical_json({"input": encode_command(cmd), "min_seq": min_seq})

    async def run() -> dict[str, Any]:
        from nats.errors import NoRespondersError
        from nats.errors import TimeoutError as NatsTimeout

        client = await _connect(nats_url)
        try:
            reply = await client.request(log.check_subject, body, timeout=10)
        except NoRespondersError:
            raise SolventError(f"no replica of {venue} answers (start one: solvent cluster replica)") from None
        except NatsTimeout:
            raise SolventError(f"no answer from {venue}'s replicas within 10 s") from None
        finally:
            await client.close()
        answer: dict[str, Any] = json.loads(reply.data)
        return answer

    answer = _on_nats(run())
    if as_json:
        emit_json(answer)
    elif "error" in answer:
        click.echo(f"not checked: {answer['error']}")
    elif answer["accepted"]:
        click.echo(f"accepted (at stream message {answer['seq']})")
    else:
        denial = answer["denial"] or {}
        click.echo(f"refused: {denial.get('code')} (at stream message {answer['seq']})")
    if "error" in answer:
        raise click.exceptions.Exit(1)


@cluster_cmd.command("replay")
@click.argument("journal")
@_nats_option
@click.option("--replicas", type=WholeNumber(1, MAX_REPLICAS), default=2, show_default=True,
              help="Replica processes to run over the log.")
@click.option("--venue", default=None,
              help="Venue name for the log (its stream must be empty or absent) [default: replay-<random>].")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the replicas keep their journals [default: a temporary directory, removed after].")
@click.option("--keep-stream", is_flag=True, help="Keep the stream after the run [default: deleted].")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def replay_cmd(journal: str, nats_url: str, replicas: int, venue: str | None, directory: Path | None,
               keep_stream: bool, as_json: bool) -> None:
    """Push a journal's commands through the log, run replicas over it, and compare each
    replica's state hash with the journal's own replay (exit 1 if any differs)."""
    from solvent.cluster.log import (
        encode_command_message,
        encode_genesis,
        encode_params_message,
        ensure_stream,
        publish,
        stream_last,
        venue_log,
    )
    from solvent.engine import ChangeParams
    from solvent.engine.params import admission_problem
    from solvent.journal.codec import CodecError, decode_record
    from solvent.journal.engine_replay import full_replay
    from solvent.journal.open import open_journal
    from solvent.journal.replay import open_genesis

    _need_nats()
    _check_url(nats_url)
    venue = venue or f"replay-{uuid.uuid4().hex[:8]}"
    log = venue_log(venue)
    backend = open_journal(journal, read_only=True)
    try:
        rec = full_replay(backend)
        if rec.problem is not None:
            raise SolventError(f"{journal}: {rec.message()}")
        expected = rec.engine.state_hash()
        in_force, _ = open_genesis(backend, None)  # the genesis as recorded: a params record may have changed it since
        messages: list[tuple[str, bytes]] = [(f"{venue}:genesis:{rec.head_hash}", encode_genesis(in_force))]
        for stored in backend.records(1):
            record = decode_record(stored.payload)
            if record.kind == "params" and record.config is not None and isinstance(record.input, ChangeParams):
                # replicas admit a change from the log as a new one: one this solvent would refuse (a
                # journal written under looser bounds) would leave them behind the journal's replay
                refused = admission_problem(in_force, record.input.config)
                if refused is not None:
                    raise InvalidInput(f"{journal}: record {record.seq} changes parameters in a way this solvent "
                                       f"refuses to admit ({refused}); the cluster log would refuse it too")
                in_force = record.input.config
                messages.append((f"{venue}:{record.seq}:{stored.hash}", encode_params_message(record.config)))
            elif record.kind == "command" and record.input is not None:
                messages.append((f"{venue}:{record.seq}:{stored.hash}", encode_command_message(record.input)))
    except CodecError as exc:
        raise SolventError(f"{journal}: {exc}") from None
    finally:
        backend.close()

    created = False  # the stream is deleted after the run only if this run made it

    async def push() -> int:
        nonlocal created
        client = await _connect(nats_url)
        try:
            js = client.jetstream()
            if await stream_last(js, log) is not None:
                raise InvalidInput(f"stream {log.stream} exists already: replay into a new --venue")
            await ensure_stream(js, log)
            created = True
            last = 0
            for msg_id, payload in messages:
                last = await publish(js, log, payload, msg_id)
            return last
        finally:
            await client.close()

    async def drop() -> None:
        client = await _connect(nats_url)
        try:
            await client.jetstream().delete_stream(log.stream)
        finally:
            await client.close()

    previous = signal.signal(signal.SIGTERM, _stop)  # SIGTERM cleans up as the end of the run does
    try:
        last = _on_nats(push())
        results = _run_replicas(nats_url, venue, replicas, directory, last)
    except _Stop:
        raise SolventError("stopped (SIGTERM)") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        if created and not keep_stream:
            with contextlib.suppress(Exception):  # a stream never made, or a server gone: nothing to delete
                asyncio.run(drop())
    identical = all(r["state_hash"] == expected for r in results)
    report = {"venue": venue, "stream": log.stream, "stream_kept": keep_stream, "messages": last,
              "commands": len(messages) - 1, "state_hash": expected, "replicas": results, "identical": identical}
    if as_json:
        emit_json(report)
    else:
        for k, r in enumerate(results):
            click.echo(f"replica {k + 1}: through message {r['position']}  state_hash {r['state_hash']}")
        click.echo(f"journal replay:           state_hash {expected}  "
                   f"({'identical' if identical else 'DIFFERENT'}: {len(results)} replicas, {last} messages)")
    if not identical:
        raise click.exceptions.Exit(1)
