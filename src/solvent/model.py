"""The domain model: assets, instruments, positions and accounts (immutable value types).

Units are in the names: ``qty`` counts base units for linear instruments and contracts for
inverse ones; prices are quote per base; a linear position's notional is in the quote
asset, an inverse position's notional is in the base coin (its settlement asset).

=====================  =========================  ===============================
instrument kind        profit and loss            notional
=====================  =========================  ===============================
linear (perp, future)  ``qty × cs × (mark − entry)``  ``qty × cs × price`` (quote)
inverse (perp, future) ``qty × cs × (1/entry − 1/mark)``  ``qty × cs / price`` (coin)
=====================  =========================  ===============================

(``cs`` is the contract size: base units per contract for linear, USD per contract for
inverse; signs flip for shorts.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from solvent.errors import InvalidInput
from solvent.units import ONE, ZERO, plain, require_decimals

__all__ = [
    "DEFAULT_LOT",
    "Account",
    "Asset",
    "Instrument",
    "InstrumentKind",
    "MarginMode",
    "Position",
    "PositionMode",
    "PositionSide",
    "Side",
    "require_whole_lots",
    "two_in_one_slot",
]


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is Side.LONG else -1


class MarginMode(StrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


class PositionMode(StrEnum):
    ONE_WAY = "one_way"
    HEDGE = "hedge"


class PositionSide(StrEnum):
    """Binance's ``positionSide``: BOTH in one-way mode, LONG or SHORT in hedge mode."""

    BOTH = "both"
    LONG = "long"
    SHORT = "short"


class InstrumentKind(StrEnum):
    LINEAR_PERPETUAL = "linear_perpetual"
    INVERSE_PERPETUAL = "inverse_perpetual"
    LINEAR_FUTURE = "linear_future"
    INVERSE_FUTURE = "inverse_future"

    @property
    def is_inverse(self) -> bool:
        return self in _INVERSE_KINDS  # a set lookup: the engine asks on every margin evaluation

    @property
    def is_dated(self) -> bool:
        return self in _DATED_KINDS


_INVERSE_KINDS = frozenset({InstrumentKind.INVERSE_PERPETUAL, InstrumentKind.INVERSE_FUTURE})
_DATED_KINDS = frozenset({InstrumentKind.LINEAR_FUTURE, InstrumentKind.INVERSE_FUTURE})


@dataclass(frozen=True, slots=True)
class Asset:
    """A collateral asset. The same coin on another chain is another asset (``USDC@arbitrum``)."""

    symbol: str
    chain: str = ""
    haircut: Decimal = ZERO
    haircut_tiers: tuple[tuple[Decimal, Decimal], ...] = ()
    """Optional size-dependent haircut: ``(from_qty, haircut)`` bands, ascending. The part of
    a balance above ``from_qty`` (up to the next band) takes that band's haircut; the part
    below the first band takes ``haircut`` (marginal bands, like Bybit UTA's tiered
    collateral value ratio)."""

    def __post_init__(self) -> None:
        require_decimals(f"asset {self.asset_id}", haircut=self.haircut)
        if not ZERO <= self.haircut < ONE:
            raise InvalidInput(f"asset {self.asset_id}: haircut must be in [0, 1), got {self.haircut}")
        prev_qty, prev_cut = ZERO, self.haircut
        for band in self.haircut_tiers:
            if not isinstance(band, tuple) or len(band) != 2:
                raise InvalidInput(f"asset {self.asset_id}: a haircut tier is a (from_qty, haircut) pair")
            qty, cut = band
            require_decimals(f"asset {self.asset_id} haircut tier", from_qty=qty, haircut=cut)
            if qty <= prev_qty or not prev_cut <= cut < ONE:
                raise InvalidInput(f"asset {self.asset_id}: haircut tiers need ascending sizes > 0 and "
                                   f"non-decreasing haircuts in [haircut, 1)")
            prev_qty, prev_cut = qty, cut

    @property
    def asset_id(self) -> str:
        return f"{self.symbol}@{self.chain}" if self.chain else self.symbol

    def haircut_value(self, qty: Decimal) -> Decimal:
        """``qty × (1 − haircut)`` summed band by band (``qty`` ≥ 0, exact): the quantity that counts."""
        bands = [(ZERO, self.haircut), *self.haircut_tiers]
        total = ZERO
        for i, (start, cut) in enumerate(bands):
            if qty <= start:
                break
            end = bands[i + 1][0] if i + 1 < len(bands) else qty
            total += (min(qty, end) - start) * (ONE - cut)
        return total

    def collateral_value(self, balance: Decimal, index_price: Decimal) -> Decimal:
        """``balance × index_price × (1 − haircut)`` (size bands applied) in the valuation
        currency, exact; a negative balance is a debt at the full index (no haircut benefit)."""
        if balance < 0:
            return balance * index_price
        return self.haircut_value(balance) * index_price


