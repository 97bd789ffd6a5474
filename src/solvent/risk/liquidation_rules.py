"""Venue liquidation rules: which liquidation and deficit procedure a venue profile selects.

A venue profile's ``"liquidation"`` object names one of a closed set of procedures and
gives its parameters, with the public source they come from. The engine
(``engine/liquidation.py``) runs the procedure the profile names; a profile without the
object, or with ``"policy": "generic"``, gets solvent's **generic** procedure, which is not
any one venue's rule (``docs/liquidation.md``).

==================  ===========================================================================
``policy``          procedure
==================  ===========================================================================
``generic``         solvent's own: smallest lot-rounded reduction at the book price, fee
                    ``rate × notional`` capped by the equity left, fund, ADL, socialised loss
``bankruptcy_price`` Binance, Bybit, BitMEX: a partial reduction at the book price when one
                    restores the target; otherwise the position is taken over *at its
                    bankruptcy price*: what is left above it goes to the insurance fund, a
                    shortfall below it is paid by the fund, then ADL (the profile's ranking)
``dydx_v4``         dYdX v4: the whole position is offered at the *fillable price*; it fills on
                    the book only at that price or better, and the insurance fund receives or
                    pays the *insurance-fund delta* against the dYdX bankruptcy quote; a
                    negative-collateral account the book cannot take is deleveraged
``backstop``        Hyperliquid: market liquidation of the whole position (a chunk of a large
                    one, with a cooldown); below ``backstop_threshold × MM`` the backstop
                    (liquidator vault) takes over the positions and the equity left
``drift``           Drift: a liquidator takes over the base needed to cover the margin
                    shortage (``drift_base_to_cover_shortage``) at the oracle less its fee,
                    which escalates with time; the insurance fund takes its cut; a bankrupt
                    deficit the fund cannot pay is charged to every open position of the
                    market (``drift_socialized_loss_per_base``), not written off
==================  ===========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from solvent.errors import InvalidInput
from solvent.risk.fund_rules import FundRule, parse_fund_rule
from solvent.risk.profile_format import ADL_RANKINGS, COMMON_POLICY_FIELDS, policy_fields
from solvent.units import ONE, ZERO, non_negative, positive, solvent_context, to_decimal

__all__ = ["GENERIC_RULE", "DriftFees", "LiquidationRule", "LiquidationRuleKind", "parse_liquidation_rule",
           "parse_loss_limit"]


class LiquidationRuleKind(StrEnum):
    GENERIC = "generic"
    BANKRUPTCY_PRICE = "bankruptcy_price"
    DYDX_V4 = "dydx_v4"
    BACKSTOP = "backstop"
    DRIFT = "drift"


@dataclass(frozen=True, slots=True)
class DriftFees:
    """A Drift perp market's liquidation fees (fractions): the liquidator's, and the fund's."""

    liquidator_fee: Decimal
    if_liquidation_fee: Decimal


@dataclass(frozen=True, slots=True)
class LiquidationRule:
    """The procedure a venue profile selects and its parameters (module docstring).

    Only the fields of the selected ``kind`` are read; the others keep their defaults.
    ``adl_ranking`` (``binance``, ``bitmex``, ``pro_rata``) replaces the engine policy's when
    set. ``full_close``: a step closes the whole position (or a chunk) instead of the smallest
    part that restores the target.
    """

    kind: LiquidationRuleKind = LiquidationRuleKind.GENERIC
    source: str = ""
    adl_ranking: str | None = None
    full_close: bool = False
    # backstop (Hyperliquid)
    backstop_threshold: Decimal | None = None
    backstop_account: str = "liquidator_vault"
    chunk_fraction: Decimal | None = None
    chunk_min_notional: Decimal = ZERO
    cooldown_ms: int = 0
    backstop_loss_limit: Decimal | None = None
    """The backstop's loss on the positions it holds, as a fraction of its capital, at which
    those in loss are auto-deleveraged (Hyperliquid's capped liquidator vault after 2025-03-26);
    ``None``: never (a vault sharing the whole pool's collateral)."""
    # dYdX v4 (ppm, as the chain stores them)
    bankruptcy_adjustment_ppm: int = 1_000_000
    spread_to_maint_margin_ratio_ppm: int = 100_000
    max_liquidation_fee_ppm: int = 15_000
    # Drift
    drift_fees: Mapping[str, DriftFees] = field(default_factory=dict)
    fee_grace_ms: int = 0
    fee_increase_per_ms: Decimal = ZERO
    max_liquidator_fee: Decimal = ZERO
    socialise: bool = False
    """Charge a deficit the fund cannot pay to the market's open positions (Drift)."""
    fund_rule: FundRule | None = None
    """When the fund stops paying a market's deficits before it is empty (``risk/fund_rules.py``)."""


GENERIC_RULE: Final = LiquidationRule()

_COMMON: Final = COMMON_POLICY_FIELDS
_FIELDS: Final[dict[LiquidationRuleKind, frozenset[str]]] = {
    LiquidationRuleKind(name): fields for name, fields in policy_fields().items()}
"""Each policy's own fields: ``risk/profile_format.py`` is their one home."""


