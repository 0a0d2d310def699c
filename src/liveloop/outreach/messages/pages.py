"""Console page of message templates (/console/outreach/templates): the list, a new template
with its save-time check (the part and line of a mistake) and a preview against a customer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.core.schemas import parse_id
from liveloop.outreach.contracts import ChannelKind
from liveloop.outreach.messages import render as message_render
from liveloop.outreach.messages import service
from liveloop.shops import service as shops_service
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/outreach/templates")
Manager = Annotated[Actor, console_requires(P.OUTREACH_MANAGE)]
FormErrors = (InvalidInput, Conflict, NotFound, ValueError)
FORM_PARTS = ("subject", "text", "html", "image_url", "link_url", "link_title")


def _data(form: dict[str, str]) -> service.TemplateIn:
    return service.TemplateIn(
        name=form.get("name", ""),
        kind=ChannelKind(form.get("kind", "")),
        purpose=service.Purpose(form.get("purpose") or "general"),
        parts={name: form[name] for name in FORM_PARTS if form.get(name)},
        marketing=form.get("marketing") == "1",
    )


async def _page(
    request: Request,
    session: DbSession,
    actor: Actor,
    *,
    error: str = "",
    form: dict[str, str] | None = None,
    preview: Any = None,
) -> HTMLResponse:
    return render(
        request,
        "outreach/templates.html",
        {
            "title": translate(request, N_("Message templates")),
            "templates": await service.list_templates(session=session, shop_id=actor.shop_id),
            "kinds": [k.value for k in ChannelKind],
            "purposes": [p.value for p in service.Purpose],
            "variables": message_render.VARIABLES,
            "form_parts": FORM_PARTS,
            "form": form or {"marketing": "1"},
            "error": error,
            "preview": preview,
        },
        status_code=422 if error else 200,
    )


@pages.get("", response_class=HTMLResponse)
async def templates_page(request: Request, session: DbSession, actor: Manager) -> HTMLResponse:
    return await _page(request, session, actor)


@pages.post("", response_class=HTMLResponse)
async def save_template(request: Request, session: DbSession, actor: Manager) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        data = _data(form)
        if form.get("action") == "preview":
            message, _customer = await service.preview(
                session=session, shop_id=actor.shop_id, kind=data.kind, parts=data.parts,
                customer_id=parse_id(form.get("customer_id")) if form.get("customer_id") else None,
                live_session_id=None, base_url=request.app.state.settings.public_base_url,
            )  # fmt: skip
            return await _page(request, session, actor, form=form, preview=message)
        async with session.begin_nested():
            template = await service.create_template(
                session=session, shop_id=actor.shop_id, data=data, staff_id=actor.staff_id
            )
    except FormErrors as exc:
        message = str(getattr(exc, "message", exc))
        return await _page(request, session, actor, error=message, form=form)
    await shops_service.record_audit(
        session=session, actor=actor, action="outreach.template.create",
        target_type="message_template", target_id=template.id, details={"kind": template.kind},
    )  # fmt: skip
    flash(request, translate(request, N_("Template saved")))
    return redirect("/console/outreach/templates")


@pages.post("/{message_template_id}/delete", response_class=HTMLResponse)
async def delete_template(
    request: Request, message_template_id: int, session: DbSession, actor: Manager
) -> Response:
    await service.delete_template(
        session=session, shop_id=actor.shop_id, template_id=message_template_id
    )
    flash(request, translate(request, N_("Template deleted")))
    return redirect("/console/outreach/templates")


router.include_router(pages)
