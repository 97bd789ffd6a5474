"""Z1, the committed excess-margin attestation (``solvent.proofs.zk``; verifiability.md §3.3, §4.9
item 7): the group against RFC 9496's vectors, completeness, no proof of a false claim, every
public input bound by the transcript, tampered proofs rejected, and the engine's own decision
attested (or the account refused, naming why).

The extra needs the system libsodium: without it the tests are skipped with the reason, except
in CI (``SOLVENT_REQUIRE_SERVICES=1``), where that is a failure."""

from __future__ import annotations

import copy
import json
import os
import random
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

try:
    from solvent.proofs.zk.group import base_mul, generator_h

    generator_h()
except Exception as exc:  # pysodium, or the libsodium it loads
    reason = f"the zk extra is not usable here ({exc.__class__.__name__}: {exc}): pip install 'solvent[zk]'"
    if os.environ.get("SOLVENT_REQUIRE_SERVICES") == "1":
        raise RuntimeError(f"{reason} (SOLVENT_REQUIRE_SERVICES=1: the zk extra is required)") from exc
    pytest.skip(reason, allow_module_level=True)

from solvent.cli import main
from solvent.engine import AdvanceTime, Deposit, Engine, EngineConfig, Fill, PriceUpdate
from solvent.engine.commands import Command, SetLeverage, SetMarginMode
from solvent.errors import InvalidInput
from solvent.model import Asset, MarginMode
from solvent.proofs.zk.cema import (
    CollateralTerm,
    Openings,
    PositionTerm,
    Proof,
    Statement,
    Witness,
    coefficients,
    excess,
    openings_match,
    prove,
    verify,
)
from solvent.proofs.zk.cema_json import openings_from_json, proof_from_json, proof_to_json
from solvent.proofs.zk.engine_statement import OutsideZ1, account_statement, pseudonym
from solvent.risk.venues import load_venue

D = Decimal
UNIT = D("0.00000001")


def test_the_group_is_rfc_9496_ristretto255() -> None:
    """RFC 9496 A.1 (multiples of the generator) and A.3 (hash-to-group, SHA-512 of the text)."""
    import hashlib

    import pysodium

    multiples = ["e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
                 "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
                 "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
                 "da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57"]
    assert [base_mul(k).hex() for k in range(1, 5)] == multiples
    assert base_mul(0) == bytes(32)
    text = b"Ristretto is traditionally a short shot of espresso coffee"
    assert pysodium.crypto_core_ristretto255_from_hash(hashlib.sha512(text).digest()).hex() == \
        "3066f82a1a747d45120d1740f14358531a8f04bbffe6a819f86dfe50f44a0a46"


def _statement(claim: str = "equity_ge_mm", **change: Any) -> Statement:
    """1,000 USDT; long 0.5 BTC at 61,000 (mark 60,000.1, MM 0.4 %); short 2 ETH at 2,900 (mark
    3,000, MM 0.5 %)."""
    fields: dict[str, Any] = {
        "checkpoint": "venue@100:abc", "account": "0123456789abcdef" * 2, "claim": claim, "money_unit": UNIT,
        "collateral": (CollateralTerm("USDT", D(1), D(0), UNIT),),
        "positions": (PositionTerm("BTCUSDT", D("60000.1"), D("0.001"), D("0.004")),
                      PositionTerm("ETHUSDT", D(3000), D("0.001"), D("0.005"))),
        "bits": 64}
    fields.update(change)
    return Statement(**fields)


WITNESS = Witness((1000 * 10**8,), (500, -2000), (30500 * 10**8, -5800 * 10**8))


def test_the_excess_is_equity_less_mm_by_hand() -> None:
    """equity = 1,000 + 0.5 × 60,000.1 − 30,500 + (−2 × 3,000 + 5,800) = 300.05;
    MM = 0.5 × 60,000.1 × 0.004 + 2 × 3,000 × 0.005 = 120.0002 + 30 = 150.0002;
    excess = 150.0498, in units of 10^-8 (S = 1: every coefficient is whole)."""
    assert excess(_statement(), WITNESS) == 15_004_980_000


@pytest.mark.parametrize("claim", ["equity_ge_mm", "equity_gt_mm"])
def test_a_true_claim_proves_and_verifies_and_the_holder_opens_it(claim: str) -> None:
    proof, openings = prove(_statement(claim), WITNESS)
    assert verify(proof)
    assert openings_match(proof, WITNESS, openings)
    assert not openings_match(proof, Witness((1001 * 10**8,), WITNESS.qty, WITNESS.cost), openings)
    back = proof_from_json(json.loads(json.dumps(proof_to_json(proof))))
    assert back == proof and verify(back)


