"""The capital adequacy report ``solvent-car-v1``: liabilities, reserves, the venue's own funds
and a stress loss, side by side, derived from the journal (only the reserves are the venue's
word, with whatever evidence it attaches).

* ``liabilities``: per asset, the proof of liabilities' totals (``proofs/pol.py``): equity,
  debt and net = equity − debt, as amounts of the asset;
* ``reserves``: what the venue says it holds per asset (``--reserves FILE``), with evidence
  (address ownership, balances at a block) that is checked outside solvent;
* ``venue_funds``: the insurance fund and fee income (not customers' money, not in the tree);
* ``stress``: every mark moved together by each of ``SHOCKS``, nothing liquidated: the
  scenario's loss is the negative equity it leaves (Σ max(0, −equity) over every account's
  cross scope and isolated positions, the deficit someone must cover); ``worst_loss`` is the
  largest, ``scenario_set_hash`` the SHA-256 of the canonical scenario list, so the report
  names exactly what was run;
* ``ratios``: ``reserve_coverage`` per asset = reserves / net liabilities, and ``fund_cover`` =
  insurance fund / worst loss (``null`` where the denominator is not positive).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from solvent.engine.core import Engine
from solvent.engine.margin import MarginView, evaluate
from solvent.errors import InvalidInput
from solvent.proofs.pol import PolTree, canonical
from solvent.units import ZERO, exact, plain, to_decimal

__all__ = ["CAR_VERSION", "SHOCKS", "Reserve", "capital_adequacy", "read_reserves"]

CAR_VERSION = "solvent-car-v1"
SHOCKS = tuple(Decimal(s) for s in ("-0.30", "-0.20", "-0.10", "0.10", "0.20", "0.30"))
"""Every mark (and collateral price) times ``1 + shock``."""
METHOD = "solvent-shock-v1: all marks and collateral prices × (1 + shock), no liquidation, loss = Σ max(0, −equity)"

Reserve = tuple[Decimal, list[Any]]
"""An asset's reserve amount and its evidence (kept as given)."""


def read_reserves(raw: Any) -> dict[str, Reserve]:
    """``{"USDT": "1200000"}`` or ``{"USDT": {"amount": "1200000", "evidence": [...]}}``."""
    if not isinstance(raw, dict):
        raise InvalidInput("reserves: expected an object mapping each asset to an amount")
    out: dict[str, Reserve] = {}
    for asset, entry in raw.items():
        if isinstance(entry, dict) and set(entry) - {"amount", "evidence"}:  # a misspelt field is no evidence
            unknown = ", ".join(sorted(set(entry) - {"amount", "evidence"}))
            raise InvalidInput(f"reserves {asset}: unknown field(s) {unknown} (an asset takes amount and evidence)")
        amount, evidence = (entry.get("amount"), entry.get("evidence", [])) if isinstance(entry, dict) else (entry, [])
        if not isinstance(amount, str) or not isinstance(evidence, list):
            raise InvalidInput(f"reserves {asset}: the amount is a decimal string, the evidence a list")
        value = to_decimal(amount, f"reserves {asset}")
        if value < 0:
            raise InvalidInput(f"reserves {asset}: must be ≥ 0")
        out[asset] = (value, evidence)
    return out


@exact
def _stress(engine: Engine) -> tuple[str, Decimal, list[dict[str, str]]]:
    view = engine.margin_view()
    scenarios = [{"shock": plain(s)} for s in SHOCKS]
    losses = []
    for shock in SHOCKS:
        factor = 1 + shock
        shocked = MarginView(view.config, {s: m * factor for s, m in view.marks.items()},
                             {a: p * factor for a, p in view.asset_prices.items()}, view.scales)
        loss = ZERO
        for aid in sorted(engine.state.accounts):
            margin = evaluate(engine.state.accounts[aid], shocked)
            loss += max(ZERO, -margin.equity) + sum((max(ZERO, -part.equity) for part in margin.isolated), ZERO)
        losses.append(loss)
    digest = hashlib.sha256(canonical(scenarios)).hexdigest()
    return digest, max(losses), [{"shock": plain(s), "loss": plain(v)} for s, v in zip(SHOCKS, losses, strict=True)]


def _ratio(numerator: Decimal, denominator: Decimal) -> str | None:
    return plain(numerator / denominator) if denominator > 0 else None


@exact
def capital_adequacy(engine: Engine, tree: PolTree, reserves: Mapping[str, Reserve]) -> dict[str, Any]:
    """The report for the state ``engine`` holds, whose proof of liabilities is ``tree``."""
    header = tree.header
    _, root_values = tree.root
    liabilities: dict[str, dict[str, str]] = {}
    net: dict[str, Decimal] = {}
    for asset, (equity, debt) in zip(header["assets"], root_values, strict=True):
        unit = Decimal(1).scaleb(-int(asset["decimals"]))
        net[asset["symbol"]] = (equity - debt) * unit
        liabilities[asset["symbol"]] = {"equity": plain(equity * unit), "debt": plain(debt * unit),
                                        "net": plain(net[asset["symbol"]])}
    unknown = sorted(set(reserves) - set(net))
    if unknown:
        raise InvalidInput(f"reserves name {unknown[0]}, which no account holds (assets: {', '.join(sorted(net))})")
    settle = engine.config.settle_asset
    scenario_hash, worst, by_scenario = _stress(engine)
    fund = engine.state.insurance_fund
    return {
        "v": CAR_VERSION,
        "journal_seq": header["journal_seq"],
        "state_hash": header["state_hash"],
        "pol": {"snapshot_id": tree.snapshot_id.hex(), "root": tree.root[0].hex()},
        "liabilities": liabilities,
        "uncovered_deficit": header.get("uncovered_deficit", {}),
        "reserves": [{"asset": a, "amount": plain(amount), "evidence": evidence}
                     for a, (amount, evidence) in sorted(reserves.items())],
        "venue_funds": {"insurance_fund": {settle: plain(fund)},
                        "fee_income": {settle: plain(engine.state.fee_income)}},
        "stress": {"scenario_set_hash": scenario_hash, "worst_loss": {settle: plain(worst)}, "method": METHOD,
                   "scenarios": by_scenario},
        "ratios": {"reserve_coverage": {a: _ratio(amount, net[a]) for a, (amount, _) in sorted(reserves.items())},
                   "fund_cover": _ratio(fund, worst)},
    }
