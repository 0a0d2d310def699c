"""Many joins at once on separate connections: a group never passes its capacity, and a
customer joining twice at once gets one stay."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from liveloop.core.errors import Conflict
from liveloop.customers import service as customers_service
from liveloop.customers.communities import service
from liveloop.customers.communities.models import CommunityMember
from liveloop.customers.communities.schemas import CommunityIn
from liveloop.shops import service as shops_service
from tests.factories.shops import drop_shop


async def test_concurrent_joins_respect_the_capacity(database) -> None:
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="入群并发测试")
        ids = await customers_service.insert_customer_rows(
            session=session, rows=[{"shop_id": shop.id} for _ in range(12)]
        )
        community = await service.create_community(
            session=session, shop_id=shop.id, data=CommunityIn(name="VIP会员群", capacity=5)
        )
        await session.commit()
    try:

        async def join(customer_id: int) -> str:
            async with database.sessionmaker() as session:
                try:
                    await service.join_community(
                        session=session, shop_id=shop.id, community_id=community.id,
                        customer_id=customer_id, source="live_welfare",
                    )  # fmt: skip
                    await session.commit()
                    return "ok"
                except Conflict as error:
                    await session.rollback()
                    return error.code

        # Every customer tries twice, all at once.
        results = await asyncio.gather(*(join(c) for c in ids for _ in range(2)))
        assert set(results) <= {"ok", "community_full"}
        async with database.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(CommunityMember.customer_id, func.count())
                    .where(CommunityMember.community_id == community.id)
                    .group_by(CommunityMember.customer_id)
                )
            ).all()
        assert len(rows) == 5  # exactly the capacity: enough demand to fill it
        assert all(count == 1 for _, count in rows)  # one stay each, however many joins
    finally:
        async with database.sessionmaker() as session:
            await drop_shop(session, shop.id)
            await session.commit()
