"""A deterministic synthetic book for cascade simulation.

``generate_book(BookParams(...))`` draws N trader accounts on one instrument of a bundled
venue (``binance-usdm`` by default; the symbol defaults to the venue's BTC perpetual, linear
first, ``default_symbol``) from a numpy ``Generator`` seeded with ``params.seed``:

* side: long with probability ``long_share`` (0.7: a book leaning long before a crash);
* notional: log-normal (median ``median_notional_quote``, log-sd ``notional_sigma``), clipped
  to ``[min_notional_quote, max_notional_quote]``; quantity = notional / entry in whole
  quantity steps (``qty_step``);
* leverage: a bucket by ``leverage_mix`` (40 % 2–5×, 35 % 5–20×, 20 % 20–50×, 5 % 50–100×),
  an integer uniform in it, then capped at the tier's maximum for the notional;
* entry: the start price × (1 + U(−entry_spread, +entry_spread)), rounded to the price grid;
* deposit: ``notional / leverage`` rounded up to a cent (the initial margin).

**Inverse (coin-margined) instruments** (``binance-coinm`` BTCUSD_PERP, ``bybit-inverse``
BTCUSD): the notional drawn is the USD face value, the quantity is in whole contracts
(``notional / contract size``), and every amount is in the settlement coin: the coin
notional at entry is ``contracts × cs / entry`` (the tier tables are in coin), the deposit
is ``coin notional / leverage`` rounded up to one money unit (10^-8 coin), and each trader's
cost is the engine's own: the fill's coin value ``−qty × cs / entry`` rounded half to even
to 10^-8 (``engine.contract_value.traded``).

Every trader trades against the counterparty account ``mm`` at its own entry price, so the
shorts are other accounts of the book and ``mm`` holds the imbalance (open interest is
balanced by construction). ``mm`` trades both ways, so the engine realises PnL into its
balance as it goes, while the book keeps its deposit and the sum of its fills as cost: the
two differ, but ``balance − cost`` (so its equity at every mark) is the same, since a trade
moves it by exactly ``−V(t, P)`` (``engine/ledger.py``). So every decision and close on
``mm`` is the engine's, save one that reads the cost itself: MM on entry value (Bybit),
where ``mm``'s differs by the PnL it realised while building the book (entries within
``entry_spread``). ``mm`` deposits the book's gross notional (plus a cent, or one coin),
far above that MM; the ``book`` account, which takes liquidation orders, deposits
``book_deposit_quote``; the insurance fund starts at ``insurance_fraction`` of the open
interest (rounded up to a cent, or to 10^-8 of a coin). Money is in the instrument's settlement asset.

Exact data are integers: quantities in steps, prices in grid steps, money in units of
``10^-8`` of the settlement asset (the engine's money quantum). The grids are the venue's:

* price grid (``tick``): the instrument's tick, else the step of the venue's price rule at
  the start price (Hyperliquid: 5 significant figures → 1 at 116,975; a profile without a
  tick: 8 significant figures → 0.01); the start price is rounded down to it;
* quantity step (``lot``): the instrument's lot (``Instrument.lot``, the engine's), times the
  smallest integer ``k`` for which one step × contract size × one price step is a whole number
  of money units (the engine accepts every multiple of its lot; ``k`` is 1 on every bundled
  venue that publishes a lot). Inverse: the lot itself (the coin value of a fill is a quotient,
  rounded per fill), and ``10^8 × lot × cs / tick`` must be a whole number (``coin_units``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from solvent.engine.commands import Command, Deposit, Fill, FundInsurance, PriceUpdate, SetLeverage
from solvent.errors import InvalidInput
from solvent.limits import MAX_PRICE
from solvent.model import Instrument
from solvent.risk.rules import MarginRules, size_independent
from solvent.risk.tiers import TierTable
from solvent.risk.venues import VenueProfile, load_venue
from solvent.stress.book_calibrated import draw_calibrated, market_of
from solvent.units import exact, plain, round_down

__all__ = [
    "BOOK_ACCOUNT",
    "BOOK_MODELS",
    "MAX_ACCOUNT_VALUE",
    "MAX_BOOK_ACCOUNTS",
    "MAX_FUND_FRACTION",
    "MAX_START_PRICE",
    "MIN_START_STEPS",
    "MM_ACCOUNT",
    "MONEY_EXP",
    "BookParams",
    "SyntheticBook",
    "account_id",
    "assemble_book",
    "book_commands",
    "cap_by_size",
    "cap_leverage",
    "check_book_params",
    "default_symbol",
    "draw_leverage",
    "generate_book",
    "half_even_quotient",
    "linear_deposit",
    "price_grid",
    "qty_step",
    "start_on_grid",
    "whale_group_count",
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
    symbol: str | None = None
    """``None``: the venue's ``default_symbol``."""
    start_price: Decimal = Decimal("116975.9")
    long_share: float = 0.6
    median_notional_quote: float = 5_000.0
    notional_sigma: float = 1.4
    min_notional_quote: float = 100.0
    max_notional_quote: float = 2_000_000.0
    leverage_mix: tuple[tuple[float, int, int], ...] = ((0.42, 1, 3), (0.20, 3, 20), (0.18, 20, 48), (0.20, 48, 100))
    """Shares of integer leverage buckets (docs/calibration.md: BitMEX's published moments)."""
    entry_spread: float = 0.002
    """``spot`` model: entries within ± this fraction of the start price."""
    insurance_fraction: Decimal = Decimal("0.05")
    book_deposit_quote: Decimal = Decimal(10) ** 12
    whale_groups: int = 2
    whale_group_accounts: int = 3
    whale_group_share: float = 0.03
    """Each whale group's notional, a fraction of the other traders' gross notional (``_whale_groups``)."""
    model: str = "calibrated"
    """``calibrated``: entries spread over the month before the start, survivors only, leverage
    the effective leverage at the start (``book_calibrated``); ``spot``: every entry within
    ``entry_spread`` of the start price, leverage the initial one."""
    entry_days: int = 30
    entry_age_mean_days: float = 10.0


