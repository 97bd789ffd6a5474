"""Monte Carlo paths as Ray tasks (``monte_carlo(..., ray=ADDRESS)``, ``solvent adequacy --ray``;
extra ``solvent[ray]``).

Each path is a pure function of the book, its seed and its index (``montecarlo.path_outcome``:
numpy's ``default_rng((seed, index))`` and exact decimal arithmetic), so where it runs changes
nothing: the book goes to the cluster once (``ray.put``), the paths go out in chunks, and the
outcomes come back in the order they were asked for. Each task computes in solvent's own
decimal context (``units.install_context``), as the local run does, so the result is the same
bit for bit (``tests/test_stress_ray.py`` checks it on a local cluster).

``local`` starts a Ray instance in this machine for the run and stops it after; any other value
is the address of a running cluster (``ray://host:10001`` or ``host:6379``), left running.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
from collections.abc import Sequence
from typing import Any

from solvent.errors import InvalidInput
from solvent.extras import missing_extra
from solvent.stress.book import SyntheticBook
from solvent.stress.cascade import CascadeParams, EngineName
from solvent.stress.montecarlo import PathOutcome
from solvent.text import whole_number

__all__ = ["CHUNK", "run_paths"]

CHUNK = 8
"""Paths per task: enough to outweigh a task's overhead (a few ms), few enough to spread."""


def _chunk(book: SyntheticBook, jobs: Sequence[tuple[int, int]], horizon: int, block: int, engine: EngineName,
           params: CascadeParams | None) -> list[PathOutcome]:
    from solvent.stress.montecarlo import path_outcome
    from solvent.units import install_context

    install_context()  # a Ray worker is a process of its own: solvent's decimal context, as at home
    return [path_outcome(book, horizon, block, seed, index, engine, params) for seed, index in jobs]


CONNECT_TIMEOUT_S = 5.0
"""How long ``--ray ADDRESS`` waits for the cluster to answer before saying it cannot."""


def _reachable(address: str) -> None:
    """Refuse, within ``CONNECT_TIMEOUT_S``, an address nothing answers on (Ray itself retries
    for minutes)."""
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    number = whole_number(port)
    if not host or number is None or not 0 < number < 65536:
        raise InvalidInput(f"--ray {address}: give 'local' or HOST:PORT (or ray://HOST:PORT) of a running Ray cluster")
    try:
        with socket.create_connection((host.strip("[]"), number), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise InvalidInput(f"--ray {address}: nothing answers there ({exc.strerror or type(exc).__name__})") from None


def run_paths(address: str, book: SyntheticBook, jobs: Sequence[tuple[int, int]], horizon: int, block: int,
              engine: EngineName, params: CascadeParams | None) -> list[PathOutcome]:
    """The outcome of each ``(seed, index)`` of ``jobs``, in that order, computed on Ray."""
    try:
        ray: Any = importlib.import_module("ray")
    except ImportError as exc:
        raise missing_extra(exc, "ray", "--ray") from None
    if not address.strip():
        raise InvalidInput("--ray: give 'local' or HOST:PORT of a running Ray cluster")
    started = not ray.is_initialized()
    if started and address != "local":
        _reachable(address)
    if started:
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")  # Ray's own C++ log lines, not the user's
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                   "logging_level": logging.ERROR, "configure_logging": True}
        try:
            if address == "local":
                ray.init(**options)
            else:
                ray.init(address=address, **options)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise InvalidInput(f"--ray {address}: cannot join the cluster ({exc})") from None
    try:
        task = ray.remote(_chunk)
        shared = ray.put(book)
        futures = [task.remote(shared, list(jobs[i:i + CHUNK]), horizon, block, engine, params)
                   for i in range(0, len(jobs), CHUNK)]
        return [outcome for part in ray.get(futures) for outcome in part]
    finally:
        if started:
            ray.shutdown()
