"""The real-time engine: a deterministic state machine from commands to events."""

from solvent.engine.commands import (
    AddIsolatedMargin,
    AdvanceTime,
    CancelOrder,
    Command,
    Deposit,
    Fill,
    PlaceOrder,
    PremiumSample,
    PriceUpdate,
    RemoveIsolatedMargin,
    SetLeverage,
    SetMarginMode,
    Withdraw,
)
from solvent.engine.config import EngineConfig, LevelThresholds
from solvent.engine.core import CommandResult, Engine, WhatIf
from solvent.engine.denials import Denial, DenyCode
from solvent.engine.events import Event, event_to_json
from solvent.engine.margin import AccountMargin

__all__ = [
    "AccountMargin",
    "AddIsolatedMargin",
    "AdvanceTime",
    "CancelOrder",
    "Command",
    "CommandResult",
    "Denial",
    "DenyCode",
    "Deposit",
    "Engine",
    "EngineConfig",
    "Event",
    "Fill",
    "LevelThresholds",
    "PlaceOrder",
    "PremiumSample",
    "PriceUpdate",
    "RemoveIsolatedMargin",
    "SetLeverage",
    "SetMarginMode",
    "WhatIf",
    "Withdraw",
    "event_to_json",
]
