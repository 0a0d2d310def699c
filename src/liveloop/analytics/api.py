"""JSON routes of post-live reports: read (generated on first read), regenerate, CSV export.

Reading needs analytics.read; a session of another shop is 404 like any other record."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from liveloop.analytics import service
from liveloop.core.deps import DbSession
from liveloop.shops.auth import current_actor, requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor

router = APIRouter(prefix="/api/v1", tags=["analytics"], dependencies=[Depends(current_actor)])

Analyst = Annotated[Actor, requires(P.ANALYTICS_READ)]


@router.get("/live/{live_session_id}/report")
async def get_report(live_session_id: int, session: DbSession, actor: Analyst) -> dict[str, Any]:
    """The session's post-live report (the README's "Post-live report" defines every figure,
    the section modules in liveloop.analytics say how each is computed). Built when
    the session ends; built now if it has none yet or the session is still on air."""
    report = await service.get_live_report(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    return service.report_out(report)


@router.post("/live/{live_session_id}/report/regenerate")
async def regenerate_report(
    live_session_id: int, session: DbSession, actor: Analyst
) -> dict[str, Any]:
    """Rebuild the report from the session's rows and events now (after a late refund, say)."""
    report = await service.generate_live_report(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    return service.report_out(report)


@router.get("/live/{live_session_id}/report.csv", response_class=Response)
async def export_report(live_session_id: int, session: DbSession, actor: Analyst) -> Response:
    """Every figure as a (section, figure, key, value) row, UTF-8 with BOM; audited."""
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


@router.get("/analytics/live-reports/compare")
async def compare_reports(
    session: DbSession,
    actor: Analyst,
    ids: Annotated[list[str], Query()],
) -> dict[str, Any]:
    """Several sessions' reports side by side: `ids=1,2,3` (or `ids` repeated), 2 to 6."""
    return await service.compare_live_reports(
        session=session, shop_id=actor.shop_id, live_session_ids=service.parse_session_ids(ids)
    )
