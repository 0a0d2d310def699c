"""Console pages of affiliates: KOL/KOC list with GMV and commission, an affiliate's codes,
rates, orders and commission, the settlement CSV (audited) and the return-window settings."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from liveloop.commerce.affiliates import service
from liveloop.commerce.affiliates.api import settlement_csv
from liveloop.commerce.affiliates.schemas import (
    AffiliateCreate,
    AffiliateSettingsIn,
    CodeCreate,
    ProductRateIn,
)
from liveloop.commerce.groupbuy.pages import error_text
from liveloop.core.database import paginate
from liveloop.core.deps import DbSession
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.core.schemas import parse_id
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/affiliates")
Manager = Annotated[Actor, console_requires(P.ORDERS_MANAGE)]
ShopManager = Annotated[Actor, console_requires(P.SHOP_MANAGE)]
FormErrors = (InvalidInput, Conflict, NotFound, ValidationError)
COMMISSION_STATUS = {"pending": N_("Pending"), "settled": N_("Settled"), "reversed": N_("Reversed")}


def percent_to_bp(value: str, field: str) -> int:
    """'12.5' (%) -> 1250 basis points; at most two decimals, 0–100."""
    try:
        percent = Decimal(value.strip().rstrip("%") or "0")
    except InvalidOperation:
        raise InvalidInput(f"{value!r} is not a percentage such as 10 or 12.5", field=field)
    if not percent.is_finite() or not 0 <= percent <= 100 or percent.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidInput(f"{value!r} is not a percentage between 0 and 100", field=field)
    return int(percent * 100)


@pages.get("", response_class=HTMLResponse)
async def affiliate_list(request: Request, session: DbSession, actor: Manager) -> HTMLResponse:
    summaries = await service.summaries(session=session, shop_id=actor.shop_id)
    settings = await service.get_settings(session=session, shop_id=actor.shop_id)
    return render(
        request,
        "commerce/affiliates/list.html",
        {
            "summaries": summaries,
            "settings": settings,
            "title": translate(request, N_("Affiliates")),
        },
    )


@pages.post("")
async def create_affiliate(
    request: Request,
    session: DbSession,
    actor: Manager,
    name: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "kol",
    rate: Annotated[str, Form()] = "",
    customer_id: Annotated[str, Form()] = "",
    staff_id: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = AffiliateCreate(
            name=name,
            kind="koc" if kind == "koc" else "kol",
            default_rate_bp=percent_to_bp(rate, "rate"),
            customer_id=parse_id(customer_id),
            staff_id=parse_id(staff_id),
        )
        async with session.begin_nested():
            affiliate = await service.create_affiliate(session=session, actor=actor, data=data)
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
        return redirect("/console/affiliates")
    flash(request, translate(request, N_("Affiliate created.")))
    return redirect(f"/console/affiliates/{affiliate.id}")


@pages.post("/settings")
async def save_settings(
    request: Request,
    session: DbSession,
    actor: ShopManager,
    return_window_days: Annotated[str, Form()] = "",
    ship_settle_days: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = AffiliateSettingsIn(
            return_window_days=parse_id(return_window_days) or 0,
            ship_settle_days=parse_id(ship_settle_days) or 0,
        )
        await service.update_settings(session=session, actor=actor, data=data)
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
    else:
        flash(request, translate(request, N_("Settings saved.")))
    return redirect("/console/affiliates")


@pages.get("/settlement.csv")
async def export_settlement(
    session: DbSession, actor: Manager, affiliate: str = "", status: str = ""
) -> Response:
    return await settlement_csv(
        session=session,
        actor=actor,
        affiliate_id=parse_id(affiliate),
        status=status if status in COMMISSION_STATUS else None,
    )


@pages.get("/{affiliate_id}", response_class=HTMLResponse)
async def affiliate_detail(
    request: Request,
    affiliate_id: int,
    session: DbSession,
    actor: Manager,
    status: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    affiliate = await service.get_affiliate(
        session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id
    )
    summary = next(
        s
        for s in await service.summaries(session=session, shop_id=actor.shop_id)
        if s["affiliate"].id == affiliate.id
    )
    codes = await service.list_codes(
        session=session, shop_id=actor.shop_id, affiliate_id=affiliate.id
    )
    rates = await service.list_product_rates(
        session=session, shop_id=actor.shop_id, affiliate_id=affiliate.id
    )
    orders = await paginate(
        session,
        service.affiliate_orders_query(shop_id=actor.shop_id, affiliate_id=affiliate.id),
        page=page,
        per_page=20,
    )
    commissions = await paginate(
        session,
        service.commissions_query(
            shop_id=actor.shop_id,
            affiliate_id=affiliate.id,
            status=status if status in COMMISSION_STATUS else None,
        ),
        page=1,
        per_page=200,
    )
    return render(
        request,
        "commerce/affiliates/detail.html",
        {
            "affiliate": affiliate,
            "summary": summary,
            "codes": codes,
            "rates": rates,
            "orders": orders,
            "commissions": commissions,
            "status": status,
            "commission_status": COMMISSION_STATUS,
            "title": affiliate.name,
        },
    )


@pages.post("/{affiliate_id}/codes")
async def add_code(
    request: Request,
    affiliate_id: int,
    session: DbSession,
    actor: Manager,
    code: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "promo",
) -> Response:
    await service.get_affiliate(session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id)
    try:
        data = CodeCreate(code=code, kind=kind if kind in ("promo", "share", "source") else "promo")  # type: ignore[arg-type]
        async with session.begin_nested():
            await service.add_code(
                session=session, actor=actor, affiliate_id=affiliate_id, data=data
            )
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
    else:
        flash(request, translate(request, N_("Code added.")))
    return redirect(f"/console/affiliates/{affiliate_id}")


@pages.post("/{affiliate_id}/rates")
async def set_rate(
    request: Request,
    affiliate_id: int,
    session: DbSession,
    actor: Manager,
    product_id: Annotated[str, Form()] = "",
    rate: Annotated[str, Form()] = "",
) -> Response:
    await service.get_affiliate(session=session, shop_id=actor.shop_id, affiliate_id=affiliate_id)
    try:
        data = ProductRateIn(
            product_id=parse_id(product_id) or 0, rate_bp=percent_to_bp(rate, "rate")
        )
        async with session.begin_nested():
            await service.set_product_rate(
                session=session, actor=actor, affiliate_id=affiliate_id, data=data
            )
    except FormErrors as exc:
        flash(request, error_text(exc), "error")
    else:
        flash(request, translate(request, N_("Rate saved.")))
    return redirect(f"/console/affiliates/{affiliate_id}")


router.include_router(pages)
