"""The profile's fund rule: Bybit's contract PnL drawdown ADL (``risk/fund_rules.py``).

Expected values come from Bybit's own worked example (API v5 "Get ADL Alert", example 1: a pool
of 1M USDT, market A loses 350K, pnlRatio −35 % < −30 %: ADL fires and "users subsidise 50K" so
that A's pnlRatio is held at −30 %) and from hand computations written out in each test.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from solvent.engine import Engine, EngineConfig
from solvent.engine.commands import AdvanceTime, Deposit, Fill, FundInsurance, PriceUpdate
from solvent.engine.config import LiquidationPolicy
from solvent.engine.events import AutoDeleveraged, FundDrawdownAdl, InsuranceFundChanged, LiquidationStep
from solvent.engine.liquidity import BookDepth
from solvent.engine.state_digest import state_hash
from solvent.errors import InvalidInput
from solvent.journal.codec import CodecError, decode_profile
from solvent.journal.snapshot import decode_state, encode_state
from solvent.risk.fund_rules import FundRule, FundWatch, MarketFundPnl, RunningMax, cover_limit, parse_fund_rule
from solvent.risk.venues import bundled_sha256, load_venue

D = Decimal
BTC = "BTCUSDT"
HOUR = 3_600_000
BYBIT = FundRule(8 * HOUR, D("-0.3"), D("-0.25"), D(10_000))


# --- the rule on its own ---------------------------------------------------------------------

def test_the_bundled_bybit_rule_is_the_published_one() -> None:
    """insurancePnlRatio −0.3, adlStopRatio −0.25, adlTriggerThreshold 10000, 8-hour window."""
    rule = load_venue("bybit-linear", overlays=False).liquidation.fund_rule
    assert rule is not None
    assert (rule.window_ms, rule.trigger_ratio, rule.stop_ratio, rule.balance_threshold) == (
        28_800_000, D("-0.3"), D("-0.25"), D(10_000))
    assert "adl-alert" in rule.source


def test_bybit_example_1_the_fund_pays_down_to_minus_30_percent() -> None:
    """Pool 1M, no PnL in A over the window: A's deficits may take its PnL to −0.3 × 1M =
    −300K, so of a 350K loss the fund pays 300K and 50K is left to ADL."""
    watch = FundWatch(RunningMax(D(1_000_000)))
    limit, in_adl = cover_limit(BYBIT, watch, "A", D(1_000_000), 0)
    assert (limit, in_adl) == (D(300_000), False)
    assert D(350_000) - limit == D(50_000)


def test_the_limit_counts_from_the_markets_8_hour_peak_and_the_pools_8_hour_peak() -> None:
    """A earned 40K at t = 1 h (PnL 0 → 40K) and paid 100K at t = 2 h (→ −60K); the pool stood
    at 1.2M until t = 2 h and at 1.1M since. At t = 3 h: drawdown = −60K − 40K = −100K, maximum
    balance 1.2M, so the fund may pay −100K + 0.3 × 1.2M = 260K more. At t = 10.5 h the 40K peak
    (it ended at 2 h) has left the window: drawdown 0, maximum balance 1.1M: 330K."""
    pnl = RunningMax().moved(HOUR, D(40_000), 8 * HOUR).moved(2 * HOUR, D(-60_000), 8 * HOUR)
    balance = RunningMax(D(1_200_000)).moved(2 * HOUR, D(1_100_000), 8 * HOUR)
    watch = FundWatch(balance, (MarketFundPnl("A", pnl),))
    assert cover_limit(BYBIT, watch, "A", D(1_100_000), 3 * HOUR) == (D(260_000), False)
    assert cover_limit(BYBIT, watch, "A", D(1_100_000), 10 * HOUR + HOUR // 2) == (D(330_000), False)
    # another market has its own PnL: nothing paid there, so 0.3 × 1.2M at t = 3 h
    assert cover_limit(BYBIT, watch, "B", D(1_100_000), 3 * HOUR) == (D(360_000), False)


def test_adl_goes_on_until_the_ratio_is_above_the_stop_ratio() -> None:
    """A in ADL at drawdown −260K on a 1M peak (−0.26 ≤ −0.25): the fund pays nothing. At −250K
    (−0.25, not above it) still nothing; at −249,999.99 (above −0.25) ADL ends and the fund may
    pay −249,999.99 + 300K = 50,000.01."""
    for drawdown, expected in ((D(-260_000), (D(0), True)), (D(-250_000), (D(0), True)),
                               (D("-249999.99"), (D("50000.01"), False))):
        pnl = RunningMax().moved(HOUR, drawdown, 8 * HOUR)
        watch = FundWatch(RunningMax(D(1_000_000)), (MarketFundPnl("A", pnl, adl=True),))
        assert cover_limit(BYBIT, watch, "A", D(1_000_000), 2 * HOUR) == expected


def test_at_or_below_the_balance_threshold_the_rule_does_not_apply() -> None:
    watch = FundWatch(RunningMax(D(10_000)))
    assert cover_limit(BYBIT, watch, "A", D(10_000), 0) == (None, False)
    assert cover_limit(BYBIT, FundWatch(RunningMax(D("10000.01"))), "A", D("10000.01"), 0)[0] == D("3000.003")


def test_a_value_counts_until_it_changed_not_only_when_it_was_set() -> None:
    """10 at t = 0, 5 at t = 1 h, 7 at t = 2 h: over (1.5 h, 9.5 h] the values standing were 5
    (until 2 h) and 7: maximum 7, not the 10 set before the window (it ended at 1 h); over
    (0.5 h, 8.5 h] the 10 still stood at 0.5 h–1 h: maximum 10."""
    level = RunningMax(D(10)).moved(HOUR, D(5), 8 * HOUR).moved(2 * HOUR, D(7), 8 * HOUR)
    assert level.maximum(9 * HOUR + HOUR // 2, 8 * HOUR) == D(7)
    assert level.maximum(8 * HOUR + HOUR // 2, 8 * HOUR) == D(10)
    assert level.maximum(30 * HOUR, 8 * HOUR) == D(7)


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "balance_le_0"}, "kind must be pnl_drawdown"),
    ({"window_ms": 0}, "window_ms"),
    ({"window_ms": True}, "window_ms"),
    ({"trigger_ratio": "0.3"}, "trigger_ratio must be in [-1, 0)"),
    ({"stop_ratio": "-0.35"}, "stop_ratio must be above trigger_ratio"),
    ({"stop_ratio": "0.1"}, "stop_ratio must be above trigger_ratio"),
    ({"balance_threshold": "-1"}, "balance_threshold must be >= 0"),
    ({"ratio": "1"}, "takes no ratio"),
])
def test_a_bad_rule_is_refused_naming_the_field(change: dict[str, object], message: str) -> None:
    raw: dict[str, object] = {"kind": "pnl_drawdown", "window_ms": 28_800_000, "trigger_ratio": "-0.3",
                              "stop_ratio": "-0.25", "balance_threshold": "10000", **change}
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        parse_fund_rule(raw, "liquidation.fund_rule")


# --- in the engine ---------------------------------------------------------------------------

def _engine(revision: int | None = None) -> Engine:
    """bybit-linear, a fund of 1,000,000 USDT. alice (280,000 USDT) buys 14 BTC at 100,000 from
    bob (10,000,000 USDT). The book bids 55,000 for any size."""
    book = BookDepth(bids={BTC: [(D(55000), D(1_000))]})
    policy = LiquidationPolicy(liquidity=book) if revision is None else LiquidationPolicy(liquidity=book,
                                                                                         revision=revision)
    engine = Engine(EngineConfig(load_venue("bybit-linear", overlays=False), liquidation=policy))
    for cmd in (AdvanceTime(1_000), Deposit("book", "USDT", D(10) ** 9), Deposit("bob", "USDT", D(10_000_000)),
                Deposit("alice", "USDT", D(280_000)), FundInsurance(D(1_000_000)),
                PriceUpdate(BTC, "s", D(100_000)), Fill("t1", BTC, D(100_000), D(14), "alice", "bob")):
        assert engine.apply(cmd).accepted, cmd
    return engine


def test_the_funds_balance_after_each_command_joins_the_window() -> None:
    """Before any liquidation the rule already holds the fund's balance after the deposit (1M,
    since t = 1 s; the 0 before it ended then); a second deposit of 500,000 at t = 2 h ends the
    1M there (and the 0, lower, is no peak any more). At 9 h the 1M is still inside the window
    (it stood until 2 h); the maximum is the 1.5M either way."""
    engine = _engine()
    watch = engine.state.fund_watch
    assert watch is not None and watch.balance == RunningMax(D(1_000_000), ((1_000, D(0)),))
    assert engine.apply(AdvanceTime(2 * HOUR)).accepted and engine.apply(FundInsurance(D(500_000))).accepted
    watch = engine.state.fund_watch
    assert watch is not None and watch.balance == RunningMax(D(1_500_000), ((2 * HOUR, D(1_000_000)),))
    assert watch.balance.maximum(9 * HOUR, 8 * HOUR) == D(1_500_000)


def _gap(engine: Engine, price: Decimal, at_ms: int) -> list[object]:
    """BTC's mark gaps to ``price``: the events of the commands that moved it."""
    return _gap_symbol(engine, BTC, price, at_ms)


