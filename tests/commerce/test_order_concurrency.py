"""Buyers racing for the same stock through place_order, each on its own connection and
committing for real: never oversold, and every reservation ends in an order or a release.

These tests do not use the rolled-back `session` fixture: they create their own shop and
delete it at the end.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from sqlalchemy.exc import OperationalError

from liveloop.catalog.models import Sku, StockMovement
from liveloop.commerce import orders as orders_service
from liveloop.commerce.addresses import AddressData, create_address
from liveloop.commerce.checkout import LineRequest
from liveloop.commerce.models import Order, OrderLine
from liveloop.core.database import utcnow
from liveloop.core.errors import InvalidInput
from liveloop.core.jobs import queue
from liveloop.customers import service as customers_service
from liveloop.events.models import Event
from liveloop.shops import service as shops_service
from tests import factories
from tests.factories.shops import drop_shop

ADDRESS = AddressData(
    recipient_name="张伟", phone="13812345678", region="浙江省", city="杭州市", detail="文三路 1 号"
)


@pytest.fixture(autouse=True)
def job_queue(settings):  # type: ignore[no-untyped-def]
    """Orders schedule their expiry after commit: the queue must exist (immediate mode)."""
    queue.configure(settings)


async def _setup(database, *, buyers: int, stocks: list[int]):  # type: ignore[no-untyped-def]
    """A shop, one product with a SKU per stock figure, buyers each with an address."""
    from tests.factories.customers import _actor  # configures the PII cipher

    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="抢购测试店")
        _actor(shop.id, None)
        product = await factories.make_product(
            session,
            shop_id=shop.id,
            skus=[
                {"specs": {"规格": f"款{n}"}, "price_fen": 9900, "stock": stock}
                for n, stock in enumerate(stocks)
            ],
        )
        customer_ids = await customers_service.insert_customer_rows(
            session=session,
            rows=[{"shop_id": shop.id, "display_name": f"买家{n}"} for n in range(buyers)],
        )
        addresses = []
        for customer_id in customer_ids:
            address = await create_address(
                session=session, shop_id=shop.id, customer_id=customer_id, data=ADDRESS
            )
            addresses.append(address.id)
        await session.commit()
    return shop, [sku.id for sku in product.skus], list(zip(customer_ids, addresses, strict=True))


async def _teardown(database, shop_id: int) -> None:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        await session.execute(delete(Event).where(Event.shop_id == shop_id))
        await drop_shop(session, shop_id)
        await session.commit()


# Buyers are all started at once; like requests in a server they queue for a connection of
# the pool (the engine's own pool timeout would otherwise fail the queue's tail).
CONNECTIONS = 16


async def _buy(database, shop_id: int, buyer: tuple[int, int], lines: list[tuple[int, int]]):  # type: ignore[no-untyped-def]
    """One buyer's attempt in its own transaction: the order, or None when sold out. A busy
    SQLite write lock is retried, as a client would."""
    gate = database.__dict__.setdefault("_c1_gate", asyncio.Semaphore(CONNECTIONS))
    async with gate:
        return await _attempt(database, shop_id, buyer, lines)


async def _attempt(database, shop_id: int, buyer: tuple[int, int], lines: list[tuple[int, int]]):  # type: ignore[no-untyped-def]
    customer_id, address_id = buyer
    for _attempt in range(5):
        async with database.sessionmaker() as session:
            try:
                order = await orders_service.place_order(
                    session=session,
                    shop_id=shop_id,
                    customer_id=customer_id,
                    lines=[LineRequest(sku_id=s, quantity=q) for s, q in lines],
                    address_id=address_id,
                )
                await session.commit()
                return order
            except InvalidInput as error:
                assert error.code == "insufficient_stock", error.message
                await session.rollback()
                return None
            except OperationalError:
                await session.rollback()
                await asyncio.sleep(0.05)
    raise AssertionError("the database stayed locked for a buyer")


async def _totals(database, shop_id: int, sku_ids: list[int]):  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        stock = dict(
            (await session.execute(select(Sku.id, Sku.stock).where(Sku.id.in_(sku_ids)))).all()
        )
        held = dict(
            (
                await session.execute(
                    select(OrderLine.sku_id, func.sum(OrderLine.quantity))
                    .join(Order, Order.id == OrderLine.order_id)
                    .where(
                        Order.shop_id == shop_id,
                        Order.status.in_(["pending_payment", "paid"]),
                    )
                    .group_by(OrderLine.sku_id)
                )
            ).all()
        )
        statuses = dict(
            (
                await session.execute(
                    select(Order.status, func.count())
                    .where(Order.shop_id == shop_id)
                    .group_by(Order.status)
                )
            ).all()
        )
        movements = dict(
            (
                await session.execute(
                    select(StockMovement.sku_id, func.sum(StockMovement.delta))
                    .where(StockMovement.shop_id == shop_id)
                    .group_by(StockMovement.sku_id)
                )
            ).all()
        )
    return stock, held, statuses, movements


async def test_500_buyers_for_100_units_make_exactly_100_orders(database) -> None:
    shop, (sku_id,), buyers = await _setup(database, buyers=500, stocks=[100])
    try:
        results = await asyncio.gather(*(_buy(database, shop.id, b, [(sku_id, 1)]) for b in buyers))
        won = [order for order in results if order is not None]
        assert len(won) == 100
        assert len({order.customer_id for order in won}) == 100
        # Pay half of them: paid or pending, the stock stays taken.
        for order in won[:50]:
            async with database.sessionmaker() as session:
                await orders_service.mark_order_paid(
                    session=session,
                    shop_id=shop.id,
                    order_id=order.id,
                    amount_fen=order.total_fen,
                    paid_at=utcnow(),
                    payment_ref=f"P{order.id}",
                )
                await session.commit()
        stock, held, statuses, movements = await _totals(database, shop.id, [sku_id])
        assert stock[sku_id] == 0
        assert held[sku_id] == 100
        assert statuses == {"paid": 50, "pending_payment": 50}
        # Stock movements: the initial 100 in, 100 reservations out.
        assert movements[sku_id] == 0
    finally:
        await _teardown(database, shop.id)


line_sets = st.lists(
    st.lists(st.tuples(st.integers(0, 2), st.integers(1, 4)), min_size=1, max_size=3),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    stocks=st.lists(st.integers(0, 8), min_size=3, max_size=3),
    baskets=line_sets,
    paid=st.lists(st.booleans(), min_size=12, max_size=12),
)
async def test_concurrent_baskets_never_oversell_and_every_reservation_ends(
    database, stocks, baskets, paid
) -> None:
    """Random baskets at once: what orders hold never exceeds the stock, stock + held equals
    the start, and once unpaid orders expire everything not paid is back on the shelf."""
    shop, sku_ids, buyers = await _setup(database, buyers=len(baskets), stocks=stocks)
    try:
        attempts = [
            [(sku_ids[index], quantity) for index, quantity in basket] for basket in baskets
        ]
        results = await asyncio.gather(
            *(
                _buy(database, shop.id, buyer, lines)
                for buyer, lines in zip(buyers, attempts, strict=True)
            )
        )
        stock, held, _, _ = await _totals(database, shop.id, sku_ids)
        for sku_id, start in zip(sku_ids, stocks, strict=True):
            assert 0 <= stock[sku_id] <= start
            assert stock[sku_id] + held.get(sku_id, 0) == start
        # Pay some orders, let the others pass their deadline and run the sweeper.
        paid_units = dict.fromkeys(sku_ids, 0)
        for order, pay in zip(results, paid, strict=False):
            if order is None:
                continue
            async with database.sessionmaker() as session:
                if pay:
                    await orders_service.mark_order_paid(
                        session=session,
                        shop_id=shop.id,
                        order_id=order.id,
                        amount_fen=order.total_fen,
                        paid_at=utcnow(),
                        payment_ref=f"P{order.id}",
                    )
                    for line in order.lines:
                        paid_units[line.sku_id] += line.quantity
                await session.commit()
        later = utcnow() + dt.timedelta(hours=1)
        async with database.sessionmaker() as session:
            for shop_id, order_id in await orders_service.due_for_expiry(
                session=session, now=later
            ):
                if shop_id == shop.id:
                    await orders_service.expire_order(
                        session=session, shop_id=shop_id, order_id=order_id, now=later
                    )
            await session.commit()
        async with database.sessionmaker() as session:  # a second pass changes nothing
            again = await orders_service.due_for_expiry(session=session, now=later)
            assert [order_id for shop_id, order_id in again if shop_id == shop.id] == []
            for order in results:
                if order is not None:
                    assert not await orders_service.expire_order(
                        session=session, shop_id=shop.id, order_id=order.id, now=later
                    )
        stock, held, statuses, _ = await _totals(database, shop.id, sku_ids)
        assert "pending_payment" not in statuses
        for sku_id, start in zip(sku_ids, stocks, strict=True):
            assert stock[sku_id] == start - paid_units[sku_id]
            assert held.get(sku_id, 0) == paid_units[sku_id]
    finally:
        await _teardown(database, shop.id)
