"""Hypothesis invariants of the calculators on the bundled tier tables.

Every expected value here comes from the definitions (equity = margin + PnL, MM = the tier
formula at the notional the position has *at that price*), from closed forms written out
below, or from hand arithmetic — never from the code's own output.
"""

from __future__ import annotations

import contextlib
import decimal
import warnings
from dataclasses import replace
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from solvent import (
    Asset,
    InvalidInput,
    LeverageTooHigh,
    MarginMode,
    NoPriceReason,
    Position,
    Side,
    TierTable,
    assess_account,
    bundled_venues,
    load_venue,
    max_position_qty,
    to_decimal,
)
from solvent.calc import Leg, solve_price
from solvent.limits import MAX_PRICE
from solvent.model import DEFAULT_LOT, Instrument, InstrumentKind
from solvent.risk.rules import TieredRules
from solvent.units import solvent_context

# When a property fails, hypothesis imports libcst to write a patch; libcst's import emits a
# DeprecationWarning (mypy_extensions.TypedDict) that filterwarnings=error turns into a pytest
# INTERNALERROR hiding the falsifying example. Import it once here with that warning silenced.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import libcst  # noqa: F401

USDM = load_venue("binance-usdm")
COINM = load_venue("binance-coinm")
USDM_SYMBOLS = sorted(USDM.instruments)
TICK = Decimal("0.1")
ZERO = Decimal(0)
EXACT = Decimal("1e-20")
"""Relative tolerance for 'exact' roots: 40-digit working precision leaves ~1e-38."""

_D = Decimal

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _table(profile: Any, symbol: str) -> TierTable:
    rules = profile.rules_for(symbol)
    assert isinstance(rules, TieredRules)
    return rules.table


BTC = USDM.instrument("BTCUSDT")
BTC_TABLE = _table(USDM, "BTCUSDT")
EXACT_BTC = replace(BTC, tick_size=None, lot_size=None)


def _unrounded(inst: Instrument) -> Instrument:
    """The instrument with no price grid at all: not the profile's own (whose tick-less
    instruments are rounded to a fallback precision), so its prices come back exact."""
    return replace(inst, symbol=f"{inst.symbol}~exact", tick_size=None, lot_size=None)


def _excess(pos: Position, table: TierTable, wallet: Decimal, price: Decimal | Fraction) -> Fraction:
    """Equity − MM at ``price``, from the definitions (MM at the notional *at that price*), in
    exact rational arithmetic: at a root within 40-digit noise of a grid price (an inverse
    short's root a hair below 1,045,800), a Decimal evaluation cannot tell the sides apart.

    PnL ``± size·(P − entry)`` (linear) or ``± size·(1/entry − 1/P)`` (inverse, coin);
    notional ``size·P`` or ``size/P``; MM ``rate·notional − amount`` of the tier whose floor is
    the largest at or below the notional."""
    base = Fraction(pos.isolated_margin if pos.margin_mode is MarginMode.ISOLATED else wallet)
    p, entry = Fraction(price), Fraction(pos.entry_price)
    size = Fraction(pos.qty) * Fraction(pos.instrument.contract_size)
    sign = 1 if pos.side is Side.LONG else -1
    if pos.instrument.is_inverse:
        pnl, notional = sign * size * (1 / entry - 1 / p), size / p
    else:
        pnl, notional = sign * size * (p - entry), size * p
    tier = [t for t in table.tiers if Fraction(t.floor_notional) <= notional][-1]
    return base + pnl - (Fraction(tier.maint_margin_rate) * notional - Fraction(tier.maint_amount))


def _liq(pos: Position, table: TierTable, wallet: Decimal = ZERO, profile: Any = USDM) -> Any:
    report = assess_account(wallet, [pos], [TieredRules(table)], profile)
    return report.positions[0]


# --------------------------------------------------------------------------- strategies