def _gap_symbol(engine: Engine, symbol: str, price: Decimal, at_ms: int) -> list[object]:
    """``symbol``'s mark gaps to ``price`` (the jump guard holds it until confirmed): the events
    of the commands that moved it."""
    engine.apply(AdvanceTime(at_ms))
    events: list[object] = []
    for _ in range(4):
        result = engine.apply(PriceUpdate(symbol, "s", price))
        assert result.accepted
        events += result.events
        if engine.state.markets[symbol].mark == price:
            return events
    raise AssertionError(f"the mark never reached {price}")


def _fund_moves(events: list[object]) -> list[Decimal]:
    return [e.delta for e in events if isinstance(e, InsuranceFundChanged)]


def test_bybit_example_1_in_the_engine() -> None:
    """The mark gaps from 100,000 to 55,000. alice: equity 280,000 + 14 × (55,000 − 100,000) =
    −350,000; bankruptcy price 100,000 − 280,000 / 14 = 80,000; the book's 55,000 is 25,000 a
    BTC below it: a shortfall of 350,000 against a fund of 1,000,000, whose 8-hour peak is
    1,000,000. The fund may pay 0.3 × 1,000,000 = 300,000: 12 of the 14 BTC (12 × 25,000) go to
    the book, and 2 BTC are deleveraged against bob at 80,000. bob's short realises 2 × (100,000
    − 80,000) = 40,000 on them instead of 90,000 at the mark: the users' subsidy is 50,000, as in
    Bybit's example. alice after the ADL: 280,000 − 40,000 + 12 × (55,000 − 100,000) = −300,000,
    which the fund pays: 700,000 left, the market's PnL ratio −300,000 / 1,000,000 = −0.30."""
    engine = _engine()
    events = _gap(engine, D(55_000), 60_000)
    adl = [e for e in events if isinstance(e, AutoDeleveraged)]
    assert [(e.account_id, e.counterparty, e.qty, e.price) for e in adl] == [("alice", "bob", D(2), D(80_000))]
    book = [e for e in events if isinstance(e, LiquidationStep)]
    assert [(e.qty, e.price) for e in book] == [(D(12), D(55_000))]
    assert _fund_moves(events) == [D(-300_000)]
    assert engine.state.insurance_fund == D(700_000)
    assert [e for e in events if isinstance(e, FundDrawdownAdl)] == [
        FundDrawdownAdl(BTC, True, D(0), D(1_000_000))]
    watch = engine.state.fund_watch
    assert watch is not None and watch.market(BTC).pnl.value == D(-300_000) and watch.market(BTC).adl
    assert engine.state.accounts["alice"].balances["USDT"] == 0
    assert not engine.state.accounts["alice"].positions or all(
        p.qty == 0 for p in engine.state.accounts["alice"].positions.values())


