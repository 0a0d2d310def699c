"""In a real Chromium against a real Uvicorn (with its job consumer): a viewer buys the pushed
product inside the live room through the checkout drawer, pays on the demo provider's page,
comes back to the room and sees the order paid; then buys from the mall page."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from liveloop.commerce.models import Order
from liveloop.core.database import Database
from liveloop.shops.models import Shop
from tests.commerce.payments.test_demo_flow import start_server
from tests.pages.phone_codes import texted_code
from tests.pages.test_console_browser import CHROMIUM, HAVE_CHROMIUM, SECRET_KEY, free_port
from tests.pages.test_live_viewer import chromium_page, seed_live_room
from tests.servers import wait_ready


@pytest.fixture
async def shop_server(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'checkout.db'}"
    seeded = await seed_live_room(url)
    seeded["shop_id"] = await first_shop_id(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LIVELOOP_VAR_DIR": str(tmp_path / "var"),
        "LIVELOOP_DATABASE_URL": url,
        "LIVELOOP_SECRET_KEY": SECRET_KEY,
        "LIVELOOP_QUEUE_BACKEND": "sqlite",  # a real queue: the demo bank's job runs
        "LIVELOOP_BUS_BACKEND": "memory",
        "LIVELOOP_BASE_URL": base,
        "LIVELOOP_LOG_LEVEL": "warning",
    }
    for name in ("LIVELOOP_REDIS_URL", "LIVELOOP_PII_KEY"):
        env.pop(name, None)
    log_path = tmp_path / "uvicorn.log"
    process = start_server(env, port, log_path)
    try:
        await wait_ready(process, base, log_path)
        yield {"base": base, "url": url, "log": log_path, **seeded}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def first_shop_id(url: str) -> int:
    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            return (await session.execute(select(Shop.id).order_by(Shop.id))).scalars().first()
    finally:
        await database.dispose()


async def orders_of(url: str) -> list[Order]:
    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            return list((await session.execute(select(Order).order_by(Order.id))).scalars())
    finally:
        await database.dispose()


async def push(server: dict[str, Any], product_id: int) -> None:
    async with httpx.AsyncClient(base_url=server["base"], timeout=15) as client:
        response = await client.post(
            f"/api/v1/live/{server['live_session_id']}/push",
            json={"product_id": product_id},
            headers={"Authorization": f"Bearer {server['api_key']}"},
        )
    assert response.status_code == 200, response.text


async def fill_address(page: Any) -> None:
    form = "#llc-address-form"
    await page.fill(f"{form} [name=recipient_name]", "李娜")
    await page.fill(f"{form} [name=phone]", "13900001111")
    await page.fill(f"{form} [name=region]", "浙江省")
    await page.fill(f"{form} [name=city]", "杭州市")
    await page.fill(f"{form} [name=detail]", "文三路 100 号")


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_a_viewer_buys_the_pushed_product_in_the_room_and_pays(
    shop_server: dict[str, Any],
) -> None:
    expect = pytest.importorskip("playwright.async_api").expect
    tea_id = shop_server["product_ids"][0]
    async with chromium_page() as page:
        await page.goto(f"{shop_server['base']}/live/{shop_server['code']}")
        await expect(page.locator("#online-count")).not_to_have_text("0")
        await push(shop_server, tea_id)
        await expect(page.locator("#pushed")).to_be_visible()
        await page.click("#pushed-skus .sku-chip >> text=250g")
        await page.click("#pushed-buy")

        # The drawer: the chosen size, its price, the quote (free shipping from ¥99).
        drawer = page.locator("#llc")
        await expect(drawer).to_be_visible()
        await expect(page.locator("#llc-title")).to_have_text("明前龙井")
        await expect(page.locator("#llc-skus .llc-chip.selected")).to_have_text("250g")
        await expect(page.locator("#llc-total")).to_have_text("¥239.00")
        await page.click("#llc-plus")
        await expect(page.locator("#llc-total")).to_have_text("¥478.00")
        await expect(page.locator("#llc-shipping")).to_have_text("包邮")
        # A guest: the address form is how they order, the phone proven by a texted code; a
        # bad phone is refused by the server.
        await fill_address(page)
        await expect(page.locator("#llc-phone-code")).to_be_visible()
        await page.fill("#llc-address-form [name=phone]", "12345")
        await page.click("#llc-phone-code .llpc-send")
        await expect(page.locator("#llc-phone-code .llpc-note")).to_contain_text("12345")
        await page.fill("#llc-address-form [name=phone]", "13900001111")
        code = await texted_code(page, "#llc-phone-code")
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        await page.fill("#llc-phone-code .llpc-code", wrong)
        await page.click("#llc-place")
        await expect(page.locator("#llc-error")).to_contain_text("not right")
        assert await orders_of(shop_server["url"]) == []
        await page.fill("#llc-phone-code .llpc-code", code)
        await page.click("#llc-place")
        await expect(page.locator("[data-step=pay]")).to_be_visible()
        await expect(page.locator("#llc-pay-total")).to_have_text("¥478.00")

        (order,) = await orders_of(shop_server["url"])
        assert (order.status, order.total_fen, order.live_session_id) == (
            "pending_payment",
            47800,
            shop_server["live_session_id"],
        )
        assert [(line.sku_name, line.quantity) for line in order.lines] == [("250g", 2)]

        # Pay on the demo provider's page; it sends the signed notification and comes back.
        await page.click("#llc-pay")
        await page.wait_for_url("**/pay/demo/**")
        await page.click("[data-testid=confirm-pay]")
        await page.wait_for_url(f"**/live/{shop_server['code']}#ll-order-{order.id}", timeout=30000)
        await expect(page.locator("#llc-done-title")).to_have_text(
            "支付成功，谢谢！", timeout=20000
        )
        (paid,) = await orders_of(shop_server["url"])
        assert (paid.status, paid.paid_fen) == ("paid", 47800)
        assert page.problems == []


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_a_buyer_orders_from_the_mall_and_sees_it_in_my_orders(
    shop_server: dict[str, Any],
) -> None:
    expect = pytest.importorskip("playwright.async_api").expect
    async with chromium_page() as page:
        await page.goto(f"{shop_server['base']}/mall/{shop_server['shop_id']}")
        await page.click(".llm-card:has-text('青瓷杯') .llm-buy")
        await expect(page.locator("#llc-total")).to_have_text("¥69.00")  # ¥59 + ¥10 shipping
        await fill_address(page)
        await page.fill("#llc-phone-code .llpc-code", await texted_code(page, "#llc-phone-code"))
        # An unknown promo code is refused next to its field, and nothing is ordered.
        await page.fill("#llc-promo", "NOBODY9")
        await page.click("#llc-place")
        await expect(page.locator("#llc-promo-error")).to_contain_text("NOBODY9")
        await expect(page.locator("#llc-error")).to_have_text("")
        assert await orders_of(shop_server["url"]) == []
        await page.fill("#llc-promo", "")
        await page.click("#llc-place")
        await expect(page.locator("[data-step=pay]")).to_be_visible()
        await expect(page.locator("#llc-promo-error")).to_have_text("")
        await page.click("#llc-orders-link")
        await expect(page.locator(".llm-order")).to_have_count(1)
        await expect(page.locator(".llm-order .llm-status")).to_have_text("待支付")
        await page.click(".llm-order .llm-cancel")
        await expect(page.locator(".llm-order .llm-status")).to_have_text("已取消")
        await expect(page.locator("#llm-login")).to_be_hidden()  # this phone has a customer
        assert page.problems == []


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_my_orders_on_another_phone_log_in_with_a_code(shop_server: dict[str, Any]) -> None:
    """A customer ordered elsewhere (here: through the API with a customer's token); on a phone
    that has no token "my orders" offers to log in with the phone and a texted code."""
    expect = pytest.importorskip("playwright.async_api").expect
    phone = "13700001234"
    async with httpx.AsyncClient(base_url=shop_server["base"], timeout=15) as client:
        issued = await client.post(
            f"/api/v1/live/{shop_server['live_session_id']}/viewer-token",
            json={"identity": {"channel": "phone", "value": phone}},
            headers={"Authorization": f"Bearer {shop_server['api_key']}"},
        )
        assert issued.status_code == 200, issued.text
        cup = (
            await client.get(
                f"/api/v1/public/products/{shop_server['product_ids'][1]}",
                headers={"Authorization": f"Bearer {issued.json()['token']}"},
            )
        ).json()
        placed = await client.post(
            "/api/v1/public/orders",
            json={
                "lines": [{"sku_id": cup["skus"][0]["id"], "quantity": 1}],
                "address": {"recipient_name": "周杰", "phone": phone, "region": "浙江省",
                            "city": "杭州市", "detail": "文三路 1 号"},
            },
            headers={"Authorization": f"Bearer {issued.json()['token']}"},
        )  # fmt: skip
        assert placed.status_code == 201, placed.text
    async with chromium_page(viewport={"width": 375, "height": 667}) as page:
        await page.goto(f"{shop_server['base']}/mall/{shop_server['shop_id']}/orders")
        await expect(page.locator("#llm-login")).to_be_visible()
        await expect(page.locator(".llm-order")).to_have_count(0)
        await page.fill("#llm-login [name=phone]", phone)
        code = await texted_code(page, "#llm-login-code")
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        await page.fill("#llm-login-code .llpc-code", wrong)
        await page.click("#llm-login-submit")
        await expect(page.locator("#llm-login-error")).to_contain_text("not right")
        await page.fill("#llm-login-code .llpc-code", code)
        await page.click("#llm-login-submit")
        await expect(page.locator(".llm-order")).to_have_count(1)
        await expect(page.locator(".llm-order .llm-status")).to_have_text("待支付")
        await expect(page.locator("#llm-login")).to_be_hidden()
        # Nothing runs off a 375 px wide screen.
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375
        assert page.problems == []