@st.composite
def single_positions(draw: st.DrawFn) -> tuple[Any, Position, TierTable, Decimal]:
    """A random isolated or cross position on a real table, at a leverage its tier allows."""
    inverse = draw(st.sampled_from([False, False, True]))
    if inverse:
        profile, symbol = COINM, "BTCUSD_PERP"
    else:
        profile = USDM
        symbol = draw(st.one_of(st.sampled_from(["BTCUSDT", "ETHUSDT"]), st.sampled_from(USDM_SYMBOLS)))
    inst = profile.instrument(symbol)
    table = _table(profile, symbol)
    entry = Decimal(draw(st.integers(100, 10**8))) / 100  # 1 .. 1,000,000
    k = draw(st.integers(0, len(table.tiers) - 1))
    tier = table.tiers[k]
    frac = Decimal(draw(st.integers(1, 999))) / 1000
    target_notional = tier.floor_notional + frac * (tier.cap_notional - tier.floor_notional)
    if inverse:  # notional (coin) = qty × cs / price, qty in whole contracts
        qty = (target_notional * entry / inst.contract_size).to_integral_value(rounding=ROUND_DOWN)
    else:
        qty = (target_notional / entry).quantize(Decimal("0.000001"), rounding=ROUND_DOWN)
    if qty <= 0:
        qty = Decimal(1)
    notional = inst.notional(qty, entry)
    if notional > table.max_notional:
        qty, notional = Decimal(1), inst.notional(Decimal(1), entry)
    max_lev = int(table.max_leverage_for(notional))
    leverage = Decimal(draw(st.integers(1, max(1, max_lev))))
    table.check_leverage(notional, leverage)  # the case is one the venue would accept
    side = draw(st.sampled_from([Side.LONG, Side.SHORT]))
    margin = notional / leverage
    if draw(st.booleans()):
        pos = Position(inst, side, qty, entry, entry, MarginMode.ISOLATED, margin, leverage=leverage)
        wallet = ZERO
    else:
        pos = Position(inst, side, qty, entry, entry, MarginMode.CROSS, leverage=leverage)
        wallet = margin
    return profile, pos, table, wallet


# --------------------------------------------------------------------------- root within a tick


@PROPS
@given(single_positions())
def test_equity_meets_mm_within_one_tick_of_the_liquidation_price(case: Any) -> None:
    profile, pos, table, wallet = case
    notional = pos.entry_notional()
    exact = _liq(replace(pos, instrument=_unrounded(pos.instrument)), table, wallet, profile)
    ticked = _liq(replace(pos, instrument=replace(pos.instrument, tick_size=TICK)), table, wallet, profile)
    if exact.liquidation.price is None:
        # Only a safe position has no price: equity stays above MM even very far away.
        assert exact.liquidation.reason is NoPriceReason.NOT_LIQUIDATABLE
        far = pos.entry_price / 10**6 if pos.side is Side.LONG else pos.entry_price * 10**6
        assert _excess(pos, table, wallet, far) > 0
        assert ticked.liquidation.price is None
        return
    root = exact.liquidation.price
    assert abs(_excess(pos, table, wallet, root)) < Fraction(EXACT * notional)
    # Beyond the prices solvent accepts (10^9: solvent/limits.py) a root is no price at all: a
    # leverage-1 inverse short's root near 1e28 has f changing by 1e-51 a tick there, below
    # what 40 digits resolve, so the tick it rounds to is not decided exactly.
    assume(root <= MAX_PRICE)

    lp = ticked.liquidation.price
    assert lp is not None
    # in rationals: a leverage-1 inverse short's price runs to 1e30, past the test's own
    # 28-digit decimal context
    price, tick, exact_root = Fraction(lp), Fraction(TICK), Fraction(root)
    assert price % tick == 0
    # Rounded against the holder: a long triggers at or above the root, a short at or below.
    beyond = price - tick if pos.side is Side.LONG else price + tick
    # (give or take the 40-digit root's own error: the root may sit on a grid price to 40 digits)
    error = Fraction(EXACT) * exact_root
    assert (price >= exact_root - error) if pos.side is Side.LONG else (price <= exact_root + error)
    assert abs(price - exact_root) < tick + error
    assert _excess(pos, table, wallet, lp) >= -Fraction(EXACT * notional)
    if beyond > 0:
        assert _excess(pos, table, wallet, beyond) < 0