def test_before_revision_5_the_fund_pays_the_whole_shortfall() -> None:
    """The same book on liquidation revision 4 (journals written before fund rules): the fund
    holds more than the 350,000 shortfall, so it pays it all and nobody is deleveraged."""
    engine = _engine(revision=4)
    events = _gap(engine, D(55_000), 60_000)
    assert not [e for e in events if isinstance(e, AutoDeleveraged | FundDrawdownAdl)]
    assert _fund_moves(events) == [D(-350_000)]
    assert engine.state.fund_watch is None


def _second_bankruptcy(engine: Engine, name: str, at_ms: int) -> list[object]:
    """``name`` (2,500 USDT) buys 1 BTC at 60,000 from bob, then the mark gaps back to 55,000:
    equity 2,500 − 5,000 = −2,500, bankruptcy 57,500, the book 2,500 below it."""
    _gap(engine, D(60_000), at_ms)
    for cmd in (Deposit(name, "USDT", D(2_500)), Fill(f"{name}-1", BTC, D(60_000), D(1), name, "bob")):
        assert engine.apply(cmd).accepted, cmd
    return _gap(engine, D(55_000), at_ms + 60_000)


def test_a_market_in_drawdown_adl_stays_there_until_its_ratio_recovers() -> None:
    """After example 1 BTC is in drawdown ADL at −0.30 (≤ −0.25). carol's 2,500 shortfall an
    hour later is deleveraged in full (1 BTC against bob at 57,500); the fund pays nothing. Nine
    hours after the first crash the window holds only PnL −300,000 (the 0 before it ended at the
    crash) and balance 700,000: drawdown 0, ratio 0 > −0.25, so ADL ends, and dave's 2,500
    shortfall is paid by the fund (limit 0.3 × 700,000 = 210,000)."""
    engine = _engine()
    _gap(engine, D(55_000), 60_000)
    carol = _second_bankruptcy(engine, "carol", HOUR)
    assert [(e.account_id, e.qty, e.price) for e in carol if isinstance(e, AutoDeleveraged)] == [
        ("carol", D(1), D(57_500))]
    assert not [d for d in _fund_moves(carol) if d < 0]
    dave = _second_bankruptcy(engine, "dave", 9 * HOUR + 60_000)
    assert not [e for e in dave if isinstance(e, AutoDeleveraged)]
    assert _fund_moves(dave) == [D(-2_500)]
    assert [e for e in dave if isinstance(e, FundDrawdownAdl)] == [FundDrawdownAdl(BTC, False, D(0), D(700_000))]


