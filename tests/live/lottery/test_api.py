"""Lottery routes: the console starts and reads, a viewer joins and reads, anyone verifies."""

from __future__ import annotations

import httpx
import pytest

from liveloop.core.database import utcnow
from liveloop.live.lottery import service, verify
from tests import factories
from tests.commerce.conftest import viewer_token
from tests.factories.live import make_live_session
from tests.live.lottery.conftest import after_window, comment, visit

BODY = {
    "title": "整点福袋",
    "prize_kind": "points",
    "prize_points": 50,
    "winner_count": 2,
    "duration_seconds": 30,
    "condition": {"kind": "keyword", "keyword": "抢福袋"},
}


@pytest.fixture
async def room(session, shop):  # type: ignore[no-untyped-def]
    return await make_live_session(session, shop_id=shop.id, status="live")


def viewer_client(app, settings, shop_id, customer_id, room_id):  # type: ignore[no-untyped-def]
    token = viewer_token(settings, shop_id, customer_id, live_session_id=room_id)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_console_starts_a_lottery_and_reads_its_history(client, session, shop, room) -> None:
    started = await client.post(f"/api/v1/live/{room.id}/lotteries", json=BODY)
    assert started.status_code == 201, started.text
    lottery = started.json()
    assert lottery["status"] == "running" and lottery["seed"] is None
    assert len(lottery["seed_hash"]) == 64 and lottery["prize_name"] == "50 积分"
    again = await client.post(f"/api/v1/live/{room.id}/lotteries", json=BODY)
    assert again.status_code == 409 and again.json()["code"] == "lottery_running"

    fan = await factories.make_customer(session, shop_id=shop.id, name="李雷")
    await comment(session, shop.id, room.id, fan.id, "抢福袋！")
    stored = await service.get_lottery(session=session, shop_id=shop.id, lottery_id=lottery["id"])
    await service.draw_lottery(
        session=session, shop_id=shop.id, lottery_id=stored.id, now=after_window(stored)
    )
    detail = (await client.get(f"/api/v1/lotteries/{lottery['id']}")).json()
    assert detail["status"] == "drawn" and detail["seed"] and detail["entrant_count"] == 1
    assert [(e["name"], e["rank"], e["prize_status"]) for e in detail["entries"]] == [
        ("李雷", 1, "granted")
    ]
    history = (await client.get(f"/api/v1/live/{room.id}/lotteries")).json()
    assert [item["id"] for item in history] == [lottery["id"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"winner_count": 0}, "winner_count"),
        ({"winner_count": -3}, "winner_count"),
        ({"duration_seconds": 5}, "duration_seconds"),
        ({"prize_points": None}, "prize_points"),
        ({"prize_kind": "custom", "prize_name": "  "}, "prize_name"),
        ({"prize_kind": "cash"}, "prize_kind"),
        ({"condition": {"kind": "keyword"}}, "condition"),
        ({"condition": {"kind": "like", "bogus": 1}}, "condition"),
    ],
)
async def test_bad_lotteries_are_refused_naming_the_field(client, room, change, field) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(f"/api/v1/live/{room.id}/lotteries", json={**BODY, **change})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] and body["message"]
    assert field in (body.get("field") or "") or any(
        field in str(detail) for detail in body.get("details") or []
    ), body


async def test_another_shops_lottery_is_not_found(client, session, other_shop) -> None:
    other_room = await make_live_session(session, shop_id=other_shop.id, status="live")
    response = await client.post(f"/api/v1/live/{other_room.id}/lotteries", json=BODY)
    assert response.status_code == 404


async def test_viewer_joins_sees_the_result_and_anyone_verifies(
    app, settings, client, anon_client, session, shop, room
) -> None:
    liker = await factories.make_customer(session, shop_id=shop.id, name="韩梅梅")
    await visit(session, shop.id, room.id, liker.id, likes=1)
    started = await client.post(
        f"/api/v1/live/{room.id}/lotteries", json={**BODY, "condition": {"kind": "like"}}
    )
    lottery_id = started.json()["id"]
    async with viewer_client(app, settings, shop.id, liker.id, room.id) as viewer:
        joined = await viewer.post(f"/api/v1/public/lotteries/{lottery_id}/join")
        assert joined.status_code == 200 and joined.json()["joined"] is True
        card = (await viewer.get(f"/api/v1/public/lotteries/{lottery_id}")).json()
        assert card["state"] == "running" and card["me"]["joined"] and "seed" not in card
    async with viewer_client(app, settings, shop.id, None, room.id) as guest:
        refused = await guest.post(f"/api/v1/public/lotteries/{lottery_id}/join")
        assert refused.status_code == 401 and refused.json()["code"] == "customer_required"
    commitment = (await anon_client.get(f"/api/v1/public/lotteries/{lottery_id}/draw")).json()
    assert commitment["seed"] is None and commitment["entrants"] == []

    stored = await service.get_lottery(session=session, shop_id=shop.id, lottery_id=lottery_id)
    await service.draw_lottery(
        session=session, shop_id=shop.id, lottery_id=lottery_id, now=after_window(stored)
    )
    record = (await anon_client.get(f"/api/v1/public/lotteries/{lottery_id}/draw")).json()
    assert record["seed_hash"] == commitment["seed_hash"] and verify.check(record) == []
    assert "customer_id" not in str(record) and "韩梅梅" not in str(record)
    async with viewer_client(app, settings, shop.id, liker.id, room.id) as viewer:
        mine = (await viewer.get(f"/api/v1/public/lotteries/{lottery_id}")).json()
    assert mine["state"] == "drawn" and mine["me"]["won"] is True
    assert mine["winners"] == [{"rank": 1, "ticket": mine["me"]["ticket"], "name": "韩**"}]
    assert utcnow().isoformat() < mine["show_until"]


async def test_the_published_draw_of_an_unknown_lottery_is_404(anon_client) -> None:
    response = await anon_client.get("/api/v1/public/lotteries/987654/draw")
    assert response.status_code == 404 and response.json()["code"] == "lottery_not_found"
