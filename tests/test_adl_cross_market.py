"""A bankrupt cross account's deficit is shared among its positions by their losses, so an ADL
counterparty gives up at most what the bankrupt account lost in that market and never pays for a
loss made in another market (``engine/venue_rules.carried_equity``)."""

from __future__ import annotations

from decimal import Decimal

from solvent.engine import Engine, EngineConfig
from solvent.engine.commands import AdvanceTime, Deposit, Fill, FundInsurance, PriceUpdate
from solvent.engine.config import AdlRanking, LiquidationPolicy
from solvent.engine.events import AutoDeleveraged, LossSocialised
from solvent.engine.liquidity import BookDepth, SquareRootImpact
from solvent.model import PositionSide
from solvent.risk.venues import load_venue


def test_adl_does_not_bankrupt_a_counterparty_through_another_market() -> None:
    """The case the ADL state machine (``test_collateral_properties.TestAdlLeavesNoHiddenBadDebt``)
    found on a random run. Account ``b`` is bankrupt through its BTC long (BTC −25 %) and also
    holds a nearly flat ETH short. Shared by notional (as before), its deficit gave the ETH short
    a bankruptcy price of 2,128.88 against a mark of 3,000, and ADL closed it against ``d``'s ETH
    long there: ``d``, healthy before the command (cross equity 1,494 against an MM of 413.52),
    paid about 3,162 of a loss made in BTC, became bankrupt, and was itself deleveraged."""
    import test_collateral_properties as machines

    m = machines.AdlMachine()
    m.start(backstop=False, fund=Decimal(0), liquidity=SquareRootImpact(
        depth_notional={}, k=Decimal("0.1"), max_depth_fraction=Decimal(1), default_depth=Decimal(200_000_000)),
        chunked=False, ranking=AdlRanking.BINANCE, fee=None)
    m.advance(refresh=False, step=61000)
    m.isolate(acc="a", leverage=Decimal(10), symbol="BTCUSDT")
    m.isolate(acc="d", leverage=Decimal(10), symbol="BTCUSDT")
    m.fill(bps=0, buyer="d", lots=3446, seller="c", symbol="ETHUSDT")
    m.fill(bps=-28, buyer="a", lots=363, seller="b", symbol="ETHUSDT")
    m.fill(bps=0, buyer="d", lots=1, seller="a", symbol="BTCUSDT")
    m.fill(bps=0, buyer="b", lots=2395, seller="a", symbol="BTCUSDT")
    m.crash(pct=-25, repeats=3, symbol="BTCUSDT")
    healthy_cross = m.engine.margin("d").equity
    assert healthy_cross > m.engine.margin("d").maintenance_margin
    m.run(AdvanceTime(m.engine.state.now_ms + 1000))
    m.run(PriceUpdate("BTCUSDT", "s", m.mark("BTCUSDT")))
    result = m.engine.apply(PriceUpdate("ETHUSDT", "s", m.mark("ETHUSDT")))
    assert not any(isinstance(e, AutoDeleveraged) and e.account_id == "d" and e.symbol == "ETHUSDT"
                   for e in result.events)


BTC, ETH = "BTCUSDT", "ETHUSDT"
D = Decimal


def _engine(fund: Decimal) -> Engine:
    """binance-usdm. alice (12,900 USDT) long 4 BTC from 60,000 against bob and short 10 ETH from
    3,000 against carol; bids for BTC only at 56,500, asks for ETH only at 3,010."""
    book = BookDepth(bids={BTC: [(D(56500), D(10))]}, asks={ETH: [(D(3010), D(100))]})
    engine = Engine(EngineConfig(load_venue("binance-usdm"), liquidation=LiquidationPolicy(liquidity=book)))
    for cmd in (AdvanceTime(1_000), Deposit("book", "USDT", D(10) ** 9), Deposit("bob", "USDT", D(100_000)),
                Deposit("carol", "USDT", D(10_000)), Deposit("alice", "USDT", D(12_900)),
                PriceUpdate(BTC, "s", D(60000)), PriceUpdate(ETH, "s", D(3000)),
                Fill("t1", BTC, D(60000), D(4), "alice", "bob"), Fill("t2", ETH, D(3000), D(10), "carol", "alice")):
        assert engine.apply(cmd).accepted, cmd
    if fund:
        assert engine.apply(FundInsurance(fund)).accepted
    return engine