BOOK_MODELS = ("calibrated", "spot")
MAX_BOOK_ACCOUNTS = 5_000_000
"""The largest book: its columns are int64 (the counterparty's deposit is the book's gross notional)."""
MAX_START_PRICE = MAX_PRICE / 10
MIN_START_STEPS = 1_000
"""The fewest price steps a drawn book's start price may hold: a step is then at most 0.1 % of
it, so the moves a run makes (0.5 % to 50 %) are what they say, not rounded to whole steps."""
"""The highest start price a book is built at (in the quote asset): a tenth of the engine's
highest price (``limits.MAX_PRICE``), so that the book's entry prices, drawn up to a few per
cent above the start from the scaled history or up to twice it with ``entry_spread``, are prices
the engine takes (at 10^9 the fast engine ran a book the exact engine refused to build)."""
MAX_FUND_FRACTION = Decimal(10)
"""The largest insurance fund at the start, a fraction of the open interest."""
MAX_ACCOUNT_VALUE = Decimal(10) ** 10
"""The largest notional or deposit of one account (in its asset): its 10^-8 units fit an int64."""


def check_book_params(params: BookParams) -> None:
    """Refuse parameters no book can be drawn from, naming the field (``InvalidInput``)."""
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise InvalidInput(f"book parameters: {what}")

    finite = all(math.isfinite(v) for v in (params.long_share, params.median_notional_quote, params.notional_sigma,
                                             params.min_notional_quote, params.max_notional_quote,
                                             params.entry_spread, *(w for w, _, _ in params.leverage_mix)))
    need(finite, "every float parameter must be finite")
    need(1 <= params.accounts <= MAX_BOOK_ACCOUNTS,
         f"accounts must lie in [1, {MAX_BOOK_ACCOUNTS:,}], got {params.accounts}")
    need(0 <= params.seed < 2**63, f"seed must lie in [0, 2^63), got {params.seed}")
    need(0.0 <= params.long_share <= 1.0, f"long_share must lie in [0, 1], got {params.long_share}")
    need(params.median_notional_quote > 0 and params.notional_sigma >= 0,
         "median_notional_quote must be > 0 and notional_sigma >= 0")
    need(0 < params.min_notional_quote <= params.max_notional_quote,
         "need 0 < min_notional_quote <= max_notional_quote")
    need(0.0 <= params.entry_spread < 1.0, f"entry_spread must lie in [0, 1), got {params.entry_spread}")
    mix = params.leverage_mix
    need(bool(mix) and all(w >= 0 and 1 <= lo <= hi <= 1000 for w, lo, hi in mix) and sum(w for w, _, _ in mix) > 0,
         "leverage_mix needs (share >= 0, low, high) buckets with 1 <= low <= high <= 1000 and shares adding to > 0")
    need(params.start_price.is_finite() and 0 < params.start_price <= MAX_START_PRICE,
         f"start_price must lie in (0, {MAX_START_PRICE:.0e}], got {params.start_price}")
    need(params.insurance_fraction.is_finite() and 0 <= params.insurance_fraction <= MAX_FUND_FRACTION,
         f"insurance_fraction must lie in [0, {MAX_FUND_FRACTION}], got {params.insurance_fraction}")
    need(params.book_deposit_quote.is_finite() and 0 < params.book_deposit_quote <= Decimal(10) ** 15,
         f"book_deposit_quote must lie in (0, 1e15], got {params.book_deposit_quote}")
    need(params.max_notional_quote <= float(MAX_ACCOUNT_VALUE),
         f"max_notional_quote must be at most {MAX_ACCOUNT_VALUE:.0e}, got {params.max_notional_quote}")
    need(0 <= params.whale_groups <= 100 and 1 <= params.whale_group_accounts <= 100,
         "need 0 <= whale_groups <= 100 and 1 <= whale_group_accounts <= 100")
    need(math.isfinite(params.whale_group_share) and 0 <= params.whale_group_share <= 1,
         f"whale_group_share must lie in [0, 1], got {params.whale_group_share}")
    need(params.model in (*BOOK_MODELS, "file"),
         f"model must be one of {', '.join(BOOK_MODELS)} (or file), got {params.model!r}")
    need(1 <= params.entry_days <= 30, f"entry_days must lie in [1, 30] (the bundled history), got {params.entry_days}")
    need(math.isfinite(params.entry_age_mean_days) and params.entry_age_mean_days > 0,
         f"entry_age_mean_days must be > 0, got {params.entry_age_mean_days}")


