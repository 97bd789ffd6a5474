"""Venue routes: operator commands (prices, fills, time), venue-wide history, fund, ladder, state."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from litestar import Request, Router, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from solvent.engine import AdvanceTime, ChangeParams
from solvent.engine.fund_watch import fund_rule_report
from solvent.errors import InvalidInput
from solvent.journal.codec import (
    decode_config,
    encode_config,
    fields_left_out,
    journalable_params,
    params_record_digest,
)
from solvent.service import commands_api as api
from solvent.service.context import Caller, Service, Svc, require_operator
from solvent.service.errors import ApiError
from solvent.service.openapi_errors import documented
from solvent.service.routes_accounts import LIQUIDATION_TYPES, MARGIN_CALL_TYPES, FromSeq, Limit, history
from solvent.service.schemas import (
    DECIMAL_PATTERN,
    SYMBOL_PATTERN,
    DecimalStr,
    FillBody,
    InsuranceBody,
    PriceBody,
    TimeBody,
)
from solvent.service.views import ladder
from solvent.units import plain, to_decimal

__all__ = ["MAX_TIME_STEP_MS", "venue_router"]

MAX_TIME_STEP_MS = 7 * 24 * 3600 * 1000
"""Largest clock step one ``POST /v1/time`` may take (the engine walks every funding interval)."""


@post("/prices", status_code=200, summary="A price for an instrument or collateral asset (operator)")
async def post_price(data: JSONBody[PriceBody], svc: Svc, principal: Caller,
                     idempotency_key: api.IdempotencyKey = None) -> dict[str, Any]:
    require_operator(principal)
    return await api.answer(svc, principal, api.price(data), idempotency_key)


@post("/fills", status_code=200, summary="A trade from the venue's matcher (operator)")
async def post_fill(data: JSONBody[FillBody], svc: Svc, principal: Caller,
                    idempotency_key: api.IdempotencyKey = None) -> dict[str, Any]:
    require_operator(principal)
    return await api.answer(svc, principal, api.fill(data), idempotency_key)


def _refused(svc: Service, code: str, **context: Any) -> ApiError:
    """422 for a command the service refuses before the engine sees it, with ``journal_seq`` as
    every 422 carries it (the journal's last seq: the state it was judged against)."""
    return ApiError(422, code, journal_seq=svc.venue.journal_seq, **context)


@post("/time", status_code=200, summary="Advance the venue clock: funding and expiries fall due (operator)")
async def post_time(data: JSONBody[TimeBody], svc: Svc, principal: Caller,
                    idempotency_key: api.IdempotencyKey = None) -> dict[str, Any]:
    require_operator(principal)
    now_ms = svc.venue.engine.state.now_ms
    if data.now_ms > now_ms + MAX_TIME_STEP_MS:
        # the engine settles funding interval by interval: one request may not ask for years of them
        # named as TIME_WENT_BACKWARDS names them (the engine's denial: every value a string):
        # ``now_ms`` the time asked for, ``current_ms`` the venue's (it named the venue's ``now_ms``)
        raise _refused(svc, "TIME_STEP_TOO_LARGE", now_ms=str(data.now_ms), current_ms=str(now_ms),
                       max_step_ms=str(MAX_TIME_STEP_MS))
    return await api.answer(svc, principal, AdvanceTime(data.now_ms), idempotency_key)


@get("/liquidations", summary="Every liquidation step, ADL and written-off loss (operator)")
async def liquidations(svc: Svc, principal: Caller,
                       from_seq: FromSeq = 0, limit: Limit = 1000) -> dict[str, Any]:
    require_operator(principal)
    return await history(svc, None, LIQUIDATION_TYPES, from_seq, limit)


@get("/margin-calls", summary="Every margin call (operator)")
async def margin_calls(svc: Svc, principal: Caller,
                       from_seq: FromSeq = 0, limit: Limit = 1000) -> dict[str, Any]:
    require_operator(principal)
    return await history(svc, None, MARGIN_CALL_TYPES, from_seq, limit)


@get("/events", summary="The event log from a sequence number (an account key sees its own and public events)")
async def events(svc: Svc, principal: Caller, from_seq: FromSeq = 0, limit: Limit = 1000) -> dict[str, Any]:
    return await history(svc, principal.event_scope, None, from_seq, limit)


@post("/insurance-fund/contributions", status_code=200,
      summary="Money the venue pays into the insurance fund, in the settlement asset (operator)")
async def post_insurance_contribution(data: JSONBody[InsuranceBody], svc: Svc, principal: Caller,
                                      idempotency_key: api.IdempotencyKey = None) -> dict[str, Any]:
    require_operator(principal)
    return await api.answer(svc, principal, api.fund_insurance(data), idempotency_key)


@get("/insurance-fund", summary="Insurance fund balance and its history (paged by event seq)")
async def insurance_fund(svc: Svc, principal: Caller, request: Request[Any, Any, Any], from_seq: FromSeq = 0,
                         limit: Limit = 1000,
                         last: Annotated[int | None, QueryParameter(
                             ge=1, le=10_000, description="instead of paging: the newest this many entries")] = None,
                         ) -> dict[str, Any]:
    state = svc.venue.engine.state
    if last is not None and ({"from_seq", "limit"} & set(request.query_params)):
        raise ApiError(400, "INVALID_REQUEST", detail="give last, or from_seq and limit: not both")
    if last is not None:
        page, limit = svc.venue.insurance_history[-last:], last + 1  # the newest: nothing after them
    else:
        page = svc.venue.insurance_page(from_seq, limit)
    return {
        "asset": svc.venue.engine.config.settle_asset,
        "balance": plain(state.insurance_fund),
        "fee_income": plain(state.fee_income),
        "socialised_loss": plain(state.socialised_loss),
        "fund_rule": fund_rule_report(svc.venue.engine.config, state),
        "history": [{"seq": s, "time_ms": t, "balance": plain(b)} for s, t, b in page],
        "next_from_seq": page[-1][0] + 1 if len(page) == limit else None,
    }


@get("/ladder/{symbol:str}", summary="Notional by exact liquidation-price bucket (operator)")
async def get_ladder(symbol: FromPath[str], svc: Svc, principal: Caller,
                     bucket: Annotated[DecimalStr | None, QueryParameter(description="bucket width")] = None,
                     range_pct: Annotated[int, QueryParameter(ge=1, le=1000, description="± % of the mark shown")] = 50,
                     ) -> dict[str, Any]:
    require_operator(principal)
    if not re.match(SYMBOL_PATTERN, symbol):  # a path's symbol is read as a body's (a bidi control was echoed back)
        raise ApiError(400, "INVALID_REQUEST", detail="symbol must be 1-64 characters, at least one an ASCII letter or "
                                                      "digit, with no space, control or invisible character")
    if symbol not in svc.venue.engine.config.profile.instruments:
        raise ApiError(404, "UNKNOWN_SYMBOL", symbol=symbol)
    if bucket is not None and not re.match(DECIMAL_PATTERN, bucket):  # Litestar checks no pattern in a query
        raise ApiError(400, "INVALID_REQUEST", detail=f"bucket must be a plain decimal in digits (no sign, exponent or "
                                                      f"space), got {bucket[:40]!r}")
    try:
        width = to_decimal(bucket, "bucket") if bucket is not None else None
    except InvalidInput as bad:  # NaN, Infinity, out of range: not a width
        raise ApiError(400, "INVALID_REQUEST", detail=str(bad)) from None
    if width is not None and width <= 0:
        raise ApiError(400, "INVALID_REQUEST", detail="bucket must be > 0")
    return ladder(svc.venue.engine, symbol, width, Decimal(range_pct), svc.venue.liquidation_prices)


@get("/state", summary="Heads: engine state hash, journal head hash and seq, event sequence")
async def state(svc: Svc, principal: Caller) -> dict[str, Any]:
    venue = svc.venue
    return {
        "state_hash": venue.state_hash(),
        "journal_head": venue.head_hash,
        "journal_length": venue.journal_seq,
        "event_seq": venue.events.head_seq,
        "now_ms": venue.engine.state.now_ms,
        "venue": venue.engine.config.profile.name,
        "marks": {s: plain(m.mark) for s, m in sorted(venue.engine.state.markets.items()) if m.mark is not None},
        "demo": svc.demo,
    }


@get("/params", summary="The parameters in force: the configuration as a params record holds it (operator)")
async def get_params(svc: Svc, principal: Caller) -> dict[str, Any]:
    require_operator(principal)
    engine = svc.venue.engine
    config = encode_config(engine.config)
    return {"config": config, "digest": engine.state.params or params_record_digest(config),
            "changed": engine.state.params is not None,
            "effective_from": engine.config.profile.effective_from}


@post("/params", status_code=200,
      summary="Put new parameters of the same venue in force (operator): the body is GET /v1/params's config, edited")
async def post_params(data: JSONBody[dict[str, Any]], svc: Svc, principal: Caller,
                      idempotency_key: api.IdempotencyKey = None) -> dict[str, Any]:
    require_operator(principal)
    raw = data.get("config") if isinstance(data, dict) and list(data) == ["config"] else None
    if not isinstance(raw, dict):
        raise _refused(svc, "INVALID_PARAMS", reason="the body is {\"config\": {...}}, as GET /v1/params gives it")
    profile, venue = raw.get("profile"), svc.venue.engine.config.profile.name
    if not isinstance(profile, dict) or not isinstance(profile.get("name"), str):
        raise _refused(svc, "INVALID_PARAMS", reason="config.profile names the venue's profile as GET /v1/params "
                                                     "gives it: {\"name\", \"bundled\", ...}")
    left_out = fields_left_out(raw)
    if left_out:
        raise _refused(svc, "INVALID_PARAMS", reason=f"the configuration leaves out {', '.join(left_out[:8])}: post "
                       "the whole configuration, as GET /v1/params gives it (a field left out would take the value of "
                       "journals written before it, its rule off)")
    if profile["name"] != venue:
        raise _refused(svc, "PARAMS_INCOMPATIBLE", reason="a parameter change keeps the venue",
                       profile=profile["name"][:64], venue=venue)
    try:
        cmd = ChangeParams(decode_config(raw))
        journalable_params(cmd)
    except (InvalidInput, ValueError, TypeError, ArithmeticError) as bad:  # what a configuration's fields refuse
        raise _refused(svc, "INVALID_PARAMS", reason=str(bad).splitlines()[0][:300] if str(bad) else
                       type(bad).__name__) from None
    return await api.answer(svc, principal, cmd, idempotency_key)


venue_router = Router(
    path="/v1",
    tags=["venue"],
    route_handlers=documented([post_price, post_fill, post_time, liquidations, margin_calls, events, insurance_fund,
                               post_insurance_contribution, get_ladder, state, get_params, post_params]),
)
