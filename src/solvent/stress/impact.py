"""Market impact of liquidation volume: the square-root law with resilience and thinning.

State: ``sold`` and ``bought``, the liquidated notional (quote, at execution prices) that the
book has absorbed on each side and not yet recovered from. Parameters (``ImpactParams``):

* ``depth_quote`` (D₀): the notional the book absorbs for a move of ``k``; by default
  ``depth_to_open_interest`` (1) × the book's open interest (so a run's shape does not depend
  on the number of accounts); under stress the depth thins with the outstanding volume
  ``V = sold + bought``::

      D = D₀ / (1 + thinning × V / D₀)            rounded down to 1 quote unit

* ``k_cascade``: the cascade's price shift on the mark::

      shift = k_cascade × (sqrt(sold / D) − sqrt(bought / D))
      mark  = scenario × (1 − shift),             rounded down to the tick, at least one tick

* ``resilience``: each minute the book recovers this fraction of the outstanding volume
  (``sold ← sold × (1 − resilience)``, rounded down to 10^-8);
* ``k_order`` and ``max_depth_fraction``: the engine's ``SquareRootImpact`` (each liquidation
  order's slippage on top of the mark, walked after the round's earlier orders on its side;
  the cap bounds one order) at the current depth ``D``;
* market makers withdrawing (``realism.md`` §4.3 ``lambda_t``, off by default): a multiplier
  λ on the depth, ``D = λ × D₀ / (1 + thinning × V / D₀)``. Each minute, with ``r`` the
  scenario price's move over the minute (``|p_t ÷ p_{t−1} − 1|``), the target is
  ``max(withdrawal_floor, 1 − withdrawal × r)``: λ falls to it at once when it is lower, else
  recovers ``withdrawal_recovery`` of the way back to 1 (rounded down to 10^-8). With
  ``withdrawal`` 0 (the default) λ stays 1. ``WITHDRAWAL_2025_10_10`` is the setting fitted to
  Binance's BTCUSDT book on 2025-10-10 (``docs/calibration.md``).

Worked example: D₀ = 4,000,000, thinning 0, k_cascade 0.5, sold 1,000,000: ``sqrt(0.25) =
0.5``, shift 0.25, so a scenario price of 100 marks at 75.

All arithmetic is ``Decimal`` in the default context (28 digits; ``sqrt`` is correctly
rounded), shared by the exact and the fast cascade, so both see the same prices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from solvent.engine.liquidity import SquareRootImpact
from solvent.errors import InvalidInput
from solvent.units import ONE, ZERO, exact, round_down

__all__ = ["WITHDRAWAL_2025_10_10", "ImpactParams", "ImpactState", "flow_shift"]

_VOLUME_QUANTUM = Decimal("0.00000001")


@dataclass(frozen=True, slots=True)
class ImpactParams:
    depth_quote: Decimal | None = None
    depth_to_open_interest: Decimal = ONE
    k_cascade: Decimal = Decimal("0.1")
    k_order: Decimal = Decimal("0.1")
    resilience: Decimal = Decimal("0.1")
    thinning: Decimal = Decimal(1)
    max_depth_fraction: Decimal = ONE
    withdrawal: Decimal = ZERO
    withdrawal_floor: Decimal = ZERO
    withdrawal_recovery: Decimal = ZERO

    def check(self) -> None:
        """Refuse parameters no impact model follows, naming the field (``InvalidInput``)."""
        values = {"depth_to_open_interest": self.depth_to_open_interest, "k_cascade": self.k_cascade,
                  "k_order": self.k_order, "resilience": self.resilience, "thinning": self.thinning,
                  "max_depth_fraction": self.max_depth_fraction, "withdrawal": self.withdrawal,
                  "withdrawal_floor": self.withdrawal_floor, "withdrawal_recovery": self.withdrawal_recovery}
        for name, value in values.items():
            if not value.is_finite() or value < 0:
                raise InvalidInput(f"impact parameters: {name} must be a finite number >= 0, got {value}")
        if self.resilience > 1 or self.max_depth_fraction == 0 or self.depth_to_open_interest == 0:
            raise InvalidInput("impact parameters: need resilience <= 1, max_depth_fraction > 0 and "
                               "depth_to_open_interest > 0")
        if self.withdrawal_floor > 1 or self.withdrawal_recovery > 1 or self.withdrawal > 10_000:
            raise InvalidInput("impact parameters: need withdrawal_floor <= 1, withdrawal_recovery <= 1 and "
                               "withdrawal <= 10000")
        if self.depth_quote is not None and not (self.depth_quote.is_finite() and self.depth_quote >= 1):
            raise InvalidInput(f"impact parameters: depth_quote must be >= 1, got {self.depth_quote}")

    def for_open_interest(self, open_interest_quote: Decimal) -> ImpactParams:
        """These parameters with ``depth_quote`` set (from the open interest when it is ``None``)."""
        if self.depth_quote is not None:
            return self
        return replace(self, depth_quote=max(round_down(open_interest_quote * self.depth_to_open_interest, ONE), ONE))


WITHDRAWAL_2025_10_10 = {"withdrawal": Decimal(50), "withdrawal_floor": Decimal("0.012"),
                         "withdrawal_recovery": Decimal("0.003")}
"""Market-maker withdrawal fitted to Binance's BTCUSDT book depth within −5 % of the price on
2025-10-10, 19:00–24:00 UTC, against the minute closes of the same day (least squares on the
log of depth ÷ its 19:00–20:50 median, over a grid whose best is inside it; ``docs/calibration.md``)."""


@dataclass(slots=True)
class ImpactState:
    """Outstanding liquidated notional by side, and the market makers' depth multiplier
    (module docstring)."""

    params: ImpactParams
    sold: Decimal = ZERO
    bought: Decimal = ZERO
    lam: Decimal = ONE
    """λ: the share of the calm depth the market makers still show."""

    def depth(self) -> Decimal:
        p = self.params
        base = p.depth_quote
        if base is None:
            raise InvalidInput("ImpactParams.depth_quote must be set (see for_open_interest)")
        volume = self.sold + self.bought
        shown = base if self.lam == ONE else base * self.lam
        return max(round_down(shown / (ONE + p.thinning * volume / base), ONE), ONE)

    def weather(self, previous: Decimal, price: Decimal) -> None:
        """One minute of market makers: λ after the scenario price moved from ``previous`` to
        ``price`` (module docstring). Nothing moves with ``withdrawal`` 0."""
        p = self.params
        if p.withdrawal == 0:
            return
        move = abs(price / previous - ONE)
        target = max(p.withdrawal_floor, ONE - p.withdrawal * move)
        lam = target if target < self.lam else self.lam + p.withdrawal_recovery * (ONE - self.lam)
        self.lam = round_down(lam, _VOLUME_QUANTUM)

    def shift(self) -> Decimal:
        """``k_cascade × (sqrt(sold ÷ D) − sqrt(bought ÷ D))``: the relative move the outstanding
        liquidation volume puts on the price (positive: down)."""
        depth = self.depth()
        return self.params.k_cascade * ((self.sold / depth).sqrt() - (self.bought / depth).sqrt())

    def mark(self, scenario_price: Decimal, tick: Decimal) -> Decimal:
        """The scenario price shifted by the outstanding liquidation volume."""
        return max(round_down(scenario_price * (ONE - self.shift()), tick), tick)

    def liquidity(self, symbol: str) -> SquareRootImpact:
        """The per-order liquidity model at the current depth."""
        p = self.params
        return SquareRootImpact({symbol: self.depth()}, p.k_order, p.max_depth_fraction, self.depth())

    def absorb(self, sold: Decimal, bought: Decimal) -> None:
        self.sold += sold
        self.bought += bought

    def recover(self) -> None:
        """One minute of resilience."""
        keep = ONE - self.params.resilience
        self.sold = round_down(self.sold * keep, _VOLUME_QUANTUM)
        self.bought = round_down(self.bought * keep, _VOLUME_QUANTUM)


@exact
def flow_shift(params: ImpactParams, path: Sequence[Decimal], sold: Mapping[int, Decimal]) -> Decimal:
    """The largest shift (``ImpactState.shift``) a given flow of liquidation sales puts on the
    price, with no book of accounts behind it: each minute ``t = 1 … len(path) − 1`` the book
    recovers and the market makers weather the path's move, as in the cascade, then ``sold[t]``
    (quote; none where absent) is absorbed and the shift read. ``params.depth_quote`` must be set."""
    state = ImpactState(params)
    state.depth()  # refuses params without a depth before any work
    worst = ZERO
    for t in range(1, len(path)):
        state.recover()
        state.weather(path[t - 1], path[t])
        state.absorb(sold.get(t, ZERO), ZERO)
        worst = max(worst, state.shift())
    return worst
