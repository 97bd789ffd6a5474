"""The largest order quantity the pre-trade check accepts: computed, then confirmed.

``Engine.max_order_qty`` used to search for it (doubling, then bisection: ~39 full checks).
Here the answer is computed from the account's margin in closed form, then confirmed with
the exact engine check at the candidate ``n`` and at ``n + 1`` lots; if either confirmation
disagrees, a bounded gallop-and-bisect from the candidate finds the boundary with the same
exact check. The answer is therefore always a quantity the check accepts with one more lot
refused.

Why a closed form exists (``engine/orders.py`` ``place_order``, for an order of ``q``):

* every refusal that does not depend on ``q`` (unknown account, halted market, side
  mismatch…) refuses every ``q``;
* bounds (``engine/bounds.py``): ``q ≤ MAX_QTY`` and ``q·price·cs ≤ MAX_AMOUNT``;
* initial margin: the symbol's worst-case quantity ``W(q)`` (``engine/margin.py``) is a
  maximum of lines in ``q`` (one-way: ``max(|net + buys + q|, |net − sells|)`` for a buy;
  hedge: ``long + buys + short + sells (+ q if the order opens its slot)``), so the order
  margin ``max(W(q) − held, 0)·cs·mark/lev + extras + q·cs·(immediate loss + price·fee)``
  is a maximum of lines too, and "available ≥ 0" holds on ``[0, q_A]``;
* limits, applied only when the order does not reduce its slot's position (``q > H``,
  ``H`` the opposite position it can close): position and open-interest caps and the
  table's last cap hold on ``[0, q_L]``; the leverage tier of ``W(q)·cs·max(mark, price)``
  allows the account's leverage on a union of notional intervals (one interval when tier
  leverages fall with notional, as on every bundled venue);
* a reducing order (``q ≤ H``) also passes when the account is under its margin if the fill
  lowers MM and does not worsen the margin ratio. MM is convex in size (tier rates never
  fall) and the fill's equity change is linear in ``q``, so that set is ``[0, q_R]`` too.

So the accepted set is ``[lot, H] ∪ (H, q_max]`` or a subset of ``[lot, H]`` — a down-set,
on which the old bisection and this computation give the same answer — except where a tier
table's leverage rises with notional. There the old bisection could stop at the first gap;
this module returns the largest accepted quantity (the docstring's promise), which
``tests/test_engine_max_qty.py`` checks against a linear scan of ``Engine.check``.

``q_R`` is not computed: when the account cannot carry the margin of the whole reducing
range, the candidate is ``H`` itself; if ``H`` is refused the answer is ``q_A`` or lies between
the two, and the confirmation looks there (``Estimate.floor``).

``Engine.what_if`` sizes the order it is given, reduce-only flag included: a reduce-only
order never passes beyond the position it closes. (The old search always sized a plain
order, so a reduce-only what-if could answer a size that the same order is refused at.)

Cost: the closed form, then two checks when it is right (the usual case); a wrong candidate
costs a gallop and a bisection from it: about 2·log2 of its distance to the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import NamedTuple

import msgspec

from solvent.engine.bounds import MAX_AMOUNT, MAX_QTY, price_bounds, qty_bounds
from solvent.engine.commands import PlaceOrder
from solvent.engine.context import Ctx, Deny, enum_field
from solvent.engine.contract_value import per_unit, value
from solvent.engine.margin import Exposure, order_margin_of
from solvent.engine.orders import OrderSizing, check_quantity, order_scene, order_sizing
from solvent.errors import InvalidInput, LeverageTooHigh
from solvent.model import Instrument, PositionSide, Side
from solvent.risk.rules import MarginRules, TieredRules
from solvent.risk.tiers import TierTable
from solvent.units import ONE, ZERO

__all__ = [
    "PROBE_ORDER_ID", "Estimate", "SizeProbe", "SizeRequest", "confirm_units", "estimate_units", "largest_below",
    "largest_units", "new_order_id", "search_units", "size_probe", "sizing_sides", "sizing_step",
]

PROBE_ORDER_ID = "__what_if__"
"""The order id a new order (``Engine.max_order_qty``) is probed with; if the account already
holds an order of that id, ``new_order_id`` picks a free one."""

Line = tuple[Decimal, Decimal]
"""``(a, c)``: the value ``a + c·q`` for an order quantity ``q``."""

_INF = Decimal("Infinity")
_SEARCH_CAP = 1 << 60
Probe = Callable[[int], bool]


class SizeRequest(msgspec.Struct, frozen=True, gc=False):
    """The order being sized: everything but its quantity, which is ``units × step`` (a struct:
    one is built per what-if)."""

    account_id: str
    symbol: str
    side: Side
    price: Decimal
    position_side: PositionSide
    step: Decimal
    reduce_only: bool = False
    order_id: str | None = None
    """The order's own id (what-if sizes that order); ``None`` for a new order (``new_order_id``)."""

    def order(self, units: int, order_id: str | None = None) -> PlaceOrder:
        named = order_id if order_id is not None else self.order_id
        return PlaceOrder(self.account_id, PROBE_ORDER_ID if named is None else named, self.symbol, self.side,
                          self.step * units, self.price, reduce_only=self.reduce_only,
                          position_side=self.position_side)


