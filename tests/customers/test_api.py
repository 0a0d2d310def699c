import csv
import io

import pytest
from sqlalchemy import select

from liveloop.customers.models import CustomerIdentity
from liveloop.shops.models import AuditEntry
from tests import factories


async def audit_entries(session, shop_id: int, action: str) -> list[AuditEntry]:
    rows = await session.execute(
        select(AuditEntry)
        .where(AuditEntry.shop_id == shop_id, AuditEntry.action == action)
        .order_by(AuditEntry.id)
    )
    return list(rows.scalars())


async def narrow_client(client, session, actor, permissions: list[str]):
    key = await factories.make_api_key(session, actor=actor, permissions=permissions)
    return {"Authorization": f"Bearer {key}"}


async def test_create_get_update_delete(client, session, shop) -> None:
    response = await client.post(
        "/api/v1/customers",
        json={
            "display_name": "王芳",
            "gender": "female",
            "birthday": "1992-08-01",
            "consent": {"sms": True, "wecom": False},
            "identities": [
                {"channel": "phone", "value": "+86 138 1234 5678"},
                {"channel": "email", "value": "WangFang@Example.com"},
                {"channel": "wechat_unionid", "value": "oU_1"},
            ],
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["phone"] == "138****5678"
    assert created["email"] == "w***g@example.com"
    assert "13812345678" not in response.text and "wangfang@" not in response.text
    assert {i["channel"]: i["value"] for i in created["identities"]}["wechat_unionid"] == "oU_1"
    customer_id = created["id"]

    got = await client.get(f"/api/v1/customers/{customer_id}")
    assert got.status_code == 200
    assert got.json()["consent"] == {"sms": True, "wecom": False}

    patched = await client.patch(
        f"/api/v1/customers/{customer_id}", json={"city": "成都", "notes": "喜欢普洱"}
    )
    assert patched.status_code == 200
    assert (patched.json()["city"], patched.json()["display_name"]) == ("成都", "王芳")

    deleted = await client.delete(f"/api/v1/customers/{customer_id}")
    assert deleted.status_code == 200
    assert deleted.json()["status"] == "deleted"
    assert deleted.json()["identities"] == []
    assert len(await audit_entries(session, shop.id, "customer.delete")) == 1
    listed = await client.get("/api/v1/customers")
    assert listed.json()["total"] == 0
    again = await client.patch(f"/api/v1/customers/{customer_id}", json={"city": "x"})
    assert again.status_code == 409
    assert again.json()["code"] == "customer_deleted"


async def test_create_errors_carry_code_and_field(client, session, shop) -> None:
    bad_phone = await client.post(
        "/api/v1/customers", json={"identities": [{"channel": "phone", "value": "1381234"}]}
    )
    assert bad_phone.status_code == 422
    assert bad_phone.json() == {
        "code": "invalid_phone",
        "message": "phone 1381234 is not a mainland mobile number (11 digits starting 13–19)",
        "field": "identities[0].value",
    }
    bad_channel = await client.post(
        "/api/v1/customers", json={"identities": [{"channel": "fax", "value": "1"}]}
    )
    assert bad_channel.status_code == 422
    assert bad_channel.json()["field"] == "identities[0].channel"
    unknown_field = await client.post("/api/v1/customers", json={"nickname": "x"})
    assert unknown_field.json()["field"] == "nickname"
    nul = await client.post("/api/v1/customers", json={"display_name": "a\u0000b"})
    assert nul.status_code == 422
    assert nul.json()["field"] == "display_name"
    await factories.make_customer(session, shop_id=shop.id, phone="13800002001")
    taken = await client.post(
        "/api/v1/customers", json={"identities": [{"channel": "phone", "value": "13800002001"}]}
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "identity_taken"
    assert "13800002001" not in taken.text


async def test_list_is_masked_paginated_and_filtered(client, session, shop) -> None:
    vip = await factories.make_tag(session, shop_id=shop.id, name="VIP")
    for number in range(5):
        await factories.make_customer(
            session,
            shop_id=shop.id,
            name=f"客户{number}",
            phone=f"1380000300{number}",
            tags=[vip] if number % 2 else [],
        )
    page = (await client.get("/api/v1/customers", params={"per_page": 2, "page": 2})).json()
    assert (page["total"], page["pages"], len(page["items"])) == (5, 3, 2)
    assert all("****" in item["phone"] for item in page["items"])
    tagged = (await client.get("/api/v1/customers", params={"tag_ids": [vip.id]})).json()
    assert tagged["total"] == 2
    by_phone = (await client.get("/api/v1/customers", params={"phone": "13800003003"})).json()
    assert [item["display_name"] for item in by_phone["items"]] == ["客户3"]
    by_name = (await client.get("/api/v1/customers", params={"q": "客户4"})).json()
    assert by_name["total"] == 1
    bad = await client.get("/api/v1/customers", params={"phone": "12"})
    assert bad.status_code == 422 and bad.json()["field"] == "phone"
    bad_channel = await client.get("/api/v1/customers", params={"channel": "fax"})
    assert bad_channel.status_code == 422


async def test_pii_reveal_needs_permission_and_is_audited(client, session, shop, actor) -> None:
    customer = await factories.make_customer(
        session, shop_id=shop.id, phone="13912345678", email="li@example.com"
    )
    response = await client.get(f"/api/v1/customers/{customer.id}/pii")
    assert response.status_code == 200
    values = {i["channel"]: i["value"] for i in response.json()["identities"]}
    assert values == {"phone": "13912345678", "email": "li@example.com"}
    entries = await audit_entries(session, shop.id, "customer.pii_reveal")
    assert [e.target_id for e in entries] == [str(customer.id)]
    headers = await narrow_client(client, session, actor, ["customers.read"])
    denied = await client.get(f"/api/v1/customers/{customer.id}/pii", headers=headers)
    assert denied.status_code == 403
    # Reading the customer is still masked for everyone, reveal permission or not.
    plain = await client.get(f"/api/v1/customers/{customer.id}")
    assert "13912345678" not in plain.text
    assert len(await audit_entries(session, shop.id, "customer.pii_reveal")) == 1


async def test_identities_add_and_remove(client, session, shop) -> None:
    customer = await factories.make_customer(session, shop_id=shop.id)
    added = await client.post(
        f"/api/v1/customers/{customer.id}/identities",
        json={"channel": "douyin", "value": "dy_42"},
    )
    assert added.status_code == 201
    assert added.json()["value"] == "dy_42"
    removed = await client.delete(
        f"/api/v1/customers/{customer.id}/identities/{added.json()['id']}"
    )
    assert removed.status_code == 204
    assert (await session.get(CustomerIdentity, added.json()["id"])) is None
    missing = await client.delete(f"/api/v1/customers/{customer.id}/identities/999999")
    assert missing.status_code == 404
    assert missing.json()["code"] == "identity_not_found"


async def test_tag_and_untag_one_customer(client, session, shop) -> None:
    customer = await factories.make_customer(session, shop_id=shop.id)
    tag = await factories.make_tag(session, shop_id=shop.id, name="复购")
    tagged = await client.put(f"/api/v1/customers/{customer.id}/tags/{tag.id}")
    assert tagged.status_code == 200
    [link] = tagged.json()["tags"]
    assert (link["name"], link["source"]) == ("复购", "manual")
    assert link["tagged_by"].startswith("API key")
    twice = await client.put(f"/api/v1/customers/{customer.id}/tags/{tag.id}")
    assert len(twice.json()["tags"]) == 1
    untagged = await client.delete(f"/api/v1/customers/{customer.id}/tags/{tag.id}")
    assert untagged.json()["tags"] == []


async def test_bulk_tag_by_ids_and_by_filter(client, session, shop) -> None:
    a = await factories.make_customer(session, shop_id=shop.id, name="甲")
    b = await factories.make_customer(session, shop_id=shop.id, name="乙")
    c = await factories.make_customer(session, shop_id=shop.id, name="丙丙")
    tag = await factories.make_tag(session, shop_id=shop.id)
    by_ids = await client.post(
        "/api/v1/customers/bulk-tag", json={"tag_ids": [tag.id], "customer_ids": [a.id, b.id]}
    )
    assert by_ids.json() == {"action": "tag", "tag_ids": [tag.id], "customers": 2, "changed": 2}
    by_filter = await client.post(
        "/api/v1/customers/bulk-tag", json={"tag_ids": [tag.id], "filter": {"q": "丙"}}
    )
    assert (by_filter.json()["customers"], by_filter.json()["changed"]) == (1, 1)
    listed = await client.get("/api/v1/customers", params={"tag_ids": [tag.id]})
    assert {item["id"] for item in listed.json()["items"]} == {a.id, b.id, c.id}
    untag = await client.post(
        "/api/v1/customers/bulk-tag",
        json={"tag_ids": [tag.id], "filter": {}, "action": "untag"},
    )
    assert untag.json()["changed"] == 3
    entries = await audit_entries(session, shop.id, "customer.bulk_untag")
    assert entries[0].details["customers"] == 3
    both = await client.post(
        "/api/v1/customers/bulk-tag", json={"tag_ids": [tag.id], "customer_ids": [], "filter": {}}
    )
    assert both.status_code == 422
    unknown = await client.post(
        "/api/v1/customers/bulk-tag", json={"tag_ids": [tag.id], "customer_ids": [a.id, 999999]}
    )
    assert unknown.status_code == 404
    assert unknown.json()["field"] == "customer_ids"


async def test_tag_groups_and_tags_crud(client, session, shop) -> None:
    group = await client.post("/api/v1/tag-groups", json={"name": "兴趣", "color": "#ff6600"})
    assert group.status_code == 201
    group_id = group.json()["id"]
    duplicate = await client.post("/api/v1/tag-groups", json={"name": "兴趣"})
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "tag_group_exists"
    bad_color = await client.post("/api/v1/tag-groups", json={"name": "x", "color": "red"})
    assert bad_color.status_code == 422 and bad_color.json()["field"] == "color"
    renamed = await client.patch(f"/api/v1/tag-groups/{group_id}", json={"name": "爱好"})
    assert renamed.json()["name"] == "爱好"
    assert [g["name"] for g in (await client.get("/api/v1/tag-groups")).json()] == ["爱好"]

    tag = await client.post("/api/v1/tags", json={"name": "红茶", "group_id": group_id})
    assert tag.status_code == 201
    tag_id = tag.json()["id"]
    assert (await client.post("/api/v1/tags", json={"name": "红茶"})).status_code == 409
    listed = await client.get("/api/v1/tags", params={"group_id": group_id})
    assert [t["name"] for t in listed.json()] == ["红茶"]
    updated = await client.patch(f"/api/v1/tags/{tag_id}", json={"color": "#112233"})
    assert updated.json()["color"] == "#112233"

    not_empty = await client.delete(f"/api/v1/tag-groups/{group_id}")
    assert not_empty.status_code == 409
    assert "still holds 1 tag" in not_empty.json()["message"]

    customer = await factories.make_customer(session, shop_id=shop.id, tags=[tag_id])
    assert (await client.delete(f"/api/v1/tags/{tag_id}")).status_code == 204
    got = await client.get(f"/api/v1/customers/{customer.id}")
    assert got.json()["tags"] == []
    [entry] = await audit_entries(session, shop.id, "tag.delete")
    assert entry.details == {"name": "红茶", "customers": 1}
    assert (await client.delete(f"/api/v1/tag-groups/{group_id}")).status_code == 204
    assert len(await audit_entries(session, shop.id, "tag_group.delete")) == 1


async def test_merge_list_and_undo(client, session, shop) -> None:
    a = await factories.make_customer(session, shop_id=shop.id, name="甲", phone="13800004001")
    b = await factories.make_customer(session, shop_id=shop.id, name=None, email="b@example.com")
    merged = await client.post(f"/api/v1/customers/{a.id}/merge", json={"source_id": b.id})
    assert merged.status_code == 201, merged.text
    body = merged.json()
    assert (body["target_id"], body["source_id"], body["moved_identities"]) == (a.id, b.id, 1)
    target = (await client.get(f"/api/v1/customers/{a.id}")).json()
    assert {i["channel"] for i in target["identities"]} == {"phone", "email"}
    source = (await client.get(f"/api/v1/customers/{b.id}")).json()
    assert (source["status"], source["merged_into_id"]) == ("merged", a.id)
    merges = (await client.get(f"/api/v1/customers/{b.id}/merges")).json()
    assert [m["id"] for m in merges] == [body["id"]]
    self_merge = await client.post(f"/api/v1/customers/{a.id}/merge", json={"source_id": a.id})
    assert self_merge.status_code == 422
    undone = await client.post(f"/api/v1/customer-merges/{body['id']}/undo")
    assert undone.status_code == 200
    assert undone.json()["undone_at"] is not None
    restored = (await client.get(f"/api/v1/customers/{b.id}")).json()
    assert restored["status"] == "active"
    assert [i["channel"] for i in restored["identities"]] == ["email"]
    again = await client.post(f"/api/v1/customer-merges/{body['id']}/undo")
    assert again.status_code == 409


async def test_timeline_includes_events_of_merged_customers(client, session, shop) -> None:
    a = await factories.make_customer(session, shop_id=shop.id)
    b = await factories.make_customer(session, shop_id=shop.id)
    await factories.make_events(session, shop_id=shop.id, customer_id=a.id, types=["like"], n=2)
    await factories.make_events(session, shop_id=shop.id, customer_id=b.id, types=["order"], n=1)
    before = (await client.get(f"/api/v1/customers/{a.id}/timeline")).json()
    assert before["total"] == 2
    await client.post(f"/api/v1/customers/{a.id}/merge", json={"source_id": b.id})
    after = (await client.get(f"/api/v1/customers/{a.id}/timeline")).json()
    assert after["total"] == 3
    # Events are not rewritten: the order still names b.
    assert {(e["type"], e["customer_id"]) for e in after["items"]} == {
        ("like", a.id),
        ("order", b.id),
    }
    times = [e["occurred_at"] for e in after["items"]]
    assert times == sorted(times, reverse=True)
    only_orders = await client.get(
        f"/api/v1/customers/{a.id}/timeline", params={"types": ["order"]}
    )
    assert only_orders.json()["total"] == 1


def read_csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


async def test_export_is_masked_streamed_and_audited(client, session, shop, actor) -> None:
    await factories.make_customer(
        session, shop_id=shop.id, name="张三", phone="13800005001", tags=["VIP", "茶"]
    )
    await factories.make_customer(session, shop_id=shop.id, name="李四", email="li4@example.com")
    response = await client.get("/api/v1/customers/export.csv", params={"q": "张"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = read_csv(response.content.decode("utf-8"))
    assert [(r["display_name"], r["phone"], r["tags"]) for r in rows] == [
        ("张三", "138****5001", "VIP;茶")
    ]
    [entry] = await audit_entries(session, shop.id, "customer.export")
    assert entry.details == {"filter": {"q": "张"}, "rows": 1, "revealed": False}

    revealed = await client.get("/api/v1/customers/export.csv", params={"reveal": "true"})
    rows = read_csv(revealed.text)
    assert {r["phone"] or r["email"] for r in rows} == {"13800005001", "li4@example.com"}
    assert (await audit_entries(session, shop.id, "customer.export"))[-1].details["revealed"]

    analyst = await narrow_client(client, session, actor, ["customers.read", "customers.export"])
    denied = await client.get(
        "/api/v1/customers/export.csv", params={"reveal": "true"}, headers=analyst
    )
    assert denied.status_code == 403
    masked = await client.get("/api/v1/customers/export.csv", headers=analyst)
    assert "13800005001" not in masked.text
    nobody = await narrow_client(client, session, actor, ["customers.read"])
    assert (await client.get("/api/v1/customers/export.csv", headers=nobody)).status_code == 403


async def test_export_filter_by_phone_is_not_written_to_audit(client, session, shop) -> None:
    await factories.make_customer(session, shop_id=shop.id, phone="13800006001")
    response = await client.get("/api/v1/customers/export.csv", params={"phone": "13800006001"})
    assert len(read_csv(response.text)) == 1
    [entry] = await audit_entries(session, shop.id, "customer.export")
    assert entry.details["filter"] == {"phone": "(given)"}


async def test_export_spans_several_batches(client, session, shop, monkeypatch) -> None:
    from liveloop.customers import exports

    monkeypatch.setattr(exports, "EXPORT_BATCH", 2)
    for number in range(5):
        await factories.make_customer(session, shop_id=shop.id, name=f"c{number}")
    rows = read_csv((await client.get("/api/v1/customers/export.csv")).text)
    assert sorted(r["display_name"] for r in rows) == [f"c{n}" for n in range(5)]


async def test_write_routes_need_their_permission(client, session, shop, actor) -> None:
    customer = await factories.make_customer(session, shop_id=shop.id)
    reader = await narrow_client(client, session, actor, ["customers.read"])
    checks = [
        ("post", "/api/v1/customers", {"json": {}}),
        ("patch", f"/api/v1/customers/{customer.id}", {"json": {}}),
        ("delete", f"/api/v1/customers/{customer.id}", {}),
        ("post", "/api/v1/tags", {"json": {"name": "x"}}),
        ("post", f"/api/v1/customers/{customer.id}/merge", {"json": {"source_id": 1}}),
        ("post", "/api/v1/customers/imports", {"files": {"file": ("a.csv", b"phone\n")}}),
    ]
    for method, url, extra in checks:
        response = await getattr(client, method)(url, headers=reader, **extra)
        assert response.status_code == 403, (method, url)
    assert (await client.get("/api/v1/customers", headers=reader)).status_code == 200


@pytest.fixture
async def foreign(session, other_shop):  # type: ignore[no-untyped-def]
    tag = await factories.make_tag(session, shop_id=other_shop.id, name="外店")
    group = await factories.make_tag_group(session, shop_id=other_shop.id, name="外组")
    customer = await factories.make_customer(
        session, shop_id=other_shop.id, phone="13800007001", tags=[tag]
    )
    source = await factories.make_customer(session, shop_id=other_shop.id)
    from liveloop.customers import merge as merge_service
    from liveloop.shops.service import system_actor

    merge = await merge_service.merge_customers(
        session=session,
        actor=system_actor(other_shop.id),
        target_id=customer.id,
        source_id=source.id,
    )
    identity = customer.identities[0]
    return {"customer": customer, "tag": tag, "group": group, "merge": merge, "identity": identity}


async def test_records_of_another_shop_are_not_found_on_every_route(
    client, session, shop, foreign
) -> None:
    mine = await factories.make_customer(session, shop_id=shop.id)
    my_tag = await factories.make_tag(session, shop_id=shop.id)
    cid, tid = foreign["customer"].id, foreign["tag"].id
    gid, mid = foreign["group"].id, foreign["merge"].id
    iid = foreign["identity"].id
    routes = [
        ("get", f"/api/v1/customers/{cid}", {}),
        ("patch", f"/api/v1/customers/{cid}", {"json": {"city": "x"}}),
        ("delete", f"/api/v1/customers/{cid}", {}),
        ("get", f"/api/v1/customers/{cid}/pii", {}),
        ("post", f"/api/v1/customers/{cid}/identities", {"json": {"channel": "wecom", "value": "z"}}),
        ("delete", f"/api/v1/customers/{mine.id}/identities/{iid}", {}),
        ("delete", f"/api/v1/customers/{cid}/identities/{iid}", {}),
        ("put", f"/api/v1/customers/{cid}/tags/{my_tag.id}", {}),
        ("put", f"/api/v1/customers/{mine.id}/tags/{tid}", {}),
        ("delete", f"/api/v1/customers/{cid}/tags/{my_tag.id}", {}),
        ("delete", f"/api/v1/customers/{mine.id}/tags/{tid}", {}),
        ("get", f"/api/v1/customers/{cid}/timeline", {}),
        ("post", f"/api/v1/customers/{cid}/merge", {"json": {"source_id": mine.id}}),
        ("post", f"/api/v1/customers/{mine.id}/merge", {"json": {"source_id": cid}}),
        ("get", f"/api/v1/customers/{cid}/merges", {}),
        ("post", f"/api/v1/customer-merges/{mid}/undo", {}),
        ("post", "/api/v1/customers/bulk-tag", {"json": {"tag_ids": [tid], "customer_ids": [mine.id]}}),
        ("post", "/api/v1/customers/bulk-tag", {"json": {"tag_ids": [my_tag.id], "customer_ids": [cid]}}),
        ("post", "/api/v1/customers", {"json": {"tag_ids": [tid]}}),
        ("patch", f"/api/v1/tag-groups/{gid}", {"json": {"name": "y"}}),
        ("delete", f"/api/v1/tag-groups/{gid}", {}),
        ("patch", f"/api/v1/tags/{tid}", {"json": {"name": "y"}}),
        ("delete", f"/api/v1/tags/{tid}", {}),
        ("post", "/api/v1/tags", {"json": {"name": "z", "group_id": gid}}),
        ("patch", f"/api/v1/tags/{my_tag.id}", {"json": {"group_id": gid}}),
    ]  # fmt: skip
    for method, url, extra in routes:
        response = await getattr(client, method)(url, **extra)
        assert response.status_code == 404, (method, url, response.text)
    # Lists and searches never show them either.
    assert (await client.get("/api/v1/customers", params={"phone": "13800007001"})).json()[
        "total"
    ] == 0
    assert tid not in {t["id"] for t in (await client.get("/api/v1/tags")).json()}
    assert gid not in {g["id"] for g in (await client.get("/api/v1/tag-groups")).json()}
    export = read_csv((await client.get("/api/v1/customers/export.csv")).text)
    assert [int(r["id"]) for r in export] == [mine.id]
    # Same phone in this shop is a different customer, not a conflict.
    created = await client.post(
        "/api/v1/customers", json={"identities": [{"channel": "phone", "value": "13800007001"}]}
    )
    assert created.status_code == 201
