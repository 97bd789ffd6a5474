"""``EventLog.wait_after``: what a stream subscriber waits on between events (issue 12, item 5).

Each call waits on a future of its own, resolved by ``publish`` or by its timer, so that a
subscriber going away (its task cancelled) wakes nobody else and stops nobody else waiting, and
a quiet venue keeps no waiter of a call that has returned.
"""

from __future__ import annotations

import asyncio

from solvent.service.eventlog import EventLog

MARK = {"type": "MarkPriceChanged", "symbol": "BTCUSDT", "mark_price": "60000"}  # public
ALICE_DEPOSIT = {"type": "BalanceChanged", "account_id": "alice", "asset": "USDT", "delta": "5"}


def test_a_publish_wakes_the_scopes_that_see_it_and_only_those() -> None:
    async def scenario() -> None:
        log = EventLog()
        venue = asyncio.create_task(log.wait_after(0, 60))
        alice = asyncio.create_task(log.wait_after(0, 60, "alice"))
        bob = asyncio.create_task(log.wait_after(0, 60, "bob"))
        await asyncio.sleep(0)
        log.publish(1, 0, [ALICE_DEPOSIT])  # alice's own: the venue and alice see it, bob does not
        await asyncio.wait_for(asyncio.gather(venue, alice), 1)
        await asyncio.sleep(0.01)
        assert not bob.done()
        log.publish(2, 0, [MARK])  # public: everyone
        await asyncio.wait_for(bob, 1)
        assert log._waiters == {}

    asyncio.run(scenario())


def test_a_subscriber_going_away_leaves_the_others_waiting() -> None:
    async def scenario() -> None:
        log = EventLog()
        staying = [asyncio.create_task(log.wait_after(0, 60)) for _ in range(3)]
        leaving = asyncio.create_task(log.wait_after(0, 60))
        await asyncio.sleep(0)
        leaving.cancel()
        await asyncio.sleep(0.01)
        assert leaving.cancelled() and not any(t.done() for t in staying)
        log.publish(1, 0, [MARK])
        await asyncio.wait_for(asyncio.gather(*staying), 1)
        assert log._waiters == {}

    asyncio.run(scenario())


def test_a_quiet_venue_keeps_no_waiter_of_a_call_that_returned() -> None:
    async def scenario() -> None:
        log = EventLog()
        for _ in range(50):  # 50 key rechecks of a subscriber on a venue where nothing happens
            await log.wait_after(0, 0.001, "alice")
        assert log._waiters == {}
        log.publish(1, 0, [ALICE_DEPOSIT])
        await asyncio.wait_for(log.wait_after(0, 60, "alice"), 1)  # something after 0: at once

    asyncio.run(scenario())
