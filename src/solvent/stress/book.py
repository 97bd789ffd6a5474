"""A deterministic synthetic book for cascade simulation.

``generate_book(BookParams(...))`` draws N trader accounts on one linear perpetual (BTCUSDT
on ``binance-usdm`` by default) from a numpy ``Generator`` seeded with ``params.seed``:

* side: long with probability ``long_share`` (0.7: a book leaning long before a crash);
* notional: log-normal (median ``median_notional_quote``, log-sd ``notional_sigma``), clipped
  to ``[min_notional_quote, max_notional_quote]``; quantity = notional / entry in whole lots;
* leverage: a bucket by ``leverage_mix`` (40 % 2–5×, 35 % 5–20×, 20 % 20–50×, 5 % 50–100×),
  an integer uniform in it, then capped at the tier's maximum for the notional;
* entry: the start price × (1 + U(−entry_spread, +entry_spread)), rounded to the tick;
* deposit: ``notional / leverage`` rounded up to a cent (the initial margin).

Every trader trades against the counterparty account ``mm`` at its own entry price, so the
shorts are other accounts of the book and ``mm`` holds the imbalance (open interest is
balanced by construction). ``mm`` deposits the book's gross notional; the ``book`` account,
which takes liquidation orders, deposits ``book_deposit_quote``; the insurance fund starts at
``insurance_fraction`` of the open interest. Exact data are integers: quantities in lots,
prices in ticks, money in units of ``10^-8`` of the settlement asset.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

from solvent.engine.commands import Command, Deposit, Fill, FundInsurance, PriceUpdate, SetLeverage
from solvent.errors import InvalidInput
from solvent.risk.tiers import TierTable
from solvent.risk.venues import VenueProfile, load_venue
from solvent.units import exact, round_up

__all__ = [
    "BOOK_ACCOUNT", "MM_ACCOUNT", "MONEY_EXP", "BookParams", "SyntheticBook", "account_id", "book_commands",
    "generate_book",
]

BOOK_ACCOUNT = "book"
"""Takes the other side of liquidation orders (the venue's book); never liquidated."""
MM_ACCOUNT = "mm"
"""The counterparty of every trader fill: holds the open-interest imbalance."""
MONEY_EXP = 8
"""Money is counted in units of 10^-8 of the settlement asset (the engine's money quantum)."""
SOURCE = "stress"


def account_id(index: int) -> str:
    """Trader ids sort like their indices (and before ``book`` and ``mm``)."""
    return f"acct{index:07d}"


@dataclass(frozen=True, slots=True)
class BookParams:
    """Parameters of the synthetic book (module docstring)."""

    accounts: int = 1_000
    seed: int = 7
    venue: str = "binance-usdm"
    symbol: str = "BTCUSDT"
    start_price: Decimal = Decimal("116975.9")
    long_share: float = 0.7
    median_notional_quote: float = 5_000.0
    notional_sigma: float = 1.4
    min_notional_quote: float = 100.0
    max_notional_quote: float = 2_000_000.0
    leverage_mix: tuple[tuple[float, int, int], ...] = ((0.40, 2, 5), (0.35, 5, 20), (0.20, 20, 50), (0.05, 50, 100))
    entry_spread: float = 0.002
    insurance_fraction: Decimal = Decimal("0.002")
    book_deposit_quote: Decimal = Decimal(10) ** 12


@dataclass(frozen=True, slots=True, eq=False)
class SyntheticBook:
    """Trader accounts ``0..N−1`` then ``mm`` (index N); one position each on ``symbol``."""

    params: BookParams
    profile: VenueProfile
    table: TierTable
    lot: Decimal
    tick: Decimal
    qty_lots: NDArray[np.int64]
    """Signed quantity in lots (+ long, − short); the last row is ``mm``."""
    entry_ticks: NDArray[np.int64]
    """Entry price in ticks (for ``mm``: the start price; its cost is the sum of its fills)."""
    cost_lot_ticks: NDArray[np.int64]
    """Signed cost basis in lot × tick units (the engine's ``cost``); the column sums to 0."""
    deposit_units: NDArray[np.int64]
    """Deposit in 10^-8 units."""
    leverage: NDArray[np.int64]
    insurance_units: int

    @property
    def size(self) -> int:
        """Accounts including ``mm``."""
        return int(self.qty_lots.shape[0])

    def ids(self) -> list[str]:
        return [account_id(i) for i in range(self.size - 1)] + [MM_ACCOUNT]

    def qty(self, index: int) -> Decimal:
        return Decimal(int(self.qty_lots[index])) * self.lot

    def entry(self, index: int) -> Decimal:
        return Decimal(int(self.entry_ticks[index])) * self.tick

    def money(self, units: int) -> Decimal:
        return Decimal(units).scaleb(-MONEY_EXP)

    def open_interest_quote(self) -> Decimal:
        """Σ cost of the long side (= |Σ cost of the short side|), in quote."""
        longs = self.cost_lot_ticks[self.cost_lot_ticks > 0]
        return Decimal(int(np.sum(longs))) * self.lot * self.tick


def _leverage(rng: np.random.Generator, params: BookParams, n: int) -> NDArray[np.int64]:
    weights = np.asarray([w for w, _, _ in params.leverage_mix], dtype=np.float64)
    bucket = rng.choice(len(params.leverage_mix), size=n, p=weights / weights.sum())
    lo = np.asarray([a for _, a, _ in params.leverage_mix], dtype=np.int64)[bucket]
    hi = np.asarray([b for _, _, b in params.leverage_mix], dtype=np.int64)[bucket]
    return lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)


