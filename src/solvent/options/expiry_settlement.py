"""An option expiry settled from a file of index observations (``solvent options settle``,
``POST /v1/options/settle``): the settlement price with every observation it used, and a
portfolio's options and futures of that expiry settled into its wallet.

The settlement file (``docs/options.md``)::

    {"expiry": "BTC-27MAR27", "tick": "0.01",
     "observations": {"coinbase": [["2027-03-27T07:29:00Z", "87000.5"], ...], "kraken": [...], ...},
     "weights": {"coinbase": "2"}, "rules": {"min_sources": 3, "max_weight": "0.4"}}

* ``expiry``: the coin and the expiry date (``BTC-27MAR27``: 08:00 UTC that day), as options
  name them (``options.instruments``);
* ``observations``: each source's index prices, ``[time, price]`` in time order, one per time,
  the time in ISO 8601 with its zone, to the millisecond;
* ``tick`` (default ``DEFAULT_TICK``), ``weights`` (default equal) and ``rules`` (the fields of
  ``settlement.SettlementRules``; each left out keeps its default) are optional.

``settle`` computes the price (``settlement.settlement_price``). ``observations_used`` gives
the observations it used in the file's own form, so a file made of them (with the same tick,
rules and weights) settles at the same price: anyone can recompute it.

``settle_portfolio`` settles a portfolio file (``options.portfolio``) held up to the expiry:
each option of that expiry is exercised automatically (``settlement.exercise``), each future
of that expiry (``BTC-27MAR27``) is closed at the price (``portfolio.future_pnl``), and the
cash goes into the wallet. An option's payoff per option is rounded down to the settlement
asset's quantum once (``settlement.exercise``); a fractional quantity's cash and every future's
P&L are rounded toward −∞ (against the holder, as the engine settles an inverse future:
``contract_value.settled``). A position of an earlier expiry is refused (settle that first).
The portfolio after it keeps its other positions, with ``now`` at the expiry.

``settle_expiry`` is the one path of ``solvent options settle`` and ``POST /v1/options/settle``:
it checks the portfolio, then computes the price, then settles the portfolio at it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from solvent.errors import InvalidInput
from solvent.file_formats import Number, read_as
from solvent.limits import MAX_AMOUNT, MAX_PRICE, within
from solvent.options.instruments import expiry_of
from solvent.options.portfolio import (
    FutureHolding,
    OptionHolding,
    OptionPortfolio,
    future_expiry,
    future_pnl,
    is_cross,
    read_portfolio,
    read_time,
)
from solvent.options.rules import OptionRules
from solvent.options.settlement import Exercise, Settlement, SettlementRules, exercise, settlement_price
from solvent.text import ID_PATTERN
from solvent.units import ZERO, exact, plain, positive, round_down, to_decimal

__all__ = ["DEFAULT_TICK", "ExpirySettlement", "SettledFuture", "SettledPortfolio", "observations_used",
           "read_settlement_file", "settle", "settle_expiry", "settle_portfolio", "time_text"]

DEFAULT_TICK = Decimal("0.01")
"""The settlement price's increment when the file gives none: a cent of the index's USD."""

_SOURCE = re.compile(ID_PATTERN)
"""A source's name is an id (``text.ID_PATTERN``): it is printed back."""
_EXPIRY = re.compile(r"^([A-Z0-9]{2,10})-([1-9][0-9]?[A-Z]{3}[0-9]{2})$")
_DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _Rules(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``SettlementRules``' fields; one left out keeps its default there."""

    window_ms: Annotated[int, msgspec.Meta(ge=1, le=_DAY_MS)] | None = None
    min_sources: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None
    max_weight: Number = None
    min_coverage: Number = None
    max_gap_ms: Annotated[int, msgspec.Meta(ge=0, le=_DAY_MS)] | None = None
    median_band: Number | msgspec.UnsetType = msgspec.UNSET
    """Left out: the default band; ``null``: no band."""


class _File(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    note: str = ""
    """Free text (where the observations come from); not read."""
    expiry: str
    tick: Number = None
    weights: dict[str, Number] = {}
    rules: _Rules = msgspec.field(default_factory=_Rules)
    observations: dict[str, list[tuple[str, Number]]]


@dataclass(frozen=True, slots=True)
class ExpirySettlement:
    """A settlement file, read: ``settle`` computes its price."""

    expiry: str
    """``BTC-27MAR27``."""
    base: str
    expiry_time: datetime
    tick: Decimal
    rules: SettlementRules
    weights: dict[str, Decimal] | None
    observations: dict[str, list[tuple[int, Decimal]]]

    @property
    def expiry_ms(self) -> int:
        return _ms(self.expiry_time)


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def time_text(moment: int) -> str:
    """A time in ms as the file writes it (``2027-03-27T07:29:00.250Z``)."""
    text = (_EPOCH + timedelta(milliseconds=moment)).isoformat(timespec="milliseconds")
    return text.replace(".000+00:00", "Z").replace("+00:00", "Z")


_OBSERVATION_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,]([0-9]+))?)?"
                               r"(?:Z|[+-][0-9]{2}:[0-9]{2})")
