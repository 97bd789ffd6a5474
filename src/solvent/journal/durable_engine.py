"""``DurableEngine``: the engine behind its journal. Acknowledged means durable (DESIGN rule 5).

``submit(cmd)`` applies the command in memory and queues its record; ``flush()`` makes every
queued record durable in one backend transaction (group commit: one fsync for the batch)
and only then marks the tickets ``durable``. A caller acknowledges a command — to a client,
an HTTP response, anyone outside — only once its ticket is durable. ``apply`` is
submit + flush; ``apply_many`` is one group commit for many commands.

Rejected commands change nothing (DESIGN rule 4) and are not journaled, but their tickets
too become durable only at the next flush: a rejection may depend on a queued command.
If a flush fails, the in-memory state is ahead of the journal: the engine refuses all further
work and must be reopened (which recovers the journaled state).

Every ``snapshot_every`` records, a flush also queues a *checkpoint* record (the RFC 9162 tree
head of every record before it, the chain head and the state hash, chained like any record)
and stores the snapshot at the checkpoint's seq. The writer keeps the tree's compact range
(O(log n) hashes, one SHA-256 per record), so a checkpoint costs no reading of the journal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from solvent.engine.commands import ChangeParams, Command
from solvent.engine.config import EngineConfig
from solvent.engine.core import CommandResult, Engine
from solvent.engine.params import refuse_settings
from solvent.journal.backend import JournalBackend, JournalError, StoredRecord, StoredSnapshot
from solvent.journal.chain import ZERO_HASH, chain_hash
from solvent.journal.codec import (
    RequestKey,
    checkpoint_record,
    command_record,
    genesis_record,
    journalable_params,
    params_record_digest,
    readable_genesis,
)
from solvent.journal.head_file import HeadFile, JournalBehindHead
from solvent.journal.replay import Recovery, genesis_tree, recover, verify
from solvent.journal.snapshot import snapshot_digest
from solvent.journal.tlog import CompactRange
from solvent.units import exact

__all__ = ["DurableEngine", "HeadNotRecorded", "Ticket", "genesis_payload"]


def genesis_payload(config: EngineConfig, *, checked: bool = True) -> bytes:
    """The genesis record a new journal on ``config`` starts with, or ``InvalidInput``: a setting
    the engine refuses (``checked``), or a configuration the journal could not read back (found
    by review: it was written as it was, and the journal could never be reopened). Callers that
    make a journal's file check this first, so a refused venue leaves nothing behind."""
    if checked:
        refuse_settings(config)
    payload = genesis_record(config)
    readable_genesis(payload)
    return payload


class HeadNotRecorded(JournalError):
    """The batch was committed (its tickets are durable) but the head file could not be
    written: the engine takes no further work, and the caller must still answer the batch."""


@dataclass(slots=True)
class Ticket:
    """One submitted command: its result, its journal seq (``None`` if refused), durability."""

    result: CommandResult
    seq: int | None
    durable: bool = False


