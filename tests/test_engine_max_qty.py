"""``Engine.max_order_qty`` / ``what_if``: the computed largest quantity against independent searches.

The expected answers come from searches written here that call only ``Engine.check``: a
linear scan over every lot count up to a limit (the exact largest accepted quantity, with
the whole accepted set, so the test also sees whether that set is a down-set), extended by
doubling and bisection above the limit. Where the accepted set is not a down-set (a tier
table whose leverage rises with notional) the old bisection stopped early; the engine now
returns the largest accepted quantity, and the cases below state both numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import ROUND_FLOOR, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import D

from solvent.engine import (
    AddIsolatedMargin,
    AdvanceTime,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    PlaceOrder,
    PriceUpdate,
    SetLeverage,
    SetMarginMode,
)
from solvent.engine.max_qty import PROBE_ORDER_ID, SizeRequest, confirm_units, largest_below, search_units
from solvent.errors import InvalidInput
from solvent.model import MarginMode, PositionSide, Side
from solvent.risk.rules import TieredRules
from solvent.risk.tiers import TierTable
from solvent.risk.venues import VenueProfile, load_venue

SCAN_LIMIT = 400
MAKER = "maker"
ACCOUNT = "acct"

# (venue, symbol, starting mark, lot step the test sizes by: None = the instrument's own lot)
CASES = (
    ("bybit-linear", "BTCUSDT", D(60000), None),
    ("binance-usdm", "BTCUSDT", D(60000), None),
    ("hyperliquid", "SOL", D(150), None),
    ("dydx-v4", "ETH-USD", D(3000), None),
    ("dydx-v4", "BTC-USD", D(60000), D("0.001")),
    ("drift", "SOL-PERP", D(150), D("0.01")),
    ("hyperliquid", "BTC", D(60000), D("0.001")),
)


def _old_bisection(ok: Callable[[int], bool]) -> int:
    """What ``max_order_qty`` did before: doubling, then bisection (assumes a down-set)."""
    lo, hi = 0, 1
    while ok(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def _largest_accepted(ok: Callable[[int], bool]) -> tuple[int, bool]:
    """(largest accepted lot count, whether the accepted set is ``1..n``), by linear scan up to
    ``SCAN_LIMIT``; above it (every count accepted so far) by doubling and bisection."""
    accepted = [n for n in range(1, SCAN_LIMIT + 1) if ok(n)]
    if not accepted:
        return 0, True
    down_set = accepted == list(range(1, len(accepted) + 1))
    if accepted[-1] < SCAN_LIMIT:
        return accepted[-1], down_set
    lo, hi = SCAN_LIMIT, SCAN_LIMIT * 2
    while ok(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo, down_set


def _probe(engine: Engine, order: PlaceOrder, step: Decimal) -> Callable[[int], bool]:
    def ok(n: int) -> bool:
        probe = dataclasses.replace(order, order_id="independent-probe", qty=step * n)
        return engine.check(probe).accepted
    return ok


def _on_tick(price: Decimal, tick: Decimal | None) -> Decimal:
    grid = tick or D("0.01")
    return (price / grid).to_integral_value(rounding=ROUND_FLOOR) * grid


def _with_tiers(profile: VenueProfile, symbol: str, unit_notional: Decimal, leverages: list[int]) -> VenueProfile:
    """The profile with ``symbol`` on a small tier table (caps at 40, 120, 250 lots' notional)
    whose maximum leverages are ``leverages`` in order (rising ones included)."""
    caps = [unit_notional * k for k in (40, 120, 250, 100_000)]
    floors = [D(0), *caps[:-1]]
    rates = [D("0.004"), D("0.005"), D("0.008"), D("0.01")]
    brackets = [{"notional_floor": f, "notional_cap": c, "maint_margin_ratio": r, "initial_leverage": D(lev)}
                for f, c, r, lev in zip(floors, caps, rates, leverages, strict=True)]
    table = TierTable.from_brackets(f"test/{symbol}", brackets, recompute=True)
    return dataclasses.replace(profile, rules={**profile.rules, symbol: TieredRules(table)})


@st.composite
def books(draw: st.DrawFn) -> tuple[Engine, PlaceOrder, Decimal, bool]:
    venue, symbol, mark, step_override = draw(st.sampled_from(CASES))
    profile = load_venue(venue)
    inst = profile.instrument(symbol)
    step = step_override or inst.lot
    unit = mark * step * inst.contract_size
    if draw(st.booleans()):
        profile = _with_tiers(profile, symbol, unit, draw(st.lists(st.sampled_from([5, 10, 20, 25, 50]),
                                                                      min_size=4, max_size=4)))
    config = EngineConfig(
        profile,
        taker_fee_rate=draw(st.sampled_from([D(0), D("0.0005"), D("0.001")])),
        max_position_notional=draw(st.sampled_from([None, unit * 60, unit * 150])),
        max_open_interest=draw(st.sampled_from([{}, {symbol: step * 90}, {symbol: step * 300}])),
    )
    engine = Engine(config)
    hedge = draw(st.booleans())
    cmds: list[object] = [AdvanceTime(0), PriceUpdate(symbol, "ix", mark), Deposit(MAKER, "USDT", D(10) ** 11)]
    cmds.append(Deposit(ACCOUNT, "USDT", unit * draw(st.integers(0, 300)) / 20))
    cmds.append(SetLeverage(ACCOUNT, symbol, D(draw(st.sampled_from([1, 3, 10, 20, 25, 50])))))
    if draw(st.booleans()):
        cmds.append(SetMarginMode(ACCOUNT, symbol, MarginMode.ISOLATED))
    for k, held in enumerate(draw(st.lists(st.integers(-150, 150), max_size=2 if hedge else 1))):
        if held == 0:
            continue
        slot = (PositionSide.LONG if held > 0 else PositionSide.SHORT) if hedge else PositionSide.BOTH
        buyer, seller = (ACCOUNT, MAKER) if held > 0 else (MAKER, ACCOUNT)
        sides = {"buyer_position_side": slot} if held > 0 else {"seller_position_side": slot}
        cmds.append(Fill(f"t{k}", symbol, mark, step * abs(held), buyer, seller, **sides))  # type: ignore[arg-type]
        cmds.append(AddIsolatedMargin(ACCOUNT, symbol, unit * abs(held) / 10, slot))
    for k, (side, units, offset) in enumerate(draw(st.lists(
            st.tuples(st.sampled_from(Side), st.integers(1, 100), st.sampled_from(["-0.02", "0", "0.02"])),
            max_size=2))):
        slot = PositionSide.BOTH if not hedge else draw(st.sampled_from([PositionSide.LONG, PositionSide.SHORT]))
        cmds.append(PlaceOrder(ACCOUNT, f"o{k}", symbol, side, step * units,
                               _on_tick(mark * (1 + D(offset)), inst.tick_size), position_side=slot))
    moved = _on_tick(mark * (1 + D(draw(st.sampled_from(["-0.06", "-0.03", "0", "0.03", "0.06"])))), inst.tick_size)
    cmds.append(PriceUpdate(symbol, "ix", moved))
    for cmd in cmds:
        engine.apply(cmd)  # type: ignore[arg-type]  # a refused set-up command is part of the draw
    slot = draw(st.sampled_from([PositionSide.LONG, PositionSide.SHORT])) if hedge else PositionSide.BOTH
    offset = D(draw(st.sampled_from(["-0.03", "-0.005", "0", "0.005", "0.03"])))
    order = PlaceOrder(ACCOUNT, "asked", symbol, draw(st.sampled_from(Side)), step,
                       _on_tick(moved * (1 + offset), inst.tick_size), draw(st.booleans()), slot)
    return engine, order, step, step_override is None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books())
def test_max_order_qty_is_the_largest_quantity_the_check_accepts(
        book: tuple[Engine, PlaceOrder, Decimal, bool]) -> None:
    engine, order, step, own_lot = book
    before = engine.state_hash()
    sized = dataclasses.replace(order, reduce_only=False)
    expected, down_set = _largest_accepted(_probe(engine, sized, step))
    answer = engine.max_order_qty(order.account_id, order.symbol, order.side, order.price, order.position_side,
                                  lot=None if own_lot else step)
    assert answer == step * expected
    if down_set:  # the old search's answer, where its monotonicity assumption holds
        assert expected == _old_bisection(_probe(engine, sized, step))
    assert engine.state_hash() == before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books())
def test_what_if_answers_the_check_and_the_largest_quantity_of_that_order(
        book: tuple[Engine, PlaceOrder, Decimal, bool]) -> None:
    engine, order, step, own_lot = book
    if not own_lot:
        order = dataclasses.replace(order, qty=engine.config.profile.instrument(order.symbol).lot)
        step = order.qty
    before = engine.state_hash()
    check = engine.check(order)
    answer = engine.what_if(order)
    assert answer.result == check
    size_codes = {"INSUFFICIENT_INITIAL_MARGIN", "LEVERAGE_EXCEEDS_TIER", "POSITION_LIMIT", "OPEN_INTEREST_LIMIT",
                  "RISK_INCREASING_WHILE_UNDER_MARGIN", "REDUCE_ONLY_WOULD_INCREASE", "INVALID_QUANTITY",
                  "QTY_OUT_OF_RANGE"}
    if check.denial is not None and check.denial.code.value not in size_codes:
        assert answer.max_qty == 0
    elif own_lot:  # a reduce-only order is sized as reduce-only
        assert answer.max_qty == step * _largest_accepted(_probe(engine, order, step))[0]
    assert engine.state_hash() == before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books(), st.sampled_from(["as drawn", "probe id taken", "off the tick", "unknown account", "no mark"]))
def test_the_size_probe_answers_what_the_check_answers_at_every_quantity(
        book: tuple[Engine, PlaceOrder, Decimal, bool], twist: str) -> None:
    """What-if sizing checks the quantity-free part of an order once and the rest per probe;
    its yes/no must be ``Engine.check``'s at every lot count, refusals before the size included."""
    engine, order, step, _ = book
    inst = engine.config.profile.instrument(order.symbol)
    if twist == "probe id taken":
        engine.apply(dataclasses.replace(order, order_id=PROBE_ORDER_ID, qty=step, reduce_only=False))
    elif twist == "off the tick" and inst.tick_size:
        order = dataclasses.replace(order, price=order.price + inst.tick_size / 2)
    elif twist == "unknown account":
        order = dataclasses.replace(order, account_id="nobody")
    elif twist == "no mark":
        order = dataclasses.replace(order, symbol="ETHUSDT" if order.symbol == "BTCUSDT" else "BTCUSDT")
    request = SizeRequest(order.account_id, order.symbol, order.side, order.price, order.position_side, step,
                          order.reduce_only)
    sizing = engine._size_probe(request)
    for n in [*range(-1, 60), *range(60, SCAN_LIMIT, 17), 10**6, 10**12, 2**60]:
        # a probe sizes a new order: checked under an id the account does not hold
        checked = engine.check(dataclasses.replace(order, order_id="independent-probe", qty=step * n))
        assert sizing(n) == checked.accepted, (n, checked.denial)


# --- worked examples -------------------------------------------------------------------------

BTC = "BTCUSDT"


def _bybit(*cmds: object, profile: VenueProfile | None = None) -> Engine:
    engine = Engine(EngineConfig(profile or load_venue("bybit-linear")))  # leverage 20, taker fee 0.05 %
    for cmd in (AdvanceTime(0), PriceUpdate(BTC, "ix", D(60000)), Deposit(MAKER, "USDT", D(10) ** 11), *cmds):
        assert engine.apply(cmd).accepted, cmd  # type: ignore[arg-type]
    return engine


def test_a_sell_that_closes_a_long_and_opens_a_short_is_sized_across_the_flip() -> None:
    # long 1 BTC at 60,000 (mark 60,000), 5,000 USDT: position IM 60,000 / 20 = 3,000, available 2,000.
    # Selling q ≤ 2 leaves the worst case at 1 BTC: only the fee reserve 30·q counts.
    # Above 2 the worst case is a short of q − 1: order margin (q − 2)·3,000 + 30·q ≤ 2,000
    # → q ≤ 8,000 / 3,030 = 2.6402… → 2.640 (2.641 needs 2,002.23).
    engine = _bybit(Deposit(ACCOUNT, "USDT", D(5000)), Fill("t", BTC, D(60000), D(1), ACCOUNT, MAKER))
    assert engine.max_order_qty(ACCOUNT, BTC, Side.SHORT, D(60000)) == D("2.640")
    assert engine.check(PlaceOrder(ACCOUNT, "a", BTC, Side.SHORT, D("2.640"), D(60000))).accepted
    assert not engine.check(PlaceOrder(ACCOUNT, "b", BTC, Side.SHORT, D("2.641"), D(60000))).accepted


def test_a_reduce_only_what_if_is_sized_up_to_the_position_it_closes() -> None:
    # Same account: a reduce-only sell can close at most the 1 BTC held. The old search
    # sized a plain sell instead (2.640, which a reduce-only order of that size is refused).
    engine = _bybit(Deposit(ACCOUNT, "USDT", D(5000)), Fill("t", BTC, D(60000), D(1), ACCOUNT, MAKER))
    answer = engine.what_if(PlaceOrder(ACCOUNT, "c", BTC, Side.SHORT, D("0.5"), D(60000), reduce_only=True))
    assert answer.result.accepted
    assert answer.max_qty == D(1)


def test_an_account_under_its_margin_may_close_its_whole_position() -> None:
    # long 1 BTC from 60,000, 3,100 USDT; mark 59,000: equity 2,100 < IM 2,950. A sell at the
    # mark lowers MM and keeps equity, so every size up to the position passes; beyond it the
    # order opens a short, which needs initial margin the account lacks.
    engine = _bybit(Deposit(ACCOUNT, "USDT", D(3100)), Fill("t", BTC, D(60000), D(1), ACCOUNT, MAKER),
                    PriceUpdate(BTC, "ix", D(59000)))
    assert engine.margin(ACCOUNT).available < 0
    assert engine.max_order_qty(ACCOUNT, BTC, Side.SHORT, D(59000)) == D(1)
    assert engine.max_order_qty(ACCOUNT, BTC, Side.LONG, D(59000)) == 0


def _rising_tiers(leverages: list[int]) -> VenueProfile:
    """bybit-linear with BTCUSDT on tiers 0–10k / 10k–50k / 50k–100k / 100k+ (notional)."""
    floors, caps = [0, 10_000, 50_000, 100_000], [10_000, 50_000, 100_000, 10**9]
    rates = ["0.005", "0.005", "0.01", "0.01"]
    brackets = [{"notional_floor": D(f), "notional_cap": D(c), "maint_margin_ratio": D(r), "initial_leverage": D(v)}
                for f, c, r, v in zip(floors, caps, rates, leverages, strict=True)]
    profile = load_venue("bybit-linear")
    table = TierTable.from_brackets("test/rising", brackets, recompute=True)
    return dataclasses.replace(profile, rules={**profile.rules, BTC: TieredRules(table)})


def test_where_small_orders_are_refused_the_largest_accepted_size_is_found_above_them() -> None:
    # 50x is allowed only from 10,000 to 50,000 notional. 615 USDT at 50x: per BTC
    # 60,000 / 50 + 30 fee = 1,230 → 0.5 BTC (30,000 notional, inside 10k–50k). Every order below
    # 10,000 notional (0.166 BTC) is refused, so the old search answered 0. (50x is set while
    # holding 0.2 BTC, inside the 50x tier; the position is then closed.)
    engine = _bybit(Deposit(ACCOUNT, "USDT", D(615)), Fill("t1", BTC, D(60000), D("0.2"), ACCOUNT, MAKER),
                    SetLeverage(ACCOUNT, BTC, D(50)), Fill("t2", BTC, D(60000), D("0.2"), MAKER, ACCOUNT),
                    profile=_rising_tiers([20, 50, 20, 10]))
    assert engine.state.accounts[ACCOUNT].positions.get((BTC, PositionSide.BOTH)) is None or (
        engine.state.accounts[ACCOUNT].positions[(BTC, PositionSide.BOTH)].qty == 0)
    ok = _probe(engine, PlaceOrder(ACCOUNT, "p", BTC, Side.LONG, D("0.001"), D(60000)), D("0.001"))
    assert _old_bisection(ok) == 0
    assert engine.max_order_qty(ACCOUNT, BTC, Side.LONG, D(60000)) == D("0.5")
    answer = engine.what_if(PlaceOrder(ACCOUNT, "q", BTC, Side.LONG, D("0.01"), D(60000)))
    assert answer.result.denial is not None and answer.result.denial.code.value == "LEVERAGE_EXCEEDS_TIER"
    assert answer.max_qty == D("0.5")


def test_past_a_tier_that_refuses_the_leverage_a_higher_tier_allows_it_again() -> None:
    # 50x allowed below 10,000 and from 50,000 to 100,000 notional; 1,000,000 USDT of margin.
    # Largest: 100,000 / 60,000 = 1.6666… → 1.666 BTC. The old search doubled to 0.128,
    # refused 0.256 (15,360: 20x tier) and bisected to 0.166 (9,960).
    engine = _bybit(Deposit(ACCOUNT, "USDT", D(1_000_000)), SetLeverage(ACCOUNT, BTC, D(50)),
                    profile=_rising_tiers([50, 20, 50, 10]))
    ok = _probe(engine, PlaceOrder(ACCOUNT, "p", BTC, Side.LONG, D("0.001"), D(60000)), D("0.001"))
    assert _old_bisection(ok) == 166
    assert engine.max_order_qty(ACCOUNT, BTC, Side.LONG, D(60000)) == D("1.666")


# --- the search helpers ----------------------------------------------------------------------

@pytest.mark.parametrize(("accepted_up_to", "guess"), [(0, 0), (0, 5), (7, 7), (7, 0), (7, 3), (7, 40), (1000, 2)])
def test_confirmation_finds_the_boundary_from_any_guess(accepted_up_to: int, guess: int) -> None:
    calls: list[int] = []

    def ok(n: int) -> bool:
        calls.append(n)
        return n <= accepted_up_to

    assert confirm_units(ok, guess) == accepted_up_to
    if guess == accepted_up_to and guess:
        assert calls == [guess, guess + 1]  # a right guess costs exactly two checks
    assert search_units(ok) == accepted_up_to


def test_largest_below_solves_a_maximum_of_lines() -> None:
    # max(1 + 2q, 5 − q, 3) ≤ 9 → 5 − q ≤ 9 always, 1 + 2q ≤ 9 → q ≤ 4
    assert largest_below([(D(1), D(2)), (D(5), D(-1)), (D(3), D(0))], D(9)) == 4
    assert largest_below([(D(10), D(0))], D(9)) is None
    assert largest_below([(D(1), D(0))], D(9)) == Decimal("Infinity")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books())
