"""Fuzz the engine itself (issue 10): random valid-shaped commands with extreme magnitudes
(1e-30 … 1e30, sub-tick prices, huge quantities and time jumps, unknown symbols, assets and
accounts, empty strings). After every command:

* nothing escapes ``apply`` or ``check`` — only refusals come back;
* a refusal leaves ``state_hash()`` unchanged, and ``check`` never changes it;
* conservation holds exactly (the engine's own ``conservation()``).

Examples: ``SOLVENT_STATEFUL_EXAMPLES`` (`.ci/run` sets it), like the stateful tests.
"""

from __future__ import annotations

import contextlib
import warnings
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import stateful_examples

from solvent import load_venue
from solvent.engine import (
    AddIsolatedMargin,
    AdvanceTime,
    CancelOrder,
    Command,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    PlaceOrder,
    PremiumSample,
    PriceUpdate,
    RemoveIsolatedMargin,
    SetLeverage,
    SetMarginMode,
    Withdraw,
)
from solvent.model import MarginMode, PositionSide, Side

with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import libcst  # noqa: F401

D = Decimal
CONFIG = EngineConfig(load_venue("binance-usdm"))
ACCOUNTS = st.sampled_from(["a", "b", "c", "", "ghost"])
SYMBOLS = st.sampled_from(["BTCUSDT", "ETHUSDT", "BTCUSDT_261225", "NOPE", ""])
ASSETS = st.sampled_from(["USDT", "BTC", "XYZ", ""])
IDS = st.sampled_from(["o1", "o2", "t1", "t2", "t3", ""])
EXTREME = st.sampled_from(["1e-30", "0.001", "0.005", "0.01", "1", "3000", "60000", "1e9", "1e12",
                           "1000000000000.0001", "1e24", "1e30", "0", "-1", "-1e30", "NaN", "Infinity"])
NICE = st.integers(min_value=1, max_value=70_000).map(D)
MAGNITUDES = st.one_of(EXTREME.map(D), NICE,
                       st.decimals(min_value=D("1e-30"), max_value=D("1e30"), allow_nan=False, places=None))
TIMES = st.sampled_from([0, 1, 1000, 28_800_000, 1798185600000, 2**53, 2**63 - 1, 2**63, 10**30, -1])
SIDES = st.sampled_from(list(Side))
PSIDES = st.sampled_from(list(PositionSide))

COMMANDS: st.SearchStrategy[Command] = st.one_of(
    st.builds(Deposit, ACCOUNTS, ASSETS, MAGNITUDES),
    st.builds(Withdraw, ACCOUNTS, ASSETS, MAGNITUDES),
    st.builds(PlaceOrder, ACCOUNTS, IDS, SYMBOLS, SIDES, MAGNITUDES, MAGNITUDES, st.booleans(), PSIDES),
    st.builds(CancelOrder, ACCOUNTS, IDS),
    st.builds(Fill, IDS, SYMBOLS, MAGNITUDES, MAGNITUDES, ACCOUNTS, ACCOUNTS, MAGNITUDES, MAGNITUDES),
    st.builds(PriceUpdate, SYMBOLS, st.sampled_from(["binance", "okx", ""]), MAGNITUDES),
    st.builds(PremiumSample, SYMBOLS, MAGNITUDES, MAGNITUDES),
    st.builds(AdvanceTime, TIMES),
    st.builds(SetLeverage, ACCOUNTS, SYMBOLS, MAGNITUDES),
    st.builds(SetMarginMode, ACCOUNTS, SYMBOLS, st.sampled_from(list(MarginMode))),
    st.builds(AddIsolatedMargin, ACCOUNTS, SYMBOLS, MAGNITUDES, PSIDES),
    st.builds(RemoveIsolatedMargin, ACCOUNTS, SYMBOLS, MAGNITUDES, PSIDES),
)

# a plausible start, so fills, orders and funding have something to work on
SEED: list[Command] = [
    AdvanceTime(1000), Deposit("a", "USDT", D(10**6)), Deposit("b", "USDT", D(10**6)),
    Deposit("c", "USDT", D(500)), PriceUpdate("BTCUSDT", "binance", D(60000)),
    PriceUpdate("ETHUSDT", "binance", D(3000)), Fill("t0", "BTCUSDT", D(60000), D(1), "a", "b"),
]


def conserved(engine: Engine) -> None:
    for asset, (held, net) in engine.conservation().items():
        assert held == net, f"{asset}: held {held} != deposits - withdrawals {net}"


@settings(max_examples=stateful_examples(100), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(COMMANDS, min_size=1, max_size=25))
def test_the_engine_never_raises_and_conserves_money(cmds: list[Command]) -> None:
    engine = Engine(CONFIG)
    for cmd in SEED:
        assert engine.apply(cmd).accepted, cmd
    for cmd in cmds:
        before = engine.state_hash()
        checked = engine.check(cmd)
        assert engine.state_hash() == before, f"check changed the state: {cmd}"
        result = engine.apply(cmd)
        if not result.accepted:
            assert result.denial is not None
            assert engine.state_hash() == before, f"refusal changed the state: {cmd} -> {result.denial}"
        assert checked.denial is None or checked.denial.code.value != "INTERNAL_ERROR", (cmd, checked.denial)
        assert result.denial is None or result.denial.code.value != "INTERNAL_ERROR", (cmd, result.denial)
        conserved(engine)
