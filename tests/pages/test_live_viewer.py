"""The viewer page /live/{code}: rendered through the app, then in a real Chromium against a real
Uvicorn server, fed by another real WebSocket client."""

from __future__ import annotations

import json
import re

from liveloop.live import service as live_service
from tests import factories
from tests.factories.live import make_live_session

CONFIG = re.compile(r'<script type="application/json" id="room-config">(.*?)</script>', re.S)


def page_config(html: str) -> dict:  # type: ignore[type-arg]
    match = CONFIG.search(html)
    assert match, "the page has no room config"
    return json.loads(match.group(1))


async def test_viewer_page_shows_the_room_and_what_the_script_needs(
    anon_client, session, shop
) -> None:
    tea = await factories.make_product(session, shop_id=shop.id, name="明前龙井", price_fen=12900)
    live = await make_live_session(
        session, shop_id=shop.id, title="秋茶专场", status="live", product_ids=[tea.id]
    )
    response = await anon_client.get(f"/live/{live.code}?src=grp-1&share=bad%20code<")
    assert response.status_code == 200
    assert response.headers["content-language"] == "zh-CN"
    assert "<title>秋茶专场 · " in response.text
    config = page_config(response.text)
    assert config["live_session_id"] == live.id
    assert config["status"] == "live"
    assert config["ws_path"] == f"/ws/live/{live.id}"
    assert config["token_url"] == f"/api/v1/public/live/{live.code}/token"
    assert config["src"] == "grp-1"
    assert config["share"] == ""  # not a link code: dropped, never echoed
    assert [p["name"] for p in config["room"]["lineup"]] == ["明前龙井"]
    assert config["room"]["lineup"][0]["price_fen"] == 12900
    assert set(config["i18n"]) >= {"buy", "sold_out", "reconnecting", "gone_kicked"}


async def test_viewer_page_escapes_what_staff_typed(anon_client, session, shop, actor) -> None:
    live = await make_live_session(
        session, shop_id=shop.id, title="<script>alert(1)</script>", status="live"
    )
    await live_service.set_announcement(
        session=session,
        actor=actor,
        live_session_id=live.id,
        text="</script><img src=x onerror=alert(2)>",
    )
    response = await anon_client.get(f"/live/{live.code}")
    assert response.status_code == 200
    assert "<script>alert(1)" not in response.text
    assert "<img src=x" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    config = page_config(response.text)  # the JSON survives intact inside its script tag
    assert config["room"]["announcement"] == "</script><img src=x onerror=alert(2)>"


async def test_scheduled_room_offers_a_reservation_and_english_on_request(
    anon_client, session, shop
) -> None:
    live = await make_live_session(session, shop_id=shop.id, title="明晚上新", status="scheduled")
    response = await anon_client.get(f"/live/{live.code}", headers={"Accept-Language": "en-US"})
    assert response.status_code == 200
    assert response.headers["content-language"] == "en"
    assert 'id="reserve-form"' in response.text
    assert ">Reserve</button>" in response.text
    assert page_config(response.text)["status"] == "scheduled"


async def test_unknown_room_is_a_page_saying_so(anon_client) -> None:
    response = await anon_client.get("/live/nosuchroom")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "nosuchroom" in response.text


async def test_viewer_page_language_switch_comes_back_to_the_room(
    anon_client, session, shop
) -> None:
    live = await make_live_session(session, shop_id=shop.id, status="live")
    page = await anon_client.get(f"/live/{live.code}?src=kol7")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    response = await anon_client.post(
        "/console/language",
        data={
            "csrf_token": token.group(1),
            "language": "en",
            "next": f"/live/{live.code}?src=kol7",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/live/{live.code}?src=kol7"
    again = await anon_client.get(response.headers["location"])
    assert again.headers["content-language"] == "en"
