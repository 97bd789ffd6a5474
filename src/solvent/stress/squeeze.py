"""A squeeze into the backstop, run on the engine itself (realism.md S9 and RC-18: the
2025-03-26 Hyperliquid JELLY event).

A whale opens a short of ``notional`` at ``leverage`` against a group of longs (in JELLY, the
attacker's own accounts) on a market with no depth to absorb a liquidation, so that the
venue's backstop (Hyperliquid's liquidator vault) takes the short over once the whale falls
below its maintenance margin. The price then rises linearly from ``start_price`` to
``rise × start_price`` over ``minutes`` one-minute steps (JELLY rose more than 4×, [R28]), and
the vault's loss on the short is followed minute by minute.

Two vaults, the same path:

* **shared**: the vault's capital is the whole pool (``pool``: HLP was about $230M), and it
  has no loss limit: it carries the loss however far the price goes, and ADL never fires
  (what happened: HLP was down about $12M unrealised);
* **capped**: the vault holds ``cap × pool`` and deleverages at ``loss_limit`` of its capital
  (``LiquidationPolicy.backstop_loss_limit``, Hyperliquid's rule since; ``docs/liquidation.md``).

Hyperliquid publishes neither the cap nor the threshold; ``cap`` (5 %) and ``loss_limit``
(one half) are judgement. The engine is the venue's profile with the stress configuration's
guards (every price believed: ``policy.NO_JUMP_GUARD``, no price band), so the path runs as
given. The vault's capital, its loss and ADL are read from the engine's own state and events.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from solvent.engine import commands as c
from solvent.engine.config import EngineConfig, LiquidationPolicy
from solvent.engine.core import Engine
from solvent.engine.events import AutoDeleveraged, BackstopLossLimit, LiquidationStep
from solvent.engine.liquidity import BookDepth
from solvent.engine.venue_rules import effective_policy
from solvent.errors import InvalidInput, InvariantViolation
from solvent.risk.venues import load_venue
from solvent.stress.policy import NO_JUMP_GUARD
from solvent.units import ONE, ZERO, exact, round_down

__all__ = ["SqueezeParams", "SqueezeRun", "run_squeeze"]

_SOURCE = "squeeze"
_MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class SqueezeParams:
    """The squeeze (module docstring); amounts in the venue's settlement asset."""

    venue: str = "hyperliquid"
    symbol: str = "SOL"
    start_price: Decimal = Decimal(100)
    rise: Decimal = Decimal(4)
    minutes: int = 60
    notional: Decimal = Decimal(4_000_000)
    """The whale's short at the start price ($4M in JELLY, [R28])."""
    leverage: Decimal = Decimal(20)
    """The whale's leverage: its deposit is ``notional ÷ leverage`` (SOL's maximum on Hyperliquid)."""
    longs: int = 5
    """Accounts holding the long side, equally, each at 1× (its deposit is its notional)."""
    pool: Decimal = Decimal(230_000_000)
    """The backstop pool's value (HLP, about $230M–$240M at the time, [R28])."""
    cap: Decimal = Decimal("0.05")
    """The capped vault's share of the pool (judgement: "a small percentage", [R28])."""
    loss_limit: Decimal = Decimal("0.5")
    """The capped vault's loss limit, a fraction of its capital (judgement: not published)."""

    def check(self) -> None:
        """Refuse a squeeze the engine cannot run, naming the field (``InvalidInput``)."""
        bounds = {"start_price": (ZERO, Decimal(10) ** 6), "notional": (ZERO, Decimal(10) ** 10),
                  "leverage": (ZERO, Decimal(1000)), "pool": (ZERO, Decimal(10) ** 12), "cap": (ZERO, ONE),
                  "loss_limit": (ZERO, ONE), "rise": (ONE, Decimal(100))}
        for name, (low, high) in bounds.items():
            value = getattr(self, name)
            if not isinstance(value, Decimal):
                raise InvalidInput(f"squeeze: {name} must be a Decimal, got {type(value).__name__} {value!r}")
            if not value.is_finite() or not low < value <= high:
                raise InvalidInput(f"squeeze: {name} must lie in ({low}, {high}], got {value}"
                                   + (" (a squeeze goes up)" if name == "rise" else ""))
        for name, most in (("minutes", 10_000), ("longs", 1_000)):
            count = getattr(self, name)
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= most:
                raise InvalidInput(f"squeeze: {name} must be a whole number from 1 to {most:,}, got {count!r}")