def test_the_rule_state_is_in_the_snapshot_and_the_state_hash() -> None:
    engine = _engine()
    _gap(engine, D(55_000), 60_000)
    assert engine.state.fund_watch is not None
    restored = decode_state(encode_state(engine.state))
    assert restored.fund_watch == engine.state.fund_watch
    assert engine.state_hash() == state_hash(engine.state) == state_hash(restored)
    from test_state_digest import independent_v3  # the hash written from its documentation

    assert independent_v3(engine.state) == engine.state_hash()
    before = state_hash(engine.state)
    watch = engine.state.fund_watch
    engine.state.fund_watch = watch.with_market(MarketFundPnl(BTC, watch.market(BTC).pnl, adl=False))
    assert state_hash(engine.state) != before


def test_a_journal_of_the_profile_as_shipped_before_keeps_replaying_on_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """bybit-linear gained its fund rule in December 2026; a journal that recorded the earlier
    file's digest gets that file back (``profiles/history/``), one naming an unknown digest is
    refused."""
    earlier = "d6557801d8ecbd50f5733f1237cb5e4507b9a74974e7f005b4f4fffe265cec19"
    assert bundled_sha256("bybit-linear") != earlier
    old = decode_profile({"name": "bybit-linear", "bundled": True, "sha256": earlier})
    assert old.liquidation.fund_rule is None
    now = decode_profile({"name": "bybit-linear", "bundled": True, "sha256": bundled_sha256("bybit-linear")})
    assert now.liquidation.fund_rule is not None
    # nothing else changed but the leverage grid, which came later (tests/test_leverage_step.py)
    assert replace(now, liquidation=replace(now.liquidation, fund_rule=None), leverage_step=None) == old
    with pytest.raises(CodecError, match="keeps no earlier version"):
        decode_profile({"name": "bybit-linear", "bundled": True, "sha256": "0" * 64})
    from solvent.journal import codec

    monkeypatch.setattr(codec, "bundled_profile_at", lambda name, sha256: None)  # as if the kept file were edited
    with pytest.raises(CodecError, match="no longer has that digest"):
        decode_profile({"name": "bybit-linear", "bundled": True, "sha256": earlier})


