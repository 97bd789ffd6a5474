"""Standard and portfolio (scenario) margin of an ``OptionPortfolio``, in its settlement asset.

**Standard** (``StandardRules``) is exact ``Decimal`` arithmetic: each short option's IM and
MM from the rule's fractions (scaled by the margin factor of the portfolio's position tier,
``margin_tier``, where the rules have tiers), the mark and the out-of-the-money amount (from
the index or the option's forward), times its quantity; each future's from its size-dependent
rate. Longs pay their premium and need nothing more.

**Scenarios** (``ScenarioRules``): every position's P&L, in the settlement asset, in each
scenario: the underlying (index and every forward alike) moved by ``m`` and every option's
volatility shocked (``shocked_vol``), valued ``look_ahead_days`` later with Black-76, less its
value now at its own volatility (so the unmoved, unshocked scenario is exactly 0). The
portfolio's P&L in a scenario is the sum of its positions' (``scan``); the extended moves are
weighted (a fixed weight, or ``dampener / |m|`` capped at 1). MM = the worst loss over all
scenarios (0 when none loses) + contingencies; IM = ``im_multiple`` × MM.

**Money** (``docs/exact-money.md``): the scenario P&L are floats; the worst loss is converted
exactly (``Decimal.from_float``), the contingencies added in ``Decimal``, and the sum rounded up to
the asset's quantum once: the requirement is never below what the floats say. Standard
margin is rounded up to the quantum once, per portfolio.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from solvent.errors import InvalidInput
from solvent.options import _formulas as formulas
from solvent.options.instruments import OptionInstrument
from solvent.options.portfolio import FutureHolding, OptionHolding, OptionPortfolio, priced_at_marks
from solvent.options.rules import LEG_CODE, OptionRules, ScenarioRules, StandardRules, VolLeg
from solvent.units import ZERO, exact, round_down, round_up

__all__ = [
    "MarginReport",
    "MarginTier",
    "PositionMargin",
    "Scenario",
    "ScenarioResult",
    "margin",
    "margin_tier",
    "portfolio_margin",
    "scan",
    "scenario_grid",
    "shocked_vol",
    "short_option_im",
    "standard_margin",
]


@dataclass(frozen=True, slots=True)
class Scenario:
    move: Decimal
    """The underlying's relative move (0.16: up 16 %)."""
    vol: VolLeg
    weight: Decimal
    extended: bool = False

    @property
    def label(self) -> str:
        pct = format(float(self.move * 100), ".4g")  # a label: 1/3 of 10 % shows as 3.333
        return f"{'+' if self.move > 0 else ''}{pct}% vol {self.vol}{' (extended)' if self.extended else ''}"


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    scenario: Scenario
    pnl: float
    """The portfolio's P&L, weighted, in the settlement asset (profit positive)."""


@dataclass(frozen=True, slots=True)
class PositionMargin:
    instrument: str
    initial_margin: Decimal
    maintenance_margin: Decimal


@dataclass(frozen=True, slots=True)
class MarginTier:
    """The position tier a standard-margin portfolio's short options fall in (OKX)."""

    tier: int
    """From 1."""
    factor: Decimal
    """The margin factor that scales the rule's fractions."""
    seller_contracts: Decimal
    """The short options counted, in the venue's contracts."""


@dataclass(frozen=True, slots=True)
class MarginReport:
    rules: str
    method: str
    settle: str
    quantum: Decimal
    """The settlement asset's money quantum (amounts are multiples of it)."""
    equity: Decimal
    maintenance_margin: Decimal
    initial_margin: Decimal
    worst: ScenarioResult | None = None
    scenarios: tuple[ScenarioResult, ...] = ()
    contingencies: tuple[tuple[str, Decimal], ...] = ()
    positions: tuple[PositionMargin, ...] = ()
    tier: MarginTier | None = None
    notes: tuple[str, ...] = ()
    """What the margin changed in its inputs, one line each (``portfolio.priced_at_marks``)."""

    @exact
    def pnl_amount(self, result: ScenarioResult) -> Decimal:
        """A scenario's P&L as money: the float converted exactly, rounded down to the quantum
        (a gain is owed to the holder; a loss rounds to the larger loss)."""
        return round_down(Decimal.from_float(result.pnl), self.quantum)

    @property
    def excess(self) -> Decimal:
        """Equity above MM (negative: below maintenance)."""
        return self.equity - self.maintenance_margin