def test_an_order_of_the_probe_id_resting_on_the_account_does_not_refuse_the_size(
        book: tuple[Engine, PlaceOrder, Decimal, bool]) -> None:
    """Found by a review: with an order of id ``__what_if__`` (the probes' id) resting, every
    probe was refused as a duplicate and what-if answered 0. What-if sizes the order it is given
    (its own id) and ``max_order_qty`` a new order: both as a scan of ``Engine.check`` with an id
    the account does not hold says."""
    engine, order, step, own_lot = book
    parked = PlaceOrder(ACCOUNT, PROBE_ORDER_ID, order.symbol, order.side, step, order.price,
                        position_side=order.position_side)
    if not engine.apply(parked).accepted:
        return  # the account could not rest it: nothing to test on this draw
    order = dataclasses.replace(order, qty=step, reduce_only=False)
    expected = step * _largest_accepted(_probe(engine, order, step))[0]
    assert engine.max_order_qty(order.account_id, order.symbol, order.side, order.price, order.position_side,
                                lot=None if own_lot else step) == expected
    if own_lot:  # a refusal what-if does not size is one of every quantity: the scan finds 0 too
        answer = engine.what_if(order)
        assert answer.result == engine.check(order)
        assert answer.max_qty == expected


def test_a_lot_below_the_step_of_an_instrument_without_a_lot_size_is_refused() -> None:
    """Found by review: on an instrument with no published lot size (Drift's BTC-PERP) the step
    is the default lot 10⁻⁸; a smaller lot passed and sized to 0 (its first multiple is below
    one lot, which the check refuses)."""
    profile = load_venue("drift")
    inst = profile.instrument("BTC-PERP")
    assert inst.lot_size is None and inst.lot == D("1E-8")
    engine = Engine(EngineConfig(profile))
    with pytest.raises(InvalidInput, match="not a multiple of the instrument's lot 1E-8"):
        engine.max_order_qty("bob", "BTC-PERP", Side.LONG, D(60000), lot=D("1E-12"))


