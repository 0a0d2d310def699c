"""Mic routes: the console opens the mic and decides; a viewer asks, sees, withdraws."""

from __future__ import annotations

import pytest

from tests import factories
from tests.factories.live import make_live_session
from tests.live.mic.conftest import viewer_client


@pytest.fixture
async def room(session, shop):  # type: ignore[no-untyped-def]
    return await make_live_session(session, shop_id=shop.id, status="live")


async def test_a_viewer_goes_on_mic_through_the_api(
    app, settings, client, session, shop, room
) -> None:  # type: ignore[no-untyped-def]
    fan = await factories.make_customer(
        session, shop_id=shop.id, name="王小丫", phone="13800001111"
    )
    opened = await client.put(
        f"/api/v1/live/{room.id}/mic", json={"is_open": True, "max_guests": 2}
    )
    assert opened.status_code == 200, opened.text
    assert opened.json()["mic"] == {**opened.json()["mic"], "is_open": True, "max_guests": 2}

    async with viewer_client(app, settings, shop.id, fan.id, room.id) as viewer:
        asked = await viewer.post(
            f"/api/v1/public/live/{room.id}/mic/requests", json={"note": "试色"}
        )
        assert asked.status_code == 201, asked.text
        mine = asked.json()
        assert (mine["status"], mine["position"]) == ("requested", 1)
        repeat = await viewer.post(f"/api/v1/public/live/{room.id}/mic/requests", json={})
        assert repeat.status_code == 200 and repeat.json()["id"] == mine["id"]

        panel = (await client.get(f"/api/v1/live/{room.id}/mic")).json()
        assert [(r["name"], r["note"]) for r in panel["queue"]] == [("王小丫", "试色")]
        assert "13800001111" not in str(panel)  # no phone number in the queue

        accepted = await client.post(f"/api/v1/mic/requests/{mine['id']}/accept")
        assert accepted.status_code == 200 and accepted.json()["seat"] == 1
        state = (await viewer.get(f"/api/v1/public/live/{room.id}/mic")).json()
        assert state["me"]["status"] == "accepted" and state["me"]["seat"] == 1
        assert [g["name"] for g in state["card"]["guests"]] == ["王**"]

        left = await viewer.post(f"/api/v1/public/mic/requests/{mine['id']}/cancel")
        assert left.status_code == 200 and left.json()["status"] == "ended"
        again = await viewer.post(f"/api/v1/public/mic/requests/{mine['id']}/cancel")
        assert again.status_code == 409 and again.json()["code"] == "mic_request_ended"

    history = (await client.get(f"/api/v1/live/{room.id}/mic")).json()["history"]
    assert [(h["status"], h["ended_by"]) for h in history] == [("ended", "viewer")]
    assert history[0]["on_mic_seconds"] is not None


async def test_accept_after_cancel_is_a_clear_409(
    app, settings, client, session, shop, room
) -> None:  # type: ignore[no-untyped-def]
    fan = await factories.make_customer(session, shop_id=shop.id)
    await client.put(f"/api/v1/live/{room.id}/mic", json={"is_open": True})
    async with viewer_client(app, settings, shop.id, fan.id, room.id) as viewer:
        request = (await viewer.post(f"/api/v1/public/live/{room.id}/mic/requests", json={})).json()
        await viewer.post(f"/api/v1/public/mic/requests/{request['id']}/cancel")
    late = await client.post(f"/api/v1/mic/requests/{request['id']}/accept")
    assert late.status_code == 409
    body = late.json()
    assert body["code"] == "mic_request_cancelled" and body["field"] == "status"
    assert "cancelled by the viewer" in body["message"]


async def test_bad_input_and_strangers(
    app, settings, client, session, shop, other_shop, room
) -> None:  # type: ignore[no-untyped-def]
    fan = await factories.make_customer(session, shop_id=shop.id)
    other = await factories.make_customer(session, shop_id=shop.id)
    bad = await client.put(f"/api/v1/live/{room.id}/mic", json={"is_open": True, "max_guests": 0})
    assert bad.status_code == 422
    unknown = await client.put(f"/api/v1/live/{room.id}/mic", json={"is_open": True, "x": 1})
    assert unknown.status_code == 422
    async with viewer_client(app, settings, shop.id, fan.id, room.id) as viewer:
        closed = await viewer.post(f"/api/v1/public/live/{room.id}/mic/requests", json={})
        assert closed.status_code == 409 and closed.json()["code"] == "mic_closed"
        await client.put(f"/api/v1/live/{room.id}/mic", json={"is_open": True})
        long_note = await viewer.post(
            f"/api/v1/public/live/{room.id}/mic/requests", json={"note": "话" * 101}
        )
        assert long_note.status_code == 422
        wrong_room = await viewer.post(f"/api/v1/public/live/{room.id + 999}/mic/requests", json={})
        assert wrong_room.status_code == 422 and wrong_room.json()["code"] == "token_wrong_room"
        request = (await viewer.post(f"/api/v1/public/live/{room.id}/mic/requests", json={})).json()
    async with viewer_client(app, settings, shop.id, other.id, room.id) as stranger:
        theirs = await stranger.post(f"/api/v1/public/mic/requests/{request['id']}/cancel")
        assert theirs.status_code == 404
    async with viewer_client(app, settings, shop.id, None, room.id) as guest:
        anonymous = await guest.post(f"/api/v1/public/live/{room.id}/mic/requests", json={})
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "customer_required"
        state = await guest.get(f"/api/v1/public/live/{room.id}/mic")
        assert state.status_code == 200 and state.json()["me"]["status"] is None
    other_owner = await factories.make_staff(session, shop_id=other_shop.id)
    from liveloop.shops.service import actor_for_staff

    key = await factories.make_api_key(session, actor=actor_for_staff(other_owner))
    elsewhere = await client.post(
        f"/api/v1/mic/requests/{request['id']}/accept", headers={"Authorization": f"Bearer {key}"}
    )
    assert elsewhere.status_code == 404


async def test_only_who_runs_the_room_decides(app, session, shop, room) -> None:  # type: ignore[no-untyped-def]
    import httpx

    from liveloop.shops.service import actor_for_staff

    agent = await factories.make_staff(session, shop_id=shop.id, role="service_agent")
    key = await factories.make_api_key(session, actor=actor_for_staff(agent))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver",
        headers={"Authorization": f"Bearer {key}"},
    ) as http:  # fmt: skip
        refused = await http.put(f"/api/v1/live/{room.id}/mic", json={"is_open": True})
    assert refused.status_code == 403
