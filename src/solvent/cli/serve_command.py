"""``solvent serve``: the HTTP + WebSocket service and dashboard (uvicorn, one process)."""

from __future__ import annotations

import gc
import logging
import os
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import click

from solvent.cli.params import FiniteFloatRange, WholeNumber
from solvent.errors import InvalidInput
from solvent.extras import missing_extra

__all__ = ["serve_cmd"]


def _new_key(spec: str, keys_file: str | None) -> None:
    from solvent.cli.keys_command import issue_key

    if not keys_file:
        raise InvalidInput("--new-key needs --keys-file (the file the hashed key is added to)")
    click.echo(issue_key(spec, keys_file))


SERVER_SETTINGS: dict[str, object] = {
    "log_config": None, "access_log": False, "lifespan": "on", "ws": "websockets-sansio",
    "loop": "auto", "http": "auto", "ws_per_message_deflate": False, "timeout_graceful_shutdown": 5,
}
"""How ``solvent serve`` runs uvicorn (``uvicorn.run(app, host=…, port=…, **SERVER_SETTINGS)``),
and so how the bare-server floor of ``solvent bench http`` runs. ``auto`` picks uvloop and
httptools, which the ``service`` extra installs (C event loop and HTTP parser; uvicorn falls
back to asyncio and h11 without them). WebSocket messages are not compressed: stream events
are small JSON objects, and deflate ran once per client per event (a tenth of the server's
CPU with 100 clients), where everything else about an event is done once."""

OPERATOR_KEY_FILE = Path("solvent-data") / "operator-key.txt"
"""Where the one-time operator key goes when there is no terminal to show it on."""


