"""The console order page in a real Chromium: the payments and refunds section loads into it,
and a partial refund by items is booked from its form."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from liveloop.commerce.payments import service
from liveloop.commerce.payments.providers.demo import DemoProvider
from liveloop.core.database import Database
from liveloop.core.jobs import queue
from liveloop.core.settings import Settings
from liveloop.models import Base
from tests import factories
from tests.pages.test_console_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HAVE_CHROMIUM,
    SECRET_KEY,
    free_port,
    start_uvicorn,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}"),
]


async def seed(url: str) -> dict[str, Any]:
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.sessionmaker() as session:
        shop = await factories.make_shop(session, name="茶语小铺")
        owner = await factories.make_staff(session, shop_id=shop.id, email="owner@example.com")
        buyer = await factories.make_customer(session, shop_id=shop.id, name="王芳")
        product = await factories.make_product(
            session, shop_id=shop.id, name="明前龙井", price_fen=5990, stock=10
        )
        order = await factories.make_order(
            session, shop_id=shop.id, customer_id=buyer.id, lines=[(product.skus[0].id, 3)]
        )
        payment = await service.create_payment(
            session=session, shop_id=shop.id, order_id=order.id, provider="demo",
            idempotency_key=None, return_url="", client_ip=None,
        )  # fmt: skip
        headers, body = DemoProvider(
            secret=SECRET_KEY, shop_id=shop.id, public_url="http://test"
        ).build_notification(out_trade_no=payment.number, amount_fen=payment.amount_fen)
        outcome = await service.handle_notification(
            session=session, shop_id=shop.id, provider="demo", headers=headers, body=body
        )
        assert outcome.status == "applied"
        await session.commit()
        seeded = {"email": owner.email, "order_id": order.id, "payment": payment.number}
    await database.dispose()
    return seeded


@pytest.fixture
async def server(tmp_path: Path, monkeypatch) -> AsyncIterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(queue, "settings", Settings(secret_key=SECRET_KEY, var_dir=tmp_path))
    url = f"sqlite+aiosqlite:///{tmp_path / 'refunds.db'}"
    seeded = await seed(url)
    port = free_port()
    log_path = tmp_path / "uvicorn.log"
    process = start_uvicorn(url, port, tmp_path / "var", log_path)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            up = False
            # Wait for start-up (up to ~2 min on a loaded machine); not a timing assertion.
            for _ in range(1200):
                if process.poll() is not None:
                    break
                with contextlib.suppress(httpx.TransportError):
                    up = (await client.get(f"{base}/healthz")).status_code == 200
                if up:
                    break
                await asyncio.sleep(0.1)
        if not up:
            pytest.fail(f"uvicorn did not start: {log_path.read_text()[-3000:]}")
        yield {"base": base, **seeded}
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_a_merchant_refunds_one_item_from_the_order_page(server: dict[str, Any]) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    base = server["base"]
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                locale="zh-CN", viewport={"width": 1360, "height": 900}
            )
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            expect = playwright_api.expect
            order_page = f"{base}/console/orders/{server['order_id']}"
            await page.goto(order_page)
            await page.fill("input[name=email]", server["email"])
            await page.fill("input[name=password]", factories.PASSWORD)
            await page.click("button[type=submit].primary")
            await expect(page).to_have_url(order_page)

            section = page.locator("#order-refunds")
            await expect(section).to_contain_text(server["payment"])  # loaded by HTMX
            await expect(section).to_contain_text("暂无退款")
            await section.locator("input[name=mode][value=lines]").check()
            await section.locator("input[name^=line_]").fill("1")
            await section.locator("input[name=reason]").fill("破损")
            await section.locator("[data-testid=refund-form] button[type=submit]").click()

            await expect(page).to_have_url(order_page)
            await expect(page.locator(".flash")).to_contain_text("已登记")
            rows = page.locator("#order-refunds [data-testid=refunds] tbody tr")
            await expect(rows).to_have_count(1)
            await expect(rows.first).to_contain_text("¥59.90")
            await expect(rows.first).to_contain_text("破损")
            assert problems == []
        finally:
            await browser.close()
