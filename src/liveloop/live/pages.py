"""Console pages of live sessions: the list, schedule and edit (cover, line-up, start/end/cancel),
entry links with reservations and the sharer ranking. The word list is `live.words_pages`.

Times are typed in the shop's time zone (datetime-local inputs) and kept in UTC. The anchor's
live control page /console/live/{id} is the room console's (live.room_console).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile as StarletteUploadFile

from liveloop.catalog import service as catalog_service
from liveloop.catalog.media import MAX_IMAGE_BYTES
from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from liveloop.core.schemas import parse_id
from liveloop.live import service
from liveloop.live.audience import customer_names
from liveloop.live.models import EntryChannel, LiveSession, LiveStatus
from liveloop.live.schemas import EntryLinkCreate, LiveSessionCreate, LiveSessionUpdate
from liveloop.shops import service as shops_service
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/live")

Manager = Annotated[Actor, console_requires(P.LIVE_MANAGE)]
FormErrors = (InvalidInput, Conflict, NotFound, PermissionDenied, ValidationError)
PER_PAGE = 20
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"

STATUS_LABELS = {
    LiveStatus.SCHEDULED.value: N_("Scheduled"),
    LiveStatus.LIVE.value: N_("Live"),
    LiveStatus.ENDED.value: N_("Ended"),
    LiveStatus.CANCELLED.value: N_("Cancelled"),
}
CHANNEL_LABELS = {
    EntryChannel.GROUP.value: N_("Customer groups (社群)"),
    EntryChannel.OFFICIAL_ACCOUNT.value: N_("Official account (公众号)"),
    EntryChannel.VIDEO_CHANNEL.value: N_("Video channel (视频号)"),
    EntryChannel.MALL.value: N_("Mall (商城)"),
    EntryChannel.KOL.value: N_("KOL / KOC"),
    EntryChannel.STAFF.value: N_("Staff"),
    EntryChannel.OTHER.value: N_("Other"),
}


def error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg'].removeprefix('Value error, ')}"
    return str(getattr(exc, "message", exc))


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(getattr(request.state.shop, "timezone", None) or "Asia/Shanghai")


def parse_local(value: str, zone: ZoneInfo, field: str) -> dt.datetime | None:
    """'2026-11-24T20:00' typed in the shop's zone -> aware UTC; '' -> None."""
    text = value.strip()
    if not text:
        return None
    try:
        local = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not a date and time such as 2026-11-24T20:00", field=field
        ) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone)
    return local.astimezone(dt.UTC)


