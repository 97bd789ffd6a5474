"""Every Python example in ``docs/`` runs. A page's blocks run in order in one namespace (a
later block may use what an earlier one defined), in a scratch directory; plain blocks are
executed, ``>>>`` blocks are doctests whose printed output must match what the page shows.
A block right after an ``<!-- example not run ... -->`` comment (one that needs a running
server, say) is skipped, and the comment says why."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BLOCK = re.compile(r"(<!-- example not run[^>]*-->\s*)?```python\n(.*?)```", re.S)
PAGES = [page for page in sorted(DOCS.glob("*.md")) if BLOCK.search(page.read_text("utf-8"))]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_example_on_the_page_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tests").symlink_to(ROOT / "tests")  # examples read tests/data/… relative to the repository
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": page.name}
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for k, (skip, body) in enumerate(BLOCK.findall(page.read_text("utf-8"))):
        name = f"{page.name}#{k}"
        if skip:
            continue
        if body.lstrip().startswith(">>>"):
            test = doctest.DocTestParser().get_doctest(body, namespace, name, page.name, 0)
            test.globs = namespace  # the page's namespace itself, not a copy
            failed = runner.run(test, clear_globs=False).failed
            assert failed == 0, f"{name}: {failed} doctest example(s) failed (output above)"
        else:
            exec(compile(body, name, "exec"), namespace)