def _cap_leverage(table: TierTable, notional_quote: NDArray[np.float64], lev: NDArray[np.int64]) -> NDArray[np.int64]:
    """Leverage at most the tier maximum for the notional (floors as floats only to pick the tier)."""
    floors = np.asarray([float(t.floor_notional) for t in table.tiers], dtype=np.float64)
    maxima = np.asarray([int(t.max_leverage) for t in table.tiers], dtype=np.int64)
    row = np.searchsorted(floors, notional_quote, side="right") - 1
    return np.minimum(lev, maxima[np.clip(row, 0, len(floors) - 1)])


@exact
def generate_book(params: BookParams) -> SyntheticBook:
    """The book for ``params``; the same parameters always give the same book."""
    if params.accounts < 1 or not 0.0 <= params.long_share <= 1.0:
        raise InvalidInput("need accounts >= 1 and 0 <= long_share <= 1")
    profile = load_venue(params.venue)
    inst = profile.instrument(params.symbol)
    lot, tick = inst.lot_size or Decimal("0.001"), inst.tick_size or Decimal("0.1")
    table = profile.rules_for(params.symbol).maintenance_table(Decimal(1))
    rng = np.random.default_rng(params.seed)
    n = params.accounts
    long = rng.random(n) < params.long_share
    notional = np.clip(rng.lognormal(np.log(params.median_notional_quote), params.notional_sigma, n),
                       params.min_notional_quote, params.max_notional_quote)
    start_ticks = int(params.start_price / tick)
    spread = rng.uniform(-params.entry_spread, params.entry_spread, n)
    entry_ticks: NDArray[np.int64] = np.round(start_ticks * (1.0 + spread)).astype(np.int64)
    lots = np.maximum(1, np.round(notional / (entry_ticks * float(tick)) / float(lot))).astype(np.int64)
    notional_f = (lots * entry_ticks).astype(np.float64) * float(lot * tick)
    lev = _cap_leverage(table, notional_f, _leverage(rng, params, n))
    # deposit = notional / leverage rounded up to a cent, exactly in integers (units of 1e-8)
    notional_units = lots * entry_ticks * _units_per_lot_tick(lot, tick)
    cent = 10 ** (MONEY_EXP - 2)
    deposit = -((-notional_units) // (lev * cent)) * cent
    signed = np.where(long, lots, -lots)
    trader_cost = signed * entry_ticks
    cost = np.append(trader_cost, -int(trader_cost.sum())).astype(np.int64)
    oi_quote = Decimal(int(np.sum(cost[cost > 0]))) * lot * tick
    insurance = round_up(oi_quote * params.insurance_fraction, Decimal("0.01")).scaleb(MONEY_EXP)
    return SyntheticBook(
        params=params, profile=profile, table=table, lot=lot, tick=tick,
        qty_lots=np.append(signed, -int(signed.sum())).astype(np.int64),
        entry_ticks=np.append(entry_ticks, start_ticks).astype(np.int64),
        cost_lot_ticks=cost,
        deposit_units=np.append(deposit, int(np.sum(notional_units)) + cent).astype(np.int64),
        leverage=np.append(lev, 1).astype(np.int64),
        insurance_units=int(insurance),
    )


def _units_per_lot_tick(lot: Decimal, tick: Decimal) -> int:
    """Money units (10^-8) in one lot × one tick; must be an integer."""
    value = (lot * tick).scaleb(MONEY_EXP)
    if value != value.to_integral_value():
        raise InvalidInput(f"lot {lot} × tick {tick} is finer than 10^-{MONEY_EXP}")
    return int(value)


@exact
def book_commands(book: SyntheticBook) -> list[Command]:
    """Engine commands that build ``book`` at time 0: price, deposits, leverage, fills, fund."""
    p = book.params
    money = book.money
    cmds: list[Command] = [PriceUpdate(p.symbol, SOURCE, p.start_price),
                           Deposit(BOOK_ACCOUNT, "USDT", p.book_deposit_quote),
                           Deposit(MM_ACCOUNT, "USDT", money(int(book.deposit_units[-1])))]
    ids = book.ids()
    for i in range(book.size - 1):
        aid = ids[i]
        qty = book.qty(i)
        buyer, seller = (aid, MM_ACCOUNT) if qty > 0 else (MM_ACCOUNT, aid)
        cmds += [Deposit(aid, "USDT", money(int(book.deposit_units[i]))),
                 SetLeverage(aid, p.symbol, Decimal(int(book.leverage[i]))),
                 Fill(f"open-{i}", p.symbol, book.entry(i), abs(qty), buyer, seller)]
    cmds.append(FundInsurance(money(book.insurance_units)))
    return cmds
