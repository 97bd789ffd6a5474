"""The exact cascade venue: the real ``Engine`` with liquidation on, one ``PriceUpdate`` per round.

The engine runs ``policy.stress_config(book, liquidation)``. ``generic`` (both cascades):
the ``book`` account takes liquidation orders at the square-root price (walked in a round), no
backstop, no ADL, ``target_buffer = 10^9`` (a full close; see ``cascade``) and the engine's
generic liquidation procedure. ``venue`` (this venue only: the fast cascade does not model
it): the procedure the venue profile selects (``engine/venue_rules.py``: bankruptcy-price
takeover, dYdX v4 fillable price, Hyperliquid backstop, Drift), partial closes, the venue's
ADL ranking. A round's book steps of one account make one ``Liquidation`` (their quantities,
fees and notionals added up, at the first step's price). Before each round the policy's
liquidity model is replaced by the one at the current (thinned) depth. A pause of
liquidations by the market guards would raise ``InvariantViolation`` here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from solvent.engine import commands as c
from solvent.engine.config import EngineConfig
from solvent.engine.core import Engine
from solvent.engine.events import (
    AutoDeleveraged,
    BackstopLossLimit,
    Event,
    FundDrawdownAdl,
    InsuranceFundChanged,
    LiquidationsPaused,
    LiquidationStep,
    LossSocialised,
    MarkPriceHeld,
)
from solvent.engine.liquidity import SquareRootImpact
from solvent.engine.venue_rules import effective_policy
from solvent.errors import InvalidInput, InvariantViolation
from solvent.model import Asset
from solvent.stress.book import BOOK_ACCOUNT, SOURCE, SyntheticBook, book_commands
from solvent.stress.depeg import Depeg, DepegOutcome
from solvent.stress.entrants import Opening
from solvent.stress.policy import LiquidationMode, stress_config
from solvent.stress.response import NEVER
from solvent.stress.result import BackstopHolding, Liquidation, RoundOutcome, VoluntaryClose, adl_loss
from solvent.units import ONE, ZERO, round_down, round_up

if TYPE_CHECKING:
    from solvent.stress.cascade import CascadeParams

__all__ = ["ExactVenue", "stress_config"]


def _with_backstop(config: EngineConfig, book: SyntheticBook, params: CascadeParams) -> tuple[EngineConfig, Decimal]:
    """The configuration with the run's backstop loss limit, and the vault's capital: the run's
    ``backstop_capital`` of the open interest in the settlement asset, rounded down to the money
    quantum. A procedure without a backstop is refused (``InvalidInput``)."""
    policy = effective_policy(config)
    if policy is None or policy.backstop_account is None or config.liquidation is None:
        raise InvalidInput(f"{book.profile.name}'s liquidation procedure has no backstop: a backstop's capital and "
                           "loss limit need a venue whose profile names one (hyperliquid)")
    if params.backstop_loss_limit is not None:
        config = replace(config, liquidation=replace(config.liquidation,
                                                     backstop_loss_limit=params.backstop_loss_limit))
    return config, round_down(book.open_interest_settle() * params.backstop_capital, config.money_quantum)


class ExactVenue:
    """The ``Engine`` holding ``book`` (built through ordinary commands)."""

    name = "exact"

    def __init__(self, book: SyntheticBook, liquidation: LiquidationMode = "generic",
                 depeg: Depeg | None = None, backstop: CascadeParams | None = None,
                 entrant_ids: Sequence[str] = ()) -> None:
        self.book = book
        self.procedure: LiquidationMode = liquidation
        self._mark = book.start_price
        self.config = stress_config(book, liquidation)
        self.depeg = depeg
        commands = book_commands(book)
        self.backstop_capital = ZERO
        if backstop is not None:
            self.config, capital = _with_backstop(self.config, book, backstop)
            if capital > 0:
                commands.append(c.Deposit(self._vault(), book.settle, capital))
                self.backstop_capital = capital
        if depeg is not None:
            self.config = replace(self.config, collateral={depeg.asset: Asset(depeg.asset, haircut=depeg.haircut)})
            commands = _with_depeg_collateral(book, depeg, commands, self.config.money_quantum)
        self.engine = Engine(self.config, checked=False)  # a simulation: the jump guard is off on purpose
        self._ids = [*book.ids(), *entrant_ids]
        self._index = {aid: i for i, aid in enumerate(self._ids)}
        self._entrant_sign: dict[int, int] = {}
        """The side of each entrant opened (``open_pairs``), by row."""
        self._events = 0
        self._forced: set[str] = set()
        """Accounts forced out of a position: by the book, the backstop or ADL (as the bankrupt side)."""
        for cmd in commands:
            self._quietly(cmd, "building the stress book")

    def insurance_fund(self) -> Decimal:
        return self.engine.state.insurance_fund

    def events(self) -> int:
        return self._events

    def long_open_interest(self) -> Decimal:
        symbol = self.book.symbol
        return sum((p.qty for aid, acct in self.engine.state.accounts.items() if aid != BOOK_ACCOUNT
                    for p in acct.positions.values() if p.symbol == symbol and p.qty > 0), ZERO)

    def _vault(self) -> str:
        policy = effective_policy(self.config)
        assert policy is not None and policy.backstop_account is not None
        return policy.backstop_account

    def backstop(self) -> BackstopHolding | None:
        policy = effective_policy(self.config)
        if policy is None or policy.backstop_account is None:
            return None
        vault = policy.backstop_account
        limit, capital = policy.backstop_loss_limit, self.backstop_capital
        if vault not in self.engine.state.accounts:
            return BackstopHolding(vault, ZERO, ZERO, capital, limit)
        positions = self.engine.state.accounts[vault].positions.values()
        qty = sum((p.qty for p in positions if p.symbol == self.book.symbol), ZERO)
        return BackstopHolding(vault, qty, self.engine.margin(vault).equity, capital, limit)

    def start_step(self, now_ms: int) -> None:
        result = self.engine.apply(c.AdvanceTime(now_ms))
        if not result.accepted:  # a step's time the engine refuses would leave the run on the old clock
            raise InvariantViolation(f"time {now_ms} ms refused at a step's start: {result.denial}")
        self._events += len(result.events)

    def run_round(self, step: int, rnd: int, mark: Decimal, liquidity: SquareRootImpact) -> RoundOutcome:
        assert self.config.liquidation is not None
        self._mark = mark
        self.engine.config = replace(self.config, liquidation=replace(self.config.liquidation, liquidity=liquidity))
        before = self.insurance_fund()
        events: tuple[Event, ...] = ()
        if self.depeg is not None and rnd == 0:  # the collateral's index, once a minute (a depeg from its minute)
            events = self._price(step, self.depeg.asset, self.depeg.index(step))
        events += self._price(step, self.book.symbol, mark)
        return self._parse(step, rnd, events, before)

    def open_pairs(self, openings: Sequence[Opening]) -> None:
        """Each pair as ordinary commands (``entrants.Opening``): both deposits and leverages,
        then the fill between them at the venue's mark. Their events are not counted: the
        run's ``events`` are its liquidations' (the fast model counts those only)."""
        book, ids = self.book, self._ids
        for o in openings:
            price = Decimal(o.price_ticks) * book.tick
            long_id, short_id = ids[o.long], ids[o.short]
            commands: list[c.Command] = [
                c.Deposit(long_id, book.settle, book.money(o.deposit_long)),
                c.SetLeverage(long_id, book.symbol, Decimal(o.leverage_long)),
                c.Deposit(short_id, book.settle, book.money(o.deposit_short)),
                c.SetLeverage(short_id, book.symbol, Decimal(o.leverage_short)),
                c.Fill(f"enter-{o.long}", book.symbol, price, Decimal(o.lots) * book.lot, long_id, short_id)]
            for cmd in commands:
                self._quietly(cmd, "opening an entrant pair")
            self._entrant_sign[o.long], self._entrant_sign[o.short] = 1, -1

    def alerted(self, mark: Decimal, line: NDArray[np.int64]) -> NDArray[np.int64]:
        """Rows holding a position whose equity (the engine's, at the venue's mark) is at or
        below ``line`` (10^-8 units of the settlement asset), and that the venue is not
        liquidating: not at its trigger at the mark (``VenueProfile.is_liquidatable``, the
        fast model's screen). An account the procedure holds at the liquidation level above
        its trigger (the level's hysteresis) is the procedure's no more than the fast model's:
        the procedure touches nothing there."""
        del mark  # the engine holds the mark the round just sent
        profile = self.config.profile
        rows = []
        for i in range(min(len(self._ids), len(line))):
            aid = self._ids[i]
            if int(line[i]) == NEVER or self._position(aid) == 0:
                continue
            margin = self.engine.margin(aid)
            if margin.equity > self.book.money(int(line[i])):
                continue
            if profile.is_liquidatable(margin.equity, margin.maintenance_margin):
                continue
            rows.append(i)
        return np.asarray(rows, dtype=np.int64)

    def close_positions(self, step: int, rows: NDArray[np.int64], mark: Decimal) -> list[VoluntaryClose]:
        """Each row's whole position closed at ``mark`` by a fill with the market (the ``book``
        account). A trader above its trigger keeps a positive balance: a close that needed the
        fund or a socialised loss is a bug (``InvariantViolation``), not an outcome."""
        out = []
        for i in rows.tolist():
            aid = self._ids[i]
            qty = self._position(aid)
            buyer, seller = (BOOK_ACCOUNT, aid) if qty > 0 else (aid, BOOK_ACCOUNT)
            fill = c.Fill(f"close-{i}", self.book.symbol, mark, abs(qty), buyer, seller)
            self._quietly(fill, "closing a trader's position", forbid=(LossSocialised, InsuranceFundChanged))
            out.append(VoluntaryClose(step, i, 1 if qty > 0 else -1, abs(qty), mark,
                                      self.book.quote_value(abs(qty), mark)))
        return out

    def _position(self, account_id: str) -> Decimal:
        """The account's signed quantity of the book's instrument (0 without a position)."""
        acct = self.engine.state.accounts.get(account_id)
        if acct is None:
            return ZERO
        return sum((p.qty for p in acct.positions.values() if p.symbol == self.book.symbol), ZERO)

    def _quietly(self, cmd: c.Command, doing: str, forbid: tuple[type[Event], ...] = ()) -> None:
        """Apply a command that builds accounts: refused, liquidating anyone, or emitting an
        event of ``forbid``, is a bug (``InvariantViolation``), not a run's outcome."""
        result = self.engine.apply(cmd)
        if not result.accepted:
            raise InvariantViolation(f"{doing}: {type(cmd).__name__} refused: {result.denial}")
        if any(isinstance(ev, LiquidationStep | AutoDeleveraged) for ev in result.events):
            raise InvariantViolation(f"{doing}: an account was liquidated at {type(cmd).__name__}")
        odd = [type(ev).__name__ for ev in result.events if isinstance(ev, forbid)]
        if odd:
            raise InvariantViolation(f"{doing}: {type(cmd).__name__} emitted {', '.join(odd)}")

    def _side(self, index: int) -> int:
        """+1 for a long, −1 for a short: a trader's side in the book, an entrant's as opened."""
        if index in self._entrant_sign:
            return self._entrant_sign[index]
        return 1 if int(self.book.qty_lots[index]) > 0 else -1

    def _price(self, step: int, symbol: str, price: Decimal) -> tuple[Event, ...]:
        result = self.engine.apply(c.PriceUpdate(symbol, SOURCE, price))
        if not result.accepted:
            raise InvariantViolation(f"step {step}: price {price} of {symbol} refused: {result.denial}")
        self._events += len(result.events)
        return result.events

    def _parse(self, step: int, rnd: int, events: tuple[Event, ...], before: Decimal) -> RoundOutcome:
        rows: dict[str, list[Decimal]] = {}  # account -> [qty, price, fee, paid, socialised, notional]
        order: list[str] = []
        low, adl, backstop, taken, adl_notional, drawdown, limits = before, 0, 0, ZERO, ZERO, 0, 0
        for ev in events:
            if isinstance(ev, MarkPriceHeld | LiquidationsPaused):
                raise InvariantViolation(f"step {step}: liquidations paused by the market guards ({ev})")
            if isinstance(ev, LiquidationStep | AutoDeleveraged):
                self._forced.add(ev.account_id)
            if isinstance(ev, LiquidationStep):
                if ev.kind != "book":
                    backstop += 1
                    continue
                notional = self.book.quote_value(ev.qty, ev.price)
                if ev.account_id not in rows:
                    order.append(ev.account_id)
                    rows[ev.account_id] = [ev.qty, ev.price, ev.fee, ZERO, ZERO, notional]
                else:  # a further book step of the same account (a partial close, or after a partial ADL)
                    row = rows[ev.account_id]
                    row[0] += ev.qty
                    row[2] += ev.fee
                    row[5] += notional
            elif isinstance(ev, AutoDeleveraged):
                adl += 1
                taken += self._adl_loss(ev)
                adl_notional += self.book.quote_value(ev.qty, ev.price)
            elif isinstance(ev, FundDrawdownAdl):
                drawdown += ev.started
            elif isinstance(ev, BackstopLossLimit):
                limits += 1
            elif isinstance(ev, InsuranceFundChanged):
                low = min(low, ev.balance)
                if ev.reason.startswith("deficit ") and ev.reason[8:] in rows:
                    rows[ev.reason[8:]][3] += -ev.delta
            elif isinstance(ev, LossSocialised) and ev.account_id in rows:
                rows[ev.account_id][4] += ev.amount
        liqs = tuple(self._liquidation(step, rnd, aid, rows[aid]) for aid in order)
        return RoundOutcome(liqs, self.insurance_fund(), low, adl, backstop, len(events), taken, adl_notional,
                            drawdown, limits)

    def left_at_trigger(self, mark: Decimal) -> int:
        """``cascade.Venue.left_at_trigger``: the traders holding a position at the venue's
        trigger (``VenueProfile.is_liquidatable``, the fast model's screen)."""
        del mark  # the engine holds the mark the last round sent
        profile = self.config.profile
        left = 0
        for aid in self._ids:
            if self._position(aid) != 0:
                margin = self.engine.margin(aid)
                left += profile.is_liquidatable(margin.equity, margin.maintenance_margin)
        return left

    def depeg_outcome(self) -> DepegOutcome | None:
        """What the depeg did (``stress/depeg.DepegOutcome``); ``None`` without one."""
        depeg = self.depeg
        if depeg is None:
            return None
        traders = self.book.ids()[:self.book.size - 1]
        holders = {aid for i, aid in enumerate(traders) if depeg.holds(i)}
        forced = self._forced & set(traders)
        below = sum(1 for aid in sorted(holders) if self._below_maintenance(aid))
        return DepegOutcome(len(holders), len(forced & holders), len(forced - holders), below)

    def _below_maintenance(self, account_id: str) -> bool:
        margin = self.engine.margin(account_id)
        return margin.maintenance_margin > 0 and margin.equity < margin.maintenance_margin

    def _adl_loss(self, ev: AutoDeleveraged) -> Decimal:
        """The counterparty's loss against the round's mark (``result.adl_loss``). The bankrupt
        account's side is its side in the book (each trader holds one position on one side);
        an account outside the book's traders (a backstop vault) is the counterparty's opposite."""
        if ev.account_id in self._index:
            sign = self._side(self._index[ev.account_id])
        else:
            sign = -self._side(self._index[ev.counterparty])
        return adl_loss(sign, ev.qty, ev.price, self._mark, self.book.instrument.contract_size, self.book.inverse)

    def _liquidation(self, step: int, rnd: int, aid: str, row: list[Decimal]) -> Liquidation:
        index = self._index[aid]
        sign = self._side(index)
        qty, price, fee, paid, socialised, notional = row
        return Liquidation(step, rnd, index, sign, qty, price, fee, paid + socialised, socialised, notional)


def _with_depeg_collateral(book: SyntheticBook, depeg: Depeg, commands: list[c.Command],
                           quantum: Decimal) -> list[c.Command]:
    """``book_commands`` with the collateral's index at 1 first, and each holder's deposit
    posted in the asset: ``deposit / (1 − haircut)``, rounded up to the money quantum, so its
    collateral value is at least the drawn deposit (``stress/depeg.py``)."""
    holders = {aid for i, aid in enumerate(book.ids()[:book.size - 1]) if depeg.holds(i)}
    keep = ONE - depeg.haircut
    out: list[c.Command] = [c.PriceUpdate(depeg.asset, SOURCE, ONE)]
    for cmd in commands:
        if isinstance(cmd, c.Deposit) and cmd.account_id in holders:
            cmd = c.Deposit(cmd.account_id, depeg.asset, round_up(cmd.amount / keep, quantum))
        out.append(cmd)
    return out