@dataclass(frozen=True, slots=True)
class SqueezeRun:
    """One vault through the squeeze."""

    capital: Decimal
    """What the vault was given (its deposit) before the squeeze."""
    loss_limit: Decimal | None
    takeover_minute: int | None
    """The minute the vault took the short over (``None``: it never did)."""
    losses: tuple[Decimal, ...]
    """The vault's loss at the end of each minute: what it was given less its equity (realised
    and unrealised; negative: a gain)."""
    adl_minute: int | None
    """The first minute the vault's loss limit deleveraged it (``None``: never)."""
    adl_events: int
    adl_quantity: Decimal
    loss_at_adl: Decimal
    """The loss the vault had when its limit fired, as the engine counts it (``BackstopLossLimit``:
    against its capital then, the collateral it took over included; 0 without ADL). ``losses``
    count against what it was given, so the two differ by that collateral."""
    capital_at_adl: Decimal

    @property
    def max_loss(self) -> Decimal:
        return max(self.losses, default=ZERO)


def _config(p: SqueezeParams, loss_limit: Decimal | None) -> EngineConfig:
    profile = load_venue(p.venue)
    instrument = profile.instrument(p.symbol)
    policy = LiquidationPolicy(liquidity=BookDepth({}), backstop_loss_limit=loss_limit)
    config = EngineConfig(profile, settle_asset=instrument.settle, liquidation=policy, volatility_mm=False,
                          jump_guard=NO_JUMP_GUARD, price_band=None)
    effective = effective_policy(config)
    if effective is None or effective.backstop_account is None:
        raise InvalidInput(f"squeeze: {p.venue} has no backstop (its liquidation policy is not 'backstop')")
    return config


def _price(p: SqueezeParams, minute: int, tick: Decimal) -> Decimal:
    """The path's price after ``minute`` minutes: linear to ``rise × start``, rounded down to the tick."""
    return round_down(p.start_price * (ONE + (p.rise - ONE) * minute / p.minutes), tick)


@exact
def run_squeeze(p: SqueezeParams, *, capped: bool) -> SqueezeRun:
    """The squeeze with the shared vault (``capped=False``) or the capped one (module docstring)."""
    if not isinstance(p, SqueezeParams) or not isinstance(capped, bool):
        raise InvalidInput("squeeze: give SqueezeParams and capped=True or False")
    p.check()
    limit = p.loss_limit if capped else None
    config = _config(p, limit)
    policy = effective_policy(config)
    assert policy is not None and policy.backstop_account is not None
    vault = policy.backstop_account
    settle = config.settle_asset
    tick = config.price_step(p.symbol)
    lot = config.profile.instrument(p.symbol).lot
    capital = p.pool * p.cap if capped else p.pool
    engine = Engine(config, checked=False)  # a simulation: the jump guard is off on purpose
    each = round_down(p.notional / p.start_price / p.longs, lot)
    if each <= 0:
        raise InvalidInput("squeeze: the notional is less than a lot per long")
    setup: list[c.Command] = [c.AdvanceTime(_MINUTE_MS), c.Deposit(vault, settle, capital),
                              c.Deposit("whale", settle, p.notional / p.leverage)]
    setup += [c.Deposit(f"long-{i}", settle, p.notional / p.longs) for i in range(p.longs)]
    setup.append(c.PriceUpdate(p.symbol, _SOURCE, p.start_price))
    setup += [c.Fill(f"open-{i}", p.symbol, p.start_price, each, f"long-{i}", "whale") for i in range(p.longs)]
    for cmd in setup:
        result = engine.apply(cmd)
        if not result.accepted:
            raise InvalidInput(f"squeeze: the setup's {type(cmd).__name__} was refused: {result.denial}")
    losses: list[Decimal] = []
    takeover = adl_minute = None
    adl_events, adl_qty, loss_at, capital_at = 0, ZERO, ZERO, ZERO
    for minute in range(1, p.minutes + 1):
        events = engine.apply(c.AdvanceTime((minute + 1) * _MINUTE_MS)).events
        result = engine.apply(c.PriceUpdate(p.symbol, _SOURCE, _price(p, minute, tick)))
        if not result.accepted:
            raise InvariantViolation(f"squeeze: minute {minute}'s price was refused: {result.denial}")
        for ev in (*events, *result.events):
            if isinstance(ev, LiquidationStep) and ev.kind != "book" and takeover is None:
                takeover = minute
            elif isinstance(ev, BackstopLossLimit) and adl_minute is None:
                adl_minute, loss_at, capital_at = minute, ev.loss, ev.capital
            elif isinstance(ev, AutoDeleveraged) and ev.account_id == vault:
                adl_events += 1
                adl_qty += ev.qty
        losses.append(capital - engine.margin(vault).equity)
    return SqueezeRun(capital, limit, takeover, tuple(losses), adl_minute, adl_events, adl_qty, loss_at, capital_at)
