"""Volatility-scaled maintenance rate with an anti-procyclicality (APC) floor.

Volatility (RiskMetrics EWMA of log returns, per period — not annualised)::

    r_t  = ln(p_t / p_{t-1})                                 t = 1 … n−1
    σ²_1 = r_1²                                              (seeded with the first return)
    σ²_t = λ σ²_{t-1} + (1 − λ) r_t²                          0 < λ < 1 (RiskMetrics: 0.94)
    σ    = sqrt(σ²_{n-1})

``stressed_volatility`` is the largest σ of any ``window`` consecutive prices in a long
history (e.g. a year containing a crash).

Maintenance rate (fractions of notional; vols in the same period as ``reference_vol``)::

    rate_at(σ) = clamp(base_mmr × σ / reference_vol, floor_mmr, cap_mmr)
    mmr        = max(rate_at(σ_current), stress_weight × rate_at(σ_stressed))

The second term is the APC buffer, in the spirit of EMIR RTS 153/2013 art. 28(1)(c)
("a margin floor computed with volatility from a stressed look-back"), with a weight
such as 0.25: however calm the current month, margin never drops below a quarter of
what the stressed period implies. ``mmr`` is rounded *up* to ``RATE_QUANTUM`` (1e-6),
as every requirement is.

Worked example: base 0.005, reference vol 0.02, floor 0.004, cap 0.05, weight 0.25.
Current vol 0.01 → 0.0025, clamped up to 0.004; stressed vol 0.12 → 0.03, × 0.25 =
0.0075; the rate is ``max(0.004, 0.0075) = 0.0075`` — the APC floor binds.

In the engine (``VolatilityMMRule``, selected by a venue profile's ``"volatility_mm"``
object or ``EngineConfig.volatility_mm``) the rate becomes a *scale* on the venue's own MM
table, ``maintenance_scale = mmr / base_mmr`` (1 at the reference volatility), recomputed
from the marks sampled at each update instant (``engine/maintenance_scale.py``).

All arithmetic is ``Decimal`` (``Decimal.ln`` and ``Decimal.sqrt`` at working precision).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Final

from solvent.errors import InvalidInput
from solvent.risk.profile_format import volatility_fields
from solvent.units import ONE, NumberLike, exact, non_negative, positive, round_up, to_decimal

__all__ = [
    "RATE_QUANTUM",
    "RISKMETRICS_LAMBDA",
    "SCALE_QUANTUM",
    "VolScalingPolicy",
    "VolatilityMMRule",
    "ewma_volatility",
    "maintenance_scale",
    "parse_volatility_rule",
    "push_peak",
    "scaled_maintenance_rate",
    "stressed_volatility",
]

RISKMETRICS_LAMBDA: Final = Decimal("0.94")
"""RiskMetrics (J.P. Morgan, 1996) decay factor for daily data."""

RATE_QUANTUM: Final = Decimal("1e-6")
"""Resolution of the returned maintenance rate; results are rounded up to it."""


def _decay(raw: object) -> Decimal:
    lam = to_decimal(raw, "lam")
    if not 0 < lam < 1:
        raise InvalidInput(f"lam must be strictly between 0 and 1, got {lam}")
    return lam


def _log_returns(prices: Sequence[NumberLike]) -> list[Decimal]:
    if isinstance(prices, str | bytes):
        raise InvalidInput("prices must be a sequence of numbers, not a string")
    parsed = [positive(price, f"prices[{i}]") for i, price in enumerate(prices)]
    if len(parsed) < 2:
        raise InvalidInput(f"at least 2 prices are needed, got {len(parsed)}")
    return [(after / before).ln() for before, after in pairwise(parsed)]


def _ewma_sigma(returns: Sequence[Decimal], lam: Decimal) -> Decimal:
    variance = returns[0] * returns[0]
    weight_new = ONE - lam
    for r in returns[1:]:
        variance = lam * variance + weight_new * r * r
    return variance.sqrt()


@exact
def ewma_volatility(prices: Sequence[NumberLike], lam: NumberLike = RISKMETRICS_LAMBDA) -> Decimal:
    """Per-period EWMA volatility of the log returns of ``prices`` (oldest first).

    ``σ²_1 = r_1²``, ``σ²_t = λσ²_{t-1} + (1−λ)r_t²``, result ``sqrt(σ²_last)``; not
    annualised (1-minute prices give a 1-minute σ). Rejects fewer than 2 prices, a price
    ``<= 0`` and ``λ`` outside (0, 1).

    Example: prices 100, 110, 99, 108.9 → returns ln 1.1, ln 0.9, ln 1.1; with λ = 0.94,
    ``σ² = 0.9436 (ln 1.1)² + 0.0564 (ln 0.9)²`` ≈ 0.0091978, σ ≈ 0.095905.
    """
    lam_value = _decay(lam)
    return _ewma_sigma(_log_returns(prices), lam_value)


@exact
def stressed_volatility(
    prices: Sequence[NumberLike], window: int, lam: NumberLike = RISKMETRICS_LAMBDA
) -> Decimal:
    """Largest ``ewma_volatility`` over every run of ``window`` consecutive prices.

    ``max_k ewma_volatility(prices[k : k + window], lam)`` for ``2 <= window <= len(prices)``;
    each window's EWMA is seeded afresh, so the answer does not depend on data before the
    window. Cost is O(len(prices) × window) Decimal operations (logs are taken once).

    Example: with ``window = len(prices)`` it equals ``ewma_volatility(prices, lam)``.
    """
    if isinstance(window, bool) or not isinstance(window, int):
        raise InvalidInput(f"window must be an integer, not {type(window).__name__}")
    lam_value = _decay(lam)
    returns = _log_returns(prices)
    if not 2 <= window <= len(returns) + 1:
        raise InvalidInput(f"window must be between 2 and {len(returns) + 1}, got {window}")
    span = window - 1
    return max(
        _ewma_sigma(returns[start : start + span], lam_value)
        for start in range(len(returns) - span + 1)
    )


@dataclass(frozen=True, slots=True)
class VolScalingPolicy:
    """Parameters of the volatility-scaled maintenance rate (see the module docstring).

    ``base_mmr`` is the rate at ``reference_vol``; ``floor_mmr <= cap_mmr <= 1`` bound
    ``rate_at``; ``stress_weight`` in [0, 1] scales the APC floor (0 turns it off).
    """

    base_mmr: Decimal
    reference_vol: Decimal
    floor_mmr: Decimal
    cap_mmr: Decimal
    stress_weight: Decimal = Decimal("0.25")

    def __post_init__(self) -> None:
        base = positive(self.base_mmr, "base_mmr")
        reference = positive(self.reference_vol, "reference_vol")
        floor = non_negative(self.floor_mmr, "floor_mmr")
        cap = non_negative(self.cap_mmr, "cap_mmr")
        weight = non_negative(self.stress_weight, "stress_weight")
        if not floor <= cap <= 1:
            raise InvalidInput(f"need floor_mmr <= cap_mmr <= 1, got {floor} and {cap}")
        if weight > 1:
            raise InvalidInput(f"stress_weight must be <= 1, got {weight}")
        for name, value in (
            ("base_mmr", base),
            ("reference_vol", reference),
            ("floor_mmr", floor),
            ("cap_mmr", cap),
            ("stress_weight", weight),
        ):
            object.__setattr__(self, name, value)

    @exact
    def rate_at(self, vol: NumberLike) -> Decimal:
        """``clamp(base_mmr × vol / reference_vol, floor_mmr, cap_mmr)``, exact (unrounded)."""
        scaled = self.base_mmr * non_negative(vol, "vol") / self.reference_vol
        return min(max(scaled, self.floor_mmr), self.cap_mmr)


@exact
def scaled_maintenance_rate(
    policy: VolScalingPolicy, current_vol: NumberLike, stressed_vol: NumberLike
) -> Decimal:
    """``max(rate_at(current_vol), stress_weight × rate_at(stressed_vol))``, rounded up to 1e-6.

    The result lies in ``[floor_mmr, cap_mmr]`` (up to the 1e-6 rounding) and is never
    below the APC floor ``stress_weight × rate_at(stressed_vol)``, however low
    ``current_vol`` is.

    Example: policy(base 0.005, ref 0.02, floor 0.004, cap 0.05, weight 0.25),
    current 0.01, stressed 0.12 → ``max(0.004, 0.25 × 0.03) = 0.0075``.
    """
    if not isinstance(policy, VolScalingPolicy):
        raise InvalidInput(f"policy must be a VolScalingPolicy, not {type(policy).__name__}")
    current_rate = policy.rate_at(non_negative(current_vol, "current_vol"))
    apc_floor = policy.stress_weight * policy.rate_at(non_negative(stressed_vol, "stressed_vol"))
    return round_up(max(current_rate, apc_floor), RATE_QUANTUM)


SCALE_QUANTUM: Final = Decimal("1e-6")
"""Resolution of the maintenance scale; ``maintenance_scale`` rounds up to it."""


@dataclass(frozen=True, slots=True)
class VolatilityMMRule:
    """A volatility-scaled maintenance rule the engine runs (``docs/risk-models.md``).

    Every ``update_interval_ms`` (at each multiple of it) the engine samples each market's
    mark; once ``window`` samples are held, ``σ = ewma_volatility(samples, lam)``. The
    stressed σ is the largest σ of the updates in the last ``lookback_ms``, or
    ``stressed_vol`` (a σ the venue measured on its longer history, e.g. ten years for
    EMIR RTS 153/2013 art. 28(1)(c)) if larger. Every position's maintenance margin is then
    the venue's table MM times ``maintenance_scale(rule, σ, stressed σ)``. ``lam``,
    ``reference_vol`` and ``stressed_vol`` are per update interval (daily data for λ 0.94).
    """

    policy: VolScalingPolicy
    update_interval_ms: int
    window: int
    lookback_ms: int
    lam: Decimal = RISKMETRICS_LAMBDA
    stressed_vol: Decimal = Decimal(0)
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.policy, VolScalingPolicy):
            raise InvalidInput(f"policy must be a VolScalingPolicy, not {type(self.policy).__name__}")
        for name, low in (("update_interval_ms", 1), ("window", 2), ("lookback_ms", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidInput(f"{name} must be an integer >= {low}, got {value!r}")
        object.__setattr__(self, "lam", _decay(self.lam))
        object.__setattr__(self, "stressed_vol", non_negative(self.stressed_vol, "stressed_vol"))


@exact
def maintenance_scale(rule: VolatilityMMRule, current_vol: NumberLike, stressed_vol: NumberLike) -> Decimal:
    """The factor on the venue's table MM: ``scaled_maintenance_rate / base_mmr``, rounded up to 1e-6.

    The stressed σ used is ``max(stressed_vol, rule.stressed_vol)``. The scale is 1 where the
    rate is ``base_mmr``, ``floor_mmr / base_mmr`` at least and ``cap_mmr / base_mmr`` at most.

    Example: base 0.004, reference σ 0.03, floor 0.004, cap 0.02, weight 0.25, no stressed
    σ of its own: σ 0.015 → ``rate_at`` 0.002, floored to 0.004; stressed σ 0.131 →
    ``0.25 × 0.004 × 0.131 / 0.03 = 0.00436666…``, rounded up to 0.004367: scale 1.09175.
    """
    if not isinstance(rule, VolatilityMMRule):
        raise InvalidInput(f"rule must be a VolatilityMMRule, not {type(rule).__name__}")
    stressed = max(non_negative(stressed_vol, "stressed_vol"), rule.stressed_vol)
    rate = scaled_maintenance_rate(rule.policy, current_vol, stressed)
    return round_up(rate / rule.policy.base_mmr, SCALE_QUANTUM)


def push_peak(
    peaks: tuple[tuple[int, Decimal], ...], at_ms: int, vol: Decimal, lookback_ms: int
) -> tuple[tuple[int, Decimal], ...]:
    """The running maximum of σ over the last ``lookback_ms``, after one more update.

    ``peaks`` holds ``(update_ms, σ)`` with σ strictly decreasing, oldest first: every update
    still in the lookback that no later update equals or exceeds. The new σ removes the
    peaks it equals or exceeds; peaks at or before ``at_ms − lookback_ms`` leave. The
    stressed σ is then ``peaks[0][1]`` (the new σ itself is always kept).
    """
    kept = [(t, v) for t, v in peaks if t > at_ms - lookback_ms]
    while kept and kept[-1][1] <= vol:
        kept.pop()
    kept.append((at_ms, vol))
    return tuple(kept)


_RULE_KEYS, _REQUIRED_KEYS = volatility_fields()
"""The rule's fields and the required ones: ``risk/profile_format.py`` is their one home."""


