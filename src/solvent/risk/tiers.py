"""Notional tier tables (Binance "leverage brackets", Bybit "risk limits", Hyperliquid margin tiers).

A tier table maps a position's notional to a maintenance-margin rate and a maximum leverage.
Within tier *n* (``floor_n <= notional < cap_n``)::

    MM(notional) = notional × mmr_n − maint_amount_n                       (quote units)

and the maintenance amount follows the recursion that keeps MM continuous at every
boundary (Binance "cum", Bybit "deduction")::

    maint_amount_0 = 0
    maint_amount_n = floor_n × (mmr_n − mmr_{n−1}) + maint_amount_{n−1}

Worked example (Binance BTCUSDT, October 2024 table, vector BN-7): bracket 3 starts at
600,000 with mmr 0.65 %, bracket 2 has mmr 0.5 % and amount 50, so
``600000 × (0.0065 − 0.005) + 50 = 950``; at 1,000,000 notional
``MM = 1000000 × 0.0065 − 950 = 5,550`` (vector BN-9).

A notional beyond the last cap is evaluated with the last tier (its formula extends
upward); opening such a position is refused by ``check_leverage``.
"""

from __future__ import annotations

import decimal
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from solvent.errors import InvalidInput, InvalidTierTable, LeverageTooHigh
from solvent.units import ONE, WORKING_PRECISION, ZERO, exact, plain, require_decimals, to_decimal

__all__ = ["Tier", "TierTable", "continuous_maint_amounts", "tier_json"]


@dataclass(frozen=True, slots=True)
class Tier:
    """One bracket: ``floor_notional <= notional < cap_notional``."""

    floor_notional: Decimal
    cap_notional: Decimal
    maint_margin_rate: Decimal
    max_leverage: Decimal
    maint_amount: Decimal

    @property
    @exact
    def initial_margin_rate(self) -> Decimal:
        """The lowest initial-margin rate the tier allows: ``1 / max_leverage``."""
        return ONE / self.max_leverage

    @exact
    def maintenance_margin(self, notional: Decimal) -> Decimal:
        """``notional × mmr − maint_amount`` (exact, not rounded)."""
        return notional * self.maint_margin_rate - self.maint_amount


@exact
def continuous_maint_amounts(floors: Sequence[Decimal], rates: Sequence[Decimal]) -> list[Decimal]:
    """Maintenance amounts that make MM continuous at each floor (see module docstring)."""
    amounts: list[Decimal] = []
    for i, (floor, rate) in enumerate(zip(floors, rates, strict=True)):
        if i == 0:
            amounts.append(ZERO)
        else:
            amounts.append(floor * (rate - rates[i - 1]) + amounts[i - 1])
    return amounts


