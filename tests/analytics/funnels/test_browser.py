"""In a real Chromium against a real Uvicorn: the funnel page of the hand-worked session
draws its ECharts funnel from the same counts the API returns, and its table agrees."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from liveloop.shops.service import actor_for_staff
from tests import factories
from tests.analytics.funnels.conftest import build_funnel_session
from tests.pages.test_console_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HAVE_CHROMIUM,
)
from tests.servers import seeded_server

FUNNEL_DATA = """() => {
  const chart = window.echarts.getInstanceByDom(document.querySelector('#funnel-chart'));
  return chart.getOption().series[0].data.map((d) => d.value);
}"""


async def seed(session: AsyncSession) -> dict[str, Any]:
    shop = await factories.make_shop(session, name="茶语小铺")
    owner = await factories.make_staff(session, shop_id=shop.id, role="owner")
    worked = await build_funnel_session(session, shop_id=shop.id)
    api_key = await factories.make_api_key(session, actor=actor_for_staff(owner))
    return {"email": owner.email, "api_key": api_key, "live_id": worked["live"].id}


@pytest.fixture
async def funnel_server(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with seeded_server(tmp_path, seed, "funnel") as server:
        yield server


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_funnel_chart_matches_the_api(funnel_server: dict[str, Any]) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    base, live_id = funnel_server["base"], funnel_server["live_id"]
    headers = {"Authorization": f"Bearer {funnel_server['api_key']}"}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as client:
        response = await client.get(f"/api/v1/analytics/funnels/live/{live_id}")
        assert response.status_code == 200, response.text
        api = [f["count"] for f in response.json()["figures"]]
    assert api == [5, 4, 2, 2, 1]  # the hand-worked counts (test_funnel)
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await (await browser.new_context(locale="zh-CN")).new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            path = f"/console/analytics/funnels?live_session_id={live_id}"
            await page.goto(f"{base}/console/login?next=/console/analytics/funnels")
            await page.fill("input[name=email]", funnel_server["email"])
            await page.fill("input[name=password]", factories.PASSWORD)
            await page.click("button[type=submit].primary")
            await expect(page).to_have_url(f"{base}/console/analytics/funnels")
            await page.goto(f"{base}{path}")
            await expect(page.locator("#funnel-chart")).to_have_attribute("data-drawn", "1")
            await expect(page.locator("#funnel-chart svg path").first).to_be_attached()
            assert await page.evaluate(FUNNEL_DATA) == api
            shown = [
                int(await row.get_attribute("data-count") or -1)
                for row in await page.locator("#funnel-steps tbody tr").all()
            ]
            assert shown == api
            await expect(page.locator("[data-drop-step=added_to_cart] tbody tr")).to_have_count(2)
            assert not problems, problems
        finally:
            await browser.close()