@pytest.mark.parametrize("claim", ["equity_le_mm", "equity_lt_mm"])
def test_a_false_claim_has_no_proof(claim: str) -> None:
    with pytest.raises(InvalidInput, match=f"the claim {claim} is false"):
        prove(_statement(claim), WITNESS)


def test_equality_splits_the_claims_as_the_triggers_do() -> None:
    """Equity exactly at MM: ≥ and ≤ hold, > and < do not. 1 USDT, long 0.001 BTC at mark 1,000
    with MM rate 0.5 %: notional 1, MM 0.005; an entry at 1,995 (cost 1.995) makes equity
    1 + 1 − 1.995 = 0.005."""
    st = _statement(positions=(PositionTerm("BTCUSDT", D(1000), D("0.001"), D("0.005")),))
    at_mm = Witness((10**8,), (1,), (199_500_000,))
    assert excess(st, at_mm) == 0
    for claim, holds in (("equity_ge_mm", True), ("equity_le_mm", True), ("equity_gt_mm", False),
                         ("equity_lt_mm", False)):
        claimed = _statement(claim, positions=st.positions)
        if holds:
            assert verify(prove(claimed, at_mm)[0])
        else:
            with pytest.raises(InvalidInput, match="false"):
                prove(claimed, at_mm)


def test_a_proof_holds_for_its_own_statement_only() -> None:
    """Every public input is in the transcript: change any of them and the proof fails; so does
    moving the claim to its opposite, or swapping another account's commitments in."""
    proof, _ = prove(_statement(), WITNESS)
    st = proof.statement
    changed = [
        _statement(checkpoint="venue@101:abc"), _statement(account="f" * 32), _statement("equity_gt_mm"),
        _statement(money_unit=D("0.0000001")),
        _statement(positions=(PositionTerm("BTCUSDT", D("60000.2"), D("0.001"), D("0.004")), st.positions[1])),
        _statement(positions=(PositionTerm("BTCUSDT", D("60000.1"), D("0.001"), D("0.0039")), st.positions[1])),
        _statement(collateral=(CollateralTerm("USDT", D(1), D("0.01"), UNIT),)),
    ]
    for other in changed:
        assert not verify(Proof(other, proof.commitments, proof.abs_or, proof.abs_range, proof.excess_range,
                                   proof.tiers, proof.values)), other
    richer, _ = prove(_statement(), Witness((2000 * 10**8,), WITNESS.qty, WITNESS.cost))
    assert not verify(Proof(st, richer.commitments, proof.abs_or, proof.abs_range, proof.excess_range,
                                   proof.tiers, proof.values))


