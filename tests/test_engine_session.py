"""A scripted session on the embedded defaults (binance-usdm): margin calls along the bundled
2025-10-10 BTCUSDT crash path, funding at an 8-hour boundary, and delivery of a dated future.

Every expected number is worked out by hand in the comments.
"""

from __future__ import annotations

from decimal import Decimal

from solvent import load_venue
from solvent.cli.demo import load_sample_path
from solvent.engine import (
    AdvanceTime,
    Command,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    PlaceOrder,
    PremiumSample,
    PriceUpdate,
)
from solvent.engine.events import (
    BalanceChanged,
    Event,
    FundingPaid,
    FundingSettled,
    MarginCall,
    MarginLevelChanged,
    Settled,
)
from solvent.model import Side
from solvent.units import solvent_context

D = Decimal
USDM = load_venue("binance-usdm")
BTC, ETH, FUT = "BTCUSDT", "ETHUSDT", "BTCUSDT_261225"
EXPIRY_MS = 1798185600000
EIGHT_HOURS_MS = 8 * 3600 * 1000


def apply(engine: Engine, cmd: Command) -> tuple[Event, ...]:
    result = engine.apply(cmd)
    assert result.accepted, f"{cmd}: {result.denial}"
    return result.events


# --------------------------------------------------------------------------- margin calls on the crash path
#
# carol deposits 2,100 USDT and holds, in cross margin,
#   long 0.1 BTC at 116,975.9 (the first close of the path)      MM = 0.004 x 0.1 x P = 0.0004 P
#   short 70 ETH at 4,000, ETH marked at 4,000 all along          MM = 0.004 x 280,000 = 1,120
# (both notionals are below 300,000, tier 1, MMR 0.4 %; the ETH PnL stays 0.)
#   equity(P) = 2,100 + 0.1 (P − 116,975.9) = K + 0.1 P      with K = 2,100 − 11,697.59 = −9,597.59
#   MM(P)     = 0.0004 P + 1,120
# ratio r = MM / equity falls as P rises; it equals r at P = (1,120 − r K) / (0.1 r − 0.0004):
#   r = 0.70  warning       P_w  = (1,120 + 6,718.313)  / 0.0696 = 112,619.44
#   r = 0.80  margin call   P_m  = (1,120 + 7,678.072)  / 0.0796 = 110,528.54
#   r = 0.75  leave m. call P_mh = (1,120 + 7,198.1925) / 0.0746 = 111,503.92
#   r = 0.65  leave warning P_wh = (1,120 + 6,238.4335) / 0.0646 = 113,907.64
#   liquidation equity ≤ MM:  K + 0.1 P ≤ 0.0004 P + 1,120  ⇔  P ≤ 10,717.59 / 0.0996 = 107,606.33
# Walking the closes against these prices (minute index into the path):
#   28  111,903.8  first close ≤ P_w (27 was 112,891)                 healthy → warning
#   31  108,905.4  first close ≤ P_m (30 was 110,997.8)               warning → margin_call (+ MarginCall)
#   34  103,441.3  first close ≤ P_l (32 was 107,676.7, 33 108,889.6) margin_call → liquidation
#   38  107,747.3  > P_l (35-37 stayed below), ratio ≥ 0.75           liquidation → margin_call
#   40  107,111.6  ≤ P_l                                              margin_call → liquidation
#   42  108,900.0  > P_l                                              liquidation → margin_call
#   48  110,974.0, 49  111,342.5: above P_m (ratio < 0.8) but below P_mh (ratio ≥ 0.75):
#       hysteresis keeps margin_call, no event
#   50  111,740.4  > P_mh: ratio < 0.75, still ≥ 0.7                  margin_call → warning
#   61  113,247.7  > P_w (ratio < 0.7) but below P_wh: stays warning
#   123 113,939.0  first close > P_wh (ratio < 0.65)                  warning → healthy
EXPECTED_CAROL = [
    (28, "healthy", "warning"),
    (31, "warning", "margin_call"),
    (34, "margin_call", "liquidation"),
    (38, "liquidation", "margin_call"),
    (40, "margin_call", "liquidation"),
    (42, "liquidation", "margin_call"),
    (50, "margin_call", "warning"),
    (123, "warning", "healthy"),
]


