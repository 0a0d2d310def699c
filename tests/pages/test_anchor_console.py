"""The anchor console /console/live/{id}: rendered through the app for staff, then in a real
Chromium pushing a product that a viewer page in another tab shows."""

from __future__ import annotations

import json
import re

from liveloop.live.viewers import ROLE_STAFF, read_viewer_token
from tests import factories
from tests.factories.live import make_live_session
from tests.web.conftest import log_in

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
