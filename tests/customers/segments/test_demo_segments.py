"""The demo's segments, above all: 金卡 members in 上海 who watched live in 30 days, did not buy."""

from __future__ import annotations

import datetime as dt

from liveloop.commerce.models import Order
from liveloop.core.database import utcnow
from liveloop.customers.points.models import CustomerPoints, MemberTier
from liveloop.customers.segments import service
from liveloop.demo.segments import seed_segments
from liveloop.live.models import LiveSession, LiveViewer
from tests import factories


async def test_gold_shanghai_watchers_who_did_not_buy(session, shop) -> None:
    now = utcnow()
    silver = MemberTier(shop_id=shop.id, name="银卡", level=1)
    gold = MemberTier(shop_id=shop.id, name="金卡", level=2)
    live = LiveSession(shop_id=shop.id, code="demo-seg-1", title="岩茶专场", planned_start=now)
    session.add_all([silver, gold, live])
    await session.flush()

    async def person(
        name: str, city: str, tier: MemberTier | None, watched_days: int | None, bought: bool
    ):
        customer = await factories.make_customer(session, shop_id=shop.id, name=name, city=city)
        if tier is not None:
            session.add(
                CustomerPoints(
                    shop_id=shop.id, customer_id=customer.id, balance=10, tier_id=tier.id
                )
            )
        if watched_days is not None:
            session.add(
                LiveViewer(
                    shop_id=shop.id,
                    live_session_id=live.id,
                    viewer_key=f"c:{customer.id}",
                    customer_id=customer.id,
                    watch_seconds=900,
                    first_entered_at=now - dt.timedelta(days=watched_days),
                )
            )
        if bought:
            session.add(
                Order(
                    shop_id=shop.id,
                    number=f"DS{customer.id}",
                    customer_id=customer.id,
                    status="paid",
                    items_total_fen=100,
                    total_fen=100,
                    paid_fen=100,
                    paid_at=now - dt.timedelta(days=2),
                    live_session_id=live.id,
                )
            )
        await session.flush()
        return customer.id

    wanted = await person("王芳", "上海", gold, 3, False)
    await person("李雷", "上海", gold, 3, True)  # bought in the session
    await person("韩梅梅", "上海", silver, 3, False)  # not 金卡
    await person("张伟", "杭州", gold, 3, False)  # not in 上海
    await person("赵敏", "上海", gold, 45, False)  # watched too long ago
    await person("刘洋", "上海", gold, None, False)  # never watched

    segments = await seed_segments(session, shop_id=shop.id)
    example = segments[0]
    assert example.name == "上海金卡 · 近30天看直播未下单"
    assert example.filter["all"][0] == {"kind": "tier", "tier_ids": [gold.id]}
    assert example.cached_count == 1
    page = await service.list_members(session=session, shop_id=shop.id, segment_id=example.id)
    assert [c.id for c in page.items] == [wanted]
    assert len(segments) >= 4  # no 高价值 tag in this shop: no static snapshot