def test_a_flat_leg_is_deleveraged_at_the_mark_and_the_losing_leg_carries_the_deficit() -> None:
    """BTC gaps to 56,000: alice's BTC loses 4 × 4,000 = 16,000, her ETH short nothing, so her
    equity is 12,900 − 16,000 = −3,100 and her losses L = 16,000. Shared by loss, BTC carries all
    3,100: bankruptcy 56,000 + 3,100 / 4 = 56,775. The book bids 56,500 (275 a BTC short of it)
    and the fund is empty, so bob is deleveraged at 56,775 (+12,900 on his short); alice's balance
    is then exactly 0. Her ETH short now carries nothing: bankruptcy = the mark, 3,000. The book
    asks 3,010 (10 an ETH above it), so carol is deleveraged at 3,000, her own entry: she neither
    gains nor loses. Shared by notional instead, BTC (224,000 of 254,000) would have carried only
    2,733.86 and ETH the other 366.14, closing carol at about 2,963.4: 366 of alice's BTC loss paid
    by an account that holds no BTC."""
    engine = _engine(D(0))
    result = engine.apply(PriceUpdate(BTC, "s", D(56000)))
    assert result.accepted
    adl = [e for e in result.events if isinstance(e, AutoDeleveraged)]
    assert adl == [AutoDeleveraged("alice", "bob", BTC, D(4), D(56775)),
                   AutoDeleveraged("alice", "carol", ETH, D(10), D(3000))]
    balances = {a: engine.state.accounts[a].balances["USDT"] for a in ("alice", "bob", "carol")}
    assert balances == {"alice": D(0), "bob": D(112_900), "carol": D(10_000)}
    assert not engine.state.accounts["alice"].positions or all(
        p.qty == 0 for p in engine.state.accounts["alice"].positions.values())
    for asset, (held, net) in engine.conservation().items():
        assert held == net, asset


def test_a_deficit_beyond_the_losses_goes_to_the_waterfall_not_to_a_counterparty() -> None:
    """A position never carries more of a deficit than its own loss. BTC gaps to 55,000: alice's
    equity is 12,900 − 20,000 = −7,100 and L = 20,000, so BTC carries all of it (bankruptcy 55,000 +
    7,100 / 4 = 56,775). The fund holds 1,150, enough for the book's 4 × (56,775 − 56,500) = 1,100
    shortfall, so the book takes the BTC at 56,500 and leaves alice at −1,100 with only her flat ETH
    short, which carries none of it: its bankruptcy price is the mark, 3,000, and the book's 3,010
    is 100 short of it, within the fund, so the book takes it too. alice ends at −1,200: the fund
    pays its 1,150 and 50 is socialised. carol is not touched. (Shared as before, the ETH short
    would have carried the whole 1,100: bankruptcy 3,000 − 110 = 2,890, a shortfall of 1,200 that
    the fund cannot pay, so carol would have been deleveraged at 2,890, paying 1,100 of BTC loss.)"""
    engine = _engine(D(1_150))
    result = engine.apply(PriceUpdate(BTC, "s", D(55000)))
    assert result.accepted
    assert not [e for e in result.events if isinstance(e, AutoDeleveraged)]
    assert [e for e in result.events if isinstance(e, LossSocialised)] == [LossSocialised("alice", D(50))]
    assert engine.state.accounts["carol"].balances["USDT"] == D(10_000)
    assert engine.state.accounts["alice"].balances["USDT"] == D(0)
    assert engine.state.insurance_fund == D(0)
    for asset, (held, net) in engine.conservation().items():
        assert held == net, asset


def _hedged(revision: int) -> Engine:
    """binance-usdm, hedge mode. alice (7,000 USDT) is short 10 BTC from 61,000 against carol and
    long 10 BTC from 60,000 against bob, and short 100 ETH from 3,000 against dave; BTC then
    falls to 59,000 (her BTC long −10,000, her short +20,000: BTC nets +10,000). Bids 58,900 and
    asks 59,100 for BTC, asks 3,210 for ETH; the fund is empty."""
    book = BookDepth(bids={BTC: [(D(58900), D(100))]}, asks={BTC: [(D(59100), D(100))], ETH: [(D(3210), D(1000))]})
    policy = LiquidationPolicy(liquidity=book, revision=revision)
    engine = Engine(EngineConfig(load_venue("binance-usdm"), liquidation=policy))
    for cmd in (AdvanceTime(1_000), Deposit("book", "USDT", D(10) ** 9), Deposit("alice", "USDT", D(7_000)),
                *(Deposit(a, "USDT", D(100_000)) for a in ("bob", "carol", "dave")),
                PriceUpdate(BTC, "s", D(61000)), PriceUpdate(ETH, "s", D(3000)),
                Fill("t1", BTC, D(61000), D(10), "carol", "alice", seller_position_side=PositionSide.SHORT),
                PriceUpdate(BTC, "s", D(60000)),
                Fill("t2", BTC, D(60000), D(10), "alice", "bob", buyer_position_side=PositionSide.LONG),
                Fill("t3", ETH, D(3000), D(100), "dave", "alice", seller_position_side=PositionSide.SHORT),
                PriceUpdate(BTC, "s", D(59000))):
        assert engine.apply(cmd).accepted, cmd
    return engine