def test_the_crash_path_raises_the_hand_computed_margin_calls() -> None:
    path = load_sample_path()
    assert len(path) == 129 and path[0].close == D("116975.90")
    t0 = 1760129100000  # 2025-10-10T20:45:00Z, open time of the first minute
    engine = Engine(EngineConfig(USDM))
    for cmd in [
        AdvanceTime(t0),
        Deposit("carol", "USDT", D(2100)),
        Deposit("dave", "USDT", D(1_000_000)),
        Deposit("erin", "USDT", D(1_000_000)),
        PriceUpdate(BTC, "binance", path[0].close),
        PriceUpdate(ETH, "binance", D(4000)),
        Fill("btc-1", BTC, path[0].close, D("0.1"), "carol", "dave"),
        Fill("eth-1", ETH, D(4000), D(70), "erin", "carol"),
    ]:
        apply(engine, cmd)
    m = engine.margin("carol")
    # MM = 0.0004 x 116,975.9 + 1,120 = 1,166.79036; equity 2,100 → ratio 0.5556, healthy
    assert (m.equity, m.maintenance_margin) == (D(2100), D("1166.79036"))
    assert engine.state.accounts["carol"].level == "healthy"

    seen: list[tuple[int, str, str]] = []
    calls: list[int] = []
    for minute, point in enumerate(path[1:], start=1):
        events = [
            *apply(engine, AdvanceTime(t0 + 60_000 * minute)),  # the 60 s old quotes are still fresh
            *apply(engine, PriceUpdate(BTC, "binance", point.close)),
            *apply(engine, PriceUpdate(ETH, "binance", D(4000))),
        ]
        for event in events:
            if isinstance(event, MarginLevelChanged) and event.account_id == "carol":
                seen.append((minute, event.previous, event.level))
            if isinstance(event, MarginCall) and event.account_id == "carol":
                calls.append(minute)
            if isinstance(event, (MarginLevelChanged, MarginCall)):
                assert event.account_id == "carol", event  # dave and erin stay healthy
    assert seen == EXPECTED_CAROL
    assert calls == [31]  # re-entering margin_call from liquidation is not a new call


def test_the_margin_call_event_carries_the_hand_computed_numbers() -> None:
    # Same book; jump straight to minute 31 (108,905.4): the guard allows it (−6.9 % < 10 %).
    #   equity = −9,597.59 + 10,890.54 = 1,292.95
    #   MM = 0.0004 x 108,905.4 + 1,120 = 1,163.56216; ratio = 1,163.56216 / 1,292.95
    engine = Engine(EngineConfig(USDM))
    for cmd in [
        AdvanceTime(1000),
        Deposit("carol", "USDT", D(2100)), Deposit("dave", "USDT", D(10**6)), Deposit("erin", "USDT", D(10**6)),
        PriceUpdate(BTC, "binance", D("116975.9")), PriceUpdate(ETH, "binance", D(4000)),
        Fill("b", BTC, D("116975.9"), D("0.1"), "carol", "dave"), Fill("e", ETH, D(4000), D(70), "erin", "carol"),
    ]:
        apply(engine, cmd)
    events = apply(engine, PriceUpdate(BTC, "binance", D("108905.4")))
    equity, mm = D("1292.95"), D("1163.56216")
    ratio = solvent_context().divide(mm, equity)  # MM / equity at solvent's 40 significant digits
    assert MarginLevelChanged("carol", "healthy", "margin_call", equity, mm, ratio) in events
    assert MarginCall("carol", equity, mm, ratio) in events


# --------------------------------------------------------------------------- funding


def funded_book(quantum: str = "0.00000001") -> Engine:
    """Mark 50,000 at t = 1 s; a long 0.007 BTC, b short 0.003, c short 0.004 (at 50,000)."""
    engine = Engine(EngineConfig(USDM, money_quantum=D(quantum)))
    for cmd in [
        AdvanceTime(1000),  # the funding clock starts here: next boundary at 8 h = 28,800,000 ms
        *(Deposit(a, "USDT", D(10000)) for a in "abc"),
        PriceUpdate(BTC, "binance", D(50000)),
        Fill("t1", BTC, D(50000), D("0.003"), "a", "b"),
        Fill("t2", BTC, D(50000), D("0.004"), "a", "c"),
    ]:
        apply(engine, cmd)
    return engine


