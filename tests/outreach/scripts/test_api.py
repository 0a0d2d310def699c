"""Script library routes: CRUD, search, use, bad input, permissions and privacy."""

from __future__ import annotations

import pytest

from tests import factories
from tests.outreach.scripts.conftest import console_client, make_scripts_records, staff_client


async def test_an_operator_keeps_the_library_and_an_agent_uses_it(
    app, session, shop, client
) -> None:  # type: ignore[no-untyped-def]
    category = await client.post("/api/v1/scripts/categories", json={"name": "发货物流"})
    assert category.status_code == 201, category.text
    created = await client.post(
        "/api/v1/scripts",
        json={
            "title": "发货时间",
            "text": "{客户昵称}您好，48小时内发货，{店铺名}",
            "category_id": category.json()["id"],
            "keywords": ["快递", "快递"],
            "images": ["https://img.example.com/a.png"],
            "links": [{"title": "我的订单", "url": f"/mall/{shop.id}/orders"}],
        },
    )
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["scope"] == "shop" and entry["keywords"] == ["快递"]
    assert entry["variables"] == ["客户昵称", "店铺名"]

    fan = await factories.make_customer(session, shop_id=shop.id, name="林青")
    agent, _ = await staff_client(app, session, shop.id, "service_agent")
    async with agent:
        found = (await agent.get("/api/v1/scripts", params={"q": "什么时候发货"})).json()
        assert [(i["id"], i["matches"]) for i in found["items"]] == [(entry["id"], 1)]
        used = await agent.post(
            f"/api/v1/scripts/{entry['id']}/use",
            json={"customer_id": fan.id},
        )
        assert used.status_code == 200, used.text
        body = used.json()
        assert body["text"] == f"林青您好，48小时内发货，{shop.name}"
        assert body["message"] == body["text"] + f"\n我的订单: /mall/{shop.id}/orders"
        assert body["images"] == ["https://img.example.com/a.png"] and body["usage_count"] == 1
        # An agent may not change the shop's entries or categories.
        patched = await agent.patch(f"/api/v1/scripts/{entry['id']}", json={"title": "x"})
        assert patched.status_code == 403 and patched.json()["field"] == "scope"
        assert (
            await agent.post("/api/v1/scripts/categories", json={"name": "x"})
        ).status_code == 403
        refused = await agent.post("/api/v1/scripts", json={"title": "x", "text": "y"})
        assert refused.status_code == 403

    assert (await client.get(f"/api/v1/scripts/{entry['id']}")).json()["usage_count"] == 1
    renamed = await client.patch(
        f"/api/v1/scripts/{entry['id']}", json={"text": "{name}，24小时发货", "category_id": None}
    )
    assert renamed.status_code == 200 and renamed.json()["category_id"] is None
    assert renamed.json()["variables"] == ["客户昵称"]
    assert (await client.delete(f"/api/v1/scripts/{entry['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/scripts/{entry['id']}")).status_code == 404
    variables = (await client.get("/api/v1/scripts/variables")).json()
    assert [v["name"] for v in variables] == [
        "客户昵称",
        "会员等级",
        "积分",
        "最近订单号",
        "店铺名",
    ]


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"title": "", "text": "x"}, "title", "string_too_short"),
        ({"title": "a", "text": "字" * 2001}, "text", "string_too_long"),
        ({"title": "a", "text": "您好{客户姓名}"}, "text", "unknown_variable"),
        ({"title": "a", "text": "您好{客户昵称"}, "text", "unclosed_variable"),
        ({"title": "a", "text": "x", "scope": "team"}, "scope", "literal_error"),
        ({"title": "a", "text": "x", "images": ["javascript:alert(1)"]}, "images", "value_error"),
        ({"title": "a", "text": "x", "links": [{"title": "t", "url": "//evil"}]}, "links[0].url",
         "value_error"),
        ({"title": "a", "text": "x", "category_id": 0}, "category_id", "greater_than_equal"),
        ({"title": "a", "text": "x", "category_id": 999999}, "category_id",
         "script_category_not_found"),
        ({"title": "a", "text": "x", "scope": "personal"}, "scope", "personal_needs_staff"),
        ({"title": "a", "text": "x", "colour": "red"}, "colour", "extra_forbidden"),
    ],
)  # fmt: skip
async def test_bad_entries_are_refused_naming_the_field(client, body, field, code) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/scripts", json=body)
    assert response.status_code in (404, 422), response.text
    error = response.json()
    assert error["field"] == field, error
    assert code in {error["code"], *(e["code"] for e in error.get("errors", []))}, error
    if code == "unknown_variable":
        assert "{客户姓名}" in error["message"]


