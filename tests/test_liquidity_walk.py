"""Liquidation orders of one command walk the book (``LiquidationPolicy.revision`` 8): each is
priced from where the earlier ones on its side left it (``engine/liquidity.py``, ``taken``)."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

import pytest

from solvent.engine import (
    AdvanceTime,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    LiquidationPolicy,
    PriceUpdate,
    SquareRootImpact,
)
from solvent.engine.events import LiquidationStep
from solvent.engine.liquidity import BookDepth
from solvent.errors import InvalidInput
from solvent.model import Side
from solvent.risk.venues import load_venue

D = Decimal


def test_the_square_root_walk_by_hand() -> None:
    """k 0.5, depth 4,000,000, mark 100. Selling 10,000 (1,000,000 of notional): sqrt(0.25) = 0.5,
    price 100 × (1 − 0.25) = 75. Another 10,000 after it: (2,000,000 × sqrt(0.5) − 1,000,000 ×
    sqrt(0.25)) / 1,000,000 = 1.41421356… − 0.5 = 0.91421356…, times 0.5 = 0.45710678…: 54.29 to
    the cent, rounded down for a sale. Together they average what one order of 20,000 pays,
    100 × (1 − 0.5 × sqrt(0.5)) = 64.644660…"""
    book = SquareRootImpact({"X": D(4_000_000)}, k=D("0.5"))
    assert book.execution_price("X", Side.SHORT, D(10_000), D(100), D("0.01")) == D(75)
    assert book.execution_price("X", Side.SHORT, D(10_000), D(100), D("0.01"), D(10_000)) == D("54.28")
    first = book.execution_price("X", Side.SHORT, D(10_000), D(100), None)
    second = book.execution_price("X", Side.SHORT, D(10_000), D(100), None, D(10_000))
    whole = book.execution_price("X", Side.SHORT, D(20_000), D(100), None)
    assert first is not None and second is not None and whole is not None
    assert abs((first + second) / 2 - whole) < D("1e-30")
    assert whole.quantize(D("0.000001")) == D("64.644661")
    # a buy walks the asks up the same way; the cap still bounds one order, not the walk
    assert book.execution_price("X", Side.LONG, D(10_000), D(100), D("0.01"), D(10_000)) == D("145.72")
    capped = SquareRootImpact({"X": D(4_000_000)}, k=D("0.5"), max_depth_fraction=D("0.3"))
    assert capped.execution_price("X", Side.SHORT, D(10_000), D(100), None, D(30_000)) is not None
    assert capped.execution_price("X", Side.SHORT, D(13_000), D(100), None) is None


def test_a_book_of_levels_is_walked_from_where_the_earlier_orders_left_it() -> None:
    """Bids 100 × 1 and 99 × 2. After 1.5 taken (the first level and 0.5 of the second), a sale
    of 1 takes 1 at 99; after 0.5 taken, 0.5 at 100 and 0.5 at 99: 99.5; after 2.5 only 0.5 is
    left: no price."""
    book = BookDepth({"X": [(D(100), D(1)), (D(99), D(2))]})
    assert book.execution_price("X", Side.SHORT, D(1), D(100), None) == D(100)
    assert book.execution_price("X", Side.SHORT, D(1), D(100), None, D("1.5")) == D(99)
    assert book.execution_price("X", Side.SHORT, D(1), D(100), None, D("0.5")) == D("99.5")
    assert book.execution_price("X", Side.SHORT, D(1), D(100), None, D("2.5")) is None


def _two_longs_at(policy: LiquidationPolicy, alice: int, carol: int, mark: int) -> list[LiquidationStep]:
    """alice and carol each long 1 BTC from 60,000 against bob, with ``alice`` and ``carol``
    USDT; the liquidation steps of the one command moving the mark to ``mark``. A full close
    (target 10^9 × MM, as the stress policy: past what a venue is admitted with)."""
    engine = Engine(EngineConfig(load_venue("binance-usdm"), liquidation=policy), checked=False)
    for cmd in [AdvanceTime(1_000), Deposit("book", "USDT", D(10) ** 9), Deposit("bob", "USDT", D(10) ** 6),
                Deposit("alice", "USDT", D(alice)), Deposit("carol", "USDT", D(carol)),
                PriceUpdate("BTCUSDT", "s", D(60000)),
                Fill("t1", "BTCUSDT", D(60000), D(1), "alice", "bob"),
                Fill("t2", "BTCUSDT", D(60000), D(1), "carol", "bob")]:
        assert engine.apply(cmd).accepted, cmd
    events = engine.apply(PriceUpdate("BTCUSDT", "s", D(mark))).events
    return [e for e in events if isinstance(e, LiquidationStep)]


def _two_longs(revision: int) -> list[LiquidationStep]:
    """700 USDT each; the mark falls to 59,500: equity 200 ≤ MM 0.004 × 59,500 = 238, both
    liquidated in full in that one command."""
    policy = LiquidationPolicy(liquidity=SquareRootImpact({"BTCUSDT": D(1_000_000)}, k=D("0.1")),
                               book_account="book", target_buffer=D(10) ** 9, adl=False, revision=revision)
    return _two_longs_at(policy, 700, 700, 59500)


def _sale(walked: Decimal) -> Decimal:
    """59,500 × (1 − 0.1 × w) rounded down to the 0.1 tick."""
    price = D(59500) * (1 - D("0.1") * walked)
    return (price / D("0.1")).to_integral_value(rounding=ROUND_FLOOR) * D("0.1")


def test_the_second_account_of_a_tick_sells_after_the_first() -> None:
    """Depth 1,000,000, k 0.1, 1 BTC each (59,500 of notional). alice (first by id) sells at
    59,500 × (1 − 0.1 × sqrt(0.0595)); carol after her at 59,500 × (1 − 0.1 × (119,000 ×
    sqrt(0.119) − 59,500 × sqrt(0.0595)) / 59,500) = 59,500 × (1 − 0.1 × (2·sqrt(0.119) −
    sqrt(0.0595))). Revision 7 priced both as the first."""
    steps = _two_longs(8)
    assert [(s.account_id, s.qty) for s in steps] == [("alice", D(1)), ("carol", D(1))]
    first = _sale(D("0.0595").sqrt())
    second = _sale(2 * D("0.119").sqrt() - D("0.0595").sqrt())
    assert [s.price for s in steps] == [first, second]
    assert first == D("58048.6") and second == D("56846.2")
    assert [s.price for s in _two_longs(7)] == [first, first]


@pytest.mark.parametrize("revision", [7, 8])
def test_a_journal_keeps_the_revision_it_was_written_with(revision: int) -> None:
    from solvent.journal.codec import decode_config, encode_config

    policy = LiquidationPolicy(revision=revision)
    config = EngineConfig(load_venue("binance-usdm"), liquidation=policy)
    decoded = decode_config(encode_config(config)).liquidation
    assert decoded is not None and decoded.revision == revision


def test_an_order_closed_by_adl_takes_nothing_from_the_book() -> None:
    """Found by review: alice (300 USDT) and carol (3,000) each long 1 BTC from 60,000, no fund;
    at 57,200 alice is bankrupt (−2,500) and ADL closes all of her at her bankruptcy price, so
    the book is untouched and carol (200 ≤ MM 228.8) sells as a command's first order would:
    57,200 × (1 − 0.1 × sqrt(57,200 / 10^9)), rounded down to the tick. The walk counted
    alice's 1 BTC as taken and sold carol lower."""
    policy = LiquidationPolicy(liquidity=SquareRootImpact({"BTCUSDT": D(10) ** 9}, k=D("0.1")), book_account="book",
                               target_buffer=D(10) ** 9, adl=True, venue_rules=False, fee_rate=D(0))
    steps = _two_longs_at(policy, 300, 3000, 57200)
    book_steps = [(e.account_id, e.price) for e in steps if e.kind == "book"]
    first = (D(57200) * (1 - D("0.1") * (D(57200) / D(10) ** 9).sqrt()) / D("0.1")).to_integral_value(
        rounding=ROUND_FLOOR) * D("0.1")
    assert book_steps == [("carol", first)] and first == D("57156.7")


def test_a_liquidity_model_without_taken_is_refused_under_revision_8() -> None:
    """Found by review: a model written for the five-argument call failed a command's second
    order with a TypeError (every such tick refused as an internal error)."""

    class OldBook:
        def execution_price(self, symbol: str, side: Side, qty: Decimal, mark: Decimal,
                            tick: Decimal | None) -> Decimal | None:
            return mark

    with pytest.raises(InvalidInput, match=r"liquidation\.liquidity\.execution_price"):
        Engine(EngineConfig(load_venue("binance-usdm"), liquidation=LiquidationPolicy(liquidity=OldBook())))
    Engine(EngineConfig(load_venue("binance-usdm"), liquidation=LiquidationPolicy(liquidity=OldBook(), revision=7)))
