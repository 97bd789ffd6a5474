"""An options portfolio: options and futures on one underlying, margined in one asset.

The file (``docs/options.md``)::

    {"now": "2026-12-27T08:00:00Z", "wallet": {"BTC": "10"}, "index": {"BTC": "100000"},
     "positions": [{"instrument": "BTC-27MAR27-130000-C", "qty": "-1", "mark": "0.01", "vol": "0.6"},
                   {"instrument": "BTC-PERPETUAL", "qty": "0.5", "mark": "100000"}]}

* options are named the Deribit way (``options.instruments``): ``qty`` in options (negative:
  short), ``mark`` the option's price in its settlement asset (coin for an inverse option, USDC
  for ``BTC_USDC-...``), ``vol`` its implied volatility (a fraction; when left out, its
  expiry's ``surface`` at its strike (``options.surface``), else implied from the mark),
  ``forward`` the forward of its expiry (one per expiry: left out, the one another option of
  that expiry gives, else the index, r = 0);
* futures (``BTC-PERPETUAL``, ``BTC-27MAR27``; ``BTC_USDC-PERPETUAL`` linear): ``qty`` in coin
  (negative: short), ``mark`` the USD price, ``entry`` the USD entry price (default: the mark:
  no unrealised P&L);
* every position is on the same coin and settles in the same asset (cross-currency portfolio
  margin: ``margin_asset``, ``options.cross``): ``wallet`` holds that asset.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from solvent.engine.contract_value import gain
from solvent.errors import InvalidInput
from solvent.file_formats import Number, OptionalNumber, read_as
from solvent.limits import MAX_AMOUNT, MAX_PRICE, MAX_QTY, within
from solvent.options.black76 import implied_vol, price
from solvent.options.instruments import OptionInstrument, expiry_of, parse_instrument, years_to_expiry
from solvent.options.surface import read_surface
from solvent.units import ZERO, exact, plain, positive, round_down, to_decimal

__all__ = ["FutureHolding", "OptionHolding", "OptionPortfolio", "future_expiry", "future_pnl", "is_cross", "is_future",
           "read_portfolio", "read_time", "underlying_of", "unused_surfaces"]

_FUTURE = re.compile(r"^([A-Z0-9]{2,10})(?:_([A-Z]{3,5}))?-(PERPETUAL|[0-9]{1,2}[A-Z]{3}[0-9]{2})$")


@dataclass(frozen=True, slots=True)
class OptionHolding:
    instrument: OptionInstrument
    qty: Decimal
    mark: Decimal
    """The option's price in its settlement asset."""
    vol: float
    forward: Decimal
    years: float
    """Time to expiry in years of 365 days."""
    vol_source: str = "given"
    """Where ``vol`` comes from: ``given``, ``surface`` (its expiry's) or ``implied`` (from the mark);
    ``none`` (``vol`` NaN): none given and none the mark implies (a mark at its intrinsic value, or
    a tick above it near expiry), which standard margin does not need and the scenarios refuse."""

    def usd_mark(self, index: Decimal) -> Decimal:
        return self.mark * index if self.instrument.inverse else self.mark


@dataclass(frozen=True, slots=True)
class FutureHolding:
    name: str
    qty: Decimal
    """In coin; negative: short."""
    mark: Decimal
    entry: Decimal


@dataclass(frozen=True, slots=True)
class OptionPortfolio:
    now: datetime
    base: str
    settle: str
    index: Decimal
    wallet: Decimal
    options: tuple[OptionHolding, ...]
    futures: tuple[FutureHolding, ...]

    @property
    def inverse(self) -> bool:
        return self.settle == self.base

    @exact
    def equity(self, quantum: Decimal) -> Decimal:
        """Wallet + the options at their marks + the futures' unrealised P&L, in ``settle``,
        rounded down to ``quantum`` (an amount owed to the holder)."""
        total = self.wallet + sum((o.qty * o.mark for o in self.options), ZERO)
        total += sum((future_pnl(f.qty, f.entry, f.mark, self.inverse) for f in self.futures), ZERO)
        return round_down(total, quantum)


