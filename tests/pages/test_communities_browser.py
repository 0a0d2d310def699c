"""Communities and a channel code in a real headless Chromium against a real Uvicorn server.

The operator creates a community in the console, adds a member and sees the health figure; a
customer opens the channel code's landing page on a phone and is shown a staff member's QR.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from liveloop.core.database import Database
from liveloop.customers.channel_codes import service as codes_service
from liveloop.customers.channel_codes.schemas import ChannelCodeIn
from liveloop.models import Base
from tests import factories
from tests.pages.test_console_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HAVE_CHROMIUM,
    SCREENSHOTS,
    free_port,
    start_uvicorn,
)
from tests.servers import stop_server, wait_ready

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}"),
]


async def seed(url: str) -> dict[str, str]:
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.sessionmaker() as session:
        shop = await factories.make_shop(session, name="茶语小铺")
        owner = await factories.make_staff(session, shop_id=shop.id, email="owner@example.com")
        agent = await factories.make_staff(
            session, shop_id=shop.id, role="service_agent", email="agent@example.com"
        )
        customer = await factories.make_customer(session, shop_id=shop.id, name="Wang Fang")
        code = await codes_service.create_code(
            session=session,
            shop_id=shop.id,
            data=ChannelCodeIn.model_validate(
                {
                    "name": "Front desk",
                    "routing": "round_robin",
                    "staff": [
                        {"staff_id": s.id, "contact_url": f"https://work.weixin.qq.com/ca/s{s.id}"}
                        for s in (owner, agent)
                    ],
                }
            ),
        )
        await session.commit()
        accounts = {"email": owner.email, "customer_id": str(customer.id), "code": code.code}
    await database.dispose()
    return accounts


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'communities.db'}"
    accounts = await seed(url)
    port = free_port()
    log_path = tmp_path / "uvicorn.log"
    process: subprocess.Popen[bytes] = start_uvicorn(url, port, tmp_path / "var", log_path)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(process, base, log_path)
        yield {"base": base, **accounts}
    finally:
        stop_server(process)


async def test_create_a_community_add_a_member_and_scan_a_code(server: dict[str, str]) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    base = server["base"]
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                locale="en-US", viewport={"width": 1360, "height": 900}, reduced_motion="reduce"
            )
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            expect = playwright_api.expect

            await page.goto(f"{base}/console/communities")
            await page.fill("input[name=email]", server["email"])
            await page.fill("input[name=password]", factories.PASSWORD)
            await page.click("button[type=submit].primary")
            await expect(page).to_have_url(f"{base}/console/communities")
            await expect(page.locator("a[data-nav=communities]")).to_have_class("nav-item active")

            form = page.locator("#community-form")
            await form.locator("input[name=name]").fill("Tea lovers")
            await form.locator("select[name=kind]").select_option("interest")
            await form.locator("input[name=capacity]").fill("300")
            await form.locator("input[name=join_url]").fill("https://work.weixin.qq.com/gm/tea")
            await form.locator("button[type=submit]").click()
            await expect(page.locator("#community-name")).to_have_text("Tea lovers")
            await expect(page.locator("#join-qr img")).to_have_count(1)
            assert await page.locator("#join-qr img").evaluate("img => img.naturalWidth") > 0

            await page.fill("#add-member input[name=customer_id]", server["customer_id"])
            await page.click("#add-member button[type=submit]")
            rows = page.locator("#member-table tr[data-customer]")
            await expect(rows).to_have_count(1)
            await expect(rows.first).to_contain_text("Wang Fang")
            await expect(rows.first).to_contain_text("Added by staff")
            await expect(page.locator("#community-health .figure-value").first).to_have_text(
                "1 / 300"
            )
            await page.screenshot(path=str(SCREENSHOTS / "liveloop-community.png"), full_page=True)

            phone = await browser.new_context(
                locale="en-US", viewport={"width": 390, "height": 844}, is_mobile=True
            )
            visitor = await phone.new_page()
            await visitor.goto(f"{base}/c/{server['code']}")
            await expect(visitor.locator("#landing")).to_have_attribute("data-outcome", "routed")
            await expect(visitor.locator("#landing-qr")).to_be_visible()
            assert await visitor.locator("#landing-qr").evaluate("img => img.naturalWidth") > 0
            first = await visitor.locator("#landing-open").get_attribute("href")
            await visitor.reload()
            second = await visitor.locator("#landing-open").get_attribute("href")
            assert first != second  # round robin: the next scan goes to the other staff
            await visitor.screenshot(path=str(SCREENSHOTS / "liveloop-channel-code.png"))

            await page.goto(f"{base}/console/channel-codes")
            await expect(page.locator("#channel-codes [data-figure=scans]")).to_have_text("2")
            assert problems == []
        finally:
            await browser.close()
