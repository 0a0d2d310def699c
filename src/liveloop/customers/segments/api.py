"""JSON routes of segments (人群): saved segments, counts, members, freeze, and live preview.

Reading needs CUSTOMERS_READ; saving, changing, freezing and deleting need CUSTOMERS_WRITE
(a segment selects customers; it does not change their tags).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from liveloop.core.deps import DbSession
from liveloop.core.schemas import PageOut
from liveloop.customers.segments import service
from liveloop.customers.segments.schemas import (
    CountOut,
    MemberOut,
    PreviewIn,
    PreviewOut,
    SegmentIn,
    SegmentOut,
    SegmentUpdate,
)
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(prefix="/api/v1", tags=["segments"], dependencies=[Depends(current_actor)])

Reader = Annotated[Actor, requires(P.CUSTOMERS_READ)]
Writer = Annotated[Actor, requires(P.CUSTOMERS_WRITE)]


@router.get("/segments", response_model=list[SegmentOut])
async def list_segments(session: DbSession, actor: Reader) -> list[SegmentOut]:
    rows = await service.list_segments(session=session, shop_id=actor.shop_id)
    return [SegmentOut.model_validate(row) for row in rows]


@router.post("/segments/preview", response_model=PreviewOut)
async def preview(data: PreviewIn, session: DbSession, actor: Reader) -> PreviewOut:
    """Count an unsaved filter and show a masked sample: the builder's live count."""
    result = await service.preview_filter(
        session=session, shop_id=actor.shop_id, data=data.filter, sample_size=data.sample_size
    )
    return PreviewOut.model_validate(result)


@router.post("/segments", response_model=SegmentOut, status_code=201)
async def create_segment(data: SegmentIn, session: DbSession, actor: Writer) -> SegmentOut:
    segment = await service.create_segment(session=session, actor=actor, data=data)
    return SegmentOut.model_validate(segment)


@router.get("/segments/{segment_id}", response_model=SegmentOut)
async def get_segment(segment_id: int, session: DbSession, actor: Reader) -> SegmentOut:
    segment = await service.get_segment(
        session=session, shop_id=actor.shop_id, segment_id=segment_id
    )
    return SegmentOut.model_validate(segment)


@router.patch("/segments/{segment_id}", response_model=SegmentOut)
async def update_segment(
    segment_id: int, data: SegmentUpdate, session: DbSession, actor: Writer
) -> SegmentOut:
    segment = await service.update_segment(
        session=session, actor=actor, segment_id=segment_id, data=data
    )
    return SegmentOut.model_validate(segment)


@router.delete("/segments/{segment_id}", status_code=204)
async def delete_segment(segment_id: int, session: DbSession, actor: Writer) -> Response:
    await service.delete_segment(session=session, actor=actor, segment_id=segment_id)
    return Response(status_code=204)


@router.post("/segments/{segment_id}/count", response_model=CountOut)
async def count_segment(segment_id: int, session: DbSession, actor: Reader) -> CountOut:
    """Count the members now (dynamic: evaluated on demand) and cache the figure."""
    segment = await service.count_segment(
        session=session, shop_id=actor.shop_id, segment_id=segment_id
    )
    assert segment.cached_count is not None and segment.counted_at is not None
    return CountOut(
        segment_id=segment.id, count=segment.cached_count, counted_at=segment.counted_at
    )


@router.post("/segments/{segment_id}/freeze", response_model=SegmentOut)
async def freeze_segment(segment_id: int, session: DbSession, actor: Writer) -> SegmentOut:
    """Snapshot the filter's members now; the segment becomes static."""
    segment = await service.freeze_segment(session=session, actor=actor, segment_id=segment_id)
    return SegmentOut.model_validate(segment)


@router.get("/segments/{segment_id}/members", response_model=PageOut[MemberOut])
async def list_members(
    segment_id: int,
    session: DbSession,
    actor: Reader,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PageOut[MemberOut]:
    result = await service.list_members(
        session=session, shop_id=actor.shop_id, segment_id=segment_id, page=page, per_page=per_page
    )
    return PageOut[MemberOut](
        items=[service.member_out(c, masked=False) for c in result.items],
        total=result.total,
        page=result.page,
        per_page=result.per_page,
        pages=result.pages,
    )
