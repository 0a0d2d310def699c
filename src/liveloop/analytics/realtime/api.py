"""JSON routes of the realtime dashboard: a snapshot of a live session's figures now, and a
Server-Sent Events stream pushing a fresh one every STREAM_INTERVAL_S until the client goes.

Reading needs analytics.read; a session of another shop is 404 (the stream checks before it
starts). Each streamed snapshot is read in its own short unit of work, so a stream holds no
database connection between snapshots."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from liveloop.analytics.realtime import service
from liveloop.analytics.service import load_live_session
from liveloop.core.database import OpenSession
from liveloop.core.deps import DbSession, SessionOpener
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(prefix="/api/v1", tags=["analytics"], dependencies=[Depends(current_actor)])

Analyst = Annotated[Actor, requires(P.ANALYTICS_READ)]

STREAM_INTERVAL_S = 3.0  # the issue asks for at most 5 s; tests lower it
DISCONNECT_POLL_S = 0.5  # how often a waiting stream looks for a client that has gone


def room_online(request: Request, live_session_id: int) -> int | None:
    """Viewers online as the room counts them, when this process has the room open (on the
    Redis bus that count is every process's); None otherwise (the events say)."""
    room = request.app.state.hub.rooms.get(live_session_id)
    if room is None:
        return None
    return int(room.snapshot()["state"]["online"])


@router.get("/analytics/live/{live_session_id}/realtime")
async def get_realtime(
    request: Request, live_session_id: int, session: DbSession, actor: Analyst
) -> dict[str, Any]:
    """The session's dashboard figures now (see liveloop.analytics.realtime.service): online,
    peak, viewers, new and returning viewers, average watch time, comments, likes, shares,
    product clicks, add-to-cart, orders, paying customers, GMV (fen), conversion; per-minute
    series, per-product figures with the stock left, and traffic sources."""
    return await service.realtime_snapshot(
        session=session,
        shop_id=actor.shop_id,
        live_session_id=live_session_id,
        room_online=room_online(request, live_session_id),
    )


async def snapshot_events(
    *,
    open_session: OpenSession,
    shop_id: int,
    live_session_id: int,
    online: Callable[[], int | None],
    disconnected: Callable[[], Awaitable[bool]],
) -> AsyncIterator[bytes]:
    """`event: snapshot` messages, one now and one every STREAM_INTERVAL_S, until
    `disconnected()` says the client has gone."""
    number = 0
    while not await disconnected():
        async with open_session() as session:
            body = await service.realtime_snapshot(
                session=session,
                shop_id=shop_id,
                live_session_id=live_session_id,
                room_online=online(),
            )
        number += 1
        yield b"event: snapshot\nid: %d\ndata: %s\n\n" % (number, orjson.dumps(body))
        waited = 0.0
        while waited < STREAM_INTERVAL_S:
            step = min(DISCONNECT_POLL_S, STREAM_INTERVAL_S - waited)
            await asyncio.sleep(step)
            waited += step
            if await disconnected():
                return


@router.get("/analytics/live/{live_session_id}/realtime/stream", response_class=StreamingResponse)
async def stream_realtime(
    request: Request,
    live_session_id: int,
    session: DbSession,
    open_session: SessionOpener,
    actor: Analyst,
) -> StreamingResponse:
    """Server-Sent Events (`text/event-stream`): an `event: snapshot` whose data is the body
    of GET …/realtime, now and every few seconds, until the client disconnects."""
    await load_live_session(session=session, shop_id=actor.shop_id, live_session_id=live_session_id)
    events = snapshot_events(
        open_session=open_session,
        shop_id=actor.shop_id,
        live_session_id=live_session_id,
        online=lambda: room_online(request, live_session_id),
        disconnected=request.is_disconnected,
    )
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
