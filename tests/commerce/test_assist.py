"""Assist: helpers move an assist to its reward; abuse is refused, recorded and shown."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from liveloop.commerce.assist import service as assist
from liveloop.commerce.assist.models import AssistRefusal
from liveloop.commerce.assist.schemas import AssistCampaignCreate
from liveloop.commerce.coupons import service as coupons_service
from liveloop.commerce.coupons.models import CustomerCoupon
from liveloop.commerce.coupons.schemas import CouponCreate
from liveloop.core.errors import Conflict
from liveloop.shops.service import system_actor
from tests import factories
from tests.commerce.growth_helpers import pay


@pytest.fixture
async def sku(session, shop):  # type: ignore[no-untyped-def]
    product = await factories.make_product(session, shop_id=shop.id, price_fen=10000, stock=10)
    return product.skus[0]


async def price_cut(session, shop, sku, **options):  # type: ignore[no-untyped-def]
    data = {
        "title": "砍到 ¥1",
        "reward_kind": "price_cut",
        "sku_id": sku.id,
        "target_price_fen": 100,
        "helpers_needed": 3,
        **options,
    }
    return await assist.create_campaign(
        session=session, actor=system_actor(shop.id), data=AssistCampaignCreate(**data)
    )


async def customer(session, shop, name: str):  # type: ignore[no-untyped-def]
    return await factories.make_customer(session, shop_id=shop.id, name=name)


async def help_(session, shop, started, helper, device: str):  # type: ignore[no-untyped-def]
    return await assist.help_assist(
        session=session,
        shop_id=shop.id,
        code=started.code,
        helper_customer_id=helper.id if helper is not None else None,
        device_id=device,
        display_name=helper.display_name if helper is not None else "",
    )


async def start(session, shop, campaign, owner, device="dev-owner"):  # type: ignore[no-untyped-def]
    return await assist.start_assist(
        session=session,
        shop_id=shop.id,
        campaign_id=campaign.id,
        customer_id=owner.id,
        device_id=device,
        display_name=owner.display_name,
    )


async def test_helpers_cut_the_price_to_the_target_and_the_owner_buys_once(
    session, shop, sku
) -> None:
    campaign = await price_cut(session, shop, sku)
    owner = await customer(session, shop, "张伟")
    started = await start(session, shop, campaign, owner)
    assert await start(session, shop, campaign, owner) is started  # one assist each
    cuts = []
    for number, name in enumerate(("李娜", "王芳", "赵敏")):
        outcome = await help_(
            session, shop, started, await customer(session, shop, name), f"d{number}"
        )
        assert outcome.accepted, outcome.reason
        cuts.append(outcome.cut_fen)
    assert cuts == [3300, 3300, 3300]
    view = await assist.assist_view(session=session, assist=started)
    assert (view["status"], view["current_price_fen"], view["rewarded"]) == ("completed", 100, True)
    assert [h["name"] for h in view["helpers"]] == ["李**", "王**", "赵**"]
    address = await factories.make_address(session, shop_id=shop.id, customer_id=owner.id)
    order = await assist.redeem_price_cut(
        session=session,
        shop_id=shop.id,
        code=started.code,
        customer_id=owner.id,
        address_id=address.id,
    )
    assert order.lines[0].unit_price_fen == 100
    with pytest.raises(Conflict) as again:
        await assist.redeem_price_cut(
            session=session,
            shop_id=shop.id,
            code=started.code,
            customer_id=owner.id,
            address_id=address.id,
        )
    assert again.value.code == "assist_already_redeemed"
    paid = await pay(session, order)
    assert paid.status == "paid"


async def test_abuse_is_refused_and_recorded_with_its_reason(session, shop, sku) -> None:
    campaign = await price_cut(session, shop, sku, helpers_needed=5)
    owner = await customer(session, shop, "张伟")
    other_owner = await customer(session, shop, "孙丽")
    started = await start(session, shop, campaign, owner, device="dev-owner")
    second = await start(session, shop, campaign, other_owner, device="dev-sun")
    helper = await customer(session, shop, "李娜")
    twin = await customer(session, shop, "李娜小号")

    refusals = [
        await help_(session, shop, started, owner, "dev-x"),  # helping oneself
        await help_(session, shop, started, twin, "dev-owner"),  # on the owner's own phone
        await help_(session, shop, started, None, "dev-guest"),  # a guest who never signed in
    ]
    assert (await help_(session, shop, started, helper, "dev-li")).accepted
    refusals += [
        await help_(session, shop, second, helper, "dev-li-2"),  # one help per campaign
        await help_(session, shop, second, twin, "dev-li"),  # same device, another customer
    ]
    assert [r.reason for r in refusals] == [
        "self_help",
        "self_help",
        "no_customer",
        "already_helped",
        "device_used",
    ]
    assert not any(r.accepted for r in refusals)
    assert "one help each" in refusals[3].message
    recorded = (
        await session.execute(
            select(AssistRefusal.reason, AssistRefusal.device_id)
            .where(AssistRefusal.campaign_id == campaign.id)
            .order_by(AssistRefusal.id)
        )
    ).all()
    assert [tuple(row) for row in recorded] == [
        ("self_help", "dev-x"),
        ("self_help", "dev-owner"),
        ("no_customer", "dev-guest"),
        ("already_helped", "dev-li-2"),
        ("device_used", "dev-li"),
    ]
    await session.refresh(started)
    await session.refresh(second)
    assert (started.helpers_count, second.helpers_count) == (1, 0)


async def test_the_campaign_cap_and_new_customers_only(session, shop, sku) -> None:
    regular = await customer(session, shop, "老客")
    campaign = await price_cut(session, shop, sku, max_helps=1, new_customers_only=True)
    owner = await customer(session, shop, "张伟")
    started = await start(session, shop, campaign, owner)
    old = await help_(session, shop, started, regular, "dev-old")
    assert old.reason == "not_new_customer"
    newcomer = await customer(session, shop, "新客")
    assert (await help_(session, shop, started, newcomer, "dev-new")).accepted
    late = await help_(session, shop, started, await customer(session, shop, "新客二"), "dev-new-2")
    assert late.reason == "helper_cap"
    await session.refresh(campaign)
    assert campaign.helps_used == 1  # the refused help gave its count back


async def test_an_expired_assist_takes_no_more_help(session, shop, sku) -> None:
    campaign = await price_cut(session, shop, sku)
    started = await start(session, shop, campaign, await customer(session, shop, "张伟"))
    started.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await session.flush()
    late = await help_(session, shop, started, await customer(session, shop, "李娜"), "dev-li")
    assert late.reason == "assist_closed"
    assert await assist.expire_due_assists(session=session) >= 1
    await session.refresh(started)
    assert started.status == "expired"


async def test_a_coupon_reward_is_granted_once(session, shop) -> None:
    coupon = await coupons_service.create_coupon(
        session=session,
        shop_id=shop.id,
        data=CouponCreate(
            title="助力券 ¥20",
            kind="amount_off",
            amount_off_fen=2000,
            total_quantity=100,
            valid_days=7,
            status="active",
        ),
    )
    campaign = await assist.create_campaign(
        session=session,
        actor=system_actor(shop.id),
        data=AssistCampaignCreate(
            title="两人助力领券", reward_kind="coupon", coupon_id=coupon.id, helpers_needed=2
        ),
    )
    owner = await customer(session, shop, "张伟")
    started = await start(session, shop, campaign, owner)
    for number, name in enumerate(("李娜", "王芳")):
        await help_(session, shop, started, await customer(session, shop, name), f"d{number}")
    assert started.status == "completed"
    assert (
        await assist.grant_reward(session=session, shop_id=shop.id, assist_id=started.id) is False
    )
    held = (
        (
            await session.execute(
                select(CustomerCoupon).where(CustomerCoupon.customer_id == owner.id)
            )
        )
        .scalars()
        .all()
    )
    assert [c.id for c in held] == [started.customer_coupon_id]
