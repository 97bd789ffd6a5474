"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import SHARED


@pytest.fixture
def shared_dir() -> Path:
    """The team's shared/ folder beside the repository (skip when absent)."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED}")
    return SHARED
