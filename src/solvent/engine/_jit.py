"""numba's ``njit`` with its on-disk cache where the cache can be kept, and without it elsewhere.

``cache=True`` makes numba look for a writable place beside the module or in a user cache
directory when a function is decorated; on a read-only root filesystem with no writable home
(a hardened container) it finds none and raises ``RuntimeError: cannot cache function …: no
locator available``, which stopped every command that imports the kernels, ``verify``
included. There the kernels are compiled in memory on first use instead (the same machine
code, compiled again in each process).

numba invalidates a cached kernel when the file of the function it compiles changes, not when
a function it calls from another module does (``options/_formulas.py`` from ``options/_kernel.py``):
after editing such a callee in a checkout, delete the ``__pycache__/*.nbi`` files (an install
writes its files anew, and a fresh clone has none).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["njit", "numba_or_none"]


def njit(numba: Any, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(cache=True, **options)``, falling back to ``cache=False`` (module docstring)."""
    def compile_(fn: Callable[..., Any]) -> Any:
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError as exc:
            if "cannot cache" not in str(exc):
                raise
            return numba.njit(cache=False, **options)(fn)

    return compile_


def numba_or_none() -> Any:
    """The numba module, or None when it is not installed (the kernels then run as Python)."""
    try:
        return importlib.import_module("numba")
    except ImportError:
        return None
