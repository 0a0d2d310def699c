"""Group buy: open, join, confirm at N paid, fail and refund at the deadline, simulate."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from liveloop.commerce import orders as orders_service
from liveloop.commerce.groupbuy import service as groupbuy
from liveloop.commerce.groupbuy.models import GroupBuyMember
from liveloop.commerce.groupbuy.schemas import CampaignCreate, GroupSettingsIn
from liveloop.commerce.payments.models import Refund
from liveloop.core.errors import Conflict
from liveloop.shops.service import system_actor
from tests import factories
from tests.commerce.growth_helpers import pay


@pytest.fixture
async def campaign(session, shop):  # type: ignore[no-untyped-def]
    product = await factories.make_product(session, shop_id=shop.id, price_fen=9900, stock=50)
    return await groupbuy.create_campaign(
        session=session,
        actor=system_actor(shop.id),
        data=CampaignCreate(
            title="三人团 龙井",
            sku_id=product.skus[0].id,
            group_price_fen=5900,
            group_size=3,
            time_limit_minutes=30,
            per_customer_limit=2,
        ),
    )


async def buyer(session, shop, name: str):  # type: ignore[no-untyped-def]
    customer = await factories.make_customer(session, shop_id=shop.id, name=name)
    address = await factories.make_address(session, shop_id=shop.id, customer_id=customer.id)
    return customer, address


async def open_group(session, shop, campaign, name="张伟"):  # type: ignore[no-untyped-def]
    customer, address = await buyer(session, shop, name)
    purchase = await groupbuy.open_group(
        session=session,
        shop_id=shop.id,
        campaign_id=campaign.id,
        customer_id=customer.id,
        address_id=address.id,
        display_name=name,
    )
    return purchase


async def join(session, shop, group, name: str, quantity: int = 1):  # type: ignore[no-untyped-def]
    customer, address = await buyer(session, shop, name)
    return await groupbuy.join_group(
        session=session,
        shop_id=shop.id,
        code=group.code,
        customer_id=customer.id,
        address_id=address.id,
        display_name=name,
        quantity=quantity,
    )


async def test_three_paid_members_confirm_the_group(session, shop, campaign) -> None:
    leader = await open_group(session, shop, campaign)
    assert leader.order.kind == "group"
    assert leader.order.lines[0].unit_price_fen == 5900
    assert leader.order.share_code == ""
    others = [await join(session, shop, leader.group, name) for name in ("李娜", "王芳")]
    assert others[0].order.share_code == leader.group.code
    for purchase in [leader, *others[:1]]:
        await pay(session, purchase.order)
    await session.refresh(leader.group)
    assert (leader.group.status, leader.group.paid_count) == ("open", 2)
    await pay(session, others[1].order)
    await session.refresh(leader.group)
    assert (leader.group.status, leader.group.paid_count) == ("confirmed", 3)
    view = await groupbuy.group_view(session=session, group=leader.group)
    assert [m["name"] for m in view["members"]] == ["张**", "李**", "王**"]
    assert view["seats_left"] == 0


async def test_joining_refusals_say_why(session, shop, campaign) -> None:
    leader = await open_group(session, shop, campaign)
    first = await join(session, shop, leader.group, "李娜")
    with pytest.raises(Conflict) as twice:
        await groupbuy.join_group(
            session=session,
            shop_id=shop.id,
            code=leader.group.code,
            customer_id=first.member.customer_id,
            address_id=None,
        )
    assert twice.value.code == "group_already_joined"
    with pytest.raises(Conflict) as over:
        await join(session, shop, leader.group, "赵敏", quantity=3)
    assert over.value.code == "group_limit_exceeded"
    assert "allows 2 per customer" in over.value.message
    await join(session, shop, leader.group, "王芳")
    with pytest.raises(Conflict) as full:
        await join(session, shop, leader.group, "陈晨")
    assert full.value.code == "group_full"


async def test_an_expired_group_cannot_be_joined(session, shop, campaign) -> None:
    leader = await open_group(session, shop, campaign)
    leader.group.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await session.flush()
    with pytest.raises(Conflict) as late:
        await join(session, shop, leader.group, "李娜")
    assert late.value.code == "group_expired"


async def test_a_group_short_at_its_deadline_fails_and_refunds_each_paid_member(
    session, shop, campaign
) -> None:
    leader = await open_group(session, shop, campaign)
    paid_member = await join(session, shop, leader.group, "李娜")
    unpaid_member = await join(session, shop, leader.group, "王芳")
    await pay(session, leader.order)
    await pay(session, paid_member.order)
    later = leader.group.expires_at + dt.timedelta(seconds=1)
    early = await groupbuy.close_group(
        session=session,
        shop_id=shop.id,
        group_id=leader.group.id,
        now=later - dt.timedelta(minutes=1),
    )
    assert early == "open"
    status = await groupbuy.close_group(
        session=session, shop_id=shop.id, group_id=leader.group.id, now=later
    )
    assert status == "failed"
    refunds = (
        (await session.execute(select(Refund).where(Refund.shop_id == shop.id))).scalars().all()
    )
    assert sorted(r.order_id for r in refunds) == sorted([leader.order.id, paid_member.order.id])
    assert all(r.amount_fen == leader.order.total_fen for r in refunds)
    unpaid = await orders_service.get_order(
        session=session, shop_id=shop.id, order_id=unpaid_member.order.id
    )
    assert unpaid.status == "cancelled"
    members = (
        (
            await session.execute(
                select(GroupBuyMember).where(GroupBuyMember.group_id == leader.group.id)
            )
        )
        .scalars()
        .all()
    )
    assert sorted(m.status for m in members) == ["cancelled", "refunded", "refunded"]
    # The deadline job and the sweeper may both run: nothing more happens the second time.
    again = await groupbuy.close_group(
        session=session, shop_id=shop.id, group_id=leader.group.id, now=later
    )
    assert again == "failed"
    assert len((await session.execute(select(Refund).where(Refund.shop_id == shop.id))).all()) == 2
    for order in (leader.order, paid_member.order):
        refreshed = await orders_service.get_order(
            session=session, shop_id=shop.id, order_id=order.id
        )
        assert refreshed.refunded_fen == refreshed.paid_fen == refreshed.total_fen > 0


async def test_simulate_group_confirms_a_short_group_at_its_deadline(
    session, shop, campaign
) -> None:
    await groupbuy.update_settings(
        session=session, actor=system_actor(shop.id), data=GroupSettingsIn(simulate_group=True)
    )
    leader = await open_group(session, shop, campaign)
    await pay(session, leader.order)
    status = await groupbuy.close_group(
        session=session,
        shop_id=shop.id,
        group_id=leader.group.id,
        now=leader.group.expires_at + dt.timedelta(seconds=1),
    )
    assert status == "confirmed"
    assert leader.group.simulated is True
    assert (await session.execute(select(Refund).where(Refund.shop_id == shop.id))).first() is None


async def test_an_unpaid_seat_comes_back_when_its_order_is_cancelled(
    session, shop, campaign
) -> None:
    leader = await open_group(session, shop, campaign)
    member = await join(session, shop, leader.group, "李娜")
    await session.refresh(leader.group)
    assert leader.group.seats_taken == 2
    await orders_service.cancel_order(
        session=session,
        shop_id=shop.id,
        order_id=member.order.id,
        reason="changed my mind",
        actor=system_actor(shop.id),
    )
    await session.refresh(leader.group)
    assert leader.group.seats_taken == 1
    # ... and the same customer may take a seat again.
    again = await groupbuy.join_group(
        session=session,
        shop_id=shop.id,
        code=leader.group.code,
        customer_id=member.member.customer_id,
        address_id=member.order.address_id if hasattr(member.order, "address_id") else None,
    )
    assert again.member.status == "pending"


async def test_the_per_customer_limit_spans_groups_and_frees_with_the_order(
    session, shop, campaign
) -> None:
    customer, address = await buyer(session, shop, "张伟")

    async def open_one(quantity: int):  # type: ignore[no-untyped-def]
        return await groupbuy.open_group(
            session=session,
            shop_id=shop.id,
            campaign_id=campaign.id,
            customer_id=customer.id,
            address_id=address.id,
            quantity=quantity,
        )

    first = await open_one(1)
    await open_one(1)
    with pytest.raises(Conflict) as third:
        await open_one(1)
    assert third.value.code == "group_limit_exceeded"
    assert "already hold 2 and asked for 1" in third.value.message
    await orders_service.cancel_order(
        session=session,
        shop_id=shop.id,
        order_id=first.order.id,
        reason="换个团",
        actor=system_actor(shop.id),
    )
    assert (await open_one(1)).member.quantity == 1  # the cancelled unit came back


async def test_a_group_order_ships_only_once_its_group_is_confirmed(
    session, shop, campaign, client
) -> None:
    leader = await open_group(session, shop, campaign)
    second = await join(session, shop, leader.group, "李娜")
    await pay(session, leader.order)
    await pay(session, second.order)
    body = {"carrier": "顺丰", "tracking_number": "SF2001"}
    refused = await client.post(f"/api/v1/orders/{leader.order.id}/ship", json=body)
    assert refused.status_code == 409, refused.text
    error = refused.json()
    assert (error["code"], error["field"]) == ("group_not_confirmed", "status")
    assert f"group {leader.group.code}, which is open (2 of 3 paid)" in error["message"]
    await session.refresh(leader.order)
    assert (leader.order.status, leader.order.shipped_at) == ("paid", None)

    third = await join(session, shop, leader.group, "王芳")
    await pay(session, third.order)
    await session.refresh(leader.group)
    assert leader.group.status == "confirmed"
    shipped = await client.post(f"/api/v1/orders/{leader.order.id}/ship", json=body)
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped"


async def test_a_failed_group_order_cannot_ship(session, shop, campaign, actor) -> None:
    leader = await open_group(session, shop, campaign)
    await pay(session, leader.order)
    leader.group.status = "failed"  # as if the refund of the failed group had not run yet
    await session.flush()
    with pytest.raises(Conflict) as refused:
        await orders_service.ship_order(
            session=session,
            actor=actor,
            order_id=leader.order.id,
            carrier="SF",
            tracking_number="1",
        )
    assert refused.value.code == "group_not_confirmed"
    assert "which is failed (1 of 3 paid)" in refused.value.message
