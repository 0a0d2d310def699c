"""Console pages of group buy (campaigns, their groups, a group's members) and the viewer's
share page /group/{code} (members masked, countdown, join)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from liveloop.catalog.pages import yuan_to_fen
from liveloop.commerce.groupbuy import service
from liveloop.commerce.groupbuy.schemas import CampaignCreate, GroupSettingsIn
from liveloop.core.database import paginate
from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict, InvalidInput, NotFound, register_html_error_page
from liveloop.core.schemas import parse_id
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, redirect
from liveloop.web.errors import render_error_page
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
register_html_error_page("/group", render_error_page)  # the share page is opened in a browser
register_html_error_page("/group-buy", render_error_page)  # and so is the start page
pages = console_router(prefix="/console/group-buys")
Manager = Annotated[Actor, console_requires(P.ORDERS_MANAGE)]
ShopManager = Annotated[Actor, console_requires(P.SHOP_MANAGE)]
LiveManager = Annotated[Actor, console_requires(P.LIVE_MANAGE)]
PER_PAGE = 20
FormErrors = (InvalidInput, Conflict, NotFound)

GROUP_STATUS = {"open": N_("Open"), "confirmed": N_("Confirmed"), "failed": N_("Failed")}
MEMBER_STATUS = {
    "pending": N_("Awaiting payment"),
    "paid": N_("Paid"),
    "refunded": N_("Refunded"),
    "cancelled": N_("Cancelled"),
}


def error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg'].removeprefix('Value error, ')}"
    return str(getattr(exc, "message", exc))


@pages.get("", response_class=HTMLResponse)
async def campaign_list(
    request: Request, session: DbSession, actor: Manager, page: Annotated[int, Query(ge=1)] = 1
) -> HTMLResponse:
    result = await paginate(
        session, service.campaigns_query(shop_id=actor.shop_id), page=page, per_page=PER_PAGE
    )
    settings = await service.get_settings(session=session, shop_id=actor.shop_id)
    return render(
        request,
        "commerce/groupbuy/list.html",
        {
            "page": result,
            "settings": settings,
            "form": {},
            "title": translate(request, N_("Group buys")),
        },
    )


@pages.post("")
async def create_campaign(
    request: Request,
    session: DbSession,
    actor: Manager,
    title: Annotated[str, Form()] = "",
    sku_id: Annotated[str, Form()] = "",
    group_price: Annotated[str, Form()] = "",
    group_size: Annotated[str, Form()] = "",
    time_limit_minutes: Annotated[str, Form()] = "",
    per_customer_limit: Annotated[str, Form()] = "1",
    live_session_id: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = CampaignCreate(
            title=title,
            sku_id=parse_id(sku_id) or 0,
            group_price_fen=yuan_to_fen(group_price, "group_price"),
            group_size=parse_id(group_size) or 0,
            time_limit_minutes=parse_id(time_limit_minutes) or 0,
            per_customer_limit=parse_id(per_customer_limit) or 0,
            live_session_id=parse_id(live_session_id),
        )
        async with session.begin_nested():
            campaign = await service.create_campaign(session=session, actor=actor, data=data)
    except (*FormErrors, ValidationError) as exc:
        flash(request, error_text(exc), "error")
        return redirect("/console/group-buys")
    flash(request, translate(request, N_("Group buy created.")))
    return redirect(f"/console/group-buys/{campaign.id}")


@pages.post("/settings")
async def save_settings(
    request: Request,
    session: DbSession,
    actor: ShopManager,
    simulate_group: Annotated[str, Form()] = "",
) -> Response:
    await service.update_settings(
        session=session, actor=actor, data=GroupSettingsIn(simulate_group=simulate_group == "1")
    )
    flash(request, translate(request, N_("Settings saved.")))
    return redirect("/console/group-buys")


@pages.get("/groups/{buy_group_id}", response_class=HTMLResponse)
async def group_detail(
    request: Request, buy_group_id: int, session: DbSession, actor: Manager
) -> HTMLResponse:
    group = await service.get_group(session=session, shop_id=actor.shop_id, group_id=buy_group_id)
    campaign = await service.get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=group.campaign_id
    )
    members = await service.list_members(session=session, shop_id=actor.shop_id, group_id=group.id)
    return render(
        request,
        "commerce/groupbuy/group.html",
        {
            "group": group,
            "campaign": campaign,
            "members": members,
            "group_status": GROUP_STATUS,
            "member_status": MEMBER_STATUS,
            "now": dt.datetime.now(dt.UTC),
            "title": translate(request, N_("Group %(code)s"), code=group.code),
        },
    )


@pages.post("/groups/{buy_group_id}/close")
async def close_group(
    request: Request, buy_group_id: int, session: DbSession, actor: Manager
) -> Response:
    """Run the deadline now for a group past it (the job and sweeper normally do)."""
    group = await service.get_group(session=session, shop_id=actor.shop_id, group_id=buy_group_id)
    status = await service.close_group(session=session, shop_id=actor.shop_id, group_id=group.id)
    if status == "open":
        flash(request, translate(request, N_("The group is still within its time limit.")), "error")
    else:
        flash(request, translate(request, N_("Group closed.")))
    return redirect(f"/console/group-buys/groups/{group.id}")


@pages.get("/{group_buy_id}", response_class=HTMLResponse)
async def campaign_detail(
    request: Request,
    group_buy_id: int,
    session: DbSession,
    actor: Manager,
    status: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    campaign = await service.get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=group_buy_id
    )
    statement = service.groups_query(
        shop_id=actor.shop_id,
        campaign_id=campaign.id,
        status=status if status in GROUP_STATUS else None,
    )
    result = await paginate(session, statement, page=page, per_page=PER_PAGE)
    return render(
        request,
        "commerce/groupbuy/detail.html",
        {
            "campaign": campaign,
            "page": result,
            "status": status,
            "group_status": GROUP_STATUS,
            "title": campaign.title,
        },
    )


@pages.post("/{group_buy_id}/end")
async def end_campaign(
    request: Request, group_buy_id: int, session: DbSession, actor: Manager
) -> Response:
    await service.end_campaign(session=session, actor=actor, campaign_id=group_buy_id)
    flash(request, translate(request, N_("Group buy ended; open groups run to their deadline.")))
    return redirect(f"/console/group-buys/{group_buy_id}")


@pages.post("/{group_buy_id}/room")
async def room_action(
    request: Request,
    group_buy_id: int,
    session: DbSession,
    actor: LiveManager,
    live_session_id: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "push",
) -> Response:
    """The anchor console's buttons: show the group buy in the room, or take it down."""
    room_id = parse_id(live_session_id) or 0
    await service.get_campaign(session=session, shop_id=actor.shop_id, campaign_id=group_buy_id)
    try:
        async with session.begin_nested():
            if action == "withdraw":
                await service.withdraw_campaign_from_live(
                    session=session, actor=actor, campaign_id=group_buy_id, live_session_id=room_id
                )
            else:
                await service.push_campaign_to_live(
                    session=session, actor=actor, campaign_id=group_buy_id, live_session_id=room_id
                )
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
    else:
        done = (
            N_("Group buy taken down.")
            if action == "withdraw"
            else N_("Group buy shown in the room.")
        )
        flash(request, translate(request, done))
    return redirect(f"/console/live/{room_id}" if room_id else "/console/group-buys")


