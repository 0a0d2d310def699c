"""In a real Chromium against a real Uvicorn: an operator composes a broadcast from the list —
per-audience variants by tag (one row added with the button, one removed), an estimate that
counts a customer without consent, then sends and lands on the broadcast's page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.outreach.channels.models import ShopChannel
from tests import factories
from tests.outreach.conftest import without_quiet_hours
from tests.pages.test_console_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HAVE_CHROMIUM,
)
from tests.servers import seeded_server


async def seed(session: AsyncSession) -> dict[str, Any]:
    shop = await factories.make_shop(session)
    owner = await factories.make_staff(session, shop_id=shop.id, role="owner")
    vip = await factories.make_tag(session, shop_id=shop.id, name="高价值")
    new = await factories.make_tag(session, shop_id=shop.id, name="新客")
    made: dict[str, list[int]] = {"vip": [], "new": []}
    for index, (group, tag, consent) in enumerate(
        [("vip", vip, True), ("vip", vip, True), ("new", new, True), ("new", new, False)]
    ):
        customer = await factories.make_customer(
            session, shop_id=shop.id, name=f"顾客{index}", tags=[tag]
        )
        customer.consent = {"webhook": consent}
        if consent:
            made[group].append(customer.id)
    await without_quiet_hours(session, shop.id)
    session.add(
        ShopChannel(
            shop_id=shop.id, kind="webhook", name="测试回调",
            config={"url": "http://127.0.0.1:9/hook"}, rate_per_second=0, enabled=True,
        )
    )  # fmt: skip
    return {"email": owner.email, "vip_tag": vip.id, "new_tag": new.id, **made}


@pytest.fixture
async def compose_server(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with seeded_server(tmp_path, seed, "compose") as server:
        yield server


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_operator_composes_per_audience_variants(compose_server: dict[str, Any]) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    base = compose_server["base"]
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await (await browser.new_context(locale="zh-CN")).new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            await page.goto(f"{base}/console/login?next=/console/outreach")
            await page.fill("input[name=email]", compose_server["email"])
            await page.fill("input[name=password]", factories.PASSWORD)
            await page.click("button[type=submit].primary")
            await expect(page).to_have_url(f"{base}/console/outreach")
            await page.click("#new-broadcast")
            await expect(page).to_have_url(f"{base}/console/outreach/broadcasts/new")
            await expect(page.locator("#shop-zone")).to_contain_text("Asia/Shanghai")

            await page.fill("input[name=name]", "分层邀请")
            await page.check("input[name=mode][value=audience]")
            tags_of_row0 = page.locator("select[name='variants.0.audience.tags_any']")
            await expect(tags_of_row0).to_be_visible()  # per-audience fields show in this mode
            await expect(page.locator("input[name='variants.0.weight']")).to_be_hidden()
            await page.fill("input[name='variants.0.key']", "member")
            await page.fill("textarea[name='variants.0.text']", "{{ customer.name }} 会员专享")
            await tags_of_row0.select_option(str(compose_server["vip_tag"]))
            # Two rows added, the first of them removed: the form sends rows 0 and 2.
            await page.click("#add-variant")
            await page.click("#add-variant")
            await expect(page.locator(".variant-row")).to_have_count(3)
            await page.locator(".variant-row[data-row='1'] button.danger").click()
            await expect(page.locator(".variant-row")).to_have_count(2)
            await page.fill("input[name='variants.2.key']", "newcomer")
            await page.fill("textarea[name='variants.2.text']", "新人首单立减")
            await page.select_option(
                "select[name='variants.2.audience.tags_any']", str(compose_server["new_tag"])
            )

            await page.click("#estimate-button")
            figures = page.locator("#estimate-figures")
            await expect(figures.locator("[data-figure=audience] .figure-value")).to_have_text("4")
            await expect(figures.locator("[data-figure=now] .figure-value")).to_have_text("3")
            await expect(page.locator("#estimate-reasons tr[data-reason=no_consent]")).to_have_attribute(
                "data-count", "1"
            )  # fmt: skip
            await expect(page.locator("#estimate-variants [data-variant=member]")).to_have_attribute(
                "data-count", "2"
            )  # fmt: skip

            await page.click("#send-button")
            await expect(page).to_have_url(re.compile(r".*/console/outreach/broadcasts/\d+$"))
            rows = page.locator("#recipients tr[data-customer]")
            await expect(rows).to_have_count(4)
            assert problems == []
        finally:
            await browser.close()
