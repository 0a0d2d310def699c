"""The demo shop's points and tiers: earn rules, 银卡/金卡/钻石卡 with coupon packs, a
redemption catalogue, and a ledger history (purchases, check-ins, comments, redemptions),
all made through the points and coupons services."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce.coupons import service as coupons_service
from liveloop.commerce.coupons.schemas import CouponCreate
from liveloop.core.errors import Conflict
from liveloop.customers.points import earning, redemption, tiers
from liveloop.customers.points import service as points
from liveloop.shops.service import Actor

EARN_RULES = (
    ("check_in", 10, None),
    ("comment", 2, 20),
    ("share", 5, 15),
    ("watch_minutes", 1, 60),
    ("purchase", 1, None),
    ("review", 20, 40),
)


@dataclass(frozen=True)
class PointsReport:
    entries: int
    members: dict[str, int]  # tier name -> customers in it
    redemptions: int
    events: int  # analytics events written on the way (coupons granted)


async def _coupon(
    session: AsyncSession, shop_id: int, title: str, off: int, threshold: int = 0
) -> int:
    coupon = await coupons_service.create_coupon(
        session=session,
        shop_id=shop_id,
        data=CouponCreate(
            title=title,
            kind="threshold" if threshold else "amount_off",
            amount_off_fen=off,
            threshold_fen=threshold,
            valid_days=30,
            total_quantity=100_000,
            per_customer_limit=20,
            status="draft",  # granted only: kept off the public claim pages
        ),
    )
    return coupon.id


async def seed_points(
    session: AsyncSession,
    *,
    shop_id: int,
    actor: Actor,
    customer_ids: Sequence[int],
    now: dt.datetime,
    seed: int = 7,
) -> PointsReport:
    rng = random.Random(seed)
    events_before = await _event_count(session, shop_id)
    for event_type, amount, cap in EARN_RULES:
        await earning.create_rule(
            session=session,
            actor=actor,
            values={"event_type": event_type, "points": amount, "daily_cap": cap},
        )
    gold_pack = await _coupon(session, shop_id, "金卡升级礼 · 满99减20", 2000, 9900)
    diamond_pack = await _coupon(session, shop_id, "钻石卡升级礼 · 50元无门槛", 5000)
    for name, level, threshold, benefits in (
        ("银卡", 1, 200, {"member_discount_percent": 98}),
        ("金卡", 2, 1000, {"coupon_ids": [gold_pack], "priority_service": True,
                          "member_discount_percent": 95}),
        ("钻石卡", 3, 3000, {"coupon_ids": [diamond_pack], "priority_service": True,
                           "vip_sessions": True, "member_discount_percent": 90}),
    ):  # fmt: skip
        await tiers.create_tier(
            session=session,
            actor=actor,
            values={"name": name, "level": level, "min_points": threshold, "benefits": benefits},
        )
    items = []
    for title, off, threshold, price, stock in (
        ("5元无门槛券", 500, 0, 300, None),
        ("满199减30券", 3000, 19900, 800, 200),
        ("20元无门槛券", 2000, 0, 1500, 50),
    ):
        coupon_id = await _coupon(session, shop_id, f"积分兑换 · {title}", off, threshold)
        items.append(
            await redemption.create_item(
                session=session,
                actor=actor,
                values={
                    "title": title,
                    "coupon_id": coupon_id,
                    "points_price": price,
                    "stock": stock,
                },
            )
        )

    entries = await _purchase_points(session, shop_id)
    entries += await _behaviour_points(session, shop_id, customer_ids, now, rng)
    redeemed = await _redemptions(session, shop_id, customer_ids, items, rng)
    # The history above was written as it happened; events from now on earn through the job.
    await earning.skip_to_latest_event(session=session)
    await tiers.recompute_tiers(session=session, shop_id=shop_id, now=now)
    counts = await tiers.members_per_tier(session=session, shop_id=shop_id)
    names = {t.id: t.name for t in await tiers.list_tiers(session=session, shop_id=shop_id)}
    return PointsReport(
        entries=entries + redeemed,
        members={names[tier_id]: count for tier_id, count in counts.items()},
        redemptions=redeemed,
        events=await _event_count(session, shop_id) - events_before,
    )


async def _event_count(session: AsyncSession, shop_id: int) -> int:
    from sqlalchemy import func

    from liveloop.events.models import Event

    statement = select(func.count()).select_from(Event).where(Event.shop_id == shop_id)
    return int((await session.execute(statement)).scalar_one())


async def _purchase_points(session: AsyncSession, shop_id: int) -> int:
    """1 point per ¥1 of every paid order of the history, as the order_paid hook gives them
    from now on; refunds taken back the same way."""
    from liveloop.commerce.models import Order

    orders = (
        await session.execute(
            select(Order.id, Order.customer_id, Order.paid_fen, Order.refunded_fen, Order.paid_at)
            .where(Order.shop_id == shop_id, Order.paid_at.is_not(None))
            .where(Order.customer_id.is_not(None))
            .order_by(Order.paid_at)
        )
    ).all()
    written = 0
    for order_id, customer_id, paid, refunded, paid_at in orders:
        earned = (paid - refunded) // 100
        if earned <= 0:
            continue
        await points.grant_points(
            session=session,
            shop_id=shop_id,
            customer_id=customer_id,
            points=earned,
            reason="purchase",
            ref_type="order",
            ref_id=order_id,
            idempotency_key=f"order:{order_id}:earn",
            refresh_tier=False,
            at=paid_at,
        )
        written += 1
    return written


async def _behaviour_points(
    session: AsyncSession,
    shop_id: int,
    customer_ids: Sequence[int],
    now: dt.datetime,
    rng: random.Random,
) -> int:
    """Check-ins, comments and shares of an active third of the customers, last 60 days."""
    written = 0
    active = rng.sample(list(customer_ids), k=len(customer_ids) // 3)
    for customer_id in active:
        days = sorted(rng.sample(range(1, 61), k=rng.randint(1, 12)))
        for day in days:
            when = now - dt.timedelta(days=day, hours=rng.randint(0, 12))
            date = when.date().isoformat()
            for reason, amount, key in _day_grants(customer_id, date, rng):
                await points.grant_points(
                    session=session,
                    shop_id=shop_id,
                    customer_id=customer_id,
                    points=amount,
                    reason=reason,
                    idempotency_key=key,
                    refresh_tier=False,
                    at=when,
                )
                written += 1
    return written


def _day_grants(customer_id: int, date: str, rng: random.Random) -> list[tuple[str, int, str]]:
    grants = [("check_in", 10, f"check_in:{customer_id}:{date}")]
    if rng.random() < 0.6:
        grants.append(("comment", 2 * rng.randint(1, 10), f"demo:comment:{customer_id}:{date}"))
    if rng.random() < 0.3:
        grants.append(("share", 5, f"demo:share:{customer_id}:{date}"))
    return grants


async def _redemptions(
    session: AsyncSession,
    shop_id: int,
    customer_ids: Sequence[int],
    items: Sequence[object],
    rng: random.Random,
) -> int:
    done = 0
    for customer_id in rng.sample(list(customer_ids), k=min(len(customer_ids), 60)):
        item = rng.choice(items)
        try:
            async with session.begin_nested():
                await redemption.redeem(
                    session=session,
                    shop_id=shop_id,
                    customer_id=customer_id,
                    item_id=item.id,  # type: ignore[attr-defined]
                )
            done += 1
        except Conflict:
            continue  # too few points, or sold out: as in real life
    return done
