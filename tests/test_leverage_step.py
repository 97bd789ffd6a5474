"""The leverage an account may set is the venue's own grid (profile ``"leverage"``).

Found by a new-user pass: ``SetLeverage`` took 7.5× on binance-usdm, where Binance's API takes
an integer from 1 to 125 (Change Initial Leverage, ``leverage INT``). Each value below comes
from the venue's API documentation, cited in the profile: whole numbers on Binance (both
books) and Hyperliquid (``updateLeverage``: an integer), hundredths on Bybit (the instrument's
``leverageFilter.leverageStep``, 0.01) and BitMEX (a number between 0.01 and 100). dYdX v4 and
Drift have no leverage setting in their protocols: the profile has no grid, any leverage from
1 is taken (up to the tier's maximum, as before)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from solvent import load_venue
from solvent.engine import Deposit, Engine, EngineConfig, SetLeverage
from solvent.engine.denials import DenyCode
from solvent.journal.codec import decode_profile
from solvent.risk.venues import bundled_sha256

# (venue, symbol, leverage taken, leverage refused, the step named in the refusal)
GRIDS = [
    ("binance-usdm", "BTCUSDT", "7", "7.5", "1"),
    ("binance-coinm", "BTCUSD_PERP", "20", "20.01", "1"),
    ("hyperliquid", "BTC", "3", "3.5", "1"),
    ("bybit-linear", "BTCUSDT", "7.55", "7.555", "0.01"),
    ("bybit-inverse", "BTCUSD", "12.5", "12.505", "0.01"),
    ("bitmex", "ETHUSDT", "33.33", "33.333", "0.01"),
]


def _engine(venue: str) -> Engine:
    engine = Engine(EngineConfig(load_venue(venue, overlays=False)))
    settle = engine.config.settle_asset
    assert engine.apply(Deposit("alice", settle, D(10))).accepted
    return engine


@pytest.mark.parametrize(("venue", "symbol", "taken", "refused", "step"), GRIDS)
def test_a_leverage_off_the_venues_grid_is_refused_and_one_on_it_is_taken(venue: str, symbol: str, taken: str,
                                                                           refused: str, step: str) -> None:
    engine = _engine(venue)
    assert engine.config.profile.leverage_step == D(step)
    before = engine.state_hash()
    result = engine.apply(SetLeverage("alice", symbol, D(refused)))
    assert not result.accepted and result.denial is not None
    assert result.denial.code is DenyCode.INVALID_LEVERAGE
    assert dict(result.denial.context) == {"leverage": refused, "leverage_step": step}
    assert engine.state_hash() == before  # a refusal changes nothing
    assert engine.apply(SetLeverage("alice", symbol, D(taken))).accepted
    assert engine.state.accounts["alice"].leverage[symbol] == D(taken)


@pytest.mark.parametrize(("venue", "symbol"), [("dydx-v4", "BTC-USD"), ("drift", "BTC-PERP")])
def test_a_venue_without_a_leverage_setting_takes_any_leverage_from_1(venue: str, symbol: str) -> None:
    engine = _engine(venue)
    assert engine.config.profile.leverage_step is None
    assert engine.apply(SetLeverage("alice", symbol, D("3.14159"))).accepted


def test_whole_number_leverage_written_with_a_fraction_part_is_on_the_grid() -> None:
    """7.00 is 7: the grid is a value, not a spelling."""
    assert _engine("binance-usdm").apply(SetLeverage("alice", "BTCUSDT", D("7.00"))).accepted


@pytest.mark.parametrize(("venue", "earlier", "symbol"), [
    ("binance-usdm", "39d19f4818a2a54ea80924dd827c6d6abd7004fc1bda14feef84f6e34068092c", "BTCUSDT"),
    ("hyperliquid", "11d1f36e57dddb51d7bfc2ee426566f39b23948b7d010867af81d2e60d3b7f8a", "BTC"),
])
def test_a_journal_of_the_profile_shipped_before_the_grid_replays_its_fractional_leverage(
        venue: str, earlier: str, symbol: str) -> None:
    """Journals name the profile file they ran on by digest; the file as shipped before the
    grid is kept (``profiles/history/``, binance-usdm's gzipped), so a fractional leverage
    journaled then is still taken on replay."""
    assert bundled_sha256(venue) != earlier
    old = decode_profile({"name": venue, "bundled": True, "sha256": earlier})
    assert old.leverage_step is None
    now = load_venue(venue, overlays=False)
    assert old.instruments == now.instruments and old.rules == now.rules  # nothing else changed
    engine = Engine(EngineConfig(old))
    assert engine.apply(Deposit("alice", engine.config.settle_asset, D(10))).accepted
    assert engine.apply(SetLeverage("alice", symbol, D("7.5"))).accepted


@pytest.mark.parametrize("leverage", ["1E+40", "1E+100"])
def test_a_leverage_far_past_every_tier_is_refused_by_the_tier_not_by_a_failed_remainder(leverage: str) -> None:
    """The grid's remainder of 10^40 by 0.01 needs a quotient of 43 digits, more than the
    engine's precision: checked first, it was an INTERNAL_ERROR. The tier's maximum (100 on
    Bybit's BTCUSDT) refuses it before the grid is looked at."""
    engine = _engine("bybit-linear")
    result = engine.apply(SetLeverage("alice", "BTCUSDT", D(leverage)))
    assert result.denial is not None and result.denial.code is DenyCode.LEVERAGE_EXCEEDS_TIER
    assert dict(result.denial.context)["max_leverage"] == "100"


def test_the_calculators_hold_a_position_to_the_same_grid() -> None:
    """An account file's position (and ``solvent liq-price --leverage``) is read through
    ``position_from_spec``: the grid there is the engine's (``VenueProfile.on_leverage_grid``)."""
    from solvent.errors import InvalidInput
    from solvent.model import MarginMode
    from solvent.portfolio import position_from_spec

    spec = {"symbol": "BTCUSDT", "side": "long", "qty": "1", "entry": "100000"}
    binance, bybit = load_venue("binance-usdm", overlays=False), load_venue("bybit-linear", overlays=False)
    with pytest.raises(InvalidInput, match=r"position.leverage: 7.5 is not a multiple of 1, the leverage step of "
                                           r"binance-usdm"):
        position_from_spec({**spec, "leverage": "7.5"}, binance, MarginMode.CROSS, "position")
    assert position_from_spec({**spec, "leverage": "7"}, binance, MarginMode.CROSS, "position")[0].leverage == D(7)
    assert position_from_spec({**spec, "leverage": "7.5"}, bybit, MarginMode.CROSS, "position")[0].leverage == D("7.5")
    assert binance.on_leverage_grid(D("1E+40")) and not bybit.on_leverage_grid(D("1E-40"))


def test_a_genesis_written_before_the_grid_replays_without_it_on_any_profile_path() -> None:
    """Found by review: a journal that ran on an overlay (``solvent venues update``) replays on
    today's bundled file with the overlay merged on it, so the kept file of
    ``profiles/history/`` did not help there, and its 7.5× was refused on replay. The rule is
    now an ``EngineConfig`` field like the others (``leverage_grid``): a genesis record without
    it decodes to ``False``, whatever profile it names."""
    from solvent.journal.codec import decode_config, encode_config

    recorded = encode_config(EngineConfig(load_venue("binance-usdm", overlays=False)))
    assert recorded["leverage_grid"] is True
    old = decode_config({k: v for k, v in recorded.items() if k != "leverage_grid"})
    assert old.leverage_grid is False and old.profile.leverage_step == D(1)  # today's profile, grid and all
    engine = Engine(old)
    assert engine.apply(Deposit("alice", "USDT", D(10))).accepted
    assert engine.apply(SetLeverage("alice", "BTCUSDT", D("7.5"))).accepted


def test_a_default_leverage_off_the_grid_is_a_setting_the_engine_does_not_run_on() -> None:
    """Found by review: ``default_leverage`` 7.5 on binance-usdm was accepted (at construction
    and by ``ChangeParams``), so every account without a leverage of its own traded at a
    leverage it could not set."""
    from dataclasses import replace

    from solvent.engine.params import setting_problem
    from solvent.errors import InvalidInput

    config = EngineConfig(load_venue("binance-usdm", overlays=False))
    problem = setting_problem(replace(config, default_leverage=D("7.5")))
    assert problem is not None and dict(problem.context)["setting"] == "default_leverage"
    assert dict(problem.context)["allowed"] == "a multiple of 1, the leverage step of binance-usdm"
    with pytest.raises(InvalidInput, match=r"EngineConfig\.default_leverage"):
        Engine(replace(config, default_leverage=D("7.5")))
    assert setting_problem(replace(config, default_leverage=D(7))) is None
    assert setting_problem(replace(config, default_leverage=D("7.5"), leverage_grid=False)) is None  # as before


@pytest.mark.parametrize(("step", "taken"), [("0.3", False), ("2", False), ("0.25", True), ("1", True)])
def test_a_profiles_grid_must_hold_1x(step: str, taken: bool) -> None:
    """A grid that 1 is not a multiple of (0.3, 2) would leave 1× (and the default of 20×) off it."""
    import json

    from solvent.errors import InvalidInput
    from solvent.risk.venues import parse_profile

    raw = json.loads(json.dumps(_raw_profile("bybit-linear")))
    raw["leverage"] = {"step": step, "source": "a test"}
    if taken:
        assert parse_profile(raw).leverage_step == D(step)
    else:
        with pytest.raises(InvalidInput, match=f"leverage.step must divide 1 .*got {step}"):
            parse_profile(raw)


def _raw_profile(name: str) -> dict[str, object]:
    from importlib import resources

    from solvent.jsonstrict import loads_strict

    raw = loads_strict((resources.files("solvent") / "profiles" / f"{name}.json").read_bytes(), name)
    assert isinstance(raw, dict)
    return raw


def test_a_venue_on_a_kept_profile_file_names_it_in_everything_it_records() -> None:
    """Found by review: ``encode_profile`` knew today's bundled file only, so a venue started
    on the file as shipped before the grid (every binance-usdm venue of an earlier version)
    wrote ``{"bundled": false}`` into its parameter changes, snapshots and cluster genesis,
    which nothing can decode: ``POST /v1/params`` answered 422 on such a venue. It now names the
    kept file by its digest, and that decodes to the same profile."""
    import dataclasses

    from solvent.engine import ChangeParams
    from solvent.journal import DurableEngine, MemoryBackend
    from solvent.journal.codec import decode_config, encode_config, encode_profile

    earlier = "39d19f4818a2a54ea80924dd827c6d6abd7004fc1bda14feef84f6e34068092c"
    old = decode_profile({"name": "binance-usdm", "bundled": True, "sha256": earlier})
    assert encode_profile(old) == {"name": "binance-usdm", "bundled": True, "sha256": earlier}
    config = decode_config({k: v for k, v in encode_config(EngineConfig(old)).items() if k != "leverage_grid"})
    assert config.profile == old and decode_config(encode_config(config)) == config
    durable = DurableEngine(MemoryBackend(), config)
    changed = durable.apply(ChangeParams(dataclasses.replace(config, taker_fee_rate=D("0.0004"))))
    assert changed.accepted, changed.denial
    assert durable.engine.config.taker_fee_rate == D("0.0004") and durable.engine.config.profile == old


def test_a_default_leverage_no_instrument_allows_is_refused() -> None:
    """Found by a new-user pass: ``default_leverage`` 1000 (the setting's old range, 1 to 1000)
    was taken over ``POST /v1/params`` on binance-usdm, whose highest leverage is BTCUSDT's 150
    at its first bracket, and every order of an account that had set none was then refused."""
    from dataclasses import replace

    from solvent.engine.params import setting_problem

    config = EngineConfig(load_venue("binance-usdm", overlays=False))
    problem = setting_problem(replace(config, default_leverage=D(1000)))
    assert problem is not None
    assert dict(problem.context)["allowed"] == "at most 150, the highest leverage an instrument of binance-usdm allows"
    assert setting_problem(replace(config, default_leverage=D(150))) is None
    assert setting_problem(replace(config, default_leverage=D(1000), leverage_grid=False)) is None  # as recorded


def test_on_a_venue_without_a_leverage_setting_an_account_margins_at_the_venues_own_fraction() -> None:
    """Found by a new-user pass: dYdX v4 has no leverage setting; its initial margin is the
    market's initial-margin fraction, 2 % for BTC-USD (imf_ppm 20,000 in the profile), so
    1 BTC-USD at 60,000 needs 1,200 USDC. The engine used 20× (3,000) and refused it on 1,500.
    By hand: IM 60,000 × 0.02 = 1,200, plus the taker-fee reserve 60,000 × 0.0005 = 30: 1,230
    ≤ 1,500. Journals written before replay with 20× (``venue_default_leverage`` false)."""
    from dataclasses import replace

    from solvent.engine import AdvanceTime, PlaceOrder, PriceUpdate
    from solvent.model import Side

    def engine(venue_own: bool) -> Engine:
        config = EngineConfig(load_venue("dydx-v4", overlays=False))
        built = Engine(replace(config, venue_default_leverage=venue_own))
        for cmd in (AdvanceTime(0), *(PriceUpdate("BTC-USD", s, D(60000)) for s in "abc"),
                    Deposit("alice", "USDC", D(1500))):
            assert built.apply(cmd).accepted
        return built

    order = PlaceOrder("alice", "o1", "BTC-USD", Side.LONG, D(1), D(60000))
    assert engine(True).config.leverage_default("BTC-USD") == 50
    assert engine(True).check(order).accepted
    refused = engine(False).check(order)
    assert refused.denial is not None and refused.denial.code is DenyCode.INSUFFICIENT_INITIAL_MARGIN
    assert dict(refused.denial.context)["required"] == "3030"  # 60,000 / 20 + 30, as before
    # Drift's first-tier 10× is below 20× already: unchanged
    drift = EngineConfig(load_venue("drift", overlays=False))
    assert drift.leverage_default("BTC-PERP") == replace(drift, venue_default_leverage=False).leverage_default(
        "BTC-PERP") == 10
    # a venue with a leverage setting keeps Binance's default
    assert EngineConfig(load_venue("binance-usdm")).leverage_default("BTCUSDT") == 20
