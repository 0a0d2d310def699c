"""Product pages: list and filters, create with SKUs in yuan, edit, shelf, stock, images."""

from __future__ import annotations

import base64
import re

import pytest

from liveloop.catalog import service as catalog_service
from liveloop.catalog.pages import parse_specs, yuan_to_fen
from liveloop.core.errors import InvalidInput
from tests import factories
from tests.web.conftest import log_in, post_form

# The smallest valid PNG (1×1, transparent).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


@pytest.mark.parametrize(
    ("text", "fen"),
    [("12.5", 1250), ("129.90", 12990), ("0", 0), ("1,234.56", 123456), ("¥8", 800)],
)
def test_yuan_to_fen(text: str, fen: int) -> None:
    assert yuan_to_fen(text, "price") == fen


@pytest.mark.parametrize("text", ["-1", "1.234", "abc", "", "NaN", "Infinity"])
def test_yuan_to_fen_refuses(text: str) -> None:
    with pytest.raises(InvalidInput):
        yuan_to_fen(text, "price")


def test_parse_specs() -> None:
    assert parse_specs("规格:250g; 口味：原味") == {"规格": "250g", "口味": "原味"}
    assert parse_specs("  ") == {}
    with pytest.raises(InvalidInput):
        parse_specs("250g")


async def test_list_filters_and_shows_prices_in_yuan(console, session, shop) -> None:
    green = await factories.make_category(session, shop_id=shop.id, name="绿茶")
    await factories.make_product(
        session, shop_id=shop.id, name="龙井", price_fen=12990, category_id=green.id
    )
    await factories.make_product(session, shop_id=shop.id, name="普洱", status="off_shelf", stock=0)
    page = await console.get("/console/products")
    assert page.status_code == 200
    assert "龙井" in page.text and "普洱" in page.text and "¥129.90" in page.text
    on_shelf = await console.get("/console/products", params={"status": "on_shelf"})
    assert "龙井" in on_shelf.text and "普洱" not in on_shelf.text
    by_category = await console.get("/console/products", params={"category": green.id})
    assert "龙井" in by_category.text and "普洱" not in by_category.text
    by_name = await console.get("/console/products", params={"q": "普"})
    assert "普洱" in by_name.text and "龙井" not in by_name.text


async def test_create_product_with_skus_entered_in_yuan(console, session, shop) -> None:
    assert (await console.get("/console/products/new")).status_code == 200
    response = await post_form(
        console,
        "/console/products",
        {
            "name": "白毫银针",
            "subtitle": "2024 春茶",
            "status": "on_shelf",
            "sku_specs": ["规格:50g", "规格:100g", ""],
            "sku_price": ["88.80", "168", ""],
            "sku_list_price": ["99", "", ""],
            "sku_stock": ["10", "", ""],
            "sku_code": ["BHYZ-50", "", ""],
        },
    )
    assert response.status_code == 303, response.text
    product_id = int(response.headers["location"].rsplit("/", 1)[1])
    product = await catalog_service.get_product(
        session=session, shop_id=shop.id, product_id=product_id
    )
    assert [(s.specs, s.price_fen, s.list_price_fen, s.stock) for s in product.skus] == [
        ({"规格": "50g"}, 8880, 9900, 10),
        ({"规格": "100g"}, 16800, None, 0),
    ]
    page = await console.get(f"/console/products/{product_id}")
    assert "¥88.80" in page.text and "BHYZ-50" in page.text


async def test_create_product_errors_refill_the_form(console) -> None:
    response = await post_form(
        console,
        "/console/products",
        {"name": "坏价格", "sku_price": ["12.345"], "sku_specs": ["规格:1"], "sku_stock": [""]},
    )
    assert response.status_code == 422
    assert "at most two decimals" in response.text and 'value="坏价格"' in response.text
    no_sku = await post_form(console, "/console/products", {"name": "没有规格"})
    assert no_sku.status_code == 422 and "at least one SKU" in no_sku.text
    below = await post_form(
        console,
        "/console/products",
        {"name": "划线价", "sku_price": ["10"], "sku_list_price": ["5"]},
    )
    assert below.status_code == 422


