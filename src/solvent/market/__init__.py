"""Market data: index and mark prices, price guards, funding, settlement TWAP.

Pure functions and immutable values only; time is always an argument (integer ms).
This package imports nothing from solvent but ``solvent.units`` and ``solvent.errors``.
"""

from __future__ import annotations

from solvent.market.funding import (
    BINANCE_CLAMP,
    BINANCE_INTEREST_RATE,
    FundingPayment,
    FundingSettlement,
    average_premium,
    clamp_rate,
    dydx_funding_rate,
    funding_payments,
    funding_rate,
    premium_index,
)
from solvent.market.guard import (
    JumpDecision,
    JumpGuard,
    JumpGuardConfig,
    JumpStatus,
    jump_guard_step,
    validate_price,
)
from solvent.market.index import (
    DroppedSource,
    DropReason,
    IndexConfig,
    IndexFailure,
    IndexMethod,
    IndexResult,
    SourceQuote,
    compute_index,
)
from solvent.market.mark import (
    BasisMovingAverage,
    MarkPrice,
    basis,
    ema_update,
    mark_index_plus_basis,
    mark_price,
)
from solvent.market.settlement import SETTLEMENT_WINDOW_MS, settlement_price, twap

__all__ = [
    "BINANCE_CLAMP",
    "BINANCE_INTEREST_RATE",
    "SETTLEMENT_WINDOW_MS",
    "BasisMovingAverage",
    "DropReason",
    "DroppedSource",
    "FundingPayment",
    "FundingSettlement",
    "IndexConfig",
    "IndexFailure",
    "IndexMethod",
    "IndexResult",
    "JumpDecision",
    "JumpGuard",
    "JumpGuardConfig",
    "JumpStatus",
    "MarkPrice",
    "SourceQuote",
    "average_premium",
    "basis",
    "clamp_rate",
    "compute_index",
    "dydx_funding_rate",
    "ema_update",
    "funding_payments",
    "funding_rate",
    "jump_guard_step",
    "mark_index_plus_basis",
    "mark_price",
    "premium_index",
    "settlement_price",
    "twap",
    "validate_price",
]
