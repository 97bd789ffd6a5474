"""Proof of liabilities ``solvent-pol-v1`` (issue 16, item 5).

Expected values: the verifiability specification's vectors V-POL-2 (§5.3, a margin venue with
a debt, a bankrupt account and an empty one) and V-POL-1 (§5.4, summa's ``entry_16.csv``
users, whose totals match summa's own ``test_mst``), produced by the spec authors' reference
code. The liabilities of an engine state are checked against sums written out by hand.
Proofs are checked with ``solvent_verify``, written from the specification independently.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from solvent.cli import main
from solvent.engine import AdvanceTime, Deposit, Engine, EngineConfig, Fill, FundInsurance, PriceUpdate
from solvent.errors import InvalidInput
from solvent.journal import DurableEngine, SqliteBackend
from solvent.proofs.liabilities import liabilities
from solvent.proofs.pol import Values, build_tree, encode_values, proof_file_name, prove
from solvent.risk.venues import load_venue
from solvent.units import solvent_context
from solvent_verify.cli import main as verify_main

MASTER = hashlib.sha256(b"solvent test master secret (never use in production)").digest()
assert MASTER.hex() == "a3b60607481c3c8cdb609d828c18ad535878c9cdda7b82013ae5bd082da82bdc"

POL2_HEADER: dict[str, Any] = {
    "v": "solvent-pol-v1", "venue": "vector-pol-2", "journal_seq": 1000, "journal_head": "1" * 64,
    "state_hash": "2" * 64, "assets": [{"symbol": "BTC", "decimals": 8}, {"symbol": "USDT", "decimals": 6}],
    "taken_at_ms": 1700000000000, "uncovered_deficit": {"USDT": "150000000"}}
# alice 1.5 BTC + 2,500 USDT; bob 0.2 BTC and a 3,000 USDT debt; carol 10,000 USDT; dave bankrupt (zeros); erin empty
POL2_ACCOUNTS: dict[str, Values] = {
    "alice": ((150_000_000, 0), (2_500_000_000, 0)),
    "bob": ((20_000_000, 0), (0, 3_000_000_000)),
    "carol": ((0, 0), (10_000_000_000, 0)),
    "dave": ((0, 0), (0, 0)),
    "erin": ((0, 0), (0, 0)),
}
POL2_LEVELS = [
    ["f522fcd90e54eccc4752182b71c8f373fd08d7b8f783c73ef12885b1e22b1a85",
     "b9dc93ba2c7fb8748f8c4f0d7e55d1a933553582c8a8cceff6fc7288881122e9",
     "daecab36b1703e980227a191ce6462c9e629dab54714b7224616a3623aefd5ec",
     "a120b26d3b0c6a132fd2e5fd8bf58af43d804df0a03f1d48d942bbcb4634904b",
     "aa5b59dfd797bfbaa3d95460ced38ce1679a613232478d9085f99277e734ec56",
     "f3a014dec20e47d43d2e8029133cf4b440cf02c31da04c089a683b40b8cf5e9e",
     "c6f348e9b2cbcd786ae6051eef0e6ea4e6785775ae6c07cf7058c660fb74c6b3",
     "ac91c7421c4c1746bd6c71630b54c5e0fc6e4d23d8f70399c1f73d3a7b9279bc"],
    ["3e1627a332c6613eddd73aab702fc986d415356e995224d28ca141ccd11ba5f2",
     "ed924c9c4d956568770aeade91d560289140f24adc888f1bccbf6066df7b9df8",
     "97d77fd80e53926c1203373964656d92cb8223bcfb0969f98e1665139ca6e458",
     "a6b93bc8ef959dc5fe8509732692d3956cf9f174ba322492f49dfaaf5c6de30d"],
    ["3b3716fd7f17f8209f7b529a81d14484088588cc193991764e08c7e4d77e8e60",
     "980d9c76c7301361ae21c4980c8e0b3267f1c3822d7955877e7cf9eed5efd923"],
    ["2e00147e638a1dbd09edb55ab6852cb5e1519933398d011e994cf7c8306c44ee"],
]
BOB_PROOF = json.loads(
    '{"v":"solvent-pol-v1","header":{"v":"solvent-pol-v1","venue":"vector-pol-2","journal_seq":1000,"journal_head":'
    '"1111111111111111111111111111111111111111111111111111111111111111","state_hash":'
    '"2222222222222222222222222222222222222222222222222222222222222222","assets":[{"symbol":"BTC","decimals":8},'
    '{"symbol":"USDT","decimals":6}],"height":3,"taken_at_ms":1700000000000,"uncovered_deficit":{"USDT":'
    '"150000000"}},"snapshot_id":"001703294f9bb8260cfbe7d405cbce19416c8e7904d2328f8396b5105adbd4e9","root":{'
    '"hash":"2e00147e638a1dbd09edb55ab6852cb5e1519933398d011e994cf7c8306c44ee","values":[["170000000","0"],'
    '["12500000000","3000000000"]]},"leaf":{"index":0,"account_id":"bob","salt":'
    '"83e7234f7437b45ba453f3abc1a1e4d0ba898888912bf05c32aa2850ca563752","values":[["20000000","0"],["0",'
    '"3000000000"]]},"path":[{"hash":"b9dc93ba2c7fb8748f8c4f0d7e55d1a933553582c8a8cceff6fc7288881122e9","values":'
    '[["0","0"],["10000000000","0"]]},{"hash":"ed924c9c4d956568770aeade91d560289140f24adc888f1bccbf6066df7b9df8",'
    '"values":[["150000000","0"],["2500000000","0"]]},{"hash":'
    '"980d9c76c7301361ae21c4980c8e0b3267f1c3822d7955877e7cf9eed5efd923","values":[["0","0"],["0","0"]]}]}')

SUMMA = ("dxGaEAii,11888,41163 MBlfbBGI,67823,18651 lAhWlEWZ,18651,2087 nuZweYtO,22073,55683 gbdSwiuY,34897,83296 "
         "RZNneNuP,83296,16881 YsscHXkp,31699,35479 RkLzkDun,2087,79731 HlQlnEYI,30605,11888 RqkZOFYe,16881,14874 "
         "NjCSRAfD,41163,67823 pHniJMQY,14874,22073 dOGIMzKR,10032,10032 HfMDmNLp,55683,34897 xPLKzCBl,79731,30605 "
         "AtwIxZHo,35479,31699")
POL1_HEADER: dict[str, Any] = {
    "v": "solvent-pol-v1", "venue": "vector-pol-1", "journal_seq": 0, "journal_head": "0" * 64,
    "state_hash": "0" * 64, "assets": [{"symbol": "ETH", "decimals": 0}, {"symbol": "USDT", "decimals": 0}],
    "taken_at_ms": 0}


def test_the_margin_vector_tree_node_for_node() -> None:
    header = {k: v for k, v in POL2_HEADER.items()}
    tree = build_tree(header, POL2_ACCOUNTS, MASTER)
    assert tree.header["height"] == 3
    assert tree.snapshot_id.hex() == "001703294f9bb8260cfbe7d405cbce19416c8e7904d2328f8396b5105adbd4e9"
    assert [[entry[0].hex() for entry in level] for level in tree.levels] == POL2_LEVELS
    assert tree.root[1] == ((170_000_000, 0), (12_500_000_000, 3_000_000_000))
    assert {a: i for a, (i, _) in tree.accounts.items()} == {"bob": 0, "carol": 1, "alice": 2, "dave": 5, "erin": 7}
    assert prove(tree, "bob") == BOB_PROOF


def test_the_summa_vector_root_order_and_proof() -> None:
    users = {name: ((int(eth), 0), (int(usdt), 0)) for name, eth, usdt in (u.split(",") for u in SUMMA.split())}
    tree = build_tree(dict(POL1_HEADER), users, MASTER)
    assert tree.snapshot_id.hex() == "95f90faf5f65341a81c1e530306c2f46b3481857024e1523cbb482097324e3b5"
    assert tree.root[0].hex() == "c003a32129fff1923f102a4f31a7e46cb3b6638db331ee568d24a77d2c19548b"
    assert tree.root[1] == ((556862, 0), (556862, 0))
    order = sorted(tree.accounts, key=lambda a: tree.accounts[a][0])
    assert order == ["NjCSRAfD", "RZNneNuP", "HfMDmNLp", "HlQlnEYI", "YsscHXkp", "gbdSwiuY", "RqkZOFYe", "MBlfbBGI",
                     "dOGIMzKR", "AtwIxZHo", "nuZweYtO", "lAhWlEWZ", "RkLzkDun", "pHniJMQY", "xPLKzCBl", "dxGaEAii"]
    proof = prove(tree, "dxGaEAii")
    assert proof["leaf"]["index"] == 15
    assert proof["leaf"]["salt"] == "1751531a48809eff338e3d9d333856da351e5e5fb5877fd1740cd7c1b122858b"
    assert [(p["hash"], p["values"]) for p in proof["path"]] == [
        ("07eb8da59fa2e959daabfaaa31da638da283a5e256161504ea0eb38fa1ac5ee8", [["79731", "0"], ["30605", "0"]]),
        ("82583807ddd25ae3a112a1d665788e830b9551fc083837d141cd94a789114dfd", [["16961", "0"], ["101804", "0"]]),
        ("563fdcf38954184e0dfc44f66ac880f52fe70c7a852e8936c17d0aec968a9b31", [["86235", "0"], ["99501", "0"]]),
        ("0e29c4fa9bd1309960304cc76bf0ede2f9d04ba034c13549a372ce0fa9f0e863", [["362047", "0"], ["283789", "0"]])]


def _verify(tmp_path: Path, proof: dict[str, Any], root: str, *extra: str) -> int:
    target = tmp_path / "proof.json"
    target.write_text(json.dumps(proof))
    return verify_main(["pol", str(target), "--root", root, *extra])


def test_every_account_proof_verifies_independently_and_a_changed_sibling_does_not(tmp_path: Path) -> None:
    tree = build_tree(dict(POL2_HEADER), POL2_ACCOUNTS, MASTER)
    root = tree.root[0].hex()
    for account in POL2_ACCOUNTS:
        assert _verify(tmp_path, prove(tree, account), root) == 0
    proof = prove(tree, "bob")
    proof["path"][1]["values"][0][0] = "0"  # hide alice's 1.5 BTC from bob's view of the total
    assert _verify(tmp_path, proof, root) == 1


def _maxwell_node(left: tuple[bytes, int], right: tuple[bytes, int]) -> tuple[bytes, int]:
    """Maxwell's original node: the hash binds only the sum, not each child's value."""
    total = left[1] + right[1]
    return hashlib.sha256(left[0] + right[0] + total.to_bytes(16, "big")).digest(), total


def _maxwell_verify(leaf: tuple[bytes, int], sibling: tuple[bytes, int], leaf_is_left: bool,
                    root: tuple[bytes, int]) -> bool:
    pair = (leaf, sibling) if leaf_is_left else (sibling, leaf)
    return _maxwell_node(*pair) == root


def test_maxwells_shape_lets_two_holders_be_undercounted_and_pol_v1_cannot_express_it(tmp_path: Path) -> None:
    # Two holders owed 100 each. A Maxwell-shape venue publishes a parent whose sum is 100, not 200,
    # and shows each holder the other's value as 0: both proofs verify, 100 of liabilities vanish.
    alice, bob = hashlib.sha256(b"alice 100").digest(), hashlib.sha256(b"bob 100").digest()
    forged_root = (hashlib.sha256(alice + bob + (100).to_bytes(16, "big")).digest(), 100)
    assert _maxwell_verify((alice, 100), (bob, 0), True, forged_root)
    assert _maxwell_verify((bob, 100), (alice, 0), False, forged_root)
    # In solvent-pol-v1 the node hash holds both children's values: the same lie changes the hash.
    accounts: dict[str, Values] = {"alice": ((100, 0),), "bob": ((100, 0),)}
    header = {"v": "solvent-pol-v1", "venue": "forge", "journal_seq": 1, "journal_head": "0" * 64,
              "state_hash": "0" * 64, "assets": [{"symbol": "USDT", "decimals": 0}], "taken_at_ms": 0}
    tree = build_tree(header, accounts, MASTER, height=1)
    honest = prove(tree, "alice")
    assert honest["root"]["values"] == [["200", "0"]]
    forged = json.loads(json.dumps(honest))
    forged["path"][0]["values"] = [["0", "0"]]
    forged["root"]["values"] = [["100", "0"]]
    assert _verify(tmp_path, honest, tree.root[0].hex()) == 0
    assert _verify(tmp_path, forged, tree.root[0].hex()) == 1


def test_values_beyond_the_limits_are_refused() -> None:
    header = dict(POL1_HEADER)
    with pytest.raises(InvalidInput, match="2\\^64"):
        build_tree(header, {"a": ((1 << 64, 0), (0, 0))}, MASTER)
    with pytest.raises(InvalidInput, match="one \\(equity, debt\\) per asset"):
        build_tree(header, {"a": ((1, 0),)}, MASTER)
    with pytest.raises(InvalidInput, match="height"):
        build_tree(header, {f"a{i}": ((1, 0), (0, 0)) for i in range(5)}, MASTER, height=2)
    assert encode_values(((1, 2),)) == (1).to_bytes(16, "big") + (2).to_bytes(16, "big")


def _engine() -> Engine:
    """Levels only (no liquidation): A long 0.1 BTC at 50,000 on 1,000 USDT, B short it on 10,000,
    C long 0.1 at 50,000 on 100 USDT; then the mark falls to 45,000."""
    engine = Engine(EngineConfig(load_venue("binance-usdm")))
    for cmd in (AdvanceTime(0), PriceUpdate("BTCUSDT", "s", Decimal(50_000)),
                Deposit("A", "USDT", Decimal(1_000)), Deposit("B", "USDT", Decimal(10_000)),
                Deposit("C", "USDT", Decimal(100)), Deposit("D", "USDT", Decimal("0.015")),
                Fill("t1", "BTCUSDT", Decimal(50_000), Decimal("0.1"), "A", "B"),
                Fill("t2", "BTCUSDT", Decimal(50_000), Decimal("0.1"), "C", "B"),
                PriceUpdate("BTCUSDT", "s", Decimal(45_000))):
        assert engine.apply(cmd).accepted, cmd
    return engine


def test_liabilities_of_an_engine_state_by_hand() -> None:
    owed = liabilities(_engine(), {"USDT": 2})
    # In cents: A: 1,000 + 0.1 × (45,000 − 50,000) = 500 USDT; B: 10,000 + 2 × 0.1 × 5,000 = 11,000;
    # C: 100 − 500 = −400: bankrupt, a zero leaf and 400 USDT of uncovered deficit; D: 0.015 USDT
    # is 1.5 cents, rounded up to 2 (toward larger liabilities).
    assert owed.assets == [{"symbol": "USDT", "decimals": 2}]
    assert owed.accounts == {"A": ((500_00, 0),), "B": ((11_000_00, 0),), "C": ((0, 0),), "D": ((2, 0),)}
    assert owed.deficit == {"USDT": 400_00}
    assert liabilities(_engine()).assets == [{"symbol": "USDT", "decimals": 8}]  # the money quantum, 10^-8


def test_prove_liabilities_from_a_journal_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "j.sqlite"
    durable = DurableEngine(SqliteBackend(path), EngineConfig(load_venue("binance-usdm")))
    for cmd in (AdvanceTime(0), PriceUpdate("BTCUSDT", "s", Decimal(50_000)), Deposit("A", "USDT", Decimal(1_000)),
                Deposit("B", "USDT", Decimal(10_000)), Fill("t1", "BTCUSDT", Decimal(50_000), Decimal("0.1"), "A", "B"),
                PriceUpdate("BTCUSDT", "s", Decimal(45_000)), FundInsurance(Decimal(300))):
        assert durable.apply(cmd).accepted
    durable.close()
    secret = tmp_path / "master.hex"
    secret.write_text(MASTER.hex())
    out = tmp_path / "pol"
    # at seq 4 (after the deposits, before the fill): A 1,000, B 10,000
    reserves = tmp_path / "reserves.json"
    reserves.write_text(json.dumps({"USDT": "5500"}))
    assert main(["prove-liabilities", "--journal", str(path), "--at", "4", "--out", str(out), "--secret",
                 str(secret), "--decimals", "USDT=2", "--reserves", str(reserves)]) == 0
    # the totals in USDT, and in the tree's units of 10^-2 beside them (the units alone were
    # labelled USDT: 1100000 read as 1.1 million USDT; found by a new-user pass); no position, no loss
    text = capsys.readouterr().out
    assert "  USDT: equity 11000  debt 0 (the tree's units of 10^-2 USDT: 1100000 and 0)\n" in text
    assert "the insurance fund covers n/a of it" in text
    report = json.loads((out / "capital-adequacy.json").read_text())
    assert report["ratios"]["reserve_coverage"] == {"USDT": "0.5"}  # 5,500 against 11,000 owed
    root = json.loads((out / "root.json").read_text())
    assert root["header"]["journal_seq"] == 4 and root["header"]["assets"] == [{"symbol": "USDT", "decimals": 2}]
    assert root["totals"] == {"USDT": {"equity": str(11_000 * 100), "debt": "0"}}
    a_proof = out / "proofs" / "A.json"
    assert json.loads(a_proof.read_text())["leaf"]["values"] == [[str(1_000 * 100), "0"]]
    statement = tmp_path / "mine.json"
    statement.write_text(json.dumps({"USDT": [str(1_000 * 100), "0"]}))
    assert verify_main(["pol", str(a_proof), "--root", root["root"]["hash"], "--expect", str(statement)]) == 0
    statement.write_text(json.dumps({"USDT": [str(999 * 100), "0"]}))
    assert verify_main(["pol", str(a_proof), "--root", root["root"]["hash"], "--expect", str(statement)]) == 1
    # the last seq: A 500, B 10,500 (after the fall to 45,000)
    latest = tmp_path / "latest"
    assert main(["prove-liabilities", "--journal", str(path), "--out", str(latest), "--secret", str(secret)]) == 0
    # at −30 % (45,000 → 31,500) A, long 0.1 from 50,000, is at 1,000 − 1,850 = −850: a fund of 300
    # covers 300 / 850 = 0.35294…, shown to two places, down (it was printed in 40 digits, with no unit)
    assert "stress: worst loss USDT 850; the insurance fund covers 0.35× of it" in capsys.readouterr().out
    assert json.loads((latest / "root.json").read_text())["totals"]["USDT"]["equity"] == str(11_000 * 10**8)
    assert json.loads((latest / "proofs" / "A.json").read_text())["leaf"]["values"] == [[str(500 * 10**8), "0"]]
    capsys.readouterr()
    assert main(["prove-liabilities", "--journal", str(path), "--out", str(latest)]) == 2  # not empty
    assert main(["prove-liabilities", "--journal", str(path), "--at", "99", "--out", str(tmp_path / "n")]) == 2
    assert "ends at seq" in capsys.readouterr().err
    assert not (tmp_path / "n").exists()
    assert main(["prove-liabilities", "--journal", str(path), "--out", str(tmp_path / "m"), "--decimals", "USDT"]) == 2
    for digits in ("\u00b2", "\u0663", "+2", "0_2"):  # superscript two: a crash; Arabic-Indic three: read as 3
        assert main(["prove-liabilities", "--journal", str(path), "--out", str(tmp_path / "m"), "--decimals",
                     f"USDT={digits}"]) == 2
        assert "in digits 0-9" in capsys.readouterr().err
    reserves.write_text('{"USDT": 5500.0}')
    assert main(["prove-liabilities", "--journal", str(path), "--out", str(tmp_path / "r"), "--reserves",
                 str(reserves)]) == 2
    reserves.write_text('{"BTC": "1"}')  # an asset nobody holds: refused before anything is written
    assert main(["prove-liabilities", "--journal", str(path), "--out", str(tmp_path / "r"), "--reserves",
                 str(reserves)]) == 2
    assert not (tmp_path / "r").exists()
    assert main(["prove-liabilities", "--journal", str(path), "--out", str(tmp_path / "h"), "--height", "0"]) == 2


def test_proof_file_names_never_collide_or_leave_the_folder() -> None:
    ids = ["alice", "a/", "id-612f", "a/../../evil", "ü-名前", "x" * 151, "x" * 150 + "y", ".", "..",
           "id-" + hashlib.sha256(b"a/").hexdigest()]
    names = [proof_file_name(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert all("/" not in n and n not in (".json", "..json") and len(n) <= 255 for n in names)
    assert names[0] == "alice.json"
    # the folder's own index.json is no account's (found by a new-user pass: an account "index" broke every run)
    assert all(proof_file_name(i).lower() != "index.json" for i in ("index", "INDEX", "Index"))


def test_the_capital_adequacy_report_by_hand(tmp_path: Path) -> None:
    from solvent.proofs.adequacy import capital_adequacy, read_reserves

    engine = _engine()
    owed = liabilities(engine, {"USDT": 2})
    header = {"venue": "hand", "journal_seq": 9, "journal_head": "0" * 64, "state_hash": engine.state_hash(),
              "assets": owed.assets, "taken_at_ms": 0, "uncovered_deficit": {"USDT": str(owed.deficit["USDT"])}}
    tree = build_tree(header, owed.accounts, MASTER)
    report = capital_adequacy(engine, tree, read_reserves({"USDT": {"amount": "23000", "evidence": ["addr"]}}))
    # liabilities in USDT: A 500 + B 11,000 + D 0.02 (C is bankrupt: zero) = 11,500.02, no debt
    assert report["liabilities"] == {"USDT": {"equity": "11500.02", "debt": "0", "net": "11500.02"}}
    # the ratio is solvent's division (40 significant digits), whatever context this test runs in
    assert Decimal(report["ratios"]["reserve_coverage"]["USDT"]) == solvent_context().divide(Decimal(23_000),
                                                                                             Decimal("11500.02"))
    # the stress at −30 %: mark 31,500; A: 1,000 + 0.1 × (31,500 − 50,000) = −850; C: 100 − 1,850 = −1,750;
    # B (short 0.2) gains, D holds no position: the loss is 850 + 1,750 = 2,600, the worst of the six shocks
    # (at +30 % B: 10,000 − 0.2 × 8,500 = 8,300 > 0, and C: 100 + 0.1 × 8,500 > 0: no loss)
    scenarios = {s["shock"]: Decimal(s["loss"]) for s in report["stress"]["scenarios"]}
    assert scenarios["-0.3"] == Decimal(2_600) and scenarios["0.3"] == Decimal(0)
    assert report["stress"]["worst_loss"] == {"USDT": "2600"}
    assert report["ratios"]["fund_cover"] == "0"  # an empty insurance fund covers none of it
    assert report["pol"]["root"] == tree.root[0].hex() and report["reserves"][0]["evidence"] == ["addr"]
    with pytest.raises(InvalidInput, match="which no account holds"):
        capital_adequacy(engine, tree, read_reserves({"BTC": "1"}))
    for bad in ({"USDT": 5}, {"USDT": "-1"}, ["USDT"], {"USDT": {"amount": "1", "evidence": "x"}}):
        with pytest.raises(InvalidInput):
            read_reserves(bad)
    with pytest.raises(InvalidInput, match="unknown field"):  # found by review: "evidense" was dropped in silence
        read_reserves({"USDT": {"amount": "1", "evidense": ["addr"]}})


def test_a_fixed_height_may_pad_with_at_most_four_million_leaves() -> None:
    from solvent.proofs.pol import MAX_PADDING, tree_height

    assert MAX_PADDING == 4_194_304  # 2^22: height 22 over 3 accounts pads 4,194,301 leaves, 23 pads 8,388,605
    assert tree_height(3, 22) == 22
    with pytest.raises(InvalidInput, match=r"padded with 8,388,605 leaves.*a height up to 22"):
        tree_height(3, 23)
    assert tree_height(5_000_000, 23) == 23  # 8,388,608 − 5,000,000 = 3,388,608 padding leaves
    with pytest.raises(InvalidInput, match="at most"):
        tree_height(5_000_000, 24)
    with pytest.raises(InvalidInput, match="height 40"):  # found by a new-user pass: it ran out of memory
        tree_height(3, 40)


def test_a_proof_without_an_asset_the_holder_holds_fails_the_check(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Found by audit: a holder expecting a balance in an asset the proof leaves out was told its
    own statement was bad input (exit 2), not that the proof is not its balances (exit 1)."""
    master = hashlib.sha256(b"solvent test master secret (never use in production)").digest()
    header = {"venue": "audit", "journal_seq": 1, "journal_head": "1" * 64, "state_hash": "2" * 64,
              "assets": [{"symbol": "USDT", "decimals": 6}], "taken_at_ms": 0}
    tree = build_tree(header, {"alice": ((5, 0),), "bob": ((7, 0),)}, master)
    proof = tmp_path / "alice.json"
    proof.write_text(json.dumps(prove(tree, "alice")))
    root = tree.root[0].hex()
    expect = tmp_path / "mine.json"
    for statement, code in (({"USDT": ["5", "0"]}, 0), ({"USDT": ["5", "0"], "BTC": ["0", "0"]}, 0),
                            ({"USDT": ["5", "0"], "BTC": ["3", "0"]}, 1), ({"USDT": ["5", "0"], "BTC": ["x", "0"]}, 2)):
        expect.write_text(json.dumps(statement))
        assert verify_main(["pol", str(proof), "--root", root, "--expect", str(expect)]) == code, statement
    assert "the proof has no BTC" in capsys.readouterr().err


def test_an_account_id_with_spaces_is_quoted_in_the_ok_line(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a new-user pass: an account id is printed in the verifier's ``ok:`` line, and one
    with spaces could add words to it, here claiming a --record check that never ran. A name that
    is not one plain word is printed as a JSON string."""
    master = hashlib.sha256(b"solvent test master secret (never use in production)").digest()
    header = {"venue": "audit", "journal_seq": 1, "journal_head": "1" * 64, "state_hash": "2" * 64,
              "assets": [{"symbol": "USDT", "decimals": 6}], "taken_at_ms": 0}
    spoof = "bob included in abab; the root the journal publishes at record 7 #"
    tree = build_tree(header, {spoof: ((5, 0),), "alice": ((7, 0),)}, master)
    proof = tmp_path / "spoof.json"
    proof.write_text(json.dumps(prove(tree, spoof)))
    assert verify_main(["pol", str(proof), "--root", tree.root[0].hex()]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ok: {json.dumps(spoof)} included in ")
    honest = tmp_path / "alice.json"
    honest.write_text(json.dumps(prove(tree, "alice")))
    assert verify_main(["pol", str(honest), "--root", tree.root[0].hex()]) == 0
    assert capsys.readouterr().out.startswith("ok: alice included in ")