# --------------------------------------------------------------------------- tier at the root


def _crossing_cases() -> list[tuple[str, str, int, Side]]:
    """(venue, symbol, tier k, side) whose liquidation notional must leave tier k.

    * linear short / inverse long at leverage 1 with entry notional in the top 20 % of tier k:
      the notional at the root is ``(2·n_entry + A_j)/(1 + m_j) ≥ 1.6·cap_k/1.5 > cap_k``.
    * linear long at leverage 2 with entry notional within 20 % above floor_k and the lower
      tiers' rate ≤ 0.2: the root notional is ``(n_entry/2 − A_j)/(1 − m_j) ≤ 0.75·floor_k``.
    """
    cases: list[tuple[str, str, int, Side]] = []
    for symbol in USDM_SYMBOLS:
        tiers = _table(USDM, symbol).tiers
        for k in range(len(tiers) - 1):
            cases.append(("binance-usdm", symbol, k, Side.SHORT))
        for k in range(1, len(tiers)):
            if tiers[k].max_leverage >= 2 and tiers[k - 1].maint_margin_rate <= Decimal("0.2"):
                cases.append(("binance-usdm", symbol, k, Side.LONG))
    tiers = _table(COINM, "BTCUSD_PERP").tiers
    cases += [("binance-coinm", "BTCUSD_PERP", k, Side.LONG) for k in range(len(tiers) - 1)]
    return cases


CROSSING = _crossing_cases()


@PROPS
@given(st.sampled_from(CROSSING), st.integers(100, 10**7), st.integers(0, 99))
def test_the_tier_used_is_the_one_holding_at_the_liquidation_price(
    case: tuple[str, str, int, Side], entry_cents: int, frac_pct: int
) -> None:
    venue, symbol, k, side = case
    profile = load_venue(venue)
    inst = _unrounded(profile.instrument(symbol))
    table = _table(profile, symbol)
    tier = table.tiers[k]
    entry = Decimal(entry_cents) / 100
    goes_up = side is Side.SHORT or inst.is_inverse  # notional rises as the price moves to the root
    if goes_up:
        notional = tier.cap_notional - (tier.cap_notional - tier.floor_notional) * Decimal(frac_pct + 1) / 500
        leverage = Decimal(1)
    else:
        notional = tier.floor_notional * (1 + Decimal(frac_pct + 1) / 500)
        notional = min(notional, (tier.floor_notional + tier.cap_notional) / 2)
        leverage = Decimal(2)
    qty = notional * entry / inst.contract_size if inst.is_inverse else notional / entry
    assert table.tier_index(inst.notional(qty, entry)) == k
    pos = Position(inst, side, qty, entry, entry, MarginMode.ISOLATED, inst.notional(qty, entry) / leverage)
    lp = _liq(pos, table, profile=profile).liquidation.price
    assert lp is not None
    at_lp = pos.notional(lp)
    moved_to = table.tier_index(at_lp)
    assert moved_to > k if goes_up else moved_to < k
    equity = pos.isolated_margin + pos.pnl(lp)
    mm_at_lp = table.maintenance_margin(at_lp)
    assert abs(equity - mm_at_lp) < EXACT * at_lp
    # The entry tier's formula, extended to the liquidation notional, gives another answer.
    assert abs(equity - tier.maintenance_margin(at_lp)) > Decimal("1e-12") * at_lp


def test_short_whose_root_crosses_800k_is_priced_with_tier_3_of_btcusdt() -> None:
    # Binance BTCUSDT, isolated short 6 BTC @ 130,000 at 10×: margin W = 780,000 / 10 = 78,000.
    # Tier 2 (300k–800k): m 0.005, A 300; tier 3 (800k–3M): m 0.0065, A 1,500.
    # Root in tier 3: W − 6(P − 130,000) = 6P·0.0065 − 1,500
    #   ⇒ 6P·1.0065 = 780,000 + 78,000 + 1,500 = 859,500 ⇒ P = 142,324.888… (notional 853,949 ≥ 800k)
    # (the tier-2 formula would give 858,300 / 6.03 = 142,338.308…, where equity 3,970.2 < MM 4,051.2)
    # Short rounds down to the 0.1 tick: 142,324.8.
    pos = Position(BTC, Side.SHORT, _D(6), _D(130000), _D(130000), MarginMode.ISOLATED, _D(78000))
    assert _liq(pos, BTC_TABLE).liquidation.price == _D("142324.8")


