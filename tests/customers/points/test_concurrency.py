"""Concurrent redemptions and grants on separate connections, committed for real in a shop of
their own: the balance never goes below zero, nothing is spent twice, caps hold."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from liveloop.commerce.coupons.models import CustomerCoupon
from liveloop.core.errors import Conflict
from liveloop.customers.points import earning, redemption
from liveloop.customers.points import service as points
from liveloop.customers.points.models import EarnRule, PointsEntry, RedemptionItem
from liveloop.shops import service as shops_service
from tests import factories
from tests.customers.points.conftest import make_coupon
from tests.factories.shops import drop_shop

TASKS = 8


async def _drop_shop(database, shop_id: int) -> None:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        await drop_shop(session, shop_id)
        await session.commit()


async def test_concurrent_spends_never_overdraw(database) -> None:
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="积分并发店")
        customer = await factories.make_customer(session, shop_id=shop.id, name="并发")
        await points.grant_points(
            session=session, shop_id=shop.id, customer_id=customer.id, points=100, reason="manual"
        )
        await session.commit()
    try:

        async def spend(number: int) -> str:
            async with database.sessionmaker() as own:
                try:
                    await points.spend_points(
                        session=own, shop_id=shop.id, customer_id=customer.id, points=30,
                        idempotency_key=f"spend-{number % 5}",
                    )  # fmt: skip
                    await own.commit()
                    return "spent"
                except Conflict as error:
                    await own.rollback()
                    return error.code

        results = await asyncio.gather(*(spend(n) for n in range(TASKS)))
        async with database.sessionmaker() as session:
            held = await points.get_balance(
                session=session, shop_id=shop.id, customer_id=customer.id
            )
            spends = (
                await session.execute(
                    select(func.count()).where(
                        PointsEntry.shop_id == shop.id, PointsEntry.delta < 0
                    )
                )
            ).scalar_one()
            assert spends == 3  # 3 × 30 ≤ 100 < 4 × 30
            assert held.balance == 10
            assert await points.check_balances(session=session, shop_id=shop.id) == []
        assert set(results) <= {"spent", "insufficient_points"}
    finally:
        await _drop_shop(database, shop.id)


async def test_concurrent_redemptions_never_overdraw_or_oversell(database) -> None:
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="积分商城并发店")
        coupon = await make_coupon(session, shop.id, total=100)
        item = RedemptionItem(
            shop_id=shop.id, title="5元券", coupon_id=coupon.id, points_price=40, stock=3
        )
        session.add(item)
        rich = await factories.make_customer(session, shop_id=shop.id, name="甲")
        poor = await factories.make_customer(session, shop_id=shop.id, name="乙")
        for customer, amount in ((rich, 1000), (poor, 100)):
            await points.grant_points(
                session=session, shop_id=shop.id, customer_id=customer.id, points=amount,
                reason="manual",
            )  # fmt: skip
        await session.commit()
    try:

        async def redeem(customer_id: int) -> str:
            async with database.sessionmaker() as own:
                try:
                    await redemption.redeem(
                        session=own, shop_id=shop.id, customer_id=customer_id, item_id=item.id
                    )
                    await own.commit()
                    return "redeemed"
                except Conflict as error:
                    await own.rollback()
                    return error.code

        # The poor customer can afford 2; stock is 3 in all.
        await asyncio.gather(*(redeem(poor.id) for _ in range(TASKS)))
        results = await asyncio.gather(*(redeem(rich.id) for _ in range(TASKS)))
        async with database.sessionmaker() as session:
            balances = [
                (await points.get_balance(session=session, shop_id=shop.id, customer_id=c)).balance
                for c in (poor.id, rich.id)
            ]
            sold = (
                await session.execute(
                    select(RedemptionItem.redeemed_count).where(RedemptionItem.id == item.id)
                )
            ).scalar_one()
            coupons = (
                await session.execute(
                    select(func.count()).where(CustomerCoupon.coupon_id == coupon.id)
                )
            ).scalar_one()
            assert balances[0] == 100 - 2 * 40
            assert balances[1] == 1000 - 40 * (3 - 2)
            assert sold == 3 == coupons
            assert results.count("redeemed") == 1
            assert await points.check_balances(session=session, shop_id=shop.id) == []
    finally:
        await _drop_shop(database, shop.id)


async def test_concurrent_earning_keeps_the_daily_cap(database) -> None:
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="封顶并发店")
        customer = await factories.make_customer(session, shop_id=shop.id, name="评论家")
        session.add(EarnRule(shop_id=shop.id, event_type="comment", points=3, daily_cap=10))
        await session.commit()
    try:

        async def comment(number: int) -> int:
            async with database.sessionmaker() as own:
                entry = await earning.earn(
                    session=own, shop_id=shop.id, customer_id=customer.id,
                    event_type="comment", idempotency_key=f"event:c{number % 6}",
                )  # fmt: skip
                await own.commit()
                return entry.delta if entry else 0

        results = await asyncio.gather(*(comment(n) for n in range(TASKS)))
        async with database.sessionmaker() as session:
            held = await points.get_balance(
                session=session, shop_id=shop.id, customer_id=customer.id
            )
        assert held.balance == 10 == sum(results)  # 3 + 3 + 3 + 1
    finally:
        await _drop_shop(database, shop.id)


async def test_one_redemption_key_redeems_once_under_concurrency(database) -> None:
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="重复提交店")
        coupon = await make_coupon(session, shop.id, total=100)
        item = RedemptionItem(shop_id=shop.id, title="5元券", coupon_id=coupon.id, points_price=10)
        session.add(item)
        customer = await factories.make_customer(session, shop_id=shop.id, name="双击")
        await points.grant_points(
            session=session, shop_id=shop.id, customer_id=customer.id, points=100, reason="manual"
        )
        await session.commit()
    try:

        async def redeem() -> str:
            async with database.sessionmaker() as own:
                try:
                    done = await redemption.redeem(
                        session=own, shop_id=shop.id, customer_id=customer.id, item_id=item.id,
                        idempotency_key="double-tap",
                    )  # fmt: skip
                    await own.commit()
                    return f"ok:{done.id}"
                except Conflict as error:
                    await own.rollback()
                    return error.code

        results = await asyncio.gather(*(redeem() for _ in range(TASKS)))
        assert len({r for r in results if r.startswith("ok:")}) == 1, results
        others = {r for r in results if not r.startswith("ok:")}
        assert others <= {"redemption_in_progress"}, results
        async with database.sessionmaker() as session:
            held = await points.get_balance(
                session=session, shop_id=shop.id, customer_id=customer.id
            )
            coupons = (
                await session.execute(
                    select(func.count()).where(CustomerCoupon.coupon_id == coupon.id)
                )
            ).scalar_one()
        assert (held.balance, coupons) == (90, 1)
    finally:
        await _drop_shop(database, shop.id)
