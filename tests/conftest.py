"""Shared fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from support import SHARED

# CI explores a fixed, reproducible set of examples (a red CI run can be re-run and read);
# locally every run draws new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") or os.environ.get("SOLVENT_HYPOTHESIS_PROFILE") == "ci":
    settings.load_profile("ci")


@pytest.fixture(scope="session", autouse=True)
def _own_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The suite never reads the user's real data folder (their venue overlays): an empty
    one of its own, overlays on, the default staleness threshold. A test that writes
    overlays sets its own folder (``monkeypatch.setenv``)."""
    saved = {k: os.environ.get(k) for k in ("SOLVENT_DATA_DIR", "SOLVENT_NO_OVERLAYS", "SOLVENT_STALE_DAYS")}
    os.environ["SOLVENT_DATA_DIR"] = str(tmp_path_factory.mktemp("solvent-data"))
    os.environ.pop("SOLVENT_NO_OVERLAYS", None)
    os.environ.pop("SOLVENT_STALE_DAYS", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def shared_dir() -> Path:
    """The team's shared/ folder beside the repository (skip when absent)."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED}")
    return SHARED
