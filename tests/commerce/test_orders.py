"""Placing, paying, cancelling and expiring orders through the service."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from liveloop.catalog import service as catalog_service
from liveloop.commerce import orders as orders_service
from liveloop.commerce import tasks
from liveloop.commerce.addresses import view_address
from liveloop.commerce.checkout import LineRequest
from liveloop.commerce.models import OrderHistory
from liveloop.core.database import utcnow
from liveloop.core.errors import Conflict, InvalidInput, NotFound
from liveloop.customers.crypto import get_cipher
from liveloop.events.models import Event
from tests import factories


async def stock_of(session, sku_id: int) -> int:  # type: ignore[no-untyped-def]
    sku = await catalog_service.get_sku(
        session=session, shop_id=(await _shop(session, sku_id)), sku_id=sku_id
    )
    return sku.stock


async def _shop(session, sku_id: int) -> int:  # type: ignore[no-untyped-def]
    from liveloop.catalog.models import Sku

    return (await session.execute(select(Sku.shop_id).where(Sku.id == sku_id))).scalar_one()


async def test_placing_an_order_snapshots_lines_and_reserves_stock(
    session, shop, buyer, tea
) -> None:
    small, gift = tea.skus
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(small.id, 2), (gift.id, 1)]
    )
    assert order.status == "pending_payment"
    assert order.items_total_fen == 2 * 5990 + 19900
    assert order.shipping_fen == 0  # ¥317.80 of items: above the ¥99 free-shipping threshold
    assert order.total_fen == order.items_total_fen
    assert order.number.startswith(
        utcnow().astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y%m%d")
    )
    assert order.number.endswith(f"{order.id:06d}")
    assert [(line.product_name, line.sku_name, line.quantity) for line in order.lines] == [
        ("明前龙井", "50g", 2),
        ("明前龙井", "礼盒", 1),
    ]
    assert order.recipient_phone_masked == "138****5678"
    assert get_cipher().decrypt(order.recipient_phone_secret) == "13812345678"
    assert order.expires_at is not None
    assert dt.timedelta(minutes=14) < order.expires_at - utcnow() <= dt.timedelta(minutes=15)
    assert (await stock_of(session, small.id), await stock_of(session, gift.id)) == (8, 1)
    history = (
        (await session.execute(select(OrderHistory).where(OrderHistory.order_id == order.id)))
        .scalars()
        .all()
    )
    assert [h.to_status for h in history] == ["pending_payment"]
    events = (
        (await session.execute(select(Event.type).where(Event.shop_id == shop.id))).scalars().all()
    )
    assert "order_placed" in events


async def test_small_orders_pay_shipping(session, shop, buyer, tea) -> None:
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 1)]
    )
    assert (order.items_total_fen, order.shipping_fen, order.total_fen) == (5990, 1000, 6990)


@pytest.mark.parametrize("quantity", [0, -1, 100])
async def test_bad_quantities_are_refused_with_the_line(
    session, shop, buyer, tea, quantity: int
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await factories.make_order(
            session,
            shop_id=shop.id,
            customer_id=buyer.id,
            lines=[(tea.skus[0].id, 1), (tea.skus[1].id, quantity)],
        )
    assert caught.value.code == "invalid_quantity"
    assert caught.value.field == "lines[1].quantity"
    assert f"got {quantity}" in caught.value.message
    assert await stock_of(session, tea.skus[0].id) == 10


async def test_an_empty_order_and_unknown_skus_are_refused(
    session, shop, other_shop, buyer, tea
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await factories.make_order(session, shop_id=shop.id, customer_id=buyer.id, lines=[])
    assert caught.value.code == "empty_order"
    foreign = await factories.make_product(session, shop_id=other_shop.id)
    with pytest.raises(NotFound) as missing:
        await factories.make_order(
            session, shop_id=shop.id, customer_id=buyer.id, lines=[(foreign.skus[0].id, 1)]
        )
    assert missing.value.code == "sku_not_found"


async def test_an_inactive_sku_or_product_off_shelf_is_refused(session, shop, buyer, tea) -> None:
    await catalog_service.set_sku_active(
        session=session, shop_id=shop.id, sku_id=tea.skus[1].id, active=False
    )
    with pytest.raises(InvalidInput) as caught:
        await factories.make_order(
            session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[1].id, 1)]
        )
    assert caught.value.code == "sku_unavailable"
    assert "礼盒" in caught.value.message


async def test_one_error_lists_every_short_line_and_nothing_moves(
    session, shop, buyer, tea
) -> None:
    other = await factories.make_product(session, shop_id=shop.id, name="白茶", stock=1)
    with pytest.raises(InvalidInput) as caught:
        await factories.make_order(
            session,
            shop_id=shop.id,
            customer_id=buyer.id,
            lines=[(tea.skus[0].id, 3), (tea.skus[1].id, 5), (other.skus[0].id, 2)],
        )
    assert caught.value.code == "insufficient_stock"
    short = {d["sku_id"]: (d["wanted"], d["available"]) for d in caught.value.details}
    assert short == {tea.skus[1].id: (5, 2), other.skus[0].id: (2, 1)}
    assert await stock_of(session, tea.skus[0].id) == 10
    count = (await session.execute(select(func.count()).select_from(OrderHistory))).scalar_one()
    assert count == 0


async def test_a_price_changed_since_the_cart_is_a_409_listing_the_line(
    session, shop, buyer, tea
) -> None:
    with pytest.raises(Conflict) as caught:
        await factories.make_order(
            session,
            shop_id=shop.id,
            customer_id=buyer.id,
            lines=[(tea.skus[0].id, 1)],
            expected_unit_prices={tea.skus[0].id: 4990},
        )
    assert caught.value.code == "price_changed"
    assert caught.value.details[0]["price_fen"] == 5990
    assert "¥59.90" in caught.value.message and "¥49.90" in caught.value.message
    with pytest.raises(Conflict) as total:
        await factories.make_order(
            session,
            shop_id=shop.id,
            customer_id=buyer.id,
            lines=[(tea.skus[0].id, 1)],
            expected_total_fen=5990,
        )
    assert total.value.code == "price_changed"
    assert "¥69.90" in total.value.message
    assert await stock_of(session, tea.skus[0].id) == 10


async def test_an_idempotency_key_returns_the_first_order(session, shop, buyer, tea) -> None:
    address = await factories.make_address(session, shop_id=shop.id, customer_id=buyer.id)
    first = await factories.make_order(
        session,
        shop_id=shop.id,
        customer_id=buyer.id,
        lines=[(tea.skus[0].id, 1)],
        address_id=address.id,
        idempotency_key="buy-1",
    )
    again = await factories.make_order(
        session,
        shop_id=shop.id,
        customer_id=buyer.id,
        lines=[(tea.skus[0].id, 1)],
        address_id=address.id,
        idempotency_key="buy-1",
    )
    assert again.id == first.id
    assert await stock_of(session, tea.skus[0].id) == 9
    with pytest.raises(Conflict) as caught:
        await factories.make_order(
            session,
            shop_id=shop.id,
            customer_id=buyer.id,
            lines=[(tea.skus[0].id, 2)],
            address_id=address.id,
            idempotency_key="buy-1",
        )
    assert caught.value.code == "idempotency_mismatch"


async def test_paying_counts_units_sold_and_is_idempotent(session, shop, buyer, tea) -> None:
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 2)]
    )
    with pytest.raises(Conflict) as mismatch:
        await orders_service.mark_order_paid(
            session=session,
            shop_id=shop.id,
            order_id=order.id,
            amount_fen=1,
            paid_at=utcnow(),
            payment_ref="P1",
        )
    assert mismatch.value.code == "amount_mismatch"
    for _ in range(2):
        paid = await orders_service.mark_order_paid(
            session=session,
            shop_id=shop.id,
            order_id=order.id,
            amount_fen=order.total_fen,
            paid_at=utcnow(),
            payment_ref="P1",
        )
    assert paid.status == "paid" and paid.paid_fen == order.total_fen
    sku = await catalog_service.get_sku(session=session, shop_id=shop.id, sku_id=tea.skus[0].id)
    assert (sku.stock, sku.sold_count) == (8, 2)
    with pytest.raises(Conflict) as twice:
        await orders_service.mark_order_paid(
            session=session,
            shop_id=shop.id,
            order_id=order.id,
            amount_fen=order.total_fen,
            paid_at=utcnow(),
            payment_ref="P2",
        )
    assert twice.value.code == "order_already_paid"
    # A paid order does not expire, and cannot be cancelled.
    assert not await orders_service.expire_order(
        session=session, shop_id=shop.id, order_id=order.id, now=utcnow() + dt.timedelta(days=1)
    )
    with pytest.raises(Conflict):
        await orders_service.cancel_order(
            session=session, shop_id=shop.id, order_id=order.id, reason="x", actor="customer"
        )


async def test_a_payment_time_given_to_the_second_never_precedes_the_order(
    session, shop, buyer, tea
) -> None:
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 1)]
    )
    # The provider's success time, to the second, falls before the order's creation.
    truncated = order.created_at.replace(microsecond=0) - dt.timedelta(microseconds=1)
    paid = await orders_service.mark_order_paid(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        amount_fen=order.total_fen,
        paid_at=truncated,
        payment_ref="P-early",
        time_resolution=orders_service.PROVIDER_TIME_RESOLUTION,
    )
    assert paid.paid_at == paid.created_at


async def test_a_payment_time_well_before_the_order_is_kept_as_given(
    session, shop, buyer, tea
) -> None:
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 1)]
    )
    imported = order.created_at - dt.timedelta(days=3)
    paid = await orders_service.mark_order_paid(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        amount_fen=order.total_fen,
        paid_at=imported,
        payment_ref="P-imported",
        time_resolution=orders_service.PROVIDER_TIME_RESOLUTION,
    )
    assert paid.paid_at == imported


async def test_expiry_returns_stock_once_and_refuses_a_late_payment(
    session, shop, buyer, tea
) -> None:
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[1].id, 2)]
    )
    assert await stock_of(session, tea.skus[1].id) == 0
    assert not await orders_service.expire_order(
        session=session, shop_id=shop.id, order_id=order.id
    )
    later = utcnow() + dt.timedelta(minutes=16)
    assert await orders_service.expire_order(
        session=session, shop_id=shop.id, order_id=order.id, now=later
    )
    assert not await orders_service.expire_order(
        session=session, shop_id=shop.id, order_id=order.id, now=later
    )
    assert await stock_of(session, tea.skus[1].id) == 2
    with pytest.raises(Conflict) as caught:
        await orders_service.mark_order_paid(
            session=session,
            shop_id=shop.id,
            order_id=order.id,
            amount_fen=order.total_fen,
            paid_at=utcnow(),
            payment_ref="late",
        )
    assert caught.value.code == "order_not_payable"
    events = (
        (await session.execute(select(Event.type).where(Event.shop_id == shop.id))).scalars().all()
    )
    assert events.count("order_expired") == 1


async def test_the_sweeper_expires_only_overdue_orders(session, shop, buyer, tea) -> None:
    overdue = await factories.make_order(
        session,
        shop_id=shop.id,
        customer_id=buyer.id,
        lines=[(tea.skus[0].id, 1)],
        payment_minutes=1,
    )
    fresh = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 1)]
    )
    overdue.expires_at = utcnow() - dt.timedelta(seconds=1)
    await session.flush()
    assert await tasks.sweep_expired_orders(session=session) == 1
    assert await tasks.sweep_expired_orders(session=session) == 0
    await session.refresh(overdue)
    await session.refresh(fresh)
    assert (overdue.status, fresh.status) == ("expired", "pending_payment")
    assert (
        await tasks.expire_order.run(session=session, shop_id=shop.id, order_id=overdue.id) is False
    )
    assert await stock_of(session, tea.skus[0].id) == 9


async def test_cancel_by_customer_gives_stock_back(session, shop, buyer, tea) -> None:
    other = await factories.make_customer(session, shop_id=shop.id, name="李娜")
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 3)]
    )
    with pytest.raises(NotFound):
        await orders_service.cancel_order(
            session=session,
            shop_id=shop.id,
            order_id=order.id,
            reason="mistake",
            actor="customer",
            customer_id=other.id,
        )
    cancelled = await orders_service.cancel_order(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        reason="mistake",
        actor="customer",
        customer_id=buyer.id,
    )
    assert cancelled.status == "cancelled"
    assert await stock_of(session, tea.skus[0].id) == 10
    with pytest.raises(Conflict) as again:
        await orders_service.cancel_order(
            session=session, shop_id=shop.id, order_id=order.id, reason="x", actor="customer"
        )
    assert "is cancelled" in again.value.message


async def test_ship_complete_and_refund_bookkeeping(session, shop, buyer, tea, actor) -> None:
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 2)]
    )
    with pytest.raises(Conflict) as unpaid:
        await orders_service.ship_order(
            session=session, actor=actor, order_id=order.id, carrier="SF", tracking_number="SF1"
        )
    assert "is pending_payment" in unpaid.value.message
    await orders_service.mark_order_paid(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        amount_fen=order.total_fen,
        paid_at=utcnow(),
        payment_ref="P",
    )
    shipped = await orders_service.ship_order(
        session=session, actor=actor, order_id=order.id, carrier="顺丰", tracking_number="SF100"
    )
    assert (shipped.status, shipped.tracking_number) == ("shipped", "SF100")
    done = await orders_service.complete_order(
        session=session, shop_id=shop.id, order_id=order.id, actor_label="buyer"
    )
    assert done.status == "completed"
    with pytest.raises(InvalidInput) as too_much:
        await orders_service.record_refund(
            session=session,
            shop_id=shop.id,
            order_id=order.id,
            amount_fen=order.total_fen + 1,
            actor_label="x",
        )
    assert too_much.value.code == "refund_exceeds_paid"
    part = await orders_service.record_refund(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        amount_fen=1000,
        line_quantities={order.lines[0].id: 1},
        actor_label="staff",
    )
    assert (part.status, part.refunded_fen, part.lines[0].refunded_quantity) == (
        "partially_refunded",
        1000,
        1,
    )
    full = await orders_service.record_refund(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        amount_fen=order.total_fen - 1000,
        actor_label="staff",
    )
    assert full.status == "refunded"


async def test_orders_of_another_shop_are_not_found(session, shop, other_shop, buyer, tea) -> None:
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 1)]
    )
    with pytest.raises(NotFound):
        await orders_service.get_order(session=session, shop_id=other_shop.id, order_id=order.id)
    assert not await orders_service.expire_order(
        session=session,
        shop_id=other_shop.id,
        order_id=order.id,
        now=utcnow() + dt.timedelta(days=1),
    )


async def test_address_is_stored_encrypted(session, shop, buyer) -> None:
    address = await factories.make_address(session, shop_id=shop.id, customer_id=buyer.id)
    assert b"13812345678" not in address.phone_secret
    assert "文三路".encode() not in address.detail_secret
    view = view_address(address)
    assert view.detail.startswith("文三路") and view.phone_masked == "138****5678"
    assert address.is_default  # the first address is the default


async def test_line_request_is_exported_by_orders() -> None:
    assert orders_service.LineRequest is LineRequest


async def test_shipped_orders_complete_themselves_after_ten_days(
    session, shop, buyer, tea, actor
) -> None:
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 1)]
    )
    await orders_service.mark_order_paid(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        amount_fen=order.total_fen,
        paid_at=utcnow(),
        payment_ref="P",
    )
    await orders_service.ship_order(
        session=session, actor=actor, order_id=order.id, carrier="SF", tracking_number="SF1"
    )
    assert await tasks.complete_shipped_orders(session=session) == 0
    order.shipped_at = utcnow() - tasks.AUTO_COMPLETE_AFTER - dt.timedelta(minutes=1)
    await session.flush()
    assert await tasks.complete_shipped_orders(session=session) == 1
    await session.refresh(order)
    assert order.status == "completed" and order.completed_at is not None
    assert await tasks.complete_shipped_orders(session=session) == 0
