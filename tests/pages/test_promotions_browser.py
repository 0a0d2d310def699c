"""In a real Chromium against a real Uvicorn: the anchor pushes a coupon and starts a flash
sale in the live room; the viewer sees both cards, grabs the flash unit, pays on the demo
page; the room shows the sale sold out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from tests.pages.phone_codes import texted_code
from tests.pages.test_checkout_browser import orders_of, shop_server  # noqa: F401  (fixture)
from tests.pages.test_console_browser import CHROMIUM, HAVE_CHROMIUM
from tests.pages.test_live_viewer import chromium_page


async def call(server: dict[str, Any], path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server["base"], timeout=15) as client:
        response = await client.post(
            path, json=body, headers={"Authorization": f"Bearer {server['api_key']}"}
        )
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_viewer_sees_the_coupon_and_grabs_the_flash_sale(
    shop_server: dict[str, Any],  # noqa: F811  (the fixture)
) -> None:
    expect = pytest.importorskip("playwright.async_api").expect
    async with chromium_page() as page:
        await page.goto(f"{shop_server['base']}/live/{shop_server['code']}")
        await expect(page.locator("#online-count")).not_to_have_text("0")

        coupon = await call(
            shop_server,
            "/api/v1/coupons",
            {"title": "直播专享券", "kind": "threshold", "amount_off_fen": 2000,
             "threshold_fen": 19900, "valid_days": 3, "total_quantity": 50, "status": "active"},
        )  # fmt: skip
        await call(
            shop_server,
            f"/api/v1/coupons/{coupon['id']}/push",
            {"live_session_id": shop_server["live_session_id"]},
        )
        await expect(page.locator("#llp-coupon")).to_be_visible()
        await expect(page.locator("#llp-coupon-title")).to_have_text("直播专享券")
        await expect(page.locator("#llp-coupon-value")).to_have_text("¥20.00 off ¥199.00")

        now = dt.datetime.now(dt.UTC)
        cup_sku = await first_sku(shop_server, shop_server["product_ids"][1])
        sale = await call(
            shop_server,
            "/api/v1/flash-sales",
            {"sku_id": cup_sku, "price_fen": 990, "quantity": 1, "per_customer_limit": 1,
             "starts_at": (now - dt.timedelta(minutes=1)).isoformat(),
             "ends_at": (now + dt.timedelta(minutes=30)).isoformat(),
             "live_session_id": shop_server["live_session_id"]},
        )  # fmt: skip
        await expect(page.locator("#llp-flash")).to_be_visible()
        await expect(page.locator("#llp-flash-price")).to_have_text("¥9.90")
        await expect(page.locator("#llp-flash-left")).to_contain_text("1")

        # A guest: the first tap asks for an address, the second reserves and goes to pay.
        await page.click("#llp-buy")
        await expect(page.locator("#llp-address")).to_be_visible()
        form = "#llp-address"
        await page.fill(f"{form} [name=recipient_name]", "李娜")
        await page.fill(f"{form} [name=phone]", "13900002222")
        await page.fill("#llp-phone-code .llpc-code", await texted_code(page, "#llp-phone-code"))
        await page.fill(f"{form} [name=region]", "浙江省")
        await page.fill(f"{form} [name=city]", "杭州市")
        await page.fill(f"{form} [name=detail]", "文三路 100 号")
        await page.click("#llp-buy")
        await page.wait_for_url("**/pay/demo/**")
        (order,) = await orders_of(shop_server["url"])
        assert (order.kind, order.total_fen, order.status) == (
            "flash",
            990 + 1000,
            "pending_payment",
        )
        await page.click("[data-testid=confirm-pay]")
        await page.wait_for_url(f"**/live/{shop_server['code']}#ll-order-{order.id}", timeout=30000)
        (paid,) = await orders_of(shop_server["url"])
        assert paid.status in ("pending_payment", "paid")  # the notification may be on its way

        # Back in the room: the sale's card, announced again, says sold out.
        async with httpx.AsyncClient(base_url=shop_server["base"], timeout=15) as client:
            response = await client.post(
                f"/api/v1/flash-sales/{sale['id']}/announce",
                headers={"Authorization": f"Bearer {shop_server['api_key']}"},
            )
        assert response.status_code == 200
        await expect(page.locator("#llp-flash-left")).to_have_text("已售罄", timeout=10000)
        assert page.problems == []


async def first_sku(server: dict[str, Any], product_id: int) -> int:
    async with httpx.AsyncClient(base_url=server["base"], timeout=15) as client:
        response = await client.get(
            f"/api/v1/products/{product_id}",
            headers={"Authorization": f"Bearer {server['api_key']}"},
        )
    sku_id: int = response.json()["skus"][0]["id"]
    return sku_id