DEFAULT_LOT = Decimal("0.00000001")
"""The quantity step of an instrument whose profile publishes no lot size: the fixed-point
quantum, so no quantity the venue could accept is refused or under-stated (one home: the
engine's bounds, what-if, partial liquidation and the sizing calculator all use
``Instrument.lot``)."""


@dataclass(frozen=True, slots=True)
class Instrument:
    """A perpetual or dated future. ``expiry_ms`` is set exactly for dated futures."""

    symbol: str
    kind: InstrumentKind
    base: str
    quote: str
    settle: str
    contract_size: Decimal = ONE
    tick_size: Decimal | None = None
    lot_size: Decimal | None = None
    expiry_ms: int | None = None
    is_inverse: bool = field(init=False, repr=False, compare=False)
    """``kind.is_inverse``, kept once (the engine reads it on every margin evaluation)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_inverse", self.kind.is_inverse)
        require_decimals(
            self.symbol, contract_size=self.contract_size, tick_size=self.tick_size, lot_size=self.lot_size
        )
        if self.contract_size <= 0:
            raise InvalidInput(f"{self.symbol}: contract size must be > 0")
        for name, step in (("tick size", self.tick_size), ("lot size", self.lot_size)):
            if step is not None and step <= 0:
                raise InvalidInput(f"{self.symbol}: {name} must be > 0")
        if self.kind.is_dated != (self.expiry_ms is not None):
            raise InvalidInput(f"{self.symbol}: dated futures, and only they, have an expiry")

    @property
    def lot(self) -> Decimal:
        """The quantity step: the published lot size, else ``DEFAULT_LOT``."""
        return self.lot_size if self.lot_size is not None else DEFAULT_LOT

    def notional(self, qty: Decimal, price: Decimal) -> Decimal:
        """Position value at ``price``: quote units (linear) or coin units (inverse)."""
        if self.is_inverse:
            return qty * self.contract_size / price
        return qty * self.contract_size * price

    def pnl(self, side: Side, qty: Decimal, entry_price: Decimal, price: Decimal) -> Decimal:
        """Unrealised PnL in the settlement asset (exact)."""
        size = side.sign * qty * self.contract_size
        if self.is_inverse:
            return size * (ONE / entry_price - ONE / price)
        return size * (price - entry_price)


def require_whole_lots(qty: Decimal, step: Decimal, field: str) -> Decimal:
    """``qty`` if it is a positive whole number of ``step`` (an instrument's ``lot``, or a coarser
    step on its grid), else ``InvalidInput``: the rule for a size a stress book places on the
    venue (the book CSV). The calculators take any size (docs/account-file.md): they describe a
    position held, which a lot size changed since may leave off today's grid."""
    if qty <= 0 or qty % step:
        raise InvalidInput(f"{field} {plain(qty)} must be a positive multiple of the quantity step {plain(step)}")
    return qty


def two_in_one_slot(symbol: str, slot: PositionSide) -> str:
    """The refusal of two positions of one symbol in one slot (a portfolio, an account file)."""
    where = "one-way mode holds one position a symbol" if slot is PositionSide.BOTH else \
        f"hedge mode holds one {slot.value} position a symbol"
    return f"{symbol}: two positions in the same slot ({slot.value!r}): {where}; merge them into one"


