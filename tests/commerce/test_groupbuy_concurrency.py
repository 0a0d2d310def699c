"""Many buyers race for the last seats of one group on separate connections: never N+1.

Like tests/catalog/test_concurrency.py this commits for real, in a shop of its own that is
deleted at the end.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from liveloop.commerce.groupbuy import service as groupbuy
from liveloop.commerce.groupbuy.models import GroupBuyGroup, GroupBuyMember
from liveloop.commerce.groupbuy.schemas import CampaignCreate
from liveloop.core.errors import Conflict
from liveloop.core.jobs import queue
from liveloop.shops import service as shops_service
from liveloop.shops.service import system_actor
from tests import factories
from tests.factories.shops import drop_shop

JOINERS = 12
GROUP_SIZE = 4


async def test_the_last_seat_is_taken_once(database, settings) -> None:
    queue.configure(settings)  # commits for real, so the after-commit jobs are enqueued
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="拼团并发店")
        product = await factories.make_product(session, shop_id=shop.id, price_fen=9900, stock=100)
        campaign = await groupbuy.create_campaign(
            session=session,
            actor=system_actor(shop.id),
            data=CampaignCreate(
                title="四人团",
                sku_id=product.skus[0].id,
                group_price_fen=4900,
                group_size=GROUP_SIZE,
                time_limit_minutes=30,
            ),
        )
        buyers = []
        for number in range(JOINERS + 1):
            customer = await factories.make_customer(session, shop_id=shop.id, name=f"买家{number}")
            address = await factories.make_address(
                session, shop_id=shop.id, customer_id=customer.id
            )
            buyers.append((customer.id, address.id))
        leader = await groupbuy.open_group(
            session=session,
            shop_id=shop.id,
            campaign_id=campaign.id,
            customer_id=buyers[0][0],
            address_id=buyers[0][1],
        )
        code, group_id = leader.group.code, leader.group.id
        await session.commit()
    try:

        async def join(customer_id: int, address_id: int) -> str:
            async with database.sessionmaker() as buyer_session:
                try:
                    await groupbuy.join_group(
                        session=buyer_session,
                        shop_id=shop.id,
                        code=code,
                        customer_id=customer_id,
                        address_id=address_id,
                    )
                except Conflict as refused:
                    await buyer_session.rollback()
                    return refused.code
                await buyer_session.commit()
                return "joined"

        results = await asyncio.gather(*(join(c, a) for c, a in buyers[1:]))
        assert results.count("joined") == GROUP_SIZE - 1
        assert set(results) == {"joined", "group_full"}
        async with database.sessionmaker() as session:
            seats = (
                await session.execute(
                    select(GroupBuyGroup.seats_taken).where(GroupBuyGroup.id == group_id)
                )
            ).scalar_one()
            members = (
                await session.execute(
                    select(func.count()).where(GroupBuyMember.group_id == group_id)
                )
            ).scalar_one()
        assert seats == members == GROUP_SIZE
    finally:
        async with database.sessionmaker() as session:
            await drop_shop(session, shop.id)
            await session.commit()
