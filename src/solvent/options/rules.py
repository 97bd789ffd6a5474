"""Option margin rule sets (``profiles/options/*.json``): standard margin or a scenario grid.

A rule set is a bundled file with its provenance, read once (``load_option_rules``):

* ``standard`` (``deribit-standard``): per short option, IM = max(im_base − OTM/index,
  im_floor) + mark and MM = mm_base + mark (a put's MM: max(mm_base, put_mm_mark × mark) +
  mark, its IM at least its MM), in coin per option for an inverse option and the same
  fractions of the index for a linear one; a long pays its premium and needs nothing more;
* ``scenarios`` (``deribit-pm``, ``span-16``): the worst loss of the portfolio over a grid of
  underlying moves × volatility shocks, an extended table of large moves on the up-volatility
  leg weighted by a dampener, plus contingencies (``options.scenarios``).

Both margin futures of the same underlying with ``futures``: IM rate im_base + im_step per
``size_step`` coins of position, MM likewise.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Literal

import msgspec

from solvent.errors import InvalidInput
from solvent.file_formats import Number, OptionalNumber, read_as
from solvent.jsonstrict import loads_strict
from solvent.units import to_decimal

__all__ = ["LEG_CODE", "VOL_LEGS", "FuturesRules", "OptionRules", "ScenarioRules", "StandardRules",
           "bundled_option_rules", "load_option_rules"]


VolLeg = Literal["up", "same", "down"]
VOL_LEGS: tuple[VolLeg, ...] = ("up", "same", "down")
LEG_CODE: dict[VolLeg, int] = {"up": 0, "same": 1, "down": 2}
"""A volatility leg as the formulas take it (``_formulas.shocked_vol``)."""


class _Standard(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    im_base: Number
    im_floor: Number
    mm_base: Number
    put_mm_mark: Number


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
    futures: _Futures
    quantum: dict[str, Number]
    """The money quantum per settlement asset (``BTC``: 0.00000001); the default is ``*``."""


@dataclass(frozen=True, slots=True)
class StandardRules:
    im_base: Decimal
    im_floor: Decimal
    mm_base: Decimal
    put_mm_mark: Decimal


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
    futures: FuturesRules
    quantum: dict[str, Decimal]

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


def read_option_rules(raw: object, what: str) -> OptionRules:
    """A rule set from decoded JSON; ``InvalidInput`` naming the place when it is malformed."""
    spec: _File = read_as(raw, _File, what)
    if (spec.method == "standard") != (spec.standard is not None) or (spec.method == "scenarios") != (
            spec.scenarios is not None):
        raise InvalidInput(f"{what}: method {spec.method!r} needs its own section ({spec.method}) and no other")
    standard = None if spec.standard is None else StandardRules(**_numbers(spec.standard, f"{what} standard"))
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
    futures = FuturesRules(**_numbers(spec.futures, f"{what} futures"))
    if futures.size_step <= 0:
        raise InvalidInput(f"{what} futures: size_step must be > 0")
    quantum = {asset: to_decimal(q, f"{what} quantum.{asset}") for asset, q in spec.quantum.items()}
    if any(q <= 0 for q in quantum.values()):
        raise InvalidInput(f"{what}: a money quantum must be > 0")
    return OptionRules(spec.name, spec.provenance, spec.method, standard, scenarios, futures, quantum)


def bundled_option_rules() -> list[str]:
    """The names of the bundled option rule sets."""
    folder = resources.files("solvent") / "profiles" / "options"
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


@cache
def load_option_rules(name: str) -> OptionRules:
    """A bundled rule set by name (``deribit-standard``, ``deribit-pm``, ``span-16``)."""
    known = bundled_option_rules()
    if name not in known:
        raise InvalidInput(f"unknown option rules {name!r}; bundled: {', '.join(known)}")
    data = (resources.files("solvent") / "profiles" / "options" / f"{name}.json").read_bytes()
    return read_option_rules(loads_strict(data, f"option rules {name}"), f"option rules {name}")
