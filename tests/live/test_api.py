"""Console/integrator live routes: sessions, line-up, transitions, audience, tokens, moderation."""

from __future__ import annotations

import datetime as dt

import pytest

from liveloop.core.database import utcnow
from liveloop.live.viewers import read_viewer_token
from tests import factories
from tests.factories.live import make_live_session

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def later(hours: int = 24) -> str:
    return (utcnow() + dt.timedelta(hours=hours)).isoformat()


async def test_create_edit_and_read_a_session(client, session, shop, owner) -> None:
    product = await factories.make_product(session, shop_id=shop.id)
    response = await client.post(
        "/api/v1/live",
        json={
            "title": "<b>秋茶</b>专场",
            "anchor_id": owner.id,
            "planned_start": later(),
            "product_ids": [product.id],
            "notice": "下单送茶具",
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "scheduled" and created["product_ids"] == [product.id]
    assert len(created["code"]) == 10
    response = await client.patch(
        f"/api/v1/live/{created['id']}", json={"title": "秋茶专场", "hls_url": "https://cdn/x.m3u8"}
    )
    assert response.json()["title"] == "秋茶专场"
    listed = (await client.get("/api/v1/live", params={"status": "scheduled"})).json()
    assert [s["id"] for s in listed["items"]] == [created["id"]]
    assert listed["items"][0]["product_ids"] == [product.id]
    cover = await client.post(
        f"/api/v1/live/{created['id']}/cover", files={"file": ("c.png", PNG, "image/png")}
    )
    assert cover.status_code == 200 and cover.json()["cover_url"].startswith("/media/shop")


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"title": ""}, "title", "string_too_short"),
        ({"planned_start": "2026-12-01T20:00:00"}, "planned_start", "value_error"),
        ({"hls_url": "javascript:alert(1)"}, "hls_url", "value_error"),
        ({"anchor_id": 999999}, "anchor_id", "anchor_not_found"),
        ({"product_ids": [999999]}, "product_ids", "product_not_found"),
        ({"colour": "red"}, "colour", "extra_forbidden"),
    ],
)
async def test_create_validation_names_the_field(client, body, field, code) -> None:
    response = await client.post(
        "/api/v1/live", json={"title": "t", "planned_start": later(), **body}
    )
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["field"] == field
    assert code in (error["code"], *(e["code"] for e in error.get("errors", [])))


async def test_transitions_and_room_controls(client, session, shop) -> None:
    product = await factories.make_product(session, shop_id=shop.id, price_fen=5900, stock=3)
    live = await make_live_session(session, shop_id=shop.id)
    base = f"/api/v1/live/{live.id}"
    assert (await client.post(f"{base}/end")).json()["code"] == "invalid_transition"
    response = await client.post(f"{base}/start")
    assert response.status_code == 200 and response.json()["status"] == "live"
    again = await client.post(f"{base}/start")
    assert again.status_code == 409 and "already" not in again.json()["message"]
    assert "is live" in again.json()["message"]
    assert (await client.put(f"{base}/announcement", json={"text": "抽奖"})).status_code == 200
    assert (await client.put(f"{base}/pinned", json={"text": "置顶"})).status_code == 200
    pushed = await client.post(f"{base}/push", json={"product_id": product.id})
    assert pushed.status_code == 200 and pushed.json()["price_fen"] == 5900
    assert (await client.put(f"{base}/comments", json={"enabled": False})).status_code == 200
    room = (await client.get(f"{base}/room")).json()
    assert room["product"]["id"] == product.id and room["announcement"] == "抽奖"
    assert room["comments_enabled"] is False and room["pinned"]["text"] == "置顶"
    assert (await client.post(f"{base}/unpush")).json()["pushed_product_id"] is None
    assert (await client.post(f"{base}/end")).json()["status"] == "ended"


async def test_an_analyst_cannot_run_a_room_they_do_not_present(app, session, shop) -> None:
    import httpx

    from liveloop.shops.service import actor_for_staff

    analyst = await factories.make_staff(session, shop_id=shop.id, role="analyst")
    key = await factories.make_api_key(session, actor=actor_for_staff(analyst))
    live = await make_live_session(session, shop_id=shop.id)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={"Authorization": f"Bearer {key}"}
    ) as http:
        response = await http.post(f"/api/v1/live/{live.id}/start")
        assert response.status_code == 403
        assert (await http.get("/api/v1/live")).status_code == 403


