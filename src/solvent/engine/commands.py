"""Commands: the only way state changes. Each is an immutable value; time is an input.

Every command carries what it needs and nothing is read from a clock. A venue feeds the
engine an ordered stream of these (its journal, see DESIGN); the engine answers each with
events. Amounts are ``Decimal``; ids are strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from solvent.model import MarginMode, PositionSide, Side

if TYPE_CHECKING:
    from solvent.engine.config import EngineConfig

__all__ = [
    "LIQUIDATION_TRADE_PREFIX",
    "AddIsolatedMargin",
    "AdvanceTime",
    "CancelOrder",
    "ChangeParams",
    "Command",
    "Deposit",
    "Fill",
    "FundInsurance",
    "PlaceOrder",
    "PremiumSample",
    "PriceUpdate",
    "RemoveIsolatedMargin",
    "SetLeverage",
    "SetMarginMode",
    "Withdraw",
]


@dataclass(frozen=True, slots=True)
class Deposit:
    account_id: str
    asset: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class FundInsurance:
    """Money paid into the insurance fund by the venue (in the settlement asset)."""

    amount: Decimal


@dataclass(frozen=True, slots=True)
class Withdraw:
    account_id: str
    asset: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """A limit order resting on the venue's book (the engine checks margin, the venue matches)."""

    account_id: str
    order_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    reduce_only: bool = False
    position_side: PositionSide = PositionSide.BOTH


@dataclass(frozen=True, slots=True)
class CancelOrder:
    account_id: str
    order_id: str


LIQUIDATION_TRADE_PREFIX = "liq-"
"""Trade ids the engine gives its own liquidation fills (``liq-1``, ``liq-2``, …). A ``Fill``
from the venue's matcher may not use them (``RESERVED_TRADE_ID``): it would collide with a
liquidation's."""


@dataclass(frozen=True, slots=True)
class Fill:
    """A trade from the venue's matcher: ``buyer`` buys ``qty`` from ``seller`` at ``price``.

    Both sides are accounts of this engine, so every trade is zero-sum. Fees are charged
    in the settlement asset and go to fee income. ``*_order_id`` reduce the resting orders.
    """

    trade_id: str
    symbol: str
    price: Decimal
    qty: Decimal
    buyer_id: str
    seller_id: str
    buyer_fee: Decimal = Decimal(0)
    seller_fee: Decimal = Decimal(0)
    buy_order_id: str | None = None
    sell_order_id: str | None = None
    buyer_position_side: PositionSide = PositionSide.BOTH
    seller_position_side: PositionSide = PositionSide.BOTH


@dataclass(frozen=True, slots=True)
class PriceUpdate:
    """One source's price for an instrument (index component) or a collateral asset."""

    symbol: str
    source: str
    price: Decimal


@dataclass(frozen=True, slots=True)
class PremiumSample:
    """Impact bid/ask for the premium index of a perpetual (sampled by the venue)."""

    symbol: str
    impact_bid: Decimal
    impact_ask: Decimal


@dataclass(frozen=True, slots=True)
class AdvanceTime:
    """Time moves to ``now_ms`` (never backwards): funding and expiries fall due."""

    now_ms: int


@dataclass(frozen=True, slots=True)
class SetLeverage:
    account_id: str
    symbol: str
    leverage: Decimal


@dataclass(frozen=True, slots=True)
class SetMarginMode:
    account_id: str
    symbol: str
    mode: MarginMode


@dataclass(frozen=True, slots=True)
class AddIsolatedMargin:
    account_id: str
    symbol: str
    amount: Decimal
    position_side: PositionSide = PositionSide.BOTH


@dataclass(frozen=True, slots=True)
class RemoveIsolatedMargin:
    account_id: str
    symbol: str
    amount: Decimal
    position_side: PositionSide = PositionSide.BOTH


@dataclass(frozen=True, slots=True)
class ChangeParams:
    """The venue's parameters from here on (an operator's command; ``engine/params.py``): the
    whole new configuration, of the same venue. ``digest`` names it in the state: a journaled
    engine passes the SHA-256 of the configuration as its ``params`` record holds it (stable
    across solvent versions); left empty, the engine takes ``params.params_digest``."""

    config: EngineConfig
    digest: str = ""
    replayed: bool = False
    """Read back from a journal record: the admission checks of the time it was written
    (``params.admission_problem``) are not run again, so tightening them never stops a journal
    from replaying."""


Command = (
    Deposit | Withdraw | FundInsurance | PlaceOrder | CancelOrder | Fill | PriceUpdate | PremiumSample | AdvanceTime
    | SetLeverage | SetMarginMode | AddIsolatedMargin | RemoveIsolatedMargin | ChangeParams
)
