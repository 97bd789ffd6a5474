"""A venue's own book for stress and capital adequacy: one position per account, from a CSV.

A risk desk runs ``solvent simulate --book FILE`` and ``solvent adequacy --book FILE`` on the
positions it holds rather than on a drawn book. The file (UTF-8, read by ``csv_table``:
``#`` lines before the header skipped) has a header and one row per account::

    account_id,side,qty,entry,deposit,group_id
    alice,long,0.5,61000,3200.5,
    fund-a1,short,12,60500,90000,fund-a
    fund-a2,short,8,60400,60000,fund-a

* ``account_id``: unique, at most 64 characters;
* ``side``: ``long`` or ``short``; ``qty``: base units (contracts on an inverse instrument), a
  positive multiple of the book's quantity step; ``entry``: a positive multiple of the book's
  price grid;
* ``deposit``: the account's collateral in the settlement asset, at most 8 decimals, ``> 0``
  (the engine opens an account with its deposit; a deposit of 0 is refused);
* ``group_id`` (optional column, may be empty): accounts sharing it are one group (affiliates,
  for Cover-1 and Cover-2); an empty one is the account alone.

All on one instrument (``--symbol``, default the venue's), valued at the start price
(``--start-price``, or a replay's first price). Every row is checked before anything runs, and
a book in which any account is already at its liquidation trigger at the start price is
refused, naming the first (a stress run starts from a solvent book). Every trader trades
against the counterparty ``mm`` at its own entry, as in a drawn book (``stress/book.py``), and
the fund is ``insurance_fraction`` of the open interest.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np

from solvent.csv_table import CsvRow, read_rows
from solvent.errors import InvalidInput
from solvent.model import require_whole_lots
from solvent.risk.rules import size_independent
from solvent.risk.venues import VenueProfile, load_venue
from solvent.stress.book import (
    MAX_ACCOUNT_VALUE,
    MAX_BOOK_ACCOUNTS,
    MONEY_EXP,
    BookParams,
    SyntheticBook,
    assemble_book,
    cap_by_size,
    cap_leverage,
    check_book_params,
    default_symbol,
    price_grid,
    qty_step,
    start_on_grid,
)
from solvent.units import exact, to_decimal

__all__ = ["BOOK_COLUMNS", "count_rows", "read_book_file"]

BOOK_COLUMNS = ("account_id", "side", "qty", "entry", "deposit")
"""Required columns; ``group_id`` is optional."""
_MAX_ID = 64


def count_rows(path: Path) -> int:
    """The accounts a book file holds (every row read and its columns checked)."""
    return len(_rows(path))


def _rows(path: Path) -> list[CsvRow]:
    rows = read_rows(path, "the book", BOOK_COLUMNS, ("group_id",))
    if not rows:
        raise InvalidInput(f"the book {path} holds no account (a header and at least one row)")
    if len(rows) > MAX_BOOK_ACCOUNTS:
        raise InvalidInput(f"the book {path} holds {len(rows):,} accounts, at most {MAX_BOOK_ACCOUNTS:,}")
    return rows


@exact
def read_book_file(path: Path, params: BookParams, profile: VenueProfile | None = None) -> SyntheticBook:
    """The book in ``path`` (module docstring) on ``params``' venue, symbol and start price,
    with its fund at ``params.insurance_fraction`` of the open interest."""
    check_book_params(params)
    profile = profile or load_venue(params.venue)
    symbol = params.symbol or default_symbol(profile)
    inst = profile.instrument(symbol)
    tick = price_grid(profile, inst, params.start_price)
    start = start_on_grid(params.start_price, tick, symbol)
    lot = qty_step(inst, tick)
    rows = _rows(path)
    labels: list[str] = []
    seen: set[str] = set()
    signed, entries, deposits = [], [], []
    groups: dict[str, int] = {}
    group = np.arange(len(rows), dtype=np.int64)
    for i, row in enumerate(rows):
        where = f"the book {path} line {row.line}"
        aid = row["account_id"].strip()
        if not aid or len(aid) > _MAX_ID:
            raise InvalidInput(f"{where}: account_id must be non-empty and at most {_MAX_ID} characters")
        if aid in seen:
            raise InvalidInput(f"{where}: account_id {aid!r} appears twice")
        side = row["side"].strip().lower()
        if side not in ("long", "short"):
            raise InvalidInput(f"{where}: side must be long or short, got {row['side']!r}")
        qty = to_decimal(row["qty"], f"{where} qty")
        entry = to_decimal(row["entry"], f"{where} entry")
        deposit = to_decimal(row["deposit"], f"{where} deposit")
        require_whole_lots(qty, lot, f"{where}: qty")
        if entry <= 0 or entry % tick:
            raise InvalidInput(f"{where}: entry {entry} must be a positive multiple of the price step {tick}")
        if deposit <= 0 or deposit % Decimal(1).scaleb(-MONEY_EXP):
            raise InvalidInput(f"{where}: deposit {deposit} must be > 0 (the engine opens an account with its deposit) "
                               f"with at most {MONEY_EXP} decimals")
        notional = qty * inst.contract_size * (1 if inst.is_inverse else entry)
        for name, value in (("notional", notional), ("deposit", deposit)):
            if value > MAX_ACCOUNT_VALUE:
                raise InvalidInput(f"{where}: {name} {value:f} is above {MAX_ACCOUNT_VALUE:,f}, the largest one "
                                   "account may hold")
        labels.append(aid)
        seen.add(aid)
        lots = int(qty / lot)
        signed.append(lots if side == "long" else -lots)
        entries.append(int(entry / tick))
        deposits.append(int(deposit.scaleb(MONEY_EXP)))
        gid = row.get("group_id").strip()
        if gid:
            group[i] = groups.setdefault(gid, i)
    # an account alone is named by its id, a group by its group_id: one name, one group (found by
    # a new-user pass: a group_id equal to an ungrouped account's id showed Cover-2 as "bob, bob")
    row_of = {aid: k for k, aid in enumerate(labels)} if groups else {}
    clash = sorted(gid for gid in groups if gid in row_of and group[row_of[gid]] != groups[gid])
    if clash:
        raise InvalidInput(f"{path}: group_id {clash[0]!r} is also the id of an account outside that group; a "
                           "report names an account alone by its id, so give the group another name")
    signed_a = np.asarray(signed, dtype=np.int64)
    entry_a = np.asarray(entries, dtype=np.int64)
    rules = profile.rules_for(symbol)
    table = rules.maintenance_table(lot)
    ceiling = np.full(len(rows), 10**6, dtype=np.int64)  # the setting is the tier's maximum: cross MM ignores it
    face = float(lot * inst.contract_size)
    if inst.is_inverse:
        notional_f = np.abs(signed_a) * face / (entry_a * float(tick))
    else:
        notional_f = (np.abs(signed_a) * entry_a).astype(np.float64) * face * float(tick)
    lev = (cap_leverage(table, notional_f, ceiling) if size_independent(rules)
           else cap_by_size(rules, np.abs(signed_a), lot, ceiling))
    params = replace(params, accounts=len(rows), venue=profile.name, symbol=symbol, start_price=start, model="file",
                     whale_groups=0)
    book = assemble_book(params, profile, table, lot, tick, signed_a, entry_a, lev,
                         np.asarray(deposits, dtype=np.int64), group, tuple(labels),
                         {first: name for name, first in groups.items()})
    _refuse_insolvent(book)
    return book


def _refuse_insolvent(book: SyntheticBook) -> None:
    """Refuse a book with an account at its trigger at the start price (the engine's decision,
    in the fast cascade's exact integers)."""
    from solvent.stress.cascade_fast import FastVenue
    from solvent.stress.cascade_fast_inverse import InverseFastVenue

    venue = InverseFastVenue(book) if book.inverse else FastVenue(book)
    due = venue.due(int(book.start_price / book.tick))
    due = due[due < book.size - 1]
    if due.size:
        label = book.labels[int(due[0])] if book.labels else str(int(due[0]))
        raise InvalidInput(f"account {label} is at its liquidation trigger at the start price {book.start_price} "
                           f"({due.size:,} account(s) in all): a stress run starts from a solvent book")
