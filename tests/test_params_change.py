"""Parameter changes as inputs (issue 16, item 1: "parameter changes ... are in the journal").

The book of ``test_certificate._hand_book``: A holds 0.1 BTCUSDT long from 50,000 (cost 5,000)
with 1,000 USDT; B is the other side. At a mark of 43,000, by hand:
equity = 1,000 + 0.1 × (43,000 − 50,000) = 300; notional 4,300, in Binance's first BTCUSDT
bracket (MMR 0.4 %): MM = 17.2; MM / equity = 0.0573…, below the 0.8 margin-call ratio.

* Lowering the margin-call ratio to 0.05 (warning 0.04) makes A a margin call at once.
* A tier table whose first bracket has MMR 6 % (a dated overlay from ``solvent venues update``,
  the way a venue's published bracket change arrives) gives MM = 4,300 × 0.06 = 258 and
  258 / 300 = 0.86 ≥ 0.8: a margin call too.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_certificate import KEY, _hand_book, _level_changes, _note, _verify
from test_venues_update import _bracket, _filters, _symbol, exchange_info, update, write

from solvent.engine import ChangeParams, DenyCode, Engine, EngineConfig, PriceUpdate
from solvent.errors import InvalidInput
from solvent.journal import DurableEngine, MemoryBackend, recover, verify
from solvent.journal.backend import StoredSnapshot
from solvent.journal.checkpoint_note import sign_checkpoint
from solvent.journal.log_proofs import journal_checkpoint
from solvent.journal.snapshot import snapshot_digest
from solvent.model import Asset
from solvent.proofs.certificate import certify
from solvent.risk.venues import load_venue

D = Decimal


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder of this test's own (overlays land there); today is 2026-12-04 (UTC)."""
    folder = tmp_path / "data"
    monkeypatch.setenv("SOLVENT_DATA_DIR", str(folder))
    monkeypatch.delenv("SOLVENT_NO_OVERLAYS", raising=False)
    monkeypatch.setattr("solvent.cli.spec_age.today_utc", lambda: date(2026, 12, 4))
    return folder


def _at_43000() -> tuple[MemoryBackend, DurableEngine]:
    backend = _hand_book()  # ends at a mark of 40,200; bring it back up to 43,000
    durable = DurableEngine(backend, snapshot_every=4)
    for price in ("41000", "42000", "43000"):
        assert durable.apply(PriceUpdate("BTCUSDT", "s", D(price))).accepted
    margin = durable.engine.margin("A")
    assert (margin.equity, margin.maintenance_margin) == (D(300), D("17.2"))
    assert durable.engine.state.accounts["A"].level == "healthy"
    return backend, durable


def _lower_calls(config: EngineConfig) -> EngineConfig:
    return dataclasses.replace(config, thresholds=dataclasses.replace(config.thresholds, margin_call=D("0.05"),
                                                                      warning=D("0.04"), hysteresis=D("0.01")))


def test_a_lower_margin_call_ratio_calls_a_at_once() -> None:
    _, durable = _at_43000()
    result = durable.apply(ChangeParams(_lower_calls(durable.engine.config)))
    types = [type(e).__name__ for e in result.events]
    assert result.accepted and types == ["Accepted", "ParamsChanged", "MarginLevelChanged", "MarginCall"], types
    changed = result.events[2]
    assert (changed.previous, changed.level, changed.equity, changed.maintenance_margin) == (  # type: ignore[union-attr]
        "healthy", "margin_call", D(300), D("17.2"))
    assert durable.engine.config.thresholds.margin_call == D("0.05")
    assert durable.engine.state.params == result.events[1].digest  # type: ignore[union-attr]


def _bracket_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> EngineConfig:
    """Binance's BTCUSDT brackets as published, the first one at MMR 6 %, as a dated overlay."""
    info = exchange_info(_symbol("BTCUSDT", "BTC", _filters("0.10", "0.001")))
    brackets = [{"symbol": "BTCUSDT", "notionalCoef": 1.0, "brackets": [
        _bracket(1, 10, 0, 50000, "0.06", 0), _bracket(2, 5, 50000, 600000, "0.1", 2000)]}]
    update(capsys, "binance-usdm", write(tmp_path, "i.json", info), write(tmp_path, "b.json", brackets))
    profile = load_venue("binance-usdm")
    assert profile.overlay is not None
    return EngineConfig(profile)


