"""Join callbacks racing on separate connections, committing for real (on PostgreSQL when
LIVELOOP_TEST_DATABASE_URL is set): the link retried from several devices and the channel
adapter at once join the customer once and grant the reward once. These tests make their own
shop and delete it at the end."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from liveloop.core.errors import LiveLoopError
from liveloop.core.jobs import queue
from liveloop.customers import service as customers_service
from liveloop.customers.communities.models import CommunityMember
from liveloop.customers.points.models import PointsEntry
from liveloop.events.models import Event
from liveloop.live.welfare import joins
from liveloop.live.welfare.schemas import ChannelConfirmIn
from liveloop.shops import service as shops_service
from liveloop.shops.models import AuditEntry
from liveloop.shops.service import system_actor
from tests.factories.live import make_live_session
from tests.factories.shops import drop_shop
from tests.live.welfare.conftest import SECRET, make_community, start, tap_and_sign


@pytest.fixture(autouse=True)
def job_queue(settings):  # type: ignore[no-untyped-def]
    queue.configure(settings)


async def _setup(database, customers: int):  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="入群福利测试店")
        actor = system_actor(shop.id, "test")
        room = await make_live_session(session, shop_id=shop.id, status="live")
        vip = await make_community(session, shop.id)
        ids = await customers_service.insert_customer_rows(
            session=session,
            rows=[{"shop_id": shop.id, "display_name": f"观众{n}"} for n in range(customers)],
        )
        offer = await start(session, actor, room.id, vip.id)
        tokens = {
            customer_id: await tap_and_sign(session, offer, customer_id) for customer_id in ids
        }
        await session.commit()
    return shop, offer, tokens


async def _by_link(database, token: str) -> Any:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        try:
            _, claim = await joins.confirm_by_link(session, token, secret=SECRET)
            await session.commit()
            return claim.outcome
        except LiveLoopError as refused:
            await session.rollback()
            return refused.code


async def _by_channel(database, shop_id: int, offer_id: int, customer_id: int) -> Any:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        try:
            _, claim = await joins.confirm_by_channel(
                session,
                actor=system_actor(shop_id, "channel"),
                offer_id=offer_id,
                data=ChannelConfirmIn(customer_id=customer_id),
                secret=SECRET,
            )
            await session.commit()
            return claim.outcome
        except LiveLoopError as refused:
            await session.rollback()
            return refused.code


async def _facts(database, shop_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        stays = (
            await session.execute(
                select(CommunityMember.customer_id, func.count())
                .where(CommunityMember.shop_id == shop_id)
                .group_by(CommunityMember.customer_id)
            )
        ).all()
        granted = (
            await session.execute(
                select(PointsEntry.customer_id, func.count())
                .where(PointsEntry.shop_id == shop_id, PointsEntry.ref_type == "welfare")
                .group_by(PointsEntry.customer_id)
            )
        ).all()
        grants = await session.scalar(
            select(func.count()).where(
                AuditEntry.shop_id == shop_id, AuditEntry.action == "live.welfare_grant"
            )
        )
    return {"stays": dict(stays), "granted": dict(granted), "grants": int(grants or 0)}


async def _drop(database, shop) -> None:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        await session.execute(delete(Event).where(Event.shop_id == shop.id))  # no foreign key
        await drop_shop(session, shop.id)
        await session.commit()


async def test_one_customer_confirmed_many_times_at_once_is_rewarded_once(database) -> None:
    shop, offer, tokens = await _setup(database, customers=1)
    ((customer_id, token),) = tokens.items()
    try:
        results = await asyncio.gather(
            *(_by_link(database, token) for _ in range(8)),
            *(_by_channel(database, shop.id, offer.id, customer_id) for _ in range(4)),
        )
        # Whichever settles first grants; the other uses of the link are refused as replays
        # (all eight when the channel came first), the channel's repeats answer the outcome.
        by_link = Counter(results[:8])
        assert by_link["rewarded"] <= 1, results
        assert by_link["rewarded"] + by_link["welfare_link_used"] == 8, results
        assert results[8:] == ["rewarded"] * 4, results
        facts = await _facts(database, shop.id)
        assert facts == {"stays": {customer_id: 1}, "granted": {customer_id: 1}, "grants": 1}
    finally:
        await _drop(database, shop)


async def test_many_customers_racing_each_get_one_reward(database) -> None:
    shop, _offer, tokens = await _setup(database, customers=12)
    try:
        calls = [token for token in tokens.values() for _ in range(3)]
        random.Random(3).shuffle(calls)
        results = await asyncio.gather(*(_by_link(database, token) for token in calls))
        # Each link settles once; its two replays are refused.
        assert Counter(results) == {"rewarded": len(tokens), "welfare_link_used": 2 * len(tokens)}
        facts = await _facts(database, shop.id)
        assert facts["stays"] == dict.fromkeys(tokens, 1)
        assert facts["granted"] == dict.fromkeys(tokens, 1)
        assert facts["grants"] == len(tokens)
    finally:
        await _drop(database, shop)
