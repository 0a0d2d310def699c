"""The viewer API: addresses, cart, quote, place order (guest and customer), my orders."""

from __future__ import annotations

from sqlalchemy import select

from liveloop.catalog import service as catalog_service
from liveloop.commerce.affiliates import service as affiliates
from liveloop.commerce.affiliates.schemas import AffiliateCreate, CodeCreate
from liveloop.commerce.models import Order
from liveloop.live.viewers import read_viewer_token
from liveloop.shops.service import system_actor
from tests.commerce.conftest import ADDRESS, texted_code


async def test_requests_without_a_token_are_refused(anon_client) -> None:
    response = await anon_client.get("/api/v1/public/cart")
    assert response.status_code == 401
    assert response.json()["code"] == "token_missing"
    bad = await anon_client.get("/api/v1/public/cart", headers={"Authorization": "Bearer nope"})
    assert bad.json()["code"] == "token_invalid"


async def test_addresses_are_masked_and_private(viewer, guest) -> None:
    created = await viewer.post("/api/v1/public/addresses", json=ADDRESS)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["phone_masked"] == "139****1111"
    assert "phone" not in body
    assert body["is_default"] is True
    listed = await viewer.get("/api/v1/public/addresses")
    assert [a["id"] for a in listed.json()] == [body["id"]]
    bad = await viewer.post("/api/v1/public/addresses", json={**ADDRESS, "phone": "12345"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_phone"
    assert (await guest.get("/api/v1/public/addresses")).json()["code"] == "customer_required"
    gone = await viewer.delete(f"/api/v1/public/addresses/{body['id']}")
    assert gone.status_code == 204
    assert (await viewer.delete(f"/api/v1/public/addresses/{body['id']}")).status_code == 404


async def test_cart_add_change_remove(viewer, tea) -> None:
    small = tea.skus[0]
    added = await viewer.post("/api/v1/public/cart/items", json={"sku_id": small.id, "quantity": 2})
    assert added.status_code == 201, added.text
    assert added.json()["items_fen"] == 11980
    again = await viewer.post("/api/v1/public/cart/items", json={"sku_id": small.id})
    assert again.json()["items"][0]["quantity"] == 3
    too_many = await viewer.patch(f"/api/v1/public/cart/items/{small.id}", json={"quantity": 100})
    assert too_many.status_code == 422 and too_many.json()["code"] == "invalid_quantity"
    changed = await viewer.patch(f"/api/v1/public/cart/items/{small.id}", json={"quantity": 1})
    assert changed.json()["items"][0]["quantity"] == 1
    removed = await viewer.delete(f"/api/v1/public/cart/items/{small.id}")
    assert removed.json()["items"] == []


async def test_cart_refuses_a_sku_off_sale(viewer, session, shop, tea) -> None:
    await catalog_service.set_sku_active(
        session=session, shop_id=shop.id, sku_id=tea.skus[1].id, active=False
    )
    response = await viewer.post("/api/v1/public/cart/items", json={"sku_id": tea.skus[1].id})
    assert response.status_code == 422
    assert response.json()["code"] == "sku_unavailable"


async def test_quote_gives_the_breakdown(viewer, tea) -> None:
    response = await viewer.post(
        "/api/v1/public/checkout/quote", json={"lines": [{"sku_id": tea.skus[0].id, "quantity": 1}]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["items_fen"], body["shipping_fen"], body["total_fen"]) == (5990, 1000, 6990)
    assert body["lines"][0]["product_name"] == "明前龙井"


async def test_a_guest_orders_with_a_phone_and_becomes_a_customer(
    guest, session, shop, tea
) -> None:
    lines = [{"sku_id": tea.skus[0].id, "quantity": 2}]
    quote = (await guest.post("/api/v1/public/checkout/quote", json={"lines": lines})).json()
    address = {**ADDRESS, "phone_code": await texted_code(guest, ADDRESS["phone"])}
    response = await guest.post(
        "/api/v1/public/orders",
        json={"lines": lines, "address": address, "expected_total_fen": quote["total_fen"]},
        headers={"Idempotency-Key": "guest-1"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    order = body["order"]
    assert order["status"] == "pending_payment"
    assert order["total_fen"] == quote["total_fen"] == 11980 + 0  # free shipping from ¥99
    assert order["recipient_phone_masked"] == "139****1111"
    claims = read_viewer_token(guest._transport.app.state.settings, body["viewer_token"])  # type: ignore[attr-defined]
    assert claims.customer_id == order["customer_id"] is not None
    # The same request again (a double tap, the same code) returns the same order.
    again = await guest.post(
        "/api/v1/public/orders",
        json={"lines": lines, "address": address, "expected_total_fen": quote["total_fen"]},
        headers={"Idempotency-Key": "guest-1"},
    )
    assert again.status_code == 201
    assert again.json()["order"]["id"] == order["id"]
    count = len((await session.execute(select(Order.id).where(Order.shop_id == shop.id))).all())
    assert count == 1


async def test_a_guest_needs_an_address(guest, tea) -> None:
    response = await guest.post(
        "/api/v1/public/orders", json={"lines": [{"sku_id": tea.skus[0].id, "quantity": 1}]}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "address_required"


async def test_order_errors_say_what_is_wrong(viewer, tea) -> None:
    address = (await viewer.post("/api/v1/public/addresses", json=ADDRESS)).json()
    zero = await viewer.post(
        "/api/v1/public/orders",
        json={"lines": [{"sku_id": tea.skus[0].id, "quantity": 0}], "address_id": address["id"]},
    )
    assert zero.status_code == 422
    assert zero.json()["field"] == "lines[0].quantity"
    short = await viewer.post(
        "/api/v1/public/orders",
        json={
            "lines": [
                {"sku_id": tea.skus[0].id, "quantity": 11},
                {"sku_id": tea.skus[1].id, "quantity": 3},
            ],
            "address_id": address["id"],
        },
    )
    assert short.status_code == 422
    body = short.json()
    assert body["code"] == "insufficient_stock"
    assert {e["sku_id"] for e in body["errors"]} == {tea.skus[0].id, tea.skus[1].id}
    changed = await viewer.post(
        "/api/v1/public/orders",
        json={
            "lines": [{"sku_id": tea.skus[0].id, "quantity": 1}],
            "address_id": address["id"],
            "expected_total_fen": 100,
        },
    )
    assert changed.status_code == 409 and changed.json()["code"] == "price_changed"


async def test_cart_checkout_compares_cart_prices_and_empties_the_lines(
    viewer, session, shop, tea
) -> None:
    small = tea.skus[0]
    await viewer.post("/api/v1/public/cart/items", json={"sku_id": small.id, "quantity": 1})
    address = (await viewer.post("/api/v1/public/addresses", json=ADDRESS)).json()
    from liveloop.catalog.schemas import SkuUpdate

    await catalog_service.update_sku(
        session=session, shop_id=shop.id, sku_id=small.id, data=SkuUpdate(price_fen=6990)
    )
    body = {
        "lines": [{"sku_id": small.id, "quantity": 1}],
        "address_id": address["id"],
        "from_cart": True,
    }
    changed = await viewer.post("/api/v1/public/orders", json=body)
    assert changed.status_code == 409, changed.text
    assert changed.json()["errors"][0]["expected_fen"] == 5990
    cart = (await viewer.get("/api/v1/public/cart")).json()
    assert cart["items"][0]["price_changed"] is True
    await viewer.post("/api/v1/public/cart/items", json={"sku_id": small.id, "quantity": 1})
    await viewer.patch(f"/api/v1/public/cart/items/{small.id}", json={"quantity": 1})
    placed = await viewer.post("/api/v1/public/orders", json=body)
    assert placed.status_code == 201, placed.text
    assert (await viewer.get("/api/v1/public/cart")).json()["items"] == []


async def test_my_orders_detail_and_cancel(viewer, guest, tea) -> None:
    address = (await viewer.post("/api/v1/public/addresses", json=ADDRESS)).json()
    placed = await viewer.post(
        "/api/v1/public/orders",
        json={"lines": [{"sku_id": tea.skus[1].id, "quantity": 2}], "address_id": address["id"]},
    )
    order_id = placed.json()["order"]["id"]
    mine = (await viewer.get("/api/v1/public/orders")).json()
    assert [o["id"] for o in mine["items"]] == [order_id]
    detail = (await viewer.get(f"/api/v1/public/orders/{order_id}")).json()
    assert detail["history"][0]["to_status"] == "pending_payment"
    cancelled = await viewer.post(f"/api/v1/public/orders/{order_id}/cancel", json={})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    product = (await viewer.get(f"/api/v1/public/products/{tea.id}")).json()
    assert {s["id"]: s["stock"] for s in product["skus"]}[tea.skus[1].id] == 2
    again = await viewer.post(f"/api/v1/public/orders/{order_id}/cancel", json={})
    assert again.status_code == 409 and "is cancelled" in again.json()["message"]


async def test_the_buyer_confirms_receipt_of_a_shipped_order(
    viewer, session, shop, buyer, tea, actor
) -> None:
    from liveloop.commerce import orders as orders_service
    from liveloop.core.database import utcnow
    from tests import factories

    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 1)]
    )
    early = await viewer.post(f"/api/v1/public/orders/{order.id}/complete")
    assert early.status_code == 409 and "is pending_payment" in early.json()["message"]
    await orders_service.mark_order_paid(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        amount_fen=order.total_fen,
        paid_at=utcnow(),
        payment_ref="P",
    )
    await orders_service.ship_order(
        session=session, actor=actor, order_id=order.id, carrier="SF", tracking_number="SF1"
    )
    done = await viewer.post(f"/api/v1/public/orders/{order.id}/complete")
    assert done.status_code == 200 and done.json()["status"] == "completed"


async def test_another_customers_or_shops_records_are_not_found(
    viewer, session, shop, other_shop, tea
) -> None:
    from tests import factories

    stranger = await factories.make_customer(session, shop_id=shop.id, name="李娜")
    theirs = await factories.make_order(
        session, shop_id=shop.id, customer_id=stranger.id, lines=[(tea.skus[0].id, 1)]
    )
    address = await factories.make_address(session, shop_id=shop.id, customer_id=stranger.id)
    foreign = await factories.make_product(session, shop_id=other_shop.id)
    for method, path in [
        ("GET", f"/api/v1/public/orders/{theirs.id}"),
        ("POST", f"/api/v1/public/orders/{theirs.id}/cancel"),
        ("POST", f"/api/v1/public/orders/{theirs.id}/complete"),
        ("DELETE", f"/api/v1/public/addresses/{address.id}"),
        ("GET", f"/api/v1/public/products/{foreign.id}"),
    ]:
        kwargs = {"json": {}} if method == "POST" and path.endswith("cancel") else {}
        response = await viewer.request(method, path, **kwargs)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"].endswith("not_found")


async def test_promo_code_is_recorded_and_quotes_count_once(viewer, session, shop, tea) -> None:
    from liveloop.events.models import Event

    lines = [{"sku_id": tea.skus[0].id, "quantity": 1}]
    for _ in range(3):
        assert (
            await viewer.post("/api/v1/public/checkout/quote", json={"lines": lines})
        ).status_code == 200
    started = (
        await session.execute(
            select(Event.id).where(Event.shop_id == shop.id, Event.type == "checkout_started")
        )
    ).all()
    assert len(started) == 1
    bad = await viewer.post(
        "/api/v1/public/orders",
        json={"lines": lines, "address": ADDRESS, "promo_code": "no spaces"},
    )
    assert bad.status_code == 422 and bad.json()["field"] == "promo_code"
    unknown = await viewer.post(
        "/api/v1/public/orders", json={"lines": lines, "address": ADDRESS, "promo_code": "WANG10"}
    )
    assert unknown.status_code == 422, unknown.text
    error = unknown.json()
    assert (error["code"], error["field"]) == ("unknown_promo_code", "promo_code")
    assert "promo code WANG10 is not valid in this shop" in error["message"]
    assert (await session.execute(select(Order.id).where(Order.shop_id == shop.id))).first() is None

    actor = system_actor(shop.id)
    kol = await affiliates.create_affiliate(
        session=session, actor=actor, data=AffiliateCreate(name="茶叶小王", kind="kol")
    )
    await affiliates.add_code(
        session=session, actor=actor, affiliate_id=kol.id, data=CodeCreate(code="wang10")
    )
    placed = await viewer.post(
        "/api/v1/public/orders", json={"lines": lines, "address": ADDRESS, "promo_code": "WANG10"}
    )
    assert placed.status_code == 201, placed.text
    order = await session.get(Order, placed.json()["order"]["id"])
    assert order is not None and order.attribution["promo_code"] == "WANG10"