async def test_edit_shelf_stock_and_sku(console, session, shop) -> None:
    product = await factories.make_product(session, shop_id=shop.id, name="铁观音", stock=5)
    sku = product.skus[0]
    url = f"/console/products/{product.id}"
    saved = await post_form(
        console, url, {"name": "安溪铁观音", "subtitle": "", "description": "浓香"}
    )
    assert saved.status_code == 303
    off = await post_form(console, f"{url}/status", {"status": "off_shelf"})
    assert off.status_code == 303
    added = await post_form(
        console, f"{url}/skus/{sku.id}/stock", {"delta": "+7", "reason": "补货"}
    )
    assert added.status_code == 303
    too_many = await post_form(console, f"{url}/skus/{sku.id}/stock", {"delta": "-100"})
    assert too_many.status_code == 303
    edited = await post_form(
        console,
        f"{url}/skus/{sku.id}",
        {
            "code": sku.code,
            "specs": "规格:125g",
            "price": "66.60",
            "list_price": "",
            "active": "on",
        },
    )
    assert edited.status_code == 303
    await post_form(
        console, f"{url}/skus", {"sku_specs": "规格:250g", "sku_price": "120", "sku_stock": "3"}
    )
    page = await console.get(url)
    assert "安溪铁观音" in page.text and "¥66.60" in page.text and "¥120.00" in page.text
    assert "cannot remove 100" in page.text
    reloaded = await catalog_service.get_product(
        session=session, shop_id=shop.id, product_id=product.id
    )
    assert reloaded.status == "off_shelf"
    assert [s.stock for s in reloaded.skus] == [12, 3]
    assert reloaded.skus[0].specs == {"规格": "125g"}


async def test_image_upload_and_delete(console, session, shop) -> None:
    product = await factories.make_product(session, shop_id=shop.id, name="茶具")
    url = f"/console/products/{product.id}"
    response = await console.post(
        f"{url}/images",
        data={"csrf_token": console.csrf},
        files={"file": ("cup.png", PNG, "image/png")},
    )
    assert response.status_code == 303
    page = await console.get(url)
    image = re.search(r'data-image="(\d+)">\s*<img src="(/media/[^"]+)"', page.text)
    assert image, page.text
    assert (await console.get(image.group(2))).content == PNG
    not_image = await console.post(
        f"{url}/images",
        data={"csrf_token": console.csrf},
        files={"file": ("notes.txt", b"hello", "text/plain")},
    )
    assert not_image.status_code == 303
    assert "not a PNG" in (await console.get(url)).text
    await post_form(console, f"{url}/images/{image.group(1)}/delete")
    assert 'data-image="' not in (await console.get(url)).text


async def test_another_shops_product_is_a_404_page(console, session, other_shop) -> None:
    stranger = await factories.make_product(session, shop_id=other_shop.id, name="别家的茶")
    response = await console.get(f"/console/products/{stranger.id}")
    assert response.status_code == 404
    assert "别家的茶" not in response.text and "页面不存在" in response.text
    response = await post_form(
        console, f"/console/products/{stranger.id}/status", {"status": "off_shelf"}
    )
    assert response.status_code == 404


async def test_sku_of_another_product_is_not_found(console, session, shop) -> None:
    first = await factories.make_product(session, shop_id=shop.id, name="甲")
    second = await factories.make_product(session, shop_id=shop.id, name="乙")
    response = await post_form(
        console,
        f"/console/products/{first.id}/skus/{second.skus[0].id}/stock",
        {"delta": "1"},
    )
    assert response.status_code == 404


async def test_categories_from_the_product_page(console, session, shop) -> None:
    await post_form(console, "/console/products/categories", {"name": "红茶"})
    page = await console.get("/console/products")
    category_id = int(re.search(r'data-category="(\d+)"', page.text).group(1))
    await post_form(
        console, "/console/products/categories", {"name": "正山小种", "parent_id": str(category_id)}
    )
    blocked = await post_form(console, f"/console/products/categories/{category_id}/delete")
    assert blocked.status_code == 303
    page = await console.get("/console/products")
    assert "正山小种" in page.text and "sub-categories" in page.text


async def test_anchor_reads_products_but_cannot_change_them(anon_client, session, shop) -> None:
    product = await factories.make_product(session, shop_id=shop.id, name="直播款")
    anchor = await factories.make_staff(session, shop_id=shop.id, role="anchor")
    token = await log_in(anon_client, anchor.email)
    page = await anon_client.get(f"/console/products/{product.id}")
    assert (
        page.status_code == 200 and "Adjust stock" not in page.text and "调整库存" not in page.text
    )
    response = await anon_client.post(
        f"/console/products/{product.id}/status", data={"status": "off_shelf", "csrf_token": token}
    )
    assert response.status_code == 403
    assert (await anon_client.get("/console/products/new")).status_code == 403


async def test_unicode_digits_in_a_stock_field_are_a_form_error(console) -> None:
    response = await post_form(
        console, "/console/products", {"name": "上标", "sku_price": ["10"], "sku_stock": ["²"]}
    )
    assert response.status_code == 422
    assert "stock is a whole number" in response.text
