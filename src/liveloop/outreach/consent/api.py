"""JSON routes of outreach consent (/api/v1/outreach/consent): the shop's contact policy,
the do-not-contact list, and a screening of customers (who may be reached, and when).

Reading needs `customers.read`; changing the policy or the list needs `outreach.manage`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from liveloop.core.database import utcnow
from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput
from liveloop.core.schemas import PageOut
from liveloop.outreach.consent import service
from liveloop.outreach.consent.schemas import (
    BlockIn,
    BlockOut,
    BlockReason,
    ChannelKey,
    DecisionOut,
    PolicyIn,
    PolicyOut,
    ScreenIn,
)
from liveloop.shops import service as shops_service
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(
    prefix="/api/v1/outreach/consent",
    tags=["outreach consent"],
    dependencies=[Depends(current_actor)],
)

Reader = Annotated[Actor, requires(P.CUSTOMERS_READ)]
Manager = Annotated[Actor, requires(P.OUTREACH_MANAGE)]


def block_out(block: Any, customer_name: str | None = None) -> BlockOut:
    out = BlockOut.model_validate(block)
    out.customer_name = customer_name
    return out


@router.get("/policy", response_model=PolicyOut)
async def read_policy(session: DbSession, actor: Reader) -> Any:
    """Caps per channel key ("*" for any key without its own), quiet hours in shop time."""
    return await service.get_policy(session=session, shop_id=actor.shop_id)


@router.put("/policy", response_model=PolicyOut)
async def save_policy(data: PolicyIn, session: DbSession, actor: Manager) -> Any:
    changes = data.model_dump(exclude_unset=True)
    saved = await service.save_policy(session=session, shop_id=actor.shop_id, data=changes)
    await shops_service.record_audit(
        session=session,
        actor=actor,
        action="outreach.policy.save",
        target_type="shop",
        target_id=actor.shop_id,
        details={"fields": sorted(changes)},
    )
    return saved


@router.get("/blocks", response_model=PageOut[BlockOut])
async def list_blocks(
    session: DbSession,
    actor: Reader,
    reason: BlockReason | None = None,
    channel_key: ChannelKey | None = None,
    customer_id: Annotated[int | None, Query(ge=1)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    """The do-not-contact list, newest first."""
    rows, total = await service.list_blocks(
        session=session,
        shop_id=actor.shop_id,
        reason=reason,
        channel_key=channel_key,
        customer_id=customer_id,
        page=page,
        per_page=per_page,
    )
    return {
        "items": [block_out(row.block, row.customer_name) for row in rows],
        "total": total, "page": page, "per_page": per_page,
        "pages": max(1, -(-total // per_page)),
    }  # fmt: skip


@router.post("/blocks", response_model=BlockOut, status_code=201)
async def create_block(data: BlockIn, session: DbSession, actor: Manager) -> Any:
    """Do not contact a customer on one channel key or on all ("*"); blocking again updates
    the reason."""
    block = await service.block_contact(
        session=session,
        shop_id=actor.shop_id,
        customer_id=data.customer_id,
        channel_key=data.channel_key,
        reason=data.reason,
        note=data.note,
        created_by=actor.label,
    )
    await shops_service.record_audit(
        session=session,
        actor=actor,
        action="outreach.block",
        target_type="customer",
        target_id=data.customer_id,
        details={"channel_key": data.channel_key, "reason": data.reason},
    )
    return block_out(block)


@router.delete("/blocks/{contact_block_id}", status_code=204)
async def delete_block(contact_block_id: int, session: DbSession, actor: Manager) -> Response:
    """Lift a block (a customer who unsubscribed must also consent again to get marketing)."""
    block = await service.get_block(
        session=session, shop_id=actor.shop_id, block_id=contact_block_id
    )
    customer_id, channel_key = block.customer_id, block.channel_key
    await service.unblock_contact(
        session=session, shop_id=actor.shop_id, customer_id=customer_id, channel_key=channel_key
    )
    await shops_service.record_audit(
        session=session,
        actor=actor,
        action="outreach.unblock",
        target_type="customer",
        target_id=customer_id,
        details={"channel_key": channel_key},
    )
    return Response(status_code=204)


@router.post("/screen", response_model=list[DecisionOut])
async def screen(data: ScreenIn, session: DbSession, actor: Reader) -> Any:
    """Who of these customers may get a message on this channel kind, and when (reason null:
    now; "quiet_hours": at send_at; others: not at all)."""
    at = data.at or utcnow()
    if at.tzinfo is None:
        raise InvalidInput("give `at` with a time zone, e.g. 2026-12-07T20:00:00+08:00", field="at")
    decisions = await service.screen_recipients(
        session=session,
        shop_id=actor.shop_id,
        kind=data.kind,
        customer_ids=data.customer_ids,
        now=at.astimezone(dt.UTC),
        marketing=data.marketing,
    )
    return [
        {"customer_id": cid, "send_at": d.send_at, "reason": d.reason}
        for cid, d in decisions.items()
    ]
