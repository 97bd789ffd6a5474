"""History reads cost O(log n + page), never O(history) (issue 10, item 5).

Before: ``/v1/accounts/{id}/margin-calls`` and ``/v1/events`` scanned the event log from
``from_seq``, so an account key asking for its few events walked all 300k of them, and four
such requests a second took operator latency from 8.7 ms to 3.5 s. Now the log files each
event's seq under its accounts, type, (account, type), and public / (public, type); a read
bisects in the relevant indexes and merges them up to its page. Every history route answers
one page with ``next_from_seq``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from service_support import ALICE, Harness, make_harness

from solvent.engine import Deposit, Fill, FundInsurance, PriceUpdate
from solvent.service.eventlog import EventLog

# Written out here, not imported: the reference must not share the code it checks.
PUBLIC = {"MarkPriceChanged", "MarkPriceHeld", "IndexDropped", "LiquidationsPaused", "LiquidationsResumed",
          "FundingSettled", "Settled", "TimeAdvanced", "InsuranceFundChanged"}
NAMING = ("account_id", "counterparty", "buyer_id", "seller_id")
TYPES = ["MarginCall", "BalanceChanged", "PositionChanged", "LiquidationStep",
         "MarkPriceChanged", "TimeAdvanced", "InsuranceFundChanged"]
ACCOUNTS = ["a", "b", "c"]


def reference(published: list[tuple[int, dict[str, Any]]], first_kept: int, from_seq: int, account: str | None,
              types: frozenset[str] | None, limit: int | None) -> list[int]:
    """The old scan: every kept event from ``from_seq`` on, in order, that the caller may see."""
    out = []
    for seq, body in published:
        if seq < from_seq or seq < first_kept:
            continue
        named = {str(body[k]) for k in NAMING if k in body}
        visible = account is None or account in named or (not named and body["type"] in PUBLIC)
        if visible and (types is None or body["type"] in types):
            out.append(seq)
    return out if limit is None else out[:limit]


def test_a_small_log_answers_as_worked_out_by_hand() -> None:
    log = EventLog(retention=5)
    log.publish(1, 0, [{"type": "BalanceChanged", "account_id": "a"},                   # 1: a
                       {"type": "MarkPriceChanged"},                                      # 2: public
                       {"type": "PositionChanged", "buyer_id": "a", "seller_id": "b"},  # 3: a, b
                       {"type": "MarginCall", "account_id": "b"},                       # 4: b
                       {"type": "TimeAdvanced"},                                          # 5: public
                       {"type": "MarginCall", "account_id": "a"}])                      # 6: a (1 is forgotten)
    assert log.first_seq == 2 and log.head_seq == 6
    seqs = lambda *q: [e.seq for e in log.since(*q)]  # noqa: E731
    assert seqs(0, "a") == [2, 3, 5, 6]
    assert seqs(0, "b", None, 2) == [2, 3]
    assert seqs(4, "b") == [4, 5]
    assert seqs(0, "a", frozenset({"MarginCall", "MarkPriceChanged"})) == [2, 6]
    assert seqs(0, None, frozenset({"MarginCall"})) == [4, 6]
    assert seqs(3, None, None, 2) == [3, 4]
    assert seqs(0, "nobody") == [2, 5]
    assert seqs(7, None) == [] and seqs(0, "a", frozenset({"Unknown"})) == []


body_strategy = st.builds(
    lambda kind, names: {"type": kind, **{k: who for k, who in zip(NAMING, names, strict=True) if who}},
    st.sampled_from(TYPES), st.tuples(*[st.sampled_from([None, None, *ACCOUNTS])] * len(NAMING)),
)
query_strategy = st.tuples(
    st.integers(0, 90), st.sampled_from([None, *ACCOUNTS, "nobody"]),
    st.one_of(st.none(), st.frozensets(st.sampled_from([*TYPES, "Unknown"]), max_size=4)),
    st.one_of(st.none(), st.integers(1, 40)),
)


@settings(max_examples=300, deadline=None)
@given(batches=st.lists(st.lists(body_strategy, max_size=20), max_size=5), retention=st.integers(1, 80),
       queries=st.lists(query_strategy, max_size=6))
def test_since_gives_what_the_old_scan_gave(batches: list[list[dict[str, Any]]], retention: int,
                                            queries: list[tuple[int, str | None, frozenset[str] | None,
                                                                int | None]]) -> None:
    log = EventLog(retention=retention)
    published: list[tuple[int, dict[str, Any]]] = []
    for batch in batches:  # retention prunes between the batches' queries
        published += [(e.seq, e.body) for e in log.publish(1, 0, batch)]
        kept = published[-retention:]
        assert log.first_seq == (kept[0][0] if kept else log.head_seq + 1)
        for from_seq, account, types, limit in queries:
            got = [e.seq for e in log.since(from_seq, account, types, limit)]
            assert got == reference(published, log.first_seq, from_seq, account, types, limit)
        sub, backlog_end = log.subscribe(ACCOUNTS[0])
        assert backlog_end == log.head_seq and log.subscriber_count == 1  # later events are read with since
        log.unsubscribe(sub)


def test_retention_past_many_compactions_keeps_every_index_right() -> None:
    # even i: a margin call of "a" (i % 4 == 0) or "b"; odd i: a public mark price. 6,000
    # published, 1,500 kept: even the quarter-sized indexes drop 1,125 > 1,024 (the compaction
    # threshold), so every index is compacted at least once.
    log = EventLog(retention=1_500)
    published: list[tuple[int, dict[str, Any]]] = []
    for step in range(12):
        bodies = [{"type": "MarginCall", "account_id": "a" if i % 4 == 0 else "b"} if i % 2 == 0
                  else {"type": "MarkPriceChanged"} for i in range(step * 500, step * 500 + 500)]
        published += [(e.seq, e.body) for e in log.publish(1, 0, bodies)]
        assert log.first_seq == max(1, len(published) - 1_499)
        for account, types in [(None, None), ("a", None), ("b", frozenset({"MarginCall"})),
                               ("a", frozenset({"MarginCall", "MarkPriceChanged"})),
                               (None, frozenset({"MarkPriceChanged"}))]:
            for from_seq in (0, len(published) - 700):
                got = [e.seq for e in log.since(from_seq, account, types, 400)]
                assert got == reference(published, log.first_seq, from_seq, account, types, 400)


def test_a_quiet_account_among_300k_events_costs_its_page_not_the_history() -> None:
    log = EventLog()
    noise = [{"type": "BalanceChanged", "account_id": f"busy{i % 500}"} if i % 1_000 else {"type": "MarkPriceChanged"}
             for i in range(300_000)]  # 300 public mark prices among them
    for chunk in range(0, len(noise), 10_000):
        log.publish(1, 0, noise[chunk:chunk + 10_000])
        if chunk in (0, 100_000, 200_000):  # the quiet account's three margin calls, spread out
            log.publish(2, 0, [{"type": "MarginCall", "account_id": "quiet"}])
    assert log.head_seq == 300_003

    log.examined = 0
    found = log.since(0, "quiet", frozenset({"MarginCall", "LiquidationStep"}), 10)
    assert [e.seq for e in found] == [10_001, 110_002, 210_003]
    assert log.examined == 3  # before: all 300,003 events from seq 0 were looked at

    log.examined = 0
    page = log.since(0, "quiet", None, 12)  # its own and the public ones, merged
    # noise i lands at seq i + 1 before the first call (seq 10,001), i + 2 after it: the public
    # i = 0, 1,000, …, 9,000 are seqs 1, 1,001, …, 9,001; then the call; then i = 10,000 at 10,002
    assert [e.seq for e in page] == [*range(1, 9_002, 1_000), 10_001, 10_002]
    assert log.examined <= 12 + 2  # the page, and at most one look-ahead in each of the 2 indexes

    log.examined = 0
    page = log.since(150_000, None, None, 50)  # the operator's page from the middle: arithmetic
    assert [e.seq for e in page] == list(range(150_000, 150_050)) and log.examined == 50


@pytest.fixture
def hx() -> Iterator[Harness]:
    yield from make_harness(demo=False)


def pages(hx: Harness, path: str, key: str, limit: int) -> list[list[dict[str, Any]]]:
    """Follow ``next_from_seq`` from 0 until it is null; each answer's list of entries."""
    out, cursor = [], 0
    while cursor is not None:
        answer = hx.client.get(path, params={"from_seq": cursor, "limit": limit}, headers=hx.h(key)).json()
        entries = answer["history"] if "history" in answer else answer["events"]
        assert len(entries) <= limit
        full = len(entries) == limit
        assert answer["next_from_seq"] == (entries[-1]["seq"] + 1 if full else None)
        out.append(entries)
        cursor = answer["next_from_seq"]
    return out


