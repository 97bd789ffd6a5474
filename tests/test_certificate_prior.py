"""A certificate binds the account it judges to the venue's signed state before the record
(issue 16, item 3: "the account's prior state, with an inclusion proof against a checkpoint").

The hand book of ``test_certificate.py``: A deposits 1,000 USDT and buys 0.1 BTC at 50,000 (cost
5,000) from B; the mark then falls. At record 9 (mark 40,150) A goes from margin call to
liquidation. Nothing in record 9 names A, so the account judged is A as the state held it after
record 8: 1,000 USDT and 0.1 BTCUSDT long at cost 5,000, level margin call.
"""

from __future__ import annotations

import copy
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_certificate import KEY, _hand_book, _level_changes, _note, _state_note, _verify

from solvent.cli import main
from solvent.engine import Fill
from solvent.errors import InvalidInput
from solvent.journal import DurableEngine, MemoryBackend
from solvent.journal.checkpoint_note import Checkpoint, parse_checkpoint, sign_checkpoint
from solvent.journal.log_proofs import journal_checkpoint, log_consistency
from solvent.proofs.account_extract import account_extract
from solvent.proofs.certificate import certify
from solvent_verify import VerifyError
from solvent_verify.certificate import verify_certificate
from solvent_verify.note import parse_vkey

D = Decimal


def _checked(cert: dict[str, Any]) -> str:
    """The verifier's summary; for a liquidation step certified on its own (its claim's level
    stays), with the shipped profile file of the certificate's venue, which binds the MM tables
    (such a certificate needs it)."""
    from importlib import resources

    from solvent_verify.cli import _profile

    claim = cert.get("claim", {})
    if claim.get("previous") != claim.get("level"):
        return verify_certificate(cert, parse_vkey(KEY.verifier_key()))
    shipped = str(resources.files("solvent") / "profiles" / f"{cert['rules']['profile']}.json")
    return verify_certificate(cert, parse_vkey(KEY.verifier_key()), _profile(shipped))


def _refused(cert: dict[str, Any]) -> str:
    with pytest.raises(VerifyError) as caught:
        _checked(cert)
    return str(caught.value)


def _edited(cert: dict[str, Any], edit: Any) -> dict[str, Any]:
    forged = copy.deepcopy(cert)
    edit(forged)
    return forged


@pytest.fixture(scope="module")
def book() -> tuple[MemoryBackend, int, dict[str, Any]]:
    backend = _hand_book()
    seq = _level_changes(backend)[1][0]
    assert seq == 9
    cert = certify(backend, seq, _note(backend), prior=_state_note(backend, seq))
    return backend, seq, cert


def test_the_liquidation_certificate_binds_a_as_signed_after_record_8(
        book: tuple[MemoryBackend, int, dict[str, Any]], tmp_path: Path) -> None:
    _, _, cert = book
    account = cert["prior"]["extract"]["account"]
    assert account["balances"] == {"USDT": "1000"} and account["level"] == "margin_call"
    ((key, position),) = account["positions"]
    assert key == ["BTCUSDT", "both"] and (D(position["qty"]), D(position["cost"])) == (D("0.1"), D(5_000))
    assert _checked(cert).endswith("; account state as signed after record 8; marks and MM scales as in force")
    assert _verify(tmp_path, cert) == 0
    without = _edited(cert, lambda c: c.pop("prior"))
    assert _checked(without).endswith("; account state not bound (no state checkpoint)")


def _doubled_position(c: dict[str, Any]) -> None:
    """A larger position whose numbers are all recomputed: 0.2 BTC, cost 10,000 at mark 40,150 is
    value 8,030, PnL −1,970, notional 8,030, MM 0.4 % = 32.12; equity 1,000 − 1,970 < 0."""
    c["positions"][0].update(qty="0.2", cost="10000", value="8030", upnl="-1970", notional="8030", mm="32.12")


@pytest.mark.parametrize(("edit", "reason"), [
    (_doubled_position, "the positions listed are not the ones the signed state holds"),
    (lambda c: c["collateral"][0].update(balance="2000"), "the wallet listed is not the one the signed state holds"),
    (lambda c: c["prior"]["consistency"]["path"].reverse(), "consistency"),
    (lambda c: c["prior"]["consistency"].update(size1=8), "not between the prior checkpoint"),
    (lambda c: c["prior"]["extract"]["account"].update(level="healthy"), "not the one in the state"),
    (lambda c: c["prior"].pop("consistency"), "prior holds extract and consistency"),
])
def test_a_certificate_that_departs_from_the_signed_prior_state_is_refused(
        book: tuple[MemoryBackend, int, dict[str, Any]], edit: Any, reason: str) -> None:
    _, _, cert = book
    assert reason in _refused(_edited(cert, edit))


