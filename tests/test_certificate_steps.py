"""Liquidation steps certified on their own (issue 16, item 3), on a Hyperliquid book whose
liquidation closes 20 % chunks of a position a cooldown apart, each in a later record than the
trigger. No signed event states the equity and MM a later step was judged on, so such a
certificate must bind the signed state before its record: the account, and through the state
document the marks and MM scales in force (a review found a stale mark, a forged volatility
scale and the state after the step each accepted before)."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_certificate import _note, _state_note
from test_certificate_prior import _checked, _refused

from solvent.engine import AdvanceTime, Deposit, EngineConfig, Fill, LiquidationPolicy, PriceUpdate
from solvent.errors import InvalidInput
from solvent.journal import DurableEngine, MemoryBackend
from solvent.journal.codec import decode_record
from solvent.proofs.account_extract import account_extract
from solvent.proofs.certificate import certify, step_claim_problem
from solvent.risk.venues import load_venue

D = Decimal


def _hyperliquid_book(accounts: tuple[str, ...] = ("long",)) -> MemoryBackend:
    """Each account buys 3 BTC at 60,000 on 20,000 USDC; the mark falls 0.2 % every 10 s until the
    first margin call, jumps down 375, then falls 40 every 31 s (past Hyperliquid's cooldown)."""
    backend = MemoryBackend()
    config = EngineConfig(load_venue("hyperliquid"), settle_asset="USDC", liquidation=LiquidationPolicy())
    engine = DurableEngine(backend, config)
    price, now = D(60_000), 0
    setup: list[Any] = [AdvanceTime(0), PriceUpdate("BTC", "s", price), Deposit("maker", "USDC", D(10) ** 9)]
    for n, aid in enumerate(accounts):
        setup += [Deposit(aid, "USDC", D(20_000)), Fill(f"t{n}", "BTC", price, D(3), aid, "maker")]
    for cmd in setup:
        assert engine.apply(cmd).accepted, cmd
    while True:
        price, now = (price * D("0.998")).quantize(config.price_step("BTC")), now + 10_000
        engine.apply(AdvanceTime(now))
        if any(getattr(e, "level", None) == "margin_call" for e in engine.apply(PriceUpdate("BTC", "s", price)).events):
            break
    price, now = price - 375, now + 10_000
    for cmd in (AdvanceTime(now), PriceUpdate("BTC", "s", price)):
        assert engine.apply(cmd).accepted
    for k in range(1, 8):
        now += 31_000
        for cmd in (AdvanceTime(now), PriceUpdate("BTC", "s", price - 40 * k)):
            assert engine.apply(cmd).accepted, cmd
    return backend


def _steps_alone(backend: MemoryBackend, account: str) -> list[tuple[int, int]]:
    out = []
    for stored in backend.records(1):
        events = decode_record(stored.payload).events
        out += [(stored.seq, i) for i, e in enumerate(events) if e["type"] == "LiquidationStep"
                and e["account_id"] == account and step_claim_problem(events, i, account) is None]
    return out


@pytest.fixture(scope="module")
def chunks() -> tuple[MemoryBackend, list[tuple[int, int]], list[dict[str, Any]]]:
    backend = _hyperliquid_book()
    steps = _steps_alone(backend, "long")
    note = _note(backend)
    return backend, steps, [certify(backend, seq, note, index=i, prior=lambda size: _state_note(backend, size))
                            for seq, i in steps]


def test_each_chunk_after_the_trigger_certifies(chunks: tuple[MemoryBackend, list[tuple[int, int]],
                                                               list[dict[str, Any]]], tmp_path: Path) -> None:
    _, steps, certs = chunks
    assert len(steps) >= 2
    for (seq, i), cert in zip(steps, certs, strict=True):
        assert (cert["claim"]["event_index"], cert["claim"]["previous"], cert["claim"]["level"]) == (
            i, "liquidation", "liquidation")
        part = cert["liquidation"]
        assert part["rule"] == "backstop" and part["step"] == i
        # a 20 % chunk of the position the state before the record holds
        held = D(cert["prior"]["extract"]["account"]["positions"][0][1]["qty"])
        step = decode_record(next(iter(chunks[0].records(seq))).payload).events[i]
        assert D(step["qty"]) == (held * D("0.2")).quantize(D("0.00001"), rounding="ROUND_CEILING")
        assert _checked(cert).startswith(f"ok: long stays in liquidation at seq {seq}")


def test_a_step_claim_binds_the_state_before_its_record(chunks: tuple[MemoryBackend, list[tuple[int, int]],
                                                                      list[dict[str, Any]]]) -> None:
    backend, steps, certs = chunks
    (seq, _), cert = steps[0], certs[0]
    # without the prior state nothing signed states the equity and MM: refused
    assert "needs the signed state before its record" in _refused(_edited(cert, lambda c: c.pop("prior")))
    with pytest.raises(InvalidInput, match="give a signer key or a state checkpoint"):
        certify(backend, seq, _note(backend), index=cert["claim"]["event_index"])
    # the state after the record (after the step itself) is not the one the step was judged on
    after = {"extract": account_extract(backend, "long", _state_note(backend, seq + 1)),
             "consistency": cert["prior"]["consistency"]}
    assert "needs the signed state before its record" in _refused(
        _edited(cert, lambda c: (c.pop("prior"), c.update(after=after))))


def test_a_stale_mark_or_a_forged_scale_is_refused(chunks: tuple[MemoryBackend, list[tuple[int, int]],
                                                                 list[dict[str, Any]]]) -> None:
    _, _, certs = chunks
    earlier, later = certs[0], certs[1]
    stale = _edited(later, lambda c: c["marks"].update(BTC=earlier["marks"]["BTC"]))
    assert "is not the one in force at the event" in _refused(stale)
    scaled = _edited(later, lambda c: c["positions"][0].update(scale="1.2"))
    assert "the MM scale 1.2 is not the one in force" in _refused(scaled)


def test_a_step_after_another_accounts_step_in_its_record_is_refused_by_the_builder() -> None:
    """Two equal accounts are liquidated in the same records; the second one's step comes after
    the first one's, which moves the book account: the state before the record is not the one
    the second step was judged on, and nothing else binds it."""
    backend = _hyperliquid_book(("a", "long"))
    for seq, i in _steps_alone(backend, "long"):
        events = decode_record(next(iter(backend.records(seq))).payload).events
        if any(e["type"] == "LiquidationStep" for e in events[:i]):
            with pytest.raises(InvalidInput, match="another account's liquidation"):
                certify(backend, seq, _note(backend), index=i, prior=lambda size: _state_note(backend, size))
            return
    pytest.fail("no step after another account's in the same record")


def _edited(cert: dict[str, Any], edit: Any) -> dict[str, Any]:
    forged = copy.deepcopy(cert)
    edit(forged)
    return forged



@pytest.mark.parametrize("value", [None, "9.4\n", " 9.4", "1E+2", True, [1]])
def test_a_step_claims_own_numbers_must_be_plain_decimals(
        chunks: tuple[MemoryBackend, list[tuple[int, int]], list[dict[str, Any]]], value: Any) -> None:
    """They are printed in the summary line: a newline would split it, a bad type would crash."""
    cert = chunks[2][0]
    assert "equity is not a number in plain notation" in _refused(_edited(cert, lambda c: c.update(equity=value)))
    assert "margin_ratio is not a number" in _refused(_edited(cert, lambda c: c.pop("margin_ratio")))


def test_a_scale_the_record_changes_is_bound_to_its_event(tmp_path: Path) -> None:
    """``test_volatility_mm``'s spike: at minute 7 the record's volatility update raises BTCUSDT's
    MM scale from 1.66475 to 4.7305 and alice gets a margin call (MM 240 × 4.7305 = 1,135.32 on
    equity 1,300). Her certificate binds the signed state before the record, where the scale is
    1.66475; the scale it uses is the record's ``MaintenanceScaleChanged``."""
    from test_volatility_mm import ENGINE_RULE, MINUTE, PRICES, _minute

    backend = MemoryBackend()
    engine = DurableEngine(backend, EngineConfig(load_venue("binance-usdm"), volatility_mm=ENGINE_RULE))
    cmds: list[Any] = [AdvanceTime(0), PriceUpdate("BTCUSDT", "ix", D(60_000)), Deposit("maker", "USDT", D(10) ** 9),
                       Deposit("alice", "USDT", D(1_300)), Fill("t1", "BTCUSDT", D(60_000), D(1), "alice", "maker")]
    for k, price in enumerate(PRICES[:7], start=1):
        cmds += _minute(k, price)
    for cmd in cmds:
        assert engine.apply(cmd).accepted, cmd
    seq = len(cmds)  # the AdvanceTime to minute 7
    record = decode_record(next(iter(backend.records(seq))).payload)
    assert record.input == AdvanceTime(7 * MINUTE)
    events = record.events
    index = next(i for i, e in enumerate(events) if e["type"] == "MarginLevelChanged")
    assert any(e["type"] == "MaintenanceScaleChanged" for e in events[:index])
    cert = certify(backend, seq, _note(backend), index=index, prior=lambda size: _state_note(backend, size))
    market = cert["prior"]["extract"]["document"]["markets"]["BTCUSDT"]
    assert (D(market["volatility"]["scale"]), D(cert["positions"][0]["scale"])) == (D("1.66475"), D("4.7305"))
    assert (D(cert["maintenance_margin"]), cert["claim"]["level"]) == (D("1135.32"), "margin_call")
    assert _checked(cert).endswith("marks and MM scales as in force")
    # the scale of the state before the record is refused (before any arithmetic)
    stale = _edited(cert, lambda c: c["positions"][0].update(scale="1.66475"))
    assert "the MM scale 1.66475 is not the one in force" in _refused(stale)


def test_a_scale_a_parameter_change_switched_off_is_not_in_force(tmp_path: Path) -> None:
    """Found by review: after a ``ChangeParams`` turns the volatility rule off, the market still
    holds its last volatility state, but no MM is scaled (``scale`` null). Every certificate with
    a prior state verifies, the params record's own level changes included."""
    import dataclasses

    from test_volatility_mm import ENGINE_RULE, PRICES, _minute

    from solvent.engine import ChangeParams

    backend = MemoryBackend()
    engine = DurableEngine(backend, EngineConfig(load_venue("binance-usdm"), volatility_mm=ENGINE_RULE))
    cmds: list[Any] = [AdvanceTime(0), PriceUpdate("BTCUSDT", "ix", D(60_000)), Deposit("maker", "USDT", D(10) ** 9)]
    for aid in ("alice", "bob"):
        cmds += [Deposit(aid, "USDT", D(1_300)), Fill(f"t-{aid}", "BTCUSDT", D(60_000), D(1), aid, "maker")]
    for k, price in enumerate(PRICES[:7], start=1):
        cmds += _minute(k, price)
    for cmd in cmds:
        assert engine.apply(cmd).accepted, cmd
    assert engine.apply(ChangeParams(dataclasses.replace(engine.engine.config, volatility_mm=False))).accepted
    for k in range(8, 20):
        for cmd in _minute(k, 60_000 - 80 * (k - 7)):
            assert engine.apply(cmd).accepted, cmd
    note, checked, after_change = _note(backend), 0, 0
    for stored in backend.records(1):
        for i, e in enumerate(decode_record(stored.payload).events):
            if e["type"] == "MarginLevelChanged":
                cert = certify(backend, stored.seq, note, index=i, prior=lambda size: _state_note(backend, size))
                if "prior" in cert:
                    assert _checked(cert).endswith("marks and MM scales as in force"), (stored.seq, i)
                    checked += 1
                    if stored.seq > len(cmds):  # the change and after: no scale, whatever the market holds
                        after_change += 1
                        assert cert["positions"][0]["scale"] is None
                        market = cert["prior"]["extract"]["document"]["markets"]["BTCUSDT"]
                        assert D(market["volatility"]["scale"]) > 1
    assert checked >= 4 and after_change >= 2, (checked, after_change)


def test_a_collateral_price_left_out_is_refused() -> None:
    """Found by review: a wallet line without a price counts for nothing; with a prior state the
    price in force (the state's BTC market) must be there."""
    from solvent.model import Asset

    btc = Asset("BTC", haircut=D("0.05"))
    backend = MemoryBackend()
    engine = DurableEngine(backend, EngineConfig(load_venue("binance-usdm"), collateral={"BTC": btc}))
    cmds: list[Any] = [AdvanceTime(0), PriceUpdate("BTC", "ix", D(60_000)), PriceUpdate("ETHUSDT", "s", D(3_000)),
                       Deposit("w", "BTC", D(1)), Deposit("maker", "USDT", D(10) ** 9),
                       Fill("t1", "ETHUSDT", D(3_000), D(100), "w", "maker")]
    price = D(3_000)
    for minute in range(1, 30):
        price = (price * D("0.99")).quantize(D("0.01"))
        cmds += [AdvanceTime(minute * 60_000), PriceUpdate("ETHUSDT", "s", price)]
    for cmd in cmds:
        assert engine.apply(cmd).accepted, cmd
    seq, index = next((stored.seq, i) for stored in backend.records(1)
                      for i, e in enumerate(decode_record(stored.payload).events)
                      if e["type"] == "MarginLevelChanged" and e["account_id"] == "w")
    cert = certify(backend, seq, _note(backend), index=index, prior=lambda size: _state_note(backend, size))
    assert "prior" in cert and _checked(cert)
    dropped = _edited(cert, lambda c: next(line for line in c["collateral"] if line["asset"] == "BTC").update(
        price=None, value="0"))
    assert "BTC: the price None is not the one in force" in _refused(dropped)


def test_a_position_valued_as_another_kind_is_refused(chunks: tuple[MemoryBackend, list[tuple[int, int]],
                                                                    list[dict[str, Any]]]) -> None:
    """Found by review: ``inverse`` decides how a position is valued, and a step on its own has
    no signed equity to catch a flipped one: the profile file binds the instrument's kind."""
    cert = chunks[2][0]
    flipped = _edited(cert, lambda c: c["positions"][0].update(inverse=True))
    assert "inverse True is not the profile's instrument kind 'linear_perpetual'" in _refused(flipped)


def test_a_step_under_a_profile_overlay_is_not_certified_on_its_own(
        chunks: tuple[MemoryBackend, list[tuple[int, int]], list[dict[str, Any]]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A dated overlay (``solvent venues update``) is named by its own digest, which
    ``--profile`` (bundled files) cannot bind, and a step on its own needs its MM tables bound."""
    from solvent_verify import VerifyError
    from solvent_verify.profile import bind_profile

    backend, steps, _ = chunks
    seq, index = steps[0]
    monkeypatch.setattr("solvent.proofs.certificate.encode_profile", lambda profile: {
        "name": profile.name, "bundled": False, "overlay": {"effective_from": "2026-12-04", "sha256": "0" * 64}})
    with pytest.raises(InvalidInput, match="not the bundled hyperliquid file"):
        certify(backend, seq, _note(backend), index=index, prior=lambda size: _state_note(backend, size))
    overlay = {"name": "hyperliquid", "bundled": False, "overlay": {"effective_from": "2026-12-04", "sha256": "0" * 64}}
    with pytest.raises(VerifyError, match="runs a dated overlay of hyperliquid"):
        bind_profile({"positions": []}, overlay, b"{}", {}, lambda name: b"")