# --------------------------------------------------------------------------- continuity, exhaustive


def _all_tables() -> list[tuple[str, TierTable]]:
    seen: dict[int, tuple[str, TierTable]] = {}
    for venue in bundled_venues():
        profile = load_venue(venue)
        for symbol in sorted(profile.instruments):
            rules = profile.rules_for(symbol)
            tables = [rules.table] if isinstance(rules, TieredRules) else [
                rules.maintenance_table(q) for q in (Decimal("0.001"), Decimal(1), Decimal(10**6))
            ]
            for table in tables:
                seen.setdefault(id(table), (f"{venue}/{symbol}", table))
    return list(seen.values())


def test_mm_is_continuous_at_every_tier_boundary_of_every_bundled_table() -> None:
    tables = _all_tables()
    assert len(bundled_venues()) == 8
    assert len(tables) > 900  # every Binance USDⓈ-M symbol has its own table
    boundaries = 0
    for where, table in tables:
        assert table.tiers[0].floor_notional == 0, where
        for i in range(1, len(table.tiers)):
            prev, tier = table.tiers[i - 1], table.tiers[i]
            floor = tier.floor_notional
            assert prev.cap_notional == floor, f"{where} tier {i + 1}"
            assert prev.maintenance_margin(floor) == tier.maintenance_margin(floor), f"{where} tier {i + 1}"
            assert table.maintenance_margin(floor) == prev.maintenance_margin(floor), f"{where} tier {i + 1}"
            boundaries += 1
    assert boundaries > 5000


# --------------------------------------------------------------------------- monotonicity


def _isolated_lp(side: Side, qty: Decimal, entry: Decimal, margin: Decimal) -> Decimal | None:
    pos = Position(EXACT_BTC, side, qty, entry, entry, MarginMode.ISOLATED, margin)
    return _liq(pos, BTC_TABLE).liquidation.price


def _order_key(side: Side, price: Decimal | None) -> Decimal:
    """A missing price is 'never': 0 for a long, +infinity (a huge number) for a short."""
    if price is None:
        return ZERO if side is Side.LONG else Decimal("1e60")
    return price


entries = st.integers(1_000, 200_000).map(Decimal)
qtys = st.integers(1, 20_000).map(lambda n: Decimal(n) / 1000)  # 0.001 .. 20 BTC
sides = st.sampled_from([Side.LONG, Side.SHORT])


@PROPS
@given(sides, qtys, entries, st.integers(0, 10**6), st.integers(1, 10**6))
def test_more_wallet_never_brings_the_liquidation_price_closer(
    side: Side, qty: Decimal, entry: Decimal, w_cents: int, extra_cents: int
) -> None:
    small = Decimal(w_cents) / 100 + qty * entry / 150
    large = small + Decimal(extra_cents) / 100
    lo = _order_key(side, _isolated_lp(side, qty, entry, small))
    hi = _order_key(side, _isolated_lp(side, qty, entry, large))
    assert hi <= lo if side is Side.LONG else hi >= lo


@PROPS
@given(sides, qtys, entries, st.integers(1, 150), st.integers(1, 150))
def test_more_leverage_never_moves_the_liquidation_price_away(
    side: Side, qty: Decimal, entry: Decimal, lev_a: int, lev_b: int
) -> None:
    notional = qty * entry
    max_lev = int(BTC_TABLE.max_leverage_for(notional))
    low, high = sorted((min(lev_a, max_lev), min(lev_b, max_lev)))
    lp_low = _order_key(side, _isolated_lp(side, qty, entry, notional / low))
    lp_high = _order_key(side, _isolated_lp(side, qty, entry, notional / high))
    assert lp_high >= lp_low if side is Side.LONG else lp_high <= lp_low


