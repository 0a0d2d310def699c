"""Hundreds of buyers racing for a flash sale on separate connections, committing for real.

SQL path (conditional UPDATEs) on whatever database the tests run on; the Redis Lua path when
LIVELOOP_TEST_REDIS_URL is set. These tests do not use the rolled-back `session` fixture: they
create their own shop and delete it at the end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from liveloop.commerce import orders
from liveloop.commerce.flash import service as flash_service
from liveloop.commerce.flash.models import FlashBuyer, FlashReservation, FlashSale
from liveloop.commerce.flash.redis_lua import FlashCounters
from liveloop.commerce.flash.schemas import FlashSaleCreate
from liveloop.commerce.models import Order
from liveloop.core.database import utcnow
from liveloop.core.errors import Conflict
from liveloop.core.jobs import queue
from liveloop.customers import service as customers_service
from liveloop.shops import service as shops_service
from tests import factories
from tests.conftest import TEST_REDIS_URL
from tests.factories.shops import drop_shop

REFUSALS = {"sold_out", "flash_limit_reached"}


@pytest.fixture(autouse=True)
def job_queue(settings):  # type: ignore[no-untyped-def]
    """Orders schedule their expiry after commit: the queue must exist (immediate mode)."""
    queue.configure(settings)


async def _setup(database, *, buyers: int, quantity: int, limit: int, stock: int):  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="秒杀测试店")
        product = await factories.make_product(
            session, shop_id=shop.id, price_fen=9900, stock=stock
        )
        ids = await customers_service.insert_customer_rows(
            session=session,
            rows=[{"shop_id": shop.id, "display_name": f"买家{n}"} for n in range(buyers)],
        )
        now = utcnow()
        sale = await flash_service.create_flash_sale(
            session=session,
            shop_id=shop.id,
            data=FlashSaleCreate(
                sku_id=product.skus[0].id,
                price_fen=990,
                quantity=quantity,
                per_customer_limit=limit,
                starts_at=now - dt.timedelta(minutes=1),
                ends_at=now + dt.timedelta(hours=1),
            ),
        )
        await session.commit()
    return shop, sale, ids


async def _race(database, shop, sale, attempts: list[tuple[int, int]], counters):  # type: ignore[no-untyped-def]
    async def buy(customer_id: int, quantity: int) -> tuple[int, int] | None:
        async with database.sessionmaker() as session:
            try:
                order = await flash_service.buy_flash_sale(
                    session=session,
                    shop_id=shop.id,
                    flash_sale_id=sale.id,
                    customer_id=customer_id,
                    quantity=quantity,
                    counters=counters,
                )
                await session.commit()
                return order.id, quantity
            except Conflict as error:
                assert error.code in REFUSALS, error.message
                await session.rollback()
                return None

    return await asyncio.gather(*(buy(c, q) for c, q in attempts))


async def _truth(database, shop, sale):  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        fresh = await session.get(FlashSale, sale.id)
        orders_count = (
            await session.execute(
                select(func.count()).where(
                    Order.shop_id == shop.id,
                    Order.kind == "flash",
                    Order.status.in_(("pending_payment", "paid")),
                )
            )
        ).scalar_one()
        reservations = (
            await session.execute(
                select(FlashReservation.customer_id, FlashReservation.quantity).where(
                    FlashReservation.flash_sale_id == sale.id,
                    FlashReservation.status == "ordered",
                )
            )
        ).all()
        buyers = dict(
            (
                await session.execute(
                    select(FlashBuyer.customer_id, FlashBuyer.quantity).where(
                        FlashBuyer.flash_sale_id == sale.id
                    )
                )
            ).all()
        )
    return fresh, orders_count, reservations, buyers


async def _drop(database, shop) -> None:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        await drop_shop(session, shop.id)
        await session.commit()


def _counters(redis: bool) -> FlashCounters | None:
    if not redis:
        return None
    if not TEST_REDIS_URL:
        pytest.skip("LIVELOOP_TEST_REDIS_URL is not set")
    return FlashCounters.from_url(TEST_REDIS_URL)


@pytest.mark.parametrize("redis", [False, True], ids=["sql", "redis_lua"])
async def test_500_buyers_for_100_units_sell_exactly_100(database, redis: bool) -> None:
    counters = _counters(redis)
    shop, sale, ids = await _setup(database, buyers=500, quantity=100, limit=1, stock=120)
    try:
        results = await _race(database, shop, sale, [(c, 1) for c in ids], counters)
        won = [r for r in results if r is not None]
        fresh, orders_count, reservations, buyers = await _truth(database, shop, sale)
        assert len(won) == 100
        assert orders_count == 100
        assert fresh.sold_count == 100 and fresh.remaining == 0
        assert len(reservations) == 100 and len({c for c, _ in reservations}) == 100
        assert sum(buyers.values()) == 100 and max(buyers.values()) == 1
        if counters is not None:
            assert await counters.remaining(shop_id=shop.id, sale_id=sale.id) == 0
    finally:
        if counters is not None:
            await counters.forget(shop_id=shop.id, sale_id=sale.id)
            await counters.aclose()
        await _drop(database, shop)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    quantity=st.integers(1, 12),
    limit=st.integers(1, 3),
    wants=st.lists(st.tuples(st.integers(0, 7), st.integers(1, 3)), min_size=1, max_size=30),
    cancel_every=st.integers(2, 5),
    redis=st.booleans(),
)
async def test_random_buyers_never_oversell_and_every_reservation_settles(
    database, quantity, limit, wants, cancel_every, redis
) -> None:
    """Random buyers and quantities, some orders then cancelled: sold ≤ quantity, each buyer
    within the limit, and every reservation is either an order or a release."""
    if redis and not TEST_REDIS_URL:
        redis = False
    counters = _counters(redis)
    shop, sale, ids = await _setup(database, buyers=8, quantity=quantity, limit=limit, stock=40)
    try:
        attempts = [(ids[index], min(q, limit)) for index, q in wants]
        results = await _race(database, shop, sale, attempts, counters)
        won = [r for r in results if r is not None]
        assert sum(q for _, q in won) <= quantity
        cancelled = 0
        for number, (order_id, q) in enumerate(won):
            if number % cancel_every == 0:
                async with database.sessionmaker() as session:
                    await orders.cancel_order(
                        session=session,
                        shop_id=shop.id,
                        order_id=order_id,
                        reason="t",
                        actor="test",
                    )
                    await session.commit()
                cancelled += q
        fresh, orders_count, reservations, buyers = await _truth(database, shop, sale)
        held = sum(q for _, q in reservations)
        assert fresh.sold_count == held == sum(q for _, q in won) - cancelled <= quantity
        assert orders_count == len(reservations)
        per_customer = Counter()
        for customer_id, q in reservations:
            per_customer[customer_id] += q
        assert all(q <= limit for q in per_customer.values())
        assert {c: q for c, q in buyers.items() if q} == dict(per_customer)
        async with database.sessionmaker() as session:
            released = (
                await session.execute(
                    select(func.coalesce(func.sum(FlashReservation.quantity), 0)).where(
                        FlashReservation.flash_sale_id == sale.id,
                        FlashReservation.status == "released",
                    )
                )
            ).scalar_one()
        assert released == cancelled
        if counters is not None:
            await asyncio.sleep(0.05)  # the give-backs run just after each commit
            assert await counters.remaining(shop_id=shop.id, sale_id=sale.id) == quantity - held
    finally:
        if counters is not None:
            await counters.forget(shop_id=shop.id, sale_id=sale.id)
            await counters.aclose()
        await _drop(database, shop)
