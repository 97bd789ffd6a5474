"""Z1: a committed excess-margin attestation (CEMA, ``../shared/verifiability.md`` §3.3).

An account proves "my equity was at least my MM at checkpoint N" (or, for a liquidation, "it
was below", with the venue's trigger: ``CLAIMS``) without revealing its sizes, entries or
collateral. The venue publishes, per account, Pedersen commitments to each collateral
balance (in units of the asset's quantum), and per position to the signed quantity ``q`` in
lots, the signed cost basis (in money units: ``Σ qty × entry``) and ``|q|``; the blinding
factors go privately to the holder, who checks the openings (``openings_match``).

The marks, lots, MM rates, collateral prices, haircuts and quanta are public (they are in the
journal). With ``μ`` the money unit and ``S`` the smallest power of ten that makes every
coefficient whole, the verifier computes, from the commitments alone,

    C_excess = Σ_a S·p_a·(1−h_a)·u_a/μ · C_coll[a] + Σ_i S·P_i·L_i/μ · C_q[i] − Σ_i S · C_cost[i]
               − Σ_i S·P_i·L_i·m_i/μ · C_abs[i] + Σ_i S·a_i/μ · G

which commits to ``S × (equity − MM) / μ``, and checks: for each position an OR proof that
``C_abs − C_q`` or ``C_abs + C_q`` opens to 0 with a 64-bit range proof on ``C_abs`` (so
``abs = |q|``; on entry basis ``C_abs`` is tied to ``C_cost`` instead and ``C_q`` gets its own
signed 64-bit range proof), and a range proof that ``sign × C_excess − offset·G`` opens to ``[0, 2^bits)``
(``CLAIMS``: ``≥`` is ``excess ≥ 0``, ``<`` is ``−excess − 1 ≥ 0``). Every public input and
commitment is in the Fiat–Shamir transcript before the first challenge.

Tiers (Z1b): a position's MM is ``notional × m − a`` in the tier ``[floor, cap)`` the statement
names; with ``C_notional = S·P·L/μ · C_abs``, range proofs that ``C_notional − floor·G`` and
``(cap − 1)·G − C_notional`` open to ``[0, 2^bits)`` show the notional is in that tier, and the
maintenance amounts add ``Σ S·a/μ · G`` back to ``C_excess``.

What it covers: cross positions on linear instruments with tiered MM on the notional at the
mark (``engine_statement`` refuses anything else, naming why); portfolio margin and options are
out of reach of sigma protocols. The proof reveals which instruments the account holds and the
tier of each; the values are exact (no rounding), so an engine that rounds a collateral value
per asset is covered only for the settlement asset.
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, TypeVar

from solvent.errors import InvalidInput
from solvent.proofs.zk.group import ORDER, add, base_mul, commit, mul, neg, random_scalar, sub
from solvent.proofs.zk.rangeproof import RANGE_BITS, RangeProof, prove_range, verify_range
from solvent.proofs.zk.sigma import OrProof, prove_or, verify_or
from solvent.proofs.zk.transcript import Transcript
from solvent.risk.levels import EXACT_CONTEXT
from solvent.units import plain

__all__ = [
    "CEMA_FORMAT",
    "CLAIMS",
    "CollateralTerm",
    "Commitments",
    "Openings",
    "PositionTerm",
    "Proof",
    "Statement",
    "Witness",
    "coefficients",
    "excess",
    "openings_match",
    "prove",
    "verify",
]

_T = TypeVar("_T")
MAX_NAME = 200
NAME = re.compile(rf"[\x21-\x7e]{{1,{MAX_NAME}}}")
"""A checkpoint, scope, asset or symbol: printable ASCII without spaces, so that what a verifier
prints of a statement cannot pass for something else (a line break, a terminal escape)."""
PSEUDONYM = re.compile(r"[0-9a-f]{32}")
"""An account as a statement names it (``engine_statement.pseudonym``)."""
MAX_TERMS = 1_000
"""The most positions (and collateral terms) a statement holds: a verifier's work is bounded
before it starts (about 40 ms of group operations per position)."""

CEMA_FORMAT = "solvent-cema-v2"
"""v2: an entry-basis position's ``C_q`` is range-proven (in v1 nothing bounded it, so its
value could wrap modulo ℓ and make any claim hold)."""
ABS_BITS = 64
CLAIMS: dict[str, tuple[int, int]] = {
    "equity_ge_mm": (1, 0),
    "equity_gt_mm": (1, 1),
    "equity_le_mm": (-1, 0),
    "equity_lt_mm": (-1, 1),
}
"""Each claim as ``(sign, offset)``: it holds when ``sign × excess − offset ≥ 0``."""


@dataclass(frozen=True, slots=True)
class CollateralTerm:
    asset: str
    price: Decimal
    haircut: Decimal
    unit: Decimal
    """The quantum a committed balance counts in (e.g. 10^-8 of the asset)."""


@dataclass(frozen=True, slots=True)
class PositionTerm:
    symbol: str
    mark: Decimal
    lot: Decimal
    """Base units per committed lot (the instrument's lot × contract size)."""
    mm_rate: Decimal
    maint_amount: Decimal = Decimal(0)
    """The tier's maintenance amount: MM = notional × mm_rate − maint_amount."""
    tier_floor: Decimal = Decimal(0)
    tier_cap: Decimal | None = None
    """The tier holds notionals in ``[tier_floor, tier_cap)`` (``None``: no cap); a tier with a
    floor or a cap is proven by two more range proofs (Z1b)."""
    basis: str = "mark"
    """What MM and the tier are measured on: ``mark``, the notional at the mark (``P·L·|q|``), or
    ``entry``, the entry value (``|cost|``: Bybit, BitMEX). ``C_abs`` commits to ``|q|`` or to
    ``|cost|`` accordingly."""

    side: str = "both"
    """The position's slot: ``both`` (one-way mode), or ``long``/``short`` in hedge mode (two
    positions in one symbol, each with its own MM)."""

    @property
    def on_entry(self) -> bool:
        return self.basis == "entry"

    @property
    def tiered(self) -> bool:
        return self.tier_floor > 0 or self.tier_cap is not None


@dataclass(frozen=True, slots=True)
class Statement:
    """Everything public: which checkpoint, which account (a pseudonym), what is claimed, and
    the coefficients' inputs."""

    checkpoint: str
    account: str
    claim: str
    money_unit: Decimal
    collateral: tuple[CollateralTerm, ...]
    positions: tuple[PositionTerm, ...]
    bits: int = 64
    scope: str = "cross"
    """Which of the account's margin scopes: ``cross`` (the wallet and the cross positions) or
    ``isolated:SYMBOL`` (one isolated position and the margin it holds)."""

    def check(self) -> None:
        if self.claim not in CLAIMS:
            raise InvalidInput(f"claim {self.claim!r} is not one of {', '.join(CLAIMS)}")
        if self.bits not in RANGE_BITS:
            raise InvalidInput(f"bits must be one of {', '.join(map(str, RANGE_BITS))}, got {self.bits}")
        if not PSEUDONYM.fullmatch(self.account):
            raise InvalidInput("the statement's account must be a pseudonym: 32 lowercase hex digits")
        for what, name in (("checkpoint", self.checkpoint), ("scope", self.scope),
                           *(("asset", c.asset) for c in self.collateral),
                           *(("symbol", p.symbol) for p in self.positions)):
            if not NAME.fullmatch(name):
                raise InvalidInput(f"the statement's {what} must be 1 to {MAX_NAME} printable ASCII characters "
                                   "without spaces")
        if self.scope != "cross" and not (self.scope.startswith("isolated:") and len(self.positions) == 1
                                          and self.scope == f"isolated:{self.positions[0].symbol}"):
            raise InvalidInput(f"scope must be cross, or isolated:SYMBOL with that one position, got {self.scope!r}")
        if len(self.positions) > MAX_TERMS or len(self.collateral) > MAX_TERMS:
            raise InvalidInput(f"a statement holds at most {MAX_TERMS} positions and {MAX_TERMS} collateral terms")
        if not self.money_unit > 0:
            raise InvalidInput(f"money_unit must be > 0, got {self.money_unit}")
        for c in self.collateral:
            if not (c.price >= 0 and 0 <= c.haircut <= 1 and c.unit > 0):
                raise InvalidInput(f"collateral {c.asset}: need price >= 0, 0 <= haircut <= 1 and unit > 0")
        for p in self.positions:
            if not (p.mark > 0 and p.lot > 0 and 0 <= p.mm_rate <= 1):
                raise InvalidInput(f"position {p.symbol}: need mark > 0, lot > 0 and 0 <= mm_rate <= 1")
            if not (p.maint_amount >= 0 and p.tier_floor >= 0 and (p.tier_cap is None or p.tier_cap > p.tier_floor)):
                raise InvalidInput(f"position {p.symbol}: need maint_amount >= 0 and 0 <= tier_floor < tier_cap")
            if p.basis not in ("mark", "entry"):
                raise InvalidInput(f"position {p.symbol}: basis must be mark or entry, got {p.basis!r}")
            if p.side not in ("both", "long", "short"):
                raise InvalidInput(f"position {p.symbol}: side must be both, long or short, got {p.side!r}")
        sides: dict[str, set[str]] = {}
        for p in self.positions:
            sides.setdefault(p.symbol, set()).add(p.side)
        mixed = [symbol for symbol, held in sides.items() if "both" in held and len(held) > 1]
        if mixed:
            raise InvalidInput(f"{mixed[0]} is held both one-way (side both) and in hedge mode (long or short)")
        if len({c.asset for c in self.collateral}) != len(self.collateral) or len(
                {(p.symbol, p.side) for p in self.positions}) != len(self.positions):
            raise InvalidInput("an asset, or a symbol and side, appears twice in the statement")
        coefficients(self)  # exact, and small enough that no sum wraps modulo ℓ

    def to_json(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "account": self.account, "claim": self.claim, "scope": self.scope,
                "money_unit": plain(self.money_unit), "bits": self.bits,
                "collateral": [{k: v if isinstance(v, str) else plain(v) for k, v in asdict(c).items()}
                               for c in self.collateral],
                "positions": [{k: v if isinstance(v, str) or v is None else plain(v) for k, v in asdict(p).items()}
                              for p in self.positions]}


@dataclass(frozen=True, slots=True)
class Witness:
    """The account's private values: balances in units, signed lots, signed cost in money units."""

    collateral: tuple[int, ...]
    qty: tuple[int, ...]
    cost: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Openings:
    """The blinding factors the venue hands the holder (with the witness, they open every commitment)."""

    collateral: tuple[int, ...]
    qty: tuple[int, ...]
    cost: tuple[int, ...]
    abs: tuple[int, ...]

    @classmethod
    def draw(cls, collateral: int, positions: int) -> Openings:
        return cls(tuple(random_scalar() for _ in range(collateral)),
                   *(tuple(random_scalar() for _ in range(positions)) for _ in range(3)))


@dataclass(frozen=True, slots=True)
class Commitments:
    collateral: tuple[bytes, ...]
    qty: tuple[bytes, ...]
    cost: tuple[bytes, ...]
    abs: tuple[bytes, ...]


def _whole(value: Decimal) -> int:
    """The power of ten that makes ``value`` whole."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(-exponent, 0)


MAX_SCALE_DIGITS = 30
"""The finest coefficient ``S`` may make whole (``S ≤ 10^30``): a finer one would need wider proofs."""


@dataclass(frozen=True, slots=True)
class Coefficients:
    """The statement's whole-number coefficients (module docstring), all scaled by ``scale`` (S)."""

    scale: int
    collateral: list[int]
    qty: list[int]
    """``S·P·L/μ``, the value of one lot at the mark."""
    notional: list[int]
    """What one unit of ``abs`` adds to the notional a tier is read on: ``S·P·L/μ`` (mark basis,
    ``abs = |q|``), ``S`` (entry basis, ``abs = |cost|``)."""
    absq: list[int]
    constant: int
    """``Σ S·maint_amount/μ``: MM's constant part, added back to the excess."""
    floors: list[int]
    caps: list[int | None]


def coefficients(st: Statement) -> Coefficients:
    """The whole-number coefficients, computed exactly (whatever the caller's decimal context:
    an inexact step refuses the statement) and bounded so that no sum the proof relies on can
    wrap around the group order (``_check_no_wrap``)."""
    try:
        return _coefficients(st)
    except (decimal.Inexact, decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero):
        raise InvalidInput("the statement's coefficients are not exact decimals (a money unit that does not "
                           "divide the prices and lots?)") from None


def _coefficients(st: Statement) -> Coefficients:
    x = EXACT_CONTEXT
    unit = st.money_unit
    coll = [x.divide(x.multiply(x.multiply(c.price, x.subtract(Decimal(1), c.haircut)), c.unit), unit)
            for c in st.collateral]
    qty = [x.divide(x.multiply(p.mark, p.lot), unit) for p in st.positions]
    absq = [x.multiply(Decimal(1) if p.on_entry else q, p.mm_rate) for p, q in zip(st.positions, qty, strict=True)]
    amounts = [x.divide(p.maint_amount, unit) for p in st.positions]
    floors = [x.divide(p.tier_floor, unit) for p in st.positions]
    caps = [x.divide(p.tier_cap, unit) for p in st.positions if p.tier_cap is not None]
    digits = max((_whole(v) for v in (*coll, *qty, *absq, *amounts, *floors, *caps)), default=0)
    if digits > MAX_SCALE_DIGITS:
        raise InvalidInput(f"a coefficient needs 10^{digits} to be whole (at most 10^{MAX_SCALE_DIGITS}): "
                           "choose a coarser money unit or lot")
    scale = 10 ** digits

    def whole(v: Decimal) -> int:
        return int(x.multiply(v, Decimal(scale)))

    k = Coefficients(scale, [whole(v) for v in coll], [whole(v) for v in qty],
                     [scale if p.on_entry else whole(v) for p, v in zip(st.positions, qty, strict=True)],
                     [whole(v) for v in absq], sum(whole(v) for v in amounts), [whole(v) for v in floors],
                     [None if p.tier_cap is None else whole(x.divide(p.tier_cap, unit)) for p in st.positions])
    _check_no_wrap(k, st.bits)
    return k


VALUE_BITS = 64
"""Every committed value is proven below 2^64 in size (collateral, cost and an entry-basis
quantity as signed values, ``abs`` as unsigned, a mark-basis ``q`` as ``±abs``), so with
``_check_no_wrap`` every integer the verifier reasons about is below ℓ/2 in size: a sum that is
small modulo ℓ is small as an integer."""


def _check_no_wrap(k: Coefficients, bits: int) -> None:
    """Refuse coefficients so large that ``C_excess`` or a tier point could wrap modulo ℓ."""
    bound = 2**VALUE_BITS
    excess_bound = (sum(abs(v) for v in (*k.collateral, *k.qty, *k.absq)) + k.scale * len(k.qty)) * bound \
        + abs(k.constant) + 2**bits + 1
    tier_bound = max((n * bound + max(f, c or 0) for n, f, c in zip(k.notional, k.floors, k.caps, strict=True)),
                     default=0) + 2**bits
    if max(excess_bound, tier_bound) >= ORDER // 2:
        raise InvalidInput("the statement's coefficients are too large for a sound proof (a money unit or a lot "
                           "far too fine for the prices)")


def _terms(st: Statement) -> tuple[Coefficients, list[int], list[int], list[int], list[int]]:
    k = coefficients(st)
    return k, k.collateral, k.qty, [-k.scale] * len(k.qty), [-a for a in k.absq]


def excess(st: Statement, w: Witness) -> int:
    """``S × (equity − MM) / μ``, from the values (what ``C_excess`` commits to)."""
    k, kc, kq, kcost, kabs = _terms(st)
    return (sum(c * v for c, v in zip(kc, w.collateral, strict=True))
            + sum(c * q for c, q in zip(kq, w.qty, strict=True))
            + sum(c * v for c, v in zip(kcost, w.cost, strict=True))
            + sum(c * v for c, v in zip(kabs, _abs_values(st, w), strict=True)) + k.constant)


def _abs_values(st: Statement, w: Witness) -> list[int]:
    """What each ``C_abs`` commits to: ``|q|`` (mark basis) or ``|cost|`` (entry basis)."""
    return [abs(c if p.on_entry else q) for p, q, c in zip(st.positions, w.qty, w.cost, strict=True)]


def _based(st: Statement, i: int, qty: Sequence[_T], cost: Sequence[_T]) -> _T:
    """Of a position's quantity and cost (commitments, values or blindings), the one ``abs`` is of."""
    return cost[i] if st.positions[i].on_entry else qty[i]


def _signed(v: int) -> int:
    """A signed value's offset into ``[0, 2^64)`` (its range proof's value)."""
    shifted: int = v + 2 ** (VALUE_BITS - 1)
    return shifted


def _value_points(st: Statement, c: Commitments) -> list[tuple[str, bytes]]:
    """The commitments whose values are proven signed 64-bit, each shifted by ``2^63·G`` (it opens
    to ``[0, 2^64)`` exactly when its value lies in ``[−2^63, 2^63)``): every collateral balance,
    every cost, and the quantity of every entry-basis position (on mark basis ``|q| = abs`` bounds
    it already)."""
    shift = base_mul(2 ** (VALUE_BITS - 1))
    return [*((f"collateral{i}", add(p, shift)) for i, p in enumerate(c.collateral)),
            *((f"cost{i}", add(p, shift)) for i, p in enumerate(c.cost)),
            *((f"qty{i}", add(c.qty[i], shift)) for i in _entry_positions(st))]


def _entry_positions(st: Statement) -> list[int]:
    return [i for i, p in enumerate(st.positions) if p.on_entry]


def _signed_values(st: Statement, w: Witness | Openings) -> tuple[int, ...]:
    """The values (or blindings) ``_value_points`` commit to, in its order."""
    return (*w.collateral, *w.cost, *(w.qty[i] for i in _entry_positions(st)))


def _commitments(st: Statement, w: Witness, o: Openings) -> Commitments:
    return Commitments(tuple(commit(v, r) for v, r in zip(w.collateral, o.collateral, strict=True)),
                       tuple(commit(v, r) for v, r in zip(w.qty, o.qty, strict=True)),
                       tuple(commit(v, r) for v, r in zip(w.cost, o.cost, strict=True)),
                       tuple(commit(v, r) for v, r in zip(_abs_values(st, w), o.abs, strict=True)))


def _claimed(st: Statement, c: Commitments) -> bytes:
    """``sign × C_excess − offset·G``, from the public coefficients and the commitments alone."""
    k, kc, kq, kcost, kabs = _terms(st)
    total = base_mul(k.constant)
    for ks, points in ((kc, c.collateral), (kq, c.qty), (kcost, c.cost), (kabs, c.abs)):
        for coefficient, p in zip(ks, points, strict=True):
            total = add(total, mul(coefficient, p))
    sign, offset = CLAIMS[st.claim]
    return sub(total if sign > 0 else neg(total), base_mul(offset))


def _claimed_opening(st: Statement, w: Witness, o: Openings) -> tuple[int, int]:
    """The value and blinding ``_claimed`` commits to."""
    _, kc, kq, kcost, kabs = _terms(st)
    blinding = sum(k * r for ks, rs in ((kc, o.collateral), (kq, o.qty), (kcost, o.cost), (kabs, o.abs))
                   for k, r in zip(ks, rs, strict=True))
    sign, offset = CLAIMS[st.claim]
    return sign * excess(st, w) - offset, sign * blinding % ORDER


def _transcript(st: Statement, c: Commitments) -> Transcript:
    t = Transcript("solvent/cema/v2")
    t.append("statement", json.dumps(st.to_json(), sort_keys=True, separators=(",", ":")).encode())
    for name in ("collateral", "qty", "cost", "abs"):
        t.append(f"commitments/{name}", b"".join(getattr(c, name)))
    return t


@dataclass(frozen=True, slots=True)
class Proof:
    statement: Statement
    commitments: Commitments
    abs_or: tuple[OrProof, ...]
    abs_range: tuple[RangeProof, ...]
    excess_range: RangeProof
    tiers: tuple[tuple[RangeProof | None, RangeProof | None], ...]
    """Per position, the proofs that its notional is at or above the tier's floor and below its
    cap (``None`` where the tier has no floor or no cap)."""
    values: tuple[RangeProof, ...]
    """Each collateral value, each cost, then each entry-basis quantity, in ``[−2^63, 2^63)``
    (``_value_points``)."""


def _tier_values(st: Statement, k: Coefficients, i: int, size: int) -> tuple[int, int]:
    """What ``_tier_points`` open to for ``size`` lots: ``notional − floor`` and ``cap − 1 −
    notional`` (``InvalidInput`` when the notional is outside the tier)."""
    notional, cap = k.notional[i] * size, k.caps[i]
    if notional < k.floors[i] or (cap is not None and notional >= cap):
        raise InvalidInput(f"position {st.positions[i].symbol} is not in the tier the statement names")
    return notional - k.floors[i], (cap if cap is not None else notional + 1) - 1 - notional


def _tier_points(k: Coefficients, i: int, c_abs: bytes) -> tuple[bytes | None, bytes | None]:
    """``C_notional − floor·G`` and ``(cap − 1)·G − C_notional``, with ``C_notional`` the
    notional coefficient times ``C_abs``."""
    notional = mul(k.notional[i], c_abs)
    cap = k.caps[i]
    return (sub(notional, base_mul(k.floors[i])) if k.floors[i] > 0 else None,
            sub(base_mul(cap - 1), notional) if cap is not None else None)


def _shape(st: Statement, w: Witness, o: Openings) -> None:
    n, m = len(st.collateral), len(st.positions)
    if (len(w.collateral), len(w.qty), len(w.cost)) != (n, m, m) or (
            len(o.collateral), len(o.qty), len(o.cost), len(o.abs)) != (n, m, m, m):
        raise InvalidInput("the witness and openings must have one value per collateral term and per position")


def prove(st: Statement, w: Witness, o: Openings | None = None) -> tuple[Proof, Openings]:
    """A proof of ``st``'s claim for the account whose values are ``w`` (``InvalidInput`` when
    the claim is false: no proof exists), and the openings its holder checks."""
    st.check()
    o = o if o is not None else Openings.draw(len(st.collateral), len(st.positions))
    _shape(st, w, o)
    sizes = _abs_values(st, w)
    if any(v >= 2**ABS_BITS for v in sizes) or any(not 0 <= _signed(v) < 2**VALUE_BITS
                                                   for v in _signed_values(st, w)):
        raise InvalidInput(f"a value of 2^{VALUE_BITS - 1} units or more (lots, or money units): choose a coarser unit")
    value, blinding = _claimed_opening(st, w, o)
    if not 0 <= value < 2**st.bits:
        if value < 0:
            raise InvalidInput(f"the claim {st.claim} is false for this account: no proof exists")
        raise InvalidInput(f"the margin excess needs more than {st.bits} bits: use a wider proof (bits 96 or 128)")
    c = _commitments(st, w, o)
    t = _transcript(st, c)
    ors, ranges = [], []
    for i, size in enumerate(sizes):
        signed, r_base = _based(st, i, w.qty, w.cost), _based(st, i, o.qty, o.cost)
        base = _based(st, i, c.qty, c.cost)
        which = 0 if signed >= 0 else 1  # abs − base opens to 0 for a long (and flat), abs + base for a short
        ors.append(prove_or(t, f"abs{i}", sub(c.abs[i], base), add(c.abs[i], base), which,
                            (o.abs[i] - r_base) % ORDER if which == 0 else (o.abs[i] + r_base) % ORDER))
        ranges.append(prove_range(t, f"abs{i}/range", c.abs[i], size, o.abs[i], ABS_BITS))
    values = tuple(prove_range(t, f"{label}/range", point, _signed(v), r, VALUE_BITS)
                   for (label, point), v, r in zip(_value_points(st, c), _signed_values(st, w),
                                                   _signed_values(st, o), strict=True))
    k = coefficients(st)
    tiers = []
    for i, size in enumerate(sizes):
        above, below = _tier_values(st, k, i, size)
        lower, upper = _tier_points(k, i, c.abs[i])
        r = k.notional[i] * o.abs[i]
        tiers.append((None if lower is None else prove_range(t, f"tier{i}/floor", lower, above, r, st.bits),
                      None if upper is None else prove_range(t, f"tier{i}/cap", upper, below, -r, st.bits)))
    claimed = _claimed(st, c)
    proof = Proof(st, c, tuple(ors), tuple(ranges), prove_range(t, "excess", claimed, value, blinding, st.bits),
                  tuple(tiers), values)
    return proof, o


def verify(proof: Proof) -> bool:
    """Whether ``proof`` proves its statement's claim (public inputs only)."""
    st, c = proof.statement, proof.commitments
    try:
        st.check()
        k = coefficients(st)
    except InvalidInput:
        return False
    m = len(st.positions)
    if len(c.collateral) != len(st.collateral) or not len(c.qty) == len(c.cost) == len(c.abs) == m or not len(
            proof.abs_or) == len(proof.abs_range) == m:
        return False
    t = _transcript(st, c)
    for i in range(m):
        base = _based(st, i, c.qty, c.cost)
        if not verify_or(t, f"abs{i}", sub(c.abs[i], base), add(c.abs[i], base), proof.abs_or[i]):
            return False
        if not verify_range(t, f"abs{i}/range", c.abs[i], proof.abs_range[i], ABS_BITS):
            return False
    points = _value_points(st, c)
    if len(proof.values) != len(points) or not all(
            verify_range(t, f"{label}/range", point, p, VALUE_BITS)
            for (label, point), p in zip(points, proof.values, strict=True)):
        return False
    if len(proof.tiers) != m:
        return False
    for i, (floor_proof, cap_proof) in enumerate(proof.tiers):
        lower, upper = _tier_points(k, i, c.abs[i])
        if (lower is None) != (floor_proof is None) or (upper is None) != (cap_proof is None):
            return False
        if lower is not None and floor_proof is not None and not verify_range(t, f"tier{i}/floor", lower,
                                                                               floor_proof, st.bits):
            return False
        if upper is not None and cap_proof is not None and not verify_range(t, f"tier{i}/cap", upper, cap_proof,
                                                                             st.bits):
            return False
    return verify_range(t, "excess", _claimed(st, c), proof.excess_range, st.bits)


def openings_match(proof: Proof, w: Witness, o: Openings) -> bool:
    """The holder's check: the published commitments open to its own values."""
    try:
        _shape(proof.statement, w, o)
    except InvalidInput:
        return False
    return _commitments(proof.statement, w, o) == proof.commitments
