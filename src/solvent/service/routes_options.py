"""``/v1/options/...``: option pricing, the margin of an options portfolio, the pre-trade check
of an order on it, an expiry's settlement and a liquidation plan (nothing changes).

The same answers as ``solvent options price|margin|check|settle|liquidate --json`` (``options/report.py``),
for any authenticated caller. The work runs in a worker thread, not on the event loop, and a
portfolio holds at most ``MAX_OPTION_POSITIONS`` positions (``MAX_LIQUIDATION_POSITIONS`` to plan
a liquidation; a body, settlement observations included, at most 64 KiB).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from litestar import Router, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody

from solvent.errors import InvalidInput, StaleMarketData
from solvent.options import load_option_rules, margin, read_portfolio
from solvent.options.cross import cross_margin, read_cross_portfolio
from solvent.options.expiry_settlement import read_settlement_file, settle_expiry
from solvent.options.liquidation import plan_liquidation
from solvent.options.okx_tiers import rules_with_okx_tiers, rules_with_okx_tiers_of
from solvent.options.portfolio import is_cross, underlying_of
from solvent.options.pretrade import OptionOrder, check_order
from solvent.options.report import check_json, cross_json, liquidation_json, margin_json, price_option, settlement_json
from solvent.service.context import Caller
from solvent.service.errors import ApiError
from solvent.service.openapi_errors import ErrorAnswer, documented
from solvent.service.schemas import (
    OptionCheckBody,
    OptionLiquidationBody,
    OptionMarginBody,
    OptionPriceBody,
    OptionSettleBody,
)
from solvent.units import to_decimal

__all__ = ["MAX_LIQUIDATION_POSITIONS", "MAX_OPTION_POSITIONS", "options_router"]

MAX_OPTION_POSITIONS = 500
"""Positions one margin request may hold (each is valued in every scenario)."""
MAX_LIQUIDATION_POSITIONS = 20
"""Positions one liquidation plan may hold: each step margins the portfolio once per position (at
most 40 steps: 20 positions under deribit-pm took 2 s on a 2-core machine)."""


def _price(body: OptionPriceBody) -> dict[str, Any]:
    return price_option(body.type, float(body.forward), float(body.strike), float(body.expiry_days),
                        None if body.vol is None else float(body.vol),
                        None if body.premium is None else float(body.premium), float(body.rate), body.inverse).json()


def _not_too_large(portfolio: dict[str, object], most: int = MAX_OPTION_POSITIONS) -> None:
    positions = portfolio.get("positions")
    if isinstance(positions, list) and len(positions) > most:
        raise InvalidInput(f"portfolio: {len(positions)} positions; at most {most} per request")


def _margin(body: OptionMarginBody) -> dict[str, Any]:
    _not_too_large(body.portfolio)
    if is_cross(body.portfolio):
        cross = read_cross_portfolio(body.portfolio)
        return cross_json(cross_margin(cross, load_option_rules(body.rules), body.margin_tiers), cross)
    portfolio = read_portfolio(body.portfolio)
    rules = load_option_rules(body.rules)
    if body.margin_tiers is not None:
        rules = rules_with_okx_tiers(rules, portfolio, body.margin_tiers)
    return margin_json(margin(portfolio, rules), portfolio)


def _check(body: OptionCheckBody) -> dict[str, Any]:
    _not_too_large(body.portfolio)
    rules = load_option_rules(body.rules)
    if body.margin_tiers is not None:
        rules = rules_with_okx_tiers_of(rules, underlying_of(body.order.instrument), body.margin_tiers)
    o = body.order
    order = OptionOrder(o.instrument, to_decimal(o.qty, "order qty"), to_decimal(o.price, "order price"),
                        None if o.vol is None else to_decimal(o.vol, "order vol"), to_decimal(o.fee, "order fee"),
                        None if o.forward is None else to_decimal(o.forward, "order forward"))
    return check_json(check_order(body.portfolio, rules, order))


_ONE_PLAN = threading.Lock()
"""One liquidation plan at a time: a plan runs for seconds in a worker thread, and plans sent
together would take every thread the other routes need (found by a new-user pass)."""


def _liquidation(body: OptionLiquidationBody) -> dict[str, Any]:
    _not_too_large(body.portfolio, MAX_LIQUIDATION_POSITIONS)
    if not _ONE_PLAN.acquire(blocking=False):
        raise ApiError(503, "BUSY", {"Retry-After": "1"}, detail="another liquidation plan is running; retry")
    try:
        return _plan(body)
    finally:
        _ONE_PLAN.release()


def _plan(body: OptionLiquidationBody) -> dict[str, Any]:
    rules = load_option_rules(body.rules)
    if body.margin_tiers is not None:
        rules = rules_with_okx_tiers(rules, read_portfolio(body.portfolio), body.margin_tiers)
    plan, after_raw = plan_liquidation(body.portfolio, rules, to_decimal(body.step, "step"), body.max_steps,
                                       body.untradable)
    return liquidation_json(plan, after_raw, margin(read_portfolio(after_raw, "the portfolio after the plan"), rules))


def _settle(body: OptionSettleBody) -> dict[str, Any]:
    if (body.portfolio is None) != (body.rules is None):
        raise InvalidInput("portfolio and rules go together: the rules' quantum rounds the portfolio's cash")
    if body.portfolio is not None:
        _not_too_large(body.portfolio)  # before any work
    spec = read_settlement_file(body.settlement, "settlement")
    done, settled = settle_expiry(spec, body.portfolio, None if body.rules is None else load_option_rules(body.rules))
    return settlement_json(spec, done, settled)


async def _off_the_loop(work: Any, body: Any) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = await asyncio.to_thread(work, body)
    except InvalidInput as bad:
        raise ApiError(400, "INVALID_REQUEST", detail=str(bad)) from None
    except StaleMarketData as stale:
        raise ApiError(422, "STALE_MARKET_DATA", detail=str(stale)) from None
    return answer


@post("/price", status_code=200, summary="Black-76 price and greeks of one option; nothing changes")
async def options_price(data: JSONBody[OptionPriceBody], principal: Caller) -> dict[str, Any]:
    del principal  # any authenticated caller
    return await _off_the_loop(_price, data)


@post("/margin", status_code=200, summary="Standard or portfolio margin of an options portfolio; nothing changes")
async def options_margin(data: JSONBody[OptionMarginBody], principal: Caller) -> dict[str, Any]:
    del principal
    return await _off_the_loop(_margin, data)


@post("/check", status_code=200, summary="Would an order on an options portfolio be accepted; nothing changes")
async def options_check(data: JSONBody[OptionCheckBody], principal: Caller) -> dict[str, Any]:
    del principal
    return await _off_the_loop(_check, data)


@post("/settle", status_code=200,
      summary="An option expiry's settlement price from index observations, and a portfolio settled at it")
async def options_settle(data: JSONBody[OptionSettleBody], principal: Caller) -> dict[str, Any]:
    del principal
    return await _off_the_loop(_settle, data)


@post("/liquidation", status_code=200,
      summary="A liquidation plan for an options portfolio below maintenance; nothing is traded",
      responses={503: ResponseSpec(data_container=ErrorAnswer, generate_examples=False,
                                   description="BUSY: another liquidation plan is running (Retry-After)")})
async def options_liquidation(data: JSONBody[OptionLiquidationBody], principal: Caller) -> dict[str, Any]:
    del principal
    return await _off_the_loop(_liquidation, data)


options_router = Router(path="/v1/options", tags=["options"],
                        route_handlers=documented([options_price, options_margin, options_check, options_settle,
                                                    options_liquidation]))
