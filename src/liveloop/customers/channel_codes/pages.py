"""Console pages of channel codes (list with statistics, create, detail with QR, edit) and the
public landing page /c/{code} a customer opens by scanning one."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.core.schemas import parse_id
from liveloop.customers import tags as tags_service
from liveloop.customers.channel_codes import service
from liveloop.customers.channel_codes.models import CODE_KINDS, ROUTINGS
from liveloop.customers.channel_codes.schemas import (
    ChannelCodeIn,
    ChannelCodeUpdate,
    WecomSettingsIn,
)
from liveloop.customers.communities import service as communities_service
from liveloop.shops import service as shops_service
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/channel-codes")

Reader = Annotated[Actor, console_requires(P.CUSTOMERS_READ)]
Writer = Annotated[Actor, console_requires(P.CUSTOMERS_WRITE)]
ShopManager = Annotated[Actor, console_requires(P.SHOP_MANAGE)]
FormErrors = (InvalidInput, Conflict, NotFound, ValidationError, ValueError)
STAFF_ROWS = 4
VISITOR_COOKIE = "ll_vid"
FIELDS = ("name", "kind", "routing", "tag_ids", "welcome_message", "daily_limit", "community_id")
STAFF_FIELDS = ("staff_id", "contact_url", "daily_cap", "windows", "backup")
KIND_LABELS = {
    "staff": N_("Staff"),
    "store": N_("Store"),
    "kol": N_("KOL"),
    "channel": N_("Channel"),
}
ROUTING_LABELS = {
    "single": N_("One staff"),
    "round_robin": N_("Round robin"),
    "capacity": N_("By daily capacity"),
    "time_of_day": N_("By time of day"),
}


def error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(getattr(exc, "message", exc))


def _ids(text: str, field: str) -> list[int]:
    ids = []
    for part in text.replace("，", ",").replace(" ", ",").split(","):
        if part.strip():
            number = parse_id(part)
            if number is None:
                raise InvalidInput(f"{part!r} is not an id", field=field)
            ids.append(number)
    return ids


def _windows(text: str) -> list[tuple[str, str]]:
    """'09:00-12:00, 14:00-18:00' -> [("09:00", "12:00"), ("14:00", "18:00")]."""
    windows = []
    for part in text.replace("，", ",").split(","):
        if part.strip():
            start, _, end = part.strip().partition("-")
            windows.append((start.strip(), end.strip()))
    return windows


def code_data(form: dict[str, str]) -> dict[str, Any]:
    staff = []
    for row in range(STAFF_ROWS):
        staff_id = parse_id(form.get(f"staff_id_{row}", ""))
        if staff_id is None:
            continue
        staff.append(
            {
                "staff_id": staff_id,
                "contact_url": form.get(f"contact_url_{row}", ""),
                "daily_cap": parse_id(form.get(f"daily_cap_{row}", "")),
                "windows": _windows(form.get(f"windows_{row}", "")),
                "is_backup": form.get(f"backup_{row}") == "1",
            }
        )
    return {
        "name": form["name"],
        "kind": form["kind"] or "staff",
        "routing": form["routing"] or "single",
        "staff": staff,
        "tag_ids": _ids(form["tag_ids"], "tag_ids"),
        "welcome_message": form["welcome_message"] or None,
        "daily_limit": parse_id(form["daily_limit"]),
        "community_id": parse_id(form["community_id"]),
    }


async def _read_form(request: Request) -> dict[str, str]:
    raw = await request.form()
    names = list(FIELDS) + [f"{n}_{row}" for n in STAFF_FIELDS for row in range(STAFF_ROWS)]
    return {name: str(raw.get(name) or "").strip() for name in names}


async def _common(request: Request, session: DbSession, actor: Actor) -> dict[str, Any]:
    return {
        "kinds": [(k, translate(request, KIND_LABELS[k])) for k in CODE_KINDS],
        "routings": [(r, translate(request, ROUTING_LABELS[r])) for r in ROUTINGS],
        "kind_labels": {k: translate(request, v) for k, v in KIND_LABELS.items()},
        "routing_labels": {k: translate(request, v) for k, v in ROUTING_LABELS.items()},
        "staff": await shops_service.list_staff(session=session, shop_id=actor.shop_id),
        "communities": await communities_service.list_communities(
            session=session, shop_id=actor.shop_id
        ),
        "tags": await tags_service.list_tags(session=session, shop_id=actor.shop_id),
        "staff_rows": range(STAFF_ROWS),
    }


def _form_of(code: Any, links: list[Any]) -> dict[str, str]:
    form = {
        "name": code.name,
        "kind": code.kind,
        "routing": code.routing,
        "tag_ids": ", ".join(str(t) for t in code.tag_ids),
        "welcome_message": code.welcome_message or "",
        "daily_limit": str(code.daily_limit or ""),
        "community_id": str(code.community_id or ""),
    }
    for row, link in enumerate(links[:STAFF_ROWS]):
        form[f"staff_id_{row}"] = str(link.staff_id)
        form[f"contact_url_{row}"] = link.contact_url
        form[f"daily_cap_{row}"] = str(link.daily_cap or "")
        form[f"windows_{row}"] = ", ".join(f"{w[0]}-{w[1]}" for w in link.windows)
        form[f"backup_{row}"] = "1" if link.is_backup else ""
    return form


# --- list and create -------------------------------------------------------------------


async def _list_page(
    request: Request,
    session: DbSession,
    actor: Actor,
    *,
    form: dict[str, str] | None = None,
    error: str = "",
    wecom_error: str = "",
) -> HTMLResponse:
    codes = await service.list_codes(session=session, shop_id=actor.shop_id)
    wecom = None
    if actor.can(P.SHOP_MANAGE):
        wecom = await service.get_wecom_settings(session=session, shop_id=actor.shop_id)
    base = request.app.state.settings.public_base_url
    ids = [code.id for code in codes]
    return render(
        request,
        "customers/channel_codes/list.html",
        {
            **await _common(request, session, actor),
            "codes": codes,
            "links": await service.staff_links(
                session=session, shop_id=actor.shop_id, code_ids=ids
            ),
            "stats": await service.code_stats(session=session, shop_id=actor.shop_id, code_ids=ids),
            "form": form or {},
            "error": error,
            "wecom": wecom,
            "wecom_error": wecom_error,
            "wecom_callback_url": f"{base}/api/v1/public/wecom/{actor.shop_id}/callback",
            "title": translate(request, N_("Channel codes")),
        },
        status_code=422 if error or wecom_error else 200,
    )


@pages.get("", response_class=HTMLResponse)
async def code_list(request: Request, session: DbSession, actor: Reader) -> HTMLResponse:
    return await _list_page(request, session, actor)


@pages.post("", response_class=HTMLResponse)
async def create_code(request: Request, session: DbSession, actor: Writer) -> Response:
    form = await _read_form(request)
    try:
        data = ChannelCodeIn.model_validate(code_data(form))
        async with session.begin_nested():
            code = await service.create_code(session=session, shop_id=actor.shop_id, data=data)
    except FormErrors as exc:
        return await _list_page(request, session, actor, form=form, error=error_text(exc))
    flash(request, translate(request, N_("Channel code %(name)s created."), name=code.name))
    return redirect(f"/console/channel-codes/{code.id}")


@pages.post("/wecom", response_class=HTMLResponse)
async def save_wecom(request: Request, session: DbSession, actor: ShopManager) -> Response:
    raw = await request.form()
    try:
        data = WecomSettingsIn.model_validate(
            {
                name: str(raw.get(name) or "").strip()
                for name in ("corp_id", "token", "encoding_aes_key")
            }
        )
        async with session.begin_nested():
            await service.save_wecom_settings(session=session, shop_id=actor.shop_id, data=data)
            await shops_service.record_audit(
                session=session,
                actor=actor,
                action="wecom.callback_settings_saved",
                target_type="shop",
                target_id=actor.shop_id,
                details={"corp_id": data.corp_id},
            )
    except FormErrors as exc:
        return await _list_page(request, session, actor, wecom_error=error_text(exc))
    flash(request, translate(request, N_("WeCom callback settings saved.")))
    return redirect("/console/channel-codes")


# --- detail -------------------------------------------------------------------------------


async def _detail_page(
    request: Request,
    session: DbSession,
    actor: Actor,
    code_id: int,
    *,
    form: dict[str, str] | None = None,
    error: str = "",
) -> HTMLResponse:
    code = await service.get_code(session=session, shop_id=actor.shop_id, code_id=code_id)
    links = (await service.staff_links(session=session, shop_id=actor.shop_id, code_ids=[code.id]))[
        code.id
    ]
    base = request.app.state.settings.public_base_url
    return render(
        request,
        "customers/channel_codes/detail.html",
        {
            **await _common(request, session, actor),
            "code": code,
            "links": links,
            "landing_url": f"{base}{service.landing_path(code)}",
            "stats": (
                await service.code_stats(session=session, shop_id=actor.shop_id, code_ids=[code.id])
            )[code.id],
            "days": await service.daily_stats(
                session=session, shop_id=actor.shop_id, code_id=code.id, days=14
            ),
            "arrivals": await service.arrivals_of(
                session=session, shop_id=actor.shop_id, code_id=code.id, limit=20
            ),
            "staff_names": {
                s.id: s.name
                for s in await shops_service.list_staff(session=session, shop_id=actor.shop_id)
            },
            "form": form or _form_of(code, links),
            "error": error,
            "title": code.name,
        },
        status_code=422 if error else 200,
    )


@pages.get("/{code_id}", response_class=HTMLResponse)
async def code_detail(
    request: Request, code_id: int, session: DbSession, actor: Reader
) -> HTMLResponse:
    return await _detail_page(request, session, actor, code_id)


@pages.post("/{code_id}", response_class=HTMLResponse)
async def update_code(
    request: Request, code_id: int, session: DbSession, actor: Writer
) -> Response:
    form = await _read_form(request)
    try:
        data = ChannelCodeUpdate.model_validate(code_data(form))
        async with session.begin_nested():
            await service.update_code(
                session=session, shop_id=actor.shop_id, code_id=code_id, data=data
            )
    except FormErrors as exc:
        return await _detail_page(
            request, session, actor, code_id, form=form, error=error_text(exc)
        )
    flash(request, translate(request, N_("Saved.")))
    return redirect(f"/console/channel-codes/{code_id}")


@pages.post("/{code_id}/archive", response_class=HTMLResponse)
async def archive_code(
    request: Request, code_id: int, session: DbSession, actor: Writer
) -> Response:
    code = await service.get_code(session=session, shop_id=actor.shop_id, code_id=code_id)
    await service.archive_code(
        session=session, shop_id=actor.shop_id, code_id=code_id, archived=code.archived_at is None
    )
    return redirect(f"/console/channel-codes/{code_id}")


# --- public landing -------------------------------------------------------------------------


@router.get("/c/{code}", response_class=HTMLResponse)
async def landing(request: Request, code: str, session: DbSession) -> HTMLResponse:
    """A scan: counted, routed to a staff member (or the code's group), their QR shown."""
    from liveloop.web.templating import environment, request_language

    found = await service.get_code_by_code(session=session, code=code)
    shop = await shops_service.get_shop(session=session, shop_id=found.shop_id)
    routed = await service.route_scan(session=session, code=found, zone=shop.timezone)
    visitor = request.cookies.get(VISITOR_COOKIE) or secrets.token_urlsafe(12)
    await service.record_scan_event(session=session, code=found, routed=routed, visitor_id=visitor)
    target = routed.link.contact_url if routed.link else routed.community_join_url
    staff_name = ""
    if routed.link is not None:
        staff = {
            s.id: s.name for s in await shops_service.list_staff(session=session, shop_id=shop.id)
        }
        staff_name = staff.get(routed.link.staff_id, "")
    language = request_language(request)
    html = (
        environment(language)
        .get_template("customers/channel_codes/landing.html")
        .render(
            {
                "shop": shop,
                "code": found,
                "routed": routed,
                "target": target,
                "staff_name": staff_name,
                "qr": segno.make(target, error="m").svg_data_uri(scale=6, border=2)
                if target
                else "",
                "language": language,
            }
        )
    )
    response = HTMLResponse(html, headers={"Cache-Control": "no-store"})
    response.set_cookie(VISITOR_COOKIE, visitor, max_age=365 * 86400, httponly=True, samesite="lax")
    return response


router.include_router(pages)
