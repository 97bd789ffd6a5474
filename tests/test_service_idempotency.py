"""Idempotent writes (issue "Service at venue throughput", item 3): a request retried with the
same ``Idempotency-Key`` gets the first answer and changes nothing, across a restart too; the
same key on another request is refused; the key is journaled (a version 2 record).

Also item 4: an amount that is not a whole number of the money quantum (1E-8) is refused, not
accepted as a withdrawal no balance shows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from service_support import uvicorn_serving
from test_journal_common import BACKENDS, BackendFactory, backend_factory

from solvent.engine import ChangeParams, Deposit, Engine, EngineConfig, Withdraw
from solvent.journal import DurableEngine, JournalError, MemoryBackend, open_journal
from solvent.journal import verify as verify_journal
from solvent.journal.codec import REQUEST_VERSION, VERSION, CodecError, RequestKey, decode_record, encode_config
from solvent.risk.venues import load_venue
from solvent.service import KeyStore, RateLimiter, Role, build_service, create_app, default_config
from solvent.service.venue import Venue

KEYS = KeyStore()
OP = KEYS.issue(Role.OPERATOR)
TREASURY = KEYS.issue(Role.TREASURY)
H = {"X-API-Key": OP}


@pytest.fixture(params=BACKENDS)
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendFactory]:
    yield from backend_factory(request.param, tmp_path)


def _service(j: BackendFactory) -> Any:
    return build_service(KEYS, journal=j.target, schema=j.schema, limiter=RateLimiter(1e6, 1e6))


def _keyed(key: str, who: str = OP) -> dict[str, str]:
    return {"X-API-Key": who, "Idempotency-Key": key}


def _balance(client: TestClient, account: str = "zoe") -> str:  # type: ignore[type-arg]
    return str(client.get(f"/v1/accounts/{account}", headers=H).json()["balances"]["USDT"])


def test_a_retried_withdrawal_is_applied_once_and_answered_the_same_across_a_restart(journal: BackendFactory) -> None:
    with TestClient(create_app(_service(journal))) as client:
        assert client.post("/v1/accounts/zoe/deposits", json={"amount": "100"}, headers=H).status_code == 200
        first = client.post("/v1/accounts/zoe/withdrawals", json={"amount": "30"}, headers=_keyed("w-1", TREASURY))
        assert first.status_code == 200, first.text
        again = client.post("/v1/accounts/zoe/withdrawals", json={"amount": "30"}, headers=_keyed("w-1", TREASURY))
        assert again.status_code == 200 and again.json() == first.json()
        assert _balance(client) == "70"  # 100 − 30, once
        length = client.get("/v1/state", headers=H).json()["journal_length"]
    with TestClient(create_app(_service(journal))) as client:  # restarted on the same journal
        after = client.post("/v1/accounts/zoe/withdrawals", json={"amount": "30"}, headers=_keyed("w-1", TREASURY))
        assert after.status_code == 200 and after.json() == first.json()
        assert _balance(client) == "70"
        assert client.get("/v1/state", headers=H).json()["journal_length"] == length  # nothing journaled
        # a new key is a new withdrawal
        other = client.post("/v1/accounts/zoe/withdrawals", json={"amount": "30"}, headers=_keyed("w-2", TREASURY))
        assert other.status_code == 200 and other.json()["command_seq"] == length + 1
        assert _balance(client) == "40"


def test_a_retried_parameter_change_is_applied_once_across_a_restart_and_its_key_is_journaled(
        journal: BackendFactory) -> None:
    """``POST /v1/params`` took no ``Idempotency-Key``: a retry put the same parameters in force a
    second time, a second params record. Now the retry gets the first answer and nothing is
    journaled; the key is in the params record (version 2), so it holds across a restart; the
    same key with other parameters is refused; and the journal still verifies."""
    with TestClient(create_app(_service(journal))) as client:
        config = client.get("/v1/params", headers=H).json()["config"]
        config["thresholds"].update(warning="0.3", margin_call="0.4")
        first = client.post("/v1/params", json={"config": config}, headers=_keyed("p-1"))
        assert first.status_code == 200, first.text
        length = client.get("/v1/state", headers=H).json()["journal_length"]
        again = client.post("/v1/params", json={"config": config}, headers=_keyed("p-1"))
        assert again.status_code == 200 and again.json() == first.json()
        assert client.get("/v1/state", headers=H).json()["journal_length"] == length
    with TestClient(create_app(_service(journal))) as client:  # restarted on the same journal
        after = client.post("/v1/params", json={"config": config}, headers=_keyed("p-1"))
        assert after.status_code == 200 and after.json() == first.json()
        assert client.get("/v1/state", headers=H).json()["journal_length"] == length
        other = dict(config, thresholds=dict(config["thresholds"], warning="0.2"))
        reused = client.post("/v1/params", json={"config": other}, headers=_keyed("p-1"))
        assert (reused.status_code, reused.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
        assert client.get("/v1/params", headers=H).json()["config"]["thresholds"]["warning"] == "0.3"
    backend = open_journal(journal.target, schema=journal.schema)
    try:
        stored = next(iter(backend.records(first.json()["command_seq"])))
        record = decode_record(stored.payload)
        assert (record.kind, json.loads(stored.payload)["v"]) == ("params", REQUEST_VERSION)
        assert record.request is not None and record.request.key == "p-1"
        assert verify_journal(backend).ok
    finally:
        backend.close()


def test_a_retried_leverage_change_order_fill_and_price_are_each_applied_once() -> None:
    svc = build_service(KEYS, demo=True, limiter=RateLimiter(1e6, 1e6))
    with TestClient(create_app(svc)) as client:
        requests = [
            ("/v1/accounts/alice-cross-5x/leverage", {"symbol": "BTCUSDT", "leverage": "10"}),
            ("/v1/accounts/alice-cross-5x/orders", {"order_id": "k-1", "symbol": "BTCUSDT", "side": "long",
                                                   "qty": "0.01", "price": "100000"}),
            ("/v1/fills", {"trade_id": "k-t", "symbol": "BTCUSDT", "price": "116000", "qty": "0.01",
                           "buyer_id": "alice-cross-5x", "seller_id": "desk"}),
            ("/v1/prices", {"symbol": "BTCUSDT", "price": "116100"}),
        ]
        for n, (path, body) in enumerate(requests):
            first = client.post(path, json=body, headers=_keyed(f"k{n}"))
            assert first.status_code == 200, (path, first.text)
            length = client.get("/v1/state", headers=H).json()["journal_length"]
            again = client.post(path, json=body, headers=_keyed(f"k{n}"))
            assert again.status_code == 200 and again.json() == first.json(), path
            assert client.get("/v1/state", headers=H).json()["journal_length"] == length, path
        cancel = client.delete("/v1/accounts/alice-cross-5x/orders/k-1", headers=_keyed("c"))
        assert cancel.status_code == 200
        assert client.delete("/v1/accounts/alice-cross-5x/orders/k-1", headers=_keyed("c")).json() == cancel.json()
        # without a key a repeated cancel is a new request: the order is gone
        assert client.delete("/v1/accounts/alice-cross-5x/orders/k-1", headers=H).status_code == 422


def test_the_same_key_on_another_request_is_refused_and_changes_nothing() -> None:
    svc = build_service(KEYS, limiter=RateLimiter(1e6, 1e6))
    with TestClient(create_app(svc)) as client:
        assert client.post("/v1/accounts/zoe/deposits", json={"amount": "100"}, headers=_keyed("d")).status_code == 200
        seq = client.get("/v1/state", headers=H).json()["journal_length"]
        for path, body in [("/v1/accounts/zoe/deposits", {"amount": "101"}),  # another amount
                           ("/v1/accounts/bob/deposits", {"amount": "100"}),  # another account
                           ("/v1/accounts/zoe/withdrawals", {"amount": "100"})]:  # another command
            r = client.post(path, json=body, headers=_keyed("d"))
            assert r.status_code == 422, r.text
            assert r.json()["code"] == "IDEMPOTENCY_KEY_REUSED" and r.json()["command_seq"] == seq
        assert _balance(client) == "100"
        assert client.get("/v1/state", headers=H).json()["journal_length"] == seq


def test_keys_belong_to_the_caller_and_malformed_keys_are_refused() -> None:
    svc = build_service(KEYS, limiter=RateLimiter(1e6, 1e6))
    with TestClient(create_app(svc)) as client:
        r = client.post("/v1/accounts/zoe/deposits", json={"amount": "50"}, headers=_keyed("same"))
        assert r.status_code == 200
        # the treasury key uses the same key string: another caller, another request
        r = client.post("/v1/accounts/zoe/withdrawals", json={"amount": "20"}, headers=_keyed("same", TREASURY))
        assert r.status_code == 200, r.text
        assert _balance(client) == "30"
        for bad in ["", "x" * 256, "has space", "tab\tin"]:
            r = client.post("/v1/accounts/zoe/withdrawals", json={"amount": "1"},
                            headers={"X-API-Key": TREASURY, "Idempotency-Key": bad})
            assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST", bad
        assert _balance(client) == "30"


def test_a_refused_request_is_not_remembered_a_retry_is_judged_again() -> None:
    svc = build_service(KEYS, limiter=RateLimiter(1e6, 1e6))
    with TestClient(create_app(svc)) as client:
        assert client.post("/v1/accounts/zoe/deposits", json={"amount": "10"}, headers=H).status_code == 200
        r = client.post("/v1/accounts/zoe/withdrawals", json={"amount": "25"}, headers=_keyed("w", TREASURY))
        assert r.status_code == 422 and r.json()["code"] == "INSUFFICIENT_BALANCE"
        assert client.post("/v1/accounts/zoe/deposits", json={"amount": "20"}, headers=H).status_code == 200
        r = client.post("/v1/accounts/zoe/withdrawals", json={"amount": "25"}, headers=_keyed("w", TREASURY))
        assert r.status_code == 200, r.text  # the balance is 30 now: the same request passes
        assert _balance(client) == "5"


def test_concurrent_retries_of_one_key_apply_it_once() -> None:
    """Ten copies of one keyed deposit submitted together (a client retrying while the first
    is still queued): one journal record, ten identical answers."""
    svc = build_service(KEYS, limiter=RateLimiter(1e6, 1e6))
    venue = svc.venue
    key = RequestKey("op", "burst")

    async def burst() -> list[Any]:
        return list(await asyncio.gather(*(venue.submit(Deposit("zoe", "USDT", Decimal(7)), key) for _ in range(10))))

    before = venue.journal.seq  # (the liquidation book's opening deposit)
    answers = asyncio.run(burst())
    assert {a.command_seq for a in answers} == {before + 1}
    assert len({id(a) for a in answers}) == 1  # the one answer, shared
    assert venue.engine.state.accounts["zoe"].balances["USDT"] == 7
    assert venue.journal.seq == before + 1


def test_the_key_is_journaled_in_a_version_2_record_and_the_journal_verifies(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    svc = build_service(KEYS, journal=path, limiter=RateLimiter(1e6, 1e6))
    with TestClient(create_app(svc)) as client:
        client.post("/v1/accounts/zoe/deposits", json={"amount": "5"}, headers=H)
        client.post("/v1/accounts/zoe/deposits", json={"amount": "6"}, headers=_keyed("dep-6"))
    journal = open_journal(str(path))
    try:
        records = [decode_record(r.payload) for r in journal.records(0)]
        plain, keyed = [r for r in records if r.kind == "command" and r.input == Deposit("zoe", "USDT", r.input.amount)]
        assert json.loads(plain.payload)["v"] == VERSION and plain.request is None
        raw = json.loads(keyed.payload)
        assert raw["v"] == REQUEST_VERSION and list(raw) == ["v", "seq", "kind", "input", "events", "request"]
        principal = KEYS.authenticate(OP)
        assert principal is not None and keyed.request == RequestKey(principal.key_id, "dep-6")
        assert verify_journal(journal).ok
    finally:
        journal.close()


def test_a_version_2_record_must_carry_a_well_formed_request() -> None:
    base = {"v": 2, "seq": 1, "kind": "command",
            "input": {"type": "Deposit", "account_id": "a", "asset": "USDT", "amount": "1"}, "events": []}
    for request in [None, {}, {"key": "k"}, {"scope": "s", "key": "k"}, {"key": "", "scope": "s"},
                    {"key": 1, "scope": "s"}]:
        body = {**base, "request": request}
        with pytest.raises(CodecError):
            decode_record(json.dumps(body, separators=(",", ":")).encode())
    with pytest.raises(CodecError):  # version 2 without its request
        decode_record(json.dumps(base, separators=(",", ":")).encode())
    ok = {**base, "request": {"key": "k", "scope": "s"}}
    assert decode_record(json.dumps(ok, separators=(",", ":")).encode()).request == RequestKey("s", "k")


def test_a_version_2_params_record_carries_its_request_and_no_other_kind_may() -> None:
    """A params record submitted with a key is version 2 with ``request`` last, as a command
    record is; a version 2 checkpoint or genesis is refused, and so is a version 2 params
    record without its request or with its fields out of order."""
    config = encode_config(default_config("binance-usdm"))
    base = {"v": 2, "seq": 3, "kind": "params", "config": config, "events": []}

    def encoded(body: dict[str, Any]) -> bytes:
        return json.dumps(body, separators=(",", ":")).encode()

    record = decode_record(encoded({**base, "request": {"key": "k", "scope": "s"}}))
    assert record.kind == "params" and record.request == RequestKey("s", "k")
    assert isinstance(record.input, ChangeParams) and record.input.replayed
    for bad in [base, {"v": 2, "seq": 3, "kind": "params", "request": {"key": "k", "scope": "s"}, "config": config,
                       "events": []},
                {"v": 2, "seq": 4, "kind": "checkpoint", "state_hash": "0" * 64, "request": {"key": "k", "scope": "s"}},
                {"v": 2, "seq": 0, "kind": "genesis", "format": "solvent-journal", "config": config}]:
        with pytest.raises(CodecError):
            decode_record(encoded(bad))
    assert decode_record(encoded({"v": 1, "seq": 3, "kind": "params", "config": config, "events": []})).request \
        is None  # a version 1 params record, as every journal before wrote it, reads as before


def test_only_the_most_recent_keys_are_remembered_and_a_restart_remembers_the_same() -> None:
    backend = MemoryBackend()
    config = default_config("binance-usdm")
    venue = Venue.open(DurableEngine(backend, config), idempotency_keys=2)
    for n in range(3):
        asyncio.run(venue.submit(Deposit("zoe", "USDT", Decimal(1)), RequestKey("op", f"k{n}")))
    assert list(venue._answered["op"]) == ["k1", "k2"]
    again = Venue.open(DurableEngine(backend, config), idempotency_keys=2)
    assert list(again._answered["op"]) == ["k1", "k2"]
    forgotten = asyncio.run(again.submit(Deposit("zoe", "USDT", Decimal(1)), RequestKey("op", "k0")))
    assert forgotten.command_seq == 4  # past the window a key is new again
    assert asyncio.run(again.submit(Deposit("zoe", "USDT", Decimal(1)), RequestKey("op", "k2"))).command_seq == 3


@pytest.mark.parametrize("amount", ["0.000000000000000004", "1.000000001", "0.000000005"])
def test_an_amount_off_the_money_quantum_is_refused(amount: str) -> None:
    """Issue item 4: a withdrawal of 4E-18 answered 200 and moved an amount no balance shows."""
    svc = build_service(KEYS, limiter=RateLimiter(1e6, 1e6))
    with TestClient(create_app(svc)) as client:
        assert client.post("/v1/accounts/zoe/deposits", json={"amount": "10"}, headers=H).status_code == 200
        before = client.get("/v1/state", headers=H).json()
        for path in ("/v1/accounts/zoe/withdrawals", "/v1/accounts/zoe/deposits"):
            r = client.post(path, json={"amount": amount}, headers=H)
            assert r.status_code == 422, r.text
            assert r.json()["code"] == "INVALID_AMOUNT" and r.json()["quantum"] == "0.00000001"
        assert client.get("/v1/state", headers=H).json() == before
        assert _balance(client) == "10"
    engine = svc.venue.engine
    assert not engine.check(Withdraw("zoe", "USDT", Decimal(amount))).accepted
    assert engine.check(Withdraw("zoe", "USDT", Decimal("0.00000001"))).accepted  # one quantum is fine


def test_one_callers_keys_never_push_out_anothers() -> None:
    """Review finding: with one window for the venue, an account key sending keyed requests
    could evict the treasury's key, and the treasury's retried withdrawal was applied twice."""
    venue = Venue.open(DurableEngine(MemoryBackend(), default_config("binance-usdm")), idempotency_keys=3)
    first = asyncio.run(venue.submit(Deposit("zoe", "USDT", Decimal(100)), RequestKey("treasury", "W")))
    for n in range(10):
        asyncio.run(venue.submit(Deposit("bob", "USDT", Decimal(1)), RequestKey("bob-key", f"b{n}")))
    again = asyncio.run(venue.submit(Deposit("zoe", "USDT", Decimal(100)), RequestKey("treasury", "W")))
    assert again.command_seq == first.command_seq
    assert venue.engine.state.accounts["zoe"].balances["USDT"] == 100
    assert list(venue._answered["bob-key"]) == ["b7", "b8", "b9"]


def test_a_different_request_behind_a_refused_one_with_the_same_key_is_judged_on_its_own() -> None:
    """Review finding: it got IDEMPOTENCY_KEY_REUSED (command_seq null) or was judged, by timing."""
    venue = Venue.open(DurableEngine(MemoryBackend(), default_config("binance-usdm")))
    venue.submit_now(Deposit("zoe", "USDT", Decimal(10)))
    key = RequestKey("treasury", "w")

    async def race() -> list[Any]:
        return list(await asyncio.gather(venue.submit(Withdraw("zoe", "USDT", Decimal(99_999_999)), key),
                                         venue.submit(Withdraw("zoe", "USDT", Decimal(1)), key)))

    refused, taken = asyncio.run(race())
    assert refused.command_seq is None and refused.result.denial.code.value == "INSUFFICIENT_BALANCE"
    assert taken.command_seq is not None
    assert venue.engine.state.accounts["zoe"].balances["USDT"] == 9


def test_a_caller_that_gives_up_does_not_free_its_key_while_the_command_is_queued() -> None:
    """Review finding: a cancelled first caller removed the key from the pending map while its
    command was still queued, so a retry queued the command again: withdrawn twice."""
    venue = Venue.open(DurableEngine(MemoryBackend(), default_config("binance-usdm")))
    venue.submit_now(Deposit("zoe", "USDT", Decimal(100)))
    key = RequestKey("treasury", "K")

    async def scenario() -> Any:
        first = asyncio.create_task(venue.submit(Withdraw("zoe", "USDT", Decimal(30)), key))
        await asyncio.sleep(0)  # queued, not yet written
        first.cancel()
        return await venue.submit(Withdraw("zoe", "USDT", Decimal(30)), key)

    retry = asyncio.run(scenario())
    assert retry.command_seq == 2
    assert venue.engine.state.accounts["zoe"].balances["USDT"] == 70  # once


def test_a_fill_fee_off_the_quantum_is_refused_and_a_whole_balance_can_always_be_withdrawn() -> None:
    svc = build_service(KEYS, limiter=RateLimiter(1e6, 1e6))
    with TestClient(create_app(svc)) as client:
        for account in ("zoe", "bob"):
            client.post(f"/v1/accounts/{account}/deposits", json={"amount": "10000"}, headers=H)
        client.post("/v1/prices", json={"symbol": "BTCUSDT", "price": "60000"}, headers=H)
        fill = {"trade_id": "q1", "symbol": "BTCUSDT", "price": "60000", "qty": "0.01", "buyer_id": "zoe",
                "seller_id": "bob", "buyer_fee": "0.000000001"}
        r = client.post("/v1/fills", json=fill, headers=H)
        assert r.status_code == 422 and r.json()["code"] == "INVALID_AMOUNT" and r.json()["quantum"] == "0.00000001"
        r = client.post("/v1/fills", json={**fill, "buyer_fee": "0.12"}, headers=H)
        assert r.status_code == 200, r.text
    # a balance left off the quantum by a journal written before the rule can still be emptied
    legacy = Engine(EngineConfig(load_venue("binance-usdm"), amounts_on_quantum=False))
    assert legacy.apply(Deposit("dust", "USDT", Decimal("1.000000001"))).accepted
    engine = Engine(EngineConfig(load_venue("binance-usdm")), state=legacy.state)
    assert not engine.check(Withdraw("dust", "USDT", Decimal("0.000000001"))).accepted
    assert engine.apply(Withdraw("dust", "USDT", Decimal("1.000000001"))).accepted
    assert engine.state.accounts["dust"].balances["USDT"] == 0


def test_an_amount_with_more_digits_than_the_engine_keeps_is_a_bad_request_not_a_server_error() -> None:
    svc = build_service(KEYS, limiter=RateLimiter(1e6, 1e6))
    with TestClient(create_app(svc)) as client:
        r = client.post("/v1/accounts/bob/deposits", json={"amount": "999999999999999999999999.999999999999999999"},
                        headers=H)
        assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST", r.text
        assert "42 significant digits" in r.json()["detail"]


def test_a_start_refuses_a_journal_whose_request_member_is_malformed() -> None:
    """Start-up reads the records behind the newest snapshot as plain JSON (``Venue._rebuild``):
    their ``request`` goes through ``decode_request`` there (a version 1 record may not carry
    one), and a journal holding a bad one does not start."""
    from solvent.journal import StoredRecord
    from solvent.journal.chain import chain_hash
    from solvent.journal.codec import canonical_json, decode_request

    good = {"v": 2, "seq": 1, "kind": "command", "input": {}, "events": [], "request": {"key": "k", "scope": "s"}}
    assert decode_request(good) == RequestKey("s", "k")
    for bad in [{"v": 2, "request": "junk"}, {"v": 1, "request": {"key": "k", "scope": "s"}},
                {"v": 2, "request": {"key": "k", "scope": 5}}]:
        with pytest.raises(CodecError):
            decode_request({**good, **bad})
        backend = MemoryBackend()
        journal = DurableEngine(backend, default_config("binance-usdm"))
        journal.submit(Deposit("zoe", "USDT", Decimal(1)))
        journal.flush()
        genesis, record = backend.stored
        payload = canonical_json({**json.loads(record.payload), **bad})
        backend.stored[1] = StoredRecord(1, chain_hash(genesis.hash, payload), payload)
        with pytest.raises(JournalError):
            Venue.open(DurableEngine(backend, default_config("binance-usdm")))



@pytest.mark.parametrize("lean", [True, False])
def test_a_request_with_two_keys_is_refused_and_changes_nothing(lean: bool) -> None:
    """Two ``Idempotency-Key`` headers: which one a retry must repeat is ambiguous, so the request
    is refused (400) before it reaches a route, on the lean path and on Litestar's alike. Sent
    to a real server as two header lines (a test client joins them into one value, ``a, b``,
    which the key rule refuses too: a comma is not a key's character, nor a space)."""
    svc = build_service(KEYS, limiter=RateLimiter(1e6, 1e6))
    with uvicorn_serving(create_app(svc, lean=lean)) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
        assert c.post("/v1/accounts/zoe/deposits", json={"amount": "50"}, headers=H).status_code == 200
        for keys in (["a", "b"], ["a", "a"]):
            headers = httpx.Headers([("X-API-Key", TREASURY), *(("Idempotency-Key", k) for k in keys)])
            r = c.post("/v1/accounts/zoe/withdrawals", json={"amount": "20"}, headers=headers)
            assert r.status_code == 400, r.text
            assert r.json()["code"] == "INVALID_REQUEST" and "more than once" in r.json()["detail"]
        for joined_keys in ("a, b", "a,b"):  # two keys joined into one value: a comma is no key's character
            joined = c.post("/v1/accounts/zoe/withdrawals", json={"amount": "20"},
                            headers={"X-API-Key": TREASURY, "Idempotency-Key": joined_keys})
            assert joined.status_code == 400 and "more than once" in joined.json()["detail"], joined_keys
        assert c.get("/v1/accounts/zoe", headers=H).json()["balances"]["USDT"] == "50"
        one = c.post("/v1/accounts/zoe/withdrawals", json={"amount": "20"}, headers=_keyed("a", TREASURY))
        assert one.status_code == 200
        assert c.get("/v1/accounts/zoe", headers=H).json()["balances"]["USDT"] == "30"