def three_margin_calls_for_alice(hx: Harness) -> None:
    """Alice, 1,000 USDT, long 0.1 BTC from 60,000. At 50,225: equity 1,000 + 0.1 × (50,225 −
    60,000) = 22.5, MM 0.4 % × 5,022.5 = 20.09, ratio 0.893 ∈ [0.8, 1): a margin call, no
    liquidation; back at 55,000 she is healthy. Three dips: three margin calls."""
    venue = hx.svc.venue
    for cmd in (Deposit("bob", "USDT", Decimal(1_000_000)), Deposit(ALICE, "USDT", Decimal(1_000)),
                PriceUpdate("BTCUSDT", "bench", Decimal(60_000)),
                Fill("t1", "BTCUSDT", Decimal(60_000), Decimal("0.1"), ALICE, "bob")):
        assert venue.submit_now(cmd).result.accepted
    for _ in range(3):
        for price in (55_000, 52_000, 50_225, 55_000):
            assert venue.submit_now(PriceUpdate("BTCUSDT", "bench", Decimal(price))).result.accepted


def test_an_accounts_margin_calls_page_through_next_from_seq(hx: Harness) -> None:
    three_margin_calls_for_alice(hx)
    path = f"/v1/accounts/{ALICE}/margin-calls"
    by_two = pages(hx, path, hx.alice, 2)
    assert [len(p) for p in by_two] == [2, 1]
    calls = [e for p in by_two for e in p]
    assert [e["equity"] for e in calls] == ["22.5"] * 3 and [e["maintenance_margin"] for e in calls] == ["20.09"] * 3
    assert [len(p) for p in pages(hx, path, hx.alice, 3)] == [3, 0]  # a full last page: one empty page after
    assert [e["seq"] for p in pages(hx, "/v1/margin-calls", hx.operator, 1) for e in p] == [e["seq"] for e in calls]


