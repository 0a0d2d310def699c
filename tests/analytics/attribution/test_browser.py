"""In a real Chromium against a real Uvicorn: the attribution page of the hand-worked session
draws its ECharts bars from the same credits the API returns, and its table agrees."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.shops.service import actor_for_staff
from tests import factories
from tests.analytics.attribution.conftest import build_attribution_session
from tests.pages.test_console_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HAVE_CHROMIUM,
)
from tests.servers import seeded_server

CHART_DATA = """() => {
  const chart = window.echarts.getInstanceByDom(document.querySelector('#attribution-chart'));
  return chart.getOption().series.map((s) => s.data.reduce((a, b) => a + Math.round(b * 100), 0));
}"""


async def seed(session: AsyncSession) -> dict[str, Any]:
    shop = await factories.make_shop(session, name="茶语小铺")
    owner = await factories.make_staff(session, shop_id=shop.id, role="owner")
    worked = await build_attribution_session(session, shop_id=shop.id)
    api_key = await factories.make_api_key(session, actor=actor_for_staff(owner))
    return {"email": owner.email, "api_key": api_key, "live_id": worked["live"].id}


@pytest.fixture
async def attribution_server(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with seeded_server(tmp_path, seed, "attribution") as server:
        yield server


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_attribution_chart_matches_the_api(attribution_server: dict[str, Any]) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    base, live_id = attribution_server["base"], attribution_server["live_id"]
    headers = {"Authorization": f"Bearer {attribution_server['api_key']}"}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as client:
        response = await client.get(
            "/api/v1/analytics/attribution/compare", params={"live_session_id": live_id}
        )
        assert response.status_code == 200, response.text
        body = response.json()
    linear = {r["key"]: r["revenue_fen"]["linear"] for r in body["rows"] if r["orders_touched"]}
    assert linear == {
        "channel_code": 3334,
        "broadcast": 3333,
        "kol": 2500,
        "share": 1501,
        "live_session": 7333,
    }  # the hand-worked credits (test_service)
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await (await browser.new_context(locale="zh-CN")).new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            target = "/console/analytics/attribution"
            await page.goto(f"{base}/console/login?next={target}")
            await page.fill("input[name=email]", attribution_server["email"])
            await page.fill("input[name=password]", factories.PASSWORD)
            await page.click("button[type=submit].primary")
            await expect(page).to_have_url(f"{base}{target}")
            await page.goto(f"{base}{target}?live_session_id={live_id}")
            chart = page.locator("#attribution-chart")
            await expect(chart).to_have_attribute("data-drawn", "1")
            await expect(page.locator("#attribution-chart svg path").first).to_be_attached()
            # every model's bars add up to the paid revenue, 18,001 fen
            assert await page.evaluate(CHART_DATA) == [18001] * len(body["models"])
            cell = page.locator('tr[data-key="kol"] td[data-model="linear"]')
            assert await cell.get_attribute("data-fen") == "2500"
            assert not problems, problems
        finally:
            await browser.close()
