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
anywhere. The search samples ``k`` at powers of two and at 16 even steps; the first passing
sample ends a bisection from the failing sample before it; with none passing, the peak lies
between the best sample's neighbours and is found by bisecting on the slope's sign, and a
passing peak ends a bisection likewise. About ``log2(limit) + 16`` evaluations plus three
short bisections, each a cached ``slack``; it runs only when the plain bisection answered
``limit`` (the only answer it can get wrong) and ``may_pass_inside`` says an inside ``k`` can
pass at all (under a full-close policy none can, and nothing extra is spent). Tick rounding
makes the slack concave only up to a tick; the answer is always a ``k`` whose slack was
computed and passes, never a guess.
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


def _rises(slack: Slack, k: int) -> bool:
    """Whether the slack still rises from ``k`` to ``k + 1`` (no price is minus infinity)."""
    here, after = slack(k), slack(k + 1)
    if after is None:
        return False
    return here is None or after > here


def _peak(slack: Slack, lo: int, hi: int) -> int:
    """The ``k`` in ``[lo, hi]`` where a concave slack stops rising."""
    while lo < hi:
        mid = (lo + hi) // 2
        if _rises(slack, mid):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _worse(a: Decimal | None, b: Decimal | None) -> bool:
    """Whether slack ``a`` is below ``b`` (no price is minus infinity)."""
    return b is not None and (a is None or a < b)


def _inside(slack: Slack, hi: int) -> int | None:
    """The smallest passing ``k`` in ``[1, hi]`` (module docstring), or ``None``."""
    samples = sorted({2 ** i for i in range(hi.bit_length()) if 2 ** i <= hi}
                     | {1 + (hi - 1) * j // 16 for j in range(17)})
    best = 0
    for n, k in enumerate(samples):
        if _passes(slack(k)):
            return _first_passing(slack, samples[n - 1] if n else 0, k)
        if _worse(slack(samples[best]), slack(k)):
            best = n
    left = samples[best - 1] if best else samples[0]
    right = samples[best + 1] if best + 1 < len(samples) else samples[-1]
    peak = _peak(slack, left, right)
    return _first_passing(slack, left, peak) if _passes(slack(peak)) else None


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
