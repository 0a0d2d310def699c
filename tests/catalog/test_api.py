"""Catalog routes: categories, products, SKUs, stock, images; validation and shop isolation."""

from __future__ import annotations

import pytest

from tests import factories

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
GIF = b"GIF89a" + b"\x00" * 32

TEA = {
    "name": "明前西湖龙井",
    "subtitle": "核心产区 一级",
    "skus": [
        {
            "code": "LJ-250",
            "specs": {"规格": "250g", "口味": "原味"},
            "price_fen": 12900,
            "stock": 10,
        },
        {
            "code": "LJ-500",
            "specs": {"规格": "500g", "口味": "原味"},
            "price_fen": 23900,
            "list_price_fen": 29900,
            "stock": 0,
        },
    ],
}


async def _create(client, body=None) -> dict:
    response = await client.post("/api/v1/products", json=body or TEA)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_product_with_skus_and_derived_price_range(client) -> None:
    product = await _create(client)
    assert product["status"] == "on_shelf"
    assert [s["code"] for s in product["skus"]] == ["LJ-250", "LJ-500"]
    assert product["skus"][0]["specs"] == {"规格": "250g", "口味": "原味"}
    assert (product["price_min_fen"], product["price_max_fen"]) == (12900, 23900)
    assert product["total_stock"] == 10
    fetched = (await client.get(f"/api/v1/products/{product['id']}")).json()
    assert fetched["skus"] == product["skus"]


async def test_sku_code_is_generated_when_omitted(client) -> None:
    product = await _create(client, {"name": "散装茶", "skus": [{"price_fen": 100}]})
    assert product["skus"][0]["code"].startswith("SKU-")


@pytest.mark.parametrize(
    ("change", "status", "field", "code"),
    [
        ({"skus": []}, 422, "skus", None),
        ({"skus": [{"price_fen": 100, "stock": -1}]}, 422, "skus[0].stock", None),
        (
            {"skus": [{"price_fen": 100}, {"price_fen": 900, "list_price_fen": 800}]},
            422,
            "skus[1].list_price_fen",
            "list_price_below_price",
        ),
        (
            {"skus": [{"price_fen": 100}, {"price_fen": -5}]},
            422,
            "skus[1].price_fen",
            None,
        ),
        (
            {
                "skus": [
                    {"code": "A1", "price_fen": 100, "specs": {"规格": "小"}},
                    {"code": "A1", "price_fen": 100, "specs": {"规格": "大"}},
                ]
            },
            422,
            "skus[1].code",
            "duplicate_sku_code",
        ),
        (
            {"skus": [{"price_fen": 100}, {"price_fen": 200}]},
            422,
            "skus[1].specs",
            "duplicate_sku_specs",
        ),
        ({"skus": [{"price_fen": 100, "colour": "red"}]}, 422, "skus[0].colour", None),
        ({"name": ""}, 422, "name", None),
        ({"status": "sold_out"}, 422, "status", None),
    ],
)
async def test_invalid_products_name_the_field(client, change, status, field, code) -> None:
    response = await client.post("/api/v1/products", json={**TEA, **change})
    assert response.status_code == status, response.text
    body = response.json()
    assert body["field"] == field
    if code:
        assert body["code"] == code


async def test_sku_code_taken_in_shop_is_409_and_fine_in_another_shop(
    client, session, shop, other_shop
) -> None:
    await factories.make_product(
        session, shop_id=other_shop.id, skus=[{"code": "LJ-500", "price_fen": 1}]
    )
    await _create(client)
    again = await client.post(
        "/api/v1/products", json={"name": "x", "skus": [{"price_fen": 1}, *TEA["skus"][1:]]}
    )
    assert again.status_code == 409
    assert again.json() == {
        "code": "sku_code_taken",
        "message": "SKU code LJ-500 is already used by another SKU of this shop",
        "field": "skus[1].code",
    }


async def test_update_product_and_shelf_status(client) -> None:
    product = await _create(client)
    url = f"/api/v1/products/{product['id']}"
    updated = await client.patch(url, json={"subtitle": "新茶上市", "description": "清香"})
    assert updated.status_code == 200
    assert updated.json()["subtitle"] == "新茶上市"
    assert updated.json()["name"] == TEA["name"]
    off = await client.post(f"{url}/off-shelf")
    assert off.json()["status"] == "off_shelf"
    on = await client.post(f"{url}/on-shelf")
    assert on.json()["status"] == "on_shelf"
    assert (await client.patch(url, json={"price_fen": 1})).json()["field"] == "price_fen"


