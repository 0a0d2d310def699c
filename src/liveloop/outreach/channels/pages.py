"""Console page of the shop's outreach channels (/console/outreach/channels): list and add.

Secrets go in and are never drawn back into the page."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from liveloop.core.deps import DbSession
from liveloop.core.errors import InvalidInput
from liveloop.outreach.broadcasts.pages import FormErrors, page_labels
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


async def _channels_page(
    request: Request, session: DbSession, actor: Actor, *, error: str = "", form: Any = None
) -> HTMLResponse:
    return render(
        request,
        "outreach/channels.html",
        {
            "title": translate(request, N_("Channels")),
            "channels": await channel_service.list_channels(session=session, shop_id=actor.shop_id),
            "kinds": [k.value for k in ChannelKind],
            "error": error,
            "form": form or {},
            **page_labels(request),
        },
        status_code=422 if error else 200,
    )


@pages.get("/channels", response_class=HTMLResponse)
async def channels_page(request: Request, session: DbSession, actor: Manager) -> HTMLResponse:
    return await _channels_page(request, session, actor)


def _json_object(text: str, field: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"{field} is not valid JSON (line {error.lineno}): {error.msg}", field=field
        ) from error
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be a JSON object {{…}}", field=field)
    return value


@pages.post("/channels", response_class=HTMLResponse)
async def create_channel(request: Request, session: DbSession, actor: Manager) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    try:
        kind = ChannelKind(form.get("kind", ""))
        rate = float(form.get("rate_per_second") or 10)
        async with session.begin_nested():
            channel = await channel_service.create_channel(
                session=session, shop_id=actor.shop_id, kind=kind.value,
                name=form.get("name", "")[:80], config=_json_object(form.get("config", ""), "config"),
                secret=_json_object(form.get("secret", ""), "secret") or None,
                rate_per_second=rate, enabled=True, settings=request.app.state.settings,
            )  # fmt: skip
    except FormErrors as exc:
        form.pop("secret", None)  # never drawn back into the page
        return await _channels_page(request, session, actor, error=form_error_text(exc), form=form)
    await shops_service.record_audit(
        session=session, actor=actor, action="outreach.channel.create",
        target_type="outreach_channel", target_id=channel.id, details={"kind": kind.value},
    )  # fmt: skip
    flash(request, translate(request, N_("Channel added")))
    return redirect("/console/outreach/channels")


router.include_router(pages)
