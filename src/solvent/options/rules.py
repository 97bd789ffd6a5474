"""Option margin rule sets (``profiles/options/*.json``): standard margin or a scenario grid.

A rule set is a bundled file with its provenance, read once (``load_option_rules``):

* ``standard`` (``deribit-standard``, ``okx-options``): per short option, IM = max(im_base −
  OTM/reference, im_floor) × factor + mark and MM = mm_base × factor + mark (a put's MM:
  max(mm_base, put_mm_mark × mark) × factor + mark, its IM at least its MM), in coin per
  option for an inverse option and the same fractions of the index for a linear one; a long
  pays its premium and needs nothing more. The reference is the index (Deribit) or the
  forward of the option's expiry (OKX); the factor is 1, or the margin factor of the tier
  the seller's contracts of the underlying fall in (OKX);
* ``scenarios`` (``deribit-pm``, ``span-16``): the worst loss of the portfolio over a grid of
  underlying moves × volatility shocks, an extended table of large moves on the up-volatility
  leg weighted by a dampener, plus contingencies (``options.scenarios``).

Both margin futures of the same underlying with ``futures`` (a standard rule set without it
margins options only): IM rate im_base + im_step per ``size_step`` coins of position, MM
likewise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Literal

import msgspec

from solvent.errors import InvalidInput
from solvent.file_formats import Number, OptionalNumber, read_as
from solvent.jsonstrict import loads_strict
from solvent.units import ZERO, plain, to_decimal

__all__ = [
    "LEG_CODE",
    "VOL_LEGS",
    "FuturesRules",
    "MarginFactorTiers",
    "OptionRules",
    "ScenarioRules",
    "StandardRules",
    "Tiers",
    "bundled_option_rules",
    "load_option_rules",
    "margin_factor_tiers",
]


VolLeg = Literal["up", "same", "down"]
VOL_LEGS: tuple[VolLeg, ...] = ("up", "same", "down")
LEG_CODE: dict[VolLeg, int] = {"up": 0, "same": 1, "down": 2}
"""A volatility leg as the formulas take it (``_formulas.shocked_vol``)."""


class _Tier(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    up_to: OptionalNumber
    """The tier's largest size in contracts (``null``: no limit, the last tier)."""
    factor: Number


