"""Many friends help one assist at once on separate connections: exactly N helps count, the
assist completes once and its coupon is granted once. Commits for real in a shop of its own."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from liveloop.commerce.assist import service as assist
from liveloop.commerce.assist.models import Assist, AssistHelp, AssistRefusal
from liveloop.commerce.assist.schemas import AssistCampaignCreate
from liveloop.commerce.coupons import service as coupons_service
from liveloop.commerce.coupons.models import CustomerCoupon
from liveloop.commerce.coupons.schemas import CouponCreate
from liveloop.core.jobs import queue
from liveloop.shops import service as shops_service
from liveloop.shops.service import system_actor
from tests import factories
from tests.factories.shops import drop_shop

HELPERS = 10
NEEDED = 3


async def test_the_last_help_counts_once_and_the_reward_is_granted_once(database, settings) -> None:
    queue.configure(settings)
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="助力并发店")
        coupon = await coupons_service.create_coupon(
            session=session,
            shop_id=shop.id,
            data=CouponCreate(
                title="助力券", kind="amount_off", amount_off_fen=500, total_quantity=10,
                valid_days=7, status="active",
            ),
        )  # fmt: skip
        campaign = await assist.create_campaign(
            session=session,
            actor=system_actor(shop.id),
            data=AssistCampaignCreate(
                title="三人助力", reward_kind="coupon", coupon_id=coupon.id, helpers_needed=NEEDED
            ),
        )
        owner = await factories.make_customer(session, shop_id=shop.id, name="张伟")
        started = await assist.start_assist(
            session=session,
            shop_id=shop.id,
            campaign_id=campaign.id,
            customer_id=owner.id,
            device_id="device-owner",
        )
        helpers = [
            (await factories.make_customer(session, shop_id=shop.id, name=f"好友{n}")).id
            for n in range(HELPERS)
        ]
        code, assist_id = started.code, started.id
        await session.commit()
    try:

        async def help_once(number: int, customer_id: int) -> str:
            async with database.sessionmaker() as helper_session:
                outcome = await assist.help_assist(
                    session=helper_session,
                    shop_id=shop.id,
                    code=code,
                    helper_customer_id=customer_id,
                    device_id=f"device-{number}",
                )
                await helper_session.commit()
                return outcome.reason

        results = await asyncio.gather(*(help_once(n, c) for n, c in enumerate(helpers)))
        assert results.count("helped") == NEEDED
        assert set(results) == {"helped", "assist_closed"}
        async with database.sessionmaker() as session:
            done = (
                await session.execute(select(Assist).where(Assist.id == assist_id))
            ).scalar_one()
            helps = (
                await session.execute(select(func.count()).where(AssistHelp.assist_id == assist_id))
            ).scalar_one()
            refusals = (
                await session.execute(
                    select(func.count()).where(AssistRefusal.assist_id == assist_id)
                )
            ).scalar_one()
            granted = (
                await session.execute(
                    select(func.count()).where(
                        CustomerCoupon.shop_id == shop.id, CustomerCoupon.customer_id == owner.id
                    )
                )
            ).scalar_one()
        assert (done.status, done.helpers_count, helps) == ("completed", NEEDED, NEEDED)
        assert refusals == HELPERS - NEEDED
        assert granted == 1 and done.customer_coupon_id is not None
    finally:
        async with database.sessionmaker() as session:
            await drop_shop(session, shop.id)
            await session.commit()