@dataclass(frozen=True, slots=True, eq=False)
class SyntheticBook:
    """Trader accounts ``0..N−1`` then ``mm`` (index N); one position each on ``symbol``."""

    params: BookParams
    profile: VenueProfile
    table: TierTable
    """The MM table of a position of one step (every position's, unless the rules depend on size)."""
    lot: Decimal
    """The book's quantity step (module docstring): a multiple of the instrument's lot."""
    tick: Decimal
    """The book's price grid: every mark, entry and start price is a multiple of it."""
    qty_lots: NDArray[np.int64]
    """Signed quantity in lots (+ long, − short); the last row is ``mm``."""
    entry_ticks: NDArray[np.int64]
    """Entry price in ticks (for ``mm``: the start price; its cost is the sum of its fills)."""
    cost: NDArray[np.int64]
    """Signed cost basis (the engine's ``cost``); the column sums to 0. Linear: in lot × tick
    units (× ``notional_unit`` is quote); inverse: in 10^-8 of the settlement coin."""
    deposit_units: NDArray[np.int64]
    """Deposit in 10^-8 units."""
    leverage: NDArray[np.int64]
    insurance_units: int
    group: NDArray[np.int64] | None = None
    """Each trader's group (affiliated accounts, for Cover-1 and Cover-2): the index of the
    group's first account; ``None``: every trader is its own group."""
    labels: tuple[str, ...] | None = None
    """The traders' own account ids (a venue's book read from a file); ``None``: ``account_id(i)``."""
    group_labels: dict[int, str] | None = None
    """The groups' own names, by group (a book read from a file)."""

    def groups(self) -> NDArray[np.int64]:
        """The group of each trader (``group``, or each trader alone)."""
        return self.group if self.group is not None else np.arange(self.size - 1, dtype=np.int64)

    @property
    def symbol(self) -> str:
        return self.params.symbol or default_symbol(self.profile)

    @property
    def instrument(self) -> Instrument:
        return self.profile.instrument(self.symbol)

    @property
    def rules(self) -> MarginRules:
        return self.profile.rules_for(self.symbol)

    @property
    def settle(self) -> str:
        """The settlement asset every amount is in (deposits, fund, PnL)."""
        return self.instrument.settle or "USDT"

    @property
    def inverse(self) -> bool:
        """Coin-margined: money is in the coin, the contract's face value in USD."""
        return self.instrument.is_inverse

    @property
    def notional_unit(self) -> Decimal:
        """Quote value of one step at one price step: ``lot × contract size × tick`` (linear)."""
        return self.lot * self.instrument.contract_size * self.tick

    def cost_of(self, index: int) -> Decimal:
        """The engine's cost basis of account ``index`` (quote, or coin for inverse)."""
        units = Decimal(int(self.cost[index]))
        return units.scaleb(-MONEY_EXP) if self.inverse else units * self.notional_unit

    def quote_value(self, qty: Decimal, price: Decimal) -> Decimal:
        """Quote value of ``qty`` traded at ``price``: ``qty × cs × price``; inverse: the face
        value ``qty × cs`` (USD, whatever the price). What the impact model absorbs."""
        cs = self.instrument.contract_size
        return qty * cs if self.inverse else qty * cs * price

    @property
    def start_price(self) -> Decimal:
        return self.params.start_price

    @property
    def size(self) -> int:
        """Accounts including ``mm``."""
        return int(self.qty_lots.shape[0])

    def ids(self) -> list[str]:
        return [account_id(i) for i in range(self.size - 1)] + [MM_ACCOUNT]

    def qty(self, index: int) -> Decimal:
        """Signed quantity (base units, or contracts) of account ``index``."""
        return Decimal(int(self.qty_lots[index])) * self.lot

    def entry(self, index: int) -> Decimal:
        return Decimal(int(self.entry_ticks[index])) * self.tick

    def money(self, units: int) -> Decimal:
        return Decimal(units).scaleb(-MONEY_EXP)

    def open_interest_settle(self) -> Decimal:
        """The longs' cost basis in the settlement asset (quote; inverse: the coin), the base of
        the fund's ``insurance_fraction`` (``assemble_book``) and of a backstop's capital."""
        total = int(np.sum(self.cost[self.qty_lots > 0], dtype=object))
        return Decimal(-total).scaleb(-MONEY_EXP) if self.inverse else Decimal(total) * self.notional_unit

    def open_interest_quote(self) -> Decimal:
        """The long side's value (= the short side's), in quote: Σ cost of the longs; inverse:
        their face value in USD."""
        if self.inverse:
            contracts = int(np.sum(self.qty_lots[self.qty_lots > 0], dtype=object))
            return Decimal(contracts) * self.lot * self.instrument.contract_size
        longs = self.cost[self.cost > 0]
        return Decimal(int(np.sum(longs, dtype=object))) * self.notional_unit


