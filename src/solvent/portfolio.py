"""Portfolios from plain data: the ``solvent account`` file format (see ``docs/account-file.md``).

A portfolio is a cross wallet and positions on one venue, each position with the margin
rules that apply to it: the venue's, or a one-bracket override (``mmr`` and
``maint_amount``) given in the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from solvent.calc.account import AccountReport, assess_account
from solvent.errors import InvalidInput
from solvent.model import MarginMode, Position, PositionSide, Side
from solvent.risk.rules import MarginRules, TieredRules
from solvent.risk.tiers import TierTable
from solvent.risk.venues import VenueProfile
from solvent.units import ZERO, non_negative, positive

__all__ = ["Portfolio", "override_rules", "parse_portfolio", "position_from_spec"]

E = TypeVar("E", Side, MarginMode, PositionSide)

_POSITION_KEYS = frozenset(
    {"symbol", "side", "qty", "entry", "mark", "mmr", "maint_amount", "isolated_margin",
     "position_side", "margin_mode", "leverage"}
)


@dataclass(frozen=True, slots=True)
class Portfolio:
    """A cross wallet (settlement asset) and positions with their margin rules."""

    profile: VenueProfile
    wallet: Decimal
    positions: tuple[Position, ...]
    rules: tuple[MarginRules, ...]

    def assess(self) -> AccountReport:
        return assess_account(self.wallet, self.positions, self.rules, self.profile)


def override_rules(mmr: object, maint_amount: object, where: str) -> MarginRules:
    """One bracket given by hand: ``MM = notional × mmr − maint_amount`` at every size."""
    rate = positive(mmr, f"{where}.mmr")
    if rate > 1:
        raise InvalidInput(f"{where}.mmr must be <= 1, got {rate}")
    amount = non_negative(maint_amount if maint_amount is not None else "0", f"{where}.maint_amount")
    return TieredRules(TierTable.single(rate, maint_amount=amount, name=f"{where} bracket"))


def position_from_spec(
    spec: Mapping[str, Any], profile: VenueProfile, default_mode: MarginMode, where: str
) -> tuple[Position, MarginRules]:
    """Build one position (and its rules) from an account-file entry."""
    unknown = set(spec) - _POSITION_KEYS
    if unknown:
        raise InvalidInput(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    symbol = spec.get("symbol")
    if not isinstance(symbol, str):
        raise InvalidInput(f"{where}: 'symbol' is required")
    instrument = profile.instrument(symbol)
    side = _enum(Side, spec.get("side"), f"{where}.side")
    mode = _enum(MarginMode, spec.get("margin_mode", default_mode.value), f"{where}.margin_mode")
    qty = positive(spec.get("qty"), f"{where}.qty")
    entry = positive(spec.get("entry"), f"{where}.entry")
    mark = positive(spec["mark"], f"{where}.mark") if spec.get("mark") is not None else None
    leverage = positive(spec["leverage"], f"{where}.leverage") if spec.get("leverage") else None
    if spec.get("mmr") is not None:
        rules = override_rules(spec["mmr"], spec.get("maint_amount"), where)
    else:
        rules = profile.rules_for(symbol)
    if leverage is not None:
        rules.check_leverage(qty, instrument.notional(qty, entry), leverage)
    isolated = ZERO
    if mode is MarginMode.ISOLATED:
        isolated = _isolated_margin(spec, instrument.notional(qty, entry), leverage, where)
    position = Position(
        instrument=instrument,
        side=side,
        qty=qty,
        entry_price=entry,
        mark_price=mark,
        margin_mode=mode,
        isolated_margin=isolated,
        position_side=_enum(PositionSide, spec.get("position_side", "both"), f"{where}.position_side"),
        leverage=leverage,
    )
    return position, rules


def _isolated_margin(
    spec: Mapping[str, Any], entry_notional: Decimal, leverage: Decimal | None, where: str
) -> Decimal:
    if spec.get("isolated_margin") is not None:
        return non_negative(spec["isolated_margin"], f"{where}.isolated_margin")
    if leverage is None:
        raise InvalidInput(f"{where}: an isolated position needs 'isolated_margin' or 'leverage'")
    return entry_notional / leverage


def parse_portfolio(raw: Any, profile: VenueProfile) -> Portfolio:
    """Validate an account file's decoded JSON (see ``docs/account-file.md``)."""
    if not isinstance(raw, dict):
        raise InvalidInput("an account file must hold a JSON object")
    unknown = set(raw) - {"mode", "wallet", "positions", "position_mode", "name"}
    if unknown:
        raise InvalidInput(f"account: unknown field(s) {', '.join(sorted(unknown))}")
    mode = _enum(MarginMode, raw.get("mode", "cross"), "mode")
    wallet = non_negative(raw.get("wallet", "0"), "wallet")
    specs = raw.get("positions", [])
    if not isinstance(specs, list):
        raise InvalidInput("positions must be a list")
    built = [position_from_spec(s if isinstance(s, dict) else {}, profile, mode, f"positions[{i}]")
             for i, s in enumerate(specs)]
    positions = tuple(p for p, _ in built)
    _check_slots(positions, raw.get("position_mode"))
    return Portfolio(profile, wallet, positions, tuple(r for _, r in built))


def _check_slots(positions: Sequence[Position], declared: object) -> None:
    hedge = any(p.position_side is not PositionSide.BOTH for p in positions)
    if declared not in (None, "one_way", "hedge"):
        raise InvalidInput(f"position_mode must be 'one_way' or 'hedge', got {declared!r}")
    if (declared == "one_way" and hedge) or (declared == "hedge" and not all(
        p.position_side is not PositionSide.BOTH for p in positions
    )):
        raise InvalidInput("position_side does not match position_mode")
    seen: set[tuple[str, PositionSide]] = set()
    for p in positions:
        key = (p.instrument.symbol, p.position_side)
        if key in seen:
            raise InvalidInput(f"{p.instrument.symbol}: two positions in the same slot {p.position_side}")
        seen.add(key)


def _enum(kind: type[E], raw: object, where: str) -> E:
    try:
        return kind(str(raw))
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise InvalidInput(f"{where} must be one of {choices}, got {raw!r}") from None
