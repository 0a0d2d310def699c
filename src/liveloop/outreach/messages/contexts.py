"""The variables of a message for each customer: name, tier, points, coupon, the live session
(title, time in shop time, the recipient's own link and poster) and the session's product cards.

Loaded for a whole batch of customers in a few queries (broadcast batches are hundreds).
Every variable in `render.VARIABLES` is always present, empty when there is no value, so a
template checked at save time renders for every customer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog.models import Product, ProductImage
from liveloop.commerce.models import Order
from liveloop.customers.models import Customer
from liveloop.customers.points.models import CustomerPoints, MemberTier
from liveloop.live.models import LiveSession, LiveSessionProduct
from liveloop.shops.models import Shop, Staff

MAX_PRODUCTS = 6


def yuan(fen: int | None) -> str:
    return "" if fen is None else f"¥{fen / 100:.2f}"


def starts_at(when: dt.datetime, timezone: str | None) -> str:
    return when.astimezone(ZoneInfo(timezone or "Asia/Shanghai")).strftime("%m-%d %H:%M")


async def live_values(
    *,
    session: AsyncSession,
    shop: Shop,
    live_session: LiveSession | None,
    base_url: str = "",
    with_products: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(live, products) for a session, without the per-recipient link and poster."""
    if live_session is None:
        return {"title": "", "starts_at": "", "link": "", "poster_url": "", "anchor": ""}, []
    anchor = ""
    if live_session.anchor_id is not None:
        anchor = (
            await session.execute(select(Staff.name).where(Staff.id == live_session.anchor_id))
        ).scalar_one_or_none() or ""
    live = {
        "title": live_session.title,
        "starts_at": starts_at(live_session.planned_start, shop.timezone),
        "link": "",
        "poster_url": "",
        "anchor": anchor,
    }
    if not with_products:
        return live, []
    base = base_url
    rows = (
        await session.execute(
            select(Product)
            .join(LiveSessionProduct, LiveSessionProduct.product_id == Product.id)
            .where(LiveSessionProduct.live_session_id == live_session.id)
            .order_by(LiveSessionProduct.position, LiveSessionProduct.id)
            .limit(MAX_PRODUCTS)
        )
    ).scalars()
    products = list(rows)
    images: dict[int, str] = {}
    if products:
        for product_id, path in await session.execute(
            select(ProductImage.product_id, ProductImage.path)
            .where(ProductImage.product_id.in_([p.id for p in products]))
            .order_by(ProductImage.product_id, ProductImage.sort.desc())
        ):
            images[product_id] = f"{base}/media/{path}"
    cards = [
        {
            "name": product.name,
            "price": yuan(product.price_min_fen),
            "url": f"{base}/live/{live_session.code}",
            "image_url": images.get(product.id, ""),
        }
        for product in products
    ]
    return live, cards


async def contexts_for(
    *,
    session: AsyncSession,
    shop_id: int,
    customer_ids: Sequence[int],
    live_session_id: int | None,
    link_for: Callable[[int], str],
    poster_for: Callable[[int], str] | None = None,
    coupon_code: str | None = None,
    extra: Mapping[int, Mapping[str, Any]] | None = None,
    base_url: str = "",
) -> dict[int, dict[str, Any]]:
    """customer id -> the template variables; customers of another shop are left out."""
    shop = await session.get(Shop, shop_id)
    if shop is None:
        return {}
    live_session = None
    if live_session_id is not None:
        live_session = (
            await session.execute(
                select(LiveSession).where(
                    LiveSession.id == live_session_id, LiveSession.shop_id == shop_id
                )
            )
        ).scalar_one_or_none()
    live, products = await live_values(
        session=session, shop=shop, live_session=live_session, base_url=base_url
    )
    rows = await session.execute(
        select(Customer.id, Customer.display_name, CustomerPoints.balance, MemberTier.name)
        .outerjoin(CustomerPoints, CustomerPoints.customer_id == Customer.id)
        .outerjoin(MemberTier, MemberTier.id == CustomerPoints.tier_id)
        .where(Customer.shop_id == shop_id, Customer.id.in_(list(customer_ids)))
    )
    found = rows.all()
    paid_orders = dict(
        (
            await session.execute(
                select(Order.customer_id, func.count())
                .where(
                    Order.shop_id == shop_id,
                    Order.customer_id.in_([row[0] for row in found]),
                    Order.paid_at.is_not(None),
                )
                .group_by(Order.customer_id)
            )
        ).all()
    )
    extra = extra or {}
    contexts: dict[int, dict[str, Any]] = {}
    for customer_id, name, points, tier in found:
        contexts[customer_id] = {
            "customer": {
                "name": name or "",
                "tier": tier or "",
                "points": points or 0,
                "orders": paid_orders.get(customer_id, 0),
            },
            "live": {
                **live,
                "link": link_for(customer_id),
                "poster_url": poster_for(customer_id) if poster_for else "",
            },
            "coupon": {"code": coupon_code or ""},
            "shop": {"name": shop.name},
            "products": products,
            "reminder": {"minutes": "", "text": ""},
            "unsubscribe_url": "",
            **dict(extra.get(customer_id, {})),
        }
    return contexts
