"""Console page of flash sales: create (carving SKU stock), list with sold/remaining, stop,
show again in the live room."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from liveloop.commerce.coupons.pages import FormErrors, error_text, local_time, yuan_to_fen
from liveloop.commerce.flash import service
from liveloop.commerce.flash.schemas import FlashSaleCreate
from liveloop.core.database import utcnow
from liveloop.core.deps import DbSession
from liveloop.core.errors import LiveLoopError
from liveloop.core.schemas import parse_id
from liveloop.live.outbox import send_after_commit
from liveloop.shops.auth import console_requires
from liveloop.shops.permissions import Permission as P
from liveloop.shops.service import Actor
from liveloop.web.console import console_router, redirect
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import flash, render

router = APIRouter(include_in_schema=False)
pages = console_router(prefix="/console/flash-sales")

Reader = Annotated[Actor, console_requires(P.CATALOG_READ)]
Writer = Annotated[Actor, console_requires(P.ORDERS_MANAGE)]
LiveManager = Annotated[Actor, console_requires(P.LIVE_MANAGE)]
FIELDS = ("sku_id", "title", "price", "quantity", "per_customer_limit", "starts_at", "ends_at",
          "live_session_id")  # fmt: skip


async def _list_page(
    request: Request,
    session: DbSession,
    actor: Actor,
    page: int,
    form: dict[str, str] | None = None,
    error: str = "",
) -> HTMLResponse:
    from liveloop.commerce.coupons import service as coupons_service

    result = await service.list_flash_sales(
        session=session, shop_id=actor.shop_id, page=page, per_page=20
    )
    now = utcnow()
    return render(
        request,
        "commerce/flash/list.html",
        {
            "page": result,
            "states": {sale.id: sale.state_at(now) for sale in result.items},
            "live_sessions": await coupons_service.live_sessions_for_push(
                session=session, shop_id=actor.shop_id
            ),
            "form": form or {name: "" for name in FIELDS},
            "error": error,
            "title": translate(request, N_("Flash sales")),
        },
        status_code=422 if error else 200,
    )


@pages.get("", response_class=HTMLResponse)
async def flash_sale_list(
    request: Request, session: DbSession, actor: Reader, page: Annotated[int, Query(ge=1)] = 1
) -> HTMLResponse:
    return await _list_page(request, session, actor, page)


@pages.post("", response_class=HTMLResponse)
async def create_flash_sale(request: Request, session: DbSession, actor: Writer) -> Response:
    raw = await request.form()
    form = {name: str(raw.get(name) or "").strip() for name in FIELDS}
    zone = getattr(request.state.shop, "timezone", None) or "Asia/Shanghai"
    try:
        data = FlashSaleCreate.model_validate(
            {
                "sku_id": parse_id(form["sku_id"]) or 0,
                "title": form["title"],
                "price_fen": yuan_to_fen(form["price"], "price"),
                "quantity": parse_id(form["quantity"]) or 0,
                "per_customer_limit": parse_id(form["per_customer_limit"]) or 1,
                "starts_at": local_time(form["starts_at"], zone, "starts_at") or utcnow(),
                "ends_at": local_time(form["ends_at"], zone, "ends_at"),
                "live_session_id": parse_id(form["live_session_id"]),
            }
        )
        sale = await service.create_flash_sale(session=session, shop_id=actor.shop_id, data=data)
    except FormErrors as exc:
        return await _list_page(request, session, actor, 1, form, error_text(exc))
    flash(request, translate(request, N_("Flash sale %(title)s created."), title=sale.title))
    return redirect("/console/flash-sales")


@pages.post("/{flash_sale_id}/stop")
async def stop(request: Request, flash_sale_id: int, session: DbSession, actor: Writer) -> Response:
    await service.get_flash_sale(  # another shop's sale is a 404, not a note
        session=session, shop_id=actor.shop_id, flash_sale_id=flash_sale_id
    )
    try:
        sale = await service.stop_flash_sale(
            session=session, shop_id=actor.shop_id, flash_sale_id=flash_sale_id
        )
    except LiveLoopError as exc:
        flash(request, exc.message, "error")
    else:
        flash(
            request,
            translate(
                request,
                N_("Flash sale stopped; %(n)s unsold units are back in stock."),
                n=sale.returned_quantity,
            ),
        )
    return redirect("/console/flash-sales")


@pages.post("/{flash_sale_id}/announce")
async def announce(
    request: Request, flash_sale_id: int, session: DbSession, actor: LiveManager
) -> Response:
    sale = await service.get_flash_sale(
        session=session, shop_id=actor.shop_id, flash_sale_id=flash_sale_id
    )
    if sale.live_session_id is None:
        flash(
            request, translate(request, N_("This flash sale belongs to no live session.")), "error"
        )
    else:
        send_after_commit(
            session, live_session_id=sale.live_session_id, message=service.flash_sale_message(sale)
        )
        flash(request, translate(request, N_("Flash sale shown in the live room.")))
    return redirect("/console/flash-sales")


router.include_router(pages)
