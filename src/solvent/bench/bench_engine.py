"""Engine benchmarks through the public API (issue "One engine": names and floors as given there).

* ``engine.precheck``: µs per ``Engine.check(PlaceOrder)`` for an account holding 10 positions
  and 10 open orders; floor: a dozen Decimal operations in one Python function (the least
  a pre-trade check in Decimal can do).
* ``engine.what_if``: µs per ``Engine.what_if`` (its maximum quantity included) on the same
  accounts; floor: one ``engine.precheck`` of the same run.
* ``engine.replay``: µs per **command** of a recorded mixed stream (deposits, fills, orders,
  prices, time) applied to a fresh engine; floor: the same loop calling a no-op apply.
* ``engine.fill.maker``: µs per fill against a market maker holding ``MAKER_ORDERS`` resting
  orders (each fill takes 0.001 BTC of one of its orders, in turn), through the public
  API; floor: the dozen Decimal operations of ``engine.precheck`` (a fill moves two positions,
  two balances and the fees: no less). The detail gives the same fills against a maker with
  ``MAKER_FEW`` orders: with the orders kept added up per symbol (``engine/margin_cache.py``),
  the two should cost about the same (before, a fill cost time in proportion to the maker's
  orders: 10 ms at 5,000).
* ``engine.tick.100k`` (quick: ``engine.tick.10k``): ms for a 0.5 % mark move on an instrument
  with that many holders, about 1 % of whom change level, until ``apply`` has returned every
  level-change event; floor: one pass copying the arrays a columnar engine would read for
  those holders (quantity, cost, collateral, level), ``np.copyto`` into buffers allocated
  beforehand. ``….mixed``: the same with the holders a quarter each in one-way cross,
  one-way isolated, hedge mode cross and hedge mode isolated (``LAYOUTS``).
"""

from __future__ import annotations

import time
from decimal import Decimal
from functools import partial

import numpy as np
from numpy.typing import NDArray

from solvent.bench import BenchResult, benchmark, best_of, result
from solvent.engine import (
    AdvanceTime,
    Command,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    PlaceOrder,
    PriceUpdate,
    SetLeverage,
    SetMarginMode,
)
from solvent.model import MarginMode, PositionSide, Side
from solvent.risk.venues import load_venue

SYMBOLS = (("BTCUSDT", Decimal(60000)), ("ETHUSDT", Decimal(3000)), ("SOLUSDT", Decimal(150)),
           ("XRPUSDT", Decimal("0.6")), ("BNBUSDT", Decimal(600)), ("DOGEUSDT", Decimal("0.15")),
           ("ADAUSDT", Decimal("0.45")), ("AVAXUSDT", Decimal(30)), ("LINKUSDT", Decimal(15)),
           ("LTCUSDT", Decimal(80)))


def _book(accounts: int) -> tuple[list[Command], Engine]:
    """Accounts with a position and a resting order on each of the 10 symbols."""
    engine = Engine(EngineConfig(load_venue("binance-usdm")))
    cmds: list[Command] = [AdvanceTime(0)]
    cmds += [PriceUpdate(sym, "bench", px) for sym, px in SYMBOLS]
    cmds.append(Deposit("maker", "USDT", Decimal(10) ** 11))
    for a in range(accounts):
        aid = f"acct{a:06d}"
        cmds.append(Deposit(aid, "USDT", Decimal(100_000)))
        for k, (sym, px) in enumerate(SYMBOLS):
            qty = Decimal(1000) / px
            qty = qty.quantize(Decimal("0.001")) if qty >= 1 else Decimal(1)
            side = Side.LONG if (a + k) % 2 == 0 else Side.SHORT
            buyer, seller = ("maker", aid) if side is Side.SHORT else (aid, "maker")
            cmds.append(Fill(f"t{a}-{k}", sym, px, qty, buyer, seller))
            cmds.append(PlaceOrder(aid, f"o{a}-{k}", sym, side, qty, px))
    return cmds, engine


MAKER_ORDERS = 5_000
MAKER_FEW = 10


