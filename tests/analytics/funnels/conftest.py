"""A small ended session whose funnel, drop lists and converted split are worked out by hand.

Times are seconds after the session started (T0); it ran 600 s. Products: tea ¥129.00,
cup ¥50.00, pot ¥300.00 (pot: 5 in stock from a day before, sold out at T0+45, 10 restocked
at T0+400 — so it is in stock *now*, but was not when C looked at it). A coupon of ¥20 was
claimed in the room by A and used on A's order. The anchor pushed the cup at T0+190.

  who  tier  first seen   entry (source)     viewed      cart        order       paid   left
  A c  金卡  T0-30 days   0 (group link)     tea 30      tea 60      100         120    300
  B c  银卡  T0-30 days   10 (KOL link)      tea 40      tea 70      110 expired  —     500
  C c  —     T0+20 (new)  20 (share link)    pot 50      —           —           —      200
  D d  guest              30 (no link)       cup 80      —           —           —      260
  E c  —     T0-30 days   40 (no link)       —           —           —           —      100
  F c  —     T0-30 days   never in the room; paid a cup order of the session (¥50 + ¥10 post)

B also paid a cup mall order ten days before (¥50 + ¥10 post: B's usual order is 6,000 fen). E opened a
product page for 45 s and the mall for 20 s while the session was on air (no session id).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.catalog.models import StockMovement
from liveloop.commerce.coupons import service as coupons_service
from liveloop.commerce.coupons.models import ClaimSource
from liveloop.commerce.coupons.schemas import CouponCreate
from liveloop.core.database import utcnow
from liveloop.customers.points.models import CustomerPoints, MemberTier
from liveloop.events import service as events_service
from liveloop.live import service as live_service
from liveloop.live.models import LiveShare
from liveloop.live.schemas import EntryLinkCreate
from liveloop.shops.models import AuditEntry
from liveloop.shops.service import system_actor
from tests import factories
from tests.analytics.conftest import event
from tests.commerce.growth_helpers import pay
from tests.factories.live import make_live_session

DURATION_S = 600


async def build_funnel_session(session: AsyncSession, *, shop_id: int) -> dict[str, Any]:
    actor = system_actor(shop_id)
    tea = await factories.make_product(session, shop_id=shop_id, name="明前龙井", price_fen=12900)
    cup = await factories.make_product(session, shop_id=shop_id, name="白瓷杯", price_fen=5000)
    pot = await factories.make_product(
        session, shop_id=shop_id, name="紫砂壶", price_fen=30000, stock=5
    )
    live = await make_live_session(
        session, shop_id=shop_id, status="ended", product_ids=[tea.id, cup.id, pot.id]
    )
    t0 = (utcnow() - dt.timedelta(days=2)).replace(microsecond=0)
    live.started_at, live.ended_at = t0, t0 + dt.timedelta(seconds=DURATION_S)

    def at(seconds: float) -> dt.datetime:
        return t0 + dt.timedelta(seconds=seconds)

    # Every product was stocked a day before; the pot sold out at T0+45, restocked at T0+400.
    for movement in (await session.execute(StockMovement.__table__.select())).all():
        await session.execute(
            StockMovement.__table__.update()
            .where(StockMovement.__table__.c.id == movement.id)
            .values(created_at=t0 - dt.timedelta(days=1))
        )
    pot_sku = pot.skus[0]
    session.add_all(
        [
            StockMovement(shop_id=shop_id, sku_id=pot_sku.id, delta=-5, stock_after=0,
                          reason="sold", created_at=at(45)),
            StockMovement(shop_id=shop_id, sku_id=pot_sku.id, delta=10, stock_after=10,
                          reason="restock", created_at=at(400)),
        ]
    )  # fmt: skip
    pot_sku.stock = 10

    group = await live_service.create_entry_link(
        session=session, actor=actor, live_session=live,
        data=EntryLinkCreate(channel="group", label="VIP 群"),
    )  # fmt: skip
    kol = await live_service.create_entry_link(
        session=session, actor=actor, live_session=live,
        data=EntryLinkCreate(channel="kol", label="茶博主"),
    )  # fmt: skip
    a, b, c, e, f = [
        await factories.make_customer(session, shop_id=shop_id, name=name)
        for name in ("阿青", "阿白", "阿紫", "阿黄", "阿绿")
    ]
    for old in (a, b, e, f):
        old.first_seen_at = t0 - dt.timedelta(days=30)
    c.first_seen_at = at(20)
    c.city = "上海"
    session.add(LiveShare(shop_id=shop_id, live_session_id=live.id, code="FUNSHARE",
                          sharer_customer_id=a.id))  # fmt: skip
    gold = MemberTier(shop_id=shop_id, name="金卡", level=2)
    silver = MemberTier(shop_id=shop_id, name="银卡", level=1)
    session.add_all([gold, silver])
    await session.flush()
    session.add_all(
        [
            CustomerPoints(shop_id=shop_id, customer_id=a.id, tier_id=gold.id),
            CustomerPoints(shop_id=shop_id, customer_id=b.id, tier_id=silver.id),
        ]
    )
    session.add(
        AuditEntry(shop_id=shop_id, actor_label="anchor", action="live.push",
                   target_type="live_session", target_id=str(live.id),
                   details={"product_id": cup.id}, created_at=at(190))
    )  # fmt: skip

    d = "d:guest-d"
    enter, leave = "live_enter", "live_leave"
    items = [
        event(enter, t0, 0, a.id, source_code=group.code, share_code=""),
        event(leave, t0, 300, a.id, watch_seconds=300),
        event(enter, t0, 10, b.id, source_code=kol.code, share_code=""),
        event(leave, t0, 500, b.id, watch_seconds=490),
        event(enter, t0, 20, c.id, source_code="", share_code="FUNSHARE"),
        event(leave, t0, 200, c.id, watch_seconds=180),
        event(enter, t0, 30, d, source_code="", share_code=""),
        event(leave, t0, 260, d, watch_seconds=230),
        event(enter, t0, 40, e.id, source_code="", share_code=""),
        event(leave, t0, 100, e.id, watch_seconds=60),
    ]
    for who, product, moment in ((a.id, tea, 30), (b.id, tea, 40), (c.id, pot, 50),
                                 (d, cup, 80)):  # fmt: skip
        item = event("live_product_click", t0, moment, who)
        item["product_id"] = product.id
        items.append(item)
    for who, moment in ((a.id, 60), (b.id, 70)):
        item = event("add_to_cart", t0, moment, who, sku_id=tea.skus[0].id, quantity=1,
                     price_fen=12900)  # fmt: skip
        item["product_id"] = tea.id
        items.append(item)
    for item in items:
        item["live_session_id"] = live.id
    # E browsed the shop while the room was on air (no session id on these).
    page = event("product_view", t0, 300, e.id, dwell_seconds=45)
    page["product_id"] = cup.id
    items += [page, event("mall_view", t0, 320, e.id, dwell_seconds=20)]
    result = await events_service.ingest_events(
        session=session, shop_id=shop_id, items=items, mark_customers_active=False
    )
    assert not result.errors, result.errors

    coupon = await coupons_service.create_coupon(
        session=session, shop_id=shop_id,
        data=CouponCreate(title="直播间立减20", kind="amount_off", amount_off_fen=2000,
                          total_quantity=100, status="active", valid_days=30),
    )  # fmt: skip
    claim = await coupons_service.claim_coupon(
        session=session, shop_id=shop_id, coupon_id=coupon.id, customer_id=a.id,
        source=ClaimSource.LIVE, live_session_id=live.id,
    )  # fmt: skip

    async def order(who: Any, product: Any, **options: Any) -> Any:
        return await factories.make_order(
            session, shop_id=shop_id, customer_id=who.id,
            lines=[(product.skus[0].id, 1)], **options,
        )  # fmt: skip

    earlier = await pay(session, await order(b, cup))
    earlier.created_at = earlier.paid_at = t0 - dt.timedelta(days=10)
    o_a = await pay(
        session, await order(a, tea, live_session_id=live.id, customer_coupon_id=claim.id)
    )
    o_a.created_at, o_a.paid_at = at(100), at(120)
    o_b = await order(b, tea, live_session_id=live.id)
    o_b.created_at, o_b.status = at(110), "expired"
    o_f = await pay(session, await order(f, cup, live_session_id=live.id))
    o_f.created_at = o_f.paid_at = at(150)
    await session.flush()
    return {
        "live": live, "t0": t0, "tea": tea, "cup": cup, "pot": pot,
        "a": a, "b": b, "c": c, "e": e, "f": f, "orders": {"a": o_a, "b": o_b, "f": o_f},
    }  # fmt: skip


@pytest.fixture
async def funnel_session(session: AsyncSession, shop: Any) -> dict[str, Any]:
    return await build_funnel_session(session, shop_id=shop.id)
