"""Test helpers: the public vectors (copied from shared/vectors with their sources), builders."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from solvent.model import Instrument, InstrumentKind

TESTS = Path(__file__).resolve().parent
VECTORS_FILE = TESTS / "vectors" / "public.json"
SHARED = TESTS.parents[1] / "shared"


def load_vectors() -> dict[str, dict[str, Any]]:
    """Every public vector by id. Each keeps its ``source`` line."""
    raw = json.loads(VECTORS_FILE.read_text("utf-8"))
    return {v["id"]: v for v in raw["vectors"]}


VECTORS = load_vectors()


def vector(vid: str) -> dict[str, Any]:
    return VECTORS[vid]


def D(text: object) -> Decimal:
    return Decimal(str(text))


def linear(symbol: str = "TEST", tick: str | None = None, contract_size: str = "1") -> Instrument:
    """A linear perpetual without venue rounding unless ``tick`` is given."""
    return Instrument(
        symbol, InstrumentKind.LINEAR_PERPETUAL, "BASE", "USDT", "USDT",
        contract_size=D(contract_size), tick_size=D(tick) if tick else None,
    )


def inverse(symbol: str = "TESTUSD", contract_size: str = "1", tick: str | None = None) -> Instrument:
    return Instrument(
        symbol, InstrumentKind.INVERSE_PERPETUAL, "BTC", "USD", "BTC",
        contract_size=D(contract_size), tick_size=D(tick) if tick else None,
    )


def stateful_examples(default: int) -> int:
    """Examples per stateful test: ``default`` locally, ``SOLVENT_STATEFUL_EXAMPLES`` in CI."""
    import os

    return int(os.environ.get("SOLVENT_STATEFUL_EXAMPLES", default))
