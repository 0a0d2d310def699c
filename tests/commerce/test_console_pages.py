"""Console order pages: list with filters, detail, ship, cancel, export."""

from __future__ import annotations

from sqlalchemy import select

from liveloop.commerce import orders as orders_service
from liveloop.core.database import utcnow
from liveloop.shops.models import AuditEntry
from tests import factories
from tests.web.conftest import console, post_form  # noqa: F401


async def test_order_list_filters_and_links(console, session, shop, buyer, tea) -> None:  # noqa: F811
    first = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 1)]
    )
    second = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[1].id, 1)]
    )
    await orders_service.cancel_order(
        session=session, shop_id=shop.id, order_id=second.id, reason="x", actor="customer"
    )
    page = await console.get("/console/orders")
    assert page.status_code == 200
    assert first.number in page.text and second.number in page.text
    pending = await console.get("/console/orders", params={"status": "pending_payment"})
    assert first.number in pending.text and second.number not in pending.text
    bad_dates = await console.get(
        "/console/orders", params={"date_from": "2026-02-02", "date_to": "2026-01-01"}
    )
    assert bad_dates.status_code == 200 and "start date is after" in bad_dates.text
    # The product filter is a menu of the shop's products, the chosen one kept selected.
    by_product = await console.get("/console/orders", params={"product": str(tea.id)})
    assert f'<option value="{tea.id}" selected>' in by_product.text
    assert first.number in by_product.text
    nav = (await console.get("/console")).text
    assert 'href="/console/orders"' in nav


async def test_detail_ship_and_cancel_forms(console, session, shop, buyer, tea) -> None:  # noqa: F811
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 2)]
    )
    detail = await console.get(f"/console/orders/{order.id}")
    assert detail.status_code == 200
    assert 'id="cancel-form"' in detail.text and 'id="ship-form"' not in detail.text
    assert "明前龙井" in detail.text
    # Shipping an unpaid order is refused with the state in the message.
    await post_form(
        console, f"/console/orders/{order.id}/ship", {"carrier": "SF", "tracking_number": "1"}
    )
    await orders_service.mark_order_paid(
        session=session,
        shop_id=shop.id,
        order_id=order.id,
        amount_fen=order.total_fen,
        paid_at=utcnow(),
        payment_ref="P1",
    )
    paid = await console.get(f"/console/orders/{order.id}")
    assert 'id="ship-form"' in paid.text and 'id="cancel-form"' not in paid.text
    shipped = await post_form(
        console,
        f"/console/orders/{order.id}/ship",
        {"carrier": "顺丰", "tracking_number": "SF100"},
        follow_redirects=True,
    )
    assert "SF100" in shipped.text
    await session.refresh(order)
    assert order.status == "shipped"


async def test_cancel_from_the_console_is_audited(console, session, shop, buyer, tea) -> None:  # noqa: F811
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 1)]
    )
    response = await post_form(
        console, f"/console/orders/{order.id}/cancel", {"reason": "客户要求"}, follow_redirects=True
    )
    assert response.status_code == 200
    await session.refresh(order)
    assert (order.status, order.close_reason) == ("cancelled", "客户要求")
    actions = (
        (await session.execute(select(AuditEntry.action).where(AuditEntry.shop_id == shop.id)))
        .scalars()
        .all()
    )
    assert "order.cancel" in actions


async def test_export_from_the_console(console, session, shop, buyer, tea) -> None:  # noqa: F811
    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 1)]
    )
    response = await console.get("/console/orders/export.csv")
    assert response.status_code == 200
    assert order.number in response.text
    exported = (
        await session.execute(select(AuditEntry).where(AuditEntry.action == "order.export"))
    ).scalar_one()
    assert exported.details["rows"] == 1


async def test_another_shops_order_is_not_found(console, session, other_shop) -> None:  # noqa: F811
    customer = await factories.make_customer(session, shop_id=other_shop.id)
    product = await factories.make_product(session, shop_id=other_shop.id)
    order = await factories.make_order(
        session, shop_id=other_shop.id, customer_id=customer.id, lines=[(product.skus[0].id, 1)]
    )
    assert (await console.get(f"/console/orders/{order.id}")).status_code == 404


async def test_an_analyst_reads_orders_but_cannot_act_on_them(
    anon_client, session, shop, buyer, tea
) -> None:
    from tests.web.conftest import log_in

    order = await factories.make_order(
        session, shop_id=shop.id, customer_id=buyer.id, lines=[(tea.skus[0].id, 1)]
    )
    analyst = await factories.make_staff(session, shop_id=shop.id, role="analyst")
    token = await log_in(anon_client, analyst.email)
    listing = await anon_client.get("/console/orders")
    assert listing.status_code == 200 and order.number in listing.text
    detail = await anon_client.get(f"/console/orders/{order.id}")
    assert detail.status_code == 200 and 'id="cancel-form"' not in detail.text
    refunds = await anon_client.get(f"/console/orders/{order.id}/refunds")
    assert refunds.status_code == 200
    assert (await anon_client.get("/console/orders/export.csv")).status_code == 200
    cancel = await anon_client.post(
        f"/console/orders/{order.id}/cancel", data={"csrf_token": token, "reason": "x"}
    )
    assert cancel.status_code == 403
    detail = await anon_client.get(f"/console/orders/{order.id}")
    assert 'class="badge order-status pending_payment"' in detail.text
