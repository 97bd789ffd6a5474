"""The cascade loop: a price path, market impact, and liquidations feeding back into the price.

For each minute ``t = 1..steps`` of the scenario (the book is built at ``path[0]``):

1. the book recovers (``ImpactState.recover``: resilience) and time advances one minute;
2. round ``r = 0, 1, …``: the mark is the scenario price shifted by the outstanding
   liquidation volume (``ImpactState.mark``); the venue re-margins every account at that mark
   and liquidates those at the venue's trigger (``risk.levels``), each order executed at the
   square-root price at the current (thinned) depth, after the round's earlier orders on its
   side (the book is walked: ``engine/liquidity.py``); the volume liquidated is absorbed into
   the impact state;
3. another round follows while the last one liquidated something (the earlier orders moved
   the price, which may trigger more), at most ``max_rounds`` rounds per minute.

The *venue* is either the exact ``Engine`` (``cascade_exact.ExactVenue``) or the vectorised
model (``cascade_fast.FastVenue``: exact integers; on an inverse instrument
``cascade_fast_inverse.InverseFastVenue``: a float screen with exact confirmation); this
loop, the impact state and the records are shared, so the two differ only in how a round is
evaluated. Policy for both
(``policy.stress_config``, ``docs/stress.md``): the engine's generic procedure on every
venue, full close on the book, fee ``rate × notional`` rounded up and capped by the equity
left, deficits paid by the insurance fund and the rest socialised; no backstop, no ADL. The
venue-specific procedures (``engine/venue_rules.py``) are not modelled by the fast venue; the
exact one runs them when asked (``liquidation="venue"``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from solvent.engine.liquidity import SquareRootImpact
from solvent.errors import InvalidInput
from solvent.limits import MAX_PRICE, STRESS_EXACT_MAX_ACCOUNTS
from solvent.stress.book import SyntheticBook
from solvent.stress.depeg import Depeg
from solvent.stress.entrants import EntrantFlow, Opening, check_rate, plan_entrants
from solvent.stress.impact import ImpactParams, ImpactState
from solvent.stress.money import money_quantum
from solvent.stress.policy import LIQUIDATION_MODES, LiquidationMode
from solvent.stress.response import RESPONSE_LOSS, Responders, check_response
from solvent.stress.result import (
    BackstopHolding,
    CascadeResult,
    Liquidation,
    OpenInterest,
    RoundOutcome,
    StepRecord,
    VoluntaryClose,
)
from solvent.units import ZERO, exact, plain

__all__ = ["MAX_ROUNDS", "CascadeParams", "EngineName", "Venue", "check_cascade_params", "run_cascade", "simulate"]

EngineName = Literal["exact", "fast"]


MAX_ROUNDS = 10_000
"""The most cascade rounds a minute may run (each round re-margins the whole book)."""


@dataclass(frozen=True, slots=True)
class CascadeParams:
    impact: ImpactParams = field(default_factory=ImpactParams)
    max_rounds: int = 64
    """Rounds a minute may run; a minute still liquidating at its last round is reported as truncated."""
    step_ms: int = 60_000
    halt_start: int = 0
    """An operational halt of the liquidation engine (realism.md S8): from this minute (1 = the
    first), for ``halt_minutes`` minutes, the venue sees no price and liquidates no one; the
    market goes on (the book recovers, the scenario price moves). 0: no halt."""
    halt_minutes: int = 0
    backstop_capital: Decimal = ZERO
    """What the venue's backstop (a liquidator vault) holds when the run starts, as a fraction
    of the book's open interest at the start price (``--liquidation venue`` on a venue whose
    procedure has a backstop, exact engine; 0: it starts empty, and what it loses takes its
    equity below zero)."""
    backstop_loss_limit: Decimal | None = None
    """The backstop's loss limit (``LiquidationPolicy.backstop_loss_limit``: past this fraction
    of its capital it deleverages its positions in loss at the mark); ``None``: the profile's
    (none in a bundled profile: the vault carries any loss)."""

    releverage: Decimal = ZERO
    """New open interest entering each minute per unit of its absolute return, a fraction of
    the start's open interest (``stress/entrants.py``; ``entrants.RELEVERAGE_2020_03_12`` is
    calibrated on 2020-03-12). 0: nobody opens a position during the run."""
    response_minutes: Decimal = ZERO
    """Traders act on their losses (``stress/response.py``): the mean minutes a trader takes to
    close its position once it has lost ``response_loss`` of its equity at the start
    (``response.RESPONSE_MINUTES`` is the report's judgement). 0: nobody acts; only the venue
    closes positions."""
    response_loss: Decimal = RESPONSE_LOSS
    """The share of its equity at the start (an entrant's: of its opening collateral) a trader
    has lost when it is alerted (with ``response_minutes``)."""

    @property
    def has_backstop_settings(self) -> bool:
        return self.backstop_capital != 0 or self.backstop_loss_limit is not None


class Venue(Protocol):
    """One implementation of a cascade round."""

    name: str
    procedure: LiquidationMode

    def insurance_fund(self) -> Decimal: ...

    def long_open_interest(self) -> Decimal:
        """The long side held by the venue's accounts (all but the ``book``), in base units or contracts."""
        ...

    def start_step(self, now_ms: int) -> None: ...

    def run_round(self, step: int, rnd: int, mark: Decimal, liquidity: SquareRootImpact) -> RoundOutcome: ...

    def left_at_trigger(self, mark: Decimal) -> int:
        """The accounts at the venue's liquidation trigger at ``mark`` (the last round's): the
        liquidations the book could not take, left open (``engine/liquidity.py`` prices none at
        a mark of one price step, or past its depth)."""
        ...

    def events(self) -> int: ...

    def backstop(self) -> BackstopHolding | None:
        """The backstop account's holding now; None where the procedure has no backstop."""
        ...

    def open_pairs(self, openings: Sequence[Opening]) -> None:
        """Open the entrants' pairs (``stress/entrants.py``) at the venue's current mark."""
        ...

    def alerted(self, mark: Decimal, line: NDArray[np.int64]) -> NDArray[np.int64]:
        """The rows holding a position whose equity at ``mark`` is at or below their alert line
        (``line``, 10^-8 units of the settlement asset, per row), ascending."""
        ...

    def close_positions(self, step: int, rows: NDArray[np.int64], mark: Decimal) -> list[VoluntaryClose]:
        """Close each row's whole position at ``mark`` against the market (``stress/response.py``)."""
        ...


@dataclass(slots=True)
class _StepTotals:
    marks: list[Decimal] = field(default_factory=list)
    liquidations: list[Liquidation] = field(default_factory=list)
    adl: int = 0
    backstop: int = 0
    adl_loss: Decimal = ZERO
    adl_notional: Decimal = ZERO
    drawdown_adl: int = 0
    limit_events: int = 0
    insurance_min: Decimal | None = None
    truncated: bool = False
    halted: bool = False

    def add(self, out: RoundOutcome) -> None:
        self.liquidations.extend(out.liquidations)
        self.adl += out.adl_events
        self.adl_loss += out.adl_loss
        self.adl_notional += out.adl_notional
        self.drawdown_adl += out.drawdown_adl
        self.limit_events += out.limit_events
        self.backstop += out.backstop_events
        low = out.insurance_min
        self.insurance_min = low if self.insurance_min is None else min(self.insurance_min, low)

    def record(self, step: int, price: Decimal, insurance_fund: Decimal, depth: Decimal,
               open_interest: Decimal) -> StepRecord:
        liqs = self.liquidations
        return StepRecord(
            step=step, scenario_price=price, marks=tuple(self.marks),
            liquidated=tuple(liq.account for liq in liqs),
            sold_quote=sum((q.notional_quote for q in liqs if q.sign > 0), ZERO),
            bought_quote=sum((q.notional_quote for q in liqs if q.sign < 0), ZERO),
            fees_quote=sum((q.fee_quote for q in liqs), ZERO),
            socialised_quote=sum((q.socialised_quote for q in liqs), ZERO),
            insurance_fund=insurance_fund,
            insurance_min=insurance_fund if self.insurance_min is None else self.insurance_min,
            adl_events=self.adl, backstop_events=self.backstop, adl_loss=self.adl_loss,
            adl_notional=self.adl_notional, drawdown_adl=self.drawdown_adl,
            depth_quote=depth, open_interest_base=open_interest, truncated=self.truncated, halted=self.halted,
            limit_events=self.limit_events,
        )


def _run_step(venue: Venue, impact: ImpactState, book: SyntheticBook, step: int, price: Decimal,
              params: CascadeParams) -> _StepTotals:
    totals = _StepTotals()
    for rnd in range(params.max_rounds):
        mark = impact.mark(price, book.tick)
        if mark > MAX_PRICE:  # the engine refuses such a mark: both engines stop here, alike
            raise InvalidInput(f"minute {step}: the liquidations' impact moved the mark to {plain(mark)}, past the "
                               f"engine's largest price {MAX_PRICE:,}")
        totals.marks.append(mark)
        out = venue.run_round(step, rnd, mark, impact.liquidity(book.symbol))
        totals.add(out)
        impact.absorb(sum((q.notional_quote for q in out.liquidations if q.sign > 0), ZERO),
                      sum((q.notional_quote for q in out.liquidations if q.sign < 0), ZERO))
        if not out.liquidations:
            break
    else:  # every round liquidated: the last one's orders may trigger more, which this minute never sees
        totals.truncated = True
    return totals


def check_cascade_params(params: CascadeParams, minutes: int) -> None:
    """Refuse parameters no run of ``minutes`` steps can take (``InvalidInput`` names the field)."""
    if not 1 <= params.max_rounds <= MAX_ROUNDS:
        raise InvalidInput(f"max_rounds must lie in [1, {MAX_ROUNDS}], got {params.max_rounds}")
    if not 1 <= params.step_ms <= 86_400_000:
        raise InvalidInput(f"step_ms must lie in [1, 86,400,000] (a day), got {params.step_ms}")
    params.impact.check()
    if params.halt_minutes < 0 or params.halt_start < 0 or (params.halt_minutes > 0) != (params.halt_start > 0):
        raise InvalidInput("a halt needs a first minute >= 1 and a length >= 1 (or neither)")
    if not params.backstop_capital.is_finite() or not 0 <= params.backstop_capital <= 10:
        raise InvalidInput(f"backstop_capital must lie in [0, 10] (a fraction of the open interest), "
                           f"got {params.backstop_capital}")
    check_rate(params.releverage)
    check_response(params.response_minutes, params.response_loss)
    limit = params.backstop_loss_limit
    if limit is not None and (not limit.is_finite() or not 0 < limit <= 1):
        raise InvalidInput(f"backstop_loss_limit must lie in (0, 1] (a fraction of the vault's capital), got {limit}")
    if limit is not None and params.backstop_capital == 0:  # any loss is past a fraction of nothing
        raise InvalidInput("backstop_loss_limit is a fraction of the vault's capital, and the vault holds none: give "
                           "backstop_capital above 0 (--backstop-capital)")
    if params.halt_start + params.halt_minutes - 1 > minutes:
        raise InvalidInput(f"the halt (minutes {params.halt_start} to {params.halt_start + params.halt_minutes - 1}) "
                           f"runs past the path's {minutes} minutes")


@exact
def simulate(venue: Venue, book: SyntheticBook, path: Sequence[Decimal], params: CascadeParams,
             progress: Callable[[int], None] | None = None, entrants: EntrantFlow | None = None,
             responders: Responders | None = None) -> CascadeResult:
    """Drive ``venue`` along ``path`` (``path[0]`` is the price the book was built at); with
    ``entrants``, a minute's new pairs open at its last mark once its rounds are done (a
    halted minute's wait for the venue's next mark). ``params.releverage`` needs them
    (``run_cascade`` plans them, and builds the venue with their rows). With ``responders``
    (``params.response_minutes``), the traders who act that minute close their positions at its
    last mark, after its rounds and before its entrants open."""
    if params.releverage and entrants is None:
        raise InvalidInput("releverage needs the run's entrants (stress.entrants.plan_entrants) and a venue built "
                           "with their rows: run_cascade does both")
    if (params.response_minutes > 0) != (responders is not None):
        raise InvalidInput("response_minutes needs the run's responders (stress.response.Responders), and "
                           "responders a response_minutes above 0: run_cascade does both")
    if len(path) < 2:
        raise InvalidInput("a price path needs at least two prices")
    if not all(p > 0 for p in path):
        raise InvalidInput("every price of a path must be > 0")
    check_cascade_params(params, len(path) - 1)
    if path[0] != book.params.start_price:
        raise InvalidInput(f"the path starts at {path[0]} but the book was built at {book.params.start_price}; "
                           "a path starts at the book's price (a gap there is a jump no step records)")
    start = time.perf_counter()
    impact = ImpactState(params.impact.for_open_interest(book.open_interest_quote()))
    insurance_start = venue.insurance_fund()
    base_start = venue.long_open_interest()
    records: list[StepRecord] = []
    liquidations: list[Liquidation] = []
    for step in range(1, len(path)):
        impact.recover()
        impact.weather(path[step - 1], path[step])
        venue.start_step(step * params.step_ms)
        if params.halt_start <= step < params.halt_start + params.halt_minutes:
            totals = _StepTotals(marks=[impact.mark(path[step], book.tick)], halted=True)
            if entrants is not None:
                entrants.openings(step, None)
        else:
            totals = _run_step(venue, impact, book, step, path[step], params)
            if responders is not None:
                _respond(venue, impact, responders, step, totals.marks[-1])
            openings = [] if entrants is None else entrants.openings(step, totals.marks[-1])
            if openings:
                venue.open_pairs(openings)
                if responders is not None:
                    responders.opened(openings)
        records.append(totals.record(step, path[step], venue.insurance_fund(), impact.depth(),
                                     venue.long_open_interest()))
        liquidations.extend(totals.liquidations)
        if progress is not None:
            progress(step)
    last_mark = records[-1].marks[-1]
    left = venue.left_at_trigger(last_mark)
    depeg = getattr(venue, "depeg", None)  # the exact engine's only
    outcome = venue.depeg_outcome() if isinstance(depeg, Depeg) and hasattr(venue, "depeg_outcome") else None
    return CascadeResult(venue.name, book.size - 1, insurance_start, tuple(records), tuple(liquidations),
                         venue.events(), time.perf_counter() - start, venue.backstop(), venue.procedure,
                         params.max_rounds, _open_interest(book, base_start, records[-1].open_interest_base, last_mark),
                         depeg if isinstance(depeg, Depeg) else None, outcome,
                         None if entrants is None else entrants.outcome(),
                         () if responders is None else tuple(responders.closes),
                         None if responders is None else responders.outcome(), money_quantum=money_quantum(book),
                         left_at_trigger=left)


def _respond(venue: Venue, impact: ImpactState, responders: Responders, step: int, mark: Decimal) -> None:
    """The minute's voluntary closes at its last ``mark``; their volume moves the marks after it."""
    acting = responders.acting(step, venue.alerted(mark, responders.line))
    if len(acting):
        sold, bought = responders.record(venue.close_positions(step, acting, mark))
        impact.absorb(sold, bought)


def _open_interest(book: SyntheticBook, base_start: Decimal, base_end: Decimal, last_mark: Decimal) -> OpenInterest:
    """``OpenInterest`` of a run: the traders' sides from the book, the venue's long side from
    the venue before the first minute and after the last."""
    traders = book.qty_lots[:-1]
    longs = Decimal(int(np.sum(traders[traders > 0], dtype=object))) * book.lot
    shorts = -Decimal(int(np.sum(traders[traders < 0], dtype=object))) * book.lot
    start = book.start_price
    return OpenInterest(start=book.quote_value(base_start, start), end=book.quote_value(base_end, last_mark),
                        long_start=book.quote_value(longs, start), short_start=book.quote_value(shorts, start),
                        base_start=base_start, base_end=base_end)


def make_venue(book: SyntheticBook, engine: EngineName, liquidation: LiquidationMode = "generic",
               depeg: Depeg | None = None, params: CascadeParams | None = None,
               entrants: EntrantFlow | None = None) -> Venue:
    """The exact engine or the fast model, both built from ``book`` (with room for the
    ``entrants``); ``liquidation="venue"`` (the venue profile's own procedure), a collateral
    ``depeg`` and the backstop's settings of ``params`` on the exact engine only."""
    if liquidation not in LIQUIDATION_MODES:
        raise InvalidInput(f"unknown liquidation procedure {liquidation!r} (generic, venue)")
    backstop = params is not None and params.has_backstop_settings
    if backstop and (engine != "exact" or liquidation != "venue"):
        raise InvalidInput("a backstop's capital and loss limit need the venue's own procedure on the exact engine "
                           "(--liquidation venue --engine exact)")
    if engine == "exact":
        from solvent.stress.cascade_exact import ExactVenue

        return ExactVenue(book, liquidation, depeg, params if backstop else None,
                          () if entrants is None else entrants.ids())
    if depeg is not None:
        raise InvalidInput("a collateral depeg runs on the exact engine (--engine exact): the fast cascade holds "
                           "one collateral asset")
    if engine == "fast" and liquidation != "generic":
        raise InvalidInput("the fast cascade models the generic liquidation procedure only; the venue's own "
                           "procedure runs on the exact engine (--engine exact)")
    if engine == "fast" and book.inverse:
        from solvent.stress.cascade_fast_inverse import InverseFastVenue

        if params is not None and params.response_minutes > 0:
            raise InvalidInput("traders' responses are modelled on linear instruments only; this book is inverse")
        return InverseFastVenue(book)
    if engine == "fast":
        from solvent.stress.cascade_fast import FastVenue

        return FastVenue(book, 0 if entrants is None else entrants.rows)
    raise InvalidInput(f"unknown cascade engine {engine!r} (exact, fast)")


@exact
def run_cascade(book: SyntheticBook, path: Sequence[Decimal], engine: EngineName = "fast",
                params: CascadeParams | None = None,
                progress: Callable[[int], None] | None = None,
                liquidation: LiquidationMode = "generic", depeg: Depeg | None = None) -> CascadeResult:
    """Build the venue for ``book`` and run the cascade along ``path`` (with a collateral
    ``depeg``: ``stress/depeg.py``)."""
    if depeg is not None:
        depeg.check(book.settle, len(path) - 1)
        depeg.check_book(book.size - 1, book.profile.instruments, book.inverse)
    params = params or CascadeParams()
    if len(path) >= 2 and path[0] == book.params.start_price:  # else simulate refuses the path
        entrants = plan_entrants(book, path, params.releverage)
    else:
        entrants = None
    if engine == "exact" and entrants is not None and book.size - 1 + entrants.rows > STRESS_EXACT_MAX_ACCOUNTS:
        raise InvalidInput(f"the exact engine takes at most {STRESS_EXACT_MAX_ACCOUNTS:,} accounts; this book's "
                           f"{book.size - 1:,} and {entrants.rows:,} entrants at re-leveraging {params.releverage} "
                           "are more: use the fast engine, which takes the same decisions")
    responders = None if params.response_minutes == 0 else Responders(
        book, book.size + (0 if entrants is None else entrants.rows), params.response_minutes, params.response_loss)
    return simulate(make_venue(book, engine, liquidation, depeg, params, entrants), book, path, params, progress,
                    entrants, responders)