def test_what_if_of_an_order_named_like_the_probes_while_that_id_rests_sizes_nothing() -> None:
    """Found by review: ``__what_if__`` was both "a new order" and an id: an order of that id,
    refused for its quantity while an order of the same id rests, sized as a new one (3.1)
    though the check refuses it at every quantity as a duplicate."""
    engine = _bybit(Deposit("bob", "USDT", D(10_000)))
    assert engine.apply(PlaceOrder("bob", PROBE_ORDER_ID, BTC, Side.LONG, D("0.1"), D(59000))).accepted
    answer = engine.what_if(PlaceOrder("bob", PROBE_ORDER_ID, BTC, Side.LONG, D("0.0005"), D(59000)))
    assert answer.result.denial is not None and answer.result.denial.code.value == "INVALID_QUANTITY"
    assert answer.max_qty == 0


def test_what_if_of_an_order_whose_id_the_account_holds_sizes_nothing() -> None:
    """The order's own id is part of what-if's question: an id already resting refuses the
    order (DUPLICATE_ORDER_ID) at every quantity, so the largest quantity is 0."""
    engine = _bybit(Deposit("bob", "USDT", D(10_000)))
    assert engine.apply(PlaceOrder("bob", "mine", BTC, Side.LONG, D("0.1"), D(59000))).accepted
    answer = engine.what_if(PlaceOrder("bob", "mine", BTC, Side.LONG, D("0.1"), D(59000)))
    assert answer.result.denial is not None and answer.result.denial.code.value == "DUPLICATE_ORDER_ID"
    assert answer.max_qty == 0
    # the same order under a new id: a buy of q at 59,000 under the 60,000 mark holds (0.1 + q) BTC of
    # buys at 60,000 / 20 = 3,000 of IM each plus the 0.05 % taker reserve 59,000 × 0.0005 = 29.5 each:
    # (0.1 + q) × 3,029.5 ≤ 10,000 → q ≤ 3.2008…: 3.200 (3.3 × 3,029.5 = 9,997.35; 3.301 × 3,029.5 = 10,000.38)
    fresh = engine.what_if(PlaceOrder("bob", "new", BTC, Side.LONG, D("0.1"), D(59000)))
    assert fresh.result.accepted and fresh.max_qty == D("3.200")


