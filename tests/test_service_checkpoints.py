"""``/v1/checkpoints`` and ``/v1/proofs`` (issue 16, item 2): the service signs its journal's
tree heads and serves proofs against them, which ``solvent_verify`` accepts. The tree is
checked against one computed from the stored journal records (``journal/tlog.py``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient
from service_support import ALICE, Harness, make_harness

from solvent.journal.checkpoint_note import SignerKey
from solvent.journal.explain import engine_before
from solvent.journal.tlog import leaf_hash, tree_hash
from solvent.service import KeyStore, RateLimiter, Role, build_service, create_app
from solvent_verify import VerifyError
from solvent_verify.note import Checkpoint, parse_vkey, verify_note
from solvent_verify.tlog import check_consistency, root_from_inclusion

KEY = SignerKey("test.example/venue", hashlib.sha256(b"service checkpoint key").digest())


@pytest.fixture
def hx() -> Iterator[Harness]:
    keys = KeyStore()
    operator, alice, bob = keys.issue(Role.OPERATOR), keys.issue(Role.ACCOUNT, ALICE), keys.issue(Role.ACCOUNT, "x")
    svc = build_service(keys, demo=True, limiter=RateLimiter(10_000, 10_000), checkpoint_key=KEY)
    with TestClient(create_app(svc)) as client:
        yield Harness(svc, client, operator, alice, bob)


def _state(checkpoint: Checkpoint) -> str:
    """The note's one ``state <hex>`` line."""
    (state,) = [line[6:] for line in checkpoint.extensions if line.startswith("state ")]
    return state


def _stored_root(hx: Harness, size: int) -> bytes:
    records = [r.payload for r in hx.svc.venue.journal.backend.records(0)][:size]
    return tree_hash([leaf_hash(p) for p in records])


def test_checkpoints_and_proofs_verify_independently(hx: Harness) -> None:
    trusted = parse_vkey(KEY.verifier_key())
    first = hx.client.get("/v1/checkpoints/latest", headers=hx.h(hx.alice)).json()
    checkpoint = verify_note(first["note"], trusted)
    assert checkpoint.size == first["size"] == hx.svc.venue.journal_seq + 1
    assert checkpoint.root == _stored_root(hx, checkpoint.size)
    # the state line: the state a replay of the journal's first ``size`` records reaches
    assert _state(checkpoint) == engine_before(hx.svc.venue.journal.backend, checkpoint.size, None).state_hash()
    r = hx.client.post("/v1/prices", json={"symbol": "ETHUSDT", "price": "4300"}, headers=hx.h(hx.operator))
    assert r.status_code == 200, r.text
    again = hx.client.get("/v1/checkpoints/latest", headers=hx.h(hx.alice)).json()
    assert again == first  # signed at most once a minute
    assert hx.svc.checkpoints is not None
    hx.svc.checkpoints.interval_s = 0
    second = hx.client.get("/v1/checkpoints/latest", headers=hx.h(hx.alice)).json()
    newer = verify_note(second["note"], trusted)
    assert newer.size == checkpoint.size + 1 and newer.root == _stored_root(hx, newer.size)
    assert _state(newer) == engine_before(hx.svc.venue.journal.backend, newer.size, None).state_hash()
    assert _state(newer) != _state(checkpoint)  # the price moved a mark
    assert hx.client.get(f"/v1/checkpoints/{checkpoint.size}", headers=hx.h(hx.bob)).json()["note"] == first["note"]
    proof = hx.client.get("/v1/proofs/consistency", params={"size1": checkpoint.size, "size2": newer.size},
                          headers=hx.h(hx.bob)).json()
    check_consistency(checkpoint.size, newer.size, checkpoint.root, newer.root,
                      [bytes.fromhex(h) for h in proof["path"]])
    with pytest.raises(VerifyError):
        check_consistency(checkpoint.size, newer.size, newer.root, checkpoint.root,
                          [bytes.fromhex(h) for h in proof["path"]])
    last = newer.size - 1  # the price update: the operator may prove any record
    included = hx.client.get("/v1/proofs/inclusion", params={"index": last, "size": newer.size},
                             headers=hx.h(hx.operator)).json()
    assert json.loads(included["record"])["input"]["type"] == "PriceUpdate"
    leaf = leaf_hash(included["record"].encode())
    assert root_from_inclusion(last, newer.size, leaf, [bytes.fromhex(h) for h in included["path"]]) == newer.root


