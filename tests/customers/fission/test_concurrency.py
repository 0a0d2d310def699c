"""Invites qualifying at the same moment on separate connections: the reward is granted exactly
once per participant and the reward stock never goes below zero. Commits for real in a shop of
its own (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, func, select

from liveloop.commerce.coupons.models import CustomerCoupon
from liveloop.core.jobs import queue
from liveloop.customers.fission import service as fission
from liveloop.customers.fission.models import FissionCampaign, FissionParticipant, FissionReward
from liveloop.events.models import Event
from liveloop.shops import service as shops_service
from tests import factories
from tests.customers.fission.helpers import make_campaign
from tests.factories.shops import drop_shop

INVITEES = 8
NEEDED = 3


async def _accept_all(database, shop_id: int, pairs: list[tuple[str, int]]) -> list[str]:  # type: ignore[no-untyped-def]
    async def accept_once(number: int, code: str, invitee_id: int) -> str:
        async with database.sessionmaker() as session:
            outcome = await fission.accept_invite(
                session=session,
                shop_id=shop_id,
                code=code,
                invitee_customer_id=invitee_id,
                invitee_was_new=True,
                device_id=f"device-{number}",
                phone_key=None,
            )
            await session.commit()
            return outcome.status

    return list(await asyncio.gather(*(accept_once(n, c, i) for n, (c, i) in enumerate(pairs))))


async def _count(session, *where) -> int:  # type: ignore[no-untyped-def]
    return int((await session.execute(select(func.count()).where(*where))).scalar_one())


async def test_concurrent_invites_grant_the_reward_exactly_once(database, settings) -> None:
    queue.configure(settings)
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="裂变并发店")
        campaign = await make_campaign(session, shop.id, invitees_needed=NEEDED)
        inviter = await factories.make_customer(session, shop_id=shop.id, name="张伟")
        participant = await fission.join_campaign(
            session=session, shop_id=shop.id, campaign_id=campaign.id,
            customer_id=inviter.id, device_id="device-inviter",
        )  # fmt: skip
        invitees = [
            (await factories.make_customer(session, shop_id=shop.id, name=f"好友{n}")).id
            for n in range(INVITEES)
        ]
        code, participant_id, campaign_id = participant.code, participant.id, campaign.id
        await session.commit()
    try:
        results = await _accept_all(database, shop.id, [(code, i) for i in invitees])
        assert results == ["counted"] * INVITEES
        async with database.sessionmaker() as session:
            counted = (
                await session.execute(
                    select(FissionParticipant.counted_count).where(
                        FissionParticipant.id == participant_id
                    )
                )
            ).scalar_one()
            rewards = await _count(session, FissionReward.participant_id == participant_id)
            coupons = await _count(session, CustomerCoupon.customer_id == inviter.id)
            given = (
                await session.execute(
                    select(FissionCampaign.rewards_given).where(FissionCampaign.id == campaign_id)
                )
            ).scalar_one()
        assert (counted, rewards, coupons, given) == (INVITEES, 1, 1, 1)
    finally:
        async with database.sessionmaker() as session:
            # Events carry no foreign key: delete them, or a reused shop id inherits them.
            await session.execute(delete(Event).where(Event.shop_id == shop.id))
            await drop_shop(session, shop.id)
            await session.commit()


async def test_participants_reaching_the_goal_together_never_overdraw_the_stock(
    database, settings
) -> None:
    queue.configure(settings)
    stock, inviters = 2, 5
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="裂变库存店")
        campaign = await make_campaign(session, shop.id, invitees_needed=1, reward_stock=stock)
        pairs = []
        for n in range(inviters):
            customer = await factories.make_customer(session, shop_id=shop.id, name=f"邀请人{n}")
            participant = await fission.join_campaign(
                session=session, shop_id=shop.id, campaign_id=campaign.id,
                customer_id=customer.id, device_id=f"device-inviter-{n}",
            )  # fmt: skip
            invitee = await factories.make_customer(session, shop_id=shop.id, name=f"好友{n}")
            pairs.append((participant.code, invitee.id))
        campaign_id = campaign.id
        await session.commit()
    try:
        assert await _accept_all(database, shop.id, pairs) == ["counted"] * inviters
        async with database.sessionmaker() as session:
            statuses = (
                (
                    await session.execute(
                        select(FissionReward.status).where(FissionReward.campaign_id == campaign_id)
                    )
                )
                .scalars()
                .all()
            )
            given = (
                await session.execute(
                    select(FissionCampaign.rewards_given).where(FissionCampaign.id == campaign_id)
                )
            ).scalar_one()
        assert sorted(statuses) == ["granted"] * stock + ["out_of_stock"] * (inviters - stock)
        assert given == stock
    finally:
        async with database.sessionmaker() as session:
            # Events carry no foreign key: delete them, or a reused shop id inherits them.
            await session.execute(delete(Event).where(Event.shop_id == shop.id))
            await drop_shop(session, shop.id)
            await session.commit()
