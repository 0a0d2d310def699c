"""JSON routes of purchase funnels (one live session or a date range), their drop-off lists
with reasons, converted vs not converted, and the one-click segments made from them.

Reading needs analytics.read; making a segment also needs customers.write. A session of
another shop is 404; bad steps, windows, ranges or breakdowns are 422 with the field named."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.analytics.funnels import converted, reasons, service
from liveloop.analytics.funnels.schemas import (
    DropoffSegmentIn,
    GroupSegmentIn,
    RangeDropoffSegmentIn,
    SegmentMade,
)
from liveloop.analytics.funnels.steps import Scope, parse_breakdown, parse_spec, range_scope
from liveloop.core.deps import DbSession
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(
    prefix="/api/v1/analytics/funnels",
    tags=["analytics"],
    dependencies=[Depends(current_actor)],
)

Analyst = Annotated[Actor, requires(P.ANALYTICS_READ)]
SegmentWriter = Annotated[Actor, requires(P.CUSTOMERS_WRITE)]
Steps = Annotated[
    str | None, Query(description="comma-separated steps, e.g. entered_room,added_to_cart,paid")
]
WindowSeconds = Annotated[int | None, Query(description="conversion window, 60 s to 30 days")]
Breakdown = Annotated[str | None, Query(description="source, tier or new_returning")]
From = Annotated[str | None, Query(alias="from", description="first day, e.g. 2026-12-01")]
To = Annotated[str | None, Query(alias="to", description="last day (inclusive)")]
PushSeconds = Annotated[int, Query(description="a leave this soon after a push is a reason")]
Limit = Annotated[int, Query()]


async def _range(session: AsyncSession, shop_id: int, date_from: Any, date_to: Any) -> Scope:
    zone = await service.shop_timezone(session, shop_id)
    return range_scope(shop_id=shop_id, date_from=date_from, date_to=date_to, timezone=zone)


def _made(segment: Any) -> SegmentMade:
    return SegmentMade(segment_id=segment.id, name=segment.name, count=segment.cached_count or 0)


@router.get("/live/{live_session_id}")
async def live_funnel(
    live_session_id: int,
    session: DbSession,
    actor: Analyst,
    steps: Steps = None,
    window_seconds: WindowSeconds = None,
    breakdown: Breakdown = None,
) -> dict[str, Any]:
    """Viewers of the session at each step (docs/funnels.md), with conversion rates."""
    spec = parse_spec(steps, window_seconds)
    by = parse_breakdown(breakdown)
    scope = await service.session_scope(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    return await service.funnel(session=session, scope=scope, spec=spec, breakdown=by)


@router.get("/range")
async def range_funnel(
    session: DbSession,
    actor: Analyst,
    date_from: From = None,
    date_to: To = None,
    steps: Steps = None,
    window_seconds: WindowSeconds = None,
    breakdown: Breakdown = None,
) -> dict[str, Any]:
    """The same over every session and the mall, for days in the shop's time zone."""
    spec = parse_spec(steps, window_seconds)
    by = parse_breakdown(breakdown)
    scope = await _range(session, actor.shop_id, date_from, date_to)
    return await service.funnel(session=session, scope=scope, spec=spec, breakdown=by)


@router.get("/live/{live_session_id}/dropoffs")
async def live_dropoffs(
    live_session_id: int,
    session: DbSession,
    actor: Analyst,
    step: str,
    steps: Steps = None,
    window_seconds: WindowSeconds = None,
    push_seconds: PushSeconds = reasons.DEFAULT_PUSH_SECONDS,
    limit: Limit = 100,
    offset: Limit = 0,
) -> dict[str, Any]:
    """Who reached the step before `step` but not `step`, with reasons and page time."""
    spec = parse_spec(steps, window_seconds)
    scope = await service.session_scope(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    return await service.dropoffs(
        session=session, actor=actor, scope=scope, spec=spec, step=step,
        push_seconds=push_seconds, limit=limit, offset=offset,
    )  # fmt: skip


@router.get("/range/dropoffs")
async def range_dropoffs(
    session: DbSession,
    actor: Analyst,
    step: str,
    date_from: From = None,
    date_to: To = None,
    steps: Steps = None,
    window_seconds: WindowSeconds = None,
    push_seconds: PushSeconds = reasons.DEFAULT_PUSH_SECONDS,
    limit: Limit = 100,
    offset: Limit = 0,
) -> dict[str, Any]:
    spec = parse_spec(steps, window_seconds)
    scope = await _range(session, actor.shop_id, date_from, date_to)
    return await service.dropoffs(
        session=session, actor=actor, scope=scope, spec=spec, step=step,
        push_seconds=push_seconds, limit=limit, offset=offset,
    )  # fmt: skip


@router.post("/live/{live_session_id}/dropoffs/segment", status_code=201)
async def live_dropoff_segment(
    live_session_id: int,
    data: DropoffSegmentIn,
    session: DbSession,
    actor: Analyst,
    writer: SegmentWriter,
) -> SegmentMade:
    """One click: the customers who dropped at `step` become a static segment."""
    spec = parse_spec(data.steps, data.window_seconds)
    scope = await service.session_scope(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    segment = await service.segment_from_dropoffs(
        session=session, actor=writer, scope=scope, spec=spec, step=data.step, name=data.name
    )
    return _made(segment)


@router.post("/range/dropoffs/segment", status_code=201)
async def range_dropoff_segment(
    data: RangeDropoffSegmentIn, session: DbSession, actor: Analyst, writer: SegmentWriter
) -> SegmentMade:
    spec = parse_spec(data.steps, data.window_seconds)
    scope = await _range(session, actor.shop_id, data.date_from, data.date_to)
    segment = await service.segment_from_dropoffs(
        session=session, actor=writer, scope=scope, spec=spec, step=data.step, name=data.name
    )
    return _made(segment)


@router.get("/live/{live_session_id}/converted")
async def live_converted(
    live_session_id: int,
    session: DbSession,
    actor: Analyst,
    group: str = "converted",
    limit: Limit = 100,
    offset: Limit = 0,
) -> dict[str, Any]:
    """Paying customers (group=converted) or viewers who did not buy (not_converted)."""
    converted.check_group(group)
    scope = await service.session_scope(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    return await converted.converted_report(
        session=session, actor=actor, scope=scope, group=group, limit=limit, offset=offset
    )


@router.post("/live/{live_session_id}/converted/segment", status_code=201)
async def live_converted_segment(
    live_session_id: int,
    data: GroupSegmentIn,
    session: DbSession,
    actor: Analyst,
    writer: SegmentWriter,
) -> SegmentMade:
    converted.check_group(data.group)
    scope = await service.session_scope(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    segment = await converted.segment_from_group(
        session=session, actor=writer, scope=scope, group=data.group, name=data.name
    )
    return _made(segment)