def sizing_step(inst: Instrument, lot: object) -> Decimal:
    """A caller's lot for ``Engine.max_order_qty``: a finite positive ``Decimal`` (or ``int``), at
    least the instrument's lot and on its lot grid, else ``InvalidInput`` (any other step sizes to
    0: its first multiple is refused, ``bounds.qty_bounds`` and ``orders.check_quantity``)."""
    step = Decimal(lot) if type(lot) is int else lot
    if not (isinstance(step, Decimal) and step.is_finite() and step > 0):
        raise InvalidInput(f"{inst.symbol}: lot must be a positive finite Decimal, got {lot!r}")
    if step < inst.lot or (inst.lot_size and step % inst.lot_size != 0):
        raise InvalidInput(f"{inst.symbol}: lot {step} is not a multiple of the instrument's lot {inst.lot}")
    return step


def sizing_price(inst: Instrument, price: object) -> Decimal:
    """A caller's price for ``Engine.max_order_qty``: a finite positive ``Decimal``, else
    ``InvalidInput`` (found by a new-user pass: NaN, 0, a float or a string sized to 0 without
    a word, as the check refuses any order at them; one off the tick grid is the check's to
    refuse, and sizes to 0)."""
    if not (isinstance(price, Decimal) and price.is_finite() and price > 0):
        raise InvalidInput(f"{inst.symbol}: price must be a positive finite Decimal, got {price!r}")
    return price


def sizing_sides(side: object, position_side: object) -> tuple[Side, PositionSide]:
    """A caller's side and slot for ``Engine.max_order_qty`` as the enums (``context.enum_field``,
    their values taken), else ``InvalidInput`` (an order no command could carry sizes to nothing:
    say so)."""
    try:
        return enum_field(Side, side, "side"), enum_field(PositionSide, position_side, "position_side")
    except Deny as refused:
        shown = dict(refused.denial.context)
        raise InvalidInput(f"{shown['field']} must be one of {shown['allowed']}, got {shown['got']}") from None


def new_order_id(ctx: Ctx, req: SizeRequest) -> str:
    """The id the request's probes use: its own, or for a new order (``None``) ``PROBE_ORDER_ID``
    or, if the account holds an order of that id, another it does not hold (an order resting on
    the account must not refuse the size of a new one)."""
    if req.order_id is not None:
        return req.order_id
    order_id = PROBE_ORDER_ID
    acc = ctx.state.accounts.get(req.account_id)
    if acc is None:
        return order_id
    n = 0
    while order_id in acc.orders:
        n += 1
        order_id = f"{PROBE_ORDER_ID}{n}"
    return order_id


def _peak(lines: Sequence[Line], q: Decimal) -> Decimal:
    peak = lines[0][0] + lines[0][1] * q
    for a, c in lines[1:]:
        value = a + c * q
        if value > peak:
            peak = value
    return peak


