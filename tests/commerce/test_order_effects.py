"""What others see of an order happens after commit only: the room's order ticker and new
stock, the expiry job. A rolled-back order shows nothing. This test commits for real (its
own shop, deleted at the end) and listens where the room hub would."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import delete

from liveloop.commerce import orders as orders_service
from liveloop.commerce.addresses import AddressData, create_address
from liveloop.commerce.checkout import LineRequest
from liveloop.core.database import utcnow
from liveloop.core.jobs import queue
from liveloop.events.models import Event
from liveloop.live import outbox
from liveloop.shops import service as shops_service
from tests import factories
from tests.factories.live import make_live_session
from tests.factories.shops import drop_shop


@pytest.fixture
async def room() -> Any:
    """The messages published to rooms, as the hub's publisher would receive them."""
    sent: list[tuple[int, dict[str, Any]]] = []

    async def publish(live_session_id: int, message: dict[str, Any]) -> None:
        sent.append((live_session_id, message))

    outbox.install_publisher(publish)
    try:
        yield sent
    finally:
        outbox.install_publisher(None)


async def settle() -> None:
    for _ in range(20):  # let the after-commit publishing tasks run
        await asyncio.sleep(0)


async def test_room_sees_ticker_and_stock_after_commit_only(database, settings, room) -> None:
    queue.configure(settings)
    from tests.factories.customers import _actor

    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="直播下单店")
        _actor(shop.id, None)
        product = await factories.make_product(session, shop_id=shop.id, name="明前龙井", stock=5)
        live = await make_live_session(session, shop_id=shop.id, status="live")
        buyer = await factories.make_customer(session, shop_id=shop.id, name="张伟")
        address = await create_address(
            session=session,
            shop_id=shop.id,
            customer_id=buyer.id,
            data=AddressData(
                recipient_name="张伟",
                phone="13812345678",
                region="浙江省",
                city="杭州市",
                detail="文三路 1 号",
            ),
        )
        await session.commit()
    await settle()
    room.clear()  # (the session going live told its room)
    sku_id = product.skus[0].id
    try:
        scheduled = queue.huey.scheduled_count()
        async with database.sessionmaker() as session:
            order = await orders_service.place_order(
                session=session,
                shop_id=shop.id,
                customer_id=buyer.id,
                lines=[LineRequest(sku_id, 2)],
                address_id=address.id,
                live_session_id=live.id,
            )
            await settle()
            assert room == []  # nothing before the commit
            await session.rollback()
        await settle()
        assert room == []  # nor for a rolled-back order
        assert queue.huey.scheduled_count() == scheduled

        async with database.sessionmaker() as session:
            order = await orders_service.place_order(
                session=session,
                shop_id=shop.id,
                customer_id=buyer.id,
                lines=[LineRequest(sku_id, 2)],
                address_id=address.id,
                live_session_id=live.id,
            )
            await session.commit()
        await settle()
        assert room == [
            (live.id, {"type": "order_ticker", "name": "张**", "product_name": "明前龙井"}),
            (
                live.id,
                {"type": "product_stock", "product_id": product.id, "sku_id": sku_id, "stock": 3},
            ),
        ]
        assert queue.huey.scheduled_count() == scheduled + 1  # the expiry job, at its deadline

        room.clear()
        async with database.sessionmaker() as session:
            await orders_service.cancel_order(
                session=session, shop_id=shop.id, order_id=order.id, reason="x", actor="customer"
            )
            await session.commit()
        await settle()
        assert room == [
            (
                live.id,
                {"type": "product_stock", "product_id": product.id, "sku_id": sku_id, "stock": 5},
            )
        ]
        assert order.created_at <= utcnow()
    finally:
        async with database.sessionmaker() as session:
            await session.execute(delete(Event).where(Event.shop_id == shop.id))
            await drop_shop(session, shop.id)
            await session.commit()
