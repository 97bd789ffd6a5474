"""From request bodies to engine commands, and from results to answers."""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Annotated, Any

from litestar.params import HeaderParameter

from solvent.engine import (
    AddIsolatedMargin,
    CancelOrder,
    Command,
    Deposit,
    Fill,
    FundInsurance,
    PlaceOrder,
    PriceUpdate,
    RemoveIsolatedMargin,
    SetLeverage,
    SetMarginMode,
    Withdraw,
)
from solvent.engine.denials import DenyCode
from solvent.errors import InvalidInput
from solvent.journal.codec import RequestKey
from solvent.model import MarginMode, PositionSide, Side
from solvent.service.context import Service
from solvent.service.errors import ApiError
from solvent.service.keys import Principal
from solvent.service.schemas import (
    DepositBody,
    FillBody,
    InsuranceBody,
    IsolatedMarginBody,
    LeverageBody,
    MarginModeBody,
    OrderBody,
    PriceBody,
    WithdrawBody,
)
from solvent.units import to_decimal

log = logging.getLogger("solvent.service")

__all__ = ["IdempotencyKey", "answer", "deposit", "fill", "fund_insurance", "isolated_margin", "order", "price",
           "request_key", "set_leverage", "set_margin_mode", "withdraw"]


def _d(text: str, name: str) -> Decimal:
    """The schema's pattern admits only plain decimals; one with more significant digits than
    the engine keeps (40: 24 + 18 pass the pattern) is a bad request, not a server error."""
    try:
        return to_decimal(text, name)
    except InvalidInput as exc:
        raise ApiError(400, "INVALID_REQUEST", detail=str(exc)) from None


def deposit(account_id: str, body: DepositBody, settle: str) -> Deposit:
    """``settle``: the venue's settlement asset, for a body that names no asset."""
    return Deposit(account_id, body.asset or settle, _d(body.amount, "amount"))


def withdraw(account_id: str, body: WithdrawBody, settle: str) -> Withdraw:
    return Withdraw(account_id, body.asset or settle, _d(body.amount, "amount"))


def order(account_id: str, body: OrderBody) -> PlaceOrder:
    return PlaceOrder(account_id, body.order_id, body.symbol, Side(body.side), _d(body.qty, "qty"),
                      _d(body.price, "price"), body.reduce_only, PositionSide(body.position_side))


def cancel(account_id: str, order_id: str) -> CancelOrder:
    return CancelOrder(account_id, order_id)


def set_leverage(account_id: str, body: LeverageBody) -> SetLeverage:
    return SetLeverage(account_id, body.symbol, _d(body.leverage, "leverage"))


def set_margin_mode(account_id: str, body: MarginModeBody) -> SetMarginMode:
    return SetMarginMode(account_id, body.symbol, MarginMode(body.mode))


def isolated_margin(account_id: str, body: IsolatedMarginBody) -> AddIsolatedMargin | RemoveIsolatedMargin:
    kind = AddIsolatedMargin if body.type == "add" else RemoveIsolatedMargin
    return kind(account_id, body.symbol, _d(body.amount, "amount"), PositionSide(body.position_side))


def fund_insurance(body: InsuranceBody) -> FundInsurance:
    return FundInsurance(_d(body.amount, "amount"))


def fill(body: FillBody) -> Fill:
    return Fill(body.trade_id, body.symbol, _d(body.price, "price"), _d(body.qty, "qty"), body.buyer_id,
                body.seller_id, _d(body.buyer_fee, "buyer_fee"), _d(body.seller_fee, "seller_fee"),
                body.buy_order_id, body.sell_order_id, PositionSide(body.buyer_position_side),
                PositionSide(body.seller_position_side))


def price(body: PriceBody) -> PriceUpdate:
    return PriceUpdate(body.symbol, body.source, _d(body.price, "price"))


IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x2b\x2d-\x7e]{1,255}$")
IDEMPOTENCY_KEY_RULE = ("an Idempotency-Key is 1 to 255 visible ASCII characters other than a comma (a UUID, say: "
                        "a comma is how two keys are joined into one header)")
IdempotencyKey = Annotated[str | None, HeaderParameter(
    name="Idempotency-Key", required=False,
    description="Makes the request safe to retry: the same key with the same request returns the first "
                "answer and changes nothing (remembered across restarts); with another request, 422 "
                "IDEMPOTENCY_KEY_REUSED. " + IDEMPOTENCY_KEY_RULE + ".")]
"""The header every state-changing route takes (``docs/api.md``, idempotency)."""


def repeated_key() -> ApiError:
    """400 for a request with two keys (two header lines, or one value joined from two): which one
    a retry must repeat would be ambiguous, so neither is taken."""
    return ApiError(400, "INVALID_REQUEST", detail="the Idempotency-Key header is given more than once; a request "
                                                   "has one key")


def request_key(principal: Principal, key: str | None) -> RequestKey | None:
    """The journaled form of a request's ``Idempotency-Key`` (scoped to the caller's API key);
    400 for a malformed key."""
    if key is None:
        return None
    if "," in key:  # two header lines joined into one value (as HTTP clients and proxies do)
        raise repeated_key()
    if not IDEMPOTENCY_KEY_RE.match(key):
        raise ApiError(400, "INVALID_REQUEST", detail=IDEMPOTENCY_KEY_RULE)
    return RequestKey(principal.key_id, key)


async def answer(svc: Service, principal: Principal, cmd: Command, key: str | None = None) -> dict[str, Any]:
    """Submit ``cmd``; 200 with its events once its journal record is durable, or 422 with
    the engine's denial (refusals change nothing and are not journaled). With an
    ``Idempotency-Key``, a retry gets the first answer (``Venue.submit``)."""
    done = await svc.venue.submit(cmd, request_key(principal, key))
    if done.result.denial is not None:
        internal = done.result.denial.code is DenyCode.INTERNAL_ERROR
        if internal:  # a bug in the engine: refused and rolled back there, but someone must look
            # the denial's keys go under one field: ``message`` is a LogRecord attribute logging refuses
            log.error("engine failure: the command was refused and rolled back",
                      extra={"command": type(cmd).__name__, "denial": dict(done.result.denial.context)})
        refused = ApiError(500 if internal else 422, done.result.denial.code.value, journal_seq=done.journal_seq)
        refused.context.update(done.result.denial.context)
        raise refused
    scope = None if principal.is_operator else principal.account_id
    return {
        "accepted": True,
        "command_seq": done.command_seq,
        "events": [e.to_json() for e in done.events if e.visible_to(scope)],
    }
