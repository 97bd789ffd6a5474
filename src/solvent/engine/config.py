"""Engine configuration: the venue profile plus the operating parameters a venue chooses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Final

from solvent.engine.liquidity import LiquidityModel, SquareRootImpact
from solvent.errors import InvalidInput
from solvent.market import IndexConfig, JumpGuardConfig
from solvent.model import Asset
from solvent.risk.venues import VenueProfile, load_venue
from solvent.risk.volatility import VolatilityMMRule
from solvent.units import solvent_context

__all__ = ["AdlRanking", "EngineConfig", "LevelThresholds", "LiquidationPolicy", "default_config",
           "default_settle_asset"]


TWO_THIRDS: Final = solvent_context().divide(Decimal(2), Decimal(3))
"""2/3 to ``WORKING_PRECISION`` digits, computed in solvent's context whatever the importer's."""


class AdlRanking(StrEnum):
    BINANCE = "binance"
    """PnL % × margin ratio ("LeveragePnL")."""
    BITMEX = "bitmex"
    """PnL % × effective leverage."""
    PRO_RATA = "pro_rata"
    """Every opposite position in proportion to its size."""


LIQUIDATION_REVISION = 8
"""The newest revision of the liquidation arithmetic (``LiquidationPolicy.revision``)."""


@dataclass(frozen=True, slots=True)
class LiquidationPolicy:
    """How the engine liquidates (``docs/liquidation.md`` explains every knob).

    ``book_account`` takes the other side of liquidation orders executed against the book at
    the liquidity model's price; ``backstop_account`` (optional) takes over positions at the
    mark when equity falls below ``backstop_threshold × MM`` or the book cannot absorb the
    order. The target is ``equity ≥ MM × (1 + target_buffer) + exit_buffer × notional``:
    partial liquidation closes the smallest lot-rounded part of the riskiest position that
    gets there, and an account leaves the liquidation level only once it is there.
    ``chunk_fraction`` caps one step at that fraction of a position whose notional is at
    least ``chunk_min_notional``, with ``cooldown_ms`` between steps. Once the cross
    positions are closed, a settlement-asset debt is repaid by selling collateral to the book
    account at the index less ``collateral_conversion_penalty``.
    """

    liquidity: LiquidityModel = field(default_factory=SquareRootImpact)
    book_account: str = "book"
    backstop_account: str | None = None
    backstop_threshold: Decimal = TWO_THIRDS
    backstop_loss_limit: Decimal | None = None
    """The backstop's loss on the positions it holds, as a fraction of its capital, at which
    they are auto-deleveraged at the mark (``engine/liquidation.backstop_loss_limit``); ``None``
    takes the venue rule's, and with neither the backstop carries any loss (a vault sharing
    the whole pool's collateral)."""
    target_buffer: Decimal = Decimal("0.02")
    exit_buffer: Decimal = Decimal(0)
    chunk_fraction: Decimal | None = None
    chunk_min_notional: Decimal = Decimal(0)
    cooldown_ms: int = 0
    adl: bool = True
    """Auto-deleverage when the fund cannot cover a deficit (off: socialise the shortfall)."""
    adl_ranking: AdlRanking = AdlRanking.BINANCE
    fee_rate: Decimal | None = None
    """Liquidation fee rate; ``None`` takes the venue profile's."""
    collateral_conversion_penalty: Decimal = Decimal("0.025")
    """Share of the index value of collateral sold by liquidation that goes to the insurance
    fund (the account receives ``index × (1 − penalty)``). Default 2.5 %: Binance
    Multi-Assets Mode's auto-exchange example converts BTC worth 10,256 to repay a 10,000
    debt (10,000 / 97.5 %)."""
    venue_rules: bool = True
    """Run the liquidation procedure the venue profile selects (``profile.liquidation``:
    bankruptcy-price takeover, dYdX v4, Hyperliquid backstop, Drift; ``docs/liquidation.md``),
    whose parameters then replace this policy's ADL ranking, backstop, chunking and cooldown.
    ``False``: solvent's generic procedure with this policy's knobs as given, whatever the
    venue (what every journal written before venue rules existed did)."""
    revision: int = LIQUIDATION_REVISION
    """The liquidation arithmetic's revision. ``8`` (the default): as ``7``, and the
    liquidation orders of one command walk the book: each is priced from where the earlier ones
    on the same side of the symbol's book left it (``engine/liquidity.py``, ``taken``), so a
    tick that liquidates many accounts pays what one order of their sum would; ``1``–``7``
    priced each order against the whole book. ``7``: as ``6``, and a bankrupt
    position that no book or backstop can take (no depth, no backstop) is deleveraged at its
    bankruptcy price, where ``1``–``6`` left the account below zero, waiting, with no event (only
    dYdX's fillable price and a spent backstop went to ADL). ``6``: as ``5``, and a backstop
    taking over a cross account takes the collateral left in other assets too, not only the
    settlement asset (before, an account holding its equity in such collateral kept it while
    the backstop took its positions); ``1``–``5`` replay as they ran. ``5``: as ``4``, and the venue
    profile's fund rule is in force (``risk/fund_rules.py``: Bybit's PnL drawdown ADL, which
    deleverages a market's deficit once the fund's PnL in that market has fallen too far,
    before the fund is empty); ``1``–``4`` never read it. ``4``: as ``3``, and a bankrupt
    scope's deficit is shared among its positions by their markets' losses, never more than a
    market's own loss (``venue_rules.carried_equity``), where ``1``–``3`` shared it by notional,
    so that ADL on a market the account did not lose in could close a counterparty beyond the
    mark. ``3``: a partial close is the
    smallest that passes even where the slack over the target peaks and falls again before
    the full close (``engine/close_size.py``); ``2`` bisected as if passing were monotone and
    could close everything where a small step would have done. ``2`` and ``3`` (December
    2026): a liquidation order's price is rounded against the account to the instrument's price step
    (``EngineConfig.price_step``: the tick, or the money quantum on an instrument without
    one), and a partial close is sized with the rest of the position carrying its share of the
    cost (what an entry-value MM reads). ``1``, how journals written before replay: on an
    instrument without a tick the price was the liquidity model's, unrounded (a square root or
    an average at 40 digits), and the rest was sized with the whole cost."""

    def __post_init__(self) -> None:
        if type(self.adl_ranking) is str and self.adl_ranking in AdlRanking.__members__.values():
            object.__setattr__(self, "adl_ranking", AdlRanking(self.adl_ranking))  # its value: the member
        if type(self.revision) is not int or self.revision not in (1, 2, 3, 4, 5, 6, 7, LIQUIDATION_REVISION):
            raise InvalidInput(f"LiquidationPolicy.revision must be an integer 1 to {LIQUIDATION_REVISION}, "
                               f"got {self.revision!r}")
        limit = self.backstop_loss_limit
        if limit is not None and not (isinstance(limit, Decimal) and limit.is_finite() and 0 < limit <= 1):
            raise InvalidInput(f"LiquidationPolicy.backstop_loss_limit must be a Decimal in (0, 1] or None, "
                             f"got {limit!r}")


