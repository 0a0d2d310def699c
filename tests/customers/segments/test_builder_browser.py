"""The segment builder in a real headless Chromium against a real Uvicorn server.

Adds conditions, watches the live count follow, saves, and sees the members.
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
        owner = await factories.make_staff(session, shop_id=shop.id, email="seg@example.com")
        vip = await factories.make_tag(session, shop_id=shop.id, name="VIP会员")
        for name, city, tags in (
            ("王芳", "上海", [vip]),
            ("李娜", "上海", []),
            ("张伟", "杭州", [vip]),
            ("刘洋", None, []),
        ):
            await factories.make_customer(session, shop_id=shop.id, name=name, city=city, tags=tags)
        await session.commit()
        email = owner.email
    await database.dispose()
    return {"email": email}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'segments.db'}"
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


async def test_build_count_save_and_see_members(server: dict[str, str]) -> None:
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
            expect.set_options(timeout=20_000)

            await page.goto(f"{base}/console/segments/new")
            await page.fill("input[name=email]", server["email"])
            await page.fill("input[name=password]", factories.PASSWORD)
            await page.click("button[type=submit].primary")
            await expect(page).to_have_url(f"{base}/console/segments/new")

            count = page.locator("#preview-count")
            await expect(count).to_have_text("4")  # no condition yet: everyone

            await page.click("#add-condition")  # a profile condition: city is ...
            condition = page.locator("[data-condition]").nth(0)
            await condition.locator("input[data-field=value]").fill("上海")
            await expect(count).to_have_text("2")
            await expect(page.locator("#preview-sample li")).to_have_count(2)
            await expect(page.locator("#preview-sample")).to_contain_text("王*")  # masked

            await page.click("#add-condition")
            second = page.locator("[data-condition]").nth(1)
            await second.locator("select[data-field=kind]").select_option("tags")
            await second.locator("label", has_text="VIP会员").locator("input").check()
            await expect(count).to_have_text("1")

            # "not": 上海 customers without the tag.
            await second.locator("input[data-field=negate]").check()
            await expect(count).to_have_text("1")
            await expect(page.locator("#preview-sample")).to_contain_text("李*")
            await second.locator("input[data-field=negate]").uncheck()
            await expect(count).to_have_text("1")

            await page.fill("#segment-name-input", "上海VIP")
            await page.screenshot(
                path=str(SCREENSHOTS / "liveloop-segment-builder.png"), full_page=True
            )
            await page.click("#save-segment")
            await expect(page).to_have_url(re.compile(r"/console/segments/\d+$"))
            await expect(page.locator("#segment-name")).to_have_text("上海VIP")
            members = page.locator("#segment-members tr[data-customer]")
            await expect(members).to_have_count(1)
            await expect(members.first).to_contain_text("王芳")
            await page.screenshot(path=str(SCREENSHOTS / "liveloop-segment.png"), full_page=True)

            # Edit: the builder opens with the saved conditions.
            await page.click("#edit-segment")
            await expect(page.locator("[data-condition]")).to_have_count(2)
            await expect(count).to_have_text("1")

            await page.goto(f"{base}/console/segments")
            await expect(page.locator("tr[data-segment]")).to_contain_text("上海VIP")
            assert problems == []
        finally:
            await browser.close()