async def test_reservations_links_and_sharers(client, session, shop) -> None:
    live = await make_live_session(session, shop_id=shop.id)
    customer = await factories.make_customer(session, shop_id=shop.id, name="13812345678")
    base = f"/api/v1/live/{live.id}"
    link = await client.post(f"{base}/links", json={"channel": "group", "label": "一群"})
    assert link.status_code == 201
    assert link.json()["url"] == f"/live/{live.code}?src={link.json()['code']}"
    bad = await client.post(f"{base}/links", json={"channel": "tv"})
    assert bad.status_code == 422 and bad.json()["field"] == "channel"
    for _ in range(2):  # twice: still one reservation
        response = await client.post(
            f"{base}/reservations",
            json={"customer_id": customer.id, "source_code": link.json()["code"]},
        )
        assert response.status_code == 201
    listed = (await client.get(f"{base}/reservations")).json()
    assert listed["total"] == 1
    assert listed["items"][0]["source_code"] == link.json()["code"]
    assert "12345678" not in listed["items"][0]["customer_name"]  # a phone as name is masked
    assert (await client.delete(f"{base}/reservations/{customer.id}")).status_code == 204
    assert (await client.get(f"{base}/reservations")).json()["total"] == 0
    assert (await client.get(f"{base}/sharers")).json() == []
    links = (await client.get(f"{base}/links")).json()
    assert len(links) == 1
    assert (await client.delete(f"{base}/links/{links[0]['id']}")).status_code == 204


async def test_viewer_tokens_for_customer_identity_and_guest(
    client, session, shop, settings
) -> None:
    live = await make_live_session(session, shop_id=shop.id)
    customer = await factories.make_customer(session, shop_id=shop.id, name="李小龙")
    url = f"/api/v1/live/{live.id}/viewer-token"
    known = (await client.post(url, json={"customer_id": customer.id})).json()
    claims = read_viewer_token(settings, known["token"])
    assert (claims.customer_id, claims.name, claims.live_session_id) == (
        customer.id,
        "李小龙",
        live.id,
    )
    assert known["ws_url"] == f"/ws/live/{live.id}"
    by_phone = (
        await client.post(url, json={"identity": {"channel": "phone", "value": "13900002222"}})
    ).json()
    phone_claims = read_viewer_token(settings, by_phone["token"])
    assert phone_claims.customer_id is not None and "13900002222" not in phone_claims.name
    guest = (await client.post(url, json={"device_id": "device-abcdef12"})).json()
    guest_claims = read_viewer_token(settings, guest["token"])
    assert guest_claims.customer_id is None and guest_claims.name.startswith("观众")
    both = await client.post(url, json={"customer_id": customer.id, "device_id": "device-abcdef12"})
    assert both.status_code == 422 and "exactly one" in both.json()["message"]


async def test_no_token_for_a_cancelled_session(client, session, shop) -> None:
    live = await make_live_session(session, shop_id=shop.id, status="cancelled")
    response = await client.post(
        f"/api/v1/live/{live.id}/viewer-token", json={"device_id": "device-abcdef12"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "live_session_cancelled"


async def test_moderation_routes(client, session, shop) -> None:
    live = await make_live_session(session, shop_id=shop.id, status="live")
    customer = await factories.make_customer(session, shop_id=shop.id)
    base = f"/api/v1/live/{live.id}"
    mute = await client.post(f"{base}/mutes", json={"customer_id": customer.id, "minutes": 5})
    assert mute.status_code == 201 and mute.json()["kind"] == "mute"
    ban = await client.post(f"{base}/bans", json={"device_id": "dev-x", "shop_wide": True})
    assert ban.status_code == 201 and ban.json()["live_session_id"] is None
    kick = await client.post(f"{base}/kicks", json={"customer_id": customer.id})
    assert kick.status_code == 201 and kick.json()["until"] is not None
    empty = await client.post(f"{base}/mutes", json={})
    assert empty.status_code == 422 and empty.json()["field"] == "customer_id"
    assert len((await client.get(f"{base}/restrictions")).json()) == 3
    lifted = await client.post(f"/api/v1/live/restrictions/{mute.json()['id']}/lift")
    assert lifted.status_code == 200
    assert len((await client.get(f"{base}/restrictions")).json()) == 2
    assert (await client.delete(f"{base}/comments/c-9")).status_code == 204


async def test_sensitive_words_routes(client) -> None:
    added = await client.post("/api/v1/live/words", json={"words": ["加微信", "二维码"]})
    assert added.status_code == 201 and {w["action"] for w in added.json()} == {"mask"}
    word_id = added.json()[0]["id"]
    changed = await client.patch(f"/api/v1/live/words/{word_id}", json={"action": "block"})
    assert changed.json()["action"] == "block"
    bad = await client.patch(f"/api/v1/live/words/{word_id}", json={"action": "shout"})
    assert bad.status_code == 422 and bad.json()["field"] == "action"
    assert (await client.delete(f"/api/v1/live/words/{word_id}")).status_code == 204
    assert len((await client.get("/api/v1/live/words")).json()) == 1
