"""Position sizing: the largest position a wallet can open at a leverage.

For a linear instrument the initial margin plus the opening fee must fit in the wallet, and
the leverage must be allowed by the tier holding the resulting notional::

    notional / leverage + notional × fee_rate ≤ wallet
    ⇒ notional_max = min(wallet / (1/leverage + fee_rate), cap of the last tier allowing leverage)

The quantity is ``notional_max / (price × contract_size)`` (inverse:
``notional_max × price / contract_size``), rounded **down** to the lot size: an allowed
size is never over-stated (to 1e-8 when the instrument has no lot size).

Worked example: 1,000 USDT at 20× on Binance BTCUSDT at 50,000 with no fee: notional
20,000 (inside the 150× first bracket), so 0.4 BTC.
"""

from __future__ import annotations

from decimal import Decimal

from solvent.errors import InvalidInput
from solvent.model import Instrument
from solvent.risk.rules import MarginRules
from solvent.units import ONE, ZERO, exact, plain, require_decimals, round_down

__all__ = ["max_position_qty"]


@exact
def max_position_qty(
    wallet: Decimal,
    price: Decimal,
    leverage: Decimal,
    instrument: Instrument,
    rules: MarginRules,
    fee_rate: Decimal = ZERO,
) -> Decimal:
    """Largest quantity (base units, or contracts for inverse) the wallet can open."""
    require_decimals("max_position_qty", wallet=wallet, price=price, leverage=leverage, fee_rate=fee_rate)
    if wallet < 0 or price <= 0 or leverage < 1 or fee_rate < 0:
        raise InvalidInput("need wallet >= 0, price > 0, leverage >= 1 and fee_rate >= 0")
    table = rules.maintenance_table(ONE)
    cap = table.max_notional_for_leverage(leverage)
    if cap == 0:
        raise InvalidInput(
            f"leverage {plain(leverage)} exceeds the maximum {plain(table.tiers[0].max_leverage)} of every tier"
        )
    by_wallet = wallet * leverage / (ONE + fee_rate * leverage)  # = wallet / (1/lev + fee); exact at fee 0
    lot = instrument.lot
    qty = round_down(_qty_for(instrument, min(by_wallet, cap), price), lot)
    # A notional exactly at an inner tier's cap belongs to the next tier (floor <= n < cap).
    if cap != table.max_notional and instrument.notional(qty, price) >= cap:
        qty -= lot
    return max(qty, ZERO)


def _qty_for(instrument: Instrument, notional: Decimal, price: Decimal) -> Decimal:
    if instrument.is_inverse:
        return notional * price / instrument.contract_size
    return notional / (price * instrument.contract_size)
