"""In a real Chromium against a real Uvicorn: a guest viewer opens the shop's customer service
from the live room, verifies a phone and asks; an agent answers from /console/service (with
the customer's masked phone beside the thread); the viewer sees the answer in the room."""

from __future__ import annotations

from typing import Any

import pytest

from liveloop.core.database import Database
from tests import factories
from tests.pages.phone_codes import texted_code
from tests.pages.test_checkout_browser import shop_server  # noqa: F401  (fixture)
from tests.pages.test_console_browser import CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM
from tests.pages.test_live_viewer import PHONE


async def make_agent(url: str, shop_id: int) -> str:
    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            agent = await factories.make_staff(session, shop_id=shop_id, role="service_agent")
            await session.commit()
            return str(agent.email)
    finally:
        await database.dispose()


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_viewer_asks_and_sees_the_agents_answer(
    shop_server: dict[str, Any],  # noqa: F811  (the fixture)
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    agent_email = await make_agent(shop_server["url"], shop_server["shop_id"])
    base = shop_server["base"]
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            phone = await browser.new_context(
                locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True,
                reduced_motion="reduce",
            )  # fmt: skip
            desk = await browser.new_context(
                locale="zh-CN", viewport={"width": 1360, "height": 900}, reduced_motion="reduce"
            )
            problems: list[str] = []
            viewer = await phone.new_page()
            agent = await desk.new_page()
            for page in (viewer, agent):
                page.on("pageerror", lambda error: problems.append(str(error)))

            await viewer.goto(f"{base}/live/{shop_server['code']}")
            await expect(viewer.locator("#online-count")).not_to_have_text("0")
            await viewer.click("#lsvc-open")
            await expect(viewer.locator("#lsvc-sheet")).to_be_visible()
            # A guest: the shop needs to know whom to answer.
            await expect(viewer.locator("#lsvc-login")).to_be_visible()
            await viewer.fill("#lsvc-login [name=phone]", "13900004444")
            code = await texted_code(viewer, "#lsvc-phone-code")
            await viewer.fill("#lsvc-phone-code .llpc-code", code)
            await viewer.click("#lsvc-login button[type=submit]")
            await expect(viewer.locator("#lsvc-login")).to_be_hidden()
            await viewer.fill("#lsvc-text", "这款龙井有小罐装吗？")
            await viewer.press("#lsvc-text", "Enter")
            await expect(
                viewer.locator("#lsvc-messages li.customer", has_text="这款龙井有小罐装吗？")
            ).to_have_count(1)

            await agent.goto(f"{base}/console/login?next=/console/service")
            await agent.fill("input[name=email]", agent_email)
            await agent.fill("input[name=password]", factories.PASSWORD)
            await agent.click("button[type=submit].primary")
            await expect(agent).to_have_url(f"{base}/console/service")
            entry = agent.locator("#svc-list li", has_text="这款龙井有小罐装吗？")
            await expect(entry).to_have_count(1, timeout=10000)
            await expect(entry.locator(".svc-unread")).to_have_count(1)
            await entry.locator("button").click()
            await expect(
                agent.locator("#svc-messages li.customer", has_text="这款龙井有小罐装吗？")
            ).to_have_count(1)
            identities = agent.locator("#svc-identities")
            await expect(identities).to_contain_text("139")
            assert "13900004444" not in await identities.inner_text()  # masked
            await agent.fill("#svc-reply-text", "有的，50g 小罐装，链接马上上")
            await agent.click("#svc-send")
            await expect(
                agent.locator("#svc-messages li.agent", has_text="50g 小罐装")
            ).to_have_count(1)

            # The viewer's chat fetches new messages every few seconds.
            await expect(
                viewer.locator("#lsvc-messages li.agent", has_text="50g 小罐装")
            ).to_have_count(1, timeout=15000)
            assert problems == []
        finally:
            await browser.close()