"""An observation's time as the file writes it: whole minutes of offset, the fraction checked
here (``fromisoformat`` drops digits past the microsecond, and reads an offset with seconds)."""


def _observation_time(text: str, where: str) -> int:
    moment = read_time(text, where)
    found = _OBSERVATION_TIME.fullmatch(text)
    if found is None:  # found by review: 07:29:00.0000001Z and an offset of +00:00:00.5 were cut, not refused
        raise InvalidInput(f"{where}: {text!r} is not a time like 2027-03-27T07:29:00.250Z (its zone Z or +HH:MM)")
    try:  # found by a new-user pass: 0001-01-01T00:00:00+05:00 is before year 1 in UTC, and printing it back
        moment = moment.astimezone(UTC)  # (observations_used, an order error) was an internal error (OverflowError)
    except OverflowError:
        raise InvalidInput(f"{where}: {text!r} is outside the years 1 to 9999 in UTC") from None
    if (found.group(1) or "")[3:].strip("0"):
        raise InvalidInput(f"{where}: {text!r} is finer than a millisecond")
    return _ms(moment)


@exact
def read_settlement_file(raw: object, what: str = "settlement file") -> ExpirySettlement:
    """The settlement file ``raw`` (decoded JSON; module docstring), or ``InvalidInput`` naming
    the place."""
    spec: _File = read_as(raw, _File, what)
    found = _EXPIRY.fullmatch(spec.expiry)  # not match: its $ let "BTC-27MAR27\n" through, echoed back
    if found is None:
        raise InvalidInput(f"{what} expiry: {spec.expiry!r} is not a coin and a date like BTC-27MAR27")
    base, code = found.groups()
    expiry_time = expiry_of(spec.expiry, code)
    if not spec.observations:
        raise InvalidInput(f"{what} observations: no source")
    observations: dict[str, list[tuple[int, Decimal]]] = {}
    for source, rows in spec.observations.items():
        if _SOURCE.match(source) is None:
            raise InvalidInput(f"{what} observations: {source!r} is not a source name (1-64 of A-Z a-z 0-9 _ . : @ -)")
        samples: list[tuple[int, Decimal]] = []
        for i, (text, price) in enumerate(rows):
            where = f"{what} observations.{source}[{i}]"
            moment = _observation_time(text, where)
            if samples and moment <= samples[-1][0]:
                raise InvalidInput(f"{where}: observations must be in time order, one per time: {text} follows "
                                   f"{time_text(samples[-1][0])}")
            samples.append((moment, within(positive(price, where), MAX_PRICE, where)))
        observations[source] = samples
    unknown = sorted(set(spec.weights) - set(spec.observations))
    if unknown:
        raise InvalidInput(f"{what} weights: {', '.join(unknown)} has no observations (a source's weight is "
                           "named as its observations are)")
    weights = {s: within(positive(w, f"{what} weights.{s}"), MAX_PRICE, f"{what} weights.{s}")
               for s, w in spec.weights.items()}
    r = spec.rules
    given: dict[str, Any] = {k: v for k, v in (("window_ms", r.window_ms), ("min_sources", r.min_sources),
                                               ("max_gap_ms", r.max_gap_ms)) if v is not None}
    given |= {k: to_decimal(v, f"{what} rules.{k}") for k, v in (("max_weight", r.max_weight),
                                                                 ("min_coverage", r.min_coverage)) if v is not None}
    if r.median_band is not msgspec.UNSET:
        given["median_band"] = None if r.median_band is None else to_decimal(r.median_band, f"{what} rules.median_band")
    rules = SettlementRules(**given)
    tick = DEFAULT_TICK if spec.tick is None else within(positive(spec.tick, f"{what} tick"), MAX_PRICE,
                                                         f"{what} tick")
    return ExpirySettlement(spec.expiry, base, expiry_time, tick, rules, weights or None, observations)


