"""JSON routes of broadcasts (/api/v1/outreach/broadcasts) and the public click redirect /r/{token}.

Creating and sending accept an `Idempotency-Key`: a repeat returns the first result."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from liveloop.commerce.idempotency import claim_key, complete_key
from liveloop.core.deps import DbSession
from liveloop.core.errors import NotFound
from liveloop.outreach.broadcasts import delivery, results, service, tasks
from liveloop.outreach.broadcasts.invite import invite_once
from liveloop.outreach.broadcasts.models import Broadcast, BroadcastRecipient
from liveloop.outreach.contracts import ChannelKind
from liveloop.outreach.messages.poster_links import poster_for_session
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter()
api = APIRouter(
    prefix="/api/v1/outreach/broadcasts", tags=["broadcasts"], dependencies=[Depends(current_actor)]
)
Manager = Annotated[Actor, requires(P.OUTREACH_MANAGE)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


class BroadcastCreate(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    kind: ChannelKind
    channel_id: int | None = Field(None, ge=1)
    live_session_id: int | None = Field(None, ge=1)
    audience: dict[str, Any] = Field(default_factory=dict)
    variants: list[dict[str, Any]] = Field(min_length=1, max_length=8)
    holdout_percent: int = Field(0, ge=0, le=50)
    marketing: bool = True
    coupon_code: str | None = Field(None, max_length=64)
    scheduled_at: dt.datetime | None = None
    send: bool = False  # create and send in one request


class InviteIn(BaseModel):
    live_session_id: int = Field(ge=1)
    channel_id: int | None = Field(None, ge=1)


def broadcast_out(broadcast: Broadcast, counts: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "id": broadcast.id, "name": broadcast.name, "status": broadcast.status,
        "kind": broadcast.kind, "channel_id": broadcast.channel_id,
        "live_session_id": broadcast.live_session_id, "audience": broadcast.audience,
        "variants": broadcast.variants, "holdout_percent": broadcast.holdout_percent,
        "marketing": broadcast.marketing, "scheduled_at": broadcast.scheduled_at,
        "started_at": broadcast.started_at, "finished_at": broadcast.finished_at,
        "created_at": broadcast.created_at, "counts": counts or {},
    }  # fmt: skip


def recipient_out(recipient: BroadcastRecipient, name: str | None) -> dict[str, Any]:
    return {
        "id": recipient.id, "customer_id": recipient.customer_id, "customer_name": name,
        "status": recipient.status, "reason": recipient.reason, "variant": recipient.variant,
        "attempts": recipient.attempts, "sent_at": recipient.sent_at,
        "clicked_at": recipient.clicked_at,
    }  # fmt: skip


async def _out(session: DbSession, broadcast: Broadcast) -> dict[str, Any]:
    counts = await service.status_counts(session=session, broadcast_id=broadcast.id)
    return broadcast_out(broadcast, counts)


@api.get("")
async def list_broadcasts(
    session: DbSession, actor: Manager, live_session_id: Annotated[int | None, Query(ge=1)] = None
) -> list[dict[str, Any]]:
    found = await service.list_broadcasts(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    return [broadcast_out(b) for b in found]


@api.post("", status_code=201)
async def create(
    data: BroadcastCreate, session: DbSession, actor: Manager, key: IdempotencyKey = None
) -> dict[str, Any]:
    claim = await claim_key(
        session=session, shop_id=actor.shop_id, scope="broadcast:create", key=key,
        body=data.model_dump(mode="json"),
    )  # fmt: skip
    if claim.replay_id is not None:
        replay = await service.get_broadcast(
            session=session, shop_id=actor.shop_id, broadcast_id=claim.replay_id
        )
        return await _out(session, replay)
    fields = data.model_dump(exclude={"send"})
    broadcast = await service.create_broadcast(
        session=session, shop_id=actor.shop_id, data=service.BroadcastIn(**fields),
        staff_id=actor.staff_id,
    )  # fmt: skip
    if data.send:
        broadcast = await service.start_broadcast(
            session=session, shop_id=actor.shop_id, broadcast_id=broadcast.id
        )
        tasks.deliver_after_commit(session, broadcast)
    await complete_key(
        session=session, claim=claim, resource_type="broadcast", resource_id=broadcast.id
    )
    return await _out(session, broadcast)


@api.post("/invite", status_code=201)
async def invite(
    data: InviteIn, session: DbSession, actor: Manager, key: IdempotencyKey = None
) -> dict[str, Any]:
    """One click from a live session: its audience by layers, default words, send now."""
    broadcast, _replayed = await invite_once(
        session=session, shop_id=actor.shop_id, live_session_id=data.live_session_id,
        channel_id=data.channel_id, staff_id=actor.staff_id, key=key,
    )  # fmt: skip
    return await _out(session, broadcast)


@api.get("/{broadcast_id}")
async def read(broadcast_id: int, session: DbSession, actor: Manager) -> dict[str, Any]:
    broadcast = await service.get_broadcast(
        session=session, shop_id=actor.shop_id, broadcast_id=broadcast_id
    )
    return await _out(session, broadcast)


@api.post("/{broadcast_id}/send")
async def send(
    broadcast_id: int, session: DbSession, actor: Manager, key: IdempotencyKey = None
) -> dict[str, Any]:
    claim = await claim_key(
        session=session, shop_id=actor.shop_id, scope=f"broadcast:send:{broadcast_id}", key=key,
        body={"broadcast_id": broadcast_id},
    )  # fmt: skip
    if claim.replay_id is None:
        broadcast = await service.start_broadcast(
            session=session, shop_id=actor.shop_id, broadcast_id=broadcast_id
        )
        tasks.deliver_after_commit(session, broadcast)
        await complete_key(
            session=session, claim=claim, resource_type="broadcast", resource_id=broadcast.id
        )
    else:
        broadcast = await service.get_broadcast(
            session=session, shop_id=actor.shop_id, broadcast_id=broadcast_id
        )
    return await _out(session, broadcast)


@api.post("/{broadcast_id}/cancel")
async def cancel(broadcast_id: int, session: DbSession, actor: Manager) -> dict[str, Any]:
    broadcast = await service.cancel_broadcast(
        session=session, shop_id=actor.shop_id, broadcast_id=broadcast_id
    )
    return await _out(session, broadcast)


@api.get("/{broadcast_id}/recipients")
async def recipients(
    broadcast_id: int,
    session: DbSession,
    actor: Manager,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[dict[str, Any]]:
    await service.get_broadcast(session=session, shop_id=actor.shop_id, broadcast_id=broadcast_id)
    rows = await service.list_recipients(
        session=session, shop_id=actor.shop_id, broadcast_id=broadcast_id, status=status,
        limit=limit, offset=offset,
    )  # fmt: skip
    return [recipient_out(recipient, name) for recipient, name in rows]


@api.get("/{broadcast_id}/results")
async def broadcast_results(
    broadcast_id: int, session: DbSession, actor: Manager
) -> dict[str, Any]:
    broadcast = await service.get_broadcast(
        session=session, shop_id=actor.shop_id, broadcast_id=broadcast_id
    )
    return await results.broadcast_results(session=session, broadcast=broadcast)


public = APIRouter(tags=["broadcasts"])


@public.get("/r/{token}", include_in_schema=False)
async def click(token: str, request: Request, session: DbSession) -> RedirectResponse:
    target = await results.record_click(
        session=session,
        secret=request.app.state.settings.resolved_secret_key(),
        token=token,
        user_agent=request.headers.get("user-agent", ""),
    )
    if target is None:
        raise NotFound("this link is not valid (it may have been mistyped)", code="link_not_found")
    return RedirectResponse(target, status_code=302)


@public.get("/r/{token}/poster.png", include_in_schema=False)
async def poster(token: str, request: Request, session: DbSession) -> Response:
    """The recipient's own poster: its QR code is their tracked link (scans are attributed)."""
    settings = request.app.state.settings
    live = await results.live_session_of_token(
        session=session, secret=settings.resolved_secret_key(), token=token
    )
    if live is None:
        raise NotFound(
            "this poster is not valid (it may have been mistyped)", code="link_not_found"
        )
    png = await poster_for_session(
        session=session, settings=settings, live_session=live,
        link=delivery.click_url(settings, token),
    )  # fmt: skip
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


router.include_router(api)
router.include_router(public)
