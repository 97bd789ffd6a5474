"""Venue liquidation rules in the engine: each venue's procedure on a hand-computed example,
the profiles' declarations, and the legacy (generic) replay of older journals.

Every expected value is worked out in the comments from the venue's published rule
(``docs/liquidation.md`` names the sources), never taken from solvent's output.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from solvent import load_venue
from solvent.engine import (
    AdlRanking,
    AdvanceTime,
    BookDepth,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    FundInsurance,
    LiquidationPolicy,
    PriceUpdate,
)
from solvent.engine.config import LIQUIDATION_REVISION
from solvent.engine.events import BalanceChanged, InsuranceFundChanged, LiquidationStep, LossSocialised
from solvent.engine.venue_rules import effective_policy, rule_of
from solvent.errors import InvalidInput
from solvent.journal.codec import decode_config, encode_config
from solvent.risk.liquidation_math import drift_liquidator_fee
from solvent.risk.liquidation_rules import GENERIC_RULE, LiquidationRuleKind, parse_liquidation_rule
from solvent.risk.venues import bundled_venues

D = Decimal
K = LiquidationRuleKind


def _engine(venue: str, settle: str, book: BookDepth | None = None, **policy: object) -> Engine:
    liquidity = book if book is not None else BookDepth({})
    config = EngineConfig(load_venue(venue), settle_asset=settle,
                          liquidation=LiquidationPolicy(liquidity=liquidity, **policy))  # type: ignore[arg-type]
    engine = Engine(config)
    for cmd in (AdvanceTime(1000), Deposit("book", settle, D(10) ** 9)):
        assert engine.apply(cmd).accepted
    return engine


def _open(engine: Engine, symbol: str, settle: str, deposit: Decimal, price: Decimal, qty: Decimal) -> None:
    for cmd in (Deposit("alice", settle, deposit), Deposit("bob", settle, D(10) ** 6),
                PriceUpdate(symbol, "s", price), Fill("t1", symbol, price, qty, "alice", "bob")):
        assert engine.apply(cmd).accepted, cmd


def _steps(events: tuple[object, ...]) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    return [(e.kind, e.qty, e.price, e.fee) for e in events if isinstance(e, LiquidationStep)]


# ---------------------------------------------------------------- profiles


@pytest.mark.parametrize(("venue", "kind"), [
    ("binance-usdm", K.BANKRUPTCY_PRICE), ("binance-coinm", K.BANKRUPTCY_PRICE),
    ("bybit-linear", K.BANKRUPTCY_PRICE), ("bybit-inverse", K.BANKRUPTCY_PRICE), ("bitmex", K.BANKRUPTCY_PRICE),
    ("dydx-v4", K.DYDX_V4), ("hyperliquid", K.BACKSTOP), ("drift", K.DRIFT),
])
def test_every_bundled_profile_names_its_liquidation_rule_and_its_source(venue: str, kind: K) -> None:
    rule = load_venue(venue).liquidation
    assert rule.kind is kind
    assert "http" in rule.source or "v4-chain" in rule.source or "bitmex.com" in rule.source


def test_the_bundled_venues_are_the_ones_listed() -> None:
    assert bundled_venues() == ["binance-coinm", "binance-usdm", "bitmex", "bybit-inverse", "bybit-linear",
                                "drift", "dydx-v4", "hyperliquid"]


def test_a_profile_without_a_liquidation_object_gets_the_generic_rule_and_bad_ones_are_refused() -> None:
    assert parse_liquidation_rule(None, "p") is GENERIC_RULE
    assert parse_liquidation_rule({"policy": "generic"}, "p").kind is K.GENERIC
    for bad in ({"policy": "best"}, {"policy": "generic", "chunk_fraction": "0.2"}, [1],
                {"policy": "backstop", "backstop_threshold": "3/2"}, {"policy": "drift"},
                {"policy": "dydx_v4", "max_liquidation_fee_ppm": "1"}, {"policy": "generic", "adl_ranking": "x"}):
        with pytest.raises(InvalidInput):
            parse_liquidation_rule(bad, "p")


def test_the_hyperliquid_backstop_threshold_is_exactly_the_policy_two_thirds() -> None:
    config = EngineConfig(load_venue("hyperliquid"), liquidation=LiquidationPolicy())
    policy = effective_policy(config)
    assert policy is not None and policy.backstop_account == "liquidator_vault"
    assert policy.backstop_threshold == LiquidationPolicy().backstop_threshold
    assert (policy.chunk_fraction, policy.chunk_min_notional, policy.cooldown_ms) == (D("0.2"), D(100000), 30000)


def test_bybit_and_bitmex_rank_adl_by_pnl_times_leverage_binance_by_its_own_score() -> None:
    for venue, ranking in (("bybit-linear", AdlRanking.BITMEX), ("bitmex", AdlRanking.BITMEX),
                           ("binance-usdm", AdlRanking.BINANCE)):
        policy = effective_policy(EngineConfig(load_venue(venue), liquidation=LiquidationPolicy(
            adl_ranking=AdlRanking.PRO_RATA)))
        assert policy is not None and policy.adl_ranking is ranking


def test_venue_rules_off_is_the_generic_procedure_whatever_the_venue() -> None:
    config = EngineConfig(load_venue("drift"), liquidation=LiquidationPolicy(venue_rules=False))
    assert rule_of(config) is GENERIC_RULE and effective_policy(config) == config.liquidation


# ---------------------------------------------------------------- journals


def test_a_genesis_recorded_before_venue_rules_replays_with_the_generic_procedure() -> None:
    config = EngineConfig(load_venue("dydx-v4"), settle_asset="USDC", liquidation=LiquidationPolicy())
    raw = encode_config(config)
    assert raw["liquidation"]["venue_rules"] is True
    assert decode_config(raw) == config
    old = {**raw, "liquidation": {k: v for k, v in raw["liquidation"].items() if k != "venue_rules"}}
    legacy = decode_config(old)
    assert legacy.liquidation is not None and legacy.liquidation.venue_rules is False
    assert rule_of(legacy) is GENERIC_RULE


# ---------------------------------------------------------------- Bybit: bankruptcy-price takeover


def test_bybit_takes_the_whole_position_over_at_its_bankruptcy_price_and_the_fund_keeps_the_margin_left() -> None:
    # alice: 13,000 USDT, long 4 BTC at 60,000. Bybit MM is on entry value: 0.5 % × 240,000 = 1,200.
    # Mark 57,000: equity 13,000 − 4 × 3,000 = 1,000 ≤ 1,200 → liquidation, lowest risk limit: the
    # position is taken over whole. Bankruptcy price 57,000 − 1,000 / 4 = 56,750; the book bids 56,900,
    # so the margin left, 4 × (56,900 − 56,750) = 600, goes to the insurance fund; alice keeps 0.
    book = BookDepth({"BTCUSDT": [(D(56900), D(10))]})
    engine = _engine("bybit-linear", "USDT", book)
    _open(engine, "BTCUSDT", "USDT", D(13000), D(60000), D(4))
    result = engine.apply(PriceUpdate("BTCUSDT", "s", D(57000)))
    assert _steps(result.events) == [("book", D(4), D(56900), D(600))]
    assert engine.state.insurance_fund == D(600)
    assert engine.margin_from_scratch("alice").equity == 0
    # the generic procedure reduces instead, charging only the profile's fee rate, 0: selling q at
    # 56,900 leaves equity 1,000 − 100 q and a rest of cost 60,000 × (4 − q), MM 300 × (4 − q);
    # the smallest q (lot 0.001) with 1,000 − 100 q ≥ 1.02 × 300 × (4 − q) is q ≥ 224 / 206 =
    # 1.0873…: 1.088 (891.2 ≥ 891.072; at 1.087, 891.3 < 891.378). Left: equity 891.2, MM 0.5 % ×
    # (240,000 − 65,280) = 873.6
    generic = _engine("bybit-linear", "USDT", book, venue_rules=False)
    _open(generic, "BTCUSDT", "USDT", D(13000), D(60000), D(4))
    assert _steps(generic.apply(PriceUpdate("BTCUSDT", "s", D(57000))).events) == [
        ("book", D("1.088"), D(56900), D(0))]
    margin = generic.margin_from_scratch("alice")
    assert (margin.equity, margin.maintenance_margin) == (D("891.2"), D("873.6"))
    assert generic.state.insurance_fund == 0


def test_binance_reduces_partially_when_that_restores_the_margin_like_the_generic_procedure() -> None:
    # the docs/liquidation.md example: one IOC reduction of 0.239 BTC at 56,900 suffices, with the
    # 0.01 % fee 0.239 × 56,900 × 0.0001 = 1.35991 (Binance stops once margin compliant)
    book = BookDepth({"BTCUSDT": [(D(56900), D("0.5")), (D(56800), D(10))]})
    engine = _engine("binance-usdm", "USDT", book, fee_rate=D("0.0001"))
    _open(engine, "BTCUSDT", "USDT", D(12900), D(60000), D(4))
    assert _steps(engine.apply(PriceUpdate("BTCUSDT", "s", D(57000))).events) == [
        ("book", D("0.239"), D(56900), D("1.35991"))]


# ---------------------------------------------------------------- dYdX v4


def _dydx(book: BookDepth, fund: Decimal = Decimal(0)) -> Engine:
    engine = _engine("dydx-v4", "USDC", book)
    if fund:
        assert engine.apply(FundInsurance(fund)).accepted
    # alice: 1,000 USDC, long 1 BTC-USD at 50,000; Large-Cap MM = 0.02 × 0.6 = 1.2 % of the oracle value
    _open(engine, "BTC-USD", "USDC", D(1000), D(50000), D(1))
    return engine


def test_dydx_fills_at_or_better_than_the_fillable_price_and_the_fund_takes_the_insurance_fund_delta() -> None:
    # oracle 49,500: TNC = 1,000 − 500 = 500 < MMR = 0.012 × 49,500 = 594.
    # ABR = 1 × (1 − 500/594) = 94/594; spread = ABR × 0.1 × 594 / 1 = 9.4 → fillable 49,490.6, tick 1
    # rounds a long up: 49,491. The book bids 49,495 ≥ 49,491: the whole position fills there.
    # Bankruptcy quote = 49,500 − 500 × 594/594 = 49,000; surplus 49,495 − 49,000 = 495;
    # fee cap 49,495 × 1.5 % = 742.425 → delta = 495 to the fund; alice ends at 0.
    engine = _dydx(BookDepth({"BTC-USD": [(D(49495), D(10))]}))
    result = engine.apply(PriceUpdate("BTC-USD", "s", D(49500)))
    assert _steps(result.events) == [("book", D(1), D(49495), D(495))]
    assert engine.state.insurance_fund == D(495)


def test_dydx_does_not_fill_below_the_fillable_price() -> None:
    # as above, but the book bids 49,480 < fillable 49,491: nothing fills, alice waits at liquidation
    engine = _dydx(BookDepth({"BTC-USD": [(D(49480), D(10))]}))
    result = engine.apply(PriceUpdate("BTC-USD", "s", D(49500)))
    assert _steps(result.events) == []
    assert engine.state.accounts["alice"].level == "liquidation"


def test_dydx_fund_pays_a_fill_below_the_bankruptcy_quote() -> None:
    # oracle 48,900: TNC = 1,000 − 1,100 = −100, MMR = 586.8; ABR = clamp(1 + 100/586.8) = 1,
    # spread 0.1 × 586.8 = 58.68 → fillable 48,841.32 → 48,842; the book bids 48,850: fills.
    # Bankruptcy quote = 48,900 − (−100) = 49,000; fill 48,850 → delta −150: the fund pays 150.
    engine = _dydx(BookDepth({"BTC-USD": [(D(48850), D(10))]}), fund=D(1000))
    result = engine.apply(PriceUpdate("BTC-USD", "s", D(48900)))
    assert _steps(result.events) == [("book", D(1), D(48850), D(0))]
    assert [e.delta for e in result.events if isinstance(e, InsuranceFundChanged)] == [D(-150)]
    assert engine.state.insurance_fund == D(850)
    assert engine.margin_from_scratch("alice").equity == 0


# ---------------------------------------------------------------- Hyperliquid


def _hyperliquid(mark: Decimal) -> tuple[Engine, tuple[object, ...]]:
    # alice: 1,000 USDC, long 1 BTC at 60,000; BTC MM rate 1/(2 × 40) = 1.25 %
    engine = _engine("hyperliquid", "USDC", BookDepth({"BTC": [(mark - 10, D(10))]}))
    _open(engine, "BTC", "USDC", D(1000), D(60000), D(1))
    return engine, engine.apply(PriceUpdate("BTC", "s", mark)).events


def test_hyperliquid_backstop_takes_over_below_two_thirds_of_maintenance_margin() -> None:
    # mark 59,400: equity 400, MM 742.5, 2/3 MM = 495 > 400 → the liquidator vault takes the
    # position at the mark and the 400 left (not returned to the trader)
    engine, events = _hyperliquid(D(59400))
    assert _steps(events) == [("backstop", D(1), D(59400), D(0))]
    assert engine.state.accounts["liquidator_vault"].balances["USDC"] == D(400)
    assert engine.margin_from_scratch("alice").equity == 0


def test_hyperliquid_above_two_thirds_closes_the_whole_position_on_the_book_without_a_fee() -> None:
    # mark 59,500: equity 500, MM 743.75, 2/3 MM = 495.83… ≤ 500 → market liquidation of the whole
    # position (notional 59,500 < 100,000: no chunk) at the bid 59,490; no clearance fee; alice keeps 490
    engine, events = _hyperliquid(D(59500))
    assert _steps(events) == [("book", D(1), D(59490), D(0))]
    assert engine.margin_from_scratch("alice").equity == D(490)


# ---------------------------------------------------------------- Drift


def test_drift_escalates_the_liquidator_fee_after_the_grace_period() -> None:
    # base 0.5 %, cap 5 %, grace 600,000 ms, +2.5e-9 per ms (Drift: 1e-6 a 400 ms slot)
    assert drift_liquidator_fee(D("0.005"), D("0.05"), 599_999, 600_000, D("0.0000000025")) == D("0.005")
    assert drift_liquidator_fee(D("0.005"), D("0.05"), 1_000_000, 600_000, D("0.0000000025")) == D("0.0075")
    assert drift_liquidator_fee(D("0.005"), D("0.05"), 30_000_000, 600_000, D("0.0000000025")) == D("0.05")
    with pytest.raises(InvalidInput):
        drift_liquidator_fee(D("0.005"), D("0.05"), -1, 0, D(0))


def test_drift_liquidator_takes_the_base_that_covers_the_shortage_at_the_oracle_less_its_fee() -> None:
    # alice: 144.32 USDC, long 20 SOL-PERP at 100. Oracle 96: equity 144.32 − 80 = 64.32 < MM
    # 0.05 × 1,920 = 96. Shortage to the target 1.02 × 96 = 97.92 is 33.6; each base unit frees
    # 96 × (0.05 − 0.0075) = 4.08 and costs the fund's 96 × 0.0075 = 0.72 → base 33.6 / 3.36 = 10.
    # The liquidator pays 96 × (1 − 0.0075) = 95.28; the fund takes 10 × 96 × 0.0075 = 7.2.
    # Equity after: 64.32 − 10 × 0.72 − 7.2 = 49.92 ≥ 1.02 × 0.05 × 960 = 48.96: done.
    engine = _engine("drift", "USDC")
    _open(engine, "SOL-PERP", "USDC", D("144.32"), D(100), D(20))
    result = engine.apply(PriceUpdate("SOL-PERP", "s", D(96)))
    assert _steps(result.events) == [("book", D(10), D("95.28"), D("7.2"))]
    assert engine.margin_from_scratch("alice").equity == D("49.92")
    assert engine.state.accounts["alice"].level != "liquidation"


def test_drift_socialises_a_bankruptcy_the_fund_cannot_pay_over_the_markets_open_positions() -> None:
    # alice: 100 USDC, long 20 SOL at 100 from bob; carol long 10 from dave. Oracle 91: alice's
    # equity 100 − 180 = −80. The liquidator takes all 20 at 91 × 0.9925 = 90.3175: equity
    # −80 − 20 × 0.6825 = −93.65; no fund. The loss is charged over the open interest left:
    # book 20 long, carol 10 long, bob 20 short, dave 10 short = 60 → ⌈93.65/60⌉ (1e-6) = 1.560834
    # per SOL: bob and the book 31.21668 each, carol and dave 15.60834 each (93.65004 in all);
    # alice gets 93.65, the 0.00004 rounding goes to the fund. Nothing is written off.
    engine = _engine("drift", "USDC")
    _open(engine, "SOL-PERP", "USDC", D(100), D(100), D(20))
    for cmd in (Deposit("carol", "USDC", D(10000)), Deposit("dave", "USDC", D(10000)),
                Fill("t2", "SOL-PERP", D(100), D(10), "carol", "dave")):
        assert engine.apply(cmd).accepted
    result = engine.apply(PriceUpdate("SOL-PERP", "s", D(91)))
    assert _steps(result.events) == [("book", D(20), D("90.3175"), D(0))]
    charged = {e.account_id: e.delta for e in result.events
               if isinstance(e, BalanceChanged) and e.reason == "socialised loss alice"}
    assert charged == {"bob": D("-31.21668"), "book": D("-31.21668"), "carol": D("-15.60834"),
                       "dave": D("-15.60834")}
    assert not [e for e in result.events if isinstance(e, LossSocialised)]
    assert engine.state.insurance_fund == D("0.00004") and engine.state.socialised_loss == 0
    assert engine.margin_from_scratch("alice").equity == 0
    assert engine.hidden_bad_debt() == {}
    for held, net in engine.conservation().values():
        assert held == net


def test_policy_fields_replay_through_the_codec() -> None:
    config = EngineConfig(load_venue("drift"), settle_asset="USDC",
                          liquidation=dataclasses.replace(LiquidationPolicy(), venue_rules=False))
    assert decode_config(encode_config(config)) == config


# ---------------------------------------------------------------- prices on the grid


def _eth_book_liquidation(**policy: object) -> tuple[Engine, tuple[object, ...]]:
    # Hyperliquid ETH has no tick (its prices follow a significant-figures rule), so the engine's
    # price step is the money quantum 10^-8. alice: 300 USDC, long 3 ETH at 3,000; ETH MM rate
    # 1/(2 × 25) = 2 %. At a mark of 2,940: equity 300 + 3 × (2,940 − 3,000) = 120, MM 0.02 × 8,820
    # = 176.4, 2/3 MM = 117.6 ≤ 120 < 176.4 → the whole position (notional 8,820 < 100,000: no
    # chunk) is sold on the book: 1 at 2,939 and 2 at 2,938, average 8,815 / 3 = 2,938.333…
    book = BookDepth({"ETH": [(D(2939), D(1)), (D(2938), D(2))]})
    engine = _engine("hyperliquid", "USDC", book, **policy)
    _open(engine, "ETH", "USDC", D(300), D(3000), D(3))
    return engine, engine.apply(PriceUpdate("ETH", "s", D(2940))).events


def test_a_fill_without_a_tick_is_rounded_to_the_money_quantum_against_the_account() -> None:
    # 2,938.333… rounded down (a long's close sells) to 10^-8: 2,938.33333333. alice's balance:
    # 300 + 3 × (2,938.33333333 − 3,000) = 300 − 185.00000001 = 114.99999999; no clearance fee
    engine, events = _eth_book_liquidation()
    assert _steps(events) == [("book", D(3), D("2938.33333333"), D(0))]
    assert engine.state.accounts["alice"].balances["USDC"] == D("114.99999999")
    assert engine.config.price_step("ETH") == D("0.00000001")
    for asset, (held, net) in engine.conservation().items():
        assert held == net, asset


def test_a_journal_from_before_revision_2_replays_the_unrounded_price() -> None:
    # the same liquidation as an older engine ran it: the VWAP 8,815 / 3 at the engine's working
    # precision, 40 significant digits: 2,938. followed by 36 threes
    _, events = _eth_book_liquidation(revision=1)
    assert _steps(events) == [("book", D(3), D("2938." + "3" * 36), D(0))]
    raw = encode_config(EngineConfig(load_venue("hyperliquid"), settle_asset="USDC", liquidation=LiquidationPolicy()))
    assert raw["liquidation"]["revision"] == LIQUIDATION_REVISION == 8
    old = {**raw, "liquidation": {k: v for k, v in raw["liquidation"].items() if k != "revision"}}
    legacy = decode_config(old).liquidation
    assert legacy is not None and legacy.revision == 1
    with pytest.raises(ValueError, match="revision"):
        LiquidationPolicy(revision=9)


# ---------------------------------------------------------------- entry-value MM, partial close


def _bybit_generic(revision: int) -> tuple[Engine, tuple[object, ...]]:
    # bybit-linear BTCUSDT: MM 0.5 % of the ENTRY value (first tier, no deduction), trigger
    # equity ≤ MM. Generic procedure (venue_rules off), no fee, target MM_after × 1.02.
    # alice: 6,000 USDT, long 2 BTC at 60,000 (cost 120,000, MM 600). Mark 57,200: equity
    # 6,000 + 2 × (57,200 − 60,000) = 400 ≤ 600. The book bids 57,200 for 10: selling there
    # leaves equity at 400.
    engine = _engine("bybit-linear", "USDT", BookDepth({"BTCUSDT": [(D(57200), D(10))]}),
                     venue_rules=False, fee_rate=D(0), revision=revision)
    _open(engine, "BTCUSDT", "USDT", D(6000), D(60000), D(2))
    return engine, engine.apply(PriceUpdate("BTCUSDT", "s", D(57200))).events


def test_an_entry_value_mm_partial_close_counts_only_the_cost_the_rest_keeps() -> None:
    # selling q leaves cost 60,000 × (2 − q), MM 300 × (2 − q); the smallest q (lot 0.001) with
    # 400 ≥ 1.02 × 300 × (2 − q) = 612 − 306 q is q ≥ 212 / 306 = 0.69281…, so q = 0.693
    # (rest cost 78,420, MM 392.1, × 1.02 = 399.942 ≤ 400; at 0.692: 78,480 → 400.248 > 400).
    # alice's balance: 6,000 + 0.693 × 57,200 − 41,580 = 4,059.6; equity still 400.
    engine, events = _bybit_generic(2)
    assert _steps(events) == [("book", D("0.693"), D(57200), D(0))]
    assert engine.state.accounts["alice"].balances["USDT"] == D("4059.6")
    margin = engine.margin_from_scratch("alice")
    assert (margin.equity, margin.maintenance_margin) == (D(400), D("392.1"))


def test_revision_1_sized_the_rest_with_the_whole_cost_and_closed_everything() -> None:
    # with the rest's MM read from the whole cost (600 for any rest), 400 ≥ 612 is never met
    # short of a full close: the whole 2 BTC were sold
    _, events = _bybit_generic(1)
    assert _steps(events) == [("book", D(2), D(57200), D(0))]
