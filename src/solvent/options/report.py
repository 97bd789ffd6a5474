"""The answers of ``solvent options price|margin|check|settle|liquidate`` and ``/v1/options/...``: one field list.

Money is in decimal strings (``docs/json-conventions.md``); the pricing math's floats are
written as the plain decimal of their shortest repr, so nothing a reader gets is a JSON float.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from solvent.errors import InvalidInput
from solvent.options.black76 import MAX_YEARS, Greeks, OptionKind, coin_delta, coin_value, greeks, implied_vol
from solvent.options.cross import CrossPortfolio, CrossReport
from solvent.options.expiry_settlement import ExpirySettlement, SettledPortfolio, observations_used, time_text
from solvent.options.liquidation import ReductionStep
from solvent.options.margin import MarginReport, ScenarioResult
from solvent.options.portfolio import OptionPortfolio, portfolio_json
from solvent.options.pretrade import PreTrade
from solvent.options.settlement import Settlement
from solvent.units import plain, round_up

__all__ = ["PricedOption", "check_json", "cross_json", "liquidation_json", "margin_json", "number", "price_option",
           "settlement_json"]


def number(value: float) -> str:
    """A float of the pricing math as a plain decimal string (its shortest repr, exactly)."""
    return plain(Decimal(repr(value)))


def _finite(value: float, name: str) -> float:
    if not math.isfinite(value):
        raise InvalidInput(f"{name} must be a finite number, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class PricedOption:
    kind: OptionKind
    forward: float
    strike: float
    days: float
    rate: float
    vol: float
    implied: bool
    """True when ``vol`` was implied from a premium."""
    greeks: Greeks
    inverse: bool

    @property
    def price_coin(self) -> float:
        return coin_value(self.greeks.price, self.forward)

    @property
    def delta_coin(self) -> float:
        return coin_delta(self.greeks.delta, self.price_coin)

    def json(self) -> dict[str, Any]:
        g = self.greeks
        out: dict[str, Any] = {"type": self.kind, **{k: number(v) for k, v in (
            ("forward", self.forward), ("strike", self.strike), ("vol", self.vol), ("expiry_days", self.days),
            ("years", self.days / 365.0), ("rate", self.rate), ("price", g.price), ("delta", g.delta),
            ("gamma", g.gamma), ("vega", g.vega), ("theta", g.theta), ("rho", g.rho))},
            "vol_implied": self.implied, "inverse": self.inverse}
        if self.inverse:
            out.update(price_coin=number(self.price_coin), delta_coin=number(self.delta_coin))
        return out


def price_option(kind: str, forward: float, strike: float, days: float, vol: float | None = None,
                 premium: float | None = None, rate: float = 0.0, inverse: bool = False) -> PricedOption:
    """Black-76 of one option, at ``vol`` or at the volatility ``premium`` implies (USD; coin
    when ``inverse``): exactly one of them."""
    if kind not in ("call", "put"):
        raise InvalidInput(f"option type must be call or put, got {kind!r}")
    option_kind: OptionKind = "call" if kind == "call" else "put"
    for name, value in (("forward", forward), ("strike", strike), ("expiry days", days), ("rate", rate)):
        _finite(value, name)
    if not 0 <= days <= MAX_YEARS * 365:  # in the caller's days, not black76's years (-1 read "-0.00273...")
        raise InvalidInput(f"expiry days must be between 0 and {MAX_YEARS * 365:g}, got {days:g}")
    if (vol is None) == (premium is None):
        raise InvalidInput("give a vol or a premium (one of them)")
    years = days / 365.0
    if vol is None:
        assert premium is not None
        usd = _finite(premium, "premium") * (forward if inverse else 1.0)
        vol = implied_vol(option_kind, usd, forward, strike, years, rate)
    g = greeks(option_kind, forward, strike, _finite(vol, "vol"), years, rate)
    return PricedOption(option_kind, forward, strike, days, rate, vol, premium is not None, g, inverse)


def _scenario_json(report: MarginReport, result: ScenarioResult) -> dict[str, Any]:
    s = result.scenario
    return {"move": plain(s.move), "vol": s.vol, "weight": plain(s.weight), "extended": s.extended,
            "pnl": plain(report.pnl_amount(result))}


def margin_json(report: MarginReport, portfolio: OptionPortfolio) -> dict[str, Any]:
    """A margin report and the portfolio as read (what was implied shown)."""
    return {"rules": report.rules, "method": report.method, "settle_asset": report.settle,
            "equity": plain(report.equity), "maintenance_margin": plain(report.maintenance_margin),
            "initial_margin": plain(report.initial_margin), "excess_over_maintenance": plain(report.excess),
            "worst_scenario": None if report.worst is None else _scenario_json(report, report.worst),
            "contingencies": {name: plain(value) for name, value in report.contingencies},
            "scenarios": [_scenario_json(report, r) for r in report.scenarios],
            "positions": [{"instrument": p.instrument,  # rounded up to the quantum, as the totals are
                           "initial_margin": plain(round_up(p.initial_margin, report.quantum)),
                           "maintenance_margin": plain(round_up(p.maintenance_margin, report.quantum))}
                          for p in report.positions],
            "margin_tier": None if report.tier is None else {
                "tier": report.tier.tier, "margin_factor": plain(report.tier.factor),
                "seller_contracts": plain(report.tier.seller_contracts)},
            "notes": list(report.notes),
            "portfolio": portfolio_json(portfolio)}


def cross_json(report: CrossReport, portfolio: CrossPortfolio) -> dict[str, Any]:
    """A cross-currency report: totals in the margin asset, the collateral, and each group's
    own report (in its settlement asset) with what it adds in the margin asset."""
    return {"rules": report.rules, "margin_asset": report.margin_asset, "equity": plain(report.equity),
            "maintenance_margin": plain(report.maintenance_margin), "initial_margin": plain(report.initial_margin),
            "excess_over_maintenance": plain(report.excess),
            "collateral_lines": [{"asset": line.asset, "balance": plain(line.balance),
                            "index_price": None if line.price is None else plain(line.price),
                            "haircut_rate": plain(line.haircut), "collateral_value": plain(line.value)}
                           for line in report.collateral.lines],
            "groups": [{**margin_json(group.report, part), "settle_price": plain(group.price),
                        "maintenance_margin_in_margin_asset": plain(group.maintenance_margin),
                        "initial_margin_in_margin_asset": plain(group.initial_margin),
                        "equity_in_margin_asset": plain(group.equity)}
                       for group, part in zip(report.groups, portfolio.groups, strict=True)]}


def settlement_json(spec: ExpirySettlement, done: Settlement, settled: SettledPortfolio | None) -> dict[str, Any]:
    """An expiry settlement: the price, each source's TWAP and weight, the sources left out, every
    observation used (the settlement file's form: ``expiry_settlement.observations_used``) and,
    with a portfolio, what it paid and the portfolio after it."""
    weights, capped, band = dict(done.weights), dict(done.capped), spec.rules.median_band
    return {"expiry": spec.expiry, "expiry_time": time_text(spec.expiry_ms),
            "window_start": time_text(spec.expiry_ms - spec.rules.window_ms), "tick": plain(spec.tick),
            "settlement_price": plain(done.price),
            "median": None if done.median is None else plain(done.median),
            "sources": [{"source": s, "twap": plain(t), "capped_to": plain(capped[s]) if s in capped else None,
                         "weight": plain(weights[s])} for s, t in done.source_twaps],
            "excluded": [{"source": s, "reason": why} for s, why in done.excluded],
            "rules": {"window_ms": spec.rules.window_ms, "min_sources": spec.rules.min_sources,
                      "max_weight": plain(spec.rules.max_weight), "min_coverage": plain(spec.rules.min_coverage),
                      "max_gap_ms": spec.rules.max_gap_ms, "median_band": None if band is None else plain(band)},
            "observations_used": observations_used(done),
            "portfolio": None if settled is None else {
                "settle_asset": settled.settle_asset, "quantum": plain(settled.quantum),
                "options": [{"instrument": e.instrument, "qty": plain(e.qty),
                             "payoff_per_option": plain(e.payoff_per_option), "cash": plain(e.cash)}
                            for e in settled.options],
                "futures": [{"instrument": f.instrument, "qty": plain(f.qty), "entry": plain(f.entry),
                             "cash": plain(f.cash)} for f in settled.futures],
                "wallet_before": plain(settled.wallet_before), "wallet_after": plain(settled.wallet_after),
                "portfolio_after": settled.portfolio_after}}


def check_json(answer: PreTrade) -> dict[str, Any]:
    """A pre-trade check of an option or future order on a portfolio (``pretrade.check_order``)."""
    return {"accepted": answer.accepted, "reason": answer.reason,
            "initial_margin_before": plain(answer.initial_margin_before),
            "initial_margin_after": plain(answer.initial_margin_after),
            "maintenance_margin_after": plain(answer.maintenance_margin_after),
            "equity_after": plain(answer.equity_after),
            "order_margin": None if answer.order_margin is None else plain(answer.order_margin),
            "available": None if answer.available is None else plain(answer.available)}


def liquidation_json(plan: list[ReductionStep], after_raw: dict[str, Any], after: MarginReport) -> dict[str, Any]:
    """A liquidation plan (``liquidation.plan_liquidation``): each step, the equity and margins of
    the portfolio after it, whether its equity then covers MM (else the rest is the fund's and
    ADL's), and that portfolio in the file's form."""
    return {"steps": [{"instrument": s.instrument, "kind": s.kind, "qty": plain(s.qty),
                       "maintenance_margin_before": plain(s.maintenance_margin_before),
                       "maintenance_margin_after": plain(s.maintenance_margin_after),
                       "relief_per_notional": plain(s.relief_per_notional)} for s in plan],
            "settle_asset": after.settle, "equity_after": plain(after.equity),
            "maintenance_margin_after": plain(after.maintenance_margin),
            "initial_margin_after": plain(after.initial_margin),
            "covered": after.equity >= after.maintenance_margin,
            "portfolio_after": after_raw}
