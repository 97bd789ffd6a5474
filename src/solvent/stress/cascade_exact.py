"""The exact cascade venue: the real ``Engine`` with liquidation on, one ``PriceUpdate`` per round.

The engine is configured with ``stress_policy``: the ``book`` account takes liquidation orders
at the per-order square-root price, no backstop, and ``target_buffer = 10^9`` so that the
smallest part of a position restoring ``MM × (1 + target_buffer)`` is always the whole
position (a full close; see ``cascade``). Before each round the policy's liquidity model is
replaced by the one at the current (thinned) depth. The jump guard is widened to 0.49 (the
engine's price band refuses moves over 50 % anyway) so the simulated crash is believed and
liquidations never pause; a pause would raise ``InvariantViolation`` here.

ADL: the engine deleverages opposite positions when the fund cannot pay a deficit; the fast
model does not. When ``LiquidationPolicy`` offers a switch to turn ADL off (``adl``), it is
used; until then ADL events are counted (``adl_events``) and a run that has any is not
comparable with the fast model.
"""

from __future__ import annotations

from dataclasses import fields, replace
from decimal import Decimal
from typing import Any

from solvent.engine import commands as c
from solvent.engine.config import EngineConfig, LiquidationPolicy
from solvent.engine.core import Engine
from solvent.engine.events import (
    AutoDeleveraged,
    Event,
    InsuranceFundChanged,
    LiquidationsPaused,
    LiquidationStep,
    LossSocialised,
    MarkPriceHeld,
)
from solvent.engine.liquidity import SquareRootImpact
from solvent.errors import InvariantViolation
from solvent.market import JumpGuardConfig
from solvent.stress.book import BOOK_ACCOUNT, SOURCE, SyntheticBook, book_commands
from solvent.stress.result import Liquidation, RoundOutcome
from solvent.units import ZERO

__all__ = ["ExactVenue", "stress_config"]

FULL_CLOSE_BUFFER = Decimal(10) ** 9


def stress_config(book: SyntheticBook) -> EngineConfig:
    """The engine configuration of the exact cascade (module docstring)."""
    options: dict[str, Any] = {"book_account": BOOK_ACCOUNT, "backstop_account": None,
                               "target_buffer": FULL_CLOSE_BUFFER}
    if "adl" in {f.name for f in fields(LiquidationPolicy)}:
        options["adl"] = False
    # the vectorised cascade models the generic procedure (one order at the book's price per
    # round); the venue procedures of ``engine/venue_rules.py`` are not in it yet, so the exact
    # run uses the generic one too and the two stay comparable, digest for digest
    options["venue_rules"] = False
    return EngineConfig(book.profile, liquidation=LiquidationPolicy(**options),
                        jump_guard=JumpGuardConfig(Decimal("0.49"), 1, Decimal("0.02")))


class ExactVenue:
    """The ``Engine`` holding ``book`` (built through ordinary commands)."""

    name = "exact"

    def __init__(self, book: SyntheticBook) -> None:
        self.book = book
        self.config = stress_config(book)
        self.engine = Engine(self.config)
        self._index = {aid: i for i, aid in enumerate(book.ids())}
        self._events = 0
        for cmd in book_commands(book):
            result = self.engine.apply(cmd)
            if not result.accepted:
                raise InvariantViolation(f"building the stress book: {type(cmd).__name__} refused: {result.denial}")
            if any(isinstance(ev, LiquidationStep | AutoDeleveraged) for ev in result.events):
                raise InvariantViolation(f"building the stress book: an account was liquidated at {type(cmd).__name__}")

    def insurance_fund(self) -> Decimal:
        return self.engine.state.insurance_fund

    def events(self) -> int:
        return self._events

    def start_step(self, now_ms: int) -> None:
        self._events += len(self.engine.apply(c.AdvanceTime(now_ms)).events)

    def run_round(self, step: int, rnd: int, mark: Decimal, liquidity: SquareRootImpact) -> RoundOutcome:
        assert self.config.liquidation is not None
        self.engine.config = replace(self.config, liquidation=replace(self.config.liquidation, liquidity=liquidity))
        before = self.insurance_fund()
        result = self.engine.apply(c.PriceUpdate(self.book.params.symbol, SOURCE, mark))
        if not result.accepted:
            raise InvariantViolation(f"step {step}: price {mark} refused: {result.denial}")
        self._events += len(result.events)
        return self._parse(step, rnd, result.events, before)

    def _parse(self, step: int, rnd: int, events: tuple[Event, ...], before: Decimal) -> RoundOutcome:
        rows: dict[str, list[Decimal]] = {}  # account -> [qty, price, fee, paid, socialised]
        order: list[str] = []
        low, adl, backstop = before, 0, 0
        for ev in events:
            if isinstance(ev, MarkPriceHeld | LiquidationsPaused):
                raise InvariantViolation(f"step {step}: liquidations paused by the market guards ({ev})")
            if isinstance(ev, LiquidationStep):
                if ev.kind != "book":
                    backstop += 1
                    continue
                if ev.account_id not in rows:
                    order.append(ev.account_id)
                    rows[ev.account_id] = [ev.qty, ev.price, ev.fee, ZERO, ZERO]
                else:  # a further book step of the same account (after a partial ADL)
                    rows[ev.account_id][0] += ev.qty
                    rows[ev.account_id][2] += ev.fee
            elif isinstance(ev, AutoDeleveraged):
                adl += 1
            elif isinstance(ev, InsuranceFundChanged):
                low = min(low, ev.balance)
                if ev.reason.startswith("deficit ") and ev.reason[8:] in rows:
                    rows[ev.reason[8:]][3] += -ev.delta
            elif isinstance(ev, LossSocialised) and ev.account_id in rows:
                rows[ev.account_id][4] += ev.amount
        liqs = tuple(self._liquidation(step, rnd, aid, rows[aid]) for aid in order)
        return RoundOutcome(liqs, self.insurance_fund(), low, adl, backstop, len(events))

    def _liquidation(self, step: int, rnd: int, aid: str, row: list[Decimal]) -> Liquidation:
        index = self._index[aid]
        sign = 1 if int(self.book.qty_lots[index]) > 0 else -1
        qty, price, fee, paid, socialised = row
        return Liquidation(step, rnd, index, sign, qty, price, fee, paid + socialised, socialised)
