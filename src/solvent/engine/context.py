"""What every command handler works with: state, config, lookups and the denial exception."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, NoReturn, TypeVar, cast

from solvent.engine.config import EngineConfig
from solvent.engine.denials import Denial, DenyCode
from solvent.engine.events import Accepted, Event
from solvent.engine.margin import MarginView
from solvent.engine.margin_cache import MarginCache
from solvent.engine.state import AccountState, EngineState, MarketState, OrderState
from solvent.errors import UnknownSymbol
from solvent.model import Instrument, InstrumentKind, Side
from solvent.risk.liquidation_rules import LiquidationRuleKind
from solvent.units import ZERO, plain, round_down, round_up

E = TypeVar("E", bound=Enum)

if TYPE_CHECKING:
    from solvent.engine.orders import OrderSizing

__all__ = ["Ctx", "Deny", "Outcome", "accepted"]


_INVERSE_KINDS = frozenset(kind for kind in InstrumentKind if kind.is_inverse)


class MarkMap(Mapping[str, Decimal]):
    """The markets' current marks as a read-only mapping (symbols without a mark are absent)."""

    __slots__ = ("_markets",)

    def __init__(self, markets: Mapping[str, MarketState]) -> None:
        self._markets = markets

    def __getitem__(self, symbol: str) -> Decimal:
        mark = self._markets[symbol].mark
        if mark is None:
            raise KeyError(symbol)
        return mark

    def __iter__(self) -> Iterator[str]:
        return (s for s, m in self._markets.items() if m.mark is not None)

    def __len__(self) -> int:
        return sum(1 for m in self._markets.values() if m.mark is not None)

    def get(self, symbol: str, default: Decimal | None = None) -> Decimal | None:  # type: ignore[override]
        """``Mapping.get`` in one step (the mixin's goes through ``__getitem__`` and ``KeyError``)."""
        market = self._markets.get(symbol)
        if market is None or market.mark is None:
            return default
        return market.mark


class ScaleMap(Mapping[str, Decimal]):
    """The markets' volatility MM scales as a read-only mapping (symbols without one are absent)."""

    __slots__ = ("_markets",)

    def __init__(self, markets: Mapping[str, MarketState]) -> None:
        self._markets = markets

    def __getitem__(self, symbol: str) -> Decimal:
        market = self._markets[symbol]
        if market.volatility is None:
            raise KeyError(symbol)
        return market.volatility.scale

    def __iter__(self) -> Iterator[str]:
        return (s for s, m in self._markets.items() if m.volatility is not None)

    def __len__(self) -> int:
        return sum(1 for m in self._markets.values() if m.volatility is not None)

    def get(self, symbol: str, default: Decimal | None = None) -> Decimal | None:  # type: ignore[override]
        market = self._markets.get(symbol)
        if market is None or market.volatility is None:
            return default
        return market.volatility.scale


_NO_SCALES: Mapping[str, Decimal] = {}


class Deny(Exception):
    """Raised by a handler, before it changes anything, to refuse a command."""

    def __init__(self, code: DenyCode, **context: Decimal | str | int) -> None:
        super().__init__(code)
        self.code = code
        self._context = context
        self._denial: Denial | None = None

    @property
    def denial(self) -> Denial:
        """The refusal with its context rendered: built when asked for, so a refusal nobody
        reads (a what-if probe: ``Engine._size_probe``) costs no rendering of its numbers."""
        if self._denial is None:
            self._denial = Denial.of(self.code, **self._context)
        return self._denial

    def __str__(self) -> str:  # rendered when asked for, not on every refusal
        return str(self.denial)


class ShortOfMargin(Deny):
    """A refusal for want of margin, its ``required`` and ``available`` shown as the account
    view shows money (``service/views._money``, ``units`` rounding policy): what is required
    rounded up to the money quantum, what is available rounded down. The decision was made on
    the exact values; a 40-digit ``1433.3333…`` is shown ``1433.33333334``, a figure the
    engine accepts back as an amount."""

    def __init__(self, code: DenyCode, quantum: Decimal, required: Decimal, available: Decimal,
                 **more: Decimal | str | int) -> None:
        super().__init__(code, required=required, available=available, **more)
        self._quantum = quantum

    @property
    def denial(self) -> Denial:
        if self._denial is None:
            shown = dict(self._context)
            shown["required"] = round_up(cast(Decimal, shown["required"]), self._quantum)
            shown["available"] = round_down(cast(Decimal, shown["available"]), self._quantum)
            self._denial = Denial.of(self.code, **shown)
        return self._denial


def enum_field(kind: type[E], value: object, name: str) -> E:
    """A command's enum field as the enum (a caller may pass its value, ``"long"``); a value
    that is none of them is refused as ``INVALID_FIELD`` naming the field, not an internal error."""
    if type(value) is kind:
        return value
    try:
        return kind(value)
    except ValueError:
        raise Deny(DenyCode.INVALID_FIELD, field=name, got=repr(value)[:80],
                   allowed=", ".join(str(member.value) for member in kind)) from None


