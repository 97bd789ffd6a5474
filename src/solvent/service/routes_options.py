"""``/v1/options/...``: option pricing and the margin of an options portfolio (nothing changes).

The same answers as ``solvent options price|margin --json`` (``options/report.py``), for any
authenticated caller. The work runs in a worker thread, not on the event loop, and a
portfolio holds at most ``MAX_OPTION_POSITIONS`` positions.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Router, post
from litestar.params import JSONBody

from solvent.errors import InvalidInput
from solvent.options import load_option_rules, margin, read_portfolio
from solvent.options.cross import cross_margin, read_cross_portfolio
from solvent.options.okx_tiers import rules_with_okx_tiers
from solvent.options.portfolio import is_cross
from solvent.options.report import cross_json, margin_json, price_option
from solvent.service.context import Caller
from solvent.service.errors import ApiError
from solvent.service.openapi_errors import documented
from solvent.service.schemas import OptionMarginBody, OptionPriceBody

__all__ = ["MAX_OPTION_POSITIONS", "options_router"]

MAX_OPTION_POSITIONS = 500
"""Positions one margin request may hold (each is valued in every scenario)."""


def _price(body: OptionPriceBody) -> dict[str, Any]:
    return price_option(body.type, float(body.forward), float(body.strike), float(body.expiry_days),
                        None if body.vol is None else float(body.vol),
                        None if body.premium is None else float(body.premium), float(body.rate), body.inverse).json()


def _margin(body: OptionMarginBody) -> dict[str, Any]:
    positions = body.portfolio.get("positions")
    if isinstance(positions, list) and len(positions) > MAX_OPTION_POSITIONS:
        raise InvalidInput(f"portfolio: {len(positions)} positions; at most {MAX_OPTION_POSITIONS} per request")
    if is_cross(body.portfolio):
        cross = read_cross_portfolio(body.portfolio)
        return cross_json(cross_margin(cross, load_option_rules(body.rules), body.margin_tiers), cross)
    portfolio = read_portfolio(body.portfolio)
    rules = load_option_rules(body.rules)
    if body.margin_tiers is not None:
        rules = rules_with_okx_tiers(rules, portfolio, body.margin_tiers)
    return margin_json(margin(portfolio, rules), portfolio)


async def _off_the_loop(work: Any, body: Any) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = await asyncio.to_thread(work, body)
    except InvalidInput as bad:
        raise ApiError(400, "INVALID_REQUEST", detail=str(bad)) from None
    return answer


@post("/price", status_code=200, summary="Black-76 price and greeks of one option; nothing changes")
async def options_price(data: JSONBody[OptionPriceBody], principal: Caller) -> dict[str, Any]:
    del principal  # any authenticated caller
    return await _off_the_loop(_price, data)


@post("/margin", status_code=200, summary="Standard or portfolio margin of an options portfolio; nothing changes")
async def options_margin(data: JSONBody[OptionMarginBody], principal: Caller) -> dict[str, Any]:
    del principal
    return await _off_the_loop(_margin, data)


options_router = Router(path="/v1/options", tags=["options"],
                        route_handlers=documented([options_price, options_margin]))
