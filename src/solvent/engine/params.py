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
collateral asset an account holds; the liquidation policy's book and backstop accounts (they
hold the venue's side of past liquidations). The profile keeps its venue (its ``name``); its
tiers, rates, fees, ticks and lots, and every other setting, may change, within the bounds
``setting_problem`` checks (a configuration from the network must not be able to stop the venue:
a funding interval of 0 divided by zero at the next clock step, a negative margin-call ratio
called every holder).

The state holds a digest of the configuration in force from the first change on
(``EngineState.params``), so the state hash binds the rules in force. A journaled engine names
the configuration by SHA-256 of its ``params`` record's ``config`` as recorded
(``journal/codec.py`` ``params_record_digest``): bytes that stay the same when a later solvent
adds a configuration field. An engine without a journal takes ``params_digest``, SHA-256 of the
generic encoding of the configuration (``state_digest.encode``).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from solvent.engine.config import EngineConfig
from solvent.engine.denials import Denial, DenyCode
from solvent.engine.liquidity import SquareRootImpact
from solvent.engine.state import EngineState
from solvent.engine.state_digest import canonical_bytes
from solvent.errors import InvalidInput

__all__ = ["admission_problem", "params_digest", "params_problem", "setting_problem"]

_FIXED_FIELDS = ("kind", "base", "quote", "settle", "contract_size", "expiry_ms")
"""What an instrument in use keeps across a parameter change."""


def params_digest(config: EngineConfig) -> str:
    """SHA-256 (hex) of the configuration's canonical encoding."""
    return hashlib.sha256(canonical_bytes(config)).hexdigest()


def _refusal(reason: str, **context: str) -> Denial:
    return Denial.of(DenyCode.PARAMS_INCOMPATIBLE, reason=reason, **context)


_MARK_RULES = frozenset({"index_plus_basis", "median_of_three"})
_MAX_RATE = Decimal("0.1")
"""The highest fee or liquidation-fee rate a change may set (10 %: every venue's is below 2 %)."""


