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

from typing import Annotated, Any

import msgspec

from solvent.file_formats import Number, OptionalNumber, read_as
from solvent.model import InstrumentKind
from solvent.risk.dydx import ImfScaling
from solvent.risk.model_params import MARGIN_MODELS
from solvent.risk.rules import LiquidationTrigger, MMBasis

__all__ = ["ADL_RANKINGS", "COMMON_POLICY_FIELDS", "PROFILE_TYPES", "LiquidationSpec", "ProfileFile", "policy_fields",
           "read_profile_shape", "volatility_fields"]

Ratio = Annotated[Any, msgspec.Meta(extra_json_schema={
    "anyOf": [{"type": "string", "pattern": r"^[0-9.]+(/[0-9.]+)?$"}, {"type": "integer"}],
    "description": "A fraction in [0, 1]: a decimal string, or a ratio 'a/b' (2/3 has no finite decimal)."})]


class TierRow(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One notional tier (Binance's bracket fields); ``cum`` is checked against MM continuity."""

    notional_floor: Number
    notional_cap: Number
    maint_margin_ratio: Number
    initial_leverage: Number
    cum: OptionalNumber = None


class InstrumentSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An instrument (or the profile's ``defaults`` for all of them)."""

    kind: InstrumentKind | None = None
    base: str | None = None
    quote: str | None = None
    settle: str | None = None
    contract_size: OptionalNumber = None
    tick_size: OptionalNumber = None
    lot_size: OptionalNumber = None
    expiry_ms: int | None = None
    sz_decimals: int | None = None
    """Hyperliquid's size decimals (its significant-figures price rule)."""
    tiers: str | list[TierRow] | None = None
    """``tiered``: the name of a ``tier_tables`` entry, or the rows themselves."""
    imf_ppm: int | None = None
    mmf_ppm: int | None = None
    oi_lower_cap: OptionalNumber = None
    oi_upper_cap: OptionalNumber = None
    imf_scaling: ImfScaling | None = None
    liquidity_tier: str | None = None
    """``dydx``: informational (the tier's name; its parameters are the fields above)."""
    initial_ratio: OptionalNumber = None
    maintenance_ratio: OptionalNumber = None
    imf_factor: OptionalNumber = None
    market_index: int | None = None
    """``drift``: informational (the market's index on chain)."""
    liquidator_fee: OptionalNumber = None
    """``drift``: informational (the fees the liquidation rule uses are in ``liquidation.markets``)."""
    if_liquidation_fee: OptionalNumber = None
    """``drift``: informational, as ``liquidator_fee``."""


class LiquidityTier(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A dYdX liquidity tier, informational (instruments carry its parameters)."""

    id: int
    imf_ppm: int
    mmf_ppm: int
    oi_lower_cap: Number
    oi_upper_cap: Number


class PriceRuleSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    significant_figures: int
    max_decimals: int | None = None


class Levels(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    warning: Number = "0.7"
    margin_call: Number = "0.8"


ADL_RANKINGS = ("binance", "bitmex", "pro_rata")
"""How a profile's ADL queue is ranked (``risk/adl.py``)."""
AdlRanking = Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(ADL_RANKINGS)})]


class _Policy(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, tag_field="policy"):
    source: str = ""
    adl_ranking: AdlRanking | None = None
    full_close: bool = False


class GenericPolicy(_Policy, tag="generic"):
    """solvent's generic procedure (the venue's own is not modelled)."""


class BankruptcyPricePolicy(_Policy, tag="bankruptcy_price"):
    """Binance, Bybit, BitMEX: the position is taken over at the bankruptcy price."""


class DydxV4Policy(_Policy, tag="dydx_v4"):
    bankruptcy_adjustment_ppm: int | None = None
    spread_to_maint_margin_ratio_ppm: int | None = None
    max_liquidation_fee_ppm: int | None = None


class BackstopPolicy(_Policy, tag="backstop"):
    backstop_threshold: Ratio = "2/3"
    backstop_account: str | None = None
    chunk_fraction: Ratio | None = None
    chunk_min_notional: Number = "0"
    cooldown_ms: int = 0


class DriftMarketFees(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    liquidator_fee: Ratio
    if_liquidation_fee: Ratio


class DriftPolicy(_Policy, tag="drift"):
    markets: dict[str, DriftMarketFees]
    fee_grace_ms: int = 0
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
    update_interval_ms: int
    window: int
    lookback_ms: int
    base_mmr: Number
    reference_vol: Number
    floor_mmr: Number
    cap_mmr: Number
    stress_weight: Number = "0.25"
    stressed_vol: Number = "0"
    # the EWMA decay, RiskMetrics' 0.94 when left out ("lambda" in the file)
    decay: OptionalNumber = msgspec.field(default=None, name="lambda")


class ProfileFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A venue profile."""

    schema_version: int
    name: str
    display_name: str | None = None
    source: str
    effective_from: str
    notes: str = ""
    margin_model: Annotated[str, msgspec.Meta(extra_json_schema={"enum": sorted(MARGIN_MODELS)})]
    mm_basis: MMBasis
    trigger_price: str
    liquidation_trigger: LiquidationTrigger
    liquidation_fee_rate: Number = "0"
    liquidation: LiquidationSpec | None = None
    levels: Levels | None = None
    defaults: InstrumentSpec | None = None
    tier_tables: dict[str, list[TierRow]] | None = None
    instruments: dict[str, InstrumentSpec]
    liquidity_tiers: dict[str, LiquidityTier] | None = None
    """``dydx``: informational."""
    price_rule: PriceRuleSpec | None = None
    exchange_info: str | None = None
    """A Binance ``exchangeInfo`` file next to the profile: ticks and lots of its instruments."""
    volatility_mm: VolatilityMMSpec | None = None


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
