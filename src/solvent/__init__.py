"""solvent: exact maintenance-margin and liquidation engine for leveraged crypto derivatives.

Every public entry point computes in solvent's own decimal context (``solvent.units.exact``);
importing solvent leaves the caller's decimal context alone.
"""

from solvent.calc import (
    AccountReport,
    MarginLevel,
    NoPriceReason,
    PositionReport,
    PriceSolution,
    assess_account,
    max_position_qty,
)
from solvent.errors import (
    InvalidInput,
    InvalidTierTable,
    InvariantViolation,
    LeverageTooHigh,
    SolventError,
    StaleMarketData,
    UnknownSymbol,
    UnknownVenue,
)
from solvent.model import (
    Account,
    Asset,
    Instrument,
    InstrumentKind,
    MarginMode,
    Position,
    PositionMode,
    PositionSide,
    Side,
)
from solvent.portfolio import Portfolio, parse_portfolio
from solvent.risk.rules import DriftRules, DydxRules, MarginRules, MMBasis, TieredRules
from solvent.risk.tiers import Tier, TierTable
from solvent.risk.venues import VenueProfile, bundled_venues, load_venue, load_venue_file
from solvent.units import to_decimal

__version__ = "0.1.0"

__all__ = [
    "Account",
    "AccountReport",
    "Asset",
    "DriftRules",
    "DydxRules",
    "Instrument",
    "InstrumentKind",
    "InvalidInput",
    "InvalidTierTable",
    "InvariantViolation",
    "LeverageTooHigh",
    "MMBasis",
    "MarginLevel",
    "MarginMode",
    "MarginRules",
    "NoPriceReason",
    "Portfolio",
    "Position",
    "PositionMode",
    "PositionReport",
    "PositionSide",
    "PriceSolution",
    "Side",
    "SolventError",
    "StaleMarketData",
    "Tier",
    "TierTable",
    "TieredRules",
    "UnknownSymbol",
    "UnknownVenue",
    "VenueProfile",
    "__version__",
    "assess_account",
    "bundled_venues",
    "load_venue",
    "load_venue_file",
    "max_position_qty",
    "parse_portfolio",
    "to_decimal",
]
