"""The viewer page /live/{code}: the mobile live room a customer opens from a link.

The page is a shell with the room's state at load time embedded as JSON; viewer.js then gets a
guest token from the public token route and keeps the page in step over the room socket.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from liveloop.core.deps import DbSession
from liveloop.core.errors import register_html_error_page
from liveloop.live import service as live_service
from liveloop.live.models import LiveSession
from liveloop.shops import service as shops_service
from liveloop.web.errors import render_error_page
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import DEFAULT_TIMEZONE, render, request_language

router = APIRouter(include_in_schema=False)
register_html_error_page("/live", render_error_page)

# Entry (src) and share codes travel from the link into the token request; anything that is not
# a plain code is dropped rather than echoed into the page.
LINK_CODE = re.compile(r"^[\w\-]{1,32}$")

# Strings viewer.js shows, translated here so that one catalog serves page and script.
SCRIPT_TEXTS = {
    "anchor": N_("Host"),
    "buy": N_("Buy"),
    "sold_out": N_("Sold out"),
    "not_on_sale": N_("Not on sale"),
    "stock_left": N_("%(stock)s left"),
    "say_something": N_("Say something…"),
    "comments_off": N_("Comments are switched off"),
    "reconnecting": N_("Connection lost, reconnecting…"),
    "cancelled": N_("This live session was cancelled"),
    "no_stream": N_("The host is getting ready: the video starts soon"),
    "stream_unavailable": N_("The video is not available right now"),
    "stream_unsupported": N_("This browser cannot play the live video"),
    "sent_gift": N_("sent %(gift)s × %(count)s"),
    "just_bought": N_("%(name)s just bought %(product)s"),
    "choose_option": N_("Choose an option first"),
    "bad_phone": N_("Enter an 11-digit mainland mobile number, e.g. 13800138000"),
    "try_again": N_("That did not work; try again in a moment"),
    "link_copied": N_("Link copied: paste it to a friend"),
    "copy_this_link": N_("Copy this link"),
    "countdown_days": N_("%(days)sd %(hours)sh %(minutes)sm %(seconds)ss"),
    "countdown": N_("%(hours)sh %(minutes)sm %(seconds)ss"),
    "starting_soon": N_("Starting any minute now"),
    "gone_kicked": N_("You were removed from this live room"),
    "gone_banned": N_("You cannot join this live room"),
    "gone_not_found": N_("This live room does not exist"),
    "gone_closed": N_("The live room closed the connection"),
}


def link_code(value: str | None) -> str:
    return value if value and LINK_CODE.match(value) else ""


def script_texts(request: Request) -> dict[str, str]:
    return {key: translate(request, text) for key, text in SCRIPT_TEXTS.items()}


def viewer_config(
    request: Request, live_session: LiveSession, snapshot: dict[str, Any]
) -> dict[str, Any]:
    code = live_session.code
    return {
        "code": code,
        "live_session_id": live_session.id,
        "shop_id": live_session.shop_id,
        "status": live_session.status,
        "hls_url": live_session.hls_url,
        "cover_url": live_service.cover_url(live_session),
        "planned_start": live_session.planned_start.isoformat(),
        "ws_path": f"/ws/live/{live_session.id}",
        "token_url": f"/api/v1/public/live/{code}/token",
        "reserve_url": f"/api/v1/public/live/{code}/reservations",
        "share_url": f"/api/v1/public/live/{code}/shares",
        "src": link_code(request.query_params.get("src")),
        "share": link_code(request.query_params.get("share")),
        "room": snapshot,
        "language": request_language(request),
        "i18n": script_texts(request),
    }


@router.get("/live/{code}", response_class=HTMLResponse)
async def viewer_page(request: Request, code: str, session: DbSession) -> HTMLResponse:
    live_session = await live_service.get_by_code(session=session, code=code)
    shop = await shops_service.get_shop(session=session, shop_id=live_session.shop_id)
    snapshot = await live_service.room_snapshot(session=session, live_session=live_session)
    room = {
        "title": live_session.title,
        "status": live_session.status,
        "notice": live_session.notice,
        "cover_url": live_service.cover_url(live_session),
        "planned_start": live_session.planned_start,
    }
    return render(
        request,
        "live/viewer.html",
        {
            "room": room,
            "shop_name": shop.name,
            "timezone": shop.timezone or DEFAULT_TIMEZONE,
            "config": viewer_config(request, live_session, snapshot),
            "title": live_session.title,
        },
    )
