"""Events: what the engine says happened. Immutable; amounts are ``Decimal``.

Frozen ``msgspec`` structs rather than frozen dataclasses: the engine builds one or more per
command, and a frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) cost
about ten times as much (0.7 µs for ``OrderPlaced``, a tenth of a pre-trade check)."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any, Final

import msgspec

from solvent.engine.denials import Denial
from solvent.units import plain

__all__ = [
    "BACKSTOP_STEP",
    "BOOK_STEP",
    "STEP_KINDS",
    "Accepted",
    "AutoDeleveraged",
    "BackstopLossLimit",
    "BalanceChanged",
    "CollateralConverted",
    "Event",
    "FundDrawdownAdl",
    "FundingPaid",
    "FundingSettled",
    "IndexDropped",
    "InsuranceFundChanged",
    "LiquidationStep",
    "LiquidationsPaused",
    "LiquidationsResumed",
    "LossSocialised",
    "MaintenanceScaleChanged",
    "MarginCall",
    "MarginLevelChanged",
    "MarkPriceChanged",
    "MarkPriceHeld",
    "OrderCancelled",
    "OrderPlaced",
    "ParamsChanged",
    "PositionChanged",
    "Rejected",
    "Settled",
    "TimeAdvanced",
    "event_to_json",
]


class Accepted(msgspec.Struct, frozen=True, gc=False):
    command: str


class Rejected(msgspec.Struct, frozen=True, gc=False):
    command: str
    denial: Denial


class BalanceChanged(msgspec.Struct, frozen=True, gc=False):
    account_id: str
    asset: str
    delta: Decimal
    balance: Decimal
    reason: str


class PositionChanged(msgspec.Struct, frozen=True, gc=False):
    account_id: str
    symbol: str
    position_side: str
    qty: Decimal
    entry_price: Decimal
    realised_pnl: Decimal


class OrderPlaced(msgspec.Struct, frozen=True, gc=False):
    account_id: str
    order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal


class OrderCancelled(msgspec.Struct, frozen=True, gc=False):
    account_id: str
    order_id: str
    reason: str


class MarkPriceChanged(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    mark_price: Decimal
    sources: tuple[str, ...]


class MarkPriceHeld(msgspec.Struct, frozen=True, gc=False):
    """A jump larger than the guard allows: the price is shown but may not liquidate yet."""

    symbol: str
    candidate_price: Decimal
    reference_price: Decimal


class IndexDropped(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    source: str
    reason: str


class LiquidationsPaused(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    reason: str


class LiquidationsResumed(msgspec.Struct, frozen=True, gc=False):
    symbol: str


class MarginLevelChanged(msgspec.Struct, frozen=True, gc=False):
    account_id: str
    previous: str
    level: str
    equity: Decimal
    maintenance_margin: Decimal
    margin_ratio: Decimal | None


class MarginCall(msgspec.Struct, frozen=True, gc=False):
    account_id: str
    equity: Decimal
    maintenance_margin: Decimal
    margin_ratio: Decimal | None


class FundingPaid(msgspec.Struct, frozen=True, gc=False):
    account_id: str
    symbol: str
    amount: Decimal
    rate: Decimal


class FundingSettled(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    rate: Decimal
    mark_price: Decimal
    residue: Decimal


class Settled(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    settlement_price: Decimal
    positions_closed: int


BOOK_STEP: Final = "book"
"""A ``LiquidationStep`` closed against the book account (the venue's liquidation engine)."""
BACKSTOP_STEP: Final = "backstop"
"""A ``LiquidationStep`` taken over by the backstop (Hyperliquid's liquidator vault)."""
STEP_KINDS: Final = (BOOK_STEP, BACKSTOP_STEP)


class LiquidationStep(msgspec.Struct, frozen=True, gc=False):
    """Part of a position closed by liquidation: ``kind`` is one of ``STEP_KINDS``."""

    account_id: str
    symbol: str
    kind: str
    qty: Decimal
    price: Decimal
    fee: Decimal


class AutoDeleveraged(msgspec.Struct, frozen=True, gc=False):
    """``counterparty``'s opposite position closed against the bankrupt ``account_id``."""

    account_id: str
    counterparty: str
    symbol: str
    qty: Decimal
    price: Decimal


class CollateralConverted(msgspec.Struct, frozen=True, gc=False):
    """Liquidation sold ``qty`` of a collateral ``asset`` of ``account_id`` to ``counterparty``
    (the book account) at the index ``price``: ``proceeds = qty × price`` (rounded down) in the
    settlement asset, of which ``penalty`` went to the insurance fund."""

    account_id: str
    counterparty: str
    asset: str
    qty: Decimal
    price: Decimal
    proceeds: Decimal
    penalty: Decimal


class InsuranceFundChanged(msgspec.Struct, frozen=True, gc=False):
    delta: Decimal
    balance: Decimal
    reason: str


class LossSocialised(msgspec.Struct, frozen=True, gc=False):
    """A deficit neither the insurance fund nor ADL could cover, written off."""

    account_id: str
    amount: Decimal


class TimeAdvanced(msgspec.Struct, frozen=True, gc=False):
    now_ms: int


class MaintenanceScaleChanged(msgspec.Struct, frozen=True, gc=False):
    """A volatility update changed ``symbol``'s MM scale (``engine/maintenance_scale.py``):
    every position's MM there is now its table MM × ``scale``."""

    symbol: str
    volatility: Decimal
    stressed_volatility: Decimal
    scale: Decimal


class FundDrawdownAdl(msgspec.Struct, frozen=True, gc=False):
    """The profile's fund rule (``risk/fund_rules.py``) put ``symbol`` into drawdown ADL
    (``started``: the fund pays none of its deficits, they are deleveraged) or took it out
    (the fund pays again). ``drawdown``: the market's fund PnL less its maximum over the window
    (≤ 0), ``max_balance``: the fund's maximum balance over the window, as they stood when the
    change was decided (a start: before the close that started it); their ratio is the venue's
    ``pnl_ratio`` then."""

    symbol: str
    started: bool
    drawdown: Decimal
    max_balance: Decimal


class BackstopLossLimit(msgspec.Struct, frozen=True, gc=False):
    """The backstop account (a liquidator vault) has lost ``loss`` on the positions it holds, at
    least ``limit`` of its ``capital`` (its wallet's value, what it had to lose): its positions in
    loss are auto-deleveraged at the mark (``AutoDeleveraged`` events follow, the vault as the
    deleveraged side). Hyperliquid's capped liquidator vault after 2025-03-26."""

    account_id: str
    loss: Decimal
    capital: Decimal
    limit: Decimal


class ParamsChanged(msgspec.Struct, frozen=True, gc=False):
    """A ``ChangeParams`` put new parameters in force: the profile (its venue and the date its
    specs took effect) and the digest of the whole configuration (``engine/params.py``), which
    the state now holds. The accounts holding positions are re-margined under it next."""

    profile: str
    effective_from: str
    digest: str


Event = (
    Accepted | Rejected | BalanceChanged | PositionChanged | OrderPlaced | OrderCancelled | MarkPriceChanged
    | MarkPriceHeld | IndexDropped | LiquidationsPaused | LiquidationsResumed | MarginLevelChanged | MarginCall
    | FundingPaid | FundingSettled | Settled | TimeAdvanced | LiquidationStep | AutoDeleveraged
    | InsuranceFundChanged | LossSocialised | CollateralConverted | MaintenanceScaleChanged | FundDrawdownAdl
    | BackstopLossLimit | ParamsChanged
)


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, Denial):
        return value.to_json()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


def event_to_json(event: Event) -> dict[str, Any]:
    """``{"type": ClassName, field: value, ...}`` with decimals as strings, fields in order."""
    out: dict[str, Any] = {"type": type(event).__name__}
    for name in event.__struct_fields__:
        out[name] = _encode(getattr(event, name))
    return out
