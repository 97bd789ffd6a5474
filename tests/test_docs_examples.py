"""Every plain Python example in ``docs/`` runs (the ``>>>`` examples are doctests that pytest
runs itself: ``--doctest-glob=*.md`` in pyproject.toml). A page's plain blocks run in order in
one namespace (a later block may use what an earlier one defined), in a scratch directory. A
block right after an ``<!-- example not run ... -->`` comment (one that needs a running server,
say) is skipped, and the comment says why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BLOCK = re.compile(r"(<!-- example not run[^>]*-->\s*)?```python\n(.*?)```", re.S)
PAGES = [page for page in sorted(DOCS.glob("*.md"))
         if any(not body.lstrip().startswith(">>>") for _, body in BLOCK.findall(page.read_text("utf-8")))]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_example_on_the_page_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tests").symlink_to(ROOT / "tests")  # examples read tests/data/… relative to the repository
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": page.name}
    for k, (skip, body) in enumerate(BLOCK.findall(page.read_text("utf-8"))):
        if not skip and not body.lstrip().startswith(">>>"):
            exec(compile(body, f"{page.name}#{k}", "exec"), namespace)
