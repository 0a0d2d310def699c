"""Viewer pages outside the live room: the shop's mall (/mall/{shop_id}) with the same checkout
drawer, and "my orders" (/mall/{shop_id}/orders), both mobile-first and bilingual."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from liveloop.catalog import service as catalog_service
from liveloop.catalog.models import ProductStatus
from liveloop.commerce.viewer_api import product_card
from liveloop.core.deps import DbSession
from liveloop.core.errors import register_html_error_page
from liveloop.live.viewers import ViewerClaims, sign_viewer_token
from liveloop.shops import service as shops_service
from liveloop.web.errors import render_error_page
from liveloop.web.i18n import N_, translate
from liveloop.web.templating import DEFAULT_TIMEZONE, render

router = APIRouter(include_in_schema=False)
register_html_error_page("/mall", render_error_page)

PER_PAGE = 40


def guest_mall_token(request: Request, shop_id: int) -> str:
    """A guest token for this shop's mall (no live session); ordering turns it into a
    customer's token."""
    claims = ViewerClaims(
        shop_id=shop_id,
        live_session_id=None,
        customer_id=None,
        device_id=f"mall-{secrets.token_hex(8)}",
        name="访客",
    )
    return sign_viewer_token(request.app.state.settings, claims)


@router.get("/mall/{shop_id}", response_class=HTMLResponse)
async def mall(
    request: Request,
    shop_id: int,
    session: DbSession,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    shop = await shops_service.get_shop(session=session, shop_id=shop_id)
    result = await catalog_service.search_products(
        session=session,
        shop_id=shop.id,
        status=ProductStatus.ON_SHELF,
        page=page,
        per_page=PER_PAGE,
    )
    products = [product_card(p) for p in result.items if p.active_skus]
    return render(
        request,
        "commerce/mall.html",
        {
            "shop_name": shop.name,
            "shop_id": shop.id,
            "products": products,
            "page": result,
            "timezone": shop.timezone or DEFAULT_TIMEZONE,
            "checkout_token": guest_mall_token(request, shop.id),
            "checkout_shop_id": shop.id,
            "title": shop.name,
        },
    )


@router.get("/mall/{shop_id}/orders", response_class=HTMLResponse)
async def my_orders(request: Request, shop_id: int, session: DbSession) -> HTMLResponse:
    """The orders are read by the page with the buyer's saved token (they live on the phone);
    without one the page offers to log in with the phone and a texted code (guest token)."""
    shop = await shops_service.get_shop(session=session, shop_id=shop_id)
    return render(
        request,
        "commerce/my_orders.html",
        {
            "shop_name": shop.name,
            "shop_id": shop.id,
            "timezone": shop.timezone or DEFAULT_TIMEZONE,
            "checkout_shop_id": shop.id,
            "guest_token": guest_mall_token(request, shop.id),
            "title": translate(request, N_("My orders")),
        },
    )
