"""JSON routes of message templates (/api/v1/outreach/templates) and live posters.

Templates need `outreach.manage`. Posters: the operator's preview
(/api/v1/outreach/posters/live/{id}.png) and the public poster of a room
(/live/{code}/poster.png?src=…), whose QR code carries `src` into the room for attribution.
A broadcast recipient's own poster is /r/{token}/poster.png (outreach/broadcasts).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field

from liveloop.core.database import get_scoped
from liveloop.core.deps import DbSession
from liveloop.core.schemas import OutModel, StrictModel
from liveloop.live import service as live_service
from liveloop.live.models import LiveSession
from liveloop.outreach.contracts import ChannelKind
from liveloop.outreach.messages import service
from liveloop.outreach.messages.poster_links import poster_for_session
from liveloop.outreach.messages.service import Purpose
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter()
api = APIRouter(
    prefix="/api/v1/outreach", tags=["outreach templates"], dependencies=[Depends(current_actor)]
)
Manager = Annotated[Actor, requires(P.OUTREACH_MANAGE)]
POSTER_CACHE = "private, max-age=300"


class TemplateBody(StrictModel):
    name: str = Field(min_length=1, max_length=80)
    kind: ChannelKind
    purpose: Purpose = Purpose.GENERAL
    parts: dict[str, Any]
    marketing: bool = True


class TemplateOut(OutModel):
    id: int
    name: str
    kind: str
    purpose: str
    parts: dict[str, Any]
    marketing: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class PreviewBody(StrictModel):
    kind: ChannelKind
    parts: dict[str, Any]
    customer_id: int | None = Field(None, ge=1, lt=2**53)
    live_session_id: int | None = Field(None, ge=1, lt=2**53)
    marketing: bool = True


class SavedPreviewBody(StrictModel):
    customer_id: int | None = Field(None, ge=1, lt=2**53)
    live_session_id: int | None = Field(None, ge=1, lt=2**53)


def _data(body: TemplateBody) -> service.TemplateIn:
    return service.TemplateIn(
        name=body.name, kind=body.kind, parts=body.parts, purpose=body.purpose,
        marketing=body.marketing,
    )  # fmt: skip


async def _preview(
    request: Request, session: DbSession, actor: Actor, body: PreviewBody
) -> dict[str, Any]:
    message, customer_id = await service.preview(
        session=session, shop_id=actor.shop_id, kind=body.kind, parts=body.parts,
        customer_id=body.customer_id, live_session_id=body.live_session_id,
        base_url=request.app.state.settings.public_base_url, marketing=body.marketing,
    )  # fmt: skip
    return {
        "customer_id": customer_id,
        "text": message.text, "subject": message.subject, "html": message.html,
        "image_url": message.image_url, "link_url": message.link_url,
        "link_title": message.link_title, "link_description": message.link_description,
        "miniprogram": message.miniprogram,
    }  # fmt: skip


@api.get("/templates", response_model=list[TemplateOut])
async def list_templates(
    session: DbSession,
    actor: Manager,
    kind: ChannelKind | None = None,
    purpose: Purpose | None = None,
) -> Any:
    return await service.list_templates(
        session=session, shop_id=actor.shop_id, kind=kind, purpose=purpose
    )


@api.post("/templates", response_model=TemplateOut, status_code=201)
async def create_template(body: TemplateBody, session: DbSession, actor: Manager) -> Any:
    return await service.create_template(
        session=session, shop_id=actor.shop_id, data=_data(body), staff_id=actor.staff_id
    )


@api.post("/templates/preview")
async def preview_unsaved(
    body: PreviewBody, request: Request, session: DbSession, actor: Manager
) -> dict[str, Any]:
    """Render parts (not saved yet) as a real customer would get them."""
    return await _preview(request, session, actor, body)


@api.get("/templates/{message_template_id}", response_model=TemplateOut)
async def read_template(message_template_id: int, session: DbSession, actor: Manager) -> Any:
    return await service.get_template(
        session=session, shop_id=actor.shop_id, template_id=message_template_id
    )


@api.put("/templates/{message_template_id}", response_model=TemplateOut)
async def update_template(
    message_template_id: int, body: TemplateBody, session: DbSession, actor: Manager
) -> Any:
    return await service.update_template(
        session=session, shop_id=actor.shop_id, template_id=message_template_id, data=_data(body)
    )


@api.delete("/templates/{message_template_id}", status_code=204)
async def delete_template(message_template_id: int, session: DbSession, actor: Manager) -> Response:
    await service.delete_template(
        session=session, shop_id=actor.shop_id, template_id=message_template_id
    )
    return Response(status_code=204)


@api.post("/templates/{message_template_id}/preview")
async def preview_saved(
    message_template_id: int,
    body: SavedPreviewBody,
    request: Request,
    session: DbSession,
    actor: Manager,
) -> dict[str, Any]:
    template = await service.get_template(
        session=session, shop_id=actor.shop_id, template_id=message_template_id
    )
    return await _preview(
        request, session, actor,
        PreviewBody(
            kind=ChannelKind(template.kind), parts=template.parts,
            customer_id=body.customer_id, live_session_id=body.live_session_id,
            marketing=template.marketing,
        ),
    )  # fmt: skip


@api.get("/posters/live/{live_session_id}.png", response_class=Response)
async def live_poster(
    live_session_id: int, request: Request, session: DbSession, actor: Manager
) -> Response:
    """The session's poster as the operator previews it (QR: the plain room link)."""
    live = await get_scoped(
        session, LiveSession, shop_id=actor.shop_id, record_id=live_session_id, label="live session"
    )
    settings = request.app.state.settings
    png = await poster_for_session(
        session=session, settings=settings, live_session=live,
        link=f"{settings.public_base_url}/live/{live.code}",
    )  # fmt: skip
    return Response(png, media_type="image/png", headers={"Cache-Control": POSTER_CACHE})


public = APIRouter(tags=["outreach templates"])


@public.get("/live/{code}/poster.png", include_in_schema=False)
async def room_poster(
    code: str,
    request: Request,
    session: DbSession,
    src: Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")] = None,
) -> Response:
    """A room's public poster; `src` (letters, digits, _ . : -) rides into the QR code's link."""
    live = await live_service.get_by_code(session=session, code=code)
    settings = request.app.state.settings
    link = f"{settings.public_base_url}/live/{live.code}"
    if src:
        link += f"?src={src}"
    png = await poster_for_session(session=session, settings=settings, live_session=live, link=link)
    return Response(png, media_type="image/png", headers={"Cache-Control": POSTER_CACHE})


router.include_router(api)
router.include_router(public)
