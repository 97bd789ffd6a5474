"""Events: what the engine says happened. Immutable; amounts are ``Decimal``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from solvent.engine.denials import Denial
from solvent.units import plain

__all__ = [
    "BACKSTOP_STEP",
    "BOOK_STEP",
    "STEP_KINDS",
    "Accepted",
    "AutoDeleveraged",
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


@dataclass(frozen=True, slots=True)
class Accepted:
    command: str


@dataclass(frozen=True, slots=True)
class Rejected:
    command: str
    denial: Denial


@dataclass(frozen=True, slots=True)
class BalanceChanged:
    account_id: str
    asset: str
    delta: Decimal
    balance: Decimal
    reason: str


@dataclass(frozen=True, slots=True)
class PositionChanged:
    account_id: str
    symbol: str
    position_side: str
    qty: Decimal
    entry_price: Decimal
    realised_pnl: Decimal


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    account_id: str
    order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    account_id: str
    order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class MarkPriceChanged:
    symbol: str
    mark_price: Decimal
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MarkPriceHeld:
    """A jump larger than the guard allows: the price is shown but may not liquidate yet."""

    symbol: str
    candidate_price: Decimal
    reference_price: Decimal


@dataclass(frozen=True, slots=True)
class IndexDropped:
    symbol: str
    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class LiquidationsPaused:
    symbol: str
    reason: str


@dataclass(frozen=True, slots=True)
class LiquidationsResumed:
    symbol: str


@dataclass(frozen=True, slots=True)
class MarginLevelChanged:
    account_id: str
    previous: str
    level: str
    equity: Decimal
    maintenance_margin: Decimal
    margin_ratio: Decimal | None


@dataclass(frozen=True, slots=True)
class MarginCall:
    account_id: str
    equity: Decimal
    maintenance_margin: Decimal
    margin_ratio: Decimal | None


@dataclass(frozen=True, slots=True)
class FundingPaid:
    account_id: str
    symbol: str
    amount: Decimal
    rate: Decimal


@dataclass(frozen=True, slots=True)
class FundingSettled:
    symbol: str
    rate: Decimal
    mark_price: Decimal
    residue: Decimal


@dataclass(frozen=True, slots=True)
class Settled:
    symbol: str
    settlement_price: Decimal
    positions_closed: int


BOOK_STEP: Final = "book"
"""A ``LiquidationStep`` closed against the book account (the venue's liquidation engine)."""
BACKSTOP_STEP: Final = "backstop"
"""A ``LiquidationStep`` taken over by the backstop (Hyperliquid's liquidator vault)."""
STEP_KINDS: Final = (BOOK_STEP, BACKSTOP_STEP)


@dataclass(frozen=True, slots=True)
class LiquidationStep:
    """Part of a position closed by liquidation: ``kind`` is one of ``STEP_KINDS``."""

    account_id: str
    symbol: str
    kind: str
    qty: Decimal
    price: Decimal
    fee: Decimal


@dataclass(frozen=True, slots=True)
class AutoDeleveraged:
    """``counterparty``'s opposite position closed against the bankrupt ``account_id``."""

    account_id: str
    counterparty: str
    symbol: str
    qty: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class CollateralConverted:
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


@dataclass(frozen=True, slots=True)
class InsuranceFundChanged:
    delta: Decimal
    balance: Decimal
    reason: str


@dataclass(frozen=True, slots=True)
class LossSocialised:
    """A deficit neither the insurance fund nor ADL could cover, written off."""

    account_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class TimeAdvanced:
    now_ms: int


@dataclass(frozen=True, slots=True)
class MaintenanceScaleChanged:
    """A volatility update changed ``symbol``'s MM scale (``engine/maintenance_scale.py``):
    every position's MM there is now its table MM × ``scale``."""

    symbol: str
    volatility: Decimal
    stressed_volatility: Decimal
    scale: Decimal


@dataclass(frozen=True, slots=True)
class FundDrawdownAdl:
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


@dataclass(frozen=True, slots=True)
class ParamsChanged:
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
    | ParamsChanged
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
    for f in fields(event):
        out[f.name] = _encode(getattr(event, f.name))
    return out
