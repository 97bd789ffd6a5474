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
import inspect
from collections.abc import Mapping
from decimal import Decimal

from solvent.engine.config import REPLAY_ONLY_OFF, AdlRanking, EngineConfig, highest_leverage
from solvent.engine.denials import Denial, DenyCode
from solvent.engine.liquidity import SquareRootImpact
from solvent.engine.state import EngineState
from solvent.engine.state_digest import canonical_bytes
from solvent.errors import InvalidInput
from solvent.risk.volatility import VolatilityMMRule
from solvent.units import plain

__all__ = ["admission_problem", "params_digest", "params_problem", "setting_problem"]

_FIXED_FIELDS = ("kind", "base", "quote", "settle", "contract_size", "expiry_ms")
"""What an instrument in use keeps across a parameter change."""


def params_digest(config: EngineConfig) -> str:
    """SHA-256 (hex) of the configuration's canonical encoding."""
    return hashlib.sha256(canonical_bytes(config)).hexdigest()


def _refusal(reason: str, **context: str) -> Denial:
    return Denial.of(DenyCode.PARAMS_INCOMPATIBLE, reason=reason, **context)


_MARK_RULES = frozenset({"index_plus_basis", "median_of_three"})
_ZERO, _ONE = Decimal(0), Decimal(1)
_MAX_RATE = Decimal("0.1")
"""The highest fee or liquidation-fee rate a change may set (10 %: every venue's is below 2 %)."""


def _takes_taken(model: object) -> bool:
    """Whether ``model.execution_price`` takes the ``taken`` argument revision 8 passes once a
    command's orders have taken from a side of the book (``engine/liquidity.py``): a model
    written for the five-argument call would fail at a command's second order."""
    method = getattr(model, "execution_price", None)
    if not callable(method):
        return True  # refused as no liquidity model at all
    try:
        inspect.signature(method).bind("symbol", "side", "qty", "mark", "tick", "taken")
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin): it is called as it is
        return True
    return True