def test_another_accounts_state_or_another_moment_does_not_bind(
        book: tuple[MemoryBackend, int, dict[str, Any]]) -> None:
    backend, seq, cert = book
    b_extract = account_extract(backend, "B", _state_note(backend, seq))  # verifies on its own
    assert "another account's" in _refused(_edited(cert, lambda c: c["prior"].update(extract=b_extract)))
    later = account_extract(backend, "A", _state_note(backend, seq + 1))  # A after record 9, not before it
    assert "not the one after record 8" in _refused(_edited(cert, lambda c: c["prior"].update(extract=later)))
    earlier_note = _state_note(backend, seq - 1)  # A after record 7: healthy there, not margin call
    with pytest.raises(InvalidInput, match="must cover records 0–8"):
        certify(backend, seq, _note(backend), prior=earlier_note)


def test_a_record_that_changes_the_account_before_judging_it_is_bound_to_the_state_after_it(tmp_path: Path) -> None:
    """A buys 2.4 BTC more at the mark in one fill: its level changes in the fill's own record,
    so the state before the record is not the one judged, but nothing in the record moves A
    after it is judged, so the state after the record is: 2.5 BTC at cost 5,000 + 2.4 × 40,200
    = 101,480, and the level the claim states."""
    backend = _hand_book()
    engine = DurableEngine(backend)
    assert engine.apply(Fill("t2", "BTCUSDT", D(40_200), D("2.4"), "A", "B")).accepted
    seq = engine.seq
    assert any(s == seq and a == "A" for s, a, _, _ in _level_changes(backend))
    note = _note(backend)
    with pytest.raises(InvalidInput, match=f"changes A before judging it.*give a state checkpoint of size {seq + 1}"):
        certify(backend, seq, note, "A", prior=_state_note(backend, seq))
    asked: list[int] = []
    cert = certify(backend, seq, note, "A", prior=lambda size: asked.append(size) or _state_note(backend, size))
    assert asked == [seq + 1] and "prior" not in cert
    account = cert["after"]["extract"]["account"]
    ((key, position),) = account["positions"]
    assert key == ["BTCUSDT", "both"] and (D(position["qty"]), D(position["cost"])) == (D("2.5"), D(101_480))
    assert account["level"] == cert["claim"]["level"]
    assert _checked(cert).endswith(f"; account state as signed after record {seq}")
    assert cert == certify(backend, seq, note, "A", prior=_state_note(backend, seq + 1))
    before = account_extract(backend, "A", _state_note(backend, seq))
    assert "not the one after record" in _refused(_edited(cert, lambda c: c["after"].update(extract=before)))
    assert "wallet listed is not" in _refused(_edited(cert, lambda c: c["collateral"][0].update(
        balance=str(D(c["collateral"][0]["balance"]) + 1), value=str(D(c["collateral"][0]["value"]) + 1))))
    both = _edited(cert, lambda c: c.update(prior=c["after"]))
    assert "a prior and an after state" in _refused(both)
    calmer = _resigned(cert["after"]["extract"], lambda a: a.update(level="healthy"))  # re-signed: only the level
    assert "state after the record has level healthy" in _refused(_edited(cert, lambda c: c["after"].update(
        extract=calmer)))


def test_a_state_after_a_record_that_goes_on_to_liquidate_the_account_does_not_bind() -> None:
    """The liquidation trigger of ``_hand_book_liquidated``: the record closes A's position after
    judging it, so the state after the record is not the one judged (the state before it is)."""
    from test_certificate import _hand_book_liquidated

    backend = _hand_book_liquidated()
    seq, note = 10, _note(backend)
    record = json.loads(next(iter(backend.records(seq))).payload)
    trigger = next(i for i, e in enumerate(record["events"]) if e["type"] == "MarginLevelChanged")
    cert = certify(backend, seq, note, index=trigger, prior=lambda size: _state_note(backend, size))
    assert "prior" in cert and "after" not in cert and _checked(cert)
    after = _state_note(backend, seq + 1)
    pasted = _edited(cert, lambda c: c.pop("prior") and c.update(after={
        "extract": account_extract(backend, "A", after), "consistency": log_consistency(backend, after, note)}))
    assert "changes A after judging it" in _refused(pasted)


