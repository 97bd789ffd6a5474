"""Perpetual funding: premium index, funding rate, and exact per-account payments.

Equations (Binance USDⓈ-M, "Introduction to Binance Futures Funding Rates")
--------------------------------------------------------------------------
::

    premium  P  = (max(0, impact_bid − index) − max(0, index − impact_ask)) / index
    average  P̄  = (1·P₁ + 2·P₂ + … + n·Pₙ) / (1 + 2 + … + n)     one sample a minute
    rate     F  = P̄ + clamp(I − P̄, −0.05 %, +0.05 %)              I = 0.01 % per 8 h
    capped   F' = min(cap, max(floor, F))

A rate is dimensionless, per funding interval. Worked example: impact bid 30030, impact
ask 30040, index 30000 → P = 30 / 30000 = 0.001; F = 0.001 + clamp(−0.0009) =
0.001 − 0.0005 = 0.0005. With P̄ = 0.0003, I − P̄ = −0.0002 lies inside the clamp and
F = I = 0.0001 (the flat zone where most 8-hour periods settle).

dYdX v4 (``x/perpetuals``): ``F = clamp(P̄ + I, −max_abs_rate, +max_abs_rate)`` where the
liquidity tier sets ``max_abs_rate = funding_clamp_factor × (IMF − MMF)``; this module takes
``max_abs_rate`` as a parameter and imports nothing from ``risk/``.

Payments: each account's balance changes by ``−qty_base × mark × rate`` (quote currency):
longs pay shorts when ``rate > 0``. The book must be balanced (``Σ qty_base = 0``), so the
exact changes sum to zero. Every change is rounded **down** (toward −∞) to ``quantum``:
amounts charged round up in size, amounts credited round down, so nothing is over-paid.
``residue = −Σ changes ≥ 0`` is what rounding kept back; the engine credits it to the
insurance fund, and ``Σ changes + residue = 0`` exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from solvent.errors import InvalidInput, InvariantViolation
from solvent.units import ZERO, exact, non_negative, positive, round_down, to_decimal

BINANCE_INTEREST_RATE = Decimal("0.0001")
"""Binance's interest component per 8-hour interval (0.03 % a day / 3)."""

BINANCE_CLAMP = Decimal("0.0005")
"""Binance's bound on ``I − P`` (±0.05 %)."""


@exact
def premium_index(impact_bid: Decimal, impact_ask: Decimal, index: Decimal) -> Decimal:
    """``(max(0, impact_bid − index) − max(0, index − impact_ask)) / index``.

    >>> premium_index(Decimal(30030), Decimal(30040), Decimal(30000))
    Decimal('0.001')
    """
    bid = positive(impact_bid, "impact_bid")
    ask = positive(impact_ask, "impact_ask")
    index = positive(index, "index")
    if bid > ask:
        raise InvalidInput(f"impact bid {bid} is above impact ask {ask}")
    return (max(ZERO, bid - index) - max(ZERO, index - ask)) / index


