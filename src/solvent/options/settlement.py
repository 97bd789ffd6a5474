"""Option expiry settlement that one source cannot move far: a capped-weight average of each
source's 30-minute TWAP, refused on a stale or thin window; then exercise and cash settlement.

Procedure (``settlement_price``):

1. Each source's observations ``(ts_ms, price)`` are a step function; its TWAP over
   ``[expiry − window, expiry)`` is ``market.settlement.twap``, the futures' own.
2. A source takes part only if it has a fresh price for at least ``min_coverage`` of the
   window, and its last observation is at most ``max_gap_ms`` before the expiry. A price is
   fresh for ``max_gap_ms`` after it was observed (``fresh_ms``): a source silent for most of
   the window does not count as covering it because its last price stays in force (found by a
   new-user pass: one print before the window and one a second before the expiry covered it
   all). Fewer than ``min_sources`` such sources: no settlement (``StaleMarketData``); the
   expiry waits for a price it can trust.
3. Each TWAP is capped to within ``median_band`` of the median of the sources' TWAPs (the
   middle one; the mean of the middle two for an even count): a TWAP above
   ``median × (1 + band)`` counts as that, one below ``median × (1 − band)`` as that. This is
   the capped median of Deribit's index (±0.5 % of the median, the default; Thalex and FTX
   publish the same rule), applied here to each source's TWAP over the window, so a source
   pushed by Δ counts for at most ``band × median`` of it while it cannot move the median
   (three sources or more; with two the median is their mean, and moves by Δ / 2).
   ``median_band=None``: no band.
4. The settlement price is the weighted mean of those values, every weight capped at
   ``max_weight`` (``capped_weights``: a capped source's excess is spread over the others in
   proportion to theirs, until none is above the cap). So a source pushed by Δ moves the price
   by its final weight × Δ, at most ``max_weight × Δ``, and with the band by at most
   ``max_weight × band × median`` while the others hold the median.
5. The price is rounded half-even to the tick (``market.settlement``'s rule).

Every observation used is returned with the price (``Settlement.observations``), so anyone
can recompute it. Exercise (``exercise``) is automatic for in-the-money options: a call pays
``max(S − K, 0)``, a put ``max(K − S, 0)`` per option, in USD, or divided by ``S`` in coin
for an inverse option; the per-option amount is rounded down to the settlement asset's
quantum once, so the long receives and the short pays exactly the same amount.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from solvent.errors import InvalidInput, StaleMarketData
from solvent.market.settlement import SETTLEMENT_WINDOW_MS, twap
from solvent.options.instruments import OptionInstrument
from solvent.units import ZERO, exact, positive, round_down

__all__ = ["Exercise", "Settlement", "SettlementRules", "capped_weights", "exercise", "fresh_ms", "median_of",
           "settlement_price"]


@dataclass(frozen=True, slots=True)
class SettlementRules:
    window_ms: int = SETTLEMENT_WINDOW_MS
    min_sources: int = 3
    max_weight: Decimal = Decimal("0.4")
    """No source weighs more than this in the average (a fraction; at least 1 / min_sources)."""
    min_coverage: Decimal = Decimal("0.9")
    """The fraction of the window in which a source must have a fresh price."""
    max_gap_ms: int = 60_000
    """How long a price stays fresh: a source whose last observation is older than this at
    expiry is stale, and one silent longer inside the window covers only this much of the
    silence."""
    median_band: Decimal | None = Decimal("0.005")
    """Each source's TWAP is capped to within this fraction of the sources' median (step 3 of
    the module docstring); ``None``: no band."""

    def __post_init__(self) -> None:
        if self.window_ms <= 0 or self.min_sources < 1 or self.max_gap_ms < 0:
            raise InvalidInput("settlement rules: window_ms > 0, min_sources >= 1 and max_gap_ms >= 0 are needed")
        if not (0 < self.min_coverage <= 1):
            raise InvalidInput(f"settlement rules: min_coverage must be in (0, 1], got {self.min_coverage}")
        # max_weight >= 1 / min_sources, multiplied out: the division was inexact and, run when
        # this module is imported (the default rules), set the process's Inexact flag
        if not (self.max_weight * self.min_sources >= 1 and self.max_weight <= 1):
            raise InvalidInput(f"settlement rules: max_weight must be in [1/min_sources, 1], got {self.max_weight}")
        if self.median_band is not None and not (0 <= self.median_band <= 1):
            raise InvalidInput(f"settlement rules: median_band must be in [0, 1] (or none), got {self.median_band}")


@dataclass(frozen=True, slots=True)
class Settlement:
    price: Decimal
    source_twaps: tuple[tuple[str, Decimal], ...]
    """Each source that took part and its TWAP."""
    weights: tuple[tuple[str, Decimal], ...]
    """Each source's final (capped) weight."""
    excluded: tuple[tuple[str, str], ...]
    """Each source left out and why."""
    observations: tuple[tuple[str, int, Decimal], ...]
    """Every observation in the window, or in force at its start: (source, ts_ms, price)."""
    median: Decimal | None = None
    """The median of the sources' TWAPs, with a ``median_band`` (``None`` without)."""
    capped: tuple[tuple[str, Decimal], ...] = ()
    """Each source whose TWAP the band capped, and the value it counts for instead."""