def show_secret(text: str, fallback: Path) -> str:
    """Show ``text`` (a key) to the person at the terminal, never on stdout/stderr.

    stderr carries the JSON logs, which are collected and shipped: a key must not go there.
    The text goes to the controlling terminal (``/dev/tty``) when there is one; otherwise
    (a service manager, a container) to ``fallback``, created with mode 0600. Returns where.
    """
    try:
        with open("/dev/tty", "w", encoding="utf-8") as tty:
            tty.write(text)
        return "the terminal"
    except OSError:
        fallback.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(fallback, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(fallback, 0o600)
        return str(fallback)


def _read_config(ctx: click.Context, _param: click.Parameter, path: str | None) -> None:
    from solvent.cli.serve_config import load_config

    if path is not None:
        assert ctx.command is not None
        ctx.default_map = {**(ctx.default_map or {}), **load_config(path, ctx.command)}


@click.command("serve")
@click.option("--config", type=click.Path(dir_okay=False), default=None, is_eager=True, expose_value=False,
              callback=_read_config, metavar="FILE",
              help="TOML file whose [serve] table sets any option below (keys as the options, '_' for '-'); "
                   "options given here win over it. See --print-config.")
@click.option("--print-config", is_flag=True,
              help="Print the settings in force (command line, --config file, defaults) as a [serve] table "
                   "and exit.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=WholeNumber(0, 65535), help="TCP port.")
@click.option("--demo", is_flag=True, help="Load the sample book and replay the bundled crash path.")
@click.option("--demo-step", default=1.0, show_default=True, type=FiniteFloatRange(0, 3600),
              help="Seconds between the crash path's one-minute steps.")
@click.option("--keys-file", type=click.Path(dir_okay=False), default=None,
              help="JSON file of hashed API keys (default: $SOLVENT_KEYS_FILE).")
@click.option("--new-key", metavar="ROLE[:ACCOUNT]", default=None,
              help="Add a key ('operator', 'treasury' or 'account:ID') to --keys-file, print it once, and exit.")
@click.option("--journal", "journal", default=None, metavar="PATH|postgresql://…|:memory:",
              help="Journal every accepted command goes to before it is answered: a SQLite file "
                   "(default solvent-data/journal.sqlite; ':memory:' with --demo), a postgresql:// URL, "
                   "or ':memory:' (nothing survives). An existing journal is recovered at start.")
@click.option("--venue", default=None, metavar="NAME",
              help="Bundled venue profile of a new journal (`solvent venues`) [default: binance-usdm]; an "
                   "existing journal keeps the venue it was started with (naming another is refused).")
@click.option("--settle", default=None, metavar="ASSET",
              help="Settlement asset of a new journal's engine [default: the one most of the venue's "
                   "instruments settle in: USDT, USDC on hyperliquid/dydx-v4/drift, BTC on the coin venues].")
@click.option("--schema", default="solvent_journal", show_default=True,
              help="PostgreSQL schema holding the journal's tables.")
@click.option("--init", is_flag=True,
              help="Start a new venue in an existing but empty journal (a new path needs no flag). Without it "
                   "an empty or damaged journal is refused, so a lost journal never becomes a new venue.")
@click.option("--verify-full", is_flag=True,
              help="Verify the whole journal from genesis before serving (every link, every record's events, "
                   "every snapshot). Without it start-up checks the newest good snapshot and the records after it.")
@click.option("--rate", default=50.0, show_default=True, type=FiniteFloatRange(0.1, 1e6),
              help="Requests per second allowed per key (burst: twice that).")
@click.option("--failed-auth-rate", default=None, type=FiniteFloatRange(0.001, 1e6),
              help="Failed authentications per second allowed per client address once its burst is spent "
                   "[default: 1].")
@click.option("--failed-auth-burst", default=None, type=WholeNumber(1, 1_000_000),
              help="Failed authentications in a row a client address may make before it is answered 429 "
                   "[default: 20].")
@click.option("--idempotency-keys", default=None, type=WholeNumber(1, 10_000_000),
              help="How many of the most recent Idempotency-Key answers are remembered (a retry with an older "
                   "key counts as a new request); kept in the journal, so they survive a restart. With --cluster: "
                   "the message ids and answers of the venue's newest log messages, journaled too "
                   "[default: 100000].")
@click.option("--checkpoint-key", default=None, type=click.Path(dir_okay=False),
              help="Sign checkpoints of the journal with this key (solvent tlog keygen's .skey) and serve them "
                   "and proofs against them: /v1/checkpoints, /v1/proofs (docs/verify.md).")
@click.option("--cluster", "cluster_url", default=None, metavar="nats://HOST:PORT[,…]",
              help="Serve a venue whose commands go through its log on NATS JetStream (docs/cluster.md): "
                   "writes are published there and answered once this server has applied them; --journal is "
                   "this server's own journal of the log. Needs --cluster-venue.")
@click.option("--cluster-venue", default=None, metavar="NAME",
              help="With --cluster: the venue's name (`solvent cluster init --venue NAME` began its log).")
@click.option("--access-log-sample", default=1.0, show_default=True, type=FiniteFloatRange(0, 1),
              help="Fraction of HTTP requests the JSON access log writes a line for (0.01: one in a hundred, "
                   "evenly; 0: none). Errors (status 500 and above) are always logged.")
def serve_cmd(host: str, port: int, demo: bool, demo_step: float, keys_file: str | None, new_key: str | None,
              journal: str | None, venue: str | None, settle: str | None, schema: str, init: bool,
              verify_full: bool, rate: float,
              failed_auth_rate: float | None, failed_auth_burst: int | None, idempotency_keys: int | None,
              checkpoint_key: str | None, access_log_sample: float, print_config: bool, cluster_url: str | None,
              cluster_venue: str | None) -> None:
    """Serve the API (/v1, /openapi.json), the stream (/v1/stream), /metrics and the dashboard (/)."""
    if print_config:
        from solvent.cli.serve_config import render_config

        ctx = click.get_current_context()
        click.echo(render_config(ctx, ctx.params), nl=False)
        return
    if new_key is not None:
        _new_key(new_key, keys_file)
        return
    try:
        import uvicorn  # noqa: F401  (the service extra: checked here, used by _serve)

        import solvent.service  # noqa: F401
        from solvent.service.jsonlog import configure_logging
    except ImportError as exc:
        raise missing_extra(exc, "service", "solvent serve") from None

    logs = configure_logging()
    # uvicorn re-raises the signal that stopped it once it has shut down; SIGTERM's default
    # action would then kill the process before the log writer wrote what is queued (the
    # journal's "closed" line among it). Raised as SystemExit instead, the ``finally`` runs.
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        _serve(host, port, demo, demo_step, keys_file, journal, venue, settle, schema, init, verify_full, rate,
               failed_auth_rate, failed_auth_burst, idempotency_keys, access_log_sample, checkpoint_key,
               cluster_url, cluster_venue)
    finally:
        signal.signal(signal.SIGTERM, previous)
        logs.stop()  # write what is queued


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _serve(host: str, port: int, demo: bool, demo_step: float, keys_file: str | None, journal: str | None,
           venue: str | None, settle: str | None, schema: str, init: bool, verify_full: bool, rate: float,
           failed_auth_rate: float | None, failed_auth_burst: int | None, idempotency_keys: int | None,
           access_log_sample: float, checkpoint_key: str | None = None, cluster_url: str | None = None,
           cluster_venue: str | None = None) -> None:
    import uvicorn

    from solvent.service import RateLimiter, Role, build_service, create_app
    from solvent.service.builder import DEFAULT_JOURNAL, MEMORY, load_keys, replay_demo
    from solvent.service.ratelimit import FAILED_AUTH_BURST, FAILED_AUTH_RATE_PER_S
    from solvent.service.venue import IDEMPOTENCY_KEYS, venue_config
    from solvent.service.ws_frames import raw_stream_middleware

    log = logging.getLogger("solvent.service")
    keys = load_keys(keys_file)
    signer = None
    if checkpoint_key is not None:
        from solvent.journal.checkpoint_note import read_signer_key

        try:
            signer = read_signer_key(Path(checkpoint_key).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"--checkpoint-key {checkpoint_key}: cannot be read ({type(exc).__name__})") from None
    target = journal or (MEMORY if demo else DEFAULT_JOURNAL)
    config = None
    if cluster_url is not None or cluster_venue is not None:
        _check_cluster_options(cluster_url, cluster_venue, demo, venue, settle, init, verify_full)
    if settle is not None and venue is None:
        raise InvalidInput("--settle needs --venue (an existing journal keeps the venue and asset it was "
                           "started with)")
    if venue is not None:
        if demo and (venue != "binance-usdm" or settle not in (None, "USDT")):
            raise InvalidInput("--demo runs the bundled binance-usdm sample book in USDT; "
                               "leave out --venue and --settle")
        config = None if demo else venue_config(venue, settle)
    remember = idempotency_keys or IDEMPOTENCY_KEYS
    replica = None
    if cluster_url is not None and cluster_venue is not None:
        replica = _caught_up_replica(cluster_url, cluster_venue, target, schema)
    try:
        svc = build_service(keys, demo=demo, journal=target if replica is None else replica.engine, config=config,
                            schema=schema, limiter=RateLimiter(rate, 2 * rate),
                            init=init, verify_full=verify_full, venue_only=True, settle_given=settle is not None,
                            failed_auth=RateLimiter(failed_auth_rate or FAILED_AUTH_RATE_PER_S,
                                                    float(failed_auth_burst or FAILED_AUTH_BURST)),
                            idempotency_keys=remember, checkpoint_key=signer, follows_log=replica is not None,
                            journal_target=None if replica is None or target == MEMORY else target)
    except BaseException:
        if replica is not None:
            replica.backend.close()
        raise
    background = [lambda: replay_demo(svc, demo_step)] if demo else []
    if replica is not None and cluster_url is not None:
        background.append(_following(svc.venue, replica, cluster_url, remember))
    shown = target if "://" not in target and "dbname=" not in target else f"PostgreSQL (schema {schema})"
    click.echo(f"journal: {shown}, {svc.venue.journal_seq} commands, head {svc.venue.head_hash[:16]}…", err=True)
    if len(keys) == 0:
        operator_key = keys.issue(Role.OPERATOR)
        where = show_secret(f"no keys configured: a one-time operator key for this run is {operator_key}\n"
                            f"dashboard: http://{host}:{port}/#key={operator_key}\n", OPERATOR_KEY_FILE)
        click.echo(f"no keys configured: a one-time operator key was written to {where} (never to the log)",
                   err=True)
    app = create_app(svc, background, access_log_sample=access_log_sample)
    log.info("serving", extra={"host": host, "port": port, "demo": demo, "journal_seq": svc.venue.journal_seq})
    # What the process holds now (modules, the recovered venue) lives as long as it does: out of
    # the collector's full passes, which walk every object it tracks and would stall every
    # request meanwhile (57 ms a pass here; order p99 in ``solvent bench http``). Frozen objects
    # are still freed by reference counting; only cycles among them would stay until exit.
    gc.collect()
    gc.freeze()
    try:
        # the stream writes its pre-built frames to the server's transport (``service/ws_frames.py``)
        uvicorn.run(raw_stream_middleware(app), host=host, port=port, **SERVER_SETTINGS)  # type: ignore[arg-type]
    finally:
        svc.venue.close_now()  # the app's shutdown already did this, unless the server never started


def _check_cluster_options(url: str | None, name: str | None, demo: bool, venue: str | None, settle: str | None,
                           init: bool, verify_full: bool) -> None:
    """``--cluster`` and ``--cluster-venue`` come together, without the options of a venue this
    server would begin itself (the log's genesis holds the venue's configuration) and without
    ``--verify-full`` (the server's journal is its copy of the log; ``solvent verify`` checks it)."""
    if url is None or name is None:
        raise InvalidInput("--cluster and --cluster-venue go together: the log's NATS servers and the venue's name")
    given = [flag for flag, on in (("--demo", demo), ("--venue", venue is not None), ("--settle", settle is not None),
                                   ("--init", init), ("--verify-full", verify_full)) if on]
    if given:
        raise InvalidInput(f"--cluster serves the venue its log began (`solvent cluster init`): leave out "
                           f"{', '.join(given)}")


def _caught_up_replica(url: str, name: str, target: str, schema: str) -> Any:
    """This server's journal of the venue's log (``target``), brought up to the log's end
    before the server takes requests (``cluster/serve.py``). The log is looked for first, so a
    venue that has not begun, or NATS out of reach, leaves no journal behind; nor does a
    journal this start made and could not fill."""
    from solvent.cli.cluster_commands import _check_url, _connect, _need_nats, _on_nats
    from solvent.cluster.log import venue_log
    from solvent.cluster.replica import Replica
    from solvent.cluster.serve import catch_up, log_begun
    from solvent.journal import MemoryBackend
    from solvent.journal.open import journal_kind, open_journal
    from solvent.service.builder import MEMORY

    _need_nats()
    _check_url(url, "--cluster")
    log = venue_log(name)
    sqlite = target != MEMORY and journal_kind(target) == "sqlite"
    made = sqlite and not Path(target).exists()

    async def start() -> tuple[Any, int]:
        client = await _connect(url)
        try:
            await log_begun(client, log)
            if target == MEMORY:
                backend: Any = MemoryBackend()
            else:
                if sqlite:
                    Path(target).parent.mkdir(parents=True, exist_ok=True)
                backend = open_journal(target, schema=schema, create=True, exclusive=True)
            try:
                replica = Replica(backend, log)
                return replica, await catch_up(replica, client)
            except BaseException:
                backend.close()
                if made:
                    for path in (Path(target), Path(f"{target}.lock"), Path(f"{target}-wal"), Path(f"{target}-shm")):
                        path.unlink(missing_ok=True)
                raise
        finally:
            await client.close()

    replica, position = _on_nats(start())
    click.echo(f"cluster: venue {name}, applied its log through message {position}", err=True)
    return replica


def _following(venue: Any, replica: Any, url: str, remember: int) -> Callable[[], Coroutine[Any, Any, None]]:
    """The background job of ``serve --cluster``: the venue's commands go through its log
    (``LogSequencer``), which this server follows from where it caught up."""
    from solvent.cli.cluster_commands import _connect
    from solvent.cluster.serve import LogSequencer

    sequencer = LogSequencer(venue, replica, remember=remember)
    venue.sequencer = sequencer
    log = logging.getLogger("solvent.service")
    return lambda: sequencer.run(lambda: _connect(url, notice=log.warning))
