"""In a real Chromium against a real Uvicorn: the dashboard's tiles show the API's figures,
its charts the API's series, and a like recorded while the page is open reaches the tile
through the Server-Sent Events stream."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from liveloop.core.database import Database
from liveloop.events import service as events_service
from liveloop.web.templating import format_money
from tests import factories
from tests.pages.test_console_browser import CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM

TILES = """() => Object.fromEntries([...document.querySelectorAll('#dashboard-tiles [data-figure]')]
  .map((t) => [t.dataset.figure, [t.dataset.value, t.querySelector('.figure-value').textContent]]))"""
SERIES = """(id) => window.echarts.getInstanceByDom(document.getElementById(id))
  .getOption().series[0].data"""


async def record_like(seeded: dict[str, Any], count: int) -> None:
    database = Database(seeded["url"])
    async with database.sessionmaker() as session:
        await events_service.ingest_events(
            session=session,
            shop_id=seeded["shop_id"],
            items=[{"type": "live_like", "customer_id": seeded["customer_id"],
                    "live_session_id": seeded["live_id"], "properties": {"count": count},
                    "occurred_at": dt.datetime.now(dt.UTC).isoformat()}],
            mark_customers_active=False,
        )  # fmt: skip
        await session.commit()
    await database.dispose()


def shown(key: str, value: Any) -> str:
    if key == "gmv_fen":
        return format_money(value)
    if key == "conversion_rate":
        return f"{value * 100:.1f}%"
    if key == "watch_seconds_avg":
        seconds = round(value)
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{value:,}"


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_dashboard_shows_the_api_figures_and_follows_the_stream(
    dashboard_server: dict[str, Any],
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    base, live_id = dashboard_server["base"], dashboard_server["live_id"]
    headers = {"Authorization": f"Bearer {dashboard_server['api_key']}"}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as client:
        response = await client.get(f"/api/v1/analytics/live/{live_id}/realtime")
        assert response.status_code == 200, response.text
        api = response.json()
    assert api["figures"]["gmv_fen"] == 49700  # the hand-worked figures (test_snapshot)
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await (await browser.new_context(locale="zh-CN")).new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            path = f"/console/live/{live_id}/dashboard"
            await page.goto(f"{base}/console/login?next={path}")
            await page.fill("input[name=email]", dashboard_server["email"])
            await page.fill("input[name=password]", factories.PASSWORD)
            await page.click("button[type=submit].primary")
            await expect(page).to_have_url(f"{base}{path}")
            status = page.locator("#dashboard-status")
            await expect(status).to_have_attribute("data-state", "live")  # a streamed snapshot
            tiles = await page.evaluate(TILES)
            assert set(tiles) <= set(api["figures"]) and len(tiles) >= 15
            for key, (value, text) in tiles.items():
                assert float(value) == api["figures"][key], key
                assert text == shown(key, api["figures"][key]), key
            for chart, key in (("chart-online", "online"), ("chart-gmv", "gmv_fen")):
                await expect(page.locator(f"#{chart}")).to_have_attribute("data-drawn", "1")
                assert await page.evaluate(SERIES, chart) == api["series"][key]
            rows = page.locator("#dashboard-products tbody tr")
            await expect(rows).to_have_count(len(api["products"]))
            first = api["products"][0]
            await expect(rows.first).to_have_attribute("data-product", str(first["product_id"]))
            await expect(rows.first.locator("td").last).to_have_text(str(first["stock"]))
            sources = page.locator("#dashboard-sources tbody tr[data-source]")
            await expect(sources).to_have_count(len(api["sources"]["channels"]))

            await record_like(dashboard_server, 7)
            likes = api["figures"]["likes"] + 7
            tile = page.locator("[data-figure=likes]")
            await expect(tile).to_have_attribute("data-value", str(likes), timeout=20_000)
            await expect(tile.locator(".figure-value")).to_have_text(f"{likes:,}")
            assert not problems, problems
        finally:
            await browser.close()
