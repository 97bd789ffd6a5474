"""A light install runs the calculators, the engine, the demo and the stress loop; the rest says what to install.

``pip install solvent`` brings click, rich and numpy only (pyproject.toml); the service,
PostgreSQL, the plot and numba are extras. Here the extras' packages are made unimportable
(``sys.modules[name] = None`` makes ``import name`` raise ``ImportError``), as on a machine
that does not have them, and every command is run: those that need an extra fail with one
line naming it, the others work. CI's first README command installs exactly the light
dependencies and runs the demo, so the light install is also tested for real.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_journal_trust import _entry

EXTRA_PACKAGES = ("litestar", "msgspec", "uvicorn", "websockets", "psycopg", "matplotlib", "numba")


@pytest.fixture
def light(monkeypatch: pytest.MonkeyPatch) -> None:
    """The extras' packages unimportable, and solvent's modules that import them forgotten."""
    # numba stays: solvent's compiled kernels are loaded already (without numba the same
    # kernels run on numpy: tests/test_tick_screen.py); the subprocess test below blocks it too
    blocked = tuple(p for p in EXTRA_PACKAGES if p != "numba")
    for name in list(sys.modules):
        if name.split(".")[0] in blocked or name.startswith(("solvent.service", "solvent.stress.plot")):
            monkeypatch.delitem(sys.modules, name)
    for name in blocked:
        monkeypatch.setitem(sys.modules, name, None)


def run(*argv: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(_entry, ["--", *argv])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.usefixtures("light")
@pytest.mark.parametrize(("argv", "extra"), [
    (["serve", "--journal", ":memory:"], "service"),
    (["keys", "new", "operator", "--keys-file", "keys.json"], "service"),
    (["verify", "postgresql://127.0.0.1/test"], "postgres"),
    (["bench", "--quick", "service"], "service"),
    (["bench", "--quick", "reader_stall"], "service"),
])
def test_a_command_that_needs_an_extra_names_it(argv: list[str], extra: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(*argv)
    assert code == 1
    assert f"needs the '{extra}' extra: pip install 'solvent[{extra}]'" in err
    assert "Traceback" not in err and "internal error" not in err


@pytest.mark.usefixtures("light")
def test_simulate_reports_without_the_plot(tmp_path: Path) -> None:
    code, out, err = run("simulate", "--accounts", "50", "--steps", "5", "--out", str(tmp_path), "--json")
    assert code == 0, err
    assert json.loads(out)["plot"] is None
    assert "needs the 'plot' extra" in err
    assert not list(tmp_path.iterdir())


def test_the_demo_calculators_and_journal_commands_run_without_any_extra(tmp_path: Path) -> None:
    # a fresh interpreter, so no module imported by other tests can hide a dependency
    script = f"""
import sys
for name in {EXTRA_PACKAGES!r}:
    sys.modules[name] = None
from solvent.cli import main
journal = {str(tmp_path / "d.sqlite")!r}
assert main(["demo", "--journal", journal, "--json"]) == 0
assert main(["verify", journal, "--json"]) == 0
assert main(["liq-price", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long", "--qty", "1",
             "--entry", "60000", "--leverage", "10", "--json"]) == 0
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {EXTRA_PACKAGES!r} and sys.modules[m] is not None)
assert not loaded, loaded
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
