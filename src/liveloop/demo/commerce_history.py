"""Demo order history: orders from the past weeks' live sessions and the on-air room, paid with
the demo provider, shipped, completed, one partly refunded; a KOL with a promo code and
commission; a group buy campaign (one confirmed group, one still open) and an assist campaign.

Everything goes through the services (place_order, the demo provider's signed notification,
ship, complete, refund, the growth services), so the console shows what the product does.
The services stamp the present, so each finished order's times are then moved back by the
same amount to the day it "happened" (as demo.live_data does for its sessions), together with
its commission's settle date; commission whose return window is over is then settled.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.commerce import addresses as addresses_service
from liveloop.commerce import orders as orders_service
from liveloop.commerce.addresses import AddressData
from liveloop.commerce.affiliates import service as affiliates_service
from liveloop.commerce.affiliates.models import Commission
from liveloop.commerce.affiliates.schemas import AffiliateCreate, CodeCreate
from liveloop.commerce.assist import service as assist_service
from liveloop.commerce.assist.schemas import AssistCampaignCreate
from liveloop.commerce.checkout import LineRequest
from liveloop.commerce.coupons import service as coupons_service
from liveloop.commerce.groupbuy import service as groupbuy_service
from liveloop.commerce.groupbuy.schemas import CampaignCreate
from liveloop.commerce.models import Order, OrderHistory
from liveloop.commerce.payments import accounts as payment_accounts
from liveloop.commerce.payments import refunds as refunds_service
from liveloop.commerce.payments import service as payments_service
from liveloop.core.errors import LiveLoopError
from liveloop.demo.behaviour import SkuChoice
from liveloop.events import service as events_service
from liveloop.live import service as live_service
from liveloop.shops.service import Actor

# The analytics events an order writes as it moves (see commerce.order_state.record_event).
ORDER_EVENT_TYPES = ("order_placed", "order_paid", "order_cancelled", "order_expired")
KOL_CODE = "AYA10"
CITIES = [
    ("浙江省", "杭州市", "西湖区"),
    ("上海市", "上海市", "徐汇区"),
    ("广东省", "深圳市", "南山区"),
]
ORDERS_PER_ENDED_SESSION = 20
ORDERS_IN_THE_LIVE_ROOM = 8
MALL_ORDERS = 4


@dataclass(frozen=True)
class HistoryReport:
    orders: int
    paid: int
    refunds: int
    kol_id: int
    group_buy_id: int
    assist_campaign_id: int
    events: int  # analytics events the orders, payments and refund wrote


@dataclass
class _Plan:
    customer_id: int
    when: dt.datetime
    live_session_id: int | None
    outcome: str  # completed | shipped | paid | pending | cancelled


async def seed_commerce_history(
    *,
    session: AsyncSession,
    actor: Actor,
    rooms: dict[str, Any],
    skus: Sequence[SkuChoice],
    customer_ids: Sequence[int],
    now: dt.datetime,
    seed: int = 7,
) -> HistoryReport:
    rng = random.Random(seed)
    shop_id = actor.shop_id
    events_before = await _event_count(session, shop_id)
    kol = await affiliates_service.create_affiliate(
        session=session,
        actor=actor,
        data=AffiliateCreate(name="茶艺达人阿雅", kind="kol", default_rate_bp=1200),
    )
    await affiliates_service.add_code(
        session=session, actor=actor, affiliate_id=kol.id, data=CodeCreate(code=KOL_CODE)
    )
    buyers = rng.sample(list(customer_ids), min(48, len(customer_ids)))
    address_of = {
        customer_id: await _address(session, shop_id, customer_id, index)
        for index, customer_id in enumerate(buyers)
    }
    plans = await _plans(session, shop_id, rooms, buyers, now, rng)
    prices = {choice.sku_id: choice.price_fen for choice in skus}
    placed: list[tuple[_Plan, Order]] = []
    for index, plan in enumerate(plans):
        lines = [
            LineRequest(sku_id=choice.sku_id, quantity=rng.choice((1, 1, 2, 3)))
            for choice in rng.sample(list(skus), rng.choice((1, 1, 2)))
        ]
        attribution = {"promo_code": KOL_CODE} if index % 5 == 2 else None
        order = await _place(
            session, shop_id, plan, lines, address_of[plan.customer_id], attribution, prices
        )
        placed.append((plan, order))

    paid = refunds = 0
    for plan, order in placed:
        if plan.outcome == "cancelled":
            await orders_service.cancel_order(
                session=session, shop_id=shop_id, order_id=order.id, reason="买错了", actor=actor
            )
            continue
        if plan.outcome == "pending":
            continue
        await pay_with_demo_provider(session, order)
        paid += 1
        if plan.outcome in ("shipped", "completed"):
            await orders_service.ship_order(
                session=session,
                actor=actor,
                order_id=order.id,
                carrier="顺丰速运",
                tracking_number=f"SF{1400000000 + order.id}",
            )
        if plan.outcome == "completed":
            await orders_service.complete_order(
                session=session, shop_id=shop_id, order_id=order.id, actor_label="demo buyer"
            )
    refunded = next(
        order
        for plan, order in placed
        if plan.outcome == "completed" and any(line.quantity > 1 for line in order.lines)
    )
    line = next(line for line in refunded.lines if line.quantity > 1)
    await refunds_service.create_refund(
        session=session,
        shop_id=shop_id,
        order_id=refunded.id,
        lines=[refunds_service.RefundLineIn(order_line_id=line.id, quantity=1)],
        reason="一件包装破损",
        actor=actor,
    )
    refunds += 1
    for plan, order in placed:
        await _move_back(session, order, plan.when)
    await affiliates_service.settle_due_commissions(session=session)

    group_buy_id = await _group_buy(session, actor, rooms["live"], skus, buyers, address_of)
    assist_id = await _assist(session, actor, skus, buyers)
    return HistoryReport(
        orders=len(placed),
        paid=paid,
        refunds=refunds,
        kol_id=kol.id,
        group_buy_id=group_buy_id,
        assist_campaign_id=assist_id,
        events=await _event_count(session, shop_id) - events_before,
    )


async def _event_count(session: AsyncSession, shop_id: int) -> int:
    return (await events_service.list_events(session=session, shop_id=shop_id, per_page=1)).total


async def pay_with_demo_provider(session: AsyncSession, order: Order) -> None:
    """What the hosted demo pay page does: create the payment, then deliver the provider's
    signed notification to the payments service."""
    payment = await payments_service.create_payment(
        session=session,
        shop_id=order.shop_id,
        order_id=order.id,
        provider="demo",
        idempotency_key=None,
        return_url="/",
        client_ip=None,
    )
    async with payment_accounts.provider_for(
        session=session, shop_id=order.shop_id, provider="demo"
    ) as provider:
        headers, body = provider.build_notification(  # type: ignore[attr-defined]
            out_trade_no=payment.number, amount_fen=payment.amount_fen
        )
    await payments_service.handle_notification(
        session=session, shop_id=order.shop_id, provider="demo", headers=headers, body=body
    )


async def _address(session: AsyncSession, shop_id: int, customer_id: int, index: int) -> int:
    region, city, district = CITIES[index % len(CITIES)]
    address = await addresses_service.create_address(
        session=session,
        shop_id=shop_id,
        customer_id=customer_id,
        data=AddressData(
            recipient_name=f"演示买家{index + 1}",
            phone=f"139{10000000 + index * 7919:08d}",
            region=region,
            city=city,
            district=district,
            detail=f"演示路 {index + 1} 号",
        ),
    )
    return address.id


async def _plans(
    session: AsyncSession,
    shop_id: int,
    rooms: dict[str, Any],
    buyers: list[int],
    now: dt.datetime,
    rng: random.Random,
) -> list[_Plan]:
    """Who buys when: during each ended show (mostly completed, a few still shipping, one
    cancelled), in the room on air now (paid or waiting for payment), and in the mall."""
    plans: list[_Plan] = []
    for live_session_id in rooms["ended"]:
        live = await live_service.get_live_session(
            session=session, shop_id=shop_id, live_session_id=live_session_id
        )
        start = live.started_at or now - dt.timedelta(days=7)
        for index in range(ORDERS_PER_ENDED_SESSION):
            outcome = "cancelled" if index == 5 else "shipped" if index % 7 == 3 else "completed"
            when = start + dt.timedelta(minutes=rng.randint(3, 110))
            plans.append(_Plan(rng.choice(buyers), when, live_session_id, outcome))
    for index in range(ORDERS_IN_THE_LIVE_ROOM):
        when = now - dt.timedelta(minutes=rng.randint(1, 10))
        outcome = "pending" if index % 4 == 1 else "paid"
        plans.append(_Plan(rng.choice(buyers), when, rooms["live"], outcome))
    for _ in range(MALL_ORDERS):
        when = now - dt.timedelta(days=rng.randint(2, 20), minutes=rng.randint(0, 600))
        plans.append(_Plan(rng.choice(buyers), when, None, "completed"))
    return plans


async def _place(
    session: AsyncSession,
    shop_id: int,
    plan: _Plan,
    lines: list[LineRequest],
    address_id: int,
    attribution: dict[str, Any] | None,
    prices: dict[int, int],
) -> Order:
    """Place the order with the buyer's first usable coupon whose threshold the items reach
    (list prices: the service still checks every rule), else without."""
    items_fen = sum(prices[line.sku_id] * line.quantity for line in lines)
    usable = await coupons_service.list_customer_coupons(
        session=session, shop_id=shop_id, customer_id=plan.customer_id, usable_only=True
    )
    options: dict[str, Any] = dict(
        session=session,
        shop_id=shop_id,
        customer_id=plan.customer_id,
        lines=lines,
        address_id=address_id,
        live_session_id=plan.live_session_id,
        attribution=attribution,
    )
    for coupon in usable:
        if coupon.coupon.threshold_fen > items_fen:
            continue
        try:
            return await orders_service.place_order(**options, customer_coupon_id=coupon.id)
        except LiveLoopError:
            break  # out of its scope, say: this order goes without
    return await orders_service.place_order(**options)


async def _move_back(session: AsyncSession, order: Order, when: dt.datetime) -> None:
    shift = when - order.created_at
    if shift >= dt.timedelta(0):
        return
    order.created_at = when
    for name in ("paid_at", "shipped_at", "completed_at", "closed_at"):
        value = getattr(order, name)
        if value is not None:
            setattr(order, name, value + shift)
    if order.expires_at is not None:
        order.expires_at += shift
    # Its analytics events and history were written now: move them back with the order.
    await events_service.shift_events(
        session=session,
        shop_id=order.shop_id,
        client_event_ids=[f"{kind}:{order.id}" for kind in ORDER_EVENT_TYPES],
        shift=shift,
    )
    history = select(OrderHistory).where(
        OrderHistory.shop_id == order.shop_id, OrderHistory.order_id == order.id
    )
    for entry in (await session.execute(history)).scalars():
        entry.created_at += shift
    statement = select(Commission).where(
        Commission.shop_id == order.shop_id,
        Commission.order_id == order.id,
        Commission.settle_after.is_not(None),
    )
    for commission in (await session.execute(statement)).scalars():
        assert commission.settle_after is not None
        commission.settle_after += shift
    await session.flush()


async def _group_buy(
    session: AsyncSession,
    actor: Actor,
    live_session_id: int,
    skus: Sequence[SkuChoice],
    buyers: list[int],
    address_of: dict[int, int],
) -> int:
    """A three-person group in the on-air room: one group confirmed (three paid), one open."""
    choice = max(skus, key=lambda s: s.price_fen)
    campaign = await groupbuy_service.create_campaign(
        session=session,
        actor=actor,
        data=CampaignCreate(
            title=f"三人团 · {choice.name}",
            sku_id=choice.sku_id,
            group_price_fen=choice.price_fen * 8 // 10,
            group_size=3,
            time_limit_minutes=24 * 60,
            live_session_id=live_session_id,
        ),
    )
    members = iter(buyers[-5:])
    for size in (3, 2):
        leader = next(members)
        purchase = await groupbuy_service.open_group(
            session=session,
            shop_id=actor.shop_id,
            campaign_id=campaign.id,
            customer_id=leader,
            address_id=address_of[leader],
        )
        await pay_with_demo_provider(session, purchase.order)
        for _ in range(size - 1):
            member = next(members)
            joined = await groupbuy_service.join_group(
                session=session,
                shop_id=actor.shop_id,
                code=purchase.group.code,
                customer_id=member,
                address_id=address_of[member],
            )
            if size == 3:
                await pay_with_demo_provider(session, joined.order)
    return campaign.id


async def _assist(
    session: AsyncSession, actor: Actor, skus: Sequence[SkuChoice], buyers: list[int]
) -> int:
    """A price-cut assist: one customer has three helpers so far; one help from the same phone
    twice is refused (the console's abuse list shows it)."""
    choice = min(skus, key=lambda s: s.price_fen)
    campaign = await assist_service.create_campaign(
        session=session,
        actor=actor,
        data=AssistCampaignCreate(
            title=f"好友助力 0 元领 · {choice.name}",
            reward_kind="price_cut",
            sku_id=choice.sku_id,
            target_price_fen=0,
            helpers_needed=5,
            time_limit_minutes=48 * 60,
        ),
    )
    starter, *helpers = buyers[:4]
    assist = await assist_service.start_assist(
        session=session,
        shop_id=actor.shop_id,
        campaign_id=campaign.id,
        customer_id=starter,
        device_id="demo-device-starter",
    )
    for index, helper in enumerate([*helpers, helpers[0]]):
        await assist_service.help_assist(
            session=session,
            shop_id=actor.shop_id,
            code=assist.code,
            helper_customer_id=helper,
            device_id=f"demo-device-helper-{min(index, 2)}",
        )
    return campaign.id
