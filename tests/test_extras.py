"""A light install runs the calculators, the engine and the demo; the rest says what to install.

``pip install solvent`` brings click, rich and msgspec only (pyproject.toml); the service,
PostgreSQL, the stress module (numpy), the plot and numba are extras. Here the extras' packages are made unimportable
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

EXTRA_PACKAGES = ("litestar", "uvicorn", "websockets", "prometheus_client", "psycopg", "matplotlib",
                  "numpy", "numba", "ccxt", "pysodium", "nats")
USES_NUMPY = ("solvent.stress", "solvent.bench", "solvent.engine.tick_screen", "solvent.engine._tick_kernel",
              "solvent.engine.columnar", "solvent.engine._columnar", "solvent.options._kernel",
              "solvent.options.scenario_book")
"""solvent's modules that import numpy (or import modules that do)."""


def _block(monkeypatch: pytest.MonkeyPatch, blocked: tuple[str, ...]) -> None:
    """``blocked`` packages unimportable, and solvent's modules that import them forgotten."""
    for name in list(sys.modules):
        if name.split(".")[0] in blocked or name.startswith(("solvent.service", "solvent.stress.plot")) or (
                "numpy" in blocked and name.startswith(USES_NUMPY)):
            monkeypatch.delitem(sys.modules, name)
    for name in blocked:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.fixture
def no_plot(monkeypatch: pytest.MonkeyPatch) -> None:
    _block(monkeypatch, ("matplotlib",))


