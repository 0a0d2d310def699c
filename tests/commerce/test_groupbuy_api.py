"""Group buy over HTTP: the console manages campaigns; viewers open, join and view groups."""

from __future__ import annotations

import httpx

from liveloop.live.viewers import ViewerClaims, sign_viewer_token
from tests import factories
from tests.commerce.conftest import texted_code

ADDRESS = {
    "recipient_name": "李娜",
    "phone": "13911112222",
    "region": "浙江省",
    "city": "杭州市",
    "detail": "文三路 1 号",
}


def guest(settings, shop_id: int, device: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    claims = ViewerClaims(
        shop_id=shop_id, live_session_id=None, customer_id=None, device_id=device, name="访客"
    )
    return {"Authorization": f"Bearer {sign_viewer_token(settings, claims)}"}


async def test_console_creates_a_campaign_and_viewers_fill_a_group(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient, session, shop, settings
) -> None:
    product = await factories.make_product(session, shop_id=shop.id, price_fen=9900)
    sku_id = product.skus[0].id
    refused = await client.post(
        "/api/v1/group-buys",
        json={"title": "二人团", "sku_id": sku_id, "group_price_fen": 9900, "group_size": 2},
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "group_price_not_lower"
    created = await client.post(
        "/api/v1/group-buys",
        json={"title": "二人团", "sku_id": sku_id, "group_price_fen": 6900, "group_size": 2},
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]

    offered = await anon_client.get(
        "/api/v1/public/group-buys", headers=guest(settings, shop.id, "device-leader-01")
    )
    assert [c["id"] for c in offered.json()] == [campaign_id]
    leader = guest(settings, shop.id, "device-leader-01")
    without_code = await anon_client.post(
        f"/api/v1/public/group-buys/{campaign_id}/groups", json={"address": ADDRESS}, headers=leader
    )
    assert without_code.status_code == 422
    assert without_code.json()["field"] == "address.phone_code"
    assert without_code.json()["code"] == "phone_code_required"
    code = await texted_code(anon_client, ADDRESS["phone"], leader)
    opened = await anon_client.post(
        f"/api/v1/public/group-buys/{campaign_id}/groups",
        json={"address": {**ADDRESS, "phone_code": code}},
        headers=leader,
    )
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert body["viewer_token"]  # the guest became a customer by the phone
    assert body["order"]["total_fen"] >= 6900
    code = body["group"]["code"]
    assert body["share_path"] == f"/group/{code}"

    token = await anon_client.post(
        f"/api/v1/public/group-buys/groups/{code}/token", json={"device_id": "device-friend-1"}
    )
    assert token.status_code == 200
    friend = {"Authorization": f"Bearer {token.json()['viewer_token']}"}
    friend_address = {**ADDRESS, "recipient_name": "王芳", "phone": "13933334444"}
    friend_address["phone_code"] = await texted_code(anon_client, "13933334444", friend)
    joined = await anon_client.post(
        f"/api/v1/public/group-buys/groups/{code}/join",
        json={"address": friend_address},
        headers=friend,
    )
    assert joined.status_code == 201, joined.text
    late = guest(settings, shop.id, "device-late-01")
    late_address = {**ADDRESS, "recipient_name": "赵敏", "phone": "13955556666"}
    late_address["phone_code"] = await texted_code(anon_client, "13955556666", late)
    full = await anon_client.post(
        f"/api/v1/public/group-buys/groups/{code}/join",
        json={"address": late_address},
        headers=late,
    )
    assert full.status_code == 409
    assert full.json()["code"] == "group_full"

    view = await anon_client.get(f"/api/v1/public/group-buys/groups/{code}")
    assert view.status_code == 200
    assert [m["name"] for m in view.json()["members"]] == ["李**", "王**"]
    assert "customer_id" not in view.json()["members"][0]

    groups = await client.get(f"/api/v1/group-buys/{campaign_id}/groups")
    assert groups.json()["total"] == 1
    detail = await client.get(f"/api/v1/group-buys/groups/{groups.json()['items'][0]['id']}")
    assert [m["status"] for m in detail.json()["members"]] == ["pending", "pending"]
    assert (await anon_client.get("/api/v1/public/group-buys/groups/nope")).status_code == 404


async def test_simulate_group_is_a_shop_setting(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/group-buys/settings")).json() == {"simulate_group": False}
    saved = await client.put("/api/v1/group-buys/settings", json={"simulate_group": True})
    assert saved.json() == {"simulate_group": True}
