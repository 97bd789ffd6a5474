"""Build an instrument's ``MarginRules`` from the parameters in a venue profile."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from solvent.errors import InvalidInput
from solvent.risk.dydx import CURRENT_IMF_SCALING, ImfScaling
from solvent.risk.rules import DriftRules, DydxRules, MarginRules, TieredRules
from solvent.risk.tiers import TierTable
from solvent.units import non_negative, positive

__all__ = ["MARGIN_MODELS", "build_rules"]


def _tiered(where: str, spec: Mapping[str, Any], tables: Mapping[str, TierTable]) -> MarginRules:
    ref = spec.get("tiers")
    if isinstance(ref, str):
        if ref not in tables:
            raise InvalidInput(f"{where}: unknown tier table {ref!r}")
        return TieredRules(tables[ref])
    if isinstance(ref, list):
        return TieredRules(TierTable.from_brackets(where, ref))
    raise InvalidInput(f"{where}: a tiered instrument needs 'tiers' (a table name or a list)")


def _int(spec: Mapping[str, Any], key: str, where: str) -> int:
    value = spec.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidInput(f"{where}: {key!r} must be a positive integer")
    return value


def _dydx(where: str, spec: Mapping[str, Any], tables: Mapping[str, TierTable]) -> MarginRules:
    return DydxRules(
        name=where,
        imf_ppm=_int(spec, "imf_ppm", where),
        mmf_ppm=_int(spec, "mmf_ppm", where),
        oi_lower_cap=non_negative(spec.get("oi_lower_cap", "0"), f"{where}.oi_lower_cap"),
        oi_upper_cap=non_negative(spec.get("oi_upper_cap", "0"), f"{where}.oi_upper_cap"),
        imf_scaling=_imf_scaling(spec.get("imf_scaling", CURRENT_IMF_SCALING.value), where),
    )


def _imf_scaling(raw: object, where: str) -> ImfScaling:
    try:
        return ImfScaling(str(raw))
    except ValueError:
        choices = ", ".join(v.value for v in ImfScaling)
        raise InvalidInput(f"{where}: imf_scaling must be one of {choices}, got {raw!r}") from None


def _drift(where: str, spec: Mapping[str, Any], tables: Mapping[str, TierTable]) -> MarginRules:
    return DriftRules(
        name=where,
        initial_ratio=positive(spec.get("initial_ratio"), f"{where}.initial_ratio"),
        maintenance_ratio=positive(spec.get("maintenance_ratio"), f"{where}.maintenance_ratio"),
        imf_factor=non_negative(spec.get("imf_factor", "0"), f"{where}.imf_factor"),
    )


_Builder = Callable[[str, Mapping[str, Any], Mapping[str, TierTable]], MarginRules]

MARGIN_MODELS: dict[str, _Builder] = {"tiered": _tiered, "dydx": _dydx, "drift": _drift}
"""Margin models by the name a profile's ``margin_model`` field uses."""


def build_rules(
    model: str, where: str, spec: Mapping[str, Any], tables: Mapping[str, TierTable]
) -> MarginRules:
    """The rules for one instrument of a profile whose margin model is ``model``."""
    try:
        builder = MARGIN_MODELS[model]
    except KeyError:
        raise InvalidInput(f"{where}: unknown margin model {model!r}") from None
    return builder(where, spec, tables)
