"""Every plain Python example in ``docs/`` runs (the ``>>>`` examples are doctests that pytest
runs itself: ``--doctest-glob=*.md`` in pyproject.toml). A page's plain blocks run in order in
one namespace (a later block may use what an earlier one defined), in a scratch directory. A
block right after an ``<!-- example not run ... -->`` comment (one that needs a running server,
say) is skipped, and the comment says why."""

from __future__ import annotations

import os
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
    saved = dict(os.environ)  # an example may point SOLVENT_DATA_DIR at its scratch folder: not for later tests
    try:
        for k, (skip, body) in enumerate(BLOCK.findall(page.read_text("utf-8"))):
            if not skip and not body.lstrip().startswith(">>>"):
                exec(compile(body, f"{page.name}#{k}", "exec"), namespace)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_the_readmes_ccxt_example_runs_on_ccxt_shaped_answers(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The README's live-exchange example, with a stand-in for ccxt's exchange class that answers
    ``fetch_positions``/``fetch_balance`` in ccxt's unified shapes, floats included (the same
    payloads as ``test_adapters``; no network)."""
    import json
    import sys
    import types

    from test_adapters import CCXT_BALANCE, CCXT_POSITIONS

    class Exchange:
        def __init__(self, config: dict[str, str]) -> None:
            self.config = config

        def fetch_positions(self) -> object:
            return json.loads(CCXT_POSITIONS)  # Python floats, as ccxt returns them

        def fetch_balance(self) -> object:
            return json.loads(CCXT_BALANCE)

    monkeypatch.setitem(sys.modules, "ccxt", types.SimpleNamespace(binanceusdm=Exchange))
    readme = (ROOT / "README.md").read_text("utf-8")
    block = next(body for _, body in BLOCK.findall(readme) if "import ccxt" in body)
    exec(compile(block, "README.md#ccxt", "exec"), {"__name__": "readme"})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] == "healthy" and lines[1].startswith("BTCUSDT ")
