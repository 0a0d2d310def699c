"""Points API: console (balances, audited adjustments, rules, tiers, catalogue) and viewer
(my points, check-in, catalogue, redeem), with validation and shop isolation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from liveloop.shops.models import AuditEntry
from tests import factories
from tests.commerce.conftest import viewer_token
from tests.customers.points.conftest import make_coupon


@pytest.fixture
async def viewer(app, settings, shop, member) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    token = viewer_token(settings, shop.id, member.id)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield http


async def test_adjust_validates_and_is_audited(client, session, member) -> None:
    url = f"/api/v1/customers/{member.id}/points/adjustments"
    for body, field in (
        ({"delta": 0, "reason": "x"}, "delta"),
        ({"delta": 5, "reason": ""}, "reason"),
        ({"delta": "many", "reason": "x"}, "delta"),
        ({"delta": 5, "reason": "x", "extra": 1}, "extra"),
    ):
        response = await client.post(url, json=body)
        assert response.status_code == 422, body
        assert response.json()["field"] == field
    response = await client.post(url, json={"delta": -5, "reason": "扣错"})
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_points"
    first = await client.post(
        url, json={"delta": 50, "reason": "客诉补偿"}, headers={"Idempotency-Key": "k1"}
    )
    again = await client.post(
        url, json={"delta": 50, "reason": "客诉补偿"}, headers={"Idempotency-Key": "k1"}
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    shown = (await client.get(f"/api/v1/customers/{member.id}/points")).json()
    assert shown["balance"] == 50 and shown["tier"] is None
    assert [e["delta"] for e in shown["entries"]] == [50]
    audits = (
        (await session.execute(select(AuditEntry).where(AuditEntry.action == "points.adjust")))
        .scalars()
        .all()
    )
    assert len(audits) >= 1 and audits[0].details["reason"] == "客诉补偿"


async def test_another_shops_customer_and_records_are_not_found(
    client, session, other_shop
) -> None:
    stranger = await factories.make_customer(session, shop_id=other_shop.id, name="李雷")
    response = await client.get(f"/api/v1/customers/{stranger.id}/points")
    assert response.status_code == 404
    response = await client.post(
        f"/api/v1/customers/{stranger.id}/points/adjustments", json={"delta": 5, "reason": "x"}
    )
    assert response.status_code == 404
    foreign = await make_coupon(session, other_shop.id)
    response = await client.post(
        "/api/v1/points/redemption-items",
        json={"title": "别人的券", "coupon_id": foreign.id, "points_price": 10},
    )
    assert response.status_code == 404
    assert (
        await client.patch("/api/v1/points/tiers/999999", json={"name": "x"})
    ).status_code == 404


async def test_rules_tiers_and_items_crud(client, session, shop, coupon) -> None:
    response = await client.post(
        "/api/v1/points/earn-rules", json={"event_type": "comment", "points": 2, "daily_cap": 20}
    )
    assert response.status_code == 201
    rule_id = response.json()["id"]
    bad = await client.post("/api/v1/points/earn-rules", json={"event_type": "dance", "points": 2})
    assert bad.status_code == 422 and bad.json()["field"] == "event_type"
    negative = await client.post(
        "/api/v1/points/earn-rules", json={"event_type": "share", "points": -3}
    )
    assert negative.status_code == 422 and negative.json()["field"] == "points"
    patched = await client.patch(f"/api/v1/points/earn-rules/{rule_id}", json={"points": 3})
    assert patched.json()["points"] == 3

    tier = await client.post(
        "/api/v1/points/tiers",
        json={"name": "金卡", "level": 2, "min_points": 500,
              "benefits": {"coupon_ids": [coupon.id], "priority_service": True}},
    )  # fmt: skip
    assert tier.status_code == 201, tier.text
    clash = await client.post("/api/v1/points/tiers", json={"name": "又金", "level": 2})
    assert clash.status_code == 409 and clash.json()["code"] == "tier_level_taken"
    unknown = await client.post(
        "/api/v1/points/tiers", json={"name": "X", "level": 3, "benefits": {"free_lunch": True}}
    )
    assert unknown.status_code == 422
    listed = (await client.get("/api/v1/points/tiers")).json()
    assert [(t["name"], t["members"]) for t in listed] == [("金卡", 0)]

    item = await client.post(
        "/api/v1/points/redemption-items",
        json={"title": "5元券", "coupon_id": coupon.id, "points_price": 100, "stock": 5},
    )
    assert item.status_code == 201
    item_id = item.json()["id"]
    assert (await client.patch(
        f"/api/v1/points/redemption-items/{item_id}", json={"points_price": 0}
    )).status_code == 422  # fmt: skip
    assert (await client.delete(f"/api/v1/points/redemption-items/{item_id}")).status_code == 204
    assert (await client.delete(f"/api/v1/points/earn-rules/{rule_id}")).status_code == 204
    assert (await client.get("/api/v1/points/balance-check")).json() == []
    settings = await client.patch("/api/v1/points/settings", json={"tier_basis": "spend_window"})
    assert settings.json()["tier_basis"] == "spend_window"
    assert (
        await client.patch("/api/v1/points/settings", json={"tier_basis": "x"})
    ).status_code == 422


async def test_viewer_checks_in_sees_points_and_redeems(client, viewer, member, coupon) -> None:
    await client.post("/api/v1/points/earn-rules", json={"event_type": "check_in", "points": 60})
    await client.post("/api/v1/points/tiers", json={"name": "银卡", "level": 1, "min_points": 50})
    await client.post("/api/v1/points/tiers", json={"name": "金卡", "level": 2, "min_points": 500})
    item = (
        await client.post(
            "/api/v1/points/redemption-items",
            json={"title": "5元券", "coupon_id": coupon.id, "points_price": 50, "stock": 1},
        )
    ).json()
    me = (await viewer.get("/api/v1/public/points/me")).json()
    assert (me["balance"], me["checked_in_today"], me["check_in_enabled"]) == (0, False, True)
    checked = await viewer.post("/api/v1/public/points/check-in")
    assert checked.status_code == 201 and checked.json()["delta"] == 60
    twice = await viewer.post("/api/v1/public/points/check-in")
    assert twice.status_code == 409 and twice.json()["code"] == "already_checked_in"
    me = (await viewer.get("/api/v1/public/points/me")).json()
    assert me["balance"] == 60 and me["tier"]["name"] == "银卡"
    assert me["next_tier"]["name"] == "金卡" and me["next_tier_min_points"] == 500
    catalogue = (await viewer.get("/api/v1/public/points/catalogue")).json()
    assert [i["id"] for i in catalogue] == [item["id"]]
    headers = {"Idempotency-Key": "r-1"}
    done = await viewer.post(
        "/api/v1/public/points/redemptions", json={"item_id": item["id"]}, headers=headers
    )
    assert done.status_code == 201, done.text
    repeat = await viewer.post(
        "/api/v1/public/points/redemptions", json={"item_id": item["id"]}, headers=headers
    )
    assert repeat.json()["id"] == done.json()["id"]
    sold_out = await viewer.post("/api/v1/public/points/redemptions", json={"item_id": item["id"]})
    assert sold_out.status_code == 409 and sold_out.json()["code"] == "sold_out"
    me = (await viewer.get("/api/v1/public/points/me")).json()
    assert me["balance"] == 10
    mine = (await viewer.get("/api/v1/public/coupons/mine")).json()
    assert [c["coupon_id"] for c in mine] == [coupon.id]


async def test_redeeming_without_enough_points_changes_nothing(client, viewer, coupon) -> None:
    item = (
        await client.post(
            "/api/v1/points/redemption-items",
            json={"title": "5元券", "coupon_id": coupon.id, "points_price": 50, "stock": 3},
        )
    ).json()
    response = await viewer.post("/api/v1/public/points/redemptions", json={"item_id": item["id"]})
    assert response.status_code == 409 and response.json()["code"] == "insufficient_points"
    listed = (await client.get("/api/v1/points/redemption-items")).json()
    assert listed[0]["redeemed_count"] == 0
    assert (await viewer.get("/api/v1/public/coupons/mine")).json() == []


async def test_a_guest_has_no_points(app, settings, shop) -> None:
    token = viewer_token(settings, shop.id, None, device_id="guest")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get(
            "/api/v1/public/points/me", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 401