def test_in_hedge_mode_a_market_is_its_legs_together() -> None:
    """ETH rises to 3,200: alice's ETH short loses 20,000 and her equity is 7,000 + 10,000 −
    20,000 = −3,000. Her BTC legs (MM 0.005 × 590,000 − 300 = 2,650 each) are closed first.
    BTC, the two legs together, is in profit: it carries none of the deficit, so both legs are
    deleveraged at the mark, 59,000 (bob's short from 60,000 gains 10,000; carol's long from
    61,000 loses 20,000, her own loss at the mark, nothing of alice's). ETH carries all 3,000:
    bankruptcy 3,200 − 3,000 / 100 = 3,170, where dave's long from 3,000 gains 17,000 instead of
    20,000 at the mark. alice ends at exactly 0 (7,000 − 10,000 + 20,000 − 17,000). Counted leg by
    leg instead, the losing BTC long would carry 3,000 × 10,000 / 20,000 = 1,500 of her ETH loss
    (bob at 59,150). Revision 3 (journals written before) still shares the deficit by notional."""
    engine = _hedged(4)
    result = engine.apply(PriceUpdate(ETH, "s", D(3200)))
    adl = sorted(((e.counterparty, e.symbol, e.qty, e.price) for e in result.events
                  if isinstance(e, AutoDeleveraged)), key=str)
    assert adl == [("bob", BTC, D(10), D(59000)), ("carol", BTC, D(10), D(59000)), ("dave", ETH, D(100), D(3170))]
    balances = {a: engine.state.accounts[a].balances["USDT"] for a in ("alice", "bob", "carol", "dave")}
    assert balances == {"alice": D(0), "bob": D(110_000), "carol": D(80_000), "dave": D(117_000)}
    for asset, (held, net) in engine.conservation().items():
        assert held == net, asset
    old = _hedged(3)
    before = old.apply(PriceUpdate(ETH, "s", D(3200)))
    assert any(isinstance(e, AutoDeleveraged) and e.symbol == BTC and e.price != D(59000) for e in before.events)


def test_a_hedged_market_in_profit_carries_nothing_whichever_leg_closes_first() -> None:
    """A reviewer's case. binance-usdm, hedge mode: alice (8,553 USDT) is long 67 ETH (38 at
    2,979.30, 7 at 2,942.70, 22 at 2,955.90: cost 198,842.10) and short 31 ETH from 2,962.50,
    and short 2.8 BTC from 59,886. At ETH 3,000 her ETH legs are +2,157.90 and −1,162.50: ETH nets
    +995.40. BTC jumps to 64,980: her BTC short loses 2.8 × 5,094 = 14,263.20, and her equity is
    8,553 + 995.40 − 14,263.20 = −4,714.80. Her ETH long (the largest MM) is closed first, at the
    mark; her ETH short must then still count as part of a market in profit (the shares are taken
    when the run starts), so c, long ETH against it, is closed at the mark, 3,000, not made to
    pay part of a BTC loss. BTC carries all 4,714.80: bankruptcy 64,980 − 4,714.80 / 2.8 =
    63,296.142…, rounded up against the short to 63,296.2."""
    book = BookDepth(bids={BTC: [(D(48767), D(1000))], ETH: [(D(2057), D(100000))]},
                     asks={BTC: [(D(74670), D(1000))], ETH: [(D(3418), D(100000))]})
    engine = Engine(EngineConfig(load_venue("binance-usdm"), liquidation=LiquidationPolicy(liquidity=book)))
    long_, short = {"buyer_position_side": PositionSide.LONG}, {"seller_position_side": PositionSide.SHORT}
    for cmd in (AdvanceTime(1000), Deposit("book", "USDT", D(10) ** 9), Deposit("alice", "USDT", D(8553)),
                *(Deposit(a, "USDT", D(200_000)) for a in ("b", "c", "d", "f")),
                PriceUpdate(BTC, "s", D(60000)), PriceUpdate(ETH, "s", D(3000)),
                Fill("t1", ETH, D("2979.30"), D(38), "alice", "f", **long_),
                Fill("t2", ETH, D("2962.50"), D(31), "c", "alice", **short),
                Fill("t3", ETH, D("2942.70"), D(7), "alice", "f", **long_),
                Fill("t4", ETH, D("2955.90"), D(22), "alice", "b", **long_),
                Fill("t5", BTC, D("59886.0"), D("2.8"), "d", "alice", **short)):
        assert engine.apply(cmd).accepted, cmd
    result = engine.apply(PriceUpdate(BTC, "s", D(64980)))
    adl = {(e.counterparty, e.symbol): e.price for e in result.events if isinstance(e, AutoDeleveraged)}
    assert adl == {("b", ETH): D(3000), ("f", ETH): D(3000), ("c", ETH): D(3000), ("d", BTC): D("63296.2")}
    assert engine.state.accounts["c"].balances["USDT"] == D(200_000) + 31 * (D(3000) - D("2962.50"))
    for asset, (held, net) in engine.conservation().items():
        assert held == net, asset
