"""Earning: rules with daily caps, check-in once a shop day, purchases and refunds through the
order hooks, behaviour events through the cursor job."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from liveloop.commerce.payments import refunds as refunds_service
from liveloop.commerce.payments.refunds import RefundLineIn
from liveloop.core.errors import Conflict
from liveloop.customers.points import earning
from liveloop.customers.points import service as points
from liveloop.customers.points.models import PointsEntry
from liveloop.customers.points.tasks import earn_points_from_events
from liveloop.events import service as events_service
from liveloop.shops.service import system_actor
from tests import factories
from tests.commerce.growth_helpers import pay


async def rule(session, shop_id: int, event_type: str, points_: int, cap: int | None = None):  # type: ignore[no-untyped-def]
    return await earning.create_rule(
        session=session,
        actor=system_actor(shop_id),
        values={"event_type": event_type, "points": points_, "daily_cap": cap},
    )


async def balance(session, shop_id: int, customer_id: int) -> int:  # type: ignore[no-untyped-def]
    return (
        await points.get_balance(session=session, shop_id=shop_id, customer_id=customer_id)
    ).balance


async def test_a_rule_per_event_type_and_unknown_types_refused(session, shop) -> None:
    from liveloop.core.errors import InvalidInput

    await rule(session, shop.id, "comment", 2)
    with pytest.raises(Conflict):
        await rule(session, shop.id, "comment", 5)
    with pytest.raises(InvalidInput):
        await rule(session, shop.id, "dance", 5)


async def test_daily_cap_gives_the_remainder_then_nothing_until_the_next_day(
    session, shop, member
) -> None:
    await rule(session, shop.id, "watch_minutes", 1, cap=60)
    day_one = dt.datetime(2026, 11, 23, 4, tzinfo=dt.UTC)  # 12:00 in Shanghai
    grants = []
    for number, minutes in enumerate((45, 30, 10)):
        entry = await earning.earn(
            session=session, shop_id=shop.id, customer_id=member.id, event_type="watch_minutes",
            units=minutes, idempotency_key=f"event:w{number}", now=day_one,
        )  # fmt: skip
        grants.append(entry.delta if entry else 0)
    assert grants == [45, 15, 0]
    # 17:00 UTC is already the next day in Shanghai: a fresh cap.
    next_day = dt.datetime(2026, 11, 23, 17, tzinfo=dt.UTC)
    entry = await earning.earn(
        session=session, shop_id=shop.id, customer_id=member.id, event_type="watch_minutes",
        units=10, idempotency_key="event:w3", now=next_day,
    )  # fmt: skip
    assert entry is not None and entry.delta == 10
    assert await balance(session, shop.id, member.id) == 70


async def test_the_same_event_earns_once_and_an_inactive_rule_earns_nothing(
    session, shop, member
) -> None:
    share = await rule(session, shop.id, "share", 5)
    first = await earning.earn(
        session=session, shop_id=shop.id, customer_id=member.id, event_type="share",
        idempotency_key="event:1",
    )  # fmt: skip
    again = await earning.earn(
        session=session, shop_id=shop.id, customer_id=member.id, event_type="share",
        idempotency_key="event:1",
    )  # fmt: skip
    assert first is not None and again is None
    await earning.update_rule(
        session=session, actor=system_actor(shop.id), rule_id=share.id, changes={"is_active": False}
    )
    assert (
        await earning.earn(
            session=session,
            shop_id=shop.id,
            customer_id=member.id,
            event_type="share",
            idempotency_key="event:2",
        )
        is None
    )
    assert await balance(session, shop.id, member.id) == 5


async def test_check_in_once_per_shop_day(session, shop, member) -> None:
    with pytest.raises(Conflict) as disabled:
        await earning.check_in(session=session, shop_id=shop.id, customer_id=member.id)
    assert disabled.value.code == "check_in_disabled"
    await rule(session, shop.id, "check_in", 10)
    morning = dt.datetime(2026, 11, 23, 1, tzinfo=dt.UTC)
    await earning.check_in(session=session, shop_id=shop.id, customer_id=member.id, now=morning)
    with pytest.raises(Conflict) as twice:
        await earning.check_in(
            session=session, shop_id=shop.id, customer_id=member.id,
            now=morning + dt.timedelta(hours=10),
        )  # fmt: skip
    assert twice.value.code == "already_checked_in"
    await earning.check_in(
        session=session, shop_id=shop.id, customer_id=member.id,
        now=morning + dt.timedelta(hours=20),
    )  # fmt: skip
    assert await balance(session, shop.id, member.id) == 20


@pytest.fixture
async def paid_order(session, shop, member):  # type: ignore[no-untyped-def]
    tea = await factories.make_product(session, shop_id=shop.id, name="龙井", price_fen=12950)
    cup = await factories.make_product(session, shop_id=shop.id, name="茶杯", price_fen=5000)
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=member.id,
        lines=[(tea.skus[0].id, 1), (cup.skus[0].id, 1)],
    )  # fmt: skip
    return order


async def test_purchase_earns_per_yuan_and_refunds_take_the_share_back(
    session, shop, member, paid_order
) -> None:
    await rule(session, shop.id, "purchase", 2)
    order = await pay(session, paid_order)
    paid = order.paid_fen
    earned = paid // 100 * 2
    assert await balance(session, shop.id, member.id) == earned
    cup_line = next(line for line in order.lines if line.unit_price_fen == 5000)
    actor = system_actor(shop.id)
    await refunds_service.create_refund(
        session=session, shop_id=shop.id, order_id=order.id,
        lines=[RefundLineIn(order_line_id=cup_line.id, quantity=1)], reason="破损", actor=actor,
    )  # fmt: skip
    refunded_1 = 5000
    kept = earned * (paid - refunded_1) // paid
    assert await balance(session, shop.id, member.id) == kept
    await refunds_service.create_refund(
        session=session, shop_id=shop.id, order_id=order.id, reason="不要了", actor=actor
    )
    assert await balance(session, shop.id, member.id) == 0
    reasons = (
        (
            await session.execute(
                select(PointsEntry.reason)
                .where(PointsEntry.ref_id == order.id)
                .order_by(PointsEntry.id)
            )
        )
        .scalars()
        .all()
    )
    assert reasons == ["purchase", "refund", "refund"]
    held = await points.get_balance(session=session, shop_id=shop.id, customer_id=member.id)
    assert held.lifetime_earned == 0  # reversed purchase points were never really earned


async def test_a_refund_never_takes_the_balance_below_zero(
    session, shop, member, paid_order
) -> None:
    await rule(session, shop.id, "purchase", 1)
    order = await pay(session, paid_order)
    earned = await balance(session, shop.id, member.id)
    await points.spend_points(
        session=session, shop_id=shop.id, customer_id=member.id, points=earned - 10
    )
    await refunds_service.create_refund(
        session=session, shop_id=shop.id, order_id=order.id, reason="不要了",
        actor=system_actor(shop.id),
    )  # fmt: skip
    assert await balance(session, shop.id, member.id) == 0
    assert await points.check_balances(session=session, shop_id=shop.id) == []


async def test_events_earn_through_the_cursor_job_once(session, shop, member, other_shop) -> None:
    await rule(session, shop.id, "comment", 2, cap=5)
    await rule(session, shop.id, "watch_minutes", 1)
    stranger = await factories.make_customer(session, shop_id=other_shop.id, name="李雷")
    items = [
        {"type": "comment", "customer_id": member.id, "properties": {"text": "好"}},
        {"type": "comment", "customer_id": member.id},
        {"type": "comment", "customer_id": member.id},
        {"type": "live_leave", "customer_id": member.id, "properties": {"watch_seconds": 754}},
        {"type": "like", "customer_id": member.id},
        {"type": "comment", "anonymous_id": "anon-1"},
    ]
    await events_service.ingest_events(session=session, shop_id=shop.id, items=items)
    await events_service.ingest_events(
        session=session,
        shop_id=other_shop.id,
        items=[{"type": "comment", "customer_id": stranger.id}],
    )
    # Too fresh to read: the job waits for events to settle.
    assert await earning.earn_from_events(session=session) == 0
    assert await earning.earn_from_events(session=session, settle=dt.timedelta(0)) == 4
    assert await balance(session, shop.id, member.id) == 5 + 12  # cap 5; 12 whole minutes
    assert await earning.earn_from_events(session=session, settle=dt.timedelta(0)) == 0
    assert await earn_points_from_events.run(session=session) == 0
    assert await balance(session, shop.id, member.id) == 17
    # The other shop has no rules: its customer earned nothing.
    assert await balance(session, other_shop.id, stranger.id) == 0
