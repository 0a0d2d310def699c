"""In a real Chromium against a real Uvicorn: the anchor opens the mic in the room console, a
guest viewer verifies a phone and asks to go on mic, the anchor accepts from the queue, and
the viewer sees they are on mic (the room shows the guest)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests import factories
from tests.pages.phone_codes import texted_code
from tests.pages.test_checkout_browser import shop_server  # noqa: F401  (fixture)
from tests.pages.test_console_browser import CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM
from tests.pages.test_live_viewer import PHONE


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_viewer_asks_the_anchor_accepts_and_the_viewer_is_on_mic(
    shop_server: dict[str, Any],  # noqa: F811  (the fixture)
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    base = shop_server["base"]
    room_path = f"/console/live/{shop_server['live_session_id']}"
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            desk = await browser.new_context(
                locale="zh-CN", viewport={"width": 1360, "height": 900}, reduced_motion="reduce"
            )
            phone = await browser.new_context(
                locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True,
                reduced_motion="reduce",
            )  # fmt: skip
            problems: list[str] = []
            anchor = await desk.new_page()
            viewer = await phone.new_page()
            for page in (anchor, viewer):
                page.on("pageerror", lambda error: problems.append(str(error)))

            await anchor.goto(f"{base}/console/login?next={room_path}")
            await anchor.fill("input[name=email]", shop_server["anchor_email"])
            await anchor.fill("input[name=password]", factories.PASSWORD)
            await anchor.click("button[type=submit].primary")
            await expect(anchor).to_have_url(f"{base}{room_path}")
            await expect(anchor.locator("#connection-state")).to_have_attribute(
                "data-state", "live"
            )
            # The panel ignores clicks until it has loaded the mic's state (and loading resets
            # the select), so wait for it; then wait for the opened mic, not a default view.
            await expect(anchor.locator("#mic-status")).not_to_be_empty()
            await anchor.select_option("#mic-max-guests", "2")
            await anchor.click("#mic-toggle")
            await expect(anchor.locator("#mic-toggle")).not_to_have_class(
                re.compile(r"\bprimary\b")
            )
            await expect(anchor.locator("#mic-guests-empty")).to_be_visible()

            await viewer.goto(f"{base}/live/{shop_server['code']}")
            await expect(viewer.locator("#online-count")).not_to_have_text("0")
            await expect(viewer.locator("#lmic-strip")).to_be_visible()  # from the snapshot
            await viewer.click("#lmic-open")
            await viewer.fill("#lmic-ask [name=note]", "想问泡法")
            await viewer.click("#lmic-request")
            await expect(viewer.locator("#lmic-login")).to_be_visible()  # a guest: verify first
            await viewer.fill("#lmic-login [name=phone]", "13900005555")
            code = await texted_code(viewer, "#lmic-phone-code")
            await viewer.fill("#lmic-phone-code .llpc-code", code)
            await viewer.click("#lmic-login button[type=submit]")
            await expect(viewer.locator("#lmic-login")).to_be_hidden()
            await viewer.click("#lmic-request")
            await expect(viewer.locator("#lmic-withdraw")).to_be_visible()

            waiting = anchor.locator("#mic-queue li", has_text="想问泡法")
            await expect(waiting).to_have_count(1, timeout=10000)
            await waiting.locator(".mic-accept").click()
            await expect(anchor.locator("#mic-guests li")).to_have_count(1)
            await expect(anchor.locator("#mic-queue li")).to_have_count(0)

            # The viewer learns it from the room's `mic` card.
            await expect(viewer.locator("#lmic-open")).to_have_class(
                "lmic-button on", timeout=10000
            )
            await expect(viewer.locator("#lmic-guests")).not_to_be_empty()
            await expect(viewer.locator("#lmic-state")).to_contain_text("1")
            await viewer.click("#lmic-withdraw")  # leave the mic
            await expect(anchor.locator("#mic-guests li")).to_have_count(0, timeout=10000)
            assert problems == []
        finally:
            await browser.close()
