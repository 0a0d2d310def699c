"""In a real Chromium against a real Uvicorn: an agent answering a customer in the service
inbox searches the script library for 发货, one click puts the script filled for that customer
into the reply box (and counts the use); on the customer page the same script is filled to copy."""

from __future__ import annotations

from typing import Any

import pytest

from liveloop.core.database import Database
from liveloop.live.servicechat import service as servicechat_service
from liveloop.outreach.scripts import service as scripts_service
from liveloop.outreach.scripts.schemas import EntryIn
from liveloop.shops.service import system_actor
from tests import factories
from tests.pages.test_checkout_browser import shop_server  # noqa: F401  (fixture)
from tests.pages.test_console_browser import CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM

SCRIPT = "{客户昵称}您好，直播间下单48小时内发货～"


async def prepare(url: str, shop_id: int) -> dict[str, Any]:
    """An agent, a customer who asked in service chat, and two scripts of the shop."""
    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            agent = await factories.make_staff(session, shop_id=shop_id, role="service_agent")
            fan = await factories.make_customer(session, shop_id=shop_id, name="林青")
            conversation, _ = await servicechat_service.open_conversation(
                session=session, shop_id=shop_id, customer_id=fan.id, live_session_id=None
            )
            await servicechat_service.send_customer_message(
                session=session, shop_id=shop_id, conversation_id=conversation.id,
                customer_id=fan.id, text="什么时候发货呀？",
            )  # fmt: skip
            actor = system_actor(shop_id)
            entry = await scripts_service.create_entry(
                session=session, actor=actor, data=EntryIn(title="发货时间", text=SCRIPT)
            )
            await scripts_service.create_entry(
                session=session, actor=actor, data=EntryIn(title="退换货政策", text="7天无理由")
            )
            await session.commit()
            return {
                "email": agent.email, "customer_id": fan.id,
                "conversation_id": conversation.id, "entry_id": entry.id,
            }  # fmt: skip
    finally:
        await database.dispose()


async def usage_count(url: str, shop_id: int, entry_id: int) -> int:
    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            entry = await scripts_service.access_entry(
                session=session, actor=system_actor(shop_id), entry_id=entry_id
            )
            return entry.usage_count
    finally:
        await database.dispose()


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_agent_fills_the_reply_from_the_script_picker(
    shop_server: dict[str, Any],  # noqa: F811  (the fixture)
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    shop_id = shop_server["shop_id"]
    seeded = await prepare(shop_server["url"], shop_id)
    base = shop_server["base"]
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            desk = await browser.new_context(
                locale="zh-CN", viewport={"width": 1360, "height": 900}, reduced_motion="reduce"
            )
            problems: list[str] = []
            agent = await desk.new_page()
            agent.on("pageerror", lambda error: problems.append(str(error)))
            inbox = f"/console/service?conversation={seeded['conversation_id']}"
            await agent.goto(f"{base}/console/login?next={inbox}")
            await agent.fill("input[name=email]", seeded["email"])
            await agent.fill("input[name=password]", factories.PASSWORD)
            await agent.click("button[type=submit].primary")
            await expect(agent.locator("#svc-customer-name")).to_have_text("林青", timeout=10000)

            picker = agent.locator("#svc-reply .script-picker")
            await picker.locator(".script-picker-q").fill("发货")
            result = picker.locator(".script-picker-results button", has_text="发货时间")
            await expect(result).to_have_count(1)
            await expect(picker.locator(".script-picker-results button")).to_have_count(1)
            await result.click()
            await expect(agent.locator("#svc-reply-text")).to_have_value(
                "林青您好，直播间下单48小时内发货～"
            )
            # Enter in the picker's search never sends the half-written reply.
            await picker.locator(".script-picker-q").fill("发货")
            await picker.locator(".script-picker-q").press("Enter")
            await expect(agent.locator("#svc-messages li.agent")).to_have_count(0)
            assert await usage_count(shop_server["url"], shop_id, seeded["entry_id"]) == 1

            await agent.goto(f"{base}/console/customers/{seeded['customer_id']}")
            copy = agent.locator("#customer-scripts .script-picker")
            await copy.locator(".script-picker-q").fill("什么时候发货")
            await copy.locator(".script-picker-results button", has_text="发货时间").click()
            await expect(copy.locator(".script-picker-text")).to_have_value(
                "林青您好，直播间下单48小时内发货～"
            )
            assert await usage_count(shop_server["url"], shop_id, seeded["entry_id"]) == 2
            assert problems == []
        finally:
            await browser.close()


async def make_operator(url: str, shop_id: int) -> str:
    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            operator = await factories.make_staff(session, shop_id=shop_id, role="operator")
            await session.commit()
            return str(operator.email)
    finally:
        await database.dispose()


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_operator_keeps_the_library_on_the_console_page(
    shop_server: dict[str, Any],  # noqa: F811  (the fixture)
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    email = await make_operator(shop_server["url"], shop_server["shop_id"])
    base = shop_server["base"]
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            desk = await browser.new_context(
                locale="zh-CN", viewport={"width": 1360, "height": 900}, reduced_motion="reduce"
            )
            problems: list[str] = []
            page = await desk.new_page()
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("dialog", lambda dialog: dialog.accept())
            await page.goto(f"{base}/console/login?next=/console/scripts")
            await page.fill("input[name=email]", email)
            await page.fill("input[name=password]", factories.PASSWORD)
            await page.click("button[type=submit].primary")
            await expect(page).to_have_url(f"{base}/console/scripts")
            await expect(page.locator("#scripts-empty")).to_be_visible()

            await page.fill("#scripts-category-name", "发货物流")
            await page.click("#scripts-category-form button[type=submit]")
            await expect(page.locator("#scripts-categories")).to_contain_text("发货物流 (0)")

            await page.click("#scripts-new")
            form = page.locator("#scripts-form")
            await form.locator("[name=title]").fill("发货时间")
            await form.locator("[name=category_id]").select_option(label="发货物流")
            await form.locator("[name=text]").fill("{客户姓名}您好，48小时内发货")
            await page.click("#scripts-save")
            error = page.locator("#scripts-form-error")
            await expect(error).to_contain_text("{客户姓名}")
            await expect(error).to_contain_text("text")
            await form.locator("[name=text]").fill("{客户昵称}您好，48小时内发货")
            await form.locator("[name=keywords]").fill("快递，物流")
            await page.click("#scripts-save")
            await expect(page.locator("#scripts-editor")).to_be_hidden()
            row = page.locator("#scripts-rows tr", has_text="发货时间")
            await expect(row).to_have_count(1)
            await expect(row).to_contain_text("发货物流")
            await expect(page.locator("#scripts-categories")).to_contain_text("发货物流 (1)")

            await page.fill("#scripts-q", "快递几天到")
            await expect(page.locator("#scripts-rows tr")).to_have_count(1)
            await page.fill("#scripts-q", "退货")
            await expect(page.locator("#scripts-empty")).to_be_visible()

            await page.fill("#scripts-q", "")
            await expect(row).to_have_count(1)
            await row.locator("button").click()
            await page.click("#scripts-delete")
            await expect(page.locator("#scripts-rows tr")).to_have_count(0)
            assert problems == []
        finally:
            await browser.close()