def _maker_fills(orders: int, fills: int) -> tuple[Engine, list[Command]]:
    """A maker resting ``orders`` sells (prices 60,010 to 61,000), each of at least 0.002 BTC and
    large enough for its share of ``fills``, and the fills that take 0.001 BTC from them in
    turn: partial fills on both books (an order's last fill, if it comes, takes its rest)."""
    engine = Engine(EngineConfig(load_venue("binance-usdm")))
    each = max(2, -(-fills // orders))  # fills per order, rounded up; at least two, so fills are partial on both books
    setup: list[Command] = [AdvanceTime(0), PriceUpdate("BTCUSDT", "bench", Decimal(60000)),
                            Deposit("maker", "USDT", Decimal(10) ** 9), Deposit("taker", "USDT", Decimal(10) ** 8)]
    setup += [PlaceOrder("maker", f"m{k}", "BTCUSDT", Side.SHORT, Decimal("0.001") * each,
                         Decimal(60010 + 10 * (k % 100))) for k in range(orders)]
    for cmd in setup:
        if not engine.apply(cmd).accepted:
            raise RuntimeError(f"the maker book was refused at {cmd}")
    resting = engine.state.accounts["maker"].orders
    taken: list[Command] = [Fill(f"mf{k}", "BTCUSDT", resting[f"m{k % orders}"].price, Decimal("0.001"), "taker",
                                 "maker", sell_order_id=f"m{k % orders}") for k in range(fills)]
    return engine, taken


def _maker_fill_us(orders: int, fills: int) -> float:
    engine, taken = _maker_fills(orders, fills)
    start = time.perf_counter()
    for cmd in taken:
        if not engine.apply(cmd).accepted:
            raise RuntimeError(f"a maker fill was refused: {cmd}")
    return (time.perf_counter() - start) / len(taken) * 1e6


def _noop(cmd: object) -> None:
    return None


def _decimal_dozen(balance: Decimal, qty: Decimal, price: Decimal, leverage: Decimal, fee_rate: Decimal,
                   used: Decimal) -> bool:
    """Twelve Decimal operations: what a minimal linear pre-trade check computes."""
    notional = qty * price
    initial = notional / leverage
    fee = notional * fee_rate
    need = initial + fee
    free = balance - used
    after = free - need
    maint = notional * Decimal("0.004")
    buffer = after - maint
    worst = notional * Decimal("0.01")
    loss = worst - buffer
    ok = after >= 0
    return ok and loss <= balance


def _per_call_us(fn: object, args: list[object], repeat: int = 3) -> float:
    def loop() -> None:
        for arg in args:
            fn(arg)  # type: ignore[operator]
    return best_of(loop, repeat) / len(args) * 1e6


@benchmark("engine")
def engine_benchmarks(quick: bool) -> list[BenchResult]:
    accounts = 100 if quick else 1_000
    cmds, engine = _book(accounts)
    start = time.perf_counter()
    events = sum(len(engine.apply(cmd).events) for cmd in cmds)
    replay_s = time.perf_counter() - start
    noop_s = _per_call_us(_noop, list(cmds)) * len(cmds) / 1e6
    orders: list[object] = [PlaceOrder(f"acct{a % accounts:06d}", "probe", "BTCUSDT", Side.LONG, Decimal("0.01"),
                                       Decimal(60000)) for a in range(2_000 if quick else 20_000)]
    accepted = sum(engine.check(o).accepted for o in orders)  # type: ignore[arg-type]
    check_us = _per_call_us(engine.check, orders)
    dozen_args: list[object] = [(Decimal(100_000), Decimal("0.01"), Decimal(60000), Decimal(20), Decimal("0.0005"),
                                 Decimal(12_000))] * len(orders)
    dozen_us = _per_call_us(lambda a: _decimal_dozen(*a), dozen_args)
    what_ifs = orders[: 200 if quick else 1_000]
    what_if_us = _per_call_us(engine.what_if, what_ifs)  # best of three passes, as the check it is compared with
    per_cmd = len(cmds)
    fills = 200 if quick else 1_000
    many_us, few_us = _maker_fill_us(MAKER_ORDERS, fills), _maker_fill_us(MAKER_FEW, fills)
    return [*_tick(quick),
        result("engine.fill.maker", many_us, "µs/fill", "a dozen Decimal operations in one function", dozen_us,
               f"{MAKER_ORDERS:,} resting orders; {fills} fills, each 0.001 BTC of one order; "
               f"{few_us:.0f} µs/fill against a maker with {MAKER_FEW} orders ({many_us / few_us:.2f}×)"),
        result("engine.precheck", check_us, "µs/check", "a dozen Decimal operations in one function", dozen_us,
               f"{1e6 / check_us:,.0f} checks/s; {accepted} of {len(orders)} accepted; 10 positions + 10 orders "
               "per account"),
        result("engine.what_if", what_if_us, "µs/what-if", "one engine.precheck", check_us,
               f"max quantity included; {len(what_ifs)} calls"),
        result("engine.replay", replay_s / per_cmd * 1e6, "µs/command", "no-op apply over the stream",
               noop_s / per_cmd * 1e6,
               f"{per_cmd / replay_s:,.0f} commands/s; {per_cmd} commands, {events / per_cmd:.1f} events/command"),
    ]


LAYOUTS = ("cross", "isolated", "hedge", "hedge-isolated")
"""How ``engine.tick.*.mixed`` holders hold their long, a quarter each (``_tick_book``)."""


def _tick_book(holders: int, mixed: bool = False) -> tuple[Engine, int]:
    """``holders`` longs of 0.01 BTC at 60,000: 99 % with 5 % margin, 1 % with 0.95 %
    (margin ratio 0.42, which a 0.5 % fall takes to ~0.88: warning, then margin call).
    ``mixed``: the holders take the ``LAYOUTS`` in turn: one-way cross, one-way isolated (the
    fill locks the margin), and in hedge mode with a 0.001 BTC short beside the long (cross,
    or each leg isolated; the short locks its own IM first)."""
    engine = Engine(EngineConfig(load_venue("binance-usdm")))  # levels only: nothing liquidated
    qty, price, sym = Decimal("0.01"), Decimal(60000), "BTCUSDT"
    notional = qty * price
    hedge = Decimal("0.001")
    cmds: list[Command] = [AdvanceTime(0), PriceUpdate(sym, "bench", price),
                           Deposit("maker", "USDT", Decimal(10) ** 11)]
    thin = 0
    for a in range(holders):
        aid = f"h{a:06d}"
        tight = (a // len(LAYOUTS) if mixed else a) % 100 == 0  # 1 %, every layout alike
        thin += tight
        layout = LAYOUTS[a % len(LAYOUTS)] if mixed else "cross"
        margin = notional * (Decimal("0.0095") if tight else Decimal("0.05"))
        if layout == "hedge-isolated":
            margin += hedge * price / 20  # the short's IM at leverage 20
        cmds.append(Deposit(aid, "USDT", margin))
        if layout.endswith("isolated"):
            cmds += [SetLeverage(aid, sym, Decimal(20)), SetMarginMode(aid, sym, MarginMode.ISOLATED)]
        if layout.startswith("hedge"):
            cmds.append(Fill(f"s{a}", sym, price, hedge, "maker", aid, seller_position_side=PositionSide.SHORT))
            cmds.append(Fill(f"t{a}", sym, price, qty, aid, "maker", buyer_position_side=PositionSide.LONG))
        else:
            cmds.append(Fill(f"t{a}", sym, price, qty, aid, "maker"))
    for cmd in cmds:
        if not engine.apply(cmd).accepted:
            raise RuntimeError(f"the tick book was refused at {cmd}")
    return engine, thin


def _copy_all(targets: list[NDArray[np.generic]], sources: list[NDArray[np.generic]]) -> None:
    for target, source in zip(targets, sources, strict=True):
        np.copyto(target, source)


def _tick(quick: bool) -> list[BenchResult]:
    holders = 10_000 if quick else 100_000
    out = []
    for mixed in (False, True):
        engine, thin = _tick_book(holders, mixed)
        start = time.perf_counter()
        events = engine.apply(PriceUpdate("BTCUSDT", "bench", Decimal(59_700))).events  # −0.5 %
        tick_ms = (time.perf_counter() - start) * 1e3
        changed = sum(type(e).__name__ == "MarginLevelChanged" for e in events)
        screen = engine._screen
        flagged = 0 if screen is None else screen.flagged
        screen_bytes = 0 if screen is None else screen.nbytes()
        n = holders + 1
        sources: list[NDArray[np.generic]] = [np.ones(n, np.float64), np.ones(n, np.float64),
                                              np.ones(n, np.float64), np.zeros(n, np.int8)]
        targets = [np.empty_like(s) for s in sources]
        floor_ms = best_of(partial(_copy_all, targets, sources), 7) * 1e3
        label = ("engine.tick.10k" if quick else "engine.tick.100k") + (".mixed" if mixed else "")
        held = " (a quarter each one-way cross, one-way isolated, hedge mode cross, hedge mode isolated)" \
            if mixed else ""
        out.append(result(label, tick_ms, "ms", "one copy of the holders' qty, cost, collateral and level arrays",
                          floor_ms, f"{holders:,} holders{held}, {changed} level changes ({thin} set up to change), "
                          f"{flagged} decided exactly; screen arrays {screen_bytes / n:.0f} B per holder"))
    return out
