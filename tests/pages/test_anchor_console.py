"""The anchor console /console/live/{id}: rendered through the app for staff, then in a real
Chromium pushing a product that a viewer page in another tab shows."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from liveloop.live.viewers import ROLE_STAFF, read_viewer_token
from tests import factories
from tests.factories.live import make_live_session
from tests.pages.test_console_browser import CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM, SCREENSHOTS
from tests.pages.test_live_viewer import PHONE, LiveServer, live_server, open_room
from tests.web.conftest import log_in

__all__ = ["live_server"]  # the fixture, shared with the viewer page's tests

CONFIG = re.compile(r'<script type="application/json" id="console-config">(.*?)</script>', re.S)


def console_config(html: str) -> dict:  # type: ignore[type-arg]
    match = CONFIG.search(html)
    assert match, "the page has no console config"
    return json.loads(match.group(1))


async def test_anchor_console_has_a_staff_token_the_line_up_and_the_api_routes(
    anon_client, session, shop, settings
) -> None:
    anchor = await factories.make_staff(session, shop_id=shop.id, role="anchor")
    tea = await factories.make_product(session, shop_id=shop.id, name="明前龙井", price_fen=12900)
    cup = await factories.make_product(session, shop_id=shop.id, name="<b>青瓷杯</b>")
    live = await make_live_session(
        session, shop_id=shop.id, title="秋茶专场", status="live", product_ids=[tea.id, cup.id]
    )
    await log_in(anon_client, anchor.email)
    response = await anon_client.get(f"/console/live/{live.id}")
    assert response.status_code == 200, response.text
    html = response.text
    assert 'id="room-title">秋茶专场<' in html
    assert html.count('class="button small primary push-button"') == 2
    assert "&lt;b&gt;青瓷杯&lt;/b&gt;" in html and "<b>青瓷杯</b>" not in html
    assert 'href="/console/live/words"' in html
    assert f'href="/live/{live.code}"' in html
    config = console_config(html)
    claims = read_viewer_token(settings, config["token"])
    assert (claims.role, claims.staff_id, claims.live_session_id) == (
        ROLE_STAFF,
        anchor.id,
        live.id,
    )
    assert config["csrf"] and config["urls"]["push"] == f"/api/v1/live/{live.id}/push"
    fresh = await anon_client.get(config["token_url"])
    assert read_viewer_token(settings, fresh.json()["token"]).staff_id == anchor.id


async def test_console_actions_the_page_calls_work_with_its_csrf_token(
    anon_client, session, shop
) -> None:
    owner = await factories.make_staff(session, shop_id=shop.id, role="owner")
    tea = await factories.make_product(session, shop_id=shop.id, name="明前龙井")
    live = await make_live_session(
        session, shop_id=shop.id, status="scheduled", product_ids=[tea.id]
    )
    await log_in(anon_client, owner.email)
    config = console_config((await anon_client.get(f"/console/live/{live.id}")).text)
    headers = {"X-CSRF-Token": config["csrf"]}
    urls = config["urls"]
    assert (await anon_client.post(urls["start"], json={}, headers=headers)).json()[
        "status"
    ] == "live"
    pushed = await anon_client.post(urls["push"], json={"product_id": tea.id}, headers=headers)
    assert pushed.status_code == 200, pushed.text
    for name, body in (("announcement", {"text": "今晚抽奖"}), ("pinned", {"text": "备注尺码"})):
        assert (await anon_client.put(urls[name], json=body, headers=headers)).status_code == 200
    assert (
        await anon_client.put(urls["comments"], json={"enabled": False}, headers=headers)
    ).status_code == 200
    mute = await anon_client.post(
        urls["mute"], json={"device_id": "device-abc-123", "minutes": 10}, headers=headers
    )
    assert mute.status_code == 201, mute.text
    refused = await anon_client.post(urls["unpush"], json={})  # no CSRF header
    assert refused.status_code == 403
    page = await anon_client.get(f"/console/live/{live.id}")
    assert "今晚抽奖" in page.text and 'value="备注尺码"' in page.text
    assert 'id="comments-switch" checked' not in page.text


async def test_anchor_console_needs_live_manage_and_the_shop(
    anon_client, session, shop, other_shop
) -> None:
    analyst = await factories.make_staff(session, shop_id=shop.id, role="analyst")
    theirs = await make_live_session(session, shop_id=other_shop.id, status="live")
    mine = await make_live_session(session, shop_id=shop.id, status="live")

    response = await anon_client.get(f"/console/live/{mine.id}")
    assert response.status_code in (302, 303) and "/console/login" in response.headers["location"]
    await log_in(anon_client, analyst.email)
    assert (await anon_client.get(f"/console/live/{mine.id}")).status_code == 403
    owner = await factories.make_staff(session, shop_id=shop.id, role="owner")
    anon_client.cookies.clear()  # log out
    await log_in(anon_client, owner.email)
    assert (await anon_client.get(f"/console/live/{theirs.id}")).status_code == 404
    assert (await anon_client.get(f"/console/live/{theirs.id}/token")).status_code == 404


async def test_ended_and_cancelled_sessions_still_open(anon_client, session, shop) -> None:
    owner = await factories.make_staff(session, shop_id=shop.id, role="owner")
    ended = await make_live_session(session, shop_id=shop.id, status="ended")
    cancelled = await make_live_session(session, shop_id=shop.id, status="cancelled")
    await log_in(anon_client, owner.email)
    page = await anon_client.get(f"/console/live/{ended.id}")
    assert page.status_code == 200 and console_config(page.text)["status"] == "ended"
    page = await anon_client.get(f"/console/live/{cancelled.id}")
    assert page.status_code == 200 and console_config(page.text)["token"] is None


# ------------------------------------------------------------------ in a real Chromium


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROMIUM, reason=f"no Chromium at {CHROMIUM}")
async def test_anchor_pushes_a_product_and_moderates_what_a_viewer_page_shows(
    live_server: LiveServer,
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    tea_id = live_server.product_ids[0]
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            desk = await browser.new_context(
                locale="zh-CN", viewport={"width": 1360, "height": 900}, reduced_motion="reduce"
            )
            phone = await browser.new_context(
                locale="zh-CN",
                viewport=PHONE,
                is_mobile=True,
                has_touch=True,
                reduced_motion="reduce",
            )
            problems: list[str] = []
            anchor = await desk.new_page()
            viewer = await phone.new_page()
            for page in (anchor, viewer):
                page.on("pageerror", lambda error: problems.append(str(error)))

            room_path = f"/console/live/{live_server.live_session_id}"
            await anchor.goto(f"{live_server.base}/console/login?next={room_path}")
            await anchor.fill("input[name=email]", live_server.anchor_email)
            await anchor.fill("input[name=password]", factories.PASSWORD)
            await anchor.click("button[type=submit].primary")
            await expect(anchor).to_have_url(f"{live_server.base}{room_path}")
            await expect(anchor.locator("#connection-state")).to_have_attribute(
                "data-state", "live"
            )
            await expect(anchor.locator("#start-button")).to_be_hidden()
            await expect(anchor.locator("#stop-button")).to_be_visible()
            await open_room(viewer, live_server)
            await expect(anchor.locator("#figure-online")).not_to_have_text("0")

            # 上链接 in the console; the viewer's phone shows the card.
            await anchor.click(f'.push-button[data-product-id="{tea_id}"]')
            await expect(viewer.locator("#pushed")).to_be_visible()
            await expect(viewer.locator("#pushed-name")).to_have_text("明前龙井")
            await expect(anchor.locator("#pushed-now-name")).to_have_text("明前龙井")
            await expect(
                anchor.locator(f'.room-product[data-product-id="{tea_id}"]')
            ).to_have_class(re.compile("current"))

            # Notices typed in the console reach the room.
            await anchor.fill("#announcement-input", "今晚8点抽奖，关注不迷路")
            await anchor.click("#announcement-form button[type=submit]")
            await expect(viewer.locator("#announcement-text")).to_have_text(
                "今晚8点抽奖，关注不迷路"
            )

            # A viewer comments; the anchor sees it with who wrote it and deletes it.
            await viewer.fill("#comment-input", "这款能便宜点吗")
            await viewer.press("#comment-input", "Enter")
            item = anchor.locator("#comment-stream .comment-item", has_text="这款能便宜点吗")
            await expect(item).to_have_count(1)
            await expect(item.locator("[data-act=mute]")).to_have_count(1)
            await expect(
                viewer.locator("#danmaku [data-id]", has_text="这款能便宜点吗")
            ).to_have_count(1)
            await item.locator("[data-act=delete]").click()
            await expect(item).to_have_class(re.compile("deleted"))
            await expect(viewer.locator("#danmaku .line", has_text="这款能便宜点吗")).to_have_count(
                0
            )

            # Mute for 10 minutes: the viewer is told, and the next comment is refused.
            await viewer.fill("#comment-input", "再问一次")
            await viewer.press("#comment-input", "Enter")
            second = anchor.locator("#comment-stream .comment-item", has_text="再问一次")
            await second.locator("[data-act=mute]").click()
            await expect(viewer.locator("#danmaku .line-system").last).to_be_visible()
            await expect(second.locator(".acted-badge")).to_be_visible()
            await viewer.fill("#comment-input", "禁言了还能说吗")
            await viewer.press("#comment-input", "Enter")
            await expect(
                anchor.locator("#comment-stream .comment-item", has_text="禁言了还能说吗")
            ).to_have_count(0)
            await expect(viewer.locator("#danmaku .line", has_text="禁言了还能说吗")).to_have_count(
                0
            )

            await anchor.screenshot(
                path=str(SCREENSHOTS / "liveloop-anchor-console.png"), full_page=True
            )
            await anchor.click("#unpush-button")
            await expect(viewer.locator("#pushed")).to_be_hidden()

            # Kick (after the anchor confirms): the viewer's page says so and stops retrying.
            anchor.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
            await second.locator("[data-act=kick]").click()
            await expect(viewer.locator("#gone")).to_be_visible()
            await expect(viewer.locator("#gone-title")).not_to_be_empty()
            await expect(viewer.locator("#comment-input")).to_be_disabled()
            await expect(second.locator(".acted-badge")).to_have_count(2)
            assert problems == []
        finally:
            await browser.close()
