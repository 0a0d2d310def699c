"""Communities: capacity, idempotent join, leave/rejoin history, health figures, group tiers."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from liveloop.commerce import orders as orders_service
from liveloop.core.database import utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.customers.communities import service
from liveloop.customers.communities.models import CommunityMember, CommunityPromotion
from liveloop.customers.communities.schemas import CommunityIn, CommunityUpdate, PromotionRuleIn
from liveloop.events import service as events_service
from tests import factories


async def make_community(session, shop, **fields):  # type: ignore[no-untyped-def]
    data = {"name": "新人福利群", "kind": "newcomer", "channel": "wecom_group", **fields}
    return await service.create_community(
        session=session, shop_id=shop.id, data=CommunityIn.model_validate(data)
    )


async def paid_order(session, shop, customer, *, paid_at, price_fen=9900):  # type: ignore[no-untyped-def]
    product = await factories.make_product(session, shop_id=shop.id, price_fen=price_fen)
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=customer.id, lines=[(product.skus[0].id, 1)]
    )
    return await orders_service.mark_order_paid(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        amount_fen=order.total_fen,
        paid_at=paid_at,
        payment_ref=f"P{order.id}",
    )


async def test_join_is_idempotent_and_a_full_group_refuses(session, shop) -> None:
    community = await make_community(session, shop, capacity=2)
    a, b, c = [await factories.make_customer(session, shop_id=shop.id, name=n) for n in "ABC"]
    first = await service.join_community(
        session=session,
        shop_id=shop.id,
        community_id=community.id,
        customer_id=a.id,
        source="live_welfare",
        trigger="welfare:7",
    )
    again = await service.join_community(
        session=session,
        shop_id=shop.id,
        community_id=community.id,
        customer_id=a.id,
        source="manual",
    )
    assert again.id == first.id and again.source == "live_welfare"
    await service.join_community(
        session=session, shop_id=shop.id, community_id=community.id, customer_id=b.id,
        source="manual",
    )  # fmt: skip
    with pytest.raises(Conflict) as full:
        await service.join_community(
            session=session, shop_id=shop.id, community_id=community.id, customer_id=c.id,
            source="manual",
        )  # fmt: skip
    assert full.value.code == "community_full"
    # A current member re-joining a full group still gets their stay back.
    assert (
        await service.join_community(
            session=session,
            shop_id=shop.id,
            community_id=community.id,
            customer_id=b.id,
            source="manual",
        )
    ).customer_id == b.id
    # A channel reporting a join that already happened is recorded past the capacity.
    over = await service.join_community(
        session=session, shop_id=shop.id, community_id=community.id, customer_id=c.id,
        source="join_link", enforce_capacity=False,
    )  # fmt: skip
    assert over.left_at is None
    with pytest.raises(InvalidInput):
        await service.join_community(
            session=session, shop_id=shop.id, community_id=community.id, customer_id=c.id,
            source="carrier pigeon",
        )  # fmt: skip


async def test_leave_and_rejoin_keep_the_history(session, shop) -> None:
    community = await make_community(session, shop)
    customer = await factories.make_customer(session, shop_id=shop.id)
    t0 = utcnow() - dt.timedelta(days=20)
    first = await service.join_community(
        session=session, shop_id=shop.id, community_id=community.id, customer_id=customer.id,
        source="channel_code", joined_at=t0,
    )  # fmt: skip
    left = await service.leave_community(
        session=session, shop_id=shop.id, community_id=community.id, customer_id=customer.id,
        left_at=t0 + dt.timedelta(days=2),
    )  # fmt: skip
    assert left is not None and left.id == first.id
    assert left.left_at == t0 + dt.timedelta(days=2)
    assert (
        await service.leave_community(
            session=session, shop_id=shop.id, community_id=community.id, customer_id=customer.id
        )
        is None
    )
    second = await service.join_community(
        session=session, shop_id=shop.id, community_id=community.id, customer_id=customer.id,
        source="manual",
    )  # fmt: skip
    assert second.id != first.id
    stays = await service.list_members(
        session=session, shop_id=shop.id, community_id=community.id, current_only=False
    )
    assert [(s.id, s.left_at is None) for s in stays.items] == [
        (second.id, True),
        (first.id, False),
    ]
    current = await service.list_members(
        session=session, shop_id=shop.id, community_id=community.id
    )
    assert [s.id for s in current.items] == [second.id]
    of_customer = await service.customer_communities(
        session=session, shop_id=shop.id, customer_id=customer.id
    )
    assert [stay.id for stay, _ in of_customer] == [second.id, first.id]
    removed = await service.remove_member(
        session=session, shop_id=shop.id, community_id=community.id, member_id=second.id
    )
    assert removed.left_at is not None


async def test_archived_and_other_shops_communities(session, shop, other_shop) -> None:
    community = await make_community(session, shop)
    customer = await factories.make_customer(session, shop_id=shop.id)
    await service.archive_community(session=session, shop_id=shop.id, community_id=community.id)
    with pytest.raises(Conflict) as archived:
        await service.join_community(
            session=session, shop_id=shop.id, community_id=community.id, customer_id=customer.id,
            source="manual",
        )  # fmt: skip
    assert archived.value.code == "community_archived"
    with pytest.raises(NotFound):
        await service.get_community(
            session=session, shop_id=other_shop.id, community_id=community.id
        )
    stranger = await factories.make_customer(session, shop_id=other_shop.id)
    await service.archive_community(
        session=session, shop_id=shop.id, community_id=community.id, archived=False
    )
    with pytest.raises(NotFound):
        await service.join_community(
            session=session, shop_id=shop.id, community_id=community.id, customer_id=stranger.id,
            source="manual",
        )  # fmt: skip


async def test_health_figures_on_a_hand_made_group(session, shop) -> None:
    now = utcnow()
    days = lambda n: now - dt.timedelta(days=n)  # noqa: E731
    group = await make_community(session, shop)
    other = await make_community(session, shop, name="茶友兴趣群", kind="interest")
    wang, li, zhang, zhao = [
        await factories.make_customer(session, shop_id=shop.id, name=n)
        for n in ("王芳", "李娜", "张伟", "赵磊")
    ]

    async def stay(customer, joined, left=None, community=group):  # type: ignore[no-untyped-def]
        await service.join_community(
            session=session, shop_id=shop.id, community_id=community.id,
            customer_id=customer.id, source="manual", joined_at=joined,
        )  # fmt: skip
        if left is not None:
            await service.leave_community(
                session=session, shop_id=shop.id, community_id=community.id,
                customer_id=customer.id, left_at=left,
            )  # fmt: skip

    await stay(wang, days(40))  # member, joined long ago
    await stay(li, days(20))  # member, joined within 30 days
    await stay(zhang, days(3))  # member, joined within 7 days
    await stay(zhao, days(25), left=days(10))  # left within 30 days
    await stay(zhao, days(2), left=days(1))  # rejoined and left within 7 days
    await stay(wang, days(1), community=other)

    # Active: wang and zhang did something in the last 7 days; li only 9 days ago;
    # zhao did something but is no longer a member.
    for customer, when in ((wang, days(2)), (zhang, days(1)), (li, days(9)), (zhao, days(1))):
        await factories.make_events(
            session, shop_id=shop.id, customer_id=customer.id, types=("view",), n=1, start=when
        )
    await events_service.ingest_events(
        session=session,
        shop_id=shop.id,
        items=[
            {"type": "community_message", "customer_id": wang.id, "occurred_at": days(1).isoformat(),
             "properties": {"community_id": group.id}},
            {"type": "community_message", "customer_id": zhang.id,
             "occurred_at": days(2).isoformat(), "properties": {"community_id": group.id}},
            {"type": "community_message", "customer_id": li.id, "occurred_at": days(8).isoformat(),
             "properties": {"community_id": group.id}},
            {"type": "community_message", "customer_id": wang.id,
             "occurred_at": days(1).isoformat(), "properties": {"community_id": other.id}},
            # A channel's malformed id is ignored, not an error.
            {"type": "community_message", "customer_id": wang.id,
             "occurred_at": days(1).isoformat(), "properties": {"community_id": "第3群"}},
        ],
    )  # fmt: skip
    before_orders = await service.community_health(session=session, shop_id=shop.id, now=now)
    # (Placing an order is itself an event of today, so activity is read before the orders.)
    assert before_orders[group.id].active_7d == 2
    # Orders: wang paid 5 days ago (in the group: counts for both stays he had by then: only
    # `group`, since he joined `other` a day ago); li paid 30 days ago, before joining (not
    # counted); zhao paid 15 days ago during his first stay (counted), and today after leaving
    # (not counted).
    counted = await paid_order(session, shop, wang, paid_at=days(5), price_fen=12900)
    await paid_order(session, shop, li, paid_at=days(30), price_fen=5000)
    also_counted = await paid_order(session, shop, zhao, paid_at=days(15), price_fen=3000)
    await paid_order(session, shop, zhao, paid_at=now, price_fen=7000)

    health = await service.community_health(session=session, shop_id=shop.id, now=now)
    figures = vars(health[group.id])
    assert figures == {
        "members": 3,
        "joins_7d": 2,  # zhang, zhao's second stay
        "joins_30d": 4,  # + li, zhao's first stay
        "leaves_7d": 1,
        "leaves_30d": 2,
        "active_7d": 3,  # + li, who placed an order today
        "messages_7d": 2,
        "orders": 2,
        "gmv_fen": counted.paid_fen + also_counted.paid_fen,
    }
    assert vars(health[other.id])["members"] == 1
    assert vars(health[other.id])["messages_7d"] == 1
    assert vars(health[other.id])["orders"] == 0


async def test_promotion_job_promotes_once_and_leaves_when_told(session, shop) -> None:
    newcomer = await make_community(session, shop, tier_level=0)
    vip = await make_community(
        session, shop, name="VIP会员群", kind="vip", tier_level=1, capacity=2
    )
    with pytest.raises(InvalidInput):
        await service.create_promotion_rule(
            session=session,
            shop_id=shop.id,
            data=PromotionRuleIn(
                name="下行", from_community_id=vip.id, to_community_id=newcomer.id
            ),
        )
    rule = await service.create_promotion_rule(
        session=session,
        shop_id=shop.id,
        data=PromotionRuleIn(
            name="新人转VIP",
            from_community_id=newcomer.id,
            to_community_id=vip.id,
            min_paid_orders=1,
            window_days=30,
            leave_from=True,
        ),
    )
    buyers = [
        await factories.make_customer(session, shop_id=shop.id, name=f"买家{i}") for i in range(3)
    ]
    idle = await factories.make_customer(session, shop_id=shop.id, name="只看不买")
    old_buyer = await factories.make_customer(session, shop_id=shop.id, name="老买家")
    for customer in [*buyers, idle, old_buyer]:
        await service.join_community(
            session=session, shop_id=shop.id, community_id=newcomer.id, customer_id=customer.id,
            source="manual",
        )  # fmt: skip
    for customer in buyers:
        await paid_order(session, shop, customer, paid_at=utcnow() - dt.timedelta(days=3))
    await paid_order(session, shop, old_buyer, paid_at=utcnow() - dt.timedelta(days=45))

    # The VIP group holds two: the third buyer waits for the next run.
    assert await service.run_promotion_rule(session=session, shop_id=shop.id, rule_id=rule.id) == 2
    assert await service.run_promotion_rule(session=session, shop_id=shop.id, rule_id=rule.id) == 0
    vip_members = await service.list_members(session=session, shop_id=shop.id, community_id=vip.id)
    assert sorted(m.customer_id for m in vip_members.items) == [buyers[0].id, buyers[1].id]
    assert {m.source for m in vip_members.items} == {"promotion"}
    assert {m.trigger for m in vip_members.items} == {f"rule:{rule.id}"}
    still_new = await service.list_members(
        session=session, shop_id=shop.id, community_id=newcomer.id
    )
    assert sorted(m.customer_id for m in still_new.items) == sorted(
        [buyers[2].id, idle.id, old_buyer.id]
    )

    # Room in the VIP group: the next run (the nightly job) promotes the third, once.
    await service.update_community(
        session=session, shop_id=shop.id, community_id=vip.id,
        data=CommunityUpdate(capacity=10),
    )  # fmt: skip
    from liveloop.customers.communities.tasks import run_community_promotions

    assert await run_community_promotions.run(session=session) == 1
    assert await run_community_promotions.run(session=session) == 0
    promotions = (
        (
            await session.execute(
                select(CommunityPromotion).where(CommunityPromotion.rule_id == rule.id)
            )
        )
        .scalars()
        .all()
    )
    assert sorted(p.customer_id for p in promotions) == sorted(b.id for b in buyers)
    # A promoted member who leaves the VIP group is not promoted again.
    await service.leave_community(
        session=session, shop_id=shop.id, community_id=vip.id, customer_id=buyers[0].id
    )
    await service.join_community(
        session=session, shop_id=shop.id, community_id=newcomer.id, customer_id=buyers[0].id,
        source="manual",
    )  # fmt: skip
    assert await service.run_promotion_rule(session=session, shop_id=shop.id, rule_id=rule.id) == 0
    rows = (
        (
            await session.execute(
                select(CommunityMember).where(
                    CommunityMember.customer_id == buyers[0].id,
                    CommunityMember.community_id == vip.id,
                )
            )
        )
        .scalars()
        .all()
    )
    assert len(rows) == 1