def test_funding_at_the_8h_boundary_is_minus_qty_times_mark_times_rate() -> None:
    # premium samples against index 50,000:
    #   bid 50,030 ask 50,040 → P1 = 30 / 50,000 = 0.0006
    #   bid 50,045 ask 50,050 → P2 = 45 / 50,000 = 0.0009
    # time-weighted P̄ = (1 x 0.0006 + 2 x 0.0009) / 3 = 0.0008
    # F = P̄ + clamp(0.0001 − P̄, ±0.0005) = 0.0008 − 0.0005 = 0.0003
    # mark before the boundary = index + simple mean basis = 50,000 + 0.00075 x 50,000 = 50,037.5
    # mark x rate = 15.01125 per BTC; money quantum 0.01, each change rounded toward −∞:
    #   a: −0.007 x 15.01125 = −0.10507875 → −0.11
    #   b: +0.003 x 15.01125 = +0.04503375 → +0.04
    #   c: +0.004 x 15.01125 = +0.060045   → +0.06
    #   residue = −(−0.11 + 0.04 + 0.06) = 0.01 → insurance fund
    engine = funded_book("0.01")
    apply(engine, PremiumSample(BTC, D(50030), D(50040)))
    apply(engine, PremiumSample(BTC, D(50045), D(50050)))
    apply(engine, AdvanceTime(EIGHT_HOURS_MS - 10_000))
    apply(engine, PriceUpdate(BTC, "binance", D(50000)))
    assert engine.state.markets[BTC].mark == D("50037.5")
    events = apply(engine, AdvanceTime(EIGHT_HOURS_MS))
    rate = D("0.0003")
    paid = {e.account_id: e.amount for e in events if isinstance(e, FundingPaid)}
    assert paid == {"a": D("-0.11"), "b": D("0.04"), "c": D("0.06")}
    assert all(e.rate == rate for e in events if isinstance(e, FundingPaid))
    assert FundingSettled(BTC, rate, D("50037.5"), D("0.01")) in events
    assert sum(paid.values()) + D("0.01") == 0
    assert engine.state.insurance_fund == D("0.01")
    assert engine.state.accounts["a"].balances["USDT"] == D("9999.89")
    held, net = engine.conservation()["USDT"]
    assert held == net == D(30000)
    # the samples are used up: the next boundary pays nothing
    apply(engine, AdvanceTime(EIGHT_HOURS_MS - 10_000 + EIGHT_HOURS_MS))
    apply(engine, PriceUpdate(BTC, "binance", D(50000)))
    assert engine.state.markets[BTC].mark == D(50000)
    assert not any(isinstance(e, FundingPaid) for e in apply(engine, AdvanceTime(2 * EIGHT_HOURS_MS)))


def test_funding_rates_follow_the_binance_clamp() -> None:
    # one sample each, index 50,000, mark frozen at 50,000 for the table below
    cases = [
        # bid 50,100 ask 50,110: P = 0.002 → F = 0.002 − 0.0005 = 0.0015; a pays 0.007 x 50,000 x 0.0015
        (D(50100), D(50110), D("0.0015")),
        # bid 49,980 ask 49,985: P = −15 / 50,000 = −0.0003 → F = −0.0003 + 0.0004 = 0.0001
        (D(49980), D(49985), D("0.0001")),
        # bid 49,900 ask 49,950: P = −0.001 → F = −0.001 + 0.0005 = −0.0005 (shorts pay longs)
        (D(49900), D(49950), D("-0.0005")),
    ]
    for bid, ask, rate in cases:
        engine = funded_book()
        apply(engine, PremiumSample(BTC, bid, ask))
        events = apply(engine, AdvanceTime(EIGHT_HOURS_MS))  # the quote went stale: mark frozen at 50,000
        paid = {e.account_id: e.amount for e in events if isinstance(e, FundingPaid)}
        assert paid["a"] == -D("0.007") * 50000 * rate
        assert paid["b"] == D("0.003") * 50000 * rate
        assert FundingSettled(BTC, rate, D(50000), D(0)) in events


# --------------------------------------------------------------------------- delivery of a dated future


def test_a_dated_future_settles_at_the_30_minute_twap_of_its_index() -> None:
    # index samples of BTCUSDT_261225 (expiry E = 1,798,185,600,000):
    #   E − 60 min 50,000   (in force from the window start E − 30 min until E − 25 min: 300,000 ms)
    #   E − 25 min 50,600   (until E − 5 min: 1,200,000 ms)
    #   E −  5 min 50,300   (until E: 300,000 ms)
    # TWAP = (50,000 x 300,000 + 50,600 x 1,200,000 + 50,300 x 300,000) / 1,800,000
    #      = (15,000,000,000 + 60,720,000,000 + 15,090,000,000) / 1,800,000 = 50,450
    # (the plain mean of the samples would be 50,300, the last one 50,300)
    # x long 1.5 at 50,000 receives 1.5 x 450 = 675; y short pays 675.
    e = EXPIRY_MS
    engine = Engine(EngineConfig(USDM))
    for cmd in [
        AdvanceTime(e - 3_600_000),
        Deposit("x", "USDT", D(20000)),
        Deposit("y", "USDT", D(20000)),
        PriceUpdate(FUT, "binance", D(50000)),
        Fill("f1", FUT, D(50000), D("1.5"), "x", "y"),
        PlaceOrder("x", "late", FUT, Side.LONG, D("0.1"), D(49000)),
        AdvanceTime(e - 1_500_000),
        PriceUpdate(FUT, "binance", D(50600)),
        AdvanceTime(e - 300_000),
        PriceUpdate(FUT, "binance", D(50300)),
    ]:
        apply(engine, cmd)
    events = apply(engine, AdvanceTime(e))
    assert Settled(FUT, D(50450), 2) in events
    assert BalanceChanged("x", "USDT", D(675), D(20675), f"settlement {FUT}") in events
    assert BalanceChanged("y", "USDT", D(-675), D(19325), f"settlement {FUT}") in events
    assert engine.state.accounts["x"].orders == {}
    assert engine.conservation()["USDT"] == (D(40000), D(40000))
    # settled once: later time steps do not settle again
    assert not any(isinstance(ev, Settled) for ev in apply(engine, AdvanceTime(e + 60_000)))
