"""Margin-call and liquidation certificates (issue 16, items 3 and 4).

One certificate is checked against a hand computation (the vector V-LIQ-1 of the verifiability
specification, §5.5, moved onto binance-usdm's first BTCUSDT tier). The rest are checked by
``solvent_verify``, which redoes the arithmetic from ``docs/verify.md`` without the engine: on
every bundled venue (linear and inverse, mark and entry MM bases, both triggers), on the demo's
cross, isolated and hedge-mode accounts, and on a wallet with a haircut collateral asset; and
every single-field tamper (a digit of a quantity, a swapped price, a forged rule) is rejected.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from solvent.cli import main
from solvent.engine import AdvanceTime, Deposit, EngineConfig, Fill, LiquidationPolicy, PriceUpdate
from solvent.errors import InvalidInput
from solvent.journal import DurableEngine, MemoryBackend
from solvent.journal.checkpoint_note import SignerKey, sign_checkpoint
from solvent.journal.codec import decode_record
from solvent.journal.log_proofs import journal_checkpoint, record_inclusion
from solvent.model import Asset
from solvent.proofs.certificate import certify, step_claim_problem
from solvent.risk.venues import bundled_venues, load_venue
from solvent_verify.cli import main as verify_main

KEY = SignerKey("test.example/venue", hashlib.sha256(b"certificate test key").digest())
D = Decimal


def _note(backend: MemoryBackend) -> str:
    return sign_checkpoint(journal_checkpoint(backend, KEY.name), KEY)


def _state_note(backend: MemoryBackend, size: int) -> str:
    """A signed checkpoint of the first ``size`` records with the state line (a ``prior``)."""
    return sign_checkpoint(journal_checkpoint(backend, KEY.name, size, state=True), KEY)


def _level_changes(backend: MemoryBackend) -> list[tuple[int, str, str, str]]:
    out = []
    for stored in backend.records(1):
        for e in decode_record(stored.payload).events:
            if e["type"] == "MarginLevelChanged":
                out.append((stored.seq, e["account_id"], e["previous"], e["level"]))
    return out


def _verify(tmp_path: Path, certificate: dict[str, Any], profile: str | None = None) -> int:
    """``solvent-verify certificate`` on it (with the shipped ``profile`` file, if named)."""
    from importlib import resources

    vkey = tmp_path / "venue.vkey"
    vkey.write_text(KEY.verifier_key() + "\n")
    target = tmp_path / "certificate.json"
    target.write_text(json.dumps(certificate))
    shipped = [] if profile is None else ["--profile", str(resources.files("solvent") / "profiles" / f"{profile}.json")]
    return verify_main(["certificate", str(target), "--key", str(vkey), *shipped])


def _hand_book() -> MemoryBackend:
    """A deposits 1,000 USDT and buys 0.1 BTC at 50,000 from B; the mark falls to 40,200 (in steps
    the jump guard passes), then 40,150, then back to 40,200."""
    backend = MemoryBackend()
    engine = DurableEngine(backend, EngineConfig(load_venue("binance-usdm")))
    for cmd in (AdvanceTime(0), PriceUpdate("BTCUSDT", "s", D(50_000)), Deposit("A", "USDT", D(1_000)),
                Deposit("B", "USDT", D(100_000)), Fill("t1", "BTCUSDT", D(50_000), D("0.1"), "A", "B"),
                PriceUpdate("BTCUSDT", "s", D(45_500)), PriceUpdate("BTCUSDT", "s", D(43_000)),
                PriceUpdate("BTCUSDT", "s", D(40_200)), PriceUpdate("BTCUSDT", "s", D(40_150)),
                PriceUpdate("BTCUSDT", "s", D(40_200))):
        assert engine.apply(cmd).accepted, cmd
    return backend


def test_a_liquidation_certificate_by_hand(tmp_path: Path) -> None:
    backend = _hand_book()
    changes = _level_changes(backend)
    # At 40,200: PnL 0.1 × (40,200 − 50,000) = −980, equity 20; notional 4,020 in tier 0 (MMR 0.4 %):
    # MM 16.08; MM / equity = 0.804 ≥ 0.8: margin call. At 40,150: PnL −985, equity 15, notional 4,015,
    # MM 16.06 ≥ equity: liquidation (binance-usdm liquidates at equity ≤ MM).
    assert [(a, p, lv) for _, a, p, lv in changes] == [("A", "healthy", "margin_call"),
                                                         ("A", "margin_call", "liquidation"),
                                                         ("A", "liquidation", "margin_call")]
    seq = changes[1][0]
    cert = certify(backend, seq, _note(backend))
    assert cert["claim"] == {"seq": seq, "event_index": cert["claim"]["event_index"], "account_id": "A",
                             "previous": "margin_call", "level": "liquidation"}
    (pos,) = cert["positions"]
    assert {k: D(pos[k]) for k in ("qty", "cost", "value", "upnl", "notional", "mm")} == {
        "qty": D("0.1"), "cost": D(5_000), "value": D(4_015), "upnl": D(-985), "notional": D(4_015),
        "mm": D("16.06")}
    assert pos["tier"] == 0 and pos["tiers"][0] == {"floor": "0", "mmr": "0.004", "amount": "0"}
    assert cert["marks"]["BTCUSDT"]["price"] == "40150"
    assert [D(line["value"]) for line in cert["collateral"]] == [D(1_000)]
    assert (D(cert["equity"]), D(cert["maintenance_margin"])) == (D(15), D("16.06"))
    assert cert["scopes"] == [{"scope": "cross", "symbol": None, "position_side": None, "equity": "15",
                               "maintenance_margin": "16.06", "notional": "4015",  # 0.1 × 40,150
                               "level": "liquidation"}]
    assert _verify(tmp_path, cert) == 0
    leaving = certify(backend, changes[2][0], _note(backend))  # no liquidation policy: certified
    assert leaving["claim"]["previous"] == "liquidation" and _verify(tmp_path, leaving) == 0
    margin_call = certify(backend, changes[0][0], _note(backend))
    assert (D(margin_call["equity"]), D(margin_call["maintenance_margin"])) == (D(20), D("16.08"))
    assert _verify(tmp_path, margin_call) == 0
    # the mark's record must come at or before the event: the later record that sets 40,200 again
    # holds a MarkPriceChanged of the same price, and still does not justify the earlier event
    proof = record_inclusion(backend, changes[2][0], _note(backend))
    later = {"price": "40200", "index": proof["index"], "record": proof["record"], "path": proof["path"]}
    assert _verify(tmp_path, _with(margin_call, lambda c: c["marks"].update(BTCUSDT=later))) == 1


def _tampered(cert: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Single-field changes a verifier must reject."""
    out: list[tuple[str, dict[str, Any]]] = []

    def change(what: str, edit: Any) -> None:
        forged = copy.deepcopy(cert)
        edit(forged)
        out.append((what, forged))

    change("a digit of the quantity", lambda c: c["positions"][0].update(qty=str(D(c["positions"][0]["qty"]) * 2)))
    change("the cost", lambda c: c["positions"][0].update(cost=str(D(c["positions"][0]["cost"]) + 1)))
    change("the stated MM", lambda c: c["positions"][0].update(mm=str(D(c["positions"][0]["mm"]) + D("0.01"))))
    change("a swapped mark", lambda c: c["marks"][next(iter(c["marks"]))].update(
        price=str(D(c["marks"][next(iter(c["marks"]))]["price"]) + 1)))
    change("a forged MM rate", lambda c: c["positions"][0]["tiers"][c["positions"][0]["tier"]].update(mmr="0.001"))
    change("a forged margin-call ratio", lambda c: c["rules"].update(margin_call_ratio="0.99",
                                                                     warning_ratio="0.98"))
    change("a forged hysteresis", lambda c: c["rules"].update(hysteresis="0"))
    change("a forged money quantum", lambda c: c["rules"].update(money_quantum="0.01"))
    change("a forged profile name", lambda c: c["rules"].update(profile="bybit-linear"))
    change("another genesis", lambda c: c["genesis"].update(index=1))
    change("the genesis proof's size", lambda c: c["genesis"].update(size=c["genesis"]["size"] + 1))
    change("the genesis proof's log", lambda c: c["genesis"].update(origin="other.example/venue"))
    change("a mark proof's size", lambda c: c["marks"][next(iter(c["marks"]))].update(size=0))
    change("the claimed level", lambda c: c["claim"].update(level="warning" if c["claim"]["level"] != "warning"
                                                             else "margin_call"))
    change("the balance", lambda c: c["collateral"][0].update(balance=str(D(c["collateral"][0]["balance"]) + 100)))
    change("the record", lambda c: c["log"].update(record=c["log"]["record"].replace('"v":1', '"v":2', 1)))
    change("the event index", lambda c: c["claim"].update(event_index=c["claim"]["event_index"] + 1))
    change("the signature", lambda c: c["log"].update(checkpoint=c["log"]["checkpoint"].replace("\n1", "\n2", 1)))
    return out


