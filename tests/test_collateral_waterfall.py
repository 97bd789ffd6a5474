"""Non-settlement collateral (issue 9 item 1), the guarded lifecycle (item 15), and negative
equity after ADL (issue 10).

Expected values are hand computations written out in the comments. The collateral haircut
of BTC is 5 % (Binance Multi-Assets Mode's "collateral value ratio" of 95 %); the
conversion penalty is the policy default of 2.5 %.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from solvent import load_venue, parse_portfolio
from solvent.calc.account import MarginLevel
from solvent.cli import main
from solvent.engine import (
    AdvanceTime,
    Command,
    CommandResult,
    Deposit,
    Engine,
    EngineConfig,
    Fill,
    FundInsurance,
    LiquidationPolicy,
    PriceUpdate,
    lifecycle,
)
from solvent.engine.events import (
    AutoDeleveraged,
    CollateralConverted,
    InsuranceFundChanged,
    LiquidationStep,
    LossSocialised,
    MarginLevelChanged,
)
from solvent.errors import InvalidInput, InvariantViolation
from solvent.journal.codec import _decode_policy, _encode_policy
from solvent.market import JumpGuardConfig
from solvent.model import Asset
from solvent.risk.collateral import value_wallet

D = Decimal
USDM = load_venue("binance-usdm")
BTC_PERP = "BTCUSDT"
HAIRCUT = D("0.05")
Q = D("0.00000001")
BIG = D(10) ** 9


def ok(engine: Engine, cmd: Command) -> CommandResult:
    result = engine.apply(cmd)
    assert result.accepted, (cmd, result.denial)
    return result


def of(events: Iterable[object], cls: type) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


def conserved(engine: Engine) -> None:
    for asset, (held, net) in engine.conservation().items():
        assert held == net, (asset, held, net)
    assert engine.hidden_bad_debt() == {}


def indebted_alice(policy: LiquidationPolicy | None, fund: Decimal = Decimal(0)) -> Engine:
    """alice deposits only 0.1 BTC (worth 6,000 at 60,000; 5,700 after the 5 % haircut), buys
    1 BTCUSDT at 60,000 from bob and sells it back at 54,300: a realised loss of 5,700 USDT.
    She is left with 0.1 BTC and −5,700 USDT, equity 5,700 − 5,700 = 0, no positions."""
    config = EngineConfig(USDM, collateral={"BTC": Asset("BTC", haircut=HAIRCUT)}, liquidation=policy,
                          jump_guard=JumpGuardConfig(D("0.6"), 1, D(0)))
    engine = Engine(config)
    ok(engine, AdvanceTime(1_000))
    ok(engine, Deposit("book", "USDT", BIG))
    ok(engine, Deposit("bob", "USDT", D(100_000)))
    ok(engine, Deposit("alice", "BTC", D("0.1")))
    if fund:
        ok(engine, FundInsurance(fund))
    ok(engine, PriceUpdate("BTC", "s", D(60000)))
    ok(engine, PriceUpdate(BTC_PERP, "s", D(60000)))
    ok(engine, Fill("t1", BTC_PERP, D(60000), D(1), "alice", "bob"))
    ok(engine, Fill("t2", BTC_PERP, D(54300), D(1), "bob", "alice"))
    acc = engine.state.accounts["alice"]
    assert acc.balances == {"BTC": D("0.1"), "USDT": D(-5700)}
    assert engine.margin("alice").equity == 0
    return engine


# ---------------------------------------------------------------- valuation (pure)


def test_wallet_value_haircuts_collateral_and_counts_debt_at_the_full_index() -> None:
    # the repro: 0.1 BTC at 5,000 with a 5 % haircut = 475; −5,700 USDT → −5,225
    v = value_wallet({"USDT": D(-5700), "BTC": D("0.1")}, {"BTC": D(5000)}, "USDT",
                     {"BTC": Asset("BTC", haircut=HAIRCUT)}, Q)
    assert v.total == D(-5225)
    # a borrowed ETH (−2 at 3,000) is a debt of 6,000: no haircut benefit (it would be 5,700)
    v = value_wallet({"USDT": D(1000), "ETH": D(-2)}, {"ETH": D(3000)}, "USDT",
                     {"ETH": Asset("ETH", haircut=HAIRCUT)}, Q)
    assert [line.value for line in v.lines] == [D(-6000), D(1000)]
    assert v.debt == D(-6000)


def test_size_dependent_haircut_applies_band_by_band() -> None:
    # 5 % up to 10 BTC, 10 % from 10 to 50, 30 % above 50: 60 BTC at 1,000 =
    # (10 × 0.95 + 40 × 0.90 + 10 × 0.70) × 1,000 = (9.5 + 36 + 7) × 1,000 = 52,500
    asset = Asset("BTC", haircut=HAIRCUT, haircut_tiers=((D(10), D("0.1")), (D(50), D("0.3"))))
    v = value_wallet({"BTC": D(60)}, {"BTC": D(1000)}, "USDT", {"BTC": asset}, Q)
    assert v.total == D(52500)
    assert v.lines[0].haircut == D(1) - D("52.5") / D(60)  # the effective haircut: 12.5 %
    with pytest.raises(InvalidInput, match="haircut tiers"):
        Asset("BTC", haircut=D("0.1"), haircut_tiers=((D(10), D("0.05")),))  # a band may not lower it


def test_values_round_against_the_holder() -> None:
    # 0.123456789 BTC at 1 with no haircut = 0.123456789 → collateral 0.12345678 (down),
    # a debt of the same size → −0.12345679 (up in size)
    asset = {"BTC": Asset("BTC")}
    assert value_wallet({"BTC": D("0.123456789")}, {"BTC": D(1)}, "USDT", asset, Q).total == D("0.12345678")
    assert value_wallet({"BTC": D("-0.123456789")}, {"BTC": D(1)}, "USDT", asset, Q).total == D("-0.12345679")


def test_a_debt_without_a_price_is_never_valued_at_zero() -> None:
    with pytest.raises(InvalidInput, match="no index price"):
        value_wallet({"BTC": D(-1)}, {}, "USDT", {"BTC": Asset("BTC")}, Q, unpriced_counts_zero=True)
    v = value_wallet({"BTC": D(1)}, {}, "USDT", {"BTC": Asset("BTC")}, Q, unpriced_counts_zero=True)
    assert v.total == 0


# ---------------------------------------------------------------- engine: the repro


def _fall_to(engine: Engine, prices: Iterable[int]) -> list[Any]:
    events: list[Any] = []
    for px in prices:
        events += ok(engine, PriceUpdate("BTC", "s", D(px))).events
    return events


def test_debt_above_collateral_is_bankrupt_not_healthy_when_nothing_liquidates() -> None:
    # liquidation off: as BTC falls 60,000 → 40,000 → 25,000 → 12,500 → 6,500 → 5,000, equity
    # becomes 0.1 × 5,000 × 0.95 − 5,700 = −5,225. Old code: "healthy", nothing recorded.
    engine = indebted_alice(None)
    events = _fall_to(engine, [40000, 25000, 12500, 6500, 5000])
    assert engine.margin("alice").equity == D(-5225)
    assert engine.state.accounts["alice"].level == "bankrupt"
    changes = [(e.previous, e.level) for e in of(events, MarginLevelChanged) if e.account_id == "alice"]
    assert changes == [("healthy", "bankrupt")]
    conserved(engine)  # recorded: the bad debt is visible at the bankrupt level


def test_collateral_is_converted_and_the_rest_goes_through_the_waterfall() -> None:
    # BTC 60,000 → 40,000: equity 0.1 × 40,000 × 0.95 − 5,700 = 3,800 − 5,700 = −1,900 < 0, no MM:
    # bankrupt. All 0.1 BTC is sold to the book at the index: proceeds 4,000, penalty 2.5 % = 100
    # to the fund; USDT −5,700 + 4,000 − 100 = −1,800. The fund (100) pays 100, 1,700 is socialised.
    engine = indebted_alice(LiquidationPolicy())
    events = _fall_to(engine, [40000])
    conv = of(events, CollateralConverted)
    assert [(c.account_id, c.counterparty, c.asset, c.qty, c.price, c.proceeds, c.penalty) for c in conv] == [
        ("alice", "book", "BTC", D("0.1"), D(40000), D(4000), D(100))]
    assert [e.delta for e in of(events, InsuranceFundChanged)] == [D(100), D(-100)]
    assert [e.amount for e in of(events, LossSocialised)] == [D(1700)]
    acc = engine.state.accounts["alice"]
    assert acc.balances == {"BTC": 0, "USDT": 0}
    assert acc.level == "healthy"
    assert engine.state.accounts["book"].balances["BTC"] == D("0.1")
    assert engine.state.socialised_loss == D(1700)
    conserved(engine)


def test_conversion_sells_only_what_repays_the_debt() -> None:
    # a fund of 10,000 does not change the conversion; alice also holds 1 BTC more:
    # 1.1 BTC at 40,000 × 0.95 = 41,800 > 5,700, so equity is positive and nothing happens;
    # at 5,000 it is 1.1 × 5,000 × 0.95 − 5,700 = 5,225 − 5,700 = −475: bankrupt.
    # Sell q with q × 5,000 × 0.975 ≥ 5,700 → q = 1.16923077 > 1.1: all 1.1 BTC go, proceeds
    # 5,500, penalty 137.5; USDT −5,700 + 5,500 − 137.5 = −337.5, paid by the fund (10,137.5 → 9,800).
    engine = indebted_alice(LiquidationPolicy(), fund=D(10_000))
    ok(engine, Deposit("alice", "BTC", D(1)))
    _fall_to(engine, [40000, 25000, 12500, 6500])
    assert engine.state.accounts["alice"].balances["BTC"] == D("1.1")  # 1.1 × 6,500 × 0.95 = 6,792.5 ≥ 5,700
    events = _fall_to(engine, [5000])
    (conv,) = of(events, CollateralConverted)
    assert (conv.qty, conv.proceeds, conv.penalty) == (D("1.1"), D(5500), D("137.5"))
    assert engine.state.insurance_fund == D(9800)
    assert engine.state.socialised_loss == 0
    conserved(engine)


def test_partial_conversion_keeps_the_rest_of_the_collateral() -> None:
    # 2 BTC, debt 5,700, BTC at 40,000: equity 2 × 40,000 × 0.95 − 5,700 > 0 → a long of 10 BTCUSDT
    # makes the account liquidatable instead. Here: the pure rule. q = ⌈5,700 / (40,000 × 0.975)⌉
    # = ⌈0.146153846…⌉ = 0.14615385 BTC; proceeds 5,846.154 → penalty 146.15385 (up);
    # net 5,700.00015 ≥ 5,700.
    from solvent.risk.collateral import conversion_quantity

    qty = conversion_quantity(D(5700), D(2), D(40000), D("0.025"), Q)
    assert qty == D("0.14615385")
    proceeds = qty * 40000
    assert proceeds - (proceeds * D("0.025")).quantize(Q) >= 5700


def test_positions_are_closed_first_then_collateral_is_converted() -> None:
    # alice: 0.2 BTC collateral (0.2 × 60,000 × 0.95 = 11,400), long 3 BTCUSDT from 60,000.
    # BTCUSDT falls to 56,000: PnL −12,000, equity −600 → bankrupt. The fund is empty, so the
    # long is deleveraged against bob at the bankruptcy price 56,000 + 600 / 3 = 56,200:
    # USDT 3 × (56,200 − 60,000) = −11,400. Then the BTC repays it: q = ⌈11,400 / (60,000 × 0.975)⌉
    # = ⌈0.1948717948…⌉ = 0.19487180; proceeds 11,692.308, penalty 2.5 % = 292.3077;
    # USDT −11,400 + 11,692.308 − 292.3077 = 0.0003; BTC 0.2 − 0.1948718 = 0.0051282 is kept.
    config = EngineConfig(USDM, collateral={"BTC": Asset("BTC", haircut=HAIRCUT)},
                          liquidation=LiquidationPolicy(), jump_guard=JumpGuardConfig(D("0.6"), 1, D(0)))
    engine = Engine(config)
    ok(engine, AdvanceTime(1_000))
    ok(engine, Deposit("book", "USDT", BIG))
    ok(engine, Deposit("bob", "USDT", D(1_000_000)))
    ok(engine, Deposit("alice", "BTC", D("0.2")))
    ok(engine, PriceUpdate("BTC", "s", D(60000)))
    ok(engine, PriceUpdate(BTC_PERP, "s", D(60000)))
    ok(engine, Fill("t1", BTC_PERP, D(60000), D(3), "alice", "bob"))
    events = list(ok(engine, PriceUpdate(BTC_PERP, "s", D(56000))).events)
    steps = [e for e in events if isinstance(e, LiquidationStep | AutoDeleveraged | CollateralConverted)]
    assert [type(e).__name__ for e in steps] == ["AutoDeleveraged", "CollateralConverted"]
    assert steps[0].price == D(56200)
    assert (steps[1].qty, steps[1].proceeds, steps[1].penalty) == (D("0.1948718"), D("11692.308"), D("292.3077"))
    acc = engine.state.accounts["alice"]
    assert not any(p.qty for p in acc.positions.values())
    assert acc.balances == {"BTC": D("0.0051282"), "USDT": D("0.0003")}
    assert engine.state.insurance_fund == D("292.3077")
    conserved(engine)


# ---------------------------------------------------------------- levels agree everywhere


def test_calculator_and_engine_agree_that_debt_without_positions_is_bankrupt() -> None:
    from solvent.calc.account import margin_level
    from solvent.engine.config import LevelThresholds
    from solvent.risk.levels import next_level

    assert margin_level(D(-1), D(0), USDM) is MarginLevel.BANKRUPT
    assert next_level(MarginLevel.HEALTHY, D(-1), D(0), USDM, LevelThresholds()) is MarginLevel.BANKRUPT
    assert USDM.is_liquidatable(D(-1), D(0))
    assert not USDM.is_liquidatable(D(0), D(0))  # an empty account
    assert margin_level(D(0), D(0), USDM) is MarginLevel.HEALTHY


# ---------------------------------------------------------------- the account file


def test_account_file_takes_a_multi_asset_wallet() -> None:
    # 1,000 USDT + 0.1 BTC at 5,000 × 0.95 = 475 → wallet 1,475
    portfolio = parse_portfolio({"wallet": {"USDT": "1000", "BTC": "0.1"}, "prices": {"BTC": "5000"}},
                                load_venue("bybit-linear"))
    assert portfolio.wallet == D(1475)
    report = portfolio.assess()
    assert report.equity == D(1475) and report.level is MarginLevel.HEALTHY
    # the repro as a file: −5,225 and bankrupt, with a file-given haircut of 10 %: 450 − 5,700
    debt = parse_portfolio({"wallet": {"USDT": "-5700", "BTC": "0.1"}, "prices": {"BTC": "5000"},
                            "haircuts": {"BTC": "0.1"}, "settle": "USDT"}, USDM)
    assert debt.assess().equity == D(-5250)
    assert debt.assess().level is MarginLevel.BANKRUPT


@pytest.mark.parametrize(("raw", "message"), [
    ({"wallet": {"USDT": "1000", "BTC": "0.1"}}, "prices.BTC is required"),
    ({"wallet": {"USDT": "1", "XYZ": "3"}, "prices": {"XYZ": "2"}}, "no haircut for collateral asset XYZ"),
    ({"wallet": {"USDT": "1"}, "prices": {"BTC": "2"}}, "not in the wallet"),
    ({"wallet": "1", "prices": {"BTC": "2"}}, "need a multi-asset wallet"),
    ({"wallet": {"USDT": "1", "BTC": "1"}, "prices": {"BTC": "2"}, "haircuts": {"BTC": "1"}}, "haircut"),
])
def test_bad_multi_asset_wallets_are_refused(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_portfolio(raw, load_venue("bybit-linear"))


def test_cli_account_reports_collateral_haircuts_equity_and_level(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "acc.json"
    path.write_text(json.dumps({"wallet": {"USDT": "-5700", "BTC": "0.1"}, "prices": {"BTC": "5000"}}))
    assert main(["account", "--venue", "bybit-linear", "--file", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["equity"], out["maintenance_margin"], out["level"]) == ("-5225", "0", "bankrupt")
    assert out["collateral"][0] == {"asset": "BTC", "balance": "0.1", "price": "5000", "haircut": "0.05",
                                    "value": "475"}
    path.write_text(json.dumps({"wallet": {"USDT": "1000", "BTC": "0.1"}}))
    assert main(["account", "--venue", "bybit-linear", "--file", str(path)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: prices.BTC") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err


# ---------------------------------------------------------------- journal


def test_an_old_journal_policy_without_the_penalty_decodes_with_the_default() -> None:
    raw = _encode_policy(LiquidationPolicy())
    del raw["collateral_conversion_penalty"]
    assert _decode_policy(raw).collateral_conversion_penalty == D("0.025")
    raw = _encode_policy(LiquidationPolicy(collateral_conversion_penalty=D("0.01")))
    assert _decode_policy(raw).collateral_conversion_penalty == D("0.01")


# ---------------------------------------------------------------- lifecycle (item 15)

H, W, C, L, B = list(MarginLevel)
SAFE = lifecycle.Facts(bankrupt=False, liquidatable=False, held=False)
LIQ = lifecycle.Facts(bankrupt=False, liquidatable=True, held=False)
HELD = lifecycle.Facts(bankrupt=False, liquidatable=False, held=True)
BROKE = lifecycle.Facts(bankrupt=True, liquidatable=True, held=False)


@pytest.mark.parametrize(("previous", "level", "facts"), [
    (H, H, BROKE),   # the issue: "healthy" with equity < 0
    (B, H, BROKE),   # leaving bankrupt while still below zero
    (L, W, HELD),    # leaving liquidation below the target
    (H, B, LIQ),     # bankrupt without being so
    (W, L, SAFE),    # liquidation without the trigger
    (L, L, BROKE),   # staying at liquidation once bankrupt
])
def test_lifecycle_refuses_a_forbidden_move(previous: MarginLevel, level: MarginLevel,
                                            facts: lifecycle.Facts) -> None:
    with pytest.raises(InvariantViolation, match=f"{previous.value} -> {level.value}"):
        lifecycle.check_transition(previous, level, facts)


@pytest.mark.parametrize(("previous", "level", "facts"), [
    (H, B, BROKE), (H, L, LIQ), (B, L, HELD), (L, L, HELD), (B, H, SAFE), (L, C, SAFE), (C, W, SAFE),
    (H, H, SAFE),
])
def test_lifecycle_allows_a_legal_move(previous: MarginLevel, level: MarginLevel, facts: lifecycle.Facts) -> None:
    assert lifecycle.check_transition(previous, level, facts) is level


def test_lifecycle_facts_come_from_the_venue_and_the_target() -> None:
    config = EngineConfig(USDM, liquidation=LiquidationPolicy())
    # equity 900 vs MM 908 on binance (≤ MM): liquidatable; target 908 × 1.02 = 926.16
    assert lifecycle.Facts.of(config, L, D(900), D(908), D(0)) == lifecycle.Facts(False, True, True)
    assert lifecycle.Facts.of(config, H, D(900), D(908), D(0)) == LIQ
    assert lifecycle.Facts.of(config, L, D(920), D(908), D(0)) == HELD
    assert lifecycle.Facts.of(config, H, D(920), D(908), D(0)) == SAFE
    assert lifecycle.Facts.of(config, H, D(-1), D(0), D(0)) == BROKE
