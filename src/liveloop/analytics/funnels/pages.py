"""Console pages of purchase funnels: pick a session or a date range, steps, window and
breakdown; see the funnel (ECharts, the API's own numbers), who dropped at each step and why,
and turn a drop list into a segment with one click. Also converted vs not converted."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from liveloop.analytics.funnels import converted, service
from liveloop.analytics.funnels.steps import (
    BREAKDOWNS,
    DEFAULT_STEPS,
    DEFAULT_WINDOW_S,
    KNOWN_STEPS,
    FunnelSpec,
    Scope,
    parse_breakdown,
    parse_spec,
    range_scope,
)
from liveloop.analytics.pages import SOURCE_LABELS
from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput, LiveLoopError
from liveloop.live.models import LiveSession, LiveStatus
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/analytics")

Analyst = Annotated[Actor, console_requires(P.ANALYTICS_READ)]
SegmentWriter = Annotated[Actor, console_requires(P.CUSTOMERS_WRITE)]

STEP_LABELS = {
    "entered_room": N_("Entered the room"),
    "viewed_product": N_("Viewed a product"),
    "added_to_cart": N_("Added to cart"),
    "checkout_started": N_("Started checkout"),
    "placed_order": N_("Placed an order"),
    "paid": N_("Paid"),
}
BREAKDOWN_LABELS = {
    "source": N_("Source"),
    "tier": N_("Member tier"),
    "new_returning": N_("New / returning"),
}
GROUP_LABELS = {
    "new": N_("New customers"),
    "returning": N_("Returning customers"),
    "guest": N_("Guests"),
    "none": N_("No tier"),
}
WINDOWS = (
    (600, N_("10 minutes")),
    (3600, N_("1 hour")),
    (DEFAULT_WINDOW_S, N_("24 hours")),
    (7 * 86400, N_("7 days")),
    (30 * 86400, N_("30 days")),
)
DROPS_SHOWN = 20


def _labels(request: Request) -> dict[str, str]:
    labels = {**SOURCE_LABELS, **GROUP_LABELS, **STEP_LABELS}
    return {key: translate(request, text) for key, text in labels.items()}


async def _sessions(session: DbSession, shop_id: int) -> list[LiveSession]:
    statement = (
        select(LiveSession)
        .where(
            LiveSession.shop_id == shop_id,
            LiveSession.status.in_((LiveStatus.LIVE.value, LiveStatus.ENDED.value)),
        )
        .order_by(LiveSession.started_at.desc(), LiveSession.id.desc())
        .limit(50)
    )
    return list((await session.execute(statement)).scalars())


async def _scope(
    session: DbSession,
    shop_id: int,
    live_session_id: int | None,
    date_from: str | None,
    date_to: str | None,
) -> Scope:
    if live_session_id is not None:
        return await service.session_scope(
            session=session, shop_id=shop_id, live_session_id=live_session_id
        )
    zone = await service.shop_timezone(session, shop_id)
    return range_scope(shop_id=shop_id, date_from=date_from, date_to=date_to, timezone=zone)


def _chart(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    labels = _labels(request)
    return {
        "steps": [labels[figure["step"]] for figure in body["figures"]],
        "counts": [f["count"] for f in body["figures"]],
        "empty": translate(request, N_("Nobody reached the first step.")),
    }


@pages.get("/funnels", response_class=HTMLResponse)
async def funnel_page(
    request: Request,
    session: DbSession,
    actor: Analyst,
    live_session_id: Annotated[str | None, Query()] = None,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
    steps: Annotated[list[str] | None, Query()] = None,
    window_seconds: Annotated[int | None, Query()] = None,
    breakdown: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """The funnel of a session (?live_session_id=) or of a date range (?from=&to=)."""
    body: dict[str, Any] | None = None
    drops: list[dict[str, Any]] = []
    error: str | None = None
    live_id: int | None = None
    spec = FunnelSpec(DEFAULT_STEPS)
    status = 200
    wanted = bool(live_session_id or date_from or date_to)
    try:
        if live_session_id:
            if not live_session_id.isdigit():
                raise InvalidInput(
                    "pick a live session", code="invalid_id", field="live_session_id"
                )
            live_id = int(live_session_id)
        spec = parse_spec(steps, window_seconds)
        by = parse_breakdown(breakdown)
        if wanted:
            scope = await _scope(session, actor.shop_id, live_id, date_from, date_to)
            body = await service.funnel(session=session, scope=scope, spec=spec, breakdown=by)
            for step in spec.steps[1:]:
                drops.append(
                    await service.dropoffs(
                        session=session, actor=actor, scope=scope, spec=spec, step=step,
                        limit=DROPS_SHOWN,
                    )
                )  # fmt: skip
    except LiveLoopError as problem:
        if problem.status_code == 404:
            raise
        error, status = problem.message, 422
    return render(
        request,
        "analytics/funnel.html",
        {
            "title": translate(request, N_("Purchase funnel")),
            "sessions": await _sessions(session, actor.shop_id),
            "live_id": live_id,
            "date_from": date_from or "",
            "date_to": date_to or "",
            "spec": spec,
            "known_steps": KNOWN_STEPS,
            "windows": WINDOWS,
            "breakdowns": BREAKDOWNS,
            "breakdown_labels": BREAKDOWN_LABELS,
            "breakdown": breakdown or "",
            "body": body,
            "drops": drops,
            "drops_shown": DROPS_SHOWN,
            "chart": _chart(request, body) if body else None,
            "labels": _labels(request),
            "error": error,
            "can_segment": actor.can(P.CUSTOMERS_WRITE),
        },
        status_code=status,
    )


@pages.post("/funnels/segment")
async def make_dropoff_segment(
    request: Request,
    session: DbSession,
    actor: Analyst,
    writer: SegmentWriter,
    step: Annotated[str, Form()],
    steps: Annotated[str, Form()] = "",
    window_seconds: Annotated[int | None, Form()] = None,
    live_session_id: Annotated[int | None, Form()] = None,
    date_from: Annotated[str | None, Form(alias="from")] = None,
    date_to: Annotated[str | None, Form(alias="to")] = None,
) -> Response:
    spec = parse_spec(steps, window_seconds)
    scope = await _scope(session, actor.shop_id, live_session_id, date_from, date_to)
    segment = await service.segment_from_dropoffs(
        session=session, actor=writer, scope=scope, spec=spec, step=step
    )
    flash(
        request,
        translate(
            request,
            N_("Segment %(name)s was created with %(count)s customers."),
            name=segment.name,
            count=segment.cached_count or 0,
        ),
    )
    return redirect(f"/console/segments/{segment.id}")


@pages.get("/funnels/live/{live_session_id}/converted", response_class=HTMLResponse)
async def converted_page(
    request: Request, live_session_id: int, session: DbSession, actor: Analyst
) -> HTMLResponse:
    """Paying customers and viewers who did not buy, side by side."""
    scope = await service.session_scope(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    live = await service.load_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    groups = {
        group: await converted.converted_report(
            session=session, actor=actor, scope=scope, group=group, limit=50
        )
        for group in converted.GROUPS
    }
    return render(
        request,
        "analytics/converted.html",
        {
            "title": translate(request, N_("Converted vs not converted")),
            "live": live,
            "groups": groups,
            "labels": _labels(request),
            "can_segment": actor.can(P.CUSTOMERS_WRITE),
        },
    )


@pages.post("/funnels/live/{live_session_id}/converted/segment")
async def make_group_segment(
    request: Request,
    live_session_id: int,
    session: DbSession,
    actor: Analyst,
    writer: SegmentWriter,
    group: Annotated[str, Form()],
) -> Response:
    converted.check_group(group)
    scope = await service.session_scope(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    segment = await converted.segment_from_group(
        session=session, actor=writer, scope=scope, group=group
    )
    flash(
        request,
        translate(
            request,
            N_("Segment %(name)s was created with %(count)s customers."),
            name=segment.name,
            count=segment.cached_count or 0,
        ),
    )
    return redirect(f"/console/segments/{segment.id}")


router.include_router(pages)
