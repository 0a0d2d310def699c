"""The demo shop has points and tiers: rules, 银卡/金卡/钻石卡 with members, a catalogue, a
ledger that adds up, and tier changes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from liveloop.customers.points import earning, redemption, tiers
from liveloop.customers.points import service as points
from liveloop.customers.points.models import PointsEntry, TierChange
from liveloop.demo.seed import seed_demo


async def test_the_demo_shop_has_points_tiers_and_a_catalogue(session, settings) -> None:
    report = await seed_demo(session=session, customers=90, days=60, seed=5, settings=settings)
    shop_id = report.shop_id
    rules = await earning.list_rules(session=session, shop_id=shop_id)
    assert {r.event_type for r in rules} == set(earning.RULE_TYPES)
    names = [t.name for t in await tiers.list_tiers(session=session, shop_id=shop_id)]
    assert names == ["银卡", "金卡", "钻石卡"]
    members = await tiers.members_per_tier(session=session, shop_id=shop_id)
    assert sum(members.values()) >= 10 and len(members) >= 2, members
    assert len(await redemption.list_items(session=session, shop_id=shop_id)) == 3
    reasons = set(
        (
            await session.execute(
                select(PointsEntry.reason).where(PointsEntry.shop_id == shop_id).distinct()
            )
        ).scalars()
    )
    assert {"purchase", "check_in", "comment", "redeem"} <= reasons
    oldest = (
        await session.execute(
            select(func.min(PointsEntry.created_at)).where(PointsEntry.shop_id == shop_id)
        )
    ).scalar_one()
    assert oldest < dt.datetime.now(dt.UTC) - dt.timedelta(days=20)  # a history, not one day
    changes = (
        await session.execute(select(func.count()).where(TierChange.shop_id == shop_id))
    ).scalar_one()
    assert changes == sum(members.values())
    assert await points.check_balances(session=session, shop_id=shop_id) == []
    # The seed's history is not paid twice by the events job.
    before = (
        await session.execute(select(func.count()).where(PointsEntry.shop_id == shop_id))
    ).scalar_one()
    await earning.earn_from_events(session=session, settle=dt.timedelta(0))
    after = (
        await session.execute(select(func.count()).where(PointsEntry.shop_id == shop_id))
    ).scalar_one()
    assert after == before