def margin(portfolio: OptionPortfolio, rules: OptionRules) -> MarginReport:
    """The rule set's margin of ``portfolio``."""
    if rules.method == "standard":
        return standard_margin(portfolio, rules)
    return portfolio_margin(portfolio, rules)


# -- standard ------------------------------------------------------------------------------


@exact
def _option_standard(o: OptionHolding, index: Decimal, s: StandardRules, factor: Decimal) -> tuple[Decimal, Decimal]:
    """(IM, MM) of one option position in its settlement asset (``StandardRules``)."""
    if o.qty >= 0:
        return ZERO, ZERO
    strike = o.instrument.strike
    ref = index if s.otm_against == "index" else o.forward
    otm = max(strike - ref, ZERO) if o.instrument.kind == "call" else max(ref - strike, ZERO)
    if o.instrument.inverse:  # coin per option: fractions as they are, the OTM amount over the reference
        im = max(s.im_base - otm / ref, s.im_floor) * factor + o.mark
        floor = s.mm_base if o.instrument.kind == "call" else max(s.mm_base, s.put_mm_mark * o.mark)
    else:  # the same in USD per option: the fractions of the index
        im = max(s.im_base * index - otm * index / ref, s.im_floor * index) * factor + o.mark
        floor = s.mm_base * index if o.instrument.kind == "call" else max(s.mm_base * index, s.put_mm_mark * o.mark)
    mm = floor * factor + o.mark
    if o.instrument.kind == "put":
        im = max(im, mm)
    size = -o.qty
    return im * size, mm * size


@exact
def short_option_im(o: OptionHolding, index: Decimal, s: StandardRules, factor: Decimal) -> Decimal:
    """The IM of one unit (one coin of underlying) of ``o``'s option held short."""
    return _option_standard(replace(o, qty=Decimal(-1)), index, s, factor)[0]


@exact
def _future_standard(f: FutureHolding, rules: OptionRules, inverse: bool) -> tuple[Decimal, Decimal]:
    if rules.futures is None:
        raise InvalidInput(f"option rules {rules.name} margin options only: {f.name} has no futures rules here")
    # the position's size in coin now: an inverse future's USD notional (qty × entry) at the mark;
    # its rates step with that same count (found by a new-user pass: they stepped with qty, the
    # coins at entry, and were applied to the coins at the mark)
    coins = abs(f.qty) * f.entry / f.mark if inverse else abs(f.qty)
    im_rate, mm_rate = rules.futures.rates(coins)
    size = coins if inverse else coins * f.mark  # the margin's base: coin (inverse) or USD (linear)
    return im_rate * size, mm_rate * size


@exact
def margin_tier(portfolio: OptionPortfolio, s: StandardRules) -> MarginTier | None:
    """The position tier of ``portfolio``'s short options under ``s`` (``None``: no tiers)."""
    if s.margin_factor is None:
        return None
    short = sum((-o.qty for o in portfolio.options if o.qty < 0), ZERO)
    tier, factor = s.margin_factor.tier_of(short)
    return MarginTier(tier, factor, short / s.margin_factor.contract_size)


@exact
def standard_margin(portfolio: OptionPortfolio, rules: OptionRules) -> MarginReport:
    if rules.standard is None:
        raise InvalidInput(f"option rules {rules.name} are not standard margin")
    s = rules.standard.for_underlying(portfolio.base, rules.name)
    tier = margin_tier(portfolio, s)
    factor = Decimal(1) if tier is None else tier.factor
    parts: list[PositionMargin] = []
    for o in portfolio.options:
        im, mm = _option_standard(o, portfolio.index, s, factor)
        parts.append(PositionMargin(o.instrument.name, im, mm))
    for f in portfolio.futures:
        im, mm = _future_standard(f, rules, portfolio.inverse)
        parts.append(PositionMargin(f.name, im, mm))
    quantum = rules.quantum_of(portfolio.settle)
    return MarginReport(rules.name, rules.method, portfolio.settle, quantum, portfolio.equity(quantum),
                        round_up(sum((p.maintenance_margin for p in parts), ZERO), quantum),
                        round_up(sum((p.initial_margin for p in parts), ZERO), quantum), positions=tuple(parts),
                        tier=tier)


