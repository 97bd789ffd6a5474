"""Risk gauges for Prometheus, read from the engine at scrape time (floats: statistics only).

* ``solvent_insurance_fund{asset}`` the fund's balance in the settlement asset;
* ``solvent_open_interest{symbol}`` open interest (one side, in quantity or contracts);
* ``solvent_mark_price{symbol}``, ``solvent_index_price{symbol}`` each market's mark and its
  latest index sample;
* ``solvent_liquidations_paused{symbol}`` 1 while an oracle guard holds liquidations back;
* ``solvent_accounts{level}`` accounts per margin level (every level listed, zeros included);
* ``solvent_stream_subscribers``, ``solvent_event_log_head_seq`` the stream's subscribers and
  the event log's last sequence number;
* ``solvent_journal_seq`` the journal's last record.

Counters kept as events are published (liquidated notional, ADL, guard trips) are in
``service/metrics.py``; both go to the venue's one registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from solvent.risk.levels import LEVEL_ORDER

if TYPE_CHECKING:
    from solvent.service.venue import Venue

__all__ = ["RiskCollector"]


class RiskCollector(Collector):
    """The gauges above, for one venue's registry."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # read at scrape time: nothing to check at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        venue = self.venue
        if venue.failure is not None:  # reads are refused after a journal failure: nothing to show
            return
        state = venue.engine.state
        fund = GaugeMetricFamily("solvent_insurance_fund", "Insurance fund balance, in the settlement asset.",
                                 labels=("asset",))
        fund.add_metric((venue.engine.config.settle_asset,), float(state.insurance_fund))
        yield fund
        oi = GaugeMetricFamily("solvent_open_interest", "Open interest per symbol (one side: quantity or contracts).",
                               labels=("symbol",))
        for symbol, value in sorted(state.open_interest.items()):
            oi.add_metric((symbol,), float(value))
        yield oi
        mark = GaugeMetricFamily("solvent_mark_price", "Mark price per symbol.", labels=("symbol",))
        index = GaugeMetricFamily("solvent_index_price", "Latest index sample per symbol.", labels=("symbol",))
        paused = GaugeMetricFamily("solvent_liquidations_paused",
                                   "1 while an oracle guard holds liquidations back on the symbol.", labels=("symbol",))
        for symbol, market in sorted(state.markets.items()):
            if market.mark is not None:
                mark.add_metric((symbol,), float(market.mark))
            if market.index_samples:
                index.add_metric((symbol,), float(market.index_samples[-1][1]))
            paused.add_metric((symbol,), 0.0 if market.liquidations_allowed else 1.0)
        yield from (mark, index, paused)
        counts = {level.value: 0 for level in LEVEL_ORDER}
        for acc in state.accounts.values():
            counts[acc.level] = counts.get(acc.level, 0) + 1
        accounts = GaugeMetricFamily("solvent_accounts", "Accounts per margin level.", labels=("level",))
        for level, n in counts.items():
            accounts.add_metric((level,), float(n))
        yield accounts
        yield GaugeMetricFamily("solvent_stream_subscribers", "Open event-stream subscriptions.",
                                value=float(venue.events.subscriber_count))
        yield GaugeMetricFamily("solvent_event_log_head_seq", "Sequence number of the last published event.",
                                value=float(venue.events.head_seq))
        yield GaugeMetricFamily("solvent_journal_seq", "Sequence number of the journal's last record.",
                                value=float(venue.journal_seq))
