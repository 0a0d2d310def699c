"""In a real Chromium against a real Uvicorn: the cohorts page draws its retention and LTV curves
from the same figures the API returns, and a cost entered in the value page's form changes the
session's ROI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.shops.service import actor_for_staff
from tests import factories
from tests.analytics.cohorts.conftest import build_value_shop, utc
from tests.pages.test_console_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HAVE_CHROMIUM,
)
from tests.servers import seeded_server

RANGE = "start=2026-01-01&end=2026-04-30"
SERIES = """(selector) => {
  const chart = window.echarts.getInstanceByDom(document.querySelector(selector));
  return chart.getOption().series.map((s) => ({ name: s.name, data: s.data }));
}"""


async def seed(session: AsyncSession) -> dict[str, Any]:
    shop = await factories.make_shop(session, name="茶语小铺")
    owner = await factories.make_staff(session, shop_id=shop.id, role="owner")
    worked = await build_value_shop(session, shop_id=shop.id)
    worked["l1"].started_at = utc("2026-01-10T01:00")
    api_key = await factories.make_api_key(session, actor=actor_for_staff(owner))
    return {"email": owner.email, "api_key": api_key, "l1": worked["l1"].id}


@pytest.fixture
async def cohorts_server(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with seeded_server(tmp_path, seed, "cohorts") as server:
        yield server


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_cohort_charts_and_cost_form(cohorts_server: dict[str, Any]) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    base = cohorts_server["base"]
    headers = {"Authorization": f"Bearer {cohorts_server['api_key']}"}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as client:
        retention = (await client.get(f"/api/v1/analytics/cohorts/retention?{RANGE}")).json()
        ltv = (await client.get(f"/api/v1/analytics/cohorts/ltv?{RANGE}")).json()
    assert [c["counts"] for c in retention["cohorts"]] == [[1, 1, 0, 1], [2, 1, 0]]
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await (await browser.new_context(locale="zh-CN")).new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            target = "/console/analytics"
            await page.goto(f"{base}/console/login?next={target}")
            await page.fill("input[name=email]", cohorts_server["email"])
            await page.fill("input[name=password]", factories.PASSWORD)
            await page.click("button[type=submit].primary")
            await expect(page).to_have_url(f"{base}{target}")
            await page.click('a[data-card="cohorts"]')
            await page.fill("#cohorts-start", "2026-01-01")
            await page.fill("#cohorts-end", "2026-04-30")
            await page.click("#cohorts-submit")
            for selector in ("#retention-chart", "#ltv-chart"):
                await expect(page.locator(selector)).to_have_attribute("data-drawn", "1")
                await expect(page.locator(f"{selector} svg path").first).to_be_attached()
            drawn = await page.evaluate(SERIES, "#retention-chart")
            assert [s["data"] for s in drawn] == [
                [round(r * 100, 2) for r in c["rates"]] for c in retention["cohorts"]
            ]
            assert [s["name"] for s in drawn] == ["2026-01", "2026-02"]
            drawn = await page.evaluate(SERIES, "#ltv-chart")
            assert [[round(y * 100) for y in s["data"]] for s in drawn] == [
                c["ltv_fen"] for c in ltv["cohorts"]
            ]
            cell = page.locator('#retention-table tr[data-cohort="2026-02-01"] td[data-k="1"]')
            await expect(cell).to_have_attribute("data-count", "1")

            await page.goto(f"{base}/console/analytics/value?{RANGE}")
            live = page.locator(f'#live-value-table tr[data-live="{cohorts_server["l1"]}"]')
            await expect(live).to_have_attribute("data-cost", "1300")  # coupon + commission
            await page.select_option("#cost-kind", "anchor_fee")
            await page.fill("#cost-amount", "50")
            await page.fill("#cost-spent-on", "2026-01-10")
            await page.select_option("#cost-live", str(cohorts_server["l1"]))
            await page.click("#cost-submit")
            await expect(page.locator(".flash")).to_contain_text("成本已录入")
            # 18000 revenue against 1300 + 5000: ROAS 2.8571, ROI 1.8571
            await expect(live).to_have_attribute("data-cost", "6300")
            await expect(live.locator("td.roi")).to_have_text("185.7%")
            assert not problems, problems
        finally:
            await browser.close()