def test_a_shortfall_beyond_the_whole_fund_still_gets_the_rules_share() -> None:
    """alice (1,120,000 USDT) long 56 BTC from 100,000: bankruptcy 100,000 − 1,120,000 / 56 =
    80,000; at the book's 55,000 the shortfall is 56 × 25,000 = 1,400,000, more than the fund's
    1,000,000. The rule still lets the fund pay 300,000: 12 BTC (12 × 25,000) go to the book and
    44 are deleveraged (on other venues, where no rule applies, all 56 would be)."""
    book = BookDepth(bids={BTC: [(D(55000), D(1_000))]})
    engine = Engine(EngineConfig(load_venue("bybit-linear", overlays=False), liquidation=LiquidationPolicy(
        liquidity=book)))
    for cmd in (AdvanceTime(1_000), Deposit("book", "USDT", D(10) ** 9), Deposit("bob", "USDT", D(10) ** 8),
                Deposit("alice", "USDT", D(1_120_000)), FundInsurance(D(1_000_000)),
                PriceUpdate(BTC, "s", D(100_000)), Fill("t1", BTC, D(100_000), D(56), "alice", "bob")):
        assert engine.apply(cmd).accepted, cmd
    events = _gap(engine, D(55_000), 60_000)
    assert [(e.qty, e.price) for e in events if isinstance(e, AutoDeleveraged)] == [(D(44), D(80_000))]
    assert [(e.qty, e.price) for e in events if isinstance(e, LiquidationStep)] == [(D(12), D(55_000))]
    assert _fund_moves(events) == [D(-300_000)]
    assert [e.started for e in events if isinstance(e, FundDrawdownAdl)] == [True]


def _two_markets() -> Engine:
    """bybit-linear with a second market ETHUSDT (BTC's specs under another name, for the test)."""
    profile = load_venue("bybit-linear", overlays=False)
    instruments = {**profile.instruments, "ETHUSDT": replace(profile.instruments[BTC], symbol="ETHUSDT", base="ETH")}
    profile = replace(profile, instruments=instruments, rules={**profile.rules, "ETHUSDT": profile.rules[BTC]})
    book = BookDepth(bids={BTC: [(D(55000), D(1_000))], "ETHUSDT": [(D(55000), D(1_000))]})
    engine = Engine(EngineConfig(profile, liquidation=LiquidationPolicy(liquidity=book)))
    for cmd in (AdvanceTime(1_000), Deposit("book", "USDT", D(10) ** 9), Deposit("bob", "USDT", D(10) ** 8),
                Deposit("alice", "USDT", D(560_000)), FundInsurance(D(1_000_000)),
                PriceUpdate(BTC, "s", D(100_000)), PriceUpdate("ETHUSDT", "s", D(100_000)),
                Fill("t1", BTC, D(100_000), D(14), "alice", "bob"),
                Fill("t2", "ETHUSDT", D(100_000), D(14), "alice", "bob")):
        assert engine.apply(cmd).accepted, cmd
    return engine