class _MarginFactor(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    contract_size: Number
    tiers: list[_Tier]


class _Underlying(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    mm_base: OptionalNumber = None
    put_mm_mark: OptionalNumber = None
    margin_factor: _MarginFactor | None = None


class _Standard(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    im_base: Number
    im_floor: Number
    mm_base: Number
    put_mm_mark: Number
    otm_against: Literal["index", "forward"] = "index"
    margin_factor: _MarginFactor | None = None
    underlyings: dict[str, _Underlying] | None = None
    order_margin_floor: OptionalNumber = None


class _Scenarios(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    price_range: Number
    price_steps: int
    vol_shift: Literal["relative", "absolute"] = "relative"
    vol_legs: list[Literal["up", "same", "down"]] = msgspec.field(default_factory=lambda: ["up", "same", "down"])
    extended_vol: Literal["up", "same", "down"] = "up"
    vol_up: Number
    vol_down: Number
    min_vol_up: OptionalNumber = None
    vol_power_short: Number = "0"
    vol_power_long: Number = "0"
    reference_days: Number = "30"
    look_ahead_days: Number = "0"
    extended_moves: list[Number] = []
    extended_weight: OptionalNumber = None
    extended_dampener: OptionalNumber = None
    option_contingency: Number = "0"
    futures_contingency: Number = "0"
    im_multiple: Number


class _Futures(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    im_base: Number
    mm_base: Number
    im_step: Number = "0"
    mm_step: Number = "0"
    size_step: Number = "1"


class _File(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    provenance: str
    method: Literal["standard", "scenarios"]
    standard: _Standard | None = None
    scenarios: _Scenarios | None = None
    futures: _Futures | None = None
    """Standard margin of futures on the same underlying; left out, a standard-margin portfolio
    holding futures is refused (the rule set margins options only)."""
    quantum: dict[str, Number]
    """The money quantum per settlement asset (``BTC``: 0.00000001); the default is ``*``."""
    hedge_with_perpetual: bool = False
    """Liquidation may hedge the portfolio's delta with the perpetual (``options.liquidation``)."""


Tiers = tuple[tuple[Decimal | None, Decimal], ...]
"""(largest size in contracts, or ``None``: no limit; margin factor), tier 1 first."""


@dataclass(frozen=True, slots=True)
class MarginFactorTiers:
    """A margin factor by position tier (OKX): the tier is found by the seller's contracts of
    the underlying (``contract_size`` coins each), and its factor scales the rule's fractions."""

    contract_size: Decimal
    tiers: Tiers
    """Smallest tier first (``margin_factor_tiers`` checks them)."""

    def tier_of(self, coins: Decimal) -> tuple[int, Decimal]:
        """(tier number from 1, factor) for ``coins`` of short options: the first tier whose
        largest size is at least that many contracts."""
        contracts = coins / self.contract_size
        for number, (up_to, factor) in enumerate(self.tiers, start=1):
            if up_to is None or contracts <= up_to:
                return number, factor
        raise InvalidInput(f"{plain(contracts)} contracts of short options are beyond the largest position tier "
                           f"({plain(self.tiers[-1][0] or ZERO)} contracts)")


def margin_factor_tiers(contract_size: Decimal, tiers: Tiers, what: str) -> MarginFactorTiers:
    """``MarginFactorTiers`` once checked (the one home of what a tier table must be):
    ``contract_size`` > 0, at least one tier, factors > 0 and never falling, a limit on every
    tier but the last, limits > 0 and rising; ``InvalidInput`` naming ``what`` otherwise."""
    limits = [up_to for up_to, _ in tiers]
    if contract_size <= 0 or not tiers or any(f <= 0 for _, f in tiers) or None in limits[:-1]:
        raise InvalidInput(f"{what}: contract_size > 0, at least one tier, factors > 0 and a limit on every tier "
                           "but the last are needed")
    bounded = [u for u in limits if u is not None]
    if bounded != sorted(set(bounded)) or any(u <= 0 for u in bounded):
        raise InvalidInput(f"{what}: tier limits must rise, each > 0")
    factors = [f for _, f in tiers]
    if factors != sorted(factors):  # OKX: "the higher the tier, the greater the margin factor"
        raise InvalidInput(f"{what}: a higher tier's margin factor is not smaller than a lower one's, got "
                           f"{', '.join(plain(f) for f in factors)}")
    return MarginFactorTiers(contract_size, tiers)


@dataclass(frozen=True, slots=True)
class StandardRules:
    """One underlying's standard option margin: IM = max(im_base − OTM / reference, im_floor) ×
    factor + mark, call MM = mm_base × factor + mark, put MM = max(mm_base, put_mm_mark × mark) ×
    factor + mark (per coin of an inverse option; the fractions of the index on a linear one)."""

    im_base: Decimal
    im_floor: Decimal
    mm_base: Decimal
    put_mm_mark: Decimal
    otm_against: Literal["index", "forward"] = "index"
    """What the out-of-the-money amount is measured from and divided by: the index (Deribit) or
    the forward of the option's expiry (OKX)."""
    margin_factor: MarginFactorTiers | None = None
    """``None``: a factor of 1."""
    underlyings: dict[str, StandardRules] | None = None
    """Per underlying (``BTC``, ``ETH``) where they differ; when given, an underlying not listed
    has no rules."""
    order_margin_floor: Decimal | None = None
    """Set (OKX's "min open order margin", per coin; × index on a linear option): an option
    order is checked by the venue's order margin (``options.pretrade``), not by the portfolio
    after it."""

    def for_underlying(self, base: str, rules_name: str) -> StandardRules:
        """The rules for options on ``base`` (``rules_name``: the rule set's, for the refusal)."""
        if self.underlyings is None:
            return self
        if base not in self.underlyings:
            raise InvalidInput(f"option rules {rules_name} margin options on {', '.join(sorted(self.underlyings))}, "
                               f"not {base}")
        return self.underlyings[base]


@dataclass(frozen=True, slots=True)
class ScenarioRules:
    price_range: Decimal
    price_steps: int
    vol_shift: Literal["relative", "absolute"]
    """``relative``: σ × (1 ± shock × term factor) (Deribit); ``absolute``: σ ± shock (SPAN)."""
    vol_legs: tuple[VolLeg, ...]
    extended_vol: VolLeg
    """The volatility leg the extended moves are valued on."""
    vol_up: Decimal
    vol_down: Decimal
    min_vol_up: Decimal | None
    vol_power_short: Decimal
    vol_power_long: Decimal
    reference_days: Decimal
    look_ahead_days: Decimal
    extended_moves: tuple[Decimal, ...]
    extended_weight: Decimal | None
    """A fixed weight of the extended moves (SPAN's 35 %); else ``extended_dampener / |move|``."""
    extended_dampener: Decimal | None
    option_contingency: Decimal
    futures_contingency: Decimal
    im_multiple: Decimal

    def moves(self) -> tuple[Decimal, ...]:
        """The regular grid: ``2 × price_steps + 1`` moves from −range to +range."""
        return tuple(self.price_range * i / self.price_steps for i in range(-self.price_steps, self.price_steps + 1))


@dataclass(frozen=True, slots=True)
class FuturesRules:
    im_base: Decimal
    mm_base: Decimal
    im_step: Decimal
    mm_step: Decimal
    size_step: Decimal

    def rates(self, size: Decimal) -> tuple[Decimal, Decimal]:
        """(IM rate, MM rate) of a futures position of ``size`` coins."""
        steps = abs(size) / self.size_step
        return self.im_base + self.im_step * steps, self.mm_base + self.mm_step * steps


@dataclass(frozen=True, slots=True)
class OptionRules:
    name: str
    provenance: str
    method: Literal["standard", "scenarios"]
    standard: StandardRules | None
    scenarios: ScenarioRules | None
    futures: FuturesRules | None
    quantum: dict[str, Decimal]
    hedge_with_perpetual: bool = False
    """Liquidation may delta-hedge with the coin's perpetual when no close lowers MM."""

    def quantum_of(self, asset: str) -> Decimal:
        if asset in self.quantum:
            return self.quantum[asset]
        if "*" in self.quantum:
            return self.quantum["*"]
        raise InvalidInput(f"option rules {self.name}: no money quantum for {asset}")


def _numbers(struct: msgspec.Struct, where: str, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in struct.__struct_fields__:
        value = getattr(struct, field)
        if field in skip or field in ("price_steps", "vol_shift", "extended_vol"):
            out[field] = value
        elif field == "vol_legs":
            out[field] = tuple(value)
        elif value is None:
            out[field] = None
        elif isinstance(value, list):
            out[field] = tuple(to_decimal(v, f"{where}.{field}") for v in value)
        else:
            out[field] = to_decimal(value, f"{where}.{field}")
    return out


def _margin_factor(spec: _MarginFactor | None, what: str) -> MarginFactorTiers | None:
    if spec is None:
        return None
    tiers = tuple((None if t.up_to is None else to_decimal(t.up_to, f"{what}.tiers.up_to"),
                   to_decimal(t.factor, f"{what}.tiers.factor")) for t in spec.tiers)
    return margin_factor_tiers(to_decimal(spec.contract_size, f"{what}.contract_size"), tiers, what)


def _standard_rules(spec: _Standard, what: str) -> StandardRules:
    numbers = _numbers(spec, what, skip=("otm_against", "margin_factor", "underlyings"))
    numbers["margin_factor"] = _margin_factor(spec.margin_factor, f"{what} margin_factor")
    numbers["underlyings"] = None
    base = StandardRules(**numbers)
    if spec.underlyings is None:
        return base
    if not spec.underlyings:
        raise InvalidInput(f"{what}: underlyings, when given, lists at least one")
    own: dict[str, StandardRules] = {}
    for coin, u in spec.underlyings.items():
        where = f"{what} underlyings.{coin}"
        changed = {k: v for k, v in _numbers(u, where, skip=("margin_factor",)).items()
                   if k != "margin_factor" and v is not None}
        factor = _margin_factor(u.margin_factor, f"{where}.margin_factor") or base.margin_factor
        own[coin] = replace(base, **changed, margin_factor=factor)
    return replace(base, underlyings=own)


def read_option_rules(raw: object, what: str) -> OptionRules:
    """A rule set from decoded JSON; ``InvalidInput`` naming the place when it is malformed."""
    spec: _File = read_as(raw, _File, what)
    if (spec.method == "standard") != (spec.standard is not None) or (spec.method == "scenarios") != (
            spec.scenarios is not None):
        raise InvalidInput(f"{what}: method {spec.method!r} needs its own section ({spec.method}) and no other")
    standard = None if spec.standard is None else _standard_rules(spec.standard, f"{what} standard")
    scenarios = None
    if spec.scenarios is not None:
        scenarios = ScenarioRules(**_numbers(spec.scenarios, f"{what} scenarios"))
        if not scenarios.vol_legs or len(set(scenarios.vol_legs)) != len(scenarios.vol_legs):
            raise InvalidInput(f"{what} scenarios: vol_legs lists up, same or down, each at most once")
        if scenarios.price_steps < 1 or scenarios.price_range <= 0 or scenarios.im_multiple < 1:
            raise InvalidInput(f"{what} scenarios: price_steps >= 1, price_range > 0 and im_multiple >= 1 are needed")
        if scenarios.extended_moves and (scenarios.extended_weight is None) == (scenarios.extended_dampener is None):
            raise InvalidInput(f"{what} scenarios: extended moves need extended_weight or extended_dampener (one)")
        if any(m <= -1 or m == 0 for m in scenarios.extended_moves):
            raise InvalidInput(f"{what} scenarios: an extended move is a non-zero fraction above -1")
    futures = None if spec.futures is None else FuturesRules(**_numbers(spec.futures, f"{what} futures"))
    if futures is not None and futures.size_step <= 0:
        raise InvalidInput(f"{what} futures: size_step must be > 0")
    quantum = {asset: to_decimal(q, f"{what} quantum.{asset}") for asset, q in spec.quantum.items()}
    if any(q <= 0 for q in quantum.values()):
        raise InvalidInput(f"{what}: a money quantum must be > 0")
    return OptionRules(spec.name, spec.provenance, spec.method, standard, scenarios, futures, quantum,
                       spec.hedge_with_perpetual)


def bundled_option_rules() -> list[str]:
    """The names of the bundled option rule sets."""
    folder = resources.files("solvent") / "profiles" / "options"
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


@cache
def load_option_rules(name: str) -> OptionRules:
    """A bundled rule set by name (``bundled_option_rules``: ``deribit-standard``, ``okx-options``,
    ``deribit-pm``, ``span-16``)."""
    known = bundled_option_rules()
    if name not in known:
        raise InvalidInput(f"unknown option rules {name!r}; bundled: {', '.join(known)}")
    data = (resources.files("solvent") / "profiles" / "options" / f"{name}.json").read_bytes()
    return read_option_rules(loads_strict(data, f"option rules {name}"), f"option rules {name}")
