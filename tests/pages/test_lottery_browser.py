"""In a real Chromium against a real Uvicorn: the anchor starts a keyword lottery; a guest
viewer taps to send the keyword, verifies a phone number, enters by the keyword comment and
sees the winner announcement; the published draw verifies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from liveloop.live.lottery import verify
from tests.pages.phone_codes import texted_code
from tests.pages.test_checkout_browser import shop_server  # noqa: F401  (fixture)
from tests.pages.test_console_browser import CHROMIUM, HAVE_CHROMIUM
from tests.pages.test_live_viewer import chromium_page
from tests.pages.test_promotions_browser import call


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_viewer_enters_a_keyword_lottery_and_sees_the_winners(
    shop_server: dict[str, Any],  # noqa: F811  (the fixture)
) -> None:
    expect = pytest.importorskip("playwright.async_api").expect
    async with chromium_page() as page:
        await page.goto(f"{shop_server['base']}/live/{shop_server['code']}")
        await expect(page.locator("#online-count")).not_to_have_text("0")

        lottery = await call(
            shop_server,
            f"/api/v1/live/{shop_server['live_session_id']}/lotteries",
            {"title": "整点福袋", "prize_kind": "points", "prize_points": 88, "winner_count": 1,
             "duration_seconds": 15, "condition": {"kind": "keyword", "keyword": "福袋来了"}},
        )  # fmt: skip
        await expect(page.locator("#llt-sheet")).to_be_visible()
        await expect(page.locator("#llt-title")).to_have_text("整点福袋")
        await expect(page.locator("#llt-enter")).to_contain_text("福袋来了")

        # A guest: the keyword comment goes out, the room says a phone is needed first.
        await page.click("#llt-enter")
        await expect(page.locator("#llt-login")).to_be_visible()
        await page.fill("#llt-login [name=phone]", "13900003333")
        await page.fill("#llt-phone-code .llpc-code", await texted_code(page, "#llt-phone-code"))
        await page.click("#llt-login button[type=submit]")
        await expect(page.locator("#llt-login")).to_be_hidden()

        # Now a customer (the socket joined again with the new token): the keyword enters.
        await expect(page.locator("#online-count")).not_to_have_text("0")
        await page.click("#llt-enter")
        await expect(page.locator("#llt-enter")).to_be_disabled(timeout=10000)

        # The draw comes a few seconds after the 15 s window.
        await expect(page.locator("#llt-result")).to_be_visible(timeout=40000)
        await expect(page.locator("#llt-winners li.mine")).to_have_count(1, timeout=10000)
        await expect(page.locator("#llt-outcome")).not_to_be_empty()

        # A reload keeps the customer (the page exchanges the token it kept): still the winner.
        await page.reload()
        await page.click("#llt-badge", timeout=15000)
        await expect(page.locator("#llt-result")).to_be_visible(timeout=15000)
        await expect(page.locator("#llt-winners li.mine")).to_have_count(1, timeout=15000)
        assert page.problems == []

    async with httpx.AsyncClient(base_url=shop_server["base"], timeout=15) as client:
        record = (await client.get(f"/api/v1/public/lotteries/{lottery['id']}/draw")).json()
    assert record["status"] == "drawn" and len(record["entrants"]) == 1
    assert verify.check(record) == []
