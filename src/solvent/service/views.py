"""Read models: what the HTTP API answers about accounts, margin, the ladder and the fund.

Every amount is an exact decimal rendered as a string (``plain``); ratios are exact too.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from solvent.calc.account import distance_to_liquidation_pct, margin_ratio, shown_pct
from solvent.engine import Engine, EngineConfig
from solvent.engine.contract_value import notional
from solvent.engine.margin import MarginView, position_im, position_mm, position_tier
from solvent.engine.state import AccountState, PositionState
from solvent.model import MarginMode
from solvent.risk.tiers import tier_json
from solvent.service.liqprice import LiquidationPrice, liquidation_prices
from solvent.units import ZERO, plain, round_down, round_up

__all__ = ["LIQUIDATED", "account_status", "account_view", "health_rows", "ladder", "margin_view", "marks_of"]

LIQUIDATED = "liquidated"
"""The status of an account the engine liquidated out of every position (``account_status``)."""


def _s(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


def marks_of(engine: Engine) -> dict[str, Decimal]:
    return {s: m.mark for s, m in sorted(engine.state.markets.items()) if m.mark is not None}


def account_status(acc: AccountState) -> str:
    """What the API shows an account as (the dashboard's badge): the engine's margin level,
    or ``liquidated`` once the engine liquidated the account (``last_liquidation_ms``) and it
    holds no position — its level is then ``healthy`` (no MM left to cover) though its equity
    was taken, often to 0. The level is still the engine's, unchanged; this is its one reading
    for display, so no client keeps a second rule."""
    if acc.last_liquidation_ms is not None and not any(p.qty for p in acc.positions.values()):
        return LIQUIDATED
    return acc.level


def account_view(acc: AccountState, config: EngineConfig) -> dict[str, Any]:
    """The account as the API shows it; a position's ``leverage`` is the one in force: the
    account's own, or the venue's default for the symbol where it set none
    (``EngineConfig.leverage_default``, the one the pre-trade check uses). ``settings``: each
    symbol the account set a margin mode or a leverage for, with both in force (a mode set
    before any position, which no position shows yet)."""
    profile = config.profile
    settings = MarginView(config, {}, {})  # the engine's one reading of a symbol's leverage and mode in force
    return {
        "account_id": acc.account_id,
        "level": acc.level,
        "status": account_status(acc),
        "balances": {a: plain(b) for a, b in sorted(acc.balances.items())},
        "positions": [
            {"symbol": p.symbol, "position_side": p.position_side.value, "side": p.side.value,
             "qty": plain(abs(p.qty)), "entry_price": plain(p.entry_price(profile.instrument(p.symbol).is_inverse)),
             "margin_mode": p.margin_mode.value,
             "isolated_margin": plain(p.isolated_margin),
             "leverage": plain(settings.leverage(acc, p.symbol))}
            for _, p in sorted(acc.positions.items(), key=lambda kv: (kv[0][0], kv[0][1].value)) if p.qty
        ],
        "settings": {symbol: {"margin_mode": settings.margin_mode(acc, symbol).value,
                              "leverage": plain(settings.leverage(acc, symbol))}
                     for symbol in sorted(set(acc.margin_mode) | set(acc.leverage))},
        "orders": [
            {"order_id": o.order_id, "symbol": o.symbol, "side": o.side.value, "qty": plain(o.qty),
             "price": plain(o.price), "reduce_only": o.reduce_only, "position_side": o.position_side.value}
            for _, o in sorted(acc.orders.items())
        ],
    }


AdlRanks = Callable[[str], dict[str, int]]
"""Where ADL ranks come from: ``Engine.adl_ranks``, or the service's rate-bounded cache."""


LiqPrices = Callable[[str], dict[tuple[str, str], LiquidationPrice]]
"""Where an account's liquidation prices come from: solved on the spot (``solved``), or the
service's cache, solved once per journal record (``Venue.liquidation_prices``)."""


def solved(engine: Engine) -> LiqPrices:
    """``liquidation_prices`` of an account of ``engine``, solved now."""
    view = engine.margin_view()
    return lambda aid: liquidation_prices(engine.state.accounts[aid], engine.margin(aid), view)


def _adl(engine: Engine, symbols: set[str], ranks: AdlRanks | None = None) -> dict[str, dict[str, int]]:
    rank = ranks or engine.adl_ranks
    return {s: rank(s) for s in sorted(symbols)}


def margin_view(engine: Engine, account_id: str, adl: dict[str, dict[str, int]] | None = None,
                ranks: AdlRanks | None = None, liq_prices: LiqPrices | None = None) -> dict[str, Any]:
    """Equity, MM, IM, ratio, level, status and per position its MM, IM and tier, liquidation
    price and ADL rank."""
    acc = engine.state.accounts[account_id]
    m = engine.margin(account_id)
    marks = marks_of(engine)
    held, owed = _money(engine.config.money_quantum)
    mv = engine.margin_view()
    liq = (liq_prices or solved(engine))(account_id)
    if adl is None:
        adl = _adl(engine, {p.symbol for p in acc.positions.values() if p.qty}, ranks)
    positions = []
    for (symbol, slot), pos in sorted(acc.positions.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
        if not pos.qty:
            continue
        mark = marks.get(symbol)
        lp = liq.get((symbol, slot.value))
        price = lp.price if lp else None
        inverse = engine.config.profile.instrument(symbol).is_inverse
        positions.append({
            "symbol": symbol, "position_side": slot.value, "side": pos.side.value, "qty": plain(abs(pos.qty)),
            "entry_price": plain(pos.entry_price(inverse)), "mark_price": _s(mark),
            "notional": _s(notional(pos.qty * pos.contract_size, mark, inverse) if mark is not None else None),
            "unrealised_pnl": held(pos.pnl(mark, inverse)) if mark is not None else None,
            "margin_mode": pos.margin_mode.value,
            **_requirements(acc, pos, mv, owed),
            "liquidation_price": _s(price),
            "liquidation_price_reason": lp.reason.value if lp and lp.reason else None,
            # signed, from the one home: negative once the mark is past the liquidation price
            "distance_to_liquidation_pct": _s(shown_pct(distance_to_liquidation_pct(
                mark, price, is_lower=_net_qty(acc, symbol, pos) > 0)) if mark and price else None),
            "adl_rank": adl.get(symbol, {}).get(account_id),
        })
    return {
        "account_id": account_id,
        "level": acc.level,
        "status": account_status(acc),
        "collateral": plain(m.collateral),
        "equity": held(m.equity),
        "maintenance_margin": owed(m.maintenance_margin),
        "initial_margin": owed(m.initial_margin),
        "order_margin": owed(m.order_margin),
        "available": held(m.available),
        "margin_ratio": _s(m.margin_ratio),
        "positions": positions,
        "isolated": [
            {"symbol": i.symbol, "position_side": i.position_side.value, "equity": held(i.equity),
             "maintenance_margin": owed(i.maintenance_margin), "initial_margin": owed(i.initial_margin),
             "margin_ratio": _s(margin_ratio(i.maintenance_margin, i.equity))}
            for i in m.isolated
        ],
    }


def _requirements(acc: AccountState, pos: PositionState, view: MarginView,
                  owed: Callable[[Decimal], str]) -> dict[str, Any]:
    """A position's own MM and IM (rounded up, as owed) and the MM tier it is in; ``None``
    without a mark."""
    if pos.symbol not in view.marks:
        return {"maintenance_margin": None, "initial_margin": None, "tier": None}
    table, index = position_tier(pos, view)
    return {"maintenance_margin": owed(position_mm(pos, view)),
            "initial_margin": owed(position_im(pos, view, view.leverage(acc, pos.symbol))),
            "tier": tier_json(table, index)}


def _money(quantum: Decimal) -> tuple[Callable[[Decimal], str], Callable[[Decimal], str]]:
    """How the view shows money (the rule the calculators follow): what the account holds
    (equity, free margin, PnL) rounded down to the money quantum, what it owes (MM, IM, order
    margin) rounded up; decisions stay on the exact values. So a figure shown is one the
    engine accepts back: withdrawing the ``available`` shown passes (the exact value can run
    to 40 digits, which a withdrawal's amount may not)."""
    return (lambda x: plain(round_down(x, quantum))), (lambda x: plain(round_up(x, quantum)))


def _net_qty(acc: AccountState, symbol: str, pos: PositionState) -> Decimal:
    """The quantity whose direction the liquidation price is solved in: an isolated
    position's own, else the net of the symbol's cross slots (hedge legs net out)."""
    if pos.margin_mode is MarginMode.ISOLATED:
        return pos.qty
    return sum((p.qty for p in acc.positions.values() if p.symbol == symbol and p.margin_mode is MarginMode.CROSS),
               start=ZERO)


def _risk_key(row: dict[str, Any]) -> tuple[int, Decimal]:
    """Riskiest first: no ratio with MM > 0 (equity ≤ 0), then the highest ratio."""
    ratio = row["_ratio"]
    if ratio is None:
        return (0, ZERO) if row["_mm"] > 0 else (2, ZERO)
    return (1, -ratio)


def health_rows(engine: Engine, liq_prices: LiqPrices | None = None) -> list[dict[str, Any]]:
    """Every account's margin summary, riskiest first (worst isolated position counts)."""
    symbols = {p.symbol for a in engine.state.accounts.values() for p in a.positions.values() if p.qty}
    adl = _adl(engine, symbols)
    liq_prices = liq_prices or solved(engine)
    rows = []
    for aid in sorted(engine.state.accounts):
        view = margin_view(engine, aid, adl, liq_prices=liq_prices)
        ratios = [Decimal(view["margin_ratio"])] if view["margin_ratio"] is not None else []
        ratios += [Decimal(i["margin_ratio"]) for i in view["isolated"] if i["margin_ratio"] is not None]
        no_ratio = view["margin_ratio"] is None or any(i["margin_ratio"] is None for i in view["isolated"])
        mm = Decimal(view["maintenance_margin"]) + sum((Decimal(i["maintenance_margin"]) for i in view["isolated"]),
                                                       ZERO)
        distances = [Decimal(p["distance_to_liquidation_pct"]) for p in view["positions"]
                     if p["distance_to_liquidation_pct"] is not None]
        ranks = [p["adl_rank"] for p in view["positions"] if p["adl_rank"] is not None]
        rows.append({
            "account_id": aid, "level": view["level"], "status": view["status"], "equity": view["equity"],
            "maintenance_margin": view["maintenance_margin"], "total_maintenance_margin": plain(mm),
            "margin_ratio": view["margin_ratio"],
            "worst_margin_ratio": _s(max(ratios)) if ratios and not (no_ratio and mm > 0) else None,
            "distance_to_liquidation_pct": _s(min(distances)) if distances else None,
            "adl_rank": max(ranks) if ranks else None, "positions": len(view["positions"]),
            "_ratio": None if no_ratio and mm > 0 else (max(ratios) if ratios else None), "_mm": mm,
        })
    rows.sort(key=lambda r: (_risk_key(r), r["account_id"]))
    for r in rows:
        del r["_ratio"], r["_mm"]
    return rows


def default_bucket(mark: Decimal) -> Decimal:
    """About 1 % of the mark, rounded down to one significant digit (121,000 → 1,000)."""
    rough = mark / 100
    exp = rough.adjusted()
    first = (rough.scaleb(-exp)).to_integral_value(rounding=ROUND_FLOOR)
    return max(first, Decimal(1)).scaleb(exp)


def ladder(engine: Engine, symbol: str, bucket: Decimal | None = None, range_pct: Decimal = Decimal(50),
           liq_prices: LiqPrices | None = None) -> dict[str, Any]:
    """Notional (at the mark) of the positions on ``symbol`` by liquidation-price bucket.

    A bucket ``[lo, lo + width)`` holds the positions whose exact liquidation price lies in
    it; long and short notional are kept apart. Buckets further than ``range_pct`` % from the
    mark are summed into ``beyond`` (positions with no liquidation price are not counted).
    """
    marks = marks_of(engine)
    mark = marks.get(symbol)
    if mark is None:
        return {"symbol": symbol, "mark_price": None, "bucket_width": None, "exact": True, "buckets": [],
                "beyond": None}
    width = bucket or default_bucket(mark)
    buckets: dict[Decimal, dict[str, Decimal]] = {}
    beyond = {"long": ZERO, "short": ZERO, "accounts": ZERO}
    lowest, highest = mark * (100 - range_pct) / 100, mark * (100 + range_pct) / 100
    liq_prices = liq_prices or solved(engine)
    for aid in sorted(engine.state.accounts):
        acc = engine.state.accounts[aid]
        if not any(p.symbol == symbol and p.qty for p in acc.positions.values()):
            continue
        for (sym, slot), lp in liq_prices(aid).items():
            if sym != symbol or lp.price is None:
                continue
            pos = next(p for p in acc.positions.values() if p.symbol == sym and p.position_side.value == slot)
            lo = (lp.price / width).to_integral_value(rounding=ROUND_FLOOR) * width
            inside = lowest <= lp.price <= highest
            row = buckets.setdefault(lo, {"long": ZERO, "short": ZERO, "accounts": ZERO}) if inside else beyond
            row[pos.side.value] += abs(pos.qty) * pos.contract_size * mark
            row["accounts"] += 1
    return {
        "symbol": symbol, "mark_price": plain(mark), "bucket_width": plain(width), "exact": True,
        "buckets": [
            {"price_from": plain(lo), "price_to": plain(lo + width), "long_notional": plain(r["long"]),
             "short_notional": plain(r["short"]), "positions": int(r["accounts"])}
            for lo, r in sorted(buckets.items())
        ],
        "beyond": {"long_notional": plain(beyond["long"]), "short_notional": plain(beyond["short"]),
                   "positions": int(beyond["accounts"]), "range_pct": plain(range_pct)},
    }
