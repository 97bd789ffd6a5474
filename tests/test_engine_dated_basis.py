"""A dated future's basis samples are cleared at each funding boundary (``dated_basis_reset``).

Expected marks are hand computations: premium = (impact bid − index) / index when the bid is
above the index (``market.funding.premium_index``), mark = index + average premium × index.
"""

from __future__ import annotations

import json
from decimal import Decimal

from solvent import load_venue
from solvent.engine import AdvanceTime, Engine, EngineConfig, PremiumSample, PriceUpdate
from solvent.journal.codec import decode_config, encode_config

D = Decimal
FUT = "BTCUSDT_261225"
EXPIRY_MS = 1798185600000
EIGHT_HOURS = 8 * 3600 * 1000
START = EXPIRY_MS - 3 * 24 * 3600 * 1000  # three days before expiry, on a funding boundary


def mark_after_a_boundary(reset: bool) -> tuple[Decimal, Decimal, int]:
    engine = Engine(EngineConfig(load_venue("binance-usdm"), dated_basis_reset=reset))
    for cmd in (AdvanceTime(START), PriceUpdate(FUT, "b", D(60000)), PremiumSample(FUT, D(60600), D(60700)),
                PriceUpdate(FUT, "b", D(60000))):
        assert engine.apply(cmd).accepted
    before = engine.state.markets[FUT].mark
    assert before is not None
    for cmd in (AdvanceTime(START + EIGHT_HOURS), PriceUpdate(FUT, "b", D(60000))):
        assert engine.apply(cmd).accepted
    after = engine.state.markets[FUT].mark
    assert after is not None
    return before, after, len(engine.state.markets[FUT].premiums)


def test_the_basis_restarts_at_each_funding_boundary() -> None:
    # premium (60,600 − 60,000) / 60,000 = 0.01: mark 60,000 + 0.01 × 60,000 = 60,600; after the
    # boundary no sample is left, so the mark is the index again
    assert mark_after_a_boundary(reset=True) == (D(60600), D(60000), 0)


def test_journals_written_before_keep_every_sample() -> None:
    assert mark_after_a_boundary(reset=False) == (D(60600), D(60600), 1)
    raw = json.loads(json.dumps(encode_config(EngineConfig(load_venue("binance-usdm")))))
    assert raw["dated_basis_reset"] is True and decode_config(raw).dated_basis_reset is True
    old = {k: v for k, v in raw.items() if k != "dated_basis_reset"}
    assert decode_config(old).dated_basis_reset is False
