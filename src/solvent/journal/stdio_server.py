"""A journaled engine behind a pipe: commands in on stdin, acknowledgements out on stdout.

``python -m solvent.journal.stdio_server JOURNAL [--schema S] [--snapshot-every N]``

Input lines: ``<client id> <command JSON>`` (the journal's command encoding). The server
reads whatever has arrived, applies it, group-commits it, and only then writes one line per
command: ``<client id> <journal seq>`` for an accepted command, ``<client id> -`` for a
refused one. On start it recovers and prints ``READY <last seq> <state hash>``. The crash
test (``tests/test_journal_crash.py``) kills it with SIGKILL at random points.
"""

from __future__ import annotations

import argparse
import os
import sys

from solvent.engine.config import EngineConfig
from solvent.journal.codec import decode_command, loads_strict
from solvent.journal.durable_engine import DurableEngine, Ticket
from solvent.journal.open import open_journal
from solvent.risk.venues import load_venue

__all__ = ["main", "serve"]


def serve(engine: DurableEngine, fd_in: int, out: object) -> None:
    write = out.write  # type: ignore[attr-defined]
    rest = b""
    while True:
        chunk = os.read(fd_in, 1 << 16)
        if not chunk:
            break
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        done: list[tuple[bytes, Ticket]] = []
        for line in lines:
            client, _, body = line.partition(b" ")
            done.append((client, engine.submit(decode_command(loads_strict(body)))))
        engine.flush()
        write(b"".join(c + b" " + (str(t.seq).encode() if t.seq is not None else b"-") + b"\n" for c, t in done))
        out.flush()  # type: ignore[attr-defined]
    engine.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="solvent.journal.stdio_server")
    parser.add_argument("journal")
    parser.add_argument("--schema", default="solvent_journal")
    parser.add_argument("--venue", default="binance-usdm")
    parser.add_argument("--snapshot-every", type=int, default=10_000)
    args = parser.parse_args(argv)
    from solvent.engine.config import LiquidationPolicy

    config = EngineConfig(load_venue(args.venue), liquidation=LiquidationPolicy())
    backend = open_journal(args.journal, schema=args.schema, create=True)
    engine = DurableEngine(backend, config, snapshot_every=args.snapshot_every)
    sys.stdout.buffer.write(f"READY {engine.seq} {engine.state_hash()}\n".encode())
    sys.stdout.buffer.flush()
    serve(engine, sys.stdin.fileno(), sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
