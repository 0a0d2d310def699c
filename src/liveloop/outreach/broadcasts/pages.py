"""Console pages of outreach: broadcasts (/console/outreach: the list, a broadcast's progress,
per-recipient status and A/B results, cancel), composing one with its audience, variants and
schedule (/console/outreach/broadcasts/new), the "Invite" panel of a live session page, and
the shop's channels are in outreach/channels/pages.py.

"Invite" carries an idempotency key made when the panel was drawn, so a second click (or a
reload of the POST) returns the first broadcast instead of sending again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from liveloop.commerce.idempotency import claim_key, complete_key
from liveloop.core.database import utcnow
from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.core.schemas import parse_id
from liveloop.live import service as live_service
from liveloop.outreach.broadcasts import invite as invite_words
from liveloop.outreach.broadcasts import results, service, tasks
from liveloop.outreach.broadcasts.compose import (
    SPLIT,
    Typed,
    compose_choices,
    estimate_composition,
    form_field,
    read_composition,
    read_typed,
)
from liveloop.outreach.broadcasts.invite import invite_once
from liveloop.outreach.broadcasts.models import Broadcast
from liveloop.outreach.channels import service as channel_service
from liveloop.outreach.contracts import ChannelKind
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


# --------------------------------------------------------------------------- compose
#
# /console/outreach/broadcasts/new: name, channel, live session, audience (tags any/all/none,
# segments, communities, exclusions), variants (a saved template or inline words; its own
# audience, or a weight of an A/B split with a hold-out), send now or at a time in shop time.
# "Estimate" plans it read-only; "Send" creates and starts it through the service, once per
# idempotency key drawn into the form.

compose = console_router(prefix="/console/outreach")


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(getattr(request.state.layout_shop, "timezone", None) or "Asia/Shanghai")


def typed_live_session(typed: Typed) -> int | None:
    return parse_id(typed.get("live_session_id"))


def _error_of(exc: Exception, rows: list[int]) -> dict[str, str]:
    field = form_field(getattr(exc, "field", None), rows) or "form"
    return {"field": field, "message": form_error_text(exc)}


async def _compose_page(
    request: Request,
    session: DbSession,
    actor: Actor,
    typed: Typed,
    *,
    error: dict[str, str] | None = None,
) -> HTMLResponse:
    zone = _zone(request)
    choices = await compose_choices(
        session=session, shop_id=actor.shop_id, live_session_id=typed_live_session(typed)
    )
    rows = typed.rows() or [0]
    return render(
        request,
        "outreach/broadcast_new.html",
        {
            "title": translate(request, N_("New broadcast")),
            "choices": choices,
            "typed": typed,
            "rows": rows,
            "next_row": max(rows) + 1,
            "error": error,
            "errors": {error["field"]: error["message"]} if error else {},
            "zone": zone.key,
            "now_local": utcnow().astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
            "channel_kind": next(
                (c.kind for c in choices.channels if str(c.id) == typed.get("channel_id")),
                choices.channels[0].kind if choices.channels else "",
            ),
            **page_labels(request),
        },
        status_code=422 if error else 200,
    )


@compose.get("/broadcasts/new", response_class=HTMLResponse)
async def new_broadcast_page(request: Request, session: DbSession, actor: Manager) -> HTMLResponse:
    """The compose form; ?live_session_id= fills in the session and its invitation's words."""
    values: dict[str, list[str]] = {
        "mode": [SPLIT], "when": ["now"], "holdout_percent": ["0"],
        "variants.0.key": ["A"], "variants.0.weight": ["100"],
        "idempotency_key": [secrets.token_urlsafe(16)],
    }  # fmt: skip
    live_session_id = parse_id(request.query_params.get("live_session_id"))
    if live_session_id is not None:
        live = await live_service.get_live_session(
            session=session, shop_id=actor.shop_id, live_session_id=live_session_id
        )
        values["name"] = [f"邀请：{live.title}"[:120]]
        values["live_session_id"] = [str(live.id)]
        values["variants.0.text"] = [invite_words.INVITE_TEXT]
        values["variants.0.subject"] = [invite_words.default_parts(ChannelKind.EMAIL)["subject"]]
    with contextlib.suppress(InvalidInput):  # no enabled channel: the page says to add one
        channel = await invite_words.pick_channel(
            session=session, shop_id=actor.shop_id, channel_id=None
        )
        values["channel_id"] = [str(channel.id)]
    return await _compose_page(request, session, actor, Typed(values))


