"""Fixtures of points tests: a customer, coupons, and a helper to read a balance."""

from __future__ import annotations

import pytest

from liveloop.commerce.coupons import service as coupons_service
from liveloop.commerce.coupons.schemas import CouponCreate
from tests import factories


@pytest.fixture
async def member(session, shop):  # type: ignore[no-untyped-def]
    return await factories.make_customer(session, shop_id=shop.id, name="王芳")


async def make_coupon(session, shop_id: int, *, total: int = 100, title: str = "积分券"):  # type: ignore[no-untyped-def]
    return await coupons_service.create_coupon(
        session=session,
        shop_id=shop_id,
        data=CouponCreate(
            title=title, kind="amount_off", amount_off_fen=500, total_quantity=total,
            per_customer_limit=10, valid_days=30, status="active",
        ),
    )  # fmt: skip


@pytest.fixture
async def coupon(session, shop):  # type: ignore[no-untyped-def]
    return await make_coupon(session, shop.id)


async def make_points_records(session, *, shop_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """One earn rule, tier and catalogue item of a shop (for the shop isolation test)."""
    from liveloop.customers.points import earning, redemption, tiers
    from liveloop.shops.service import system_actor

    actor = system_actor(shop_id)
    rule = await earning.create_rule(
        session=session, actor=actor, values={"event_type": "share", "points": 1}
    )
    tier = await tiers.create_tier(
        session=session, actor=actor, values={"name": "银卡", "level": 1}
    )
    coupon = await make_coupon(session, shop_id)
    item = await redemption.create_item(
        session=session,
        actor=actor,
        values={"title": "券", "coupon_id": coupon.id, "points_price": 10},
    )
    return {"earn_rule_id": rule.id, "tier_id": tier.id, "item_id": item.id}
