"""History reads cost O(log n + page), never O(history) (issue 10, item 5).

Before: ``/v1/accounts/{id}/margin-calls`` and ``/v1/events`` scanned the event log from
``from_seq``, so an account key asking for its few events walked all 300k of them, and four
such requests a second took operator latency from 8.7 ms to 3.5 s. Now the log files each
event under its accounts, type and (account, type), and a read bisects and merges.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from service_support import ALICE, Harness, make_harness

from solvent.engine import Deposit, Fill, PriceUpdate
from solvent.service.eventlog import PUBLIC_TYPES, EventLog

TYPES = ["MarginCall", "BalanceChanged", "MarkPriceChanged", "TimeAdvanced", "PositionChanged"]
ACCOUNTS = ["a", "b", "c"]


def reference(published: list[tuple[int, dict[str, Any]]], first_kept: int, from_seq: int, account: str | None,
              types: frozenset[str] | None, limit: int | None) -> list[int]:
    """The old scan, written out: every kept event from ``from_seq`` that the caller may see."""
    out = []
    for seq, body in published:
        if seq < max(from_seq, first_kept):
            continue
        named = {str(body[k]) for k in ("account_id", "counterparty", "buyer_id", "seller_id") if k in body}
        visible = account is None or account in named or (not named and body["type"] in PUBLIC_TYPES)
        if visible and (types is None or body["type"] in types):
            out.append(seq)
    return out if limit is None else out[:limit]


body_strategy = st.builds(
    lambda kind, who, other: {"type": kind, **({"account_id": who} if who else {}),
                              **({"counterparty": other} if other else {})},
    st.sampled_from(TYPES), st.sampled_from([None, *ACCOUNTS]), st.sampled_from([None, *ACCOUNTS]),
)


@settings(max_examples=200, deadline=None)
@given(bodies=st.lists(body_strategy, max_size=60), retention=st.integers(1, 70),
       queries=st.lists(st.tuples(st.integers(0, 70), st.sampled_from([None, *ACCOUNTS, "nobody"]),
                                  st.sampled_from([None, frozenset({"MarginCall"}),
                                                   frozenset({"MarkPriceChanged", "BalanceChanged"})]),
                                  st.sampled_from([None, 1, 3, 100])), max_size=8))
def test_since_gives_what_the_old_scan_gave(bodies: list[dict[str, Any]], retention: int,
                                            queries: list[tuple[int, str | None, frozenset[str] | None,
                                                                int | None]]) -> None:
    log = EventLog(retention=retention)
    published = [(e.seq, e.body) for e in log.publish(1, 0, bodies)]
    for from_seq, account, types, limit in queries:
        got = [e.seq for e in log.since(from_seq, account, types, limit)]
        assert got == reference(published, log.first_seq, from_seq, account, types, limit)


def test_a_quiet_account_among_300k_events_costs_its_page_not_the_history() -> None:
    log = EventLog()
    noise = [{"type": "BalanceChanged", "account_id": f"busy{i % 500}"} for i in range(300_000)]
    for chunk in range(0, len(noise), 10_000):
        log.publish(1, 0, noise[chunk:chunk + 10_000])
        if chunk in (0, 100_000, 200_000):  # the quiet account's three margin calls, spread out
            log.publish(2, 0, [{"type": "MarginCall", "account_id": "quiet"}])
    log.examined = 0
    found = log.since(0, "quiet", frozenset({"MarginCall"}), 10)
    assert len(found) == 3
    assert log.examined == 3  # before: every one of the 300,003 events from seq 0 was looked at
    log.examined = 0
    assert len(log.since(0, "quiet", None, 10)) == 3  # its own events and the public ones: none here
    assert log.examined == 3
    log.examined = 0
    page = log.since(150_000, None, None, 50)  # the operator's page from the middle
    assert [e.seq for e in page] == list(range(150_000, 150_050)) and log.examined == 50


@pytest.fixture
def hx() -> Iterator[Harness]:
    yield from make_harness(demo=False)


def test_history_pages_chain_through_next_from_seq(hx: Harness) -> None:
    op = hx.h(hx.operator)
    for cmd in (Deposit(ALICE, "USDT", Decimal(1_000)), Deposit("bob", "USDT", Decimal(1_000)),
                PriceUpdate("BTCUSDT", "bench", Decimal(60_000))):
        assert hx.svc.venue.submit_now(cmd).result.accepted
    for i in range(7):  # 7 fills: each gives alice balance and position events
        fill = Fill(f"t{i}", "BTCUSDT", Decimal(60_000), Decimal("0.001"), ALICE, "bob")
        assert hx.svc.venue.submit_now(fill).result.accepted
    everything = hx.client.get("/v1/events", params={"limit": 10_000}, headers=hx.h(hx.alice)).json()
    assert everything["next_from_seq"] is None
    mine = [e["seq"] for e in everything["events"]]
    paged, cursor = [], 0
    while cursor is not None:
        page = hx.client.get("/v1/events", params={"from_seq": cursor, "limit": 4}, headers=hx.h(hx.alice)).json()
        assert len(page["events"]) <= 4
        paged += [e["seq"] for e in page["events"]]
        cursor = page["next_from_seq"]
    assert paged == mine and len(mine) > 8
    fund = hx.client.get("/v1/insurance-fund", params={"limit": 1}, headers=op).json()
    assert len(fund["history"]) == 1 and fund["history"][0]["seq"] == 0  # the balance at genesis
    assert fund["next_from_seq"] == 1