@compose.post("/broadcasts/estimate", response_class=HTMLResponse)
async def estimate_broadcast(request: Request, session: DbSession, actor: Manager) -> Response:
    """The estimate card (HTMX): who is in the audience, who would get it, who is held back."""
    typed = await read_typed(request)
    rows = typed.rows()
    try:
        choices = await compose_choices(
            session=session, shop_id=actor.shop_id, live_session_id=typed_live_session(typed)
        )
        composition = read_composition(typed, choices, zone=_zone(request), now=utcnow())
        found = await estimate_composition(request, session, actor.shop_id, composition)
    except FormErrors as exc:
        # 200: HTMX swaps in the card with the refusal (it does not swap a 422 by default).
        refused: dict[str, Any] = {"estimate": None, "error": _error_of(exc, rows)}
        return render(request, "outreach/_broadcast_estimate.html", refused)
    context: dict[str, Any] = {
        "estimate": found, "error": None, "scheduled": composition.data.scheduled_at
    }  # fmt: skip
    return render(request, "outreach/_broadcast_estimate.html", context)


@compose.post("/broadcasts", response_class=HTMLResponse)
async def create_composed_broadcast(
    request: Request, session: DbSession, actor: Manager
) -> Response:
    typed = await read_typed(request)
    rows = typed.rows()
    replay: Broadcast | None = None
    try:
        choices = await compose_choices(
            session=session, shop_id=actor.shop_id, live_session_id=typed_live_session(typed)
        )
        composition = read_composition(typed, choices, zone=_zone(request), now=utcnow())
        data = composition.data
        # A refusal rolls back the key's claim with the broadcast: the same form may try again.
        async with session.begin_nested():
            claim = await claim_key(
                session=session, shop_id=actor.shop_id, scope="broadcast:compose",
                key=typed.get("idempotency_key") or None, body=dataclasses.asdict(data),
            )  # fmt: skip
            if claim.replay_id is not None:
                replay = await service.get_broadcast(
                    session=session, shop_id=actor.shop_id, broadcast_id=claim.replay_id
                )
            else:
                broadcast = await service.create_broadcast(
                    session=session, shop_id=actor.shop_id, data=data, staff_id=actor.staff_id
                )
                broadcast = await service.start_broadcast(
                    session=session, shop_id=actor.shop_id, broadcast_id=broadcast.id
                )
                await complete_key(
                    session=session, claim=claim, resource_type="broadcast",
                    resource_id=broadcast.id,
                )  # fmt: skip
    except FormErrors as exc:
        if getattr(exc, "code", "") == "idempotency_mismatch":
            # The key went with another form; this changed one is a new request with a new key.
            typed.values["idempotency_key"] = [secrets.token_urlsafe(16)]
        return await _compose_page(request, session, actor, typed, error=_error_of(exc, rows))
    if replay is not None:
        return redirect(f"/console/outreach/broadcasts/{replay.id}")
    tasks.deliver_after_commit(session, broadcast)
    await shops_service.record_audit(
        session=session, actor=actor, action="outreach.broadcast.create",
        target_type="broadcast", target_id=broadcast.id,
        details={
            "status": broadcast.status, "variants": [v["key"] for v in broadcast.variants],
            "scheduled_at": data.scheduled_at.isoformat() if data.scheduled_at else None,
        },
    )  # fmt: skip
    message = N_("Broadcast scheduled") if data.scheduled_at else N_("Broadcast is on its way")
    flash(request, translate(request, message))
    return redirect(f"/console/outreach/broadcasts/{broadcast.id}")


router.include_router(compose)  # first: `pages` has /broadcasts/{broadcast_id}, which takes "new"
router.include_router(pages)
