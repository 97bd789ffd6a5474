"""Parameter changes: a running venue adopts new parameters (``ChangeParams``).

Venues change their risk parameters while positions are open: a new tier table (Binance and
Bybit publish leverage-bracket changes with a date), other margin-call ratios, a new
liquidation fee, a haircut. ``ChangeParams(config)`` is that change as an input: the engine
takes the whole new ``EngineConfig`` at a point of the command stream, every account holding
a position is re-margined under it at once (margin calls and liquidations follow as after a
price move), and the journal records the change as a ``params`` record, so that replay,
certificates and audits use the rules that were in force at each record.

What may not change, because the state already counts in it (``params_problem``): the
settlement asset and the money quantum (every amount is on that quantum), an instrument any
account holds a position or an order in (its kind, base, quote, settlement asset, contract
size and expiry: a position's quantity and cost mean nothing under another contract), and a
collateral asset an account holds. The profile keeps its venue (its ``name``); its tiers,
rates, fees, ticks and lots, and every other setting, may change.

The state holds a digest of the configuration in force from the first change on
(``EngineState.params``), so the state hash binds the rules in force. A journaled engine names
the configuration by SHA-256 of its ``params`` record's ``config`` as recorded
(``journal/codec.py`` ``params_record_digest``): bytes that stay the same when a later solvent
adds a configuration field. An engine without a journal takes ``params_digest``, SHA-256 of the
generic encoding of the configuration (``state_digest.encode``).
"""

from __future__ import annotations

import hashlib

from solvent.engine.config import EngineConfig
from solvent.engine.denials import Denial, DenyCode
from solvent.engine.state import EngineState
from solvent.engine.state_digest import canonical_bytes

__all__ = ["params_digest", "params_problem"]

_FIXED_FIELDS = ("kind", "base", "quote", "settle", "contract_size", "expiry_ms")
"""What an instrument in use keeps across a parameter change."""


def params_digest(config: EngineConfig) -> str:
    """SHA-256 (hex) of the configuration's canonical encoding."""
    return hashlib.sha256(canonical_bytes(config)).hexdigest()


def _refusal(reason: str, **context: str) -> Denial:
    return Denial.of(DenyCode.PARAMS_INCOMPATIBLE, reason=reason, **context)


def params_problem(state: EngineState, old: EngineConfig, new: EngineConfig) -> Denial | None:
    """Why ``new`` cannot replace ``old`` on ``state`` (``None``: it can)."""
    if new.profile.name != old.profile.name:
        return _refusal("a parameter change keeps the venue", profile=new.profile.name, venue=old.profile.name)
    if new.settle_asset != old.settle_asset:
        return _refusal("the settlement asset is fixed", settle_asset=new.settle_asset, held=old.settle_asset)
    if new.money_quantum != old.money_quantum:
        return _refusal("every amount is on the money quantum", money_quantum=str(new.money_quantum),
                        held=str(old.money_quantum))
    used: set[str] = set()
    held: set[str] = set()
    for acc in state.accounts.values():
        used.update(pos.symbol for pos in acc.positions.values() if pos.qty)
        used.update(order.symbol for order in acc.orders.values())
        held.update(asset for asset, amount in acc.balances.items() if amount and asset != old.settle_asset)
    for symbol in sorted(used):
        before, after = old.profile.instruments.get(symbol), new.profile.instruments.get(symbol)
        if after is None:
            return _refusal("an instrument in use stays listed", symbol=symbol)
        if before is not None and any(getattr(before, f) != getattr(after, f) for f in _FIXED_FIELDS):
            changed = next(f for f in _FIXED_FIELDS if getattr(before, f) != getattr(after, f))
            return _refusal("an instrument in use keeps its contract", symbol=symbol, field=changed)
    for asset in sorted(held):
        if asset not in new.collateral:
            return _refusal("a collateral asset accounts hold stays collateral", asset=asset)
    return None
