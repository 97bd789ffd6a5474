"""Full replay from genesis, ignoring snapshots (what an independent verifier does)."""

from __future__ import annotations

from solvent.engine.config import EngineConfig
from solvent.engine.core import Engine
from solvent.journal.backend import JournalBackend
from solvent.journal.replay import Recovery, genesis_tree, open_genesis, replay_tail
from solvent.units import exact

__all__ = ["full_replay"]


@exact
def full_replay(backend: JournalBackend, config: EngineConfig | None = None) -> Recovery:
    """The state from record 1 on; stops at the first bad record like ``recover``."""
    config, head = open_genesis(backend, config)
    engine, tree = Engine(config, checked=False), genesis_tree(backend)
    last, head, problem = replay_tail(engine, backend.records(1), 1, head, tree=tree)
    return Recovery(engine, last, head, None, last, problem, tree=tree)
