"""Traders acting on their losses: voluntary closes while the scenario runs (realism.md RC-7, RC-2).

A book drawn at the start is static: nobody closes a position unless the venue liquidates it,
however long the price takes to get there. Real traders watch their positions. Given time they
cut a losing one before the venue does: a fall over two days liquidates far less than a fall
of half the size in half an hour ($1B over FTX's two days against $19.1B on 2025-10-10,
realism.md RC-7), and on a slow day longs are not liquidated as on a fast one (RC-2).

**The rule.** A trader is *alerted* at the end of a minute when it holds a position, the venue
is not liquidating it (it is not at the venue's trigger at the minute's last mark: one whose
order the book could not take stays the venue's), and its equity at that mark has fallen to
``(1 − loss) ×`` its equity when the run began
(an entrant's: the collateral it opened with), ``loss`` by default ``RESPONSE_LOSS``, half. Its equity
then is the reference, not the collateral it opened with weeks before: a trader still holding a
position that has already cost it half its margin has shown it holds on at that loss (one that
acts on it would have closed before the run; counting it as alerted at once would have every
such trader close in the run's first minutes, a flow the scenario has nothing to do with). It
acts ``delay`` minutes after it was first seen alerted, if it still is then (not liquidated in
the meantime, not back above the line: a recovery resets its clock): it closes the whole
position at that minute's last mark, trading with the market (the ``book`` account), with no
fee. Its ``delay`` is its own, drawn once from the book's seed (a stream of its own: the book
and the entrants are the same with or without responses): ``max(1, ceil(X))`` minutes with
``X`` exponential of mean ``minutes``. The volume closed is market orders: it is absorbed into
the impact state like a liquidation's, so it moves the marks of the minutes after it. During an
operational halt nobody acts (the venue is down), and the clocks keep running. Linear books
only (an inverse book's responses are refused, ``InvalidInput``), as for the entrants.

The whole position, at the mark, keeps every amount an integer of the book's units (a partial
close would leave a cost basis the fast model's integers do not hold), and a trader who is not
at the venue's trigger at that mark has equity above its maintenance margin, so the close
leaves it a positive balance and no loss to anyone (both venues check it: a close that would
need the fund is a bug, ``InvariantViolation``). The alert line is an integer of the book's
money units, ``floor(equity × (1 − loss))`` (``alert_units``), so the exact engine and the fast
model alert the same traders.

**Calibration.** No source publishes how long traders take to act on a loss or at what loss they
act: both are judgements (``docs/calibration.md``, with the figures' sensitivity to the delay).
``RESPONSE_MINUTES`` is 30: a trader watching its phone acts within minutes, one asleep within
hours; an exponential with a mean of half an hour leaves 26 % of traders still waiting after 40
minutes and 5 % after 90. A fall that takes a trader from half its margin to its trigger in
a few minutes (2025-10-10's 13 % in 36 minutes) leaves most no time; one that takes hours
(FTX's 26 % over 48 hours) leaves most of them enough.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from solvent.errors import InvalidInput
from solvent.stress.book import MONEY_EXP, SyntheticBook
from solvent.stress.entrants import Opening
from solvent.stress.result import ResponseOutcome, VoluntaryClose
from solvent.units import ONE, ZERO

__all__ = ["MAX_RESPONSE_MINUTES", "NEVER", "RESPONSE_LOSS", "RESPONSE_MINUTES", "Responders", "alert_units",
           "check_response"]

RESPONSE_MINUTES = Decimal(30)
"""The mean delay of the report's runs that model traders' responses (module docstring: a judgement)."""
RESPONSE_LOSS = Decimal("0.5")
"""The share of its equity at the start a trader has lost when it is alerted (a judgement)."""
MAX_RESPONSE_MINUTES = Decimal(10_080)
"""The longest mean delay a run takes: a week."""
NEVER = -(2**62)
"""The alert line of a row that never acts (the counterparty ``mm``, an entrant not yet opened)."""
_STREAM = 0x52455350  # "RESP": the responses' random stream, apart from the book's and the entrants'


def check_response(minutes: Decimal, loss: Decimal) -> None:
    """Refuse a mean delay outside ``[0, MAX_RESPONSE_MINUTES]`` or a loss outside ``(0, 1)``."""
    if not minutes.is_finite() or not ZERO <= minutes <= MAX_RESPONSE_MINUTES:
        raise InvalidInput(f"response_minutes must lie in [0, {MAX_RESPONSE_MINUTES}], got {minutes}")
    if not loss.is_finite() or not ZERO < loss < ONE:
        raise InvalidInput(f"response_loss must lie in (0, 1) (a share of the equity at the start), got {loss}")


def alert_units(equity_units: int, loss: Decimal) -> int:
    """The equity (10^-8 units) at or below which a trader whose reference equity is
    ``equity_units`` is alerted: ``floor(equity × (1 − loss))``, exactly; ``NEVER`` for a
    reference of 0 or less (nothing left to lose: the venue's trigger decides)."""
    if equity_units <= 0:
        return NEVER
    keep = Fraction(ONE - loss)
    return equity_units * keep.numerator // keep.denominator


class Responders:
    """Each row's alert line, delay and clock (module docstring)."""

    def __init__(self, book: SyntheticBook, rows: int, minutes: Decimal, loss: Decimal) -> None:
        check_response(minutes, loss)
        if minutes == 0:
            raise InvalidInput("a run without responses has no responders (response_minutes 0)")
        if book.inverse:
            raise InvalidInput("traders' responses are modelled on linear instruments only; this book is inverse")
        self.minutes = minutes
        self.loss = loss
        traders = book.size - 1
        rng = np.random.default_rng([book.params.seed, _STREAM])
        drawn = np.ceil(rng.exponential(float(minutes), rows))
        self.delay: NDArray[np.int64] = np.maximum(drawn, 1).astype(np.int64)
        """Each row's delay in minutes."""
        self.line = np.full(rows, NEVER, dtype=np.int64)
        """Each row's alert line (``alert_units``), 10^-8 units; ``NEVER`` for a row that never acts."""
        start_ticks = int(book.start_price / book.tick)
        unit = int(book.notional_unit.scaleb(MONEY_EXP))
        equity = [d + (q * start_ticks - c) * unit for d, q, c in zip(book.deposit_units[:traders].tolist(),
                                                                    book.qty_lots[:traders].tolist(),
                                                                    book.cost[:traders].tolist(), strict=True)]
        self.line[:traders] = [alert_units(e, loss) for e in equity]
        self.since = np.full(rows, -1, dtype=np.int64)
        """The minute each row was first seen alerted in its current alert; −1: not alerted."""
        self.closes: list[VoluntaryClose] = []

    def opened(self, openings: Sequence[Opening]) -> None:
        """The entrants' rows get their alert lines from the collateral they opened with (their
        equity when they open, at the mark)."""
        for o in openings:
            self.line[o.long] = alert_units(o.deposit_long, self.loss)
            self.line[o.short] = alert_units(o.deposit_short, self.loss)

    def acting(self, step: int, alerted: NDArray[np.int64]) -> NDArray[np.int64]:
        """The rows that act at the end of minute ``step``, ascending, given the rows alerted
        then (ascending): a row not alerted loses its clock, a newly alerted one starts it."""
        seen = np.zeros(len(self.since), dtype=np.bool_)
        seen[alerted] = True
        self.since[~seen] = -1
        start = alerted[self.since[alerted] < 0]
        self.since[start] = step
        act: NDArray[np.int64] = alerted[step - self.since[alerted] >= self.delay[alerted]]
        return act

    def record(self, closes: Sequence[VoluntaryClose]) -> tuple[Decimal, Decimal]:
        """Keep a minute's closes; the quote they sold and bought (the impact state's volume)."""
        self.closes.extend(closes)
        sold = sum((q.notional_quote for q in closes if q.sign > 0), ZERO)
        bought = sum((q.notional_quote for q in closes if q.sign < 0), ZERO)
        return sold, bought

    def outcome(self) -> ResponseOutcome:
        return ResponseOutcome(self.minutes, self.loss, len(self.closes),
                               sum((q.notional_quote for q in self.closes if q.sign > 0), ZERO),
                               sum((q.notional_quote for q in self.closes if q.sign < 0), ZERO))

