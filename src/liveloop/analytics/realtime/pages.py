"""Console page of the realtime dashboard /console/live/{id}/dashboard: number tiles, ECharts
per-minute series, the product table and traffic sources, drawn from a first snapshot and
then kept current by the API's Server-Sent Events stream (EventSource in realtime.js)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from liveloop.analytics.pages import SOURCE_LABELS
from liveloop.analytics.realtime import service
from liveloop.analytics.realtime.api import STREAM_INTERVAL_S, room_online
from liveloop.core.deps import DbSession
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import render

router = console_router(prefix="/console/live")

Analyst = Annotated[Actor, console_requires(P.ANALYTICS_READ)]

DASHBOARD_SOURCE_LABELS = {
    **SOURCE_LABELS,
    service.rollups.BROADCAST_SOURCE: N_("Broadcasts"),
    service.rollups.REMINDER_SOURCE: N_("Reminders"),
}
# Strings realtime.js shows, translated with the page.
SCRIPT_TEXTS = {
    "live": N_("Updating live"),
    "reconnecting": N_("Reconnecting…"),
    "minute": N_("Minutes since start"),
    "online": N_("Viewers in the room"),
    "comments": N_("Comments"),
    "orders": N_("Orders placed"),
    "gmv": N_("GMV"),
    "empty": N_("Nothing recorded yet."),
    "no_products": N_("No products yet."),
    "no_entries": N_("Nobody entered the room yet."),
}


@router.get("/{live_session_id}/dashboard", response_class=HTMLResponse)
async def dashboard_page(
    request: Request, live_session_id: int, session: DbSession, actor: Analyst
) -> HTMLResponse:
    snapshot = await service.realtime_snapshot(
        session=session,
        shop_id=actor.shop_id,
        live_session_id=live_session_id,
        room_online=room_online(request, live_session_id),
    )
    texts = {key: translate(request, text) for key, text in SCRIPT_TEXTS.items()}
    labels = {key: translate(request, text) for key, text in DASHBOARD_SOURCE_LABELS.items()}
    config: dict[str, Any] = {
        "stream_url": f"/api/v1/analytics/live/{live_session_id}/realtime/stream",
        "snapshot": snapshot,
        "labels": labels,
        "i18n": texts,
    }
    title = snapshot["session"]["title"]
    return render(
        request,
        "analytics/realtime_dashboard.html",
        {
            "snapshot": snapshot,
            "live_session_id": live_session_id,
            "labels": labels,
            "config": config,
            "interval_s": STREAM_INTERVAL_S,
            "title": translate(request, N_("Live dashboard: %(title)s"), title=title),
        },
    )