def local_input(value: dt.datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime(LOCAL_FORMAT) if value else ""


def _media_dir(request: Request) -> Path:
    return Path(request.app.state.settings.resolved_media_dir)


async def _load(session: DbSession, actor: Actor, live_session_id: int) -> LiveSession:
    return await service.get_live_session(
        session=session, shop_id=actor.shop_id, live_session_id=live_session_id
    )


def _labels(request: Request, labels: dict[str, str]) -> dict[str, str]:
    return {key: translate(request, label) for key, label in labels.items()}


# ------------------------------------------------------------------------------------ list


@pages.get("", response_class=HTMLResponse)
async def session_list(
    request: Request,
    session: DbSession,
    actor: Manager,
    status: str = "",
    date_from: str = "",
    date_to: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    zone = _zone(request)
    form = {"status": status, "date_from": date_from.strip(), "date_to": date_to.strip()}
    bounds: dict[str, dt.datetime | None] = {}
    for name in ("date_from", "date_to"):
        try:
            day = dt.date.fromisoformat(form[name]) if form[name] else None
        except ValueError:
            flash(request, translate(request, N_("Dates look like 2026-11-24.")), "error")
            day = None
        if name == "date_to" and day is not None:
            day += dt.timedelta(days=1)  # "to" includes that whole day
        bounds[name] = (
            dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC) if day else None
        )
    result = await service.list_live_sessions(
        session=session,
        shop_id=actor.shop_id,
        status=status if status in STATUS_LABELS else None,
        starts_from=bounds["date_from"],
        starts_before=bounds["date_to"],
        page=page,
        per_page=PER_PAGE,
    )
    reservations = await service.reservation_counts(
        session=session, shop_id=actor.shop_id, live_session_ids=[s.id for s in result.items]
    )
    staff = {
        s.id: s.name for s in await shops_service.list_staff(session=session, shop_id=actor.shop_id)
    }
    return render(
        request,
        "live/sessions_list.html",
        {
            "form": form,
            "page": result,
            "staff_names": staff,
            "reservations": reservations,
            "status_labels": _labels(request, STATUS_LABELS),
            "cover_url": service.cover_url,
            "title": translate(request, N_("Live sessions")),
        },
    )


# ---------------------------------------------------------------------------------- create


async def _form_page(
    request: Request,
    session: DbSession,
    actor: Actor,
    template: str,
    context: dict[str, Any],
    error: str | None = None,
) -> HTMLResponse:
    staff = await shops_service.list_staff(session=session, shop_id=actor.shop_id)
    return render(
        request,
        template,
        {
            "staff": [s for s in staff if s.is_active],
            "error": error,
            "status_labels": _labels(request, STATUS_LABELS),
            **context,
        },
        status_code=422 if error else 200,
    )


def _form_values(form: Any) -> dict[str, str]:
    names = ("title", "anchor_id", "planned_start", "planned_end", "hls_url", "notice")
    return {name: str(form.get(name) or "").strip() for name in names}


@pages.get("/new", response_class=HTMLResponse)
async def new_session(request: Request, session: DbSession, actor: Manager) -> HTMLResponse:
    zone = _zone(request)
    tomorrow = dt.datetime.now(zone).replace(minute=0, second=0, microsecond=0) + dt.timedelta(
        days=1
    )
    form = {
        "title": "",
        "anchor_id": str(actor.staff_id or ""),
        "planned_start": tomorrow.strftime(LOCAL_FORMAT),
        "planned_end": (tomorrow + dt.timedelta(hours=2)).strftime(LOCAL_FORMAT),
        "hls_url": "",
        "notice": "",
    }
    return await _form_page(
        request,
        session,
        actor,
        "live/sessions_new.html",
        {"form": form, "title": translate(request, N_("New live session"))},
    )


@pages.post("", response_class=HTMLResponse)
async def create_session(
    request: Request,
    session: DbSession,
    actor: Manager,
) -> Response:
    form = await request.form()
    values = _form_values(form)
    zone = _zone(request)
    cover = form.get("cover")
    savepoint = await session.begin_nested()  # a refused cover must not leave the session
    try:
        start = parse_local(values["planned_start"], zone, "planned_start")
        if start is None:
            raise InvalidInput(
                translate(request, N_("Say when the session starts.")), field="planned_start"
            )
        data = LiveSessionCreate(
            title=values["title"],
            anchor_id=parse_id(values["anchor_id"]),
            planned_start=start,
            planned_end=parse_local(values["planned_end"], zone, "planned_end"),
            hls_url=values["hls_url"],
            notice=values["notice"],
        )
        live_session = await service.create_live_session(session=session, actor=actor, data=data)
        content = (
            await cover.read(MAX_IMAGE_BYTES + 1) if isinstance(cover, StarletteUploadFile) else b""
        )
        if content:
            await service.set_cover(
                session=session,
                actor=actor,
                live_session_id=live_session.id,
                content=content,
                media_dir=_media_dir(request),
            )
        await savepoint.commit()
    except FormErrors as exc:
        await savepoint.rollback()
        return await _form_page(
            request,
            session,
            actor,
            "live/sessions_new.html",
            {"form": values, "title": translate(request, N_("New live session"))},
            error_text(exc),
        )
    flash(request, translate(request, N_("Live session scheduled; now set its line-up.")))
    return redirect(f"/console/live/{live_session.id}/edit")


# ------------------------------------------------------------------------------------ edit


@pages.get("/{live_session_id}/edit", response_class=HTMLResponse)
async def edit_session(
    request: Request, live_session_id: int, session: DbSession, actor: Manager
) -> HTMLResponse:
    live_session = await _load(session, actor, live_session_id)
    zone = _zone(request)
    lineup = await service.get_lineup(session=session, live_session=live_session)
    in_lineup = {p.id for p in lineup}
    candidates = await catalog_service.search_products(
        session=session, shop_id=actor.shop_id, status="on_shelf", per_page=200
    )
    form = {
        "title": live_session.title,
        "anchor_id": str(live_session.anchor_id or ""),
        "planned_start": local_input(live_session.planned_start, zone),
        "planned_end": local_input(live_session.planned_end, zone),
        "hls_url": live_session.hls_url,
        "notice": live_session.notice,
    }
    return await _form_page(
        request,
        session,
        actor,
        "live/sessions_edit.html",
        {
            "live": live_session,
            "form": form,
            "lineup": lineup,
            "candidates": [p for p in candidates.items if p.id not in in_lineup],
            "cover_url": service.cover_url(live_session),
            "editable": live_session.status in service.OPEN_STATES,
            "title": live_session.title,
        },
    )


@pages.post("/{live_session_id}/edit")
async def update_session(
    request: Request, live_session_id: int, session: DbSession, actor: Manager
) -> Response:
    await _load(session, actor, live_session_id)
    values = _form_values(await request.form())
    zone = _zone(request)
    try:
        start = parse_local(values["planned_start"], zone, "planned_start")
        changes: dict[str, Any] = {
            "title": values["title"],
            "anchor_id": parse_id(values["anchor_id"]),
            "planned_end": parse_local(values["planned_end"], zone, "planned_end"),
            "hls_url": values["hls_url"],
            "notice": values["notice"],
        }
        if start is not None:
            changes["planned_start"] = start
        await service.update_live_session(
            session=session,
            actor=actor,
            live_session_id=live_session_id,
            data=LiveSessionUpdate.model_validate(changes),
        )
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
    else:
        flash(request, translate(request, N_("Live session saved.")))
    return redirect(f"/console/live/{live_session_id}/edit")


@pages.post("/{live_session_id}/cover")
async def upload_cover(
    request: Request,
    live_session_id: int,
    session: DbSession,
    actor: Manager,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    await _load(session, actor, live_session_id)
    content = await file.read(MAX_IMAGE_BYTES + 1) if file is not None else b""
    try:
        if not content:
            raise InvalidInput(translate(request, N_("Choose an image to upload.")), field="file")
        await service.set_cover(
            session=session,
            actor=actor,
            live_session_id=live_session_id,
            content=content,
            media_dir=_media_dir(request),
        )
    except InvalidInput as exc:
        flash(request, exc.message, "error")
    else:
        flash(request, translate(request, N_("Cover uploaded.")))
    return redirect(f"/console/live/{live_session_id}/edit")


@pages.post("/{live_session_id}/lineup")
async def change_lineup(
    request: Request,
    live_session_id: int,
    session: DbSession,
    actor: Manager,
    product_id: Annotated[str, Form()] = "",
    move: Annotated[str, Form()] = "",
) -> Response:
    """One change to the line-up: add a product, move one up or down, or remove one
    (`move` is add | up | down | remove)."""
    live_session = await _load(session, actor, live_session_id)
    ids = await service.lineup_ids(session=session, live_session=live_session)
    chosen = parse_id(product_id)
    try:
        if chosen is None:
            raise InvalidInput(translate(request, N_("Choose a product.")), field="product_id")
        if move == "add":
            ids = [*ids, chosen]
        elif chosen in ids and move in ("up", "down", "remove"):
            index = ids.index(chosen)
            ids.remove(chosen)
            if move != "remove":
                target = max(0, index - 1) if move == "up" else min(len(ids), index + 1)
                ids.insert(target, chosen)
        await service.set_lineup(
            session=session, actor=actor, live_session_id=live_session_id, product_ids=ids
        )
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
    else:
        flash(request, translate(request, N_("Line-up saved.")))
    return redirect(f"/console/live/{live_session_id}/edit#lineup")


@pages.post("/{live_session_id}/status")
async def change_status(
    request: Request,
    live_session_id: int,
    session: DbSession,
    actor: Manager,
    action: Annotated[str, Form()] = "",
) -> Response:
    await _load(session, actor, live_session_id)
    transitions = {
        "start": (service.start_live_session, N_("The session is live.")),
        "end": (service.end_live_session, N_("The session has ended.")),
        "cancel": (service.cancel_live_session, N_("The session was cancelled.")),
    }
    try:
        if action not in transitions:
            raise InvalidInput(f"{action!r} is not one of start, end or cancel", field="action")
        transition, message = transitions[action]
        await transition(session=session, actor=actor, live_session_id=live_session_id)
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
    else:
        flash(request, translate(request, message))
    if action == "start":
        return redirect(f"/console/live/{live_session_id}")
    return redirect(f"/console/live/{live_session_id}/edit")


# ----------------------------------------------------------------------- links and audience


@pages.get("/{live_session_id}/links", response_class=HTMLResponse)
async def links_page(
    request: Request,
    live_session_id: int,
    session: DbSession,
    actor: Manager,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    live_session = await _load(session, actor, live_session_id)
    links = await service.list_entry_links(
        session=session, shop_id=actor.shop_id, live_session_id=live_session.id
    )
    reservations = await service.list_reservations(
        session=session,
        shop_id=actor.shop_id,
        live_session_id=live_session.id,
        page=page,
        per_page=PER_PAGE,
    )
    names = await customer_names(
        session=session,
        shop_id=actor.shop_id,
        customer_ids=[r.customer_id for r in reservations.items]
        + [link.customer_id for link in links if link.customer_id],
    )
    staff = await shops_service.list_staff(session=session, shop_id=actor.shop_id)
    return render(
        request,
        "live/links.html",
        {
            "live": live_session,
            "links": links,
            "entry_url": lambda link: service.entry_url(live_session, link),
            "base_url": str(request.base_url).rstrip("/"),
            "reservations": reservations,
            "customer_names": names,
            "link_labels": {link.code: link.label or link.channel for link in links},
            "sharers": await service.sharer_ranking(
                session=session, shop_id=actor.shop_id, live_session_id=live_session.id
            ),
            "staff": [s for s in staff if s.is_active],
            "staff_names": {s.id: s.name for s in staff},
            "channel_labels": _labels(request, CHANNEL_LABELS),
            "title": translate(request, N_("Entry links")) + " · " + live_session.title,
        },
    )


@pages.post("/{live_session_id}/links")
async def create_link(
    request: Request,
    live_session_id: int,
    session: DbSession,
    actor: Manager,
    channel: Annotated[str, Form()] = "",
    label: Annotated[str, Form()] = "",
    staff_id: Annotated[str, Form()] = "",
    customer_id: Annotated[str, Form()] = "",
) -> Response:
    live_session = await _load(session, actor, live_session_id)
    try:
        data = EntryLinkCreate.model_validate(
            {
                "channel": channel,
                "label": label.strip(),
                "staff_id": parse_id(staff_id),
                "customer_id": parse_id(customer_id),
            }
        )
        await service.create_entry_link(
            session=session, actor=actor, live_session=live_session, data=data
        )
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
    else:
        flash(request, translate(request, N_("Entry link created.")))
    return redirect(f"/console/live/{live_session_id}/links")


@pages.post("/{live_session_id}/links/{link_id}/delete")
async def delete_link(
    request: Request, live_session_id: int, link_id: int, session: DbSession, actor: Manager
) -> Response:
    await _load(session, actor, live_session_id)
    await service.delete_entry_link(
        session=session, actor=actor, live_session_id=live_session_id, link_id=link_id
    )
    flash(request, translate(request, N_("Entry link deleted.")))
    return redirect(f"/console/live/{live_session_id}/links")


router.include_router(pages)
