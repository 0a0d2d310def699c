"""A small ended live session whose every report figure is worked out by hand in test_report.

Times are seconds after the session started (T0); the session ran 600 s (10 minutes).

  viewer  visits (enter → leave, source)                       on air, merged   watch
  A  c    0 → 300 (group link), 400 → 600 (direct)             [0,300] [400,600]  500
  B  c    60 → 240 (KOL link), a second tab 120 → 180 (KOL)    [60,240]           180
  C  c    90 → still open at the end (share link)              [90,600]           510
  G  d    -120 → 30 (direct; entered before the start)         [0,30]              30
  D  d    500 → 560 (direct)                                   [500,560]           60
  E  c    never in the room; paid an order of the session

Orders of the session (prices: tea ¥129.00, cup ¥50.00; shipping ¥10 below ¥99 of items):
  O1 A  2 tea, coupon -¥20  = 23,800 paid; one tea refunded (11,900)
  O2 B  1 cup + shipping     =  6,000 paid
  O3 C  1 tea                = 12,900 pending payment
  O4 E  1 tea + 1 cup        = 17,900 paid
  O5 B  1 tea                = cancelled
B also paid a mall order ten days before the session (a returning buyer).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import orders as orders_service
from liveloop.commerce.coupons import service as coupons_service
from liveloop.commerce.coupons.models import ClaimSource
from liveloop.commerce.coupons.schemas import CouponCreate
from liveloop.commerce.payments import refunds
from liveloop.core.database import utcnow
from liveloop.customers.communities.models import Community, CommunityMember
from liveloop.customers.points.models import CustomerPoints, MemberTier
from liveloop.customers.rfm.models import CustomerLifecycle
from liveloop.events import service as events_service
from liveloop.live import service as live_service
from liveloop.live.models import LiveShare
from liveloop.live.polls.models import LiveQuestion
from liveloop.live.schemas import EntryLinkCreate
from liveloop.shops.service import system_actor
from tests import factories
from tests.commerce.growth_helpers import pay
from tests.factories.live import make_live_session

DURATION_S = 600


def event(kind: str, t0: dt.datetime, at: float, who: Any, **properties: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": kind,
        "occurred_at": (t0 + dt.timedelta(seconds=at)).isoformat(),
        "properties": properties,
    }
    if isinstance(who, str):
        item["anonymous_id"] = who
    else:
        item["customer_id"] = who
    return item


async def ingest(session: AsyncSession, shop_id: int, live_id: int, items: list[Any]) -> None:
    for item in items:
        item["live_session_id"] = live_id
    result = await events_service.ingest_events(
        session=session, shop_id=shop_id, items=items, mark_customers_active=False
    )
    assert not result.errors, result.errors


async def build_report_session(session: AsyncSession, *, shop_id: int) -> dict[str, Any]:
    actor = system_actor(shop_id)
    tea = await factories.make_product(session, shop_id=shop_id, name="明前龙井", price_fen=12900)
    cup = await factories.make_product(session, shop_id=shop_id, name="白瓷杯", price_fen=5000)
    live = await make_live_session(
        session, shop_id=shop_id, status="ended", product_ids=[tea.id, cup.id]
    )
    t0 = (utcnow() - dt.timedelta(days=2)).replace(microsecond=0)
    live.started_at, live.ended_at = t0, t0 + dt.timedelta(seconds=DURATION_S)
    group = await live_service.create_entry_link(
        session=session, actor=actor, live_session=live,
        data=EntryLinkCreate(channel="group", label="VIP 群"),
    )  # fmt: skip
    kol = await live_service.create_entry_link(
        session=session, actor=actor, live_session=live,
        data=EntryLinkCreate(channel="kol", label="茶博主"),
    )  # fmt: skip

    a, b, c, e = [
        await factories.make_customer(session, shop_id=shop_id, name=name)
        for name in ("阿青", "阿白", "阿紫", "阿黄")
    ]
    a.first_seen_at = t0 + dt.timedelta(seconds=10)
    for old in (b, c, e):
        old.first_seen_at = t0 - dt.timedelta(days=30)
    a.province, b.province, c.province = "浙江省", "浙江省", "上海市"
    share = LiveShare(shop_id=shop_id, live_session_id=live.id, code="SHAREA1",
                      sharer_customer_id=a.id)  # fmt: skip
    session.add(share)
    await session.flush()

    g, d = "d:guest-g", "d:guest-d"
    enter, leave = "live_enter", "live_leave"
    items = [
        event(enter, t0, 0, a.id, source_code=group.code, share_code=""),
        event(leave, t0, 300, a.id, watch_seconds=300),
        event(enter, t0, 400, a.id, source_code="", share_code=""),
        event(leave, t0, 600, a.id, watch_seconds=200),
        event(enter, t0, 60, b.id, source_code=kol.code, share_code=""),
        event(enter, t0, 120, b.id, source_code=kol.code, share_code=""),
        event(leave, t0, 180, b.id, watch_seconds=60),
        event(leave, t0, 240, b.id, watch_seconds=180),
        event(enter, t0, 90, c.id, source_code="", share_code="SHAREA1"),
        event(enter, t0, -120, g, source_code="", share_code=""),
        event(leave, t0, 30, g, watch_seconds=150),
        event(enter, t0, 500, d, source_code="", share_code=""),
        event(leave, t0, 560, d, watch_seconds=60),
        # comments (one before the start, one blocked by the word filter)
        event("live_comment", t0, -60, g, text="上链接"),
        event("live_comment", t0, 20, g, text="主播好"),
        event("live_comment", t0, 30, a.id, text="这个龙井多少钱"),
        event("live_comment", t0, 70, a.id, text="上链接"),
        event("live_comment", t0, 130, b.id, text="上链接"),
        event("live_comment", t0, 200, c.id, text="龙井好喝"),
        event("live_comment", t0, 510, d, text="加微信", blocked=True, shown=False),
        # likes
        event("live_like", t0, 50, a.id, count=10),
        event("live_like", t0, 100, c.id, count=5),
        event("live_like", t0, 300, c.id, count=3),
    ]
    for who, product, at in ((a.id, tea, 40), (a.id, tea, 80), (c.id, tea, 95), (b.id, cup, 70),
                             (g, cup, 25)):  # fmt: skip
        item = event("live_product_click", t0, at, who, product_id=product.id)
        item["product_id"] = product.id
        items.append(item)
    await ingest(session, shop_id, live.id, items)

    session.add_all(
        [
            LiveQuestion(shop_id=shop_id, live_session_id=live.id, voter_key=f"c:{a.id}",
                         customer_id=a.id, text="能冷泡吗？", status="answered", answer="能"),
            LiveQuestion(shop_id=shop_id, live_session_id=live.id, voter_key=f"c:{c.id}",
                         customer_id=c.id, text="保质期多久？"),
        ]
    )  # fmt: skip

    gold = MemberTier(shop_id=shop_id, name="金卡", level=2)
    silver = MemberTier(shop_id=shop_id, name="银卡", level=1)
    session.add_all([gold, silver])
    await session.flush()
    session.add_all(
        [
            CustomerPoints(shop_id=shop_id, customer_id=a.id, tier_id=gold.id),
            CustomerPoints(shop_id=shop_id, customer_id=e.id, tier_id=gold.id),
            CustomerPoints(shop_id=shop_id, customer_id=c.id, tier_id=silver.id),
            CustomerLifecycle(shop_id=shop_id, customer_id=a.id, stage="new"),
            CustomerLifecycle(shop_id=shop_id, customer_id=b.id, stage="active"),
            CustomerLifecycle(shop_id=shop_id, customer_id=c.id, stage="at_risk"),
        ]
    )
    vip = Community(shop_id=shop_id, name="VIP 茶友群")
    session.add(vip)
    await session.flush()
    session.add_all(
        [
            CommunityMember(shop_id=shop_id, community_id=vip.id, customer_id=a.id,
                            joined_at=t0 - dt.timedelta(days=60)),
            CommunityMember(shop_id=shop_id, community_id=vip.id, customer_id=c.id,
                            joined_at=t0 - dt.timedelta(days=60),
                            left_at=t0 - dt.timedelta(days=1)),
            CommunityMember(shop_id=shop_id, community_id=vip.id, customer_id=e.id,
                            joined_at=t0 + dt.timedelta(minutes=5)),
        ]
    )  # fmt: skip
    await session.flush()

    coupon = await coupons_service.create_coupon(
        session=session, shop_id=shop_id,
        data=CouponCreate(title="直播间立减20", kind="amount_off", amount_off_fen=2000,
                          total_quantity=100, status="active", valid_days=30),
    )  # fmt: skip
    claims = [
        await coupons_service.claim_coupon(
            session=session,
            shop_id=shop_id,
            coupon_id=coupon.id,
            customer_id=who.id,
            source=ClaimSource.LIVE,
            live_session_id=live.id,
        )
        for who in (a, b)
    ]

    async def order(who: Any, lines: list[tuple[Any, int]], **options: Any) -> Any:
        return await factories.make_order(
            session, shop_id=shop_id, customer_id=who.id,
            lines=[(product.skus[0].id, n) for product, n in lines], **options,
        )  # fmt: skip

    earlier = await pay(session, await order(b, [(cup, 1)]))
    earlier.paid_at = t0 - dt.timedelta(days=10)
    o1 = await pay(
        session,
        await order(a, [(tea, 2)], live_session_id=live.id, customer_coupon_id=claims[0].id),
    )
    o2 = await pay(session, await order(b, [(cup, 1)], live_session_id=live.id))
    o3 = await order(c, [(tea, 1)], live_session_id=live.id)
    o4 = await pay(session, await order(e, [(tea, 1), (cup, 1)], live_session_id=live.id))
    o5 = await order(b, [(tea, 1)], live_session_id=live.id)
    await orders_service.cancel_order(
        session=session, shop_id=shop_id, order_id=o5.id, reason="买错了", actor=actor
    )
    line = o1.lines[0]
    await refunds.create_refund(
        session=session, shop_id=shop_id, order_id=o1.id,
        lines=[refunds.RefundLineIn(order_line_id=line.id, quantity=1)],
        reason="一盒破损", actor=actor,
    )  # fmt: skip
    await session.flush()
    return {
        "live": live, "t0": t0, "tea": tea, "cup": cup, "group": group, "kol": kol,
        "a": a, "b": b, "c": c, "e": e, "coupon": coupon, "vip": vip,
        "orders": [o1, o2, o3, o4, o5],
    }  # fmt: skip


@pytest.fixture
async def fixture_session(session: AsyncSession, shop: Any) -> dict[str, Any]:
    return await build_report_session(session, shop_id=shop.id)


async def make_analytics_records(session: AsyncSession, *, shop_id: int) -> dict[str, int]:
    """An ended session with a generated report in this shop (for the shop isolation test)."""
    from liveloop.analytics import service

    live = await make_live_session(session, shop_id=shop_id, status="ended")
    await service.generate_live_report(session=session, shop_id=shop_id, live_session_id=live.id)
    return {"live_session_id": live.id}