def test_a_cross_accounts_payment_is_counted_in_the_markets_it_paid_for() -> None:
    """alice, cross, long 14 BTC and 14 ETH from 100,000 on 560,000 USDT; ETH's mark gaps to
    55,000, BTC's stays at 100,000, and both books bid only 55,000. Equity 560,000 − 14 × 45,000
    = −70,000, all of it lost in ETH, so ETH's bankruptcy price is 55,000 + 70,000 / 14 = 60,000
    and BTC's is its mark, 100,000. BTC (the larger MM) is closed first: its shortfall at the
    book is 14 × 45,000 = 630,000, above BTC's limit 0.3 × 1,000,000: the fund keeps
    ⌊14 × 300,000 / 630,000⌋ = 6.666 BTC (299,970) and 7.334 BTC are deleveraged at 100,000;
    BTC is in drawdown ADL. ETH's shortfall, 14 × 5,000 = 70,000, is within its own limit and
    within the fund less what BTC's close left to it. The fund pays 369,970 once the account is
    closed, counted 299,970 in BTC and 70,000 in ETH."""
    engine = _two_markets()
    events = _gap_symbol(engine, "ETHUSDT", D(55_000), 60_000)
    assert [(e.symbol, e.qty, e.price) for e in events if isinstance(e, AutoDeleveraged)] == [
        (BTC, D("7.334"), D(100_000))]
    assert _fund_moves(events) == [D(-369_970)]
    watch = engine.state.fund_watch
    assert watch is not None
    assert (watch.market(BTC).pnl.value, watch.market(BTC).adl) == (D(-299_970), True)
    assert (watch.market("ETHUSDT").pnl.value, watch.market("ETHUSDT").adl) == (D(-70_000), False)


def test_two_closes_in_one_market_share_its_limit() -> None:
    """alice in hedge mode: 14 BTC long from 100,000 against bob, then 7 BTC short from 100,000
    against carol, on 10,000 USDT: the second fill takes her MM (0.5 % of 2.1M entry value,
    10,500) above her equity. The books bid 55,000 and ask 145,000, so each leg closes about
    44,500 a BTC beyond its bankruptcy price: shortfalls of about 623,000 and 312,000. The two
    closes share BTC's one limit, 300,000 (the first close's, decided but paid only once the
    account is closed, counts against the second's): the fund pays at most that, within a
    tick a BTC of rounding, and the rest is deleveraged. Counted apart, each leg would have
    kept about 300,000. BTC enters drawdown ADL once and stays there."""
    from solvent.model import PositionSide

    book = BookDepth(bids={BTC: [(D(55000), D(1_000))]}, asks={BTC: [(D(145000), D(1_000))]})
    engine = Engine(EngineConfig(load_venue("bybit-linear", overlays=False), liquidation=LiquidationPolicy(
        liquidity=book)))
    for cmd in (AdvanceTime(1_000), Deposit("book", "USDT", D(10) ** 9), Deposit("bob", "USDT", D(10) ** 8),
                Deposit("carol", "USDT", D(10) ** 8), Deposit("alice", "USDT", D(10_000)),
                FundInsurance(D(1_000_000)), PriceUpdate(BTC, "s", D(100_000)),
                Fill("t1", BTC, D(100_000), D(14), "alice", "bob", buyer_position_side=PositionSide.LONG)):
        assert engine.apply(cmd).accepted, cmd
    result = engine.apply(Fill("t2", BTC, D(100_000), D(7), "carol", "alice", seller_position_side=PositionSide.SHORT))
    events = list(result.events)
    assert {e.counterparty for e in events if isinstance(e, AutoDeleveraged)} == {"bob", "carol"}
    paid = -sum((d for d in _fund_moves(events) if d < 0), D(0))
    assert D(250_000) < paid <= D(300_000) + 21 * D("0.1")
    assert [e.started for e in events if isinstance(e, FundDrawdownAdl)] == [True]
    watch = engine.state.fund_watch
    assert watch is not None and watch.market(BTC).pnl.value == -paid and watch.market(BTC).adl