def default_symbol(profile: VenueProfile) -> str:
    """The venue's BTC (or XBT) perpetual, else its first perpetual, else its first instrument;
    linear before inverse, and among several, one with a published tick and lot first, then by
    name."""
    def rank(symbol: str) -> tuple[bool, bool, bool, bool, str]:
        inst = profile.instruments[symbol]
        return (inst.is_inverse, inst.base not in ("BTC", "XBT"), inst.kind.is_dated,
                inst.tick_size is None or inst.lot_size is None, symbol)

    if not profile.instruments:
        raise InvalidInput(f"venue {profile.name} lists no instrument")
    return min(profile.instruments, key=rank)


def price_grid(profile: VenueProfile, inst: Instrument, start: Decimal) -> Decimal:
    """The tick, else the venue's price-rule step at the start price (module docstring)."""
    rule = profile.price_rule(inst)
    return inst.tick_size or (rule.step(start) if rule is not None else Decimal("0.01"))


def qty_step(inst: Instrument, tick: Decimal) -> Decimal:
    """The smallest multiple of the instrument's lot whose value at one price step is a whole
    number of money units; inverse: the lot (module docstring)."""
    if inst.is_inverse:
        return inst.lot
    value = Fraction(inst.lot * inst.contract_size * tick.scaleb(MONEY_EXP))
    return inst.lot * value.denominator