@dataclass(frozen=True, slots=True)
class Position:
    """One position. ``isolated_margin`` is the margin assigned to an isolated position."""

    instrument: Instrument
    side: Side
    qty: Decimal
    entry_price: Decimal
    mark_price: Decimal | None = None
    margin_mode: MarginMode = MarginMode.CROSS
    isolated_margin: Decimal = ZERO
    position_side: PositionSide = PositionSide.BOTH
    leverage: Decimal | None = None

    def __post_init__(self) -> None:
        sym = self.instrument.symbol
        require_decimals(
            sym, qty=self.qty, entry_price=self.entry_price, mark_price=self.mark_price,
            isolated_margin=self.isolated_margin, leverage=self.leverage,
        )
        if self.leverage is not None and self.leverage < 1:
            raise InvalidInput(f"{sym}: leverage must be >= 1, got {self.leverage}")
        if self.qty <= 0:
            raise InvalidInput(f"{sym}: quantity must be > 0, got {self.qty}")
        if self.entry_price <= 0:
            raise InvalidInput(f"{sym}: entry price must be > 0, got {self.entry_price}")
        if self.mark_price is not None and self.mark_price <= 0:
            raise InvalidInput(f"{sym}: mark price must be > 0, got {self.mark_price}")
        if self.isolated_margin < 0:
            raise InvalidInput(f"{sym}: isolated margin must be >= 0")
        if self.position_side is not PositionSide.BOTH and self.position_side.value != self.side.value:
            raise InvalidInput(f"{sym}: hedge-mode {self.position_side} slot holds a {self.side} position")

    @property
    def price_now(self) -> Decimal:
        """The mark price, or the entry price when no mark is known."""
        return self.mark_price if self.mark_price is not None else self.entry_price

    def notional(self, price: Decimal | None = None) -> Decimal:
        return self.instrument.notional(self.qty, self.price_now if price is None else price)

    def entry_notional(self) -> Decimal:
        return self.instrument.notional(self.qty, self.entry_price)

    def pnl(self, price: Decimal | None = None) -> Decimal:
        return self.instrument.pnl(self.side, self.qty, self.entry_price, self.price_now if price is None else price)


@dataclass(frozen=True, slots=True)
class Account:
    """A margin account: a multi-asset wallet and its positions.

    ``wallet`` maps asset ids to balances; ``assets`` gives each asset's haircut.
    In hedge mode a symbol may hold one LONG and one SHORT position.
    """

    account_id: str
    wallet: Mapping[str, Decimal]
    positions: tuple[Position, ...] = ()
    position_mode: PositionMode = PositionMode.ONE_WAY
    assets: Mapping[str, Asset] = field(default_factory=dict)

    def __post_init__(self) -> None:
        seen: set[tuple[str, PositionSide]] = set()
        for pos in self.positions:
            key = (pos.instrument.symbol, pos.position_side)
            if self.position_mode is PositionMode.ONE_WAY and pos.position_side is not PositionSide.BOTH:
                raise InvalidInput(f"{pos.instrument.symbol}: one-way mode takes position_side 'both'")
            if self.position_mode is PositionMode.HEDGE and pos.position_side is PositionSide.BOTH:
                raise InvalidInput(f"{pos.instrument.symbol}: hedge mode needs position_side long or short")
            if key in seen:
                raise InvalidInput(two_in_one_slot(pos.instrument.symbol, pos.position_side))
            seen.add(key)

    def collateral_value(self, index_prices: Mapping[str, Decimal]) -> Decimal:
        """Σ balance × index × (1 − haircut); an asset without a price is an error."""
        total = ZERO
        for asset_id, balance in sorted(self.wallet.items()):
            asset = self.assets.get(asset_id, Asset(asset_id))
            if asset_id not in index_prices:
                raise InvalidInput(f"no index price for collateral asset {asset_id}")
            total += asset.collateral_value(balance, index_prices[asset_id])
        return total