def test_a_published_bracket_change_replays_recovers_and_verifies(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    backend, durable = _at_43000()
    new = dataclasses.replace(durable.engine.config, profile=_bracket_change(tmp_path, capsys).profile)
    result = durable.apply(ChangeParams(new))
    assert [type(e).__name__ for e in result.events][2:] == ["MarginLevelChanged", "MarginCall"]
    assert durable.engine.margin("A").maintenance_margin == D(258)  # 4,300 × 6 %
    seq = durable.seq
    record = json.loads(next(iter(backend.records(seq))).payload)
    assert list(record) == ["v", "seq", "kind", "config", "events"] and record["kind"] == "params"
    assert record["config"]["profile"]["overlay"]["sha256"] == new.profile.overlay.sha256  # type: ignore[union-attr]
    for price in ("43100", "43200", "43300", "43400", "43500"):  # past a checkpoint and its snapshot
        durable.apply(PriceUpdate("BTCUSDT", "s", D(price)))
    final = durable.state_hash()
    durable.close()
    recovered = recover(backend)
    assert recovered.snapshot_seq is not None and recovered.snapshot_seq > seq  # a snapshot under the new rules
    assert recovered.engine.config == new and recovered.engine.state_hash() == final
    report = verify(backend)  # from genesis: the params record applied as it was
    assert report.ok and report.state_hash == final
    reopened = DurableEngine(backend)
    assert reopened.engine.margin("A").maintenance_margin == D("261")  # 0.1 × 43,500 × 6 %
    # at 42,500: equity 1,000 + 0.1 × (42,500 − 50,000) = 250 ≤ MM 0.1 × 42,500 × 6 % = 255
    events = reopened.apply(PriceUpdate("BTCUSDT", "s", D(42_500))).events
    assert [(e.level, e.equity, e.maintenance_margin) for e in events  # type: ignore[union-attr]
            if type(e).__name__ == "MarginLevelChanged"] == [("liquidation", D(250), D(255))]
    reopened.close()
    cert = certify(backend, reopened.seq, _note(backend), "A", prior=lambda size: sign_checkpoint(
        journal_checkpoint(backend, KEY.name, size, state=True), KEY))
    assert cert["params"]["index"] == seq and cert["positions"][0]["tiers"][0]["mmr"] == "0.06"
    assert _verify(tmp_path, cert) == 0
    # the same ratios, the same venue name: only the signed state's parameter digest tells that
    # the genesis tiers were not the ones in force
    from solvent_verify import VerifyError
    from solvent_verify.certificate import verify_certificate
    from solvent_verify.note import parse_vkey

    with pytest.raises(VerifyError, match="parameters in force before the record are not the ones"):
        verify_certificate({k: v for k, v in cert.items() if k != "params"}, parse_vkey(KEY.verifier_key()))


def test_a_snapshot_whose_stored_configuration_was_swapped_is_not_trusted(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    backend, durable = _at_43000()
    durable.apply(ChangeParams(dataclasses.replace(durable.engine.config,
                                                   profile=_bracket_change(tmp_path, capsys).profile)))
    for price in ("43100", "43200", "43300", "43400", "43500"):
        durable.apply(PriceUpdate("BTCUSDT", "s", D(price)))
    durable.close()
    newest = next(backend.snapshots())
    raw = json.loads(newest.blob)
    raw["params"]["config"]["profile"] = {"name": "binance-usdm", "bundled": True,
                                          "sha256": json.loads(next(iter(backend.records(0))).payload)[
                                              "config"]["profile"]["sha256"]}  # back to the old brackets
    blob = json.dumps(raw, separators=(",", ":")).encode()
    backend.stored_snapshots = [s for s in backend.stored_snapshots if s.seq != newest.seq] + [
        StoredSnapshot(newest.seq, newest.chain_hash, newest.state_hash, snapshot_digest(blob), blob)]
    recovered = recover(backend)
    assert any("not the one its state names" in r for r in recovered.skipped_snapshots)
    assert recovered.engine.margin("A").maintenance_margin == D("261")  # the older snapshot and the tail


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda c: EngineConfig(load_venue("bybit-linear")), "keeps the venue"),
    (lambda c: dataclasses.replace(c, settle_asset="USDC"), "settlement asset"),
    (lambda c: dataclasses.replace(c, money_quantum=D("0.01")), "money quantum"),
    (lambda c: dataclasses.replace(c, profile=dataclasses.replace(c.profile, instruments={
        s: i for s, i in c.profile.instruments.items() if s != "BTCUSDT"})), "stays listed"),
    (lambda c: dataclasses.replace(c, profile=dataclasses.replace(c.profile, instruments={
        **c.profile.instruments, "BTCUSDT": dataclasses.replace(c.profile.instruments["BTCUSDT"],
                                                                contract_size=D(10))})), "keeps its contract"),
])
def test_a_change_the_state_cannot_be_counted_under_is_refused_and_changes_nothing(edit: Any, reason: str) -> None:
    _, durable = _at_43000()
    engine = durable.engine
    before = engine.state_hash()
    for run in (engine.check, engine.apply):
        result = run(ChangeParams(edit(engine.config)))
        assert not result.accepted and result.denial is not None
        assert result.denial.code is DenyCode.PARAMS_INCOMPATIBLE and reason in str(result.denial)
    assert engine.state_hash() == before and engine.state.params is None


