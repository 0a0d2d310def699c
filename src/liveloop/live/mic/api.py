"""Console JSON routes of mic requests: open or close the mic, the queue, accept, reject, end.

The session's anchor or staff who manage live sessions (as the other room controls)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from liveloop.core.deps import DbSession
from liveloop.live.mic import service
from liveloop.live.mic.schemas import MicConsoleOut, MicDecisionIn, MicRequestOut, MicSettingsIn
from liveloop.shops.auth import CurrentActor, current_actor

router = APIRouter(prefix="/api/v1", tags=["mic requests"], dependencies=[Depends(current_actor)])


async def _described(session: DbSession, request: Any) -> MicRequestOut:
    names = await service.customer_names(session, request.shop_id, [request.customer_id])
    return MicRequestOut(**service.describe(request, names.get(request.customer_id) or ""))


@router.get("/live/{live_session_id}/mic", response_model=MicConsoleOut)
async def mic_panel(live_session_id: int, session: DbSession, actor: CurrentActor) -> Any:
    """Settings, the waiting queue (oldest first), the guests on mic, the finished requests."""
    return await service.console_view(session=session, actor=actor, live_session_id=live_session_id)


@router.put("/live/{live_session_id}/mic", response_model=MicConsoleOut)
async def configure_mic(
    live_session_id: int, data: MicSettingsIn, session: DbSession, actor: CurrentActor
) -> Any:
    """Open the mic (`is_open`: true), change `max_guests`, or close it: waiting requests
    expire and guests leave the mic."""
    await service.configure_mic(
        session=session, actor=actor, live_session_id=live_session_id, data=data
    )
    return await service.console_view(session=session, actor=actor, live_session_id=live_session_id)


@router.post("/mic/requests/{request_id}/accept", response_model=MicRequestOut)
async def accept(request_id: int, session: DbSession, actor: CurrentActor) -> MicRequestOut:
    """409 mic_request_cancelled (the viewer withdrew), mic_request_accepted (already on),
    mic_full (every seat taken), mic_closed, mic_viewer_banned / mic_viewer_muted."""
    request = await service.accept_request(session=session, actor=actor, request_id=request_id)
    return await _described(session, request)


@router.post("/mic/requests/{request_id}/reject", response_model=MicRequestOut)
async def reject(
    request_id: int, data: MicDecisionIn, session: DbSession, actor: CurrentActor
) -> MicRequestOut:
    request = await service.reject_request(
        session=session, actor=actor, request_id=request_id, reason=data.reason
    )
    return await _described(session, request)


@router.post("/mic/requests/{request_id}/end", response_model=MicRequestOut)
async def end(
    request_id: int, data: MicDecisionIn, session: DbSession, actor: CurrentActor
) -> MicRequestOut:
    """Take a guest off the mic."""
    request = await service.end_request(
        session=session, actor=actor, request_id=request_id, reason=data.reason
    )
    return await _described(session, request)
