"""Capital adequacy of a venue's default waterfall: Cover-1, Cover-2 and reverse stress.

Every figure comes from cascade runs on the book (``cascade.run_cascade``: the engine's
decisions, market impact fed back, the generic liquidation procedure: fee, fund, then
socialised loss). Under that procedure no liquidation decision reads the fund's balance, so one
run gives the loss for every fund size at once:

* a run's **deficits** are what liquidated accounts left below zero (``Liquidation.deficit_quote``:
  paid by the fund, or socialised); its **fees** are what liquidations paid into the fund;
* the fund a run **needs** is the largest amount by which deficits ran ahead of fees at any
  point of the run (``fund_needed``): a fund of at least that size pays every deficit, a smaller
  one is exhausted and the rest is socialised;
* a **group** (affiliated accounts, ``SyntheticBook.groups``) defaulting costs the waterfall
  the deficits of its accounts.

**Scenarios** (``SHOCKS``): instantaneous moves of ±5, 10, 15, 20, 30 and 50 % (realism.md
S2: one jump, then the cascade runs; the price then holds for ``HOLD_MINUTES`` while the
book recovers). **Cover-n** (PFMI Principle 4, as adopted, e.g. RBA CCP Standard 4 [R47]):
the largest loss, over the scenarios, from the default of the ``n`` groups whose default
costs most in that scenario; coverage = (fund + backstop) ÷ Cover-2 (no backstop in the
generic procedure, so the fund alone). **Reverse stress** (realism.md S6): the smallest move,
on a grid of ``REVERSE_STEP``, whose run needs more than the fund (the fund is exhausted and a
loss is socialised), down and up. The grid is scanned from the smallest move, so δ* can only
grow with the fund: a larger fund is exhausted on a subset of the moves that exhaust a smaller
one (the runs are the same runs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from solvent.errors import InvalidInput
from solvent.stress.book import SyntheticBook
from solvent.stress.cascade import CascadeParams, EngineName, run_cascade
from solvent.stress.money import money_quantum
from solvent.stress.result import CascadeResult
from solvent.units import ZERO, exact, round_down

__all__ = ["HOLD_MINUTES", "REVERSE_STEP", "SHOCKS", "AdequacyReport", "ShockOutcome", "adequacy", "fund_needed",
           "group_losses", "reverse_stress", "shock_path"]

SHOCKS: tuple[Decimal, ...] = tuple(Decimal(f"{sign}{size}") for size in ("0.05", "0.10", "0.15", "0.20", "0.30",
                                                                        "0.50") for sign in ("-", ""))
"""The extreme-but-plausible moves: down and up, 5 % to 50 % (realism.md S2)."""
HOLD_MINUTES = 5
REVERSE_STEP = Decimal("0.005")
REVERSE_MAX = Decimal("0.80")


@exact
def shock_path(start: Decimal, move: Decimal, tick: Decimal, minutes: int = HOLD_MINUTES) -> list[Decimal]:
    """``start``, then ``start × (1 + move)`` (rounded down to the tick, at least one tick) for ``minutes``."""
    if not Decimal(-1) < move < Decimal(10) or move == 0:
        raise InvalidInput(f"a shock must lie in (-1, 10) and not be 0, got {move}")
    shocked = max(round_down(start * (1 + move), tick), tick)
    return [start, *([shocked] * minutes)]


def fund_needed(result: CascadeResult) -> Decimal:
    """The largest excess of deficits over fees at any point of the run, in the order the
    liquidations happened (module docstring)."""
    running = worst = ZERO
    for liq in result.liquidations:
        running += liq.deficit_quote - liq.fee_quote
        worst = max(worst, running)
    return worst


def group_losses(result: CascadeResult, book: SyntheticBook) -> dict[int, Decimal]:
    """Deficits by group (groups with none left out)."""
    groups = book.groups()
    out: dict[int, Decimal] = {}
    for liq in result.liquidations:
        if liq.deficit_quote > 0 and liq.account < groups.shape[0]:
            g = int(groups[liq.account])
            out[g] = out.get(g, ZERO) + liq.deficit_quote
    return out


@dataclass(frozen=True, slots=True)
class ShockOutcome:
    move: Decimal
    liquidated_notional: Decimal
    deficits: Decimal
    fees: Decimal
    fund_needed: Decimal
    groups: dict[int, Decimal]
    """Deficits by group."""

    def top(self, n: int) -> tuple[Decimal, tuple[int, ...]]:
        """The ``n`` groups whose default costs most here, and what they cost together."""
        ranked = sorted(self.groups.items(), key=lambda item: (-item[1], item[0]))[:n]
        return sum((loss for _, loss in ranked), ZERO), tuple(g for g, _ in ranked)


@exact
def run_shock(book: SyntheticBook, move: Decimal, engine: EngineName = "fast",
              params: CascadeParams | None = None) -> ShockOutcome:
    result = run_cascade(book, shock_path(book.start_price, move, book.tick), engine, params)
    liquidated = sum((liq.notional_quote for liq in result.liquidations), ZERO)
    return ShockOutcome(move, liquidated, sum((liq.deficit_quote for liq in result.liquidations), ZERO),
                        sum((liq.fee_quote for liq in result.liquidations), ZERO), fund_needed(result),
                        group_losses(result, book))


@exact
def reverse_stress(need: Callable[[Decimal], Decimal], fund: Decimal, direction: int,
                   step: Decimal = REVERSE_STEP, largest: Decimal = REVERSE_MAX) -> Decimal | None:
    """The smallest move (a multiple of ``step``, signed by ``direction``) whose run needs more
    than ``fund``; ``None`` if none up to ``largest`` does."""
    if direction not in (-1, 1) or step <= 0:
        raise InvalidInput("reverse stress needs a direction of -1 or 1 and a step > 0")
    k = 1
    while step * k <= largest:
        move = direction * step * k
        if need(move) > fund:
            return move
        k += 1
    return None


@dataclass(frozen=True, slots=True)
class AdequacyReport:
    fund: Decimal
    open_interest: Decimal
    """In quote (an inverse contract: its USD face value), for reading; no ratio is taken to it."""
    open_interest_settle: Decimal
    """In the settlement asset (``SyntheticBook.open_interest_settle``): the base of every ratio
    to open interest, as of the fund's ``insurance_fraction``, so fund and losses are in its unit."""
    money_quantum: Decimal
    """The settlement asset's quantum the report rounds money to (``stress/money.py``)."""
    outcomes: tuple[ShockOutcome, ...]
    cover1: tuple[Decimal, Decimal, tuple[int, ...]]
    """(loss, move, groups): the worst single-group default over the scenarios."""
    cover2: tuple[Decimal, Decimal, tuple[int, ...]]
    reverse_down: Decimal | None
    reverse_up: Decimal | None
    fund_table: tuple[tuple[Decimal, Decimal | None, Decimal | None], ...]
    """(fund, δ* down, δ* up) for multiples of the fund."""

    @property
    def coverage(self) -> Decimal | None:
        """(fund + backstop) ÷ Cover-2; ``None`` when no two groups' default costs anything."""
        return None if self.cover2[0] == 0 else self.fund / self.cover2[0]

    @property
    def required_fund(self) -> Decimal:
        """The fund that pays every deficit of every scenario of the set."""
        return max((o.fund_needed for o in self.outcomes), default=ZERO)


