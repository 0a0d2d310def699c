"""In a real Chromium against a real Uvicorn: the anchor starts a red packet rain; a guest
viewer taps grab, is asked to sign in with a phone code, grabs and sees the amount and the
red-packet balance; the console API shows the grab."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.pages.phone_codes import texted_code
from tests.pages.test_checkout_browser import shop_server  # noqa: F401  (fixture)
from tests.pages.test_console_browser import CHROMIUM, HAVE_CHROMIUM
from tests.pages.test_live_viewer import chromium_page


async def call(server: dict[str, Any], method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=server["base"], timeout=15) as client:
        response = await client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {server['api_key']}"}
        )
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_a_viewer_grabs_a_red_packet_and_sees_the_amount(
    shop_server: dict[str, Any],  # noqa: F811  (the fixture)
) -> None:
    expect = pytest.importorskip("playwright.async_api").expect
    live_id = shop_server["live_session_id"]
    async with chromium_page() as page:
        await page.goto(f"{shop_server['base']}/live/{shop_server['code']}")
        await expect(page.locator("#online-count")).not_to_have_text("0")

        await call(shop_server, "POST", "/api/v1/red-packet-budget/top-ups", {"amount_fen": 1000})
        packet = await call(
            shop_server,
            "POST",
            f"/api/v1/live/{live_id}/red-packets",
            {"total_fen": 369, "count": 3, "split": "equal", "duration_seconds": 120,
             "greeting": "恭喜发财"},
        )  # fmt: skip
        await expect(page.locator("#llrp")).to_be_visible()
        await expect(page.locator("#llrp-greeting")).to_have_text("恭喜发财")
        await expect(page.locator("#llrp-left")).to_contain_text("3")

        # A guest: the tap asks for a phone number, then the grab goes through.
        await page.click("#llrp-grab")
        await expect(page.locator("#llrp-login")).to_be_visible()
        await page.fill("#llrp-phone", "13900003333")
        await page.fill("#llrp-phone-code .llpc-code", await texted_code(page, "#llrp-phone-code"))
        await page.click("#llrp-login button[type=submit]")
        await expect(page.locator("#llrp-result")).to_contain_text("¥1.23", timeout=10000)
        await expect(page.locator("#llrp-balance")).to_contain_text("¥1.23")
        await expect(page.locator("#llrp-grab")).to_be_hidden()
        await expect(page.locator("#llrp-left")).to_contain_text(re.compile(r"\b2\b"))

        detail = await call(shop_server, "GET", f"/api/v1/red-packets/{packet['id']}")
        assert detail["grabbed_count"] == 1 and detail["grabbed_fen"] == 123
        assert detail["grabs"][0]["customer_name"].endswith("**")
        budget = await call(shop_server, "GET", "/api/v1/red-packet-budget")
        assert budget["balance_fen"] == 1000 - 369
        assert page.problems == []