@pytest.mark.parametrize("lot", [D("0.0015"), D(0), D(-1), D("NaN"), D("Infinity"), "0.001", 0.001, True])
def test_max_order_qty_refuses_a_lot_off_the_instruments_grid(lot: object) -> None:
    """Found by a new-user pass: an off-grid lot sized to 0 and a NaN, string or negative lot gave
    odd answers or raw errors. bybit-linear's BTCUSDT lot size is 0.001."""
    engine = _bybit(Deposit("bob", "USDT", D(100_000)))
    with pytest.raises(InvalidInput, match="lot"):
        engine.max_order_qty("bob", BTC, Side.LONG, D(60000), lot=lot)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="side must be one of long, short, got 'up'"):
        engine.max_order_qty("bob", BTC, "up", D(60000))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="position_side must be one of both, long, short"):
        engine.max_order_qty("bob", BTC, Side.LONG, D(60000), "x")  # type: ignore[arg-type]
    assert engine.max_order_qty("bob", BTC, "long", D(60000)) == engine.max_order_qty(  # type: ignore[arg-type]
        "bob", BTC, Side.LONG, D(60000))
    assert engine.max_order_qty("bob", BTC, Side.LONG, D(60000), lot=D("0.002")) % D("0.002") == 0
    assert engine.max_order_qty("bob", BTC, Side.LONG, D(60000), lot=1) % 1 == 0


