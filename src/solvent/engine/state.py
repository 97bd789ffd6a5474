"""Engine state: plain mutable records owned by one ``Engine`` (hashed by ``state_digest``).

Positions are kept per ``(symbol, position_side)`` slot (``both`` in one-way mode,
``long``/``short`` in hedge mode). ``qty`` is signed (+ long, − short) and ``cost`` is the
signed cost basis in the settlement asset: the values of the fills that built the position
(``engine/contract_value.py``: ``qty × contract_size × price`` for linear instruments,
``−qty × contract_size / price`` for inverse ones), so unrealised PnL is
``value(qty × contract_size, mark) − cost`` and the entry price is solved back from the
cost. Keeping the cost instead of an averaged entry price keeps every transfer exact (see
``engine/ledger.py``). Every collection is iterated in sorted key order wherever order
could change a result, so the
same commands give the same state everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from solvent.engine.contract_value import entry_price, value
from solvent.market import JumpGuard
from solvent.model import MarginMode, PositionSide, Side
from solvent.risk.fund_rules import FundWatch
from solvent.units import ONE, ZERO

__all__ = ["AccountState", "EngineState", "MarketState", "OrderState", "PositionState", "VolatilityState"]


@dataclass(slots=True)
class PositionState:
    symbol: str
    position_side: PositionSide
    qty: Decimal
    cost: Decimal
    contract_size: Decimal
    margin_mode: MarginMode = MarginMode.CROSS
    isolated_margin: Decimal = ZERO

    @property
    def side(self) -> Side:
        return Side.LONG if self.qty >= 0 else Side.SHORT

    def entry_price(self, inverse: bool) -> Decimal:
        """The average entry price (0 when flat); ``inverse``: the instrument is inverse."""
        return entry_price(self.qty * self.contract_size, self.cost, inverse)

    def pnl(self, mark: Decimal, inverse: bool) -> Decimal:
        """Unrealised PnL at ``mark`` in the settlement asset."""
        return value(self.qty * self.contract_size, mark, inverse) - self.cost


class OrderState(msgspec.Struct, frozen=True, gc=False):
    """A resting order. Never changed in place (frozen): a partly filled order is replaced by a
    new one (``Ctx.rest_order``), so the rollback copies an account's orders map, not each
    order, and an order's encoding can be kept while the account holds the same object
    (``engine/kept_orders.py``).

    A msgspec ``Struct`` rather than a dataclass, not tracked by the cycle collector
    (``gc=False``: its fields are text, decimals, enums and a flag, so it can be in no cycle):
    a venue rests orders by the hundred thousand, and each full pass of the collector walked
    every one of them while the service answered nothing (175 ms at a million). The codecs
    read its fields as a dataclass's (``solvent/records.py``)."""

    order_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    reduce_only: bool
    position_side: PositionSide


@dataclass(slots=True)
class AccountState:
    account_id: str
    balances: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[tuple[str, PositionSide], PositionState] = field(default_factory=dict)
    orders: dict[str, OrderState] = field(default_factory=dict)
    leverage: dict[str, Decimal] = field(default_factory=dict)
    margin_mode: dict[str, MarginMode] = field(default_factory=dict)
    level: str = "healthy"
    last_liquidation_ms: int | None = None


@dataclass(frozen=True, slots=True)
class VolatilityState:
    """One market's volatility-scaled MM (``engine/maintenance_scale.py``): replaced whole at
    each update, never changed in place (so a rollback's copy of the market restores it)."""

    scale: Decimal = ONE
    """The factor on the venue's table MM of every position in the symbol."""
    volatility: Decimal = ZERO
    """σ at the last update with a full window (0 before)."""
    marks: tuple[Decimal, ...] = ()
    """The mark at each of the last ``window`` update instants, oldest first."""
    peaks: tuple[tuple[int, Decimal], ...] = ()
    """``(update_ms, σ)``: the running maximum of σ over the lookback (``risk.volatility.push_peak``)."""


@dataclass(slots=True)
class MarketState:
    """Per-symbol market data: latest quote per source, the guard, index history."""

    symbol: str
    quotes: dict[str, tuple[Decimal, int]] = field(default_factory=dict)
    mark: Decimal | None = None
    guard: JumpGuard = field(default_factory=JumpGuard)
    liquidations_allowed: bool = True
    halted: bool = False
    index_samples: list[tuple[int, Decimal]] = field(default_factory=list)
    samples_dropped: int = 0
    """Index samples dropped from the front of ``index_samples`` (see ``engine/history.py``)."""
    samples_base: str = "00" * 32
    """The sample chain (``state_digest``) through the dropped samples: hex, 32 zero bytes if none."""
    premiums: list[Decimal] = field(default_factory=list)
    settled: bool = False
    last_price: Decimal | None = None
    last_funding_rate: Decimal = ZERO
    volatility: VolatilityState | None = None
    """The volatility-scaled MM, when the engine runs such a rule (``None``: MM as the tables give)."""


@dataclass(slots=True)
class EngineState:
    now_ms: int = 0
    accounts: dict[str, AccountState] = field(default_factory=dict)
    markets: dict[str, MarketState] = field(default_factory=dict)
    insurance_fund: Decimal = ZERO
    fee_income: Decimal = ZERO
    socialised_loss: Decimal = ZERO
    deposits: dict[str, Decimal] = field(default_factory=dict)
    withdrawals: dict[str, Decimal] = field(default_factory=dict)
    trade_ids: dict[str, int] = field(default_factory=dict)
    """Trade id → its ordinal (1 for the first trade ever), in insertion order, so the ids one
    command added are the last ones; the oldest are forgotten past ``HistoryBounds.trade_ids``."""
    trade_count: int = 0
    """Trades recorded since genesis (the last ordinal given)."""
    next_funding_ms: int | None = None
    open_interest: dict[str, Decimal] = field(default_factory=dict)
    liquidation_seq: int = 0
    fund_watch: FundWatch | None = None
    """What the profile's fund rule reads (``risk/fund_rules.py``), ``None`` without one: the
    fund's balance and each market's fund PnL over the rule's window. Replaced whole on each
    change, never changed in place."""
    params: str | None = None
    """The digest of the configuration in force (``engine/params.py``) once a ``ChangeParams``
    replaced the one the engine started with; ``None`` before (the state hash leaves it out
    while ``None``, so states of engines that never changed parameters hash as before)."""