async def test_product_without_active_sku_cannot_go_on_shelf(client) -> None:
    product = await _create(
        client, {"name": "下架款", "status": "off_shelf", "skus": [{"price_fen": 1}]}
    )
    await client.post(f"/api/v1/skus/{product['skus'][0]['id']}/deactivate")
    response = await client.post(f"/api/v1/products/{product['id']}/on-shelf")
    assert response.status_code == 422
    assert response.json()["code"] == "no_active_sku"


async def test_sku_add_update_deactivate(client) -> None:
    product = await _create(client)
    added = await client.post(
        f"/api/v1/products/{product['id']}/skus",
        json={"code": "LJ-100", "specs": {"规格": "100g", "口味": "原味"}, "price_fen": 5900},
    )
    assert added.status_code == 201
    sku = added.json()
    duplicate = await client.post(
        f"/api/v1/products/{product['id']}/skus",
        json={"specs": {"规格": "100g", "口味": "原味"}, "price_fen": 5900},
    )
    assert duplicate.json()["field"] == "specs"
    bad_price = await client.patch(f"/api/v1/skus/{sku['id']}", json={"list_price_fen": 100})
    assert bad_price.status_code == 422
    assert bad_price.json()["field"] == "list_price_fen"
    changed = await client.patch(
        f"/api/v1/skus/{sku['id']}", json={"price_fen": 4900, "list_price_fen": 5900}
    )
    assert (changed.json()["price_fen"], changed.json()["list_price_fen"]) == (4900, 5900)
    taken = await client.patch(f"/api/v1/skus/{sku['id']}", json={"code": "LJ-250"})
    assert taken.status_code == 409
    stock_field = await client.patch(f"/api/v1/skus/{sku['id']}", json={"stock": 5})
    assert stock_field.json()["field"] == "stock"
    deactivated = await client.post(f"/api/v1/skus/{sku['id']}/deactivate")
    assert deactivated.json()["is_active"] is False
    product = (await client.get(f"/api/v1/products/{product['id']}")).json()
    assert product["price_min_fen"] == 12900  # an inactive SKU no longer sets the price range
    assert (await client.post(f"/api/v1/skus/{sku['id']}/activate")).json()["is_active"]


async def test_stock_adjust_endpoint_and_movements(client) -> None:
    product = await _create(client)
    sku_id = product["skus"][0]["id"]
    response = await client.post(
        f"/api/v1/skus/{sku_id}/stock", json={"delta": 5, "reason": "补货"}
    )
    assert response.status_code == 200
    assert response.json()["stock"] == 15
    short = await client.post(f"/api/v1/skus/{sku_id}/stock", json={"delta": -16, "reason": "盘点"})
    assert short.status_code == 422
    assert short.json()["code"] == "insufficient_stock"
    zero = await client.post(f"/api/v1/skus/{sku_id}/stock", json={"delta": 0, "reason": "x"})
    assert zero.json()["field"] == "delta"
    movements = (await client.get(f"/api/v1/skus/{sku_id}/movements")).json()
    assert [(m["delta"], m["stock_after"], m["reason"]) for m in movements["items"]] == [
        (5, 15, "补货"),
        (10, 10, "initial"),
    ]
    assert movements["items"][0]["actor_label"].startswith("API key")