@dataclass(frozen=True, slots=True)
class LevelThresholds:
    """Margin-ratio (MM / equity) levels, with hysteresis on the way down.

    An account enters ``warning`` at ``ratio ≥ warning`` and leaves it only when
    ``ratio < warning − hysteresis``; likewise for ``margin_call``. Liquidation follows the
    venue's trigger (equity ≤ MM, or < MM); leaving it is the liquidation engine's job.
    """

    warning: Decimal = Decimal("0.7")
    margin_call: Decimal = Decimal("0.8")
    hysteresis: Decimal = Decimal("0.05")


@dataclass(frozen=True, slots=True)
class HistoryBounds:
    """How much history the engine state keeps, so memory, snapshots and the state hash stay
    bounded however long the venue runs.

    * trade ids: a fill is refused as a duplicate if its id is among at least the last
      ``trade_ids`` trades (fills and liquidation fills); older ids are forgotten, in
      batches of a quarter of the window. The venue's matcher must not resend an older trade.
    * index samples: only those the expiry TWAP can still need are kept (those of the last
      ``settlement_window_ms``, and the one before), whatever the instrument.
    """

    trade_ids: int = 1_000_000

    def __post_init__(self) -> None:
        if type(self.trade_ids) is not int or self.trade_ids < 1:
            raise InvalidInput(f"HistoryBounds.trade_ids must be an integer >= 1, got {self.trade_ids!r}")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Everything the engine needs besides the command stream.

    ``settle_asset`` is the asset margin and PnL are counted in (price 1); other
    ``collateral`` assets count at their index price (a ``PriceUpdate`` with the asset id as
    symbol) times ``1 − haircut``. Left out, it is the asset most of the profile's
    instruments settle in (USDT on Binance USDⓈ-M and Bybit, USDC on Hyperliquid, dYdX and
    Drift; ``default_settle_asset``).
    """

    profile: VenueProfile
    settle_asset: str = ""
    collateral: Mapping[str, Asset] = field(default_factory=dict)
    thresholds: LevelThresholds = field(default_factory=LevelThresholds)
    index: IndexConfig = field(default_factory=lambda: IndexConfig(Decimal("0.05"), 60_000, 1))
    jump_guard: JumpGuardConfig = field(default_factory=lambda: JumpGuardConfig(Decimal("0.10"), 2, Decimal("0.02")))
    default_leverage: Decimal | None = None
    """The leverage of a symbol the account has not set (``SetLeverage``): ``None`` (the
    default) is 20×, Binance's default, or the venue's highest leverage for the symbol's first
    tier when that is lower (Drift's 10×: at 20× every order was refused until the account
    set a leverage); a value: that leverage on every symbol. ``leverage_default`` is the one
    place it is read. Journals written before record 20, and replay keeps it."""
    taker_fee_rate: Decimal = Decimal("0.0005")
    max_position_notional: Decimal | None = None
    max_open_interest: Mapping[str, Decimal] = field(default_factory=dict)
    funding_interval_ms: int = 8 * 3600 * 1000
    funding_interest_rate: Decimal = Decimal("0.0001")
    funding_clamp: Decimal = Decimal("0.0005")
    funding_cap: Decimal = Decimal("0.0075")
    settlement_window_ms: int = 30 * 60 * 1000
    money_quantum: Decimal = Decimal("0.00000001")
    liquidation: LiquidationPolicy | None = None
    """``None``: levels are tracked but nothing is liquidated."""
    mark_rule: str = "index_plus_basis"
    """``index_plus_basis`` (index + average basis of the premium samples), or
    ``median_of_three`` (Binance: the median of the funding-adjusted index, index + basis
    and the last traded price)."""
    history: HistoryBounds | None = field(default_factory=HistoryBounds)
    """``None`` keeps every trade id and index sample: what journals written before
    December 2026 did (their genesis records have no ``history``, and replay keeps it so)."""
    volatility_mm: VolatilityMMRule | bool = True
    """The volatility-scaled maintenance rule to run (``docs/risk-models.md``): ``True`` the
    profile's ``volatility_mm``, if it has one (no bundled profile does); ``False`` none; a
    ``VolatilityMMRule`` that rule, whatever the profile says. Journals written before it
    existed replay with ``False``: MM as the tables give."""

    dated_basis_reset: bool = True
    """Dated futures' premium samples are cleared at each funding boundary, as a perpetual's
    are when it pays funding: the basis in their mark averages the current interval, and the
    samples (part of the state and its hash) stay bounded. ``False``: kept from the first
    sample on, never cleared (what journals written before December 2026 did; their genesis
    records have no ``dated_basis_reset``, and replay keeps it so)."""

    price_band: Decimal | None = Decimal("0.5")
    """A quote (``PriceUpdate``) or an external fill more than this fraction away from the
    current mark is refused (``INVALID_PRICE``): 50 % by default, the one band for both.
    ``None``: no band (the stress engine replays paths whose moves it means, a 90 % crash
    among them)."""

    fill_checks: bool = True
    """A ``Fill`` from the matching engine is checked as an order is: quantity on the
    instrument's lot, price on its tick, and price within ``price_band`` of the mark, the
    band a quote must also keep. A fill that fails is refused (``INVALID_QUANTITY`` /
    ``INVALID_PRICE``), so a bad or hostile trade feed cannot move money at a nonsense price
    (a 1-USD inverse contract at 0.5 would pay 2 BTC). The engine's own liquidation and ADL
    trades are not external fills and are not checked. ``False``: fills are taken as given
    (what journals written before December 2026 did; their genesis records have no
    ``fill_checks``, and replay keeps it so)."""

    one_settle_asset: bool = True
    """Only instruments settled in ``settle_asset`` trade: PnL, fees and funding are booked in
    it, so a USDC-settled contract in a USDT engine would count its USDC as USDT (Binance
    margins USDⓈ-M contracts per settlement asset unless Multi-Assets mode converts them at
    the index). Others are refused ``UNSUPPORTED_INSTRUMENT``, naming the asset: run one
    engine per settlement asset. ``False``: such a linear instrument is accepted with its
    money counted in ``settle_asset``, except in a coin-margined engine (what journals written
    before December 2026 did; their genesis records have no ``one_settle_asset``, and replay
    keeps it so)."""

    isolated_lock_up: bool = True
    """The margin a fill locks into an isolated position is its IM (notional / leverage)
    rounded *up* to the money quantum, as every requirement is, so the position starts with
    at least its IM (still never more than the cross balance holds). ``False``: rounded down,
    up to one quantum short of the IM (what journals written before December 2026 did; their
    genesis records have no ``isolated_lock_up``, and replay keeps it so)."""

    isolated_open_loss: bool = True
    """A fill that opens an isolated position locks its IM **plus its open loss**: what it
    loses at once against the mark when bought above it or sold below it (the order cost
    Binance charges, ``IM + open loss``). The pre-trade check already asks the cross balance
    for both; without the loss in the position, an order priced through the mark at high
    leverage opened below its maintenance margin, or bankrupt. ``False``: the IM alone (what
    journals written before December 2026 did; their genesis records have no
    ``isolated_open_loss``, and replay keeps it so)."""

    amounts_on_quantum: bool = True
    """Money moved by a command (a deposit, a withdrawal, an insurance-fund deposit, isolated
    margin added or removed) must be a whole number of ``money_quantum``: a withdrawal of
    4E-18 is refused ``INVALID_AMOUNT`` instead of moving an amount no balance shows.
    ``False``: any positive amount (what journals written before December 2026 did; their
    genesis records have no ``amounts_on_quantum``, and replay keeps it so)."""

    strict_leverage: bool = True
    """The leverage check (``engine/leverage.py``) in full: with a volatility-scaled MM in
    force, an order or ``SetLeverage`` is refused ``LEVERAGE_EXCEEDS_TIER`` when its initial
    margin ``notional / leverage`` would not cover the position's scaled MM; and
    ``SetLeverage`` checks the symbol's worst case with its resting orders filled, not only
    the position held (an account with orders and no position could otherwise raise its
    leverage past the tier and then fill at it). ``False``: the tier maximum only, on the
    position held (what journals written before December 2026 did; their genesis records have
    no ``strict_leverage``, and replay keeps it so)."""

    isolated_leverage_cut: bool = True
    """``SetLeverage`` lowering a symbol's leverage must leave each isolated position there its
    initial margin at the new leverage: ``notional / leverage`` at the mark, covered by the
    position's isolated margin with its PnL (the rule of a margin removal), or it is refused
    ``INSUFFICIENT_INITIAL_MARGIN`` naming ``symbol`` and ``position_side``. ``False``: the
    cross account only is checked, so an isolated position could be set to 1× on the margin of
    20× (what journals written before December 2026 did; their genesis records have no
    ``isolated_leverage_cut``, and replay keeps it so)."""

    leverage_grid: bool = True
    """``SetLeverage`` holds the leverage to the profile's grid (``VenueProfile.leverage_step``:
    whole numbers on Binance), and so does ``default_leverage``, which must also be at most the
    highest leverage an instrument allows (``highest_leverage``). ``False``: any leverage from 1
    (what journals written before December 2026 did, whatever profile they ran on: their
    genesis records have no ``leverage_grid``, and replay keeps it so)."""

    fee_cap: bool = True
    """A ``Fill`` from the matching engine may charge each side a fee of at most
    ``limits.MAX_FILL_FEE_RATE`` (1 %) of the trade's notional, or ``taker_fee_rate`` where the
    venue's own is higher, or it is refused
    ``INVALID_AMOUNT`` naming the cap: a fee is money moved from an account to the venue, and a
    hostile or broken feed could otherwise charge any amount (a 10^8 USDT fee on a 4,200 USDT
    trade drained the fund into socialised loss). ``False``: any fee up to the amount bound
    (what journals written before December 2026 did; their genesis records have no
    ``fee_cap``, and replay keeps it so)."""

    venue_default_leverage: bool = True
    """On a venue whose protocol has no leverage setting (``VenueProfile.leverage_step`` is
    ``None``: dYdX v4, Drift), an account margins a symbol it set no leverage for at the venue's
    own initial fraction: the symbol's highest leverage at its smallest size (dYdX BTC-USD: 1 /
    0.02 = 50×), not ``DEFAULT_LEVERAGE`` (found by a new-user pass: 1,500 USDC could not open
    1 BTC-USD at 60,000 on dYdX, whose initial margin for it is 1,200). ``False``: the lower of
    20× and that leverage, as on every venue (what journals written before December 2026 did;
    their genesis records have no ``venue_default_leverage``, and replay keeps it so)."""

    order_terms: bool = True
    """A ``Fill`` from the matching engine that names an order keeps to that order's terms: its
    price no worse for the order's account than the order's limit (a buy at most, a sell at least
    the order's price: ``INVALID_PRICE`` naming the ``limit``), and a reduce-only order only
    reduces the position it was placed against (``REDUCE_ONLY_WOULD_INCREASE``). The pre-trade
    check reserved margin for the order at its own price and for its own effect: a fill through
    either term would skip it (found by a new-user pass: a buy limited at 0.1 was filled at
    108,000, and a reduce-only sell resting after its position was closed opened a short).
    ``False``: any price in the band, and reduce-only not enforced on fills (what journals written
    before December 2026 did; their genesis records have no ``order_terms``, and replay keeps it
    so)."""

    def __post_init__(self) -> None:
        for ok, name, kind, value in (
                (isinstance(self.profile, VenueProfile), "profile", "a VenueProfile (load_venue(name))", self.profile),
                (isinstance(self.settle_asset, str), "settle_asset", "a string", self.settle_asset),
                (isinstance(self.collateral, Mapping), "collateral", "a mapping of asset to Asset", self.collateral)):
            if not ok:
                raise InvalidInput(f"EngineConfig.{name} must be {kind}, got {value!r}"[:200])
        if not self.settle_asset:
            object.__setattr__(self, "settle_asset", default_settle_asset(self.profile))
        band = self.price_band
        if band is not None and not (isinstance(band, Decimal) and band.is_finite() and band > 0):
            raise InvalidInput(f"EngineConfig.price_band must be a positive Decimal or None, got {band!r}")
        clash = sorted(set(self.collateral) & set(self.profile.instruments))
        if clash:  # a PriceUpdate names either; one name cannot be both (Hyperliquid's BTC is an instrument)
            raise InvalidInput(f"EngineConfig.collateral: {', '.join(clash)} is also an instrument of "
                             f"{self.profile.name}; name the collateral asset apart (BTC@arbitrum, WBTC)")

    def leverage_default(self, symbol: str) -> Decimal:
        """The leverage of ``symbol`` for an account that has not set one (``default_leverage``)."""
        if self.default_leverage is not None:
            return self.default_leverage
        return _venue_default_leverage(self.profile, symbol, self.venue_default_leverage)

    def price_step(self, symbol: str) -> Decimal:
        """The one price grid of ``symbol`` in the engine: its tick, or the money quantum when
        the instrument has none (or is not the profile's). Marks, settlement, bankruptcy and
        liquidation prices are rounded to it."""
        inst = self.profile.instruments.get(symbol)
        return (inst.tick_size if inst is not None else None) or self.money_quantum

    @property
    def volatility_rule(self) -> VolatilityMMRule | None:
        """The volatility-scaled MM rule the engine runs (``volatility_mm``), or ``None``."""
        chosen = self.volatility_mm
        if chosen is True:
            return self.profile.volatility_mm
        return chosen if isinstance(chosen, VolatilityMMRule) else None

    @property
    def thresholds_ratio(self) -> tuple[Decimal, Decimal]:
        return self.thresholds.warning, self.thresholds.margin_call


REPLAY_ONLY_OFF: Final = ("dated_basis_reset", "fill_checks", "one_settle_asset", "isolated_lock_up",
                           "isolated_open_loss", "amounts_on_quantum", "strict_leverage", "isolated_leverage_cut",
                           "leverage_grid", "fee_cap", "order_terms", "venue_default_leverage")
"""The rules of ``EngineConfig`` that are off only so that journals written before them replay
as they ran (each docstring says so): a parameter change keeps each one that is on
(``params.admission_problem``)."""

DEFAULT_LEVERAGE: Final = Decimal(20)
"""Binance's default leverage for a symbol the account has not set."""
_VENUE_LEVERAGE: dict[tuple[int, str, bool], tuple[VenueProfile, Decimal]] = {}
"""``_venue_default_leverage`` by (profile, symbol, rule): read on every pre-trade check."""


def _venue_default_leverage(profile: VenueProfile, symbol: str, venue_own: bool) -> Decimal:
    """``DEFAULT_LEVERAGE``, or the symbol's highest leverage at its smallest size if lower; with
    ``venue_own`` on a venue with no leverage setting, that highest leverage
    (``EngineConfig.venue_default_leverage``)."""
    key = (id(profile), symbol, venue_own)
    known = _VENUE_LEVERAGE.get(key)
    if known is None or known[0] is not profile:
        inst = profile.instruments.get(symbol)
        lowest = profile.rules_for(symbol).max_leverage(inst.lot if inst is not None else Decimal(1), Decimal(0)) \
            if inst is not None else DEFAULT_LEVERAGE
        chosen = lowest if venue_own and profile.leverage_step is None and inst is not None else (
            min(DEFAULT_LEVERAGE, lowest))
        if chosen == chosen.to_integral_value():
            chosen = Decimal(int(chosen))  # 10, not 1E+1 (1 / 0.1), in denials and views
        known = _VENUE_LEVERAGE[key] = (profile, chosen)
    return known[1]


_HIGHEST_LEVERAGE: dict[int, tuple[VenueProfile, Decimal]] = {}


def highest_leverage(profile: VenueProfile) -> Decimal:
    """The highest leverage any instrument of ``profile`` allows (at its smallest size): a
    ``default_leverage`` above it would refuse every order of an account that set none."""
    known = _HIGHEST_LEVERAGE.get(id(profile))
    if known is None or known[0] is not profile:
        highest = max(profile.rules_for(symbol).max_leverage(inst.lot, Decimal(0))
                      for symbol, inst in profile.instruments.items())
        known = _HIGHEST_LEVERAGE[id(profile)] = (profile, highest)
    return known[1]


def default_settle_asset(profile: VenueProfile) -> str:
    """The asset most of ``profile``'s instruments settle in; on a tie USDT if among them,
    else the first by name (Binance COIN-M: BTC)."""
    counts: dict[str, int] = {}
    for inst in profile.instruments.values():
        counts[inst.settle] = counts.get(inst.settle, 0) + 1
    if not counts:
        return "USDT"
    most = max(counts.values())
    tied = sorted(asset for asset, n in counts.items() if n == most)
    return "USDT" if "USDT" in tied else tied[0]


def default_config(venue: str = "binance-usdm", *, overlays: bool = True) -> EngineConfig:
    """The embedded default: a bundled profile with liquidation on (the ``book`` account takes
    liquidation orders at the square-root impact price). The service and the demo start here:
    the service with the newest overlay ``solvent venues update`` wrote, the demo
    (``overlays=False``) on the bundled specs its sample accounts were written for."""
    return EngineConfig(load_venue(venue, overlays=overlays), liquidation=LiquidationPolicy())