def test_collateral_an_account_holds_stays_collateral() -> None:
    btc = Asset("BTC", haircut=D("0.05"))
    engine = Engine(EngineConfig(load_venue("binance-usdm"), collateral={"BTC": btc}))
    from solvent.engine import Deposit

    assert engine.apply(Deposit("w", "BTC", D(1))).accepted
    refused = engine.apply(ChangeParams(EngineConfig(load_venue("binance-usdm"))))
    assert refused.denial is not None and "asset=BTC" in str(refused.denial)
    harsher = engine.apply(ChangeParams(EngineConfig(load_venue("binance-usdm"),
                                                     collateral={"BTC": Asset("BTC", haircut=D("0.2"))})))
    assert harsher.accepted


def test_a_profile_replay_could_not_find_is_refused_before_anything_is_applied() -> None:
    _, durable = _at_43000()
    custom = dataclasses.replace(durable.engine.config.profile, liquidation_fee_rate=D("0.05"))  # no file holds it
    before, seq = durable.state_hash(), durable.seq
    with pytest.raises(InvalidInput, match="bundled profile as shipped or a dated overlay"):
        durable.submit(ChangeParams(dataclasses.replace(durable.engine.config, profile=custom)))
    assert (durable.state_hash(), durable.seq) == (before, seq)


def test_certificates_after_a_change_bind_the_rules_of_its_record(tmp_path: Path) -> None:
    """The margin call the change caused, and a later one, are certified under the params
    record's rules, bound to the signed state before the record where nothing else moved A."""
    backend, durable = _at_43000()
    durable.apply(ChangeParams(_lower_calls(durable.engine.config)))
    at = durable.seq
    for price in ("42000", "41000", "40300"):  # 40,300: equity 30, MM 16.12, ratio 0.537: still a call
        durable.apply(PriceUpdate("BTCUSDT", "s", D(price)))
    durable.apply(PriceUpdate("BTCUSDT", "s", D("40150")))  # equity 15 ≤ MM 16.06: liquidation
    durable.close()
    note = _note(backend)
    changes = [c for c in _level_changes(backend) if c[0] >= at]
    assert [(c[0] == at, c[2], c[3]) for c in changes] == [(True, "healthy", "margin_call"),
                                                          (False, "margin_call", "liquidation")]
    for seq, _, _, _ in changes:
        cert = certify(backend, seq, note, "A", prior=lambda size: sign_checkpoint(
            journal_checkpoint(backend, KEY.name, size, state=True), KEY))
        assert cert["params"]["index"] == at and cert["rules"]["margin_call_ratio"] == "0.05"
        assert "prior" in cert and _verify(tmp_path, cert) == 0
        genesis_rules = dict(cert)
        genesis_rules.pop("params")  # claim the genesis rules were in force: the ratios differ
        assert _verify(tmp_path, genesis_rules) == 1


def test_the_digest_is_of_the_configuration_as_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by review: the digest of the in-memory configuration would change when a later
    solvent adds a configuration field, and every journal holding a params record would stop
    replaying. The state names the configuration by SHA-256 of the record's ``config`` bytes."""
    import hashlib

    backend, durable = _at_43000()
    result = durable.apply(ChangeParams(dataclasses.replace(durable.engine.config,
                                                            profile=_bracket_change(tmp_path, capsys).profile)))
    payload = next(iter(backend.records(durable.seq))).payload
    config_bytes = payload[payload.index(b'"config":') + len(b'"config":'):payload.index(b',"events":')]
    digest = hashlib.sha256(config_bytes).hexdigest()
    assert result.events[1].digest == durable.engine.state.params == digest  # type: ignore[union-attr]
    # a newer solvent encodes one field more: snapshots hold the configuration as recorded, so
    # recovery and replay go on naming it by the same digest
    from solvent.journal import codec, snapshot

    real = codec.encode_config
    newer = lambda config: {**real(config), "future_field": False}  # noqa: E731
    for price in ("43100", "43200", "43300", "43400", "43500"):
        durable.apply(PriceUpdate("BTCUSDT", "s", D(price)))
    final = durable.state_hash()
    durable.close()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(codec, "encode_config", newer)
        patch.setattr(snapshot, "encode_config", newer)
        recovered = recover(backend)
        assert recovered.snapshot_seq is not None and not recovered.skipped_snapshots
        assert recovered.engine.state_hash() == final and verify(backend).ok


