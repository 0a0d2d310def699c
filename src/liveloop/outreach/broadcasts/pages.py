"""Console pages of outreach: broadcasts (/console/outreach: the list, a broadcast's progress,
per-recipient status and A/B results, cancel), the "Invite" panel of a live session page, and
the shop's channels are in outreach/channels/pages.py.

"Invite" carries an idempotency key made when the panel was drawn, so a second click (or a
reload of the POST) returns the first broadcast instead of sending again.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.core.schemas import parse_id
from liveloop.outreach.broadcasts import results, service
from liveloop.outreach.broadcasts.invite import invite_once
from liveloop.outreach.channels import service as channel_service
from liveloop.shops import service as shops_service
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, form_error_text, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/outreach")
Manager = Annotated[Actor, console_requires(P.OUTREACH_MANAGE)]
FormErrors = (InvalidInput, Conflict, NotFound, ValidationError, ValueError)
RECIPIENT_STATUSES = (
    "queued", "sending", "sent", "delivered", "clicked", "failed", "skipped", "unsubscribed"
)  # fmt: skip
STATUS_LABELS = {
    "draft": N_("Draft"),
    "scheduled": N_("Scheduled"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "cancelled": N_("Cancelled"),
    "queued": N_("Queued"),
    "delivered": N_("Delivered"),
    "clicked": N_("Clicked"),
    "failed": N_("Failed"),
    "skipped": N_("Skipped"),
    "unsubscribed": N_("Unsubscribed"),
}
KIND_LABELS = {
    "email": N_("E-mail"),
    "webhook": N_("Webhook"),
    "wecom_customer": N_("WeCom customers"),
    "wecom_group": N_("WeCom groups"),
    "sms": N_("Text messages"),
}


def page_labels(request: Request) -> dict[str, Any]:
    return {
        "status_labels": {k: translate(request, v) for k, v in STATUS_LABELS.items()},
        "kind_labels": {k: translate(request, v) for k, v in KIND_LABELS.items()},
    }


# --------------------------------------------------------------------------- broadcasts


@pages.get("", response_class=HTMLResponse)
async def broadcasts_page(request: Request, session: DbSession, actor: Manager) -> HTMLResponse:
    found = await service.list_broadcasts(session=session, shop_id=actor.shop_id)
    counts = {b.id: await service.status_counts(session=session, broadcast_id=b.id) for b in found}
    return render(
        request,
        "outreach/broadcasts.html",
        {
            "title": translate(request, N_("Broadcasts")),
            "broadcasts": found,
            "counts": counts,
            **page_labels(request),
        },
    )


@pages.get("/broadcasts/{broadcast_id}", response_class=HTMLResponse)
async def broadcast_page(
    request: Request, broadcast_id: int, session: DbSession, actor: Manager
) -> HTMLResponse:
    broadcast = await service.get_broadcast(
        session=session, shop_id=actor.shop_id, broadcast_id=broadcast_id
    )
    status = request.query_params.get("status")
    status = status if status in RECIPIENT_STATUSES else None
    page = parse_id(request.query_params.get("page")) or 1
    rows = await service.list_recipients(
        session=session, shop_id=actor.shop_id, broadcast_id=broadcast.id, status=status,
        limit=100, offset=(page - 1) * 100,
    )  # fmt: skip
    return render(
        request,
        "outreach/broadcast.html",
        {
            "title": broadcast.name,
            "broadcast": broadcast,
            "counts": await service.status_counts(session=session, broadcast_id=broadcast.id),
            "rows": rows,
            "status": status or "",
            "page": page,
            "statuses": RECIPIENT_STATUSES,
            "results": await results.broadcast_results(session=session, broadcast=broadcast),
            **page_labels(request),
        },
    )


@pages.post("/broadcasts/{broadcast_id}/cancel", response_class=HTMLResponse)
async def cancel_broadcast(
    request: Request, broadcast_id: int, session: DbSession, actor: Manager
) -> Response:
    try:
        await service.cancel_broadcast(
            session=session, shop_id=actor.shop_id, broadcast_id=broadcast_id
        )
    except (InvalidInput, Conflict) as exc:
        flash(request, form_error_text(exc), "error")
        return redirect(f"/console/outreach/broadcasts/{broadcast_id}")
    await shops_service.record_audit(
        session=session, actor=actor, action="outreach.broadcast.cancel",
        target_type="broadcast", target_id=broadcast_id, details={},
    )  # fmt: skip
    flash(request, translate(request, N_("Broadcast cancelled; nothing more is sent")))
    return redirect(f"/console/outreach/broadcasts/{broadcast_id}")


# --------------------------------------------------------------------------- invite


@pages.get("/invite-panel", response_class=HTMLResponse)
async def invite_panel(request: Request, session: DbSession, actor: Manager) -> HTMLResponse:
    """The "Invite" card of a live session page (loaded into it with HTMX)."""
    live_session_id = parse_id(request.query_params.get("live_session_id"))
    if live_session_id is None:
        raise InvalidInput("give the live session's id", field="live_session_id")
    channels = [
        c
        for c in await channel_service.list_channels(session=session, shop_id=actor.shop_id)
        if c.enabled
    ]
    found = await service.list_broadcasts(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id, limit=10
    )
    return render(
        request,
        "outreach/_invite_panel.html",
        {
            "live_session_id": live_session_id,
            "channels": channels,
            "broadcasts": found,
            "idempotency_key": secrets.token_urlsafe(16),
            **page_labels(request),
        },
    )


@pages.post("/invite", response_class=HTMLResponse)
async def invite(request: Request, session: DbSession, actor: Manager) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    live_session_id = parse_id(form.get("live_session_id"))
    channel_id = parse_id(form.get("channel_id")) if form.get("channel_id") else None
    back = f"/console/live/{live_session_id}/edit" if live_session_id else "/console/outreach"
    key = form.get("idempotency_key") or None
    try:
        if live_session_id is None:
            raise InvalidInput("give the live session's id", field="live_session_id")
        broadcast, replayed = await invite_once(
            session=session, shop_id=actor.shop_id, live_session_id=live_session_id,
            channel_id=channel_id, staff_id=actor.staff_id, key=key,
        )  # fmt: skip
    except FormErrors as exc:
        flash(request, form_error_text(exc), "error")
        return redirect(back)
    if replayed:
        return redirect(f"/console/outreach/broadcasts/{broadcast.id}")
    await shops_service.record_audit(
        session=session, actor=actor, action="outreach.invite", target_type="live_session",
        target_id=live_session_id, details={"broadcast_id": broadcast.id},
    )  # fmt: skip
    flash(request, translate(request, N_("Invitations are on their way")))
    return redirect(f"/console/outreach/broadcasts/{broadcast.id}")


router.include_router(pages)
