"""Many claims at once on separate connections: never over the total, never over the limit."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import select

from liveloop.commerce.coupons import service as coupons_service
from liveloop.commerce.coupons.models import Coupon, CustomerCoupon
from liveloop.commerce.coupons.schemas import CouponCreate
from liveloop.core.errors import Conflict
from liveloop.customers import service as customers_service
from liveloop.shops import service as shops_service
from tests.factories.shops import drop_shop


@pytest.mark.parametrize(("total", "limit"), [(25, 2), (100, 3)])
async def test_concurrent_claims_respect_total_and_limit(database, total: int, limit: int) -> None:
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="抢券测试店")
        ids = await customers_service.insert_customer_rows(
            session=session, rows=[{"shop_id": shop.id} for _ in range(20)]
        )
        coupon = await coupons_service.create_coupon(
            session=session,
            shop_id=shop.id,
            data=CouponCreate(
                title="直播间抢券",
                kind="amount_off",
                amount_off_fen=500,
                valid_days=3,
                total_quantity=total,
                per_customer_limit=limit,
                status="active",
            ),
        )
        await session.commit()
    try:

        async def claim(customer_id: int) -> str:
            async with database.sessionmaker() as session:
                try:
                    await coupons_service.claim_coupon(
                        session=session,
                        shop_id=shop.id,
                        coupon_id=coupon.id,
                        customer_id=customer_id,
                    )
                    await session.commit()
                    return "ok"
                except Conflict as error:
                    await session.rollback()
                    return error.code

        # Every customer tries limit + 2 times, all at once.
        results = await asyncio.gather(*(claim(c) for c in ids for _ in range(limit + 2)))
        assert set(results) <= {"ok", "used_up", "claim_limit_reached", "claim_busy"}
        async with database.sessionmaker() as session:
            claimed = (await session.get(Coupon, coupon.id)).claimed_count
            holders = Counter(
                (
                    await session.execute(
                        select(CustomerCoupon.customer_id).where(
                            CustomerCoupon.coupon_id == coupon.id
                        )
                    )
                ).scalars()
            )
        assert claimed == sum(holders.values()) == results.count("ok")
        assert claimed <= total
        assert max(holders.values()) <= limit
        if total < 20 * limit:
            assert claimed == total  # enough demand: every coupon is handed out
    finally:
        async with database.sessionmaker() as session:
            await drop_shop(session, shop.id)
            await session.commit()
