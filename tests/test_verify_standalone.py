"""The standalone verifier ``solvent_verify`` on published vectors, tampered inputs and its own
independence (issue 16, item 4).

Expected values: the RFC 6962/9162 vectors (transparency-dev), the verifiability
specification's journal vector (§5.2), its PoL vectors (§5.3: bob's proof and the negatives
N1–N8 with their exact reasons; §5.4: summa's users) and its signed checkpoint.
"""

from __future__ import annotations

import ast
import base64
import copy
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from test_pol import BOB_PROOF
from test_tlog import CONSISTENCY, INCLUSION, LEAVES, NOTE, RECORDS, ROOTS

import solvent_verify
from solvent.journal.tlog import consistency_proof, inclusion_proof, leaf_hash, tree_hash
from solvent_verify import VerifyError
from solvent_verify.certificate import scope_level
from solvent_verify.cli import main
from solvent_verify.note import parse_vkey, verify_note
from solvent_verify.pol import check_pol
from solvent_verify.tlog import check_consistency, root_from_inclusion

PUBLIC = bytes.fromhex("4370d864d74a38aae6808d3590e3871d4b5f0074a6e21f3f8784e1f714d2fc73")
VKEY = ("solvent.example/vector-liq-1+d6aabcec+" + base64.b64encode(b"\x01" + PUBLIC).decode())


def test_it_imports_only_the_standard_library_cryptography_and_itself() -> None:
    package = Path(solvent_verify.__file__).parent
    allowed = set(sys.stdlib_module_names) | {"cryptography", "solvent_verify", "__future__"}
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] in allowed, f"{module.name} imports {name}"


@pytest.mark.parametrize(("index", "size"), sorted(INCLUSION))
def test_inclusion_vectors(index: int, size: int) -> None:
    path = [bytes.fromhex(h) for h in INCLUSION[index, size]]
    assert root_from_inclusion(index, size, leaf_hash(LEAVES[index]), path).hex() == ROOTS[size]


@pytest.mark.parametrize(("old", "size"), sorted(CONSISTENCY))
def test_consistency_vectors(old: int, size: int) -> None:
    path = [bytes.fromhex(h) for h in CONSISTENCY[old, size]]
    check_consistency(old, size, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[size]), path)