def test_a_certificate_of_the_change_itself_must_cite_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by review: the margin call a bracket change causes, certified without citing the
    change, claimed the genesis rules and passed (the tiers are not among the bound ratios)."""
    backend, durable = _at_43000()
    durable.apply(ChangeParams(dataclasses.replace(durable.engine.config,
                                                   profile=_bracket_change(tmp_path, capsys).profile)))
    seq = durable.seq
    durable.close()
    cert = certify(backend, seq, _note(backend), "A", prior=lambda size: sign_checkpoint(
        journal_checkpoint(backend, KEY.name, size, state=True), KEY))
    assert cert["params"]["index"] == seq and "prior" in cert and _verify(tmp_path, cert) == 0
    from solvent_verify import VerifyError
    from solvent_verify.certificate import verify_certificate
    from solvent_verify.note import parse_vkey

    with pytest.raises(VerifyError, match="changes the parameters: the certificate must cite it"):
        verify_certificate({k: v for k, v in cert.items() if k != "params"}, parse_vkey(KEY.verifier_key()))


def test_a_change_to_something_not_a_configuration_is_refused_by_a_journaled_engine_too() -> None:
    _, durable = _at_43000()
    before, seq = durable.state_hash(), durable.seq
    for value in (None, load_venue("binance-usdm")):
        ticket = durable.submit(ChangeParams(value))  # type: ignore[arg-type]
        assert ticket.result.denial is not None and ticket.result.denial.code is DenyCode.PARAMS_INCOMPATIBLE
    durable.flush()
    assert (durable.state_hash(), durable.seq) == (before, seq)


def test_encode_state_under_changed_parameters_takes_the_configuration() -> None:
    from solvent.journal.codec import encode_config
    from solvent.journal.snapshot import decode_snapshot_in_force, encode_state

    _, durable = _at_43000()
    durable.apply(ChangeParams(_lower_calls(durable.engine.config)))
    state = durable.engine.state
    with pytest.raises(InvalidInput, match="with its configuration"):
        encode_state(state)
    blob = encode_state(state, encode_config(durable.engine.config))
    decoded, _, in_force = decode_snapshot_in_force(blob)
    assert decoded.params == state.params and in_force == encode_config(durable.engine.config)


def test_a_params_record_whose_digest_does_not_name_its_configuration_is_refused(tmp_path: Path) -> None:
    """A venue that signs a params record whose ParamsChanged names another configuration than
    the one the record holds: the verifier hashes the record's config itself."""
    from solvent.journal.backend import StoredRecord
    from solvent.journal.chain import ZERO_HASH, chain_hash
    from solvent.journal.log_proofs import record_inclusion

    backend, durable = _at_43000()
    durable.apply(ChangeParams(_lower_calls(durable.engine.config)))
    at = durable.seq
    durable.close()
    cert = certify(backend, at, _note(backend), "A")
    assert _verify(tmp_path, cert) == 0
    edited, head = MemoryBackend(), ZERO_HASH
    for stored in backend.records(0):
        payload = stored.payload
        if stored.seq == at:
            raw = json.loads(payload)
            next(e for e in raw["events"] if e["type"] == "ParamsChanged")["digest"] = "ab" * 32
            payload = json.dumps(raw, separators=(",", ":")).encode()
        head = chain_hash(head, payload)
        edited.stored.append(StoredRecord(stored.seq, head, payload))
    note = _note(edited)
    forged = copy.deepcopy(cert)

    def proof(seq: int) -> dict[str, Any]:
        whole = record_inclusion(edited, seq, note)
        return {k: whole[k] for k in ("origin", "size", "index", "record", "path")}

    forged["log"] = proof(at) | {"checkpoint": note}
    forged["genesis"], forged["params"] = proof(0), proof(at)
    forged["marks"] = {s: {"price": m["price"], **proof(m["index"])} for s, m in cert["marks"].items()}
    assert _verify(tmp_path, forged) == 1
    from solvent_verify import VerifyError
    from solvent_verify.certificate import verify_certificate
    from solvent_verify.note import parse_vkey

    with pytest.raises(VerifyError, match="does not name its configuration's digest"):
        verify_certificate(forged, parse_vkey(KEY.verifier_key()))