@dataclass(frozen=True, slots=True)
class TierTable:
    """A validated, contiguous tier table. Build with ``TierTable.from_brackets``."""

    name: str
    tiers: tuple[Tier, ...]
    single_bracket: bool = False
    """One bracket given by hand (``--mmr/--maint-amount``): it applies at every notional
    and its maintenance amount is taken as given, not derived from lower tiers."""

    @exact
    def __post_init__(self) -> None:
        if self.single_bracket:
            _validate_rates(self.name, self.tiers)
            if self.tiers[0].maint_amount < 0:
                raise InvalidTierTable(f"{self.name}: maintenance amount must be >= 0")
        else:
            _validate(self.name, self.tiers)

    @classmethod
    @exact
    def single(
        cls,
        maint_margin_rate: Decimal,
        max_leverage: Decimal | None = None,
        maint_amount: Decimal = ZERO,
        name: str = "bracket",
    ) -> TierTable:
        """One bracket for every notional: ``MM = notional × mmr − maint_amount``.

        ``max_leverage`` defaults to ``1 / mmr``, the leverage at which IM would equal MM.
        """
        require_decimals("TierTable.single", maint_margin_rate=maint_margin_rate)
        if maint_margin_rate <= 0:
            raise InvalidTierTable(f"{name}: mmr must be > 0, got {maint_margin_rate}")
        # 1 / mmr rounded down, so that 1 / max_leverage is never below mmr
        floor_ctx = decimal.Context(prec=WORKING_PRECISION, rounding=decimal.ROUND_FLOOR)
        lev = floor_ctx.divide(ONE, maint_margin_rate) if max_leverage is None else max_leverage
        tier = Tier(ZERO, UNBOUNDED_NOTIONAL, maint_margin_rate, lev, maint_amount)
        return cls(name, (tier,), single_bracket=True)

    @classmethod
    @exact
    def from_brackets(
        cls, name: str, brackets: Iterable[Mapping[str, object]], *, recompute: bool = False
    ) -> TierTable:
        """Build from Binance-format brackets.

        Keys: ``notional_floor``, ``notional_cap``, ``maint_margin_ratio``,
        ``initial_leverage`` and optional ``cum``. A ``cum`` that breaks the continuity
        recursion is rejected, unless ``recompute`` is true, in which case all amounts are
        recomputed from the recursion. Brackets may come in any order.
        """
        rows = [_parse_bracket(name, b) for b in brackets]
        rows.sort(key=lambda r: r[0])
        floors = [r[0] for r in rows]
        rates = [r[2] for r in rows]
        expected = continuous_maint_amounts(floors, rates)
        tiers = []
        for i, (floor, cap, rate, lev, given) in enumerate(rows):
            amount = expected[i]
            if given is not None and given != amount and not recompute:
                raise InvalidTierTable(
                    f"{name}: tier {i + 1} maintenance amount {given} breaks MM continuity;"
                    f" the recursion gives {amount}"
                )
            tiers.append(Tier(floor, cap, rate, lev, amount))
        return cls(name, tuple(tiers))

    @property
    def max_notional(self) -> Decimal:
        """The cap of the last tier: the largest notional a position may open at."""
        return self.tiers[-1].cap_notional

    def tier_index(self, notional: Decimal) -> int:
        """Index of the tier holding ``notional``: the last whose floor is at most it (the last
        tier beyond the table)."""
        if notional < 0:
            raise InvalidInput(f"notional must be >= 0, got {notional}")
        known = _FLOORS.get(id(self))
        if known is None or known[0] is not self:
            if len(_FLOORS) >= _FLOORS_SIZE:
                _FLOORS.clear()
            known = _FLOORS[id(self)] = (self, tuple(t.floor_notional for t in self.tiers))
        index = bisect_right(known[1], notional) - 1
        return index if index > 0 else 0

    def tier_for(self, notional: Decimal) -> Tier:
        """The tier holding ``notional``."""
        return self.tiers[self.tier_index(notional)]

    @exact
    def maintenance_margin(self, notional: Decimal) -> Decimal:
        """MM for a position of ``notional`` (exact, not rounded)."""
        return self.tier_for(notional).maintenance_margin(notional)

    @exact
    def max_leverage_for(self, notional: Decimal) -> Decimal:
        """The highest leverage allowed for a position of ``notional``."""
        return self.tier_for(notional).max_leverage

    @exact
    def max_notional_for_leverage(self, leverage: Decimal) -> Decimal:
        """The largest notional that may be held at ``leverage`` (cap of the last tier allowing it)."""
        allowed = ZERO
        for tier in self.tiers:
            if tier.max_leverage >= leverage:
                allowed = tier.cap_notional
        return allowed

    def leverage_clear_below(self, leverage: Decimal) -> Decimal:
        """A notional below which ``check_leverage(notional, leverage)`` passes: the floor of the
        first tier that does not allow ``leverage`` (tiers before it hold every smaller notional),
        at most the last cap; 0 when the first tier does not allow it. Cached per table (by
        identity) and leverage, for the pre-trade check's hot path."""
        key = (id(self), leverage)
        known = _CLEAR.get(key)
        if known is not None and known[0] is self:
            return known[1]
        bound = self.tiers[-1].cap_notional
        for i, tier in enumerate(self.tiers):
            if tier.max_leverage < leverage:
                bound = tier.floor_notional if i else ZERO
                break
        if len(_CLEAR) >= _FLOORS_SIZE:
            _CLEAR.clear()
        _CLEAR[key] = (self, bound)
        return bound

    @exact
    def check_leverage(self, notional: Decimal, leverage: Decimal) -> None:
        """Raise ``LeverageTooHigh`` unless ``leverage`` is allowed at ``notional``."""
        if notional > self.tiers[-1].cap_notional:  # ``max_notional``
            raise LeverageTooHigh(
                f"{self.name}: notional {plain(notional)} exceeds the table's last cap {plain(self.max_notional)}"
            )
        allowed = self.tier_for(notional).max_leverage  # ``max_leverage_for``, already in solvent's context
        if leverage > allowed:
            raise LeverageTooHigh(
                f"{self.name}: leverage {plain(leverage)} exceeds the tier maximum {plain(allowed)}"
                f" at notional {plain(notional)}"
            )

    def to_brackets(self) -> list[dict[str, str]]:
        """The table in the Binance bracket format, decimals as strings."""
        return [
            {
                "bracket": str(i + 1),
                "notional_floor": str(t.floor_notional),
                "notional_cap": str(t.cap_notional),
                "maint_margin_ratio": str(t.maint_margin_rate),
                "initial_leverage": str(t.max_leverage),
                "cum": str(t.maint_amount),
            }
            for i, t in enumerate(self.tiers)
        ]


