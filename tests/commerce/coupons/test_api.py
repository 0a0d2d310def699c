"""Coupon routes: console API and the viewer's claim with a viewer token."""

from __future__ import annotations

import datetime as dt

from liveloop.live.viewers import ViewerClaims, sign_viewer_token
from tests import factories

BODY = {
    "title": "满199减20",
    "kind": "threshold",
    "amount_off_fen": 2000,
    "threshold_fen": 19900,
    "valid_days": 3,
    "total_quantity": 2,
    "per_customer_limit": 1,
    "status": "active",
}


def viewer_headers(settings, shop_id: int, customer_id: int | None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    token = sign_viewer_token(
        settings,
        ViewerClaims(
            shop_id=shop_id,
            live_session_id=None,
            customer_id=customer_id,
            device_id="d1",
            name="张**",
        ),
    )
    return {"Authorization": f"Bearer {token}"}


async def test_console_crud_and_errors(client) -> None:
    created = await client.post("/api/v1/coupons", json=BODY)
    assert created.status_code == 201, created.text
    coupon = created.json()
    assert coupon["value_text"] == "¥20.00 off ¥199.00"
    assert coupon["claim_path"] == f"/coupon/{coupon['code']}"
    listed = (await client.get("/api/v1/coupons?status=active")).json()
    assert [c["id"] for c in listed["items"]] == [coupon["id"]]
    patched = await client.patch(f"/api/v1/coupons/{coupon['id']}", json={"title": "双11"})
    assert patched.json()["title"] == "双11"
    bad = await client.post("/api/v1/coupons", json={**BODY, "amount_off_fen": 30000})
    assert bad.status_code == 422 and "must not exceed threshold_fen" in bad.json()["message"]
    no_window = {k: v for k, v in BODY.items() if k != "valid_days"}
    assert (await client.post("/api/v1/coupons", json=no_window)).status_code == 422
    unknown = await client.post("/api/v1/coupons", json={**BODY, "colour": "red"})
    assert unknown.status_code == 422
    stopped = await client.post(
        f"/api/v1/coupons/{coupon['id']}/status", json={"status": "stopped"}
    )
    assert stopped.json()["status"] == "stopped"


async def test_viewer_claims_by_id_and_by_code(
    client, anon_client, session, shop, other_shop, settings
) -> None:
    coupon = (await client.post("/api/v1/coupons", json=BODY)).json()
    customer = await factories.make_customer(session, shop_id=shop.id)
    headers = viewer_headers(settings, shop.id, customer.id)
    claimed = await anon_client.post(
        f"/api/v1/public/coupons/{coupon['id']}/claim", headers=headers
    )
    assert claimed.status_code == 201, claimed.text
    assert (
        claimed.json()["status"] == "available"
        and claimed.json()["coupon"]["code"] == coupon["code"]
    )
    again = await anon_client.post(
        f"/api/v1/public/coupons/by-code/{coupon['code']}/claim", headers=headers
    )
    assert again.status_code == 409 and again.json()["code"] == "claim_limit_reached"
    mine = (await anon_client.get("/api/v1/public/coupons/mine", headers=headers)).json()
    assert [m["coupon_id"] for m in mine] == [coupon["id"]]
    guest = viewer_headers(settings, shop.id, None)
    assert (
        await anon_client.post(f"/api/v1/public/coupons/{coupon['id']}/claim", headers=guest)
    ).json()["code"] == "customer_required"
    stranger = await factories.make_customer(session, shop_id=other_shop.id)
    foreign = viewer_headers(settings, other_shop.id, stranger.id)
    by_code = await anon_client.post(
        f"/api/v1/public/coupons/by-code/{coupon['code']}/claim", headers=foreign
    )
    assert by_code.status_code == 404
    by_id = await anon_client.post(f"/api/v1/public/coupons/{coupon['id']}/claim", headers=foreign)
    assert by_id.status_code == 404
    claims = (await client.get(f"/api/v1/coupons/{coupon['id']}/claims")).json()
    assert claims["total"] == 1


async def test_grant_and_push(client, session, shop) -> None:
    coupon = (await client.post("/api/v1/coupons", json={**BODY, "status": "draft"})).json()
    customer = await factories.make_customer(session, shop_id=shop.id)
    granted = await client.post(
        f"/api/v1/coupons/{coupon['id']}/grants",
        json={"customer_id": customer.id, "reason": "积分兑换"},
    )
    assert granted.status_code == 201 and granted.json()["source"] == "grant"
    held = (await client.get(f"/api/v1/customers/{customer.id}/coupons")).json()
    assert len(held) == 1
    refused = await client.post(
        f"/api/v1/coupons/{coupon['id']}/push", json={"live_session_id": 999999}
    )
    assert refused.status_code == 404
    assert dt.datetime.fromisoformat(granted.json()["valid_until"]) > dt.datetime.fromisoformat(
        granted.json()["valid_from"]
    )
