"""Volatility-scaled maintenance margin in the engine: the schedule and the state it keeps.

When the engine runs a ``VolatilityMMRule`` (``EngineConfig.volatility_rule``), the update
instants are the multiples of ``update_interval_ms`` since time 0. When ``AdvanceTime``
moves time from ``t0`` to ``t1``, every instant ``k × interval`` with ``t0 < k × interval ≤ t1``
is an update, for every market of the profile that has a mark and is not settled:

1. the mark is sampled (``VolatilityState.marks`` keeps the last ``window``); prices only
   change through commands, so the mark at every instant of one advance is the current mark;
2. once ``window`` marks are held, ``σ = ewma_volatility(marks, λ)`` and the running
   maximum over the lookback is updated (``risk.volatility.push_peak``);
3. the scale is ``maintenance_scale(rule, σ, stressed σ)`` (``risk/volatility.py``); until
   a full window is held it stays 1 (the venue's tables as published).

A market whose scale changed gets one ``MaintenanceScaleChanged`` event per advance (the
scale after its last instant) and is reported in ``Outcome.rerated``: the engine then
re-margins every holder exactly (``Engine._remargin``). Position MM is table MM × scale
(``engine/margin.py``, ``position_mm``).

A long advance crosses many instants with one mark: after ``window`` of them the marks are
all equal and σ is 0, so only the first ``window`` instants and the last one are computed;
the instants skipped between would each push σ = 0, which the last one's push supersedes,
so the state is the one the instant-by-instant computation gives.
"""

from __future__ import annotations

from decimal import Decimal

from solvent.engine.context import Ctx, Outcome
from solvent.engine.events import MaintenanceScaleChanged
from solvent.engine.state import MarketState, VolatilityState
from solvent.risk.volatility import VolatilityMMRule, ewma_volatility, maintenance_scale, push_peak
from solvent.units import ZERO

__all__ = ["update_instants", "update_scales"]


def update_instants(rule: VolatilityMMRule, before_ms: int, now_ms: int) -> list[int]:
    """The update instants in ``(before_ms, now_ms]`` that need computing (module docstring)."""
    interval = rule.update_interval_ms
    first, last = before_ms // interval + 1, now_ms // interval
    if last < first:
        return []
    ks = list(range(first, min(last, first + rule.window - 1) + 1))
    if ks[-1] != last:
        ks.append(last)
    return [k * interval for k in ks]


def _step(rule: VolatilityMMRule, vol: VolatilityState, at_ms: int, mark: Decimal) -> VolatilityState:
    """One update instant: sample ``mark``; with a full window, new σ, peaks and scale."""
    marks = (*vol.marks, mark)[-rule.window:]
    if len(marks) < rule.window:
        return VolatilityState(vol.scale, vol.volatility, marks, vol.peaks)
    sigma = ewma_volatility(marks, rule.lam)
    peaks = push_peak(vol.peaks, at_ms, sigma, rule.lookback_ms)
    return VolatilityState(maintenance_scale(rule, sigma, peaks[0][1]), sigma, marks, peaks)


def _update_market(rule: VolatilityMMRule, market: MarketState, instants: list[int]) -> MaintenanceScaleChanged | None:
    mark = market.mark
    assert mark is not None
    before = market.volatility or VolatilityState()
    vol = before
    for at_ms in instants:
        vol = _step(rule, vol, at_ms, mark)
    market.volatility = vol
    if vol.scale == before.scale:
        return None
    stressed = max(vol.peaks[0][1] if vol.peaks else ZERO, rule.stressed_vol)
    return MaintenanceScaleChanged(market.symbol, vol.volatility, stressed, vol.scale)


def update_scales(ctx: Ctx, before_ms: int) -> Outcome:
    """Run the updates due as time moved from ``before_ms`` to ``ctx.state.now_ms`` (commit path)."""
    out = Outcome()
    rule = ctx.config.volatility_rule
    if rule is None:
        return out
    instants = update_instants(rule, before_ms, ctx.state.now_ms)
    if not instants:
        return out
    instruments = ctx.config.profile.instruments
    for symbol in sorted(ctx.state.markets):
        market = ctx.state.markets[symbol]
        if symbol not in instruments or market.settled or market.mark is None:
            continue
        changed = _update_market(rule, market, instants)
        if changed is not None:
            out.events.append(changed)
            out.rerated.add(symbol)
    return out
