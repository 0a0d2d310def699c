"""One coupon (claimed) and one flash sale in a shop: records for the shop-isolation walk."""

from __future__ import annotations

import datetime as dt
from typing import Any

from liveloop.commerce.coupons import service as coupons_service
from liveloop.commerce.coupons.schemas import CouponCreate
from liveloop.commerce.flash import service as flash_service
from liveloop.commerce.flash.schemas import FlashSaleCreate
from liveloop.core.database import utcnow


async def make_promotion_records(
    session: Any, *, shop_id: int, sku_id: int, customer_id: int
) -> dict[str, int]:
    coupon = await coupons_service.create_coupon(
        session=session,
        shop_id=shop_id,
        data=CouponCreate(
            title="隔壁的券",
            kind="amount_off",
            amount_off_fen=100,
            valid_days=1,
            total_quantity=5,
            status="active",
        ),
    )
    issued = await coupons_service.claim_coupon(
        session=session, shop_id=shop_id, coupon_id=coupon.id, customer_id=customer_id
    )
    now = utcnow()
    sale = await flash_service.create_flash_sale(
        session=session,
        shop_id=shop_id,
        data=FlashSaleCreate(
            sku_id=sku_id,
            price_fen=1,
            quantity=1,
            starts_at=now,
            ends_at=now + dt.timedelta(hours=1),
        ),
    )
    return {"coupon_id": coupon.id, "customer_coupon_id": issued.id, "flash_sale_id": sale.id}