def test_the_report_says_where_each_market_stands_as_bybits_adl_alert_does() -> None:
    """After example 1: the fund's 8-hour peak 1,000,000; BTC's fund PnL −300,000 from a peak of
    0, so pnl_ratio −300,000 / 1,000,000 = −0.3, in drawdown ADL. Revision 4 has no rule."""
    from solvent.engine.fund_watch import fund_rule_report

    engine = _engine()
    _gap(engine, D(55_000), 60_000)
    report = fund_rule_report(engine.config, engine.state)
    assert report == {"kind": "pnl_drawdown", "window_ms": 28_800_000, "trigger_ratio": "-0.3", "stop_ratio": "-0.25",
                      "balance_threshold": "10000", "max_balance": "1000000",
                      "markets": [{"symbol": BTC, "pnl": "-300000", "drawdown": "-300000", "pnl_ratio": "-0.3",
                                   "drawdown_adl": True}]}
    old = _engine(revision=4)
    assert fund_rule_report(old.config, old.state) is None
    # nine hours on, the window holds only the −300,000 (drawdown 0): ADL is no longer in force,
    # though the engine clears its flag only when BTC next needs the fund
    assert engine.apply(AdvanceTime(9 * HOUR + 60_000)).accepted
    later = fund_rule_report(engine.config, engine.state)
    assert later is not None and later["markets"][0]["drawdown"] == "0"
    assert later["markets"][0]["drawdown_adl"] is False
    watch = engine.state.fund_watch
    assert watch is not None and watch.market(BTC).adl


def test_the_service_shows_the_fund_rule_with_the_insurance_fund() -> None:
    """``GET /v1/insurance-fund`` on a bybit-linear service names the rule with the fund (no
    market has a fund PnL yet); on binance-usdm, which has no rule, ``fund_rule`` is null."""
    from litestar.testing import TestClient

    from solvent.service import KeyStore, Role, build_service, create_app

    for venue, expected in (("bybit-linear", "pnl_drawdown"), ("binance-usdm", None)):
        keys = KeyStore()
        key = keys.issue(Role.OPERATOR)
        svc = build_service(keys, config=EngineConfig(load_venue(venue, overlays=False),
                                                      liquidation=LiquidationPolicy()))
        with TestClient(create_app(svc)) as client:
            body = client.get("/v1/insurance-fund", headers={"X-API-Key": key}).json()
        rule = body["fund_rule"]
        assert (rule and rule["kind"]) == expected
        if rule:
            assert (rule["trigger_ratio"], rule["markets"]) == ("-0.3", [])


def test_explain_says_the_fund_rule_stopped_the_fund(tmp_path: Path) -> None:
    """Example 1 journaled: ``solvent explain`` of the record that liquidated alice lists the
    rule's start beside the ADL and the fund's payment, so a reader sees why the fund paid
    300,000 of 350,000 while it held 1,000,000."""
    from solvent.journal import SqliteBackend
    from solvent.journal.durable_engine import DurableEngine
    from solvent.journal.explain import explain, render_explanation

    template = _engine()
    durable = DurableEngine(SqliteBackend(tmp_path / "j.sqlite"), template.config)
    book = BookDepth(bids={BTC: [(D(55000), D(1_000))]})
    assert template.config.liquidation == LiquidationPolicy(liquidity=book)
    for cmd in (AdvanceTime(1_000), Deposit("book", "USDT", D(10) ** 9), Deposit("bob", "USDT", D(10_000_000)),
                Deposit("alice", "USDT", D(280_000)), FundInsurance(D(1_000_000)),
                PriceUpdate(BTC, "s", D(100_000)), Fill("t1", BTC, D(100_000), D(14), "alice", "bob"),
                AdvanceTime(60_000)):
        assert durable.apply(cmd).accepted
    seq = None
    for _ in range(4):
        result = durable.apply(PriceUpdate(BTC, "s", D(55_000)))
        if any(isinstance(e, FundDrawdownAdl) for e in result.events):
            seq = durable.seq
    durable.close()
    assert seq is not None
    answer = explain(SqliteBackend(tmp_path / "j.sqlite", read_only=True), seq)
    liquidation = answer["liquidation"]
    assert [(f["symbol"], f["started"], f["max_balance"]) for f in liquidation["fund_rule"]] == [
        (BTC, True, "1000000")]
    assert "BTCUSDT entered drawdown ADL" in render_explanation(answer)
    assert "ADL took the rest" in render_explanation(answer)
