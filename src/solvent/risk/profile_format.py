"""The venue profile file (``profiles/*.json``, ``solvent.load_venue_file``) as msgspec types:
the one home of its field lists.

``risk/venues.py`` reads a profile through ``read_profile_shape`` first: the fields each object
may hold, which are required, objects, lists, integers, booleans and the names an enum field
takes. The readers then check the values (numbers exact and in range, tier continuity, a
margin model's required fields). ``solvent schema venue`` publishes the JSON Schema generated
from the same types. The liquidation policies are a tagged union on ``policy``: each policy
has its own fields (``liquidation_rules.policy_fields`` derives them from these types).

An instrument is read with the profile's ``defaults`` merged in, so one type serves both; the
fields a margin model needs (``tiers`` for ``tiered``, ``imf_ppm``/``mmf_ppm`` for ``dydx``,
``initial_ratio``/``maintenance_ratio`` for ``drift``) are checked by its builder
(``risk/model_params.py``). Fields marked *informational* are kept in the bundled profiles
as the venue publishes them and are not read.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec

from solvent.file_formats import Number, OptionalNumber, read_as
from solvent.model import InstrumentKind
from solvent.risk.dydx import ImfScaling
from solvent.risk.model_params import MARGIN_MODELS
from solvent.risk.rules import LiquidationTrigger, MMBasis
from solvent.units import PLAIN_NUMBER_PATTERN

__all__ = ["ADL_RANKINGS", "COMMON_POLICY_FIELDS", "PROFILE_TYPES", "LiquidationSpec", "ProfileFile", "policy_fields",
           "read_profile_shape", "volatility_fields"]

Ratio = Annotated[Any, msgspec.Meta(extra_json_schema={
    "anyOf": [{"type": "string", "pattern": f"^{PLAIN_NUMBER_PATTERN}(/{PLAIN_NUMBER_PATTERN})?$"},
              {"type": "integer", "minimum": 0, "maximum": 1}],
    "description": "A fraction in [0, 1]: a decimal string, or a ratio 'a/b' (2/3 has no finite decimal)."})]
LossLimit = Annotated[Any, msgspec.Meta(extra_json_schema={
    "anyOf": [{"type": "string", "pattern": f"^{PLAIN_NUMBER_PATTERN}(/{PLAIN_NUMBER_PATTERN})?$"},
              {"type": "integer", "minimum": 1, "maximum": 1}],
    "description": "A fraction in (0, 1], as a decimal string or a ratio 'a/b'; 0 is refused (the backstop would "
                   "deleverage at its first cent of loss)."})]
Count = Annotated[int, msgspec.Meta(ge=0)]
"""A whole number that is never negative (ppm, milliseconds, decimals, a window)."""
SCHEMA_VERSION: Final = 1
"""The profile format's version (``schema_version``)."""