async def test_bad_search_and_use_are_refused(client, session, shop) -> None:  # type: ignore[no-untyped-def]
    bad = await client.get("/api/v1/scripts", params={"scope": "team"})
    assert bad.status_code == 422 and bad.json()["field"] == "scope"
    ids = await make_scripts_records(session, shop_id=shop.id)
    use = await client.post(f"/api/v1/scripts/{ids['script_id']}/use", json={"customer_id": "x"})
    assert use.status_code == 422 and use.json()["field"] == "customer_id"
    missing = await client.post(
        f"/api/v1/scripts/{ids['script_id']}/use", json={"customer_id": 987654321}
    )
    assert missing.status_code == 404 and missing.json()["code"] == "customer_not_found"
    duplicate = await client.post("/api/v1/scripts/categories", json={"name": "隔壁发货"})
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "name"


async def test_another_shops_records_are_not_found(client, session, other_shop, shop) -> None:  # type: ignore[no-untyped-def]
    ids = await make_scripts_records(session, shop_id=other_shop.id)
    sid, cid = ids["script_id"], ids["script_category_id"]
    for method, url, body in [
        ("GET", f"/api/v1/scripts/{sid}", None),
        ("PATCH", f"/api/v1/scripts/{sid}", {"title": "x"}),
        ("DELETE", f"/api/v1/scripts/{sid}", None),
        ("POST", f"/api/v1/scripts/{sid}/use", {}),
        ("PATCH", f"/api/v1/scripts/categories/{cid}", {"name": "x"}),
        ("DELETE", f"/api/v1/scripts/categories/{cid}", None),
    ]:
        response = await client.request(method, url, json=body)
        assert response.status_code == 404, (method, url, response.text)
    # Nor can an entry be filed under another shop's category, nor found by search.
    filed = await client.post(
        "/api/v1/scripts", json={"title": "a", "text": "b", "category_id": cid}
    )
    assert filed.status_code == 404 and filed.json()["field"] == "category_id"
    assert (await client.get("/api/v1/scripts", params={"q": "发货"})).json()["total"] == 0


async def test_personal_entries_are_invisible_to_other_agents(app, session, shop) -> None:  # type: ignore[no-untyped-def]
    async with (
        console_client(app, session, shop.id, "service_agent") as mei,
        console_client(app, session, shop.id, "service_agent") as li,
    ):
        created = await mei.post(
            "/api/v1/scripts",
            json={
                "title": "我的开场白",
                "text": "{客户昵称}您好，发货问题问我",
                "scope": "personal",
            },
        )
        assert created.status_code == 201, created.text
        sid = created.json()["id"]
        assert created.json()["scope"] == "personal"
        assert (await mei.get("/api/v1/scripts", params={"q": "发货"})).json()["total"] == 1
        assert (
            await mei.patch(f"/api/v1/scripts/{sid}", json={"title": "开场"})
        ).status_code == 200
        assert (await li.get("/api/v1/scripts", params={"q": "发货"})).json()["total"] == 0
        for method, url in [
            ("GET", f"/api/v1/scripts/{sid}"),
            ("PATCH", f"/api/v1/scripts/{sid}"),
            ("POST", f"/api/v1/scripts/{sid}/use"),
            ("DELETE", f"/api/v1/scripts/{sid}"),
        ]:
            body = {"title": "x"} if method == "PATCH" else ({} if method == "POST" else None)
            response = await li.request(method, url, json=body)
            assert response.status_code == 404 and response.json()["code"] == "script_not_found"


async def test_an_api_key_without_customers_read_is_refused(app, session, shop, actor) -> None:  # type: ignore[no-untyped-def]
    import httpx

    key = await factories.make_api_key(session, actor=actor, permissions=["catalog.read"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver",
        headers={"Authorization": f"Bearer {key}"},
    ) as narrow:  # fmt: skip
        response = await narrow.get("/api/v1/scripts")
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"


async def test_console_page_renders_for_an_agent(app, session, shop) -> None:  # type: ignore[no-untyped-def]
    async with console_client(app, session, shop.id, "service_agent") as agent:
        page = await agent.get("/console/scripts")
        assert page.status_code == 200 and 'id="scripts-page"' in page.text
        assert 'value="shop"' not in page.text.split('id="scripts-form"')[1]  # no shared scope
        inbox = await agent.get("/console/service")
        assert 'class="script-picker"' in inbox.text and 'data-mode="service"' in inbox.text
        fan = await factories.make_customer(session, shop_id=shop.id, name="林青")
        detail = await agent.get(f"/console/customers/{fan.id}")
        assert f'data-customer-id="{fan.id}"' in detail.text