def run(*argv: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(_entry, ["--", *argv])
    return result.exit_code, result.stdout, result.stderr


NEEDS_AN_EXTRA = [
    (["serve", "--journal", ":memory:"], "service"),
    (["keys", "new", "operator", "--keys-file", "keys.json"], "service"),
    (["verify", "postgresql://127.0.0.1/test"], "postgres"),
    (["bench", "--quick", "service"], "service"),
    (["bench", "--quick", "reader_stall"], "service"),
    (["bench", "--quick", "engine"], "stress"),
    (["bench", "--quick", "remargin"], "stress"),
    (["bench", "--quick", "cascade"], "stress"),
    (["bench", "--quick", "options"], "stress"),
    (["options", "margin", "--venue", "deribit-pm", "--demo", "calm", "--png", "matrix.png"], "plot"),
    (["simulate", "--accounts", "10"], "stress"),
    (["venues", "update", "--venue", "binance-usdm", "--live"], "ccxt"),
    (["zk", "verify", "proof.json"], "zk"),
    (["zk", "prove", "--journal", "j.sqlite", "--account", "a", "--out", "zk"], "zk"),
    (["bench", "zk"], "zk"),
    (["cluster", "replay", "j.sqlite"], "cluster"),
    (["cluster", "replica", "--venue", "v", "--journal", "replica.sqlite"], "cluster"),
    (["cluster", "run", "--venue", "v", "--dir", "replicas"], "cluster"),
    (["bench", "--quick", "cluster"], "stress"),
]


def _light_interpreter(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``script`` in a fresh interpreter where no extra's package imports (so no module
    imported by other tests can hide a dependency)."""
    prelude = f"import sys\nfor name in {EXTRA_PACKAGES!r}:\n    sys.modules[name] = None\n"
    return subprocess.run([sys.executable, "-c", prelude + script], capture_output=True, text=True, timeout=300,
                          check=False, cwd=cwd)


def test_a_command_that_needs_an_extra_names_it(tmp_path: Path) -> None:
    script = f"""
import contextlib, io, json
from solvent.cli import main
out = []
for argv, _ in {NEEDS_AN_EXTRA!r}:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    out.append((code, err.getvalue()))
print(json.dumps(out))
"""
    done = _light_interpreter(script, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    for (argv, extra), (code, err) in zip(NEEDS_AN_EXTRA, json.loads(done.stdout), strict=True):
        assert code == 1, (argv, err)
        assert f"needs the '{extra}' extra: pip install 'solvent[{extra}]'" in err, (argv, err)
        assert "Traceback" not in err and "internal error" not in err, (argv, err)
    assert not (tmp_path / "replica.sqlite").exists() and not (tmp_path / "replicas").exists()  # nothing created


@pytest.mark.usefixtures("no_plot")
def test_simulate_reports_without_the_plot(tmp_path: Path) -> None:
    code, out, err = run("simulate", "--accounts", "50", "--steps", "5", "--out", str(tmp_path), "--json")
    assert code == 0, err
    assert json.loads(out)["plot"] is None
    assert "needs the 'plot' extra" in err
    assert not list(tmp_path.iterdir())


def test_the_demo_calculators_and_journal_commands_run_without_any_extra(tmp_path: Path) -> None:
    script = f"""
from solvent.cli import main
journal = {str(tmp_path / "d.sqlite")!r}
assert main(["demo", "--journal", journal, "--json"]) == 0
assert main(["verify", journal, "--json"]) == 0
assert main(["liq-price", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long", "--qty", "1",
             "--entry", "60000", "--leverage", "10", "--json"]) == 0
assert main(["options", "margin", "--venue", "deribit-pm", "--demo", "crash", "--json"]) == 0
assert main(["options", "price", "--forward", "100000", "--strike", "90000", "--vol", "0.5", "--expiry-days", "9",
             "--type", "put", "--json"]) == 0
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {EXTRA_PACKAGES!r} and sys.modules[m] is not None)
assert not loaded, loaded
"""
    done = _light_interpreter(script, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]


def _tick_session(screened: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[list[list[str]], str]:
    """Thin and thick longs and shorts on two symbols, then marks that warn, call and liquidate:
    each command's event types and the final state hash, with or without the tick screen."""
    from decimal import Decimal

    from solvent.engine import AdvanceTime, Command, Deposit, Engine, Fill, PriceUpdate
    from solvent.engine import core as engine_core
    from solvent.engine.config import default_config

    if not screened:
        monkeypatch.setattr(engine_core, "new_screen", lambda config: None)
    engine = Engine(default_config("binance-usdm"))
    assert (engine._screen is not None) == screened
    cmds: list[Command] = [AdvanceTime(0), PriceUpdate("BTCUSDT", "t", Decimal(60000)),
                           PriceUpdate("ETHUSDT", "t", Decimal(3000)), Deposit("m", "USDT", Decimal(10) ** 9)]
    for k, margin in enumerate(("3100", "3300", "4000", "6000", "12000")):
        long_, short = f"long{k}", f"short{k}"
        cmds += [Deposit(long_, "USDT", Decimal(margin)), Deposit(short, "USDT", Decimal(margin)),
                 Fill(f"b{k}", "BTCUSDT", Decimal(60000), Decimal(1), long_, "m"),
                 Fill(f"s{k}", "BTCUSDT", Decimal(60000), Decimal(1), "m", short),
                 Fill(f"e{k}", "ETHUSDT", Decimal(3000), Decimal(1), long_, "m")]
    for price in ("59000", "58000", "57500", "57000", "59000", "61000", "62500", "63000", "64000"):
        cmds.append(PriceUpdate("BTCUSDT", "t", Decimal(price)))
    cmds.append(PriceUpdate("ETHUSDT", "t", Decimal(2800)))
    events = [[type(e).__name__ for e in engine.apply(cmd).events] for cmd in cmds]
    return events, engine.state_hash()


def test_the_engine_decides_price_ticks_without_the_screen_as_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without numpy there is no tick screen (``new_screen`` is ``None``): every holder of a
    ticking symbol is decided exactly. The decisions are the screen's: the same events, in the
    same order, and the same state hash."""
    screened = _tick_session(True, monkeypatch)
    unscreened = _tick_session(False, monkeypatch)
    assert unscreened == screened
    flat = [name for step in screened[0] for name in step]
    assert {"MarginLevelChanged", "MarginCall", "LiquidationStep"} <= set(flat)  # the path crosses every level


def test_without_numpy_the_engine_has_no_screen(tmp_path: Path) -> None:
    done = _light_interpreter("""
from solvent.engine import Engine
from solvent.engine.config import default_config
assert Engine(default_config("binance-usdm"))._screen is None
""", tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]


def test_every_benchmark_module_is_named_for_its_benchmark() -> None:
    """A module that cannot be imported without an extra is listed under its name
    (``bench_X`` → ``X``), so every module must register exactly that one benchmark."""
    import importlib
    import pkgutil

    import solvent.bench as pkg
    from solvent.bench import BENCHMARKS

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("bench_"):
            module = importlib.import_module(f"solvent.bench.{info.name}")
            mine = [name for name, fn in BENCHMARKS.items() if fn.__module__ == module.__name__]
            assert mine == [info.name.removeprefix("bench_")], (info.name, mine)
