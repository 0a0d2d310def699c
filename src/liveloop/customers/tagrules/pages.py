"""Console pages of tag rules: list, new, edit, preview count, run now, delete."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict, InvalidInput, LiveLoopError, NotFound
from liveloop.customers import tags as tags_service
from liveloop.customers.tagrules import service
from liveloop.customers.tagrules.examples import EXAMPLES
from liveloop.customers.tagrules.schemas import TagRuleIn, TagRuleUpdate
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/tag-rules")

Reader = Annotated[Actor, console_requires(P.CUSTOMERS_READ)]
Manager = Annotated[Actor, console_requires(P.TAGS_MANAGE)]
FormErrors = (InvalidInput, Conflict, NotFound, ValidationError)


def error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(getattr(exc, "message", exc))


def read_condition(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"the condition is not valid JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg})",
            code="invalid_json",
            field="condition",
        ) from None


def pretty(condition: Any) -> str:
    return json.dumps(condition, ensure_ascii=False, indent=2)


async def _list_page(
    request: Request,
    session: DbSession,
    actor: Actor,
    form: dict[str, Any] | None = None,
    error: str = "",
    everyone: bool = False,
) -> HTMLResponse:
    rules = await service.list_rules(session=session, shop_id=actor.shop_id)
    tags = await tags_service.list_tags(session=session, shop_id=actor.shop_id)
    ruled = {rule.tag_id for rule in rules}
    return render(
        request,
        "customers/tagrules/list.html",
        {
            "rules": rules,
            "tag_names": {tag.id: tag.name for tag in tags},
            "free_tags": [tag for tag in tags if tag.id not in ruled],
            "form": form or {"name": "", "tag_id": "", "condition": "", "enabled": True},
            "examples": {name: pretty(value) for name, value in EXAMPLES.items()},
            "error": error,
            "everyone": everyone,
            "title": translate(request, N_("Tag rules")),
        },
        status_code=422 if error else 200,
    )


@pages.get("", response_class=HTMLResponse)
async def rule_list(request: Request, session: DbSession, actor: Reader) -> HTMLResponse:
    return await _list_page(request, session, actor)


@pages.post("", response_class=HTMLResponse)
async def create_rule(
    request: Request,
    session: DbSession,
    actor: Manager,
    name: Annotated[str, Form()] = "",
    tag_id: Annotated[str, Form()] = "",
    condition: Annotated[str, Form()] = "",
    enabled: Annotated[str, Form()] = "",
    confirm_all: Annotated[str, Form()] = "",
) -> Response:
    form = {"name": name, "tag_id": tag_id, "condition": condition, "enabled": enabled == "1"}
    try:
        data = TagRuleIn(
            name=name.strip(),
            tag_id=int(tag_id) if tag_id.isdigit() else 0,
            condition=read_condition(condition),
            enabled=enabled == "1",
            confirm_all=confirm_all == "1",
        )
        rule = await service.create_rule(session=session, actor=actor, data=data)
    except FormErrors as exc:
        everyone = isinstance(exc, Conflict) and exc.code == "rule_matches_everyone"
        return await _list_page(request, session, actor, form, error_text(exc), everyone)
    flash(request, translate(request, N_("Tag rule %(name)s created."), name=rule.name))
    return redirect(f"/console/tag-rules/{rule.id}")


@pages.post("/preview", response_class=HTMLResponse)
async def preview(
    request: Request,
    session: DbSession,
    actor: Reader,
    condition: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The live count under the condition box (an HTMX fragment)."""
    try:
        found = await service.preview_condition(
            session=session, shop_id=actor.shop_id, condition=read_condition(condition)
        )
    except LiveLoopError as exc:
        return render(request, "customers/tagrules/_preview.html", {"error": exc.message})
    return render(request, "customers/tagrules/_preview.html", {"preview": found, "error": ""})


async def _detail_page(
    request: Request,
    session: DbSession,
    actor: Actor,
    rule_id: int,
    form: dict[str, Any] | None = None,
    error: str = "",
    everyone: bool = False,
) -> HTMLResponse:
    rule = await service.get_rule(session=session, shop_id=actor.shop_id, rule_id=rule_id)
    tag = await tags_service.get_tag(session=session, shop_id=actor.shop_id, tag_id=rule.tag_id)
    changes = await service.list_tag_changes(
        session=session, shop_id=actor.shop_id, rule_id=rule.id, limit=50
    )
    return render(
        request,
        "customers/tagrules/detail.html",
        {
            "rule": rule,
            "tag": tag,
            "changes": changes,
            "form": form
            or {"name": rule.name, "condition": pretty(rule.condition), "enabled": rule.enabled},
            "error": error,
            "everyone": everyone,
            "title": rule.name,
        },
        status_code=422 if error else 200,
    )


@pages.get("/{rule_id}", response_class=HTMLResponse)
async def rule_detail(
    request: Request, rule_id: int, session: DbSession, actor: Reader
) -> HTMLResponse:
    return await _detail_page(request, session, actor, rule_id)


@pages.post("/{rule_id}", response_class=HTMLResponse)
async def update_rule(
    request: Request,
    rule_id: int,
    session: DbSession,
    actor: Manager,
    name: Annotated[str, Form()] = "",
    condition: Annotated[str, Form()] = "",
    enabled: Annotated[str, Form()] = "",
    confirm_all: Annotated[str, Form()] = "",
) -> Response:
    await service.get_rule(session=session, shop_id=actor.shop_id, rule_id=rule_id)  # 404 first
    form = {"name": name, "condition": condition, "enabled": enabled == "1"}
    try:
        data = TagRuleUpdate(
            name=name.strip() or None,
            condition=read_condition(condition),
            enabled=enabled == "1",
            confirm_all=confirm_all == "1",
        )
        await service.update_rule(session=session, actor=actor, rule_id=rule_id, data=data)
    except FormErrors as exc:
        everyone = isinstance(exc, Conflict) and exc.code == "rule_matches_everyone"
        return await _detail_page(request, session, actor, rule_id, form, error_text(exc), everyone)
    flash(request, translate(request, N_("Tag rule saved.")))
    return redirect(f"/console/tag-rules/{rule_id}")


@pages.post("/{rule_id}/run")
async def run_rule(request: Request, rule_id: int, session: DbSession, actor: Manager) -> Response:
    run = await service.apply_rule(session=session, shop_id=actor.shop_id, rule_id=rule_id)
    flash(
        request,
        translate(
            request,
            N_(
                "Rule applied: %(members)s customers match, %(added)s tagged, %(removed)s untagged."
            ),
            members=run.members,
            added=run.added,
            removed=run.removed,
        ),
    )
    return redirect(f"/console/tag-rules/{rule_id}")


@pages.post("/{rule_id}/delete")
async def delete_rule(
    request: Request, rule_id: int, session: DbSession, actor: Manager
) -> Response:
    removed = await service.delete_rule(session=session, actor=actor, rule_id=rule_id)
    flash(
        request,
        translate(request, N_("Tag rule deleted; %(n)s rule tags removed."), n=removed),
    )
    return redirect("/console/tag-rules")


router.include_router(pages)