def _record_naming(hx: Harness, account: str, naming: bool) -> int:
    for stored in hx.svc.venue.journal.backend.records(1):
        record = json.loads(stored.payload)
        names = {record.get("input", {}).get(f) for f in ("account_id", "buyer_id", "seller_id")}
        names |= {e.get("account_id") for e in record.get("events", [])}
        if (account in names) == naming:
            return stored.seq
    raise AssertionError("no such record")


def test_an_account_key_gets_proofs_of_its_own_records_only(hx: Harness) -> None:
    size = hx.client.get("/v1/checkpoints/latest", headers=hx.h(hx.alice)).json()["size"]
    mine, other = _record_naming(hx, ALICE, True), _record_naming(hx, ALICE, False)
    assert hx.client.get("/v1/proofs/inclusion", params={"index": mine, "size": size},
                         headers=hx.h(hx.alice)).status_code == 200
    refused = hx.client.get("/v1/proofs/inclusion", params={"index": other, "size": size}, headers=hx.h(hx.alice))
    assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN"


def test_unpublished_sizes_bad_indexes_and_no_key(hx: Harness) -> None:
    size = hx.client.get("/v1/checkpoints/latest", headers=hx.h(hx.alice)).json()["size"]
    op = hx.h(hx.operator)
    assert hx.client.get("/v1/checkpoints/3", headers=op).json()["code"] == "NO_SUCH_CHECKPOINT"
    assert hx.client.get("/v1/proofs/inclusion", params={"index": size, "size": size}, headers=op).status_code == 400
    assert hx.client.get("/v1/proofs/inclusion", params={"index": 0, "size": 3}, headers=op).status_code == 404
    assert hx.client.get("/v1/proofs/consistency", params={"size1": size, "size2": 2},
                         headers=op).status_code == 404
    assert hx.client.get("/v1/checkpoints/latest").status_code == 401
    for plain in make_harness():
        off = plain.client.get("/v1/checkpoints/latest", headers=plain.h(plain.operator))
        assert off.status_code == 404 and off.json()["code"] == "CHECKPOINTS_OFF"


def test_a_note_is_never_signed_without_the_state() -> None:
    """The route finds a checkpoint due and passes the state; a call without one (the interval
    ran out between the route's check and the signing thread's) returns the newest note as it
    is, never a note with no state line."""
    from solvent.service.checkpoints import LogPublisher

    leaves = [leaf_hash(b"genesis"), leaf_hash(b"one"), leaf_hash(b"two")]
    publisher = LogPublisher(KEY, interval_s=0)
    with pytest.raises(LookupError):
        publisher.latest(leaves, (1, "00" * 32), None)
    size, note = publisher.latest(leaves, (2, "11" * 32), "22" * 32)
    assert size == 2 and "\nstate " + "22" * 32 + "\n" in note
    assert publisher.latest(leaves, (3, "33" * 32), None) == (2, note)
    assert publisher.latest(leaves, (3, "33" * 32), "44" * 32)[0] == 3


@pytest.mark.parametrize("written", ["1_0", "+10", "%20" + "10", "%D9%A3", "010", "-0"])
def test_a_checkpoint_size_in_the_path_is_digits_only(hx: Harness, written: str) -> None:
    """Litestar reads ``{size:int}`` with ``int()``: ``1_0`` was checkpoint 10, an Arabic-Indic
    three (``%D9%A3``) checkpoint 3. The path takes the query's rule for whole numbers."""
    r = hx.client.get(f"/v1/checkpoints/{written}", headers=hx.h(hx.alice))
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "INVALID_REQUEST" and "path parameter size must be a whole number" in r.text
    assert hx.client.get("/v1/checkpoints/999999", headers=hx.h(hx.alice)).status_code == 404  # digits: looked up