# -- scenarios -----------------------------------------------------------------------------


@exact
def scenario_grid(rules: ScenarioRules) -> tuple[Scenario, ...]:
    """The regular moves × volatility legs (move first, legs in the rule's order), then the
    extended moves with their weights."""
    one = Decimal(1)
    grid = [Scenario(m, leg, one) for m in rules.moves() for leg in rules.vol_legs]
    for m in rules.extended_moves:
        if rules.extended_weight is not None:
            weight = rules.extended_weight
        else:
            assert rules.extended_dampener is not None
            weight = min(one, rules.extended_dampener / abs(m))
        grid.append(Scenario(m, rules.extended_vol, weight, extended=True))
    return tuple(grid)


def shocked_vol(vol: float, days: float, leg: VolLeg, rules: ScenarioRules) -> float:
    """``vol`` in the ``leg`` of the grid for an option ``days`` from expiry.

    ``relative``: up σ (1 + vol_up f), at least ``min_vol_up``; down σ (1 − vol_down f), at
    least 0; f = (reference_days / days)^p, p = ``vol_power_short`` under the reference days,
    ``vol_power_long`` from there. ``absolute``: σ ± the shock, at least 0."""
    return formulas.shocked_vol(vol, days, LEG_CODE[leg], *shock_params(rules))


def shock_params(rules: ScenarioRules) -> tuple[bool, float, float, float, float, float, float]:
    """The volatility shock's parameters as the formula takes them (``_formulas.shocked_vol``)."""
    return (rules.vol_shift == "absolute", float(rules.vol_up), float(rules.vol_down), float(rules.min_vol_up or 0),
            float(rules.vol_power_short), float(rules.vol_power_long), float(rules.reference_days))


def _option_pnl(o: OptionHolding, index: float, grid: tuple[Scenario, ...], rules: ScenarioRules) -> list[float]:
    """One unit of an option position's P&L in each scenario (unweighted), in its settlement
    asset: the same operations as ``_kernel.reprice_loop``. It does not depend on the quantity
    held, so a liquidation plan, which margins the same instruments at other quantities step
    after step, computes each once (``_unit_pnl``: a bounded cache of a pure function, the same
    floats; a plan of 20 steps on 20 options took 0.70 s without it)."""
    return list(_unit_pnl(o.instrument, o.forward, o.vol, o.years, index, grid, rules))


@functools.lru_cache(maxsize=4_096)
def _unit_pnl(instrument: OptionInstrument, forward_price: Decimal, vol: float, years: float, index: float,
              grid: tuple[Scenario, ...], rules: ScenarioRules) -> tuple[float, ...]:
    forward, strike, is_call = float(forward_price), float(instrument.strike), instrument.kind == "call"
    inverse = instrument.inverse
    absolute, *shock = shock_params(rules)
    now = formulas.undiscounted(is_call, forward, strike, vol, years)
    if inverse:
        now = now / index
    later = max(years - float(rules.look_ahead_days) / 365.0, 0.0)
    days = years * 365.0
    out = []
    for s in grid:
        m = float(s.move)
        sigma = formulas.shocked_vol(vol, days, LEG_CODE[s.vol], absolute, *shock)
        value = formulas.undiscounted(is_call, forward * (1.0 + m), strike, sigma, later)
        if inverse:
            value = value / (index * (1.0 + m))
        out.append(value - now)
    return tuple(out)


def _future_pnl(f: FutureHolding, inverse: bool, grid: tuple[Scenario, ...]) -> list[float]:
    """One coin of a future's P&L in each scenario: on an inverse one, whose USD notional is
    one coin at the entry, ``(entry / mark) × (1 − 1 / (1 + m))`` coin (the change of
    ``1 − entry / mark``); ``mark × m`` on a linear one."""
    mark = float(f.mark)
    ratio = float(f.entry) / mark
    return [ratio * (1.0 - 1.0 / (1.0 + float(s.move))) if inverse else mark * float(s.move) for s in grid]


