"""Flash sale routes: console create/list/stop and the viewer's buy with a viewer token."""

from __future__ import annotations

import datetime as dt

from liveloop.commerce import addresses
from liveloop.commerce.addresses import AddressData
from liveloop.core.database import utcnow
from tests import factories
from tests.commerce.coupons.test_api import viewer_headers


def sale_body(sku_id: int, **overrides: object) -> dict[str, object]:
    now = utcnow()
    return {
        "sku_id": sku_id,
        "price_fen": 990,
        "quantity": 2,
        "per_customer_limit": 1,
        "starts_at": (now - dt.timedelta(minutes=1)).isoformat(),
        "ends_at": (now + dt.timedelta(hours=1)).isoformat(),
        **overrides,
    }


async def test_console_create_list_stop(client, session, shop) -> None:
    product = await factories.make_product(session, shop_id=shop.id, price_fen=9900, stock=5)
    sku_id = product.skus[0].id
    created = await client.post("/api/v1/flash-sales", json=sale_body(sku_id))
    assert created.status_code == 201, created.text
    sale = created.json()
    assert sale["state"] == "on_sale" and sale["remaining"] == 2
    short = await client.post("/api/v1/flash-sales", json=sale_body(sku_id, quantity=4))
    assert short.status_code == 422 and short.json()["code"] == "insufficient_stock"
    naive = await client.post(
        "/api/v1/flash-sales", json=sale_body(sku_id, starts_at="2026-01-01T00:00:00")
    )
    assert naive.status_code == 422
    listed = (await client.get("/api/v1/flash-sales")).json()
    assert [s["id"] for s in listed["items"]] == [sale["id"]]
    stopped = await client.post(f"/api/v1/flash-sales/{sale['id']}/stop")
    assert stopped.json()["status"] == "stopped" and stopped.json()["returned_quantity"] == 2
    again = await client.post(f"/api/v1/flash-sales/{sale['id']}/stop")
    assert again.status_code == 409


async def test_viewer_buys_until_sold_out(client, anon_client, session, shop, settings) -> None:
    product = await factories.make_product(session, shop_id=shop.id, price_fen=9900, stock=5)
    sale = (
        await client.post("/api/v1/flash-sales", json=sale_body(product.skus[0].id, quantity=1))
    ).json()
    buyers = []
    for n in range(2):
        customer = await factories.make_customer(session, shop_id=shop.id, name=f"买家{n}")
        address = await addresses.find_or_create_address(
            session=session,
            shop_id=shop.id,
            customer_id=customer.id,
            data=AddressData(
                recipient_name="张三",
                phone=f"1380013800{n}",
                region="浙江省",
                city="杭州市",
                district="西湖区",
                detail="文三路1号",
            ),
        )
        buyers.append((viewer_headers(settings, shop.id, customer.id), address.id))
    card = (
        await anon_client.get(f"/api/v1/public/flash-sales/{sale['id']}", headers=buyers[0][0])
    ).json()
    assert card["remaining"] == 1 and card["price_fen"] == 990
    headers, address_id = buyers[0]
    bought = await anon_client.post(
        f"/api/v1/public/flash-sales/{sale['id']}/buy",
        json={"address_id": address_id},
        headers={**headers, "Idempotency-Key": "buy-1"},
    )
    assert bought.status_code == 201, bought.text
    order = bought.json()["order"]
    assert order["kind"] == "flash" and order["items_total_fen"] == 990
    repeat = await anon_client.post(
        f"/api/v1/public/flash-sales/{sale['id']}/buy",
        json={"address_id": address_id},
        headers={**headers, "Idempotency-Key": "buy-1"},
    )
    assert repeat.status_code == 201 and repeat.json()["order"]["id"] == order["id"]
    headers, address_id = buyers[1]
    sold_out = await anon_client.post(
        f"/api/v1/public/flash-sales/{sale['id']}/buy",
        json={"address_id": address_id},
        headers=headers,
    )
    assert sold_out.status_code == 409 and sold_out.json()["code"] == "sold_out"
    bad = await anon_client.post(
        f"/api/v1/public/flash-sales/{sale['id']}/buy",
        json={"quantity": 0, "address_id": address_id},
        headers=headers,
    )
    assert bad.status_code == 422
