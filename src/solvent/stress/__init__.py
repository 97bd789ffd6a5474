"""Systemic stress: a synthetic book, scenario price paths, and liquidation cascades with market impact.

``generate_book`` draws a deterministic book, ``scenario_path`` a price path, and
``run_cascade`` drives the exact engine or the vectorised integer model along it, with the
square-root impact of liquidation volume fed back into the price (``docs/stress.md``).
"""

from solvent.stress.book import BOOK_ACCOUNT, MM_ACCOUNT, BookParams, SyntheticBook, book_commands, generate_book
from solvent.stress.cascade import CascadeParams, EngineName, run_cascade, simulate
from solvent.stress.impact import ImpactParams, ImpactState
from solvent.stress.result import CascadeResult, Liquidation, StepRecord
from solvent.stress.scenarios import crash_path, load_path_file, scenario_path

__all__ = [
    "BOOK_ACCOUNT",
    "MM_ACCOUNT",
    "BookParams",
    "CascadeParams",
    "CascadeResult",
    "EngineName",
    "ImpactParams",
    "ImpactState",
    "Liquidation",
    "StepRecord",
    "SyntheticBook",
    "book_commands",
    "crash_path",
    "generate_book",
    "load_path_file",
    "run_cascade",
    "scenario_path",
    "simulate",
]
