"""Console pages of message templates (/console/outreach/templates): the list, a new template,
a saved one's edit page (its channel's parts, the variables, a preview against a real customer),
with the save-time check (the part and line of a mistake) shown beside the form."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.core.schemas import parse_id
from liveloop.customers import service as customers_service
from liveloop.customers.schemas import CustomerFilter
from liveloop.outreach.contracts import ChannelKind
from liveloop.outreach.messages import render as message_render
from liveloop.outreach.messages import service
from liveloop.outreach.messages.models import MessageTemplate
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
# The mini-program card is one part with three fields: `miniprogram.appid` and so on in a form.
CARD_FIELDS = tuple(f"miniprogram.{key}" for key in message_render.MINIPROGRAM_KEYS)
PART_LABELS = {
    "subject": N_("Subject"),
    "text": N_("Text"),
    "html": N_("HTML body"),
    "image_url": N_("Image URL"),
    "link_url": N_("Link URL"),
    "link_title": N_("Link title"),
    "link_description": N_("Link description"),
    "miniprogram.appid": N_("Mini-program appid"),
    "miniprogram.pagepath": N_("Mini-program page path"),
    "miniprogram.title": N_("Mini-program card title"),
}
PREVIEW_CUSTOMERS = 20


def _parts(form: dict[str, str]) -> dict[str, Any]:
    """Every part filled in the form; parts the kind cannot carry are refused by the check."""
    parts: dict[str, Any] = {
        name: form[name] for name in message_render.TEXT_PARTS if form.get(name)
    }
    card = {key: form[f"miniprogram.{key}"] for key in message_render.MINIPROGRAM_KEYS
            if form.get(f"miniprogram.{key}")}  # fmt: skip
    if card:
        parts["miniprogram"] = card
    return parts


def _data(form: dict[str, str], kind: ChannelKind | None = None) -> service.TemplateIn:
    return service.TemplateIn(
        name=form.get("name", ""),
        kind=kind or ChannelKind(form.get("kind", "")),
        purpose=service.Purpose(form.get("purpose") or "general"),
        parts=_parts(form),
        marketing=form.get("marketing") == "1",
    )


def _form_of(template: MessageTemplate) -> dict[str, str]:
    form = {
        "name": template.name,
        "purpose": template.purpose,
        "marketing": "1" if template.marketing else "",
    }
    for name, value in (template.parts or {}).items():
        if name == "miniprogram" and isinstance(value, dict):
            form.update({f"miniprogram.{k}": str(v) for k, v in value.items()})
        elif isinstance(value, str):
            form[name] = value
    return form


def _error_field(exc: Exception) -> str:
    """The form field a refusal points at: `parts.text` -> `text`."""
    field = str(getattr(exc, "field", "") or "")
    return field.removeprefix("parts.")


def _kind_fields(kind: ChannelKind) -> list[str]:
    fields: list[str] = []
    for part in message_render.KIND_PARTS[kind]:
        fields += CARD_FIELDS if part == "miniprogram" else [part]
    return fields


async def _preview(
    request: Request, session: DbSession, actor: Actor, data: service.TemplateIn, customer: str
) -> tuple[Any, int | None]:
    return await service.preview(
        session=session, shop_id=actor.shop_id, kind=data.kind, parts=data.parts,
        customer_id=parse_id(customer) if customer else None, live_session_id=None,
        base_url=request.app.state.settings.public_base_url, marketing=data.marketing,
    )  # fmt: skip


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
            message, _customer = await _preview(
                request, session, actor, data, form.get("customer_id", "")
            )
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


# --------------------------------------------------------------------------- edit a template


def _audited(template: MessageTemplate) -> dict[str, Any]:
    return {
        "name": template.name,
        "purpose": template.purpose,
        "parts": dict(template.parts or {}),
        "marketing": template.marketing,
    }


async def _edit_page(
    request: Request,
    session: DbSession,
    actor: Actor,
    template: MessageTemplate,
    *,
    form: dict[str, str],
    error: str = "",
    error_field: str = "",
    preview: Any = None,
    preview_customer: int | None = None,
) -> HTMLResponse:
    customers = await customers_service.search_customers(
        session=session, shop_id=actor.shop_id, filters=CustomerFilter(), per_page=PREVIEW_CUSTOMERS
    )
    return render(
        request,
        "outreach/template_edit.html",
        {
            "title": translate(request, N_("Edit template")),
            "template": template,
            "kind_fields": _kind_fields(ChannelKind(template.kind)),
            "part_labels": {k: translate(request, v) for k, v in PART_LABELS.items()},
            "purposes": [p.value for p in service.Purpose],
            "variables": message_render.VARIABLES,
            "customers": customers.items,
            "form": form,
            "error": error,
            "error_field": error_field,
            "preview": preview,
            "preview_customer": preview_customer,
        },
        status_code=422 if error else 200,
    )


@pages.get("/{message_template_id}", response_class=HTMLResponse)
async def edit_template_page(
    request: Request, message_template_id: int, session: DbSession, actor: Manager
) -> HTMLResponse:
    template = await service.get_template(
        session=session, shop_id=actor.shop_id, template_id=message_template_id
    )
    return await _edit_page(request, session, actor, template, form=_form_of(template))


@pages.post("/{message_template_id}", response_class=HTMLResponse)
async def update_template(
    request: Request, message_template_id: int, session: DbSession, actor: Manager
) -> Response:
    template = await service.get_template(
        session=session, shop_id=actor.shop_id, template_id=message_template_id
    )
    kind = ChannelKind(template.kind)  # fixed: another kind has other parts, so a new template
    form = {k: str(v) for k, v in (await request.form()).items()}
    before = _audited(template)
    try:
        data = _data(form, kind)
        if form.get("action") == "preview":
            message, customer_id = await _preview(
                request, session, actor, data, form.get("customer_id", "")
            )
            return await _edit_page(
                request, session, actor, template, form=form, preview=message,
                preview_customer=customer_id,
            )  # fmt: skip
        async with session.begin_nested():
            await service.update_template(
                session=session, shop_id=actor.shop_id, template_id=template.id, data=data
            )
    except FormErrors as exc:
        await session.refresh(template)  # what is stored, not what was refused
        return await _edit_page(
            request, session, actor, template, form=form,
            error=str(getattr(exc, "message", exc)), error_field=_error_field(exc),
        )  # fmt: skip
    after = _audited(template)
    await shops_service.record_audit(
        session=session, actor=actor, action="outreach.template.update",
        target_type="message_template", target_id=template.id,
        details={"kind": template.kind, "changed": sorted(k for k in after if after[k] != before[k])},
    )  # fmt: skip
    flash(request, translate(request, N_("Template saved")))
    return redirect(f"/console/outreach/templates/{template.id}")


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
