"""``solvent serve``: the HTTP + WebSocket service and dashboard (uvicorn, one process)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from solvent.errors import InvalidInput

__all__ = ["serve_cmd"]


def _new_key(spec: str, keys_file: str | None) -> None:
    from solvent.service.keys import KeyStore, Role

    if not keys_file:
        raise InvalidInput("--new-key needs --keys-file (the file the hashed key is added to)")
    role_name, _, account = spec.partition(":")
    try:
        role = Role(role_name)
    except ValueError:
        raise InvalidInput("--new-key takes 'operator' or 'account:<account id>'") from None
    store = KeyStore.load(keys_file) if Path(keys_file).exists() else KeyStore()
    plain_key = store.issue(role, account or None)
    store.save(keys_file)
    click.echo(plain_key)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--demo", is_flag=True, help="Load the sample book and replay the bundled crash path.")
@click.option("--demo-step", default=1.0, show_default=True, type=click.FloatRange(0, 3600),
              help="Seconds between the crash path's one-minute steps.")
@click.option("--keys-file", type=click.Path(dir_okay=False), default=None,
              help="JSON file of hashed API keys (default: $SOLVENT_KEYS_FILE).")
@click.option("--new-key", metavar="ROLE[:ACCOUNT]", default=None,
              help="Add a key ('operator' or 'account:ID') to --keys-file, print it once, and exit.")
@click.option("--journal", "journal", default=None, metavar="PATH|postgresql://…|:memory:",
              help="Journal every accepted command goes to before it is answered: a SQLite file "
                   "(default solvent-data/journal.sqlite; ':memory:' with --demo), a postgresql:// URL, "
                   "or ':memory:' (nothing survives). An existing journal is recovered at start.")
@click.option("--schema", default="solvent_journal", show_default=True,
              help="PostgreSQL schema holding the journal's tables.")
@click.option("--rate", default=50.0, show_default=True, type=click.FloatRange(0.1, 1e6),
              help="Requests per second allowed per key (burst: twice that).")
def serve_cmd(host: str, port: int, demo: bool, demo_step: float, keys_file: str | None, new_key: str | None,
              journal: str | None, schema: str, rate: float) -> None:
    """Serve the API (/v1, /openapi.json), the stream (/v1/stream), /metrics and the dashboard (/)."""
    if new_key is not None:
        _new_key(new_key, keys_file)
        return
    import uvicorn

    from solvent.service import RateLimiter, Role, build_service, create_app
    from solvent.service.builder import DEFAULT_JOURNAL, MEMORY, load_keys, replay_demo
    from solvent.service.jsonlog import configure_logging

    configure_logging()
    log = logging.getLogger("solvent.service")
    keys = load_keys(keys_file)
    target = journal or (MEMORY if demo else DEFAULT_JOURNAL)
    svc = build_service(keys, demo=demo, journal=target, schema=schema, limiter=RateLimiter(rate, 2 * rate))
    shown = target if "://" not in target and "dbname=" not in target else f"PostgreSQL (schema {schema})"
    click.echo(f"journal: {shown}, {svc.venue.journal_seq} commands, head {svc.venue.head_hash[:16]}…", err=True)
    if len(keys) == 0:
        operator_key = keys.issue(Role.OPERATOR)
        click.echo(f"no keys configured: a one-time operator key for this run is {operator_key}", err=True)
        click.echo(f"dashboard: http://{host}:{port}/#key={operator_key}", err=True)
    background = [lambda: replay_demo(svc, demo_step)] if demo else []
    app = create_app(svc, background)
    log.info("serving", extra={"host": host, "port": port, "demo": demo, "journal_seq": svc.venue.journal_seq})
    try:
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, lifespan="on",
                    ws="websockets-sansio", timeout_graceful_shutdown=5)
    finally:
        svc.venue.close_now()  # the app's shutdown already did this, unless the server never started