UNBOUNDED_NOTIONAL = Decimal("1e30")
"""Cap of a one-bracket table: larger than any real notional."""


def tier_json(table: TierTable, index: int) -> dict[str, object]:
    """Bracket ``index`` (counted from 1) as every JSON output shows a tier (docs/json-conventions.md).

    ``cap_notional`` is ``None`` (JSON ``null``) for an unbounded last bracket.
    """
    tier = table.tiers[index - 1]
    return {
        "index": index,
        "floor_notional": plain(tier.floor_notional),
        "cap_notional": None if tier.cap_notional >= UNBOUNDED_NOTIONAL else plain(tier.cap_notional),
        "maint_margin_rate": plain(tier.maint_margin_rate),
        "maint_amount": plain(tier.maint_amount),
        "max_leverage": plain(tier.max_leverage),
    }

_Row = tuple[Decimal, Decimal, Decimal, Decimal, Decimal | None]

_FLOORS: dict[int, tuple[TierTable, tuple[Decimal, ...]]] = {}
"""Each tier table's floors (by identity, the table kept so a reused id is told apart; bounded),
for ``tier_index``'s bisection."""
_FLOORS_SIZE = 1024
_CLEAR: dict[tuple[int, Decimal], tuple[TierTable, Decimal]] = {}
"""``leverage_clear_below`` by table (identity, the table kept as for ``_FLOORS``) and leverage (bounded)."""


def _parse_bracket(name: str, raw: Mapping[str, object]) -> _Row:
    if not isinstance(raw, Mapping):
        raise InvalidTierTable(f"{name}: each bracket must be an object, got {type(raw).__name__}")
    try:
        floor = to_decimal(raw["notional_floor"], "notional_floor")
        cap = to_decimal(raw["notional_cap"], "notional_cap")
        rate = to_decimal(raw["maint_margin_ratio"], "maint_margin_ratio")
        lev = to_decimal(raw["initial_leverage"], "initial_leverage")
        cum = to_decimal(raw["cum"], "cum") if raw.get("cum") is not None else None
    except KeyError as missing:
        raise InvalidTierTable(f"{name}: bracket is missing field {missing}") from None
    except InvalidInput as bad:
        raise InvalidTierTable(f"{name}: {bad}") from None
    return floor, cap, rate, lev, cum


def _validate_rates(name: str, tiers: tuple[Tier, ...]) -> None:
    if not tiers:
        raise InvalidTierTable(f"{name}: a tier table needs at least one tier")
    if tiers[0].floor_notional != 0:
        raise InvalidTierTable(f"{name}: the first tier must start at notional 0")
    for i, tier in enumerate(tiers):
        where = f"{name}: tier {i + 1}"
        try:
            require_decimals(
                where, floor=tier.floor_notional, cap=tier.cap_notional, mmr=tier.maint_margin_rate,
                max_leverage=tier.max_leverage, maint_amount=tier.maint_amount,
            )
        except InvalidInput as bad:
            raise InvalidTierTable(str(bad)) from None
        if tier.cap_notional <= tier.floor_notional:
            raise InvalidTierTable(f"{where}: cap {tier.cap_notional} must exceed floor")
        if tier.max_leverage < 1:
            raise InvalidTierTable(f"{where}: max leverage {tier.max_leverage} must be >= 1")
        if not ZERO < tier.maint_margin_rate <= tier.initial_margin_rate <= ONE:
            raise InvalidTierTable(
                f"{where}: need 0 < mmr ({tier.maint_margin_rate}) <= initial rate"
                f" ({tier.initial_margin_rate}) <= 1"
            )


def _validate(name: str, tiers: tuple[Tier, ...]) -> None:
    _validate_rates(name, tiers)
    for i, tier in enumerate(tiers):
        where = f"{name}: tier {i + 1}"
        if i == 0:
            if tier.maint_amount != 0:
                raise InvalidTierTable(f"{where}: the first maintenance amount must be 0")
            continue
        prev = tiers[i - 1]
        if tier.floor_notional != prev.cap_notional:
            raise InvalidTierTable(
                f"{where}: floor {tier.floor_notional} must equal the previous cap {prev.cap_notional}"
            )
        if tier.maint_margin_rate < prev.maint_margin_rate:
            raise InvalidTierTable(f"{where}: mmr must not decrease with notional")
        if prev.maintenance_margin(tier.floor_notional) != tier.maintenance_margin(tier.floor_notional):
            raise InvalidTierTable(f"{where}: maintenance margin is discontinuous at its floor")
