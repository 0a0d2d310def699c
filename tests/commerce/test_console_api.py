"""The console/integrator order API: list with filters, detail, ship, cancel, CSV export."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from liveloop.commerce import orders as orders_service
from liveloop.core.database import utcnow
from liveloop.shops.models import AuditEntry
from tests import factories


async def paid_order(session, shop, buyer, sku_id: int, quantity: int = 1):  # type: ignore[no-untyped-def]
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(sku_id, quantity)]
    )
    return await orders_service.mark_order_paid(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        amount_fen=order.total_fen,
        paid_at=utcnow(),
        payment_ref=f"P{order.id}",
    )


async def test_list_filters_by_status_product_customer_and_date(
    client, session, shop, buyer, tea
) -> None:
    other = await factories.make_product(session, shop_id=shop.id, name="白茶")
    pending = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 1)]
    )
    paid = await paid_order(session, shop, buyer, other.skus[0].id)
    everything = (await client.get("/api/v1/orders")).json()
    assert [o["id"] for o in everything["items"]] == [paid.id, pending.id]
    by_status = (await client.get("/api/v1/orders", params={"status": "paid"})).json()
    assert [o["id"] for o in by_status["items"]] == [paid.id]
    by_product = (await client.get("/api/v1/orders", params={"product_id": tea.id})).json()
    assert [o["id"] for o in by_product["items"]] == [pending.id]
    today = utcnow().astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    in_range = await client.get(
        "/api/v1/orders", params={"created_from": str(today), "created_to": str(today)}
    )
    assert in_range.json()["total"] == 2
    tomorrow = today + dt.timedelta(days=1)
    assert (await client.get("/api/v1/orders", params={"created_from": str(tomorrow)})).json()[
        "total"
    ] == 0
    bad = await client.get("/api/v1/orders", params={"status": "lost"})
    assert bad.status_code == 422 and "unknown status" in bad.json()["message"]


async def test_detail_ship_and_complete(client, session, shop, buyer, tea) -> None:
    order = await paid_order(session, shop, buyer, tea.skus[0].id)
    detail = (await client.get(f"/api/v1/orders/{order.id}")).json()
    assert detail["status"] == "paid"
    assert [h["to_status"] for h in detail["history"]] == ["pending_payment", "paid"]
    missing = await client.post(f"/api/v1/orders/{order.id}/ship", json={"carrier": "顺丰"})
    assert missing.status_code == 422 and missing.json()["field"] == "tracking_number"
    shipped = await client.post(
        f"/api/v1/orders/{order.id}/ship", json={"carrier": "顺丰", "tracking_number": "SF1234"}
    )
    assert shipped.status_code == 200, shipped.text
    assert (shipped.json()["status"], shipped.json()["tracking_number"]) == ("shipped", "SF1234")
    again = await client.post(
        f"/api/v1/orders/{order.id}/ship", json={"carrier": "顺丰", "tracking_number": "SF1234"}
    )
    assert again.status_code == 409 and "is shipped" in again.json()["message"]
    done = await client.post(f"/api/v1/orders/{order.id}/complete")
    assert done.json()["status"] == "completed"


async def test_cancel_a_paid_order_is_refused_and_an_unpaid_one_audited(
    client, session, shop, buyer, tea
) -> None:
    paid = await paid_order(session, shop, buyer, tea.skus[0].id)
    refused = await client.post(f"/api/v1/orders/{paid.id}/cancel", json={"reason": "x"})
    assert refused.status_code == 409
    assert "refund it instead" in refused.json()["message"]
    unpaid = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 1)]
    )
    cancelled = await client.post(f"/api/v1/orders/{unpaid.id}/cancel", json={"reason": "缺货"})
    assert cancelled.json()["status"] == "cancelled"
    audit = (
        (await session.execute(select(AuditEntry.action).where(AuditEntry.shop_id == shop.id)))
        .scalars()
        .all()
    )
    assert "order.cancel" in audit


async def test_csv_export_is_streamed_and_audited(client, session, shop, buyer, tea) -> None:
    order = await paid_order(session, shop, buyer, tea.skus[0].id, quantity=2)
    response = await client.get("/api/v1/orders/export.csv", params={"status": "paid"})
    assert response.status_code == 200
    text = response.text
    assert text.startswith("\ufeffnumber,status")
    assert order.number in text
    assert "明前龙井 50g x2" in text
    assert "138****5678" in text and "13812345678" not in text
    entry = (
        await session.execute(select(AuditEntry).where(AuditEntry.action == "order.export"))
    ).scalar_one()
    assert entry.details["rows"] == 1


async def test_shipping_rule_can_be_changed(client, session, shop, buyer, tea) -> None:
    assert (await client.get("/api/v1/commerce/shipping")).json() == {
        "shipping_fee_fen": 1000,
        "free_shipping_threshold_fen": 9900,
    }
    changed = await client.put(
        "/api/v1/commerce/shipping",
        json={"shipping_fee_fen": 800, "free_shipping_threshold_fen": None},
    )
    assert changed.status_code == 200
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[1].id, 1)]
    )
    assert order.shipping_fen == 800


async def test_permissions_are_needed(anon_client) -> None:
    assert (await anon_client.get("/api/v1/orders")).status_code == 401
