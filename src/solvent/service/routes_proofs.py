"""Checkpoints and proofs over HTTP (``service/checkpoints.py``; ``docs/verify.md``).

* ``GET /v1/checkpoints/latest``: the newest signed checkpoint (``size``, ``note``);
* ``GET /v1/checkpoints/{size}``: a checkpoint published earlier;
* ``GET /v1/proofs/inclusion?index=I&size=N``: record I's inclusion proof under the published
  checkpoint of size N (an account key: only a record that names its account);
* ``GET /v1/proofs/consistency?size1=M&size2=N``: between two published checkpoints.

Any authenticated caller may read checkpoints and consistency proofs (they show hashes only).
Without ``serve --checkpoint-key`` every route answers 404 ``CHECKPOINTS_OFF``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from litestar import Request, Router, get
from litestar.params import FromPath, QueryParameter

from solvent.service.checkpoints import LogPublisher
from solvent.service.context import Caller, Service, Svc, refuse_unless_whole_segment
from solvent.service.errors import ApiError
from solvent.service.keys import Principal
from solvent.service.openapi_errors import documented

__all__ = ["proofs_router"]

Size = Annotated[int, QueryParameter(ge=1, le=2**62, description="the checkpoint's size (records)")]


def _publisher(svc: Service) -> LogPublisher:
    if svc.checkpoints is None:
        raise ApiError(404, "CHECKPOINTS_OFF", detail="this venue publishes no checkpoints (serve --checkpoint-key)")
    return svc.checkpoints


def _published(publisher: LogPublisher, size: int) -> None:
    if size not in publisher.published:
        raise ApiError(404, "NO_SUCH_CHECKPOINT", size=size, published=sorted(publisher.published)[-5:])


def _names(record: dict[str, Any]) -> set[str]:
    """The accounts a record's command and events name."""
    names: set[str] = set()
    command = record.get("input") or {}
    for field in ("account_id", "buyer_id", "seller_id"):
        if isinstance(command.get(field), str):
            names.add(command[field])
    for event in record.get("events", []):
        if isinstance(event, dict) and isinstance(event.get("account_id"), str):
            names.add(event["account_id"])
    return names


@get("/checkpoints/latest", summary="The newest signed checkpoint of the journal")
async def latest(svc: Svc, principal: Caller) -> dict[str, Any]:
    publisher = _publisher(svc)
    venue = svc.venue
    tip, state = venue.log_tip, None
    if publisher.due(tip[0]):
        await venue.readable()
        # no commit in flight and no await from here: the engine holds exactly the durable
        # records, so its state hash is the state after the tip's last record
        tip, state = venue.log_tip, venue.engine.state_hash()
    size, note = await asyncio.to_thread(publisher.latest, venue.log_leaves, tip, state)
    return {"size": size, "note": note}


@get("/checkpoints/{size:int}", summary="A checkpoint published earlier")
async def checkpoint(size: FromPath[int], svc: Svc, principal: Caller,
                     request: Request[Any, Any, Any]) -> dict[str, Any]:
    refuse_unless_whole_segment(request.scope["path"], "size")
    publisher = _publisher(svc)
    _published(publisher, size)
    return {"size": size, "note": publisher.published[size]}


@get("/proofs/inclusion", summary="A record's inclusion proof under a published checkpoint")
async def inclusion(svc: Svc, principal: Caller,
                    index: Annotated[int, QueryParameter(ge=0, le=2**62, description="the record's seq")],
                    size: Size) -> dict[str, Any]:
    publisher = _publisher(svc)
    _published(publisher, size)
    if index >= size:
        raise ApiError(400, "INVALID_REQUEST", detail=f"record {index} is not under a checkpoint of size {size}")
    archive = svc.venue.events.archive
    payload = await asyncio.to_thread(archive.payload, index) if archive is not None else None
    if payload is None:
        raise ApiError(404, "NO_SUCH_RECORD", index=index)
    _may_see(principal, payload)
    return await asyncio.to_thread(publisher.inclusion, svc.venue.log_leaves, index, size, payload)


def _may_see(principal: Principal, payload: bytes) -> None:
    if principal.is_operator:
        return
    if principal.account_id is None or principal.account_id not in _names(json.loads(payload)):
        raise ApiError(403, "FORBIDDEN", detail="an account key gets proofs of its own account's records only")


@get("/proofs/consistency", summary="A consistency proof between two published checkpoints")
async def consistency(svc: Svc, principal: Caller, size1: Size, size2: Size) -> dict[str, Any]:
    publisher = _publisher(svc)
    _published(publisher, size1)
    _published(publisher, size2)
    if size1 > size2:
        raise ApiError(400, "INVALID_REQUEST", detail="size1 must not be above size2")
    return await asyncio.to_thread(publisher.consistency, svc.venue.log_leaves, size1, size2)


proofs_router = Router(path="/v1", tags=["proofs"],
                       route_handlers=documented([latest, checkpoint, inclusion, consistency], finds=True))
