"""The engine: a deterministic state machine from commands to events.

``apply(cmd)`` validates the command, changes state and returns the events; ``check(cmd)``
runs exactly the same handler without committing (the pre-trade "what if"). A refused
command raises nothing: it returns ``accepted=False`` with a typed ``Denial`` and leaves
the state as it was. After each accepted command the accounts it touched — and, after a
price move, the accounts holding that symbol — are re-margined and a ``MarginLevelChanged``
(and ``MarginCall``) event is emitted only when a level changes.

No clock, no randomness, no iteration over unordered collections where order matters:
the same commands give the same events and the same ``state_hash()`` on any machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import InitVar, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import msgspec

from solvent.calc.account import MarginLevel
from solvent.engine import commands as c
from solvent.engine.account_changes import AccountChanges
from solvent.engine.bounds import check_bounds, check_fields
from solvent.engine.config import EngineConfig, LiquidationPolicy
from solvent.engine.context import Ctx, Deny, Outcome, accepted
from solvent.engine.denials import Denial, DenyCode
from solvent.engine.events import Accepted, Event, MarginCall, MarginLevelChanged, ParamsChanged, Rejected
from solvent.engine.fund_watch import fund_rule, observe
from solvent.engine.history import forget_history
from solvent.engine.lifecycle import Facts, check_transition
from solvent.engine.liquidation import (
    adl_scores_for,
    backstop_loss_due,
    backstop_loss_limit,
    exit_guard,
    hidden_bad_debt,
    liquidate_account,
)
from solvent.engine.margin import AccountMargin, MarginView, evaluate
from solvent.engine.margin_cache import MarginCache
from solvent.engine.market_feed import advance_time, premium_sample, price_update
from solvent.engine.max_qty import (
    SizeProbe,
    SizeRequest,
    largest_units,
    size_probe,
    sizing_price,
    sizing_sides,
    sizing_step,
)
from solvent.engine.orders import cancel_order, place_order
from solvent.engine.params import admission_problem, params_digest, params_problem, refuse_settings
from solvent.engine.rollback import Recorder, Savepoint
from solvent.engine.state import AccountState, EngineState
from solvent.engine.state_digest import StateDigest
from solvent.engine.trades import fill
from solvent.engine.venue_rules import effective_policy
from solvent.engine.wallet import (
    add_isolated,
    deposit,
    fund_insurance,
    remove_isolated,
    set_leverage,
    set_margin_mode,
    withdraw,
)
from solvent.errors import InvalidInput
from solvent.model import PositionSide, Side
from solvent.risk.adl import adl_quantiles
from solvent.risk.fund_rules import FundRule
from solvent.risk.levels import LEVEL_ORDER, next_level
from solvent.units import ZERO, exact

__all__ = ["CommandResult", "Engine", "WhatIf"]

Handler = Callable[[Ctx, Any, bool], Outcome]

HANDLERS: dict[type, Handler] = {
    c.Deposit: deposit,
    c.Withdraw: withdraw,
    c.FundInsurance: fund_insurance,
    c.PlaceOrder: place_order,
    c.CancelOrder: cancel_order,
    c.Fill: fill,
    c.PriceUpdate: price_update,
    c.PremiumSample: premium_sample,
    c.AdvanceTime: advance_time,
    c.SetLeverage: set_leverage,
    c.SetMarginMode: set_margin_mode,
    c.AddIsolatedMargin: add_isolated,
    c.RemoveIsolatedMargin: remove_isolated,
}


class CommandResult(msgspec.Struct, frozen=True, gc=False):
    accepted: bool
    events: tuple[Event, ...]
    denial: Denial | None = None


class WhatIf(msgspec.Struct, frozen=True, gc=False):
    """``result``: what ``apply`` would answer; ``max_qty``: the largest quantity that passes."""

    result: CommandResult
    max_qty: Decimal


MAX_LIQUIDATION_ROUNDS = 32
"""Bound on re-level/liquidate rounds after one command (each round needs a liquidation)."""

if TYPE_CHECKING:
    from solvent.engine.tick_screen import TickScreen


def new_screen(config: EngineConfig) -> TickScreen | None:
    """The price-tick screen (``engine/tick_screen.py``), or ``None`` where numpy is not
    installed (it comes with the 'stress' and 'fast' extras): the engine then decides every
    holder of a ticking symbol exactly, the same decisions, found more slowly."""
    try:
        from solvent.engine.tick_screen import TickScreen
    except ImportError:
        return None
    return TickScreen(config)


_LIQUIDATE_AT = frozenset({MarginLevel.LIQUIDATION.value, MarginLevel.BANKRUPT.value})
_LEVEL_OF: Final = {level.value: level for level in MarginLevel}
_RANK: Final = {level: rank for rank, level in enumerate(LEVEL_ORDER)}
_CALL_RANK: Final = _RANK[MarginLevel.MARGIN_CALL]

_SIZE_DENIALS = frozenset({
    DenyCode.INSUFFICIENT_INITIAL_MARGIN, DenyCode.LEVERAGE_EXCEEDS_TIER, DenyCode.POSITION_LIMIT,
    DenyCode.OPEN_INTEREST_LIMIT, DenyCode.RISK_INCREASING_WHILE_UNDER_MARGIN, DenyCode.REDUCE_ONLY_WOULD_INCREASE,
    DenyCode.INVALID_QUANTITY, DenyCode.QTY_OUT_OF_RANGE,
})
"""Refusals of an order's quantity: what-if still sizes the order (another quantity may pass)."""


