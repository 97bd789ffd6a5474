"""Account routes: an account key sees and acts on its own account; an operator on any."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Router, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from solvent.service import commands_api as api
from solvent.service.context import (
    Caller,
    Service,
    Svc,
    account_scope,
    funds_scope,
    refuse_unless_id,
    require_operator,
)
from solvent.service.eventlog import MAX_SEQ
from solvent.service.openapi_errors import documented
from solvent.service.schemas import (
    DepositBody,
    IsolatedMarginBody,
    LeverageBody,
    MarginModeBody,
    OrderBody,
    WithdrawBody,
)
from solvent.service.views import account_view, health_rows, margin_view
from solvent.units import plain

__all__ = ["LIQUIDATION_TYPES", "MARGIN_CALL_TYPES", "accounts_router", "history"]

LIQUIDATION_TYPES = frozenset({"LiquidationStep", "AutoDeleveraged", "LossSocialised"})
MARGIN_CALL_TYPES = frozenset({"MarginCall"})
FromSeq = Annotated[int, QueryParameter(ge=0, le=MAX_SEQ, description="first event sequence number to return")]
Limit = Annotated[int, QueryParameter(ge=1, le=10_000, description="at most this many events")]


async def history(svc: Service, account_id: str | None, types: frozenset[str] | None, from_seq: int,
                  limit: int) -> dict[str, Any]:
    """One page of the event log: at most ``limit`` events from ``from_seq`` on, and
    ``next_from_seq`` to ask for the next page (``null`` when this page is the last)."""
    events = await svc.venue.events.read(from_seq, account_id, types, limit)
    return {"events": [e.seen_by(account_id).raw_json() for e in events], "head_seq": svc.venue.events.head_seq,
            "next_from_seq": events[-1].seq + 1 if len(events) == limit else None}


@get("/", summary="Every account's margin summary, riskiest first (operator)")
async def list_accounts(svc: Svc, principal: Caller) -> dict[str, Any]:
    require_operator(principal)
    return {"accounts": health_rows(svc.venue.engine, svc.venue.liquidation_prices)}


@get("/{account_id:str}", summary="Balances, positions and open orders")
async def get_account(account_id: FromPath[str], svc: Svc, principal: Caller) -> dict[str, Any]:
    await account_scope(svc, principal, account_id)
    return account_view(svc.venue.engine.state.accounts[account_id], svc.venue.engine.config)


@get("/{account_id:str}/margin", summary="Equity, MM, IM, ratio, level, liquidation prices, ADL ranks")
async def get_margin(account_id: FromPath[str], svc: Svc, principal: Caller) -> dict[str, Any]:
    await account_scope(svc, principal, account_id)
    return margin_view(svc.venue.engine, account_id, ranks=svc.venue.adl_ranks,
                       liq_prices=svc.venue.liquidation_prices)


@post("/{account_id:str}/what-if", status_code=200, summary="Pre-trade check of an order; nothing changes")
async def what_if(account_id: FromPath[str], data: JSONBody[OrderBody], svc: Svc, principal: Caller) -> dict[str, Any]:
    await account_scope(svc, principal, account_id)  # an unknown account's orders are all refused: 404, as /orders
    cmd = api.order(account_id, data)
    engine = svc.venue.engine
    answer = engine.what_if(cmd)
    denial = answer.result.denial
    return {
        "accepted": answer.result.accepted,
        "code": None if denial is None else denial.code.value,
        "context": {} if denial is None else dict(denial.context),
        "max_qty": plain(answer.max_qty),
    }


@post("/{account_id:str}/deposits", status_code=200, summary="Credit a deposit (creates the account)")
async def post_deposit(account_id: FromPath[str],
                       data: JSONBody[DepositBody], svc: Svc, principal: Caller,
                       idempotency_key: api.IdempotencyKey = None) -> dict[str, Any]:
    await funds_scope(svc, principal, account_id, must_exist=False)
    cmd = api.deposit(account_id, data, svc.venue.engine.config.settle_asset)
    return await api.answer(svc, principal, cmd, idempotency_key)


@post("/{account_id:str}/withdrawals", status_code=200, summary="Withdraw (within free margin)")
async def post_withdrawal(account_id: FromPath[str],
                          data: JSONBody[WithdrawBody], svc: Svc, principal: Caller,
                          idempotency_key: api.IdempotencyKey = None) -> dict[str, Any]:
    await funds_scope(svc, principal, account_id)
    cmd = api.withdraw(account_id, data, svc.venue.engine.config.settle_asset)
    return await api.answer(svc, principal, cmd, idempotency_key)


@post("/{account_id:str}/orders", status_code=200, summary="Place a limit order (pre-trade checked)")
async def post_order(account_id: FromPath[str],
                     data: JSONBody[OrderBody], svc: Svc, principal: Caller,
                     idempotency_key: api.IdempotencyKey = None) -> dict[str, Any]:
    await account_scope(svc, principal, account_id)
    return await api.answer(svc, principal, api.order(account_id, data), idempotency_key)


@delete("/{account_id:str}/orders/{order_id:str}", status_code=200, summary="Cancel an open order")
async def cancel_order(account_id: FromPath[str],
                       order_id: FromPath[str], svc: Svc, principal: Caller,
                       idempotency_key: api.IdempotencyKey = None) -> dict[str, Any]:
    await account_scope(svc, principal, account_id)
    refuse_unless_id(order_id, "order id")
    return await api.answer(svc, principal, api.cancel(account_id, order_id), idempotency_key)


@post("/{account_id:str}/leverage", status_code=200, summary="Set the leverage of a symbol")
async def post_leverage(account_id: FromPath[str],
                        data: JSONBody[LeverageBody], svc: Svc, principal: Caller,
                        idempotency_key: api.IdempotencyKey = None) -> dict[str, Any]:
    await account_scope(svc, principal, account_id)
    return await api.answer(svc, principal, api.set_leverage(account_id, data), idempotency_key)


@post("/{account_id:str}/margin-mode", status_code=200,
      summary="Set a symbol's margin mode, cross or isolated (no position or order in it)")
async def post_margin_mode(account_id: FromPath[str],
                           data: JSONBody[MarginModeBody], svc: Svc, principal: Caller,
                           idempotency_key: api.IdempotencyKey = None) -> dict[str, Any]:
    await account_scope(svc, principal, account_id)
    return await api.answer(svc, principal, api.set_margin_mode(account_id, data), idempotency_key)


@post("/{account_id:str}/isolated-margin", status_code=200,
      summary="Move margin from the wallet into an isolated position (add) or back (remove)")
async def post_isolated_margin(account_id: FromPath[str],
                               data: JSONBody[IsolatedMarginBody], svc: Svc, principal: Caller,
                               idempotency_key: api.IdempotencyKey = None) -> dict[str, Any]:
    await account_scope(svc, principal, account_id)
    return await api.answer(svc, principal, api.isolated_margin(account_id, data), idempotency_key)


@get("/{account_id:str}/liquidations", summary="The account's liquidation steps, ADL and written-off losses")
async def account_liquidations(account_id: FromPath[str], svc: Svc, principal: Caller, from_seq: FromSeq = 0,
                               limit: Limit = 1000) -> dict[str, Any]:
    await account_scope(svc, principal, account_id)
    return await history(svc, account_id, LIQUIDATION_TYPES, from_seq, limit)


@get("/{account_id:str}/margin-calls", summary="The account's margin calls")
async def account_margin_calls(account_id: FromPath[str], svc: Svc, principal: Caller, from_seq: FromSeq = 0,
                               limit: Limit = 1000) -> dict[str, Any]:
    await account_scope(svc, principal, account_id)
    return await history(svc, account_id, MARGIN_CALL_TYPES, from_seq, limit)


accounts_router = Router(
    path="/v1/accounts",
    tags=["accounts"],
    route_handlers=documented([list_accounts, get_account, get_margin, what_if, post_deposit, post_withdrawal,
                               post_order, cancel_order, post_leverage, post_margin_mode, post_isolated_margin,
                               account_liquidations, account_margin_calls]),
)
