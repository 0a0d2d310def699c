"""The demo's communities and channel codes: three groups with history, codes with figures."""

from __future__ import annotations

from sqlalchemy import select

from liveloop.core.database import utcnow
from liveloop.customers.channel_codes import service as codes_service
from liveloop.customers.communities import service as communities_service
from liveloop.demo.communities import seed_communities
from liveloop.shops.models import Staff
from tests import factories


async def test_seed_communities_through_the_services(session, shop, owner) -> None:
    for role in ("operator", "service_agent", "anchor"):
        await factories.make_staff(
            session, shop_id=shop.id, role=role, email=f"{role}@demo.example"
        )
    staff = list((await session.execute(select(Staff).order_by(Staff.id))).scalars())
    customers = [
        (await factories.make_customer(session, shop_id=shop.id, name=f"客户{i}")).id
        for i in range(60)
    ]
    seeded = await seed_communities(
        session, shop_id=shop.id, staff=staff, customer_ids=customers, now=utcnow(), seed=3
    )
    communities = await communities_service.list_communities(session=session, shop_id=shop.id)
    assert [c.name for c in communities] == ["新人福利群", "茶友兴趣群", "VIP会员群"]
    health = await communities_service.community_health(session=session, shop_id=shop.id)
    assert all(health[c.id].members > 0 for c in communities)
    assert sum(h.joins_30d for h in health.values()) > 0
    assert sum(h.messages_7d for h in health.values()) > 0
    assert (
        len(await communities_service.list_promotion_rules(session=session, shop_id=shop.id)) == 1
    )
    codes = await codes_service.list_codes(session=session, shop_id=shop.id)
    assert len(codes) == len(seeded.code_ids) == 4  # owner, operator, agent + the store's
    stats = await codes_service.code_stats(
        session=session, shop_id=shop.id, code_ids=seeded.code_ids
    )
    assert all(s.scans >= 7 and s.arrivals == 4 for s in stats.values())
    # Messages, and for each of the 16 arrivals an arrival event and (staff codes) a welcome.
    assert seeded.events == seeded.messages + 16 + 12