def _walk(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _walk(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _walk(v, (*path, i))]
    return [path]


def test_every_tampered_field_is_rejected() -> None:
    """One hex digit changed anywhere in the proof file (a sample of 120 of its fields, always
    including the statement and the commitments): refused by the reader or by the verifier."""
    doc = proof_to_json(prove(_statement(), WITNESS)[0])
    paths = _walk(doc)
    rng = random.Random(7)
    chosen = [p for p in paths if p[0] in ("statement", "commitments")] + rng.sample(paths, 120)
    for path in chosen:
        bad = copy.deepcopy(doc)
        node = bad
        for key in path[:-1]:
            node = node[key]
        value = node[path[-1]]
        if value is None:
            node[path[-1]] = "1"
        elif isinstance(value, int):
            node[path[-1]] = value + 32
        elif path[-1] in ("claim",):
            node[path[-1]] = "equity_gt_mm"
        elif all(c in "0123456789abcdef" for c in value):
            i = rng.randrange(len(value))
            node[path[-1]] = value[:i] + ("1" if value[i] != "1" else "2") + value[i + 1:]
        else:
            node[path[-1]] = value + "1" if not value[-1].isdigit() else value[:-1] + str((int(value[-1]) + 1) % 10)
        try:
            proof = proof_from_json(bad)
        except InvalidInput:
            continue
        assert not verify(proof), path


def test_a_cheating_prover_cannot_pass_a_negative_excess(monkeypatch: pytest.MonkeyPatch) -> None:
    """The verifier needs no trust in the prover's arithmetic: a prover that commits to its true
    values (equity −599.95, below MM) but runs the range proof on a made-up opening of
    ``C_excess`` (value 1, blinding 0), everything else done as the honest prover does, fails."""
    from solvent.proofs.zk import cema

    poor = Witness((100 * 10**8,), WITNESS.qty, WITNESS.cost)
    assert excess(_statement(), poor) < 0
    monkeypatch.setattr(cema, "_claimed_opening", lambda st, w, o: (1, 0))
    forged, _ = prove(_statement(), poor)
    assert not verify(forged)


def test_an_entry_basis_quantity_cannot_wrap_around_the_group_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """On entry basis ``C_abs`` is tied to the cost, not to ``C_q``, so only ``C_q``'s own range
    proof bounds the quantity. 10 USDT, long 100 lots of 0.001 BTC entered at 60,000 (cost
    6,000), mark 59,000: equity 10 + 5,900 − 6,000 = −90 < MM. A forger commits to
    ``q' = q + δ·k⁻¹ mod ℓ`` (k = 59,000 × 0.001 / 10^-8, δ the missing excess), which makes the
    excess 0 modulo ℓ. Without the range proof on ``C_q`` (as in format v1) that forgery
    verifies; with it, it does not, and the honest prover refuses such a quantity."""
    from solvent.proofs.zk import cema
    from solvent.proofs.zk.group import ORDER

    st = _statement(positions=(PositionTerm("BTCUSDT", D(59000), D("0.001"), D("0.005"), basis="entry"),))
    poor = Witness((10 * 10**8,), (100,), (6000 * 10**8,))
    true_excess = excess(st, poor)
    assert true_excess * UNIT / coefficients(st).scale == D(-90) - D("0.005") * 6000
    k = coefficients(st).qty[0]
    assert k == 1000 * 59000 * 10**5  # S = 1,000 (the rate 0.005 made whole) × 59 USDT a lot / 10^-8
    forged_q = (100 + (-true_excess) * pow(k, -1, ORDER)) % ORDER
    forged_w = Witness(poor.collateral, (forged_q,), poor.cost)
    assert excess(st, forged_w) % ORDER == 0
    with pytest.raises(InvalidInput, match="choose a coarser unit"):
        prove(st, forged_w)
    honest_opening = cema._claimed_opening
    monkeypatch.setattr(cema, "_claimed_opening",
                        lambda s, w, o: (honest_opening(s, w, o)[0] % ORDER, honest_opening(s, w, o)[1]))
    monkeypatch.setattr(cema, "_entry_positions", lambda s: [])  # v1: no range proof on an entry-basis C_q
    forged, _ = prove(st, forged_w)
    assert verify(forged)  # the v1 hole was real
    monkeypatch.undo()
    assert not verify(forged)


def test_statement_names_cannot_carry_text_a_verifier_would_print() -> None:
    """The verifier prints the account, checkpoint, scope and symbols: a line break or an escape
    in any of them, a space, or an account that is not a 32-hex pseudonym, is refused."""
    doc = proof_to_json(prove(_statement(), WITNESS)[0])
    for path, value in ((("account",), "alice"), (("account",), "A" * 32), (("checkpoint",), "v@1:abc\nok: x"),
                        (("checkpoint",), "v@1 abc"), (("positions", 0, "symbol"), "BTC\x1b[2J"),
                        (("scope",), "cross\n"), (("collateral", 0, "asset"), "US DT")):
        bad = copy.deepcopy(doc)
        node = bad["statement"]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        with pytest.raises(InvalidInput, match=r"pseudonym|printable ASCII"):
            proof_from_json(bad)


def test_a_symbol_is_one_way_or_hedged_not_both() -> None:
    """A one-way position and a hedge-mode slot of the same symbol would let one position be
    split across two tiers; a statement that mixes them is refused."""
    btc = _statement().positions[0]
    mixed = _statement(positions=(btc, PositionTerm(btc.symbol, btc.mark, btc.lot, btc.mm_rate, side="long")))
    with pytest.raises(InvalidInput, match="both one-way"):
        mixed.check()
    hedged = _statement(positions=(PositionTerm(btc.symbol, btc.mark, btc.lot, btc.mm_rate, side="long"),
                                   PositionTerm(btc.symbol, btc.mark, btc.lot, btc.mm_rate, side="short")))
    hedged.check()


def test_a_short_cannot_pose_as_long_to_lower_its_mm() -> None:
    """|q| is bound to q: an ``abs`` commitment opening to anything but |q| fails the OR proof
    or the range proof, however the rest is built."""
    from solvent.proofs.zk import cema

    st = _statement()
    o = Openings.draw(1, 2)
    c = cema._commitments(st, WITNESS, o)
    lying = cema.Commitments(c.collateral, c.qty, c.cost, (c.abs[0], cema.commit(0, o.abs[1])))
    honest, _ = prove(st, WITNESS, o)
    assert not verify(Proof(st, lying, honest.abs_or, honest.abs_range, honest.excess_range, honest.tiers,
                            honest.values))


# -- the engine's accounts -----------------------------------------------------------------------

def _engine(*extra: Command) -> Engine:
    engine = Engine(EngineConfig(load_venue("binance-usdm"), collateral={"BTC": Asset("BTC", haircut=D("0.05"))}))
    for cmd in (AdvanceTime(0), PriceUpdate("BTCUSDT", "s", D(60000)), PriceUpdate("ETHUSDT", "s", D(3000)),
                PriceUpdate("BTC", "s", D(60000)),
                Deposit("mm", "USDT", D(10**9)), Deposit("a", "USDT", D(1000)),
                Fill("t1", "BTCUSDT", D(61000), D("0.5"), "a", "mm"),
                Fill("t2", "ETHUSDT", D(2900), D(2), "mm", "a"), *extra):
        engine.apply(cmd)
    return engine


def test_the_engines_margin_is_what_is_attested() -> None:
    """binance-usdm, tier 1 of both (0.4 %, no maintenance amount): equity 1,000 − 500 − 200 = 300,
    MM 0.5 × 60,000 × 0.004 + 2 × 3,000 × 0.004 = 144; the engine does not liquidate, so the
    claim is "equity > MM" (Binance liquidates at equity ≤ MM)."""
    engine = _engine()
    st, w = account_statement(engine, "a", "ckpt", salt="s1")
    assert st.claim == "equity_gt_mm" and st.account == pseudonym("ckpt", "a", "s1") != pseudonym("ckpt", "a", "s2")
    assert excess(st, w) * st.money_unit == D(300) - D(144)
    assert verify(prove(st, w)[0])


def test_an_account_the_engine_liquidates_gets_the_liquidation_claim() -> None:
    """BTC at 59,400: equity 1,000 − 0.5 × 1,600 − 200 = 0... ETH at 3,000 too: equity 0, MM
    0.5 × 59,400 × 0.004 + 24 = 142.8: liquidatable ("equity ≤ MM"), and no "equity > MM" proof exists."""
    engine = Engine(EngineConfig(load_venue("binance-usdm")))  # levels only: nothing is closed
    for cmd in (AdvanceTime(0), PriceUpdate("BTCUSDT", "s", D(60000)), PriceUpdate("ETHUSDT", "s", D(3000)),
                Deposit("mm", "USDT", D(10**9)), Deposit("a", "USDT", D(1000)),
                Fill("t1", "BTCUSDT", D(61000), D("0.5"), "a", "mm"), Fill("t2", "ETHUSDT", D(2900), D(2), "mm", "a"),
                PriceUpdate("BTCUSDT", "s", D(59400))):
        engine.apply(cmd)
    margin = engine.margin("a")
    assert (margin.equity, margin.maintenance_margin) == (D(0), D("142.8"))
    st, w = account_statement(engine, "a", "ckpt")
    assert st.claim == "equity_le_mm" and verify(prove(st, w)[0])
    with pytest.raises(InvalidInput, match="false"):
        prove(account_statement(engine, "a", "ckpt", "equity_gt_mm")[0], w)


@pytest.mark.parametrize(("extra", "words"), [
    ((Deposit("b", "BTC", D(1)),), "holds BTC as collateral"),
])
def test_accounts_outside_z1_are_refused_naming_why(extra: tuple[Command, ...], words: str) -> None:
    engine = _engine(Deposit("b", "USDT", D(100_000)), *extra, Fill("t8", "BTCUSDT", D(60000), D("0.1"), "b", "mm"))
    with pytest.raises(OutsideZ1, match=words):
        account_statement(engine, "b", "ckpt")


def test_an_isolated_position_is_its_own_scope() -> None:
    """binance-usdm, 2,000 USDT, 0.1 BTC long isolated at 60,000 with 20× leverage (isolated margin
    6,000 / 20 = 300 taken from the wallet), mark 58,000: isolated equity 300 − 200 = 100, MM
    5,800 × 0.004 = 23.2; the cross scope holds the wallet's 1,700 and no position."""
    engine = _engine(Deposit("b", "USDT", D(2000)), SetMarginMode("b", "BTCUSDT", MarginMode.ISOLATED),
                     SetLeverage("b", "BTCUSDT", D(20)), Fill("t8", "BTCUSDT", D(60000), D("0.1"), "b", "mm"),
                     PriceUpdate("BTCUSDT", "s", D(58000)))
    st, w = account_statement(engine, "b", "ckpt", scope="isolated:BTCUSDT")
    assert (st.scope, st.claim) == ("isolated:BTCUSDT", "equity_gt_mm")
    assert excess(st, w) * st.money_unit / coefficients(st).scale == D(100) - D("23.2")
    assert verify(prove(st, w)[0])
    cross, cw = account_statement(engine, "b", "ckpt")
    assert cross.positions == () and excess(cross, cw) * cross.money_unit == D(1700)
    with pytest.raises(InvalidInput, match="no isolated position in ETHUSDT"):
        account_statement(engine, "b", "ckpt", scope="isolated:ETHUSDT")
    wrong = Statement(st.checkpoint, st.account, st.claim, st.money_unit, st.collateral, st.positions, st.bits,
                      "isolated:ETHUSDT")
    with pytest.raises(InvalidInput, match="scope must be"):
        prove(wrong, w)


def test_mm_on_entry_value_is_attested_on_the_entry_value() -> None:
    """bybit-linear measures MM on the entry value (tier 1 of BTCUSDT in the bundled profile:
    [0, 2,000,000) at 0.5 %). 1,000 USDT, long 0.1 BTC entered at 60,000 (cost 6,000), mark
    59,000: equity 1,000 − 100 = 900, MM 6,000 × 0.005 = 30 (on the mark it would be 29.5), so the
    excess is 870; ``C_abs`` commits to |cost| and the tier's cap bounds it. A statement that
    claims the mark basis instead is not the venue's."""
    from solvent.proofs.zk.engine_statement import public_inputs_problem

    engine = Engine(EngineConfig(load_venue("bybit-linear")))
    for cmd in (AdvanceTime(0), PriceUpdate("BTCUSDT", "s", D(60000)), Deposit("mm", "USDT", D(10**9)),
                Deposit("a", "USDT", D(1000)), Fill("t1", "BTCUSDT", D(60000), D("0.1"), "a", "mm"),
                PriceUpdate("BTCUSDT", "s", D(59000))):
        engine.apply(cmd)
    st, w = account_statement(engine, "a", "ckpt")
    assert st.positions[0].basis == "entry" and st.claim == "equity_gt_mm"
    assert excess(st, w) * st.money_unit / coefficients(st).scale == D(870)  # S = 1,000 makes 0.005 whole
    proof = prove(st, w)[0]
    assert verify(proof) and verify(proof_from_json(json.loads(json.dumps(proof_to_json(proof)))))
    assert public_inputs_problem(engine, "ckpt", st) is None
    on_mark = Statement(st.checkpoint, st.account, st.claim, st.money_unit, st.collateral,
                        (PositionTerm(**{**{f: getattr(st.positions[0], f) for f in (
                            "symbol", "mark", "lot", "mm_rate", "maint_amount", "tier_floor", "tier_cap")},
                            "basis": "mark"}),), st.bits)
    assert verify(prove(on_mark, w)[0])  # the arithmetic holds on either basis...
    assert "is not one of the venue's tiers" in str(public_inputs_problem(engine, "ckpt", on_mark))  # ...not the venue


def test_a_tier_with_a_maintenance_amount_is_proven_with_its_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Z1b. binance-usdm BTCUSDT tiers (the bundled profile): [0, 300,000) at 0.4 %, [300,000,
    800,000) at 0.5 % less 300. A long of 10 BTC entered at the mark 60,000 with 100,000 USDT:
    notional 600,000 in tier 2, MM 600,000 × 0.005 − 300 = 2,700, equity 100,000. A prover that
    names tier 1 (MM 2,400: the claim would still hold) cannot prove the notional below its cap."""
    from solvent.proofs.zk import cema

    engine = _engine(Deposit("w", "USDT", D(100_000)), Fill("t9", "BTCUSDT", D(60000), D(10), "w", "mm"))
    st, w = account_statement(engine, "w", "ckpt")
    term = st.positions[0]
    assert (term.mm_rate, term.maint_amount, term.tier_floor, term.tier_cap) == (D("0.005"), D(300), D(300_000),
                                                                                  D(800_000))
    assert excess(st, w) * st.money_unit == D(100_000) - D(2_700)
    proof = prove(st, w)[0]
    assert verify(proof) and all(f is not None and c is not None for f, c in proof.tiers)
    assert verify(proof_from_json(json.loads(json.dumps(proof_to_json(proof)))))
    tier1 = Statement(st.checkpoint, st.account, st.claim, st.money_unit, st.collateral,
                      (PositionTerm("BTCUSDT", term.mark, term.lot, D("0.004"), D(0), D(0), D(300_000)),), st.bits)
    with pytest.raises(InvalidInput, match="not in the tier"):
        prove(tier1, w)
    monkeypatch.setattr(cema, "_tier_values", lambda st, k, i, size: (0, 0))  # a prover that lies about its tier
    assert not verify(prove(tier1, w)[0])


def test_the_cli_proves_from_a_journal_and_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo's journal (its last seq): alice's cross account, healthy at the end."""
    journal = tmp_path / "j.sqlite"
    assert main(["demo", "--journal", str(journal)]) == 0
    capsys.readouterr()
    out = tmp_path / "zk"
    assert main(["zk", "prove", "--journal", str(journal), "--account", "alice-cross-5x", "--out", str(out),
                 "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    proof, openings = Path(made["proof"]), Path(made["openings"])
    assert oct(openings.stat().st_mode & 0o777) == "0o600"
    assert main(["zk", "verify", str(proof), "--openings", str(openings), "--account", "alice-cross-5x"]) == 0
    assert "openings match" in capsys.readouterr().out
    assert main(["zk", "verify", str(proof), "--openings", str(openings), "--account", "bob-cross-10x"]) == 1
    assert "not bob-cross-10x" in capsys.readouterr().err
    doc = json.loads(proof.read_text())
    doc["statement"]["positions"][0]["mark"] = str(Decimal(doc["statement"]["positions"][0]["mark"]) + 1)
    proof.write_text(json.dumps(doc))
    assert main(["zk", "verify", str(proof)]) == 1
    assert "does not hold" in capsys.readouterr().err
    proof.write_text("{}")
    assert main(["zk", "verify", str(proof)]) == 2
    assert main(["zk", "prove", "--journal", str(journal), "--account", "nobody", "--out", str(out)]) == 2
    assert "no account 'nobody'" in capsys.readouterr().err
    witness = openings_from_json(json.loads(openings.read_text())).witness
    assert len(witness.qty) == len(doc["statement"]["positions"])


@pytest.mark.parametrize(("change", "words"), [
    ({"mark": "+0.1"}, "is not the journal's"),
    ({"mm_rate": "0.001", "maint_amount": "0"}, "is not one of the venue's tiers"),
    ({"lot": "0.0001"}, "is not the instrument's"),
])
def test_a_valid_proof_on_made_up_public_inputs_fails_against_the_journal(
        change: dict[str, str], words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The proof alone shows the arithmetic; ``--journal`` shows the marks, lots and tiers are the
    venue's at that seq. A venue proving with a made-up mark, rate or lot is caught there."""
    journal = tmp_path / "j.sqlite"
    assert main(["demo", "--journal", str(journal)]) == 0
    capsys.readouterr()
    assert main(["zk", "prove", "--journal", str(journal), "--account", "alice-cross-5x", "--out", str(tmp_path),
                 "--at", "200", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    proof = proof_from_json(json.loads(Path(made["proof"]).read_text()))
    witness = openings_from_json(json.loads(Path(made["openings"]).read_text())).witness
    assert main(["zk", "verify", made["proof"], "--journal", str(journal)]) == 0
    assert "the venue's trigger: not liquidatable" in capsys.readouterr().out  # binance-usdm: liquidates at ≤ MM
    st = proof.statement
    term = {**st.to_json()["positions"][0], **change}
    if term["mark"].startswith("+"):  # one tick above the journal's mark
        term["mark"] = str(st.positions[0].mark + D(term["mark"]))
    lot = D(term["lot"])
    qty = tuple(q * int(st.positions[0].lot / lot) for q in witness.qty)  # the same position in the finer lots
    forged_st = Statement(st.checkpoint, st.account, st.claim, st.money_unit, st.collateral,
                          (PositionTerm(term["symbol"], D(term["mark"]), lot, D(term["mm_rate"]),
                                        D(term["maint_amount"]), D(term["tier_floor"]), D(term["tier_cap"])),),
                          st.bits)
    forged, _ = prove(forged_st, Witness(witness.collateral, qty, witness.cost))
    assert verify(forged)
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(proof_to_json(forged)))
    assert main(["zk", "verify", str(path)]) == 0  # the forged marks hold as a statement of their own
    # found by audit: that plain "ok" read as the venue's; it says what it did not check
    assert "were not checked against the venue's journal: give --journal" in capsys.readouterr().err
    assert main(["zk", "verify", str(path), "--journal", str(journal)]) == 1
    assert words in capsys.readouterr().err
    assert main(["zk", "prove", "--journal", str(journal), "--account", "alice-cross-5x", "--out", str(tmp_path),
                 "--at", "200", "--claim", "equity_ge_mm", "--json"]) == 0
    weaker = json.loads(capsys.readouterr().out)["proof"]
    assert main(["zk", "verify", weaker, "--journal", str(journal), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["venue_decision"] is None  # true, but ≥ MM does not say "kept"


def test_the_demo_publishes_a_liquidation_proven_in_zero_knowledge(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The demo ends with the command that checks its zk proof: the judged state of its first
    liquidation, erin-isolated-50x's isolated BTC position at record 86, "equity ≤ MM". A cross
    liquidation is attested the same way: dave-cross-25x at record 143 (bankrupt: equity −300
    against an MM of 903.128, as the journal's level-change event records), and a hedge-mode one:
    grace-hedge at record 146."""
    journal = tmp_path / "j.sqlite"
    assert main(["demo", "--journal", str(journal)]) == 0
    command = next(line.strip() for line in capsys.readouterr().out.splitlines() if "solvent zk verify" in line)
    argv = command.split()[1:]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "equity_le_mm (isolated:BTCUSDT)" in out and "@86:judged:" in out
    assert "public inputs are the journal's" in out and "the venue's trigger: liquidatable" in out
    proof = proof_from_json(json.loads(Path(argv[2]).read_text()))
    assert proof.statement.scope == "isolated:BTCUSDT" and proof.statement.checkpoint.startswith("binance-usdm@86:")
    assert main(["zk", "prove", "--journal", str(journal), "--account", "dave-cross-25x", "--judged", "--at", "143",
                 "--out", str(tmp_path / "dave"), "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert (made["claim"], made["scope"]) == ("equity_le_mm", "cross")
    assert main(["zk", "verify", made["proof"], "--journal", str(journal)]) == 0
    # hedge mode: grace-hedge's long and short BTC positions are two terms of one cross statement
    capsys.readouterr()
    assert main(["zk", "prove", "--journal", str(journal), "--account", "grace-hedge", "--judged", "--at", "146",
                 "--out", str(tmp_path / "grace"), "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    hedged = proof_from_json(json.loads(Path(made["proof"]).read_text()))
    assert made["claim"] == "equity_le_mm" and [p.side for p in hedged.statement.positions] == ["long", "short"]
    assert main(["zk", "verify", made["proof"], "--journal", str(journal)]) == 0
    assert main(["zk", "prove", "--journal", str(journal), "--account", "dave-cross-25x", "--judged",
                 "--out", str(tmp_path / "x")]) == 2
    assert "give the record with --at" in capsys.readouterr().err
    for scope, words in (("bogus", "must be cross or isolated:SYMBOL, got 'bogus'"),
                         ("isolated:", "must be cross or isolated:SYMBOL, got 'isolated:'"),
                         ("isolated:ETHUSDT", "no isolated position in ETHUSDT")):
        assert main(["zk", "prove", "--journal", str(journal), "--account", "dave-cross-25x", "--scope", scope,
                     "--out", str(tmp_path / "x")]) == 2
        assert words in capsys.readouterr().err
    assert main(["zk", "prove", "--journal", str(journal), "--account", "dave-cross-25x", "--at", "0",
                 "--out", str(tmp_path / "x")]) == 2
    assert "no account 'dave-cross-25x' in the journal at binance-usdm@0:" in capsys.readouterr().err
    # after the record the account is closed out (no position, no MM): not liquidatable there
    assert main(["zk", "prove", "--journal", str(journal), "--account", "dave-cross-25x", "--at", "143",
                 "--out", str(tmp_path / "y"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["claim"] == "equity_ge_mm"
    # with no position there is no MM: "equity ≤ MM" holds (equity 0) but decides nothing at the venue
    assert main(["zk", "prove", "--journal", str(journal), "--account", "dave-cross-25x", "--at", "143",
                 "--claim", "equity_le_mm", "--out", str(tmp_path / "z"), "--json"]) == 0
    flat = json.loads(capsys.readouterr().out)["proof"]
    assert main(["zk", "verify", flat, "--journal", str(journal), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["venue_decision"] is None


def _holder(tmp_path: Path, capsys: pytest.CaptureFixture[str], account: str, *extra: str
            ) -> tuple[Path, Path, Path, Statement, Witness]:
    """The demo journal and a proof of ``account`` with its openings."""
    journal = tmp_path / "j.sqlite"
    assert main(["demo", "--journal", str(journal)]) == 0
    capsys.readouterr()
    assert main(["zk", "prove", "--journal", str(journal), "--account", account, "--out", str(tmp_path / "zk"),
                 "--json", *extra]) == 0
    made = json.loads(capsys.readouterr().out)
    proof = proof_from_json(json.loads(Path(made["proof"]).read_text()))
    return journal, Path(made["proof"]), Path(made["openings"]), proof.statement, openings_from_json(
        json.loads(Path(made["openings"]).read_text())).witness


def _forge(path: Path, openings: Path, st: Statement, w: Witness) -> None:
    """A valid proof of ``st`` on ``w``, written with openings that keep the original's checkpoint,
    account and salt (what a venue cheating its holder would publish)."""
    from solvent.proofs.zk.cema_json import openings_to_json

    proof, o = prove(st, w)
    holder = json.loads(openings.read_text())
    path.write_text(json.dumps(proof_to_json(proof)))
    openings.write_text(json.dumps(openings_to_json(proof, w, o, holder["salt"])))


def test_the_holder_catches_a_statement_that_leaves_positions_out(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Review finding: dave-cross-25x, liquidated at record 143, is attested "equity > MM" by a
    statement without his positions. The proof holds and its public inputs are the venue's; only
    the holder, with the journal, its openings and its id, can see its book is not all there."""
    from dataclasses import replace

    journal, path, openings, st, w = _holder(tmp_path, capsys, "dave-cross-25x", "--judged", "--at", "143")
    assert st.claim == "equity_le_mm" and st.positions
    bare = replace(st, claim="equity_gt_mm", positions=())
    _forge(path, openings, bare, Witness(w.collateral, (), ()))
    base = ["zk", "verify", str(path), "--journal", str(journal)]
    assert main(base) == 0
    assert main([*base, "--openings", str(openings), "--account", "dave-cross-25x"]) == 1
    assert "does not cover dave-cross-25x's whole cross scope" in capsys.readouterr().err


def test_the_money_unit_and_the_collateral_unit_are_the_venues(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Review finding: counting the same balance in units ten times coarser made a liquidated
    account healthy, and --journal did not notice."""
    from dataclasses import replace

    journal, path, openings, st, w = _holder(tmp_path, capsys, "dave-cross-25x", "--judged", "--at", "143")
    coarse = replace(st, claim="equity_gt_mm", collateral=(replace(st.collateral[0], unit=st.collateral[0].unit * 10),))
    _forge(path, openings, coarse, w)
    assert main(["zk", "verify", str(path)]) == 0  # the arithmetic holds...
    assert main(["zk", "verify", str(path), "--journal", str(journal)]) == 1  # ...on a unit that is not the venue's
    assert "counted in the money unit" in capsys.readouterr().err


def test_coefficients_do_not_depend_on_the_callers_decimal_context() -> None:
    """Review finding: a mark with many digits gave another scale under 28 digits of precision
    than under 40. Every step is exact or the statement is refused."""
    import decimal

    st = _statement(positions=(PositionTerm("BTCUSDT", D("12345.67890123456789012345"), D("1.2345"), D("0.004")),),
                    bits=128)
    with decimal.localcontext(decimal.Context(prec=28)):
        low = coefficients(st)
    with decimal.localcontext(decimal.Context(prec=60)):
        high = coefficients(st)
    # exactly, with fractions: P·L/μ has 16 decimals (20 + 4 − 8), P·L·m/μ one more (m = 0.004 = 4/1000)
    per_lot = Fraction("12345.67890123456789012345") * Fraction("1.2345") / Fraction("0.00000001")
    assert (per_lot * 10**16).denominator == 1 and (per_lot * Fraction("0.004") * 10**16).denominator != 1
    assert low == high and low.scale == 10**17 and low.qty == [int(per_lot * 10**17)]
    with pytest.raises(InvalidInput, match="not exact"):
        coefficients(_statement(money_unit=D(3)))


def test_coefficients_that_could_wrap_modulo_the_group_order_are_refused() -> None:
    """Review finding: mark 1e40, lot 1e40 and a unit of 1e-40 make coefficients above ℓ, where a
    negative excess is small modulo ℓ. Every value is now range-proven below 2^64 in size and
    the coefficients bounded so that no sum reaches ℓ/2."""
    with pytest.raises(InvalidInput, match="too large for a sound proof"):
        _statement(positions=(PositionTerm("BTCUSDT", D("1e40"), D("1e40"), D("0.004")),)).check()
    poor = Witness((-(2**63) - 1,), WITNESS.qty, WITNESS.cost)
    with pytest.raises(InvalidInput, match="2\\^63 units or more"):
        prove(_statement("equity_le_mm"), poor)


def test_the_zk_benchmark_runs_on_a_statement_the_prover_accepts() -> None:
    """``solvent bench`` (all benchmarks) stopped at the zk one when statements began to require a
    pseudonym for the account; its statement must pass the same check as any other."""
    from solvent.bench.bench_zk import zk_benchmarks

    names = [r.name for r in zk_benchmarks(True)]
    assert names == ["zk.cema.prove", "zk.cema.verify"]