class TierRow(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One notional tier (Binance's bracket fields); ``cum`` is checked against MM continuity."""

    notional_floor: Number
    notional_cap: Number
    maint_margin_ratio: Number
    initial_leverage: Number
    cum: OptionalNumber = None


class InstrumentSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An instrument (or the profile's ``defaults`` for all of them)."""

    kind: InstrumentKind | msgspec.UnsetType = msgspec.UNSET
    base: str | msgspec.UnsetType = msgspec.UNSET
    quote: str | msgspec.UnsetType = msgspec.UNSET
    settle: str | msgspec.UnsetType = msgspec.UNSET
    contract_size: Number | msgspec.UnsetType = msgspec.UNSET
    tick_size: Number | msgspec.UnsetType = msgspec.UNSET
    lot_size: Number | msgspec.UnsetType = msgspec.UNSET
    expiry_ms: Count | msgspec.UnsetType = msgspec.UNSET
    sz_decimals: Count | msgspec.UnsetType = msgspec.UNSET
    """Hyperliquid's size decimals (its significant-figures price rule)."""
    tiers: str | Annotated[list[TierRow], msgspec.Meta(min_length=1)] | msgspec.UnsetType = msgspec.UNSET
    """``tiered``: the name of a ``tier_tables`` entry, or the rows themselves."""
    imf_ppm: Count | msgspec.UnsetType = msgspec.UNSET
    mmf_ppm: Count | msgspec.UnsetType = msgspec.UNSET
    oi_lower_cap: Number | msgspec.UnsetType = msgspec.UNSET
    oi_upper_cap: Number | msgspec.UnsetType = msgspec.UNSET
    imf_scaling: ImfScaling | msgspec.UnsetType = msgspec.UNSET
    liquidity_tier: str | msgspec.UnsetType = msgspec.UNSET
    """``dydx``: informational (the tier's name; its parameters are the fields above)."""
    initial_ratio: Number | msgspec.UnsetType = msgspec.UNSET
    maintenance_ratio: Number | msgspec.UnsetType = msgspec.UNSET
    imf_factor: Number | msgspec.UnsetType = msgspec.UNSET
    market_index: Count | msgspec.UnsetType = msgspec.UNSET
    """``drift``: informational (the market's index on chain)."""
    liquidator_fee: Number | msgspec.UnsetType = msgspec.UNSET
    """``drift``: informational (the fees the liquidation rule uses are in ``liquidation.markets``)."""
    if_liquidation_fee: Number | msgspec.UnsetType = msgspec.UNSET
    """``drift``: informational, as ``liquidator_fee``."""


class LiquidityTier(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A dYdX liquidity tier, informational (instruments carry its parameters)."""

    id: Count
    imf_ppm: Count
    mmf_ppm: Count
    oi_lower_cap: Number
    oi_upper_cap: Number


class PriceRuleSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    significant_figures: Annotated[int, msgspec.Meta(ge=1)]
    max_decimals: Count | msgspec.UnsetType = msgspec.UNSET


class Levels(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    warning: Number = "0.7"
    margin_call: Number = "0.8"


ADL_RANKINGS = ("binance", "bitmex", "pro_rata")
"""How a profile's ADL queue is ranked (``risk/adl.py``)."""
AdlRanking = Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(ADL_RANKINGS)})]


class FundRuleSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An insurance-fund rule (``risk/fund_rules.py``): Bybit's contract PnL drawdown ADL."""

    kind: Annotated[str, msgspec.Meta(extra_json_schema={"enum": ["pnl_drawdown"]})]
    window_ms: Annotated[int, msgspec.Meta(gt=0)]
    trigger_ratio: Number
    stop_ratio: Number
    balance_threshold: Number
    source: str = ""


class _Policy(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, tag_field="policy"):
    source: str = ""
    adl_ranking: AdlRanking | msgspec.UnsetType = msgspec.UNSET
    full_close: bool = False
    fund_rule: FundRuleSpec | msgspec.UnsetType = msgspec.UNSET


class GenericPolicy(_Policy, tag="generic"):
    """solvent's generic procedure (the venue's own is not modelled)."""


class BankruptcyPricePolicy(_Policy, tag="bankruptcy_price"):
    """Binance, Bybit, BitMEX: the position is taken over at the bankruptcy price."""


class DydxV4Policy(_Policy, tag="dydx_v4"):
    bankruptcy_adjustment_ppm: Count | msgspec.UnsetType = msgspec.UNSET
    spread_to_maint_margin_ratio_ppm: Count | msgspec.UnsetType = msgspec.UNSET
    max_liquidation_fee_ppm: Count | msgspec.UnsetType = msgspec.UNSET


class BackstopPolicy(_Policy, tag="backstop"):
    backstop_threshold: Ratio = "2/3"
    backstop_account: str | msgspec.UnsetType = msgspec.UNSET
    chunk_fraction: Ratio | msgspec.UnsetType = msgspec.UNSET
    chunk_min_notional: Number = "0"
    cooldown_ms: Count = 0
    backstop_loss_limit: LossLimit | msgspec.UnsetType = msgspec.UNSET


class DriftMarketFees(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    liquidator_fee: Ratio
    if_liquidation_fee: Ratio


class DriftPolicy(_Policy, tag="drift"):
    markets: Annotated[dict[str, DriftMarketFees], msgspec.Meta(min_length=1)]
    fee_grace_ms: Count = 0
    fee_increase_per_ms: Number = "0"
    max_liquidator_fee: Ratio = "0"


LiquidationSpec = GenericPolicy | BankruptcyPricePolicy | DydxV4Policy | BackstopPolicy | DriftPolicy
POLICY_TYPES: tuple[type[_Policy], ...] = (GenericPolicy, BankruptcyPricePolicy, DydxV4Policy, BackstopPolicy,
                                           DriftPolicy)
COMMON_POLICY_FIELDS: frozenset[str] = frozenset({"policy", *_Policy.__struct_fields__})
"""The fields every policy takes (``policy`` names it)."""


def policy_fields() -> dict[str, frozenset[str]]:
    """Each policy's own fields, by its ``policy`` name."""
    return {str(t.__struct_config__.tag): frozenset(t.__struct_fields__) - COMMON_POLICY_FIELDS
            for t in POLICY_TYPES}


def volatility_fields() -> tuple[frozenset[str], frozenset[str]]:
    """The fields of a ``volatility_mm`` rule as the file names them: all of them, and the required ones."""
    info = msgspec.structs.fields(VolatilityMMSpec)
    return (frozenset(f.encode_name for f in info),
            frozenset(f.encode_name for f in info if f.required))


class VolatilityMMSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An EWMA volatility-scaled MM rule (``risk/volatility.py``)."""

    source: str
    update_interval_ms: Annotated[int, msgspec.Meta(ge=1)]
    window: Annotated[int, msgspec.Meta(ge=1)]
    lookback_ms: Annotated[int, msgspec.Meta(ge=1)]
    base_mmr: Number
    reference_vol: Number
    floor_mmr: Number
    cap_mmr: Number
    stress_weight: Number = "0.25"
    stressed_vol: Number = "0"
    # the EWMA decay, RiskMetrics' 0.94 when left out ("lambda" in the file)
    decay: Number | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name="lambda")


class LeverageSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The leverage an account may set (``SetLeverage``): a multiple of ``step``, with its source."""

    step: Number
    source: str


class ProfileFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A venue profile."""

    schema_version: Annotated[int, msgspec.Meta(ge=SCHEMA_VERSION, le=SCHEMA_VERSION)]
    name: str
    display_name: str | msgspec.UnsetType = msgspec.UNSET
    source: str
    effective_from: str
    notes: str = ""
    margin_model: Annotated[str, msgspec.Meta(extra_json_schema={"enum": sorted(MARGIN_MODELS)})]
    mm_basis: MMBasis
    trigger_price: str
    liquidation_trigger: LiquidationTrigger
    liquidation_fee_rate: Number = "0"
    liquidation: LiquidationSpec | msgspec.UnsetType = msgspec.UNSET
    leverage: LeverageSpec | msgspec.UnsetType = msgspec.UNSET
    """Without it, any leverage from 1 up to the tier's maximum (a venue with no leverage setting)."""
    levels: Levels | msgspec.UnsetType = msgspec.UNSET
    defaults: InstrumentSpec | msgspec.UnsetType = msgspec.UNSET
    tier_tables: dict[str, Annotated[list[TierRow], msgspec.Meta(min_length=1)]] | msgspec.UnsetType = msgspec.UNSET
    instruments: Annotated[dict[str, InstrumentSpec], msgspec.Meta(min_length=1)]
    liquidity_tiers: dict[str, LiquidityTier] | msgspec.UnsetType = msgspec.UNSET
    """``dydx``: informational."""
    price_rule: PriceRuleSpec | msgspec.UnsetType = msgspec.UNSET
    exchange_info: str | msgspec.UnsetType = msgspec.UNSET
    """A Binance ``exchangeInfo`` file next to the profile: ticks and lots of its instruments."""
    volatility_mm: VolatilityMMSpec | msgspec.UnsetType = msgspec.UNSET


PROFILE_TYPES: tuple[type[Any], ...] = (ProfileFile,)
"""The published venue schema's types (``solvent schema venue``)."""


def read_profile_shape(raw: object, name: str) -> ProfileFile:
    """``raw`` (a decoded profile) checked against the types above; ``InvalidInput`` naming the
    place (each instrument and tier table first, so that a message names its key)."""
    where = f"venue profile {name}"
    if isinstance(raw, dict):
        for part, kind in (("instruments", InstrumentSpec), ("tier_tables", list[TierRow])):
            entries = raw.get(part)
            if isinstance(entries, dict):
                for key, entry in entries.items():
                    read_as(entry, kind, f"{where} {part}.{key}")
    shape: ProfileFile = read_as(raw, ProfileFile, where)
    return shape
