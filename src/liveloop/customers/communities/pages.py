"""Console pages of communities: list with health figures, create, detail with members (add,
remove), edit, archive, and the group-tier promotion rules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.core.schemas import parse_id
from liveloop.customers.communities import callbacks, service
from liveloop.customers.communities.models import COMMUNITY_CHANNELS, COMMUNITY_KINDS
from liveloop.customers.communities.schemas import (
    CommunityIn,
    CommunityUpdate,
    MemberIn,
    PromotionRuleIn,
)
from liveloop.shops import service as shops_service
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/communities")

Reader = Annotated[Actor, console_requires(P.CUSTOMERS_READ)]
Writer = Annotated[Actor, console_requires(P.CUSTOMERS_WRITE)]
FormErrors = (InvalidInput, Conflict, NotFound, ValidationError, ValueError)
FIELDS = (
    "name", "kind", "channel", "external_id", "owner_staff_id", "capacity", "join_url",
    "description", "tier_level",
)  # fmt: skip
KIND_LABELS = {
    "newcomer": N_("Newcomer group"),
    "vip": N_("VIP group"),
    "incubation": N_("Incubation group"),
    "interest": N_("Interest group"),
    "other": N_("Other"),
}
CHANNEL_LABELS = {
    "wecom_group": N_("WeCom customer group"),
    "wechat_group": N_("WeChat group"),
    "miniprogram": N_("Mini-program community"),
    "other": N_("Other"),
}
SOURCE_LABELS = {
    "manual": N_("Added by staff"),
    "import": N_("Import"),
    "channel_code": N_("Channel code"),
    "join_link": N_("Join link"),
    "live_welfare": N_("Live welfare"),
    "fission": N_("Referral"),
    "promotion": N_("Promotion"),
}


def error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(getattr(exc, "message", exc))


def community_data(form: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": form["name"],
        "kind": form["kind"] or "other",
        "channel": form["channel"] or "other",
        "external_id": form["external_id"] or None,
        "owner_staff_id": parse_id(form["owner_staff_id"]),
        "join_url": form["join_url"] or None,
        "description": form["description"] or None,
    }
    for name in ("capacity", "tier_level"):
        if form[name]:
            number = parse_id(form[name]) if form[name] != "0" else 0
            if number is None:
                raise InvalidInput(f"{form[name]!r} is not a whole number", field=name)
            data[name] = number
    return data


async def _read_form(request: Request, names: tuple[str, ...] = FIELDS) -> dict[str, str]:
    raw = await request.form()
    return {name: str(raw.get(name) or "").strip() for name in names}


def _labels(request: Request, labels: dict[str, str]) -> dict[str, str]:
    return {key: translate(request, label) for key, label in labels.items()}


async def _common(request: Request, session: DbSession, actor: Actor) -> dict[str, Any]:
    return {
        "kinds": [(k, translate(request, KIND_LABELS[k])) for k in COMMUNITY_KINDS],
        "channels": [(c, translate(request, CHANNEL_LABELS[c])) for c in COMMUNITY_CHANNELS],
        "kind_labels": _labels(request, KIND_LABELS),
        "channel_labels": _labels(request, CHANNEL_LABELS),
        "source_labels": _labels(request, SOURCE_LABELS),
        "staff": await shops_service.list_staff(session=session, shop_id=actor.shop_id),
    }


# --- list, create, rules ----------------------------------------------------------------


async def _list_page(
    request: Request,
    session: DbSession,
    actor: Actor,
    *,
    form: dict[str, str] | None = None,
    error: str = "",
    rule_error: str = "",
) -> HTMLResponse:
    communities = await service.list_communities(session=session, shop_id=actor.shop_id)
    health = await service.community_health(
        session=session, shop_id=actor.shop_id, community_ids=[c.id for c in communities]
    )
    rules = await service.list_promotion_rules(session=session, shop_id=actor.shop_id)
    key = ""
    if actor.can(P.SHOP_MANAGE):
        secret = request.app.state.settings.resolved_secret_key()
        key = callbacks.join_callback_key(secret, actor.shop_id).hex()
    return render(
        request,
        "customers/communities/list.html",
        {
            **await _common(request, session, actor),
            "communities": communities,
            "names": {c.id: c.name for c in communities},
            "health": health,
            "rules": rules,
            "form": form or {name: "" for name in FIELDS},
            "error": error,
            "rule_error": rule_error,
            "callback_key": key,
            "callback_header": callbacks.SHOP_HEADER,
            "title": translate(request, N_("Communities")),
        },
        status_code=422 if error or rule_error else 200,
    )


@pages.get("", response_class=HTMLResponse)
async def community_list(request: Request, session: DbSession, actor: Reader) -> HTMLResponse:
    return await _list_page(request, session, actor)


@pages.post("", response_class=HTMLResponse)
async def create_community(request: Request, session: DbSession, actor: Writer) -> Response:
    form = await _read_form(request)
    try:
        data = CommunityIn.model_validate(community_data(form))
        async with session.begin_nested():
            community = await service.create_community(
                session=session, shop_id=actor.shop_id, data=data
            )
    except FormErrors as exc:
        return await _list_page(request, session, actor, form=form, error=error_text(exc))
    flash(request, translate(request, N_("Community %(name)s created."), name=community.name))
    return redirect(f"/console/communities/{community.id}")


RULE_FIELDS = ("name", "from_community_id", "to_community_id", "min_paid_orders", "window_days")


@pages.post("/rules", response_class=HTMLResponse)
async def create_rule(request: Request, session: DbSession, actor: Writer) -> Response:
    form = await _read_form(request, (*RULE_FIELDS, "leave_from"))
    try:
        data = PromotionRuleIn.model_validate(
            {
                "name": form["name"],
                "from_community_id": parse_id(form["from_community_id"]) or 0,
                "to_community_id": parse_id(form["to_community_id"]) or 0,
                "min_paid_orders": parse_id(form["min_paid_orders"]) or 1,
                "window_days": parse_id(form["window_days"]) or 30,
                "leave_from": form["leave_from"] == "1",
            }
        )
        async with session.begin_nested():
            await service.create_promotion_rule(session=session, shop_id=actor.shop_id, data=data)
    except FormErrors as exc:
        return await _list_page(request, session, actor, rule_error=error_text(exc))
    flash(request, translate(request, N_("Promotion rule saved.")))
    return redirect("/console/communities")


@pages.post("/rules/{promotion_rule_id}/run", response_class=HTMLResponse)
async def run_rule(
    request: Request, promotion_rule_id: int, session: DbSession, actor: Writer
) -> Response:
    promoted = await service.run_promotion_rule(
        session=session, shop_id=actor.shop_id, rule_id=promotion_rule_id
    )
    flash(request, translate(request, N_("%(n)s member(s) promoted."), n=promoted))
    return redirect("/console/communities")


@pages.post("/rules/{promotion_rule_id}/delete", response_class=HTMLResponse)
async def delete_rule(
    request: Request, promotion_rule_id: int, session: DbSession, actor: Writer
) -> Response:
    await service.delete_promotion_rule(
        session=session, shop_id=actor.shop_id, rule_id=promotion_rule_id
    )
    flash(request, translate(request, N_("Promotion rule deleted.")))
    return redirect("/console/communities")


# --- detail -------------------------------------------------------------------------------


async def _detail_page(
    request: Request,
    session: DbSession,
    actor: Actor,
    community_id: int,
    *,
    history: bool = False,
    page: int = 1,
    form: dict[str, str] | None = None,
    error: str = "",
    member_error: str = "",
) -> HTMLResponse:
    community = await service.get_community(
        session=session, shop_id=actor.shop_id, community_id=community_id
    )
    members = await service.list_members(
        session=session,
        shop_id=actor.shop_id,
        community_id=community.id,
        current_only=not history,
        page=page,
        per_page=50,
    )
    names = await service.customer_names(
        session=session, shop_id=actor.shop_id, customer_ids=[m.customer_id for m in members.items]
    )
    health = await service.community_health(
        session=session, shop_id=actor.shop_id, community_ids=[community.id]
    )
    values = form or {
        name: "" if getattr(community, name) is None else str(getattr(community, name))
        for name in FIELDS
    }
    return render(
        request,
        "customers/communities/detail.html",
        {
            **await _common(request, session, actor),
            "community": community,
            "health": health[community.id],
            "members": members,
            "names": names,
            "history": history,
            "form": values,
            "error": error,
            "member_error": member_error,
            "title": community.name,
        },
        status_code=422 if error or member_error else 200,
    )


@pages.get("/{community_id}", response_class=HTMLResponse)
async def community_detail(
    request: Request,
    community_id: int,
    session: DbSession,
    actor: Reader,
    history: bool = False,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    return await _detail_page(request, session, actor, community_id, history=history, page=page)


@pages.post("/{community_id}", response_class=HTMLResponse)
async def update_community(
    request: Request, community_id: int, session: DbSession, actor: Writer
) -> Response:
    form = await _read_form(request)
    try:
        data = CommunityUpdate.model_validate(community_data(form))
        async with session.begin_nested():
            await service.update_community(
                session=session, shop_id=actor.shop_id, community_id=community_id, data=data
            )
    except FormErrors as exc:
        return await _detail_page(
            request, session, actor, community_id, form=form, error=error_text(exc)
        )
    flash(request, translate(request, N_("Saved.")))
    return redirect(f"/console/communities/{community_id}")


@pages.post("/{community_id}/archive", response_class=HTMLResponse)
async def archive_community(
    request: Request, community_id: int, session: DbSession, actor: Writer
) -> Response:
    community = await service.get_community(
        session=session, shop_id=actor.shop_id, community_id=community_id
    )
    await service.archive_community(
        session=session,
        shop_id=actor.shop_id,
        community_id=community_id,
        archived=community.archived_at is None,
    )
    return redirect(f"/console/communities/{community_id}")


@pages.post("/{community_id}/members", response_class=HTMLResponse)
async def add_member(
    request: Request, community_id: int, session: DbSession, actor: Writer
) -> Response:
    form = await _read_form(request, ("customer_id",))
    try:
        data = MemberIn(customer_id=parse_id(form["customer_id"]) or 0, source="manual")
        async with session.begin_nested():
            stay = await service.join_community(
                session=session,
                shop_id=actor.shop_id,
                community_id=community_id,
                customer_id=data.customer_id,
                source=data.source,
                trigger=actor.label[:64],
            )
    except FormErrors as exc:
        return await _detail_page(
            request, session, actor, community_id, member_error=error_text(exc)
        )
    flash(request, translate(request, N_("Customer %(id)s is a member."), id=stay.customer_id))
    return redirect(f"/console/communities/{community_id}")


@pages.post("/{community_id}/members/{member_id}/remove", response_class=HTMLResponse)
async def remove_member(
    request: Request, community_id: int, member_id: int, session: DbSession, actor: Writer
) -> Response:
    await service.remove_member(
        session=session, shop_id=actor.shop_id, community_id=community_id, member_id=member_id
    )
    flash(request, translate(request, N_("Member removed.")))
    return redirect(f"/console/communities/{community_id}")


router.include_router(pages)