def draw_leverage(rng: np.random.Generator, params: BookParams, n: int) -> NDArray[np.int64]:
    """``n`` integer leverages from ``params.leverage_mix`` (a bucket by its share, then uniform in it)."""
    weights = np.asarray([w for w, _, _ in params.leverage_mix], dtype=np.float64)
    bucket = rng.choice(len(params.leverage_mix), size=n, p=weights / weights.sum())
    lo = np.asarray([a for _, a, _ in params.leverage_mix], dtype=np.int64)[bucket]
    hi = np.asarray([b for _, _, b in params.leverage_mix], dtype=np.int64)[bucket]
    return lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)


def cap_leverage(table: TierTable, notional_quote: NDArray[np.float64], lev: NDArray[np.int64]) -> NDArray[np.int64]:
    """Leverage at most the tier maximum for the notional (floors as floats only to pick the tier)."""
    floors = np.asarray([float(t.floor_notional) for t in table.tiers], dtype=np.float64)
    maxima = np.asarray([int(t.max_leverage) for t in table.tiers], dtype=np.int64)
    row = np.searchsorted(floors, notional_quote, side="right") - 1
    return np.minimum(lev, maxima[np.clip(row, 0, len(floors) - 1)])


def cap_by_size(rules: MarginRules, lots: NDArray[np.int64], step: Decimal,
                 lev: NDArray[np.int64]) -> NDArray[np.int64]:
    """Leverage at most the maximum of the table for each position's own size (size premium)."""
    out = lev.copy()
    for size in np.unique(lots).tolist():
        table = rules.maintenance_table(Decimal(size) * step)
        cap = int(min(t.max_leverage for t in table.tiers))
        rows = lots == size
        out[rows] = np.minimum(out[rows], cap)
    return out


@dataclass(frozen=True, slots=True)
class _Sized:
    """The money columns of the traders (10^-8 units) and the counterparty's deposit."""

    cost: NDArray[np.int64]
    deposit: NDArray[np.int64]
    mm_deposit: int
    fund_step: Decimal
    """What the fund is rounded down to (against it): a cent, or one money unit of a coin."""


def _linear_money(inst: Instrument, lot: Decimal, tick: Decimal, signed: NDArray[np.int64],
                  entry_ticks: NDArray[np.int64], lev: NDArray[np.int64]) -> _Sized:
    """Deposit = notional / leverage rounded up to a cent, exactly in integers (units of 1e-8)."""
    lots = np.abs(signed)
    unit = _units_per_lot_tick(lot * inst.contract_size, tick)
    notional_units = lots * entry_ticks * unit
    cent = 10 ** (MONEY_EXP - 2)
    deposit = linear_deposit(notional_units, lev)
    return _Sized(signed * entry_ticks, deposit, int(np.sum(notional_units, dtype=object)) + cent, Decimal("0.01"))


