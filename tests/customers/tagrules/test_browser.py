"""Tag rules and RFM pages in a real headless Chromium against a real Uvicorn server.

An operator picks an example condition, sees the live count (HTMX), is asked to confirm a rule
that tags everyone, creates a rule, applies it, recomputes RFM and sees the charts.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from liveloop.core.database import Database
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
from tests.servers import wait_ready

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
        await factories.make_tag(session, shop_id=shop.id, name="爱评论")
        chatty = await factories.make_customer(session, shop_id=shop.id, name="王芳")
        await factories.make_customer(session, shop_id=shop.id, name="李娜")
        await factories.make_events(
            session, shop_id=shop.id, customer_id=chatty.id, types=("comment",), n=3
        )
        await session.commit()
        result = {"email": owner.email, "chatty": str(chatty.id)}
    await database.dispose()
    return result


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'rules.db'}"
    accounts = await seed(url)
    port = free_port()
    log_path = tmp_path / "uvicorn.log"
    process = start_uvicorn(url, port, tmp_path / "var", log_path)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(process, base, log_path)
        yield {"base": base, **accounts}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def test_build_a_rule_with_a_live_count_then_see_rfm(server: dict[str, str]) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    base = server["base"]
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                locale="zh-CN", viewport={"width": 1360, "height": 900}, reduced_motion="reduce"
            )
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            expect = playwright_api.expect

            await page.goto(f"{base}/console/login?next=/console/tag-rules")
            await page.fill("input[name=email]", server["email"])
            await page.fill("input[name=password]", factories.PASSWORD)
            await page.click("button[type=submit].primary")
            await expect(page).to_have_url(f"{base}/console/tag-rules")
            await expect(page.locator("h1")).to_have_text("标签规则")

            box = page.locator("#rule-condition")
            await box.fill('{"all": []}')
            await box.press("End")
            await expect(page.locator("#preview-count")).to_have_attribute("data-matching", "2")
            await page.fill("input[name=name]", "全员")
            await page.click("#tag-rule-form button[type=submit]")
            await expect(page.locator("#confirm-all")).to_be_visible()  # tags everyone: asks

            await page.get_by_role("button", name="沉睡").click()  # an example condition
            await expect(box).to_have_value(re.compile("before_days_ago"))
            await expect(page.locator("#preview-count")).to_have_attribute("data-matching", "0")
            await box.fill(
                '{"kind": "event", "type": "comment", "count": {"op": "at_least", "value": 2}}'
            )
            await box.press("End")
            await expect(page.locator("#preview-count")).to_have_attribute("data-matching", "1")
            await page.fill("input[name=name]", "爱评论")
            await page.click("#tag-rule-form button[type=submit]")
            await expect(page.locator("h1")).to_have_text("爱评论")
            await page.click("#run-rule")
            await expect(page.locator("#rule-members")).to_have_text("1")
            await expect(page.locator("#rule-changes tbody tr")).to_have_count(1)

            await page.goto(f"{base}/console/customers/{server['chatty']}")
            await expect(page.locator("#customer-tags [data-source=rule]")).to_contain_text(
                "爱评论"
            )
            await expect(page.locator("#tag-changes")).to_contain_text("rule 爱评论")

            await page.goto(f"{base}/console/rfm")
            await page.click("#recompute")
            await expect(page.locator("tr[data-segment=no_purchase] td.num")).to_have_text("2")
            await expect(page.locator("tr[data-stage=new] td.num")).to_have_text("2")
            await expect(page.locator("[data-source=segment-data] svg")).to_have_count(1)
            await page.screenshot(path=str(SCREENSHOTS / "liveloop-rfm.png"), full_page=True)
            assert problems == []
        finally:
            await browser.close()
