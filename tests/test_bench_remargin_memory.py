"""``solvent bench remargin`` reports the columnar book's memory per account and per position
(issue "One engine": 209 B and 84 B at 1M accounts, not to double): the arrays with a row per
account or per position, found through the book's attributes, fields and tuples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

np = pytest.importorskip("numpy")

from solvent.bench.bench_remargin import memory_per_row  # noqa: E402  (after the numpy skip)


@dataclass
class _Screen:
    ptr: Any       # accounts + 1 offsets: an account's row
    qty: Any       # a position's row
    tiers: Any     # per instrument: a fixed cost, not counted


class _Book:
    num_accounts = 4
    num_positions = 10

    def __init__(self) -> None:
        self.collateral = np.zeros(4, dtype=np.int64)                 # 32 B
        self.levels = np.zeros(4, dtype=np.int8)                      # 4 B
        self.parts = (np.zeros(10, dtype=np.float64), self.levels)    # 80 B; levels counted once
        self.screen = _Screen(np.zeros(5, dtype=np.int64), np.zeros(10, dtype=np.int32), np.zeros(3))  # 40 B, 40 B
        self.name = "not an array"


def test_memory_counts_each_array_once_by_its_rows() -> None:
    """Per account (32 + 4 + 40) / 4 = 19 B; per position (80 + 40) / 10 = 12 B."""
    assert memory_per_row(_Book()) == (19.0, 12.0)  # type: ignore[arg-type]
