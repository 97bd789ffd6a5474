"""Auto-deleveraging (ADL) as pure functions: ranking scores, queue buckets, allocation.

When the insurance fund cannot absorb a bankrupt position, the venue closes opposite
positions of other accounts at the bankrupt position's price. Who is closed first is set
by a *score*: profitable and highly leveraged positions go first. This module ranks
(``binance_adl_score``, ``bitmex_adl_score``), shows the queue as 1..5 lights
(``adl_quantiles``) and splits the quantity to close (``allocate_adl`` in queue order,
``allocate_pro_rata`` by size).

Every input is a ``Decimal``, an ``int`` or a decimal string (a ``float`` raises
``InvalidInput``); results are exact. Ordering never depends on dict or input order: ties
are broken by account id.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Literal, NamedTuple

from solvent.errors import InvalidInput
from solvent.units import ONE, ZERO, NumberLike, non_negative, positive, to_decimal

__all__ = [
    "AdlFill",
    "BinanceAdlScore",
    "BitmexAdlScore",
    "ProRataShare",
    "adl_quantiles",
    "allocate_adl",
    "allocate_pro_rata",
    "binance_adl_score",
    "bitmex_adl_score",
]


class BinanceAdlScore(NamedTuple):
    """Binance USDⓈ-M ADL ranking inputs and result (dimensionless)."""

    pnl_percent: Decimal
    score: Decimal


class BitmexAdlScore(NamedTuple):
    """BitMEX ADL ranking inputs and result (dimensionless)."""

    pnl_percent: Decimal
    effective_leverage: Decimal
    rank: Decimal


class AdlFill(NamedTuple):
    """One counterparty closed by ADL: account, quantity (base or contracts), price."""

    account_id: str
    qty: Decimal
    price: Decimal


class ProRataShare(NamedTuple):
    """One account's share of a pro-rata close (base or contracts)."""

    account_id: str
    qty: Decimal


def binance_adl_score(
    unrealized_pnl: NumberLike,
    wallet_balance: NumberLike,
    margin_ratio: NumberLike,
) -> BinanceAdlScore:
    """Binance "LeveragePnL" ADL ranking of one account (higher = deleveraged first).

    ::

        pnl_percent = max(0, unrealized_pnl) / max(1, wallet_balance)
        score       = pnl_percent × margin_ratio

    ``unrealized_pnl`` and ``wallet_balance`` in the margin asset (USDT); the ``1`` floor
    keeps a near-empty wallet from inflating the ratio; ``margin_ratio`` the account's
    margin ratio (maintenance margin / margin balance) as a fraction. A losing account
    scores 0. Exact, no rounding (a ranking, not an amount).

    Example (vector BN-17): PnL 40.2, wallet 4.27, margin ratio 0.1342 →
    ``40.2/4.27 = 9.41452…``, ``× 0.1342 = 1.26342…``.

    Source: Binance USDⓈ-M Futures ADL FAQ, as quoted on the Binance developer forum.
    """
    pnl = to_decimal(unrealized_pnl, "unrealized_pnl")
    wallet = to_decimal(wallet_balance, "wallet_balance")
    ratio = non_negative(margin_ratio, "margin_ratio")
    pnl_percent = max(pnl, ZERO) / max(wallet, ONE)
    return BinanceAdlScore(pnl_percent, pnl_percent * ratio)


def bitmex_adl_score(
    side: Literal["long", "short"],
    entry_value: NumberLike,
    mark_value: NumberLike,
    bankrupt_value: NumberLike,
) -> BitmexAdlScore:
    """BitMEX ADL rank of one position (higher = deleveraged first).

    Values are position values (quantity × price, positive magnitudes, quote or
    settlement units)::

        pnl_percent        = (mark − entry) / entry          long;  (entry − mark) / entry  short
        effective_leverage = mark / (mark − bankrupt)        long;  mark / (bankrupt − mark) short
        rank               = pnl_percent × effective_leverage  if pnl_percent > 0
                           = pnl_percent / effective_leverage  otherwise

    A position at or beyond its bankruptcy value has no effective leverage: ``InvalidInput``.
    Exact, no rounding.

    Example (vector BX-5): long, entry 20,000, mark 22,000, bankrupt 18,000 →
    ``pnl 0.10``, ``leverage 22000/4000 = 5.5``, ``rank 0.55``.

    Source: BitMEX "Auto-Deleveraging" documentation (ranking = PnL % × effective leverage).
    """
    if side not in ("long", "short"):
        raise InvalidInput(f"side must be 'long' or 'short', got {side!r}")
    entry = positive(entry_value, "entry_value")
    mark = positive(mark_value, "mark_value")
    bankrupt = non_negative(bankrupt_value, "bankrupt_value")
    sign = ONE if side == "long" else -ONE
    cushion = sign * (mark - bankrupt)
    if cushion <= 0:
        raise InvalidInput(f"{side} position is at or beyond its bankruptcy value ({mark} vs {bankrupt})")
    pnl_percent = sign * (mark - entry) / entry
    leverage = mark / cushion
    rank = pnl_percent * leverage if pnl_percent > 0 else pnl_percent / leverage
    return BitmexAdlScore(pnl_percent, leverage, rank)


def _unique_ids(ids: Sequence[str]) -> None:
    seen: set[str] = set()
    for account_id in ids:
        if account_id in seen:
            raise InvalidInput(f"account {account_id!r} appears twice among the candidates")
        seen.add(account_id)


