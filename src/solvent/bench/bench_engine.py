"""Engine benchmarks: pre-trade checks per second and replay throughput.

* ``engine.precheck``: ``Engine.check(PlaceOrder)`` through the public API, on accounts
  holding 4 positions and 4 open orders; baseline: a bare Python call of the same arity.
* ``engine.replay``: a recorded stream (deposits, orders, fills, price updates, time) applied
  to a fresh engine; events per second; baseline: the same loop calling a no-op.
"""

from __future__ import annotations

import time
from decimal import Decimal

from solvent.bench import BenchResult, benchmark, result
from solvent.engine import (
    AdvanceTime,
    Command,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    PlaceOrder,
    PriceUpdate,
)
from solvent.model import Side
from solvent.risk.venues import load_venue

SYMBOLS = (("BTCUSDT", Decimal(60000)), ("ETHUSDT", Decimal(3000)), ("SOLUSDT", Decimal(150)),
           ("XRPUSDT", Decimal("0.6")))


def _book(accounts: int) -> tuple[list[Command], Engine]:
    engine = Engine(EngineConfig(load_venue("binance-usdm")))
    cmds: list[Command] = [AdvanceTime(0)]
    cmds += [PriceUpdate(sym, "bench", px) for sym, px in SYMBOLS]
    cmds.append(Deposit("maker", "USDT", Decimal(10) ** 12))
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


def _bare(cmd: object) -> None:
    return None


@benchmark("engine")
def engine_benchmarks(quick: bool) -> list[BenchResult]:
    accounts = 200 if quick else 2_000
    cmds, engine = _book(accounts)
    start = time.perf_counter()
    events = sum(len(engine.apply(cmd).events) for cmd in cmds)
    replay_s = time.perf_counter() - start
    start = time.perf_counter()
    for cmd in cmds:
        _bare(cmd)
    noop_s = time.perf_counter() - start
    orders = [PlaceOrder(f"acct{a % accounts:06d}", "probe", "BTCUSDT", Side.LONG, Decimal("0.01"), Decimal(60000))
              for a in range(5_000 if quick else 50_000)]
    start = time.perf_counter()
    accepted = sum(engine.check(o).accepted for o in orders)
    check_s = time.perf_counter() - start
    start = time.perf_counter()
    for o in orders:
        _bare(o)
    bare_s = time.perf_counter() - start
    per_check_us = check_s / len(orders) * 1e6
    return [
        result("engine.precheck", per_check_us, "µs/check", "bare Python call", bare_s / len(orders) * 1e6,
               f"{len(orders) / check_s:,.0f} checks/s; {accepted} accepted; 4 positions + 4 orders per account"),
        result("engine.replay", replay_s / events * 1e6, "µs/event", "no-op loop over the stream",
               noop_s / events * 1e6, f"{events / replay_s:,.0f} events/s; {len(cmds)} commands, {events} events"),
    ]
