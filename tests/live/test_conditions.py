"""Entry conditions of the interaction tools, each kind on the recorded behaviour."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.core.database import utcnow
from liveloop.customers.communities import service as communities
from liveloop.customers.communities.schemas import CommunityIn
from liveloop.events import service as events_service
from liveloop.live import audience
from liveloop.live import service as live_service
from liveloop.live.conditions import EntryCondition, eligible_customers, meets_condition
from liveloop.live.models import LiveShare
from tests import factories
from tests.factories.live import make_live_session
from tests.live.lottery.conftest import comment, visit


async def who(session: AsyncSession, shop_id: int, room_id: int, **condition) -> set[int]:  # type: ignore[no-untyped-def]
    statement = eligible_customers(
        shop_id=shop_id,
        live_session_id=room_id,
        condition=EntryCondition(**condition),
        since=utcnow() - dt.timedelta(hours=1),
    )
    return {row[0] for row in await session.execute(statement)}


async def presence(session, shop_id, room_id, customer_id, kind, at, watched=0) -> None:  # type: ignore[no-untyped-def]
    properties = {"watch_seconds": watched} if kind == "live_leave" else {}
    await events_service.ingest_events(
        session=session,
        shop_id=shop_id,
        items=[{"type": kind, "customer_id": customer_id, "live_session_id": room_id,
                "occurred_at": at.isoformat(), "properties": properties}],
        mark_customers_active=False,
    )  # fmt: skip


async def test_each_kind_reads_what_the_room_recorded(session, shop, actor) -> None:
    room = await make_live_session(session, shop_id=shop.id)
    other_room = await make_live_session(session, shop_id=shop.id, status="live")
    a, b, c = [await factories.make_customer(session, shop_id=shop.id, name=n) for n in "甲乙丙"]
    for customer in (a, b, c):
        await visit(session, shop.id, room.id, customer.id, likes=3 if customer is a else 0)
    await comment(session, shop.id, room.id, a.id, "口令 抢福袋")
    await comment(session, shop.id, room.id, b.id, "你好")
    await comment(session, shop.id, other_room.id, c.id, "抢福袋")  # another room
    session.add(
        LiveShare(
            shop_id=shop.id, live_session_id=room.id, code="s-test-1", sharer_customer_id=b.id
        )
    )
    await audience.reserve(session=session, live_session=room, customer_id=c.id)
    await live_service.start_live_session(session=session, actor=actor, live_session_id=room.id)
    group = await communities.create_community(
        session=session, shop_id=shop.id, data=CommunityIn(name="VIP群")
    )
    await communities.join_community(
        session=session, shop_id=shop.id, community_id=group.id, customer_id=b.id, source="manual"
    )
    await session.flush()

    assert await who(session, shop.id, room.id) == {a.id, b.id, c.id}
    assert await who(session, shop.id, room.id, kind="comment") == {a.id, b.id}
    assert await who(session, shop.id, room.id, kind="keyword", keyword="抢福袋") == {a.id}
    assert await who(session, shop.id, room.id, kind="like") == {a.id}
    assert await who(session, shop.id, room.id, kind="share") == {b.id}
    assert await who(session, shop.id, room.id, kind="reserved") == {c.id}
    assert await who(session, shop.id, room.id, kind="community", community_id=group.id) == {b.id}
    assert await meets_condition(
        session=session, shop_id=shop.id, live_session_id=room.id, customer_id=a.id,
        condition=EntryCondition(kind="like"), since=utcnow() - dt.timedelta(hours=1),
    )  # fmt: skip
    assert not await meets_condition(
        session=session, shop_id=shop.id, live_session_id=room.id, customer_id=b.id,
        condition=EntryCondition(kind="like"), since=utcnow() - dt.timedelta(hours=1),
    )  # fmt: skip


async def test_watch_time_counts_closed_visits_and_the_open_one(session, shop) -> None:
    room = await make_live_session(session, shop_id=shop.id, status="live")
    now = utcnow()
    closed, still_here, short, just_came = [
        await factories.make_customer(session, shop_id=shop.id, name=n) for n in "甲乙丙丁"
    ]
    # Two closed visits of 200 s and 150 s: 350 s.
    await presence(
        session, shop.id, room.id, closed.id, "live_enter", now - dt.timedelta(minutes=30)
    )
    await presence(
        session, shop.id, room.id, closed.id, "live_leave", now - dt.timedelta(minutes=26), 200
    )
    await presence(
        session, shop.id, room.id, closed.id, "live_enter", now - dt.timedelta(minutes=20)
    )
    await presence(
        session, shop.id, room.id, closed.id, "live_leave", now - dt.timedelta(minutes=17), 150
    )
    # 100 s closed, and in the room again for 250 s: 350 s.
    await presence(
        session, shop.id, room.id, still_here.id, "live_enter", now - dt.timedelta(minutes=15)
    )
    await presence(
        session, shop.id, room.id, still_here.id, "live_leave", now - dt.timedelta(minutes=13), 100
    )
    await presence(
        session, shop.id, room.id, still_here.id, "live_enter", now - dt.timedelta(seconds=250)
    )
    # One closed visit of 60 s.
    await presence(
        session, shop.id, room.id, short.id, "live_enter", now - dt.timedelta(minutes=10)
    )
    await presence(
        session, shop.id, room.id, short.id, "live_leave", now - dt.timedelta(minutes=9), 60
    )
    # Here for 30 s.
    await presence(
        session, shop.id, room.id, just_came.id, "live_enter", now - dt.timedelta(seconds=30)
    )

    statement = eligible_customers(
        shop_id=shop.id, live_session_id=room.id,
        condition=EntryCondition(kind="watch_time", min_watch_seconds=300),
        since=now - dt.timedelta(hours=1), now=now,
    )  # fmt: skip
    assert {row[0] for row in await session.execute(statement)} == {closed.id, still_here.id}


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"kind": "keyword"}, "keyword"),
        ({"kind": "keyword", "keyword": "   "}, "keyword"),
        ({"kind": "community"}, "community_id"),
        ({"kind": "watch_time"}, "min_watch_seconds"),
        ({"kind": "watch_time", "min_watch_seconds": -5}, "greater than"),
        ({"kind": "keyword", "keyword": "x" * 21}, "at most 20"),
        ({"kind": "dance"}, "Input should be"),
    ],
)
def test_bad_conditions_say_what_is_missing(condition, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as error:
        EntryCondition(**condition)
    assert message in str(error.value)


def test_only_the_field_of_the_kind_is_kept() -> None:
    condition = EntryCondition(kind="like", keyword="多余", community_id=3)
    assert condition.describe() == {"kind": "like"}