@pytest.mark.parametrize(("what", "edit"), [
    ("a PnL with an exponent", lambda c: c["positions"][0].update(upnl="-9.85E+2")),
    ("a mark with an exponent", lambda c: c["marks"]["BTCUSDT"].update(price="4.015E+4")),
    ("a quantity with a trailing zero", lambda c: c["positions"][0].update(qty="0.10")),
    ("a wallet value with a point", lambda c: c["collateral"][0].update(value="1000.0")),
    ("an equity with a plus sign", lambda c: c["scopes"][0].update(equity="+15")),
    ("a notional with an underscore", lambda c: c["scopes"][0].update(notional="4_015")),
    ("a cost with a space", lambda c: c["positions"][0].update(cost=" 5000")),
    ("a leading zero", lambda c: c["positions"][0].update(mm="016.06")),
    ("a ratio with an exponent", lambda c: c["rules"].update(margin_call_ratio="8E-1")),
])
def test_a_number_in_another_spelling_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str,
                                                 edit: Any) -> None:
    """Found by review: ``4.078E+1`` for ``40.78`` verified, being the same number. The signer
    writes every number it computes in one spelling (``plain``: no exponent, no trailing zeros);
    a certificate in another is not the signer's, and is refused rather than read as equal."""
    backend = _hand_book()
    cert = certify(backend, _level_changes(backend)[1][0], _note(backend))
    assert _verify(tmp_path, cert) == 0
    capsys.readouterr()
    assert _verify(tmp_path, _with(cert, edit)) == 1, what
    assert "is not a number in the signer's spelling" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", 0.5, None])
def test_every_tier_row_is_a_number_the_rows_the_position_does_not_reach_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: object) -> None:
    """Found by a new-user pass: only the row the position reads was read at all. A row's rate and
    amount are the venue's as the journal recorded them (``str(Decimal)``: "421482000.0"), so they
    are read as recorded numbers, not in the signer's spelling."""
    backend = _hand_book()
    cert = certify(backend, _level_changes(backend)[1][0], _note(backend))
    assert len(cert["positions"][0]["tiers"]) > cert["positions"][0]["tier"] + 1  # rows it does not reach
    for name in ("mmr", "amount"):
        assert _verify(tmp_path, _with(cert, lambda c, n=name: c["positions"][0]["tiers"][-1].update({n: bad}))) == 1
        assert "malformed certificate" in capsys.readouterr().err