@dataclass(slots=True)
class Outcome:
    events: list[Event] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    symbols: set[str] = field(default_factory=set)
    rerated: set[str] = field(default_factory=set)
    """Symbols whose MM rule changed (a new volatility scale): every holder is re-margined."""
    narrow: dict[str, frozenset[str]] = field(default_factory=dict)
    """For a touched account listed here, the command changed only its wallet and these
    symbols' positions, orders or leverage (never whether it trades in hedge mode): the
    margin cache keeps its other symbols' parts. A touched account not listed is re-margined
    whole."""
    fund_owed: dict[str, Decimal] = field(default_factory=dict)
    """Liquidation of one account: per market, the shortfall its cross closes left to the
    insurance fund, paid once the cross scope is closed (``engine/liquidation.py``): a fund
    rule counts it against its market before the payment is made."""


_LINEAR_ONLY_RULES = frozenset({LiquidationRuleKind.DYDX_V4, LiquidationRuleKind.DRIFT})


_COIN_ENGINES: dict[tuple[int, str], tuple[object, bool]] = {}


def _is_coin_engine(config: EngineConfig) -> bool:
    """Whether the engine margins in the settlement coin of one of its profile's inverse
    instruments (a coin-margined engine: a linear instrument settled elsewhere is refused
    there, its quote money would be counted as coin). Cached per profile and asset."""
    key = (id(config.profile), config.settle_asset)
    known = _COIN_ENGINES.get(key)
    if known is None or known[0] is not config.profile:
        coin = any(i.is_inverse and i.settle == config.settle_asset for i in config.profile.instruments.values())
        known = _COIN_ENGINES[key] = (config.profile, coin)
    return known[1]


def _check_inverse(config: EngineConfig, inst: Instrument) -> None:
    """An inverse instrument trades in an engine that margins in its settlement coin (one
    engine per coin, as coin-margined venues keep one wallet per coin), under a liquidation
    rule written for it: the dYdX v4 and Drift formulas are linear (their venues list no
    inverse instrument)."""
    if inst.settle != config.settle_asset:
        raise Deny(DenyCode.UNSUPPORTED_INSTRUMENT, symbol=inst.symbol,
                   reason=f"settles in {inst.settle}; this engine margins in {config.settle_asset}")
    policy = config.liquidation
    if policy is not None and policy.venue_rules and config.profile.liquidation.kind in _LINEAR_ONLY_RULES:
        raise Deny(DenyCode.UNSUPPORTED_INSTRUMENT, symbol=inst.symbol,
                   reason=f"the {config.profile.liquidation.kind.value} liquidation rule is for linear instruments")


@dataclass(slots=True)
class Ctx:
    state: EngineState
    config: EngineConfig
    holders: dict[str, set[str]]
    cache: MarginCache
    _view: MarginView | None = None
    keep_market: Callable[[str], None] | None = None
    """Called before a market is written (``market``): the command's savepoint keeps a copy of a
    market outside the command's own symbols (a liquidation's trade in another market)."""
    taken: dict[tuple[str, Side], Decimal] | None = None
    """What the command's liquidation orders have taken from each side of each symbol's book so
    far (base quantity; ``engine/liquidity.py``), which the next one is priced after
    (``LiquidationPolicy.revision`` 8 on). ``None``: outside a command's liquidations."""
    sizings: list[OrderSizing] | None = None
    """Where a check of an order leaves the ``orders.OrderSizing`` it judged the quantity with,
    once every check the quantity does not change has passed: ``Engine.what_if`` sizes the
    order from it instead of running those checks again (``None``: nobody asks)."""

    def account(self, account_id: str) -> AccountState:
        acc = self.state.accounts.get(account_id)
        if acc is None:
            raise Deny(DenyCode.UNKNOWN_ACCOUNT, account=account_id)
        return acc

    def instrument(self, symbol: str) -> Instrument:
        try:
            inst = self.config.profile.instrument(symbol)
        except UnknownSymbol:
            raise Deny(DenyCode.UNKNOWN_SYMBOL, symbol=symbol) from None
        if inst.kind in _INVERSE_KINDS:  # ``inst.is_inverse``, without two property calls per command
            _check_inverse(self.config, inst)
        elif inst.settle != self.config.settle_asset and (self.config.one_settle_asset
                                                           or _is_coin_engine(self.config)):
            raise Deny(DenyCode.UNSUPPORTED_INSTRUMENT, symbol=symbol,
                       reason=f"settles in {inst.settle}; this engine margins in {self.config.settle_asset} "
                              "(its PnL would be counted in the wrong asset: run one engine per settlement asset)")
        market = self.state.markets.get(symbol)
        if market is not None and market.settled:
            raise Deny(DenyCode.INSTRUMENT_EXPIRED, symbol=symbol)
        return inst

    def market(self, symbol: str) -> MarketState:
        """``symbol``'s market, to write to (made when new)."""
        if self.keep_market is not None:
            self.keep_market(symbol)
        market = self.state.markets.get(symbol)
        if market is None:
            market = MarketState(symbol)
            self.state.markets[symbol] = market
        return market

    def rest_order(self, acc: AccountState, order: OrderState) -> None:
        """``order`` rests on ``acc`` from now on (a new order, or one replaced in place: a
        partly filled order keeps its place among the account's orders). The one way an order
        is put on an account: the margin cache keeps each symbol's order sums up to date."""
        view = self.view()
        old = acc.orders.get(order.order_id)
        if old is not None:
            self.cache.order_gone(acc, old, view)
        acc.orders[order.order_id] = order
        self.cache.order_rested(acc, order, view)

    def unrest_order(self, acc: AccountState, order_id: str) -> OrderState:
        """Take the order off ``acc`` (cancelled, filled, expired): the one way an order leaves."""
        order = acc.orders.pop(order_id)
        self.cache.order_gone(acc, order, self.view())
        return order

    def mark(self, symbol: str) -> Decimal:
        market = self.state.markets.get(symbol)
        if market is None or market.mark is None:
            raise Deny(DenyCode.NO_MARK_PRICE, symbol=symbol)
        return market.mark

    def view(self) -> MarginView:
        """Prices as they stand (read live from the markets: no copy per command).

        The view holds no state of its own, so the one built for the same config and markets
        (compared by identity) is reused: one command after another costs no new objects.
        """
        view = self._view
        if view is None:
            markets = self.state.markets
            last = _LAST_VIEW[0]
            if last is not None and last[0] is self.config and last[1] is markets:
                view = last[2]
            else:
                marks = MarkMap(markets)
                scales = ScaleMap(markets) if self.config.volatility_rule is not None else _NO_SCALES
                view = MarginView(self.config, marks, marks, scales)
                _LAST_VIEW[0] = (self.config, markets, view)
            self._view = view
        return view

    def known_asset(self, asset: str) -> None:
        if asset != self.config.settle_asset and asset not in self.config.collateral:
            raise Deny(DenyCode.UNKNOWN_ASSET, asset=asset)

    def balance(self, acc: AccountState, asset: str) -> Decimal:
        return acc.balances.get(asset, ZERO)