async def test_search_filters(client, session, shop) -> None:
    green = await factories.make_category(session, shop_id=shop.id, name="绿茶")
    longjing = await factories.make_category(
        session, shop_id=shop.id, name="龙井", parent_id=green.id
    )
    a = await factories.make_product(
        session, shop_id=shop.id, name="西湖龙井", price_fen=12900, category_id=longjing.id
    )
    b = await factories.make_product(
        session, shop_id=shop.id, name="安吉白茶", price_fen=8800, stock=0, category_id=green.id
    )
    c = await factories.make_product(
        session, shop_id=shop.id, name="正山小种 100%", price_fen=3000, status="off_shelf"
    )

    async def ids(**params) -> list[int]:
        response = await client.get("/api/v1/products", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [c.id, b.id, a.id]
    assert await ids(q="龙井") == [a.id]
    assert await ids(q="100%") == [c.id]
    assert await ids(q="%") == [c.id]  # a literal percent, not a wildcard
    assert await ids(q=a.skus[0].code) == [a.id]
    assert await ids(category_id=green.id) == [b.id, a.id]  # sub-categories included
    assert await ids(category_id=longjing.id) == [a.id]
    assert await ids(status="off_shelf") == [c.id]
    assert await ids(min_price_fen=5000, max_price_fen=9000) == [b.id]
    assert await ids(in_stock="true") == [c.id, a.id]
    assert await ids(in_stock="false") == [b.id]
    page = (await client.get("/api/v1/products", params={"per_page": 2, "page": 2})).json()
    assert (page["total"], page["pages"], [i["id"] for i in page["items"]]) == (3, 2, [a.id])
    mixed = await factories.make_product(
        session,
        shop_id=shop.id,
        name="组合装",
        skus=[
            {"specs": {"规格": "小"}, "price_fen": 1000, "stock": 0},
            {"specs": {"规格": "大"}, "price_fen": 90000, "stock": 5},
        ],
    )
    # The cheap SKU is sold out and the one in stock is dear: no single SKU matches both.
    assert mixed.id not in await ids(max_price_fen=2000, in_stock="true")
    assert mixed.id in await ids(max_price_fen=2000)
    assert mixed.id in await ids(in_stock="true")


async def test_category_crud_tree_and_audited_delete(client, session, shop) -> None:
    parent = (await client.post("/api/v1/categories", json={"name": "茶叶"})).json()
    child = (
        await client.post("/api/v1/categories", json={"name": "绿茶", "parent_id": parent["id"]})
    ).json()
    assert child["parent_id"] == parent["id"]
    cycle = await client.patch(
        f"/api/v1/categories/{parent['id']}", json={"parent_id": child["id"]}
    )
    assert cycle.status_code == 422
    assert cycle.json()["code"] == "category_cycle"
    renamed = await client.patch(
        f"/api/v1/categories/{child['id']}", json={"name": "名优绿茶", "sort": 2}
    )
    assert (renamed.json()["name"], renamed.json()["sort"]) == ("名优绿茶", 2)
    assert [c["id"] for c in (await client.get("/api/v1/categories")).json()] == [
        parent["id"],
        child["id"],
    ]
    blocked = await client.delete(f"/api/v1/categories/{parent['id']}")
    assert blocked.status_code == 409
    product = await factories.make_product(session, shop_id=shop.id, category_id=child["id"])
    assert (await client.delete(f"/api/v1/categories/{child['id']}")).status_code == 204
    fetched = (await client.get(f"/api/v1/products/{product.id}")).json()
    assert fetched["category_id"] is None
    audit = (await client.get("/api/v1/audit", params={"action": "category.delete"})).json()
    assert audit["items"][0]["target_id"] == str(child["id"])
    missing_parent = await client.post(
        "/api/v1/categories", json={"name": "x", "parent_id": 999999}
    )
    assert missing_parent.status_code == 404
    assert missing_parent.json()["field"] == "parent_id"


async def test_product_delete_is_audited_and_removes_image_files(client, session, settings) -> None:
    product = await _create(client)
    uploaded = await client.post(
        f"/api/v1/products/{product['id']}/images", files={"file": ("a.png", PNG, "image/png")}
    )
    assert uploaded.status_code == 201
    path = settings.resolved_media_dir / uploaded.json()["url"].removeprefix("/media/")
    assert path.read_bytes() == PNG
    assert (await client.delete(f"/api/v1/products/{product['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/products/{product['id']}")).status_code == 404
    audit = (await client.get("/api/v1/audit", params={"action": "product.delete"})).json()
    assert audit["total"] == 1
    assert audit["items"][0]["details"]["sku_codes"] == ["LJ-250", "LJ-500"]
    assert path.exists()  # files go only once the deletion is committed
    await session.commit()
    assert not path.exists()


async def test_images_upload_reorder_delete(client, session, settings) -> None:
    product = await _create(client)
    url = f"/api/v1/products/{product['id']}/images"
    images = []
    for name, content in (("a.png", PNG), ("b.jpg", JPEG), ("c.webp", WEBP), ("d.gif", GIF)):
        response = await client.post(url, files={"file": (name, content, "application/x-fake")})
        assert response.status_code == 201, response.text
        images.append(response.json())
    assert [i["content_type"] for i in images] == [
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/gif",
    ]
    served = await client.get(images[1]["url"])
    assert served.status_code == 200
    assert served.content == JPEG
    order = [images[2]["id"], images[0]["id"], images[3]["id"], images[1]["id"]]
    reordered = await client.put(f"{url}/order", json={"image_ids": order})
    assert [i["id"] for i in reordered.json()] == order
    fetched = (await client.get(f"/api/v1/products/{product['id']}")).json()
    assert [i["id"] for i in fetched["images"]] == order
    partial = await client.put(f"{url}/order", json={"image_ids": order[:2]})
    assert partial.status_code == 422
    assert partial.json()["field"] == "image_ids"
    path = settings.resolved_media_dir / images[0]["url"].removeprefix("/media/")
    assert path.exists()
    assert (await client.delete(f"{url}/{images[0]['id']}")).status_code == 204
    await session.commit()
    assert not path.exists()
    fetched = (await client.get(f"/api/v1/products/{product['id']}")).json()
    assert [i["id"] for i in fetched["images"]] == [order[0], order[2], order[3]]


async def test_upload_refuses_non_images_and_large_files(client) -> None:
    product = await _create(client)
    url = f"/api/v1/products/{product['id']}/images"
    fake = await client.post(url, files={"file": ("evil.png", b"<?php echo 1; ?>", "image/png")})
    assert fake.status_code == 422
    assert (fake.json()["code"], fake.json()["field"]) == ("image_type", "file")
    big = PNG + b"\x00" * (5 * 1024 * 1024)
    large = await client.post(url, files={"file": ("big.png", big, "image/png")})
    assert large.status_code == 422
    assert large.json()["code"] == "image_too_large"


async def test_every_route_with_an_id_is_404_across_shops(client, session, other_shop) -> None:
    category = await factories.make_category(session, shop_id=other_shop.id)
    product = await factories.make_product(session, shop_id=other_shop.id)
    sku_id = product.skus[0].id
    from liveloop.catalog import service as catalog_service

    image = await catalog_service.add_product_image(
        session=session,
        shop_id=other_shop.id,
        product_id=product.id,
        content=PNG,
        media_dir=client._transport.app.state.settings.resolved_media_dir,
    )
    requests = [
        ("GET", f"/api/v1/categories/{category.id}", None),
        ("PATCH", f"/api/v1/categories/{category.id}", {"name": "x"}),
        ("DELETE", f"/api/v1/categories/{category.id}", None),
        ("GET", f"/api/v1/products/{product.id}", None),
        ("PATCH", f"/api/v1/products/{product.id}", {"name": "x"}),
        ("DELETE", f"/api/v1/products/{product.id}", None),
        ("POST", f"/api/v1/products/{product.id}/on-shelf", None),
        ("POST", f"/api/v1/products/{product.id}/off-shelf", None),
        ("POST", f"/api/v1/products/{product.id}/skus", {"price_fen": 1, "specs": {"a": "b"}}),
        ("PUT", f"/api/v1/products/{product.id}/images/order", {"image_ids": [image.id]}),
        ("DELETE", f"/api/v1/products/{product.id}/images/{image.id}", None),
        ("GET", f"/api/v1/skus/{sku_id}", None),
        ("PATCH", f"/api/v1/skus/{sku_id}", {"price_fen": 1}),
        ("POST", f"/api/v1/skus/{sku_id}/deactivate", None),
        ("POST", f"/api/v1/skus/{sku_id}/activate", None),
        ("POST", f"/api/v1/skus/{sku_id}/stock", {"delta": 1, "reason": "x"}),
        ("GET", f"/api/v1/skus/{sku_id}/movements", None),
    ]
    for method, url, body in requests:
        response = await client.request(method, url, json=body)
        assert response.status_code == 404, (method, url, response.text)
    upload = await client.post(
        f"/api/v1/products/{product.id}/images", files={"file": ("a.png", PNG, "image/png")}
    )
    assert upload.status_code == 404
    search = await client.get("/api/v1/products")
    assert search.json()["total"] == 0
    assert (await client.get("/api/v1/categories")).json() == []
    # A category of another shop cannot be used either.
    used = await client.post(
        "/api/v1/products",
        json={"name": "x", "category_id": category.id, "skus": [{"price_fen": 1}]},
    )
    assert used.status_code == 404


async def test_reading_needs_catalog_read_and_writing_catalog_write(client, session, actor) -> None:
    key = await factories.make_api_key(session, actor=actor, permissions=["catalog.read"])
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/api/v1/products", headers=headers)).status_code == 200
    denied = await client.post("/api/v1/products", json=TEA, headers=headers)
    assert denied.status_code == 403
    other = await factories.make_api_key(session, actor=actor, permissions=["events.read"])
    response = await client.get("/api/v1/categories", headers={"Authorization": f"Bearer {other}"})
    assert response.status_code == 403
