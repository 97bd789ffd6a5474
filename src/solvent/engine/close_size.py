"""How many lots a partial liquidation closes: the smallest step that brings the account back.

``slack(k)`` is what the account has left over its target equity after closing ``k`` lots
(``None`` when the book cannot take ``k`` lots at a price the rules allow). The answer is the
smallest ``k`` in ``[1, limit]`` with ``slack(k) ≥ 0``, or ``limit`` when there is none.

Why not a plain bisection (revisions 1 and 2 of the liquidation arithmetic): bisection
assumes that once ``k`` lots pass, every larger ``k`` passes. Closing more lowers the target
(the rest's MM) but costs more (the fee, and slippage that grows faster than the size), so
the slack rises, peaks and falls again; only the full close passes again, where the rest's
MM is gone and a deficit is the fund's. A bisection whose first probe lands past the peak
closes everything although one small step would have done (a short of 6,000 BTCUSD_PERP
contracts on Binance COIN-M crossing a tier boundary was one).

Shape used (revision 3). The slack is concave in ``k`` while the execution leaves equity:
the rest's MM is a tier table's maintenance margin, convex and non-decreasing in notional
(each tier's rate is at least the one below, the amounts keep it continuous), and the
notional is linear in ``k``, so the target is convex in ``k``; the execution cost (fee plus
slippage against the mark) is convex in ``k`` for the liquidity models here (square-root
impact: cost grows as ``k^1.5``; a depth book: each level costs more than the one before).
A step that leaves less than one money quantum (the fee is then capped by what is left) has
no slack (``None``): short of the full close the rest still has MM, so it cannot pass, and
its slack, minus the rest's target, would rise toward the full close and lead the search
astray. Execution equity falls as ``k`` grows, so those steps are a final run. So the slack
below the full close is unimodal and its passing ``k`` form one interval, possibly narrow and
anywhere. The search samples ``k`` at powers of two and at 16 even steps;
the first passing sample ends a bisection from the failing sample before it; with none
passing, the peak lies between the best sample's neighbours, and that window is sampled
again, down to 32 lots, which are scanned. About ``log2(limit) + 17`` evaluations per level,
a level per eightfold narrowing, each a cached ``slack``; it runs only when the plain
bisection answered ``limit`` (the only answer it can get wrong) and ``may_pass_inside`` says
an inside ``k`` can pass at all (under a full-close policy none can, and nothing extra is
spent). Rounded prices and fees make the slack concave only up to a tick, with flat runs of
equal values: sampling and scanning are not misled by them as a slope bisection was; the
answer is always a ``k`` whose slack was computed and passes, never a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

__all__ = ["lots_to_close"]

Slack = Callable[[int], Decimal | None]


def _passes(value: Decimal | None) -> bool:
    return value is not None and value >= 0


def _first_passing(slack: Slack, lo: int, hi: int) -> int:
    """Bisection for the first passing ``k`` in ``(lo, hi]``, assuming ``hi`` passes or is the fallback."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _passes(slack(mid)):
            hi = mid
        else:
            lo = mid
    return hi


_SCAN = 32
"""A window this small is scanned lot by lot."""
_SCAN_MAX = 4096
"""The widest window scanned when the slack is one flat run across it (beyond: no inside step)."""


def _worse(a: Decimal | None, b: Decimal | None) -> bool:
    """Whether slack ``a`` is below ``b`` (no price is minus infinity)."""
    return b is not None and (a is None or a < b)


def _samples(lo: int, hi: int) -> list[int]:
    """17 even steps over ``[lo, hi]``, and the powers of two in it (small steps are the likely ones)."""
    powers = {2 ** i for i in range(hi.bit_length()) if lo <= 2 ** i <= hi}
    return sorted(powers | {lo + (hi - lo) * j // 16 for j in range(17)})


def _inside(slack: Slack, hi: int) -> int | None:
    """The smallest passing ``k`` in ``[1, hi]`` (module docstring), or ``None``.

    Sample the window; the first passing sample ends a bisection from the failing sample
    before it. With none passing, the peak lies between the neighbours of the run of best
    samples (ties included: flat runs of equal slack are common once prices and fees are
    rounded): that narrower window is sampled again, down to ``_SCAN`` lots, which are
    scanned; a window that is one flat run is scanned whole, up to ``_SCAN_MAX`` lots."""
    lo = 1
    while hi - lo > _SCAN:
        samples = _samples(lo, hi)
        first = last = 0
        for n, k in enumerate(samples):
            if _passes(slack(k)):
                return _first_passing(slack, samples[n - 1] if n else lo - 1, k)
            if _worse(slack(samples[first]), slack(k)):
                first = last = n
            elif slack(k) == slack(samples[first]):
                last = n  # a tie with the best: the peak may lie anywhere along the run
        window = samples[max(first - 1, 0)], samples[min(last + 1, len(samples) - 1)]
        if window == (lo, hi):  # one flat run across the whole window: look at every lot
            break
        lo, hi = window
    if hi - lo > _SCAN_MAX:
        return None
    return next((k for k in range(lo, hi + 1) if _passes(slack(k))), None)


def lots_to_close(limit: int, slack: Slack, *, full_close: bool, search_inside: bool,
                  may_pass_inside: Callable[[], bool]) -> int:
    """The number of lots to close (module docstring). ``full_close``: only ``limit`` is
    considered; ``search_inside`` (revision 3): search below it when bisection answers
    ``limit``. ``slack`` should cache: the search asks for some ``k`` more than once."""
    if full_close:
        return limit
    k = _first_passing(slack, 0, limit)
    if k < limit or not search_inside or limit < 2 or not may_pass_inside():
        return k
    found = _inside(slack, limit - 1)
    return limit if found is None else found