def parse_volatility_rule(raw: object, where: str) -> VolatilityMMRule | None:
    """The rule of a venue profile's optional ``"volatility_mm"`` object (``docs/venues.md``);
    ``None`` when the profile has none. Decimals are strings, the three durations integers."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: volatility_mm must be an object")
    unknown, missing = set(raw) - _RULE_KEYS, _REQUIRED_KEYS - set(raw)
    if unknown or missing:
        raise InvalidInput(
            f"{where}: volatility_mm fields wrong (missing {sorted(missing)}, unknown {sorted(unknown)})")
    source = raw["source"]
    if not isinstance(source, str) or not source:
        raise InvalidInput(f"{where}: volatility_mm.source must be a non-empty string")
    policy = VolScalingPolicy(
        base_mmr=to_decimal(raw["base_mmr"], "volatility_mm.base_mmr"),
        reference_vol=to_decimal(raw["reference_vol"], "volatility_mm.reference_vol"),
        floor_mmr=to_decimal(raw["floor_mmr"], "volatility_mm.floor_mmr"),
        cap_mmr=to_decimal(raw["cap_mmr"], "volatility_mm.cap_mmr"),
        stress_weight=to_decimal(raw.get("stress_weight", "0.25"), "volatility_mm.stress_weight"),
    )
    return VolatilityMMRule(
        policy=policy,
        update_interval_ms=raw["update_interval_ms"],
        window=raw["window"],
        lookback_ms=raw["lookback_ms"],
        lam=to_decimal(raw.get("lambda", str(RISKMETRICS_LAMBDA)), "volatility_mm.lambda"),
        stressed_vol=to_decimal(raw.get("stressed_vol", "0"), "volatility_mm.stressed_vol"),
        source=source,
    )
