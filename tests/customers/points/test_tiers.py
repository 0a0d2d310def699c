"""Tiers: upgrade at once with the coupon pack given once, downgrade only after the grace,
every move recorded, spend-based tiers from paid orders."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from liveloop.commerce.coupons.models import CustomerCoupon
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.customers.points import service as points
from liveloop.customers.points import tiers
from liveloop.customers.points.models import TierChange
from liveloop.shops.service import system_actor
from tests import factories
from tests.commerce.growth_helpers import pay


async def make_tiers(session, shop_id: int, coupon_id: int | None = None):  # type: ignore[no-untyped-def]
    actor = system_actor(shop_id)
    made = []
    for name, level, threshold, spend in (
        ("银卡", 1, 100, 10_000), ("金卡", 2, 500, 50_000), ("钻石卡", 3, 2000, 200_000)
    ):  # fmt: skip
        benefits = {"priority_service": level >= 2, "vip_sessions": level >= 3}
        if coupon_id is not None and level == 2:
            benefits["coupon_ids"] = [coupon_id]
        made.append(
            await tiers.create_tier(
                session=session,
                actor=actor,
                values={
                    "name": name,
                    "level": level,
                    "min_points": threshold,
                    "min_spend_fen": spend,
                    "benefits": benefits,
                },
            )
        )
    return made


async def grant(session, shop_id: int, customer_id: int, n: int, reason: str = "manual"):  # type: ignore[no-untyped-def]
    return await points.grant_points(
        session=session, shop_id=shop_id, customer_id=customer_id, points=n, reason=reason
    )


async def changes(session, customer_id: int) -> list[tuple[int, int, str]]:  # type: ignore[no-untyped-def]
    rows = await session.execute(
        select(TierChange.from_level, TierChange.to_level, TierChange.reason)
        .where(TierChange.customer_id == customer_id)
        .order_by(TierChange.id)
    )
    return [tuple(row) for row in rows.all()]


async def test_grants_upgrade_at_once_and_the_coupon_pack_is_given_once(
    session, shop, member, coupon
) -> None:
    await make_tiers(session, shop.id, coupon_id=coupon.id)
    assert await tiers.customer_tier_level(session, shop.id, member.id) == 0
    await grant(session, shop.id, member.id, 150)
    assert await tiers.customer_tier_level(session, shop.id, member.id) == 1
    await grant(session, shop.id, member.id, 400)
    assert await tiers.customer_tier_level(session, shop.id, member.id) == 2
    benefits = await tiers.customer_benefits(
        session=session, shop_id=shop.id, customer_id=member.id
    )
    assert benefits["priority_service"] is True and benefits["vip_sessions"] is False
    # Down (an admin deletes 金卡's threshold grace) and up again: no second pack.
    settings = await points.update_settings(
        session=session, shop_id=shop.id, changes={"downgrade_grace_days": 0},
        actor=system_actor(shop.id),
    )  # fmt: skip
    assert settings.downgrade_grace_days == 0
    gold = (await tiers.list_tiers(session=session, shop_id=shop.id))[1]
    await tiers.update_tier(
        session=session, actor=system_actor(shop.id), tier_id=gold.id, changes={"min_points": 5000}
    )
    now = dt.datetime.now(dt.UTC)
    await tiers.recompute_tiers(session=session, shop_id=shop.id, now=now)  # grace starts
    await tiers.recompute_tiers(session=session, shop_id=shop.id, now=now + dt.timedelta(seconds=1))
    assert await tiers.customer_tier_level(session, shop.id, member.id) == 1
    await tiers.update_tier(
        session=session, actor=system_actor(shop.id), tier_id=gold.id, changes={"min_points": 500}
    )
    await tiers.recompute_tiers(session=session, shop_id=shop.id)
    assert await tiers.customer_tier_level(session, shop.id, member.id) == 2
    held = (
        await session.execute(select(func.count()).where(CustomerCoupon.coupon_id == coupon.id))
    ).scalar_one()
    assert held == 1
    assert await changes(session, member.id) == [
        (0, 1, "upgrade"), (1, 2, "upgrade"), (2, 1, "downgrade"), (1, 2, "upgrade")
    ]  # fmt: skip


async def test_downgrade_waits_for_the_grace_and_requalifying_cancels_it(
    session, shop, member
) -> None:
    await make_tiers(session, shop.id)
    await points.update_settings(
        session=session, shop_id=shop.id, actor=system_actor(shop.id),
        changes={"tier_basis": "points_window", "tier_window_days": 30, "downgrade_grace_days": 10},
    )  # fmt: skip
    await grant(session, shop.id, member.id, 600)
    assert await tiers.customer_tier_level(session, shop.id, member.id) == 2
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)  # the 600 left the window
    counts = await tiers.recompute_tiers(session=session, shop_id=shop.id, now=later)
    assert counts == {"upgraded": 0, "downgraded": 0, "in_grace": 1}
    counts = await tiers.recompute_tiers(
        session=session, shop_id=shop.id, now=later + dt.timedelta(days=9)
    )
    assert counts["downgraded"] == 0
    assert await tiers.customer_tier_level(session, shop.id, member.id) == 2
    counts = await tiers.recompute_tiers(
        session=session, shop_id=shop.id, now=later + dt.timedelta(days=10)
    )
    assert counts["downgraded"] == 1
    assert await tiers.customer_tier_level(session, shop.id, member.id) == 0
    # Running again changes nothing more.
    assert await tiers.recompute_tiers(
        session=session, shop_id=shop.id, now=later + dt.timedelta(days=11)
    ) == {"upgraded": 0, "downgraded": 0, "in_grace": 0}


async def test_spend_tiers_count_paid_orders_less_refunds(session, shop, member) -> None:
    await make_tiers(session, shop.id)
    await points.update_settings(
        session=session, shop_id=shop.id, actor=system_actor(shop.id),
        changes={"tier_basis": "spend_window"},
    )  # fmt: skip
    tea = await factories.make_product(session, shop_id=shop.id, name="龙井", price_fen=60_000)
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=member.id, lines=[(tea.skus[0].id, 1)]
    )
    await pay(session, order)  # the order_paid hook places the customer at once
    assert await tiers.customer_tier_level(session, shop.id, member.id) == 2
    other = await factories.make_customer(session, shop_id=shop.id, name="没买过")
    await tiers.recompute_tiers(session=session, shop_id=shop.id)
    assert await tiers.customer_tier_level(session, shop.id, other.id) == 0


async def test_tier_validation(session, shop, other_shop) -> None:
    actor = system_actor(shop.id)
    await tiers.create_tier(
        session=session, actor=actor, values={"name": "银卡", "level": 1, "min_points": 1}
    )
    with pytest.raises(Conflict) as taken:
        await tiers.create_tier(session=session, actor=actor, values={"name": "又一个", "level": 1})
    assert taken.value.code == "tier_level_taken"
    with pytest.raises(InvalidInput):
        await tiers.create_tier(
            session=session, actor=actor, values={"name": "X", "level": 2, "benefits": {"fly": 1}}
        )
    from tests.customers.points.conftest import make_coupon

    foreign = await make_coupon(session, other_shop.id)
    with pytest.raises(NotFound):
        await tiers.create_tier(
            session=session, actor=actor,
            values={"name": "X", "level": 3, "benefits": {"coupon_ids": [foreign.id]}},
        )  # fmt: skip