@PROPS
@given(sides, qtys, qtys, entries, st.integers(0, 10**6))
def test_more_quantity_at_the_same_wallet_never_moves_the_liquidation_price_away(
    side: Side, qty_a: Decimal, qty_b: Decimal, entry: Decimal, extra_cents: int
) -> None:
    small, big = sorted((qty_a, qty_b))
    # The wallet covers the bigger position's initial margin at its tier maximum, so both
    # positions start healthy (equity ≥ IM ≥ MM at entry).
    big_notional = big * entry
    wallet = big_notional / BTC_TABLE.max_leverage_for(big_notional) + Decimal(extra_cents) / 100
    lp_small = _order_key(side, _isolated_lp(side, small, entry, wallet))
    lp_big = _order_key(side, _isolated_lp(side, big, entry, wallet))
    assert lp_big >= lp_small if side is Side.LONG else lp_big <= lp_small


# --------------------------------------------------------------------------- mirror images

PLAIN = Instrument("TESTUSDT", InstrumentKind.LINEAR_PERPETUAL, "TEST", "USDT", "USDT")


@PROPS
@given(
    st.integers(1, 500).map(lambda n: Decimal(n) / 10_000),  # m: 0.0001 .. 0.05
    st.integers(0, 10**6).map(lambda n: Decimal(n) / 100),  # A
    st.integers(1, 10**6).map(lambda n: Decimal(n) / 1000),  # q
    st.integers(1, 10**7).map(lambda n: Decimal(n) / 100),  # E
    st.integers(1, 999),  # W as a fraction (per mille) of what keeps the long's price > 0
)
def test_long_and_short_liquidation_prices_mirror_around_entry(
    rate: Decimal, amount: Decimal, qty: Decimal, entry: Decimal, w_permille: int
) -> None:
    # Long:  W + q(P − E) = qPm − A  ⇒  E − P(1 − m) = (W + A)/q
    # Short: W − q(P − E) = qPm − A  ⇒  P(1 + m) − E = (W + A)/q
    # Bankruptcy (no MM): E − BK_long = W/q = BK_short − E
    room = qty * entry - amount  # the long's LP is positive only while W + A < qE
    if room <= 0:
        amount, room = ZERO, qty * entry
    margin = room * w_permille / 1000
    table = TierTable.single(rate, Decimal(1), maint_amount=amount)
    long_ = _liq(Position(PLAIN, Side.LONG, qty, entry, entry, MarginMode.ISOLATED, margin), table)
    short = _liq(Position(PLAIN, Side.SHORT, qty, entry, entry, MarginMode.ISOLATED, margin), table)
    lp_long, lp_short = long_.liquidation.price, short.liquidation.price
    assert lp_long is not None and lp_short is not None
    expected = (margin + amount) / qty
    tol = Decimal("1e-25") * max(entry, expected)
    assert abs((entry - lp_long * (1 - rate)) - expected) <= tol
    assert abs((lp_short * (1 + rate) - entry) - expected) <= tol
    bk_long, bk_short = long_.bankruptcy.price, short.bankruptcy.price
    assert bk_long is not None and bk_short is not None
    assert abs((entry - bk_long) - (bk_short - entry)) <= tol
    assert abs((entry - bk_long) - margin / qty) <= tol


@pytest.mark.parametrize("rate", ["0.0006", "0.006", "0.015", "0.003", "0.005"])
def test_a_single_bracket_builds_for_any_rate_with_its_default_leverage(rate: str) -> None:
    # The default max leverage is 1/mmr, "the leverage at which IM would equal MM": the table
    # must accept it even when 1/mmr does not terminate (1/0.006 = 166.66…).
    table = TierTable.single(_D(rate))
    assert table.tiers[0].maint_margin_rate == _D(rate)


# --------------------------------------------------------------------------- no floats

_TABLE = TierTable.single(_D("0.005"))
_GOOD_BRACKET = {"notional_floor": "0", "notional_cap": "1000", "maint_margin_ratio": "0.01",
                 "initial_leverage": "50", "cum": "0"}
_LEG = Leg(1, _D(1), _D(100), _D(1), False, _TABLE)


