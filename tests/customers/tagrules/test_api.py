"""The JSON API of tag rules, RFM and lifecycle."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests import factories

COMMENTED = {"kind": "event", "type": "comment", "count": {"op": "at_least", "value": 1}}


async def test_tag_rule_lifecycle_over_the_api(
    client: httpx.AsyncClient, session: AsyncSession, shop: Any
) -> None:
    tag = await factories.make_tag(session, shop_id=shop.id, name="爱评论")
    chatty = await factories.make_customer(session, shop_id=shop.id, name="chatty")
    await factories.make_customer(session, shop_id=shop.id, name="quiet")
    await factories.make_events(
        session, shop_id=shop.id, customer_id=chatty.id, types=("comment",), n=1
    )

    bad = await client.post(
        "/api/v1/tag-rules",
        json={"name": "r", "tag_id": tag.id, "condition": {"all": [{"kind": "tags", "op": "x"}]}},
    )
    assert bad.status_code == 422
    assert bad.json()["field"].startswith("condition.all[0]")

    preview = await client.post("/api/v1/tag-rules/preview", json={"condition": COMMENTED})
    assert preview.json() == {
        "matching": 1, "customers": 2, "matches_everyone": False, "sample_ids": [chatty.id],
    }  # fmt: skip

    created = await client.post(
        "/api/v1/tag-rules", json={"name": "爱评论", "tag_id": tag.id, "condition": COMMENTED}
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    run = await client.post(f"/api/v1/tag-rules/{rule['id']}/run")
    assert run.json() == {"rule_id": rule["id"], "members": 1, "added": 1, "removed": 0}
    changes = await client.get(f"/api/v1/customers/{chatty.id}/tag-changes")
    assert [(c["action"], c["rule_id"]) for c in changes.json()] == [("added", rule["id"])]
    assert len((await client.get(f"/api/v1/tag-rules/{rule['id']}/changes")).json()) == 1

    patched = await client.patch(f"/api/v1/tag-rules/{rule['id']}", json={"enabled": False})
    assert patched.json()["enabled"] is False
    everyone = await client.patch(
        f"/api/v1/tag-rules/{rule['id']}", json={"condition": {"all": []}}
    )
    assert everyone.status_code == 409
    assert everyone.json()["code"] == "rule_matches_everyone"
    listed = await client.get("/api/v1/tag-rules")
    assert [r["name"] for r in listed.json()] == ["爱评论"]
    assert (await client.delete(f"/api/v1/tag-rules/{rule['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/tag-rules/{rule['id']}")).status_code == 404


async def test_rfm_and_lifecycle_over_the_api(
    client: httpx.AsyncClient, session: AsyncSession, shop: Any
) -> None:
    customer = await factories.make_customer(session, shop_id=shop.id, name="someone")
    settings = await client.get("/api/v1/rfm/settings")
    assert settings.json()["window_days"] == 365
    assert settings.json()["lifecycle"]["churn_days"] == 90

    refused = await client.put("/api/v1/rfm/settings", json={"scoring": "thresholds"})
    assert refused.status_code == 422
    assert refused.json()["field"] == "r_thresholds"
    saved = await client.put(
        "/api/v1/rfm/settings", json={"window_days": 180, "lifecycle": {"new_days": 14}}
    )
    assert saved.json()["window_days"] == 180
    assert saved.json()["lifecycle"]["new_days"] == 14

    done = await client.post("/api/v1/rfm/recompute")
    assert done.json()["customers"] == 1 and done.json()["stage_changes"] == 1
    distribution = (await client.get("/api/v1/rfm/distribution")).json()
    counts = {s["key"]: s["customers"] for s in distribution["segments"]}
    assert counts["no_purchase"] == 1
    assert distribution["segments"][0]["label_zh"] == "重要价值客户"

    lifecycle = (await client.get("/api/v1/lifecycle")).json()
    assert {s["key"]: s["customers"] for s in lifecycle["stages"]}["new"] == 1
    assert lifecycle["flows"] == [{"from_stage": None, "to_stage": "new", "customers": 1}]
    mine = (await client.get(f"/api/v1/rfm/customers/{customer.id}")).json()
    assert (mine["segment"], mine["stage"]) == ("no_purchase", "new")
    steps = (await client.get(f"/api/v1/lifecycle/customers/{customer.id}/transitions")).json()
    assert [(s["from_stage"], s["to_stage"]) for s in steps] == [(None, "new")]
    again = await client.post("/api/v1/lifecycle/recompute")
    assert again.json()["stage_changes"] == 0
