"""What a cascade run records: liquidations, per-step figures, a summary and a digest.

Both cascade implementations fill the same records; ``CascadeResult.digest()`` hashes every
decision-bearing figure (liquidation sets, quantities, prices, fees, deficits, insurance
fund path, marks), so "fast == exact" and "run twice == same" are one string compare.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from solvent.stress.depeg import Depeg, DepegOutcome
from solvent.stress.money import held
from solvent.units import ZERO, plain, round_down, round_up

_MONEY_QUANTUM = Decimal("0.00000001")
_ROUNDED_UP = ("sold_quote", "bought_quote", "socialised_quote", "adl_loss", "adl_notional")
_ROUNDED_DOWN = ("fees_quote", "insurance_fund", "insurance_min")

__all__ = ["BackstopHolding", "CascadeResult", "Liquidation", "OpenInterest", "ResponseOutcome", "RoundOutcome",
           "StepRecord", "VoluntaryClose", "adl_loss"]


@dataclass(frozen=True, slots=True)
class Liquidation:
    """One account closed on the book in one round (sign +1: a long sold): in full at ``price``
    under the generic procedure; under a venue's (exact engine only) the round's steps added up,
    ``price`` being the first's. ``qty_base`` is the quantity (contracts on an inverse
    instrument); money is in the settlement asset."""

    step: int
    round: int
    account: int
    sign: int
    qty_base: Decimal
    price: Decimal
    fee_quote: Decimal
    deficit_quote: Decimal
    """Shortfall below zero after the close (paid by the fund, or socialised)."""
    socialised_quote: Decimal
    notional_quote: Decimal
    """Quote value of the order (``SyntheticBook.quote_value``): what the impact model absorbs."""

    def events(self) -> int:
        """Engine events it stands for: the step, the fee, the fund's payment, the write-off."""
        paid = self.deficit_quote - self.socialised_quote
        return 1 + (self.fee_quote > 0) + (paid > 0) + (self.socialised_quote > 0)

    def key(self) -> list[Any]:
        return [self.step, self.round, self.account, self.sign, plain(self.qty_base), plain(self.price),
                plain(self.fee_quote), plain(self.deficit_quote), plain(self.socialised_quote)]


@dataclass(frozen=True, slots=True)
class RoundOutcome:
    """What one price update did."""

    liquidations: tuple[Liquidation, ...]
    insurance_fund: Decimal
    insurance_min: Decimal
    adl_events: int = 0
    backstop_events: int = 0
    events: int = 0
    """Every event the implementation produced (engine events; liquidation events for fast)."""
    adl_loss: Decimal = ZERO
    """What auto-deleveraging took from the counterparties: each ADL close's distance from the
    round's mark (``adl_loss``), in the settlement asset."""
    adl_notional: Decimal = ZERO
    """Quote value of what ADL closed, at the prices it closed at (``SyntheticBook.quote_value``)."""
    drawdown_adl: int = 0
    """Markets the venue's fund rule put into drawdown ADL (``FundDrawdownAdl`` started)."""
    limit_events: int = 0
    """Times the backstop's loss limit deleveraged it (``BackstopLossLimit``)."""


@dataclass(frozen=True, slots=True)
class StepRecord:
    step: int
    scenario_price: Decimal
    marks: tuple[Decimal, ...]
    """The mark of each round (round 0 first)."""
    liquidated: tuple[int, ...]
    sold_quote: Decimal
    bought_quote: Decimal
    fees_quote: Decimal
    socialised_quote: Decimal
    insurance_fund: Decimal
    insurance_min: Decimal
    adl_events: int
    backstop_events: int
    adl_loss: Decimal = ZERO
    adl_notional: Decimal = ZERO
    """Quote value of the ADL closes (outside ``key``: the ADL events and the liquidations are in it)."""
    drawdown_adl: int = 0
    depth_quote: Decimal = ZERO
    """The book's depth (``ImpactState.depth``) when the minute ended, in quote."""
    open_interest_base: Decimal = ZERO
    """The long side held by the venue's accounts (traders, ``mm``, a backstop vault; not the
    ``book``, which stands for the market outside) when the minute ended, in base units or contracts."""
    truncated: bool = False
    """The minute stopped at ``max_rounds`` while its last round still liquidated: the cascade
    was cut short there, not finished."""
    limit_events: int = 0
    """Times the backstop's loss limit deleveraged it this minute (``BackstopLossLimit``)."""
    halted: bool = False
    """The liquidation engine was halted this minute (an operational halt): the market's mark is
    in ``marks``, but the venue neither saw it nor liquidated."""

    @property
    def rounds(self) -> int:
        return 0 if self.halted else len(self.marks)

    def key(self) -> list[Any]:
        return [self.step, plain(self.scenario_price), [plain(m) for m in self.marks], list(self.liquidated),
                plain(self.sold_quote), plain(self.bought_quote), plain(self.fees_quote),
                plain(self.socialised_quote), plain(self.insurance_fund), plain(self.insurance_min),
                self.adl_events, self.backstop_events, *(["halted"] if self.halted else []),
                *(["limit", self.limit_events] if self.limit_events else [])]