def test_every_prior_bound_certificate_of_a_stream_verifies() -> None:
    """A random leveraged stream with liquidation on: each level change that can be certified, and
    whose record does not name the account, is bound to the signed state before its record."""
    from test_journal_common import config, stream

    backend = MemoryBackend()
    engine = DurableEngine(backend, config())
    for cmd in stream(3000, seed=7):
        engine.apply(cmd)
    note = _note(backend)
    bound = after = 0
    for seq, account, _, level in _level_changes(backend):
        try:
            cert = certify(backend, seq, note, account, prior=lambda size: _state_note(backend, size))
        except InvalidInput:
            continue
        if cert["claim"]["account_id"] != account or cert["claim"]["level"] != level:
            continue
        assert _checked(cert)
        bound += "prior" in cert
        after += "after" in cert
        # the engine's judged account is the signed one before (or after) the record wherever the binding applies
        assert ("prior" in cert) == _names_nothing_of(backend, seq, cert)
        assert ("after" in cert) == (not _names_nothing_of(backend, seq, cert) and _untouched_after(backend, seq, cert))
    assert bound >= 2 and after >= 2, (bound, after)


def _untouched_after(backend: MemoryBackend, seq: int, cert: dict[str, Any]) -> bool:
    record = json.loads(next(iter(backend.records(seq))).payload)
    account, index = cert["claim"]["account_id"], cert["claim"]["event_index"]
    later = record["events"][index + 1:]
    return not any(e["type"] not in ("MarginCall", "OrderCancelled") and any(
        e.get(name) == account for name in ("account_id", "buyer_id", "seller_id", "counterparty")) for e in later
    ) and not any(e["type"] in ("LiquidationStep", "AutoDeleveraged", "LossSocialised", "CollateralConverted")
                  for e in later)


def _names_nothing_of(backend: MemoryBackend, seq: int, cert: dict[str, Any]) -> bool:
    record = json.loads(next(iter(backend.records(seq))).payload)
    account, index = cert["claim"]["account_id"], cert["claim"]["event_index"]
    earlier = record["events"][:index]
    return not any(item.get(name) == account for item in (record["input"], *earlier)
                   for name in ("account_id", "buyer_id", "seller_id", "counterparty")) and not any(
        e["type"] in ("LiquidationStep", "AutoDeleveraged", "LossSocialised", "CollateralConverted") for e in earlier)


