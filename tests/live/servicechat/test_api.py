"""Customer-service routes: a viewer writes from the room, an agent answers from the console."""

from __future__ import annotations

import httpx
import pytest

from liveloop.shops.service import actor_for_staff
from tests import factories
from tests.factories.live import make_live_session
from tests.live.servicechat.conftest import viewer_client


@pytest.fixture
async def room(session, shop):  # type: ignore[no-untyped-def]
    return await make_live_session(session, shop_id=shop.id, status="live")


async def staff_client(app, session, shop_id: int, role: str):  # type: ignore[no-untyped-def]
    staff = await factories.make_staff(session, shop_id=shop_id, role=role)
    key = await factories.make_api_key(session, actor=actor_for_staff(staff))
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver",
        headers={"Authorization": f"Bearer {key}"},
    )  # fmt: skip


async def test_viewer_and_agent_talk(app, settings, session, shop, room) -> None:  # type: ignore[no-untyped-def]
    fan = await factories.make_customer(
        session, shop_id=shop.id, name="王小丫", phone="13800001111"
    )
    async with (
        viewer_client(app, settings, shop.id, fan.id, room.id) as viewer,
        await staff_client(app, session, shop.id, "service_agent") as agent,
    ):
        opened = await viewer.post("/api/v1/public/service/conversations")
        assert opened.status_code == 201, opened.text
        cid = opened.json()["id"]
        assert (await viewer.post("/api/v1/public/service/conversations")).status_code == 200
        sent = await viewer.post(
            f"/api/v1/public/service/conversations/{cid}/messages",
            json={"text": "这件有 M 码吗？", "client_id": "c-1"},
        )
        assert sent.status_code == 201 and sent.json()["sender"] == "customer"

        inbox = (await agent.get("/api/v1/service/conversations")).json()
        assert [(c["id"], c["customer_name"], c["agent_unread"]) for c in inbox["items"]] == [
            (cid, "王小丫", 1)
        ]
        thread = (await agent.get(f"/api/v1/service/conversations/{cid}")).json()
        assert thread["customer"]["name"] == "王小丫" and "13800001111" not in str(thread)
        answered = await agent.post(
            f"/api/v1/service/conversations/{cid}/messages", json={"text": "有的，亲"}
        )
        assert answered.status_code == 201 and answered.json()["sender"] == "agent"

        polled = (await viewer.get(
            f"/api/v1/public/service/conversations/{cid}", params={"after": sent.json()["id"]}
        )).json()  # fmt: skip
        assert [(m["sender"], m["text"]) for m in polled["messages"]] == [("agent", "有的，亲")]
        assert polled["unread"] == 1 and "staff_id" not in polled["messages"][0]
        read = await viewer.post(
            f"/api/v1/public/service/conversations/{cid}/read",
            json={"up_to": polled["messages"][-1]["id"]},
        )
        assert read.json()["unread"] == 0

        closed = await agent.post(f"/api/v1/service/conversations/{cid}/close")
        assert closed.json()["status"] == "closed"
        assert (await agent.get("/api/v1/service/conversations")).json()["total"] == 0
        reopened = await agent.post(f"/api/v1/service/conversations/{cid}/reopen")
        assert reopened.json()["status"] == "open"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"text": ""}, "text"), ({"text": "   "}, "text"), ({"text": "字" * 1001}, "text"),
     ({"text": "hi", "client_id": "no spaces"}, "client_id"), ({"text": "hi", "x": 1}, "x")],
)  # fmt: skip
async def test_bad_messages_are_refused(app, settings, session, shop, room, body, field) -> None:  # type: ignore[no-untyped-def]
    fan = await factories.make_customer(session, shop_id=shop.id)
    async with viewer_client(app, settings, shop.id, fan.id, room.id) as viewer:
        cid = (await viewer.post("/api/v1/public/service/conversations")).json()["id"]
        refused = await viewer.post(
            f"/api/v1/public/service/conversations/{cid}/messages", json=body
        )
    assert refused.status_code == 422
    assert field in str(refused.json())


async def test_strangers_guests_and_roles(app, settings, session, shop, other_shop, room) -> None:  # type: ignore[no-untyped-def]
    fan = await factories.make_customer(session, shop_id=shop.id)
    other = await factories.make_customer(session, shop_id=shop.id)
    async with viewer_client(app, settings, shop.id, fan.id, room.id) as viewer:
        cid = (await viewer.post("/api/v1/public/service/conversations")).json()["id"]
    async with viewer_client(app, settings, shop.id, other.id, room.id) as stranger:
        assert (
            await stranger.get(f"/api/v1/public/service/conversations/{cid}")
        ).status_code == 404
        theirs = await stranger.post(
            f"/api/v1/public/service/conversations/{cid}/messages", json={"text": "hi"}
        )
        assert theirs.status_code == 404 and theirs.json()["code"] == "conversation_not_found"
    async with viewer_client(app, settings, shop.id, None, room.id) as guest:
        anonymous = await guest.post("/api/v1/public/service/conversations")
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "customer_required"
    async with await staff_client(app, session, shop.id, "anchor") as anchor:
        assert (await anchor.get("/api/v1/service/conversations")).status_code == 403
    async with await staff_client(app, session, other_shop.id, "owner") as elsewhere:
        assert (await elsewhere.get(f"/api/v1/service/conversations/{cid}")).status_code == 404
        assert (await elsewhere.post(
            f"/api/v1/service/conversations/{cid}/messages", json={"text": "hi"}
        )).status_code == 404  # fmt: skip


async def test_rate_limit_is_a_429(app, settings, session, shop, room, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from liveloop.live.servicechat import service

    monkeypatch.setattr(service, "MESSAGES_PER_WINDOW", 2)
    fan = await factories.make_customer(session, shop_id=shop.id)
    async with viewer_client(app, settings, shop.id, fan.id, room.id) as viewer:
        cid = (await viewer.post("/api/v1/public/service/conversations")).json()["id"]
        url = f"/api/v1/public/service/conversations/{cid}/messages"
        for text in ("一", "二"):
            assert (await viewer.post(url, json={"text": text})).status_code == 201
        limited = await viewer.post(url, json={"text": "三"})
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