class DurableEngine:
    """Open (or create) a journal, recover from it, and journal every accepted command."""

    @exact
    def __init__(self, backend: JournalBackend, config: EngineConfig | None = None, *,
                 snapshot_every: int = 10_000, max_batch: int = 4_096, head_file: HeadFile | None = None,
                 allow_new: bool = True, verify_full: bool = False, checked: bool = True,
                 aligned: bool = False) -> None:
        """``allow_new=False`` refuses an empty journal instead of starting a new venue in it;
        ``checked=False`` starts an empty journal on a configuration recorded elsewhere (a
        cluster replica taking the venue's genesis from its log) without admitting it again
        (``params.refuse_settings``: a new venue is admitted, a recorded one replays as it was);
        ``head_file`` keeps the last committed head beside the journal (see ``head_file.py``);
        ``verify_full`` first checks the whole journal from genesis (``verify``: every link,
        every record's events, every snapshot and checkpoint) and refuses to open it on any
        difference, so an edit behind the newest snapshot is caught too. ``aligned``: a checkpoint
        follows each record whose seq is a multiple of ``snapshot_every``, at once, wherever the
        batches end, so two journals of the same commands are the same record for record (a
        cluster's replicas and servers: ``cluster/replica.py``); else it comes at the first
        flush past the multiple."""
        self.backend = backend
        self.aligned = aligned
        self.snapshot_every = snapshot_every
        self.max_batch = max_batch
        self.head_file = head_file
        if next(iter(backend.records(0)), None) is None:
            recorded = head_file.read() if head_file is not None else None
            if recorded is not None:
                raise JournalBehindHead(f"the journal is empty but record {recorded[0]} was committed "
                                        f"(head file {head_file.path if head_file else ''}): "
                                        f"records 0–{recorded[0]} are missing")
            if not allow_new:
                raise JournalError("the journal exists but holds no records: refusing to start a new venue "
                                   "in it (start a new venue on a new path, or with --init)")
            if config is None:
                raise JournalError("a new journal needs an EngineConfig")
            payload = genesis_payload(config, checked=checked)
            backend.append([StoredRecord(0, chain_hash(ZERO_HASH, payload), payload)])
        if verify_full:
            report = verify(backend, config)
            problems = ([report.chain_problem] if report.chain_problem is not None else []) + report.mismatches
            if problems:
                shown = "; ".join(str(p) for p in problems[:3])
                more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
                raise JournalError(f"full verification failed: {shown}{more}")
        recorded_head = head_file.read() if head_file is not None else None
        self.recovery: Recovery = recover(backend, config,
                                          trusted_through=recorded_head[0] if recorded_head is not None else None)
        if self.recovery.problem is not None:
            raise JournalError(self.recovery.message())
        if head_file is not None:
            recorded = head_file.read()
            at = {}
            if recorded is not None and recorded[0] <= self.recovery.last_seq:
                stored = next(iter(backend.records(recorded[0])), None)
                if stored is not None and stored.seq == recorded[0]:
                    at[recorded[0]] = stored.hash
            head_file.check_against(recorded, self.recovery.last_seq, at)
            try:
                head_file.write(self.recovery.last_seq, self.recovery.head_hash)
            except OSError as exc:  # one line at the edge, as a head file that fails mid-run is
                raise JournalError(f"cannot record the journal head in {head_file.path}: {exc.strerror}") from None
        self.engine: Engine = self.recovery.engine
        self._seq = self.recovery.last_seq
        self._head = self.recovery.head_hash
        self._last_snapshot = self.recovery.snapshot_seq or 0
        self._tree = self.recovery.tree if self.recovery.tree is not None else genesis_tree(backend)
        self._params_config = self.recovery.params_config
        self._pending: list[StoredRecord] = []
        self._tickets: list[Ticket] = []
        self._failed: BaseException | None = None
        self._snapshots = self.recovery.snapshots
        self.on_commit: Callable[[Sequence[StoredRecord]], None] | None = None
        """Called with the records of each batch once it is durable (in the committing thread):
        the service keeps its checkpoint tree's leaves up to date with it."""

    @property
    def seq(self) -> int:
        """Seq of the last record applied (durable or queued)."""
        return self._seq

    @property
    def head_hash(self) -> str:
        return self._head

    @exact
    def submit(self, cmd: Command, request: RequestKey | None = None) -> Ticket:
        """Apply ``cmd`` in memory and queue its record; durable after the next ``flush``.
        ``request``: the client's idempotency key, journaled with the command if it is accepted.
        A ``ChangeParams`` whose configuration its record could not name is refused before
        anything is applied (``CodecError``, an ``InvalidInput``)."""
        self._usable()
        raw: dict[str, Any] | None = None
        if isinstance(cmd, ChangeParams) and isinstance(cmd.config, EngineConfig):  # else the engine refuses it
            raw = journalable_params(cmd)
            cmd = ChangeParams(cmd.config, params_record_digest(raw))
        try:
            result = self.engine.apply(cmd)
        except BaseException as exc:  # the engine may be half-way through: stop everything
            self._failed = exc
            raise
        seq: int | None = None
        if result.accepted and raw is not None:  # the configuration snapshots hold from here on
            self._params_config = raw
        if result.accepted:
            try:
                payload = command_record(self._seq + 1, cmd, result, request)
            except BaseException as exc:  # applied but not journalable: memory is ahead of the journal
                self._failed = exc
                raise
            self._seq += 1
            seq = self._seq
            self._head = chain_hash(self._head, payload)
            self._tree.append(payload)
            self._pending.append(StoredRecord(seq, self._head, payload))
        ticket = Ticket(result, seq)
        self._tickets.append(ticket)
        if self.aligned and seq is not None and seq % self.snapshot_every == 0:
            try:
                snapshot = self._checkpoint()
            except BaseException as exc:
                self._failed = exc
                raise
            self._commit(snapshot)
        elif len(self._pending) >= self.max_batch:
            self.flush()
        return ticket

    @exact
    def flush(self) -> None:
        """Make everything queued durable (one transaction), then mark the tickets durable."""
        self._usable()
        snapshot = None
        try:
            if not self.aligned and self._pending and (
                    self._seq // self.snapshot_every > self._last_snapshot // self.snapshot_every):
                snapshot = self._checkpoint()
        except BaseException as exc:
            self._failed = exc
            raise
        self._commit(snapshot)

    @exact
    def record_pol(self, make: Callable[[Engine, int, str], bytes]) -> int:
        """Append a checkpoint record (with a snapshot), then the ``pol_snapshot`` record that
        ``make(engine, seq, head)`` encodes for the state after record ``seq`` (the checkpoint),
        whose chain hash is ``head``: a proof of liabilities published in the journal
        (``proofs/liabilities.record_pol``). Durable when this returns; the record's seq."""
        self.flush()
        at = self._seq + 1  # the checkpoint's seq and chain hash, before anything is queued: a
        # refusal from ``make`` (an asset without a price) leaves the writer as it was
        head = chain_hash(self._head, checkpoint_record(at, self.engine.state_hash(), self._tree, self._head))
        payload = make(self.engine, at, head)
        try:
            snapshot = self._checkpoint()
            self._seq += 1
            self._head = chain_hash(self._head, payload)
            self._tree.append(payload)
            self._pending.append(StoredRecord(self._seq, self._head, payload))
        except BaseException as exc:
            self._failed = exc
            raise
        self._commit(snapshot)
        return self._seq

    def _commit(self, snapshot: StoredSnapshot | None) -> None:
        try:
            if self._pending or snapshot is not None:
                self.backend.append(self._pending, snapshot)
        except BaseException as exc:
            self._failed = exc
            raise
        if snapshot is not None:
            self._last_snapshot = snapshot.seq
        for ticket in self._tickets:  # committed: durable, whatever happens to the head file
            ticket.durable = True
        committed = bool(self._pending)
        if committed and self.on_commit is not None:
            self.on_commit(list(self._pending))
        self._pending.clear()
        self._tickets.clear()
        if self.head_file is not None and committed:
            try:
                self.head_file.write(self._seq, self._head)
            except OSError as exc:  # the batch is durable but its head is not recorded: stop here
                self._failed = exc
                raise HeadNotRecorded(f"cannot record the journal head in {self.head_file.path}: "
                                      f"{exc.strerror}") from exc

    def _checkpoint(self) -> StoredSnapshot:
        """Queue a checkpoint record binding the records before it and the state hash into the
        chain; the snapshot at its seq.

        Recovery trusts a snapshot only when its state hash is the one the checkpoint record at
        the same seq holds, so a snapshot cannot be forged without breaking the chain.
        """
        digest = self.engine.state_hash()
        self._seq += 1
        payload = checkpoint_record(self._seq, digest, self._tree, self._head)
        self._head = chain_hash(self._head, payload)
        self._tree.append(payload)
        self._pending.append(StoredRecord(self._seq, self._head, payload))
        blob = self._snapshots.encode(self.engine, self._params_config)
        return StoredSnapshot(self._seq, self._head, digest, snapshot_digest(blob), blob)

    def check_tree(self, leaves: Sequence[bytes]) -> None:
        """Refuse (``JournalError``) when the tree the writer extends is not the tree of
        ``leaves``, the leaf hashes of every record read back from the store. Recovery from a
        snapshot starts the tree from its checkpoint record's compact range without reading the
        history; a reader of the whole journal (the service, at start-up) closes that gap, so a
        range forged with its chain rewritten cannot carry into the checkpoints written next."""
        tree = CompactRange()
        for leaf in leaves:
            tree.append_hash(leaf)
        if tree.size != self._tree.size or tree.peaks != self._tree.peaks:
            raise JournalError(f"the checkpoint tree recovery started from is not the tree of the journal's "
                               f"{tree.size} records (a checkpoint's compact range was altered): run `solvent verify`")

    @exact
    def apply(self, cmd: Command) -> CommandResult:
        """Apply and commit one command (one fsync: prefer ``apply_many`` or submit/flush)."""
        ticket = self.submit(cmd)
        self.flush()
        return ticket.result

    @exact
    def apply_many(self, cmds: Iterable[Command]) -> list[CommandResult]:
        """Apply the commands in order with one group commit; durable when this returns."""
        tickets = [self.submit(cmd) for cmd in cmds]
        self.flush()
        return [t.result for t in tickets]

    @exact
    def check(self, cmd: Command) -> CommandResult:
        return self.engine.check(cmd)

    @exact
    def state_hash(self) -> str:
        return self.engine.state_hash()

    def close(self) -> None:
        if self._failed is None:
            self.flush()
        self.backend.close()

    def _usable(self) -> None:
        if self._failed is not None:
            raise JournalError(f"journal write failed earlier ({self._failed!r}); reopen to recover")
