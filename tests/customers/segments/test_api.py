"""Segments through the API: save, count, preview, members, freeze, references, 422s, 403s."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from liveloop.core.database import utcnow
from liveloop.customers.rfm.models import CustomerLifecycle
from liveloop.shops.models import AuditEntry
from tests import factories

SHANGHAI = {"kind": "profile", "field": "city", "op": "eq", "value": "上海"}


async def people(session, shop_id: int) -> dict[str, int]:
    made = {}
    for name, city in [("张小明", "上海"), ("李雷", "上海"), ("王芳", "北京"), ("赵敏", None)]:
        customer = await factories.make_customer(session, shop_id=shop_id, name=name, city=city)
        made[name] = customer.id
    session.add(CustomerLifecycle(shop_id=shop_id, customer_id=made["李雷"], stage="active"))
    await session.flush()
    return made


async def test_save_count_preview_and_list_members(client, session, shop) -> None:
    ids = await people(session, shop.id)
    preview = await client.post(
        "/api/v1/segments/preview", json={"filter": {"all": [SHANGHAI]}, "sample_size": 5}
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["count"] == 2
    assert {m["id"] for m in body["sample"]} == {ids["张小明"], ids["李雷"]}
    assert {m["name"] for m in body["sample"]} == {"张**", "李*"}  # masked in a preview

    created = await client.post(
        "/api/v1/segments",
        json={"name": "上海客户", "description": "城市=上海", "filter": {"all": [SHANGHAI]}},
    )
    assert created.status_code == 201, created.text
    segment = created.json()
    assert segment["kind"] == "dynamic"
    assert segment["cached_count"] == 2 and segment["counted_at"]

    await factories.make_customer(session, shop_id=shop.id, name="韩梅梅", city="上海")
    counted = await client.post(f"/api/v1/segments/{segment['id']}/count")
    assert counted.json()["count"] == 3
    again = await client.get(f"/api/v1/segments/{segment['id']}")
    assert again.json()["cached_count"] == 3

    page = await client.get(f"/api/v1/segments/{segment['id']}/members?per_page=2")
    assert page.json()["total"] == 3 and len(page.json()["items"]) == 2
    assert page.json()["items"][0]["name"] == "韩梅梅"  # newest first, names in full
    listed = await client.get("/api/v1/segments")
    assert [s["name"] for s in listed.json()] == ["上海客户"]
    audit = await session.execute(
        select(AuditEntry.action).where(
            AuditEntry.shop_id == shop.id, AuditEntry.target_type == "segment"
        )
    )
    assert "segment.create" in set(audit.scalars())


async def test_static_segment_keeps_its_frozen_members(client, session, shop) -> None:
    ids = await people(session, shop.id)
    created = await client.post(
        "/api/v1/segments", json={"name": "快照", "filter": SHANGHAI, "kind": "static"}
    )
    segment = created.json()
    assert segment["kind"] == "static" and segment["frozen_at"] and segment["cached_count"] == 2
    await factories.make_customer(session, shop_id=shop.id, name="韩梅梅", city="上海")
    members = await client.get(f"/api/v1/segments/{segment['id']}/members")
    assert {m["id"] for m in members.json()["items"]} == {ids["张小明"], ids["李雷"]}
    # Used inside another filter, the frozen list is what counts.
    preview = await client.post(
        "/api/v1/segments/preview",
        json={"filter": {"kind": "segment", "segment_id": segment["id"]}},
    )
    assert preview.json()["count"] == 2
    refrozen = await client.post(f"/api/v1/segments/{segment['id']}/freeze")
    assert refrozen.json()["cached_count"] == 3


async def test_freeze_turns_a_dynamic_segment_static(client, session, shop) -> None:
    await people(session, shop.id)
    segment = (await client.post("/api/v1/segments", json={"name": "d", "filter": SHANGHAI})).json()
    frozen = await client.post(f"/api/v1/segments/{segment['id']}/freeze")
    assert frozen.json()["kind"] == "static" and frozen.json()["cached_count"] == 2


async def test_nested_segments_and_reference_cycles(client, session, shop) -> None:
    ids = await people(session, shop.id)
    a = (await client.post("/api/v1/segments", json={"name": "A", "filter": SHANGHAI})).json()
    b_filter = {
        "all": [
            {"kind": "segment", "segment_id": a["id"]},
            {"kind": "lifecycle", "stages": ["active"]},
        ]
    }
    b = (await client.post("/api/v1/segments", json={"name": "B", "filter": b_filter})).json()
    members = await client.get(f"/api/v1/segments/{b['id']}/members")
    assert [m["id"] for m in members.json()["items"]] == [ids["李雷"]]

    cyclic = {"any": [SHANGHAI, {"not": {"kind": "segment", "segment_id": b["id"]}}]}
    response = await client.patch(f"/api/v1/segments/{a['id']}", json={"filter": cyclic})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "segment_cycle"
    assert "A" in response.json()["message"] or str(a["id"]) in response.json()["message"]

    itself = {"all": [{"kind": "segment", "segment_id": b["id"]}]}
    response = await client.patch(f"/api/v1/segments/{b['id']}", json={"filter": itself})
    assert response.status_code == 422
    assert response.json()["code"] == "segment_cycle"
    assert response.json()["field"] == "filter.all[0]"

    missing = await client.post(
        "/api/v1/segments/preview",
        json={"filter": {"all": [{"kind": "segment", "segment_id": 999999}]}},
    )
    assert missing.status_code == 422
    assert missing.json()["field"] == "filter.all[0].segment_id"

    in_use = await client.delete(f"/api/v1/segments/{a['id']}")
    assert in_use.status_code == 409 and in_use.json()["code"] == "segment_in_use"
    assert (await client.delete(f"/api/v1/segments/{b['id']}")).status_code == 204
    assert (await client.delete(f"/api/v1/segments/{a['id']}")).status_code == 204


async def test_invalid_filters_are_422_with_the_path(client, session, shop) -> None:
    bad = {"all": [SHANGHAI, {"any": [{"kind": "event", "type": "like", "count": {"op": "many"}}]}]}
    response = await client.post("/api/v1/segments", json={"name": "坏", "filter": bad})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_filter"
    assert response.json()["field"] == "filter.all[1].any[0].count.op"
    preview = await client.post("/api/v1/segments/preview", json={"filter": bad})
    assert preview.status_code == 422 and preview.json()["field"] == "filter.all[1].any[0].count.op"


async def test_sql_looking_strings_are_just_values(client, session, shop) -> None:
    await people(session, shop.id)
    hostile = "上海'; DROP TABLE customers; --"
    await factories.make_customer(session, shop_id=shop.id, name="x", city=hostile[:30])
    for value, expected in [(hostile[:30], 1), ("' OR '1'='1", 0), ("%", 0)]:
        response = await client.post(
            "/api/v1/segments/preview",
            json={"filter": {"kind": "profile", "field": "city", "op": "eq", "value": value}},
        )
        assert response.status_code == 200 and response.json()["count"] == expected, value
    contains = await client.post(
        "/api/v1/segments/preview",
        json={"filter": {"kind": "profile", "field": "city", "op": "contains", "value": "%"}},
    )
    assert contains.json()["count"] == 0  # % is a character here, not a wildcard
    everyone = await client.post("/api/v1/segments/preview", json={"filter": {"all": []}})
    assert everyone.json()["count"] == 5


async def test_names_are_unique_per_shop(client, session, shop) -> None:
    assert (
        await client.post("/api/v1/segments", json={"name": "同名", "filter": SHANGHAI})
    ).status_code == 201
    again = await client.post("/api/v1/segments", json={"name": "同名", "filter": SHANGHAI})
    assert again.status_code == 409 and again.json()["field"] == "name"


async def test_reading_and_saving_need_their_permissions(client, session, shop, actor) -> None:
    key = await factories.make_api_key(session, actor=actor, permissions=["customers.read"])
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/api/v1/segments", headers=headers)).status_code == 200
    assert (
        await client.post("/api/v1/segments/preview", json={"filter": SHANGHAI}, headers=headers)
    ).status_code == 200
    denied = await client.post(
        "/api/v1/segments", json={"name": "x", "filter": SHANGHAI}, headers=headers
    )
    assert denied.status_code == 403
    key = await factories.make_api_key(session, actor=actor, permissions=["catalog.read"])
    nothing = await client.get("/api/v1/segments", headers={"Authorization": f"Bearer {key}"})
    assert nothing.status_code == 403


async def test_segment_customer_ids_is_a_subselect_for_other_domains(session, shop, actor) -> None:
    from liveloop.customers.models import Customer
    from liveloop.customers.segments import service
    from liveloop.customers.segments.schemas import SegmentIn

    ids = await people(session, shop.id)
    segment = await service.create_segment(
        session=session, actor=actor, data=SegmentIn(name="s", filter=SHANGHAI)
    )
    members = await service.segment_customer_ids(
        session=session,
        shop_id=shop.id,
        segment_id=segment.id,
        now=utcnow() + dt.timedelta(seconds=1),
    )
    names = await session.execute(
        select(Customer.display_name).where(Customer.id.in_(members)).order_by(Customer.id)
    )
    assert list(names.scalars()) == ["张小明", "李雷"]
    assert ids


async def test_another_shops_segment_is_not_found(client, session, shop, other_shop) -> None:
    from liveloop.customers.segments import service
    from liveloop.customers.segments.schemas import SegmentIn
    from liveloop.shops.service import system_actor

    theirs = await service.create_segment(
        session=session,
        actor=system_actor(other_shop.id),
        data=SegmentIn(name="x", filter=SHANGHAI),
    )
    response = await client.post(
        "/api/v1/segments/preview", json={"filter": {"kind": "segment", "segment_id": theirs.id}}
    )
    assert response.status_code == 422 and response.json()["code"] == "segment_not_found"
    assert (await client.get(f"/api/v1/segments/{theirs.id}")).status_code == 404
    assert (await client.get(f"/api/v1/segments/{theirs.id}/members")).status_code == 404
