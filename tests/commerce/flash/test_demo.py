"""The demo's promotions: coupons claimed, one flash sale sold out exactly and paid."""

from __future__ import annotations

from sqlalchemy import func, select

from liveloop.commerce.coupons.models import CustomerCoupon
from liveloop.commerce.flash.demo import seed_promotions
from liveloop.commerce.flash.models import FlashSale
from liveloop.commerce.models import Order
from liveloop.customers import service as customers_service
from tests import factories
from tests.factories.live import make_live_session


async def test_demo_promotions_sell_out_exactly(session, shop) -> None:
    product = await factories.make_product(session, shop_id=shop.id, price_fen=12900, stock=100)
    ids = await customers_service.insert_customer_rows(
        session=session, rows=[{"shop_id": shop.id} for _ in range(150)]
    )
    live = await make_live_session(session, shop_id=shop.id, status="live")
    report = await seed_promotions(
        session=session,
        shop_id=shop.id,
        live_session_id=live.id,
        sku_ids=[product.skus[0].id],
        customer_ids=ids,
    )
    assert report.flash_orders == 20
    sales = (
        (
            await session.execute(
                select(FlashSale).where(FlashSale.shop_id == shop.id).order_by(FlashSale.id)
            )
        )
        .scalars()
        .all()
    )
    assert [(s.sold_count, s.quantity) for s in sales] == [(20, 20), (0, 30)]
    paid = (
        await session.execute(
            select(func.count()).where(
                Order.shop_id == shop.id, Order.kind == "flash", Order.status == "paid"
            )
        )
    ).scalar_one()
    assert paid == 20
    claims = (
        await session.execute(select(func.count()).where(CustomerCoupon.shop_id == shop.id))
    ).scalar_one()
    assert claims == report.claims == 160
