"""dYdX v4 open-interest IMF scaling as the current chain computes it (issue 9 item 6).

The current chain (``protocol/x/perpetuals/types/liquidity_tier.go``,
``GetInitialMarginQuoteQuantums``) keeps the scaled IMF as an exact fraction and rounds the
initial margin *up* to quote quantums; the older ``lib.go`` floored the IMF to integer ppm
first (its vector D-MR-9 stays in tests/test_risk_dydx.py). Expected values: the chain's own
``TestGetInitialMarginQuoteQuantums`` cases (quote quantums = 1e-6 USDC; with an oracle price
of 1 the position in USDC is the quote quantums × 1e-6) and hand computations.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from solvent.errors import InvalidInput
from solvent.risk.dydx import ImfScaling, dydx_margin_requirements, initial_margin_fraction
from solvent.risk.rules import DydxRules
from solvent.risk.venues import load_venue, parse_profile

D = Decimal
QQ = D("0.000001")


def _qq(n: int) -> str:
    return str(D(n) * QQ)


@pytest.mark.parametrize(
    ("imf", "quote_quantums", "oi_qq", "lower_qq", "upper_qq", "expected_qq"),
    [
        (200_000, 500_000, 0, 0, 0, 100_000),
        (100_000, 1, 0, 0, 0, 1),  # 10 % of 1 quantum = 0.1, rounded up to 1
        (567_243, 123_456, 0, 0, 0, 70_030),  # 70,029.5518… rounded up
        (200_000, 500_000, 1_500_000_000_000, 1_000_000_000_000, 2_000_000_000_000, 300_000),
        (200_000, 500_000, 80_000_000_000_000, 25_000_000_000_000, 50_000_000_000_000, 500_000),
        (200_000, 500_000, 25_000_000_000_000, 25_000_000_000_000, 50_000_000_000_000, 100_000),
        # scaling = 3,123,456,789,123 / 35e12 = 0.08924162…; IMF = 0.2 + 0.8 × that
        # = 0.27139329…; × 500,000 = 135,696.65… → 135,697.
        (200_000, 500_000, 28_123_456_789_123, 25_000_000_000_000, 60_000_000_000_000, 135_697),
    ],
    ids=["20%", "round up to one quantum", "56.7243% rounds up", "scaling 0.5", "above upper cap",
         "at lower cap", "realistic numbers"],
)
def test_initial_margin_matches_the_current_chains_test_cases(
    imf: int, quote_quantums: int, oi_qq: int, lower_qq: int, upper_qq: int, expected_qq: int
) -> None:
    result = dydx_margin_requirements(
        "1", _qq(quote_quantums), imf, 500_000, _qq(oi_qq), _qq(lower_qq), _qq(upper_qq), quote_quantum=QQ
    )
    assert result.initial_margin_quote == D(expected_qq) * QQ


def test_d_mr_9_inputs_differ_between_the_two_versions() -> None:
    # D-MR-9 inputs: notional 0.012 × 36,750 = 441; OI 408.163265 × 36,750 = 14,999,999.98875;
    # caps 10M / 20M; scaling = 4,999,999.98875 / 10,000,000 = 0.499999998875.
    # Current: IMF = 0.2 + 0.8 × 0.499999998875 = 0.5999999991 (exact);
    #          IM = 441 × 0.5999999991 = 264.5999996031 → rounded up to 1e-6: 264.600000.
    # Older:   IMF = (200000 + floor(399999.9991)) ppm = 0.599999; IM = 264.599559.
    args = ("36750", "0.012", 200_000, 500_000, "408.163265", "10000000", "20000000")
    current = dydx_margin_requirements(*args, quote_quantum=QQ)
    older = dydx_margin_requirements(*args, quote_quantum=QQ, scaling=ImfScaling.LIB_FLOOR_PPM)
    assert current.initial_margin_quote == D("264.600000")
    assert older.initial_margin_quote == D("264.599559")
    assert current.maintenance_margin_quote == older.maintenance_margin_quote == D("44.1")
    oi = D("408.163265") * 36750
    assert initial_margin_fraction(200_000, oi, "10000000", "20000000") == Fraction("0.5999999991")


def test_the_profile_says_which_version_it_follows_and_the_rules_use_it() -> None:
    profile = load_venue("dydx-v4")
    rules = profile.rules_for("SOL-USD")
    assert isinstance(rules, DydxRules)
    assert rules.imf_scaling is ImfScaling.LIQUIDITY_TIER_RAT_CEIL
    # SOL-USD: imf 5 %, caps 40M / 100M. OI notional 70M: scaling 0.5, so
    # IMF = 0.05 + 0.5 × 0.95 = 0.525 exactly (both versions agree here: 525,000 ppm);
    # OI 40,000,000.5: scaling = 0.5 / 60,000,000 = 1/120,000,000; current IMF =
    # 0.05 + 0.95/120,000,000 = 0.05000000791666…; older floors the increase to 0 ppm: 0.05.
    from dataclasses import replace

    at_half = replace(rules, open_interest_notional=D(70_000_000))
    assert at_half.initial_margin(D(1), D(1000), None) == D(525)
    barely = replace(rules, open_interest_notional=D("40000000.5"))
    expected = D(1000) * (D("0.05") + D("0.95") / D(120_000_000))
    assert abs(barely.initial_margin(D(1), D(1000), None) - expected) < D("1e-30")
    older = replace(barely, imf_scaling=ImfScaling.LIB_FLOOR_PPM)
    assert older.initial_margin(D(1), D(1000), None) == D(50)


def test_an_unknown_scaling_version_is_refused() -> None:
    raw = {
        "schema_version": 1, "name": "x", "source": "s", "effective_from": "2026-01-01",
        "margin_model": "dydx", "mm_basis": "mark", "trigger_price": "oracle",
        "liquidation_trigger": "equity_below_mm",
        "instruments": {"A-USD": {"imf_ppm": 50000, "mmf_ppm": 600000, "imf_scaling": "newest"}},
    }
    with pytest.raises(InvalidInput, match="imf_scaling"):
        parse_profile(raw)
