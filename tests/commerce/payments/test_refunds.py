"""Refunds: full, by lines, by amount, too large, idempotent, customer requests, the job."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from liveloop.catalog import service as catalog_service
from liveloop.commerce import orders as orders_service
from liveloop.commerce.payments import refunds, service, tasks
from liveloop.commerce.payments.models import RefundStatus
from liveloop.commerce.payments.refunds import RefundLineIn, line_refund_fen
from liveloop.core.errors import Conflict, InvalidInput
from liveloop.events.models import Event
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.commerce.payments.conftest import demo_notification

SMALL, GIFT = 5990, 19900


@pytest.fixture
async def paid_order(session, shop, order, settings):  # type: ignore[no-untyped-def]
    payment = await service.create_payment(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        provider="demo",
        idempotency_key=None,
        return_url="",
        client_ip=None,
    )
    headers, body = demo_notification(settings, payment)
    outcome = await service.handle_notification(
        session=session, shop_id=shop.id, provider="demo", headers=headers, body=body
    )
    assert outcome.status == "applied"
    await session.refresh(order)
    return order


async def sku_state(session, shop, sku_id):  # type: ignore[no-untyped-def]
    sku = await catalog_service.get_sku(session=session, shop_id=shop.id, sku_id=sku_id)
    await session.refresh(sku)
    return sku.stock, sku.sold_count


async def refund(session, shop, order, actor, **options):  # type: ignore[no-untyped-def]
    values = {"reason": "顾客不想要了", "actor": actor}
    values.update(options)
    return await refunds.create_refund(
        session=session, shop_id=shop.id, order_id=order.id, **values
    )


async def test_a_full_refund_gives_money_stock_and_an_audit_entry(
    session, shop, paid_order, actor, tea, enqueued
) -> None:
    small, gift = tea.skus
    assert await sku_state(session, shop, small.id) == (7, 3)
    done = await refund(session, shop, paid_order, actor)
    await session.refresh(paid_order)
    assert done.amount_fen == paid_order.paid_fen == 3 * SMALL + GIFT
    assert done.status == RefundStatus.PENDING
    assert done.restock is True
    assert paid_order.status == "refunded"
    assert paid_order.refunded_fen == paid_order.paid_fen
    assert {line.order_line_id: line.quantity for line in done.lines} == {
        line.id: line.quantity for line in paid_order.lines
    }
    assert await sku_state(session, shop, small.id) == (10, 0)
    assert await sku_state(session, shop, gift.id) == (5, 0)
    audit = (
        await session.execute(select(AuditEntry).where(AuditEntry.target_id == done.number))
    ).scalar_one()
    assert audit.action == "refund.create"
    assert audit.details["amount_fen"] == done.amount_fen
    event = (
        await session.execute(
            select(Event).where(Event.type == "order_refunded", Event.shop_id == shop.id)
        )
    ).scalar_one()
    assert event.properties["refund_fen"] == done.amount_fen

    status = await tasks.submit_refund.run(session=session, shop_id=shop.id, refund_id=done.id)
    assert status == "succeeded"
    await session.refresh(done)
    assert done.provider_refund_id == f"DEMO-{done.number}"
    assert done.completed_at is not None


async def test_refunds_by_lines_add_up_exactly_and_restock_those_units(
    session, shop, paid_order, actor, tea
) -> None:
    small, _ = tea.skus
    line = next(line for line in paid_order.lines if line.sku_id == small.id)
    one = await refund(session, shop, paid_order, actor, lines=[RefundLineIn(line.id, 1)])
    assert one.amount_fen == SMALL
    await session.refresh(paid_order)
    assert paid_order.status == "partially_refunded"
    assert await sku_state(session, shop, small.id) == (8, 2)
    two = await refund(session, shop, paid_order, actor, lines=[RefundLineIn(line.id, 2)])
    assert one.amount_fen + two.amount_fen == line.line_total_fen - line.discount_fen
    await session.refresh(line)
    assert line.refunded_quantity == 3
    with pytest.raises(InvalidInput) as caught:
        await refund(session, shop, paid_order, actor, lines=[RefundLineIn(line.id, 1)])
    assert caught.value.code == "refund_exceeds_quantity"
    assert "0 of 3 left" in caught.value.message


async def test_a_refund_by_amount_leaves_stock_alone(session, shop, paid_order, actor, tea) -> None:
    small, _ = tea.skus
    done = await refund(session, shop, paid_order, actor, amount_fen=1000)
    assert (done.amount_fen, done.restock, done.lines) == (1000, False, [])
    await session.refresh(paid_order)
    assert paid_order.refunded_fen == 1000
    assert await sku_state(session, shop, small.id) == (7, 3)


async def test_a_refund_larger_than_what_is_left_names_both_numbers(
    session, shop, paid_order, actor
) -> None:
    await refund(session, shop, paid_order, actor, amount_fen=30000)
    with pytest.raises(InvalidInput) as caught:
        await refund(session, shop, paid_order, actor, amount_fen=10000)
    assert caught.value.code == "refund_exceeds_paid"
    assert "paid ¥378.70" in caught.value.message
    assert "already refunded ¥300.00" in caught.value.message
    assert "at most ¥78.70" in caught.value.message
    await session.refresh(paid_order)
    assert paid_order.refunded_fen == 30000


async def test_the_same_idempotency_key_books_once(session, shop, paid_order, actor) -> None:
    first = await refund(session, shop, paid_order, actor, amount_fen=500, idempotency_key="r-1")
    again = await refund(session, shop, paid_order, actor, amount_fen=500, idempotency_key="r-1")
    assert again.id == first.id
    await session.refresh(paid_order)
    assert paid_order.refunded_fen == 500
    with pytest.raises(Conflict):
        await refund(session, shop, paid_order, actor, amount_fen=600, idempotency_key="r-1")


async def test_an_unpaid_order_cannot_be_refunded(session, shop, order, actor) -> None:
    with pytest.raises(Conflict) as caught:
        await refund(session, shop, order, actor)
    assert caught.value.code == "order_not_refundable"


async def test_a_shipped_order_is_refunded_without_restocking(
    session, shop, paid_order, actor, tea
) -> None:
    small, _ = tea.skus
    await orders_service.ship_order(
        session=session, actor=actor, order_id=paid_order.id, carrier="顺丰", tracking_number="SF1"
    )
    done = await refund(session, shop, paid_order, actor)
    assert done.restock is False
    assert await sku_state(session, shop, small.id) == (7, 3)


async def test_a_customer_request_waits_for_the_merchant(
    session, shop, paid_order, actor, buyer
) -> None:
    line = paid_order.lines[0]
    asked = await refunds.create_refund(
        session=session,
        shop_id=shop.id,
        order_id=paid_order.id,
        lines=[RefundLineIn(line.id, 1)],
        reason="破损",
        actor=None,
        customer_id=buyer.id,
    )
    assert (asked.status, asked.requested_by) == (RefundStatus.REQUESTED, "customer")
    await session.refresh(paid_order)
    assert paid_order.refunded_fen == 0  # nothing moves before the merchant decides

    approved = await refunds.approve_refund(
        session=session, shop_id=shop.id, refund_id=asked.id, actor=actor
    )
    assert approved.status == RefundStatus.PENDING
    await session.refresh(paid_order)
    assert paid_order.refunded_fen == asked.amount_fen
    with pytest.raises(Conflict):
        await refunds.approve_refund(
            session=session, shop_id=shop.id, refund_id=asked.id, actor=actor
        )

    second = await refunds.create_refund(
        session=session,
        shop_id=shop.id,
        order_id=paid_order.id,
        amount_fen=100,
        reason="差价",
        actor=None,
        customer_id=buyer.id,
    )
    rejected = await refunds.reject_refund(
        session=session, shop_id=shop.id, refund_id=second.id, actor=actor, reason="不符合条件"
    )
    assert (rejected.status, rejected.reject_reason) == (RefundStatus.REJECTED, "不符合条件")


async def test_another_customer_cannot_ask_for_a_refund(session, shop, paid_order) -> None:
    stranger = await factories.make_customer(session, shop_id=shop.id, name="路人")
    with pytest.raises(Exception) as caught:
        await refunds.create_refund(
            session=session,
            shop_id=shop.id,
            order_id=paid_order.id,
            reason="",
            actor=None,
            customer_id=stranger.id,
        )
    assert getattr(caught.value, "code", "") == "order_not_found"


@dataclass
class Line:
    line_total_fen: int
    discount_fen: int
    quantity: int
    refunded_quantity: int = 0


@given(
    unit=st.integers(1, 100_000),
    quantity=st.integers(1, 50),
    discount_share=st.floats(0, 1),
    steps=st.lists(st.integers(1, 50), min_size=1, max_size=50),
)
def test_line_refunds_in_any_steps_sum_to_what_was_paid(
    unit: int, quantity: int, discount_share: float, steps: list[int]
) -> None:
    total = unit * quantity
    line = Line(total, int(total * discount_share), quantity)
    given_back = 0
    for step in steps:
        step = min(step, line.quantity - line.refunded_quantity)
        if step == 0:
            break
        amount = line_refund_fen(line, step)  # type: ignore[arg-type]
        assert amount >= 0
        given_back += amount
        line.refunded_quantity += step
    if line.refunded_quantity < line.quantity:
        given_back += line_refund_fen(line, line.quantity - line.refunded_quantity)  # type: ignore[arg-type]
    assert given_back == line.line_total_fen - line.discount_fen


async def test_refunding_all_that_is_left_by_amount_returns_the_units_too(
    session, shop, paid_order, actor, tea
) -> None:
    small, gift = tea.skus
    everything = paid_order.paid_fen - paid_order.refunded_fen
    done = await refund(session, shop, paid_order, actor, amount_fen=everything)
    assert done.restock is True
    assert sum(line.quantity for line in done.lines) == 4
    assert await sku_state(session, shop, small.id) == (10, 0)
    assert await sku_state(session, shop, gift.id) == (5, 0)