def scan(vectors: list[list[float]], weights: list[float] | None = None,
         quantities: list[float] | None = None) -> tuple[list[float], int]:
    """The portfolio's P&L per scenario, each position's ``quantity × vector`` added in order
    (quantities default to 1), then weighted; and the index of the worst scenario (the first
    of equals). The operations, in order, of ``_kernel.account_loop``."""
    if not vectors:
        raise InvalidInput("a scan needs at least one position")
    size = len(vectors[0])
    if any(len(v) != size for v in vectors):
        raise InvalidInput("every position's P&L vector must have one entry per scenario")
    qty = quantities if quantities is not None else [1.0] * len(vectors)
    total: list[float] = []
    for s in range(size):
        pnl = 0.0
        for q, vector in zip(qty, vectors, strict=True):
            pnl += q * vector[s]
        total.append(pnl * weights[s] if weights is not None else pnl)
    worst = min(range(size), key=total.__getitem__)
    return total, worst


@exact
def contingencies(options: Iterable[tuple[tuple[object, Decimal], Decimal]], futures: Iterable[Decimal],
                  rules: ScenarioRules, unit: Decimal) -> tuple[tuple[str, Decimal], ...]:
    """Per net short option of each (expiry, strike), calls and puts netted (``options``: each
    position's key and quantity); on the futures that offset each other (the smaller of the
    long and the short coins; ``futures``: each position's quantity); in ``unit``s (1 coin, or
    that many coins of index value on a linear portfolio). One home for a portfolio's margin
    and a scenario book's."""
    net: dict[tuple[object, Decimal], Decimal] = defaultdict(lambda: ZERO)
    for key, qty in options:
        net[key] += qty
    short_options = sum((-q for q in net.values() if q < 0), ZERO)
    longs = shorts = ZERO
    for qty in futures:
        longs, shorts = (longs + qty, shorts) if qty > 0 else (longs, shorts - qty)
    return (("net_short_options", short_options * rules.option_contingency * unit),
            ("offsetting_futures", min(longs, shorts) * rules.futures_contingency * unit))


def _contingencies(portfolio: OptionPortfolio, rules: ScenarioRules) -> tuple[tuple[str, Decimal], ...]:
    return contingencies((((o.instrument.expiry, o.instrument.strike), o.qty) for o in portfolio.options),
                         (f.qty for f in portfolio.futures), rules,
                         Decimal(1) if portfolio.inverse else portfolio.index)


@exact
def portfolio_margin(portfolio: OptionPortfolio, rules: OptionRules) -> MarginReport:
    s = rules.scenarios
    if s is None:
        raise InvalidInput(f"option rules {rules.name} are not scenario (portfolio) margin")
    portfolio, notes = priced_at_marks(portfolio)
    grid = scenario_grid(s)
    index = float(portfolio.index)
    vectors = [_option_pnl(o, index, grid, s) for o in portfolio.options]
    vectors += [_future_pnl(f, portfolio.inverse, grid) for f in portfolio.futures]
    quantities = [float(o.qty) for o in portfolio.options] + [float(f.qty) for f in portfolio.futures]
    total, worst = scan(vectors, [float(g.weight) for g in grid], quantities)
    results = tuple(ScenarioResult(g, pnl) for g, pnl in zip(grid, total, strict=True))
    if not all(math.isfinite(pnl) for pnl in total):
        raise InvalidInput("the portfolio's inputs overflow the pricing (a volatility, forward or strike out of range)")
    loss = max(-total[worst], 0.0)
    contingencies = _contingencies(portfolio, s)
    quantum = rules.quantum_of(portfolio.settle)
    mm = round_up(Decimal.from_float(loss) + sum((c for _, c in contingencies), ZERO), quantum)
    return MarginReport(rules.name, rules.method, portfolio.settle, quantum, portfolio.equity(quantum), mm,
                        round_up(mm * s.im_multiple, quantum), results[worst], results, contingencies, notes=notes)