_LAST_VIEW: list[tuple[EngineConfig, Mapping[str, MarketState], MarginView] | None] = [None]
"""The last view built (one slot: the engine in use keeps reusing it; another engine replaces it)."""


def accepted(command: str) -> Accepted:
    """The ``Accepted`` event of a command name: immutable, so one instance per name serves every result."""
    event = _ACCEPTED.get(command)
    if event is None:
        event = _ACCEPTED[command] = Accepted(command)
    return event


_ACCEPTED: dict[str, Accepted] = {}


def within_band(price: Decimal, mark: Decimal, band: Decimal | None) -> None:
    """Refuse ``price`` (``INVALID_PRICE``) when it lies more than ``band`` (a fraction;
    ``EngineConfig.price_band``) from ``mark``; ``None``: no band."""
    if band is not None and abs(price / mark - 1) > band:
        raise Deny(DenyCode.INVALID_PRICE, price=price, mark=mark, band=band)


def positive_amount(value: Decimal, code: DenyCode, name: str) -> Decimal:
    """``value`` if it is a finite Decimal > 0, else a denial with ``code`` (naming the value's
    type when it is no ``Decimal``: an ``int`` price of 60000 looks right otherwise)."""
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        refuse_number(code, name, value, "a finite Decimal > 0")
    return value


def refuse_number(code: DenyCode, name: str, value: object, allowed: str) -> NoReturn:
    """Refuse the number ``value`` of field ``name`` with ``code``; when it is no ``Decimal`` at
    all, the context names its ``type`` and what is ``allowed`` (the one home of that message)."""
    if not isinstance(value, Decimal):
        raise Deny(code, **{name: str(value), "type": type(value).__name__, "allowed": allowed})
    # a zero written with decimals is Decimal("0E-8"), whose str is an exponent: every answer
    # writes a decimal plainly (found by a new-user pass: a deposit of "0.00000000" was refused
    # naming "0E-8")
    raise Deny(code, **{name: plain(value) if value.is_finite() else str(value)})


def money_amount(ctx: Ctx, value: Decimal, whole: Decimal | None = None) -> Decimal:
    """An amount of money moved into, out of or within an account (deposits, withdrawals,
    insurance-fund deposits, isolated margin): > 0 and, with ``EngineConfig.amounts_on_quantum``,
    a whole number of money quanta. A smaller remainder (a withdrawal of 4E-18) would move an
    amount no balance shows: ``INVALID_AMOUNT`` naming the quantum. ``whole``: the whole
    balance the amount comes out of, which may always be taken entirely (a balance left off
    the quantum by a journal written before the rule can still be emptied)."""
    amount = positive_amount(value, DenyCode.INVALID_AMOUNT, "amount")
    quantum = ctx.config.money_quantum
    if ctx.config.amounts_on_quantum and amount % quantum and amount != whole:
        raise Deny(DenyCode.INVALID_AMOUNT, amount=amount, quantum=quantum,
                   reason="not a whole number of the money quantum")
    return amount
