"""The capital adequacy report in the forms a risk committee reads: JSON and one page of markdown.

``report_json`` holds every figure as a plain decimal string (moves as signed fractions), the
groups by name (``whale-1``, ``whale-2``, or the account id of a trader alone), the inputs
that produced it (the book's parameters, with the version) and a ``digest``: SHA-256 of the
figures, so that two reports can be compared with one string. ``report_markdown`` renders the
same dictionary; it computes nothing of its own.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

import solvent
from solvent.stress.adequacy import HOLD_MINUTES, REVERSE_MAX, REVERSE_STEP, AdequacyReport
from solvent.stress.book import SyntheticBook, account_id, whale_group_count
from solvent.stress.montecarlo import MonteCarloResult
from solvent.stress.run_inputs import encode_params
from solvent.units import plain, round_up

__all__ = ["group_name", "report_json", "report_markdown"]


def group_name(book: SyntheticBook, group: int) -> str:
    """A group's name: its own (a book from a file), ``whale-N``, or the account's id."""
    if book.group_labels and group in book.group_labels:
        return book.group_labels[group]
    if book.labels is not None:
        return book.labels[group]
    size = book.params.whale_group_accounts
    if group < whale_group_count(book.params) * size:
        return f"whale-{group // size + 1}"
    return account_id(group)


def _move(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


def _ratio(value: Decimal) -> str:
    return plain(round(value, 6))


def _monte_carlo(mc: MonteCarloResult, oi: Decimal) -> dict[str, Any]:
    summary = mc.summary()
    quantum = Decimal("0.00000001")
    rows = []
    for row in summary["quantiles"]:  # type: ignore[attr-defined]
        rows.append({"confidence": plain(row["confidence"]), "fund_needed_var": plain(row["fund_needed_var"]),
                     "fund_needed_es": plain(round_up(row["fund_needed_es"], quantum)),
                     "required_fund_to_open_interest_ratio": _ratio(row["fund_needed_var"] / oi),
                     "resolved": row["resolved"], "var_band_low": plain(row["var_band_low"]),
                     "var_band_high": plain(row["var_band_high"])})
    return {"paths": summary["paths"], "horizon_minutes": summary["horizon_minutes"],
            "block_minutes": summary["block_minutes"], "seed": summary["seed"], "seed_bands": summary["seed_bands"],
            "path_source": "block bootstrap of the 1-minute returns of the four bundled crash days",
            "fund_exhausted_probability": _ratio(summary["fund_exhausted_probability"]),  # type: ignore[arg-type]
            "fund_needed_mean": plain(round_up(summary["fund_needed_mean"], quantum)),  # type: ignore[arg-type]
            "quantiles": rows}


def report_json(report: AdequacyReport, book: SyntheticBook, mc: MonteCarloResult | None = None) -> dict[str, Any]:
    oi = report.open_interest
    scenarios = []
    for o in report.outcomes:
        one, _ = o.top(1)
        two, _ = o.top(2)
        scenarios.append({"move": plain(o.move), "liquidated_notional": plain(o.liquidated_notional),
                          "deficits": plain(o.deficits), "fees_to_insurance_fund": plain(o.fees),
                          "fund_needed": plain(o.fund_needed), "cover1_loss": plain(one), "cover2_loss": plain(two)})

    def cover(entry: tuple[Decimal, Decimal, tuple[int, ...]]) -> dict[str, Any]:
        loss, move, groups = entry
        return {"loss": plain(loss), "move": plain(move) if loss else None,
                "groups": [group_name(book, g) for g in groups], "loss_to_open_interest_ratio": _ratio(loss / oi)}

    coverage = report.coverage
    body: dict[str, Any] = {
        "venue": book.profile.name, "symbol": book.symbol, "accounts": book.size - 1,
        "settle_asset": book.settle, "quote_asset": book.instrument.quote,
        "procedure": "generic",
        "open_interest": plain(oi), "insurance_fund": plain(report.fund),
        "insurance_fund_to_open_interest_ratio": _ratio(report.fund / oi),
        "scenarios": scenarios,
        "cover1": cover(report.cover1), "cover2": cover(report.cover2),
        "coverage_ratio": None if coverage is None else _ratio(coverage),
        "required_fund": plain(report.required_fund),
        "required_fund_to_open_interest_ratio": _ratio(report.required_fund / oi),
        "reverse_stress": {"down_move": _move(report.reverse_down), "up_move": _move(report.reverse_up),
                           "step": plain(REVERSE_STEP)},
        "fund_sizes": [{"insurance_fund": plain(f), "down_move": _move(d), "up_move": _move(u)}
                       for f, d, u in report.fund_table],
    }
    if coverage is None:
        body["coverage_ratio_reason"] = "no two groups' default leaves a deficit in any scenario"
    body["monte_carlo"] = None if mc is None else _monte_carlo(mc, oi)
    if mc is None:
        body["monte_carlo_reason"] = "not run (--paths 0)"
    body["digest"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    params = book.params
    body["inputs"] = {"version": solvent.__version__, "hold_minutes": HOLD_MINUTES,
                      "book": encode_params(params)}
    return body


def pct(text: str | None) -> str:
    """A move of the report as a signed percentage; ``null`` (a reverse stress the fund survives)
    as what it means."""
    return f"none up to {REVERSE_MAX:.0%}" if text is None else f"{Decimal(text):+.1%}"


def report_markdown(doc: dict[str, Any]) -> str:
    """One page: the figures of ``report_json``, in words and two tables."""
    settle, quote = doc["settle_asset"], doc["quote_asset"]
    c1, c2 = doc["cover1"], doc["cover2"]
    coverage = doc["coverage_ratio"] or "n/a (no deficit from two groups' default)"
    lines = [
        f"# Capital adequacy: {doc['venue']} {doc['symbol']}",
        "",
        f"Book: {doc['accounts']:,} accounts, open interest {Decimal(doc['open_interest']):,.2f} {quote}; "
        f"insurance fund {Decimal(doc['insurance_fund']):,.2f} {settle} "
        f"({Decimal(doc['insurance_fund_to_open_interest_ratio']):.2%} of open interest). Liquidation procedure: "
        "the engine's generic one (fee, fund, then socialised loss).",
        "",
        "## Findings",
        "",
        f"- **Cover-1**: {Decimal(c1['loss']):,.2f} {settle} ({', '.join(c1['groups']) or 'none'}; "
        f"move {pct(c1['move'])}).",
        f"- **Cover-2**: {Decimal(c2['loss']):,.2f} {settle} ({', '.join(c2['groups']) or 'none'}; "
        f"move {pct(c2['move'])}).",
        f"- **Coverage** (fund ÷ Cover-2): {coverage}.",
        f"- **Fund needed for every scenario**: {Decimal(doc['required_fund']):,.2f} {settle} "
        f"({Decimal(doc['required_fund_to_open_interest_ratio']):.2%} of open interest).",
        f"- **Reverse stress**: the smallest move that exhausts the fund is {pct(doc['reverse_stress']['down_move'])}"
        f" down and {pct(doc['reverse_stress']['up_move'])} up (grid {Decimal(doc['reverse_stress']['step']):.1%}).",
        "",
        "## Scenarios (one jump, then the cascade)",
        "",
        f"| move | liquidated ({quote}) | deficits ({settle}) | fund needed | worst group | worst two groups |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in doc["scenarios"]:
        lines.append(f"| {pct(s['move'])} | {Decimal(s['liquidated_notional']):,.0f} | {Decimal(s['deficits']):,.0f} "
                     f"| {Decimal(s['fund_needed']):,.0f} | {Decimal(s['cover1_loss']):,.0f} "
                     f"| {Decimal(s['cover2_loss']):,.0f} |")
    lines += ["", "## Reverse stress by fund size", "", f"| fund ({settle}) | move down | move up |",
              "| --- | --- | --- |"]
    for row in doc["fund_sizes"]:
        lines.append(f"| {Decimal(row['insurance_fund']):,.0f} | {pct(row['down_move'])} | {pct(row['up_move'])} |")
    mc = doc.get("monte_carlo")
    if mc:
        lines += ["", f"## Monte Carlo ({mc['paths']:,} paths of {mc['horizon_minutes']} minutes)", "",
                  f"Paths: {mc['path_source']}, blocks of {mc['block_minutes']} minutes, seed {mc['seed']}. "
                  f"Probability that the fund is exhausted: {Decimal(mc['fund_exhausted_probability']):.1%}.", "",
                  f"| confidence | fund needed (VaR, {settle}) | expected shortfall | seed band | resolved |",
                  "| --- | --- | --- | --- | --- |"]
        for q in mc["quantiles"]:
            resolved = "yes" if q["resolved"] else "no (fewer than 10 paths beyond)"
            lines.append(f"| {Decimal(q['confidence']):.1%} | {Decimal(q['fund_needed_var']):,.0f} "
                         f"| {Decimal(q['fund_needed_es']):,.0f} | {Decimal(q['var_band_low']):,.0f} – "
                         f"{Decimal(q['var_band_high']):,.0f} | {resolved} |")
    lines += ["", "## Method and limits", "",
              "Every figure is a run of the engine's decisions on this book (the fast cascade, digest for digest the "
              "engine's) with liquidation impact fed back into the price. Cover-n follows PFMI Principle 4: the "
              "loss from the default of the n groups (affiliated accounts) costing most, in the worst scenario. "
              "The generic procedure has no ADL and no backstop; the impact model is not yet calibrated to "
              "order-book data, and the book is synthetic (docs/calibration.md).",
              "", f"Digest: `{doc['digest']}`; solvent {doc['inputs']['version']}.", ""]
    return "\n".join(lines)