def _within(value: Decimal | None, low: Decimal, high: Decimal | None = None, *, open_low: bool = False) -> bool:
    """``value`` is a finite number in [low, high] (or (low, high] with ``open_low``)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        return False
    return (value > low if open_low else value >= low) and (high is None or value <= high)


def _has_backstop(config: EngineConfig) -> bool:
    from solvent.engine.venue_rules import effective_policy  # venue_rules imports the engine context

    policy = effective_policy(config)
    return policy is not None and policy.backstop_account is not None


def _number(value: object, low: Decimal, high: Decimal | None = None, *, open_low: bool = False,
            optional: bool = False) -> bool:
    """``value`` is a ``Decimal`` in the bounds (``_within``), or ``None`` where ``optional``."""
    return (optional and value is None) or _within(value, low, high, open_low=open_low)  # type: ignore[arg-type]


def _count(value: object, low: int, high: int) -> bool:
    """``value`` is an ``int`` (not a ``bool``) in ``[low, high]``."""
    return type(value) is int and low <= value <= high


_Check = tuple[bool, str, str, object]
"""(the setting is good, its name, what is allowed, its value)."""


def _policy_checks(config: EngineConfig) -> list[_Check]:
    policy = config.liquidation
    if policy is None:
        return []
    liquidity = policy.liquidity
    name = "liquidation."
    checks: list[_Check] = [
        (_number(policy.backstop_threshold, _ZERO, _ONE), name + "backstop_threshold", "0 to 1",
         policy.backstop_threshold),
        (_number(policy.target_buffer, _ZERO, Decimal(10)), name + "target_buffer", "0 to 10", policy.target_buffer),
        (_number(policy.exit_buffer, _ZERO, _ONE), name + "exit_buffer", "0 to 1", policy.exit_buffer),
        (_number(policy.chunk_fraction, Decimal("0.01"), _ONE, optional=True), name + "chunk_fraction",
         "0.01 to 1, or none", policy.chunk_fraction),
        (_number(policy.chunk_min_notional, _ZERO), name + "chunk_min_notional", ">= 0", policy.chunk_min_notional),
        (_count(policy.cooldown_ms, 0, 86_400_000), name + "cooldown_ms", "an int, 0 to a day", policy.cooldown_ms),
        (_number(policy.backstop_loss_limit, _ZERO, _ONE, open_low=True, optional=True),
         name + "backstop_loss_limit", "in (0, 1], or none", policy.backstop_loss_limit),
        (policy.backstop_loss_limit is None or _has_backstop(config), name + "backstop_loss_limit",
         "none: the liquidation procedure has no backstop", policy.backstop_loss_limit),
        (_number(policy.fee_rate, _ZERO, _MAX_RATE, optional=True), name + "fee_rate", "0 to 0.1, or none",
         policy.fee_rate),
        (_number(policy.collateral_conversion_penalty, _ZERO, _ONE), name + "collateral_conversion_penalty",
         "0 to 1", policy.collateral_conversion_penalty),
    ]
    if isinstance(liquidity, SquareRootImpact):
        name = "liquidation.liquidity."
        checks += [
            (_number(liquidity.k, _ZERO, Decimal(10)), name + "k", "0 to 10", liquidity.k),
            (_number(liquidity.default_depth, _ZERO), name + "default_depth", ">= 0 (0: the book takes nothing)",
             liquidity.default_depth),
            (_number(liquidity.max_depth_fraction, Decimal("0.001"), _ONE), name + "max_depth_fraction",
             "0.001 to 1", liquidity.max_depth_fraction),
            (all(_number(d, _ZERO) for d in liquidity.depth_notional.values()), name + "depth_notional",
             ">= 0 per symbol", dict(liquidity.depth_notional)),
        ]
    return checks


def _structure_checks(config: EngineConfig) -> list[_Check]:
    """The settings' types, before anything reads into them (``thresholds=None`` would raise)."""
    from solvent.engine.config import HistoryBounds, LevelThresholds, LiquidationPolicy
    from solvent.market import IndexConfig, JumpGuardConfig

    checks: list[_Check] = [
        (isinstance(config.thresholds, LevelThresholds), "thresholds", "a LevelThresholds", config.thresholds),
        (isinstance(config.index, IndexConfig), "index", "an IndexConfig", config.index),
        (isinstance(config.jump_guard, JumpGuardConfig), "jump_guard", "a JumpGuardConfig", config.jump_guard),
        (config.history is None or isinstance(config.history, HistoryBounds), "history", "a HistoryBounds or None",
         config.history),
        (isinstance(config.max_open_interest, Mapping), "max_open_interest", "a mapping of symbol to Decimal",
         config.max_open_interest),
        (config.liquidation is None or isinstance(config.liquidation, LiquidationPolicy), "liquidation",
         "a LiquidationPolicy or None", config.liquidation),
    ]
    for name in REPLAY_ONLY_OFF:  # the rules' flags (``EngineConfig``), the one list of them
        value = getattr(config, name, True)
        checks.append((type(value) is bool, name, "true or false", value))
    volatility = config.volatility_mm
    checks.append((type(volatility) is bool or isinstance(volatility, VolatilityMMRule), "volatility_mm",
                   "true, false or a VolatilityMMRule", volatility))
    policy = config.liquidation
    if isinstance(policy, LiquidationPolicy):
        book, backstop = policy.book_account, policy.backstop_account
        checks += [
            (callable(getattr(policy.liquidity, "execution_price", None)), "liquidation.liquidity",
             "a liquidity model (SquareRootImpact, BookDepth)", policy.liquidity),
            (policy.revision < 8 or _takes_taken(policy.liquidity), "liquidation.liquidity.execution_price",
             "a method taking taken= (revision 8: the orders of a command walk the book; or set revision 7)",
             policy.liquidity),
            (isinstance(book, str) and bool(book), "liquidation.book_account", "a non-empty string", book),
            (backstop is None or (isinstance(backstop, str) and bool(backstop)), "liquidation.backstop_account",
             "None, or a non-empty string", backstop),
            (type(policy.adl) is bool, "liquidation.adl", "true or false", policy.adl),
            (type(policy.venue_rules) is bool, "liquidation.venue_rules", "true or false", policy.venue_rules),
            (isinstance(policy.adl_ranking, AdlRanking), "liquidation.adl_ranking",
             "an AdlRanking: " + " or ".join(r.value for r in AdlRanking), policy.adl_ranking),
            (not isinstance(policy.liquidity, SquareRootImpact) or isinstance(policy.liquidity.depth_notional, Mapping),
             "liquidation.liquidity.depth_notional", "a mapping of symbol to Decimal",
             getattr(policy.liquidity, "depth_notional", None)),
        ]
    return checks


