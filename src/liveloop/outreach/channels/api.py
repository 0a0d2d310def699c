"""JSON routes of outreach channels (/api/v1/outreach/channels): CRUD and a test send.
Everything needs `outreach.manage`; secrets are accepted and never returned."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from liveloop.core.deps import DbSession
from liveloop.outreach.channels import service
from liveloop.outreach.channels.schemas import (
    ChannelIn,
    ChannelOut,
    ChannelPatch,
    TestSendIn,
    TestSendOut,
)
from liveloop.outreach.contracts import ChannelKind, DeliveryResult
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(
    prefix="/api/v1/outreach/channels",
    tags=["outreach channels"],
    dependencies=[Depends(current_actor)],
)

Manager = Annotated[Actor, requires(P.OUTREACH_MANAGE)]


@router.get("", response_model=list[ChannelOut])
async def list_channels(session: DbSession, actor: Manager, kind: ChannelKind | None = None) -> Any:
    return await service.list_channels(session=session, shop_id=actor.shop_id, kind=kind)


@router.post("", response_model=ChannelOut, status_code=201)
async def create_channel(
    data: ChannelIn, request: Request, session: DbSession, actor: Manager
) -> Any:
    return await service.create_channel(
        session=session,
        shop_id=actor.shop_id,
        kind=data.kind.value,
        name=data.name,
        config=data.config,
        secret=data.secret,
        rate_per_second=data.rate_per_second,
        enabled=data.enabled,
        settings=request.app.state.settings,
    )


@router.get("/{outreach_channel_id}", response_model=ChannelOut)
async def get_channel(outreach_channel_id: int, session: DbSession, actor: Manager) -> Any:
    return await service.get_channel(
        session=session, shop_id=actor.shop_id, channel_id=outreach_channel_id
    )


@router.patch("/{outreach_channel_id}", response_model=ChannelOut)
async def update_channel(
    outreach_channel_id: int,
    data: ChannelPatch,
    request: Request,
    session: DbSession,
    actor: Manager,
) -> Any:
    return await service.update_channel(
        session=session,
        shop_id=actor.shop_id,
        channel_id=outreach_channel_id,
        changes=data.model_dump(exclude_unset=True),
        settings=request.app.state.settings,
    )


@router.delete("/{outreach_channel_id}", status_code=204)
async def delete_channel(outreach_channel_id: int, session: DbSession, actor: Manager) -> Response:
    await service.delete_channel(
        session=session, shop_id=actor.shop_id, channel_id=outreach_channel_id
    )
    return Response(status_code=204)


@router.post("/{outreach_channel_id}/test", response_model=TestSendOut)
async def test_send(
    outreach_channel_id: int,
    data: TestSendIn,
    request: Request,
    session: DbSession,
    actor: Manager,
) -> Any:
    """Send one transactional test message to `address` (no retries: the answer is now)."""
    channel = await service.get_channel(
        session=session, shop_id=actor.shop_id, channel_id=outreach_channel_id
    )
    result = await service.send_test(
        channel, address=data.address, text=data.text, subject=data.subject,
        settings=request.app.state.settings,
    )  # fmt: skip
    return test_result_out(result)


def test_result_out(result: DeliveryResult) -> dict[str, Any]:
    return {
        "status": result.status.value,
        "reason": result.reason,
        "provider_code": result.provider_code,
        "provider_message_id": result.provider_message_id,
    }
