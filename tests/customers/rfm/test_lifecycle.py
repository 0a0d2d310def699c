"""Lifecycle stages on hand-made histories, transitions recorded, incremental re-evaluation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.customers import service as customers_service
from liveloop.customers.rfm import service as rfm
from liveloop.customers.rfm.models import LifecycleTransition
from tests import factories
from tests.customers.rfm.conftest import pay

DAY = dt.timedelta(days=1)


async def person(
    session: AsyncSession,
    shop_id: int,
    name: str,
    *,
    first_seen: dt.datetime | None = None,
    active: dt.datetime | None = None,
) -> Any:
    customer = await factories.make_customer(session, shop_id=shop_id, name=name)
    if first_seen is not None:
        await customers_service.mark_customers_first_seen(
            session=session, shop_id=shop_id, first_seen={customer.id: first_seen}
        )
    if active is not None:
        await customers_service.mark_customers_active(
            session=session, shop_id=shop_id, activity={customer.id: active}
        )
    return customer


async def stage_of(session: AsyncSession, shop_id: int, customer: Any) -> tuple[str, Any]:
    row = await rfm.get_customer_lifecycle(
        session=session, shop_id=shop_id, customer_id=customer.id
    )
    assert row is not None
    return row.stage, row.since


async def transitions(session: AsyncSession, shop_id: int, customer: Any) -> list[tuple]:
    rows = await rfm.list_transitions(session=session, shop_id=shop_id, customer_id=customer.id)
    return [(t.from_stage, t.to_stage, t.reason) for t in reversed(rows)]


async def test_each_rule_gives_its_stage_with_a_reason(
    session: AsyncSession, shop: Any, skus: dict[str, int], now: dt.datetime
) -> None:
    new = await person(session, shop.id, "new")
    active = await person(
        session, shop.id, "active", first_seen=now - 100 * DAY, active=now - 5 * DAY
    )
    at_risk = await person(
        session, shop.id, "risk", first_seen=now - 200 * DAY, active=now - 60 * DAY
    )
    churned = await person(
        session, shop.id, "gone", first_seen=now - 300 * DAY, active=now - 120 * DAY
    )
    silent = await person(session, shop.id, "silent", first_seen=now - 40 * DAY)
    repeat = await person(session, shop.id, "repeat", first_seen=now - 10 * DAY)
    big = await person(session, shop.id, "big", first_seen=now - 100 * DAY)
    for days_ago in (1, 2):
        await pay(session, shop_id=shop.id, customer_id=repeat.id, sku_id=skus["small"],
                  paid_at=now - days_ago * DAY)  # fmt: skip
    for days_ago in (3, 4):  # 200,000 fen in the window: the default high-value spend
        await pay(session, shop_id=shop.id, customer_id=big.id, sku_id=skus["big"],
                  paid_at=now - days_ago * DAY)  # fmt: skip

    await rfm.recompute_rfm(session=session, shop_id=shop.id, now=now)
    stats = await rfm.recompute_lifecycle(session=session, shop_id=shop.id, now=now)

    expected = {
        new: ("new", "first seen 0 days ago"),
        active: ("active", "last active 5 days ago"),
        at_risk: ("at_risk", "no activity for 60 days"),
        churned: ("churned", "no activity for 120 days"),
        silent: ("at_risk", "no activity for 40 days"),  # first seen counts as activity
        repeat: ("active", "last active 0 days ago"),  # a repeat purchase ends "new"
        big: ("high_value", "paid at least 200000 fen in the RFM window"),
    }
    for customer, (stage, reason) in expected.items():
        assert await stage_of(session, shop.id, customer) == (stage, now), customer.display_name
        assert await transitions(session, shop.id, customer) == [(None, stage, reason)]
    assert stats.evaluated == stats.changed == 7
    assert stats.stages == {
        "new": 1, "active": 2, "high_value": 1, "at_risk": 2, "churned": 1, "recalled": 0,
    }  # fmt: skip


async def test_rfm_segment_makes_high_value(
    session: AsyncSession, shop: Any, skus: dict[str, int], now: dt.datetime
) -> None:
    customer = await person(session, shop.id, "vip", first_seen=now - 100 * DAY)
    await pay(session, shop_id=shop.id, customer_id=customer.id, sku_id=skus["small"],
              paid_at=now - DAY)  # fmt: skip
    await rfm.update_settings(
        session=session,
        shop_id=shop.id,
        lifecycle={"high_value_segments": ["general_retain"], "high_value_spend_fen": None},
    )
    await rfm.recompute_rfm(session=session, shop_id=shop.id, now=now)  # one buyer: all average
    await rfm.recompute_lifecycle(session=session, shop_id=shop.id, now=now)
    assert await transitions(session, shop.id, customer) == [
        (None, "high_value", "RFM segment general_retain")
    ]


async def test_going_quiet_and_coming_back_is_recorded_step_by_step(
    session: AsyncSession, shop: Any, now: dt.datetime
) -> None:
    customer = await person(session, shop.id, "returning", first_seen=now)
    steady = await person(session, shop.id, "steady", first_seen=now - 100 * DAY, active=now)

    async def run(day: int, active_on: int | None = None) -> rfm.LifecycleStats:
        if active_on is not None:
            await customers_service.mark_customers_active(
                session=session, shop_id=shop.id, activity={customer.id: now + active_on * DAY}
            )
        return await rfm.recompute_lifecycle(session=session, shop_id=shop.id, now=now + day * DAY)

    await run(0)
    assert (await run(0)).changed == 0  # the same data again: nothing more
    await run(40)  # quiet for 40 days
    await run(45, active_on=45)  # back
    assert (await run(60)).changed == 0  # still recalled (15 days in)
    assert await stage_of(session, shop.id, customer) == ("recalled", now + 45 * DAY)
    await run(80, active_on=78)  # 35 days after the recall: an ordinary active customer
    await run(200)  # then gone

    assert await transitions(session, shop.id, customer) == [
        (None, "new", "first seen 0 days ago"),
        ("new", "at_risk", "no activity for 40 days"),
        ("at_risk", "recalled", "active again after at_risk"),
        ("recalled", "active", "last active 2 days ago"),
        ("active", "churned", "no activity for 122 days"),
    ]
    flows = await rfm.stage_flows(session=session, shop_id=shop.id, since=now - DAY)
    assert ("at_risk", "recalled", 1) in flows
    assert (None, "new", 1) in flows
    assert (None, "active", 1) in flows  # steady, first run
    assert await stage_of(session, shop.id, steady) == ("churned", now + 200 * DAY)


async def test_one_customer_is_re_evaluated_alone(
    session: AsyncSession, shop: Any, now: dt.datetime
) -> None:
    one = await person(session, shop.id, "one", first_seen=now - 200 * DAY, active=now - 100 * DAY)
    other = await person(
        session, shop.id, "other", first_seen=now - 200 * DAY, active=now - 100 * DAY
    )
    await rfm.recompute_lifecycle(session=session, shop_id=shop.id, now=now)
    for customer in (one, other):
        await customers_service.mark_customers_active(
            session=session, shop_id=shop.id, activity={customer.id: now}
        )
    stats = await rfm.recompute_lifecycle(
        session=session, shop_id=shop.id, now=now, customer_ids=[one.id]
    )
    assert (stats.evaluated, stats.changed) == (1, 1)
    assert (await stage_of(session, shop.id, one))[0] == "recalled"
    assert (await stage_of(session, shop.id, other))[0] == "churned"
    count = (
        await session.execute(select(func.count()).where(LifecycleTransition.shop_id == shop.id))
    ).scalar_one()
    assert count == 3


async def test_shops_do_not_see_each_others_stages(
    session: AsyncSession, shop: Any, other_shop: Any, now: dt.datetime
) -> None:
    mine = await person(session, shop.id, "mine")
    theirs = await person(session, other_shop.id, "theirs")
    stats = await rfm.recompute_lifecycle(session=session, shop_id=shop.id, now=now)
    assert stats.evaluated == 1
    assert (
        await rfm.get_customer_lifecycle(session=session, shop_id=shop.id, customer_id=theirs.id)
        is None
    )
    assert (
        await rfm.get_customer_lifecycle(
            session=session, shop_id=other_shop.id, customer_id=mine.id
        )
        is None
    )
