"""Console page of a session's post-live report (printable, with ECharts charts), its CSV
download and a regenerate button. The page shows aggregates only: no customer appears on it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from liveloop.analytics import service
from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput
from liveloop.customers.rfm.service import STAGE_LABELS
from liveloop.live.models import LiveSession, LiveStatus
from liveloop.live.pages import CHANNEL_LABELS
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, request_language, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/live")
analytics_pages = console_router(prefix="/console/analytics")

Analyst = Annotated[Actor, console_requires(P.ANALYTICS_READ)]

SOURCE_LABELS = {
    **CHANNEL_LABELS,
    "share": N_("Viewers' share links"),
    "direct": N_("No entry link"),
}
KIND_LABELS = {
    "new": N_("New customers"),
    "existing": N_("Existing customers"),
    "first_purchase": N_("First purchase"),
    "returning": N_("Returning buyers"),
    "none": N_("No tier"),
    "private": N_("Private-domain traffic"),
    "public": N_("Public traffic"),
    "unknown": N_("Unknown"),
}


def _moment(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _labels(request: Request) -> dict[str, str]:
    labels = {
        key: translate(request, text) for key, text in {**SOURCE_LABELS, **KIND_LABELS}.items()
    }
    index = 0 if request_language(request).startswith("zh") else 1
    labels.update({f"stage:{key}": pair[index] for key, pair in STAGE_LABELS.items()})
    return labels


def _chart_data(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """What the charts draw: the API's own arrays, with the minute labels."""
    retention = body["viewing"]["retention"]
    return {
        "minutes": list(range(len(retention))),
        "retention": retention,
        "comments": body["interaction"]["comments_per_minute"],
        "labels": {
            "retention": translate(request, N_("Viewers in the room")),
            "comments": translate(request, N_("Comments")),
            "minute": translate(request, N_("Minutes since start")),
        },
        "empty": translate(request, N_("Nothing was recorded while the session was on air.")),
    }


@pages.get("/{live_session_id}/report", response_class=HTMLResponse)
async def report_page(
    request: Request, live_session_id: int, session: DbSession, actor: Analyst
) -> HTMLResponse:
    report = await service.get_live_report(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    body = service.report_out(report)
    facts = body["session"]
    return render(
        request,
        "analytics/live_report.html",
        {
            "report": body,
            "live_session_id": live_session_id,
            "generated_at": report.generated_at,
            "started_at": _moment(facts["started_at"]),
            "ended_at": _moment(facts["ended_at"]),
            "peak_at": _moment(body["viewing"]["peak_at"]),
            "labels": _labels(request),
            "chart": _chart_data(request, body),
            "title": translate(request, N_("Report: %(title)s"), title=facts["title"]),
        },
    )


@pages.post("/{live_session_id}/report/regenerate")
async def regenerate(
    request: Request, live_session_id: int, session: DbSession, actor: Analyst
) -> Response:
    await service.generate_live_report(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    flash(request, translate(request, N_("The report was rebuilt from the recorded data.")))
    return redirect(f"/console/live/{live_session_id}/report")


@pages.get("/{live_session_id}/report.csv", response_class=Response)
async def report_csv(live_session_id: int, session: DbSession, actor: Analyst) -> Response:
    text = await service.export_live_report_csv(
        session=session, actor=actor, live_session_id=live_session_id
    )
    return Response(
        "\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="live-{live_session_id}-report.csv"'
        },
    )


COMPARED_LABELS = {
    "uv": N_("Viewers (UV)"),
    "pv": N_("Visits (PV)"),
    "peak_online": N_("Peak online"),
    "watch_seconds_avg": N_("Average watch time"),
    "watch_seconds_median": N_("Median watch time"),
    "comments": N_("Comments"),
    "likes": N_("Likes"),
    "shares": N_("Sharers"),
    "interaction_rate": N_("Interaction rate"),
    "gmv_fen": N_("GMV"),
    "refunded_fen": N_("Refunded"),
    "paid_orders": N_("Paid orders"),
    "aov_fen": N_("Average order value"),
    "paying_customers": N_("Paying customers"),
    "conversion_rate": N_("Conversion (paying / viewers)"),
    "coupon_cost_fen": N_("Coupon cost"),
}


async def _reportable(session: DbSession, shop_id: int) -> list[LiveSession]:
    """The shop's latest sessions that went on air (the ones a comparison can pick)."""
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


def _compare_problem(request: Request, problem: InvalidInput) -> str:
    """The picker's error in the page's language (the API gives the English message)."""
    if problem.code == "too_many_sessions":
        return translate(
            request,
            N_("At most %(count)s live sessions can be compared at once."),
            count=service.MAX_COMPARED,
        )
    if problem.code == "not_a_session_id":
        return translate(request, N_("Pick the sessions from the list."))
    return translate(request, N_("Choose at least two live sessions to compare."))


@analytics_pages.get("/live-compare", response_class=HTMLResponse)
async def compare_page(
    request: Request,
    session: DbSession,
    actor: Analyst,
    ids: Annotated[list[str] | None, Query()] = None,
) -> HTMLResponse:
    """Pick sessions, then see their figures side by side with their retention curves."""
    comparison: dict[str, Any] | None = None
    error: str | None = None
    status = 200
    chosen: list[int] = []
    if ids:
        try:
            chosen = service.parse_session_ids(ids)
        except InvalidInput as problem:
            error, status = _compare_problem(request, problem), 422
        else:
            comparison = await service.compare_live_reports(
                session=session, shop_id=actor.shop_id, live_session_ids=chosen
            )
    chart = None
    if comparison is not None:
        chart = {
            "series": [
                {"name": f"{s['title']} #{s['live_session_id']}", "data": s["retention"]}
                for s in comparison["sessions"]
            ],
            "minutes": list(range(max(len(s["retention"]) for s in comparison["sessions"]))),
            "labels": {"minute": translate(request, N_("Minutes since start"))},
        }
    response = render(
        request,
        "analytics/live_compare.html",
        {
            "candidates": await _reportable(session, actor.shop_id),
            "chosen": chosen,
            "comparison": comparison,
            "error": error,
            "max_compared": service.MAX_COMPARED,
            "figure_labels": COMPARED_LABELS,
            "chart": chart,
            "title": translate(request, N_("Compare live sessions")),
        },
    )
    response.status_code = status
    return response


router.include_router(pages)
router.include_router(analytics_pages)
