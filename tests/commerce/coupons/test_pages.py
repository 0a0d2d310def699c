"""Console pages of coupons and flash sales, and the public claim page (real app, forms)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from liveloop.commerce.coupons.models import Coupon, CustomerCoupon
from liveloop.commerce.flash.models import FlashSale
from tests import factories
from tests.web.conftest import console, post_form  # noqa: F401  (the fixture)


async def test_create_coupon_and_see_it(console, session, shop) -> None:  # noqa: F811
    page = await console.get("/console/coupons")
    assert page.status_code == 200 and "coupon-form" in page.text
    created = await post_form(
        console,
        "/console/coupons",
        {
            "title": "满199减20",
            "kind": "threshold",
            "amount_off": "20",
            "threshold": "199.00",
            "valid_days": "7",
            "total_quantity": "100",
            "per_customer_limit": "1",
            "return_on_refund": "1",
            "status": "active",
        },
    )
    assert created.status_code == 303, created.text
    coupon = (await session.execute(select(Coupon).where(Coupon.shop_id == shop.id))).scalar_one()
    assert coupon.amount_off_fen == 2000 and coupon.threshold_fen == 19900
    detail = await console.get(created.headers["location"])
    assert "¥20.00 off ¥199.00" in detail.text and coupon.code in detail.text
    bad = await post_form(
        console,
        "/console/coupons",
        {
            "title": "x",
            "kind": "threshold",
            "amount_off": "20.001",
            "total_quantity": "1",
            "valid_days": "1",
        },
    )
    assert bad.status_code == 422 and "two decimals" in bad.text
    stopped = await post_form(
        console, f"/console/coupons/{coupon.id}/status", {"status": "stopped"}
    )
    assert stopped.status_code == 303
    await session.refresh(coupon)
    assert coupon.status == "stopped"


async def test_grant_from_the_console_and_claim_by_link(
    console,  # noqa: F811
    anon_client,
    session,
    shop,
) -> None:
    await post_form(
        console,
        "/console/coupons",
        {"title": "无门槛5元", "kind": "amount_off", "amount_off": "5", "valid_days": "3",
         "total_quantity": "2", "status": "active"},
    )  # fmt: skip
    coupon = (await session.execute(select(Coupon).where(Coupon.shop_id == shop.id))).scalar_one()
    customer = await factories.make_customer(session, shop_id=shop.id)
    await post_form(
        console, f"/console/coupons/{coupon.id}/grant", {"customer_id": str(customer.id)}
    )
    page = await anon_client.get(f"/coupon/{coupon.code}")
    assert page.status_code == 200 and "claim-form" in page.text and "无门槛5元" in page.text
    claimed = await anon_client.post(f"/coupon/{coupon.code}", data={"phone": "13800138000"})
    assert claimed.status_code == 200 and "claim-result" in claimed.text
    again = await anon_client.post(f"/coupon/{coupon.code}", data={"phone": "13800138000"})
    assert again.status_code == 422 and "claim-error" in again.text
    other = await anon_client.post(f"/coupon/{coupon.code}", data={"phone": "13800138001"})
    assert "has all been claimed" in other.text
    issued = (
        (await session.execute(select(CustomerCoupon).where(CustomerCoupon.coupon_id == coupon.id)))
        .scalars()
        .all()
    )
    assert sorted(i.source for i in issued) == ["grant", "link"]
    detail = await console.get(f"/console/coupons/{coupon.id}")
    assert detail.text.count("data-claim=") == 2
    assert (await anon_client.get("/coupon/NOSUCHCODE")).status_code == 404


async def test_flash_sale_console(console, session, shop) -> None:  # noqa: F811
    product = await factories.make_product(session, shop_id=shop.id, price_fen=9900, stock=10)
    shanghai = dt.datetime.now(ZoneInfo("Asia/Shanghai"))  # the form is read in the shop's zone
    ends = (shanghai + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    created = await post_form(
        console,
        "/console/flash-sales",
        {"sku_id": str(product.skus[0].id), "price": "9.9", "quantity": "4", "ends_at": ends},
    )
    assert created.status_code == 303, created.text
    sale = (
        await session.execute(select(FlashSale).where(FlashSale.shop_id == shop.id))
    ).scalar_one()
    assert sale.price_fen == 990 and sale.quantity == 4
    listed = await console.get("/console/flash-sales")
    assert f'data-flash-sale="{sale.id}"' in listed.text
    too_many = await post_form(
        console,
        "/console/flash-sales",
        {"sku_id": str(product.skus[0].id), "price": "9.9", "quantity": "40", "ends_at": ends},
    )
    assert too_many.status_code == 422 and "not enough stock" in too_many.text
    stopped = await post_form(console, f"/console/flash-sales/{sale.id}/stop")
    assert stopped.status_code == 303
    await session.refresh(sale)
    assert sale.status == "stopped" and sale.returned_quantity == 4
