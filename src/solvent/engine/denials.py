"""The closed set of reasons a command is refused, with structured context.

A denial renders as ``CODE: key=value key=value`` (values as plain decimals), e.g.
``INSUFFICIENT_INITIAL_MARGIN: required=1500.5 available=1200``. A refused command leaves
the engine's state exactly as it was. ``docs/engine.md`` lists every code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from solvent.units import plain

__all__ = ["Denial", "DenyCode"]


class DenyCode(StrEnum):
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    UNKNOWN_ASSET = "UNKNOWN_ASSET"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    DUPLICATE_ORDER_ID = "DUPLICATE_ORDER_ID"
    DUPLICATE_TRADE_ID = "DUPLICATE_TRADE_ID"
    RESERVED_TRADE_ID = "RESERVED_TRADE_ID"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    INVALID_LEVERAGE = "INVALID_LEVERAGE"
    INVALID_FIELD = "INVALID_FIELD"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    INSUFFICIENT_INITIAL_MARGIN = "INSUFFICIENT_INITIAL_MARGIN"
    WITHDRAWAL_EXCEEDS_FREE_MARGIN = "WITHDRAWAL_EXCEEDS_FREE_MARGIN"
    LEVERAGE_EXCEEDS_TIER = "LEVERAGE_EXCEEDS_TIER"
    POSITION_LIMIT = "POSITION_LIMIT"
    OPEN_INTEREST_LIMIT = "OPEN_INTEREST_LIMIT"
    REDUCE_ONLY_WOULD_INCREASE = "REDUCE_ONLY_WOULD_INCREASE"
    RISK_INCREASING_WHILE_UNDER_MARGIN = "RISK_INCREASING_WHILE_UNDER_MARGIN"
    NO_MARK_PRICE = "NO_MARK_PRICE"
    MARKET_HALTED = "MARKET_HALTED"
    POSITION_SIDE_MISMATCH = "POSITION_SIDE_MISMATCH"
    MODE_CHANGE_WITH_OPEN_POSITION = "MODE_CHANGE_WITH_OPEN_POSITION"
    NO_POSITION = "NO_POSITION"
    ORDER_QTY_EXCEEDED = "ORDER_QTY_EXCEEDED"
    TIME_WENT_BACKWARDS = "TIME_WENT_BACKWARDS"
    INSTRUMENT_EXPIRED = "INSTRUMENT_EXPIRED"
    UNSUPPORTED_INSTRUMENT = "UNSUPPORTED_INSTRUMENT"
    SELF_TRADE = "SELF_TRADE"
    PRICE_OUT_OF_RANGE = "PRICE_OUT_OF_RANGE"
    QTY_OUT_OF_RANGE = "QTY_OUT_OF_RANGE"
    AMOUNT_OUT_OF_RANGE = "AMOUNT_OUT_OF_RANGE"
    TIME_OUT_OF_RANGE = "TIME_OUT_OF_RANGE"
    PARAMS_INCOMPATIBLE = "PARAMS_INCOMPATIBLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a command was refused, with the numbers that decided it."""

    code: DenyCode
    context: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def of(cls, code: DenyCode, **context: Decimal | str | int) -> Denial:
        rendered = tuple(
            (key, plain(value) if isinstance(value, Decimal) else str(value)) for key, value in context.items()
        )
        return cls(code, rendered)

    def __str__(self) -> str:
        details = " ".join(f"{k}={v}" for k, v in self.context)
        return f"{self.code.value}: {details}" if details else self.code.value

    def to_json(self) -> dict[str, object]:
        return {"code": self.code.value, **dict(self.context)}