@pytest.mark.parametrize(("qty", "reduce_only", "code"), [
    (D(5), True, "REDUCE_ONLY_WOULD_INCREASE"),   # reduce-only, larger than the 1 BTC held
    (D("0.0005"), False, "INVALID_QUANTITY"),     # below the 0.001 lot
    (D(10) ** 10, False, "QTY_OUT_OF_RANGE"),     # above MAX_QTY
])
def test_what_if_sizes_an_order_whose_own_quantity_is_refused(qty: D, reduce_only: bool, code: str) -> None:
    """Found by a new-user pass: what-if answered 0 for these, though other quantities of the same
    order pass. Bob holds 1 BTC long (bybit-linear, 20×, 100,000 USDT): a reduce-only sell
    closes at most that 1.000; a plain sell at the mark needs 60,000 / 20 = 3,000 of IM per BTC
    beyond the one it closes plus a 0.05 % fee reserve on all of it, so the count the check
    accepts is found by scanning it (``_largest_accepted``), and what-if must agree."""
    engine = _bybit(Deposit("bob", "USDT", D(100_000)), Fill("t1", BTC, D(60000), D(1), "bob", MAKER))
    order = PlaceOrder("bob", "asked", BTC, Side.SHORT, qty, D(60000), reduce_only=reduce_only)
    answer = engine.what_if(order)
    assert answer.result.denial is not None and answer.result.denial.code.value == code
    step = engine.config.profile.instrument(BTC).lot
    expected = D(1) if reduce_only else step * _largest_accepted(_probe(engine, order, step))[0]
    assert answer.max_qty == expected > 0
    assert engine.check(dataclasses.replace(order, qty=answer.max_qty)).accepted
    assert not engine.check(dataclasses.replace(order, qty=answer.max_qty + step)).accepted


def test_what_if_of_anything_but_an_order_is_refused_in_one_line() -> None:
    """Found by a new-user pass: ``what_if(Fill(...))`` raised ``AttributeError`` ('Fill' object has
    no attribute 'account_id')."""
    engine = _bybit()
    with pytest.raises(InvalidInput, match="what_if sizes a PlaceOrder, not a Fill"):
        engine.what_if(Fill("t1", "BTCUSDT", D(60000), D(1), "a", "b"))  # type: ignore[arg-type]


@pytest.mark.parametrize("price", [D("NaN"), D("Infinity"), D(-1), D(0), 1.5, "60000", None, True])
def test_max_order_qty_refuses_a_price_no_order_could_carry(price: object) -> None:
    """Found by a new-user pass: these sized to 0 without a word (a bad side or lot raised)."""
    with pytest.raises(InvalidInput, match="price must be a positive finite Decimal"):
        _bybit().max_order_qty(MAKER, BTC, Side.LONG, price)  # type: ignore[arg-type]
