"""Console pages of segments: the list, the builder (new / edit) and a segment with its members.

The builder is an Alpine.js form over the filter's JSON tree; it asks the JSON API for the live
count (``POST /api/v1/segments/preview``) and saves through it, with the console's CSRF token.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog import service as catalog_service
from liveloop.core.database import scoped
from liveloop.core.deps import DbSession
from liveloop.core.errors import LiveLoopError
from liveloop.customers import tags as tags_service
from liveloop.customers.communities.models import Community
from liveloop.customers.points.models import MemberTier
from liveloop.customers.rfm.models import LIFECYCLE_STAGES
from liveloop.customers.segments import service
from liveloop.customers.segments.filters import RFM_SEGMENTS
from liveloop.live import service as live_service
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console")

Reader = Annotated[Actor, console_requires(P.CUSTOMERS_READ)]
Writer = Annotated[Actor, console_requires(P.CUSTOMERS_WRITE)]

PER_PAGE = 20

RFM_LABELS = {
    "important_value": N_("Important value"),
    "important_keep": N_("Important to keep"),
    "important_develop": N_("Important to develop"),
    "important_retain": N_("Important to win back"),
    "general_value": N_("General value"),
    "general_keep": N_("General keep"),
    "general_develop": N_("General develop"),
    "general_retain": N_("General win back"),
    "champions": N_("Champions"),
    "loyal": N_("Loyal"),
    "potential": N_("Potential"),
    "new": N_("New"),
    "at_risk": N_("At risk"),
    "hibernating": N_("Hibernating"),
    "lost": N_("Lost"),
    "none": N_("No purchase"),
}
STAGE_LABELS = {
    "new": N_("New"),
    "active": N_("Active"),
    "high_value": N_("High value"),
    "at_risk": N_("At risk"),
    "churned": N_("Churned"),
    "recalled": N_("Recalled"),
}


async def _options(request: Request, session: AsyncSession, shop_id: int) -> dict[str, Any]:
    """What the builder's selects offer: this shop's tags, categories, sessions, groups..."""
    tags = await tags_service.list_tags(session=session, shop_id=shop_id)
    categories = await catalog_service.list_categories(session=session, shop_id=shop_id)
    lives = await live_service.list_live_sessions(session=session, shop_id=shop_id, per_page=100)
    communities = (
        await session.execute(
            scoped(Community, shop_id, Community.id, Community.name).order_by(Community.name)
        )
    ).all()
    tiers = (
        await session.execute(
            scoped(MemberTier, shop_id, MemberTier.id, MemberTier.name, MemberTier.level).order_by(
                MemberTier.level
            )
        )
    ).all()
    segments = await service.list_segments(session=session, shop_id=shop_id)
    return {
        "tags": [{"id": t.id, "name": t.name} for t in tags],
        "categories": [{"id": c.id, "name": c.name} for c in categories],
        "sessions": [{"id": s.id, "name": s.title} for s in lives.items],
        "communities": [{"id": row.id, "name": row.name} for row in communities],
        "tiers": [{"id": row.id, "name": row.name, "level": row.level} for row in tiers],
        "segments": [{"id": s.id, "name": s.name} for s in segments],
        "rfm": [{"id": key, "name": translate(request, RFM_LABELS[key])} for key in RFM_SEGMENTS],
        "stages": [
            {"id": key, "name": translate(request, STAGE_LABELS[key])} for key in LIFECYCLE_STAGES
        ],
    }


@pages.get("/segments", response_class=HTMLResponse)
async def segment_list(request: Request, session: DbSession, actor: Reader) -> HTMLResponse:
    segments = await service.list_segments(session=session, shop_id=actor.shop_id)
    return render(
        request,
        "customers/segments/list.html",
        {"segments": segments, "title": translate(request, N_("Segments"))},
    )


async def _builder(
    request: Request, session: DbSession, actor: Actor, segment: Any | None
) -> HTMLResponse:
    return render(
        request,
        "customers/segments/builder.html",
        {
            "segment": segment,
            "initial": {
                "id": segment.id if segment else None,
                "name": segment.name if segment else "",
                "description": segment.description if segment else "",
                "kind": segment.kind if segment else "dynamic",
                "filter": segment.filter if segment else {"all": []},
            },
            "options": await _options(request, session, actor.shop_id),
            "title": segment.name if segment else translate(request, N_("New segment")),
        },
    )


@pages.get("/segments/new", response_class=HTMLResponse)
async def new_segment(request: Request, session: DbSession, actor: Writer) -> HTMLResponse:
    return await _builder(request, session, actor, None)


@pages.get("/segments/{segment_id}/edit", response_class=HTMLResponse)
async def edit_segment(
    request: Request, segment_id: int, session: DbSession, actor: Writer
) -> HTMLResponse:
    segment = await service.get_segment(
        session=session, shop_id=actor.shop_id, segment_id=segment_id
    )
    return await _builder(request, session, actor, segment)


@pages.get("/segments/{segment_id}", response_class=HTMLResponse)
async def segment_detail(
    request: Request,
    segment_id: int,
    session: DbSession,
    actor: Reader,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    segment = await service.get_segment(
        session=session, shop_id=actor.shop_id, segment_id=segment_id
    )
    error = None
    members = None
    try:
        members = await service.list_members(
            session=session,
            shop_id=actor.shop_id,
            segment_id=segment_id,
            page=page,
            per_page=PER_PAGE,
        )
    except LiveLoopError as exc:  # e.g. a segment it uses was changed into a cycle
        error = exc.message
    used_by = [
        other
        for other in await service.list_segments(session=session, shop_id=actor.shop_id)
        if segment.id in service.referenced_ids(other.filter)
    ]
    return render(
        request,
        "customers/segments/detail.html",
        {
            "segment": segment,
            "members": members,
            "error": error,
            "used_by": used_by,
            "filter_json": json.dumps(segment.filter, ensure_ascii=False, indent=2),
            "title": segment.name,
        },
        status_code=422 if error else 200,
    )


@pages.post("/segments/{segment_id}/count")
async def recount_segment(
    request: Request, segment_id: int, session: DbSession, actor: Reader
) -> Response:
    segment = await service.count_segment(
        session=session, shop_id=actor.shop_id, segment_id=segment_id
    )
    flash(request, translate(request, N_("Counted: %(count)s"), count=segment.cached_count))
    return redirect(f"/console/segments/{segment.id}")


@pages.post("/segments/{segment_id}/freeze")
async def freeze_segment(
    request: Request, segment_id: int, session: DbSession, actor: Writer
) -> Response:
    segment = await service.freeze_segment(session=session, actor=actor, segment_id=segment_id)
    flash(
        request,
        translate(request, N_("Frozen with %(count)s members"), count=segment.cached_count),
    )
    return redirect(f"/console/segments/{segment.id}")


@pages.post("/segments/{segment_id}/delete")
async def delete_segment(
    request: Request, segment_id: int, session: DbSession, actor: Writer
) -> Response:
    try:
        await service.delete_segment(session=session, actor=actor, segment_id=segment_id)
    except LiveLoopError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message, "error")
        return redirect(f"/console/segments/{segment_id}")
    flash(request, translate(request, N_("Segment deleted")))
    return redirect("/console/segments")


router.include_router(pages)
