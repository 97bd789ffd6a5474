"""A run's per-minute time series (``solvent simulate --series FILE``): one CSV row a minute.

Every money and notional column adds up, over the rows, to the summary's total of the same
name (``liquidations``, ``liquidated_long_notional``, ``liquidated_short_notional``,
``fees_to_insurance_fund``, ``bad_debt_socialised``, ``bad_debt_adl``; the ADL and backstop
counts, ``adl_notional`` and ``drawdown_adl_starts`` where the procedure has them), and the
last row's ``insurance_fund`` is the summary's ``insurance_fund_end``: the series and the
summary are two views of the same records, each minute's money rounded once
(``CascadeResult.rounded``) and the summary adding the rounded minutes up.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from solvent.errors import InvalidInput
from solvent.stress.result import CascadeResult
from solvent.units import ZERO, plain

__all__ = ["SERIES_COLUMNS", "series_rows", "write_series"]

SERIES_COLUMNS = (
    "step", "scenario_price", "mark", "lowest_mark", "rounds", "truncated", "halted", "liquidations",
    "liquidations_long", "liquidations_short", "liquidated_long_notional", "liquidated_short_notional",
    "fees_to_insurance_fund", "bad_debt_socialised", "bad_debt_adl", "adl_events", "adl_notional",
    "drawdown_adl_starts", "backstop_events", "backstop_loss_limit_events", "insurance_fund", "insurance_fund_min",
    "depth", "open_interest_base", "voluntary_closes", "closed_long_notional", "closed_short_notional",
)
"""``mark`` is the minute's last mark (after its cascade rounds), ``lowest_mark`` its lowest;
``halted`` whether the liquidation engine was halted that minute (``--halt``: its ``rounds``
are 0); ``depth`` the book's depth when the minute ended (quote); ``open_interest_base`` the long side
the venue's accounts hold then (``StepRecord.open_interest_base``). ``adl_events``,
``adl_notional``, ``drawdown_adl_starts``, ``backstop_events`` and ``backstop_loss_limit_events``
(the times the backstop's loss limit deleveraged it) are empty under the generic
procedure, which has neither (the summary's ``null``: a 0 would read as measured). The traders'
voluntary closes (``stress/response.py``) and their notional by side add up to the summary's
``response`` block, and are empty in a run without responses."""


def series_rows(result: CascadeResult) -> list[dict[str, str]]:
    """One row a minute (``SERIES_COLUMNS``), values as plain strings."""
    by_step: dict[int, list[int]] = {}
    for liq in result.liquidations:
        by_step.setdefault(liq.step, [0, 0])[0 if liq.sign > 0 else 1] += 1
    closes: dict[int, list[Any]] = {}
    for q in result.closes:
        row = closes.setdefault(q.step, [0, ZERO, ZERO])
        row[0] += 1
        row[1 if q.sign > 0 else 2] += q.notional_quote
    responding = result.response is not None
    rows = []
    modelled = result.procedure == "venue"
    for s in result.steps:
        longs, shorts = by_step.get(s.step, [0, 0])
        money = {name: plain(value) for name, value in result.rounded(s).items()}
        rows.append({
            "step": str(s.step), "scenario_price": plain(s.scenario_price), "mark": plain(s.marks[-1]),
            "lowest_mark": plain(min(s.marks)), "rounds": str(s.rounds), "truncated": str(s.truncated).lower(),
            "halted": str(s.halted).lower(),
            "liquidations": str(longs + shorts), "liquidations_long": str(longs), "liquidations_short": str(shorts),
            "liquidated_long_notional": money["sold_quote"], "liquidated_short_notional": money["bought_quote"],
            "fees_to_insurance_fund": money["fees_quote"], "bad_debt_socialised": money["socialised_quote"],
            "bad_debt_adl": money["adl_loss"], "adl_events": str(s.adl_events) if modelled else "",
            "adl_notional": money["adl_notional"] if modelled else "",
            "drawdown_adl_starts": str(s.drawdown_adl) if modelled else "",
            "backstop_events": str(s.backstop_events) if modelled else "",
            "backstop_loss_limit_events": str(s.limit_events) if modelled else "",
            "insurance_fund": money["insurance_fund"], "insurance_fund_min": money["insurance_min"],
            "depth": plain(s.depth_quote), "open_interest_base": plain(s.open_interest_base),
            **_closes(closes.get(s.step, [0, ZERO, ZERO]), responding),
        })
    return rows


def _closes(minute: list[Any], responding: bool) -> dict[str, str]:
    if not responding:
        return {"voluntary_closes": "", "closed_long_notional": "", "closed_short_notional": ""}
    count, long, short = minute
    return {"voluntary_closes": str(count), "closed_long_notional": plain(long), "closed_short_notional": plain(short)}


def write_series(result: CascadeResult, path: Path) -> None:
    """Write ``series_rows`` as CSV with a header line (``InvalidInput`` if the file cannot be written)."""
    try:
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=SERIES_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(series_rows(result))
    except OSError as err:
        raise InvalidInput(f"cannot write the series to {path}: {err.strerror}") from None
