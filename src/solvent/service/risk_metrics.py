"""Risk metrics for Prometheus, read from the engine at scrape time (floats: statistics only).

* ``solvent_insurance_fund{asset}`` the fund's balance in the settlement asset;
* ``solvent_open_interest{symbol}`` open interest (one side, in quantity or contracts);
* ``solvent_mark_price{symbol}`` each market's mark;
* ``solvent_accounts{level}`` accounts per margin level (every level listed, zeros included);
* ``solvent_stream_subscribers``, ``solvent_event_log_head_seq`` the stream's subscribers and
  the event log's last sequence number.

Liquidated notional and socialised loss are counters kept as events are published
(``Metrics.observe_risk_events``).
"""

from __future__ import annotations

from solvent.risk.levels import LEVEL_ORDER
from solvent.service.venue import Venue

__all__ = ["render_risk"]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_risk(venue: Venue) -> str:
    """The gauges above, in the Prometheus text format."""
    engine = venue.engine
    state = engine.state
    settle = engine.config.settle_asset
    lines = ["# HELP solvent_insurance_fund Insurance fund balance, in the settlement asset.",
             "# TYPE solvent_insurance_fund gauge",
             f'solvent_insurance_fund{{asset="{_label(settle)}"}} {float(state.insurance_fund)!r}',
             "# HELP solvent_open_interest Open interest per symbol (one side: quantity or contracts).",
             "# TYPE solvent_open_interest gauge"]
    for symbol, oi in sorted(state.open_interest.items()):
        lines.append(f'solvent_open_interest{{symbol="{_label(symbol)}"}} {float(oi)!r}')
    lines += ["# HELP solvent_mark_price Mark price per symbol.", "# TYPE solvent_mark_price gauge"]
    for symbol, market in sorted(state.markets.items()):
        if market.mark is not None:
            lines.append(f'solvent_mark_price{{symbol="{_label(symbol)}"}} {float(market.mark)!r}')
    counts = {level.value: 0 for level in LEVEL_ORDER}
    for acc in state.accounts.values():
        counts[acc.level] = counts.get(acc.level, 0) + 1
    lines += ["# HELP solvent_accounts Accounts per margin level.", "# TYPE solvent_accounts gauge"]
    lines += [f'solvent_accounts{{level="{_label(level)}"}} {n}' for level, n in counts.items()]
    lines += ["# HELP solvent_stream_subscribers Open event-stream subscriptions.",
              "# TYPE solvent_stream_subscribers gauge",
              f"solvent_stream_subscribers {venue.events.subscriber_count}",
              "# HELP solvent_event_log_head_seq Sequence number of the last published event.",
              "# TYPE solvent_event_log_head_seq gauge", f"solvent_event_log_head_seq {venue.events.head_seq}"]
    return "\n".join(lines) + "\n"