def _refused(name: str, denial: Denial) -> CommandResult:
    return CommandResult(False, (Rejected(name, denial),), denial)


def _internal(exc: Exception) -> Denial:
    """An unexpected exception inside the engine, as a typed refusal the service can alert on."""
    message = str(exc).splitlines()[0][:200] if str(exc) else ""
    return Denial.of(DenyCode.INTERNAL_ERROR, error=type(exc).__name__, message=message)


def _symbols_of(cmd: c.Command, state: EngineState) -> list[str]:
    """The markets a command may change: its own symbol's for prices and fills, all of them
    when time moves (a market the command creates is removed on rollback in any case)."""
    if isinstance(cmd, c.AdvanceTime):
        return list(state.markets)
    return [cmd.symbol] if isinstance(cmd, c.PriceUpdate | c.PremiumSample | c.Fill) else []


def _holds(acc: AccountState | None, symbol: str) -> bool:
    """A position (any size) or an order of ``acc`` on ``symbol``: what ``Engine._rebuild`` indexes."""
    return acc is not None and (any(p.symbol == symbol for p in acc.positions.values())
                                or any(o.symbol == symbol for o in acc.orders.values()))

@dataclass(slots=True)
class Engine:
    """One venue's risk state. Feed it commands in order; read margins and events."""

    config: EngineConfig
    state: EngineState = field(default_factory=EngineState)
    _holders: dict[str, set[str]] = field(default_factory=dict)
    _cache: MarginCache = field(default_factory=MarginCache)
    _digest: StateDigest = field(default_factory=StateDigest)
    _changes: AccountChanges = field(default_factory=AccountChanges)
    _screen: TickScreen | None = None
    _fund_rule: FundRule | None = None
    _keep: Callable[[str], None] | None = None
    """The running command's ``Savepoint.keep`` (a market written outside its own symbols)."""
    _vault_id: str | None = None
    """The backstop account, when the policy gives it a loss limit (``liquidation.backstop_loss_limit``)."""
    _taken: dict[tuple[str, Side], Decimal] = field(default_factory=dict)
    """The running command's ``Ctx.taken``: what its liquidation orders took from each book side."""

    checked: InitVar[bool] = True
    """Refuse, at construction, a configuration outside what the engine runs on
    (``params.setting_problem``: a fee rate of 5, a backstop threshold of 7): ``InvalidInput``.
    A journal replays with ``False``: its configuration was admitted under the bounds of the
    version that wrote it, and a replay recomputes, it does not admit."""

    def __post_init__(self, checked: bool) -> None:
        if checked:
            refuse_settings(self.config)
        self._rebuild()

    def _rebuild(self) -> None:
        """Derived indexes are rebuilt from the state, so an engine restored from a snapshot
        behaves exactly like the one that wrote it."""
        self._holders.clear()
        for aid, acc in self.state.accounts.items():
            for pos in acc.positions.values():
                self._holders.setdefault(pos.symbol, set()).add(aid)
            for order in acc.orders.values():
                self._holders.setdefault(order.symbol, set()).add(aid)
        self._cache.clear()
        self._digest.reset()
        self._changes.reset()
        if self._screen is None:
            self._screen = new_screen(self.config)
        if self._screen is not None:
            self._screen.reset()
        self._fund_rule = fund_rule(self.config)
        policy = effective_policy(self.config)
        self._vault_id = policy.backstop_account if policy is not None and policy.backstop_loss_limit is not None \
            else None

    def _ctx(self) -> Ctx:
        return Ctx(self.state, self.config, self._holders, self._cache, keep_market=self._keep)

    def _run(self, cmd: c.Command, commit: bool, ctx: Ctx | None = None) -> CommandResult:
        """``ctx``: the context a check runs in (default a new one; never with ``commit``)."""
        name = type(cmd).__name__
        handler = HANDLERS.get(type(cmd))
        if handler is None:
            if isinstance(cmd, c.ChangeParams):
                try:
                    check_fields(cmd)  # its digest and replayed flag (the configuration is checked on its own)
                except Deny as refused:
                    return _refused(name, refused.denial)
                return self._change_params(cmd, commit)
            raise TypeError(f"not a command: {name}")
        try:
            check_bounds(self.config, cmd)
        except Deny as refused:
            return _refused(name, refused.denial)
        if not commit:
            try:
                outcome = handler(ctx or self._ctx(), cmd, False)
            except Deny as refused:
                return _refused(name, refused.denial)
            except Exception as exc:  # a bug: refuse it, never raise (issue 10)
                return _refused(name, _internal(exc))
            return CommandResult(True, (accepted(name), *outcome.events))
        return self._commit(name, handler, cmd)

    def _commit(self, name: str, handler: Handler, cmd: c.Command) -> CommandResult:
        """Run the handler and the re-margining under a savepoint: any unexpected exception
        (``InvariantViolation`` included) is refused as ``INTERNAL_ERROR`` and puts the state
        back exactly; the engine keeps serving. A handler's ``Deny`` comes before any change;
        one raised after it (by a liquidation the command triggered) is a failure like any other:
        rolled back, ``INTERNAL_ERROR``."""
        symbols = _symbols_of(cmd, self.state)
        savepoint = Savepoint(self.state, symbols)
        self._keep = savepoint.keep
        try:
            outcome = handler(self._ctx(), cmd, True)
        except Deny as refused:  # handlers refuse before they change anything
            self._keep = None
            savepoint.release()
            return _refused(name, refused.denial)
        except Exception as exc:  # a bug: refused, rolled back, surfaced in the result
            self._rollback(savepoint)
            return _refused(name, _internal(exc))
        try:
            events: list[Event] = [Accepted(name), *outcome.events, *self._remargin(outcome)]
        except Exception as exc:  # Deny included: the command has already changed the state
            self._rollback(savepoint)
            return _refused(name, _internal(exc))
        self._keep = None
        savepoint.release()
        if self._fund_rule is not None:  # the fund's balance after every command joins the rule's window
            observe(self.state, self._fund_rule)
        touched = savepoint.accounts.changed()  # every account the command read
        self._digest.touch_accounts(touched)
        self._changes.touch(touched)
        self._digest.touch_trade_ids(savepoint.added_trade_ids())
        self._digest.touch_trade_ids(forget_history(self.state, self.config, symbols))
        return CommandResult(True, tuple(events))

    def _rollback(self, savepoint: Savepoint) -> None:
        self._keep = None
        savepoint.restore()
        self._rebuild()  # derived indexes (holders, margin cache) from the restored state

    def _change_params(self, cmd: c.ChangeParams, commit: bool) -> CommandResult:
        """Put ``cmd.config`` in force (``engine/params.py``): refused, changing nothing, when
        the state cannot be counted under it; else every account holding a position is
        re-margined under the new rules, and liquidated where they say so, as after a move of
        every mark. A failure puts the old configuration and the state back."""
        name = type(cmd).__name__
        new = cmd.config
        if not isinstance(new, EngineConfig):
            return _refused(name, Denial.of(DenyCode.PARAMS_INCOMPATIBLE, reason="not an EngineConfig"))
        denial = params_problem(self.state, self.config, new) or (
            None if cmd.replayed else admission_problem(self.config, new))
        if denial is not None:
            return _refused(name, denial)
        digest = cmd.digest or params_digest(new)
        changed = ParamsChanged(new.profile.name, new.profile.effective_from, digest)
        if not commit:
            return CommandResult(True, (accepted(name), changed))
        old = self.config
        savepoint = Savepoint(self.state, list(self.state.markets))
        try:
            self.config, self._screen = new, None
            self.state.params = digest
            if fund_rule(new) is None:
                self.state.fund_watch = None  # a rule no longer in force keeps no window
            self._rebuild()  # caches, the tick screen and the fund rule under the new rules
            held = {aid for aid, acc in self._unrecorded_accounts().items() if acc.positions}
            events: list[Event] = [Accepted(name), changed, *self._remargin(Outcome(touched=held))]
        except Exception as exc:  # a bug: the old rules and the state back, as for any command
            self.config, self._screen = old, None
            self._rollback(savepoint)
            return _refused(name, _internal(exc))
        savepoint.release()
        if self._fund_rule is not None:  # as after any command (``_commit``)
            observe(self.state, self._fund_rule)
        touched = savepoint.accounts.changed()
        self._digest.touch_accounts(touched)
        self._changes.touch(touched)
        self._digest.touch_trade_ids(savepoint.added_trade_ids())
        self._digest.touch_trade_ids(forget_history(self.state, self.config, list(self.state.markets)))
        return CommandResult(True, tuple(events))

    @exact
    def apply(self, cmd: c.Command) -> CommandResult:
        """Validate and apply one command."""
        return self._run(cmd, commit=True)

    @exact
    def check(self, cmd: c.Command) -> CommandResult:
        """What ``apply`` would answer, without changing anything."""
        return self._run(cmd, commit=False)

    @exact
    def apply_all(self, cmds: Iterable[c.Command]) -> list[CommandResult]:
        return [self.apply(cmd) for cmd in cmds]

    @exact
    def margin(self, account_id: str) -> AccountMargin:
        """Current margin of one account (``KeyError`` if unknown), from the incremental cache."""
        return self._cache.margin(self.state.accounts[account_id], self._ctx().view())

    def margin_view(self) -> MarginView:
        """What margin reads now (marks, asset prices, volatility MM scales), read-only."""
        return self._ctx().view()

    @exact
    def margin_from_scratch(self, account_id: str) -> AccountMargin:
        """The same figure recomputed without the cache (tests compare the two)."""
        return evaluate(self.state.accounts[account_id], self._ctx().view())

    @property
    def account_changes(self) -> AccountChanges:
        """Which accounts committed commands touched (read it; the engine keeps it)."""
        return self._changes

    @exact
    def state_hash(self) -> str:
        """The state hash (``state_digest``), brought up to date from what changed since."""
        return self._digest.hexdigest(self.state)

    @exact
    def what_if(self, order: c.PlaceOrder) -> WhatIf:
        """The pre-trade answer for ``order`` and the largest quantity of it that would pass
        (``InvalidInput`` for anything but a ``PlaceOrder``: only an order has a size to find)."""
        if type(order) is not c.PlaceOrder:
            raise InvalidInput(f"what_if sizes a PlaceOrder, not a {type(order).__name__}")
        ctx = self._ctx()
        ctx.sizings = []  # the check leaves what it judged the quantity with: the sizing starts from it
        result = self._run(order, False, ctx)
        if result.denial is not None and result.denial.code not in _SIZE_DENIALS:
            return WhatIf(result, Decimal(0))
        # a reduce-only order is sized as one: it can never pass beyond the position it closes
        step = self.config.profile.instrument(order.symbol).lot
        request = SizeRequest(order.account_id, order.symbol, order.side, order.price, order.position_side, step,
                              order.reduce_only, order.order_id)
        # refused before the handler judged a quantity (the quantity's own bounds): sized from scratch
        units = largest_units(ctx, request, ctx.sizings[0] if ctx.sizings else None)
        return WhatIf(result, step * units)

    @exact
    def max_order_qty(self, account_id: str, symbol: str, side: Side, price: Decimal,
                      position_side: PositionSide = PositionSide.BOTH, lot: Decimal | None = None) -> Decimal:
        """Largest quantity (a multiple of the lot) that ``check`` would accept for a new order of
        this account; ``lot``, the step it is sized by, must be on the instrument's lot grid, and
        ``price`` a positive finite ``Decimal`` (``InvalidInput`` otherwise; an unknown account
        sizes to 0, as every order of it is refused: ``what_if`` says why)."""
        inst = self.config.profile.instrument(symbol)
        step = inst.lot if lot is None else sizing_step(inst, lot)
        side, position_side = sizing_sides(side, position_side)
        request = SizeRequest(account_id, symbol, side, sizing_price(inst, price), position_side, step)
        # computed in closed form, then confirmed (and, if need be, searched) with the exact check
        return step * largest_units(self._ctx(), request)

    def _size_probe(self, request: SizeRequest) -> SizeProbe:
        """``n ↦ self.check(request.order(n)).accepted``, the probe what-if sizing confirms its
        answer with (``max_qty.SizeProbe``: the check's own code, its quantity-free part once)."""
        return size_probe(self._ctx(), request)

    def _remargin(self, outcome: Outcome) -> list[Event]:
        """Invalidate what the command changed, re-level the accounts it affected, and run
        liquidations (which affect further accounts) until nothing changes."""
        accounts = set(outcome.touched)
        self._taken = {}  # the command's liquidation orders walk the book from here (``Ctx.taken``)
        # Re-margining only reads accounts (``_relevel`` notes the few it changes), so it reads
        # past the rollback recorder: a price tick then copies, and re-hashes, only the
        # accounts whose level moved, not every holder.
        held = self._unrecorded_accounts()
        narrow = outcome.narrow
        for aid in outcome.touched:
            only = narrow.get(aid)
            if only is None:
                self._cache.drop_account(aid)
            else:
                self._cache.drop_parts(aid, only)
        for symbol in outcome.symbols:
            if symbol in self.config.collateral:
                self._cache.drop_collateral()
                accounts.update(self._collateral_tick(symbol, held))
                continue
            accounts.update(self._tick(symbol, held))
        events: list[Event] = []
        screen = self._screen
        for symbol in sorted(outcome.rerated):  # a new MM scale: every holder, decided exactly
            holders = self._holding(symbol)
            for aid in holders:
                self._cache.drop_symbol(aid, symbol)
            accounts |= holders
            if screen is not None:
                accounts.update(screen.rerate(symbol))
        changed = set(outcome.touched)  # accounts whose positions the command may have changed
        # the symbols whose screen rows a narrow command may have changed (none moved a mark)
        rows_only = {} if outcome.symbols or outcome.rerated else narrow
        vault_due = self._vault_moved(outcome)
        for _ in range(MAX_LIQUIDATION_ROUNDS):
            view = self._ctx().view()
            marks = view.marks
            due: list[str] = []
            for aid in sorted(accounts):
                acc = held.get(aid)
                if acc is None:
                    if screen is not None:
                        screen.forget(aid)
                    continue
                margin = self._cache.margin(acc, view)
                events.extend(self._relevel(acc, margin))
                if screen is not None and screen.ready:
                    screen.refresh(acc, margin, view, marks, aid in changed, rows_only.get(aid))
                if self.config.liquidation is not None and acc.level in _LIQUIDATE_AT:
                    due.append(aid)
            accounts = set()
            steps: Sequence[str | None] = [*due, None] if vault_due else due
            for step in steps:
                # after the round's liquidations (``None``), the backstop's loss limit: a
                # takeover or the move itself may have passed it
                done = self._liquidate(step) if step is not None else self._vault_check(held)
                events.extend(done.events)
                for touched in done.touched:
                    self._cache.drop_account(touched)
                accounts |= done.touched if done.events else set()
            changed, rows_only = accounts, {}
            vault_due = self._vault_id in accounts  # a takeover or its own ADL this round
            if not accounts:
                break
        if accounts and screen is not None:
            # the round bound stopped the cascade: the accounts the last round touched are not
            # re-levelled, and their part of the picture is stale; it is rebuilt at the next tick
            screen.ready = False
        return events

    def _tick(self, symbol: str, held: dict[str, AccountState]) -> list[str]:
        """The accounts a move of ``symbol``'s mark may change (``tick_screen``): the screen's
        flags; every holder when the screen is being built (after a restore or a rollback) or
        when there is none (``new_screen``)."""
        screen = self._screen
        market = self.state.markets.get(symbol)
        if market is None or market.mark is None:
            return []
        self._cache.bump()
        if screen is None:
            return sorted(self._holding(symbol))
        if screen.ready:
            return screen.tick(symbol, market.mark)
        view = self._ctx().view()
        marks = view.marks
        for aid in sorted(held):
            acc = held[aid]
            screen.refresh(acc, self._cache.margin(acc, view), view, marks)
        screen.ready = True
        return [aid for aid in screen.holders(symbol)]

    def _collateral_tick(self, asset_id: str, held: dict[str, AccountState]) -> list[str]:
        """The accounts a move of a collateral asset's index may change: the screen's flags
        (``TickScreen.tick_asset``), or every holder of the asset when the screen is being
        built or there is none."""
        screen = self._screen
        price = self.state.markets[asset_id].mark
        if screen is not None and screen.ready and price is not None:
            flagged = screen.tick_asset(asset_id, price, self.config.money_quantum)
            if flagged is not None:
                return flagged
        if screen is not None and price is not None:
            screen.reprice_asset(asset_id, price)
        return [a for a, acc in held.items() if asset_id in acc.balances]

    def _unrecorded_accounts(self) -> dict[str, AccountState]:
        """The accounts map itself, past the rollback ``Recorder`` if one is in place."""
        accounts = self.state.accounts
        return accounts.data if isinstance(accounts, Recorder) else accounts

    def _liquidate(self, account_id: str) -> Outcome:
        """Run the liquidation procedure for one account whose level calls for it (the one
        place ``_remargin`` calls it: a certificate's replay watches it)."""
        ctx = self._ctx()
        ctx.taken = self._taken
        return liquidate_account(ctx, account_id)

    def _vault_moved(self, outcome: Outcome) -> bool:
        """Whether the command may have moved the backstop's loss or capital: it touched the vault,
        moved a mark the vault holds or a collateral price, or re-rated a market (the rounds that
        follow add the vault when a liquidation touches it). A vault the command left alone is
        not looked at: a loss past the limit left with the vault, no counterparty taking it, is
        deleveraged at its market's next move."""
        vault = self._vault_id
        if vault is None:
            return False
        return vault in outcome.touched or bool(outcome.rerated) or any(
            vault in self._holding(s) or s in self.config.collateral for s in outcome.symbols)

    def _holding(self, symbol: str) -> set[str]:
        """The accounts holding a position or an order on ``symbol``, as ``_rebuild`` finds them.
        Commands only add to the index (a close leaves its account in it), so the accounts that
        no longer hold anything there are dropped here, where it is read: an engine restored from
        a snapshot has none of them, and the two must decide alike (a stale holder at the
        liquidation level had its liquidation re-run by every move of a symbol it had left,
        each restamping its cooldown)."""
        holders = self._holders.get(symbol)
        if not holders:
            return set()
        accounts = self._unrecorded_accounts()
        holders.difference_update([aid for aid in holders if not _holds(accounts.get(aid), symbol)])
        return holders

    def _vault_check(self, held: dict[str, AccountState]) -> Outcome:
        """The backstop's loss limit after a round (``liquidation.backstop_loss_due``): the vault is
        read past the rollback recorder and margined from the cache, so a command that leaves it
        alone copies, re-hashes and re-evaluates nothing; only an ADL goes through the recorder."""
        vault = held.get(self._vault_id or "")
        if vault is None or not vault.positions:
            return Outcome()
        ctx = self._ctx()
        due = backstop_loss_due(ctx, vault, self._cache.margin(vault, ctx.view()))
        return Outcome() if due is None else backstop_loss_limit(ctx, due)

    def _relevel(self, acc: AccountState, m: AccountMargin) -> list[Event]:
        """New level = the worst of the cross account and each isolated position."""
        previous = _LEVEL_OF[acc.level]
        profile, thresholds = self.config.profile, self.config.thresholds
        equity, mm, notional = m.equity, m.maintenance_margin, m.notional
        level = self._exit_guard(previous, next_level(previous, equity, mm, profile, thresholds), equity, mm, notional)
        for i in m.isolated:  # the worst part decides (the first of equals: the cross account)
            judged = self._exit_guard(previous, next_level(previous, i.equity, i.maintenance_margin, profile,
                                                           thresholds), i.equity, i.maintenance_margin, i.notional)
            if _RANK[judged] > _RANK[level]:
                level, equity, mm, notional = judged, i.equity, i.maintenance_margin, i.notional
        check_transition(previous, level, Facts.of(self.config, previous, equity, mm, notional))
        if level is previous:
            return []
        accounts = self.state.accounts
        if isinstance(accounts, Recorder):
            accounts.note_level(acc.account_id)  # the rollback (and the state hash) see the change
        acc.level = level.value
        ratio = mm / equity if equity > 0 else None
        changed = MarginLevelChanged(acc.account_id, previous.value, level.value, equity, mm, ratio)
        if _RANK[previous] < _CALL_RANK <= _RANK[level]:
            return [changed, MarginCall(acc.account_id, equity, mm, ratio)]
        return [changed]

    def _exit_guard(self, previous: MarginLevel, level: MarginLevel, equity: Decimal, mm: Decimal,
                    notional: Decimal) -> MarginLevel:
        """With liquidation on, an account leaves liquidation only at its target equity."""
        return exit_guard(self.config.liquidation, previous, level, equity, mm, notional)

    @exact
    def adl_ranks(self, symbol: str) -> dict[str, int]:
        """Each account's ADL queue light (1..5, 5 = deleveraged first) on ``symbol``.

        Ranked by the account's net position on the symbol; quantiles are taken among positive
        scores (profitable positions), and a position with no profit to give shows 1.
        """
        policy = effective_policy(self.config) or LiquidationPolicy()  # the venue's ADL ranking
        ctx = self._ctx()
        if ctx.state.markets.get(symbol) is None or ctx.state.markets[symbol].mark is None:
            return {}
        exclude = {policy.book_account, policy.backstop_account or ""}
        ranks: dict[str, int] = {}
        for side in (Side.LONG, Side.SHORT):
            rows = adl_scores_for(ctx, symbol, side, exclude, policy)
            ranked = adl_quantiles({aid: score for aid, _, score in rows if score > 0})
            ranks.update({aid: ranked.get(aid, 1) for aid, _, _ in rows})
        return ranks

    @exact
    def hidden_bad_debt(self) -> dict[str, Decimal]:
        """Negative equity neither covered nor recorded, per account (empty, always): see
        ``liquidation.hidden_bad_debt``. Checked with ``conservation`` (design rule 3)."""
        return hidden_bad_debt(self._ctx())

    @exact
    def conservation(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Per asset: (money held, deposits − withdrawals). Equal, always (design rule 3).

        Held = Σ balances + Σ isolated margins − Σ position costs + insurance fund + fee income
        − socialised loss (the deficits written off, which raised bankrupt balances to zero);
        costs and funds count in the settlement asset. With open interest
        balanced, ``−Σ cost`` equals Σ unrealised PnL at any common mark.
        """
        settle = self.config.settle_asset
        held: dict[str, Decimal] = {}
        for acc in self.state.accounts.values():
            for asset, bal in acc.balances.items():
                held[asset] = held.get(asset, ZERO) + bal
            for pos in acc.positions.values():
                held[settle] = held.get(settle, ZERO) + pos.isolated_margin - pos.cost
        held[settle] = held.get(settle, ZERO) + self.state.insurance_fund + self.state.fee_income - (
            self.state.socialised_loss)
        assets = set(held) | set(self.state.deposits) | set(self.state.withdrawals)
        return {
            a: (held.get(a, ZERO), self.state.deposits.get(a, ZERO) - self.state.withdrawals.get(a, ZERO))
            for a in sorted(assets)
        }
