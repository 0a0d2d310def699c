"""Orders with coupons (commerce.coupons): suggested at checkout, locked by the order, used on
payment, back on expiry; an inapplicable one says why and moves nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from liveloop.catalog import service as catalog_service
from liveloop.commerce import orders as orders_service
from liveloop.commerce.checkout import LineRequest, quote_lines
from liveloop.commerce.coupons import service as coupons_service
from liveloop.commerce.coupons.schemas import CouponCreate
from liveloop.core.database import utcnow
from liveloop.core.errors import InvalidInput
from tests import factories


async def grant(session, shop, buyer, **terms):  # type: ignore[no-untyped-def]
    coupon = await coupons_service.create_coupon(
        session=session,
        shop_id=shop.id,
        data=CouponCreate(total_quantity=10, status="active", valid_days=7, **terms),
    )
    return await coupons_service.grant_coupon(
        session=session, shop_id=shop.id, coupon_id=coupon.id, customer_id=buyer.id, reason="test"
    )


async def status_of(session, shop, issued) -> str:  # type: ignore[no-untyped-def]
    await session.refresh(issued)
    return issued.status


async def test_the_best_coupon_is_suggested_and_split_over_lines(session, shop, buyer, tea) -> None:
    small = await grant(
        session, shop, buyer, title="立减5元", kind="amount_off", amount_off_fen=500
    )
    big = await grant(
        session,
        shop,
        buyer,
        title="满199减30",
        kind="threshold",
        amount_off_fen=3000,
        threshold_fen=19900,
    )
    quote = await quote_lines(
        session=session,
        shop_id=shop.id,
        customer_id=buyer.id,
        lines=[LineRequest(tea.skus[0].id, 1), LineRequest(tea.skus[1].id, 1)],
    )
    assert quote.suggested and quote.customer_coupon_id == big.id
    breakdown = quote.breakdown
    assert (breakdown.items_fen, breakdown.discount_fen) == (25890, 3000)
    assert sum(breakdown.line_discounts) == 3000
    # 3000 × 5990/25890 = 694.09…, 3000 × 19900/25890 = 2305.9…
    assert breakdown.line_discounts == (694, 2306)
    assert small.id != big.id


async def test_an_order_locks_its_coupon_payment_uses_it(session, shop, buyer, tea) -> None:
    issued = await grant(
        session, shop, buyer, title="立减10元", kind="amount_off", amount_off_fen=1000
    )
    order = await factories.make_order(
        session,
        shop_id=shop.id,
        customer_id=buyer.id,
        lines=[(tea.skus[1].id, 1)],
        customer_coupon_id=issued.id,
    )
    assert (order.discount_fen, order.total_fen) == (1000, 18900)
    assert order.lines[0].discount_fen == 1000
    assert await status_of(session, shop, issued) == "locked"
    # The same coupon on a second order (two tabs): refused, nothing reserved.
    with pytest.raises(InvalidInput) as twice:
        await factories.make_order(
            session,
            shop_id=shop.id,
            customer_id=buyer.id,
            lines=[(tea.skus[0].id, 1)],
            customer_coupon_id=issued.id,
        )
    assert "held by another unpaid order" in twice.value.message
    sku = await catalog_service.get_sku(session=session, shop_id=shop.id, sku_id=tea.skus[0].id)
    assert sku.stock == 10
    await orders_service.mark_order_paid(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        amount_fen=18900,
        paid_at=utcnow(),
        payment_ref="P1",
    )
    assert await status_of(session, shop, issued) == "used"


async def test_expiry_gives_the_coupon_back(session, shop, buyer, tea) -> None:
    issued = await grant(
        session, shop, buyer, title="立减10元", kind="amount_off", amount_off_fen=1000
    )
    order = await factories.make_order(
        session,
        shop_id=shop.id,
        customer_id=buyer.id,
        lines=[(tea.skus[1].id, 2)],
        customer_coupon_id=issued.id,
    )
    assert await status_of(session, shop, issued) == "locked"
    later = utcnow() + dt.timedelta(minutes=20)
    assert await orders_service.expire_order(
        session=session, shop_id=shop.id, order_id=order.id, now=later
    )
    assert await status_of(session, shop, issued) == "available"
    sku = await catalog_service.get_sku(session=session, shop_id=shop.id, sku_id=tea.skus[1].id)
    assert sku.stock == 2
    # Expiring again changes nothing (the coupon is not released twice).
    assert not await orders_service.expire_order(
        session=session, shop_id=shop.id, order_id=order.id, now=later
    )
    assert await status_of(session, shop, issued) == "available"


async def test_a_coupon_below_its_threshold_says_why(session, shop, buyer, tea) -> None:
    issued = await grant(
        session,
        shop,
        buyer,
        title="满199减30",
        kind="threshold",
        amount_off_fen=3000,
        threshold_fen=19900,
    )
    with pytest.raises(InvalidInput) as caught:
        await factories.make_order(
            session,
            shop_id=shop.id,
            customer_id=buyer.id,
            lines=[(tea.skus[0].id, 1)],
            customer_coupon_id=issued.id,
        )
    assert caught.value.code == "below_threshold"
    assert "¥199.00" in caught.value.message and "¥59.90" in caught.value.message
    assert await status_of(session, shop, issued) == "available"
    sku = await catalog_service.get_sku(session=session, shop_id=shop.id, sku_id=tea.skus[0].id)
    assert sku.stock == 10


async def test_the_quote_api_lists_coupons_with_reasons(viewer, session, shop, buyer, tea) -> None:
    await grant(
        session,
        shop,
        buyer,
        title="满199减30",
        kind="threshold",
        amount_off_fen=3000,
        threshold_fen=19900,
    )
    usable = await grant(
        session, shop, buyer, title="立减5元", kind="amount_off", amount_off_fen=500
    )
    response = await viewer.post(
        "/api/v1/public/checkout/quote", json={"lines": [{"sku_id": tea.skus[0].id, "quantity": 1}]}
    )
    body = response.json()
    assert body["customer_coupon_id"] == usable.id and body["coupon_suggested"] is True
    assert body["total_fen"] == 5990 - 500 + 1000
    reasons = {c["title"]: (c["applicable"], c["reason_code"]) for c in body["coupons"]}
    assert reasons == {"满199减30": (False, "below_threshold"), "立减5元": (True, None)}
    none = await viewer.post(
        "/api/v1/public/checkout/quote",
        json={"lines": [{"sku_id": tea.skus[0].id, "quantity": 1}], "no_coupon": True},
    )
    assert none.json()["discount_fen"] == 0 and none.json()["customer_coupon_id"] is None