def largest_below(lines: Sequence[Line], bound: Decimal) -> Decimal | None:
    """Largest ``q ≥ 0`` with ``max(a + c·q) ≤ bound``: ``None`` if ``q = 0`` is already above,
    infinity if no line rises. Exact up to the one division per rising line."""
    best = _INF
    for a, c in lines:
        if a > bound:
            return None
        if c > 0:
            q = (bound - a) / c
            if q < best:
                best = q
    return best


def worst_lines(exp: Exposure, hedge: bool, side: Side, slot: PositionSide, counted: bool) -> tuple[Line, ...]:
    """The symbol's worst-case quantity ``W(q)`` with the order resting, as lines in ``q``."""
    if hedge:
        base = exp.long_qty + exp.buys + exp.short_qty + exp.sells
        opens = counted and (slot is PositionSide.LONG) == (side is Side.LONG) and slot is not PositionSide.BOTH
        return ((base, ONE if opens else ZERO),)
    up, down = exp.net_qty + exp.buys, exp.net_qty - exp.sells
    if not counted:
        return ((max(abs(up), abs(down)), ZERO),)
    if side is Side.LONG:
        return ((up, ONE), (-up, -ONE), (abs(down), ZERO))
    return ((down, -ONE), (-down, ONE), (abs(up), ZERO))


