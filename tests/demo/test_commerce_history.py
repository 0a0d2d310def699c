"""The demo's order history is made through the services: real orders in every state, a KOL's
commission, a partial refund, group buy groups and an assist."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from liveloop.commerce.affiliates.models import AffiliateOrder, Commission
from liveloop.commerce.assist.models import Assist
from liveloop.commerce.groupbuy.models import GroupBuyGroup
from liveloop.commerce.models import Order
from liveloop.commerce.payments.models import Payment, Refund
from liveloop.core.database import utcnow
from liveloop.demo.seed import seed_demo
from liveloop.events.models import Event


async def test_seed_makes_an_order_history_through_the_services(session, settings) -> None:
    report = await seed_demo(session=session, customers=80, days=30, seed=11, settings=settings)
    shop_id = report.shop_id
    orders = list(
        (
            await session.execute(
                select(Order).where(Order.shop_id == shop_id, Order.kind == "normal")
            )
        )
        .scalars()
        .all()
    )
    statuses = Counter(order.status for order in orders)
    assert len(orders) >= 50  # and 20 flash sale orders and 5 group orders besides
    for status in ("completed", "shipped", "paid", "pending_payment", "cancelled"):
        assert statuses[status] > 0, statuses
    assert statuses["partially_refunded"] == 1
    # Every paid order was paid by a payment the demo provider's notification settled.
    succeeded = (
        await session.execute(
            select(func.count())
            .select_from(Payment)
            .join(Order, Order.id == Payment.order_id)
            .where(Payment.shop_id == shop_id, Payment.status == "succeeded")
            .where(Order.kind == "normal")
        )
    ).scalar_one()
    assert succeeded == sum(1 for order in orders if order.paid_at is not None)
    # History lies in the past weeks: the ended sessions' orders are days old.
    assert sum(1 for order in orders if (utcnow() - order.created_at).days >= 6) >= 40
    assert all(order.paid_at >= order.created_at for order in orders if order.paid_at)
    # Their analytics events moved back with them (analytics reads the events).
    placed_at = dict(
        (
            await session.execute(
                select(Event.client_event_id, Event.occurred_at).where(
                    Event.shop_id == shop_id, Event.type == "order_placed"
                )
            )
        ).all()
    )
    old_orders = [order for order in orders if (utcnow() - order.created_at).days >= 2]
    assert old_orders
    for order in old_orders:  # written today, moved back days with their order
        assert (utcnow() - placed_at[f"order_placed:{order.id}"]).days >= 1
    assert sum(1 for order in orders if order.live_session_id is not None) >= 40
    assert sum(1 for order in orders if order.discount_fen > 0) > 0  # coupons were used

    attributed = (
        await session.execute(select(func.count()).where(AffiliateOrder.shop_id == shop_id))
    ).scalar_one()
    assert attributed >= 10
    commission = Counter(
        status
        for status in (
            await session.execute(select(Commission.status).where(Commission.shop_id == shop_id))
        ).scalars()
    )
    assert commission["settled"] > 0 and commission["pending"] > 0, commission
    refund = (await session.execute(select(Refund).where(Refund.shop_id == shop_id))).scalar_one()
    assert refund.amount_fen > 0

    groups = Counter(
        (
            await session.execute(
                select(GroupBuyGroup.status).where(GroupBuyGroup.shop_id == shop_id)
            )
        )
        .scalars()
        .all()
    )
    assert groups == {"confirmed": 1, "open": 1}
    assist = (await session.execute(select(Assist).where(Assist.shop_id == shop_id))).scalar_one()
    assert assist.helpers_count == 3
