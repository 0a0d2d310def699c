"""Welfare routes: the console starts, reads and stops; a viewer taps for a join link and its
QR code; the join link's page and confirmation; forged links refused; the channel confirms."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select

from liveloop.core.database import utcnow
from liveloop.customers.points import service as points_service
from liveloop.live.welfare import links
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.commerce.conftest import viewer_token
from tests.factories.live import make_live_session
from tests.live.welfare.conftest import SECRET, make_community


@pytest.fixture
async def room(session, shop):  # type: ignore[no-untyped-def]
    return await make_live_session(session, shop_id=shop.id, status="live")


@pytest.fixture
async def vip(session, shop):  # type: ignore[no-untyped-def]
    return await make_community(session, shop.id)


def body(community_id: int, **changes: object) -> dict[str, object]:
    return {
        "community_id": community_id,
        "popup_text": "加入VIP群领 50 积分",
        "reward_kind": "points",
        "reward_points": 50,
        **changes,
    }


def viewer_client(app, settings, shop_id, customer_id, room_id, device="device-1"):  # type: ignore[no-untyped-def]
    token = viewer_token(settings, shop_id, customer_id, live_session_id=room_id, device_id=device)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_console_starts_reads_and_stops_an_offer(client, session, shop, room, vip) -> None:  # type: ignore[no-untyped-def]
    started = await client.post(f"/api/v1/live/{room.id}/welfare-offers", json=body(vip.id))
    assert started.status_code == 201, started.text
    offer = started.json()
    assert offer["status"] == "running" and offer["reward_name"] == "50 积分"
    assert offer["figures"]["shown"] == 0
    again = await client.post(f"/api/v1/live/{room.id}/welfare-offers", json=body(vip.id))
    assert again.status_code == 409 and again.json()["code"] == "welfare_offer_running"

    listed = (await client.get(f"/api/v1/live/{room.id}/welfare-offers")).json()
    assert [item["id"] for item in listed] == [offer["id"]]
    detail = (await client.get(f"/api/v1/welfare-offers/{offer['id']}")).json()
    assert detail["community_name"] == "VIP会员群" and detail["claims"] == []

    stopped = await client.post(f"/api/v1/welfare-offers/{offer['id']}/stop")
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    twice = await client.post(f"/api/v1/welfare-offers/{offer['id']}/stop")
    assert twice.status_code == 409 and twice.json()["code"] == "welfare_offer_stopped"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reward_points": None}, "reward_points"),
        ({"reward_points": -5}, "reward_points"),
        ({"reward_kind": "coupon", "reward_points": None}, "reward_coupon_id"),
        ({"reward_kind": "cash"}, "reward_kind"),
        ({"popup_text": "   "}, "popup_text"),
        ({"popup_text": "x" * 101}, "popup_text"),
        ({"duration_seconds": 5}, "duration_seconds"),
        ({"confirm_by": "email"}, "confirm_by"),
        ({"bogus": 1}, "bogus"),
    ],
)
async def test_bad_offers_are_refused_naming_the_field(client, room, vip, change, field) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        f"/api/v1/live/{room.id}/welfare-offers", json=body(vip.id, **change)
    )
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["code"] and answer["message"]
    assert field in str(answer.get("field")) + str(answer.get("errors")), answer


async def test_a_viewer_taps_opens_the_link_and_is_rewarded_once(  # type: ignore[no-untyped-def]
    app, settings, client, session, shop, room, vip
) -> None:
    offer = (await client.post(f"/api/v1/live/{room.id}/welfare-offers", json=body(vip.id))).json()
    fan = await factories.make_customer(session, shop_id=shop.id, name="李雷")
    async with viewer_client(app, settings, shop.id, None, room.id, "guest-d") as guest:
        assert (await guest.post(f"/api/v1/public/welfare-offers/{offer['id']}/seen")).json()
        refused = await guest.post(f"/api/v1/public/welfare-offers/{offer['id']}/tap")
        assert refused.status_code == 401 and refused.json()["code"] == "customer_required"
    async with viewer_client(app, settings, shop.id, fan.id, room.id) as viewer:
        card = (await viewer.get(f"/api/v1/public/welfare-offers/{offer['id']}")).json()
        assert card["card"]["popup_text"] == "加入VIP群领 50 积分"
        assert card["me"]["state"] == "none" and card["me"]["link"] is None
        tapped = (await viewer.post(f"/api/v1/public/welfare-offers/{offer['id']}/tap")).json()
        assert tapped["state"] == "tapped"
        link = tapped["link"]
        assert link["url"].startswith("http://testserver/live/welfare/")
        token = link["token"]

        qr = await viewer.get(link["qr_url"])
        assert qr.status_code == 200 and qr.content.startswith(b"\x89PNG")

        page = await viewer.get(f"/live/welfare/{token}")
        assert page.status_code == 200 and "wfj-join" in page.text and "VIP会员群" in page.text

        joined = await viewer.post("/api/v1/public/welfare-links/join", json={"token": token})
        assert joined.status_code == 200, joined.text
        assert joined.json()["state"] == "rewarded" and joined.json()["rewarded"] is True
        replay = await viewer.post("/api/v1/public/welfare-links/join", json={"token": token})
        assert replay.status_code == 409, replay.text
        assert (replay.json()["code"], replay.json()["field"]) == ("welfare_link_used", "token")
        assert "used already" in replay.json()["message"]
        after = (await viewer.get(f"/api/v1/public/welfare-offers/{offer['id']}")).json()
        assert after["me"]["state"] == "rewarded" and after["me"]["link"] is None
        assert after["card"]["joined"] == 1
        page = await viewer.get(f"/live/welfare/{token}")
        assert 'id="wfj-done"' in page.text and "wfj-join" not in page.text
    balance = await points_service.get_balance(session=session, shop_id=shop.id, customer_id=fan.id)
    assert balance.balance == 50
    detail = (await client.get(f"/api/v1/welfare-offers/{offer['id']}")).json()
    assert detail["figures"] == {
        "shown": 2, "tapped": 1, "opened": 1, "joined": 1, "rewarded": 1, "conversion": 0.5,
    }  # fmt: skip
    assert [(c["name"], c["outcome"]) for c in detail["claims"]] == [("李雷", "rewarded")]


async def test_forged_expired_and_malformed_links_are_clear_4xx(  # type: ignore[no-untyped-def]
    app, settings, client, anon_client, session, shop, room, vip
) -> None:
    offer = (await client.post(f"/api/v1/live/{room.id}/welfare-offers", json=body(vip.id))).json()
    fan = await factories.make_customer(session, shop_id=shop.id, name="李雷")
    async with viewer_client(app, settings, shop.id, fan.id, room.id) as viewer:
        token = (await viewer.post(f"/api/v1/public/welfare-offers/{offer['id']}/tap")).json()[
            "link"
        ]["token"]
    offer_id, customer_id, expires, signature = token.split(".")
    forged = f"{offer_id}.{customer_id}.{int(expires) + 9999}.{signature}"
    expired = links.sign_link(
        SECRET, shop_id=shop.id, live_session_id=room.id, offer_id=offer["id"],
        customer_id=fan.id, expires_at=utcnow() - dt.timedelta(minutes=1),
    )  # fmt: skip
    cases = [(forged, 403, "welfare_link_forged"), (expired, 410, "welfare_link_expired"),
             ("not-a-link", 400, "welfare_link_invalid")]  # fmt: skip
    for bad, status, code in cases:
        answer = await anon_client.post("/api/v1/public/welfare-links/join", json={"token": bad})
        assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
        assert answer.json()["message"] and answer.json()["field"] == "token"
        page = await anon_client.get(f"/live/welfare/{bad}")
        assert page.status_code == status and f'data-code="{code}"' in page.text
        qr = await anon_client.get(f"/api/v1/public/welfare-links/{bad}/qr.png")
        assert qr.status_code == status
    refusals = await session.execute(
        select(AuditEntry.target_id).where(
            AuditEntry.shop_id == shop.id, AuditEntry.action == "live.welfare_link_refused"
        )
    )
    assert set(refusals.scalars()) == {str(offer["id"])}
    balance = await points_service.get_balance(session=session, shop_id=shop.id, customer_id=fan.id)
    assert balance.balance == 0


async def test_the_channel_adapter_confirms_a_channel_offer(  # type: ignore[no-untyped-def]
    app, settings, client, session, shop, room, vip
) -> None:
    offer = (
        await client.post(
            f"/api/v1/live/{room.id}/welfare-offers", json=body(vip.id, confirm_by="channel")
        )
    ).json()
    fan = await factories.make_customer(session, shop_id=shop.id, name="李雷")
    stranger = await factories.make_customer(session, shop_id=shop.id, name="路人")
    async with viewer_client(app, settings, shop.id, fan.id, room.id) as viewer:
        token = (await viewer.post(f"/api/v1/public/welfare-offers/{offer['id']}/tap")).json()[
            "link"
        ]["token"]
        waiting = await viewer.post("/api/v1/public/welfare-links/join", json={"token": token})
        assert waiting.json()["state"] == "awaiting_channel"
    url = f"/api/v1/welfare-offers/{offer['id']}/confirmations"
    bad = await client.post(url, json={})
    assert bad.status_code == 422
    untapped = await client.post(url, json={"customer_id": stranger.id})
    assert untapped.status_code == 409 and untapped.json()["code"] == "welfare_not_tapped"
    done = await client.post(url, json={"customer_id": fan.id})
    assert done.status_code == 200 and done.json()["state"] == "rewarded", done.text
    repeat = await client.post(url, json={"token": token})
    assert repeat.json()["state"] == "rewarded"
    balance = await points_service.get_balance(session=session, shop_id=shop.id, customer_id=fan.id)
    assert balance.balance == 50


async def test_a_viewer_token_of_another_room_is_refused(  # type: ignore[no-untyped-def]
    app, settings, client, session, shop, room, vip
) -> None:
    offer = (await client.post(f"/api/v1/live/{room.id}/welfare-offers", json=body(vip.id))).json()
    fan = await factories.make_customer(session, shop_id=shop.id, name="李雷")
    other_room = await make_live_session(session, shop_id=shop.id, status="live")
    async with viewer_client(app, settings, shop.id, fan.id, other_room.id) as viewer:
        answer = await viewer.post(f"/api/v1/public/welfare-offers/{offer['id']}/tap")
    assert answer.status_code == 422 and answer.json()["code"] == "token_wrong_room"


async def test_another_shops_offer_is_not_found(client, session, other_shop) -> None:  # type: ignore[no-untyped-def]
    from tests.live.welfare.conftest import make_welfare_records

    records = await make_welfare_records(session, shop_id=other_shop.id)
    for method, path in (
        ("GET", "/api/v1/welfare-offers/{offer_id}"),
        ("POST", "/api/v1/welfare-offers/{offer_id}/stop"),
    ):
        answer = await client.request(method, path.format(**records))
        assert answer.status_code == 404 and answer.json()["code"].endswith("not_found")
    confirm = await client.post(
        f"/api/v1/welfare-offers/{records['offer_id']}/confirmations", json={"customer_id": 1}
    )
    assert confirm.status_code == 404
