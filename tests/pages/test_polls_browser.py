"""In a real Chromium against a real Uvicorn, the anchor console on a desk and a viewer on a
phone: the anchor opens a poll from the console, the viewer votes and sees the results bars
(and the console's bars move), the anchor closes it; the viewer asks a question, the anchor
answers it on screen; the anchor asks a quiz, the viewer answers and sees the correct option."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests import factories
from tests.pages.test_checkout_browser import shop_server  # noqa: F401  (fixture)
from tests.pages.test_console_browser import CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM, SCREENSHOTS
from tests.pages.test_live_viewer import PHONE


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_anchor_runs_a_poll_qa_and_quiz_that_a_phone_viewer_takes_part_in(
    shop_server: dict[str, Any],  # noqa: F811  (the fixture)
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    base, live_id = shop_server["base"], shop_server["live_session_id"]
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            desk = await browser.new_context(
                locale="zh-CN", viewport={"width": 1280, "height": 900}
            )
            phone = await browser.new_context(
                locale="zh-CN",
                viewport=PHONE,
                is_mobile=True,
                has_touch=True,
                reduced_motion="reduce",
            )
            problems: list[str] = []
            anchor, viewer = await desk.new_page(), await phone.new_page()
            for page in (anchor, viewer):
                page.on("pageerror", lambda error: problems.append(str(error)))

            room_path = f"/console/live/{live_id}"
            await anchor.goto(f"{base}/console/login?next={room_path}")
            await anchor.fill("input[name=email]", shop_server["anchor_email"])
            await anchor.fill("input[name=password]", factories.PASSWORD)
            await anchor.click("button[type=submit].primary")
            await expect(anchor).to_have_url(f"{base}{room_path}")
            await expect(anchor.locator("#connection-state")).to_have_attribute(
                "data-state", "live"
            )
            await viewer.goto(f"{base}/live/{shop_server['code']}")
            await expect(viewer.locator("#online-count")).not_to_have_text("0")

            # The anchor opens a poll from the console; the phone shows it.
            form = anchor.locator("#llpc-poll-form")
            await form.locator("[name=question]").fill("下一款上什么？")
            await form.locator("[name=options]").fill("红茶\n绿茶\n乌龙")
            await anchor.click("#llpc-poll-open")
            await expect(anchor.locator("#llpc-poll-question")).to_have_text("下一款上什么？")
            card = viewer.locator("#llpv-poll")
            await expect(card).to_be_visible()
            await expect(viewer.locator("#llpv-poll-question")).to_have_text("下一款上什么？")
            options = viewer.locator("#llpv-poll-options .llpv-option")
            await expect(options).to_have_count(3)
            await expect(viewer.locator("#llpv-poll-options .llpv-count")).to_have_count(0)

            # One tap votes (single choice); the bars show the result.
            await options.nth(2).click()
            await expect(options.nth(2)).to_have_class(re.compile("chosen"))
            await expect(options.nth(2).locator(".llpv-count")).to_have_text("1")
            await expect(options.nth(0).locator(".llpv-count")).to_have_text("0")
            await expect(options.nth(2).locator(".llpv-fill")).to_have_attribute(
                "style", re.compile("100%")
            )
            await expect(viewer.locator("#llpv-poll-note")).not_to_be_empty()
            # The console's bars follow the room's poll card.
            console_bar = anchor.locator("#llpc-poll-bars .llp-bar").nth(2)
            await expect(console_bar.locator(".llp-bar-count")).to_have_text("1", timeout=10000)

            # The card fits the phone's screen.
            box = await card.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
            await viewer.screenshot(path=str(SCREENSHOTS / "liveloop-poll-phone.png"))

            # The anchor closes the poll: the phone shows the final result, voting is over.
            await anchor.click("#llpc-poll-close")
            await expect(viewer.locator("#llpv-poll-kicker")).to_contain_text("1")
            await expect(anchor.locator("#llpc-poll-close")).to_be_hidden()
            await expect(anchor.locator("#llpc-poll-history li")).to_have_count(1)

            # Q&A: the viewer asks; the anchor answers on screen; every phone shows it.
            await viewer.click("#llpv-ask-open")
            await viewer.fill("#llpv-ask textarea", "这款茶能冷泡吗？")
            await viewer.click("#llpv-ask button[type=submit]")
            await expect(viewer.locator("#llpv-ask-note")).not_to_be_empty()
            queued = anchor.locator("#llpc-queue .llp-q", has_text="这款茶能冷泡吗？")
            await expect(queued).to_have_count(1)
            anchor.once("dialog", lambda dialog: dialog.accept("可以，冷泡 4 小时。"))
            await queued.locator("button.primary").click()
            await expect(viewer.locator("#llpv-qa")).to_be_visible()
            await expect(viewer.locator("#llpv-qa-question")).to_have_text("这款茶能冷泡吗？")
            await expect(viewer.locator("#llpv-qa-answer")).to_have_text("可以，冷泡 4 小时。")
            await anchor.click("#llpc-qa-down")
            await expect(viewer.locator("#llpv-qa")).to_be_hidden()

            # Quiz: the anchor asks; the viewer answers; ending it shows the correct option.
            quiz_form = anchor.locator("#llpc-quiz-form")
            await quiz_form.locator("[name=question]").fill("今天第一款茶叫什么？")
            await quiz_form.locator("[name=options]").fill("大红袍\n龙井\n普洱")
            await quiz_form.locator("[name=correct]").fill("2")
            await quiz_form.locator("[name=duration_seconds]").fill("60")
            await quiz_form.locator("[name=winner_count]").fill("0")
            await anchor.click("#llpc-quiz-start")
            await expect(viewer.locator("#llpv-quiz")).to_be_visible()
            await expect(viewer.locator("#llpv-quiz-question")).to_have_text("今天第一款茶叫什么？")
            answers = viewer.locator("#llpv-quiz-options .llpv-option")
            await expect(answers).to_have_count(3)
            await answers.nth(1).click()
            await expect(answers.nth(1)).to_have_class(re.compile("chosen"))
            await anchor.click("#llpc-quiz-close")
            await expect(answers.nth(1)).to_have_class(re.compile("correct"), timeout=10000)
            await expect(anchor.locator("#llpc-quiz-countdown")).to_contain_text("1")
            await expect(viewer.locator("#llpv-quiz-note")).not_to_be_empty()
            await viewer.screenshot(path=str(SCREENSHOTS / "liveloop-quiz-phone.png"))
            await anchor.locator("#polls-console").screenshot(
                path=str(SCREENSHOTS / "liveloop-polls-console.png")
            )
            assert problems == []
        finally:
            await browser.close()
