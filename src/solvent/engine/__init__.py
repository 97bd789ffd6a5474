"""The real-time engine: a deterministic state machine from commands to events."""

from solvent.engine.commands import (
    AddIsolatedMargin,
    AdvanceTime,
    CancelOrder,
    ChangeParams,
    Command,
    Deposit,
    Fill,
    FundInsurance,
    PlaceOrder,
    PremiumSample,
    PriceUpdate,
    RemoveIsolatedMargin,
    SetLeverage,
    SetMarginMode,
    Withdraw,
)
from solvent.engine.config import AdlRanking, EngineConfig, HistoryBounds, LevelThresholds, LiquidationPolicy
from solvent.engine.core import CommandResult, Engine, WhatIf
from solvent.engine.denials import Denial, DenyCode
from solvent.engine.events import Event, event_to_json
from solvent.engine.liquidity import BookDepth, LiquidityModel, SquareRootImpact
from solvent.engine.margin import AccountMargin

__all__ = [
    "AccountMargin",
    "AddIsolatedMargin",
    "AdlRanking",
    "AdvanceTime",
    "BookDepth",
    "CancelOrder",
    "ChangeParams",
    "Command",
    "CommandResult",
    "Denial",
    "DenyCode",
    "Deposit",
    "Engine",
    "EngineConfig",
    "Event",
    "Fill",
    "FundInsurance",
    "HistoryBounds",
    "LevelThresholds",
    "LiquidationPolicy",
    "LiquidityModel",
    "PlaceOrder",
    "PremiumSample",
    "PriceUpdate",
    "RemoveIsolatedMargin",
    "SetLeverage",
    "SetMarginMode",
    "SquareRootImpact",
    "WhatIf",
    "Withdraw",
    "event_to_json",
]
