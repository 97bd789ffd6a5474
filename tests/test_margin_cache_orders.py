"""The margin cache keeps each symbol's resting orders added up, order by order.

A market maker with thousands of resting orders must cost the same per fill or order as an
account with one, so the cache no longer adds up a symbol's orders again after each command:
every place an order starts or stops resting tells it (``Ctx.rest_order`` /
``Ctx.unrest_order``). The reference here is ``Engine.margin_from_scratch`` (``evaluate``,
which reads every order and uses no cache): after every command of random sequences of
orders, cancels, partial and full fills against resting orders, price moves and liquidations,
the cached margin of every account must equal it exactly.

Orders are never changed in place (a partly filled order is replaced), so the rollback copies
an account's orders map and shares the orders; a command that fails after a partial fill must
still put the order back as it was.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import D

from solvent.engine import (
    AdvanceTime,
    CancelOrder,
    Command,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    PlaceOrder,
    PriceUpdate,
    core,
)
from solvent.engine.denials import DenyCode
from solvent.errors import InvariantViolation
from solvent.model import Side
from solvent.risk.venues import load_venue

VENUES = {"binance-usdm": ("BTCUSDT", "ETHUSDT"), "dydx-v4": ("BTC-USD", "ETH-USD"), "hyperliquid": ("BTC", "ETH")}
PRICES = (D(60000), D(3000))
MAKER, TAKERS = "maker", ("t1", "t2")


def _engine(venue: str) -> Engine:
    engine = Engine(EngineConfig(load_venue(venue)))
    cmds: list[Command] = [AdvanceTime(0)]
    cmds += [PriceUpdate(symbol, "ix", price) for symbol, price in zip(VENUES[venue], PRICES, strict=True)]
    settle = engine.config.settle_asset
    cmds += [Deposit(MAKER, settle, D(2_000_000)), Deposit("t1", settle, D(50_000)), Deposit("t2", settle, D(900))]
    for cmd in cmds:
        assert engine.apply(cmd).accepted, cmd
    return engine


def _lot(engine: Engine, symbol: str) -> Decimal:
    return engine.config.profile.instrument(symbol).lot * 10


def _price(engine: Engine, symbol: str, bps: int) -> Decimal:
    tick = engine.config.profile.instrument(symbol).tick_size or D("0.01")
    start = dict(zip(VENUES[engine.config.profile.name], PRICES, strict=True))[symbol]
    return (start * (1 + Decimal(bps) / 10_000) / tick).to_integral_value() * tick


_steps = st.lists(st.one_of(
    st.tuples(st.just("place"), st.integers(0, 1), st.sampled_from(Side), st.integers(1, 40),
              st.integers(-60, 60), st.booleans()),
    st.tuples(st.just("cancel"), st.integers(0, 10**6)),
    st.tuples(st.just("fill"), st.integers(0, 10**6), st.sampled_from(TAKERS), st.integers(1, 40)),
    st.tuples(st.just("move"), st.integers(0, 1), st.integers(-1500, 1500)),
), min_size=1, max_size=60)


def _command(engine: Engine, step: tuple[object, ...], n: int) -> Command | None:
    orders = sorted(engine.state.accounts[MAKER].orders.values(), key=lambda o: o.order_id)
    kind = step[0]
    symbols = VENUES[engine.config.profile.name]
    if kind == "place":
        _, pick, side, lots, bps, reduce_only = step
        assert isinstance(pick, int) and isinstance(lots, int) and isinstance(bps, int)
        symbol = symbols[pick]
        return PlaceOrder(MAKER, f"o{n}", symbol, side, _lot(engine, symbol) * lots,  # type: ignore[arg-type]
                          _price(engine, symbol, bps), reduce_only=bool(reduce_only))
    if kind == "move":
        _, pick, bps = step
        assert isinstance(pick, int) and isinstance(bps, int)
        return PriceUpdate(symbols[pick], "ix", _price(engine, symbols[pick], bps))
    if not orders:
        return None
    assert isinstance(step[1], int)
    order = orders[step[1] % len(orders)]
    if kind == "cancel":
        return CancelOrder(MAKER, order.order_id)
    _, _, taker, lots = step
    assert isinstance(taker, str) and isinstance(lots, int)
    qty = min(order.qty, _lot(engine, order.symbol) * lots)  # often less than the order: a partial fill
    mark = engine.state.markets[order.symbol].mark
    assert mark is not None
    if order.side is Side.LONG:
        return Fill(f"f{n}", order.symbol, mark, qty, MAKER, taker, buy_order_id=order.order_id)
    return Fill(f"f{n}", order.symbol, mark, qty, taker, MAKER, sell_order_id=order.order_id)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(VENUES)), _steps)
def test_the_kept_order_sums_give_the_margin_from_scratch_after_every_command(venue: str,
                                                                             steps: list[tuple[object, ...]]) -> None:
    engine = _engine(venue)
    for n, step in enumerate(steps):
        cmd = _command(engine, step, n)
        if cmd is None:
            continue
        engine.apply(cmd)
        for aid in sorted(engine.state.accounts):
            assert engine.margin(aid) == engine.margin_from_scratch(aid), (aid, cmd)


def test_a_partial_fill_changes_the_orders_margin_by_the_filled_part() -> None:
    """Hand computation (binance-usdm, BTCUSDT at 60,000, the maker's default leverage 20,
    taker fee 0.05 %): a resting sell of 0.010 at 60,100 has no immediate loss (a sell above
    the mark), so its margin is ``0.010 × 60,000 / 20 + 0.010 × 60,100 × 0.0005`` = 30 + 0.3005
    = 30.3005. After 0.004 fills, the 0.006 left needs ``0.006 × 60,000 / 20 + 0.006 × 60,100 ×
    0.0005`` = 18 + 0.1803 = 18.1803 (the filled 0.004 is now a short position: held, not an
    order)."""
    engine = _engine("binance-usdm")
    profile = engine.config.profile
    assert profile.instrument("BTCUSDT").contract_size == 1 and engine.config.taker_fee_rate == D("0.0005")
    assert engine.config.leverage_default("BTCUSDT") == 20
    assert engine.apply(PlaceOrder(MAKER, "o1", "BTCUSDT", Side.SHORT, D("0.010"), D(60100))).accepted
    assert engine.margin(MAKER).order_margin == D("30.3005")
    assert engine.apply(Fill("f1", "BTCUSDT", D(60100), D("0.004"), "t1", MAKER, sell_order_id="o1")).accepted
    assert engine.state.accounts[MAKER].orders["o1"].qty == D("0.006")
    assert engine.margin(MAKER).order_margin == D("18.1803")
    assert engine.margin(MAKER) == engine.margin_from_scratch(MAKER)


def test_a_failure_after_a_partial_fill_puts_the_order_back(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine("binance-usdm")
    assert engine.apply(PlaceOrder(MAKER, "o1", "BTCUSDT", Side.SHORT, D("0.010"), D(60100))).accepted
    before = engine.state_hash()
    real = core.HANDLERS[Fill]

    def half_applied(ctx: object, cmd: object, commit: bool) -> object:
        real(ctx, cmd, commit)  # type: ignore[arg-type]  # the order is partly filled, then a bug
        raise InvariantViolation("bug after the fill")

    monkeypatch.setitem(core.HANDLERS, Fill, half_applied)
    result = engine.apply(Fill("f1", "BTCUSDT", D(60100), D("0.004"), "t1", MAKER, sell_order_id="o1"))
    assert result.denial is not None and result.denial.code is DenyCode.INTERNAL_ERROR
    assert engine.state.accounts[MAKER].orders["o1"].qty == D("0.010")
    assert engine.state_hash() == before
    monkeypatch.setitem(core.HANDLERS, Fill, real)
    assert engine.margin(MAKER).order_margin == D("30.3005")  # as in the hand computation above
    assert engine.margin(MAKER) == engine.margin_from_scratch(MAKER)