def _cover(outcomes: Sequence[ShockOutcome], n: int) -> tuple[Decimal, Decimal, tuple[int, ...]]:
    best: tuple[Decimal, Decimal, tuple[int, ...]] = (ZERO, ZERO, ())
    for o in outcomes:
        loss, groups = o.top(n)
        if loss > best[0]:
            best = (loss, o.move, groups)
    return best


FUND_MULTIPLES = (Decimal("0.25"), Decimal("0.5"), Decimal(1), Decimal(2), Decimal(4))


@exact
def adequacy(book: SyntheticBook, engine: EngineName = "fast", params: CascadeParams | None = None,
             shocks: Sequence[Decimal] = SHOCKS, step: Decimal = REVERSE_STEP) -> AdequacyReport:
    """Cover-1, Cover-2, the fund each scenario needs, and reverse stress (module docstring)."""
    outcomes = tuple(run_shock(book, move, engine, params) for move in shocks)
    fund = book.money(book.insurance_units)
    cache: dict[Decimal, Decimal] = {o.move: o.fund_needed for o in outcomes}

    def need(move: Decimal) -> Decimal:
        if move not in cache:
            cache[move] = run_shock(book, move, engine, params).fund_needed
        return cache[move]

    table = tuple((fund * m, reverse_stress(need, fund * m, -1, step), reverse_stress(need, fund * m, 1, step))
                  for m in FUND_MULTIPLES)
    one = next(row for row in table if row[0] == fund)
    return AdequacyReport(fund, book.open_interest_quote(), book.open_interest_settle(), money_quantum(book),
                          outcomes, _cover(outcomes, 1), _cover(outcomes, 2), one[1], one[2], table)
