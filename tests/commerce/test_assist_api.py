"""Assist over HTTP: start, help, a refused help is a 409 that stays recorded."""

from __future__ import annotations

import httpx

from liveloop.live.viewers import ViewerClaims, sign_viewer_token
from tests import factories
from tests.commerce.conftest import texted_code


def token_for(
    settings, shop_id: int, device: str, customer_id: int | None = None
) -> dict[str, str]:  # type: ignore[no-untyped-def]
    claims = ViewerClaims(
        shop_id=shop_id,
        live_session_id=None,
        customer_id=customer_id,
        device_id=device,
        name="访客",
    )
    return {"Authorization": f"Bearer {sign_viewer_token(settings, claims)}"}


async def test_helpers_and_refusals_over_http(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient, session, shop, settings
) -> None:
    product = await factories.make_product(session, shop_id=shop.id, price_fen=5000)
    created = await client.post(
        "/api/v1/assists",
        json={
            "title": "砍一刀",
            "reward_kind": "price_cut",
            "sku_id": product.skus[0].id,
            "target_price_fen": 1000,
            "helpers_needed": 2,
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    owner_headers = token_for(settings, shop.id, "device-owner-01")
    unproven = await anon_client.post(
        f"/api/v1/public/assists/campaigns/{campaign_id}/start",
        json={"phone": "13800001111", "name": "张伟"},
        headers=owner_headers,
    )
    assert unproven.status_code == 422
    assert (unproven.json()["code"], unproven.json()["field"]) == (
        "phone_code_required",
        "phone_code",
    )
    owner_code = await texted_code(anon_client, "13800001111", owner_headers)
    started = await anon_client.post(
        f"/api/v1/public/assists/campaigns/{campaign_id}/start",
        json={"phone": "13800001111", "phone_code": owner_code, "name": "张伟"},
        headers=owner_headers,
    )
    assert started.status_code == 201, started.text
    code = started.json()["assist"]["code"]
    owner_token = started.json()["viewer_token"]

    own = await anon_client.post(
        f"/api/v1/public/assists/{code}/help",
        json={},
        headers={"Authorization": f"Bearer {owner_token}"},
    )
    assert own.status_code == 409
    assert own.json()["code"] == "self_help"
    helper_headers = token_for(settings, shop.id, "device-helper-1")
    helper_code = await texted_code(anon_client, "13800002222", helper_headers)
    helped = await anon_client.post(
        f"/api/v1/public/assists/{code}/help",
        json={"phone": "13800002222", "phone_code": helper_code, "name": "李娜"},
        headers=helper_headers,
    )
    assert helped.status_code == 200, helped.text
    assert helped.json()["cut_fen"] == 2000
    assert helped.json()["assist"]["current_price_fen"] == 3000

    refusals = await client.get(f"/api/v1/assists/{campaign_id}/refusals")
    assert [r["reason"] for r in refusals.json()["items"]] == ["self_help"]
    assists = await client.get(f"/api/v1/assists/{campaign_id}/assists")
    assert assists.json()["items"][0]["helpers_count"] == 1
    public = await anon_client.get(f"/api/v1/public/assists/{code}")
    assert public.json()["helpers"][0]["name"] == "李**"
