"""Crash test, for real: the journaled engine runs in a child process and is SIGKILLed at
random points while commands stream in; after each kill the journal must hold every
acknowledged command, nothing beyond a prefix of what was sent, and recover to exactly the
state a clean replay of that prefix gives."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_journal_common import BACKENDS, BackendFactory, backend_factory, config, stream

from solvent.engine import Command, Engine
from solvent.journal import decode_record, encode_command, recover
from solvent.journal.codec import canonical_json

KILLS = int(os.environ.get("SOLVENT_CRASH_KILLS", "20"))
COMMANDS = 40_000


@pytest.fixture(params=BACKENDS)
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendFactory]:
    yield from backend_factory(request.param, tmp_path)


class Child:
    """One run of ``solvent.journal.stdio_server``; acknowledgements collected by a thread."""

    def __init__(self, journal: BackendFactory) -> None:
        argv = [sys.executable, "-m", "solvent.journal.stdio_server", journal.target,
                "--schema", journal.schema, "--snapshot-every", "500"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline().decode().split()
        if not ready or ready[0] != "READY":
            raise AssertionError(f"child did not start: {ready} {self.proc.stderr.read().decode()[-2000:]}")
        self.ready_seq, self.ready_hash = int(ready[1]), ready[2]
        self.acked: dict[int, int | None] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            client, seq = line.decode().split()
            self.acked[int(client)] = None if seq == "-" else int(seq)

    def send(self, lines: list[bytes]) -> None:
        def write() -> None:
            assert self.proc.stdin is not None
            try:
                for i in range(0, len(lines), 64):
                    self.proc.stdin.write(b"".join(lines[i:i + 64]))
                    self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass

        threading.Thread(target=write, daemon=True).start()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._reader.join(timeout=5)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


def journaled_records(journal: BackendFactory, start: int) -> list[bytes | None]:
    """The journal's records from seq ``start`` on: each command canonically encoded, ``None``
    for a checkpoint record (which binds a snapshot's state hash and holds no command)."""
    backend = journal.open()
    try:
        out: list[bytes | None] = []
        for r in backend.records(start):
            record = decode_record(r.payload)
            out.append(None if record.input is None else canonical_json(encode_command(record.input)))
        return out
    finally:
        backend.close()


def settled_records(journal: BackendFactory, start: int) -> list[bytes | None]:
    """``journaled_records`` once the journal stops growing. A killed client's last COMMIT may
    already be on its way to PostgreSQL, which completes it after the client is gone: read too
    early, the test would take a journal one batch short of what recovery then finds."""
    seen = journaled_records(journal, start)
    for _ in range(50):
        time.sleep(0.2)
        again = journaled_records(journal, start)
        if len(again) == len(seen):
            return again
        seen = again
    return seen


class Reference:
    """A clean in-memory engine fed the same stream: which commands are accepted, and the
    state after any prefix. Both advance incrementally (the journal only ever grows)."""

    def __init__(self, cmds: list[Command]) -> None:
        self.cmds = cmds
        self.judge, self.judged = Engine(config()), 0
        self.accepted_at: list[int] = []
        self.clean, self.cleaned = Engine(config()), 0

    def accepted(self, k: int) -> int:
        """Stream index of the command that became record ``k + 1`` (len(cmds) if none)."""
        while len(self.accepted_at) <= k and self.judged < len(self.cmds):
            if self.judge.apply(self.cmds[self.judged]).accepted:
                self.accepted_at.append(self.judged)
            self.judged += 1
        return self.accepted_at[k] if k < len(self.accepted_at) else len(self.cmds)

    def state_after(self, count: int) -> str:
        """State hash after the first ``count`` accepted commands (and the refusals between)."""
        end = self.accepted(count - 1) + 1 if count else 0
        self.clean.apply_all(self.cmds[self.cleaned:end])
        self.cleaned = max(self.cleaned, end)
        return self.clean.state_hash()


def test_sigkill_at_random_points_loses_nothing_acknowledged(journal: BackendFactory) -> None:
    cmds: list[Command] = stream(COMMANDS, seed=11)
    encoded = [canonical_json(encode_command(c)) for c in cmds]
    ref = Reference(cmds)
    rng = random.Random(2024)
    records: list[bytes | None] = []  # by seq - 1
    position, kills, acked = 0, 0, 0
    while kills < KILLS and position < len(cmds):
        child = Child(journal)
        assert child.ready_seq == len(records)
        child.send([f"{i} ".encode() + encoded[i] + b"\n" for i in range(position, len(cmds))])
        time.sleep(rng.uniform(0.02, 0.3))
        child.kill()
        kills += 1
        acked += sum(seq is not None for seq in child.acked.values())
        records += settled_records(journal, len(records) + 1)
        journaled = [r for r in records if r is not None]
        count = len(journaled)
        # exactly a prefix of the accepted commands, in order: nothing extra, nothing half-applied
        assert all(journaled[k] == encoded[ref.accepted(k)] for k in range(count))
        # every acknowledged command is there; nothing beyond the journal was acknowledged
        for client, seq in child.acked.items():
            if seq is not None:
                assert seq <= len(records) and records[seq - 1] == encoded[client]
            assert client < ref.accepted(count)
        # recovery (newest snapshot + tail) gives the state of a clean replay of that prefix
        backend = journal.open()
        try:
            recovered = recover(backend)
        finally:
            backend.close()
        assert recovered.problem is None and recovered.last_seq == len(records)
        assert recovered.engine.state_hash() == ref.state_after(count)
        position = ref.accepted(count - 1) + 1 if count else 0
    assert kills >= KILLS, f"the stream ran out after {kills} kills"
    assert acked > 0, "no command was ever acknowledged: the kills proved nothing"
    final = Child(journal)
    assert final.ready_hash == recovered.engine.state_hash()
    final.kill()
