"""Benchmarks: each prints its figure and the ratio to a baseline measured in the same run.

Machines here are noisy (2 cores, absolute times drift), so a figure alone means little: every
benchmark times a baseline in the same process, right before or after, and reports
``ratio = value / baseline_value``. Register a benchmark with ``@benchmark("name")``; the
function takes ``quick`` (sizes that finish in seconds) and returns its results.
``solvent bench [NAME] [--quick] [--json]`` runs them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from solvent.extras import MissingExtra, extra_providing, require

__all__ = ["BENCHMARKS", "BenchResult", "benchmark", "best_of", "run"]


@dataclass(frozen=True, slots=True)
class BenchResult:
    """One measured figure. ``ratio = value / baseline_value`` (both in ``unit``)."""

    name: str
    value: float
    unit: str
    baseline: str
    baseline_value: float
    ratio: float
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        return asdict(self)


BenchFn = Callable[[bool], list[BenchResult]]
BENCHMARKS: dict[str, BenchFn] = {}
NEEDS: dict[str, tuple[str, ...]] = {}
"""The extras (``solvent/extras.py``) a benchmark needs."""


def benchmark(name: str, needs: tuple[str, ...] = ()) -> Callable[[BenchFn], BenchFn]:
    """Register a benchmark function under ``name``; ``needs``: the extras it cannot run without."""

    def register(fn: BenchFn) -> BenchFn:
        BENCHMARKS[name] = fn
        NEEDS[name] = needs
        return fn

    return register


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    """Best wall time in seconds over ``repeat`` runs (the least disturbed one)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def result(name: str, value: float, unit: str, baseline: str, baseline_value: float, detail: str = "") -> BenchResult:
    """Build a result, computing the ratio."""
    ratio = value / baseline_value if baseline_value else float("inf")
    return BenchResult(name, value, unit, baseline, baseline_value, ratio, detail)


def run(names: list[str] | None, quick: bool) -> list[BenchResult]:
    """Run the named benchmarks (all when ``names`` is empty)."""
    _load_all()
    chosen = names or sorted(BENCHMARKS)
    unknown = [n for n in chosen if n not in BENCHMARKS]
    if unknown:
        from solvent.errors import InvalidInput

        raise InvalidInput(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(sorted(BENCHMARKS))}")
    out: list[BenchResult] = []
    for name in chosen:
        try:
            for extra in NEEDS[name]:
                require(extra, f"solvent bench {name}")
        except MissingExtra as missing:
            if names:  # asked for by name: say what to install
                raise
            print(f"note: skipped {name}: {missing}", file=sys.stderr)
            continue
        out.extend(BENCHMARKS[name](quick))
    return out


def _load_all() -> None:
    """Import every benchmark module so it registers itself."""
    import importlib
    import pkgutil

    import solvent.bench as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("bench_"):
            try:
                importlib.import_module(f"solvent.bench.{info.name}")
            except ImportError as exc:  # a module that needs an extra: its benchmark (named as the
                extra = extra_providing(exc)  # module) is listed, and says what to install when run
                if extra is None:
                    raise
                name = info.name.removeprefix("bench_")
                BENCHMARKS.setdefault(name, _needs_an_extra)
                NEEDS[name] = (extra,)


def _needs_an_extra(quick: bool) -> list[BenchResult]:
    raise AssertionError("run() checks NEEDS before calling a benchmark")