def _flips(path: list[bytes]) -> list[list[bytes]]:
    """Every single-bit flip of every path entry (transparency-dev's probes)."""
    out = []
    for i, entry in enumerate(path):
        for bit in range(0, 256, 37):
            changed = bytearray(entry)
            changed[bit // 8] ^= 1 << (bit % 8)
            out.append([*path[:i], bytes(changed), *path[i + 1:]])
    return out


def _leads_to(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """The root a path leads to, or ``None`` when the verifier refuses it outright."""
    try:
        return root_from_inclusion(index, size, leaf, path)
    except VerifyError:
        return None


def test_every_proof_round_trips_up_to_64_leaves_and_every_probe_fails() -> None:
    data = [bytes([i]) * (i % 7) + bytes([i]) for i in range(64)]  # 64 distinct leaves
    hashes = [leaf_hash(d) for d in data]
    for size in range(1, 65):
        root = tree_hash(hashes[:size])
        for index in range(size):
            path = inclusion_proof(hashes[:size], index)
            assert root_from_inclusion(index, size, hashes[index], path) == root
            if size in (7, 8, 33):
                probes = [*_flips(path), path[:-1], [*path, root]]
                if len(path) > 1 and path[0] != path[-1]:
                    probes.append(path[::-1])
                for bad in probes:
                    assert _leads_to(index, size, hashes[index], bad) != root
                assert _leads_to((index + 1) % size, size, hashes[index], path) != root or size == 1
        for old in range(1, size + 1):
            proof = consistency_proof(hashes[:size], old)
            old_root = tree_hash(hashes[:old])
            check_consistency(old, size, old_root, root, proof)
            if size in (7, 8, 33) and old < size:
                for bad in [*_flips(proof), proof[:-1], [*proof, root]]:
                    with pytest.raises(VerifyError):
                        check_consistency(old, size, old_root, root, bad)
                with pytest.raises(VerifyError):
                    check_consistency(old, size, root, old_root, proof)  # swapped roots


def test_the_journal_vector_proofs() -> None:
    payloads = [r.encode() for r in RECORDS]
    root = bytes.fromhex("6af82b50e699b4eb35bf308bc753f042932d603847c6691b8344a8310ae5c193")
    path = [bytes.fromhex(h) for h in ("60d3e732c4283033b314dcdc5bdfd11968416c410e07fd10b383793c6f932aef",
                                       "26f314c24b9cd950c59623dff2e378657198ab2c71667a47022b5dbf55b0dbc0",
                                       "638753e2d5efcf3b6885a2201714a5ab738c72472ac3cfdbc5990b03ce3c522f")]
    assert root_from_inclusion(7, 8, leaf_hash(payloads[7]), path) == root
    old = bytes.fromhex("638753e2d5efcf3b6885a2201714a5ab738c72472ac3cfdbc5990b03ce3c522f")
    check_consistency(4, 8, old, root, [bytes.fromhex(
        "1b317e44faf8b2dcf107b179131a6f634a751474fd2629600265764bf49ae8ef")])


def test_the_vector_checkpoint_verifies_and_every_changed_character_fails() -> None:
    key = parse_vkey(VKEY)
    checkpoint = verify_note(NOTE, key)
    assert (checkpoint.origin, checkpoint.size) == ("solvent.example/vector-liq-1", 8)
    assert checkpoint.root.hex() == "6af82b50e699b4eb35bf308bc753f042932d603847c6691b8344a8310ae5c193"
    for i in range(len(NOTE)):
        changed = NOTE[:i] + ("A" if NOTE[i] != "A" else "B") + NOTE[i + 1:]
        with pytest.raises(VerifyError):
            verify_note(changed, key)


def test_a_forged_verifier_key_is_refused() -> None:
    name, kid, raw = VKEY.split("+", 2)
    with pytest.raises(VerifyError, match="id does not match"):
        parse_vkey(f"{name}+00000000+{raw}")
    with pytest.raises(VerifyError, match="not a verifier key"):
        parse_vkey("no key here")
    kid = hashlib.sha256(b"other.example/log\n\x01" + PUBLIC).hexdigest()[:8]
    other = parse_vkey(f"other.example/log+{kid}+{raw}")
    with pytest.raises(VerifyError, match=r"no signature by other\.example/log"):
        verify_note(NOTE, other)


def _bob() -> dict[str, Any]:
    return copy.deepcopy(BOB_PROOF)


BOB_VALUES = [(20000000, 0), (0, 3000000000)]


def _n(edit: Any) -> dict[str, Any]:
    proof = _bob()
    edit(proof)
    return proof


@pytest.mark.parametrize(("case", "proof", "expected", "reason"), [
    ("ok", _bob(), BOB_VALUES, "ok"),
    ("N1", _n(lambda p: p["path"][1]["values"][0].__setitem__(0, str(int(p["path"][1]["values"][0][0]) + 1))),
     None, "root hash"),
    ("N2", _n(lambda p: p["leaf"].__setitem__("index", p["leaf"]["index"] ^ 1)), None, "root hash"),
    ("N3", _n(lambda p: p["path"][0]["values"][1].__setitem__(1, "-1")), None, "malformed: bad value '-1'"),
    ("N4", _n(lambda p: p["path"][0]["values"][1].__setitem__(1, str(2**128))), None, "sibling range"),
    ("N5", _n(lambda p: p["path"][0]["values"][1].__setitem__(1, "01")), None, "malformed: bad value '01'"),
    ("N6", _n(lambda p: p["path"].pop()), None, "shape"),
    ("N7", _n(lambda p: p["header"].__setitem__("journal_seq", 1001)), None, "snapshot_id"),
    ("N8", _bob(), [(20000000, 0), (0, 2000000000)], "not my balances"),
    ("version", _n(lambda p: p.__setitem__("v", "solvent-pol-v2")), None, "version"),
    ("leaf range", _n(lambda p: p["leaf"]["values"][0].__setitem__(0, str(2**64))), None, "leaf range"),
    ("height", _n(lambda p: p["header"].__setitem__("height", 41)), None, "snapshot_id"),
])
def test_pol_vector_and_the_specification_negatives(case: str, proof: dict[str, Any],
                                                    expected: list[tuple[int, int]] | None, reason: str) -> None:
    assert check_pol(proof, None, expected) == (reason == "ok", reason), case


def test_pol_summa_vector() -> None:
    header = {"v": "solvent-pol-v1", "venue": "vector-pol-1", "journal_seq": 0, "journal_head": "0" * 64,
              "state_hash": "0" * 64, "assets": [{"symbol": "ETH", "decimals": 0}, {"symbol": "USDT", "decimals": 0}],
              "height": 4, "taken_at_ms": 0}
    siblings = [("07eb8da59fa2e959daabfaaa31da638da283a5e256161504ea0eb38fa1ac5ee8", [["79731", "0"], ["30605", "0"]]),
                ("82583807ddd25ae3a112a1d665788e830b9551fc083837d141cd94a789114dfd", [["16961", "0"], ["101804", "0"]]),
                ("563fdcf38954184e0dfc44f66ac880f52fe70c7a852e8936c17d0aec968a9b31", [["86235", "0"], ["99501", "0"]]),
                ("0e29c4fa9bd1309960304cc76bf0ede2f9d04ba034c13549a372ce0fa9f0e863",
                 [["362047", "0"], ["283789", "0"]])]
    root = "c003a32129fff1923f102a4f31a7e46cb3b6638db331ee568d24a77d2c19548b"
    proof = {"v": "solvent-pol-v1", "header": header,
             "snapshot_id": "95f90faf5f65341a81c1e530306c2f46b3481857024e1523cbb482097324e3b5",
             "root": {"hash": root, "values": [["556862", "0"], ["556862", "0"]]},
             "leaf": {"index": 15, "account_id": "dxGaEAii",
                      "salt": "1751531a48809eff338e3d9d333856da351e5e5fb5877fd1740cd7c1b122858b",
                      "values": [["11888", "0"], ["41163", "0"]]},
             "path": [{"hash": h, "values": v} for h, v in siblings]}
    assert check_pol(proof, root) == (True, "ok")
    assert check_pol(proof, "00" * 32) == (False, "not the published root")


def test_the_command_line_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    note = tmp_path / "checkpoint.txt"
    note.write_text(NOTE)
    assert main(["checkpoint", str(note), "--key", VKEY]) == 0
    assert "ok: solvent.example/vector-liq-1 size 8" in capsys.readouterr().out
    note.write_text(NOTE.replace("\n8\n", "\n9\n"))
    assert main(["checkpoint", str(note), "--key", VKEY]) == 1
    assert capsys.readouterr().err.startswith("failed: bad signature")
    assert main(["checkpoint", str(tmp_path / "missing.txt"), "--key", VKEY]) == 2
    proof = tmp_path / "bob.json"
    proof.write_text(json.dumps(BOB_PROOF))
    root = BOB_PROOF["root"]["hash"]
    statement = tmp_path / "mine.json"
    statement.write_text(json.dumps({"BTC": ["20000000", "0"], "USDT": ["0", "3000000000"]}))
    assert main(["pol", str(proof), "--root", root, "--expect", str(statement)]) == 0
    statement.write_text(json.dumps({"BTC": ["20000000", "0"]}))
    assert main(["pol", str(proof), "--root", root, "--expect", str(statement)]) == 2
    proof.write_text("{not json")
    assert main(["pol", str(proof), "--root", root]) == 2
    proof.write_text("[1, 2]")
    assert main(["pol", str(proof), "--root", root]) == 1
    assert main(["certificate", str(proof), "--key", VKEY]) == 1
    assert main(["nonsense"]) == 2
    capsys.readouterr()


@pytest.mark.parametrize("root", ["ZZ", "", "c003" * 8, "g" * 64, "0" * 63 + "\u0660", " " + "0" * 64])
def test_a_malformed_root_is_a_usage_error_not_a_failed_check(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               root: str) -> None:
    proof = tmp_path / "bob.json"
    proof.write_text(json.dumps(BOB_PROOF))
    assert main(["pol", str(proof), "--root", BOB_PROOF["root"]["hash"].upper()]) == 0
    capsys.readouterr()
    assert main(["pol", str(proof), "--root", root]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --root ") and "not a root hash (64 hex digits)" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(("previous", "equity", "mm", "trigger", "level"), [
    # binance-usdm's ratios: warning 0.7, margin call 0.8, hysteresis 0.05 (docs/verify.md, step 4)
    ("healthy", "100", "77", "equity_at_or_below_mm", "warning"),        # 0.77: ≥ 0.7, < 0.8
    ("margin_call", "100", "77", "equity_at_or_below_mm", "margin_call"),  # stays: ≥ 0.8 − 0.05
    ("margin_call", "100", "74", "equity_at_or_below_mm", "warning"),      # below 0.75: down to warning
    ("warning", "100", "66", "equity_at_or_below_mm", "warning"),          # stays: ≥ 0.7 − 0.05
    ("healthy", "100", "66", "equity_at_or_below_mm", "healthy"),
    ("healthy", "100", "80", "equity_at_or_below_mm", "margin_call"),
    ("healthy", "100", "100", "equity_at_or_below_mm", "liquidation"),     # equity = MM: liquidatable at ≤
    ("healthy", "100", "100", "equity_below_mm", "margin_call"),           # not at <: ratio 1 ≥ 0.8
    ("healthy", "0", "1", "equity_below_mm", "bankrupt"),                  # equity 0 with MM > 0
    ("healthy", "-1", "0", "equity_below_mm", "bankrupt"),
    ("healthy", "5", "0", "equity_below_mm", "healthy"),                   # no requirement
])
def test_the_level_of_a_scope_by_hand(previous: str, equity: str, mm: str, trigger: str, level: str) -> None:
    from decimal import Decimal

    rules: dict[str, Decimal | str] = {"trigger": trigger, "warning": Decimal("0.7"), "margin_call": Decimal("0.8"),
                                       "hysteresis": Decimal("0.05")}
    assert scope_level(previous, Decimal(equity), Decimal(mm), rules) == level


@pytest.mark.parametrize(("previous", "equity", "mm", "notional", "exit_buffer", "level"), [
    # the policy's target: MM × (1 + 0.02) + exit_buffer × notional; below it, one being liquidated stays there
    ("liquidation", "102", "100", "4000", "0", "margin_call"),         # 102 ≥ 100 × 1.02: out (100/102 ≥ 0.8)
    ("liquidation", "101.99", "100", "4000", "0", "liquidation"),      # above MM, below the target: stays
    ("bankrupt", "101.99", "100", "4000", "0", "liquidation"),         # from bankrupt too
    ("liquidation", "105.99", "100", "4000", "0.001", "liquidation"),  # target 102 + 0.001 × 4,000 = 106
    ("liquidation", "106", "100", "4000", "0.001", "margin_call"),     # reached; 100/106 = 0.943 ≥ 0.8
    ("margin_call", "101", "100", "4000", "0", "margin_call"),         # not being liquidated: the level rules alone
    ("liquidation", "5", "0", "4000", "0.001", "healthy"),             # no requirement: out
])
def test_leaving_liquidation_under_a_policy_by_hand(previous: str, equity: str, mm: str, notional: str,
                                                    exit_buffer: str, level: str) -> None:
    from decimal import Decimal

    rules: dict[str, Decimal | str] = {"trigger": "equity_at_or_below_mm", "warning": Decimal("0.7"),
                                       "margin_call": Decimal("0.8"), "hysteresis": Decimal("0.05"),
                                       "target_buffer": Decimal("0.02"), "exit_buffer": Decimal(exit_buffer)}
    assert scope_level(previous, Decimal(equity), Decimal(mm), rules, Decimal(notional)) == level


@pytest.mark.parametrize("assets", [["BTC", "USDT"], [{"symbol": 5, "decimals": 8}, {"symbol": "USDT", "decimals": 6}],
                                    "BTC"])
def test_a_malformed_proof_header_fails_the_proof_not_the_holders_statement(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], assets: object) -> None:
    """The holder's statement is good; the proof's header is not. That is a failed check of the
    proof (exit 1), not the holder's bad input (exit 2), with or without ``--expect``."""
    bad = copy.deepcopy(BOB_PROOF)
    bad["header"]["assets"] = assets
    proof, statement = tmp_path / "bob.json", tmp_path / "mine.json"
    proof.write_text(json.dumps(bad))
    statement.write_text(json.dumps({"BTC": ["20000000", "0"], "USDT": ["0", "3000000000"]}))
    root = BOB_PROOF["root"]["hash"]
    assert main(["pol", str(proof), "--root", root]) == 1
    alone = capsys.readouterr().err
    assert main(["pol", str(proof), "--root", root, "--expect", str(statement)]) == 1
    assert capsys.readouterr().err == alone and alone.startswith("failed: ")


def test_an_empty_key_is_a_usage_error_not_the_current_folder(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    note = tmp_path / "checkpoint.txt"
    note.write_text(NOTE)
    assert main(["checkpoint", str(note), "--key", ""]) == 2
    assert capsys.readouterr().err == "error: --key is empty: give the venue's verifier key, or a file holding it\n"
