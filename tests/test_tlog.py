"""RFC 9162 trees over the journal, signed checkpoints and log proofs (issue 16, item 2).

Expected values are the published vectors: RFC 6962/9162 test data as transparency-dev/merkle
lists it (``testonly/constants.go``, ``proof/verify_test.go``) and the journal vector
``vector-liq-1`` of the project's verifiability specification (§5.1, §5.2), which the spec's
authors produced with their own reference code. Proofs made from stored journals are checked
with ``solvent_verify``, written from the specification independently of this code.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from test_journal_common import config, stream

from solvent.cli import main
from solvent.engine import Deposit
from solvent.errors import InvalidInput
from solvent.journal import DurableEngine, JournalError, MemoryBackend, SqliteBackend
from solvent.journal.checkpoint_note import Checkpoint, SignerKey, parse_checkpoint, read_signer_key, sign_checkpoint
from solvent.journal.log_proofs import journal_checkpoint, log_consistency, record_inclusion
from solvent.journal.tlog import CompactRange, consistency_proof, inclusion_proof, leaf_hash, tree_hash
from solvent_verify.cli import main as verify_main

LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}
CONSISTENCY = {
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
    (6, 7): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}

# vector-liq-1 (§5.2): the canonical record lines, verbatim, and the hash chain heads
RECORDS = [
    '{"body":{"format":"solvent-journal-v1","venue":"vector-liq-1"},"kind":"genesis","seq":0,"ts_ms":1700000000000,'
    '"v":1}',
    '{"body":{"assets":[{"decimals":6,"haircut":"0","symbol":"USDT"}],"instruments":[{"contract":"linear",'
    '"id":"BTC-PERP","imr":"0.1","mmr":"0.005","settle":"USDT","step":"0.001","tick":"0.1"}]},"kind":"params",'
    '"seq":1,"ts_ms":1700000000000,"v":1}',
    '{"body":{"account":"A","amount":"1000","asset":"USDT","type":"deposit"},"kind":"command","seq":2,'
    '"ts_ms":1700000001000,"v":1}',
    '{"body":{"account":"B","amount":"10000","asset":"USDT","type":"deposit"},"kind":"command","seq":3,'
    '"ts_ms":1700000002000,"v":1}',
    '{"body":{"index":"50000","instrument":"BTC-PERP","mark":"50000","sources":["s1","s2","s3"]},"kind":"price",'
    '"seq":4,"ts_ms":1700000003000,"v":1}',
    '{"body":{"buyer":"A","instrument":"BTC-PERP","price":"50000","qty":"0.1","seller":"B","type":"fill"},'
    '"kind":"command","seq":5,"ts_ms":1700000004000,"v":1}',
    '{"body":{"index":"45500","instrument":"BTC-PERP","mark":"45500","sources":["s1","s2","s3"]},"kind":"price",'
    '"seq":6,"ts_ms":1700000005000,"v":1}',
    '{"body":{"index":"40200","instrument":"BTC-PERP","mark":"40200","sources":["s1","s2","s3"]},"events":[{'
    '"account":"A","justification":{"collateral":{"USDT":{"balance":"1000","haircut":"0","price":"1",'
    '"value":"1000"}},"equity":"20","maintenance_margin":"20.1","margin_ratio":"1.005","marks":{"BTC-PERP":{'
    '"journal_seq":7,"price":"40200"}},"params_hash":'
    '"b6a9be153a6643f95753c573965666031e39b1ba54295b12423f65139d3bcb99","positions":[{"deduction":"0",'
    '"entry":"50000","instrument":"BTC-PERP","mark":"40200","mm":"20.1","mmr":"0.005","notional":"4020",'
    '"qty":"0.1","tier":0,"upnl":"-980"}],"profile":"flat-mmr-test","rounding":{"equity":"down","mm":"up"},'
    '"rule":"equity < maintenance_margin"},"type":"liquidation_triggered"}],"kind":"price","seq":7,'
    '"ts_ms":1700000006000,"v":1}',
]
CHAIN = ["bf2bb7f64ed5f6aa6c9cbac25ce4853229f370f02e0b71f74da8f54b83ab0346",
         "5847754f9258f0335bc17e19270dd902bd7554553ac76127baaa970f27e5f560",
         "1dcbb87593a2012c046d7991c5a1e4ba54d8012cfb6d0f5b8273c8b9880ce728",
         "88ed8e7eaa37acae8cec124542e2f681f6fd949462e3fc8e1caab01bcaa74cd4",
         "d6e6d27adefce227a055a89a0095b37b8d3d2a93ecb705d9abc28b527aef806a",
         "2c23a63da8182806db5ef519af15c6a68c3f198ac467004bc29457b726c4d645",
         "455c2835935856c3bb6588b5359d8e4ce24505c776544e20fbfe2cb72fda1655",
         "c9081b77bf3340de013aa4257143fe749658ba471ce98319707e525b8364a47f"]
SEED = "424ed5e15ba1dc9cbf11c3592a36fd5af33648b9bf856c624e06374595170cec"
NOTE = ("solvent.example/vector-liq-1\n8\navgrUOaZtOs1vzCLx1PwQpMtYDhHxmkbg0SoMQrlwZM=\n"
        "chain-head c9081b77bf3340de013aa4257143fe749658ba471ce98319707e525b8364a47f\n\n"
        "\u2014 solvent.example/vector-liq-1 "
        "1qq87NEQi9c3F7QluZwpCVAzYPuCKA5Cu19ozvUgVEQxpOxCk7gR1YEUudSk9Az3Pe0tqAzEG8cX0i0dtxUdLWuemAI=\n")


def _hex(path: list[bytes]) -> list[str]:
    return [h.hex() for h in path]


def test_tree_heads_match_the_rfc_vectors_for_every_size_up_to_8() -> None:
    hashes = [leaf_hash(d) for d in LEAVES]
    for n, root in enumerate(ROOTS):
        assert tree_hash(hashes[:n]).hex() == root
        grown = CompactRange()
        grown.extend(LEAVES[:n])
        assert grown.root().hex() == root and grown.size == n


@pytest.mark.parametrize(("index", "size"), sorted(INCLUSION))
def test_inclusion_paths_match_the_rfc_vectors(index: int, size: int) -> None:
    hashes = [leaf_hash(d) for d in LEAVES[:size]]
    assert _hex(inclusion_proof(hashes, index)) == INCLUSION[index, size]


@pytest.mark.parametrize(("old", "size"), sorted(CONSISTENCY))
def test_consistency_proofs_match_the_rfc_vectors(old: int, size: int) -> None:
    hashes = [leaf_hash(d) for d in LEAVES[:size]]
    assert _hex(consistency_proof(hashes, old)) == CONSISTENCY[old, size]


def test_proofs_outside_the_tree_are_refused() -> None:
    hashes = [leaf_hash(d) for d in LEAVES]
    with pytest.raises(IndexError):
        inclusion_proof(hashes, 8)
    with pytest.raises(ValueError):
        consistency_proof(hashes, 0)
    with pytest.raises(ValueError):
        consistency_proof(hashes[:4], 5)


def test_the_compact_range_equals_the_tree_head_for_every_size_up_to_64() -> None:
    data = [bytes([i]) * (i % 5) for i in range(64)]
    grown = CompactRange()
    for n in range(65):
        assert grown.root() == tree_hash([leaf_hash(d) for d in data[:n]])
        if n < 64:
            grown.append(data[n])
        assert len(grown.peaks) == bin(grown.size).count("1")


def test_the_journal_vector_chain_tree_proofs_and_signed_checkpoint() -> None:
    payloads = [r.encode() for r in RECORDS]
    head = bytes(32)
    for payload, expected in zip(payloads, CHAIN, strict=True):
        head = hashlib.sha256(head + payload).digest()
        assert head.hex() == expected
    hashes = [leaf_hash(p) for p in payloads]
    assert tree_hash(hashes[:4]).hex() == "638753e2d5efcf3b6885a2201714a5ab738c72472ac3cfdbc5990b03ce3c522f"
    root = tree_hash(hashes)
    assert root.hex() == "6af82b50e699b4eb35bf308bc753f042932d603847c6691b8344a8310ae5c193"
    assert _hex(inclusion_proof(hashes, 7)) == [
        "60d3e732c4283033b314dcdc5bdfd11968416c410e07fd10b383793c6f932aef",
        "26f314c24b9cd950c59623dff2e378657198ab2c71667a47022b5dbf55b0dbc0",
        "638753e2d5efcf3b6885a2201714a5ab738c72472ac3cfdbc5990b03ce3c522f"]
    assert _hex(consistency_proof(hashes, 4)) == ["1b317e44faf8b2dcf107b179131a6f634a751474fd2629600265764bf49ae8ef"]
    key = SignerKey("solvent.example/vector-liq-1", bytes.fromhex(SEED))
    assert key.public_key().hex() == "4370d864d74a38aae6808d3590e3871d4b5f0074a6e21f3f8784e1f714d2fc73"
    assert key.verifier_key().split("+")[1] == "d6aabcec"
    assert sign_checkpoint(Checkpoint(key.name, 8, root, CHAIN[7]), key) == NOTE
    assert parse_checkpoint(NOTE) == Checkpoint(key.name, 8, root, CHAIN[7])
    assert read_signer_key(key.encoded()) == key


def test_a_key_whose_base64_holds_a_plus_sign_reads_back() -> None:
    keys = (SignerKey("log", bytes([i]) * 32) for i in range(256))
    key = next(k for k in keys if "+" in k.encoded().split("+", 4)[4])
    assert read_signer_key(key.encoded()) == key


def test_a_signer_key_with_a_wrong_id_or_shape_is_refused() -> None:
    key = SignerKey("log", bytes(32))
    name, kid, body = key.encoded().split("+")[2:]
    bad_id = "00000000" if kid != "00000000" else "11111111"
    for text in (f"PRIVATE+KEY+{name}+{bad_id}+{body}", f"PRIVATE+KEY+{name}+{kid}", "log+00+AA==",
                 f"PRIVATE+KEY+{name}+{kid}+not-base64!"):
        with pytest.raises(ValueError):
            read_signer_key(text)


def _journal(commands: int = 60) -> MemoryBackend:
    backend = MemoryBackend()
    durable = DurableEngine(backend, config(), snapshot_every=25)
    for cmd in stream(commands):
        durable.apply(cmd)
    return backend


def _trusted(tmp_path: Path, key: SignerKey) -> str:
    vkey = tmp_path / "log.vkey"
    vkey.write_text(key.verifier_key() + "\n")
    return str(vkey)


def test_proofs_of_a_stored_journal_verify_with_the_independent_verifier(tmp_path: Path) -> None:
    backend = _journal()
    key = SignerKey("test.example/log", hashlib.sha256(b"test key").digest())
    vkey = _trusted(tmp_path, key)
    size = sum(1 for _ in backend.records(0))
    old_note = sign_checkpoint(journal_checkpoint(backend, key.name, 13), key)
    new_note = sign_checkpoint(journal_checkpoint(backend, key.name), key)
    (tmp_path / "old.note").write_text(old_note)
    (tmp_path / "new.note").write_text(new_note)
    assert verify_main(["checkpoint", str(tmp_path / "new.note"), "--key", vkey]) == 0
    for index in (0, 1, 12, size // 2, size - 1):
        proof = record_inclusion(backend, index, new_note)
        assert json.loads(proof["record"])["seq"] == index
        (tmp_path / "incl.json").write_text(json.dumps(proof))
        assert verify_main(["inclusion", str(tmp_path / "incl.json"), "--key", vkey]) == 0
    (tmp_path / "cons.json").write_text(json.dumps(log_consistency(backend, old_note, new_note)))
    assert verify_main(["consistency", str(tmp_path / "cons.json"), "--old", str(tmp_path / "old.note"),
                        "--new", str(tmp_path / "new.note"), "--key", vkey]) == 0
    # a proof whose record was altered by one character no longer verifies
    proof = record_inclusion(backend, 5, new_note)
    proof["record"] = proof["record"].replace('"v":1', '"v":2', 1)
    (tmp_path / "incl.json").write_text(json.dumps(proof))
    assert verify_main(["inclusion", str(tmp_path / "incl.json"), "--key", vkey]) == 1


def test_a_checkpoint_of_another_history_is_refused_not_proved_against() -> None:
    backend = _journal(30)
    key = SignerKey("test.example/log", bytes(32))
    note = sign_checkpoint(journal_checkpoint(backend, key.name), key)
    size = parse_checkpoint(note).size
    other = _journal(31)  # a longer history: its checkpoint covers records this journal lacks
    longer = sign_checkpoint(journal_checkpoint(other, key.name), key)
    with pytest.raises(JournalError, match="fewer than"):
        record_inclusion(backend, 3, longer)
    rewritten = MemoryBackend()  # the same commands but one: a rewritten history of the same size
    durable = DurableEngine(rewritten, config(), snapshot_every=25)
    for i, cmd in enumerate(stream(30)):
        durable.apply(Deposit("someone", "USDT", Decimal(1)) if i == 20 else cmd)
    with pytest.raises(JournalError, match="not this journal's tree"):
        record_inclusion(rewritten, 3, note)
    with pytest.raises(JournalError, match="not this journal's tree"):
        log_consistency(rewritten, sign_checkpoint(journal_checkpoint(rewritten, key.name, 5), key), note)
    with pytest.raises(InvalidInput, match="not under a checkpoint"):
        record_inclusion(backend, size, note)
    for broken in (note.replace("\n\n", "\n\n\n"), note.rstrip("\n"), "\ufeff" + note,
                   note.replace(f"\n{size}\n", "\n" + "9" * 5000 + "\n")):
        with pytest.raises(InvalidInput, match="not a checkpoint"):
            record_inclusion(backend, 1, broken)


def test_a_damaged_journal_is_named_at_the_damaged_record(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    durable = DurableEngine(SqliteBackend(path), config())
    for i in range(6):
        durable.apply(Deposit(f"a{i}", "USDT", Decimal(100)))
    durable.close()
    with sqlite3.connect(path) as db:  # one byte of record 3 changed, its stored hash left as it was
        db.execute("UPDATE records SET payload = CAST(replace(CAST(payload AS TEXT), '\"100\"', '\"900\"') AS BLOB) "
                   "WHERE seq = 3")
    backend = SqliteBackend(path, read_only=True)
    try:
        with pytest.raises(JournalError, match="journal corrupt at seq 3"):
            journal_checkpoint(backend, "log")
        assert journal_checkpoint(backend, "log", 3).size == 3  # the intact prefix still has a head
    finally:
        backend.close()


def test_the_tlog_commands_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "j.sqlite"
    durable = DurableEngine(SqliteBackend(path), config())
    for cmd in stream(40):
        durable.apply(cmd)
    durable.close()
    prefix = tmp_path / "venue"
    assert main(["tlog", "keygen", "venue.example/log", "--out", str(prefix)]) == 0
    assert (tmp_path / "venue.skey").stat().st_mode & 0o077 == 0
    skey, vkey = str(tmp_path / "venue.skey"), str(tmp_path / "venue.vkey")
    assert main(["tlog", "checkpoint", str(path), "--key", skey, "--size", "10", "--out", str(tmp_path / "a")]) == 0
    assert main(["tlog", "checkpoint", str(path), "--key", skey, "--out", str(tmp_path / "b")]) == 0
    assert main(["tlog", "prove", str(path), "--index", "7", "--checkpoint", str(tmp_path / "b"),
                 "--out", str(tmp_path / "p.json")]) == 0
    assert main(["tlog", "consistency", str(path), "--old", str(tmp_path / "a"), "--new", str(tmp_path / "b"),
                 "--out", str(tmp_path / "c.json")]) == 0
    assert verify_main(["checkpoint", str(tmp_path / "b"), "--key", vkey]) == 0
    assert verify_main(["inclusion", str(tmp_path / "p.json"), "--key", vkey]) == 0
    assert verify_main(["consistency", str(tmp_path / "c.json"), "--old", str(tmp_path / "a"), "--new",
                        str(tmp_path / "b"), "--key", vkey]) == 0
    # a second key does not vouch for the first key's checkpoints
    assert main(["tlog", "keygen", "venue.example/log", "--out", str(tmp_path / "other")]) == 0
    assert verify_main(["checkpoint", str(tmp_path / "b"), "--key", str(tmp_path / "other.vkey")]) == 1
    capsys.readouterr()
    # bad input: one line, exit 2
    assert main(["tlog", "checkpoint", str(path), "--key", vkey]) == 2
    assert "not a signer key" in capsys.readouterr().err
    assert main(["tlog", "prove", str(path), "--index", "999", "--checkpoint", str(tmp_path / "b")]) == 2
    assert "not under a checkpoint" in capsys.readouterr().err
    assert main(["tlog", "prove", str(path), "--index", "-1", "--checkpoint", str(tmp_path / "b")]) == 2
    assert main(["tlog", "checkpoint", str(path), "--key", skey, "--size", "0"]) == 2
    assert main(["tlog", "checkpoint", str(path), "--key", skey, "--size", "100000"]) == 2
    capsys.readouterr()
    assert main(["tlog", "keygen", "venue.example/log", "--out", str(prefix)]) == 2  # never replaces a key
    assert "already exists; choose another --out" in capsys.readouterr().err
    assert verify_main(["checkpoint", str(tmp_path / "b"), "--key", "not+a+key"]) == 2
    assert main(["tlog", "keygen", "bad name", "--out", str(tmp_path / "x")]) == 2
