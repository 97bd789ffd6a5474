"""Opening a journal for a command that vouches for its history: signs it, publishes from it, or
proves a statement about it. One home for the rule that such a command refuses a journal that
ends before the last record its writer committed (its head file), as ``solvent verify`` does."""

from __future__ import annotations

from solvent.cli.exits import Failed
from solvent.journal.backend import JournalBackend
from solvent.journal.head_file import HeadFile, HeadRead, default_head_file, tail_problem
from solvent.journal.open import open_journal

__all__ = ["open_whole_journal"]


def open_whole_journal(journal: str, schema: str, refused: str = "nothing is signed over it") -> JournalBackend:
    """``journal`` opened read-only, or ``Failed`` (exit 1) when its end was lost: the head file
    names a record the journal no longer holds, or a different one. ``refused`` ends the message
    (what the command does not do). A venue must not sign, or prove a statement over, a history
    that lost its end (found by review: checkpoints, extracts, certificates, liability proofs and
    zero-knowledge proofs were made over a truncated journal)."""
    head = HeadFile(default_head_file(journal, schema))
    read = HeadRead(head)  # before the records: a server may be committing meanwhile
    backend = open_journal(journal, schema=schema, read_only=True)
    try:
        problem = read.problem
        if problem is None and read.value is not None:
            seq = read.value[0]
            held = next(iter(backend.records_at([seq])), None) is not None
            last = seq if held else max((r.seq for r in backend.records(0)), default=-1)
            problem = tail_problem(head, backend, last, read)
        if problem is not None:
            raise Failed(f"{journal}: {problem}; {refused} (solvent verify tells more)")
    except BaseException:
        backend.close()
        raise
    return backend
