"""In a real Chromium against a real Uvicorn: the anchor puts up a follow-for-welfare offer; a
guest viewer taps it, verifies a phone number, gets a personal join link with its QR code,
follows the link, joins and claims, and the room then shows the reward as claimed. And the
anchor runs an offer from the console panel and follows its funnel as a phone viewer joins."""

from __future__ import annotations

from typing import Any

import pytest

from tests import factories
from tests.pages.phone_codes import texted_code
from tests.pages.test_checkout_browser import shop_server  # noqa: F401  (fixture)
from tests.pages.test_console_browser import CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM
from tests.pages.test_live_viewer import PHONE, chromium_page
from tests.pages.test_promotions_browser import call


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_viewer_taps_the_offer_follows_the_link_and_is_rewarded(
    shop_server: dict[str, Any],  # noqa: F811  (the fixture)
) -> None:
    expect = pytest.importorskip("playwright.async_api").expect
    community = await call(
        shop_server,
        "/api/v1/communities",
        {"name": "VIP会员群", "kind": "vip", "channel": "wecom_group",
         "join_url": "https://work.weixin.qq.com/gm/test-vip"},
    )  # fmt: skip
    async with chromium_page() as page:
        await page.goto(f"{shop_server['base']}/live/{shop_server['code']}")
        await expect(page.locator("#online-count")).not_to_have_text("0")

        offer = await call(
            shop_server,
            f"/api/v1/live/{shop_server['live_session_id']}/welfare-offers",
            {"community_id": community["id"], "popup_text": "加入VIP群领 88 积分",
             "reward_kind": "points", "reward_points": 88},
        )  # fmt: skip
        await expect(page.locator("#lwf-sheet")).to_be_visible()
        await expect(page.locator("#lwf-text")).to_have_text("加入VIP群领 88 积分")
        await expect(page.locator("#lwf-community")).to_contain_text("VIP会员群")

        # A guest: the claim asks for a phone first, then goes on by itself.
        await page.click("#lwf-claim")
        await expect(page.locator("#lwf-login")).to_be_visible()
        await page.fill("#lwf-phone", "13900004444")
        await page.fill("#lwf-phone-code .llpc-code", await texted_code(page, "#lwf-phone-code"))
        await page.click("#lwf-login button[type=submit]")
        await expect(page.locator("#lwf-link-box")).to_be_visible(timeout=10000)
        await expect(page.locator("#lwf-claim")).to_be_hidden()
        qr_loaded = await page.locator("#lwf-qr").evaluate(
            "img => img.complete && img.naturalWidth > 0"
        )
        assert qr_loaded, "the QR code PNG did not load"
        href = await page.locator("#lwf-link").get_attribute("href")
        assert href and f"/live/welfare/{offer['id']}." in href

        # The personal link opens in a new tab: join and claim there.
        async with page.context.expect_page() as opened:
            await page.click("#lwf-link")
        join_page = await opened.value
        await expect(join_page.locator("#wfj-community")).to_have_text("VIP会员群")
        await join_page.click("#wfj-join")
        await expect(join_page.locator("#wfj-done")).to_be_visible(timeout=10000)
        await expect(join_page.locator("#wfj-open")).to_have_attribute(
            "href", "https://work.weixin.qq.com/gm/test-vip"
        )
        await join_page.close()

        # Back in the room: the state follows (polled while the link is out).
        await expect(page.locator("#lwf-state.done")).to_be_visible(timeout=15000)
        await expect(page.locator("#lwf-state")).to_contain_text("88 积分")
        await expect(page.locator("#lwf-link-box")).to_be_hidden()

        # A reload keeps the customer: the pop-up shows again, as claimed.
        await page.reload()
        await expect(page.locator("#lwf-badge")).to_be_visible(timeout=15000)
        await expect(page.locator("#lwf-state.done")).to_be_visible(timeout=15000)
        assert page.problems == []

    detail = await call(shop_server, f"/api/v1/welfare-offers/{offer['id']}/stop", {})
    assert detail["figures"]["rewarded"] == 1 and detail["figures"]["joined"] == 1


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_anchor_runs_the_offer_from_the_console_and_follows_its_funnel(
    shop_server: dict[str, Any],  # noqa: F811  (the fixture)
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    base = shop_server["base"]
    room_path = f"/console/live/{shop_server['live_session_id']}"
    await call(
        shop_server,
        "/api/v1/communities",
        {"name": "茶友VIP群", "kind": "vip", "channel": "wecom_group",
         "join_url": "https://work.weixin.qq.com/gm/test-tea"},
    )  # fmt: skip
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
            await viewer.goto(f"{base}/live/{shop_server['code']}")
            await expect(viewer.locator("#online-count")).not_to_have_text("0")

            # The anchor puts the offer up from the panel: group, points reward, pop-up text.
            form = anchor.locator("#welfare-form")
            await expect(form.locator("#welfare-communities option")).to_have_text(["茶友VIP群"])
            await form.locator("[name=popup_text]").fill("加入茶友VIP群领 50 积分")
            await form.locator("#welfare-reward-kind").select_option("points")
            await form.locator("[name=reward_points]").fill("50")
            await anchor.click("#welfare-start")
            await expect(anchor.locator("#welfare-current")).to_be_visible()
            await expect(anchor.locator("#welfare-current-text")).to_have_text(
                "加入茶友VIP群领 50 积分"
            )

            # The viewer's phone shows the pop-up, inside the screen, and counts it as shown.
            sheet = viewer.locator("#lwf-sheet")
            await expect(sheet).to_be_visible(timeout=10000)
            box = await sheet.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
            shown = anchor.locator("#welfare-figures [data-figure=shown]")
            await expect(shown).to_have_text("1", timeout=15000)

            await viewer.click("#lwf-claim")
            await viewer.fill("#lwf-phone", "13900006666")
            code = await texted_code(viewer, "#lwf-phone-code")
            await viewer.fill("#lwf-phone-code .llpc-code", code)
            await viewer.click("#lwf-login button[type=submit]")
            await expect(viewer.locator("#lwf-link-box")).to_be_visible(timeout=10000)
            async with viewer.context.expect_page() as opened:
                await viewer.click("#lwf-link")
            join_page = await opened.value
            await join_page.click("#wfj-join")
            await expect(join_page.locator("#wfj-done")).to_be_visible(timeout=10000)
            await join_page.close()

            # The panel's funnel follows: shown → tapped → opened → joined → rewarded.
            figures = anchor.locator("#welfare-figures")
            await expect(figures.locator("[data-figure=rewarded]")).to_have_text("1", timeout=15000)
            for name in ("shown", "tapped", "opened", "joined"):
                await expect(figures.locator(f"[data-figure={name}]")).to_have_text("1")
            await expect(figures.locator("[data-figure=conversion]")).to_have_text("100.0%")
            await expect(viewer.locator("#lwf-state.done")).to_contain_text("50 积分")

            # Stopping takes the pop-up down in the room; the session's list keeps the offer.
            anchor.once("dialog", lambda dialog: dialog.accept())
            await anchor.click("#welfare-stop")
            await expect(anchor.locator("#welfare-form")).to_be_visible()
            await expect(viewer.locator("#lwf-badge")).to_be_hidden(timeout=10000)
            await expect(sheet).to_be_hidden()
            await anchor.click("#welfare-history summary")
            await expect(anchor.locator("#welfare-history-list li")).to_have_count(1)
            await anchor.locator("#welfare-history-list button").click()
            await expect(anchor.locator("#welfare-detail-rows tr")).to_have_count(1)
            assert problems == []
        finally:
            await browser.close()
