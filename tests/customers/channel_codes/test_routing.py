"""Routing a scan: one staff, round robin (also under concurrency), capacity, time of day,
backup, daily limit, community-only codes."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from liveloop.customers.channel_codes import service
from liveloop.customers.channel_codes.schemas import ChannelCodeIn, ChannelCodeUpdate
from liveloop.customers.communities import service as communities_service
from liveloop.customers.communities.schemas import CommunityIn
from liveloop.shops import service as shops_service
from tests import factories
from tests.factories.shops import drop_shop

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(hour: int, minute: int = 0, day: int = 23) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(dt.UTC)


async def make_staff(session, shop, n: int):  # type: ignore[no-untyped-def]
    return [
        await factories.make_staff(
            session, shop_id=shop.id, role="service_agent", email=f"agent{i}-{shop.id}@example.com"
        )
        for i in range(n)
    ]


def link(staff, **extra):  # type: ignore[no-untyped-def]
    return {
        "staff_id": staff.id,
        "contact_url": f"https://work.weixin.qq.com/ca/{staff.id}",
        **extra,
    }


async def make_code(session, shop, **data):  # type: ignore[no-untyped-def]
    return await service.create_code(
        session=session,
        shop_id=shop.id,
        data=ChannelCodeIn.model_validate({"name": "门店活码", **data}),
    )


async def test_single_staff_and_validation(session, shop) -> None:
    (agent,) = await make_staff(session, shop, 1)
    code = await make_code(session, shop, routing="single", staff=[link(agent)])
    routed = await service.route_scan(session=session, code=code, now=at(10))
    assert routed.link is not None and routed.link.staff_id == agent.id
    assert routed.reason == "routed"
    with pytest.raises(ValueError, match="daily_cap"):
        ChannelCodeIn.model_validate({"name": "x", "routing": "capacity", "staff": [link(agent)]})
    with pytest.raises(ValueError, match="windows"):
        ChannelCodeIn.model_validate(
            {"name": "x", "routing": "time_of_day", "staff": [link(agent)]}
        )
    with pytest.raises(ValueError, match="at least one"):
        ChannelCodeIn.model_validate({"name": "x", "staff": [link(agent, is_backup=True)]})
    with pytest.raises(ValueError, match="HH:MM"):
        ChannelCodeIn.model_validate(
            {"name": "x", "staff": [link(agent, windows=[["9:00", "25:00"]])]}
        )


async def test_round_robin_in_turn(session, shop) -> None:
    agents = await make_staff(session, shop, 3)
    code = await make_code(session, shop, routing="round_robin", staff=[link(a) for a in agents])
    picked = [
        (await service.route_scan(session=session, code=code, now=at(10))).link.staff_id  # type: ignore[union-attr]
        for _ in range(7)
    ]
    ids = [a.id for a in agents]
    assert picked == ids + ids + ids[:1]


async def test_capacity_routes_to_the_least_loaded_then_the_backup(session, shop) -> None:
    first, second, spare = await make_staff(session, shop, 3)
    code = await make_code(
        session,
        shop,
        routing="capacity",
        staff=[link(first, daily_cap=2), link(second, daily_cap=1), link(spare, is_backup=True)],
    )
    outcomes = [await service.route_scan(session=session, code=code, now=at(9)) for _ in range(5)]
    assert [(o.link.staff_id, o.reason) for o in outcomes] == [  # type: ignore[union-attr]
        (first.id, "routed"),
        (second.id, "routed"),
        (first.id, "routed"),
        (spare.id, "backup"),
        (spare.id, "backup"),
    ]
    # A new day (in the shop's time zone) starts the caps again.
    tomorrow = await service.route_scan(session=session, code=code, now=at(0, 30, day=24))
    assert tomorrow.link.staff_id == first.id  # type: ignore[union-attr]


async def test_time_of_day_windows_and_backup(session, shop) -> None:
    morning, evening, spare = await make_staff(session, shop, 3)
    code = await make_code(
        session,
        shop,
        routing="time_of_day",
        staff=[
            link(morning, windows=[["09:00", "12:00"], ["13:00", "18:00"]]),
            link(evening, windows=[["18:00", "02:00"]]),
        ],
    )

    async def who(when: dt.datetime) -> tuple[int | None, str]:
        routed = await service.route_scan(session=session, code=code, now=when)
        return (routed.link.staff_id if routed.link else None), routed.reason

    assert await who(at(9)) == (morning.id, "routed")
    assert await who(at(11, 59)) == (morning.id, "routed")
    assert await who(at(12, 30)) == (None, "nobody_available")
    assert await who(at(18)) == (evening.id, "routed")
    assert await who(at(1, 15)) == (evening.id, "routed")  # overnight window
    await service.update_code(
        session=session,
        shop_id=shop.id,
        code_id=code.id,
        data=ChannelCodeUpdate.model_validate(
            {
                "staff": [
                    link(morning, windows=[["09:00", "12:00"]]),
                    link(spare, is_backup=True),
                ]
            }
        ),
    )
    assert await who(at(12, 30)) == (spare.id, "backup")


async def test_daily_limit_and_a_community_only_code(session, shop) -> None:
    (agent,) = await make_staff(session, shop, 1)
    limited = await make_code(session, shop, staff=[link(agent)], daily_limit=2)
    reasons = [
        (await service.route_scan(session=session, code=limited, now=at(10))).reason
        for _ in range(3)
    ]
    assert reasons == ["routed", "routed", "daily_limit"]
    assert (await service.route_scan(session=session, code=limited, now=at(10, day=24))).link
    stats = (await service.code_stats(session=session, shop_id=shop.id, code_ids=[limited.id]))[
        limited.id
    ]
    assert (stats.scans, stats.routed) == (4, 3)

    group = await communities_service.create_community(
        session=session,
        shop_id=shop.id,
        data=CommunityIn(name="茶友兴趣群", join_url="https://work.weixin.qq.com/gm/abc"),
    )
    joiner = await make_code(session, shop, kind="channel", community_id=group.id)
    routed = await service.route_scan(session=session, code=joiner, now=at(10))
    assert routed.reason == "community"
    assert routed.community_join_url == "https://work.weixin.qq.com/gm/abc"


@pytest.mark.parametrize(("staff_count", "scans"), [(3, 30), (4, 41)])
async def test_round_robin_under_concurrency_gives_each_staff_its_share(
    database, staff_count: int, scans: int
) -> None:
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="活码并发测试")
        agents = await make_staff(session, shop, staff_count)
        code = await make_code(
            session, shop, routing="round_robin", staff=[link(a) for a in agents]
        )
        await session.commit()
    try:

        async def scan() -> int:
            async with database.sessionmaker() as session:
                routed = await service.route_scan(session=session, code=code, now=at(15))
                await session.commit()
                assert routed.link is not None
                return routed.link.staff_id

        picked = Counter(await asyncio.gather(*(scan() for _ in range(scans))))
        shares = sorted(picked.values())
        assert sum(shares) == scans
        assert set(picked) == {a.id for a in agents}
        assert shares[-1] - shares[0] <= 1  # each staff gets scans / staff (± 1)
        async with database.sessionmaker() as session:
            stats = await service.code_stats(session=session, shop_id=shop.id, code_ids=[code.id])
        assert stats[code.id].scans == scans
    finally:
        async with database.sessionmaker() as session:
            await drop_shop(session, shop.id)
            await session.commit()