@dataclass(frozen=True, slots=True)
class BackstopHolding:
    """What the backstop account (Hyperliquid's liquidator vault) holds when the run ends. It
    took positions over at the mark, with the collateral their accounts had left, and carries
    them on: as the price goes on moving against them its equity falls, and below zero it is a
    loss its depositors bear, outside the insurance fund and socialised loss."""

    account: str
    position_qty: Decimal
    """Net quantity of the instrument (contracts on an inverse one), positive: long."""
    equity_end: Decimal
    """Equity at the last mark, in the settlement asset (negative: the vault is bankrupt)."""
    capital_start: Decimal = ZERO
    """What it held when the run started (``CascadeParams.backstop_capital``)."""
    loss_limit: Decimal | None = None
    """Its loss limit (``LiquidationPolicy.backstop_loss_limit``), if it has one (the times it
    fired are the steps' ``limit_events``)."""

    def key(self) -> list[Any]:
        """What the digest binds: the holding, and the capital and limit where the run set them
        (a run without either keeps its digest from before they existed)."""
        body: list[Any] = [self.account, plain(self.position_qty), plain(self.equity_end)]
        if self.capital_start or self.loss_limit is not None:
            body += [plain(self.capital_start), None if self.loss_limit is None else plain(self.loss_limit)]
        return body


@dataclass(frozen=True, slots=True)
class EntrantsOutcome:
    """What re-leveraging did (``stress/entrants.py``): its rate, the pairs it opened and their
    notional (quote, at the drawn sizes), and the pairs drawn for the path."""

    rate: Decimal
    pairs_opened: int
    notional_opened: Decimal
    pairs_drawn: int
    notional_target: Decimal
    """``rate × OI₀ × Σ|minute return|``: what the run's pairs would add up to if every minute's
    amount were opened (pairs open whole, so a small book's can fall short of it)."""

    def key(self) -> list[Any]:
        return [plain(self.rate), self.pairs_opened, plain(self.notional_opened), self.pairs_drawn]


@dataclass(frozen=True, slots=True)
class VoluntaryClose:
    """A trader closing its whole position at a minute's last mark (``stress/response.py``)."""

    step: int
    account: int
    """The trader's row."""
    sign: int
    """+1: a long sold; −1: a short bought back."""
    qty: Decimal
    price: Decimal
    notional_quote: Decimal

    def key(self) -> list[Any]:
        return [self.step, self.account, self.sign, plain(self.qty), plain(self.price)]


@dataclass(frozen=True, slots=True)
class ResponseOutcome:
    """What traders' responses did (``stress/response.py``): the mean delay and the loss that
    alerts, the closes and their notional (quote, at the marks) by side."""

    minutes: Decimal
    loss: Decimal
    closes: int
    long_notional: Decimal
    short_notional: Decimal


@dataclass(frozen=True, slots=True)
class OpenInterest:
    """Open interest of the run, in quote (an inverse contract: its USD face value) and in base
    units or contracts. ``long_start`` and ``short_start`` are the traders' sides when the book
    opens; ``start`` and ``end`` are the long side held by the venue's accounts (traders, the
    counterparty ``mm``, which holds the traders' imbalance, a backstop vault; not the ``book``),
    valued at the start price and at the last mark."""

    start: Decimal
    end: Decimal
    long_start: Decimal
    short_start: Decimal
    base_start: Decimal
    base_end: Decimal

    def change(self) -> Decimal:
        """The fall (negative) or rise of the long side in base units, a fraction of the start."""
        return ZERO if self.base_start == 0 else (self.base_end - self.base_start) / self.base_start


def adl_loss(sign: int, qty: Decimal, price: Decimal, mark: Decimal, contract_size: Decimal,
             inverse: bool) -> Decimal:
    """What an ADL counterparty gives up by closing ``qty`` against a bankrupt account of side
    ``sign`` (+1 long) at ``price`` rather than at ``mark``: linear ``sign × qty × cs × (price −
    mark)``; inverse (money in the coin) ``sign × qty × cs × (1/mark − 1/price)``, rounded up
    to 10^-8 (a loss is never understated). Positive when
    the bankruptcy price is worse for the counterparty than the mark."""
    if inverse:
        return round_up(sign * qty * contract_size * (1 / mark - 1 / price), _MONEY_QUANTUM)
    return sign * qty * contract_size * (price - mark)


