"""Many buyers on separate connections, committing for real: stock is never oversold.

This test does not use the rolled-back `session` fixture: it needs several real transactions
racing each other, so it creates its own shop and deletes it at the end.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from liveloop.catalog import service as catalog_service
from liveloop.catalog.models import Sku, StockMovement
from liveloop.core.errors import InvalidInput
from liveloop.shops import service as shops_service
from tests import factories
from tests.factories.shops import drop_shop

BUYERS = 40


async def test_concurrent_reservations_never_oversell(database) -> None:
    async with database.sessionmaker() as session:
        shop = await shops_service.create_shop(session=session, name="并发测试店")
        product = await factories.make_product(
            session,
            shop_id=shop.id,
            skus=[
                {"specs": {"规格": "小罐"}, "price_fen": 5900, "stock": 20},
                {"specs": {"规格": "礼盒"}, "price_fen": 19900, "stock": 7},
            ],
        )
        await session.commit()
    small, gift = (sku.id for sku in product.skus)
    try:

        async def buyer(number: int) -> list[tuple[int, int]] | None:
            # Lines in both orders: the service must lock in primary-key order (no deadlock).
            lines = [(small, 1), (gift, 1)] if number % 2 else [(gift, 1), (small, 2)]
            async with database.sessionmaker() as buyer_session:
                try:
                    await catalog_service.reserve_stock(
                        session=buyer_session, shop_id=shop.id, lines=lines
                    )
                except InvalidInput as error:
                    assert error.code == "insufficient_stock"
                    await buyer_session.rollback()
                    return None
                await buyer_session.commit()
                return lines

        results = await asyncio.gather(*(buyer(n) for n in range(BUYERS)))
        won = [lines for lines in results if lines is not None]
        taken = {small: 0, gift: 0}
        for lines in won:
            for sku_id, quantity in lines:
                taken[sku_id] += quantity

        async with database.sessionmaker() as session:
            stocks = dict(
                (
                    await session.execute(select(Sku.id, Sku.stock).where(Sku.shop_id == shop.id))
                ).all()
            )
            reserves = (
                await session.execute(
                    select(func.count()).where(
                        StockMovement.shop_id == shop.id, StockMovement.reason == "reserve"
                    )
                )
            ).scalar_one()
        assert stocks[gift] == 7 - taken[gift] >= 0
        assert stocks[small] == 20 - taken[small] >= 0
        assert taken[gift] == 7  # 40 buyers for 7 gift boxes: every box is sold, none twice
        assert reserves == sum(len(lines) for lines in won)
    finally:
        async with database.sessionmaker() as session:
            await drop_shop(session, shop.id)
            await session.commit()
