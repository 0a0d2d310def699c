"""The communities API: define, members (idempotent join, full, leave), health, rules."""

from __future__ import annotations

from tests import factories


async def test_define_join_leave_and_read_health(client, session, shop) -> None:
    created = await client.post(
        "/api/v1/communities",
        json={"name": "新人福利群", "kind": "newcomer", "channel": "wecom_group", "capacity": 1},
    )
    assert created.status_code == 201, created.text
    community_id = created.json()["id"]
    bad = await client.post("/api/v1/communities", json={"name": "x", "join_url": "ftp://x"})
    assert bad.status_code == 422
    wang = await factories.make_customer(session, shop_id=shop.id, name="王芳")
    li = await factories.make_customer(session, shop_id=shop.id, name="李娜")
    url = f"/api/v1/communities/{community_id}/members"
    joined = await client.post(
        url, json={"customer_id": wang.id, "source": "live_welfare", "trigger": "welfare:3"}
    )
    assert joined.status_code == 201, joined.text
    again = await client.post(url, json={"customer_id": wang.id})
    assert again.json()["id"] == joined.json()["id"]
    full = await client.post(url, json={"customer_id": li.id})
    assert full.status_code == 409 and full.json()["code"] == "community_full"
    listed = (await client.get("/api/v1/communities")).json()
    assert [(c["id"], c["health"]["members"]) for c in listed] == [(community_id, 1)]
    assert (await client.get(f"/api/v1/communities/{community_id}/health")).json()["joins_7d"] == 1
    of_wang = (await client.get(f"/api/v1/customers/{wang.id}/communities")).json()
    assert [(s["community_id"], s["trigger"]) for s in of_wang] == [(community_id, "welfare:3")]

    left = await client.delete(f"{url}/{wang.id}")
    assert left.status_code == 200 and left.json()["left_at"] is not None
    assert (await client.delete(f"{url}/{wang.id}")).status_code == 404
    current = (await client.get(url)).json()
    everyone = (await client.get(url, params={"current": "false"})).json()
    assert (current["total"], everyone["total"]) == (0, 1)
    shrink = await client.patch(f"/api/v1/communities/{community_id}", json={"tier_level": 2})
    assert shrink.json()["tier_level"] == 2
    archived = await client.post(f"/api/v1/communities/{community_id}/archive")
    assert archived.json()["archived_at"] is not None
    assert (await client.get("/api/v1/communities")).json() == []


async def test_promotion_rules_over_the_api(client) -> None:
    low = (await client.post("/api/v1/communities", json={"name": "新人群"})).json()
    high = (
        await client.post("/api/v1/communities", json={"name": "VIP群", "tier_level": 1})
    ).json()
    same = await client.post(
        "/api/v1/community-promotion-rules",
        json={"name": "x", "from_community_id": low["id"], "to_community_id": low["id"]},
    )
    assert same.status_code == 422
    rule = await client.post(
        "/api/v1/community-promotion-rules",
        json={"name": "升级", "from_community_id": low["id"], "to_community_id": high["id"]},
    )
    assert rule.status_code == 201
    ran = await client.post(f"/api/v1/community-promotion-rules/{rule.json()['id']}/run")
    assert ran.json() == {"promoted": 0}
    assert len((await client.get("/api/v1/community-promotion-rules")).json()) == 1
    deleted = await client.delete(f"/api/v1/community-promotion-rules/{rule.json()['id']}")
    assert deleted.status_code == 204
    key = (await client.get("/api/v1/communities-callback-key")).json()
    assert len(key["key"]) == 64
