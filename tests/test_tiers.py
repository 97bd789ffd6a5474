"""Tier tables: maintenance amounts, continuity, validation, and the bundled venue data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import TESTS, D, vector

from solvent.errors import InvalidTierTable, LeverageTooHigh, UnknownSymbol, UnknownVenue
from solvent.risk.tiers import TierTable, continuous_maint_amounts
from solvent.risk.venues import bundled_venues, load_venue

BTC_2024 = json.loads((TESTS / "data" / "binance_btcusdt_2024-10.json").read_text("utf-8"))


def btc_2024() -> TierTable:
    return TierTable.from_brackets("BTCUSDT 2024", BTC_2024["brackets"])


def test_binance_maintenance_amount_follows_the_recursion() -> None:
    v = vector("BN-7")
    i = v["inputs"]
    amount = D(i["floor"]) * (D(i["mmr"]) - D(i["prev_mmr"])) + D(i["prev_cum"])
    assert amount == D(v["expected"]["maintenance_amount"])
    table = btc_2024()
    assert table.tiers[i["bracket"] - 1].maint_amount == D(v["expected"]["maintenance_amount"])


def test_binance_mm_is_continuous_at_the_600k_boundary() -> None:
    v = vector("BN-8")
    table = btc_2024()
    notional = D(v["inputs"]["notional"])
    assert table.tiers[1].maintenance_margin(notional) == D(v["expected"]["mm_bracket2"])
    assert table.tiers[2].maintenance_margin(notional) == D(v["expected"]["mm_bracket3"])


def test_binance_mm_at_one_million_notional() -> None:
    v = vector("BN-9")
    assert btc_2024().maintenance_margin(D(v["inputs"]["notional"])) == D(v["expected"]["maintenance_margin"])


def bybit_btc_three_tiers() -> TierTable:
    # From the BY-6 vector's description: tier1 ≤ 2,000,000 at 0.5 % (deduction 0), tier2
    # ≤ 2,600,000 at 0.56 % (1,200), tier3 ≤ 3,200,000 at 0.63 % (3,020); 100×/…/ leverage
    # is not part of the vector, so 1/mmr-compatible values are used.
    return TierTable.from_brackets("bybit BTCUSDT", [
        {"notional_floor": "0", "notional_cap": "2000000", "maint_margin_ratio": "0.005",
         "initial_leverage": "100", "cum": "0"},
        {"notional_floor": "2000000", "notional_cap": "2600000", "maint_margin_ratio": "0.0056",
         "initial_leverage": "90", "cum": "1200"},
        {"notional_floor": "2600000", "notional_cap": "3200000", "maint_margin_ratio": "0.0063",
         "initial_leverage": "80", "cum": "3020"},
    ])


def test_bybit_deduction_recursion_and_mm() -> None:
    v6, v7 = vector("BY-6"), vector("BY-7")
    i = v7["inputs"]
    amount = D(i["prev_risk_limit"]) * (D(i["mmr"]) - D(i["prev_mmr"])) + D(i["prev_deduction"])
    assert amount == D(v7["expected"]["maintenance_amount"])
    table = bybit_btc_three_tiers()
    assert table.maintenance_margin(D(v6["inputs"]["notional"])) == D(v6["expected"]["maintenance_margin"])


def test_bundled_bybit_table_agrees_with_the_published_tiers() -> None:
    v = vector("BY-6")
    rules = load_venue("bybit-linear").rules_for("BTCUSDT")
    table = rules.maintenance_table(D(1))
    assert table.maintenance_margin(D(v["inputs"]["notional"])) == D(v["expected"]["maintenance_margin"])


def test_hyperliquid_btc_tiers_from_max_leverage() -> None:
    v = vector("HL-5")
    table = load_venue("hyperliquid").rules_for("BTC").maintenance_table(D(1))
    assert table.tiers[1].maint_amount == D(v["expected"]["maintenance_amount_tier2"])
    assert table.maintenance_margin(D(v["inputs"]["notional"])) == D(v["expected"]["maintenance_margin"])
    # mmr = 1 / (2 × max leverage): 40× → 1/80, 20× → 1/40
    assert table.tiers[0].maint_margin_rate == D(1) / D(80)
    assert table.tiers[1].maint_margin_rate == D(1) / D(40)


def _brackets(*rows: tuple[str, str, str, str, str | None]) -> list[dict[str, str | None]]:
    keys = ("notional_floor", "notional_cap", "maint_margin_ratio", "initial_leverage", "cum")
    return [dict(zip(keys, row, strict=True)) for row in rows]


@pytest.mark.parametrize(
    ("case", "rows", "message"),
    [
        ("a gap between tiers", _brackets(("0", "100", "0.01", "50", "0"), ("200", "300", "0.02", "25", "2")),
         "must equal the previous cap"),
        ("a first tier above zero", _brackets(("10", "100", "0.01", "50", "0"),), "start at notional 0"),
        ("mmr above the initial rate", _brackets(("0", "100", "0.05", "50", "0"),), "0 < mmr"),
        ("a zero mmr", _brackets(("0", "100", "0", "50", "0"),), "0 < mmr"),
        ("a falling mmr", _brackets(("0", "100", "0.02", "25", "0"), ("100", "200", "0.01", "50", "-1")),
         "must not decrease"),
        ("a wrong cum", _brackets(("0", "100", "0.01", "50", "0"), ("100", "200", "0.02", "25", "5")),
         "breaks MM continuity"),
        ("a cap below its floor", _brackets(("0", "0", "0.01", "50", "0"),), "must exceed floor"),
        ("a missing field", [{"notional_floor": "0", "notional_cap": "1", "maint_margin_ratio": "0.01"}],
         "missing field"),
        ("NaN", _brackets(("0", "100", "NaN", "50", "0"),), "finite"),
        ("Infinity", _brackets(("0", "Infinity", "0.01", "50", "0"),), "finite"),
    ],
    ids=lambda x: x if isinstance(x, str) and " " in x else "",
)
def test_a_tier_table_with_a_defect_is_rejected_with_a_clear_message(case: str, rows: list, message: str) -> None:
    with pytest.raises(InvalidTierTable, match=message):
        TierTable.from_brackets(case, rows)


def test_a_wrong_cum_can_be_recomputed_on_request() -> None:
    rows = _brackets(("0", "100", "0.01", "50", "0"), ("100", "200", "0.02", "25", "5"))
    table = TierTable.from_brackets("fixable", rows, recompute=True)
    # 100 × (0.02 − 0.01) + 0 = 1
    assert table.tiers[1].maint_amount == D(1)


def test_recursion_helper_matches_the_btc_2024_published_cums() -> None:
    rows = sorted(BTC_2024["brackets"], key=lambda b: b["bracket"])
    floors = [D(b["notional_floor"]) for b in rows]
    amounts = continuous_maint_amounts(floors, [D(b["maint_margin_ratio"]) for b in rows])
    assert amounts == [D(b["cum"]) for b in rows]


def test_tier_boundaries_floor_inclusive_cap_exclusive() -> None:
    table = btc_2024()
    assert table.tier_index(D("49999.99")) == 0
    assert table.tier_index(D("50000")) == 1
    assert table.max_leverage_for(D("50000")) == D(100)


def test_leverage_above_the_tier_maximum_is_refused() -> None:
    table = btc_2024()
    table.check_leverage(D("40000"), D(125))
    with pytest.raises(LeverageTooHigh, match="exceeds the tier maximum 100"):
        table.check_leverage(D("60000"), D(125))
    with pytest.raises(LeverageTooHigh, match="exceeds the table's last cap"):
        table.check_leverage(table.max_notional + 1, D(1))


def test_every_bundled_profile_loads_and_every_table_is_continuous() -> None:
    names = bundled_venues()
    assert {"binance-usdm", "binance-coinm", "bybit-linear", "bybit-inverse", "bitmex", "hyperliquid",
            "dydx-v4", "drift"} <= set(names)
    for name in names:
        profile = load_venue(name)
        assert profile.source and profile.effective_from
        for symbol in profile.instruments:
            table = profile.rules_for(symbol).maintenance_table(D(1))
            for prev, tier in zip(table.tiers, table.tiers[1:], strict=False):
                assert prev.maintenance_margin(tier.floor_notional) == tier.maintenance_margin(tier.floor_notional)


def test_binance_usdm_profile_carries_every_symbol_of_the_2026_snapshot(shared_dir: Path) -> None:
    snapshot = json.loads((shared_dir / "data" / "tiers" / "binance_usdm_2026-09.json").read_text("utf-8"))
    profile = load_venue("binance-usdm")
    assert set(profile.instruments) == set(snapshot["symbols"])
    for symbol, rows in snapshot["symbols"].items():
        table = profile.rules_for(symbol).maintenance_table(D(1))
        rows = sorted(rows, key=lambda b: b["bracket"])
        assert [t.maint_margin_rate for t in table.tiers] == [D(b["maint_margin_ratio"]) for b in rows]
        assert [t.maint_amount for t in table.tiers] == [D(b["cum"]) for b in rows]
        assert [t.cap_notional for t in table.tiers] == [D(b["notional_cap"]) for b in rows]


def test_binance_dated_futures_expire_at_eight_utc() -> None:
    inst = load_venue("binance-usdm").instrument("BTCUSDT_261225")
    assert inst.kind.is_dated
    assert inst.expiry_ms == 1798185600000  # 2026-12-25T08:00:00Z


def test_unknown_venue_and_symbol_are_typed_errors() -> None:
    with pytest.raises(UnknownVenue, match="unknown venue 'nope'"):
        load_venue("nope")
    with pytest.raises(UnknownSymbol, match="no symbol 'NOPE'"):
        load_venue("binance-usdm").instrument("NOPE")


@pytest.mark.parametrize(("venue", "asked", "meant"), [
    ("binance-usdm", "BTCUSD", "BTCUSDT"),  # the coin-margined name on the USDⓈ-M venue
    ("binance-usdm", "ethusdt", "ETHUSDT"),  # lower case
    ("bybit-linear", "BTC-USDT", "BTCUSDT"),
    ("hyperliquid", "btc", "BTC"),
])
def test_an_unknown_symbol_names_the_venues_closest_symbols(venue: str, asked: str, meant: str) -> None:
    """Found by a new-user pass: `venues show binance-usdm --symbol BTCUSD` said only that there
    was no such symbol, among more than 500."""
    with pytest.raises(UnknownSymbol) as caught:
        load_venue(venue).instrument(asked)
    text = str(caught.value)
    assert text.startswith(f"venue {venue} has no symbol {asked!r}; did you mean ") and meant in text, text
    assert "\n" not in text
    with pytest.raises(UnknownSymbol) as caught:
        load_venue(venue).instrument("QQQQQQQ")
    assert str(caught.value) == f"venue {venue} has no symbol 'QQQQQQQ'"


def test_an_unknown_symbol_can_be_copied_and_pickled() -> None:
    """A refusal crossing a process (a Ray or process-pool worker) is pickled: the message-on-demand
    subclass took three arguments but kept two in ``args``, so it could not be rebuilt (found by review)."""
    import copy
    import pickle

    with pytest.raises(UnknownSymbol) as caught:
        load_venue("binance-usdm").instrument("BTCUSD")
    for again in (pickle.loads(pickle.dumps(caught.value)), copy.copy(caught.value)):
        assert isinstance(again, UnknownSymbol) and str(again) == str(caught.value)


@pytest.mark.parametrize(("leverage", "bound"), [
    # BTCUSDT 2024-10 brackets (tests/data): 125× up to 50k, 100× up to 600k, 75× to 3M, ... 1× to 1.8B
    ("125", "50000"),        # the second bracket (floor 50,000) is the first that does not allow 125×
    ("100", "600000"),       # 100× holds in brackets 1–2: clear below the third's floor
    ("99.5", "600000"),
    ("20", "100000000"),     # brackets 1–6 allow 20×; the 7th (floor 100M) allows 10×
    ("1", "1800000000"),     # every bracket allows 1×: clear up to the last cap
    ("126", "0"),            # the first bracket does not allow it: never clear
])
def test_the_notional_below_which_a_leverage_passes_by_hand(leverage: str, bound: str) -> None:
    assert btc_2024().leverage_clear_below(D(leverage)) == D(bound)


def test_below_the_clear_bound_every_bundled_table_allows_the_leverage() -> None:
    """The pre-trade check skips ``check_leverage`` below ``leverage_clear_below``: on every bundled
    table and every leverage a tier names (and one step either side), the check passes just below
    the bound and, where the bound is a tier's floor, fails at it."""
    seen: set[int] = set()
    for name in bundled_venues():
        profile = load_venue(name)
        for symbol in list(profile.instruments)[:40]:
            table = getattr(profile.rules_for(symbol), "table", None)
            if table is None or id(table) in seen:
                continue
            seen.add(id(table))
            for leverage in {t.max_leverage + step for t in table.tiers for step in (D("-0.01"), D(0), D("0.01"))}:
                bound = table.leverage_clear_below(leverage)
                for notional in {D(0), bound - D("0.01"), bound / 2} if bound > 0 else set():
                    if notional >= 0:
                        table.check_leverage(notional, leverage)
                if 0 < bound < table.tiers[-1].cap_notional:
                    with pytest.raises(LeverageTooHigh):
                        table.check_leverage(bound, leverage)
    assert len(seen) > 10