@exact
def capped_weights(weights: Mapping[str, Decimal], cap: Decimal) -> dict[str, Decimal]:
    """``weights`` normalised to sum to 1 with none above ``cap``: each source above the cap is
    set to it and the rest of the total is shared by the others in proportion to their
    weights, repeated until none is above (at most one pass per source)."""
    if not weights or any(w <= 0 for w in weights.values()):
        raise InvalidInput("capped weights need at least one weight, all > 0")
    if cap * len(weights) < 1:
        raise InvalidInput(f"{len(weights)} sources cannot each weigh at most {cap}")
    fixed: dict[str, Decimal] = {}
    while True:
        free = {k: w for k, w in weights.items() if k not in fixed}
        room = 1 - sum(fixed.values(), ZERO)
        total = sum(free.values(), ZERO)
        scaled = {k: room * w / total for k, w in free.items()}
        over = {k for k, w in scaled.items() if w > cap}
        if not over:
            return {**fixed, **scaled}
        for k in over:
            fixed[k] = cap


def _window(source: str, samples: Sequence[tuple[int, Decimal]], start: int, end: int) -> list[tuple[int, Decimal]]:
    """The observations that matter for ``[start, end)``: the last one before ``start`` and every
    one inside."""
    kept: list[tuple[int, Decimal]] = []
    for a, b in itertools.pairwise(samples):  # two at one time: which price held?
        if b[0] <= a[0]:  # named, source and time (found by review: the message named neither)
            raise InvalidInput(f"{source}: observations must be in time order, one per time: {b[0]} follows {a[0]}")
    for ts, price in samples:
        if ts < start:
            kept = [(ts, price)]
        elif ts < end:
            kept.append((ts, price))
    return kept


def fresh_ms(samples: Sequence[tuple[int, Decimal]], start: int, end: int, fresh_for: int) -> int:
    """The ms of ``[start, end)`` in which the step function ``samples`` (in time order) has a
    price observed at most ``fresh_for`` ms before: each observation counts until the next one
    or until it is ``fresh_for`` old, whichever comes first."""
    total = 0
    for k, (ts, _) in enumerate(samples):
        until = min(samples[k + 1][0] if k + 1 < len(samples) else end, end, ts + fresh_for)
        total += max(until - max(ts, start), 0)
    return total


@exact
def settlement_price(observations: Mapping[str, Sequence[tuple[int, Decimal]]], expiry_ms: int,
                     rules: SettlementRules = SettlementRules(), tick: Decimal | None = None,
                     source_weights: Mapping[str, Decimal] | None = None) -> Settlement:
    """The settlement price at ``expiry_ms`` from each source's observations in time order
    (module docstring); ``source_weights`` default to equal."""
    start, end = expiry_ms - rules.window_ms, expiry_ms
    twaps: dict[str, Decimal] = {}
    excluded: list[tuple[str, str]] = []
    used: list[tuple[str, int, Decimal]] = []
    for source in sorted(observations):
        samples = _window(source, [(ts, positive(p, f"{source} price")) for ts, p in observations[source]], start,
                          end)
        if not samples:
            excluded.append((source, "no observation before expiry"))
            continue
        covered = fresh_ms(samples, start, end, rules.max_gap_ms)
        if Decimal(covered) < rules.min_coverage * rules.window_ms:
            excluded.append((source, f"has a price at most {rules.max_gap_ms} ms old for {covered} ms of the "
                                     f"{rules.window_ms} ms window"))
            continue
        if end - samples[-1][0] > rules.max_gap_ms:
            excluded.append((source, f"last observation {end - samples[-1][0]} ms before expiry"))
            continue
        twaps[source] = twap(samples, start, end)
        used += [(source, ts, price) for ts, price in samples]
    if len(twaps) < rules.min_sources:
        # found by a new-user pass: with none left out, "(no source)" read as if the file had none
        reasons = "; ".join(f"{s}: {why}" for s, why in excluded) or f"{len(observations)} in all, none left out"
        raise StaleMarketData(f"no settlement: {len(twaps)} usable sources, {rules.min_sources} needed ({reasons})")
    given = source_weights or {}
    weights = capped_weights({s: positive(given.get(s, Decimal(1)), f"{s} weight") for s in twaps},
                             rules.max_weight)
    median, values = None, twaps
    if rules.median_band is not None:
        median = median_of(twaps.values())
        low, high = median * (1 - rules.median_band), median * (1 + rules.median_band)
        values = {s: low if t < low else high if t > high else t for s, t in twaps.items()}
    price = sum((weights[s] * values[s] for s in twaps), ZERO)
    if tick is not None:
        tick = positive(tick, "tick")
        price = (price / tick).to_integral_value(rounding=ROUND_HALF_EVEN) * tick
    capped = tuple((s, values[s]) for s in sorted(twaps) if values[s] != twaps[s])
    return Settlement(price, tuple(sorted(twaps.items())), tuple(sorted(weights.items())), tuple(excluded),
                      tuple(used), median, capped)


def median_of(values: Iterable[Decimal]) -> Decimal:
    """The middle value, or the mean of the middle two for an even count (at least one value)."""
    ordered = sorted(values)
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


@dataclass(frozen=True, slots=True)
class Exercise:
    """One option position settled at expiry: ``cash`` into (positive) or out of its wallet."""

    instrument: str
    qty: Decimal
    settlement_price: Decimal
    payoff_per_option: Decimal
    """In the settlement asset, rounded down to its quantum; 0 out of the money."""
    cash: Decimal


@exact
def exercise(option: OptionInstrument, qty: Decimal, price: Decimal, quantum: Decimal) -> Exercise:
    """Automatic exercise of ``qty`` options (negative: short) at the settlement ``price``."""
    price = positive(price, "settlement price")
    intrinsic = max(price - option.strike, ZERO) if option.kind == "call" else max(option.strike - price, ZERO)
    per_option = round_down(intrinsic / price if option.inverse else intrinsic, quantum)
    return Exercise(option.name, qty, price, per_option, qty * per_option)