@router.get("/group/{code}", response_class=HTMLResponse)
async def share_page(request: Request, code: str, session: DbSession) -> HTMLResponse:
    """The page a shared group link opens: who is in (masked), seats left, the countdown."""
    shop_id = await service.find_group_shop(session=session, code=code[:16])
    if shop_id is None:
        raise NotFound(f"group {code} was not found", code="group_buy_group_not_found")
    group = await service.get_group_by_code(session=session, shop_id=shop_id, code=code)
    view = await service.group_view(session=session, group=group)
    from liveloop.catalog import service as catalog_service

    product = await catalog_service.get_product(
        session=session, shop_id=shop_id, product_id=view["product_id"]
    )
    sku = next((s for s in product.skus if s.id == view["sku_id"]), None)
    config = {
        "code": group.code,
        "product_id": view["product_id"],
        "sku_id": view["sku_id"],
        "group_price_fen": view["group_price_fen"],
        "expires_at": view["expires_at"].isoformat(),
        "now": dt.datetime.now(dt.UTC).isoformat(),
    }
    return render(
        request,
        "commerce/groupbuy/share.html",
        {
            "view": view,
            "product": product,
            "sku": sku,
            "config": config,
            "group_status": GROUP_STATUS,
            "title": view["title"],
        },
    )


@router.get("/group-buy/{group_buy_id}", response_class=HTMLResponse)
async def start_page(
    request: Request, group_buy_id: int, session: DbSession, room: str = ""
) -> HTMLResponse:
    """Start a group from a live room as a guest: the share page's form (who you are, where to
    send it), opening a new group. The room code is the capability, as for the room itself."""
    from liveloop.catalog import service as catalog_service
    from liveloop.live import service as live_service

    live_session = await live_service.get_by_code(session=session, code=room[:16])
    campaign = await service.get_campaign(
        session=session, shop_id=live_session.shop_id, campaign_id=group_buy_id
    )
    if campaign.live_session_id != live_session.id:
        raise NotFound(
            f"group buy {group_buy_id} was not found", code="group_buy_campaign_not_found"
        )
    service.check_campaign_open(campaign, dt.datetime.now(dt.UTC))
    product = await catalog_service.get_product(
        session=session, shop_id=campaign.shop_id, product_id=campaign.product_id
    )
    sku = next((s for s in product.skus if s.id == campaign.sku_id), None)
    view = {
        "title": campaign.title,
        "status": "open",
        "group_price_fen": campaign.group_price_fen,
        "group_size": campaign.group_size,
        "seats_taken": 0,
        "seats_left": campaign.group_size,
        "members": [],
    }
    config = {
        "campaign_id": campaign.id,
        "shop_id": campaign.shop_id,
        "room_code": live_session.code,
        "product_id": campaign.product_id,
        "sku_id": campaign.sku_id,
        "group_price_fen": campaign.group_price_fen,
    }
    return render(
        request,
        "commerce/groupbuy/share.html",
        {
            "view": view,
            "product": product,
            "sku": sku,
            "config": config,
            "starting": True,
            "group_status": GROUP_STATUS,
            "title": campaign.title,
        },
    )


router.include_router(pages)
