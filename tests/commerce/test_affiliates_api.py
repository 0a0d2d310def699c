"""Affiliates over HTTP: profiles, codes, rates, commission list and the settlement CSV."""

from __future__ import annotations

import httpx

from tests import factories
from tests.commerce.growth_helpers import pay


async def test_a_kol_is_set_up_and_earns_on_an_attributed_order(
    client: httpx.AsyncClient, session, shop
) -> None:
    product = await factories.make_product(session, shop_id=shop.id, price_fen=20000)
    created = await client.post(
        "/api/v1/affiliates", json={"name": "小王", "kind": "kol", "default_rate_bp": 500}
    )
    assert created.status_code == 201, created.text
    affiliate_id = created.json()["id"]
    code = await client.post(
        f"/api/v1/affiliates/{affiliate_id}/codes", json={"code": "XW2026", "kind": "share"}
    )
    assert code.status_code == 201
    rate = await client.put(
        f"/api/v1/affiliates/{affiliate_id}/rates",
        json={"product_id": product.id, "rate_bp": 800},
    )
    assert rate.status_code == 200
    bad = await client.put(
        f"/api/v1/affiliates/{affiliate_id}/rates",
        json={"product_id": product.id, "rate_bp": 10001},
    )
    assert bad.status_code == 422

    customer = await factories.make_customer(session, shop_id=shop.id)
    order = await factories.make_order(
        session,
        shop_id=shop.id,
        customer_id=customer.id,
        lines=[(product.skus[0].id, 1)],
        share_code="XW2026",
    )
    await pay(session, order)

    listed = await client.get("/api/v1/affiliates")
    mine = next(a for a in listed.json() if a["affiliate"]["id"] == affiliate_id)
    assert (mine["orders"], mine["gmv_fen"], mine["pending_fen"]) == (1, 20000, 1600)
    orders = await client.get(f"/api/v1/affiliates/{affiliate_id}/orders")
    assert orders.json()["items"][0]["order_number"] == order.number
    commissions = await client.get(f"/api/v1/affiliates/{affiliate_id}/commissions?status=pending")
    assert [c["amount_fen"] for c in commissions.json()["items"]] == [1600]

    exported = await client.get(f"/api/v1/affiliates/settlement.csv?affiliate_id={affiliate_id}")
    assert exported.status_code == 200
    lines = exported.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("commission_id,affiliate_id,affiliate")
    assert ",1600,0,1600,pending," in lines[1]
    from sqlalchemy import select

    from liveloop.shops.models import AuditEntry

    audited = await session.execute(
        select(AuditEntry.details).where(
            AuditEntry.shop_id == shop.id, AuditEntry.action == "affiliates.export"
        )
    )
    assert audited.scalar_one()["rows"] == 1