@exact
def average_premium(premiums: Sequence[Decimal]) -> Decimal:
    """Binance's time-weighted average ``Σ k·Pₖ / Σ k`` (later samples weigh more).

    >>> average_premium([Decimal("0.0003"), Decimal("0.0006")])
    Decimal('0.0005')
    """
    if not premiums:
        raise InvalidInput("average premium needs at least one sample")
    samples = [to_decimal(p, "premium") for p in premiums]
    weighted = sum((k * p for k, p in enumerate(samples, start=1)), ZERO)
    n = len(samples)
    return weighted / Decimal(n * (n + 1) // 2)


@exact
def clamp_rate(rate: Decimal, floor: Decimal | None, cap: Decimal | None) -> Decimal:
    """``min(cap, max(floor, rate))``; a missing bound leaves that side open."""
    rate = to_decimal(rate, "rate")
    if floor is not None and cap is not None and to_decimal(floor, "floor") > cap:
        raise InvalidInput(f"funding floor {floor} is above cap {cap}")
    if floor is not None:
        rate = max(to_decimal(floor, "floor"), rate)
    if cap is not None:
        rate = min(to_decimal(cap, "cap"), rate)
    return rate


@exact
def funding_rate(
    avg_premium: Decimal,
    interest_rate: Decimal = BINANCE_INTEREST_RATE,
    clamp: Decimal = BINANCE_CLAMP,
    cap: Decimal | None = None,
    floor: Decimal | None = None,
) -> Decimal:
    """Binance ``F = P̄ + clamp(I − P̄, −clamp, +clamp)``, then bounded to [floor, cap].

    >>> funding_rate(Decimal("0.001"))
    Decimal('0.0005')
    """
    premium = to_decimal(avg_premium, "avg_premium")
    interest = to_decimal(interest_rate, "interest_rate")
    bound = non_negative(clamp, "clamp")
    adjustment = min(bound, max(-bound, interest - premium))
    return clamp_rate(premium + adjustment, floor, cap)


@exact
def dydx_funding_rate(
    avg_premium: Decimal, max_abs_rate: Decimal, interest_rate: Decimal = ZERO
) -> Decimal:
    """dYdX v4 ``clamp(P̄ + I, −max_abs_rate, +max_abs_rate)``.

    Example (vector D-FUND-1 gives ``max_abs_rate`` = 180000 ppm = 0.18):
    >>> dydx_funding_rate(Decimal("0.25"), Decimal("0.18"))
    Decimal('0.18')
    """
    bound = non_negative(max_abs_rate, "max_abs_rate")
    rate = to_decimal(avg_premium, "avg_premium") + to_decimal(interest_rate, "interest_rate")
    return clamp_rate(rate, -bound, bound)


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """One account's funding: net position and signed balance change (quote)."""

    account_id: str
    qty_base: Decimal
    amount_quote: Decimal


@dataclass(frozen=True, slots=True)
class FundingSettlement:
    """Payments ordered by account id and the rounding residue for the insurance fund."""

    payments: tuple[FundingPayment, ...]
    residue_quote: Decimal

    @property
    def residue(self) -> Decimal:
        """Alias of ``residue_quote``."""
        return self.residue_quote


def _net_positions(positions: Sequence[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """Sum signed quantities per account (hedge-mode legs net out before rounding)."""
    net: dict[str, Decimal] = {}
    for account_id, qty in positions:
        if not isinstance(account_id, str):
            raise InvalidInput(f"account id must be a string, got {type(account_id).__name__}")
        net[account_id] = net.get(account_id, ZERO) + to_decimal(qty, "qty_base")
    return net


@exact
def funding_payments(
    positions: Sequence[tuple[str, Decimal]],
    mark_price: Decimal,
    rate: Decimal,
    quantum: Decimal,
) -> FundingSettlement:
    """Settle one funding interval for a linear perpetual (rules in the module docstring).

    ``positions`` holds ``(account_id, signed qty_base)`` pairs; an account may appear more
    than once and its legs are netted. Raises ``InvalidInput`` unless ``Σ qty_base = 0``.

    >>> s = funding_payments([("a", Decimal(1)), ("b", Decimal(-1))],
    ...                      Decimal(30000), Decimal("0.0001"), Decimal("0.01"))
    >>> [(p.account_id, p.amount_quote) for p in s.payments], s.residue_quote
    ([('a', Decimal('-3.00')), ('b', Decimal('3.00'))], Decimal('0.00'))
    """
    mark = positive(mark_price, "mark_price")
    rate = to_decimal(rate, "rate")
    quantum = positive(quantum, "quantum")
    net = _net_positions(positions)
    imbalance = sum(net.values(), ZERO)
    if imbalance != 0:
        raise InvalidInput(f"funding needs a balanced book, but the positions sum to {imbalance}")
    payments = tuple(
        # floor: a charge grows to the next quantum, a credit shrinks to the previous one
        FundingPayment(account, net[account], round_down(-net[account] * mark * rate, quantum))
        for account in sorted(net)
    )
    residue = -sum((p.amount_quote for p in payments), ZERO)
    if residue < 0:
        raise InvariantViolation(f"funding residue is negative: {residue}")
    return FundingSettlement(payments, residue)
