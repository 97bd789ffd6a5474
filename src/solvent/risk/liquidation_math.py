"""Liquidation arithmetic as pure functions: bankruptcy quotes, fillable prices, fees.

Every function takes ``Decimal``/``int``/decimal-string inputs (a ``float`` raises
``InvalidInput``) and returns exact ``Decimal`` results. Sign convention for quote flows:
a *positive* quote amount is received by the liquidated account, a negative one is paid
by it (selling a long receives quote, buying back a short pays it).

Rounding in this module (the policy table lives in ``solvent.units``)
--------------------------------------------------------------------

=========================================  =========================================
quantity                                   rounds
=========================================  =========================================
dYdX bankruptcy quote                      up, toward +inf (as dYdX: the fill never
                                           needs an insurance-fund payment)
dYdX fillable price                        exact; with ``tick``: long up, short down
dYdX max liquidation fee                   up (house policy; dYdX truncates, ≤ 1 quantum)
generic liquidation fee                    up, then capped by the equity left
bankruptcy price (one position)            long up, short down (``round_price``)
Drift base to cover a shortage             Drift integer precisions, truncated to 1e-9
Drift socialised loss per base             up to 1e-6 quote per base (Drift ``div_ceil``)
Drift escalated liquidator fee             exact (the caller's time unit)
=========================================  =========================================

Without a quantum the dYdX and generic results are exact at working precision.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Final

from solvent.errors import InvalidInput
from solvent.units import (
    ONE,
    ZERO,
    NumberLike,
    non_negative,
    positive,
    round_price,
    round_up,
    to_decimal,
)

__all__ = [
    "bankruptcy_price_linear",
    "drift_base_to_cover_shortage",
    "drift_liquidator_fee",
    "drift_socialized_loss_per_base",
    "dydx_bankruptcy_quote",
    "dydx_fillable_price",
    "dydx_insurance_fund_delta",
    "liquidation_fee",
]

_PPM: Final = Decimal(1_000_000)

# Drift protocol-v2 fixed-point precisions (programs/drift/src/math/constants.rs).
_DRIFT_PRICE_DECIMALS: Final = 6  # PRICE_PRECISION 1e6
_DRIFT_QUOTE_DECIMALS: Final = 6  # QUOTE_PRECISION 1e6
_DRIFT_BASE_DECIMALS: Final = 9  # BASE_PRECISION / AMM_RESERVE_PRECISION 1e9
_DRIFT_MARGIN_DECIMALS: Final = 4  # MARGIN_PRECISION 1e4
_DRIFT_FEE_DECIMALS: Final = 6  # LIQUIDATION_FEE_PRECISION 1e6


def _ppm_fraction(raw: object, field: str) -> Decimal:
    """An integer ppm value (>= 0) as a fraction of one."""
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidInput(f"{field} must be an integer number of ppm, not {type(raw).__name__}")
    if raw < 0:
        raise InvalidInput(f"{field} must be >= 0, got {raw}")
    return Decimal(raw) / _PPM


def _check_reduces(position_base: Decimal, delta_base: Decimal) -> None:
    """``delta`` must shrink ``position`` toward zero, without flipping it (as dYdX checks)."""
    if position_base * delta_base >= 0 or abs(delta_base) > abs(position_base):
        raise InvalidInput(f"delta_base {delta_base} does not reduce position_base {position_base}")


def dydx_bankruptcy_quote(
    position_base: NumberLike,
    delta_base: NumberLike,
    oracle_price: NumberLike,
    total_net_collateral: NumberLike,
    total_maint_margin: NumberLike,
    closed_maint_margin: NumberLike,
    *,
    quote_quantum: NumberLike | None = None,
) -> Decimal:
    """Quote amount at which closing ``delta_base`` leaves the account exactly bankrupt.

    dYdX v4 ``GetBankruptcyPriceInQuoteQuantums``::

        bankruptcy_quote = −DNNV − TNC × |DMMR| / TMMR

    ``DNNV = delta_base × oracle_price`` (change in position notional), ``TNC`` the
    account's total net collateral, ``DMMR`` the maintenance margin released by the close
    (``closed_maint_margin ≥ 0``), ``TMMR`` the account's total maintenance margin
    (``> 0``). Quote units (USDC); positive = the account receives it. After closing at
    this quote the remaining collateral covers the remaining requirement in the same
    proportion TNC covered TMMR. ``delta_base`` must reduce the position without flipping
    it. Rounded up (toward +inf) to ``quote_quantum`` when given, as dYdX does.

    Example (vector D-BK-1): 0.1 BTC long at 50,000, USDC −4,501 → TNC 499; closing all
    of it (DMMR = TMMR = 500): ``5000 − 499 × 500/500 = 4501``.

    Source: dydxprotocol/v4-chain ``protocol/x/clob/keeper/liquidations.go``.
    """
    position = to_decimal(position_base, "position_base")
    delta = to_decimal(delta_base, "delta_base")
    _check_reduces(position, delta)
    price = positive(oracle_price, "oracle_price")
    collateral = to_decimal(total_net_collateral, "total_net_collateral")
    total_mm = positive(total_maint_margin, "total_maint_margin")
    closed_mm = non_negative(closed_maint_margin, "closed_maint_margin")
    quote = -(delta * price) - collateral * closed_mm / total_mm
    if quote_quantum is not None:
        quote = round_up(quote, positive(quote_quantum, "quote_quantum"))
    return quote


def dydx_fillable_price(
    position_base: NumberLike,
    oracle_price: NumberLike,
    total_net_collateral: NumberLike,
    total_maint_margin: NumberLike,
    position_maint_margin: NumberLike,
    bankruptcy_adjustment_ppm: int,
    spread_to_maint_margin_ratio_ppm: int,
    *,
    tick: NumberLike | None = None,
) -> Decimal:
    """Worst price a dYdX v4 liquidation order for the position may fill at.

    dYdX v4 ``GetFillablePrice``::

        ABR            = clamp(BA × (1 − TNC / TMMR), 0, 1)      adjusted bankruptcy rating
        fillable_price = (PNNV − ABR × SMMR × PMMR) / PS

    ``PS = position_base`` (signed), ``PNNV = PS × oracle_price``, ``PMMR`` the position's
    maintenance margin, ``BA`` and ``SMMR`` the ppm parameters as fractions. A long sells
    down to this price, a short buys up to it; the spread from the oracle is at most
    ``SMMR × PMMR / |PS|``, reached when TNC ≤ TMMR × (1 − 1/BA). Price in quote per base.
    Exact; with ``tick`` a long rounds up and a short down (never worse than exact).

    Example (vector D-FP-1): 0.1 long at 50,000, USDC −4,501 → TNC 499, TMMR = PMMR = 500,
    BA 1, SMMR 0.1: ``ABR = 1 − 499/500 = 0.002``; ``(5000 − 0.002 × 0.1 × 500)/0.1 = 49,999``.

    Source: dydxprotocol/v4-chain ``protocol/x/clob/keeper/liquidations.go``.
    """
    position = to_decimal(position_base, "position_base")
    if position == 0:
        raise InvalidInput("position_base must not be zero")
    price = positive(oracle_price, "oracle_price")
    collateral = to_decimal(total_net_collateral, "total_net_collateral")
    total_mm = positive(total_maint_margin, "total_maint_margin")
    position_mm = non_negative(position_maint_margin, "position_maint_margin")
    adjustment = _ppm_fraction(bankruptcy_adjustment_ppm, "bankruptcy_adjustment_ppm")
    spread_ratio = _ppm_fraction(spread_to_maint_margin_ratio_ppm, "spread_to_maint_margin_ratio_ppm")
    rating = min(ONE, max(ZERO, adjustment * (ONE - collateral / total_mm)))
    fillable = (position * price - rating * spread_ratio * position_mm) / position
    if fillable < 0:
        raise InvalidInput(f"fillable price would be negative ({fillable}); check the margins")
    if tick is not None:
        fillable = round_price(fillable, positive(tick, "tick"), is_long=position > 0)
    return fillable


def dydx_insurance_fund_delta(
    delta_base: NumberLike,
    fill_price: NumberLike,
    bankruptcy_quote: NumberLike,
    max_liquidation_fee_ppm: int,
    *,
    quote_quantum: NumberLike | None = None,
) -> Decimal:
    """Payment between a liquidated dYdX v4 account and the insurance fund for one fill.

    dYdX v4 ``GetLiquidationInsuranceFundDelta``::

        fill_quote = −delta_base × fill_price                (positive = account receives)
        surplus    = fill_quote − bankruptcy_quote
        delta      = surplus                                 if surplus ≤ 0 (fund pays)
                   = min(|fill_quote| × max_fee_ppm/1e6, surplus)   otherwise (account pays)

    Positive = paid by the account to the fund; negative = the fund covers a shortfall.
    ``bankruptcy_quote`` is ``dydx_bankruptcy_quote`` for the same ``delta_base``. Quote
    units. The fee cap rounds *up* to ``quote_quantum`` when given (house policy; dYdX's
    ``BigIntMulPpm`` truncates, a difference of at most one quantum).

    Example (vector D-IF-1): sell 0.1 at 56,100 → fill quote 5,610; bankruptcy 5,100
    (D-BK-7); surplus 510; cap 5,610 × 0.5 % = 28.05 → 28.05 to the fund.

    Source: dydxprotocol/v4-chain ``protocol/x/clob/keeper/liquidations.go``.
    """
    delta = to_decimal(delta_base, "delta_base")
    if delta == 0:
        raise InvalidInput("delta_base must not be zero")
    fill_quote = -delta * positive(fill_price, "fill_price")
    surplus = fill_quote - to_decimal(bankruptcy_quote, "bankruptcy_quote")
    if surplus <= 0:
        return surplus
    cap = abs(fill_quote) * _ppm_fraction(max_liquidation_fee_ppm, "max_liquidation_fee_ppm")
    if quote_quantum is not None:
        cap = round_up(cap, positive(quote_quantum, "quote_quantum"))
    return min(cap, surplus)


def liquidation_fee(
    liquidated_notional: NumberLike,
    fee_rate: NumberLike,
    equity_above_bankruptcy: NumberLike,
    *,
    quote_quantum: NumberLike | None = None,
) -> Decimal:
    """Liquidation fee, capped by the equity left above the bankruptcy price.

    ``fee = min(round_up(|notional| × fee_rate), max(equity_above_bankruptcy, 0))``: the
    venue charges its rate but never takes more than the account still holds above
    bankruptcy (Binance/Bybit practice: the rest would come from the insurance fund).
    Quote units; ``fee_rate`` a fraction (0.005 = 0.5 %). The uncapped fee rounds up to
    ``quote_quantum`` when given; otherwise it is exact.

    Example: 10,000 notional at 1 % with 60 left above bankruptcy → ``min(100, 60) = 60``;
    with 250 left → 100; with −5 left (already below bankruptcy) → 0.
    """
    notional = abs(to_decimal(liquidated_notional, "liquidated_notional"))
    fee = notional * non_negative(fee_rate, "fee_rate")
    if quote_quantum is not None:
        fee = round_up(fee, positive(quote_quantum, "quote_quantum"))
    equity_left = max(to_decimal(equity_above_bankruptcy, "equity_above_bankruptcy"), ZERO)
    return min(fee, equity_left)


def bankruptcy_price_linear(
    entry_price: NumberLike,
    position_base: NumberLike,
    margin_quote: NumberLike,
    *,
    tick: NumberLike | None = None,
) -> Decimal:
    """Price at which one linear position's equity reaches zero.

    ``equity(P) = margin + position_base × (P − entry) = 0`` gives
    ``P = entry − margin / position_base``: below entry for a long, above for a short
    (``position_base < 0``). A long whose margin covers its whole notional never goes
    bankrupt above zero, so the result is floored at 0. Prices in quote per base, margin
    in quote (the isolated margin, or the equity the position may use, fees excluded).
    With ``tick`` a long rounds up and a short down (``round_price``).

    Example: long 2 @ 100 with margin 20 → ``100 − 20/2 = 90``; short 2 @ 100 with margin
    20 → ``100 + 10 = 110``.
    """
    entry = positive(entry_price, "entry_price")
    position = to_decimal(position_base, "position_base")
    if position == 0:
        raise InvalidInput("position_base must not be zero")
    margin = non_negative(margin_quote, "margin_quote")
    price = max(entry - margin / position, ZERO)
    if tick is not None:
        price = round_price(price, positive(tick, "tick"), is_long=position > 0)
    return price


def _fixed(raw: object, decimals: int, field: str, parse: Callable[[object, str], Decimal] = non_negative) -> int:
    """``raw`` parsed, as an integer count of ``10**-decimals``; refuses finer inputs."""
    value = parse(raw, field)
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise InvalidInput(f"{field} {value} has more than {decimals} decimals")
    return int(scaled)


def drift_base_to_cover_shortage(
    margin_shortage: NumberLike,
    margin_ratio: NumberLike,
    liquidation_fee: NumberLike,
    if_liquidation_fee: NumberLike,
    oracle_price: NumberLike,
    quote_oracle_price: NumberLike = 1,
) -> Decimal | None:
    """Base amount a Drift liquidator must take over to cover a margin shortage.

    Drift ``calculate_base_asset_amount_to_cover_margin_shortage``, in its precisions::

        base = shortage / (⌊⌊P × Pq⌋ × (margin_ratio − fee)⌋ − ⌊P × if_fee⌋)

    ``P`` the oracle price and ``Pq`` the quote asset's oracle price (quote per base, 1e-6),
    ``margin_ratio`` a fraction (1e-4), fees fractions (1e-6), shortage in quote (1e-6).
    Each bracket truncates to 1e-6 and the base truncates to 1e-9, as Drift's integer
    ``div`` does. Transferring one base unit frees ``margin_ratio`` of its value and costs
    the liquidation fee and the insurance-fund fee. Returns ``None`` when
    ``margin_ratio ≤ fee`` (Drift returns ``u64::MAX``: take the whole position); raises
    ``InvalidInput`` when the if fee leaves a non-positive denominator (Drift errors).

    Example (vector DR-LQ-2): shortage 10, ratio 0.10, no fees, P 100, Pq 0.99 →
    ``10 / 9.9 = 1.0101010101…`` → 1.010101010.

    Source: drift-labs/protocol-v2 ``programs/drift/src/math/liquidation.rs``.
    """
    shortage = _fixed(margin_shortage, _DRIFT_QUOTE_DECIMALS, "margin_shortage")
    ratio = _fixed(margin_ratio, _DRIFT_MARGIN_DECIMALS, "margin_ratio")
    ratio *= 10 ** (_DRIFT_FEE_DECIMALS - _DRIFT_MARGIN_DECIMALS)  # LIQUIDATION_FEE_TO_MARGIN_PRECISION_RATIO
    fee = _fixed(liquidation_fee, _DRIFT_FEE_DECIMALS, "liquidation_fee")
    if_fee = _fixed(if_liquidation_fee, _DRIFT_FEE_DECIMALS, "if_liquidation_fee")
    price = _fixed(oracle_price, _DRIFT_PRICE_DECIMALS, "oracle_price", positive)
    quote_price = _fixed(quote_oracle_price, _DRIFT_PRICE_DECIMALS, "quote_oracle_price", positive)
    if ratio <= fee:
        return None
    one_price, one_fee = 10**_DRIFT_PRICE_DECIMALS, 10**_DRIFT_FEE_DECIMALS
    freed = price * quote_price // one_price * (ratio - fee) // one_fee
    denominator = freed - price * if_fee // one_fee
    if denominator <= 0:
        raise InvalidInput("insurance-fund fee leaves no margin freed per base; no amount covers the shortage")
    # shortage(1e6) × PRICE_TIMES_AMM_TO_QUOTE_PRECISION_RATIO(1e9) / price(1e6) = base(1e9)
    base = shortage * 10 ** (_DRIFT_PRICE_DECIMALS + _DRIFT_BASE_DECIMALS - _DRIFT_QUOTE_DECIMALS) // denominator
    return Decimal(base).scaleb(-_DRIFT_BASE_DECIMALS)


def drift_socialized_loss_per_base(
    loss: NumberLike,
    base_long: NumberLike,
    base_short: NumberLike,
) -> Decimal:
    """Quote per base unit charged to every open position to socialise a bankrupt loss.

    Drift ``calculate_funding_rate_deltas_to_resolve_bankruptcy``::

        per_base = ⌈|loss| / (|base_long| + |base_short|)⌉     (to 1e-6 quote per base)

    Longs and shorts both pay it (Drift adds it to the long cumulative funding rate and
    subtracts it from the short one, stored ×1000 in 1e9 funding precision). ``loss`` in
    quote (sign ignored, 1e-6), base amounts in base units (1e-9). Rounded up
    (``div_ceil``), so the charges cover at least the loss. No open interest → ``InvalidInput``.

    Example (vector DR-LQ-14): loss −100 over 7 long + 4 short →
    ``⌈100/11⌉ = ⌈9.0909090…⌉ = 9.090910``.

    Source: drift-labs/protocol-v2 ``programs/drift/src/math/liquidation.rs``.
    """
    loss_quote = abs(_fixed(loss, _DRIFT_QUOTE_DECIMALS, "loss", to_decimal))
    longs = abs(_fixed(base_long, _DRIFT_BASE_DECIMALS, "base_long", to_decimal))
    shorts = abs(_fixed(base_short, _DRIFT_BASE_DECIMALS, "base_short", to_decimal))
    total_base = longs + shorts
    if total_base == 0:
        raise InvalidInput("cannot socialise a loss with no open interest")
    per_base = -(-loss_quote * 10**_DRIFT_BASE_DECIMALS // total_base)  # ceiling division
    return Decimal(per_base).scaleb(-_DRIFT_QUOTE_DECIMALS)



def drift_liquidator_fee(
    base_fee: NumberLike,
    max_fee: NumberLike,
    elapsed: int,
    grace: int,
    increase_per_unit: NumberLike,
) -> Decimal:
    """Drift's escalating liquidator fee: the base fee, rising linearly after a grace period.

    Drift ``get_liquidation_fee``::

        fee = base_fee                                         if elapsed < grace
            = min(base_fee + elapsed × increase_per_unit, max_fee)   otherwise

    ``elapsed`` and ``grace`` in one time unit (Drift counts slots; the engine passes
    milliseconds with ``increase_per_unit`` per millisecond), fees as fractions. Once past
    the grace period the increase counts from zero elapsed, as Drift's does. A ``max_fee``
    below ``base_fee`` leaves the base fee (the cap never lowers it).

    Example: base 0.5 %, cap 5 %, grace 600,000 ms, 2.5e-9 per ms (Drift: 1e-6 per 400 ms
    slot): at 599,999 ms → 0.005; at 1,000,000 ms → ``0.005 + 0.0025 = 0.0075``; at
    30,000,000 ms → ``min(0.08, 0.05) = 0.05``.

    Source: drift-labs/protocol-v2 ``programs/drift/src/math/liquidation.rs``.
    """
    base = non_negative(base_fee, "base_fee")
    cap = non_negative(max_fee, "max_fee")
    for value, name in ((elapsed, "elapsed"), (grace, "grace")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInput(f"{name} must be an integer >= 0")
    if elapsed < grace:
        return base
    return max(base, min(base + elapsed * non_negative(increase_per_unit, "increase_per_unit"), cap))