def linear_deposit(notional_units: NDArray[np.int64], leverage: NDArray[np.int64]) -> NDArray[np.int64]:
    """Linear traders' deposits: ``notional / leverage`` rounded up to a cent, exactly, in 10^-8
    units: the book's traders and re-leveraging's entrants."""
    cent = 10 ** (MONEY_EXP - 2)
    out: NDArray[np.int64] = -((-notional_units) // (leverage * cent)) * cent
    return out


def _inverse_money(inst: Instrument, lot: Decimal, tick: Decimal, signed: NDArray[np.int64],
                   entry_ticks: NDArray[np.int64], lev: NDArray[np.int64]) -> _Sized:
    """Coin notional ``contracts × K / entry`` units (``K = coin_units``); deposit its
    ``1/leverage`` rounded up to a unit; cost the fill's coin value rounded half to even."""
    k = coin_units(lot * inst.contract_size, tick)
    lots = np.abs(signed)
    deposit = -((-(lots * k)) // (entry_ticks * lev))
    cost = half_even_quotient(-signed * k, entry_ticks)
    gross = -((-(lots * k)) // entry_ticks)
    return _Sized(cost, deposit, int(np.sum(gross, dtype=object)) + 10**MONEY_EXP, Decimal(1).scaleb(-MONEY_EXP))


def half_even_quotient(numerator: NDArray[np.int64], denominator: NDArray[np.int64]) -> NDArray[np.int64]:
    """``numerator / denominator`` rounded half to even to an integer, exactly (denominator > 0).

    The engine rounds the same quotient twice: to its working precision (40 significant
    digits), then half to even to the money quantum (``contract_value.traded``). That equals
    one exact rounding: a quotient that is not a tie lies at least ``1 / (2 × denominator)``
    of a unit from one, far more than the first rounding moves it (10^-30 of a unit here), and
    a tie has few digits, so the first rounding keeps it."""
    quotient, remainder = np.divmod(numerator, denominator)
    twice = 2 * remainder
    up = (twice > denominator) | ((twice == denominator) & (quotient % 2 == 1))
    out: NDArray[np.int64] = quotient + up.astype(np.int64)
    return out


def coin_units(contract_value: Decimal, tick: Decimal) -> int:
    """``10^8 × lot × cs / tick``: money units (10^-8 coin) of one step's coin value at one price
    step; a step at ``m`` price steps is worth ``K / m`` units. Must be a whole number."""
    value = contract_value.scaleb(MONEY_EXP) / tick
    if value != value.to_integral_value():
        raise InvalidInput(f"an inverse step of {contract_value} USD at one price step {tick} is not a whole "
                           f"number of 10^-{MONEY_EXP} coin units")
    return int(value)


@exact
def start_on_grid(price: Decimal, tick: Decimal, symbol: str) -> Decimal:
    """``price`` rounded down to the book's grid, refused below ``MIN_START_STEPS`` steps: the
    one check of a start price, for a drawn book and a book file alike."""
    start = round_down(price, tick)
    if start <= 0:
        raise InvalidInput(f"start price {price} is below one price step {tick}")
    if start < MIN_START_STEPS * tick:
        steps = int(start / tick)
        raise InvalidInput(
            f"start price {price} is {steps:,} price step{'' if steps == 1 else 's'} of {symbol} "
            f"({tick}), each {tick / start:.2%} of it: a run's moves would be rounded to whole steps; give at least "
            f"{plain(MIN_START_STEPS * tick)} ({MIN_START_STEPS:,} steps, each at most 0.1 %)")
    return start


def generate_book(params: BookParams, profile: VenueProfile | None = None) -> SyntheticBook:
    """The book for ``params`` (on ``profile`` when given, else the bundled ``params.venue``);
    the same parameters always give the same book."""
    check_book_params(params)
    if params.model == "file":
        raise InvalidInput("book parameters: a 'file' book is read from its file (book_file), not drawn")
    profile = profile or load_venue(params.venue)
    symbol = params.symbol or default_symbol(profile)
    inst = profile.instrument(symbol)
    tick = price_grid(profile, inst, params.start_price)
    start = start_on_grid(params.start_price, tick, symbol)
    params = replace(params, venue=profile.name, symbol=symbol, start_price=start)
    lot = qty_step(inst, tick)
    rules = profile.rules_for(symbol)
    table = rules.maintenance_table(lot)
    rng = np.random.default_rng(params.seed)
    n = params.accounts
    long = rng.random(n) < params.long_share
    notional = np.clip(rng.lognormal(np.log(params.median_notional_quote), params.notional_sigma, n),
                       params.min_notional_quote, params.max_notional_quote)
    group = _whale_groups(rng, params, long, notional)
    start_ticks = int(start / tick)
    spread = rng.uniform(-params.entry_spread, params.entry_spread, n)
    entry_ticks: NDArray[np.int64] = np.maximum(np.round(start_ticks * (1.0 + spread)), 1).astype(np.int64)
    face = float(lot * inst.contract_size)
    if inst.is_inverse:  # the notional drawn is the USD face value; the tiers read coin
        lots = np.maximum(1, np.round(notional / face)).astype(np.int64)
        notional_f = lots * face / (entry_ticks * float(tick))
    else:
        unit_f = face * float(tick)
        lots = np.maximum(1, np.round(notional / (entry_ticks * unit_f))).astype(np.int64)
        notional_f = (lots * entry_ticks).astype(np.float64) * unit_f
    lev = draw_leverage(rng, params, n)
    if params.model == "calibrated":
        market = market_of(start_ticks, tick, lot, inst.contract_size,
                           coin_units(lot * inst.contract_size, tick) if inst.is_inverse
                           else _units_per_lot_tick(lot * inst.contract_size, tick),
                           1 if inst.is_inverse else 10 ** (MONEY_EXP - 2), inst.is_inverse, table, rules,
                           size_independent(rules), profile.mm_basis)
        drawn = draw_calibrated(rng, long, notional, lev, market, params.entry_days, params.entry_age_mean_days)
        entry_ticks, lots, lev = drawn.entry_ticks, drawn.lots, drawn.leverage
    else:
        lev = cap_leverage(table, notional_f, lev) if size_independent(rules) else cap_by_size(rules, lots, lot, lev)
    signed = np.where(long, lots, -lots)
    deposit = drawn.deposit if params.model == "calibrated" else None
    return assemble_book(params, profile, table, lot, tick, signed, entry_ticks, lev, deposit, group)


def assemble_book(params: BookParams, profile: VenueProfile, table: TierTable, lot: Decimal, tick: Decimal,
                  signed: NDArray[np.int64], entry_ticks: NDArray[np.int64], lev: NDArray[np.int64],
                  deposit: NDArray[np.int64] | None, group: NDArray[np.int64] | None,
                  labels: tuple[str, ...] | None = None, group_labels: dict[int, str] | None = None) -> SyntheticBook:
    """The book from the traders' columns (signed steps, entries in grid steps, leverage, deposits
    in 10^-8 units or ``None`` for ``notional / leverage``): the costs, the counterparty ``mm``
    and the fund (``insurance_fraction`` of the open interest). One home for a drawn book and a
    venue's own (``book_file``)."""
    inst = profile.instrument(params.symbol or default_symbol(profile))
    n = int(signed.shape[0])
    money = (_inverse_money if inst.is_inverse else _linear_money)(inst, lot, tick, signed, entry_ticks, lev)
    if deposit is not None:
        money = replace(money, deposit=deposit)
    _fits_int64(money.mm_deposit, "the counterparty's deposit (the book's gross notional)", n)
    cost = np.append(money.cost, -int(np.sum(money.cost, dtype=object))).astype(np.int64)
    qty_lots = np.append(signed, -int(np.sum(signed, dtype=object))).astype(np.int64)
    if inst.is_inverse:  # the longs' cost is negative (a coin value −qty × cs / entry)
        open_interest = Decimal(-int(np.sum(cost[qty_lots > 0], dtype=object))).scaleb(-MONEY_EXP)
    else:
        open_interest = Decimal(int(np.sum(cost[cost > 0], dtype=object))) * lot * inst.contract_size * tick
    # rounded against the fund, as every figure of a run is (stress/money.py): a stress test never starts richer
    insurance = round_down(open_interest * params.insurance_fraction, money.fund_step).scaleb(MONEY_EXP)
    return SyntheticBook(
        params=params, profile=profile, table=table, lot=lot, tick=tick,
        qty_lots=qty_lots,
        entry_ticks=np.append(entry_ticks, int(params.start_price / tick)).astype(np.int64),
        cost=cost,
        deposit_units=np.append(money.deposit, money.mm_deposit).astype(np.int64),
        leverage=np.append(lev, 1).astype(np.int64),
        insurance_units=int(insurance),
        group=group,
        labels=labels,
        group_labels=group_labels,
    )


def whale_group_count(params: BookParams) -> int:
    """How many whale groups the book holds: ``whale_groups``, fewer when the book has less than
    ten traders per whale account (a whale is large against a crowd, not against three accounts)."""
    per_group = params.whale_group_accounts
    return min(params.whale_groups, params.accounts // (10 * per_group)) if per_group else 0


def _whale_groups(rng: np.random.Generator, params: BookParams, long: NDArray[np.bool_],
                  notional: NDArray[np.float64]) -> NDArray[np.int64]:
    """Make the first ``whale_group_count × whale_group_accounts`` traders the whale groups (in
    place): each group is ``whale_group_accounts`` affiliated accounts on one side (long with
    ``long_share``), together ``whale_group_share`` of the other traders' gross notional, split
    evenly and not clipped at ``max_notional_quote``. Returns each trader's group."""
    group = np.arange(params.accounts, dtype=np.int64)
    count, size = whale_group_count(params), params.whale_group_accounts
    if count == 0:
        return group
    crowd = float(np.sum(notional[count * size:]))
    for g in range(count):
        rows = slice(g * size, (g + 1) * size)
        long[rows] = rng.random() < params.long_share
        notional[rows] = params.whale_group_share * crowd / size
        group[rows] = g * size
    return group


_INT64_MAX = 2**63 - 1


def _fits_int64(value: int, what: str, accounts: int) -> None:
    if abs(value) > _INT64_MAX:
        raise InvalidInput(f"{accounts:,} accounts: {what} exceeds the int64 range of the book's columns")


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
    symbol, settle = book.symbol, book.settle
    cmds: list[Command] = [PriceUpdate(symbol, SOURCE, book.start_price),
                           Deposit(BOOK_ACCOUNT, settle, p.book_deposit_quote),
                           Deposit(MM_ACCOUNT, settle, money(int(book.deposit_units[-1])))]
    ids = book.ids()
    for i in range(book.size - 1):
        aid = ids[i]
        qty = book.qty(i)
        buyer, seller = (aid, MM_ACCOUNT) if qty > 0 else (MM_ACCOUNT, aid)
        cmds += [Deposit(aid, settle, money(int(book.deposit_units[i]))),
                 SetLeverage(aid, symbol, Decimal(int(book.leverage[i]))),
                 Fill(f"open-{i}", symbol, book.entry(i), abs(qty), buyer, seller)]
    if book.insurance_units:  # a fund of 0 (``--fund 0``) is no command: the engine refuses an amount of 0
        cmds.append(FundInsurance(money(book.insurance_units)))
    return cmds
