"""The journal: an append-only, hash-chained, durable log of every accepted command and its
events, with snapshots, recovery, replay, verification and explanations (``docs/journal.md``)."""

from solvent.journal.backend import (
    JournalBackend,
    JournalError,
    JournalLocked,
    MemoryBackend,
    NotAJournal,
    StoredRecord,
    StoredSnapshot,
)
from solvent.journal.chain import ZERO_HASH, chain_hash
from solvent.journal.codec import CodecError, decode_command, decode_record, encode_command
from solvent.journal.durable_engine import DurableEngine, Ticket
from solvent.journal.ndjson import NdjsonBackend, export_ndjson, import_ndjson
from solvent.journal.open import open_journal
from solvent.journal.replay import Problem, Recovery, VerifyReport, recover, verify
from solvent.journal.snapshot import decode_state, encode_state
from solvent.journal.sqlite_backend import SqliteBackend

__all__ = [
    "ZERO_HASH",
    "CodecError",
    "DurableEngine",
    "JournalBackend",
    "JournalError",
    "JournalLocked",
    "MemoryBackend",
    "NdjsonBackend",
    "NotAJournal",
    "Problem",
    "Recovery",
    "SqliteBackend",
    "StoredRecord",
    "StoredSnapshot",
    "Ticket",
    "VerifyReport",
    "chain_hash",
    "decode_command",
    "decode_record",
    "decode_state",
    "encode_command",
    "encode_state",
    "export_ndjson",
    "import_ndjson",
    "open_journal",
    "recover",
    "verify",
]