def test_an_account_keys_events_page_through_next_from_seq(hx: Harness) -> None:
    three_margin_calls_for_alice(hx)
    whole = hx.client.get("/v1/events", params={"limit": 10_000}, headers=hx.h(hx.alice)).json()
    assert whole["next_from_seq"] is None
    paged = [e["seq"] for p in pages(hx, "/v1/events", hx.alice, 4) for e in p]
    assert paged == [e["seq"] for e in whole["events"]] and len(paged) > 12  # 12 mark prices alone
    everything = [e["seq"] for p in pages(hx, "/v1/events", hx.operator, 7) for e in p]
    assert everything == list(range(1, whole["head_seq"] + 1))


def test_the_insurance_fund_history_pages_by_event_seq(hx: Harness) -> None:
    for amount in (100, 200, 300):
        assert hx.svc.venue.submit_now(FundInsurance(Decimal(amount))).result.accepted
    by_three = pages(hx, "/v1/insurance-fund", hx.alice, 3)
    assert [[e["balance"] for e in p] for p in by_three] == [["0", "100", "300"], ["600"]]  # 0, then running sums
    assert by_three[0][0]["seq"] == 0  # the balance at genesis
    second = by_three[0][1]["seq"]
    answer = hx.client.get("/v1/insurance-fund", params={"from_seq": second, "limit": 2}, headers=hx.h(hx.alice)).json()
    assert [e["balance"] for e in answer["history"]] == ["100", "300"]
    assert answer["next_from_seq"] == answer["history"][-1]["seq"] + 1 and answer["balance"] == "600"


def test_adl_lights_are_ranked_at_most_once_a_second_while_commands_keep_coming(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``GET /v1/accounts/{id}/margin`` ranked every holder of the account's symbols on each
    call: an account key at its full rate cost O(holders) each time. Now at most once per
    ``ADL_RANKS_MAX_AGE_S`` (exact whenever no command came since)."""
    from solvent.engine import Engine
    from solvent.service.venue import ADL_RANKS_MAX_AGE_S

    harness = make_harness(demo=True)
    hx = next(harness)
    now = [1_000.0]
    hx.svc.venue.clock = lambda: now[0]
    calls = {"n": 0}
    real = Engine.adl_ranks

    def counting(self: Engine, symbol: str) -> dict[str, int]:
        calls["n"] += 1
        return real(self, symbol)

    monkeypatch.setattr(Engine, "adl_ranks", counting)
    path = f"/v1/accounts/{ALICE}/margin"
    first = hx.client.get(path, headers=hx.h(hx.alice)).json()
    assert any(p["adl_rank"] is not None for p in first["positions"])
    base = calls["n"]
    for _ in range(5):  # same journal seq: the cached ranks are exact
        assert hx.client.get(path, headers=hx.h(hx.alice)).status_code == 200
    assert calls["n"] == base
    hx.client.post("/v1/prices", json={"symbol": "BTCUSDT", "price": "116000"}, headers=hx.h(hx.operator))
    hx.client.get(path, headers=hx.h(hx.alice))
    assert calls["n"] == base  # a command came, but the ranks are younger than the bound
    now[0] += ADL_RANKS_MAX_AGE_S + 0.1
    hx.client.get(path, headers=hx.h(hx.alice))
    assert calls["n"] > base  # refreshed
    with contextlib.suppress(StopIteration):
        next(harness)


def test_the_insurance_fund_history_gives_its_newest_entries(hx: Harness) -> None:
    """``last=N``: the newest N entries (the dashboard's chart), whatever the history's length."""
    for amount in (100, 200, 300):
        assert hx.svc.venue.submit_now(FundInsurance(Decimal(amount))).result.accepted
    answer = hx.client.get("/v1/insurance-fund", params={"last": 2}, headers=hx.h(hx.alice)).json()
    assert [e["balance"] for e in answer["history"]] == ["300", "600"]  # running sums 0, 100, 300, 600
    assert answer["next_from_seq"] is None
    everything = hx.client.get("/v1/insurance-fund", params={"last": 50}, headers=hx.h(hx.alice)).json()
    assert [e["balance"] for e in everything["history"]] == ["0", "100", "300", "600"]
    assert hx.client.get("/v1/insurance-fund", params={"last": 0}, headers=hx.h(hx.alice)).status_code == 400
    both = hx.client.get("/v1/insurance-fund", params={"last": 2, "from_seq": 0}, headers=hx.h(hx.alice))
    assert both.status_code == 400 and "not both" in both.json()["detail"]