def settle(spec: ExpirySettlement) -> Settlement:
    """The settlement price of ``spec`` (``settlement.settlement_price``); ``StaleMarketData``
    when too few sources can be trusted, ``InvalidInput`` when the price rounds to 0 at the tick."""
    done = settlement_price(spec.observations, spec.expiry_ms, spec.rules, spec.tick, spec.weights)
    if done.price <= 0:  # found by a new-user pass: prices under half a tick settled at "0", exit 0
        raise InvalidInput(f"{spec.expiry}: the sources' prices settle at 0 at the tick {plain(spec.tick)}; "
                           "give a finer tick")
    return done


def observations_used(done: Settlement) -> dict[str, list[list[str]]]:
    """The observations ``done`` used, per source, in the settlement file's form."""
    out: dict[str, list[list[str]]] = {}
    for source, moment, price in done.observations:
        out.setdefault(source, []).append([time_text(moment), plain(price)])
    return out


@dataclass(frozen=True, slots=True)
class SettledFuture:
    instrument: str
    qty: Decimal
    entry: Decimal
    settlement_price: Decimal
    cash: Decimal
    """Its P&L at the price, rounded toward −∞ to the quantum."""


@dataclass(frozen=True, slots=True)
class SettledPortfolio:
    settle_asset: str
    quantum: Decimal
    options: tuple[Exercise, ...]
    futures: tuple[SettledFuture, ...]
    wallet_before: Decimal
    wallet_after: Decimal
    portfolio_after: dict[str, Any]
    """The portfolio file after the expiry: its other positions, the wallet, ``now`` the expiry."""


@exact
def settle_expiry(spec: ExpirySettlement, raw: dict[str, Any] | None = None, rules: OptionRules | None = None,
                  what: str = "portfolio") -> tuple[Settlement, SettledPortfolio | None]:
    """``spec``'s settlement price and, given a portfolio file ``raw`` and its ``rules``, the
    portfolio settled at it (``settle_portfolio``). The portfolio is checked before the price is
    computed, so a bad portfolio is refused as such even when the sources are stale. The one
    path of ``solvent options settle`` and ``POST /v1/options/settle``."""
    if (raw is None) != (rules is None):
        raise InvalidInput("a portfolio and its rules go together: the rules' quantum rounds the portfolio's cash")
    held = None if raw is None or rules is None else _settlable(raw, spec, rules, what)
    done = settle(spec)
    if held is None or raw is None:
        return done, None
    return done, _settled(raw, spec, done.price, held, what)


@exact
def settle_portfolio(raw: dict[str, Any], spec: ExpirySettlement, price: Decimal, rules: OptionRules,
                     what: str = "portfolio") -> SettledPortfolio:
    """The portfolio file ``raw``, held up to ``spec``'s expiry, settled at ``price`` (module
    docstring), its cash rounded to ``rules``' quantum of its settlement asset. ``raw`` is not
    changed."""
    return _settled(raw, spec, price, _settlable(raw, spec, rules, what), what)