def _units(q: Decimal, step: Decimal) -> int:
    """``floor(q / step)`` as an int, for ``q >= 0`` (finite: callers cap it first). Decimal's
    integer division is exact, where the quotient rounded to the working precision and then
    floored could land on the next integer."""
    return int(q // step)


@dataclass(slots=True)
class _Book:
    """What the estimate reads from the engine for one request (not frozen: built on the hot path)."""

    lines: tuple[Line, ...]
    per_worst: Decimal
    """Notional per unit of worst quantity for the limits: ``cs × max(mark, price)`` (inverse:
    ``cs / min(mark, price)``)."""
    q_margin: Decimal | None
    q_cap: Decimal
    reducing_qty: Decimal
    rules: MarginRules
    leverage: Decimal
    falling: bool
    """The rules are a tier table whose maximum leverage never rises with notional."""
    oi_cap: Decimal | None
    position_cap: Decimal | None


def _book(ctx: Ctx, req: SizeRequest, sizing: OrderSizing) -> _Book:
    inst, mark, hedge, lev = sizing.inst, sizing.mark, sizing.hedge, sizing.leverage
    cs, inverse = inst.contract_size, inst.is_inverse
    part = sizing.part
    if part is not None:  # the cached part the check itself reads
        exp, om_old = part.exposure, part.order_margin
    else:  # the order's slot puts the account in the other mode
        exp = ctx.cache.exposure(sizing.acc, req.symbol, sizing.view, hedge)
        om_old = order_margin_of(exp, hedge, mark, cs, lev, inverse).order_margin
    lines = worst_lines(exp, hedge, req.side, req.position_side, not req.reduce_only)
    held = exp.worst_and_held(hedge)[1]
    if inverse:  # ``order_extra`` of one unit
        unit = cs if req.side is Side.LONG else -cs
        loss = value(unit, req.price, True) - value(unit, mark, True)
        per_qty = (loss if loss > 0 else ZERO) + per_unit(cs, req.price, True) * sizing.fee_rate
    else:
        loss = (req.price - mark) if req.side is Side.LONG else (mark - req.price)
        per_qty = cs * ((loss if loss > 0 else ZERO) + req.price * sizing.fee_rate)
    per_worst_im = per_unit(cs, mark, inverse) / lev
    # order margin ≤ budget, as lines in q: max(W(q) − held, 0) × per_worst_im + q × per_qty ≤
    # budget − extras (each line of W has a slope of 1, −1 or 0: no product needed for it)
    floor = ZERO  # the max(·, 0): no order margin beyond what is held; a flat line of W joins it
    pieces = []
    for a, c in lines:
        if c > 0:
            pieces.append((per_worst_im * (a - held), per_qty + per_worst_im))
        elif c < 0:
            pieces.append((per_worst_im * (a - held), per_qty - per_worst_im))
        else:
            flat = per_worst_im * (a - held)
            if flat > floor:
                floor = flat
    pieces.append((floor, per_qty))
    budget = sizing.before.available + om_old - exp.extras
    signed = sizing.held
    reducing = abs(signed) if signed != 0 and (signed > 0) != (req.side is Side.LONG) else ZERO
    by_amount = MAX_AMOUNT / (req.price * cs)
    rules = ctx.config.profile.rules_for(req.symbol)
    falling = isinstance(rules, TieredRules) and _leverage_falls(rules.table)
    return _Book(lines, sizing.per_worst, largest_below(pieces, budget),
                 by_amount if by_amount < MAX_QTY else MAX_QTY, reducing, rules, lev, falling, sizing.oi_cap,
                 sizing.position_cap)


_FALLING: dict[int, tuple[TierTable, bool]] = {}
"""Per tier table (by identity): whether its maximum leverage never rises with notional."""


def _leverage_falls(table: TierTable) -> bool:
    known = _FALLING.get(id(table))
    if known is None or known[0] is not table:
        levs = [t.max_leverage for t in table.tiers]
        known = _FALLING[id(table)] = (table, all(a >= b for a, b in pairwise(levs)))
    return known[1]


_CAPS: dict[tuple[int, Decimal], tuple[TierTable, Decimal, bool]] = {}
"""``_leverage_cap`` per tier table (by identity) and leverage (bounded)."""
_CAPS_SIZE = 4096


def _leverage_cap(table: TierTable, leverage: Decimal) -> tuple[Decimal, bool]:
    """For a table whose leverage only falls: the notional bound for ``leverage`` and whether it
    is strict (``notional < cap`` of the last tier allowing it; ``≤`` for the table's last cap).
    ``(-1, False)`` when no tier allows it."""
    key = (id(table), leverage)
    known = _CAPS.get(key)
    if known is None or known[0] is not table:
        if len(_CAPS) >= _CAPS_SIZE:
            _CAPS.clear()
        known = _CAPS[key] = (table, *_cap_for(table, leverage))
    return known[1], known[2]


def _cap_for(table: TierTable, leverage: Decimal) -> tuple[Decimal, bool]:
    tiers = table.tiers
    for i in range(len(tiers) - 1, -1, -1):
        if tiers[i].max_leverage >= leverage:
            return tiers[i].cap_notional, i < len(tiers) - 1
    return -ONE, False


def _limit_units(ctx: Ctx, req: SizeRequest, book: _Book, q_margin: Decimal) -> int:
    """The largest units the down-set constraints allow: margin, bounds, position and OI caps,
    and the tier table (its last cap; the whole leverage rule when its leverage only falls,
    else ``_tiered_units`` scans its tiers within this result)."""
    cap = q_margin if q_margin < book.q_cap else book.q_cap
    oi_cap = book.oi_cap
    if oi_cap is not None:
        cap = min(cap, oi_cap - ctx.state.open_interest.get(req.symbol, ZERO))
    position_cap = book.position_cap
    notional_cap, strict = (_INF if position_cap is None else position_cap), False
    rules = book.rules
    if isinstance(rules, TieredRules):
        table_cap, strict = _leverage_cap(rules.table, book.leverage) if book.falling else (
            rules.table.max_notional, False)
        if table_cap <= notional_cap:
            notional_cap = table_cap
        else:
            strict = False
    if notional_cap < _INF:
        by_worst = largest_below(book.lines, notional_cap / book.per_worst) if notional_cap >= 0 else None
        if by_worst is None:
            return 0
        cap = min(cap, by_worst)
    if cap < req.step:
        return 0
    units = _units(cap, req.step)
    if strict and _peak(book.lines, units * req.step) * book.per_worst >= notional_cap:
        units -= 1  # the cap belongs to the next tier
    return units


def _leverage_ok(book: _Book, q: Decimal) -> bool:
    worst = _peak(book.lines, q)
    try:
        book.rules.check_leverage(worst, worst * book.per_worst, book.leverage)
    except LeverageTooHigh:
        return False
    return True


def _tiered_units(book: _Book, rules: TieredRules, step: Decimal, cap_units: int) -> int:
    """Largest units ``≤ cap_units`` whose notional lies in a tier allowing the leverage.

    Tiers are taken from the top: the first one holding an allowed quantity holds the largest.
    A tier holds ``floor ≤ notional < cap`` (the last one up to its cap, already in ``cap_units``).
    ``W`` never falls as ``q`` grows, so a tier whose largest quantity is below its floor
    holds none, and once ``W(0)`` is past a tier's cap no lower tier holds any either.
    """
    tiers, lines, per = rules.table.tiers, book.lines, book.per_worst
    last = len(tiers) - 1
    for i in range(last, -1, -1):
        tier = tiers[i]
        if tier.max_leverage < book.leverage:
            continue
        hi = cap_units
        if i < last:
            below = largest_below(lines, tier.cap_notional / per)
            if below is None:
                return 0
            if below < _INF:
                hi = min(hi, _units(below, step))
            if hi >= 1 and _peak(lines, hi * step) * per >= tier.cap_notional:
                hi -= 1  # the cap belongs to the next tier
        if hi < 1:
            return 0
        if i == 0 or _peak(lines, hi * step) * per >= tier.floor_notional:
            return hi
    return 0


def _opening_units(ctx: Ctx, req: SizeRequest, book: _Book) -> int:
    """Largest units above the reducing range the check accepts (0: none)."""
    if book.q_margin is None or req.reduce_only:
        return 0
    cap_units = _limit_units(ctx, req, book, book.q_margin)
    if cap_units <= 0:
        return 0
    rules = book.rules
    if isinstance(rules, TieredRules):
        best = cap_units if book.falling else _tiered_units(book, rules, req.step, cap_units)
    else:  # venue size rules: allowed leverage only falls with size, so bisect the pure rule
        lo, hi = _units(book.reducing_qty, req.step), cap_units + 1
        if _leverage_ok(book, cap_units * req.step):
            lo = hi - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if _leverage_ok(book, mid * req.step) else (lo, mid)
        best = lo
    return best if best * req.step > book.reducing_qty else 0


class Estimate(NamedTuple):
    """``units``: the largest lot count the check should accept. ``floor``: when ``units`` is the
    whole reducing range of an account that cannot carry its margin (module docstring), the
    count the margin alone allows, where the answer lies if ``units`` is refused."""

    units: int
    floor: int


def estimate_units(ctx: Ctx, req: SizeRequest, sizing: OrderSizing) -> Estimate | None:
    """The closed-form answer (module docstring), from the figures the check of the order reads
    (``sizing``: built only once every check that does not depend on the quantity has passed,
    so the account, the slot, the price and its tick, the order id, the mark and the halt are
    known good). ``units`` is ``0`` when no quantity can pass; ``None`` when the request is
    outside what the closed form covers (a step below the lot or off the instrument's lot
    grid): search instead.
    """
    inst = sizing.inst
    step = req.step
    if step != inst.lot and (  # the instrument's own lot is on its grid
            not step.is_finite() or step <= 0 or step < inst.lot or (inst.lot_size and step % inst.lot_size != 0)):
        return None
    book = _book(ctx, req, sizing)
    closes_slot = req.position_side is not PositionSide.BOTH and (
        (req.position_side is PositionSide.LONG) != (req.side is Side.LONG))
    if closes_slot and not book.reducing_qty:
        return _NOTHING  # NO_POSITION
    opening = _opening_units(ctx, req, book)
    if opening:
        return Estimate(opening, opening)
    units = _units(min(book.reducing_qty, book.q_cap), step)
    floor = 0 if book.q_margin is None else min(units, _units(min(book.q_margin, book.q_cap), step))
    return Estimate(units, floor)


_NOTHING = Estimate(0, 0)


def search_units(ok: Probe) -> int:
    """The old search, kept for requests the closed form does not cover: doubling, then bisection."""
    lo, hi = 0, 1
    while ok(hi):
        lo, hi = hi, hi * 2
        if hi > _SEARCH_CAP:
            break
    return _bisect(ok, lo, hi)


def _bisect(ok: Probe, lo: int, hi: int) -> int:
    """``ok(lo)`` (or ``lo == 0``) and not ``ok(hi)``: a boundary between them."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def confirm_units(ok: Probe, guess: int, floor: int | None = None) -> int:
    """``guess`` if ``ok(guess)`` and not ``ok(guess + 1)``; else the boundary nearest it, found
    by galloping away from ``guess`` and bisecting (a few more checks). ``floor < guess``: where
    to look first if ``guess`` is refused (the answer is then ``floor`` or between the two)."""
    if guess <= 0:
        return _climb(ok, 1) if ok(1) else 0
    if ok(guess):
        return _climb(ok, guess)
    if floor is not None and 0 <= floor < guess - 1:
        if ok(floor + 1):
            return _bisect(ok, floor + 1, guess)
        guess = floor + 1
    step, hi, lo = 1, guess, guess - 1
    while lo > 0 and not ok(lo):
        hi, step = lo, step * 2
        lo = max(hi - step, 0)
    return _bisect(ok, lo, hi)


def _climb(ok: Probe, lo: int) -> int:
    """``ok(lo)`` known (or ``lo == 0``): gallop up to a refusal, then bisect."""
    step, hi = 1, lo + 1
    while ok(hi):
        lo, step = hi, step * 2
        hi = lo + step
        if hi > _SEARCH_CAP:
            return lo
    return _bisect(ok, lo, hi)


class SizeProbe:
    """``n ↦`` whether ``Engine.check`` accepts the request's order of ``n`` lots: the checks the
    quantity does not change (``bounds.price_bounds``, ``orders.order_scene``) ran once when it
    was built (``sizing`` is ``None`` when one refused: nothing passes); per call, the
    quantity's own (``bounds.qty_bounds``, ``orders.check_quantity``) and ``OrderSizing.refusal``,
    the check's own code. No result, event or refusal reason is built: a probe needs yes or no."""

    __slots__ = ("price", "sizing", "step")

    def __init__(self, sizing: OrderSizing | None, price: Decimal, step: Decimal) -> None:
        self.sizing, self.price, self.step = sizing, price, step

    def __call__(self, units: int) -> bool:
        sizing = self.sizing
        if sizing is None:
            return False
        qty = self.step * units
        try:
            qty_bounds(sizing.inst, self.price, qty)
            check_quantity(sizing.inst, qty)
            return sizing.refusal(sizing.order(qty)) is None
        except Exception:  # a refusal, or a bug, which ``Engine.check`` refuses too
            return False


def size_probe(ctx: Ctx, req: SizeRequest, sizing: OrderSizing | None = None) -> SizeProbe:
    """The probe of ``req`` (``SizeProbe``). ``sizing``: what the check of an order with the
    request's account, symbol, side, slot, price and reduce-only flag judged its quantity with
    (``Ctx.sizings``), which passed every check the quantity does not change, the order's id
    included."""
    if sizing is not None:
        return SizeProbe(sizing, req.price, req.step)
    sample = req.order(1, new_order_id(ctx, req))
    try:
        price_bounds(ctx.config, sample)
        acc, inst, mark, side, slot = order_scene(ctx, sample)
        sizing = order_sizing(ctx, acc, inst, mark, side, slot, sample)
    except Exception:  # a refusal (``Deny``) or a bug, whatever the quantity: nothing passes
        return SizeProbe(None, req.price, req.step)
    return SizeProbe(sizing, req.price, req.step)


def largest_units(ctx: Ctx, req: SizeRequest, sizing: OrderSizing | None = None) -> int:
    """The largest lot count the exact engine check accepts: estimated, then confirmed with the
    request's ``SizeProbe`` (``sizing``: as for ``size_probe``)."""
    probe = size_probe(ctx, req, sizing)
    if probe.sizing is None:
        return 0  # refused whatever the quantity
    guess = estimate_units(ctx, req, probe.sizing)
    return search_units(probe) if guess is None else confirm_units(probe, guess.units, guess.floor)