def setting_problem(config: EngineConfig) -> Denial | None:
    """The first setting of ``config`` outside what the engine can run on (``None``: all are):
    a refusal naming the setting (``liquidation.fee_rate``), what is allowed and the value got.
    Amounts and rates are ``Decimal`` (an ``int`` or ``float`` is refused as not one, whatever
    its value); counts and milliseconds are ``int``."""
    for ok, setting, allowed, value in _structure_checks(config):
        if not ok:
            return _refusal("a setting is outside what the engine runs on", setting=setting, allowed=allowed,
                            got=_shown(value))
    t, index, guard = config.thresholds, config.index, config.jump_guard
    levels = {name: getattr(t, name) for name in ("hysteresis", "warning", "margin_call")}
    checks: list[_Check] = [
        *((isinstance(value, Decimal) and value.is_finite(), f"thresholds.{name}", "a finite Decimal", value)
          for name, value in levels.items()),
        (_number(t.hysteresis, _ZERO) and _number(t.warning, t.hysteresis, open_low=True)
         and _number(t.margin_call, t.warning, _ONE), "thresholds", "0 <= hysteresis < warning <= margin_call <= 1",
         _Plain(", ".join(f"{name}={value}" for name, value in levels.items()))),
        (_number(config.taker_fee_rate, _ZERO, _MAX_RATE), "taker_fee_rate", "0 to 0.1", config.taker_fee_rate),
        (_number(config.money_quantum, _ZERO, _ONE, open_low=True), "money_quantum", "> 0, at most 1",
         config.money_quantum),
        (_number(config.default_leverage, _ONE, Decimal(1000), optional=True), "default_leverage",
         "1 to 1000, or none", config.default_leverage),
        *_default_leverage_checks(config),
        (_number(config.max_position_notional, _ZERO, open_low=True, optional=True), "max_position_notional",
         "> 0, or none", config.max_position_notional),
        (all(s in config.profile.instruments and _number(v, _ZERO, open_low=True)
             for s, v in config.max_open_interest.items()), "max_open_interest", "> 0 per listed instrument",
         dict(config.max_open_interest)),
        (_count(config.funding_interval_ms, 60_000, 7 * 86_400_000), "funding_interval_ms",
         "an int, 1 minute to 7 days", config.funding_interval_ms),
        (_number(config.funding_interest_rate, _ZERO, _ONE), "funding_interest_rate", "0 to 1",
         config.funding_interest_rate),
        (_number(config.funding_clamp, _ZERO, _ONE), "funding_clamp", "0 to 1", config.funding_clamp),
        (_number(config.funding_cap, _ZERO, _ONE), "funding_cap", "0 to 1", config.funding_cap),
        (_count(config.settlement_window_ms, 1_000, 86_400_000), "settlement_window_ms",
         "an int, 1 second to a day", config.settlement_window_ms),
        (config.mark_rule in _MARK_RULES, "mark_rule", " or ".join(sorted(_MARK_RULES)), config.mark_rule),
        (_number(index.max_deviation, _ZERO, _ONE, open_low=True), "index.max_deviation", "in (0, 1]",
         index.max_deviation),
        (_count(index.staleness_ms, 1_000, 3_600_000), "index.staleness_ms", "an int, 1 s to 1 h",
         index.staleness_ms),
        (_count(index.min_sources, 1, 16), "index.min_sources", "an int, 1 to 16", index.min_sources),
        (_number(guard.max_jump, _ZERO, _ONE, open_low=True), "jump_guard.max_jump", "in (0, 1]", guard.max_jump),
        (_count(guard.confirmations, 1, 100), "jump_guard.confirmations", "an int, 1 to 100", guard.confirmations),
        (_number(guard.tolerance, _ZERO, _ONE), "jump_guard.tolerance", "0 to 1", guard.tolerance),
        (_number(config.price_band, Decimal("0.01"), Decimal(10), optional=True), "price_band", "0.01 to 10, or none",
         config.price_band),
        *_policy_checks(config),
    ]
    for ok, setting, allowed, value in checks:
        if not ok:
            return _refusal("a setting is outside what the engine runs on", setting=setting, allowed=allowed,
                            got=_shown(value))
    return None


def _default_leverage_checks(config: EngineConfig) -> list[_Check]:
    """``default_leverage`` on the venue's grid, and at most the highest leverage an instrument
    allows (``leverage_grid``: a genesis without it keeps what it had)."""
    lev = config.default_leverage
    if config.leverage_grid is not True or not isinstance(lev, Decimal) or not lev.is_finite():
        return []
    profile = config.profile
    highest = highest_leverage(profile)
    return [(profile.on_leverage_grid(lev), "default_leverage",
             f"a multiple of {profile.leverage_step}, the leverage step of {profile.name}", lev),
            (lev <= highest, "default_leverage",
             f"at most {plain(highest)}, the highest leverage an instrument of {profile.name} allows", lev)]


class _Plain(str):
    """A value already written out for a refusal (``_shown`` shows it as it is)."""


def _shown(value: object) -> str:
    """The value refused, with its type where that is the problem (a ``Decimal`` was expected)."""
    if isinstance(value, Decimal | _Plain) or value is None:
        return str(value)
    if isinstance(value, (int, float, str)):
        return f"{value!r} ({type(value).__name__})"
    return repr(value)[:200]


def refuse_settings(config: EngineConfig) -> None:
    """``InvalidInput`` naming the first setting of ``config`` outside what the engine runs on
    (``setting_problem``): what building an ``Engine`` from a configuration checks."""
    bad = setting_problem(config)
    if bad is not None:
        context = dict(bad.context)
        raise InvalidInput(f"EngineConfig.{context.get('setting', '?')}: outside what the engine runs on "
                           f"(allowed: {context.get('allowed', '?')}; got {context.get('got', '?')})")


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
    for name in REPLAY_ONLY_OFF:  # found by a new-user pass: amounts_on_quantum false let 10^-18 in
        if getattr(old, name) and not getattr(new, name):
            return _refusal("a rule in force stays in force (off only for journals written before it)",
                            rule=name)
    if old.liquidation is not None and new.liquidation is not None and (
            new.liquidation.revision < old.liquidation.revision):
        # the same for the liquidation arithmetic: an older revision is how journals written before replay
        return _refusal("the liquidation arithmetic's revision does not go back (older ones are for journals "
                        "written before)", revision=str(new.liquidation.revision),
                        held=str(old.liquidation.revision))
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
