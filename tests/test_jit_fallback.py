"""Kernels compile without numba's on-disk cache where it has nowhere to keep one (a read-only
root filesystem with no writable home): numba raises ``cannot cache function …: no locator
available`` at decoration, which stopped every command importing the kernels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from solvent.engine._jit import njit


class _Numba:
    """A stand-in for the numba module whose cache has no locator, recording what was asked."""

    def __init__(self, error: str) -> None:
        self.error = error
        self.asked: list[dict[str, Any]] = []

    def njit(self, **options: Any) -> Callable[[Callable[..., Any]], Any]:
        self.asked.append(options)

        def decorate(fn: Callable[..., Any]) -> Any:
            if options["cache"]:
                raise RuntimeError(self.error)
            return fn

        return decorate


def _twice(x: int) -> int:
    return 2 * x


def test_no_cache_locator_compiles_without_the_cache() -> None:
    numba = _Numba("cannot cache function '_twice': no locator available for file '/usr/lib/x.py'")
    compiled = njit(numba, nogil=True)(_twice)
    assert compiled(21) == 42
    assert numba.asked == [{"cache": True, "nogil": True}, {"cache": False, "nogil": True}]


def test_another_error_is_not_hidden() -> None:
    with pytest.raises(RuntimeError, match="something else"):
        njit(_Numba("something else"))(_twice)


def test_real_numba_compiles_with_the_cache() -> None:
    numba = pytest.importorskip("numba", reason="numba is the optional 'fast' extra")
    assert njit(numba)(_twice)(4) == 8
