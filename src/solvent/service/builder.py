"""Putting a service together: journal, engine, logs, keys, limits, and the optional demo book."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from solvent.demo_session import BOOK_DEPOSIT, DEMO_INSURANCE, held_prices, minute_commands, session_commands
from solvent.engine import Command, Deposit, EngineConfig
from solvent.errors import InvalidInput
from solvent.journal import DurableEngine, JournalBackend, MemoryBackend, NotAJournal, open_journal
from solvent.journal.checkpoint_note import SignerKey
from solvent.journal.durable_engine import genesis_payload
from solvent.journal.head_file import HeadFile, default_head_file
from solvent.journal.open import journal_kind
from solvent.journal.replay import open_genesis
from solvent.journal.sqlite_backend import foreign_tables, is_sqlite
from solvent.service.checkpoints import LogPublisher
from solvent.service.context import Service, failed_auth_limiter
from solvent.service.event_archive import JournalArchive
from solvent.service.keys import KeyStore, Role
from solvent.service.ratelimit import RateLimiter
from solvent.service.venue import IDEMPOTENCY_KEYS, Venue, default_config

__all__ = ["BOOK_DEPOSIT", "DEFAULT_JOURNAL", "DEMO_INSURANCE", "MEMORY", "build_service", "default_head_file",
           "demo_opening", "load_keys", "open_durable", "replay_demo"]

log = logging.getLogger("solvent.service")

DEFAULT_JOURNAL = "solvent-data/journal.sqlite"
"""Where ``solvent serve`` keeps its SQLite journal unless told otherwise (relative to the cwd)."""
MEMORY = ":memory:"
"""Journal target for an in-memory journal (tests, demos): nothing survives the process."""


OPERATOR_KEY_RECIPE = "slv_$(openssl rand -hex 6)_$(openssl rand -hex 24)"
"""A shell expression that makes a valid operator key for ``$SOLVENT_OPERATOR_KEY``."""


def load_keys(keys_file: str | Path | None = None) -> KeyStore:
    """Keys from ``keys_file`` (or ``$SOLVENT_KEYS_FILE``) plus ``$SOLVENT_OPERATOR_KEY``."""
    path = keys_file or os.environ.get("SOLVENT_KEYS_FILE")
    store = KeyStore.load(path) if path else KeyStore()
    operator = os.environ.get("SOLVENT_OPERATOR_KEY")
    if operator:
        try:
            store.add_plain(operator, Role.OPERATOR)
        except InvalidInput as exc:
            raise InvalidInput(f"SOLVENT_OPERATOR_KEY: {exc} (make one with "
                               f"{OPERATOR_KEY_RECIPE})") from None
    return store


def demo_opening() -> tuple[list[Command], list[tuple[str, Decimal, int]]]:
    """The demo's opening (insurance fund included) and its price path (``demo_session``)."""
    return session_commands()


def _postgres_journal_exists(target: str, schema: str) -> bool:
    try:
        open_journal(target, schema=schema, read_only=True).close()
    except NotAJournal:
        return False
    return True


def open_durable(journal: str | Path = MEMORY, config: EngineConfig | None = None, *,
                 schema: str = "solvent_journal", init: bool = False,
                 head_file: Path | None = None, verify_full: bool = False,
                 venue_only: bool = False, settle_given: bool = True) -> DurableEngine:
    """The engine behind its journal: ``:memory:``, a SQLite path (created, with its folder,
    if missing) or ``postgresql://…`` (tables in ``schema``). An existing journal is recovered;
    its configuration comes from its genesis record unless ``config`` is given (then they must
    match). A new one is started with ``config`` or the default (``binance-usdm``, liquidation on).

    A new venue starts only on a new path (a SQLite file or PostgreSQL schema that does not
    exist yet) or with ``init``: an existing but empty journal is refused, so a lost journal
    never silently becomes a new venue. The last committed head is kept in ``head_file``
    (default: ``default_head_file``), and a journal behind it is refused with the missing range.
    ``verify_full`` verifies the whole journal from genesis first (``DurableEngine``).

    ``venue_only`` (``solvent serve --venue``): ``config`` names the venue and settlement asset
    of a new journal; an existing journal of that same venue and asset keeps the configuration
    it recorded (the venue specs it started with, say, though ``solvent venues update`` has
    dated newer ones since), and one of another venue or asset is refused. ``settle_given``
    false (no ``--settle``): the asset is not compared, the journal keeps its own."""
    target = str(journal)
    if target == MEMORY:
        return DurableEngine(MemoryBackend(), config or default_config())
    kind = journal_kind(target)
    if kind == "ndjson":
        raise InvalidInput("the service journal is SQLite or PostgreSQL (export to NDJSON with `solvent export`)")
    new_path = not Path(target).exists() if kind == "sqlite" else not _postgres_journal_exists(target, schema)
    if new_path and config is not None:
        genesis_payload(config)  # before the journal (or its folder) is made: a refused venue leaves nothing behind
    if kind == "sqlite":
        if not new_path and is_sqlite(Path(target)):
            foreign = foreign_tables(Path(target))
            if foreign:  # before it is opened: opening makes the journal's tables (and its lock file)
                raise InvalidInput(f"{target} is a database holding {', '.join(foreign)}, not a journal: give the "
                                   "service a journal, or a new path")
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    head = HeadFile(head_file or default_head_file(target, schema))
    head.path.parent.mkdir(parents=True, exist_ok=True)
    if not new_path and head.read() is None:
        log.warning("no head file beside an existing journal: a journal that lost records at its tail cannot be "
                    "told from a complete one until the next commit writes it", extra={"head_file": str(head.path)})
    if init and head.read() is not None and not new_path:
        raise InvalidInput(f"--init on a journal that has committed records (head file {head.path}): "
                           "refusing to start a new venue over it")
    backend = open_journal(target, schema=schema, create=True, exclusive=True)
    try:
        fresh = next(iter(backend.records(0)), None) is None
        if venue_only and config is not None and not fresh:
            recorded, _ = open_genesis(backend, None)
            if recorded.profile.name == config.profile.name and (
                    not settle_given or recorded.settle_asset == config.settle_asset):
                config = None  # the same venue: as recorded
        return DurableEngine(backend, config or (default_config() if fresh else None), head_file=head,
                             allow_new=init or new_path, verify_full=verify_full)
    except BaseException:
        backend.close()
        raise