@exact
def future_pnl(qty: Decimal, entry: Decimal, price: Decimal, inverse: bool) -> Decimal:
    """The P&L of ``qty`` coins of a future entered at ``entry`` and valued at ``price`` (USD), in
    the settlement asset: ``qty × (price − entry)`` in USD; inverse, the USD notional
    ``s = qty × entry`` valued in coin, ``s / entry − s / price`` = ``qty × (1 − entry / price)``.
    The engine's rule (``contract_value.gain``, its size in USD when inverse), for a portfolio's
    unrealised P&L, a close's realised P&L and an expiry's settlement."""
    return gain(qty * entry if inverse else qty, price, entry, inverse)


class _Position(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    instrument: str
    qty: Number
    mark: Number
    vol: OptionalNumber = None
    forward: OptionalNumber = None
    entry: OptionalNumber = None


class _File(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    note: str = ""
    """Free text (where the portfolio comes from); not read."""
    now: str
    wallet: dict[str, Number] = {}
    index: dict[str, Number]
    surface: dict[str, Any] = {}
    """Per expiry (``BTC-27MAR27``): a smile or an SVI slice (``options.surface``)."""
    margin_asset: str | None = None
    """Set: a cross-currency portfolio margined in this asset (``options.cross``)."""
    haircuts: dict[str, Number] = {}
    """Cross-currency only: collateral haircuts by asset (default: ``risk.collateral``'s)."""
    positions: list[_Position]


def read_time(text: str, what: str) -> datetime:
    """``text``, an ISO 8601 time with its zone (``2026-12-27T08:00:00Z``), or ``InvalidInput``
    naming ``what``: the one reading of a time in an options file."""
    try:
        now = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{what}: {text!r} is not an ISO 8601 time (2026-12-27T08:00:00Z)") from None
    if now.tzinfo is None:
        raise InvalidInput(f"{what}: {text!r} needs a time zone (Z for UTC)")
    return now


def _forwards(spec: _File, what: str) -> dict[str, Decimal]:
    """The forward of each expiry (``BTC-27MAR27``) that an option of it gives: one expiry has
    one forward, so an option that leaves it out takes its expiry's, and two different ones are
    refused."""
    out: dict[str, Decimal] = {}
    for i, p in enumerate(spec.positions):
        if p.forward is None or _FUTURE.match(p.instrument) is not None:
            continue
        expiry = p.instrument.rsplit("-", 2)[0]
        forward = within(positive(p.forward, f"{what} positions[{i}].forward"), MAX_PRICE,
                          f"{what} positions[{i}].forward")
        if out.setdefault(expiry, forward) != forward:
            raise InvalidInput(f"{what} positions[{i}]: {expiry} has two forwards, {plain(out[expiry])} and "
                               f"{plain(forward)}; one expiry has one forward")
    return out


@exact
def read_portfolio(raw: object, what: str = "portfolio", *, whole: bool = True,
                   marks_checked: bool = True) -> OptionPortfolio:
    """A portfolio from decoded JSON (module docstring); ``InvalidInput`` naming the place.
    ``whole=False``: one group of a cross-currency portfolio, whose surfaces may be the other
    groups' (``cross`` checks that each is used). ``marks_checked=False``: a portfolio built
    after an order (``pretrade``), whose new option is held at the order's price: a mark outside
    the no-arbitrage range is then held at its conservative end (``_held_conservatively``)
    instead of refused (a caller's own marks were checked when its portfolio was read)."""
    spec: _File = read_as(raw, _File, what)
    if spec.margin_asset is not None or spec.haircuts:
        raise InvalidInput(f"{what}: margin_asset and haircuts make a cross-currency portfolio, which is margined "
                           "per coin (options.cross); a pre-trade check, a settlement or a liquidation plan takes one "
                           "coin's portfolio")
    now = read_time(spec.now, f"{what} now")
    if not spec.positions:
        raise InvalidInput(f"{what}: no positions")
    listed = Counter(p.instrument for p in spec.positions)  # one pass: list.count per position was O(n²)
    twice = sorted(n for n, times in listed.items() if times > 1)
    if twice:
        raise InvalidInput(f"{what}: {', '.join(twice)} listed more than once; give each instrument's net qty once")
    underlyings: set[tuple[str, str]] = set()
    for i, p in enumerate(spec.positions):
        try:
            underlyings.add(underlying_of(p.instrument))
        except InvalidInput as bad:
            raise InvalidInput(f"{what} positions[{i}].instrument: {bad}") from None
    if len(underlyings) != 1:
        names = ", ".join(sorted(f"{b} settled in {s}" for b, s in underlyings))
        raise InvalidInput(f"{what}: positions on {names}; one coin settled in one asset per portfolio, or give "
                           "margin_asset to margin them across currencies")
    if whole:
        unused_surfaces(spec.surface, [p.instrument for p in spec.positions], what)
    surfaces = {expiry: read_surface(raw_surface, f"{what} surface.{expiry}")
                for expiry, raw_surface in spec.surface.items()}
    forwards = _forwards(spec, what)
    options: list[OptionHolding] = []
    futures: list[FutureHolding] = []
    for i, p in enumerate(spec.positions):
        where = f"{what} positions[{i}]"
        qty = within(to_decimal(p.qty, f"{where}.qty"), MAX_QTY, f"{where}.qty")
        mark = within(positive(p.mark, f"{where}.mark"), MAX_PRICE, f"{where}.mark")
        future = _FUTURE.match(p.instrument)
        if future is not None:
            if p.vol is not None or p.forward is not None:
                raise InvalidInput(f"{where}: a future takes qty, mark and entry only")
            entry = mark if p.entry is None else within(positive(p.entry, f"{where}.entry"), MAX_PRICE,
                                                        f"{where}.entry")
            within(abs(qty) * max(mark, entry), MAX_AMOUNT, f"{where}: |qty| × price")
            expires = future_expiry(p.instrument)
            if expires is not None and expires <= now:
                raise InvalidInput(f"{where}: {p.instrument} expired (settle it, do not margin it)")
            futures.append(FutureHolding(p.instrument, qty, mark, entry))
            continue
        inst = parse_instrument(p.instrument)
        if p.entry is not None:
            raise InvalidInput(f"{where}: an option takes qty, mark, vol and forward (its premium is in the wallet)")
        years = years_to_expiry(inst.expiry, now)
        if years <= 0:
            raise InvalidInput(f"{where}: {inst.name} expired at {inst.expiry.isoformat()} "
                               "(settle it, do not margin it)")
        index = _index(spec, inst.base, what)
        expiry = p.instrument.rsplit("-", 2)[0]
        forward = forwards.get(expiry, index)
        if p.vol is not None:
            vol, source = float(positive(p.vol, f"{where}.vol")), "given"
        elif expiry in surfaces:
            try:
                vol, source = surfaces[expiry].vol_at(float(inst.strike), float(forward), years), "surface"
            except (InvalidInput, OverflowError, ValueError) as bad:
                raise InvalidInput(f"{where}: the surface of {expiry} gives no volatility: {bad}") from None
        else:
            usd = float(mark * index) if inst.inverse else float(mark)
            try:
                vol, source = implied_vol(inst.kind, usd, float(forward), float(inst.strike), years), "implied"
            except InvalidInput:  # standard margin reads no volatility; the scenarios refuse it (``priced_at_marks``)
                vol, source = math.nan, "none"
        if marks_checked:
            _no_arbitrage(inst, mark * index if inst.inverse else mark, forward, where)
        else:
            mark = _held_conservatively(inst, qty, mark, index, forward)
        try:  # every number the pricing will see, in range (black76's checks), and a plausible forward
            value = price(inst.kind, float(forward), float(inst.strike), 0.0 if source == "none" else vol, years)
        except InvalidInput as bad:
            raise InvalidInput(f"{where}: {bad}") from None
        if not index / 10 <= forward <= index * 10:
            raise InvalidInput(f"{where}: forward {forward} is not within 10x of the index {index}")
        del value
        options.append(OptionHolding(inst, qty, mark, vol, forward, years, source))
    ((base, settle),) = underlyings
    wallet = {asset: within(to_decimal(v, f"{what} wallet.{asset}"), MAX_AMOUNT, f"{what} wallet.{asset}")
              for asset, v in spec.wallet.items()}
    if set(wallet) - {settle}:
        raise InvalidInput(f"{what} wallet: holds {', '.join(sorted(set(wallet) - {settle}))}; the positions settle "
                           f"in {settle} (give margin_asset to count other collateral, with haircuts)")
    return OptionPortfolio(now, base, settle, _index(spec, base, what), wallet.get(settle, ZERO), tuple(options),
                           tuple(futures))


def is_cross(raw: object) -> bool:
    """Whether decoded portfolio JSON asks for cross-currency margin (``margin_asset``)."""
    return isinstance(raw, dict) and raw.get("margin_asset") is not None


def underlying_of(name: str) -> tuple[str, str]:
    """(coin, settlement asset) of a future's or an option's name."""
    future = _FUTURE.match(name)
    if future is not None:
        return future.group(1), future.group(2) or future.group(1)
    inst = parse_instrument(name)
    return inst.base, inst.settle


def future_expiry(name: str) -> datetime | None:
    """A dated future's expiry (``BTC-27MAR27``: 08:00 UTC that day); ``None`` for a perpetual or
    a name that is no future's."""
    found = _FUTURE.match(name)
    if found is None or found.group(3) == "PERPETUAL":
        return None
    return expiry_of(name, found.group(3))


def is_future(name: str) -> bool:
    """Whether ``name`` is a future's (``BTC-PERPETUAL``, ``BTC-27MAR27``, ``BTC_USDC-...``)."""
    return _FUTURE.match(name) is not None


def unused_surfaces(surfaces: Mapping[str, object], instruments: Sequence[str], what: str) -> None:
    """Refuse a surface for an expiry (``BTC-27MAR27``) no option of the portfolio has: it would
    be ignored, and a mistyped expiry would leave its options without the smile meant for them."""
    expiries = {name.rsplit("-", 2)[0] for name in instruments if _FUTURE.match(name) is None}
    unused = sorted(set(surfaces) - expiries)
    if unused:
        raise InvalidInput(f"{what} surface: no option here expires at {', '.join(unused)} (options' expiries: "
                           f"{', '.join(sorted(expiries)) or 'none'})")


def _no_arbitrage_range(inst: OptionInstrument, forward: Decimal) -> tuple[Decimal, Decimal]:
    """The USD values a European option on the forward can take (no discounting, as the pricing
    here): from its intrinsic value ``max(F − K, 0)`` (a call) or ``max(K − F, 0)`` (a put) to
    ``F`` (a call) or ``K`` (a put)."""
    call = inst.kind == "call"
    intrinsic = max(forward - inst.strike, ZERO) if call else max(inst.strike - forward, ZERO)
    return intrinsic, forward if call else inst.strike


def _held_conservatively(inst: OptionInstrument, qty: Decimal, mark: Decimal, index: Decimal,
                         forward: Decimal) -> Decimal:
    """The mark an option bought or sold at ``mark`` (an order's price) is held at: a short
    never below its no-arbitrage range, a long never above it (a short sold under its intrinsic
    value owes that value, whatever it was sold for; a long bought above its cap is worth no
    more), in the settlement asset (÷ the index for an inverse option, exact)."""
    intrinsic, cap = _no_arbitrage_range(inst, forward)
    usd = mark * index if inst.inverse else mark
    held = max(usd, intrinsic) if qty < 0 else min(usd, cap) if qty > 0 else usd
    if held == usd:
        return mark
    return held / index if inst.inverse else held


def _no_arbitrage(inst: OptionInstrument, usd_mark: Decimal, forward: Decimal, where: str) -> None:
    """Refuse a mark outside the no-arbitrage range (``_no_arbitrage_range``). Below it, a
    short's margin (fractions + mark) would be understated; a vol given alongside does not make
    it a price (an implied vol refuses it too, ``black76.implied_vol``). Exact: Decimal against
    Decimal."""
    intrinsic, cap = _no_arbitrage_range(inst, forward)
    if not intrinsic <= usd_mark <= cap:
        shown = "" if not inst.inverse else " (the mark × the index)"
        raise InvalidInput(f"{where}: mark {plain(usd_mark)} USD{shown} is outside the no-arbitrage range "
                           f"[{plain(intrinsic)}, {plain(cap)}] of this {inst.kind} at forward {plain(forward)}")


MARK_TOLERANCE = Decimal("0.01")
"""How far a volatility given with a mark (or read off the expiry's surface) may price the option
from that mark: 1 % of the mark, or a basis point of the index where that is more (a premium of a
tick or two)."""


def priced_at_marks(portfolio: OptionPortfolio) -> tuple[OptionPortfolio, tuple[str, ...]]:
    """``portfolio`` with every option's volatility pricing it at its mark (``MARK_TOLERANCE``),
    and a note for each volatility replaced, for the rule sets that reprice options with it (the
    scenario grids). The mark is what an option is worth in the equity; the scenarios count their
    losses from the volatility's value. With the two apart, a long call marked at 0.01 BTC given
    a volatility that prices it at 0.094 BTC was charged an MM of 0.07 BTC, seven times all it
    could lose (found by a new-user pass). So the mark decides: a volatility given (or read off
    the expiry's surface) that prices the option elsewhere is replaced by the one implied from the
    mark, and the note says so. A mark no volatility prices is refused."""
    index, notes, options = portfolio.index, [], []
    for o in portfolio.options:
        inst = o.instrument
        usd_mark = o.usd_mark(index)
        if o.vol_source == "none":  # no vol given, no surface, and none implied when it was read
            try:
                implied_vol(inst.kind, float(usd_mark), float(o.forward), float(inst.strike), o.years)
            except InvalidInput as bad:
                raise InvalidInput(f"{inst.name}: no vol given, no surface for its expiry and no volatility prices "
                                   f"its mark ({bad}): the scenarios cannot reprice it") from None
        value = price(inst.kind, float(o.forward), float(inst.strike), o.vol, o.years)
        if o.vol_source == "implied" or abs(Decimal(repr(value)) - usd_mark) <= max(usd_mark * MARK_TOLERANCE,
                                                                                   index / 10_000):
            options.append(o)
            continue
        given = (f"{inst.name}: vol {o.vol:g} ({o.vol_source}) prices this {inst.kind} at {value:.2f} USD, its mark "
                 f"at {plain(round_down(usd_mark, Decimal('0.01')))} USD" + (" (the mark × the index)" if inst.inverse
                                                                              else ""))
        try:
            own = implied_vol(inst.kind, float(usd_mark), float(o.forward), float(inst.strike), o.years)
        except InvalidInput as bad:
            raise InvalidInput(f"{given}, and no volatility prices the mark ({bad}): the scenarios cannot reprice "
                               "it") from None
        notes.append(f"{given}: the scenarios use the mark's own volatility, {own:.4f}")
        options.append(replace(o, vol=own, vol_source="implied"))
    return replace(portfolio, options=tuple(options)), tuple(notes)


def _index(spec: _File, base: str, what: str) -> Decimal:
    if base not in spec.index:
        raise InvalidInput(f"{what} index: no index price for {base}")
    return within(positive(spec.index[base], f"{what} index.{base}"), MAX_PRICE, f"{what} index.{base}")


def portfolio_json(portfolio: OptionPortfolio) -> dict[str, Any]:
    """The portfolio as read (for a report): what was implied is shown. Numbers are plain
    decimal strings (``docs/json-conventions.md``: no exponent, no trailing zeros)."""
    return {"now": portfolio.now.isoformat().replace("+00:00", "Z"), "base": portfolio.base,
            "settle_asset": portfolio.settle, "index_price": plain(portfolio.index), "wallet": plain(portfolio.wallet),
            "options": [{"instrument": o.instrument.name, "qty": plain(o.qty), "mark": plain(o.mark),
                         "vol": None if o.vol_source == "none" else plain(Decimal(repr(o.vol))),
                         "vol_source": o.vol_source, "forward": plain(o.forward),
                         "years_to_expiry": plain(Decimal(repr(o.years)))} for o in portfolio.options],
            "futures": [{"instrument": f.name, "qty": plain(f.qty), "mark": plain(f.mark), "entry": plain(f.entry)}
                        for f in portfolio.futures]}
