"""In a real Chromium against a real Uvicorn: the post-live report page of the hand-worked
session draws its charts (ECharts SVG) from the same numbers the API returns, and the
comparison page draws two sessions' retention curves in one chart, on a desk and on a phone."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from liveloop.core.database import Database
from liveloop.models import Base
from liveloop.shops.service import actor_for_staff
from tests import factories
from tests.analytics.conftest import build_report_session
from tests.analytics.test_compare import build_second_session
from tests.pages.test_console_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    HAVE_CHROMIUM,
    SCREENSHOTS,
    free_port,
    start_uvicorn,
)
from tests.pages.test_live_viewer import PHONE
from tests.servers import wait_ready


async def seed_reports(url: str) -> dict[str, Any]:
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.sessionmaker() as session:
        shop = await factories.make_shop(session, name="茶语小铺")
        owner = await factories.make_staff(session, shop_id=shop.id, role="owner")
        worked = await build_report_session(session, shop_id=shop.id)
        second = await build_second_session(session, shop_id=shop.id, tea=worked["tea"])
        api_key = await factories.make_api_key(session, actor=actor_for_staff(owner))
        await session.commit()
        seeded = {
            "email": owner.email,
            "api_key": api_key,
            "live_id": worked["live"].id,
            "second_id": second.id,
        }
    await database.dispose()
    return seeded


@pytest.fixture
async def report_server(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'reports.db'}"
    seeded = await seed_reports(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "uvicorn.log"
    process = start_uvicorn(url, port, tmp_path / "var", log_path)
    try:
        await wait_ready(process, base, log_path)
        yield {"base": base, **seeded}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


CHART_DATA = """(selector) => {
  const chart = window.echarts.getInstanceByDom(document.querySelector(selector));
  return chart.getOption().series.map((s) => s.data);
}"""


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_report_charts_and_figures_match_the_api(report_server: dict[str, Any]) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    base, live_id = report_server["base"], report_server["live_id"]
    second_id = report_server["second_id"]
    headers = {"Authorization": f"Bearer {report_server['api_key']}"}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as client:
        response = await client.get(f"/api/v1/live/{live_id}/report")
        assert response.status_code == 200, response.text
        api = response.json()
    # The hand-worked figures (test_report), as the API gives them.
    assert api["viewing"]["retention"] == [2, 2, 3, 3, 2, 1, 1, 2, 2, 3]
    assert api["interaction"]["comments_per_minute"] == [2, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            desk = await browser.new_context(
                locale="zh-CN", viewport={"width": 1280, "height": 900}
            )
            page = await desk.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            path = f"/console/live/{live_id}/report"
            await page.goto(f"{base}/console/login?next={path}")
            await page.fill("input[name=email]", report_server["email"])
            await page.fill("input[name=password]", factories.PASSWORD)
            await page.click("button[type=submit].primary")
            await expect(page).to_have_url(f"{base}{path}")

            for chart in ("#retention-chart", "#comments-chart"):
                await expect(page.locator(chart)).to_have_attribute("data-drawn", "1")
                await expect(page.locator(f"{chart} svg path").first).to_be_attached()
            assert await page.evaluate(CHART_DATA, "#retention-chart") == [
                api["viewing"]["retention"]
            ]
            assert await page.evaluate(CHART_DATA, "#comments-chart") == [
                api["interaction"]["comments_per_minute"]
            ]
            for key in (
                "viewing.uv", "viewing.pv", "viewing.peak_online", "viewing.watch_seconds_avg",
                "interaction.comments", "interaction.likes", "consumption.gmv_fen",
                "consumption.aov_fen", "consumption.paying_customers",
            ):  # fmt: skip
                section, name = key.split(".")
                shown = await page.locator(f'[data-figure="{key}"]').get_attribute("data-value")
                assert shown == str(api[section][name]), key
            await expect(
                page.locator('[data-figure="consumption.gmv_fen"] .figure-value')
            ).to_have_text("¥477.00")
            await expect(page.locator("#report-products tbody tr")).to_have_count(2)
            await expect(page.locator("#report-keywords li").first).to_contain_text("链接")
            await page.screenshot(
                path=str(SCREENSHOTS / "liveloop-live-report.png"), full_page=True
            )
            # Printed: the console chrome and buttons are gone, the charts stay.
            await page.emulate_media(media="print")
            await expect(page.locator("#report-regenerate")).to_be_hidden()
            await expect(page.locator("#retention-chart svg")).to_be_visible()
            await page.emulate_media(media="screen")

            # The comparison, on a phone: the figures table and one chart of both curves.
            phone = await browser.new_context(
                locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True
            )
            await phone.add_cookies(await desk.cookies())
            small = await phone.new_page()
            small.on("pageerror", lambda error: problems.append(str(error)))
            await small.goto(f"{base}/console/analytics/live-compare")
            await small.check(f"#compare-pick-{live_id}")
            await small.check(f"#compare-pick-{second_id}")
            await small.click("#compare-submit")
            await expect(small.locator("#compare-chart")).to_have_attribute("data-drawn", "1")
            # Latest first, as the picker lists them: the second session started a day later.
            assert await small.evaluate(CHART_DATA, "#compare-chart") == [
                [1, 2, 1],
                api["viewing"]["retention"],
            ]
            cell = small.locator(
                f'#compare-figures tr[data-figure="gmv_fen"] td[data-session="{live_id}"]'
            )
            await expect(cell).to_have_text("¥477.00")
            box = await small.locator("#compare-chart").bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
            await small.screenshot(path=str(SCREENSHOTS / "liveloop-live-compare-phone.png"))
            assert problems == []
        finally:
            await browser.close()
