"""Demo promotions: coupons claimed by the demo audience and flash sales in the on-air room —
one already sold out (real reservations, real orders, paid), one still on sale.

Everything goes through the services (claims, buy_flash_sale, mark_order_paid), so the demo
shows what the product does, not rows written by hand.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog import service as catalog_service
from liveloop.commerce.coupons import service as coupons_service
from liveloop.commerce.coupons.models import ClaimSource
from liveloop.commerce.coupons.schemas import CouponCreate
from liveloop.commerce.flash import service as flash_service
from liveloop.commerce.flash.schemas import FlashSaleCreate
from liveloop.core.database import utcnow


@dataclass(frozen=True)
class PromotionReport:
    coupons: int
    claims: int
    flash_sales: int
    flash_orders: int
    events: int  # analytics events the claims and orders wrote (coupon_claimed, order_paid…)


async def seed_promotions(
    *,
    session: AsyncSession,
    shop_id: int,
    live_session_id: int,
    sku_ids: Sequence[int],
    customer_ids: Sequence[int],
    seed: int = 7,
) -> PromotionReport:
    """Two coupons (one pushed in the room), a sold-out flash sale of 20 units bought by 20
    demo customers and paid, and a flash sale of 30 units on sale for the next two hours."""
    rng = random.Random(seed)
    now = utcnow()
    events_before = await _event_count(session, shop_id)
    room_coupon = await coupons_service.create_coupon(
        session=session,
        shop_id=shop_id,
        data=CouponCreate(
            title="直播专享 满199减20",
            kind="threshold",
            amount_off_fen=2000,
            threshold_fen=19900,
            valid_days=7,
            total_quantity=500,
            status="active",
        ),
    )
    welcome = await coupons_service.create_coupon(
        session=session,
        shop_id=shop_id,
        data=CouponCreate(
            title="新客无门槛5元",
            kind="amount_off",
            amount_off_fen=500,
            valid_until=now + dt.timedelta(days=30),
            total_quantity=2000,
            status="active",
        ),
    )
    claimers = rng.sample(list(customer_ids), min(120, len(customer_ids)))
    for customer_id in claimers:
        await coupons_service.claim_coupon(
            session=session,
            shop_id=shop_id,
            coupon_id=room_coupon.id,
            customer_id=customer_id,
            source=ClaimSource.LIVE,
            live_session_id=live_session_id,
        )
    for customer_id in claimers[:40]:
        await coupons_service.grant_coupon(
            session=session,
            shop_id=shop_id,
            coupon_id=welcome.id,
            customer_id=customer_id,
            reason="新客礼包",
        )
    flash_orders = await _sold_out_sale(
        session,
        shop_id=shop_id,
        live_session_id=live_session_id,
        sku_id=sku_ids[0],
        buyers=rng.sample(list(customer_ids), min(26, len(customer_ids))),
    )
    sku = await catalog_service.get_sku(session=session, shop_id=shop_id, sku_id=sku_ids[-1])
    await flash_service.create_flash_sale(
        session=session,
        shop_id=shop_id,
        data=FlashSaleCreate(
            sku_id=sku.id,
            title="整点秒杀",
            price_fen=max(sku.price_fen // 2, 1),
            quantity=min(30, sku.stock),
            per_customer_limit=1,
            starts_at=now,
            ends_at=now + dt.timedelta(hours=2),
            live_session_id=live_session_id,
        ),
    )
    return PromotionReport(
        coupons=2,
        claims=len(claimers) + 40,
        flash_sales=2,
        flash_orders=flash_orders,
        events=await _event_count(session, shop_id) - events_before,
    )


async def _event_count(session: AsyncSession, shop_id: int) -> int:
    from liveloop.events import service as events_service

    return (await events_service.list_events(session=session, shop_id=shop_id, per_page=1)).total


async def _sold_out_sale(
    session: AsyncSession,
    *,
    shop_id: int,
    live_session_id: int,
    sku_id: int,
    buyers: Sequence[int],
) -> int:
    """20 units, 26 buyers: the first 20 get one each and pay, the rest hear "sold out"."""
    from liveloop.commerce import orders
    from liveloop.core.errors import Conflict

    sku = await catalog_service.get_sku(session=session, shop_id=shop_id, sku_id=sku_id)
    now = utcnow()
    sale = await flash_service.create_flash_sale(
        session=session,
        shop_id=shop_id,
        data=FlashSaleCreate(
            sku_id=sku.id,
            title="开场秒杀",
            price_fen=max(sku.price_fen * 3 // 10, 1),
            quantity=min(20, sku.stock),
            per_customer_limit=1,
            starts_at=now - dt.timedelta(minutes=30),
            ends_at=now + dt.timedelta(hours=2),
            live_session_id=live_session_id,
        ),
    )
    placed = 0
    for customer_id in buyers:
        try:
            order = await flash_service.buy_flash_sale(
                session=session,
                shop_id=shop_id,
                flash_sale_id=sale.id,
                customer_id=customer_id,
                live_session_id=live_session_id,
            )
        except Conflict:
            continue  # sold out: the demo's late buyers
        await orders.mark_order_paid(
            session=session,
            shop_id=shop_id,
            order_id=order.id,
            amount_fen=order.total_fen,
            paid_at=utcnow(),
            payment_ref=f"demo-flash-{order.id}",
        )
        placed += 1
    return placed