@dataclass(frozen=True, slots=True)
class _Settlable:
    portfolio: OptionPortfolio
    options: tuple[OptionHolding, ...]
    futures: tuple[FutureHolding, ...]
    quantum: Decimal


def _settlable(raw: dict[str, Any], spec: ExpirySettlement, rules: OptionRules, what: str) -> _Settlable:
    """``raw`` read, with the options and futures of ``spec``'s expiry, or ``InvalidInput``: a
    cross-currency portfolio, one whose ``now`` is not before the expiry, on another coin,
    holding an earlier expiry, or holding nothing of this one."""
    if is_cross(raw):
        raise InvalidInput(f"{what}: settle a cross-currency portfolio one coin at a time (one portfolio file each)")
    now = raw.get("now") if isinstance(raw, dict) else None
    if isinstance(now, str) and read_time(now, f"{what} now") >= spec.expiry_time:
        raise InvalidInput(f"{what} now {now} is not before the expiry {time_text(spec.expiry_ms)}: give the portfolio "
                           "as it was held up to the expiry")
    portfolio = read_portfolio(raw, what, marks_checked=False)  # marks play no part: a stale one is no reason
    if portfolio.base != spec.base:
        raise InvalidInput(f"{what} is on {portfolio.base}; the settlement is of {spec.expiry}")
    earlier = sorted({o.instrument.name for o in portfolio.options
                      if o.instrument.expiry < spec.expiry_time}
                     | {f.name for f in portfolio.futures if (at := future_expiry(f.name)) and at < spec.expiry_time})
    if earlier:  # found by review: settled out of order, the portfolio after held expired positions
        raise InvalidInput(f"{what} holds {', '.join(earlier)}, which expire before {spec.expiry}: settle "
                           "that expiry first")
    options = tuple(o for o in portfolio.options if o.instrument.expiry == spec.expiry_time)
    futures = tuple(f for f in portfolio.futures if future_expiry(f.name) == spec.expiry_time)
    if not options and not futures:
        raise InvalidInput(f"{what} holds no option or future of {spec.expiry}: nothing to settle")
    return _Settlable(portfolio, options, futures, rules.quantum_of(portfolio.settle))


def _settled(raw: dict[str, Any], spec: ExpirySettlement, price: Decimal, held: _Settlable,
             what: str) -> SettledPortfolio:
    portfolio, quantum = held.portfolio, held.quantum
    exercised = tuple(_cash_rounded(exercise(o.instrument, o.qty, price, quantum), quantum) for o in held.options)
    closed = tuple(SettledFuture(f.name, f.qty, f.entry, price,
                                 round_down(future_pnl(f.qty, f.entry, price, portfolio.inverse), quantum))
                   for f in held.futures)
    cash = sum((e.cash for e in exercised), ZERO) + sum((f.cash for f in closed), ZERO)
    settled = {e.instrument for e in exercised} | {f.instrument for f in closed}
    after = copy.deepcopy(raw)
    after["positions"] = [p for p in after["positions"] if p.get("instrument") not in settled]
    after["now"] = time_text(spec.expiry_ms)
    wallet_after = within(portfolio.wallet + cash, MAX_AMOUNT, f"{what} wallet after the expiry")  # readable again
    after.setdefault("wallet", {})[portfolio.settle] = plain(wallet_after)
    return SettledPortfolio(portfolio.settle, quantum, exercised, closed, portfolio.wallet, wallet_after, after)


def _cash_rounded(done: Exercise, quantum: Decimal) -> Exercise:
    """``done`` with its cash rounded toward −∞ to ``quantum`` (a fractional quantity of options
    can make ``qty × payoff`` finer than the quantum)."""
    return Exercise(done.instrument, done.qty, done.settlement_price, done.payoff_per_option,
                    round_down(done.cash, quantum))

