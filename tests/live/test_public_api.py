"""Public room routes: room info, guest tokens, reservations and share links, without login."""

from __future__ import annotations

import pytest

from liveloop.core.errors import Unauthenticated
from liveloop.core.security import TokenSigner
from liveloop.live import service as live_service
from liveloop.live.viewers import VIEWER_TOKEN_SALT, read_viewer_token
from tests import factories
from tests.commerce.conftest import texted_code
from tests.factories.live import make_live_session


async def guest(anon_client, live, device="device-0001aa", **extra) -> dict:
    response = await anon_client.post(
        f"/api/v1/public/live/{live.code}/token", json={"device_id": device, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_room_info_carries_the_lineup_and_is_html_safe(anon_client, session, shop, actor):
    product = await factories.make_product(
        session, shop_id=shop.id, name="</script><img src=x onerror=alert(1)>", price_fen=9900
    )
    live = await make_live_session(session, shop_id=shop.id, product_ids=[product.id])
    response = await anon_client.get(f"/api/v1/public/live/{live.code}")
    assert response.status_code == 200
    assert "<" not in response.text and "\\u003c/script\\u003e" in response.text
    room = response.json()
    assert room["status"] == "scheduled" and room["title"] == live.title
    assert room["lineup"][0]["name"].startswith("</script>")
    assert room["lineup"][0]["price_fen"] == 9900 and room["lineup"][0]["stock"] == 100
    assert room["product"] is None and room["reservations"] == 0
    missing = await anon_client.get("/api/v1/public/live/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "live_session_not_found"


async def test_guest_token_records_entry_link_and_share(
    anon_client, session, shop, actor, settings
):
    from liveloop.live.schemas import EntryLinkCreate

    live = await make_live_session(session, shop_id=shop.id, status="live")
    link = await live_service.create_entry_link(
        session=session, actor=actor, live_session=live, data=EntryLinkCreate(channel="kol")
    )
    first = await guest(anon_client, live, nickname="小明", src=link.code)
    claims = read_viewer_token(settings, first["token"])
    assert claims.source_code == link.code and claims.name == "小明"
    assert first["room"]["status"] == "live"
    shared = await anon_client.post(
        f"/api/v1/public/live/{live.code}/shares",
        headers={"Authorization": f"Bearer {first['token']}"},
    )
    assert shared.status_code == 201
    code = shared.json()["code"]
    assert shared.json()["url"] == f"/live/{live.code}?share={code}"
    again = await anon_client.post(
        f"/api/v1/public/live/{live.code}/shares",
        headers={"Authorization": f"Bearer {first['token']}"},
    )
    assert again.json()["code"] == code  # one share code per viewer and session
    second = await guest(anon_client, live, device="device-0002bb", share=code, src="unknown")
    second_claims = read_viewer_token(settings, second["token"])
    assert second_claims.share_code == code and second_claims.source_code == ""
    found = await live_service.resolve_share(session=session, code=code)
    assert found is not None and found.sharer_device_id == "device-0001aa"


async def test_guest_token_refusals(anon_client, session, shop, other_shop):
    cancelled = await make_live_session(session, shop_id=shop.id, status="cancelled")
    response = await anon_client.post(
        f"/api/v1/public/live/{cancelled.code}/token", json={"device_id": "device-0001aa"}
    )
    assert response.status_code == 409 and response.json()["code"] == "live_session_cancelled"
    live = await make_live_session(session, shop_id=shop.id)
    short = await anon_client.post(
        f"/api/v1/public/live/{live.code}/token", json={"device_id": "x"}
    )
    assert short.status_code == 422 and short.json()["field"] == "device_id"
    html = await anon_client.post(
        f"/api/v1/public/live/{live.code}/token",
        json={"device_id": "device-0001aa", "nickname": "<script>"},
    )
    assert html.status_code == 200  # kept as text; every page escapes it when it renders


async def test_guest_reserves_with_a_phone_and_gets_a_customer_token(
    anon_client, session, shop, settings
):
    live = await make_live_session(session, shop_id=shop.id)
    token = (await guest(anon_client, live))["token"]
    url = f"/api/v1/public/live/{live.code}/reservations"
    headers = {"Authorization": f"Bearer {token}"}
    no_phone = await anon_client.post(url, json={}, headers=headers)
    assert no_phone.status_code == 422 and no_phone.json()["field"] == "phone"
    bad_phone = await anon_client.post(url, json={"phone": "12345"}, headers=headers)
    assert bad_phone.status_code == 422 and bad_phone.json()["code"] == "invalid_phone"
    # The phone is proven by the code texted to it, or nobody becomes its customer.
    unproven = await anon_client.post(url, json={"phone": "13900003333"}, headers=headers)
    assert (unproven.status_code, unproven.json()["code"]) == (422, "phone_code_required")
    code = await texted_code(anon_client, "13900003333", headers)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    guessed = await anon_client.post(
        url, json={"phone": "13900003333", "phone_code": wrong}, headers=headers
    )
    assert (guessed.status_code, guessed.json()["field"]) == (422, "phone_code")
    done = await anon_client.post(
        url, json={"phone": "+86 139-0000-3333", "phone_code": code}, headers=headers
    )
    assert done.status_code == 201 and done.json()["reservations"] == 1
    claims = read_viewer_token(settings, done.json()["token"])
    assert claims.customer_id is not None and "3333" not in claims.name
    # The customer token reserves again without a phone: still one reservation.
    again = await anon_client.post(
        url, json={}, headers={"Authorization": f"Bearer {done.json()['token']}"}
    )
    assert again.json()["reservations"] == 1
    count = await live_service.count_reservations(
        session=session, shop_id=shop.id, live_session_id=live.id
    )
    assert count == 1


async def test_forged_expired_and_other_room_tokens_are_refused(
    anon_client, session, shop, settings
):
    live = await make_live_session(session, shop_id=shop.id)
    other = await make_live_session(session, shop_id=shop.id)
    url = f"/api/v1/public/live/{live.code}/shares"
    missing = await anon_client.post(url)
    assert missing.status_code == 401 and missing.json()["code"] == "token_missing"
    forged = await anon_client.post(url, headers={"Authorization": "Bearer abc.def"})
    assert forged.status_code == 401 and forged.json()["code"] == "token_invalid"
    token = (await guest(anon_client, other))["token"]
    wrong = await anon_client.post(url, headers={"Authorization": f"Bearer {token}"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "token_wrong_room"
    # A token signed with another key (another installation) is forged too.
    foreign = TokenSigner("another-secret", VIEWER_TOKEN_SALT).sign(
        {"shop_id": shop.id, "live_session_id": live.id}
    )
    assert (await anon_client.post(url, headers={"Authorization": f"Bearer {foreign}"})).json()[
        "code"
    ] == "token_invalid"


async def test_a_kept_customer_token_is_exchanged_for_this_room(
    anon_client, session, shop, other_shop, settings, monkeypatch
):
    """A viewer who verified a phone stays that customer after a reload, in the shop's next
    session too; a guest's, another shop's, forged or too old token is not exchanged."""
    from itsdangerous import TimestampSigner

    from liveloop.live.public_api import CUSTOMER_TOKEN_REFRESH_S

    fan = await factories.make_customer(session, shop_id=shop.id, name="老粉")
    yesterday = await make_live_session(session, shop_id=shop.id, status="ended")
    today = await make_live_session(session, shop_id=shop.id, status="live")
    kept, _ = await live_service.issue_viewer_token(
        session=session, settings=settings, live_session=yesterday, customer_id=fan.id
    )
    url = f"/api/v1/public/live/{today.code}/token/refresh"
    body = {"device_id": "device-0002bb", "token": kept}
    answer = await anon_client.post(url, json=body)
    assert answer.status_code == 200, answer.text
    claims = read_viewer_token(settings, answer.json()["token"])
    assert (claims.customer_id, claims.live_session_id) == (fan.id, today.id)
    assert claims.device_id == "device-0002bb" and answer.json()["room"]["id"] == today.id

    async def refused(token: str) -> tuple[int, str]:
        response = await anon_client.post(url, json={**body, "token": token})
        return response.status_code, response.json()["code"]

    assert await refused((await guest(anon_client, today))["token"]) == (401, "token_invalid")
    their_room = await make_live_session(session, shop_id=other_shop.id, status="live")
    theirs = await factories.make_customer(session, shop_id=other_shop.id)
    their_token, _ = await live_service.issue_viewer_token(
        session=session, settings=settings, live_session=their_room, customer_id=theirs.id
    )
    assert await refused(their_token) == (401, "token_invalid")
    assert await refused(kept[:-2] + "xx") == (401, "token_invalid")
    with monkeypatch.context() as patched:
        patched.setattr(
            TimestampSigner,
            "get_timestamp",
            lambda self: int(__import__("time").time()) - CUSTOMER_TOKEN_REFRESH_S - 60,
        )
        old, _ = await live_service.issue_viewer_token(
            session=session, settings=settings, live_session=yesterday, customer_id=fan.id
        )
    assert await refused(old) == (401, "token_expired")


async def test_an_expired_token_is_refused(settings, session, shop):
    live = await make_live_session(session, shop_id=shop.id)
    token, _ = await live_service.issue_viewer_token(
        session=session, settings=settings, live_session=live, device_id="device-0001aa"
    )
    with pytest.raises(Unauthenticated) as error:
        read_viewer_token(settings, token, max_age=-1)
    assert error.value.code == "token_expired"


async def test_another_shops_customer_cannot_get_a_token(client, session, shop, other_shop):
    theirs = await factories.make_customer(session, shop_id=other_shop.id)
    live = await make_live_session(session, shop_id=shop.id)
    response = await client.post(
        f"/api/v1/live/{live.id}/viewer-token", json={"customer_id": theirs.id}
    )
    assert response.status_code == 404
    their_room = await make_live_session(session, shop_id=other_shop.id)
    response = await client.post(
        f"/api/v1/live/{their_room.id}/viewer-token", json={"device_id": "device-0001aa"}
    )
    assert response.status_code == 404


async def test_a_kicked_device_is_told_why_when_it_asks_for_a_token(
    anon_client, session, shop, actor
):
    from liveloop.live import moderation

    live = await make_live_session(session, shop_id=shop.id, status="live")
    await moderation.kick(
        session=session, actor=actor, live_session_id=live.id, device_id="device-0001aa"
    )
    response = await anon_client.post(
        f"/api/v1/public/live/{live.code}/token", json={"device_id": "device-0001aa"}
    )
    assert response.status_code == 403 and response.json()["code"] == "banned"
    assert "in this room until" in response.json()["message"]
    other = await anon_client.post(
        f"/api/v1/public/live/{live.code}/token", json={"device_id": "device-0002bb"}
    )
    assert other.status_code == 200
