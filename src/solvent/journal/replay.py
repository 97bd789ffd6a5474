"""Replay, recovery and verification: the engine rebuilt from its journal, every step checked.

* ``recover``: newest snapshot whose digest *and* state hash verify, whose chain hash is the
  stored H at its seq, and whose state hash is the one the checkpoint record at that seq
  binds into the chain; then the tail replayed. A snapshot not bound by a checkpoint (a
  forged one, or one written before checkpoint records existed) is skipped with the reason.
  The first bad record stops it: the result holds the state up to the record before and
  a ``Problem`` naming the bad one.
* ``verify``: the whole chain from genesis, every record's events re-derived from its input
  and compared, every snapshot compared with the replayed state at its seq.

Every replay keeps the RFC 9162 tree of the records it has read (a ``CompactRange``, started
from genesis or from the compact range of the checkpoint a snapshot is bound to), so each
version 3 checkpoint record's ``mth`` and ``chain_head`` are checked against the records
before it, and its ``state_hash`` against the replayed state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from solvent.engine.config import EngineConfig
from solvent.engine.core import Engine
from solvent.engine.events import event_to_json
from solvent.engine.state_digest import state_hash_matches
from solvent.errors import InvalidInput
from solvent.journal.backend import JournalBackend, StoredRecord, StoredSnapshot
from solvent.journal.chain import ZERO_HASH, chain_hash
from solvent.journal.codec import (
    CodecError,
    Record,
    canonical_json,
    decode_config,
    decode_record,
    encode_config,
    params_record_digest,
    with_legacy_defaults,
)
from solvent.journal.snapshot import SnapshotEncoder, decode_snapshot_in_force, snapshot_digest
from solvent.journal.tlog import CompactRange
from solvent.jsonstrict import loads_strict
from solvent.units import exact

__all__ = ["Problem", "Recovery", "VerifyReport", "genesis_tree", "open_genesis", "recover", "replay_tail", "verify"]


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int
    message: str

    def __str__(self) -> str:
        return f"record {self.seq}: {self.message}"


@dataclass(slots=True)
class Recovery:
    engine: Engine
    last_seq: int
    head_hash: str
    snapshot_seq: int | None
    replayed: int
    problem: Problem | None = None
    skipped_snapshots: list[str] = field(default_factory=list)
    snapshots: SnapshotEncoder = field(default_factory=SnapshotEncoder)
    """The snapshot encoder for the recovered engine, holding the bytes of every account the
    snapshot recovery started from (those the tail touched are encoded again when needed)."""
    params_config: dict[str, Any] | None = None
    """After a parameter change: the configuration in force as its ``params`` record holds it."""
    tree: CompactRange | None = None
    """The tree of records 0 to ``last_seq`` at recovery (what the next checkpoint record's
    ``mth`` covers); the writer goes on extending it."""

    def message(self) -> str:
        if self.problem is None:
            return f"recovered through record {self.last_seq}"
        return f"journal damaged at {self.problem}; recovery stopped, state is through record {self.last_seq}"


@dataclass(slots=True)
class VerifyReport:
    head_seq: int = -1
    """Seq of the last good record (-1: not even the genesis record is good)."""
    head_hash: str = ZERO_HASH
    state_hash: str = ""
    chain_problem: Problem | None = None
    mismatches: list[Problem] = field(default_factory=list)
    snapshots_checked: int = 0
    checkpoints_checked: int = 0
    """Checkpoint records whose state hash (and, version 3, tree and chain heads) were checked."""
    pol_snapshots_checked: int = 0
    """``pol_snapshot`` records whose header was checked against the replay (and their root
    rebuilt, when ``verify`` was given a check that can: the venue's master secret)."""

    @property
    def ok(self) -> bool:
        return self.chain_problem is None and not self.mismatches

    @property
    def records(self) -> int:
        """How many records verified, genesis (seq 0) included."""
        return self.head_seq + 1


def _check_link(stored: StoredRecord, expected_seq: int, previous: str) -> str:
    """H_seq if the stored record is the next link, else raise ``CodecError`` saying why."""
    if stored.damage:
        raise CodecError(stored.damage)
    if stored.seq != expected_seq:
        raise CodecError(f"missing: the next stored record is {stored.seq}")
    digest = chain_hash(previous, stored.payload)
    if digest != stored.hash:
        raise CodecError(f"hash mismatch: stored {stored.hash}, computed {digest} "
                         "(record bytes or its hash were altered)")
    return digest


def _differs(given: EngineConfig, recorded_raw: dict[str, Any]) -> str:
    """Why a configuration given to open a journal is refused, naming both venues."""
    what = "the configuration given differs from the one the journal was written with"
    try:
        recorded = decode_config(recorded_raw)
    except CodecError as exc:
        return f"{what}: {exc}"
    mine = f"{given.profile.name} in {given.settle_asset}"
    theirs = f"{recorded.profile.name} in {recorded.settle_asset}"
    if mine != theirs:
        return f"{what}: {mine}, the journal {theirs}"
    if given.profile != recorded.profile:
        return (f"{what}: both {mine}, but the venue specs differ (given {_specs(given)}, the journal "
                f"{_specs(recorded)}); a journal keeps the specs it started with: open it without a "
                "configuration (solvent serve: the same --venue, or none)")
    return f"{what}: both {mine}, other settings differ"


def _specs(config: EngineConfig) -> str:
    stamp = config.profile.overlay
    if stamp is None:
        return f"bundled {config.profile.effective_from}"
    return f"overlay {stamp.effective_from} sha256 {stamp.sha256[:16]}…"


def open_genesis(backend: JournalBackend, config: EngineConfig | None) -> tuple[EngineConfig, str]:
    """The configuration and H_0 from record 0 (``config`` given: must match the recorded one)."""
    first = next(iter(backend.records(0)), None)
    if first is None:
        raise CodecError("the journal is empty (no genesis record)")
    try:
        head = _check_link(first, 0, ZERO_HASH)
        genesis = decode_record(first.payload)
        if genesis.kind != "genesis" or genesis.config is None:
            raise CodecError("record 0 is not a genesis record")
        if config is None:
            return decode_config(genesis.config), head
        mine, recorded = encode_config(config), with_legacy_defaults(genesis.config)
        if isinstance(recorded.get("profile"), dict) and "sha256" not in recorded["profile"]:
            mine["profile"].pop("sha256", None)  # written before bundled profiles were recorded by digest
        if loads_strict(canonical_json(mine)) != loads_strict(canonical_json(recorded)):  # fields in any order
            raise CodecError(_differs(config, genesis.config))
        return config, head
    except CodecError as exc:
        raise CodecError(f"record 0: {exc}") from None


def genesis_tree(backend: JournalBackend) -> CompactRange:
    """The tree holding record 0 alone: where a replay from genesis starts its tree."""
    tree = CompactRange()
    first = next(iter(backend.records(0)), None)
    if first is not None:
        tree.append(first.payload)
    return tree


def _tree_through(backend: JournalBackend, seq: int) -> CompactRange:
    """The tree of records 0 to ``seq`` read from the store (a snapshot bound to a version 1
    checkpoint, which holds no compact range: journals written before version 3)."""
    tree = CompactRange()
    for stored in backend.records(0):
        if stored.seq > seq:
            break
        tree.append(stored.payload)
    if tree.size != seq + 1:
        raise CodecError(f"records 0–{seq} are not all stored")
    return tree


def _checkpoint_problem(engine: Engine, record: Record, head: str, tree: CompactRange | None) -> str | None:
    """Why a checkpoint record does not bind what precedes it (``None``: it does)."""
    if record.head is not None:
        if record.head.chain_head != head:
            return "checkpoint chain_head is not the hash of the record before it"
        if tree is not None and (tree.size != record.seq or tree.root().hex() != record.head.mth
                                 or tuple(p.hex() for p in tree.peaks) != record.head.compact_range):
            return f"checkpoint mth differs from the tree of records 0–{record.seq - 1}"
    bound = record.state_hash
    if bound is None or not state_hash_matches(engine.state, bound, engine.state_hash()):
        return "checkpoint state hash differs from the replayed state"
    return None


PolCheck = Callable[[Engine, dict[str, Any]], str | None]
"""Why a ``pol_snapshot`` record's header, snapshot id or root is not the proof of liabilities
of the replayed state (``None``: it is): ``proofs/liabilities.pol_check``."""


def _pol_problem(engine: Engine, record: Record, last: int, head: str, pol: PolCheck | None) -> str | None:
    """Why a ``pol_snapshot`` record is not the proof of liabilities of the state after the
    record before it (``None``: it is, as far as ``pol`` checks; its header is checked here)."""
    assert record.pol is not None
    header = record.pol["header"]
    if header.get("journal_seq") != last:
        return f"pol_snapshot header names record {header.get('journal_seq')}, not the one before it ({last})"
    if header.get("journal_head") != head:
        return (f"pol_snapshot header names chain head {header.get('journal_head')}, not the one of record {last} "
                f"({head})")
    if header.get("state_hash") != engine.state_hash():
        return "pol_snapshot header state hash differs from the replayed state"
    return None if pol is None else pol(engine, record.pol)


def replay_tail(engine: Engine, records: Iterator[StoredRecord], next_seq: int, head: str,
                mismatches: list[Problem] | None = None, *, tree: CompactRange | None = None,
                checked: list[int] | None = None,
                params: list[dict[str, Any]] | None = None,
                pol: PolCheck | None = None, pols: list[int] | None = None) -> tuple[int, str, Problem | None]:
    """Apply records from ``next_seq`` on; returns (last good seq, its H, first problem).

    Events that differ from the recorded ones are a problem that stops the replay, unless
    ``mismatches`` is given: then they are collected and the replay goes on (``verify``).
    ``tree``: the tree of records 0 to ``next_seq - 1``, extended with every good record read
    (without it a checkpoint's ``mth`` is not checked); ``checked`` collects the seqs of the
    checkpoint records checked; ``params`` the ``config`` of each params record applied;
    ``pol`` checks each ``pol_snapshot`` record (its header must name the record before it and
    the replayed state in any case), ``pols`` collects their seqs.
    """
    last = next_seq - 1
    for stored in records:
        try:
            digest = _check_link(stored, last + 1, head)
            record = decode_record(stored.payload)
            if record.seq != stored.seq or record.kind == "genesis":
                raise CodecError(f"record says seq {record.seq} kind {record.kind}")
        except CodecError as exc:
            return last, head, Problem(last + 1, str(exc))
        if record.input is None:  # a checkpoint or a PoL snapshot: what precedes it and the replayed state
            reason = _checkpoint_problem(engine, record, head, tree) if record.pol is None else _pol_problem(
                engine, record, last, head, pol)
            if reason is not None:
                if mismatches is None:
                    return last, head, Problem(record.seq, reason)
                mismatches.append(Problem(record.seq, reason))
            if checked is not None and record.pol is None:
                checked.append(record.seq)
            if pols is not None and record.pol is not None:
                pols.append(record.seq)
            if tree is not None:
                tree.append(stored.payload)
            last, head = record.seq, digest
            continue
        result = engine.apply(record.input)
        derived = [event_to_json(e) for e in result.events]
        if not result.accepted or derived != list(record.events):
            problem = Problem(record.seq, _difference(list(record.events), derived))
            if mismatches is None:
                return last, head, problem
            mismatches.append(problem)
        if params is not None and record.kind == "params" and record.config is not None:
            params.append(record.config)
        if tree is not None:
            tree.append(stored.payload)
        last, head = record.seq, digest
    return last, head, None


def _difference(recorded: Sequence[object], derived: Sequence[object]) -> str:
    for i, (a, b) in enumerate(zip(recorded, derived, strict=False)):
        if a != b:
            return f"event {i} differs on replay: recorded {a}, derived {b}"
    return f"replay gives {len(derived)} events, the journal records {len(recorded)}"


def _load_snapshot(snap: StoredSnapshot, config: EngineConfig
                   ) -> tuple[Engine, SnapshotEncoder, dict[str, Any] | None]:
    """The engine a snapshot holds, its encoder, and the configuration in force as the
    snapshot holds it after a parameter change (``None``: the genesis one)."""
    if snap.digest.startswith("damaged"):
        raise CodecError(snap.digest)
    if snapshot_digest(snap.blob) != snap.digest:
        raise CodecError("digest mismatch")
    state, parts, raw = decode_snapshot_in_force(snap.blob)
    if state.params is not None:  # parameters changed since genesis: the snapshot holds those in force
        if raw is None or params_record_digest(raw) != state.params:
            raise CodecError("the configuration it holds is not the one its state names")
        config = decode_config(raw)
    engine = Engine(config, state=state, checked=False)
    if not state_hash_matches(engine.state, snap.state_hash, engine.state_hash()):
        raise CodecError("state hash mismatch")
    return engine, SnapshotEncoder.primed(engine, parts), raw


def _check_bound(at: StoredRecord, snap: StoredSnapshot, backend: JournalBackend) -> CompactRange:
    """The record at the snapshot's seq must be a checkpoint holding the snapshot's state hash;
    the tree through that record (from the checkpoint's compact range, or read from the store
    for a version 1 checkpoint)."""
    record = decode_record(at.payload)
    if record.kind != "checkpoint":
        raise CodecError("not bound to the chain: record at its seq is not a checkpoint "
                         "(a journal written before checkpoint records, or a planted snapshot)")
    if record.state_hash != snap.state_hash:
        raise CodecError("its state hash differs from the one its checkpoint record binds")
    if record.head is None:
        return _tree_through(backend, at.seq)
    before = next(iter(backend.records_at([at.seq - 1])), None)
    if before is None or before.hash != record.head.chain_head:
        raise CodecError("its checkpoint record's chain_head is not the stored hash of the record before it")
    tree = CompactRange(record.seq, [bytes.fromhex(p) for p in record.head.compact_range])
    tree.append(at.payload)
    return tree


@exact
def recover(backend: JournalBackend, config: EngineConfig | None = None, *,
            trusted_through: int | None = None) -> Recovery:
    """Rebuild the engine from the newest good snapshot and the tail (see module docstring).

    ``trusted_through``: the last seq known committed from outside the journal (the head
    file). A snapshot past it is not used: records beyond the recorded head can be a crash
    window, or someone appending a checkpoint and a snapshot of their making, so they are
    replayed, and their checkpoints checked against the replay, instead."""
    config, genesis_head = open_genesis(backend, config)
    skipped: list[str] = []
    for snap in backend.snapshots():
        if trusted_through is not None and snap.seq > trusted_through:
            skipped.append(f"snapshot at {snap.seq}: past the committed head recorded outside the journal "
                           f"(record {trusted_through}); the records after it are replayed instead")
            continue
        at = next(iter(backend.records(snap.seq)), None)
        if at is None:  # a snapshot of a state the journal no longer reaches: its tail was cut off
            engine = Engine(config, checked=False)
            last, head, _ = replay_tail(engine, backend.records(1), 1, genesis_head, tree=genesis_tree(backend))
            return Recovery(engine, last, head, None, last,
                            Problem(last + 1, f"a snapshot was taken at record {snap.seq} but the journal ends at "
                                              f"record {last}: records {last + 1}–{snap.seq} are missing"), skipped)
        try:
            if snap.digest.startswith("damaged"):
                raise CodecError(snap.digest)
            if at.seq != snap.seq or at.hash != snap.chain_hash:
                raise CodecError("its chain hash is not the journal's H at that seq")
            tree = _check_bound(at, snap, backend)
            engine, encoder, in_force = _load_snapshot(snap, config)
        except CodecError as exc:
            skipped.append(f"snapshot at {snap.seq}: {exc}")
            continue
        params = [] if in_force is None else [in_force]
        last, head, problem = replay_tail(engine, backend.records(snap.seq + 1), snap.seq + 1, snap.chain_hash,
                                          tree=tree, params=params)
        return Recovery(engine, last, head, snap.seq, last - snap.seq, problem, skipped, encoder,
                        params_config=params[-1] if params else None, tree=tree)
    engine, tree = Engine(config, checked=False), genesis_tree(backend)
    params = []
    last, head, problem = replay_tail(engine, backend.records(1), 1, genesis_head, tree=tree, params=params)
    return Recovery(engine, last, head, None, last, problem, skipped, params_config=params[-1] if params else None,
                    tree=tree)


@exact
def verify(backend: JournalBackend, config: EngineConfig | None = None, pol: PolCheck | None = None) -> VerifyReport:
    """Check everything from genesis; differences are reported with their seq. ``pol`` also
    checks each ``pol_snapshot`` record's root (``replay_tail``)."""
    report = VerifyReport()
    try:
        config, head = open_genesis(backend, config)
    except CodecError as exc:
        report.chain_problem = Problem(0, str(exc).removeprefix("record 0: "))
        return report
    snapshots = {s.seq: s for s in backend.snapshots()}
    engine, tree = Engine(config, checked=False), genesis_tree(backend)
    checked: list[int] = []
    pols: list[int] = []
    last, next_seq = 0, 1
    records = backend.records(1)
    for stop in [*sorted(s for s in snapshots if s > 0), None]:
        chunk = _until(records, stop)
        last, head, problem = replay_tail(engine, chunk, next_seq, head, report.mismatches, tree=tree,
                                          checked=checked, pol=pol, pols=pols)
        report.checkpoints_checked, report.pol_snapshots_checked = len(checked), len(pols)
        if problem is not None:
            report.chain_problem = problem
            break
        next_seq = last + 1
        if stop is not None and last == stop:
            report.snapshots_checked += 1
            if snapshots[stop].chain_hash != head:  # recovery skips such a snapshot (found by audit: verify
                # said ok over a snapshot whose chain_hash column was changed, which recovery then skipped in silence)
                report.mismatches.append(Problem(stop, "snapshot chain_hash is not the journal's H at its seq "
                                                       "(recovery would skip it)"))
            if not state_hash_matches(engine.state, snapshots[stop].state_hash, engine.state_hash()):
                report.mismatches.append(Problem(stop, "snapshot state hash differs from the replayed state"))
            elif _bound(backend, stop):  # the bytes recovery would start from hold that state too (found by
                # review: a blob edited with its digest recomputed verified, and recovery skipped it in
                # silence); a snapshot no checkpoint binds (journals written before them) recovery never reads
                try:
                    _load_snapshot(snapshots[stop], config)
                except (InvalidInput, ValueError, ArithmeticError) as exc:
                    report.mismatches.append(Problem(stop, f"snapshot does not hold the replayed state ({exc})"))
    report.head_seq, report.head_hash, report.state_hash = last, head, engine.state_hash()
    return report


def _bound(backend: JournalBackend, seq: int) -> bool:
    """Whether the record at ``seq`` is a checkpoint (which binds the snapshot at that seq)."""
    at = next(iter(backend.records_at([seq])), None)
    return at is not None and decode_record(at.payload).kind == "checkpoint"


def _until(records: Iterator[StoredRecord], stop: int | None) -> Iterator[StoredRecord]:
    """Yield from ``records`` up to and including seq ``stop`` (all when ``None``)."""
    for r in records:
        yield r
        if stop is not None and r.seq >= stop:
            return