def test_every_single_field_tamper_is_rejected(tmp_path: Path) -> None:
    backend = _hand_book()
    seq = _level_changes(backend)[1][0]
    cert = certify(backend, seq, _note(backend))
    assert _verify(tmp_path, cert) == 0
    for what, forged in _tampered(cert):
        assert _verify(tmp_path, forged) == 1, what
    # on the margin call, a forged ratio changes the decision itself
    call = certify(backend, _level_changes(backend)[0][0], _note(backend))
    assert _verify(tmp_path, call) == 0
    for what, forged in _tampered(call):
        assert _verify(tmp_path, forged) == 1, what


BTC_PERPETUAL = {"binance-coinm": "BTCUSD_PERP", "binance-usdm": "BTCUSDT", "bitmex": "XBTUSD",
                 "bybit-inverse": "BTCUSD", "bybit-linear": "BTCUSDT", "drift": "BTC-PERP", "dydx-v4": "BTC-USD",
                 "hyperliquid": "BTC"}


def _venue_book(venue: str, liquidation: bool = False) -> MemoryBackend:
    """One long of about 10,000 USD at 10× on the venue's BTC perpetual, walked down 0.5 % a
    minute until it is liquidatable (levels only, unless ``liquidation``: the venue's procedure)."""
    profile = load_venue(venue)
    symbol = BTC_PERPETUAL[venue]
    inst = profile.instruments[symbol]
    config = EngineConfig(profile, settle_asset=inst.settle, liquidation=LiquidationPolicy() if liquidation else None)
    settle = config.settle_asset
    price = D(60_000)
    if inst.is_inverse:
        qty = (D(10_000) / inst.contract_size).quantize(inst.lot)
        deposit = D("0.02")
    else:
        qty = (D("0.1") / inst.contract_size / inst.lot).to_integral_value() * inst.lot
        deposit = D(1_000)
    backend = MemoryBackend()
    engine = DurableEngine(backend, config)
    cmds = [AdvanceTime(0), PriceUpdate(symbol, "s", price), Deposit("long", settle, deposit),
            Deposit("maker", settle, D(10) ** 9), Fill("t1", symbol, price, qty, "long", "maker")]
    for minute in range(1, 40):
        price = (price * D("0.995")).quantize(config.price_step(symbol))
        cmds += [AdvanceTime(minute * 60_000), PriceUpdate(symbol, "s", price)]
    for cmd in cmds:
        result = engine.apply(cmd)
        assert result.accepted, (venue, cmd, result.denial)
    return backend


@pytest.mark.parametrize("venue", sorted(bundled_venues()))
# every bundled venue is in BTC_PERPETUAL: a new one fails here until it is added
def test_certificates_verify_on_every_bundled_venue(venue: str, tmp_path: Path) -> None:
    backend = _venue_book(venue)
    note = _note(backend)
    changes = [c for c in _level_changes(backend) if c[1] == "long"]
    assert changes and changes[-1][3] in ("liquidation", "bankrupt"), changes
    for seq, _, _, _ in changes:  # levels only (no liquidation policy): every change, leaving liquidation too
        cert = certify(backend, seq, note, "long")
        assert _verify(tmp_path, cert) == 0, (venue, seq, cert["claim"])