def _pos(**overrides: object) -> Position:
    fields: dict[str, Any] = {"instrument": PLAIN, "side": Side.LONG, "qty": _D(1), "entry_price": _D(100)}
    fields.update(overrides)
    return Position(**fields)


FLOAT_CALLS = {
    "to_decimal": lambda: to_decimal(0.1),
    "Position qty": lambda: _pos(qty=0.5),
    "Position entry_price": lambda: _pos(entry_price=100.0),
    "Position mark_price": lambda: _pos(mark_price=100.0),
    "Position isolated_margin": lambda: _pos(isolated_margin=10.0),
    "Position leverage": lambda: _pos(leverage=10.0),
    "Instrument contract_size": lambda: replace(PLAIN, contract_size=1.0),
    "Instrument tick_size": lambda: replace(PLAIN, tick_size=0.1),
    "Asset haircut": lambda: Asset("USDC", haircut=0.1),
    "TierTable.single rate": lambda: TierTable.single(0.005),
    "TierTable.single max_leverage": lambda: TierTable.single(_D("0.005"), 100.0),
    "TierTable.single maint_amount": lambda: TierTable.single(_D("0.005"), maint_amount=1.0),
    "TierTable.from_brackets": lambda: TierTable.from_brackets("t", [{**_GOOD_BRACKET, "maint_margin_ratio": 0.01}]),
    "TierTable.from_brackets cum": lambda: TierTable.from_brackets("t", [{**_GOOD_BRACKET, "cum": 0.0}]),
    "solve_price base": lambda: solve_price(10.0, [_LEG], reference_price=_D(100)),  # type: ignore[arg-type]
    "solve_price reference": lambda: solve_price(_D(10), [_LEG], reference_price=100.0),  # type: ignore[arg-type]
    "solve_price tick": lambda: solve_price(_D(10), [_LEG], reference_price=_D(100), tick=0.1),  # type: ignore[arg-type]
    "solve_price leg qty": lambda: solve_price(_D(10), [replace(_LEG, qty=1.0)], reference_price=_D(100)),
    "assess_account wallet": lambda: assess_account(1000.0, [_pos()], [TieredRules(_TABLE)], USDM),  # type: ignore[arg-type]
    "max_position_qty wallet": lambda: max_position_qty(1000.0, _D(100), _D(10), PLAIN, TieredRules(_TABLE)),  # type: ignore[arg-type]
    "max_position_qty price": lambda: max_position_qty(_D(1000), 100.0, _D(10), PLAIN, TieredRules(_TABLE)),  # type: ignore[arg-type]
    "max_position_qty leverage": lambda: max_position_qty(_D(1000), _D(100), 10.0, PLAIN, TieredRules(_TABLE)),  # type: ignore[arg-type]
    "max_position_qty fee": lambda: max_position_qty(
        _D(1000), _D(100), _D(10), PLAIN, TieredRules(_TABLE), fee_rate=0.0005  # type: ignore[arg-type]
    ),
}


@pytest.mark.parametrize("call", FLOAT_CALLS.values(), ids=list(FLOAT_CALLS))
def test_a_float_is_refused_not_silently_accepted(call: Any) -> None:
    with pytest.raises((InvalidInput, decimal.FloatOperation)):
        call()


def test_solvents_decimal_context_traps_floats_mixed_into_decimals() -> None:
    with decimal.localcontext(solvent_context()):
        with pytest.raises(decimal.FloatOperation):
            Decimal(0.1)  # noqa: RUF032  (the point of the test)
        with pytest.raises(decimal.FloatOperation):
            _ = Decimal("1") < 0.5


# --------------------------------------------------------------------------- sizing


def test_max_qty_1000_usdt_at_20x_btcusdt_50000_is_0_4() -> None:
    # IM = notional / 20 ≤ 1000  ⇒  notional ≤ 20,000 (tier 1: < 300,000 at ≤150×) ⇒ 0.4 BTC.
    assert max_position_qty(_D(1000), _D(50000), _D(20), BTC, USDM.rules_for("BTCUSDT")) == _D("0.4")