def build_service(keys: KeyStore, *, demo: bool = False, journal: str | Path | DurableEngine = MEMORY,
                  config: EngineConfig | None = None, schema: str = "solvent_journal",
                  limiter: RateLimiter | None = None, init: bool = False, verify_full: bool = False,
                  failed_auth: RateLimiter | None = None, venue_only: bool = False,
                  settle_given: bool = True, idempotency_keys: int = IDEMPOTENCY_KEYS,
                  checkpoint_key: SignerKey | None = None, follows_log: bool = False,
                  journal_target: str | None = None) -> Service:
    """A ready service on ``journal`` (see ``open_durable``; or an open ``DurableEngine``),
    recovered from it. The book account is seeded on a new journal so liquidations have a
    counterparty. ``demo`` needs a journal with nothing in it yet. ``limiter`` limits each
    key's requests, ``failed_auth`` each client address's failed authentications (defaults:
    ``RateLimiter()`` and ``failed_auth_limiter()``). ``idempotency_keys``: how many of the
    most recent ``Idempotency-Key`` answers are remembered (``Venue``). ``checkpoint_key``: sign
    and serve checkpoints of the journal with it (``service/checkpoints.py``). ``follows_log``:
    the journal is a copy of a venue's log (``solvent serve --cluster``), and no book deposit is
    made (only the log changes the state; it begins with its own). Without it such a journal is
    refused (``Venue.follows_log``). ``journal_target``: where an open ``DurableEngine`` given
    as ``journal`` lives (a SQLite path or a PostgreSQL URL), so the event history older than
    memory is read back from it as for a journal opened here."""
    if demo and config is None:  # the bundled specs the sample book is sized for, whatever overlay is newest
        config = default_config(overlays=False)
    head_before = isinstance(journal, DurableEngine) or str(journal) == MEMORY or (
        default_head_file(str(journal), schema).exists())
    durable = (journal if isinstance(journal, DurableEngine)
               else open_durable(journal, config, schema=schema, init=init, verify_full=verify_full,
                                 venue_only=venue_only, settle_given=settle_given))
    archive = None
    opened = False
    try:
        archive = _archive(durable, journal if journal_target is None else journal_target, schema)
        venue = Venue.open(durable, archive, idempotency_keys=idempotency_keys, follows_log=follows_log)
        opened = True
        if demo and durable.seq != 0:
            raise InvalidInput(f"--demo needs a new journal; this one holds {durable.seq} commands "
                               "(use --journal :memory: or a new file)")
        svc = Service(venue, keys, limiter or RateLimiter(), failed_auth=failed_auth or failed_auth_limiter(),
                      checkpoints=LogPublisher(checkpoint_key) if checkpoint_key is not None else None)
        engine = venue.engine
        policy = engine.config.liquidation
        if not follows_log and policy is not None and policy.book_account not in engine.state.accounts:
            venue.submit_now(Deposit(policy.book_account, engine.config.settle_asset, BOOK_DEPOSIT))
        if demo:
            opening, path = demo_opening()
            for done, cmd in zip(venue.submit_many_now(opening), opening, strict=True):
                if not done.result.accepted:
                    raise InvalidInput(f"demo opening refused {cmd}: {done.result.denial}")
            svc.demo = {"running": False, "step": 0, "steps": len(path)}
    except BaseException:
        if archive is not None:
            archive.close()
        durable.backend.close()
        if not opened and not head_before and durable.head_file is not None:
            # refused before anything was committed (a journal that is a copy of a venue's log, say):
            # the head file opening wrote beside it goes too, so nothing is left changed
            durable.head_file.path.unlink(missing_ok=True)
        raise
    return svc


def _archive(durable: DurableEngine, journal: str | Path | DurableEngine, schema: str) -> JournalArchive | None:
    """The event history's way back into the journal (``JournalArchive``): a read-only
    connection of its own on a SQLite file or PostgreSQL, the same object for an in-memory
    journal; none for an engine opened elsewhere (its log keeps its events in memory)."""
    if isinstance(durable.backend, MemoryBackend):
        return JournalArchive(durable.backend)
    if isinstance(journal, DurableEngine):
        return None
    target = str(journal)

    def reopen() -> JournalBackend:
        return open_journal(target, schema=schema, read_only=True)

    return JournalArchive(reopen(), reopen)


async def replay_demo(svc: Service, step_s: float, path: Sequence[tuple[str, Decimal, int]] | None = None) -> None:
    """Feed the crash path minute by minute, ``step_s`` seconds apart (0: as fast as possible)."""
    steps = list(path) if path is not None else demo_opening()[1]
    held = held_prices()
    svc.demo.update(running=True, steps=len(steps))
    try:
        for i, (minute, close, now_ms) in enumerate(steps):
            for cmd in minute_commands(now_ms, close, held):
                await svc.venue.submit(cmd)
            svc.demo.update(step=i + 1, minute=minute, price=str(close))
            await asyncio.sleep(step_s)
    finally:
        svc.demo["running"] = False
        log.info("demo replay finished", extra={"steps": svc.demo.get("step", 0)})