def test_admission_checks_are_not_run_again_on_replay() -> None:
    """Found by review: tightening what a new change must meet made journals whose changes met
    the earlier rules stop replaying. A change read back from a record (``replayed``) is held
    to what the state can be counted under, not to today's admission rules."""
    _, durable = _at_43000()
    engine = durable.engine
    odd = dataclasses.replace(engine.config, thresholds=dataclasses.replace(
        engine.config.thresholds, warning=D("0.04"), margin_call=D("0.05")))  # hysteresis 0.05 ≥ warning
    refused = engine.apply(ChangeParams(odd))
    assert refused.denial is not None and "thresholds" in str(refused.denial)
    assert engine.apply(ChangeParams(odd, replayed=True)).accepted


def test_liquidation_cannot_be_switched_off_and_on_onto_another_book_account() -> None:
    """Found by review: the policy's accounts were compared only between two policies, so off,
    then on with a trader as the book, moved the venue's side of liquidations onto the trader."""
    from solvent.engine import LiquidationPolicy

    engine = Engine(EngineConfig(load_venue("binance-usdm"), liquidation=LiquidationPolicy()))
    off = engine.apply(ChangeParams(dataclasses.replace(engine.config, liquidation=None)))
    assert off.denial is not None and "keeps whether the venue liquidates" in str(off.denial)
    moved = engine.apply(ChangeParams(dataclasses.replace(engine.config, liquidation=LiquidationPolicy(
        book_account="A"))))
    assert moved.denial is not None and "keeps its accounts" in str(moved.denial)


def test_a_settlement_window_of_zero_is_refused() -> None:
    """Found by review: a window of 0 made dated futures never settle (their TWAP refuses it)."""
    _, durable = _at_43000()
    refused = durable.engine.apply(ChangeParams(dataclasses.replace(durable.engine.config, settlement_window_ms=0)))
    assert refused.denial is not None and "settlement_window_ms" in str(refused.denial)


@pytest.mark.parametrize("rule", ["amounts_on_quantum", "fee_cap", "fill_checks", "order_terms"])
def test_a_rule_off_only_for_old_journals_cannot_be_switched_off(rule: str) -> None:
    """Found by a new-user pass: posting the configuration with ``amounts_on_quantum`` false let a
    deposit of 10^-18 in, and the fund stayed off the money quantum for good. Such a rule is off
    only so that journals written before it replay as they ran; a journal that recorded the
    change (``replayed``) still replays."""
    engine = Engine(EngineConfig(load_venue("binance-usdm")))
    off = dataclasses.replace(engine.config, **{rule: False})
    result = engine.apply(ChangeParams(off))
    assert not result.accepted and result.denial is not None
    assert result.denial.code is DenyCode.PARAMS_INCOMPATIBLE and dict(result.denial.context)["rule"] == rule
    assert getattr(engine.config, rule) is True
    assert engine.apply(ChangeParams(off, replayed=True)).accepted
    assert engine.apply(ChangeParams(dataclasses.replace(off, **{rule: True}))).accepted  # back on: fine


def test_the_replay_only_rules_are_the_journal_codecs_legacy_ones() -> None:
    """Every rule the codec fills in as off for journals written before it (``LEGACY_CONFIG``) is
    one a parameter change keeps on, but the volatility-scaled MM, which a venue chooses."""
    from solvent.engine.config import REPLAY_ONLY_OFF
    from solvent.journal.codec import LEGACY_CONFIG

    assert set(REPLAY_ONLY_OFF) == {k for k, v in LEGACY_CONFIG.items() if v is False} - {"volatility_mm"}


def test_the_liquidation_revision_cannot_go_back_by_a_parameter_change() -> None:
    """Revision 1 priced liquidations unrounded at 40 digits on an instrument without a tick: it
    is there so journals written before replay as they ran, as the rules of ``REPLAY_ONLY_OFF``
    are; a new change may not return to it, a recorded one still replays."""
    from solvent.engine import LiquidationPolicy

    engine = Engine(EngineConfig(load_venue("binance-usdm"), liquidation=LiquidationPolicy()))
    assert engine.config.liquidation is not None
    back = dataclasses.replace(engine.config, liquidation=dataclasses.replace(engine.config.liquidation, revision=1))
    result = engine.apply(ChangeParams(back))
    assert not result.accepted and result.denial is not None
    assert result.denial.code is DenyCode.PARAMS_INCOMPATIBLE and dict(result.denial.context)["revision"] == "1"
    assert engine.apply(ChangeParams(back, replayed=True)).accepted