def _fraction(raw: Any, where: str) -> Decimal:
    """A decimal string ``"a"`` or a ratio ``"a/b"`` (2/3 has no finite decimal), in [0, 1]."""
    if isinstance(raw, str) and "/" in raw:
        num, _, den = raw.partition("/")
        value = solvent_context().divide(positive(num, f"{where} (the ratio's numerator)"),
                                         positive(den, f"{where} (the ratio's denominator)"))
    else:
        value = non_negative(raw, where)
    if value > ONE:
        raise InvalidInput(f"{where} must be at most 1, got {value}")
    return value


def parse_loss_limit(raw: Any, where: str) -> Decimal:
    """A backstop loss limit: a fraction in (0, 1], as a decimal or a ratio ``"a/b"`` (a limit
    of 0 would deleverage the vault at its first cent of loss, before any price has moved
    against it): the one reading of it, for profiles and ``simulate --backstop-loss-limit``."""
    value = _fraction(raw, where)
    if value == 0:
        raise InvalidInput(f"{where} must be above 0, got 0")
    return value


def _int(raw: Any, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise InvalidInput(f"{where} must be an integer >= 0")
    return raw


def parse_liquidation_rule(raw: Any, where: str) -> LiquidationRule:
    """Validate a profile's ``"liquidation"`` object (``None``: the generic rule)."""
    if raw is None:
        return GENERIC_RULE
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: liquidation must be an object with a 'policy'")
    try:
        kind = LiquidationRuleKind(str(raw.get("policy")))
    except ValueError:
        names = ", ".join(k.value for k in LiquidationRuleKind)
        raise InvalidInput(f"{where}: liquidation.policy must be one of {names}") from None
    extra = set(raw) - _COMMON - _FIELDS[kind]
    if extra:
        raise InvalidInput(f"{where}: liquidation policy {kind.value} takes no {', '.join(sorted(extra))}")
    ranking = raw.get("adl_ranking")
    if ranking is not None and ranking not in ADL_RANKINGS:
        raise InvalidInput(f"{where}: liquidation.adl_ranking must be one of {', '.join(ADL_RANKINGS)}")
    full_close = raw.get("full_close", False)
    if not isinstance(full_close, bool):
        raise InvalidInput(f"{where}: liquidation.full_close must be true or false")
    p = f"{where}: liquidation"
    kwargs: dict[str, Any] = {"kind": kind, "source": str(raw.get("source", "")), "adl_ranking": ranking,
                              "full_close": full_close, "fund_rule": parse_fund_rule(raw.get("fund_rule"),
                                                                                     f"{p}.fund_rule")}
    if kind is LiquidationRuleKind.DYDX_V4:
        for key in _FIELDS[kind]:
            if key in raw:
                kwargs[key] = _int(raw[key], f"{p}.{key}")
    elif kind is LiquidationRuleKind.BACKSTOP:
        kwargs["backstop_threshold"] = _fraction(raw.get("backstop_threshold", "2/3"), f"{p}.backstop_threshold")
        if "backstop_account" in raw:
            kwargs["backstop_account"] = str(raw["backstop_account"])
        if raw.get("chunk_fraction") is not None:
            kwargs["chunk_fraction"] = _fraction(raw["chunk_fraction"], f"{p}.chunk_fraction")
        kwargs["chunk_min_notional"] = non_negative(raw.get("chunk_min_notional", "0"), f"{p}.chunk_min_notional")
        kwargs["cooldown_ms"] = _int(raw.get("cooldown_ms", 0), f"{p}.cooldown_ms")
        if raw.get("backstop_loss_limit") is not None:
            kwargs["backstop_loss_limit"] = parse_loss_limit(raw["backstop_loss_limit"], f"{p}.backstop_loss_limit")
    elif kind is LiquidationRuleKind.DRIFT:
        kwargs.update(_drift(raw, p))
    return LiquidationRule(**kwargs)


def _drift(raw: Mapping[str, Any], p: str) -> dict[str, Any]:
    markets = raw.get("markets")
    if not isinstance(markets, dict) or not markets:
        raise InvalidInput(f"{p}.markets must map each symbol to its liquidator_fee and if_liquidation_fee")
    fees: dict[str, DriftFees] = {}
    for symbol, spec in sorted(markets.items()):
        if not isinstance(spec, dict) or set(spec) != {"liquidator_fee", "if_liquidation_fee"}:
            raise InvalidInput(f"{p}.markets.{symbol} must hold liquidator_fee and if_liquidation_fee")
        fees[symbol] = DriftFees(_fraction(spec["liquidator_fee"], f"{p}.markets.{symbol}.liquidator_fee"),
                                 _fraction(spec["if_liquidation_fee"], f"{p}.markets.{symbol}.if_liquidation_fee"))
    increase = non_negative(to_decimal(raw.get("fee_increase_per_ms", "0"), f"{p}.fee_increase_per_ms"),
                            f"{p}.fee_increase_per_ms")
    return {"drift_fees": fees, "fee_grace_ms": _int(raw.get("fee_grace_ms", 0), f"{p}.fee_grace_ms"),
            "fee_increase_per_ms": increase, "socialise": True,
            "max_liquidator_fee": _fraction(raw.get("max_liquidator_fee", "0"), f"{p}.max_liquidator_fee")}