def allocate_adl(
    qty_to_close: NumberLike,
    bankruptcy_price: NumberLike,
    candidates: Sequence[tuple[str, NumberLike, NumberLike]],
) -> list[AdlFill]:
    """Close opposite positions in queue order at the bankrupt position's price.

    ``candidates`` are ``(account_id, qty, score)`` of positions on the other side
    (``qty ≥ 0`` in base or contracts). They are taken by descending score, ties by
    ascending account id, each closing ``min(its qty, what is left)`` at
    ``bankruptcy_price``, until ``qty_to_close`` is covered. If the candidates hold less
    than ``qty_to_close`` every one is closed in full and the sum falls short (the caller
    decides what happens to the rest). No candidate is ever closed beyond its qty.

    Example (vector BX-4): short 20 bankrupt at 650; longs A1(10, score 3), A2(10, 6),
    A3(20, 1), A4(30, 4), A5(20, 5), A6(10, 2) → A2 closes 10, A5 closes 10, both at 650.

    Source: BitMEX "Auto-Deleveraging" examples; Binance and Bybit use the same queue.
    """
    remaining = non_negative(qty_to_close, "qty_to_close")
    price = positive(bankruptcy_price, "bankruptcy_price")
    _unique_ids([c[0] for c in candidates])
    parsed = [(to_decimal(s, f"score of {a}"), a, non_negative(q, f"qty of {a}")) for a, q, s in candidates]
    queue = sorted(parsed, key=lambda item: (-item[0], item[1]))
    fills: list[AdlFill] = []
    for _score, account_id, held in queue:
        if remaining == 0:
            break
        take = min(held, remaining)
        if take > 0:
            fills.append(AdlFill(account_id, take, price))
            remaining -= take
    return fills


def _lots(value: Decimal, lot: Decimal, field: str) -> int:
    """``value`` as a whole number of lots; refuses a value that is not."""
    count = value / lot
    if count != count.to_integral_value():
        raise InvalidInput(f"{field} {value} is not a multiple of the lot {lot}")
    return int(count)


def allocate_pro_rata(
    qty_to_close: NumberLike,
    candidates: Sequence[tuple[str, NumberLike]],
    lot: NumberLike,
) -> list[ProRataShare]:
    """Split ``qty_to_close`` across ``(account_id, qty)`` holdings in proportion to size.

    In whole lots: each account first gets ``⌊Q × q_i / Σq⌋`` lots (``Q``, ``q_i`` in
    lots, integer arithmetic, no rounding error); the lots still missing go one each to
    the largest remainders ``(Q × q_i) mod Σq``, ties by ascending account id. The shares
    sum exactly to ``qty_to_close`` and none exceeds its holding. Quantities must be
    multiples of ``lot`` and ``qty_to_close ≤ Σq``. Returns the non-zero shares in
    ascending account id order.

    Example: close 10 across A 5, B 3, C 2 in lots of 1 → 5, 3, 2; close 5 → A 2.5, B 1.5,
    C 1 → floors 2, 1, 1, one lot left; remainders A 0.5, B 0.5 tie → A (id) → A 3, B 1, C 1.
    """
    lot_size = positive(lot, "lot")
    wanted = _lots(non_negative(qty_to_close, "qty_to_close"), lot_size, "qty_to_close")
    _unique_ids([c[0] for c in candidates])
    held = {aid: _lots(non_negative(qty, f"qty of {aid}"), lot_size, f"qty of {aid}") for aid, qty in candidates}
    total = sum(held.values())
    if wanted > total:
        raise InvalidInput(f"qty_to_close {wanted * lot_size} exceeds the {total * lot_size} held")
    if wanted == 0:
        return []
    shares = {aid: wanted * lots // total for aid, lots in held.items()}
    missing = wanted - sum(shares.values())
    by_remainder = sorted(held, key=lambda aid: (-(wanted * held[aid] % total), aid))
    for account_id in by_remainder[:missing]:
        shares[account_id] += 1
    return [ProRataShare(aid, shares[aid] * lot_size) for aid in sorted(shares) if shares[aid] > 0]


def adl_quantiles(scores: Mapping[str, NumberLike], buckets: int = 5) -> dict[str, int]:
    """Each account's ADL queue bucket, 1 (last to go) .. ``buckets`` (first to go).

    The exchanges' ADL indicator (Binance/Bybit/OKX five lights) shows the percentile of
    an account's score. Here ``bucket = ⌈buckets × r / n⌉`` where ``n`` is the number of
    accounts and ``r`` the number whose score is ≤ this one's (ties included): the top
    score always shows ``buckets`` lights and equal scores always share a bucket (the
    higher one), so the result depends on the scores alone, never on ids or dict order.
    Integer arithmetic; the returned dict is in ascending account id order.

    Example: scores a 1, b 2, c 3, d 4, e 5 → 1, 2, 3, 4, 5 lights; ten accounts → two per
    bucket; a single account → 5.
    """
    if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
        raise InvalidInput(f"buckets must be a positive integer, got {buckets!r}")
    parsed = {aid: to_decimal(score, f"score of {aid}") for aid, score in scores.items()}
    ordered = sorted(parsed.values())
    count = len(ordered)
    result: dict[str, int] = {}
    for account_id in sorted(parsed):
        at_or_below = bisect_right(ordered, parsed[account_id])
        result[account_id] = -(-buckets * at_or_below // count)
    return result

