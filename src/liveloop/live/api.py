"""JSON routes of live sessions for the console and integrators: schedule, run, audience,
viewer tokens and moderation. Reading or writing needs live.manage; a viewer token for a
known customer may also be issued with customers.read (a CRM that sends its customers in).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile

from liveloop.catalog.media import MAX_IMAGE_BYTES
from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput, PermissionDenied
from liveloop.core.schemas import PageOut
from liveloop.live import controls, moderation_api, service
from liveloop.live.audience import customer_names
from liveloop.live.models import LiveSession, LiveStatus
from liveloop.live.schemas import (
    Announcement,
    CommentsSwitch,
    EntryLinkCreate,
    EntryLinkOut,
    Lineup,
    LiveSessionCreate,
    LiveSessionOut,
    LiveSessionUpdate,
    Pinned,
    ProductPush,
    ReservationCreate,
    ReservationOut,
    SharerOut,
    ViewerTokenOut,
    ViewerTokenRequest,
)
from liveloop.live.viewers import VIEWER_TOKEN_TTL
from liveloop.shops.auth import CurrentActor, current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(prefix="/api/v1/live", tags=["live"], dependencies=[Depends(current_actor)])
# First: its /words and /restrictions/… must come before /{live_session_id}.
router.include_router(moderation_api.router)

LiveManager = Annotated[Actor, requires(P.LIVE_MANAGE)]
PageNumber = Annotated[int, Query(ge=1)]
PerPage = Annotated[int, Query(ge=1, le=500)]


def media_dir(request: Request) -> Path:
    return Path(request.app.state.settings.resolved_media_dir)


async def session_out(session: DbSession, live_session: LiveSession) -> LiveSessionOut:
    out = LiveSessionOut.model_validate(live_session)
    out.cover_url = service.cover_url(live_session)
    out.product_ids = await service.lineup_ids(session=session, live_session=live_session)
    return out


async def load_session(session: DbSession, actor: Actor, live_session_id: int) -> LiveSession:
    return await service.get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )


# -------------------------------------------------------------------------------- sessions


@router.get("", response_model=PageOut[LiveSessionOut])
async def list_live_sessions(
    session: DbSession,
    actor: LiveManager,
    status: LiveStatus | None = None,
    starts_from: dt.datetime | None = None,
    starts_before: dt.datetime | None = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> PageOut[Any]:
    for name, value in (("starts_from", starts_from), ("starts_before", starts_before)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(
                f"{name} needs its time zone, e.g. 2026-11-24T00:00:00+08:00",
                code="naive_time",
                field=name,
            )
    result = await service.list_live_sessions(
        session=session,
        shop_id=actor.shop_id,
        status=status,
        starts_from=starts_from,
        starts_before=starts_before,
        page=page,
        per_page=per_page,
    )
    lineups = await service.lineup_ids_of(
        session=session, shop_id=actor.shop_id, live_session_ids=[s.id for s in result.items]
    )
    items = [
        LiveSessionOut.model_validate(s).model_copy(
            update={"cover_url": service.cover_url(s), "product_ids": lineups[s.id]}
        )
        for s in result.items
    ]
    return PageOut[LiveSessionOut](
        items=items,
        total=result.total,
        page=result.page,
        per_page=result.per_page,
        pages=result.pages,
    )


@router.post("", response_model=LiveSessionOut, status_code=201)
async def create_live_session(
    data: LiveSessionCreate, session: DbSession, actor: LiveManager
) -> LiveSessionOut:
    live_session = await service.create_live_session(session=session, actor=actor, data=data)
    return await session_out(session, live_session)


@router.get("/{live_session_id}", response_model=LiveSessionOut)
async def get_live_session(
    live_session_id: int, session: DbSession, actor: LiveManager
) -> LiveSessionOut:
    return await session_out(session, await load_session(session, actor, live_session_id))


@router.patch("/{live_session_id}", response_model=LiveSessionOut)
async def update_live_session(
    live_session_id: int, data: LiveSessionUpdate, session: DbSession, actor: LiveManager
) -> LiveSessionOut:
    live_session = await service.update_live_session(
        session=session, actor=actor, live_session_id=live_session_id, data=data
    )
    return await session_out(session, live_session)


@router.put("/{live_session_id}/lineup", response_model=LiveSessionOut)
async def set_lineup(
    live_session_id: int, data: Lineup, session: DbSession, actor: LiveManager
) -> LiveSessionOut:
    await service.set_lineup(
        session=session, actor=actor, live_session_id=live_session_id, product_ids=data.product_ids
    )
    return await session_out(session, await load_session(session, actor, live_session_id))


@router.post("/{live_session_id}/cover", response_model=LiveSessionOut)
async def upload_cover(
    live_session_id: int,
    session: DbSession,
    actor: LiveManager,
    media: Annotated[Path, Depends(media_dir)],
    file: Annotated[UploadFile, File(description="PNG, JPEG, WebP or GIF, at most 5 MB")],
) -> LiveSessionOut:
    content = await file.read(MAX_IMAGE_BYTES + 1)
    live_session = await service.set_cover(
        session=session,
        actor=actor,
        live_session_id=live_session_id,
        content=content,
        media_dir=media,
    )
    return await session_out(session, live_session)


@router.get("/{live_session_id}/room")
async def room_state(live_session_id: int, session: DbSession, actor: LiveManager) -> Any:
    """The room as a viewer joining now would see it (the snapshot's state)."""
    live_session = await load_session(session, actor, live_session_id)
    return await service.room_snapshot(session=session, live_session=live_session)


# ---------------------------------------------------------------------------- transitions
# Open to anyone logged in: the service lets the session's anchor or live managers through.


@router.post("/{live_session_id}/start", response_model=LiveSessionOut)
async def start_live_session(
    live_session_id: int, session: DbSession, actor: CurrentActor
) -> LiveSessionOut:
    live_session = await service.start_live_session(
        session=session, actor=actor, live_session_id=live_session_id
    )
    return await session_out(session, live_session)


@router.post("/{live_session_id}/end", response_model=LiveSessionOut)
async def end_live_session(
    live_session_id: int, session: DbSession, actor: CurrentActor
) -> LiveSessionOut:
    live_session = await service.end_live_session(
        session=session, actor=actor, live_session_id=live_session_id
    )
    return await session_out(session, live_session)


@router.post("/{live_session_id}/cancel", response_model=LiveSessionOut)
async def cancel_live_session(
    live_session_id: int, session: DbSession, actor: LiveManager
) -> LiveSessionOut:
    live_session = await service.cancel_live_session(
        session=session, actor=actor, live_session_id=live_session_id
    )
    return await session_out(session, live_session)


# -------------------------------------------------------------------------- room controls


@router.put("/{live_session_id}/announcement", response_model=LiveSessionOut)
async def set_announcement(
    live_session_id: int, data: Announcement, session: DbSession, actor: CurrentActor
) -> LiveSessionOut:
    live_session = await controls.set_announcement(
        session=session, actor=actor, live_session_id=live_session_id, text=data.text
    )
    return await session_out(session, live_session)


@router.put("/{live_session_id}/pinned", response_model=LiveSessionOut)
async def set_pinned(
    live_session_id: int, data: Pinned, session: DbSession, actor: CurrentActor
) -> LiveSessionOut:
    live_session = await controls.set_pinned(
        session=session, actor=actor, live_session_id=live_session_id, text=data.text
    )
    return await session_out(session, live_session)


@router.post("/{live_session_id}/push")
async def push_product(
    live_session_id: int, data: ProductPush, session: DbSession, actor: CurrentActor
) -> Any:
    """上链接: returns the product card sent to the room."""
    return await controls.push_product(
        session=session, actor=actor, live_session_id=live_session_id, product_id=data.product_id
    )


@router.post("/{live_session_id}/unpush", response_model=LiveSessionOut)
async def unpush_product(
    live_session_id: int, session: DbSession, actor: CurrentActor
) -> LiveSessionOut:
    live_session = await controls.unpush_product(
        session=session, actor=actor, live_session_id=live_session_id
    )
    return await session_out(session, live_session)


@router.put("/{live_session_id}/comments", response_model=LiveSessionOut)
async def set_comments(
    live_session_id: int, data: CommentsSwitch, session: DbSession, actor: CurrentActor
) -> LiveSessionOut:
    live_session = await controls.set_comments_enabled(
        session=session, actor=actor, live_session_id=live_session_id, enabled=data.enabled
    )
    return await session_out(session, live_session)


# ------------------------------------------------------------------------------- audience


@router.get("/{live_session_id}/reservations", response_model=PageOut[ReservationOut])
async def list_reservations(
    live_session_id: int,
    session: DbSession,
    actor: LiveManager,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> PageOut[Any]:
    await load_session(session, actor, live_session_id)
    result = await service.list_reservations(
        session=session,
        shop_id=actor.shop_id,
        live_session_id=live_session_id,
        page=page,
        per_page=per_page,
    )
    names = await customer_names(
        session=session, shop_id=actor.shop_id, customer_ids=[r.customer_id for r in result.items]
    )
    items = []
    for reservation in result.items:
        out = ReservationOut.model_validate(reservation)
        out.customer_name = names.get(reservation.customer_id, "")
        items.append(out)
    return PageOut[ReservationOut](
        items=items,
        total=result.total,
        page=result.page,
        per_page=result.per_page,
        pages=result.pages,
    )


@router.post("/{live_session_id}/reservations", response_model=ReservationOut, status_code=201)
async def reserve(
    live_session_id: int, data: ReservationCreate, session: DbSession, actor: LiveManager
) -> ReservationOut:
    live_session = await load_session(session, actor, live_session_id)
    reservation = await service.reserve(
        session=session,
        live_session=live_session,
        customer_id=data.customer_id,
        source_code=data.source_code,
    )
    return ReservationOut.model_validate(reservation)


@router.delete("/{live_session_id}/reservations/{customer_id}", status_code=204)
async def cancel_reservation(
    live_session_id: int, customer_id: int, session: DbSession, actor: LiveManager
) -> Response:
    live_session = await load_session(session, actor, live_session_id)
    await service.cancel_reservation(
        session=session, live_session=live_session, customer_id=customer_id
    )
    return Response(status_code=204)


@router.get("/{live_session_id}/links", response_model=list[EntryLinkOut])
async def list_entry_links(
    live_session_id: int, session: DbSession, actor: LiveManager
) -> list[EntryLinkOut]:
    live_session = await load_session(session, actor, live_session_id)
    links = await service.list_entry_links(
        session=session, shop_id=actor.shop_id, live_session_id=live_session.id
    )
    return [
        EntryLinkOut.model_validate(link).model_copy(
            update={"url": service.entry_url(live_session, link)}
        )
        for link in links
    ]


@router.post("/{live_session_id}/links", response_model=EntryLinkOut, status_code=201)
async def create_entry_link(
    live_session_id: int, data: EntryLinkCreate, session: DbSession, actor: LiveManager
) -> EntryLinkOut:
    live_session = await load_session(session, actor, live_session_id)
    link = await service.create_entry_link(
        session=session, actor=actor, live_session=live_session, data=data
    )
    return EntryLinkOut.model_validate(link).model_copy(
        update={"url": service.entry_url(live_session, link)}
    )


@router.delete("/{live_session_id}/links/{link_id}", status_code=204)
async def delete_entry_link(
    live_session_id: int, link_id: int, session: DbSession, actor: LiveManager
) -> Response:
    await load_session(session, actor, live_session_id)
    await service.delete_entry_link(
        session=session, actor=actor, live_session_id=live_session_id, link_id=link_id
    )
    return Response(status_code=204)


@router.get("/{live_session_id}/sharers", response_model=list[SharerOut])
async def sharer_ranking(
    live_session_id: int, session: DbSession, actor: LiveManager
) -> list[SharerOut]:
    await load_session(session, actor, live_session_id)
    rows = await service.sharer_ranking(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    return [SharerOut(**row) for row in rows]


@router.post("/{live_session_id}/viewer-token", response_model=ViewerTokenOut)
async def issue_viewer_token(
    live_session_id: int,
    data: ViewerTokenRequest,
    request: Request,
    session: DbSession,
    actor: CurrentActor,
) -> ViewerTokenOut:
    if not (actor.can(P.LIVE_MANAGE) or actor.can(P.CUSTOMERS_READ)):
        raise PermissionDenied(
            f"{actor.label} needs {P.LIVE_MANAGE} or {P.CUSTOMERS_READ} to issue viewer tokens",
            code="permission_denied",
        )
    live_session = await load_session(session, actor, live_session_id)
    token, claims = await service.issue_viewer_token(
        session=session,
        settings=request.app.state.settings,
        live_session=live_session,
        customer_id=data.customer_id,
        identity=(data.identity.channel, data.identity.value) if data.identity else None,
        device_id=data.device_id,
        nickname=data.nickname,
        source_code=data.source_code,
        share_code=data.share_code,
    )
    return ViewerTokenOut(
        token=token,
        expires_in=VIEWER_TOKEN_TTL,
        live_session_id=live_session.id,
        viewer_key=claims.viewer_key,
        name=claims.name,
        role=claims.role,
        ws_url=f"/ws/live/{live_session.id}",
    )