@dataclass(frozen=True, slots=True)
class CascadeResult:
    engine: str
    accounts: int
    insurance_start: Decimal
    steps: tuple[StepRecord, ...]
    liquidations: tuple[Liquidation, ...]
    events: int
    wall_s: float = field(default=0.0, compare=False)
    backstop: BackstopHolding | None = None
    """The backstop account's holding at the end, where the procedure has one."""
    procedure: str = "generic"
    """``generic`` (fee, fund, socialised loss: no ADL, no backstop) or ``venue``."""
    max_rounds: int = 64
    open_interest: OpenInterest | None = None
    depeg: Depeg | None = None
    """The collateral depeg of the run (``stress/depeg.py``), if any."""
    depeg_outcome: DepegOutcome | None = None
    entrants: EntrantsOutcome | None = None
    """Re-leveraging's outcome, where the run had it."""
    closes: tuple[VoluntaryClose, ...] = ()
    """Traders' voluntary closes, in order (``stress/response.py``)."""
    response: ResponseOutcome | None = None
    """Traders' responses' outcome, where the run had them."""
    money_quantum: Decimal = field(kw_only=True)
    """The settlement asset's quantum, to which ``summary`` rounds money (``stress/money.py``)."""
    left_at_trigger: int = field(default=0, kw_only=True)
    """Accounts at the liquidation trigger at the end: liquidations the book could not take,
    whose losses no figure of the run counts (``cascade.Venue.left_at_trigger``)."""

    def digest(self) -> str:
        """SHA-256 over the liquidation procedure and every decision (not the engine name,
        event count or timing: the two engines' generic runs share a digest)."""
        body: dict[str, Any] = {"procedure": self.procedure, "insurance_start": plain(self.insurance_start),
                                "steps": [s.key() for s in self.steps],
                                "liquidations": [liq.key() for liq in self.liquidations]}
        if self.backstop is not None:  # only a venue procedure has one: generic digests stay comparable
            body["backstop"] = self.backstop.key()
        if self.depeg is not None:  # likewise: runs without one keep their digests
            d = self.depeg
            body["depeg"] = [d.asset, plain(d.price), d.minute, plain(d.holders), plain(d.haircut)]
        if self.entrants is not None:  # likewise
            body["releverage"] = self.entrants.key()
        if self.response is not None:  # likewise
            r = self.response
            body["response"] = [plain(r.minutes), plain(r.loss), [q.key() for q in self.closes]]
        return hashlib.sha256(json.dumps(body, separators=(",", ":")).encode()).hexdigest()

    def liquidation_events(self) -> int:
        return sum(liq.events() for liq in self.liquidations)

    def bad_debt(self) -> Decimal:
        """Every loss not covered by the bankrupt accounts, fees and the fund: socialised, or
        taken from the counterparties by ADL."""
        return sum((s.socialised_quote + s.adl_loss for s in self.steps), ZERO)

    def truncated_steps(self) -> int:
        return sum(s.truncated for s in self.steps)

    def _waterfall(self) -> dict[str, Any]:
        """ADL and backstop counts where the procedure has them; ``null`` with a reason where it
        has none (a 0 would read as measured)."""
        if self.procedure == "venue":
            return {"adl_events": sum(s.adl_events for s in self.steps),
                    "adl_notional": plain(sum((self.rounded(s)["adl_notional"] for s in self.steps), ZERO)),
                    "drawdown_adl_starts": sum(s.drawdown_adl for s in self.steps),
                    "backstop_events": sum(s.backstop_events for s in self.steps)}
        why = "the generic procedure has no ADL and no backstop (--liquidation venue runs the venue's own)"
        return {"adl_events": None, "adl_events_reason": why, "adl_notional": None, "drawdown_adl_starts": None,
                "backstop_events": None, "backstop_events_reason": why}

    def _open_interest(self) -> dict[str, Any]:
        oi = self.open_interest
        if oi is None:
            return {}
        return {"open_interest_start": plain(oi.start), "open_interest_end": plain(oi.end),
                "long_open_interest_start": plain(oi.long_start), "short_open_interest_start": plain(oi.short_start),
                "open_interest_base_start": plain(oi.base_start), "open_interest_base_end": plain(oi.base_end),
                "open_interest_change_ratio": plain(round(oi.change(), 6))}

    def rounded(self, step: StepRecord) -> dict[str, Decimal]:
        """One minute's money and notional figures rounded once to ``money_quantum`` against the
        fund (``stress/money.py``): losses and notionals up, the fund and its fees down. The
        summary adds these up and the series (``stress/series.py``) writes them, so every series
        column adds up to its summary total to the last digit (on Drift a minute's deficit
        carries 20 places)."""
        q = self.money_quantum
        return {**{name: round_up(getattr(step, name), q) for name in _ROUNDED_UP},
                **{name: round_down(getattr(step, name), q) for name in _ROUNDED_DOWN}}

    def summary(self) -> dict[str, Any]:
        """Figures for the CLI table and JSON (decimals as strings); money rounded once to
        ``money_quantum``, against the fund (``stress/money.py``): its balance and fees down,
        losses and notionals up; ``bad_debt`` is the sum of its two rounded parts."""
        q = self.money_quantum
        minutes = [self.rounded(s) for s in self.steps]

        def total(name: str) -> str:
            return plain(sum((m[name] for m in minutes), ZERO))

        marks = [m for s in self.steps for m in s.marks]
        socialised, adl = total("socialised_quote"), total("adl_loss")
        return {
            "engine": self.engine,
            "accounts": self.accounts,
            "steps": len(self.steps),
            "liquidations": len(self.liquidations),
            "liquidated_long_notional": total("sold_quote"),
            "liquidated_short_notional": total("bought_quote"),
            "fees_to_insurance_fund": total("fees_quote"),
            "procedure": self.procedure,
            **self._waterfall(),
            "bad_debt": plain(Decimal(socialised) + Decimal(adl)),
            "bad_debt_socialised": socialised,
            "bad_debt_adl": adl,
            "backstop_position_end": None if self.backstop is None else plain(self.backstop.position_qty),
            "backstop_equity_end": None if self.backstop is None else held(self.backstop.equity_end, q),
            "backstop_capital_start": None if self.backstop is None else held(self.backstop.capital_start, q),
            "backstop_loss_limit": None if self.backstop is None or self.backstop.loss_limit is None
            else plain(self.backstop.loss_limit),
            "backstop_loss_limit_events": None if self.backstop is None else sum(s.limit_events for s in self.steps),
            "insurance_fund_start": held(self.insurance_start, q),
            "insurance_fund_min": held(min([self.insurance_start, *(s.insurance_min for s in self.steps)]), q),
            "insurance_fund_end": held(self.steps[-1].insurance_fund if self.steps else self.insurance_start, q),
            "cascade_rounds": sum(s.rounds for s in self.steps),
            "max_rounds_in_a_step": max((s.rounds for s in self.steps), default=0),
            "max_rounds": self.max_rounds,
            "accounts_left_at_trigger": self.left_at_trigger,
            "truncated_steps": self.truncated_steps(),
            "truncated": self.truncated_steps() > 0,
            **self._open_interest(),
            "lowest_mark": plain(min(marks)) if marks else None,
            "events": self.events,
            "wall_s": round(self.wall_s, 3),
            "digest": self.digest(),
            **self._depeg(),
            **self._entrants(),
            **self._response(),
        }

    def _response(self) -> dict[str, Any]:
        """Under traders' responses: the closes they made (``stress/response.py``)."""
        r = self.response
        if r is None:
            return {}
        return {"response": {"minutes": plain(r.minutes), "loss": plain(r.loss), "closes": r.closes,
                             "closed_long_notional": plain(r.long_notional),
                             "closed_short_notional": plain(r.short_notional)}}

    def _entrants(self) -> dict[str, Any]:
        """Under re-leveraging: the pairs it opened (``stress/entrants.py``)."""
        e = self.entrants
        if e is None:
            return {}
        return {"releverage": {"rate": plain(e.rate), "pairs_opened": e.pairs_opened,
                               "notional_opened_quote": plain(e.notional_opened), "pairs_drawn": e.pairs_drawn,
                               "notional_target_quote": plain(round(e.notional_target, 2))}}

    def _depeg(self) -> dict[str, Any]:
        """Under a depeg: what it did (``stress/depeg.DepegOutcome``)."""
        d, out = self.depeg, self.depeg_outcome
        if d is None or out is None:
            return {}
        return {"depeg": {"asset": d.asset, "price": plain(d.price), "minute": d.minute, "holders": out.holders,
                          "holders_liquidated": out.holders_liquidated, "others_liquidated": out.others_liquidated,
                          "holders_below_maintenance_end": out.holders_below_maintenance_end}}