@pytest.mark.parametrize("venue", sorted(bundled_venues()))
def test_profile_binds_the_certificates_rules_to_the_file_the_journal_ran_on(
        venue: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--profile FILE``: the file's digest is the genesis record's, and each stated tier table is
    the instrument's table in the file (tiered venues: amounts by the continuity recursion; dYdX:
    one tier at imf × mmf; Drift without a size premium: one tier at the maintenance ratio).
    A stated tier the account does not reach changes nothing in the arithmetic, so only
    ``--profile`` catches one made up; a profile file edited by one digit is refused."""
    from importlib import resources

    backend = _venue_book(venue)
    cert = certify(backend, _level_changes(backend)[-1][0], _note(backend), "long")
    shipped = Path(str(resources.files("solvent") / "profiles" / f"{venue}.json"))
    target = tmp_path / "certificate.json"
    _verify(tmp_path, cert)
    capsys.readouterr()
    vkey = str(tmp_path / "venue.vkey")
    assert verify_main(["certificate", str(target), "--key", vkey, "--profile", str(shipped)]) == 0
    assert "bound (digest, trigger, basis, tier tables)" in capsys.readouterr().out  # every bundled venue
    edited = tmp_path / f"{venue}.json"
    edited.write_bytes(shipped.read_bytes().replace(b'"0.', b'"1.', 1))
    assert verify_main(["certificate", str(target), "--key", vkey, "--profile", str(edited)]) == 1
    assert "is not the one the journal ran on" in capsys.readouterr().err
    for unreadable in (tmp_path, tmp_path / "missing.json", target.with_name("x.json")):
        if unreadable.name == "x.json":
            unreadable.write_text("{not json")
        assert verify_main(["certificate", str(target), "--key", vkey, "--profile", str(unreadable)]) == 2
        assert capsys.readouterr().err.startswith("error: ")
    forged = copy.deepcopy(cert)
    tiers = forged["positions"][0]["tiers"]
    top = tiers[-1]  # a made-up tier above every notional here: 50 % from 10^15, continuous
    floor, rate = D(10) ** 15, D("0.5")
    tiers.append({"floor": str(floor), "mmr": str(rate),
                  "amount": str(D(top["amount"]) + floor * (rate - D(top["mmr"])))})
    assert _verify(tmp_path, forged) == 0  # the arithmetic cannot see it...
    capsys.readouterr()
    assert verify_main(["certificate", str(target), "--key", vkey, "--profile", str(shipped)]) == 1
    assert "tier table is not the profile's" in capsys.readouterr().err  # ...the profile does


def _demo_backend(tmp_path: Path) -> Path:
    journal = tmp_path / "demo.sqlite"
    assert main(["demo", "--journal", str(journal), "--json"]) == 0
    return journal


def test_the_demo_cross_isolated_and_hedge_certificates_verify(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from solvent.journal import SqliteBackend

    journal = _demo_backend(tmp_path)
    capsys.readouterr()
    backend = SqliteBackend(journal, read_only=True)
    try:
        note = sign_checkpoint(journal_checkpoint(backend, KEY.name), KEY)
        scopes, bound = set(), set()
        certified = 0
        for seq, account, previous, level in _level_changes(backend):  # type: ignore[arg-type]
            if level == "healthy" or previous in ("liquidation", "bankrupt"):
                continue
            cert = certify(backend, seq, note, account,  # type: ignore[arg-type]
                           prior=lambda size: sign_checkpoint(journal_checkpoint(backend, KEY.name, size,
                                                                                 state=True), KEY))
            assert _verify(tmp_path, cert) == 0, (seq, account)
            scope = cert["scopes"][cert["judged_scope"]]["scope"]
            scopes.add(scope)
            certified += 1
            if any(p["position_side"] != "both" for p in cert["positions"]):
                scopes.add("hedge")
                scope = "hedge"
            if "prior" in cert:  # the account judged is the one the signed state held before the record
                bound.add(scope)
    finally:
        backend.close()
    assert certified >= 5 and scopes == {"cross", "isolated", "hedge"} and bound == scopes
    # the demo's own certificate, key and checkpoint verify as the demo says
    folder = tmp_path / "solvent-demo-proofs"
    (certificate,) = folder.glob("certificate-*.json")
    assert verify_main(["certificate", str(certificate), "--key", str(folder / "venue.vkey")]) == 0
    assert verify_main(["certificate", str(certificate), "--key", str(folder / "venue.vkey"),
                        "--profile", str(folder / "binance-usdm.json")]) == 0  # the file the demo publishes with it
    assert verify_main(["checkpoint", str(folder / "checkpoint.txt"), "--key", str(folder / "venue.vkey")]) == 0


def test_a_wallet_with_haircut_collateral_certifies(tmp_path: Path) -> None:
    # BTC collateral with a 5 % haircut up to 1 BTC and 10 % beyond (marginal bands); a USDT debt
    btc = Asset("BTC", haircut=D("0.05"), haircut_tiers=((D(1), D("0.10")),))
    backend = MemoryBackend()
    engine = DurableEngine(backend, EngineConfig(load_venue("binance-usdm"), collateral={"BTC": btc}))
    cmds = [AdvanceTime(0), PriceUpdate("BTC", "ix", D(60_000)), PriceUpdate("ETHUSDT", "s", D(3_000)),
            Deposit("w", "BTC", D("1.5")), Deposit("maker", "USDT", D(10) ** 9),
            Fill("t1", "ETHUSDT", D(3_000), D(100), "w", "maker")]
    price = D(3_000)
    for minute in range(1, 60):
        price = (price * D("0.99")).quantize(D("0.01"))
        cmds += [AdvanceTime(minute * 60_000), PriceUpdate("ETHUSDT", "s", price)]
    for cmd in cmds:
        assert engine.apply(cmd).accepted, cmd
    changes = [c for c in _level_changes(backend) if c[1] == "w" and c[3] != "healthy"]
    assert changes
    note = _note(backend)
    for seq, _, _, _ in changes:
        # bound to the signed state before the record: the BTC price too (the state's BTC market)
        cert = certify(backend, seq, note, "w", prior=lambda size: _state_note(backend, size))
        assert "prior" in cert and "BTC" in cert["marks"]
        btc_line = next(line for line in cert["collateral"] if line["asset"] == "BTC")
        # 1 × 60,000 × 0.95 + 0.5 × 60,000 × 0.90 = 57,000 + 27,000 = 84,000
        assert D(btc_line["value"]) == D(84_000)
        assert _verify(tmp_path, cert) == 0
        assert _verify(tmp_path, _with(cert, lambda c: c["collateral"][0]["haircut_tiers"].clear())) == 1
        # a price off its signed mark by less than the money quantum moves no value, and is still refused
        assert _verify(tmp_path, _with(cert, lambda c: c["collateral"][0].update(price="60000.000000007"))) == 1
        assert _verify(tmp_path, _with(cert, lambda c: c["rules"].update(precision=10))) == 1


def _with(cert: dict[str, Any], edit: Any) -> dict[str, Any]:
    forged = copy.deepcopy(cert)
    edit(forged)
    return forged


def test_what_is_not_certified_is_refused_with_the_reason(tmp_path: Path) -> None:
    backend = _hand_book()
    note = _note(backend)
    with pytest.raises(InvalidInput, match="no margin level change"):
        certify(backend, 3, note)
    with pytest.raises(InvalidInput, match="no record 999"):
        certify(backend, 999, note)
    with pytest.raises(InvalidInput, match="give a command record"):
        certify(backend, 0, note)


def _numbers(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every decimal string in a certificate outside its log proofs, with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in ("log", "genesis", "record", "path", "checkpoint", "evidence"):
                yield from _numbers(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _numbers(value, (*path, i))
    elif isinstance(node, str):
        try:
            D(node)
        except ArithmeticError:
            return
        yield path, node


def _set(cert: dict[str, Any], path: tuple[Any, ...], value: str) -> dict[str, Any]:
    forged = copy.deepcopy(cert)
    target: Any = forged
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return forged


def test_every_level_change_of_a_stream_certifies_and_every_number_is_bound(tmp_path: Path) -> None:
    """Replay a random leveraged stream with liquidation on: every level change verifies (those
    made after liquidation steps of their record and those leaving liquidation under the
    policy's target equity included), and changing any one number the decision reads by one
    unit of its last digit does not. (The tiers of an MM table a position is not in are not
    read, and not bound either: the genesis record names the bundled profile without holding it.)"""
    from test_journal_common import config, stream

    backend = MemoryBackend()
    engine = DurableEngine(backend, config())
    for cmd in stream(3000, seed=7):
        engine.apply(cmd)
    note = _note(backend)
    certified = after_steps = leaving = shown = 0
    for stored in backend.records(1):
        events = decode_record(stored.payload).events
        for index, event in enumerate(events):
            if event["type"] != "MarginLevelChanged":
                continue
            cert = certify(backend, stored.seq, note, index=index)
            assert (cert["claim"]["event_index"], cert["claim"]["account_id"]) == (index, event["account_id"])
            assert _verify(tmp_path, cert) == 0, (stored.seq, index)
            certified += 1
            after_steps += any(e["type"] == "LiquidationStep" for e in events[:index])
            leaving += event["previous"] in ("liquidation", "bankrupt")
            shown += "liquidation" in cert
            bump = certified <= 4 or (after_steps == 1 and any(e["type"] == "LiquidationStep" for e in events[:index])
                                      ) or (leaving == 1 and event["previous"] in ("liquidation", "bankrupt")) or (
                shown == 1 and "liquidation" in cert)
            for path, text in _numbers(cert) if bump else ():
                if path[0] == "positions" and path[2] == "tiers" and path[3] != cert["positions"][path[1]]["tier"]:
                    continue
                if path == ("liquidation", "fee_rate"):
                    continue  # a whole takeover at the bankruptcy price does not read it: --profile binds it
                bumped = str(D(text) + D(1).scaleb(D(text).as_tuple().exponent if D(text) % 1 else 0))
                assert _verify(tmp_path, _set(cert, path, bumped)) == 1, (stored.seq, path, text, bumped)
    assert certified >= 15 and after_steps >= 3 and leaving >= 3 and shown >= 3, (certified, after_steps, leaving,
                                                                                   shown)


def test_the_demo_refuses_a_foreign_proofs_folder_before_it_journals(tmp_path: Path) -> None:
    (tmp_path / "solvent-demo-proofs").mkdir()
    (tmp_path / "solvent-demo-proofs" / "mine.txt").write_text("not the demo's")
    assert main(["demo", "--journal", str(tmp_path / "demo.sqlite"), "--json"]) == 2
    assert not (tmp_path / "demo.sqlite").exists()
    assert (tmp_path / "solvent-demo-proofs" / "mine.txt").read_text() == "not the demo's"


def test_certify_event_index_picks_one_event_of_the_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backend = _hand_book()
    journal = tmp_path / "j.ndjson"
    with journal.open("wb") as out:  # the NDJSON export format: each payload embedded byte for byte
        for stored in backend.records(0):
            out.write(b'{"h":"' + stored.hash.encode() + b'","r":' + stored.payload + b"}\n")
    assert main(["tlog", "keygen", "test.example/venue", "--out", str(tmp_path / "venue")]) == 0
    events = decode_record(next(iter(backend.records(9))).payload).events
    change = next(i for i, e in enumerate(events) if e["type"] == "MarginLevelChanged")
    other = next(i for i, e in enumerate(events) if e["type"] != "MarginLevelChanged")
    args = ["certify", "--journal", str(journal), "--event", "9", "--key", str(tmp_path / "venue.skey")]
    capsys.readouterr()
    assert main([*args, "--event-index", str(other), "--out", str(tmp_path / "no.json")]) == 2
    assert f"event {other} of the record is not a margin level change" in capsys.readouterr().err
    assert main([*args, "--event-index", str(len(events)), "--out", str(tmp_path / "no.json")]) == 2
    assert f"the record has {len(events)} events (0 to {len(events) - 1})" in capsys.readouterr().err
    assert main([*args, "--event-index", str(change), "--account", "B", "--out", str(tmp_path / "no.json")]) == 2
    assert "an event of another account" in capsys.readouterr().err
    assert main([*args, "--event-index", str(change), "--out", str(tmp_path / "c.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["claim"]["event_index"] == change
    assert verify_main(["certificate", str(tmp_path / "c.json"), "--key", str(tmp_path / "venue.vkey")]) == 0


def _hand_book_liquidated() -> MemoryBackend:
    """``_hand_book`` under binance-usdm's liquidation procedure: at 40,150 A's equity is 15 and
    its MM 16.06, below its target 16.06 × 1.02 = 16.3812; no partial close gets there (closing
    half costs a fee of about 0.05 × 40,150 × 0.0125 ≈ 25 > 15), so the whole 0.1 BTC is taken
    over, where the venue's rule keeps what is left above the bankruptcy price."""
    backend = MemoryBackend()
    engine = DurableEngine(backend, EngineConfig(load_venue("binance-usdm"), liquidation=LiquidationPolicy()))
    for cmd in (AdvanceTime(0), PriceUpdate("BTCUSDT", "s", D(50_000)), Deposit("A", "USDT", D(1_000)),
                Deposit("B", "USDT", D(100_000)), Deposit("book", "USDT", D(10) ** 9),
                Fill("t1", "BTCUSDT", D(50_000), D("0.1"), "A", "B"),
                PriceUpdate("BTCUSDT", "s", D(45_500)), PriceUpdate("BTCUSDT", "s", D(43_000)),
                PriceUpdate("BTCUSDT", "s", D(40_200)), PriceUpdate("BTCUSDT", "s", D(40_150))):
        assert engine.apply(cmd).accepted, cmd
    return backend


def test_a_liquidation_certificate_shows_its_first_step_by_hand(tmp_path: Path) -> None:
    backend = _hand_book_liquidated()
    seq = backend.head_seq() if hasattr(backend, "head_seq") else 10
    events = decode_record(next(iter(backend.records(seq))).payload).events
    trigger = next(i for i, e in enumerate(events) if e["type"] == "MarginLevelChanged" and e["level"] == "liquidation")
    step = next(e for e in events if e["type"] == "LiquidationStep")
    cert = certify(backend, seq, _note(backend), index=trigger)
    part = cert["liquidation"]
    price = D(step["price"])  # the liquidity model's price for selling 0.1 BTC, a little under the mark
    assert D(step["qty"]) == D("0.1") and D(40_000) < price < D(40_150)
    # the bankruptcy price: where the 15 of equity is used up, 40,150 − 15 / 0.1 = 40,000 (= 50,000 − 1,000 / 0.1)
    assert (D(part["carried_equity"]), D(part["bankruptcy_price"])) == (D(15), D(40_000))
    assert D(part["equity_at_fill"]) == D(15) + D("0.1") * (price - D(40_150))
    # taken over whole at the bankruptcy price rule: the fee is what the fill leaves above 40,000
    assert D(part["fee"]) == D(step["fee"]) == D("0.1") * (price - D(40_000))
    assert (part["rule"], part["fee_rate"], part["position"]) == ("bankruptcy_price", "0.0125", 0)
    assert _verify(tmp_path, cert) == 0
    forged: list[tuple[str, Any]] = [
        ("the fee", lambda p: p.update(fee=str(D(p["fee"]) + D("0.01")))),
        ("the bankruptcy price", lambda p: p.update(bankruptcy_price="40001")),
        ("the carried equity", lambda p: p.update(carried_equity="14")),
        ("the revision", lambda p: p.update(revision=3)),
        ("another event", lambda p: p.update(step=p["step"] + 1)),
        ("no step", lambda p: p.update(step=trigger)),
        ("another position", lambda p: p.update(position=1)),
        ("a rule not shown", lambda p: p.update(rule="dydx_v4")),
    ]
    for what, edit in forged:
        changed = copy.deepcopy(cert)
        edit(changed["liquidation"])
        assert _verify(tmp_path, changed) == 1, what
    # a whole takeover does not read the fee rate: the profile file binds it (and the rule)
    from importlib import resources

    shipped = str(resources.files("solvent") / "profiles" / "binance-usdm.json")
    target, vkey = tmp_path / "certificate.json", str(tmp_path / "venue.vkey")
    target.write_text(json.dumps(cert))
    assert verify_main(["certificate", str(target), "--key", vkey, "--profile", shipped]) == 0
    # (a generic close would charge 0.1 × 40,132 × 0.0125 = 50.165, capped at the 13.2 the fill leaves: the
    # same fee, so only the profile tells the rules apart here)
    for edit in ({"fee_rate": "0.01"}, {"rule": "generic"}):
        changed = copy.deepcopy(cert)
        changed["liquidation"].update(edit)
        target.write_text(json.dumps(changed))
        assert verify_main(["certificate", str(target), "--key", vkey]) == 0  # not read
        assert verify_main(["certificate", str(target), "--key", vkey, "--profile", shipped]) == 1
    # the same rate spelt otherwise is not the signer's certificate, read or not
    changed = copy.deepcopy(cert)
    changed["liquidation"]["fee_rate"] = "0.0125000"
    target.write_text(json.dumps(changed))
    assert verify_main(["certificate", str(target), "--key", vkey]) == 1
    no_policy = copy.deepcopy(cert)
    no_policy["claim"]["level"] = "margin_call"
    assert _verify(tmp_path, no_policy) == 1
    # the level change after the step (flat: no MM, out of liquidation) certifies too, without a step of its own
    after = next(i for i, e in enumerate(events) if e["type"] == "MarginLevelChanged" and i > trigger)
    leaving = certify(backend, seq, _note(backend), index=after)
    assert leaving["claim"]["previous"] == "liquidation" and "liquidation" not in leaving
    assert leaving["positions"] == [] and _verify(tmp_path, leaving) == 0


@pytest.mark.parametrize("venue", sorted(bundled_venues()))
def test_liquidation_certificates_verify_on_every_bundled_venue(venue: str, tmp_path: Path) -> None:
    """``_venue_book`` with the venue's liquidation procedure on: every level change certifies,
    and so does every step in a later record than its trigger; on every venue a certificate
    shows the liquidation's first step (under the venue's own rule)."""
    backend = _venue_book(venue, liquidation=True)
    note = _note(backend)
    shown = alone = 0
    for stored in backend.records(1):
        events = decode_record(stored.payload).events
        for index, event in enumerate(events):
            on_its_own = event["type"] == "LiquidationStep" and step_claim_problem(events, index, "long") is None
            if event["type"] == "MarginLevelChanged" or on_its_own:
                cert = certify(backend, stored.seq, note, index=index,
                               prior=(lambda size: _state_note(backend, size)) if on_its_own else None)
                assert _verify(tmp_path, cert, venue if on_its_own else None) == 0, (venue, stored.seq, index)
                shown += "liquidation" in cert
                alone += on_its_own
                if "liquidation" in cert:
                    assert cert["liquidation"]["rule"] == load_venue(venue).liquidation.kind.value
    assert shown > 0, venue
    assert (alone > 0) == (venue == "dydx-v4"), (venue, alone)  # dYdX's close waits for its fillable price


def test_an_isolated_position_closed_in_chunks_certifies_every_level_change(tmp_path: Path) -> None:
    """Found by review: A's isolated BTCUSDT long is closed 30 % at a time; a chunk's fee leaves
    A's cross wallet (no positions) below zero, so A's cross scope goes bankrupt while the
    isolated position is still being liquidated. Every level change certifies and verifies."""
    from solvent.engine.commands import SetLeverage, SetMarginMode
    from solvent.model import MarginMode

    backend = MemoryBackend()
    engine = DurableEngine(backend, EngineConfig(load_venue("binance-usdm"),
                                                 liquidation=LiquidationPolicy(chunk_fraction=D("0.3"))))
    price = D(60_000)
    cmds: list[Any] = [AdvanceTime(0), PriceUpdate("BTCUSDT", "s", price), Deposit("maker", "USDT", D(10) ** 9),
                       Deposit("book", "USDT", D(10) ** 9), Deposit("A", "USDT", D(3100)),
                       SetMarginMode("A", "BTCUSDT", MarginMode.ISOLATED), SetLeverage("A", "BTCUSDT", D(20)),
                       Fill("t1", "BTCUSDT", price, D(1), "A", "maker")]
    for minute in range(1, 60):
        price = (price * D("0.997")).quantize(D("0.1"))
        cmds += [AdvanceTime(minute * 60_000), PriceUpdate("BTCUSDT", "s", price)]
    for cmd in cmds:
        assert engine.apply(cmd).accepted, cmd
    note, levels = _note(backend), set()
    for stored in backend.records(1):
        for index, event in enumerate(decode_record(stored.payload).events):
            if event["type"] == "MarginLevelChanged" and event["account_id"] == "A":
                cert = certify(backend, stored.seq, note, index=index)
                assert _verify(tmp_path, cert) == 0, (stored.seq, index)
                levels.add(event["level"])
    assert "bankrupt" in levels and "liquidation" in levels, levels


def test_the_closed_position_is_the_scopes_largest_mm(tmp_path: Path) -> None:
    """Found by review: in hedge mode a cross scope can hold a long and a short of one symbol;
    the step does not say which it closed, so the verifier requires the position a liquidation
    reduces first (the largest MM). Naming the other leg, with every number restated for it, is
    refused."""
    from solvent.engine.commands import PlaceOrder
    from solvent.model import PositionSide, Side

    backend = MemoryBackend()
    engine = DurableEngine(backend, EngineConfig(load_venue("binance-usdm"), liquidation=LiquidationPolicy()))
    cmds: list[Any] = [AdvanceTime(0), PriceUpdate("BTCUSDT", "s", D(60_000)), Deposit("A", "USDT", D(300)),
                       Deposit("B", "USDT", D(10) ** 7), Deposit("book", "USDT", D(10) ** 9),
                       PlaceOrder("A", "h", "BTCUSDT", Side.SHORT, D("0.001"), D(70_000),
                                  position_side=PositionSide.SHORT),
                       Fill("t1", "BTCUSDT", D(60_000), D("0.1"), "A", "B", buyer_position_side=PositionSide.LONG),
                       Fill("t2", "BTCUSDT", D(60_000), D("0.02"), "B", "A", seller_position_side=PositionSide.SHORT)]
    price = D(60_000)
    for minute in range(1, 30):
        price = (price * D("0.995")).quantize(D("0.1"))
        cmds += [AdvanceTime(minute * 60_000), PriceUpdate("BTCUSDT", "s", price)]
    for cmd in cmds:
        assert engine.apply(cmd).accepted, cmd
    note = _note(backend)
    shown = None
    for stored in backend.records(1):
        for index, event in enumerate(decode_record(stored.payload).events):
            if event["type"] == "MarginLevelChanged" and event["account_id"] == "A" and shown is None:
                cert = certify(backend, stored.seq, note, index=index)
                if "liquidation" in cert:
                    shown = cert
    assert shown is not None and len(shown["positions"]) == 2
    assert _verify(tmp_path, shown) == 0
    part = shown["liquidation"]
    closed = shown["positions"][part["position"]]
    assert closed["position_side"] == "long" and D(closed["mm"]) > D(shown["positions"][1 - part["position"]]["mm"])
    forged = copy.deepcopy(shown)
    forged["liquidation"]["position"] = 1 - part["position"]
    from solvent_verify import VerifyError
    from solvent_verify.certificate import verify_certificate
    from solvent_verify.note import parse_vkey

    reason = ""
    for _ in range(6):  # restate each derived number the verifier computes for the other leg
        try:
            verify_certificate(forged, parse_vkey(KEY.verifier_key()))
        except VerifyError as refused:
            reason = str(refused)
        else:
            reason = ""
        fixed = re.fullmatch(r"liquidation (\w+) \S+ stated, (\S+) computed", reason)
        if fixed is None:
            break
        forged["liquidation"][fixed.group(1)] = fixed.group(2)
    assert "not the scope's largest MM" in reason, reason


def test_a_certificate_with_a_field_the_format_does_not_have_is_refused(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    backend = _hand_book()
    cert = certify(backend, _level_changes(backend)[1][0], _note(backend))
    assert _verify(tmp_path, cert) == 0
    assert _verify(tmp_path, dict(cert, justification={"rule": "trust me"})) == 1
    assert "unknown field 'justification'" in capsys.readouterr().err


def test_a_certificate_whose_lists_are_null_or_tiers_not_numbers_is_refused_saying_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from importlib import resources

    backend = _hand_book()
    cert = certify(backend, _level_changes(backend)[1][0], _note(backend))
    assert _verify(tmp_path, dict(cert, positions=None)) == 1
    assert "malformed certificate: positions" in capsys.readouterr().err
    forged = copy.deepcopy(cert)
    forged["positions"][0]["tiers"][0]["floor"] = "x"
    target = tmp_path / "certificate.json"
    target.write_text(json.dumps(forged))
    (tmp_path / "venue.vkey").write_text(KEY.verifier_key() + "\n")
    shipped = str(resources.files("solvent") / "profiles" / "binance-usdm.json")
    assert verify_main(["certificate", str(target), "--key", str(tmp_path / "venue.vkey"), "--profile", shipped]) == 1
    assert "the certificate's BTCUSDT tier is not a number" in capsys.readouterr().err


def test_an_account_id_that_would_add_a_line_is_printed_escaped(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a new user: ids reach the engine unchecked through the library, and the
    command line printed them raw, so an id could forge an ``ok:`` line."""
    odd = "bob\nok: fake"
    backend = MemoryBackend()
    engine = DurableEngine(backend, EngineConfig(load_venue("binance-usdm")))
    for cmd in (AdvanceTime(0), PriceUpdate("BTCUSDT", "s", D(50_000)), Deposit(odd, "USDT", D(1_000)),
                Deposit("B", "USDT", D(100_000)), Fill("t1", "BTCUSDT", D(50_000), D("0.1"), odd, "B"),
                PriceUpdate("BTCUSDT", "s", D(45_500)), PriceUpdate("BTCUSDT", "s", D(43_000)),
                PriceUpdate("BTCUSDT", "s", D(40_200))):
        assert engine.apply(cmd).accepted, cmd
    journal = tmp_path / "j.ndjson"
    with journal.open("wb") as out:
        for stored in backend.records(0):
            out.write(b'{"h":"' + stored.hash.encode() + b'","r":' + stored.payload + b"}\n")
    assert main(["tlog", "keygen", "test.example/venue", "--out", str(tmp_path / "venue")]) == 0
    capsys.readouterr()
    assert main(["certify", "--journal", str(journal), "--event", str(_level_changes(backend)[0][0]), "--key",
                 str(tmp_path / "venue.skey"), "--out", str(tmp_path / "c.json")]) == 0
    printed = capsys.readouterr().out
    assert '"bob\\nok: fake": healthy' in printed and "\nok: fake" not in printed


@pytest.mark.parametrize("named", ["no digest", "overlay"])
def test_certify_offers_profile_only_where_it_can_be_bound(named: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by review: the hint after ``certify`` offered ``--profile`` for a journal whose genesis
    record names its profile without a digest (written before solvent recorded one), or by a dated
    overlay (``solvent venues update``), both of which solvent-verify refuses to bind. The bundled
    file's digest: offered."""
    assert main(["tlog", "keygen", "test.example/venue", "--out", str(tmp_path / "venue")]) == 0
    for unbound in (False, True):
        if unbound and named == "no digest":
            monkeypatch.setattr("solvent.journal.codec.encode_profile",
                                lambda profile: {"name": profile.name, "bundled": True})
        elif unbound:  # a new tick and lot the hand book's prices and size are on
            monkeypatch.setenv("SOLVENT_DATA_DIR", str(tmp_path / "data"))
            monkeypatch.delenv("SOLVENT_NO_OVERLAYS", raising=False)
            payload = tmp_path / "exchangeInfo.json"
            payload.write_text(json.dumps({"symbols": [{
                "symbol": "BTCUSDT", "contractType": "PERPETUAL", "baseAsset": "BTC", "quoteAsset": "USDT",
                "marginAsset": "USDT", "status": "TRADING",
                "filters": [{"filterType": "PRICE_FILTER", "minPrice": "261.10", "maxPrice": "809484",
                             "tickSize": "5.0"},
                            {"filterType": "LOT_SIZE", "minQty": "0.01", "maxQty": "1000", "stepSize": "0.01"}]}]}))
            assert main(["venues", "update", "--venue", "binance-usdm", "--from", str(payload), "--format",
                         "binance-exchange-info", "--as-of", "2026-12-01"]) == 0
        backend = _hand_book()
        journal = tmp_path / f"j{unbound}.ndjson"
        with journal.open("wb") as out:
            for stored in backend.records(0):
                out.write(b'{"h":"' + stored.hash.encode() + b'","r":' + stored.payload + b"}\n")
        capsys.readouterr()
        assert main(["certify", "--journal", str(journal), "--event", str(_level_changes(backend)[0][0]), "--key",
                     str(tmp_path / "venue.skey"), "--out", str(tmp_path / f"c{unbound}.json")]) == 0
        out, err = capsys.readouterr()
        assert ("--profile" in out) is not unbound, out
        why = "without its digest" if named == "no digest" else "runs a dated overlay of binance-usdm"
        assert (why in err) is unbound, err


def test_a_null_field_deleted_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by review: a position's ``scale`` and the cross scope's ``symbol`` and
    ``position_side`` are null, and deleting them passed (read with ``.get``): the format states
    every field, null or not."""
    backend = _hand_book()
    cert = certify(backend, _level_changes(backend)[1][0], _note(backend))
    assert cert["positions"][0]["scale"] is None and cert["scopes"][0]["symbol"] is None
    assert _verify(tmp_path, cert) == 0
    for edit, name in ((lambda c: c["positions"][0].pop("scale"), "scale"),
                       (lambda c: c["scopes"][0].pop("symbol"), "symbol"),
                       (lambda c: c["scopes"][0].pop("position_side"), "position_side")):
        capsys.readouterr()
        assert _verify(tmp_path, _with(cert, edit)) == 1, name
        assert f"malformed certificate: {name}" in capsys.readouterr().err


def test_certify_offers_the_kept_profile_file_a_journal_ran_on() -> None:
    """Found by review: a journal written on an earlier bundled profile (its genesis names that
    file's digest) was offered ``--profile`` with the file shipped now, which solvent-verify
    refuses (not the one the journal ran on): the kept file is offered, or none when it is gzip."""
    from solvent.cli.proof_commands import _shipped_profile
    from solvent.risk.venues import _kept_versions
    from solvent_verify.profile import profile_digest

    def hint(name: str, sha: str) -> tuple[str | None, str | None]:
        named = {"name": name, "bundled": True, "sha256": sha}
        return _shipped_profile({"rules": {"profile": name}, "genesis": {"record": json.dumps({"config": {
            "profile": named}})}})

    for sha, _ in _kept_versions("bybit-linear"):
        offered, why = hint("bybit-linear", sha)
        assert why is None and offered is not None and profile_digest([Path(offered).read_bytes()]) == sha
    (sha, _), = _kept_versions("binance-usdm")
    offered, why = hint("binance-usdm", sha)
    assert offered is None and why is not None and "earlier version of binance-usdm" in why
