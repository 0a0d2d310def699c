"""The anchor console /console/live/{id}: run a live room while it is on air.

The page joins the room socket with a staff token (it sees every comment, with who wrote it)
and acts through the live console API (start/stop, push, notices, moderation) with fetch calls
that carry the session's CSRF token. Nothing here writes: the API routes do.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse

from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict
from liveloop.live import service as live_service
from liveloop.live.models import LiveSession, LiveStatus
from liveloop.shops.auth import console_requires, csrf_token
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import render

router = console_router(prefix="/console/live")

Anchor = Annotated[Actor, console_requires(P.LIVE_MANAGE)]

MUTE_MINUTES = 10

STATUS_LABELS = {
    LiveStatus.SCHEDULED.value: N_("Scheduled"),
    LiveStatus.LIVE.value: N_("Live"),
    LiveStatus.ENDED.value: N_("Ended"),
    LiveStatus.CANCELLED.value: N_("Cancelled"),
}

# Strings console.js shows, translated with the page.
SCRIPT_TEXTS = {
    "connecting": N_("Connecting…"),
    "connected": N_("Connected"),
    "reconnecting": N_("Reconnecting…"),
    "closed": N_("Not connected"),
    "host": N_("Host"),
    "confirm_stop": N_("End the live session now? Viewers see the end screen."),
    "confirm_start": N_("Start the live session now?"),
    "confirm_ban": N_("Ban %(name)s from the shop's live rooms?"),
    "confirm_kick": N_("Remove %(name)s from this room for 10 minutes?"),
    "muted": N_("%(name)s is muted for 10 minutes"),
    "kicked": N_("%(name)s was removed from the room"),
    "banned": N_("%(name)s is banned"),
    "deleted": N_("Comment deleted"),
    "pushed": N_("Product pushed to the room"),
    "unpushed": N_("Product taken down"),
    "saved": N_("Saved"),
    "no_author": N_("This comment has no viewer to act on"),
    "failed": N_("That did not work: %(message)s"),
    "gift": N_("sent %(gift)s × %(count)s"),
    "badge_mute": N_("muted"),
    "badge_kick": N_("kicked"),
    "badge_ban": N_("banned"),
}


def script_texts(request: Request) -> dict[str, str]:
    texts = {key: translate(request, text) for key, text in SCRIPT_TEXTS.items()}
    texts["status"] = {key: translate(request, text) for key, text in STATUS_LABELS.items()}  # type: ignore[assignment]
    return texts


def console_urls(live_session: LiveSession) -> dict[str, str]:
    """The live console API routes this page calls (live/api.py)."""
    base = f"/api/v1/live/{live_session.id}"
    return {
        "start": f"{base}/start",
        "stop": f"{base}/end",
        "push": f"{base}/push",
        "unpush": f"{base}/unpush",
        "announcement": f"{base}/announcement",
        "pinned": f"{base}/pinned",
        "comments": f"{base}/comments",
        "mute": f"{base}/mutes",
        "kick": f"{base}/kicks",
        "ban": f"{base}/bans",
        "delete": f"{base}/comments/",  # + the comment id, DELETE
    }


def staff_token(request: Request, live_session: LiveSession, actor: Actor) -> str | None:
    """None for a cancelled session: there is no room to join, the page only shows it."""
    try:
        return live_service.issue_staff_token(
            settings=request.app.state.settings, live_session=live_session, actor=actor
        )
    except Conflict:
        return None


@router.get("/{live_session_id:int}", response_class=HTMLResponse)
async def anchor_console(
    request: Request, live_session_id: int, session: DbSession, actor: Anchor
) -> HTMLResponse:
    live_session = await live_service.get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    snapshot = await live_service.room_snapshot(session=session, live_session=live_session)
    from liveloop.commerce.groupbuy import service as groupbuy_service

    group_buys = [
        campaign
        for campaign in await groupbuy_service.open_campaigns(
            session=session, shop_id=actor.shop_id
        )
        if campaign.live_session_id in (None, live_session.id)
    ]
    config: dict[str, Any] = {
        "live_session_id": live_session.id,
        "status": live_session.status,
        "ws_path": f"/ws/live/{live_session.id}",
        "token": staff_token(request, live_session, actor),
        "token_url": f"/console/live/{live_session.id}/token",
        "csrf": csrf_token(request),
        "urls": console_urls(live_session),
        "mute_minutes": MUTE_MINUTES,
        "pushed_product_id": live_session.pushed_product_id,
        "i18n": script_texts(request),
    }
    return render(
        request,
        "live/room_console.html",
        {
            "live": live_session,
            "snapshot": snapshot,
            "lineup": snapshot.get("lineup") or [],
            "group_buys": group_buys,
            "status_labels": {key: translate(request, text) for key, text in STATUS_LABELS.items()},
            "config": config,
            "title": live_session.title,
        },
    )


@router.get("/{live_session_id:int}/token")
async def fresh_staff_token(
    request: Request, live_session_id: int, session: DbSession, actor: Anchor
) -> JSONResponse:
    """A new staff token when the page has been open longer than a token lives."""
    live_session = await live_service.get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )
    token = live_service.issue_staff_token(
        settings=request.app.state.settings, live_session=live_session, actor=actor
    )
    return JSONResponse({"token": token}, headers={"Cache-Control": "no-store"})
