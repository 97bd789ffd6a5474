"""The capital adequacy report in the forms a risk committee reads: JSON and one page of markdown.

``report_json`` holds every figure as a plain decimal string (moves as signed fractions; money
in the settlement asset, rounded once to its quantum against the fund, ``stress/money.py``;
every ratio to open interest taken to ``open_interest_settle``, the open interest in the
settlement asset, so that fund and losses are over an amount in their own unit), the
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

from solvent.errors import InvalidInput
from solvent.stress.adequacy import REVERSE_MAX, REVERSE_STEP, AdequacyReport
from solvent.stress.adequacy_inputs import AdequacyInputs
from solvent.stress.book import SyntheticBook, account_id, whale_group_count
from solvent.stress.money import held, owed
from solvent.stress.montecarlo import MonteCarloResult
from solvent.units import plain

__all__ = ["amount", "group_name", "report_json", "report_markdown"]


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


def _monte_carlo(mc: MonteCarloResult, oi: Decimal, quantum: Decimal) -> dict[str, Any]:
    summary = mc.summary()
    rows = []
    for row in summary["quantiles"]:  # type: ignore[attr-defined]
        rows.append({"confidence": plain(row["confidence"]), "fund_needed_var": owed(row["fund_needed_var"], quantum),
                     "fund_needed_es": owed(row["fund_needed_es"], quantum),
                     "required_fund_to_open_interest_ratio": _ratio(row["fund_needed_var"] / oi),
                     "resolved": row["resolved"], "var_band_low": owed(row["var_band_low"], quantum),
                     "var_band_high": owed(row["var_band_high"], quantum)})
    return {"paths": summary["paths"], "horizon_minutes": summary["horizon_minutes"],
            "block_minutes": summary["block_minutes"], "seed": summary["seed"], "seed_bands": summary["seed_bands"],
            "path_source": "block bootstrap of the 1-minute returns of the four bundled crash days",
            "fund_exhausted_probability": _ratio(summary["fund_exhausted_probability"]),  # type: ignore[arg-type]
            "fund_needed_mean": owed(summary["fund_needed_mean"], quantum),  # type: ignore[arg-type]
            "quantiles": rows}


def report_json(report: AdequacyReport, book: SyntheticBook, mc: MonteCarloResult | None = None,
                inputs: AdequacyInputs | None = None) -> dict[str, Any]:
    """The report's figures (module docstring): losses, needs and fund sizes rounded up to the
    money quantum, the fund and its fees down; ratios to ``open_interest_settle``. ``inputs``:
    what the report was run on, echoed (default: the book's parameters, with ``mc``'s options)."""
    oi, q = report.open_interest_settle, report.money_quantum
    scenarios = []
    for o in report.outcomes:
        one, _ = o.top(1)
        two, _ = o.top(2)
        scenarios.append({"move": plain(o.move), "liquidated_notional": owed(o.liquidated_notional, q),
                          "deficits": owed(o.deficits, q), "fees_to_insurance_fund": held(o.fees, q),
                          "fund_needed": owed(o.fund_needed, q), "cover1_loss": owed(one, q),
                          "cover2_loss": owed(two, q)})

    def cover(entry: tuple[Decimal, Decimal, tuple[int, ...]]) -> dict[str, Any]:
        loss, move, groups = entry
        return {"loss": owed(loss, q), "move": plain(move) if loss else None,
                "groups": [group_name(book, g) for g in groups], "loss_to_open_interest_ratio": _ratio(loss / oi)}

    coverage = report.coverage
    body: dict[str, Any] = {
        "venue": book.profile.name, "symbol": book.symbol, "accounts": book.size - 1,
        "settle_asset": book.settle, "quote_asset": book.instrument.quote,
        "procedure": "generic",
        "open_interest": plain(report.open_interest), "open_interest_settle": plain(oi),
        "money_quantum": plain(q), "insurance_fund": held(report.fund, q),
        "insurance_fund_to_open_interest_ratio": _ratio(report.fund / oi),
        "scenarios": scenarios,
        "cover1": cover(report.cover1), "cover2": cover(report.cover2),
        "coverage_ratio": None if coverage is None else _ratio(coverage),
        "required_fund": owed(report.required_fund, q),
        "required_fund_to_open_interest_ratio": _ratio(report.required_fund / oi),
        "reverse_stress": {"down_move": _move(report.reverse_down), "up_move": _move(report.reverse_up),
                           "step": plain(REVERSE_STEP)},
        "fund_sizes": [{"insurance_fund": owed(f, q), "down_move": _move(d), "up_move": _move(u)}
                       for f, d, u in report.fund_table],
    }
    if coverage is None:
        body["coverage_ratio_reason"] = "no two groups' default leaves a deficit in any scenario"
    body["monte_carlo"] = None if mc is None else _monte_carlo(mc, oi, q)
    if mc is None:
        body["monte_carlo_reason"] = "not run (--paths 0)"
    body["digest"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    if inputs is None:
        from solvent.journal.codec import encode_profile

        inputs = AdequacyInputs(book.params, 0, 60, 1, 0, profile=encode_profile(book.profile)) if mc is None else (
            AdequacyInputs(book.params, len(mc.paths), mc.horizon, mc.seed, len(mc.bands),
                           profile=encode_profile(book.profile)))
    body["inputs"] = inputs.to_json()
    return body


def pct(text: str | None) -> str:
    """A move of the report as a signed percentage; ``null`` (a reverse stress the fund survives)
    as what it means."""
    return f"none up to {REVERSE_MAX:.0%}" if text is None else f"{Decimal(text):+.1%}"


def amount(text: str, quantum: str) -> str:
    """A money figure of the report (already on the money ``quantum``) written to the quantum's
    places, its digits grouped: ``0.50750720`` BTC, ``62,816.23000000`` USDT at 10^-8; a figure
    off the quantum is refused rather than rounded a second time (``InvalidInput``)."""
    value, step = Decimal(text), Decimal(quantum)
    if value % step:
        raise InvalidInput(f"report figure {text} is not a multiple of the money quantum {quantum}")
    return f"{value:,.{max(0, -step.as_tuple().exponent)}f}"  # type: ignore[operator]


def report_markdown(doc: dict[str, Any]) -> str:
    """One page: the figures of ``report_json``, in words and two tables."""
    settle, quote = doc["settle_asset"], doc["quote_asset"]
    of_oi = f"of open interest in {settle}"

    def money(text: str) -> str:
        return amount(text, doc["money_quantum"])

    c1, c2 = doc["cover1"], doc["cover2"]
    coverage = doc["coverage_ratio"] or "n/a (no deficit from two groups' default)"
    lines = [
        f"# Capital adequacy: {doc['venue']} {doc['symbol']}",
        "",
        f"Book: {doc['accounts']:,} accounts, open interest {Decimal(doc['open_interest']):,.2f} {quote} "
        f"({Decimal(doc['open_interest_settle']):,f} {settle}, the base of every share of open interest below); "
        f"insurance fund {money(doc['insurance_fund'])} {settle} "
        f"({Decimal(doc['insurance_fund_to_open_interest_ratio']):.2%} {of_oi}). Liquidation procedure: "
        "the engine's generic one (fee, fund, then socialised loss).",
        "",
        "## Findings",
        "",
        f"- **Cover-1**: {money(c1['loss'])} {settle} ({', '.join(c1['groups']) or 'none'}; "
        f"move {pct(c1['move'])}; {Decimal(c1['loss_to_open_interest_ratio']):.2%} {of_oi}).",
        f"- **Cover-2**: {money(c2['loss'])} {settle} ({', '.join(c2['groups']) or 'none'}; "
        f"move {pct(c2['move'])}; {Decimal(c2['loss_to_open_interest_ratio']):.2%} {of_oi}).",
        f"- **Coverage** (fund ÷ Cover-2): {coverage}.",
        f"- **Fund needed for every scenario**: {money(doc['required_fund'])} {settle} "
        f"({Decimal(doc['required_fund_to_open_interest_ratio']):.2%} {of_oi}).",
        f"- **Reverse stress**: the smallest move that exhausts the fund is {pct(doc['reverse_stress']['down_move'])}"
        f" down and {pct(doc['reverse_stress']['up_move'])} up (grid {Decimal(doc['reverse_stress']['step']):.1%}).",
        "",
        "## Scenarios (one jump, then the cascade)",
        "",
        f"| move | liquidated ({quote}) | deficits ({settle}) | fund needed ({settle}) | worst group ({settle}) "
        f"| worst two groups ({settle}) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in doc["scenarios"]:
        lines.append(f"| {pct(s['move'])} | {money(s['liquidated_notional'])} | {money(s['deficits'])} "
                     f"| {money(s['fund_needed'])} | {money(s['cover1_loss'])} | {money(s['cover2_loss'])} |")
    lines += ["", "## Reverse stress by fund size", "", f"| fund ({settle}) | move down | move up |",
              "| --- | --- | --- |"]
    for row in doc["fund_sizes"]:
        lines.append(f"| {money(row['insurance_fund'])} | {pct(row['down_move'])} | {pct(row['up_move'])} |")
    mc = doc.get("monte_carlo")
    if mc:
        lines += ["", f"## Monte Carlo ({mc['paths']:,} paths of {mc['horizon_minutes']} minutes)", "",
                  f"Paths: {mc['path_source']}, blocks of {mc['block_minutes']} minutes, seed {mc['seed']}. "
                  f"Probability that the fund is exhausted: {Decimal(mc['fund_exhausted_probability']):.1%}.", "",
                  f"| confidence | fund needed (VaR, {settle}) | expected shortfall | seed band | resolved |",
                  "| --- | --- | --- | --- | --- |"]
        for q in mc["quantiles"]:
            resolved = "yes" if q["resolved"] else "no (fewer than 10 paths beyond)"
            lines.append(f"| {Decimal(q['confidence']):.1%} | {money(q['fund_needed_var'])} "
                         f"| {money(q['fund_needed_es'])} | {money(q['var_band_low'])} – "
                         f"{money(q['var_band_high'])} | {resolved} |")
    lines += ["", "## Method and limits", "",
              "Every figure is a run of the engine's decisions on this book (the fast cascade, digest for digest the "
              "engine's) with liquidation impact fed back into the price. Cover-n follows PFMI Principle 4: the "
              "loss from the default of the n groups (affiliated accounts) costing most, in the worst scenario. "
              "The generic procedure has no ADL and no backstop; the impact model is not yet calibrated to "
              "order-book data, and the book is synthetic (docs/calibration.md).",
              "", f"Digest: `{doc['digest']}`; solvent {doc['inputs']['version']}.", ""]
    return "\n".join(lines)