def _within(value: Decimal | None, low: Decimal, high: Decimal | None = None, *, open_low: bool = False) -> bool:
    """``value`` is a finite number in [low, high] (or (low, high] with ``open_low``)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        return False
    return (value > low if open_low else value >= low) and (high is None or value <= high)


def _has_backstop(config: EngineConfig) -> bool:
    from solvent.engine.venue_rules import effective_policy  # venue_rules imports the engine context

    policy = effective_policy(config)
    return policy is not None and policy.backstop_account is not None


def setting_problem(config: EngineConfig) -> Denial | None:
    """The first setting of ``config`` outside what the engine can run on (``None``: all are)."""
    t = config.thresholds
    checks: list[tuple[bool, str, str]] = [
        (_within(t.hysteresis, Decimal(0)) and _within(t.warning, t.hysteresis, open_low=True)
         and _within(t.margin_call, t.warning, Decimal(1)), "thresholds",
         "0 <= hysteresis < warning <= margin_call <= 1"),
        (_within(config.taker_fee_rate, Decimal(0), _MAX_RATE), "taker_fee_rate", "0 to 0.1"),
        (_within(config.money_quantum, Decimal(0), Decimal(1), open_low=True), "money_quantum", "> 0, at most 1"),
        (config.default_leverage is None or _within(config.default_leverage, Decimal(1), Decimal(1000)),
         "default_leverage", "1 to 1000, or none"),
        (config.max_position_notional is None or _within(config.max_position_notional, Decimal(0), open_low=True),
         "max_position_notional", "> 0, or none"),
        (all(s in config.profile.instruments and _within(v, Decimal(0), open_low=True)
             for s, v in config.max_open_interest.items()), "max_open_interest", "> 0 per listed instrument"),
        (isinstance(config.funding_interval_ms, int) and 60_000 <= config.funding_interval_ms <= 7 * 86_400_000,
         "funding_interval_ms", "1 minute to 7 days"),
        (all(_within(v, Decimal(0), Decimal(1)) for v in (config.funding_interest_rate, config.funding_clamp,
                                                          config.funding_cap)),
         "funding", "interest rate, clamp and cap 0 to 1"),
        (isinstance(config.settlement_window_ms, int) and 1_000 <= config.settlement_window_ms <= 86_400_000,
         "settlement_window_ms", "1 second to a day"),
        (config.mark_rule in _MARK_RULES, "mark_rule", " or ".join(sorted(_MARK_RULES))),
        (_within(config.index.max_deviation, Decimal(0), Decimal(1), open_low=True)
         and isinstance(config.index.staleness_ms, int) and 1_000 <= config.index.staleness_ms <= 3_600_000
         and isinstance(config.index.min_sources, int) and 1 <= config.index.min_sources <= 16, "index",
         "max_deviation in (0, 1], staleness_ms 1 s to 1 h, min_sources 1 to 16"),
        (_within(config.jump_guard.max_jump, Decimal(0), Decimal(1), open_low=True)
         and isinstance(config.jump_guard.confirmations, int) and 1 <= config.jump_guard.confirmations <= 100
         and _within(config.jump_guard.tolerance, Decimal(0), Decimal(1)), "jump_guard",
         "max_jump in (0, 1], confirmations 1 to 100, tolerance 0 to 1"),
        (config.price_band is None or _within(config.price_band, Decimal("0.01"), Decimal(10)), "price_band",
         "0.01 to 10, or none"),
    ]
    policy = config.liquidation
    if policy is not None:
        liquidity = policy.liquidity
        checks += [
            (_within(policy.backstop_threshold, Decimal(0), Decimal(1)) and _within(
                policy.target_buffer, Decimal(0), Decimal(10)) and _within(policy.exit_buffer, Decimal(0), Decimal(1)),
             "liquidation", "backstop_threshold 0 to 1, target_buffer 0 to 10, exit_buffer 0 to 1"),
            ((policy.chunk_fraction is None or _within(policy.chunk_fraction, Decimal("0.01"), Decimal(1)))
             and _within(policy.chunk_min_notional, Decimal(0)) and isinstance(policy.cooldown_ms, int)
             and 0 <= policy.cooldown_ms <= 86_400_000, "liquidation",
             "chunk_fraction 0.01 to 1, chunk_min_notional >= 0, cooldown_ms 0 to a day"),
            (policy.backstop_loss_limit is None or _within(policy.backstop_loss_limit, Decimal(0), Decimal(1),
                                                           open_low=True),
             "liquidation", "backstop_loss_limit in (0, 1]"),
            (policy.backstop_loss_limit is None or _has_backstop(config), "liquidation",
             "backstop_loss_limit only where the liquidation procedure has a backstop"),
            ((policy.fee_rate is None or _within(policy.fee_rate, Decimal(0), _MAX_RATE))
             and _within(policy.collateral_conversion_penalty, Decimal(0), Decimal(1)), "liquidation",
             "fee_rate 0 to 0.1, collateral_conversion_penalty 0 to 1"),
            (not isinstance(liquidity, SquareRootImpact) or (
                _within(liquidity.k, Decimal(0), Decimal(10)) and _within(liquidity.default_depth, Decimal(0))
                and _within(liquidity.max_depth_fraction, Decimal("0.001"), Decimal(1))
                and all(_within(d, Decimal(0)) for d in liquidity.depth_notional.values())),
             "liquidation.liquidity", "k 0 to 10, depths >= 0 (0: the book takes nothing), "
             "max_depth_fraction 0.001 to 1"),
        ]
    for ok, setting, bounds in checks:
        if not ok:
            return _refusal("a setting is outside what the engine runs on", setting=setting, allowed=bounds)
    return None


def refuse_settings(config: EngineConfig) -> None:
    """``InvalidInput`` naming the first setting of ``config`` outside what the engine runs on
    (``setting_problem``): what building an ``Engine`` from a configuration checks."""
    bad = setting_problem(config)
    if bad is not None:
        context = dict(bad.context)
        raise InvalidInput(f"EngineConfig.{context.get('setting', '?')}: outside what the engine runs on "
                           f"(allowed: {context.get('allowed', '?')})")


def admission_problem(old: EngineConfig, new: EngineConfig) -> Denial | None:
    """What a new parameter change must also meet (not re-checked when a journal replays one):
    settings inside what the engine runs on, and the venue keeps whether it liquidates and its
    book and backstop accounts (switching the policy off and on again could otherwise move the
    book onto a trader's account)."""
    bad = setting_problem(new)
    if bad is not None:
        return bad
    if (old.liquidation is None) != (new.liquidation is None):
        return _refusal("a parameter change keeps whether the venue liquidates",
                        liquidation="on" if old.liquidation is not None else "off")
    for name in ("book_account", "backstop_account"):
        before = getattr(old.liquidation, name, None)
        if before != getattr(new.liquidation, name, None):
            return _refusal("the liquidation policy keeps its accounts", account=name, held=str(before))
    return None


def params_problem(state: EngineState, old: EngineConfig, new: EngineConfig) -> Denial | None:
    """Why ``new`` cannot replace ``old`` on ``state`` (``None``: it can); the admission checks
    are the caller's (``admission_problem``)."""
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
