"""Data layout of the columnar book: exact scaled integers, float screening copies, indexes.

Exact representation (the oracle's data)
----------------------------------------
Every exact number is an integer count of a power-of-ten unit::

    qty_base       = qty_lots[p]          × 10^-qty_exp[instrument of p]
    entry_price    = entry_ticks[p]       × 10^-price_exp[instrument of p]
    collateral     = collateral_units[a]  × 10^-collateral_exp

The integer arrays are ``int64`` when every value fits, otherwise ``object`` arrays of Python
ints (never wrapped). Mark prices are kept as the caller's ``Decimal`` (one per instrument).
Tier tables stay ``TierTable`` objects. From these the oracle rebuilds exact ``Decimal``s.

Screening copies (float64, each within 3 units in the last place of the exact value)
-----------------------------------------------------------------------------------
``qty_f = float(qty_lots) / 10.0**qty_exp`` (two roundings), likewise ``entry_f`` and
``collateral_f``; ``mark_f = float(mark)`` and the flattened tier arrays ``float(Decimal)``
(one rounding each).

Positions are stored in account order (a CSR layout: account ``a`` owns positions
``ptr[a]:ptr[a+1]``), and ``holders`` lists, per instrument, the accounts holding it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray

from solvent.errors import InvalidInput
from solvent.risk.levels import EXACT_CONTEXT
from solvent.risk.tiers import TierTable

__all__ = ["Layout", "TierArrays", "decimals_to_scaled", "flatten_tiers", "make_layout", "to_float"]

_INT64_MAX = 2**63 - 1
MAX_EXP = 60
"""Largest decimal exponent accepted for a scaled column (keeps floats away from underflow)."""

IntColumn = NDArray[np.int64] | NDArray[np.object_]


def decimal_places(value: Decimal) -> int:
    """Digits after the point needed to write ``value`` exactly (0 for integers)."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):
        raise InvalidInput(f"not a finite number: {value}")
    return max(0, -exponent)


def int_column(values: Sequence[int]) -> IntColumn:
    """``int64`` when every value fits, otherwise an ``object`` array of Python ints."""
    if all(-_INT64_MAX <= v <= _INT64_MAX for v in values):
        return np.asarray(values, dtype=np.int64).reshape(len(values))
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def decimals_to_scaled(
    values: Sequence[Decimal], groups: NDArray[np.int64], n_groups: int
) -> tuple[IntColumn, NDArray[np.int64]]:
    """Scale each group of decimals by the smallest power of ten making all of them integers."""
    exps = np.zeros(n_groups, dtype=np.int64)
    for value, group in zip(values, groups.tolist(), strict=True):
        exps[group] = max(int(exps[group]), decimal_places(value))
    if n_groups and int(exps.max()) > MAX_EXP:
        raise InvalidInput(f"a value needs more than {MAX_EXP} decimal places")
    # scaleb in the exact context: the caller's (28 digits by default) would round a long value
    ints = [int(v.scaleb(int(exps[g]), EXACT_CONTEXT)) for v, g in zip(values, groups.tolist(), strict=True)]
    return int_column(ints), exps


def to_float(ints: IntColumn, exps: NDArray[np.int64]) -> NDArray[np.float64]:
    """``float(ints) / 10.0**exps``: within 3 ulp of the exact value (10**e is exact for e ≤ 22)."""
    return ints.astype(np.float64) / np.power(10.0, exps.astype(np.float64))


@dataclass(frozen=True, slots=True, eq=False)
class TierArrays:
    """All instruments' tiers flattened; instrument ``m`` owns rows ``offset[m]:offset[m+1]``."""

    offset: NDArray[np.int64]
    floor_f: NDArray[np.float64]
    cap_f: NDArray[np.float64]
    """Caps; the last tier of every table is +inf (its formula extends upward)."""
    rate_f: NDArray[np.float64]
    amount_f: NDArray[np.float64]


def flatten_tiers(tables: Sequence[TierTable]) -> TierArrays:
    """Float copies of every tier (one correct rounding each)."""
    floors: list[float] = []
    caps: list[float] = []
    rates: list[float] = []
    amounts: list[float] = []
    offset = [0]
    for table in tables:
        if len(table.tiers) > 127:
            raise InvalidInput(f"{table.name}: more than 127 tiers")
        for i, tier in enumerate(table.tiers):
            floors.append(float(tier.floor_notional))
            caps.append(float("inf") if i == len(table.tiers) - 1 else float(tier.cap_notional))
            rates.append(float(tier.maint_margin_rate))
            amounts.append(float(tier.maint_amount))
        offset.append(len(floors))
    return TierArrays(
        offset=np.asarray(offset, dtype=np.int64),
        floor_f=np.asarray(floors, dtype=np.float64),
        cap_f=np.asarray(caps, dtype=np.float64),
        rate_f=np.asarray(rates, dtype=np.float64),
        amount_f=np.asarray(amounts, dtype=np.float64),
    )


@dataclass(frozen=True, slots=True, eq=False)
class Layout:
    """Index arrays of a book (positions already sorted by account)."""

    order: NDArray[np.int64]
    """``order[k]`` = input index of the k-th stored position."""
    ptr: NDArray[np.int64]
    count: NDArray[np.int64]
    account: NDArray[np.int64]
    instrument: NDArray[np.int32]
    holders_ptr: NDArray[np.int64]
    holders: NDArray[np.int64]
    nonempty_starts: NDArray[np.int64]
    nonempty: NDArray[np.bool_]


def make_layout(
    pos_account: NDArray[np.int64], pos_instrument: NDArray[np.int64], n_accounts: int, n_instruments: int
) -> Layout:
    """Sort positions by account (stable) and index holders per instrument."""
    if pos_account.shape != pos_instrument.shape or pos_account.ndim != 1:
        raise InvalidInput("position columns must be one-dimensional and of equal length")
    if pos_account.size:
        if int(pos_account.min()) < 0 or int(pos_account.max()) >= n_accounts:
            raise InvalidInput("a position refers to an account that does not exist")
        if int(pos_instrument.min()) < 0 or int(pos_instrument.max()) >= n_instruments:
            raise InvalidInput("a position refers to an instrument that does not exist")
    order = np.argsort(pos_account, kind="stable").astype(np.int64)
    account = pos_account[order]
    instrument = pos_instrument[order].astype(np.int32)
    count = np.bincount(account, minlength=n_accounts).astype(np.int64)
    ptr = np.zeros(n_accounts + 1, dtype=np.int64)
    np.cumsum(count, out=ptr[1:])
    key = np.unique(instrument.astype(np.int64) * max(n_accounts, 1) + account)
    holder_inst = key // max(n_accounts, 1)
    holders = key % max(n_accounts, 1)
    holders_ptr = np.zeros(n_instruments + 1, dtype=np.int64)
    np.cumsum(np.bincount(holder_inst, minlength=n_instruments), out=holders_ptr[1:])
    nonempty = count > 0
    return Layout(
        order=order,
        ptr=ptr,
        count=count,
        account=account,
        instrument=instrument,
        holders_ptr=holders_ptr,
        holders=holders.astype(np.int64),
        nonempty_starts=ptr[:-1][nonempty],
        nonempty=nonempty,
    )
