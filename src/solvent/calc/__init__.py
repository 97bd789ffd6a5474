"""Trader-facing calculators (pure functions): margin, liquidation and bankruptcy prices, sizing."""

from solvent.calc.account import (
    MONEY_QUANTUM,
    AccountReport,
    MarginLevel,
    PositionReport,
    assess_account,
    distance_to_liquidation_pct,
    initial_margin,
    maintenance_margin,
    margin_level,
    margin_ratio,
)
from solvent.calc.price_solver import Leg, NoPriceReason, PriceSolution, solve_price
from solvent.calc.sizing import max_position_qty

__all__ = [
    "MONEY_QUANTUM",
    "AccountReport",
    "Leg",
    "MarginLevel",
    "NoPriceReason",
    "PositionReport",
    "PriceSolution",
    "assess_account",
    "distance_to_liquidation_pct",
    "initial_margin",
    "maintenance_margin",
    "margin_level",
    "margin_ratio",
    "max_position_qty",
    "solve_price",
]
