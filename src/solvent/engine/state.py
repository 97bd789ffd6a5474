"""Engine state: plain mutable records owned by one ``Engine``; a canonical hash over them.

Positions are kept per ``(symbol, position_side)`` slot (``both`` in one-way mode,
``long``/``short`` in hedge mode). ``qty`` is signed (+ long, − short) and ``cost`` is the
signed cost basis in the settlement asset (``qty × contract_size × entry`` summed over the
fills that built the position), so the entry price is ``cost / (qty × contract_size)`` and
unrealised PnL is ``qty × contract_size × mark − cost``. Keeping the cost instead of an
averaged entry price keeps every transfer exact (see ``engine/ledger.py``). Every
collection is iterated in sorted key order wherever order could change a result, so the
same commands give the same state everywhere.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from solvent.market import JumpGuard
from solvent.model import MarginMode, PositionSide, Side
from solvent.units import ZERO, plain

__all__ = [
    "STATE_HASH_VERSION", "AccountState", "EngineState", "MarketState", "OrderState", "PositionState", "state_hash",
    "state_hash_matches",
]


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

    @property
    def entry_price(self) -> Decimal:
        return self.cost / (self.qty * self.contract_size) if self.qty else ZERO

    def pnl(self, mark: Decimal) -> Decimal:
        return self.qty * self.contract_size * mark - self.cost


@dataclass(slots=True)
class OrderState:
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
    premiums: list[Decimal] = field(default_factory=list)
    settled: bool = False
    last_price: Decimal | None = None
    last_funding_rate: Decimal = ZERO


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
    trade_ids: set[str] = field(default_factory=set)
    next_funding_ms: int | None = None
    open_interest: dict[str, Decimal] = field(default_factory=dict)
    liquidation_seq: int = 0


STATE_HASH_VERSION = 2
"""Version 2 hashes ``open_interest`` too (the pre-trade OI limit reads it); version 1,
written by journals before December 2026, left it out. Both stay verifiable."""


def _canonical(state: EngineState, version: int = STATE_HASH_VERSION) -> dict[str, Any]:
    accounts = {}
    for aid in sorted(state.accounts):
        acc = state.accounts[aid]
        accounts[aid] = {
            "balances": {k: plain(v) for k, v in sorted(acc.balances.items())},
            "positions": [
                [p.symbol, p.position_side.value, plain(p.qty), plain(p.cost), p.margin_mode.value,
                 plain(p.isolated_margin)]
                for _, p in sorted(acc.positions.items(), key=lambda kv: (kv[0][0], kv[0][1].value))
            ],
            "orders": [
                [o.order_id, o.symbol, o.side.value, plain(o.qty), plain(o.price), o.reduce_only, o.position_side.value]
                for _, o in sorted(acc.orders.items())
            ],
            "leverage": {k: plain(v) for k, v in sorted(acc.leverage.items())},
            "margin_mode": {k: v.value for k, v in sorted(acc.margin_mode.items())},
            "level": acc.level,
            "last_liquidation_ms": acc.last_liquidation_ms,
        }
    markets = {
        sym: {
            "mark": plain(m.mark) if m.mark is not None else None,
            "quotes": {s: [plain(p), t] for s, (p, t) in sorted(m.quotes.items())},
            "liquidations_allowed": m.liquidations_allowed,
            "halted": m.halted,
            "settled": m.settled,
            "guard": [None if m.guard.accepted_price is None else plain(m.guard.accepted_price),
                      None if m.guard.held_price is None else plain(m.guard.held_price),
                      m.guard.confirmations_seen],
            "index_samples": [[t, plain(p)] for t, p in m.index_samples],
            "premiums": [plain(p) for p in m.premiums],
            "last_price": None if m.last_price is None else plain(m.last_price),
            "last_funding_rate": plain(m.last_funding_rate),
        }
        for sym, m in sorted(state.markets.items())
    }
    canonical: dict[str, Any] = {
        "version": version,
        "now_ms": state.now_ms,
        "accounts": accounts,
        "markets": markets,
        "insurance_fund": plain(state.insurance_fund),
        "fee_income": plain(state.fee_income),
        "socialised_loss": plain(state.socialised_loss),
        "deposits": {k: plain(v) for k, v in sorted(state.deposits.items())},
        "withdrawals": {k: plain(v) for k, v in sorted(state.withdrawals.items())},
        "trade_ids": sorted(state.trade_ids),
        "next_funding_ms": state.next_funding_ms,
        "liquidation_seq": state.liquidation_seq,
    }
    if version >= 2:
        canonical["open_interest"] = {k: plain(v) for k, v in sorted(state.open_interest.items())}
    return canonical


def state_hash(state: EngineState, version: int = STATE_HASH_VERSION) -> str:
    """SHA-256 (hex) of the canonical JSON of the state: equal states, equal hashes."""
    if version not in (1, 2):
        raise ValueError(f"unknown state hash version {version}")
    text = json.dumps(_canonical(state, version), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def state_hash_matches(state: EngineState, recorded: str) -> bool:
    """Whether ``recorded`` is this state's hash, current or version 1 (older journals)."""
    return recorded in (state_hash(state), state_hash(state, 1))