def test_certify_with_a_key_binds_the_prior_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backend = _hand_book()
    journal = tmp_path / "j.ndjson"
    with journal.open("wb") as out:  # the NDJSON export format: each payload embedded byte for byte
        for stored in backend.records(0):
            out.write(b'{"h":"' + stored.hash.encode() + b'","r":' + stored.payload + b"}\n")
    skey = tmp_path / "venue.skey"
    assert main(["tlog", "keygen", "test.example/venue", "--out", str(tmp_path / "venue")]) == 0
    capsys.readouterr()
    target = tmp_path / "cert.json"
    assert main(["certify", "--journal", str(journal), "--event", "9", "--key", str(skey), "--out", str(target),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["prior_bound"] is True
    vkey = str(tmp_path / "venue.vkey")
    from solvent_verify.cli import main as verify_main

    assert verify_main(["certificate", str(target), "--key", vkey]) == 0
    assert "account state as signed after record 8" in capsys.readouterr().out
    wrong = tmp_path / "wrong.txt"
    assert main(["tlog", "checkpoint", str(journal), "--key", str(skey), "--size", "5", "--out", str(wrong)]) == 0
    note = tmp_path / "note.txt"
    assert main(["tlog", "checkpoint", str(journal), "--key", str(skey), "--out", str(note)]) == 0
    capsys.readouterr()
    assert main(["certify", "--journal", str(journal), "--event", "9", "--checkpoint", str(note),
                 "--prior-checkpoint", str(wrong), "--out", str(tmp_path / "c2.json")]) != 0
    assert "must cover records 0–8" in capsys.readouterr().err


def _json_bytes(value: Any, sort_keys: bool = False) -> bytes:
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=True).encode()


def _resigned(extract: dict[str, Any], edit: Any) -> dict[str, Any]:
    """What a venue that signs whatever state it likes could publish: the account edited, and its
    digest, bucket, accounts root and state hash recomputed (docs/verify.md's scheme), under a
    checkpoint signed with the venue's key for the same tree."""
    forged = copy.deepcopy(extract)
    edit(forged["account"])
    aid = forged["account_id"]
    index = int.from_bytes(hashlib.sha256(aid.encode()).digest()[:2], "big") >> 4
    digest = hashlib.sha256(_json_bytes([aid, forged["account"]], sort_keys=True)).hexdigest()
    forged["bucket"] = [[i, digest if i == aid else d] for i, d in forged["bucket"]]
    forged["buckets"][index] = hashlib.sha256(_json_bytes(forged["bucket"])).hexdigest()
    forged["document"]["accounts"]["root"] = hashlib.sha256(
        b"".join(bytes.fromhex(b) for b in forged["buckets"])).hexdigest()
    state = hashlib.sha256(_json_bytes(forged["document"], sort_keys=True)).hexdigest()
    signed = parse_checkpoint(forged["checkpoint"])
    forged["checkpoint"] = sign_checkpoint(Checkpoint(signed.origin, signed.size, signed.root, signed.chain_head,
                                                      state), KEY)
    return forged


def test_a_signed_prior_state_that_disagrees_with_the_event_is_refused(
        book: tuple[MemoryBackend, int, dict[str, Any]]) -> None:
    _, _, cert = book
    extract = cert["prior"]["extract"]
    assert "as signed after record 8" in _checked(_edited(cert, lambda c: c["prior"].update(
        extract=_resigned(extract, lambda a: None))))  # the re-signing itself is faithful
    healthy = _resigned(extract, lambda a: a.update(level="healthy"))  # the event says it left margin call
    assert "level is healthy, not margin_call" in _refused(_edited(cert, lambda c: c["prior"].update(extract=healthy)))
    richer = _resigned(extract, lambda a: a["balances"].update(USDT="1001"))
    assert "wallet listed is not" in _refused(_edited(cert, lambda c: c["prior"].update(extract=richer)))


def test_a_prior_pasted_onto_a_record_that_changed_the_account_is_refused() -> None:
    backend = _hand_book()
    engine = DurableEngine(backend)
    assert engine.apply(Fill("t2", "BTCUSDT", D(40_200), D("2.4"), "A", "B")).accepted
    seq, note = engine.seq, _note(backend)
    cert = certify(backend, seq, note, "A")
    before = _state_note(backend, seq)
    cert["prior"] = {"extract": account_extract(backend, "A", before), "consistency": log_consistency(backend, before,
                                                                                                      note)}
    assert "changes A before judging it" in _refused(cert)


@pytest.mark.parametrize(("edit", "reason"), [
    # found by review: the prior check read a repeated asset once while the arithmetic summed both
    (lambda c: c.update(collateral=[dict(c["collateral"][0], balance="50000", value="50000"),
                                    dict(c["collateral"][0], balance="-50000", value="-50000"),
                                    c["collateral"][0]]), "lists an asset twice"),
    # and a flat position with a cost moved the equity while the prior check skipped it
    (lambda c: c["positions"].append(dict(c["positions"][0], position_side="long", qty="0", cost="-1",
                                          value="0", upnl="1", notional="0", mm="0")), "flat position"),
    (lambda c: c["positions"].append(dict(c["positions"][0])), "listed twice"),
])
def test_a_wallet_or_positions_padded_to_fit_the_signed_numbers_are_refused(
        book: tuple[MemoryBackend, int, dict[str, Any]], edit: Any, reason: str) -> None:
    _, _, cert = book
    assert reason in _refused(_edited(cert, edit))


def test_a_level_change_after_a_liquidation_step_in_its_record_has_no_prior_binding(
        book: tuple[MemoryBackend, int, dict[str, Any]]) -> None:
    """Found by review: a liquidation step also fills against the venue's book (or backstop)
    account and names only the liquidated one, so a level change of the book later in the same
    record was judged on a book the prior state does not hold."""
    from solvent_verify.note import verify_note
    from solvent_verify.prior import bind_prior

    _, seq, cert = book
    record = json.loads(cert["log"]["record"])
    index = cert["claim"]["event_index"]
    step = {"type": "LiquidationStep", "account_id": "someone-else", "symbol": "BTCUSDT", "kind": "book",
            "qty": "0.1", "price": "40150", "fee": "0"}
    key = parse_vkey(KEY.verifier_key())
    checkpoint = verify_note(cert["log"]["checkpoint"], key)
    assert bind_prior(cert, record, checkpoint, key, seq, index)  # as recorded: bound
    stepped = dict(record, events=[step, *record["events"]])
    with pytest.raises(VerifyError, match="liquidates before this level change"):
        bind_prior(cert, stepped, checkpoint, key, seq, index + 1)
    from solvent.proofs.certificate import prior_binds

    assert prior_binds(record["input"], record["events"], index, "A")
    assert not prior_binds(record["input"], stepped["events"], index + 1, "A")


def test_a_prior_checkpoint_signed_by_another_key_is_refused_when_certifying(
        book: tuple[MemoryBackend, int, dict[str, Any]]) -> None:
    from solvent.journal.checkpoint_note import SignerKey

    backend, seq, _ = book
    other = SignerKey(KEY.name, hashlib.sha256(b"another key, the same name").digest())
    foreign = sign_checkpoint(journal_checkpoint(backend, KEY.name, seq, state=True), other)
    with pytest.raises(InvalidInput, match="not signed by the key"):
        certify(backend, seq, _note(backend), prior=foreign)


def _deficit_book(paused: bool) -> tuple[MemoryBackend, int]:
    """Found by review: A (1 USDT, ETHUSDT isolated, no depth on the book) buys 1 ETH at 2,100
    with a fee of 11 at mark 2,000: its cross wallet is −10, bankrupt. The insurance fund then
    covers the 10 (``InsuranceFundChanged`` "deficit A", which names A only in its reason): in
    the fill's own record after the level change, or (``paused``: a held price jump pauses ETH
    liquidations) in the record that resumes them, before A's next level change."""
    from solvent.engine.commands import AdvanceTime, Deposit, FundInsurance, PriceUpdate, SetMarginMode
    from solvent.engine.config import EngineConfig, LiquidationPolicy
    from solvent.engine.liquidity import SquareRootImpact
    from solvent.model import MarginMode
    from solvent.risk.venues import load_venue

    backend = MemoryBackend()
    policy = LiquidationPolicy(liquidity=SquareRootImpact(depth_notional={"ETHUSDT": D(0)}))
    engine = DurableEngine(backend, EngineConfig(load_venue("binance-usdm"), liquidation=policy))
    cmds: list[Any] = [AdvanceTime(0), PriceUpdate("ETHUSDT", "s", D(2000)), Deposit("A", "USDT", D(1)),
                       Deposit("B", "USDT", D(100_000)), FundInsurance(D(1000)),
                       SetMarginMode("A", "ETHUSDT", MarginMode.ISOLATED)]
    cmds += [PriceUpdate("ETHUSDT", "s", D(3000))] if paused else []
    cmds += [Fill("t1", "ETHUSDT", D(2100), D(1), "A", "B", buyer_fee=D(11))]
    for cmd in cmds:
        assert engine.apply(cmd).accepted, cmd
    if paused:
        for k in range(1, 10):
            engine.apply(AdvanceTime(1000 * k))
            if any(type(e).__name__ == "LiquidationsResumed" for e in engine.apply(
                    PriceUpdate("ETHUSDT", "s", D(3000))).events):
                break
    return backend, engine.seq


@pytest.mark.parametrize("paused", [False, True])
def test_a_deficit_the_fund_covers_keeps_the_state_from_binding(paused: bool) -> None:
    backend, seq = _deficit_book(paused)
    record = json.loads(next(iter(backend.records(seq))).payload)
    types = [e["type"] for e in record["events"]]
    index = next(i for i, e in enumerate(record["events"]) if e["type"] == "MarginLevelChanged"
                 and e["account_id"] == "A")
    assert "InsuranceFundChanged" in types[index + 1:] if not paused else "InsuranceFundChanged" in types[:index]
    cert = certify(backend, seq, _note(backend), "A", index=index, prior=lambda size: _state_note(backend, size))
    assert "prior" not in cert  # the fill, or the fund's cover, changed A before it was judged
    if paused:  # judged after the cover, and nothing in the record moves A after: the state after binds
        assert _checked(cert).endswith(f"account state as signed after record {seq}")
    else:  # the cover comes after the judgment: neither the state before nor the state after is the judged one
        assert "after" not in cert and _checked(cert).endswith("(no state checkpoint)")
