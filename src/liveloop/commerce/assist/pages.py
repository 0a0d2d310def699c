"""Console pages of assist (campaigns, their assists, the abuse list) and the share page
/assist/{code} where friends help."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from liveloop.catalog.pages import yuan_to_fen
from liveloop.commerce.assist import service
from liveloop.commerce.assist.models import RefusalReason
from liveloop.commerce.assist.schemas import AssistCampaignCreate
from liveloop.commerce.groupbuy.pages import error_text
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
register_html_error_page("/assist", render_error_page)  # the share page is opened in a browser
pages = console_router(prefix="/console/assists")
Manager = Annotated[Actor, console_requires(P.ORDERS_MANAGE)]
PER_PAGE = 20

ASSIST_STATUS = {"open": N_("Open"), "completed": N_("Completed"), "expired": N_("Expired")}
REFUSAL_TEXT = {
    RefusalReason.SELF_HELP.value: N_("Helping oneself"),
    RefusalReason.ALREADY_HELPED.value: N_("Helped before in this campaign"),
    RefusalReason.DEVICE_USED.value: N_("Same device as an earlier helper"),
    RefusalReason.NOT_NEW_CUSTOMER.value: N_("Not a new customer"),
    RefusalReason.HELPER_CAP.value: N_("Campaign cap reached"),
    RefusalReason.ASSIST_CLOSED.value: N_("Assist complete or expired"),
    RefusalReason.NO_CUSTOMER.value: N_("Guest without a phone number"),
}


@pages.get("", response_class=HTMLResponse)
async def campaign_list(
    request: Request, session: DbSession, actor: Manager, page: Annotated[int, Query(ge=1)] = 1
) -> HTMLResponse:
    result = await paginate(
        session, service.campaigns_query(shop_id=actor.shop_id), page=page, per_page=PER_PAGE
    )
    return render(
        request,
        "commerce/assist/list.html",
        {"page": result, "title": translate(request, N_("Assists"))},
    )


@pages.post("")
async def create_campaign(
    request: Request,
    session: DbSession,
    actor: Manager,
    title: Annotated[str, Form()] = "",
    reward_kind: Annotated[str, Form()] = "price_cut",
    sku_id: Annotated[str, Form()] = "",
    target_price: Annotated[str, Form()] = "",
    coupon_id: Annotated[str, Form()] = "",
    helpers_needed: Annotated[str, Form()] = "",
    time_limit_minutes: Annotated[str, Form()] = "1440",
    max_helps: Annotated[str, Form()] = "",
    new_customers_only: Annotated[str, Form()] = "",
) -> Response:
    try:
        price_cut = reward_kind == "price_cut"
        data = AssistCampaignCreate(
            title=title,
            reward_kind="price_cut" if price_cut else "coupon",
            sku_id=parse_id(sku_id) if price_cut else None,
            target_price_fen=yuan_to_fen(target_price, "target_price") if price_cut else None,
            coupon_id=None if price_cut else parse_id(coupon_id),
            helpers_needed=parse_id(helpers_needed) or 0,
            time_limit_minutes=parse_id(time_limit_minutes) or 0,
            max_helps=parse_id(max_helps),
            new_customers_only=new_customers_only == "1",
        )
        async with session.begin_nested():
            campaign = await service.create_campaign(session=session, actor=actor, data=data)
    except (InvalidInput, Conflict, NotFound, ValidationError) as exc:
        flash(request, error_text(exc), "error")
        return redirect("/console/assists")
    flash(request, translate(request, N_("Assist campaign created.")))
    return redirect(f"/console/assists/{campaign.id}")


@pages.get("/{assist_campaign_id}", response_class=HTMLResponse)
async def campaign_detail(
    request: Request,
    assist_campaign_id: int,
    session: DbSession,
    actor: Manager,
    reason: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    campaign = await service.get_campaign(
        session=session, shop_id=actor.shop_id, campaign_id=assist_campaign_id
    )
    assists = await paginate(
        session,
        service.assists_query(shop_id=actor.shop_id, campaign_id=campaign.id),
        page=page,
        per_page=PER_PAGE,
    )
    refusals = await paginate(
        session,
        service.refusals_query(
            shop_id=actor.shop_id,
            campaign_id=campaign.id,
            reason=reason if reason in REFUSAL_TEXT else None,
        ),
        page=1,
        per_page=100,
    )
    return render(
        request,
        "commerce/assist/detail.html",
        {
            "campaign": campaign,
            "assists": assists,
            "refusals": refusals,
            "reason": reason,
            "assist_status": ASSIST_STATUS,
            "refusal_text": REFUSAL_TEXT,
            "title": campaign.title,
        },
    )


@pages.post("/{assist_campaign_id}/end")
async def end_campaign(
    request: Request, assist_campaign_id: int, session: DbSession, actor: Manager
) -> Response:
    await service.end_campaign(session=session, actor=actor, campaign_id=assist_campaign_id)
    flash(request, translate(request, N_("Assist campaign ended.")))
    return redirect(f"/console/assists/{assist_campaign_id}")


@router.get("/assist/{code}", response_class=HTMLResponse)
async def share_page(request: Request, code: str, session: DbSession) -> HTMLResponse:
    shop_id = await service.find_assist_shop(session=session, code=code[:16])
    if shop_id is None:
        raise NotFound(f"assist {code} was not found", code="assist_not_found")
    assist = await service.get_assist_by_code(session=session, shop_id=shop_id, code=code)
    view = await service.assist_view(session=session, assist=assist)
    config = {
        "code": assist.code,
        "expires_at": view["expires_at"].isoformat(),
        "now": dt.datetime.now(dt.UTC).isoformat(),
    }
    return render(
        request,
        "commerce/assist/share.html",
        {"view": view, "config": config, "assist_status": ASSIST_STATUS, "title": view["title"]},
    )


router.include_router(pages)
