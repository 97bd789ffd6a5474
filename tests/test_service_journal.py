"""The service on its journal: acknowledged means durable, a restart recovers everything,
concurrent commands share group commits, a failed journal write stops the venue."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from test_journal_common import BACKENDS, BackendFactory, backend_factory

from solvent.engine import Deposit
from solvent.errors import InvalidInput
from solvent.journal import DurableEngine, JournalError, MemoryBackend, StoredRecord, StoredSnapshot, open_journal
from solvent.journal import verify as verify_journal
from solvent.journal.codec import decode_record
from solvent.service import KeyStore, RateLimiter, Role, build_service, create_app, default_config

KEYS = KeyStore()
OP = KEYS.issue(Role.OPERATOR)
H = {"X-API-Key": OP}


@pytest.fixture(params=BACKENDS)
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendFactory]:
    yield from backend_factory(request.param, tmp_path)


def _service(j: BackendFactory, demo: bool = False) -> Any:
    return build_service(KEYS, demo=demo, journal=j.target, schema=j.schema, limiter=RateLimiter(1e6, 1e6))


def _all_events(client: TestClient) -> list[dict[str, Any]]:  # type: ignore[type-arg]
    out: list[dict[str, Any]] = []
    while True:
        page = client.get(f"/v1/events?from_seq={len(out) + 1}&limit=1000", headers=H).json()["events"]
        if not page:
            return out
        out += page


def _snapshot(client: TestClient) -> dict[str, Any]:  # type: ignore[type-arg]
    return {
        "state": {k: v for k, v in client.get("/v1/state", headers=H).json().items() if k != "demo"},
        "events": _all_events(client),
        "accounts": client.get("/v1/accounts", headers=H).json(),
        "alice": client.get("/v1/accounts/alice/margin", headers=H).json(),
        "fund": client.get("/v1/insurance-fund", headers=H).json(),
        "liquidations": client.get("/v1/liquidations?from_seq=0&limit=1000", headers=H).json(),
    }


def test_a_restarted_service_recovers_state_events_and_accounts_from_its_journal(journal: BackendFactory) -> None:
    svc = _service(journal, demo=True)
    with TestClient(create_app(svc)) as client:
        posts: Sequence[tuple[str, dict[str, Any]]] = [
            ("/v1/accounts/alice/deposits", {"amount": "700"}),
            ("/v1/accounts/alice/orders", {"order_id": "a-1", "symbol": "BTCUSDT", "side": "long", "qty": "0.1",
                                           "price": "116000"}),
            ("/v1/fills", {"trade_id": "t-a", "symbol": "BTCUSDT", "price": "116000", "qty": "0.1",
                           "buyer_id": "alice", "seller_id": "desk", "buy_order_id": "a-1"}),
            ("/v1/prices", {"symbol": "BTCUSDT", "price": "113000"}),  # the demo book's margin calls
            ("/v1/prices", {"symbol": "BTCUSDT", "price": "109000"}),
        ]
        for path, body in posts:
            r = client.post(path, json=body, headers=H)
            assert r.status_code in (200, 201), (path, r.text)
        assert client.post("/v1/accounts/alice/withdrawals", json={"amount": "1e9"}, headers=H).status_code == 400
        before = _snapshot(client)
    assert len(before["events"]) == before["state"]["event_seq"] > 50
    assert before["liquidations"]["events"], "the price drop liquidated some of the book"
    assert len(before["fund"]["history"]) >= 3

    again = _service(journal)  # no demo: the journal already holds the opening
    with TestClient(create_app(again)) as client:
        after = _snapshot(client)
        assert after == before
        r = client.post("/v1/accounts/alice/deposits", json={"amount": "5"}, headers=H)
        assert r.json()["command_seq"] == before["state"]["journal_length"] + 1
        assert r.json()["events"][0]["seq"] == before["state"]["event_seq"] + 1


def test_an_acknowledged_command_is_already_in_the_journal_and_the_journal_verifies(tmp_path: Path) -> None:
    path = tmp_path / "data" / "journal.sqlite"  # the folder is created
    svc = build_service(KEYS, journal=path, limiter=RateLimiter(1e6, 1e6))
    with TestClient(create_app(svc)) as client:
        r = client.post("/v1/accounts/zoe/deposits", json={"amount": "123.40"}, headers=H)
        assert r.status_code == 200, r.text
        seq = r.json()["command_seq"]
        state = client.get("/v1/state", headers=H).json()
        # a second connection, while the service still runs, sees the record: it was committed
        other = open_journal(str(path))
        try:
            records = {rec.seq: rec for rec in other.records(0)}
            assert Deposit("zoe", "USDT", Decimal("123.40")) == decode_record(records[seq].payload).input
            report = verify_journal(other)
            assert report.ok, report
            assert report.head_seq == seq == state["journal_length"]
            assert report.head_hash == state["journal_head"] == svc.venue.head_hash
            assert report.state_hash == state["state_hash"]
        finally:
            other.close()


def test_demo_needs_a_new_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    build_service(KEYS, journal=path).venue.close_now()
    with pytest.raises(InvalidInput, match="new journal"):
        build_service(KEYS, journal=path, demo=True)


def test_concurrent_commands_share_group_commits_and_each_is_durable_before_its_answer() -> None:
    backend = MemoryBackend()
    svc = build_service(KEYS, journal=DurableEngine(backend, default_config()))
    venue = svc.venue
    late: list[int] = []

    async def run() -> list[Any]:
        def check(task: asyncio.Task[Any]) -> None:
            seq = task.result().command_seq
            if not backend.stored or backend.stored[-1].seq < seq:
                late.append(seq)

        tasks = []
        for i in range(200):
            task = asyncio.create_task(venue.submit(Deposit(f"acc-{i}", "USDT", Decimal(i + 1))))
            task.add_done_callback(check)
            tasks.append(task)
        return list(await asyncio.gather(*tasks))

    commits_before = backend.commits
    done = asyncio.run(run())
    assert not late, "answered before its record was durable"
    assert [d.command_seq for d in done] == list(range(done[0].command_seq, done[0].command_seq + 200))
    assert backend.commits - commits_before < 20  # 200 commands, a handful of group commits
    assert (venue.metrics.registry.get_sample_value("solvent_journal_commands_committed_total") or 0) >= 200


class FailingBackend(MemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.fail = False

    def append(self, records: Sequence[StoredRecord], snapshot: StoredSnapshot | None = None) -> None:
        if self.fail:
            raise JournalError("disk full")
        super().append(records, snapshot)


def test_after_a_failed_journal_write_the_venue_refuses_commands_and_health_is_503() -> None:
    backend = FailingBackend()
    svc = build_service(KEYS, journal=DurableEngine(backend, default_config()))
    with TestClient(create_app(svc), raise_server_exceptions=False) as client:
        assert client.post("/v1/prices", json={"symbol": "BTCUSDT", "price": "100000"}, headers=H).status_code == 200
        backend.fail = True
        r = client.post("/v1/prices", json={"symbol": "BTCUSDT", "price": "99000"}, headers=H)
        assert r.status_code == 503 and r.json()["code"] == "JOURNAL_FAILED"
        backend.fail = False
        r = client.post("/v1/prices", json={"symbol": "BTCUSDT", "price": "98000"}, headers=H)
        assert r.status_code == 503 and r.json()["code"] == "JOURNAL_FAILED"
        assert client.get("/healthz").status_code == 503
        # the engine's memory holds the 99,000 price that never became durable: no read shows it
        for path in ("/v1/state", "/v1/accounts/book", "/v1/accounts/book/margin", "/v1/insurance-fund",
                     "/v1/ladder/BTCUSDT", "/v1/accounts"):
            r = client.get(path, headers=H)
            assert r.status_code == 503 and r.json()["code"] == "JOURNAL_FAILED", (path, r.text)
        assert "99000" not in client.get("/v1/events", headers=H).text  # events are published only once durable
    assert [r.seq for r in backend.stored] == [0, 1, 2]  # genesis, book deposit, 100,000: 99,000 never durable
