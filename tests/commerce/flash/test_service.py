"""Flash sale life cycle at the service layer (rolled-back transaction, SQL path)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from liveloop.catalog import service as catalog_service
from liveloop.commerce import orders
from liveloop.commerce.flash import service as flash_service
from liveloop.commerce.flash.models import FlashBuyer, FlashReservation
from liveloop.commerce.flash.schemas import FlashSaleCreate
from liveloop.core.database import utcnow
from liveloop.core.errors import Conflict, InvalidInput
from tests import factories


async def make_sale(session, shop, *, stock=10, quantity=3, limit=1, starts=None, ends=None):  # type: ignore[no-untyped-def]
    product = await factories.make_product(session, shop_id=shop.id, price_fen=9900, stock=stock)
    now = utcnow()
    sale = await flash_service.create_flash_sale(
        session=session,
        shop_id=shop.id,
        data=FlashSaleCreate(
            sku_id=product.skus[0].id,
            price_fen=1990,
            quantity=quantity,
            per_customer_limit=limit,
            starts_at=starts or now - dt.timedelta(minutes=1),
            ends_at=ends or now + dt.timedelta(hours=1),
        ),
    )
    return sale, product.skus[0]


async def test_creation_carves_stock_and_refuses_more_than_there_is(session, shop) -> None:
    sale, sku = await make_sale(session, shop, stock=10, quantity=4)
    assert (
        await catalog_service.get_sku(session=session, shop_id=shop.id, sku_id=sku.id)
    ).stock == 6
    assert sale.remaining == 4 and sale.original_price_fen == 9900 and sale.title
    with pytest.raises(InvalidInput) as error:
        await flash_service.create_flash_sale(
            session=session,
            shop_id=shop.id,
            data=FlashSaleCreate(
                sku_id=sku.id,
                price_fen=1990,
                quantity=7,
                starts_at=utcnow(),
                ends_at=utcnow() + dt.timedelta(hours=1),
            ),
        )
    assert error.value.code == "insufficient_stock"
    with pytest.raises(InvalidInput) as error:
        await flash_service.create_flash_sale(
            session=session,
            shop_id=shop.id,
            data=FlashSaleCreate(
                sku_id=sku.id,
                price_fen=9900,
                quantity=1,
                starts_at=utcnow(),
                ends_at=utcnow() + dt.timedelta(hours=1),
            ),
        )
    assert error.value.code == "flash_price_not_lower"


async def test_buy_sells_out_exactly_and_enforces_the_limit(session, shop) -> None:
    sale, sku = await make_sale(session, shop, quantity=3, limit=2)
    first, second, third = [
        await factories.make_customer(session, shop_id=shop.id, name=f"买家{n}") for n in range(3)
    ]
    order = await flash_service.buy_flash_sale(
        session=session, shop_id=shop.id, flash_sale_id=sale.id, customer_id=first.id, quantity=2
    )
    assert order.kind == "flash" and order.items_total_fen == 2 * 1990
    assert order.lines[0].unit_price_fen == 1990
    with pytest.raises(Conflict) as error:
        await flash_service.buy_flash_sale(
            session=session, shop_id=shop.id, flash_sale_id=sale.id, customer_id=first.id
        )
    assert error.value.code == "flash_limit_reached"
    await flash_service.buy_flash_sale(
        session=session, shop_id=shop.id, flash_sale_id=sale.id, customer_id=second.id
    )
    with pytest.raises(Conflict) as error:
        await flash_service.buy_flash_sale(
            session=session, shop_id=shop.id, flash_sale_id=sale.id, customer_id=third.id
        )
    assert error.value.code == "sold_out"
    await session.refresh(sale)
    assert sale.sold_count == 3 and sale.remaining == 0
    # The SKU's own stock was not touched by the flash orders.
    assert (
        await catalog_service.get_sku(session=session, shop_id=shop.id, sku_id=sku.id)
    ).stock == 7


async def test_cancelled_order_gives_its_units_and_count_back(session, shop, actor) -> None:
    sale, sku = await make_sale(session, shop, quantity=1)
    buyer = await factories.make_customer(session, shop_id=shop.id)
    order = await flash_service.buy_flash_sale(
        session=session, shop_id=shop.id, flash_sale_id=sale.id, customer_id=buyer.id
    )
    await orders.cancel_order(
        session=session, shop_id=shop.id, order_id=order.id, reason="changed mind", actor=actor
    )
    await session.refresh(sale)
    assert sale.sold_count == 0
    reservation = (
        await session.execute(select(FlashReservation).where(FlashReservation.order_id == order.id))
    ).scalar_one()
    assert reservation.status == "released"
    held = (
        await session.execute(
            select(FlashBuyer.quantity).where(FlashBuyer.flash_sale_id == sale.id)
        )
    ).scalar_one()
    assert held == 0
    # SKU stock is unchanged: the unit went back to the sale, not to the SKU.
    assert (
        await catalog_service.get_sku(session=session, shop_id=shop.id, sku_id=sku.id)
    ).stock == 9
    again = await flash_service.buy_flash_sale(
        session=session, shop_id=shop.id, flash_sale_id=sale.id, customer_id=buyer.id
    )
    assert again.id != order.id


async def test_expiry_after_the_sale_ended_returns_units_to_the_sku(session, shop) -> None:
    sale, sku = await make_sale(session, shop, stock=10, quantity=3)
    buyer = await factories.make_customer(session, shop_id=shop.id)
    order = await flash_service.buy_flash_sale(
        session=session, shop_id=shop.id, flash_sale_id=sale.id, customer_id=buyer.id
    )
    ended = await flash_service.finish_ended_flash_sales(
        session=session, now=utcnow() + dt.timedelta(hours=2)
    )
    assert ended == 1
    await session.refresh(sale)
    assert sale.status == "ended" and sale.returned_quantity == 2
    assert (
        await catalog_service.get_sku(session=session, shop_id=shop.id, sku_id=sku.id)
    ).stock == 9
    await orders.expire_order(
        session=session, shop_id=shop.id, order_id=order.id, now=utcnow() + dt.timedelta(days=1)
    )
    await session.refresh(sale)
    assert sale.sold_count == 0 and sale.returned_quantity == 3
    assert (
        await catalog_service.get_sku(session=session, shop_id=shop.id, sku_id=sku.id)
    ).stock == 10


async def test_window_and_stop(session, shop) -> None:
    later = utcnow() + dt.timedelta(hours=1)
    sale, sku = await make_sale(
        session, shop, quantity=2, starts=later, ends=later + dt.timedelta(hours=1)
    )
    buyer = await factories.make_customer(session, shop_id=shop.id)
    with pytest.raises(Conflict) as error:
        await flash_service.buy_flash_sale(
            session=session, shop_id=shop.id, flash_sale_id=sale.id, customer_id=buyer.id
        )
    assert error.value.code == "flash_not_started"
    stopped = await flash_service.stop_flash_sale(
        session=session, shop_id=shop.id, flash_sale_id=sale.id
    )
    assert stopped.status == "stopped" and stopped.returned_quantity == 2
    assert (
        await catalog_service.get_sku(session=session, shop_id=shop.id, sku_id=sku.id)
    ).stock == 10
    with pytest.raises(Conflict) as error:
        await flash_service.stop_flash_sale(session=session, shop_id=shop.id, flash_sale_id=sale.id)
    assert error.value.code == "flash_not_active"


async def test_double_click_with_one_key_is_one_order(session, shop) -> None:
    sale, _ = await make_sale(session, shop, quantity=5, limit=5)
    buyer = await factories.make_customer(session, shop_id=shop.id)
    kwargs = dict(session=session, shop_id=shop.id, flash_sale_id=sale.id, customer_id=buyer.id)
    first = await flash_service.buy_flash_sale(**kwargs, idempotency_key="k-1")  # type: ignore[arg-type]
    second = await flash_service.buy_flash_sale(**kwargs, idempotency_key="k-1")  # type: ignore[arg-type]
    assert first.id == second.id
    await session.refresh(sale)
    assert sale.sold_count == 1


async def test_another_shops_sale_is_not_found(session, shop, other_shop) -> None:
    sale, _ = await make_sale(session, shop)
    stranger = await factories.make_customer(session, shop_id=other_shop.id)
    from liveloop.core.errors import NotFound

    with pytest.raises(NotFound):
        await flash_service.buy_flash_sale(
            session=session, shop_id=other_shop.id, flash_sale_id=sale.id, customer_id=stranger.id
        )


async def test_buying_falls_back_to_the_database_when_redis_is_down(session, shop) -> None:
    from liveloop.commerce.flash.redis_lua import FlashCounters

    sale, _ = await make_sale(session, shop, quantity=1)
    unreachable = FlashCounters.from_url("redis://127.0.0.1:1/0")
    first, second = [await factories.make_customer(session, shop_id=shop.id) for _ in range(2)]
    order = await flash_service.buy_flash_sale(
        session=session,
        shop_id=shop.id,
        flash_sale_id=sale.id,
        customer_id=first.id,
        counters=unreachable,
    )
    assert order.kind == "flash"
    with pytest.raises(Conflict) as error:
        await flash_service.buy_flash_sale(
            session=session,
            shop_id=shop.id,
            flash_sale_id=sale.id,
            customer_id=second.id,
            counters=unreachable,
        )
    assert error.value.code == "sold_out"