def test_max_qty_with_a_5bp_fee_rounds_down_to_the_lot() -> None:
    # notional ≤ 1000 / (1/20 + 0.0005) = 1000 / 0.0505 = 19,801.98…  ⇒ 0.39603… BTC ⇒ lot 0.001: 0.396
    # 0.396 × 50,000 = 19,800: IM 990 + fee 9.9 = 999.9 ≤ 1000
    # 0.397 × 50,000 = 19,850: IM 992.5 + fee 9.925 = 1002.425 > 1000
    qty = max_position_qty(_D(1000), _D(50000), _D(20), BTC, USDM.rules_for("BTCUSDT"), fee_rate=_D("0.0005"))
    assert qty == _D("0.396")


def test_max_qty_at_150x_stops_one_lot_below_the_first_tier_cap() -> None:
    # 10,000 at 150× would buy 1,500,000 notional, but only tier 1 (cap 300,000) allows 150×;
    # 300,000 / 50,000 = 6 BTC sits *at* the cap, which is tier 2 (100×), so 5.999 BTC.
    qty = max_position_qty(_D(10000), _D(50000), _D(150), BTC, USDM.rules_for("BTCUSDT"))
    assert qty == _D("5.999")
    with pytest.raises(LeverageTooHigh):
        BTC_TABLE.check_leverage(_D("6") * 50000, _D(150))


def test_max_qty_inverse_btcusd_perp() -> None:
    # 0.1 BTC at 20×, price 40,000, 100 USD contracts: notional ≤ 2 BTC (tier 1, < 5 BTC at ≤125×)
    # qty = 2 × 40,000 / 100 = 800 contracts.
    inst = COINM.instrument("BTCUSD_PERP")
    assert max_position_qty(_D("0.1"), _D(40000), _D(20), inst, COINM.rules_for("BTCUSD_PERP")) == _D(800)


@PROPS
@given(
    st.one_of(st.sampled_from(["BTCUSDT", "ETHUSDT"]), st.sampled_from(USDM_SYMBOLS)),
    st.integers(1, 10**9).map(lambda n: Decimal(n) / 100),  # wallet 0.01 .. 10M
    st.integers(1, 10**8).map(lambda n: Decimal(n) / 1000),  # price 0.001 .. 100k
    st.integers(1, 150),
    st.sampled_from(["0", "0.0002", "0.0005", "0.001"]).map(Decimal),
)
def test_max_qty_fits_the_wallet_and_the_tier_and_one_more_lot_does_not(
    symbol: str, wallet: Decimal, price: Decimal, lev: int, fee: Decimal
) -> None:
    inst, rules = USDM.instrument(symbol), USDM.rules_for(symbol)
    table = _table(USDM, symbol)
    leverage = min(Decimal(lev), table.tiers[0].max_leverage)
    lot = inst.lot_size if inst.lot_size is not None else DEFAULT_LOT
    qty = max_position_qty(wallet, price, leverage, inst, rules, fee_rate=fee)

    def cost(q: Decimal) -> Decimal:
        notional = inst.notional(q, price)
        return notional / leverage + notional * fee

    def allowed(q: Decimal) -> bool:
        try:
            table.check_leverage(inst.notional(q, price), leverage)
        except LeverageTooHigh:
            return False
        return True

    assert qty >= 0
    assert qty % lot == 0
    if qty > 0:
        assert cost(qty) <= wallet
        assert allowed(qty)
    bigger = qty + lot
    assert cost(bigger) > wallet or not allowed(bigger)


def test_a_leverage_above_every_tier_is_named_in_plain_digits() -> None:
    """Drift BTC-PERP allows at most 1 / 0.1 (its initial ratio) = 10x; the sizing calculator's
    refusal printed the quotient as 1E+1."""
    drift = load_venue("drift")
    with pytest.raises(InvalidInput, match=r"^leverage 20 exceeds the maximum 10 of every tier$"):
        max_position_qty(Decimal(1000), Decimal(50000), Decimal(20), drift.instrument("BTC-PERP"),
                         drift.rules_for("BTC-PERP"))
