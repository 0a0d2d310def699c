"""Viewer routes of mic requests: the room's mic and where I stand, ask, withdraw or leave."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from liveloop.commerce.viewer_api import CurrentBuyer
from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput
from liveloop.live.mic import service
from liveloop.live.mic.models import MicRequest
from liveloop.live.mic.schemas import MicRequestIn, MyMicOut

router = APIRouter(prefix="/api/v1/public", tags=["mic requests (viewer)"])


def mine(request: MicRequest | None, position: int | None = None) -> MyMicOut:
    if request is None:
        return MyMicOut()
    return MyMicOut(
        id=request.id,
        status=request.status,
        seat=request.seat,
        position=position,
        reason=request.reason if request.ended_by == "anchor" else "",
        requested_at=request.requested_at,
        accepted_at=request.accepted_at,
    )


def _check_room(live_session_id: int, token_room: int | None) -> None:
    if token_room != live_session_id:
        raise InvalidInput(
            "the viewer token is for another live room; reload the page",
            code="token_wrong_room",
            field="token",
        )


@router.get("/live/{live_session_id}/mic")
async def mic_state(live_session_id: int, session: DbSession, claims: CurrentBuyer) -> Any:
    """The room's `mic` card (null: no mic now) and this viewer's request (`me`)."""
    _check_room(live_session_id, claims.live_session_id)
    card = await service.current_room_card(
        session=session, shop_id=claims.shop_id, live_session_id=live_session_id
    )
    me = MyMicOut()
    if claims.customer_id is not None:
        request, position = await service.my_request(
            session=session, shop_id=claims.shop_id, live_session_id=live_session_id,
            customer_id=claims.customer_id,
        )  # fmt: skip
        me = mine(request, position)
    return {"card": card, "me": me.model_dump(mode="json")}


@router.post("/live/{live_session_id}/mic/requests", response_model=MyMicOut)
async def ask(
    live_session_id: int,
    data: MicRequestIn,
    session: DbSession,
    claims: CurrentBuyer,
    response: Response,
) -> MyMicOut:
    """上麦: 201 a new request; 200 the open one (asking again changes nothing). 401
    customer_required (verify a phone first), 403 mic_viewer_banned / mic_viewer_muted, 409
    mic_closed, mic_cooldown, mic_request_limit."""
    request, created = await service.request_mic(
        session=session,
        shop_id=claims.shop_id,
        live_session_id=live_session_id,
        token_live_session_id=claims.live_session_id,
        customer_id=claims.customer_id,
        device_id=claims.device_id,
        note=data.note,
    )
    response.status_code = 201 if created else 200
    _, position = await service.my_request(
        session=session, shop_id=claims.shop_id, live_session_id=live_session_id,
        customer_id=request.customer_id,
    )  # fmt: skip
    return mine(request, position)


@router.post("/mic/requests/{request_id}/cancel", response_model=MyMicOut)
async def withdraw(request_id: int, session: DbSession, claims: CurrentBuyer) -> MyMicOut:
    """Withdraw a waiting request, or leave the mic when on it. Another viewer's request: 404."""
    request = await service.withdraw(
        session=session,
        shop_id=claims.shop_id,
        request_id=request_id,
        customer_id=claims.customer_id,
    )
    return mine(request)
